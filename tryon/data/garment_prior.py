"""Try-on pairs with the garment's part-warp fit as the flow net's input (the flow learns a
residual on top of the keypoint fit, not the whole warp).

Each item of a :class:`~tryon.data.viton.VitonPairs` is changed so that

- ``garment`` / ``garment_mask`` are the product photo's garment already fitted onto the
  person's pose (:func:`tryon.pipeline.garment_fit.fit_garment`, from the product mask's
  virtual joints), at R;
- ``target_mask`` (the flow net's target input) is the person's mask: the net learns where
  the garment goes from the body and the pose maps, never from the worn garment's own shape,
  which a try-on of another garment does not have;
- ``prior_grid`` (R, R, 2) float32, ``grid_sample`` units into the product photo at R: the
  fit's grid, through which a learned residual flow is applied to the full-resolution photo;
- ``garment_region`` and ``person`` stay the ground truth (the worn garment);
- ``product`` / ``product_mask`` keep the product photo and its mask (for baselines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from core.images import tensor_to_uint8, uint8_to_tensor
from hpn.body_parts import complete_arms
from hpn.part_warp import pixels_to_normalised
from tryon.data.array_cache import cached_arrays


def fitted_garment_item(item: dict[str, Any], cache: Path | None = None) -> dict[str, Any]:
    """One :class:`~tryon.data.viton.VitonPairs` item with the fit as the garment input.

    ``cache``: the ``.npz`` file keeping this item's fit (None: compute it).
    """
    out = dict(item)
    out["target_mask"] = item["person_mask"]
    out["product"], out["product_mask"] = item["garment"], item["garment_mask"]
    arrays = cached_arrays(cache, lambda: _fit_arrays(item))
    alpha = torch.from_numpy(arrays["alpha"])[None]
    out["garment"] = uint8_to_tensor(arrays["image"]) * alpha
    out["garment_mask"] = alpha
    out["prior_grid"] = torch.from_numpy(arrays["prior_grid"])
    return out


def _fit_arrays(item: dict[str, Any]) -> dict[str, np.ndarray]:
    from tryon.errors import InvalidInputError
    from tryon.pipeline.garment_fit import fit_garment
    from tryon.preprocess.garment_landmarks import garment_landmarks

    product = tensor_to_uint8(item["garment"])
    mask = item["garment_mask"][0].numpy() > 0.5
    size = product.shape[:2]
    try:
        keypoints = complete_arms(item["person_keypoints"].numpy())
        person = item["person_mask"][0].numpy() > 0.5
        landmarks = garment_landmarks(mask)
        fit = fit_garment(product, mask, landmarks, keypoints, size, person_mask=person)
    except (InvalidInputError, ValueError):  # no shoulders / no garment: nothing to fit
        ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
        return {
            "image": np.zeros((*size, 3), np.uint8),
            "alpha": np.zeros(size, np.float32),
            "prior_grid": pixels_to_normalised(np.stack([xs, ys], -1), size),
        }
    return {
        "image": fit.image,
        "alpha": fit.alpha.astype(np.float32),
        "prior_grid": pixels_to_normalised(fit.warp.grid, size),
    }


class GarmentPriorPairs(Dataset):
    """A :class:`~tryon.data.viton.VitonPairs` whose items carry the garment's fit.

    Args:
        pairs: the try-on pairs.
        cache: a folder for the computed fits (None: compute every time).
    """

    def __init__(self, pairs: Any, cache: str | Path | None = None) -> None:
        self.pairs = pairs
        self.cache = None if cache is None else Path(cache)

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.pairs.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.pairs[index]
        path = None
        if self.cache is not None and not self.pairs.flip_probability:
            path = self.cache / f"{item['person_name']}__{item['garment_name']}.npz"
        return fitted_garment_item(item, path)
