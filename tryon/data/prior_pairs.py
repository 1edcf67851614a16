"""Pose-transfer pairs with their part-warp prior: what the warp-and-refine HPN trains on.

Each item of a :class:`~tryon.data.deepfashion.DeepFashionPairs` (which must carry person
masks: the synthetic sets do) gets the same-scene prior of :mod:`hpn.warp_refine`:

- ``prior_grid`` (R, R, 2) float32, ``grid_sample`` units into the reference: the part warp
  (:func:`hpn.part_warp.part_warp`) of the reference person onto the target pose where it
  covers the target, and the identity (the scene stays where it is) elsewhere;
- ``validity`` (2, R, R) float32: the person coverage of the part warp, and where the prior
  reads real background (the reference shows no person at that pixel).

With ``studio=True`` the items are what the canonical view (:func:`hpn.repose.repose`)
feeds the refiner on a photo: the reference person's colours spread a few pixels beyond
their mask (:func:`hpn.repose.spread_colours`), a ``backdrop`` (3, R, R), the studio
backdrop, which stands off the person in the prior and the composition, and the canonical
view's validity (the backdrop is valid everywhere but the holes it fills,
:func:`hpn.repose.holes_to_fill`). The photographic scene behind the reference never
reaches the network, as it never does in the product; pair it with studio targets
(``DeepFashionPairs(targets="studio")``). Only the pairs whose reference shows every
keypoint the target shows are kept: the canonical view draws only what the photo shows
(:func:`hpn.repose.canonical_target`), so legs that the reference's frame cut off are no
example of its task.

Computed once per pair (0.1-0.4 s at 256 px on a CPU) and, with ``cache``, kept in a folder
of ``.npz`` files (:mod:`tryon.data.array_cache`), so later epochs and runs only read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from core.images import tensor_to_uint8, uint8_to_tensor
from hpn.part_warp import part_warp, pixels_to_normalised
from hpn.repose import canvas_validity, holes_to_fill, spread_colours, studio_backdrop
from tryon.data.array_cache import cached_arrays


def same_scene_prior(
    reference_keypoints: np.ndarray,
    target_keypoints: np.ndarray,
    reference_mask: np.ndarray,
    studio: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Prior grid (R, R, 2, normalised) and validity (2, R, R) for one pair (module doc);
    ``studio``: the canonical view's validity (the backdrop valid but for the holes).

    Raises:
        ValueError: a shoulder is missing in either pose.
    """
    size = reference_mask.shape
    warp = part_warp(reference_keypoints, target_keypoints, reference_mask, size)
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
    identity = np.stack([xs, ys], axis=-1)
    person = warp.coverage[..., None] > 0
    grid = np.where(person, warp.grid, identity)
    if studio:
        holes, _ = holes_to_fill(warp, reference_keypoints, target_keypoints, size)
        validity = canvas_validity(warp.coverage, holes)
    else:
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
        cache: a folder for the computed priors (None: compute every time); a file per pair,
            flip, input kind and resolution.
        studio: the canonical view's inputs (module doc).
    """

    def __init__(self, pairs: Any, cache: str | Path | None = None, studio: bool = False) -> None:
        if pairs.mask_dir is None:
            raise ValueError(
                "the warp-and-refine prior needs person masks (a person-mask/ folder in the "
                "DeepFashion layout: synthetic sets have one)"
            )
        self.pairs = pairs
        self.cache = None if cache is None else Path(cache)
        self.studio = studio
        self.indices = list(range(len(pairs)))
        if studio:
            self.indices = [i for i, pair in enumerate(pairs.pairs) if _shows_target(pairs, *pair)]

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        self.pairs.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self.indices[index]
        item = dict(self.pairs[index])
        path = None
        if self.cache is not None:
            flipped = "_flip" if _is_flipped(self.pairs, index) else ""
            studio = "_studio" if self.studio else ""
            size = item["reference"].shape[-1]  # one cache may serve several resolutions
            name = f"{item['reference_name']}__{item['target_name']}{flipped}{studio}_{size}.npz"
            path = self.cache / name
        arrays = cached_arrays(path, lambda: _prior_arrays(item, self.studio))
        item["prior_grid"] = torch.from_numpy(arrays["prior_grid"])
        item["validity"] = torch.from_numpy(arrays["validity"])
        if self.studio:
            mask = item["reference_person_mask"][0].numpy() > 0.5
            spread = spread_colours(tensor_to_uint8(item["reference"]), mask)
            item["reference"] = uint8_to_tensor(spread)
            ramp = np.round(studio_backdrop(tuple(mask.shape)))
            item["backdrop"] = torch.from_numpy(ramp).permute(2, 0, 1) / 127.5 - 1
        return item


def _shows_target(pairs: Any, reference: str, target: str) -> bool:
    """Whether the reference shows every keypoint the target shows (NaN: outside its frame)."""
    missing = np.isnan(pairs.keypoints[reference]).any(axis=1)
    shown = ~np.isnan(pairs.keypoints[target]).any(axis=1)
    return not (missing & shown).any()


def _is_flipped(pairs: Any, index: int) -> bool:
    from tryon.data.geometry import flip_decision

    return flip_decision(pairs.flip_probability, pairs.seed, pairs.epoch, index)


def _prior_arrays(item: dict[str, Any], studio: bool = False) -> dict[str, np.ndarray]:
    mask = item["reference_person_mask"][0].numpy() > 0.5
    try:
        grid, validity = same_scene_prior(
            item["reference_keypoints"].numpy(), item["target_keypoints"].numpy(), mask, studio
        )
    except ValueError:
        size = mask.shape
        ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
        grid = pixels_to_normalised(np.stack([xs, ys], axis=-1), size)
        validity = np.zeros((2, *size), np.float32)
    return {"prior_grid": grid, "validity": validity}
