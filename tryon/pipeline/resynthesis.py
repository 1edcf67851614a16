"""What shows where the old garment was and the new one does not reach: skin or background.

A tank top over a long-sleeved shirt leaves the old sleeves uncovered; a fitted shirt over a
loose jacket leaves the jacket's outline. Those pixels must not keep the old garment:

- inside the body's outline (the part capsules of :func:`hpn.body_parts.body_region`: arms,
  neck, a belly under a crop top) they become skin: the colour of the shopper's own skin
  next to the hole (the neck above a neckline, the hands below a sleeve: in shadow, unlike
  the lit face), else the face's, shaded like a cylinder across each limb, the photo's
  own grain (a flat fill reads as paint on a photo), and seams with the photo's pixels
  softened over a pixel or two;
- outside it they become background: the real background beside the person mirrored across
  the outline (:func:`background_plate`: the strips are narrow, so the background a few
  pixels away is the best guess of what lies behind them, texture and all).

Pixels of the old garment's region that already look like the shopper's skin (a region that
strayed onto the chin or neck, an open collar) keep their own pixels: real skin beats a
painted one.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon.preprocess.body_boxes import face_box

DEFAULT_SKIN = (196, 152, 128)  # used only when the photo shows no skin to measure


def inner_face(keypoints: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice] | None:
    """(rows, columns) of the face box's inner half (cheeks, nose: little hair); None
    without a face."""
    box = face_box(keypoints, size)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) // 4, (y1 - y0) // 4
    return slice(y0 + dy, y1 - dy), slice(x0 + dx, x1 - dx)


def skin_colour(photo: np.ndarray, keypoints: np.ndarray, skin_hint: np.ndarray) -> np.ndarray:
    """The shopper's skin colour (RGB float32).

    Measured as the median of the inner half of the face box (cheeks, nose: little hair),
    on pixels that ``skin_hint`` allows (the person, not the garment); when there is no face,
    the median of ``skin_hint`` itself; else a neutral default.
    """
    candidates = np.zeros(photo.shape[:2], bool)
    face = inner_face(keypoints, photo.shape[:2])
    if face is not None:
        candidates[face] = True
        candidates &= skin_hint
    if candidates.sum() < 16:
        candidates = skin_hint
    if candidates.sum() < 16:
        return np.array(DEFAULT_SKIN, np.float32)
    return np.median(photo[candidates].astype(np.float32), axis=0)


def background_plate(
    photo: np.ndarray, hidden: np.ndarray, wanted: np.ndarray | None = None
) -> np.ndarray:
    """The photo with ``hidden`` (HxW bool: the person, the band being repainted) replaced by
    the real background beside it (HxWx3 uint8; exact elsewhere), computed on the hidden
    pixels of ``wanted`` only (default: all; the rest stays the photo's).

    Each hidden pixel reads the background mirrored across its nearest visible pixel: as far
    outside the outline as it lies inside, so grass stays grass and a curtain's folds go on
    (moved pixels, not drawn ones), where an inpainted plate smeared the band into a flat,
    grey ghost of the old silhouette. Where the mirror point is hidden too or off the frame,
    half the distance is tried, then the nearest visible pixel itself.
    """
    hidden = hidden.astype(bool)
    if not hidden.any() or hidden.all():
        return photo.copy()
    _, nearest = cv2.distanceTransformWithLabels(
        hidden.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    visible_rows, visible_cols = np.nonzero(~hidden)
    by_label = np.zeros((nearest.max() + 1, 2), np.int64)
    by_label[nearest[visible_rows, visible_cols]] = np.stack([visible_rows, visible_cols], 1)
    rows, cols = np.nonzero(hidden if wanted is None else hidden & wanted)
    anchor = by_label[nearest[rows, cols]]
    height, width = hidden.shape
    source = anchor.copy()
    for reach in (0.5, 1.0):  # the farther mirror point wins where it is visible
        at_row = np.round(anchor[:, 0] + reach * (anchor[:, 0] - rows)).astype(np.int64)
        at_col = np.round(anchor[:, 1] + reach * (anchor[:, 1] - cols)).astype(np.int64)
        inside = (at_row >= 0) & (at_row < height) & (at_col >= 0) & (at_col < width)
        usable = inside.copy()
        usable[inside] = ~hidden[at_row[inside], at_col[inside]]
        source[usable] = np.stack([at_row[usable], at_col[usable]], 1)
    plate = photo.copy()
    plate[rows, cols] = photo[source[:, 0], source[:, 1]]
    return plate


SKIN_CHROMA_TOLERANCE = 14.0  # CIELAB a*b* distance to the measured skin colour
SKIN_LIGHTNESS_TOLERANCE = 30.0  # CIELAB L* distance (shading darkens skin a lot)


MIN_SKIN_CHROMA = 10.0  # CIELAB a*b* of a skin colour: below it (a grey photo) there is no hue


def swatch_lab(colour: np.ndarray) -> np.ndarray:
    """(3,) float32 OpenCV 8-bit CIELAB of one RGB ``colour`` (L* scaled to 255, a* b* +128)."""
    swatch = np.clip(np.round(colour), 0, 255).astype(np.uint8)[None, None]
    return cv2.cvtColor(swatch, cv2.COLOR_RGB2LAB).astype(np.float32)[0, 0]


def has_skin_hue(colour: np.ndarray) -> bool:
    """Whether a measured skin ``colour`` (RGB) has a hue to tell skin by: in a grey photo
    (chroma under :data:`MIN_SKIN_CHROMA`) every grey pixel "looks like skin"."""
    lab = swatch_lab(colour)
    return bool(np.hypot(lab[1] - 128.0, lab[2] - 128.0) >= MIN_SKIN_CHROMA)


def looks_like_skin(photo: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """HxW bool, pixels within the CIELAB tolerances of the skin ``colour`` (RGB)."""
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)
    reference = swatch_lab(colour)
    # OpenCV's 8-bit Lab: L* scaled by 255/100, a* and b* offset by 128.
    lightness = np.abs(lab[..., 0] - reference[0]) * (100.0 / 255.0)
    chroma = np.hypot(lab[..., 1] - reference[1], lab[..., 2] - reference[2])
    return (lightness <= SKIN_LIGHTNESS_TOLERANCE) & (chroma <= SKIN_CHROMA_TOLERANCE)


MIN_SKIN_SAMPLE = 64  # pixels of real skin needed to trust a colour measured on them


def nearby_skin_colour(
    photo: np.ndarray, region: np.ndarray, skin: np.ndarray, reach: int
) -> np.ndarray | None:
    """Median colour (RGB float32) of ``skin`` pixels within ``reach`` px of ``region``.

    None when fewer than :data:`MIN_SKIN_SAMPLE` such pixels exist (no skin next to it).
    """
    distance = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)
    sample = (distance <= max(reach, 1)) & skin & ~region
    if sample.sum() < MIN_SKIN_SAMPLE:
        return None
    return np.median(photo[sample].astype(np.float32), axis=0)


SHADOW_RANGE = (0.6, 1.0)  # lightness of painted skin relative to the face's


def shadowed_skin_colour(face: np.ndarray, nearby: np.ndarray | None) -> np.ndarray:
    """The face's skin colour (RGB) at the lightness of the skin next to the hole.

    Only the lightness is taken from the nearby pixels (a neck lies in the chin's shadow, a
    forearm turns from the light), clipped to :data:`SHADOW_RANGE` of the face's: nearby
    pixels may include skin-coloured cloth or metal, whose hue must not leak in.
    """
    if nearby is None:
        return face
    lab = cv2.cvtColor(np.stack([face, nearby])[None] / 255.0, cv2.COLOR_RGB2LAB)[0]
    low, high = SHADOW_RANGE
    lab[0, 0] = np.clip(lab[1, 0], low * lab[0, 0], high * lab[0, 0])
    rgb = cv2.cvtColor(lab[None, :1].astype(np.float32), cv2.COLOR_LAB2RGB)[0, 0]
    return np.clip(rgb * 255.0, 0, 255).astype(np.float32)


GRAIN_WINDOW = 7  # px, windows of the face in which the photo's noise is measured
GRAIN_PAD = 4  # px, the reach of a sigma-1 Gaussian blur (OpenCV's 9-tap kernel)


def fine_detail(grey: np.ndarray, where: np.ndarray | None = None) -> float:
    """The fine luminance noise of ``grey`` (float32): its departure from a 1-pixel Gaussian
    blur, as a standard deviation in 7x7 windows, the 20th percentile of those (over the
    windows centred on ``where``, default all): the flattest parts, where edges do not count
    as noise. 0 when there is nothing to measure."""
    if min(grey.shape) < GRAIN_WINDOW + 2 * GRAIN_PAD:
        return 0.0
    detail = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    window = (GRAIN_WINDOW, GRAIN_WINDOW)
    variance = cv2.blur(detail**2, window) - cv2.blur(detail, window) ** 2
    inner = np.zeros(grey.shape, bool)
    inner[GRAIN_PAD:-GRAIN_PAD, GRAIN_PAD:-GRAIN_PAD] = True  # the blur's own border aside
    if where is not None:
        inner &= where
    if not inner.any():
        return 0.0
    return float(np.sqrt(max(float(np.percentile(variance[inner], 20)), 0.0)))


def grain_level(photo: np.ndarray, keypoints: np.ndarray) -> float:
    """Standard deviation of the photo's fine luminance noise, measured on the face.

    :func:`fine_detail` over the face box's inner half (cheeks, forehead: the flattest skin)
    with the blur's 4-pixel reach around it. 0 without a face.
    """
    face = inner_face(keypoints, photo.shape[:2])
    if face is None:
        return 0.0
    rows, cols = face
    top, left = max(rows.start - GRAIN_PAD, 0), max(cols.start - GRAIN_PAD, 0)
    crop = photo[top : rows.stop + GRAIN_PAD, left : cols.stop + GRAIN_PAD]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return fine_detail(grey)


GRAIN_BLUR = 0.9  # px: a camera's noise is not white, and skin's own texture is softer still
GRAIN_STRENGTH = 0.3  # of the face's grain (as fine_detail measures it): smooth, not sandy
GRAIN_DETAIL = 0.123  # fine_detail of unit white noise blurred by GRAIN_BLUR (measured)


SKIN_SHADE = (0.72, 1.0)  # brightness at a limb's edge and on its axis


def shaded_skin(
    roundness: np.ndarray,
    colour: np.ndarray,
    grain: float = 0.0,
    sideways: np.ndarray | None = None,
    side_light: float = 0.0,
) -> np.ndarray:
    """HxWx3 float32 skin: ``colour`` shaded by how far each pixel faces the light.

    ``roundness`` (HxW in [0, 1], :func:`tryon.pipeline.own_view.bare_body`: the normal's
    part towards the camera) darkens every limb towards its own edges, so two crossed
    forearms read as two; with ``sideways`` (the normal's image-x part) and ``side_light``
    (:func:`light_from_face`: the light's image-x part, the rest from the camera) the lit
    side of each limb is the face's. ``grain``: the photo's noise level;
    :data:`GRAIN_STRENGTH` of it is laid over the skin as luminance noise (the same in every
    channel, blurred by :data:`GRAIN_BLUR` like a camera's; a fixed seed keeps results
    reproducible).
    """
    low, high = SKIN_SHADE
    facing = np.clip(roundness, 0.0, 1.0)
    if sideways is not None and side_light != 0.0:
        facing = sideways * side_light + facing * np.sqrt(1.0 - side_light**2)
    shade = low + (high - low) * np.sqrt(np.clip(facing, 0.0, 1.0))
    skin = shade[..., None] * colour[None, None, :]
    return (skin + camera_grain(roundness.shape, grain)[..., None]).astype(np.float32)


LIGHT_GAIN = 2.5  # side light per unit of the face halves' brightness contrast
LIGHT_MAX = 0.6  # the light's largest image-x part: never from behind the limbs
TURNED_FACE = 0.25  # nose off the eyes' midpoint, in eye distances: a turned face
FACE_MIDDLE = (0, 14, 15)  # COCO-18 nose, right eye, left eye


def light_from_face(photo: np.ndarray, keypoints: np.ndarray) -> float:
    """The image-x part of the light's direction, from the face (-: from the left).

    A frontal face's two halves differ in brightness by the light alone: their contrast
    (right minus left over their sum, over the face box's inner half), times
    :data:`LIGHT_GAIN`, clipped to :data:`LIGHT_MAX`. 0 without both eyes and the nose, or
    for a face turned from the camera (:data:`TURNED_FACE`: a cheek and an ear, not light).
    """
    nose, right_eye, left_eye = (keypoints[i] for i in FACE_MIDDLE)
    if not np.isfinite(np.stack([nose, right_eye, left_eye])).all():
        return 0.0
    eyes = float(np.hypot(*(left_eye - right_eye)))
    if eyes < 2 or abs(nose[0] - (right_eye[0] + left_eye[0]) / 2) > TURNED_FACE * eyes:
        return 0.0
    face = inner_face(keypoints, photo.shape[:2])
    if face is None:
        return 0.0
    rows, cols = face
    middle = round(float(nose[0]))
    if not cols.start + 2 <= middle <= cols.stop - 2:
        return 0.0
    grey = cv2.cvtColor(photo[rows, cols], cv2.COLOR_RGB2GRAY).astype(np.float32)
    left, right = grey[:, : middle - cols.start].mean(), grey[:, middle - cols.start :].mean()
    contrast = (right - left) / max(float(right + left), 1.0)
    return float(np.clip(LIGHT_GAIN * contrast, -LIGHT_MAX, LIGHT_MAX))


def camera_grain(shape: tuple[int, int], level: float) -> np.ndarray:
    """HxW float32 luminance noise blurred by :data:`GRAIN_BLUR` like a camera's, scaled so
    that :func:`fine_detail` measures :data:`GRAIN_STRENGTH` times ``level`` on it (the
    statistic ``level`` comes from); a fixed seed keeps results reproducible. Zeros for
    ``level`` 0."""
    if level <= 0:
        return np.zeros(shape, np.float32)
    noise = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), GRAIN_BLUR)
    return noise * (GRAIN_STRENGTH * level / GRAIN_DETAIL)


def missing_grain(image: np.ndarray, where: np.ndarray, grain: float) -> float:
    """How much noise (a standard deviation) ``image`` lacks on ``where`` to have the photo's
    ``grain``: a product photo enlarged four times is smoother than the photo it is laid into,
    and reads as pasted. 0 where it is already as noisy."""
    if grain <= 0 or where.sum() < GRAIN_WINDOW**2:
        return 0.0
    grey = cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    own = fine_detail(grey.astype(np.float32), where)
    return float(np.sqrt(max(grain**2 - own**2, 0.0)))


def soften_seams(image: np.ndarray, painted: np.ndarray, width: float) -> np.ndarray:
    """``image`` (float32) with the rim of ``painted`` (``width`` px inside its edge) blurred.

    The blur reads the neighbours across the edge, so the painted pixels meet the photo's
    without a cut; nothing outside ``painted`` changes.
    """
    if width < 0.5 or not painted.any():
        return image
    depth = cv2.distanceTransform(painted.astype(np.uint8), cv2.DIST_L2, 3)
    rim = painted & (depth <= max(width, 1.0))
    rows, cols = np.nonzero(rim)
    pad = int(np.ceil(4 * width))  # the blur's reach: only the rim's box is blurred
    top, left = max(rows.min() - pad, 0), max(cols.min() - pad, 0)
    box = np.s_[top : rows.max() + pad + 1, left : cols.max() + pad + 1]
    out = image.astype(np.float32, copy=True)
    blurred = cv2.GaussianBlur(out[box], (0, 0), width)
    out[box] = np.where(rim[box][..., None], blurred, out[box])
    return out
