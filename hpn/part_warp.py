"""The keypoint-driven part warp: one affine map per body part, as a dense backward warp.

Given the keypoints of a source image, the source person's mask and the keypoints of a target
pose, :func:`part_warp` says for every target pixel which source pixel to read, and whether
the source person covers it. It is the geometric prior that the warp-and-refine HPN refines
(Deformable GAN's idea, applied to the image instead of the encoder's features).

How a target pixel t is resolved: for each part of :mod:`hpn.body_parts`, front to back, the
part's backward map gives a source point s_p(t); the first part whose own pixels are at
s_p(t) in the source (its part label there) claims t. So each part keeps its silhouette,
parts in front hide parts behind, and where no part lands (the target shows what the source
hides, or a seam opens at a bent joint) the coverage is 0 and the caller fills it.

Each part moves rigidly-affine (no blending between parts), so a round trip whose two legs
use the maps fitted from the same pose (``fitted_from``) is exact wherever the intermediate
view shows the pixel: the way back applies the very inverse of the way there.

Convention:
    - Keypoints: (18, 2) pixel (x, y), NaN missing (:mod:`core.keypoints`).
    - ``PartWarp.grid`` is (H, W, 2) float32 *source pixel* coordinates (x, y), pixel centres
      at integers, for :func:`cv2.remap`; :meth:`PartWarp.normalised_grid` gives the
      ``grid_sample`` form (``align_corners=False``: -1 and 1 are the outer pixel edges).
    - Resolution-free: the maps are affine, evaluated exactly at every output pixel; only a
      part's reach (how far from its bone it may claim pixels) is decided on a coarse grid.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from hpn.body_parts import (
    PART_NAMES,
    Body,
    BodyProportions,
    body_from_keypoints,
    label_parts,
    part_distances,
    part_maps,
)

FitDirection = Literal["source", "target"]
REACH_GRID = 256  # parts' reach is decided on a grid of this long side


@dataclass(frozen=True)
class PartWarpConfig:
    """Knobs of :func:`part_warp`.

    Attributes:
        proportions: sizes of the parts (shoulder-width units).
        reach: a limb or the head claims pixels (and takes source pixels in labelling) only
            this many of its widths from its bone (an affine map extrapolated far from its
            bone lands on unrelated pixels); the torso reaches everywhere.
        label_size: part labels are computed on at most this many pixels per side.
    """

    proportions: BodyProportions = dataclasses.field(default_factory=BodyProportions)
    reach: float = 3.0
    label_size: int = 320

    def __post_init__(self) -> None:
        if self.reach <= 0 or self.label_size < 16:
            raise ValueError("reach must be > 0 and label_size >= 16")


@dataclass(frozen=True)
class PartWarp:
    """A dense backward warp from a source image to a target pose.

    Attributes:
        grid: (H, W, 2) float32 source pixel (x, y) that each target pixel reads.
        coverage: (H, W) float32 in [0, 1], how much of the target pixel the source person
            covers (0 where nothing of the person lands: background or a dis-occlusion).
        part: (H, W) int8 index into :data:`hpn.body_parts.PART_NAMES` of the part read,
            -1 where coverage is 0.
    """

    grid: np.ndarray
    coverage: np.ndarray
    part: np.ndarray

    def apply(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Source image (HxW[xC], any dtype cv2 remaps) read through the warp, border replicated."""
        return cv2.remap(
            image,
            self.grid[..., 0],
            self.grid[..., 1],
            interpolation,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def normalised_grid(self, source_size: tuple[int, int]) -> np.ndarray:
        """``grid`` in ``grid_sample`` units for a source of ``(height, width)`` pixels."""
        return pixels_to_normalised(self.grid, source_size)


def pixels_to_normalised(grid: np.ndarray, source_size: tuple[int, int]) -> np.ndarray:
    """(..., 2) pixel (x, y) -> ``grid_sample`` units of a ``(height, width)`` source."""
    height, width = source_size
    scale = np.array([2.0 / width, 2.0 / height], np.float32)
    return ((grid + 0.5) * scale - 1.0).astype(np.float32)


def sample(
    image: torch.Tensor, grid: torch.Tensor, residual: torch.Tensor | None = None
) -> torch.Tensor:
    """Read ``image`` at ``grid`` (+ ``residual``): the differentiable form of the warp.

    Bilinear, ``align_corners=False``, zero outside the source; differentiable in the image,
    the grid and the residual (tested with gradcheck). The warp-and-refine HPN trains its
    residual flow through it.

    Shapes:
        image: (N, C, Hs, Ws); grid: (N, H, W, 2) normalised (x, y); residual: (N, 2, H, W)
        in the same units, or None; returns (N, C, H, W).
    """
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid must be (N, H, W, 2) normalised (x, y), got {tuple(grid.shape)}")
    if residual is not None:
        grid = grid + residual.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def backward_maps(
    source: Body, target: Body, fitted_from: FitDirection = "source"
) -> dict[str, np.ndarray]:
    """Part name -> 3x3 target -> source map (what sampling the source needs).

    ``fitted_from`` says which pose the maps are fitted from: "source" inverts the maps
    fitted source -> target, "target" fits target -> source directly. A round trip that
    fits both legs from the same pose (the photo) uses exact inverses of the same maps.
    """
    if fitted_from == "target":
        return part_maps(target, source)
    return {name: np.linalg.inv(m) for name, m in part_maps(source, target).items()}


def _reaches(target: Body, size: tuple[int, int], reach: float) -> dict[str, np.ndarray]:
    """Part name -> (H, W) bool, the target pixels within ``reach`` widths of its bone."""
    height, width = size
    factor = min(1.0, REACH_GRID / max(height, width))
    coarse = (max(1, round(height * factor)), max(1, round(width * factor)))
    ys = (np.arange(coarse[0]) + 0.5) * height / coarse[0] - 0.5
    xs = (np.arange(coarse[1]) + 0.5) * width / coarse[1] - 0.5
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    distances = part_distances(target, np.stack([grid_x, grid_y], axis=-1))
    near = {}
    for name, distance in distances.items():
        inside = (distance <= reach).astype(np.uint8)
        near[name] = cv2.resize(inside, (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return near


def _grid_of(part: np.ndarray, maps: dict[str, np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) source points: each pixel through its part's map (the torso's if none)."""
    coefficients = np.zeros((len(PART_NAMES), 6), np.float32)
    for index, name in enumerate(PART_NAMES):
        coefficients[index] = maps.get(name, maps["torso"])[:2].reshape(-1)
    chosen = np.where(part >= 0, part, PART_NAMES.index("torso"))
    ys, xs = np.indices(size, dtype=np.float32)
    a, b, c, d, e, f = (coefficients[:, k][chosen] for k in range(6))
    return np.stack([a * xs + b * ys + c, d * xs + e * ys + f], axis=-1)


def source_labels(
    keypoints: np.ndarray, mask: np.ndarray, config: PartWarpConfig | None = None
) -> np.ndarray:
    """Part label of every pixel of a person mask (:func:`hpn.body_parts.label_parts`).

    Labels are computed on a grid of at most ``config.label_size`` per side, upsampled with
    nearest neighbours and cut to the full-resolution mask.

    Shapes:
        mask: (H, W) bool; returns (H, W) int8, -1 off the person.
    """
    config = config or PartWarpConfig()
    height, width = mask.shape
    factor = min(1.0, config.label_size / max(height, width))
    coarse = (max(1, round(height * factor)), max(1, round(width * factor)))
    scale = np.array([coarse[1] / width, coarse[0] / height])
    scaled = (np.asarray(keypoints, np.float64) + 0.5) * scale - 0.5
    body = body_from_keypoints(scaled.astype(np.float32), config.proportions)
    labels = label_parts(body, np.ones(coarse, bool), config.reach)
    if coarse != (height, width):
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.where(mask, labels, -1).astype(np.int8)


def part_warp(
    source_keypoints: np.ndarray,
    target_keypoints: np.ndarray,
    source_mask: np.ndarray,
    target_size: tuple[int, int],
    config: PartWarpConfig | None = None,
    labels: np.ndarray | None = None,
    fitted_from: FitDirection = "source",
) -> PartWarp:
    """The dense part warp from a source person to a target pose (see the module docstring).

    Args:
        source_keypoints: (18, 2) keypoints of the source image.
        target_keypoints: (18, 2) keypoints of the target pose, in pixels of the target.
        source_mask: (Hs, Ws) bool person mask of the source image.
        target_size: (H, W) of the target image.
        config: part sizes, reach, label resolution.
        labels: (Hs, Ws) int8 source part labels (default: :func:`source_labels`).
        fitted_from: fit the part maps from the "source" pose or the "target" pose (see
            :func:`backward_maps`); the way back of a round trip uses "target".

    Returns:
        The :class:`PartWarp` (grid, coverage and part of every target pixel).

    Raises:
        ValueError: a shoulder is missing in either pose, or the shapes disagree.
    """
    config = config or PartWarpConfig()
    source_mask = np.asarray(source_mask, bool)
    if source_mask.ndim != 2:
        raise ValueError(f"source_mask must be (H, W) bool, got shape {source_mask.shape}")
    if labels is None:
        labels = source_labels(source_keypoints, source_mask, config)
    elif labels.shape != source_mask.shape:
        raise ValueError(f"labels {labels.shape} and source_mask {source_mask.shape} differ")
    source = body_from_keypoints(source_keypoints, config.proportions)
    target = body_from_keypoints(target_keypoints, config.proportions)
    size = (int(target_size[0]), int(target_size[1]))
    maps = backward_maps(source, target, fitted_from)
    near = _reaches(target, size, config.reach)
    best_share = np.zeros(size, np.float32)
    part = np.full(size, -1, np.int8)
    undecided = np.ones(size, bool)
    for index, name in enumerate(PART_NAMES):
        if name not in maps:
            continue
        own = (labels == index).astype(np.float32)
        # An affine backward map: OpenCV reads the source through it directly.
        share = cv2.warpAffine(
            own, maps[name][:2].astype(np.float64), (size[1], size[0]),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        if name != "torso":
            share[~near[name]] = 0.0
        # A part claims the pixels where its own pixels lie (share > 0.5); where none does
        # yet (silhouette edges, seams) the largest share so far is kept.
        selected = undecided & ((share > 0.5) | (share > best_share))
        np.copyto(best_share, share, where=selected)
        part[selected] = index
        undecided &= share <= 0.5
    grid = _grid_of(part, maps, size)
    # The photo ends at its frame, the person does not: the mask is read with its border
    # replicated, and nothing is covered from beyond the frame's outer pixel edges.
    person = source_mask.astype(np.float32)
    coverage = cv2.remap(
        person, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    height, width = source_mask.shape
    in_frame = (grid[..., 0] >= -0.5) & (grid[..., 0] <= width - 0.5)
    in_frame &= (grid[..., 1] >= -0.5) & (grid[..., 1] <= height - 0.5)
    coverage = np.where((best_share > 0) & in_frame, coverage, 0.0).astype(np.float32)
    part[coverage <= 0] = -1
    return PartWarp(grid=grid, coverage=coverage, part=part)
