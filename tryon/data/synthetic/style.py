"""The random choices of the photographic style: scene, light, camera, framing, occluder.

``tryon data synth --style photo`` renders the same people, garments and poses as the flat
style (their draws come first, from the same ``SeedSequence([seed, i])`` stream) and then
draws, from the rest of that stream, how each photo was taken: a :class:`Shot` per photo.
Every picture of one (identity, pose) uses one shot: the posed photo, its parse / mask /
keypoints and the own view's try-on truth in the partner's garment, so they differ only in
the garment. The frontal photo and the canonical try-on truth share a studio shot of their
own, always full-body and never occluded (they are catalog-view targets).

All lengths here are resolution-free: blur and noise in pixels of a 256 px image (scaled with
the image), occluder sizes in body units, framing in body units around the joints. Every
parameter set is a frozen dataclass, so it is hashable (caches key on it) and prints as plain
data.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tryon.data.synthetic.params import (
    RGB,
    _pick,
    _uniform,
    random_colour,
)

STYLES: tuple[str, ...] = ("flat", "photo")

# Backdrop sources, each looked at and showing no person: a cup on a wooden table, a cat, a
# rocket on its launch pad at dusk, a motorcycle in a garage, the Hubble deep field, brick,
# grass, gravel, the moon's surface. (page.png, printed text, would do too, but libpng warns
# about its colour profile on every decode.)
BACKDROP_PHOTOS: tuple[str, ...] = (
    "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
    "brick.png", "grass.png", "gravel.png", "moon.png",
)  # fmt: skip
FRAMINGS: tuple[str, ...] = ("full", "knees", "waist", "head_shoulders", "arm_cut")
FRAMING_WEIGHTS: tuple[float, ...] = (0.35, 0.2, 0.2, 0.1, 0.15)
OCCLUDERS: tuple[str, ...] = ("bag", "helmet", "table", "patch")
OCCLUSION_PROBABILITY = 0.35


@dataclasses.dataclass(frozen=True)
class Backdrop:
    """What is behind the person, laid over the uncropped (full-body) frame.

    ``kind`` "photo": a square crop of a bundled photo (``box``: left, top, side as fractions
    of the photo's width, height and shorter side), maybe mirrored, re-coloured by
    ``colour_matrix`` (3x3, row-major, applied to RGB in [0, 1]) and defocused by ``blur``.
    ``kind`` "wall": a painted wall (``wall``) meeting a floor (``floor``) at ``horizon``
    (fraction of the frame height; above 1 means no floor shows), with a brightness gradient
    (``gradient`` along ``gradient_angle``) and faint paint texture drawn from ``seed``.
    """

    kind: str
    image: str = ""
    box: tuple[float, float, float] = (0.0, 0.0, 1.0)
    flip: bool = False
    colour_matrix: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    blur: float = 0.0
    wall: RGB = (200, 200, 200)
    floor: RGB = (150, 150, 150)
    horizon: float = 2.0
    gradient: float = 0.0
    gradient_angle: float = 0.0
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Light:
    """Illumination and colour: a linear gradient across the frame (``gradient``, the relative
    change from edge to edge, along ``angle``), vignetting (darkening of the corners),
    per-channel white-balance gains, exposure (a linear gain), display gamma jitter and
    saturation."""

    gradient: float = 0.0
    angle: float = 0.0
    vignette: float = 0.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: float = 1.0
    gamma: float = 1.0
    saturation: float = 1.0


@dataclasses.dataclass(frozen=True)
class Camera:
    """Optics and sensor: defocus (disc radius) and motion blur (length, angle), sensor noise
    with variance ``read_noise**2 + shot_noise * value`` (linear values in [0, 1]), JPEG
    re-compression at ``jpeg_quality`` (0: none); noise drawn from ``noise_seed``."""

    defocus: float = 0.0
    motion: float = 0.0
    motion_angle: float = 0.0
    read_noise: float = 0.0
    shot_noise: float = 0.0
    jpeg_quality: int = 0
    noise_seed: int = 0


@dataclasses.dataclass(frozen=True)
class Framing:
    """How the photo is cropped around the person (``kind`` in FRAMINGS, or "frame": not
    cropped at all), with jitter of the crop's size (``zoom``, relative) and place (``dx``,
    ``dy``, body units)."""

    kind: str = "frame"
    zoom: float = 0.0
    dx: float = 0.0
    dy: float = 0.0


@dataclasses.dataclass(frozen=True)
class Occluder:
    """A foreground object over the person: ``kind`` in OCCLUDERS, placed at joint ``anchor``
    plus ``offset`` (body units, image axes), ``size`` (width, height in body units), tilted by
    ``angle`` (radians), coloured ``colour`` / ``colour2``; a "patch" shows a crop of the
    bundled photo ``image`` drawn from ``seed``."""

    kind: str
    anchor: int
    offset: tuple[float, float]
    size: tuple[float, float]
    angle: float
    colour: RGB
    colour2: RGB
    image: str = ""
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Folds:
    """Shading of the worn garment: folds (``count`` fold lines of relative depth ``depth``
    drawn from ``seed``) and the roundness of the body (``roundness``: darkening towards the
    sides of the torso)."""

    seed: int
    count: int
    depth: float
    roundness: float


@dataclasses.dataclass(frozen=True)
class Shot:
    """How one photo was taken: everything the photographic style adds to a render."""

    backdrop: Backdrop
    light: Light
    camera: Camera
    framing: Framing
    occluder: Occluder | None
    folds: Folds

    def summary(self) -> dict:
        """A short description for the data set's manifest."""
        return {
            "framing": self.framing.kind,
            "occluder": None if self.occluder is None else self.occluder.kind,
            "backdrop": self.backdrop.image or "wall",
            "jpeg_quality": self.camera.jpeg_quality,
        }


