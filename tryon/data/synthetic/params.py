"""The random choices that make one synthetic person: body, looks, outfit and pose.

Every length is in resolution-independent body units (a mean person is about 0.96 units from
the top of the head to the soles); angles are radians. All parameter sets are frozen
dataclasses, so they are hashable (texture caches key on them) and print as plain data
(``synthetic.json`` stores them). Sampling draws from a ``numpy.random.Generator`` only, so a
seed fixes everything.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math

import numpy as np

GARMENT_CUTS: tuple[str, ...] = ("tshirt", "long_sleeve", "tank", "jacket")
NECKLINES: tuple[str, ...] = ("crew", "v")
TEXTURE_KINDS: tuple[str, ...] = (
    "solid",
    "stripes",
    "checks",
    "dots",
    "print",
    "gradient",
    "image",
)
BOTTOM_KINDS: tuple[str, ...] = ("pants", "shorts", "skirt")
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bun", "buzz")
BACKGROUND_KINDS: tuple[str, ...] = ("plain", "gradient", "texture")

# Images bundled inside scikit-image's wheel (skimage/data/*), readable offline.
# Photos of people are for evaluation only: never rendered into training data. skimage ships
# these: astronaut (Eileen Collins), camera (a cameraman), coins (portrait heads on coins),
# retina (a human eye), lfw_subset.npy (faces); no list below may name them (a test checks
# every file the generator opens).
PERSON_PHOTOS: frozenset[str] = frozenset(
    {"astronaut.png", "camera.png", "coins.png", "retina.jpg", "lfw_subset.npy"}
)
COLOUR_IMAGES: tuple[str, ...] = (
    "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png", "color.png",
    "motorcycle_left.png",
)  # fmt: skip
GREY_IMAGES: tuple[str, ...] = ("brick.png", "grass.png", "gravel.png", "moon.png")
BACKDROP_IMAGES: tuple[str, ...] = ("brick.png", "grass.png", "gravel.png")  # even, faint textures
PRINT_WORDS: tuple[str, ...] = ("HPN", "TRY ON", "2026", "NOVA", "SUMMER", "LUX", "OK", "CITY")

SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 224, 196), (241, 194, 167), (224, 172, 138), (198, 134, 99), (161, 102, 72),
    (120, 75, 50), (90, 56, 38), (234, 190, 150),
)  # fmt: skip
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (20, 16, 14), (60, 40, 28), (110, 72, 40), (170, 120, 70), (215, 180, 120),
    (140, 50, 30), (120, 120, 120), (230, 230, 225),
)  # fmt: skip

RGB = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class BodyShape:
    """Proportions of one body (body units); the defaults are the mean body."""

    stature: float = 0.95  # overall scale in the frame, 1.0 = tallest person of the set
    head_rx: float = 0.050
    head_ry: float = 0.064
    neck_length: float = 0.040
    neck_half: float = 0.024
    torso_length: float = 0.300  # neck keypoint to mid-hip
    shoulder_half: float = 0.105
    waist_half: float = 0.078
    hip_half: float = 0.058  # hip joints (keypoints)
    hip_outline_half: float = 0.092
    upper_arm: float = 0.165
    forearm: float = 0.145
    arm_half: float = 0.026
    forearm_half: float = 0.021
    hand: float = 0.050
    thigh: float = 0.235
    shin: float = 0.225
    thigh_half: float = 0.046
    shin_half: float = 0.032
    foot: float = 0.055


MEAN_BODY = BodyShape()


@dataclasses.dataclass(frozen=True)
class TextureParams:
    """A procedural or image texture laid out in the flat product photo's frame."""

    kind: str
    colours: tuple[RGB, ...]
    period: float = 0.05  # stripe / check / dot period, as a fraction of the frame
    angle: float = 0.0
    image: str = ""  # a file of skimage/data for kind "image" (or a print logo)
    word: str = ""  # the printed text for kind "print"
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class GarmentParams:
    """The upper garment: cut, neckline, fit and fabric."""

    cut: str
    neckline: str
    texture: TextureParams
    ease: float = 0.012  # looseness added to the body outline (body units)


@dataclasses.dataclass(frozen=True)
class BottomParams:
    """Trousers, shorts or skirt, and shoes."""

    kind: str
    colour: RGB
    shoe_colour: RGB


@dataclasses.dataclass(frozen=True)
class BackgroundParams:
    kind: str
    colour: RGB
    colour2: RGB
    image: str = ""
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class IdentityParams:
    """Everything about a person that stays the same across their photos except the top."""

    body: BodyShape
    skin: RGB
    hair: RGB
    hair_style: str
    eye: RGB
    lips: RGB
    bottom: BottomParams
    background: BackgroundParams


@dataclasses.dataclass(frozen=True)
class LimbPose:
    """One arm or leg.

    ``swing`` is the upper segment's angle from straight down, positive away from the body's
    midline; ``bend`` is added for the lower segment (negative folds a forearm across the
    body). ``*_scale`` < 1 foreshortens a segment pointing towards or away from the camera.
    ``behind`` draws the limb behind the torso (the far arm of a turned body).
    """

    swing: float
    bend: float = 0.0
    upper_scale: float = 1.0
    lower_scale: float = 1.0
    behind: bool = False


