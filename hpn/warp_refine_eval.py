"""Warp-and-refine against its baselines on pose-transfer pairs: SSIM, local-SSIM, win rates.

Methods, each scored against the target at the data's resolution R (protocol-B SSIM,
:func:`core.metrics.ssim`; local-SSIM over the descriptor regions of the target keypoints,
:func:`hpn.metrics.local_ssim`):

- ``warp_refine``: the warp-and-refine HPN at its level, composed at R;
- ``part_warp``: the part-warp prior alone, its invalid pixels inpainted (OpenCV's Telea);
- ``paper``: the paper's pure encoder-decoder (an :class:`hpn.model.HPN`, e.g. the shipped
  demo model) at its own level, its output resized to R;
- ``reference``: the reference returned unchanged.

Each is also scored on the target person alone (``person_ssim``: the mean SSIM map inside
the target's person mask, both images blanked outside it, :func:`core.metrics.region_ssim`),
when the items carry ``target_person_mask``: a canonical view shows only the person, while
the whole-image scores of same-scene pairs also count the scene drawn where the person stood.

Items need ``prior_grid`` and ``validity`` (:class:`tryon.data.prior_pairs.PriorPairs`);
with ``backdrop`` (``PriorPairs(studio=True)``) every method but the paper's is composed on
that studio backdrop, as the canonical view is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from core.images import tensor_to_uint8
from core.metrics import mean_and_sem, paired_comparison, region_ssim, ssim
from hpn.evaluation import predict
from hpn.metrics import local_ssim
from hpn.pairs import resize_pair_batch
from hpn.warp_refine import Refinement, WarpRefineHPN, compose, inpainted_prior, prior_image
from hpn.warp_refine_trainer import level_inputs

METHODS = ("warp_refine", "part_warp", "paper", "reference")


@dataclass(frozen=True)
class RefinedBatch:
    """A batch's refinement (predicted at the network's level) and what composes it at the
    data's resolution: the reference, prior grid, validity, backdrop and the part warp alone."""

    refinement: Refinement
    reference: torch.Tensor
    grid: torch.Tensor
    validity: torch.Tensor
    backdrop: torch.Tensor | None
    alone: torch.Tensor

    def compose(self, refinement: Refinement, base: torch.Tensor | None) -> torch.Tensor:
        """``refinement`` (this one, or a variant of it) composed at the data's resolution."""
        return compose(self.reference, self.grid, self.validity, refinement, self.backdrop, base)[0]


def refine_batch(model: WarpRefineHPN, batch: Any, device: torch.device) -> RefinedBatch:
    """Run the network on a batch at its level; the part warp alone at the data's resolution."""
    inputs = level_inputs(batch, model.resolution, model, device, inpaint=False)
    refinement = model.refine(inputs.prior, inputs.validity, inputs.pose_maps)
    grid = batch["prior_grid"].to(device)
    validity = batch["validity"].to(device)
    reference = batch["reference"].to(device)
    backdrop = batch.get("backdrop")
    backdrop = None if backdrop is None else backdrop.to(device)
    alone = inpainted_prior(prior_image(reference, grid, validity, backdrop), validity)
    return RefinedBatch(refinement, reference, grid, validity, backdrop, alone)


@torch.no_grad()
def compare_pose_transfer(
    model: WarpRefineHPN,
    dataset: Dataset,
    paper_model: Any | None = None,
    limit: int | None = None,
    batch_size: int = 4,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Scores of every method (module docstring) and paired comparisons with warp_refine.

    Returns:
        ``{"pairs", "resolution", "methods": {m: {"ssim": {"mean", "sem"}, "local_ssim": ...}},
        "comparisons": {"warp_refine_vs_<m>": {score: {"win_rate", "mean_gain", "sem"}}}}``;
        scores are ``ssim``, ``local_ssim`` and, with target person masks, ``person_ssim``.
    """
    from tqdm import tqdm

    model.eval()
    device = next(model.parameters()).device
    count = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]
    subset = torch.utils.data.Subset(dataset, range(count))
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False)
    scores: dict[str, dict[str, list[float]]] = {}
    resolution = None
    for batch in tqdm(loader, desc="eval warp-refine", disable=not show_progress):
        resolution = batch["reference"].shape[-1]
        refined_batch = refine_batch(model, batch, device)
        alone = refined_batch.alone
        base = alone if model.config.fill == "inpainted" else None
        refined = refined_batch.compose(refined_batch.refinement, base)
        outputs = {"warp_refine": refined.cpu(), "reference": batch["reference"]}
        if paper_model is not None:
            level = resize_pair_batch(batch, paper_model.resolution)
            generated = predict(paper_model, level)
            outputs["paper"] = F.interpolate(
                generated, size=(resolution, resolution), mode="bilinear"
            ).clamp(-1, 1)
        for index in range(len(refined)):
            target = tensor_to_uint8(batch["target"][index])
            keypoints = batch["target_keypoints"][index].numpy()
            images = {name: tensor_to_uint8(values[index]) for name, values in outputs.items()}
            images["part_warp"] = tensor_to_uint8(alone[index].cpu())
            person = batch.get("target_person_mask")
            inside = None if person is None else person[index, 0].numpy() > 0.5
            for name, image in images.items():
                record = scores.setdefault(name, {"ssim": [], "local_ssim": []})
                record["ssim"].append(ssim(image, target))
                record["local_ssim"].append(local_ssim(image, target, keypoints))
                if inside is not None:
                    record.setdefault("person_ssim", []).append(region_ssim(image, target, inside))
    return {
        "pairs": count,
        "resolution": resolution,
        "model_resolution": model.resolution,
        "paper_resolution": None if paper_model is None else paper_model.resolution,
        "protocol": "SSIM protocol B (core.metrics) and local-SSIM (hpn.metrics) against the "
        "target at the data's resolution; person_ssim: protocol-B SSIM map inside the target "
        "person mask (core.metrics.region_ssim); the paper model's output resized to it",
        "methods": {
            name: {k: mean_and_sem(v) for k, v in by.items()} for name, by in scores.items()
        },
        "comparisons": {
            f"warp_refine_vs_{name}": paired_comparison(scores["warp_refine"], scores[name])
            for name in scores
            if name != "warp_refine"
        },
    }
