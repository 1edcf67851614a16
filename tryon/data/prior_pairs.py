"""Pose-transfer pairs with their part-warp prior: what the warp-and-refine HPN trains on.

Each item of a :class:`~tryon.data.deepfashion.DeepFashionPairs` (which must carry person
masks: the synthetic sets do) gets the same-scene prior of :mod:`hpn.warp_refine`:

- ``prior_grid`` (R, R, 2) float32, ``grid_sample`` units into the reference: the part warp
  (:func:`hpn.part_warp.part_warp`) of the reference person onto the target pose where it
  covers the target, and the identity (the scene stays where it is) elsewhere;
- ``validity`` (2, R, R) float32: the person coverage of the part warp, and where the prior
  reads real background (the reference shows no person at that pixel).

Computed once per pair (0.1-0.4 s at 256 px on a CPU) and, with ``cache``, kept in a folder
of ``.npz`` files (:mod:`tryon.data.array_cache`), so later epochs and runs only read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from hpn.part_warp import part_warp, pixels_to_normalised
from tryon.data.array_cache import cached_arrays


def same_scene_prior(
    reference_keypoints: np.ndarray,
    target_keypoints: np.ndarray,
    reference_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Prior grid (R, R, 2, normalised) and validity (2, R, R) for one pair (module doc).

    Raises:
        ValueError: a shoulder is missing in either pose.
    """
    size = reference_mask.shape
    warp = part_warp(reference_keypoints, target_keypoints, reference_mask, size)
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
    identity = np.stack([xs, ys], axis=-1)
    person = warp.coverage[..., None] > 0
    grid = np.where(person, warp.grid, identity)
    background = (~reference_mask.astype(bool)) & (warp.coverage <= 0)
    validity = np.stack([warp.coverage, background.astype(np.float32)])
    return pixels_to_normalised(grid, size), validity.astype(np.float32)


class PriorPairs(Dataset):
    """A pose-transfer pair data set whose items also carry ``prior_grid`` and ``validity``.

    Pairs whose prior cannot be built (a pose without both shoulders) keep the identity grid
    and zero validity: the network then learns to generate the whole target (rare in the
    synthetic sets, which always show the shoulders).

    Args:
        pairs: a :class:`~tryon.data.deepfashion.DeepFashionPairs` with person masks.
        cache: a folder for the computed priors (None: compute every time).
    """

    def __init__(self, pairs: Any, cache: str | Path | None = None) -> None:
        if pairs.mask_dir is None:
            raise ValueError(
                "the warp-and-refine prior needs person masks (a person-mask/ folder in the "
                "DeepFashion layout: synthetic sets have one)"
            )
        self.pairs = pairs
        self.cache = None if cache is None else Path(cache)

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.pairs.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.pairs[index])
        path = None
        if self.cache is not None:
            flipped = "_flip" if _is_flipped(self.pairs, index) else ""
            path = self.cache / f"{item['reference_name']}__{item['target_name']}{flipped}.npz"
        arrays = cached_arrays(path, lambda: _prior_arrays(item))
        item["prior_grid"] = torch.from_numpy(arrays["prior_grid"])
        item["validity"] = torch.from_numpy(arrays["validity"])
        return item


def _is_flipped(pairs: Any, index: int) -> bool:
    from tryon.data.geometry import flip_decision

    return flip_decision(pairs.flip_probability, pairs.seed, pairs.epoch, index)


def _prior_arrays(item: dict[str, Any]) -> dict[str, np.ndarray]:
    mask = item["reference_person_mask"][0].numpy() > 0.5
    try:
        grid, validity = same_scene_prior(
            item["reference_keypoints"].numpy(), item["target_keypoints"].numpy(), mask
        )
    except ValueError:
        size = mask.shape
        ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
        grid = pixels_to_normalised(np.stack([xs, ys], axis=-1), size)
        validity = np.zeros((2, *size), np.float32)
    return {"prior_grid": grid, "validity": validity}