@dataclasses.dataclass(frozen=True)
class Pose:
    """A full-body pose plus where the body stands in the frame.

    ``yaw`` turns the body (positive: towards the person's left, i.e. image right), ``lean``
    tilts the upper body about the hips, ``head_tilt`` the head about the neck. ``scale``
    multiplies the canonical pixels-per-unit; ``shift_x`` / ``shift_y`` move the body by a
    fraction of the frame. ``right_arm_on_top`` decides which arm is drawn last.
    """

    right_arm: LimbPose
    left_arm: LimbPose
    right_leg: LimbPose
    left_leg: LimbPose
    yaw: float = 0.0
    lean: float = 0.0
    head_tilt: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    right_arm_on_top: bool = True


# The canonical frontal pose (the target of frontalisation and of try-on): facing the camera,
# upright, arms straight and 24 degrees away from the torso so no limb covers the garment,
# legs straight and slightly apart, centred in the frame at the canonical scale.
CANONICAL_ARM = LimbPose(swing=0.42, bend=0.04)
CANONICAL_LEG = LimbPose(swing=0.06, bend=-0.02)
CANONICAL_POSE = Pose(
    right_arm=CANONICAL_ARM, left_arm=CANONICAL_ARM, right_leg=CANONICAL_LEG, left_leg=CANONICAL_LEG
)


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _pick(rng: np.random.Generator, options: tuple) -> object:
    return options[int(rng.integers(len(options)))]


def random_colour(
    rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]
) -> RGB:
    """A colour of random hue with saturation and value drawn from the given ranges."""
    red, green, blue = colorsys.hsv_to_rgb(
        _uniform(rng, 0, 1), _uniform(rng, *saturation), _uniform(rng, *value)
    )
    return (round(red * 255), round(green * 255), round(blue * 255))


def _jitter(rng: np.random.Generator, colour: RGB, amount: int) -> RGB:
    shifted = np.clip(np.asarray(colour) + rng.integers(-amount, amount + 1, 3), 0, 255)
    return (int(shifted[0]), int(shifted[1]), int(shifted[2]))


def sample_body(rng: np.random.Generator) -> BodyShape:
    """Random proportions: limb length, girth, shoulder and hip width vary by about 10-20%."""
    limbs, girth = _uniform(rng, 0.95, 1.05), _uniform(rng, 0.85, 1.2)
    shoulders, hips, head = (
        _uniform(rng, 0.9, 1.1),
        _uniform(rng, 0.9, 1.12),
        _uniform(rng, 0.93, 1.07),
    )
    mean = MEAN_BODY
    return BodyShape(
        stature=_uniform(rng, 0.9, 1.0),
        head_rx=mean.head_rx * head * _uniform(rng, 0.95, 1.05),
        head_ry=mean.head_ry * head,
        neck_length=mean.neck_length * _uniform(rng, 0.85, 1.15),
        neck_half=mean.neck_half * girth,
        torso_length=mean.torso_length * _uniform(rng, 0.95, 1.05),
        shoulder_half=mean.shoulder_half * shoulders,
        waist_half=mean.waist_half * girth,
        hip_half=mean.hip_half * hips,
        hip_outline_half=mean.hip_outline_half * hips * (0.5 + 0.5 * girth),
        upper_arm=mean.upper_arm * limbs,
        forearm=mean.forearm * limbs,
        arm_half=mean.arm_half * girth,
        forearm_half=mean.forearm_half * girth,
        hand=mean.hand * limbs,
        thigh=mean.thigh * limbs,
        shin=mean.shin * limbs,
        thigh_half=mean.thigh_half * girth,
        shin_half=mean.shin_half * girth,
        foot=mean.foot * limbs,
    )


def sample_texture(rng: np.random.Generator) -> TextureParams:
    """A random fabric: kind, 1-3 colours, period, angle and (for images) the source file."""
    kind = str(_pick(rng, TEXTURE_KINDS))
    colours = tuple(random_colour(rng, (0.15, 0.9), (0.25, 0.95)) for _ in range(3))
    image = ""
    if kind == "image":
        image = str(_pick(rng, COLOUR_IMAGES + GREY_IMAGES))
    elif kind == "print" and rng.random() < 0.3:
        image = "logo.png"
    return TextureParams(
        kind=kind,
        colours=colours,
        period=_uniform(rng, 0.025, 0.08),
        angle=_pick(rng, (0.0, math.pi / 2, math.pi / 4, -math.pi / 4, _uniform(rng, 0, math.pi))),
        image=image,
        word=str(_pick(rng, PRINT_WORDS)),
        seed=int(rng.integers(2**31)),
    )