@dataclasses.dataclass(frozen=True)
class PhotoStyle:
    """One identity's photographic draws: a shot per posed photo, the frontal (studio) shot,
    and the product photo's mild exposure / white-balance gains (its backdrop stays white)."""

    posed: tuple[Shot, ...]
    frontal: Shot
    product_gains: tuple[float, float, float]


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _gains(rng: np.random.Generator, temperature: float, tint: float) -> tuple[float, ...]:
    warm, green = _uniform(rng, -temperature, temperature), _uniform(rng, -tint, tint)
    return (round(1 + warm, 4), round(1 + green, 4), round(1 - warm, 4))


def _colour_matrix(rng: np.random.Generator) -> tuple[float, ...]:
    """Gains per channel times a saturation change: a colour shift of a backdrop photo."""
    saturation = _uniform(rng, 0.6, 1.25)
    gains = np.array(_gains(rng, 0.12, 0.05)) * math.exp(_uniform(rng, -0.35, 0.2))
    luma = np.array([0.299, 0.587, 0.114])
    matrix = saturation * np.eye(3) + (1 - saturation) * np.outer(np.ones(3), luma)
    return tuple(round(float(v), 5) for v in (gains[:, None] * matrix).reshape(-1))


def _wall(rng: np.random.Generator, floor: bool) -> Backdrop:
    wall = random_colour(rng, (0.0, 0.3), (0.55, 0.97))
    return Backdrop(
        kind="wall",
        wall=wall,
        floor=random_colour(rng, (0.0, 0.45), (0.2, 0.7)),
        horizon=_uniform(rng, 0.62, 0.93) if floor else 2.0,
        gradient=_uniform(rng, 0.0, 0.35),
        gradient_angle=_uniform(rng, 0, 2 * math.pi),
        seed=_seed(rng),
    )


def sample_backdrop(rng: np.random.Generator) -> Backdrop:
    """A scene behind the person: a bundled photo (65%) or an indoor wall with a floor."""
    if rng.random() < 0.35:
        return _wall(rng, floor=rng.random() < 0.7)
    image = str(_pick(rng, BACKDROP_PHOTOS))
    side = _uniform(rng, 0.45, 1.0)
    return Backdrop(
        kind="photo",
        image=image,
        box=(_uniform(rng, 0, 1), _uniform(rng, 0, 1), side),
        flip=bool(rng.random() < 0.5),
        colour_matrix=_colour_matrix(rng),
        blur=_uniform(rng, 0.0, 2.5) if rng.random() < 0.7 else 0.0,
    )


def sample_light(rng: np.random.Generator, studio: bool = False) -> Light:
    """Illumination gradient, vignetting, white balance, exposure, gamma and saturation."""
    mild = 0.5 if studio else 1.0
    return Light(
        gradient=_uniform(rng, 0.0, 0.6 * mild),
        angle=_uniform(rng, 0, 2 * math.pi),
        vignette=_uniform(rng, 0.0, 0.45 * mild),
        white_balance=_gains(rng, 0.14 * mild, 0.05 * mild),
        exposure=math.exp(_uniform(rng, -0.4 * mild, 0.4 * mild)),
        gamma=_uniform(rng, 1 - 0.13 * mild, 1 + 0.13 * mild),
        saturation=_uniform(rng, 0.7, 1.3) if not studio else _uniform(rng, 0.9, 1.1),
    )


def sample_camera(rng: np.random.Generator, studio: bool = False) -> Camera:
    """Blur (defocus half the time, motion a fifth), sensor noise and JPEG quality 40-95."""
    defocus = _uniform(rng, 0.5, 1.6) if rng.random() < 0.5 else 0.0
    moving = rng.random() < 0.2
    motion, motion_angle = _uniform(rng, 1.5, 4.0), _uniform(rng, 0, math.pi)
    read_noise, shot_noise = _uniform(rng, 0.002, 0.016), _uniform(rng, 0.0003, 0.005)
    quality = int(rng.integers(40, 96)) if rng.random() < 0.85 else 0
    seed = _seed(rng)
    if studio:
        defocus, moving, read_noise, shot_noise = 0.0, False, read_noise / 2, shot_noise / 2
        quality = max(quality, 75) if quality else 0
    return Camera(
        defocus=defocus,
        motion=motion if moving else 0.0,
        motion_angle=motion_angle,
        read_noise=read_noise,
        shot_noise=shot_noise,
        jpeg_quality=quality,
        noise_seed=seed,
    )


