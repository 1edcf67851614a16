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

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from core.images import tensor_to_uint8, uint8_to_tensor
from hpn.body_parts import complete_arms
from hpn.part_warp import pixels_to_normalised


def fitted_garment_item(item: dict[str, Any]) -> dict[str, Any]:
    """One :class:`~tryon.data.viton.VitonPairs` item with the fit as the garment input."""
    from tryon.errors import InvalidInputError
    from tryon.pipeline.garment_fit import fit_garment
    from tryon.preprocess.garment_landmarks import garment_landmarks

    product = tensor_to_uint8(item["garment"])
    mask = item["garment_mask"][0].numpy() > 0.5
    size = product.shape[:2]
    out = dict(item)
    out["target_mask"] = item["person_mask"]
    out["product"], out["product_mask"] = item["garment"], item["garment_mask"]
    try:
        keypoints = complete_arms(item["person_keypoints"].numpy())
        person = item["person_mask"][0].numpy() > 0.5
        landmarks = garment_landmarks(mask)
        fit = fit_garment(product, mask, landmarks, keypoints, size, person_mask=person)
    except (InvalidInputError, ValueError):  # no shoulders / no garment: nothing to fit
        out["garment"] = torch.zeros_like(item["garment"])
        out["garment_mask"] = torch.zeros_like(item["garment_mask"])
        ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
        out["prior_grid"] = torch.from_numpy(pixels_to_normalised(np.stack([xs, ys], -1), size))
        return out
    alpha = fit.alpha.astype(np.float32)
    out["garment"] = uint8_to_tensor(fit.image) * torch.from_numpy(alpha)[None]
    out["garment_mask"] = torch.from_numpy(alpha)[None]
    out["prior_grid"] = torch.from_numpy(pixels_to_normalised(fit.warp.grid, size))
    return out


class GarmentPriorPairs(Dataset):
    """A :class:`~tryon.data.viton.VitonPairs` whose items carry the garment's fit."""

    def __init__(self, pairs: Any) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.pairs.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return fitted_garment_item(self.pairs[index])
