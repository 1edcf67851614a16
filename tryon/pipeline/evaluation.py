"""Try-on evaluation on a synthetic test split with ground truth (``tryon eval tryon``).

For each unpaired pair (person of one identity, garment of another) the synthetic data has the
person in the canonical frontal pose wearing that garment (``tryon-gt``). Both the output and
the ground truth are compared in the pipeline's frame: the ground truth is cut with the same
torso-to-template frame (from its own keypoints), so the comparison does not depend on where
the generator placed the body. Scores: protocol-B SSIM and local-SSIM (:mod:`core.metrics`,
:mod:`hpn.metrics`) of the composite against the framed ground truth.

Methods compared: ``flow`` (the pipeline), ``bbox_resize`` (the same pipeline with the trivial
warp: the garment's bounding box resized onto the region's), and ``no_tryon`` (the frontal
person before any garment is put on: what the try-on adds).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tryon.pipeline.framing import border_colour, frame_person
from tryon.pipeline.pipeline import TryOnPipeline

METHODS = ("flow", "bbox_resize", "no_tryon")


def _pairs(root: Path, limit: int | None) -> list[tuple[str, str]]:
    from tryon.data.viton import read_viton_pairs

    pairs = read_viton_pairs(root / "test_unpaired_pairs.txt")
    return pairs[:limit] if limit else pairs


def evaluate_tryon(
    pipeline: TryOnPipeline, data: str | Path, limit: int | None = None, show_progress: bool = True
) -> dict[str, Any]:
    """Mean SSIM / local-SSIM of each method over the unpaired test pairs.

    Args:
        pipeline: a loaded pipeline (its warp setting is overridden per method).
        data: a synth root or its ``viton/`` layout (needs ``test_unpaired_pairs.txt`` and
            ``test/tryon-gt``).
        limit: evaluate the first ``limit`` pairs only.
        show_progress: tqdm bar.

    Returns:
        ``{"pairs": n, "protocol": ..., "parser_region_fraction": share of pairs whose region
        came from the parser (the rest: keypoint template), "methods": {method: {"ssim",
        "local_ssim"}}}``.
    """
    from tqdm import tqdm

    from core.metrics import ssim
    from hpn.metrics import local_ssim
    from tryon.data import resolve_layout
    from tryon.data.keypoint_formats import read_openpose_json
    from tryon.imageio import load_image

    root = resolve_layout(data, "viton")
    folder = root / "test"
    flow_pipeline = pipeline.with_config(warp="flow")
    baseline = pipeline.with_config(warp="bbox_resize")
    size = pipeline.config.resolution
    scores: dict[str, dict[str, list[float]]] = {m: {"ssim": [], "local_ssim": []} for m in METHODS}
    pairs = _pairs(root, limit)
    parsed_regions = 0
    for person_name, garment_name in tqdm(pairs, desc="eval try-on", disable=not show_progress):
        person_stem, garment_stem = Path(person_name).stem, Path(garment_name).stem
        person = load_image(folder / "image" / person_name)
        garment = load_image(folder / "cloth" / garment_name)
        keypoints = read_openpose_json(folder / "openpose_json" / f"{person_stem}_keypoints.json")
        truth = load_image(folder / "tryon-gt" / f"{person_stem}__{garment_stem}.png")
        identity = person_stem.split("_")[0]
        truth_keypoints = read_openpose_json(
            folder / "openpose_json" / f"{identity}_frontal_keypoints.json"
        )
        truth_frame = frame_person(truth_keypoints, truth.shape[:2], size, pipeline.template)
        truth_image = truth_frame.crop(truth, fill=border_colour(truth))
        truth_points = truth_frame.to_frame(truth_keypoints)
        outputs = {
            "flow": flow_pipeline(person, garment, person_keypoints=keypoints),
            "bbox_resize": baseline(person, garment, person_keypoints=keypoints),
        }
        parsed_regions += outputs["flow"].region_source == "parser"
        images = {name: result.composite for name, result in outputs.items()}
        images["no_tryon"] = outputs["flow"].frontal
        for method, image in images.items():
            scores[method]["ssim"].append(ssim(image, truth_image))
            scores[method]["local_ssim"].append(local_ssim(image, truth_image, truth_points))
    return {
        "pairs": len(pairs),
        "data": str(root),
        "resolution": size,
        "protocol": "SSIM protocol B (core.metrics) in the pipeline frame, composite vs framed "
        "tryon-gt; local-SSIM over 44 descriptor regions of the ground-truth keypoints",
        "parser_region_fraction": parsed_regions / len(pairs) if pairs else float("nan"),
        "methods": {
            method: {name: _nanmean(values) for name, values in by_metric.items()}
            for method, by_metric in scores.items()
        },
    }


def _nanmean(values: list[float]) -> float:
    finite = [value for value in values if not math.isnan(value)]
    return float(np.mean(finite)) if finite else float("nan")


__all__ = ["METHODS", "evaluate_tryon"]
