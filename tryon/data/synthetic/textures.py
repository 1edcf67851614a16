"""Fabric and backdrop images, vectorised numpy (no per-pixel Python loops).

A garment texture lives in the frame of the flat product photo: pixel (x, y) of the texture
is pixel (x, y) of the (supersampled) product photo, so the product photo shows it unwarped and
a worn garment samples it through one homography per garment piece. Image textures come from
the pictures bundled in scikit-image's wheel (skimage/data), read from disk, never downloaded.
"""

from __future__ import annotations

import functools
import math
from importlib import resources

import cv2
import numpy as np

from tryon.data.synthetic.params import BackgroundParams, TextureParams

FONT = cv2.FONT_HERSHEY_DUPLEX


@functools.lru_cache(maxsize=32)
def bundled_image(name: str) -> np.ndarray:
    """An image shipped inside scikit-image (skimage/data/NAME) as HxWx3 uint8 RGB."""
    path = resources.files("skimage.data") / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"scikit-image's bundled image {name} is missing ({path})")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@functools.lru_cache(maxsize=4)
def _unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coordinates = (np.arange(size, dtype=np.float32) + 0.5) / size
    return coordinates[None, :], coordinates[:, None]


def _rotated(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = _unit_grid(size)
    cos, sin = math.cos(angle), math.sin(angle)
    return xs * cos + ys * sin, ys * cos - xs * sin


def _palette(colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    return np.asarray(colours, dtype=np.float32)


def random_crop(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    side = int(min(height, width) * rng.uniform(0.35, 0.8))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    return cv2.resize(
        image[top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA
    )


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Noise with features about size/cells pixels wide, in [-1, 1] (float32 HxW)."""
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _print_motif(
    canvas: np.ndarray, params: TextureParams, chest: tuple[float, float, float]
) -> None:
    """Print a word or the scikit-image logo on the chest of a uint8 canvas (in place)."""
    size = canvas.shape[0]
    centre_x, centre_y, width = (value * size for value in chest)
    if params.image:
        logo = bundled_image(params.image)
        side = max(int(width * 0.6), 2)
        logo = cv2.resize(logo, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
        ink = (logo.max(axis=2, keepdims=True) < 250).astype(np.float32)  # non-white pixels
        left, top = int(centre_x - side / 2), int(centre_y - side / 2)
        region = canvas[top : top + side, left : left + side]
        logo, ink = (
            logo[: region.shape[0], : region.shape[1]],
            ink[: region.shape[0], : region.shape[1]],
        )
        region[...] = (region * (1 - ink) + logo * ink).astype(np.uint8)
        return
    thickness = max(1, round(size / 160))
    (text_width, text_height), _ = cv2.getTextSize(params.word, FONT, 1.0, thickness)
    scale = width * 0.8 / max(text_width, 1)
    (text_width, text_height), _ = cv2.getTextSize(params.word, FONT, scale, thickness)
    origin = (int(centre_x - text_width / 2), int(centre_y + text_height / 2))
    cv2.putText(canvas, params.word, origin, FONT, scale, params.colours[1], thickness, cv2.LINE_AA)


def _folds(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multiplicative shading of soft fabric folds: a few dark ridges (float32 HxW, <= 1)."""
    low = max(size // 4, 16)
    xs, ys = (axis * np.ones((low, low), np.float32) for axis in _unit_grid(low))
    shade = np.ones((low, low), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        start = rng.uniform(0.25, 0.75, 2)
        angle, length = rng.uniform(0, math.pi), rng.uniform(0.05, 0.18)
        direction = np.array([math.cos(angle), math.sin(angle)])
        along = np.clip((xs - start[0]) * direction[0] + (ys - start[1]) * direction[1], 0, length)
        distance = np.hypot(
            xs - start[0] - along * direction[0], ys - start[1] - along * direction[1]
        )
        shade -= rng.uniform(0.06, 0.14) * np.exp(-((distance / 0.012) ** 2))
    return cv2.resize(shade, (size, size), interpolation=cv2.INTER_LINEAR)


@functools.lru_cache(maxsize=8)
def garment_texture(
    params: TextureParams, size: int, chest: tuple[float, float, float]
) -> np.ndarray:
    """The garment's fabric in the product-photo frame, folds and grain included.

    Args:
        params: the fabric.
        size: side of the (square, supersampled) product frame in pixels.
        chest: (x, y, width) of the chest as fractions of the frame, where prints go.

    Returns:
        size x size x 3 uint8 RGB.
    """
    rng = np.random.default_rng(params.seed)
    colours = _palette(params.colours)
    u, v = _rotated(size, params.angle)
    period = params.period
    if params.kind == "solid":
        fabric = np.broadcast_to(colours[0], (size, size, 3)).copy()
    elif params.kind == "stripes":
        count = 2 + int(rng.integers(2))
        fabric = colours[:count][(np.floor(u / period).astype(np.int64) % count)]
        fabric = np.broadcast_to(fabric, (size, size, 3)).copy()
    elif params.kind == "checks":
        mix = ((np.floor(u / period) % 2) + (np.floor(v / period) % 2))[..., None] / 2
        fabric = colours[0] * (1 - mix) + colours[1] * mix
    elif params.kind == "dots":
        row = np.floor(v / period)
        du = (u + (row % 2) * period / 2) % period - period / 2
        dv = v % period - period / 2
        inside = (du**2 + dv**2 < (0.28 * period) ** 2)[..., None]
        fabric = np.where(inside, colours[1], colours[0])
    elif params.kind == "gradient":
        ramp = np.clip((u - u.min()) / max(float(np.ptp(u)), 1e-6), 0, 1)[..., None]
        fabric = colours[0] * (1 - ramp) + colours[1] * ramp
    elif params.kind == "print":
        printed = np.full((size, size, 3), params.colours[0], np.uint8)
        _print_motif(printed, params, chest)
        fabric = printed.astype(np.float32)
    elif params.kind == "image":
        crop = random_crop(bundled_image(params.image), rng, size).astype(np.float32)
        if np.ptp(crop.reshape(-1, 3).mean(axis=0)) < 1:  # grey source: tint it with a colour
            crop = crop / 255 * colours[0] * 1.3
        fabric = crop
    else:
        raise ValueError(f"unknown texture kind {params.kind!r}")
    grain = 1 + 0.04 * smooth_noise(rng, size, max(size // 8, 4))
    shade = _folds(rng, size) * grain
    return np.clip(fabric * shade[..., None], 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def background_image(params: BackgroundParams, size: int) -> np.ndarray:
    """The backdrop: plain, a vertical gradient, or a faint tinted photo texture (uint8 RGB)."""
    colour, colour2 = _palette((params.colour,))[0], _palette((params.colour2,))[0]
    if params.kind == "plain":
        image = np.broadcast_to(colour, (size, size, 3))
    elif params.kind == "gradient":
        ramp = _unit_grid(size)[1][..., None]
        image = colour * (1 - ramp) + colour2 * ramp
        image = np.broadcast_to(image, (size, size, 3))
    elif params.kind == "texture":
        rng = np.random.default_rng(params.seed)
        grey = random_crop(bundled_image(params.image), rng, size)[..., 0].astype(np.float32)
        grey = cv2.GaussianBlur(grey, (0, 0), size / 256)
        normalised = (grey - grey.mean()) / (grey.std() + 1e-6)
        image = colour * (1 + 0.035 * np.clip(normalised, -2, 2))[..., None]
    else:
        raise ValueError(f"unknown background kind {params.kind!r}")
    return np.clip(image, 0, 255).astype(np.uint8)
