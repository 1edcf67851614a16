"""How well garments are fitted onto posed bodies: shape and texture against the worn truth.

On a synthetic test split (the garment of each pair rendered worn by the person: exact
truth), every method warps the product photo to the person at R and is scored by
:func:`flow.evaluate.evaluate_warps`: mask IoU (shape), SSIM over the garment region only and
Mask-SSIM (texture), and the VGG-16 (HED) feature distance of the masked images (lower is
better). Methods:

- ``fit``: the part-warp fit from the product's virtual joints (:mod:`tryon.pipeline.garment_fit`),
  the keypoint prior the shipped pipeline uses;
- ``fit_flow``: that fit corrected by a flow net trained on fits (``--prior part-warp``),
  reading only the person's mask and pose maps, not the worn garment's shape;
- ``tps``, ``bbox_resize``: the classical baselines, warping the product onto the **worn
  garment's own mask** (an oracle shape no try-on of another garment has);
- ``paper_flow``: the paper-route flow net (trained on worn-garment masks), also given the
  worn garment's mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from flow.evaluate import baseline_method, evaluate_warps, model_method, win_rates


def _product_view(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch as the oracle-shape methods read it: the product photo, the worn mask."""
    return {**batch, "garment": batch["product"], "garment_mask": batch["product_mask"]}


def _on_product(method: Any) -> Any:
    return lambda batch: method(_product_view(batch))


def evaluate_garment_fit(
    data: str | Path,
    resolution: int = 256,
    fit_flow: Any | None = None,
    paper_flow: Any | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    cache: str | Path | None = None,
) -> dict[str, Any]:
    """Scores of every method (module docstring) on the test split of ``data``.

    Returns:
        :func:`flow.evaluate.evaluate_warps`' result plus ``win_rates`` of ``fit_flow`` (or
        ``fit`` without it) over every other method, and the data and resolution.
    """
    from tryon.data import VitonPairs
    from tryon.data.garment_prior import GarmentPriorPairs
    from tryon.pipeline.evaluation import vgg_feature_distance

    dataset = GarmentPriorPairs(VitonPairs(data, "test", resolution), cache)
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    methods = {"fit": lambda batch: (batch["garment"], batch["garment_mask"])}
    if fit_flow is not None:
        methods["fit_flow"] = model_method(fit_flow)
    for name in ("tps", "bbox_resize"):
        methods[name] = _on_product(baseline_method(name))
    if paper_flow is not None:
        paper = model_method(paper_flow)
        methods["paper_flow"] = lambda batch: paper(
            {**_product_view(batch), "target_mask": batch["garment_region"]}
        )
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    result = evaluate_warps(
        loader, methods, total=len(loader), feature_distance=vgg_feature_distance()
    )
    best = "fit_flow" if fit_flow is not None else "fit"
    result["win_rates"] = {best: win_rates(result, best)}
    result.pop("per_image")
    return {**result, "data": str(data), "resolution": resolution}
