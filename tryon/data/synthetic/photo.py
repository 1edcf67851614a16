"""The photographic style's pixels: framing, backdrops, occluders, garment folds, light, camera.

:func:`tryon.data.synthetic.render.render_person` calls these when it is given a
:class:`~tryon.data.synthetic.style.Shot`. Order of a photographic render:

1. framing: a square window of the uncropped frame is chosen around the skeleton
   (:func:`framing_window`) and the skeleton is moved into it, so the person is *drawn* in
   the cropped frame at the output's own resolution (nothing is upsampled) and the parse map,
   the person mask and the keypoints come from the same drawing;
2. the person is drawn as in the flat style, then the occluder as a last layer labelled
   background (:func:`occluder_parts`), so the parse and the mask exclude it exactly;
3. the backdrop (:func:`backdrop_image`) is the part of the scene under the window;
4. the worn garment is shaded by folds and the body's roundness (:func:`garment_shading`);
5. :func:`develop`: illumination gradient and vignetting, white balance and exposure, lens and
   motion blur, sensor noise (signal-dependent), gamma, saturation, JPEG re-compression.

Steps 4-5 work per pixel, except the blurs and JPEG, which spread a difference by the blur's
radius and to the JPEG blocks it touches: two renders of one shot that differ only in the
garment differ only there (tested).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import cv2
import numpy as np

from tryon.data.synthetic.params import RGB, BodyShape
from tryon.data.synthetic.skeleton import Skeleton
from tryon.data.synthetic.style import Backdrop, Camera, Folds, Framing, Light, Occluder, Shot
from tryon.data.synthetic.textures import bundled_image, random_crop, smooth_noise

REFERENCE_SIZE = 256  # blur lengths of the style are pixels of an image this big
_DISPLAY_GAMMA = 2.2
_TO_LINEAR = ((np.arange(256, dtype=np.float64) / 255) ** _DISPLAY_GAMMA).astype(np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


# -- framing ---------------------------------------------------------------------------------


def framing_window(
    framing: Framing, skeleton: Skeleton, body: BodyShape, size: int
) -> tuple[float, float, float]:
    """The square crop ``(left, top, side)`` of the uncropped ``size`` px frame for ``framing``.

    Coordinates are continuous pixel coordinates of the uncropped frame (pixel centres at
    integers, the frame spans [-0.5, size - 0.5]); the window always lies inside the frame.
    "frame" is the uncropped frame itself (the frontal photo: its keypoints stay the canonical
    pose's), "full" keeps the whole body with a margin, "knees" / "waist" / "head_shoulders" cut the
    body below the knees, the hips or the chest (head at the top), "arm_cut" puts one edge of
    the window through the forearm that reaches furthest out.
    """
    if framing.kind == "frame":
        return -0.5, -0.5, float(size)
    sk, unit = skeleton, skeleton.px_per_unit
    joints = sk.joints
    head_top = float(sk.head_centre[1] - body.head_ry * 1.3 * unit)
    centre_x = float((joints[1, 0] + (joints[8, 0] + joints[11, 0]) / 2) / 2)
    top = head_top - 0.05 * unit
    hips = float((joints[8, 1] + joints[11, 1]) / 2)
    grow = 1 + framing.zoom
    if framing.kind == "full":
        points = np.vstack([joints, sk.hand_tips, sk.foot_centres])
        low = np.array([points[:, 0].min(), head_top]) - 0.06 * unit
        high = points.max(axis=0) + np.array([0.06, 0.08]) * unit
        side = float((high - low).max()) * (1.04 + max(framing.zoom, 0.0))
        left, top = (low + high) / 2 - side / 2
    elif framing.kind in ("knees", "waist", "head_shoulders"):
        bottom = {
            "knees": float((joints[9, 1] + joints[12, 1]) / 2) + 0.03 * unit,
            "waist": hips + 0.05 * unit,
            "head_shoulders": float(joints[1, 1]) + 0.17 * unit,
        }[framing.kind]
        side = max((bottom - top) * grow, body.shoulder_half * 2.8 * unit)
        left = centre_x - side / 2
    elif framing.kind == "arm_cut":
        reach = [abs(float(joints[wrist, 0]) - centre_x) for wrist in (4, 7)]
        elbow, wrist = (3, 4) if reach[0] >= reach[1] else (6, 7)
        edge = float(joints[elbow, 0] + joints[wrist, 0]) / 2
        side = (hips + 0.2 * unit - top) * grow
        left = edge - side if joints[wrist, 0] > centre_x else edge
    else:
        raise ValueError(f"unknown framing {framing.kind!r}")
    left += framing.dx * unit
    top += framing.dy * unit
    side = min(float(side), float(size))
    left = float(np.clip(left, -0.5, size - 0.5 - side))
    top = float(np.clip(top, -0.5, size - 0.5 - side))
    return left, top, side


def keypoints_in_frame(keypoints: np.ndarray, size: int) -> np.ndarray:
    """Keypoints with those outside the ``size`` px image set to NaN, as an estimator reports.

    Inside means within [-0.5, size - 0.5] in x and y: the image's area, the bound that
    ``tryon data check`` applies.
    """
    result = keypoints.astype(np.float32).copy()
    outside = ((result < -0.5) | (result > size - 0.5)).any(axis=1)
    result[outside] = np.nan
    return result


# -- backdrops -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _source_pyramid(name: str, flip: bool) -> tuple[np.ndarray, ...]:
    """A bundled photo (mirrored when asked) and its halvings, for alias-free shrinking."""
    image = bundled_image(name)
    if flip:
        image = np.ascontiguousarray(image[:, ::-1])
    levels = [image]
    while min(levels[-1].shape[:2]) > 64:
        levels.append(cv2.pyrDown(levels[-1]))
    return tuple(levels)


def _frame_mapping(
    window: tuple[float, float, float], size: int, canvas_size: int
) -> tuple[float, float, float]:
    """Canvas pixel c -> fraction of the uncropped frame: f = offset + step * c, per axis.

    Returns (offset_x, offset_y, step).
    """
    left, top, side = window
    step = side / (size * canvas_size)
    return (left + 0.5) / size + 0.5 * step, (top + 0.5) / size + 0.5 * step, step


def _photo_backdrop(
    backdrop: Backdrop, window: tuple[float, float, float], size: int, canvas_size: int
) -> np.ndarray:
    levels = _source_pyramid(backdrop.image, backdrop.flip)
    height, width = levels[0].shape[:2]
    crop = backdrop.box[2] * min(height, width)
    crop_left = backdrop.box[0] * (width - crop)
    crop_top = backdrop.box[1] * (height - crop)
    offset_x, offset_y, step = _frame_mapping(window, size, canvas_size)
    # source pixel u = crop_left + f * crop - 0.5, with f the frame fraction
    level = 0
    while step * crop / 2**level > 1.5 and level + 1 < len(levels):
        level += 1
    factor = 2.0**level
    scale = step * crop / factor
    shift_x = (crop_left + offset_x * crop) / factor - 0.5
    shift_y = (crop_top + offset_y * crop) / factor - 0.5
    matrix = np.array([[scale, 0.0, shift_x], [0.0, scale, shift_y]])
    image = cv2.warpAffine(
        levels[level],
        matrix,
        (canvas_size, canvas_size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    colour = np.asarray(backdrop.colour_matrix, np.float32).reshape(3, 3)
    image = cv2.transform(image, colour)
    sigma = backdrop.blur * size / REFERENCE_SIZE * canvas_size / size
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    return image


def _wall_backdrop(
    backdrop: Backdrop, window: tuple[float, float, float], size: int, canvas_size: int
) -> np.ndarray:
    """A wall meeting a floor, drawn at the output size (smooth) and enlarged to the canvas."""
    offset_x, offset_y, step = _frame_mapping(window, size, size)
    coordinates = np.arange(size, dtype=np.float32)
    fx, fy = (offset_x + step * coordinates)[None, :], (offset_y + step * coordinates)[:, None]
    along = (fx - 0.5) * math.cos(backdrop.gradient_angle) + (fy - 0.5) * math.sin(
        backdrop.gradient_angle
    )
    brightness = 1 + backdrop.gradient * along
    noise = smooth_noise(np.random.default_rng(backdrop.seed), 64, 10)  # over the whole frame
    paint = cv2.remap(
        noise,
        np.broadcast_to(fx * 64 - 0.5, (size, size)).astype(np.float32),
        np.broadcast_to(fy * 64 - 0.5, (size, size)).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    brightness = brightness * (1 + 0.025 * paint)
    wall = np.asarray(backdrop.wall, np.float32)
    floor = np.asarray(backdrop.floor, np.float32)
    below = np.clip((fy - backdrop.horizon) / 0.004, 0, 1)  # a soft floor line
    nearer = 1 + 0.25 * np.clip(fy - backdrop.horizon, 0, 1)  # floor lighter towards us
    skirting = 1 - 0.25 * np.exp(-(((fy - backdrop.horizon) / 0.006) ** 2))
    colour = (wall * (1 - below)[..., None] + floor * (below * nearer)[..., None]) * skirting[
        ..., None
    ]
    image = np.clip(colour * brightness[..., None], 0, 255).astype(np.uint8)
    return cv2.resize(image, (canvas_size, canvas_size), interpolation=cv2.INTER_LINEAR)


def backdrop_image(
    backdrop: Backdrop, window: tuple[float, float, float], size: int, canvas_size: int
) -> np.ndarray:
    """The part of the scene behind ``window`` (uncropped-frame pixels), canvas_size^2 RGB.

    The scene is laid over the uncropped frame, so every photo of one scene shows the same
    backdrop at the same place, whatever its framing crops out of it.
    """
    if backdrop.kind == "photo":
        return _photo_backdrop(backdrop, window, size, canvas_size)
    if backdrop.kind == "wall":
        return _wall_backdrop(backdrop, window, size, canvas_size)
    raise ValueError(f"unknown backdrop kind {backdrop.kind!r}")


# -- occluders -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OccluderPart:
    """One layer of an occluder in canvas pixels: polygons and ellipses (centre, axes, angle
    in degrees) of one colour, or of a texture mapped onto the quadrilateral ``quad``."""

    colour: RGB
    polygons: tuple[np.ndarray, ...] = ()
    ellipses: tuple[tuple[np.ndarray, tuple[float, float], float], ...] = ()
    texture: np.ndarray | None = None
    quad: np.ndarray | None = None


def _rotated_box(centre: np.ndarray, width: float, height: float, angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * [width / 2, height / 2]
    return centre + corners @ np.array([[cos, sin], [-sin, cos]])


def _rounded_box(
    centre: np.ndarray, width: float, height: float, angle: float, radius: float
) -> np.ndarray:
    """A rectangle with rounded corners as a polygon (corner arcs of 5 points)."""
    radius = min(radius, width / 2, height / 2)
    inner = _rotated_box(np.zeros(2), width - 2 * radius, height - 2 * radius, 0.0)
    points = []
    for corner, start in zip(inner, (180, 270, 0, 90), strict=True):
        for degrees in np.linspace(start, start + 90, 5):
            theta = math.radians(degrees)
            points.append(corner + radius * np.array([math.cos(theta), math.sin(theta)]))
    cos, sin = math.cos(angle), math.sin(angle)
    return centre + np.asarray(points) @ np.array([[cos, sin], [-sin, cos]])


def _unit_normal(direction: np.ndarray) -> np.ndarray:
    """The unit vector perpendicular to ``direction`` (turned +90 degrees in image axes)."""
    return np.array([-direction[1], direction[0]]) / max(float(np.hypot(*direction)), 1e-9)


def _band(start: np.ndarray, end: np.ndarray, half_width: float) -> np.ndarray:
    normal = _unit_normal(end - start) * half_width
    return np.array([start + normal, end + normal, end - normal, start - normal])


def _shade(colour: RGB, factor: float) -> RGB:
    red, green, blue = (int(np.clip(round(c * factor), 0, 255)) for c in colour)
    return (red, green, blue)


def occluder_parts(occluder: Occluder, skeleton: Skeleton, canvas_size: int) -> list[OccluderPart]:
    """The layers of ``occluder`` placed on ``skeleton`` (canvas pixels), back to front."""
    unit = skeleton.px_per_unit
    anchor = skeleton.joints[occluder.anchor] + np.asarray(occluder.offset) * unit
    width, height = occluder.size[0] * unit, occluder.size[1] * unit
    if occluder.kind == "bag":
        centre = anchor + np.array([0.0, height / 2])
        body = _rounded_box(centre, width, height, occluder.angle, 0.2 * min(width, height))
        flap = _rounded_box(
            centre - np.array([0.0, height * 0.28]), width * 0.96, height * 0.4, occluder.angle,
            0.1 * height,
        )  # fmt: skip
        strap_width = 0.009 * unit
        if occluder.anchor in (8, 11):  # a cross-body strap from the other shoulder
            shoulder = skeleton.joints[5 if occluder.anchor == 8 else 2]
            strap = _band(shoulder, centre - np.array([0.0, height / 2]), strap_width)
        else:  # a handle up to the hand
            strap = _band(skeleton.joints[occluder.anchor], centre, strap_width)
        return [
            OccluderPart(occluder.colour2, polygons=(strap,)),
            OccluderPart(occluder.colour, polygons=(body,)),
            OccluderPart(_shade(occluder.colour, 0.8), polygons=(flap,)),
        ]
    if occluder.kind == "helmet":
        degrees = math.degrees(occluder.angle)
        visor_centre = anchor + np.array([0.0, height * 0.12])
        shine = anchor - np.array([width * 0.18, height * 0.22])
        return [
            OccluderPart(occluder.colour, ellipses=((anchor, (width / 2, height / 2), degrees),)),
            OccluderPart(
                occluder.colour2, ellipses=((visor_centre, (width * 0.4, height * 0.22), degrees),)
            ),
            OccluderPart(
                _shade(occluder.colour, 1.35),
                ellipses=((shine, (width * 0.12, height * 0.07), degrees - 30),),
            ),
        ]
    if occluder.kind == "table":
        far = 4.0 * canvas_size
        slope = math.tan(occluder.angle)
        edge_left = anchor + np.array([-far, -far * slope])
        edge_right = anchor + np.array([far, far * slope])
        bottom = np.array([[far, far], [-far, far]])
        face = np.vstack([edge_left, edge_right, bottom])
        down = np.array([0.0, height])
        rim = np.array([edge_left, edge_right, edge_right + down, edge_left + down])
        return [
            OccluderPart(occluder.colour2, polygons=(face,)),
            OccluderPart(occluder.colour, polygons=(rim,)),
        ]
    if occluder.kind == "patch":
        rng = np.random.default_rng(occluder.seed)
        texture = random_crop(bundled_image(occluder.image), rng, 96)
        quad = _rotated_box(anchor, width, height, occluder.angle)
        return [OccluderPart((0, 0, 0), polygons=(quad,), texture=texture, quad=quad)]
    raise ValueError(f"unknown occluder kind {occluder.kind!r}")


# -- garment shading -------------------------------------------------------------------------


def _segment_distance(
    xs: np.ndarray, ys: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    direction = end - start
    length2 = max(float(direction @ direction), 1e-9)
    along = (xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]
    along = np.clip(along / length2, 0, 1)
    return np.hypot(xs - start[0] - along * direction[0], ys - start[1] - along * direction[1])


def _roundness(skeleton: Skeleton, body: BodyShape, size: int, amount: float) -> np.ndarray:
    """Darkening towards the sides of the torso and of the arms (low resolution, enlarged)."""
    low = max(size // 4, 16)
    factor = low / size
    grid = (np.arange(low, dtype=np.float32) + 0.5) / factor - 0.5
    xs, ys = grid[None, :], grid[:, None]
    joints, unit = skeleton.joints, skeleton.px_per_unit
    width = max(math.cos(skeleton.yaw), 0.3)
    hips = (joints[8] + joints[11]) / 2
    torso = _segment_distance(xs, ys, joints[1], hips) / (body.waist_half * width * unit)
    nearest = np.minimum(torso, 1.3)
    for shoulder in (2, 5):
        for a, b in ((shoulder, shoulder + 1), (shoulder + 1, shoulder + 2)):
            limb = _segment_distance(xs, ys, joints[a], joints[b]) / (body.arm_half * 1.3 * unit)
            nearest = np.minimum(nearest, limb)
    shade = (1 - amount * np.minimum(nearest, 1.3) ** 2).astype(np.float32)
    return cv2.resize(shade, (size, size), interpolation=cv2.INTER_LINEAR)


def _fold_lines(
    skeleton: Skeleton, body: BodyShape, folds: Folds
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Fold lines (start, end, relative depth) in output pixels: drapes from the armpits,
    creases at the hem, vertical folds, and bunching across the sleeves at the elbows."""
    rng = np.random.default_rng(folds.seed)
    sk, unit = skeleton, skeleton.px_per_unit
    width = math.cos(sk.yaw)

    def point(across: float, down: float) -> np.ndarray:
        return sk.joints[1] + (sk.across * across * width - sk.up * down) * unit

    def uniform(low: float, high: float) -> float:
        return float(rng.uniform(low, high))

    lines = []
    for _ in range(folds.count):
        kind, depth = int(rng.integers(4)), folds.depth * uniform(0.5, 1.0)
        side = 1.0 if rng.random() < 0.5 else -1.0
        if kind == 0:  # a drape from the armpit towards the middle
            start = point(side * body.shoulder_half * uniform(0.7, 0.9), uniform(0.08, 0.14))
            end = point(
                -side * body.waist_half * uniform(0.0, 0.6), body.torso_length * uniform(0.4, 0.8)
            )
        elif kind == 1:  # a short crease near the hem
            start = point(uniform(-1, 1) * body.waist_half, body.torso_length * uniform(0.75, 1.0))
            angle = uniform(-0.4, 0.4)
            direction = sk.across * math.cos(angle) + sk.up * math.sin(angle)
            end = start + direction * uniform(0.04, 0.09) * unit
        elif kind == 2:  # a vertical fold down the front
            start = point(uniform(-0.8, 0.8) * body.waist_half, uniform(0.1, 0.3))
            end = start + (sk.across * uniform(-0.02, 0.02) - sk.up * uniform(0.08, 0.2)) * unit
        else:  # bunching across a sleeve near the elbow
            shoulder = 2 if side < 0 else 5
            elbow, top = sk.joints[shoulder + 1], sk.joints[shoulder]
            centre = elbow + (top - elbow) * uniform(-0.25, 0.25)
            normal = _unit_normal(top - elbow)
            reach = body.arm_half * 1.3 * unit
            start, end = centre - normal * reach, centre + normal * reach
        lines.append((np.asarray(start, float), np.asarray(end, float), depth))
    return lines


def garment_shading(skeleton: Skeleton, body: BodyShape, folds: Folds, size: int) -> np.ndarray:
    """A multiplicative shading field (size x size float32, around 1) for the worn garment.

    Roundness darkens towards the sides of the torso and the arms; each fold is a soft dark
    valley beside a lighter crest. The field follows the skeleton, so it moves with the pose
    and is the same whatever garment is worn (the own view's truth gets the same folds).
    """
    field = _roundness(skeleton, body, size, folds.roundness)
    unit = skeleton.px_per_unit
    thickness = max(1, round(0.011 * unit))
    delta = np.zeros((size, size), np.float32)
    for start, end, depth in _fold_lines(skeleton, body, folds):
        crest = _unit_normal(end - start) * thickness * 1.8
        for offset, amount in ((np.zeros(2), -depth), (crest, 0.7 * depth)):
            a = tuple(int(v) for v in np.round((start + offset) * 16))
            b = tuple(int(v) for v in np.round((end + offset) * 16))
            cv2.line(delta, a, b, amount, thickness, cv2.LINE_8, 4)
    delta = cv2.GaussianBlur(delta, (0, 0), max(thickness * 0.9, 0.6))
    return field * (1 + delta)


# -- light and camera ------------------------------------------------------------------------


def _light_field(light: Light, size: int) -> np.ndarray:
    """Illumination gradient times vignetting (size x size float32), drawn at 32 px."""
    low = 32
    grid = (np.arange(low, dtype=np.float32) + 0.5) / low - 0.5
    xs, ys = grid[None, :], grid[:, None]
    along = xs * math.cos(light.angle) + ys * math.sin(light.angle)
    field = (1 + light.gradient * along) * (1 - light.vignette * (xs**2 + ys**2) * 2)
    return cv2.resize(field.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


def _blur_kernel(camera: Camera, scale: float) -> np.ndarray | None:
    """The defocus disc convolved with the motion streak (None when both are negligible)."""
    kernel = None
    radius = camera.defocus * scale
    if radius >= 0.5:
        side = 2 * math.ceil(radius) + 1
        grid = np.arange(side, dtype=np.float32) - side // 2
        distance = np.hypot(grid[None, :], grid[:, None])
        kernel = np.clip(radius + 0.5 - distance, 0, 1)
    length = camera.motion * scale
    if length >= 1.0:
        side = 2 * math.ceil(length / 2) + 1
        streak = np.zeros((side * 16, side * 16), np.uint8)
        half = np.array([math.cos(camera.motion_angle), math.sin(camera.motion_angle)]) * length / 2
        centre = np.array([side / 2, side / 2])
        a, b = (tuple(int(v) for v in np.round((centre + s * half) * 16)) for s in (-1, 1))
        cv2.line(streak, a, b, 255, 16, cv2.LINE_AA)
        streak = cv2.resize(streak.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
        kernel = streak if kernel is None else cv2.filter2D(
            np.pad(kernel, side // 2), -1, streak, borderType=cv2.BORDER_CONSTANT
        )  # fmt: skip
    if kernel is None:
        return None
    return (kernel / kernel.sum()).astype(np.float32)


def develop(
    image: np.ndarray,
    shot: Shot,
    size: int,
    shading: np.ndarray | None = None,
    coverage: np.ndarray | None = None,
) -> np.ndarray:
    """Turn a flat render into a photo of ``shot``: light, blur, noise, tone, JPEG.

    Args:
        image: HxWx3 uint8 RGB render (the display-referred colours of the flat style).
        shot: the light and camera of the photo.
        size: the image side (blur lengths scale with it).
        shading: optional HxW multiplicative field, applied where ``coverage`` (HxW, share
            of each pixel that is garment) is positive.

    Returns:
        HxWx3 uint8 RGB.
    """
    light, camera = shot.light, shot.camera
    linear = cv2.LUT(image, _TO_LINEAR)
    if shading is not None and coverage is not None:
        factor = coverage * (shading - 1)
        factor += 1
        linear *= factor[..., None]
    gains = np.asarray(light.white_balance, np.float32) * light.exposure
    field = _light_field(light, size)[..., None]
    linear *= field * gains
    kernel = _blur_kernel(camera, size / REFERENCE_SIZE)
    if kernel is not None:
        linear = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REFLECT)
    noise = np.empty_like(linear)
    cv2.setRNGSeed(camera.noise_seed)  # OpenCV's generator: 4x faster than numpy's here
    cv2.randn(noise, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # per channel (a bare float: first only)
    deviation = np.maximum(linear, 0)
    deviation *= camera.shot_noise
    deviation += camera.read_noise**2
    noise *= cv2.sqrt(deviation)
    linear += noise
    np.clip(linear, 0, 1, out=linear)
    display = cv2.pow(linear, 1 / (_DISPLAY_GAMMA * light.gamma))
    saturation = light.saturation
    matrix = saturation * np.eye(3, dtype=np.float32) + (1 - saturation) * np.outer(
        np.ones(3, np.float32), _LUMA
    )
    display = cv2.transform(display, matrix)
    result = np.clip(display * 255 + 0.5, 0, 255).astype(np.uint8)
    if camera.jpeg_quality:
        result = recompress(result, camera.jpeg_quality)
    return result


def recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-encode and decode an HxWx3 uint8 RGB image at ``quality`` (4:2:0, libjpeg)."""
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def tint_product(image: np.ndarray, coverage: np.ndarray, gains: tuple[float, ...]) -> np.ndarray:
    """A product photo with mild exposure / white-balance gains on the garment only (the
    catalog's white backdrop stays white)."""
    factor = 1 + coverage[..., None] * (np.asarray(gains, np.float32) - 1)
    return np.clip(image * factor + 0.5, 0, 255).astype(np.uint8)