def sample_garment(rng: np.random.Generator) -> GarmentParams:
    """A random upper garment (cut, neckline, fabric, fit)."""
    cut = str(_pick(rng, GARMENT_CUTS))
    neckline = "v" if cut == "jacket" else str(_pick(rng, NECKLINES))
    return GarmentParams(
        cut=cut, neckline=neckline, texture=sample_texture(rng), ease=_uniform(rng, 0.004, 0.02)
    )


def sample_identity(rng: np.random.Generator) -> IdentityParams:
    """A random person: body, skin, hair, face colours, bottoms, shoes and backdrop."""
    background_kind = str(_pick(rng, BACKGROUND_KINDS))
    background = BackgroundParams(
        kind=background_kind,
        colour=random_colour(rng, (0.0, 0.25), (0.75, 1.0)),
        colour2=random_colour(rng, (0.0, 0.3), (0.6, 0.95)),
        image=str(_pick(rng, BACKDROP_IMAGES)),
        seed=int(rng.integers(2**31)),
    )
    bottom_kind = str(_pick(rng, BOTTOM_KINDS))
    denim = bottom_kind != "skirt" and rng.random() < 0.4  # a jeans blue
    bottom_colour = (
        _jitter(rng, (52, 74, 118), 20) if denim else random_colour(rng, (0.1, 0.7), (0.15, 0.8))
    )
    return IdentityParams(
        body=sample_body(rng),
        skin=_jitter(rng, _pick(rng, SKIN_TONES), 10),
        hair=_jitter(rng, _pick(rng, HAIR_COLOURS), 12),
        hair_style=str(_pick(rng, HAIR_STYLES)),
        eye=_jitter(rng, (40, 30, 25), 15),
        lips=_jitter(rng, (170, 90, 90), 20),
        bottom=BottomParams(
            kind=bottom_kind,
            colour=bottom_colour,
            shoe_colour=random_colour(rng, (0.0, 0.6), (0.05, 0.9)),
        ),
        background=background,
    )


def _sample_arm(rng: np.random.Generator) -> tuple[LimbPose, str]:
    mode = str(_pick(rng, ("down", "down", "front", "front", "raised", "out")))
    if mode == "down":
        limb = LimbPose(_uniform(rng, 0.08, 0.6), _uniform(rng, -0.3, 0.5))
    elif mode == "front":  # forearm folded across the torso: self-occlusion
        limb = LimbPose(
            _uniform(rng, -0.35, 0.15),
            _uniform(rng, -2.1, -1.2),
            _uniform(rng, 0.75, 0.95),
            _uniform(rng, 0.85, 1.0),
        )
    elif mode == "raised":
        limb = LimbPose(_uniform(rng, 1.5, 2.7), _uniform(rng, -0.7, 0.6))
    else:  # out to the side, elbow bent
        limb = LimbPose(_uniform(rng, 0.6, 1.4), _uniform(rng, -1.3, 0.4))
    return limb, mode


def _sample_legs(rng: np.random.Generator) -> tuple[LimbPose, LimbPose]:
    if rng.random() < 0.5:  # standing
        return (
            LimbPose(_uniform(rng, -0.02, 0.18), _uniform(rng, -0.08, 0.08)),
            LimbPose(_uniform(rng, -0.02, 0.18), _uniform(rng, -0.08, 0.08)),
        )
    stepping = LimbPose(  # the leg stepping towards the camera looks shorter and bent
        _uniform(rng, -0.05, 0.12),
        _uniform(rng, -0.25, 0.25),
        _uniform(rng, 0.78, 0.92),
        _uniform(rng, 0.85, 1.0),
    )
    planted = LimbPose(_uniform(rng, 0.08, 0.3), _uniform(rng, -0.2, 0.05))
    return (stepping, planted) if rng.random() < 0.5 else (planted, stepping)


def sample_pose(rng: np.random.Generator) -> Pose:
    """A random pose by joint angles: arms down, folded in front, raised or out; standing or
    walking legs; a slight turn, lean and head tilt; a random place and scale in the frame."""
    right_arm, right_mode = _sample_arm(rng)
    left_arm, left_mode = _sample_arm(rng)
    right_leg, left_leg = _sample_legs(rng)
    yaw = _uniform(rng, -0.35, 0.35) if rng.random() < 0.5 else _uniform(rng, -0.1, 0.1)
    if abs(yaw) > 0.2:  # the far arm of a turned body hangs behind the torso
        if yaw > 0 and left_mode in ("down", "out"):
            left_arm = dataclasses.replace(left_arm, behind=True)
        if yaw < 0 and right_mode in ("down", "out"):
            right_arm = dataclasses.replace(right_arm, behind=True)
    return Pose(
        right_arm=right_arm,
        left_arm=left_arm,
        right_leg=right_leg,
        left_leg=left_leg,
        yaw=yaw,
        lean=_uniform(rng, -0.08, 0.08),
        head_tilt=_uniform(rng, -0.15, 0.15),
        scale=_uniform(rng, 0.86, 1.0),
        shift_x=_uniform(rng, -0.08, 0.08),
        shift_y=_uniform(rng, -0.02, 0.02),
        right_arm_on_top=bool(rng.random() < 0.5),
    )