def sample_framing(rng: np.random.Generator) -> Framing:
    """A shopper's framing: full body, knees up, waist up, head and shoulders, or an arm cut."""
    kind = FRAMINGS[int(rng.choice(len(FRAMINGS), p=FRAMING_WEIGHTS))]
    return Framing(
        kind=kind, zoom=_uniform(rng, -0.06, 0.1), dx=_uniform(rng, -0.05, 0.05),
        dy=_uniform(rng, -0.03, 0.03),
    )  # fmt: skip


def sample_occluder(rng: np.random.Generator) -> Occluder:
    """A bag, a helmet, a table edge or a patch of another photo, placed near a joint."""
    kind = str(_pick(rng, OCCLUDERS))
    colour = random_colour(rng, (0.1, 0.8), (0.1, 0.85))
    colour2 = random_colour(rng, (0.0, 0.5), (0.05, 0.6))
    angle = _uniform(rng, -0.25, 0.25)
    if kind == "bag":  # held at a wrist, or hanging at the hip from a cross-body strap
        anchor = int(_pick(rng, (4, 7, 8, 11)))
        offset = (_uniform(rng, -0.03, 0.03), _uniform(rng, 0.04, 0.1))
        size = (_uniform(rng, 0.13, 0.24), _uniform(rng, 0.11, 0.2))
    elif kind == "helmet":  # carried in a hand, or held in front of the belly
        anchor = int(_pick(rng, (4, 7, 8, 11)))
        offset = (_uniform(rng, -0.04, 0.04), _uniform(rng, 0.0, 0.08))
        size = (_uniform(rng, 0.17, 0.24), _uniform(rng, 0.15, 0.21))
    elif kind == "table":  # its edge somewhere between the waist and the knees
        anchor, offset = 8, (0.0, _uniform(rng, -0.08, 0.2))
        size, angle = (0.0, _uniform(rng, 0.03, 0.06)), angle * 0.2
    else:  # a patch of a photo: a sign, a box, a plant held or passing in front
        anchor = int(_pick(rng, (1, 3, 6, 8, 9, 11, 12)))
        offset = (_uniform(rng, -0.08, 0.08), _uniform(rng, -0.05, 0.05))
        size = (_uniform(rng, 0.12, 0.3), _uniform(rng, 0.12, 0.3))
    return Occluder(
        kind=kind,
        anchor=anchor,
        offset=offset,
        size=size,
        angle=angle,
        colour=colour,
        colour2=colour2,
        image=str(_pick(rng, BACKDROP_PHOTOS)),
        seed=_seed(rng),
    )


def sample_folds(rng: np.random.Generator) -> Folds:
    return Folds(
        seed=_seed(rng),
        count=int(rng.integers(4, 10)),
        depth=_uniform(rng, 0.15, 0.35),
        roundness=_uniform(rng, 0.05, 0.2),
    )


def sample_shot(rng: np.random.Generator, backdrop: Backdrop) -> Shot:
    """A posed photo taken in ``backdrop``: its own light, camera, framing and occluder."""
    light, camera, framing = sample_light(rng), sample_camera(rng), sample_framing(rng)
    occluded = rng.random() < OCCLUSION_PROBABILITY
    occluder = sample_occluder(rng)
    return Shot(backdrop, light, camera, framing, occluder if occluded else None, sample_folds(rng))


def sample_studio_shot(rng: np.random.Generator) -> Shot:
    """The frontal photo's studio shot: a wall, mild light and noise, the uncropped frame (the
    canonical pose's keypoints), no occluder."""
    backdrop = _wall(rng, floor=rng.random() < 0.5)
    light, camera = sample_light(rng, studio=True), sample_camera(rng, studio=True)
    return Shot(backdrop, light, camera, Framing("frame"), None, sample_folds(rng))


def sample_photo_style(rng: np.random.Generator, poses: int) -> PhotoStyle:
    """An identity's shots: one scene for all posed photos (each with its own light, camera,
    framing, occluder and folds), a studio shot for the frontal photo, product-photo gains."""
    scene = sample_backdrop(rng)
    posed = tuple(sample_shot(rng, scene) for _ in range(poses))
    frontal = sample_studio_shot(rng)
    exposure = math.exp(_uniform(rng, -0.08, 0.05))
    gains = tuple(round(g * exposure, 4) for g in _gains(rng, 0.03, 0.015))
    return PhotoStyle(posed, frontal, gains)
