"""Which part of a warp-and-refine network's output gains or loses against the part warp alone.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python bench/refine_parts.py --model runs/hpn_refine_reach/final \
        --data runs/refine_studio --resolution 256 --studio [--prior-cache DIR] [--json OUT]

The refinement (residual flow, visibility, colours) is composed whole and with one part
replaced by its neutral value: residual zero, visibility one, colour correction zero (for a
``fill="inpainted"`` network, whose colours are then the part warp alone's). Each variant is
scored on the target person (``person_ssim``: protocol-B SSIM map inside the target person
mask, :func:`core.metrics.region_ssim`), paired against the part warp alone (mean gain +-
standard error). Why: a whole-output score does not say whether the learned fill or the
learned flow is what a run gets wrong (docs/hpn.md).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from core.files import write_json_atomic
from core.images import tensor_to_uint8
from core.metrics import mean_and_sem, region_ssim
from hpn.warp_refine import Refinement, WarpRefineHPN
from hpn.warp_refine_eval import refine_batch


def variants(refinement: Refinement) -> dict[str, Refinement]:
    """The whole refinement and each part set to its neutral value."""
    zero_flow = torch.zeros_like(refinement.residual)
    keep_all = torch.ones_like(refinement.visibility)
    return {
        "whole": refinement,
        "without_residual": dataclasses.replace(refinement, residual=zero_flow),
        "hole_colours_only": Refinement(zero_flow, keep_all, refinement.generated),
        "without_colours": dataclasses.replace(
            refinement, generated=torch.zeros_like(refinement.generated)
        ),
    }


@torch.no_grad()
def person_gains(model: WarpRefineHPN, dataset: torch.utils.data.Dataset) -> dict[str, dict]:
    """Per variant: person SSIM and its paired gain over the part warp alone."""
    if model.config.fill != "inpainted":
        raise SystemExit('only a fill="inpainted" network has neutral colours (a zero correction)')
    scores: dict[str, list[float]] = {}
    for batch in DataLoader(dataset, batch_size=4):
        refined = refine_batch(model, batch, torch.device("cpu"))
        outputs = {
            name: refined.compose(variant, refined.alone)
            for name, variant in variants(refined.refinement).items()
        }
        outputs["part_warp_alone"] = refined.alone
        for index in range(len(refined.reference)):
            target = tensor_to_uint8(batch["target"][index])
            inside = batch["target_person_mask"][index, 0].numpy() > 0.5
            for name, images in outputs.items():
                score = region_ssim(tensor_to_uint8(images[index]), target, inside)
                scores.setdefault(name, []).append(score)
    base = np.array(scores["part_warp_alone"])
    return {
        name: {
            "person_ssim": mean_and_sem(values),
            "gain_over_part_warp_alone": mean_and_sem(list(np.array(values) - base)),
        }
        for name, values in scores.items()
    }


def main() -> None:
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--studio", action="store_true", help="the canonical view's inputs")
    parser.add_argument("--prior-cache", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = WarpRefineHPN.from_pretrained(args.model).float().eval()
    targets = "studio" if args.studio else None
    pairs = DeepFashionPairs(args.data, "test", args.resolution, targets=targets)
    dataset = PriorPairs(pairs, args.prior_cache, studio=args.studio)
    results = person_gains(model, dataset)
    for name, result in results.items():
        gain = result["gain_over_part_warp_alone"]
        print(
            f"{name:18s} person SSIM {result['person_ssim']['mean']:.4f}  "
            f"vs part warp alone {gain['mean']:+.4f} +- {gain['sem']:.4f}"
        )
    if args.json:
        write_json_atomic(args.json, {"model": str(args.model), "pairs": len(dataset), **results})


if __name__ == "__main__":
    main()
