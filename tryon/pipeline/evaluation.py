"""Try-on scored against exact unpaired ground truth (``tryon eval tryon``).

The synthetic test split renders, for each unpaired pair (a person of one identity, the
garment of another), the same person wearing that garment in their own pose, light and
background (``tryon-gt-own``: the own view's truth) and in the canonical pose
(``tryon-gt``: the catalog view's truth). No published set has this.

Methods:

- ``own``: the own view (the default for shoppers), scored against ``tryon-gt-own``;
- ``own_canonical``: the own view's second route (``PipelineConfig.own_route``): the
  garment fitted in the canonical pose and carried back to the photo's by the part warp;
- ``own_paste``: the paste baseline in the own view: the product photo's garment box
  resized onto the old garment's box and composited with its mask, the rest of the photo
  kept;
- ``paper_own``: today's paper route (HPN regenerating a frontal frame, pasted back into the
  photo) against the own view's truth;
- ``catalog``: the catalog view, rendered in the truth's canonical pose (the target pose is
  given, as pose-transfer evaluations do) and scored against ``tryon-gt``;
- ``catalog_paste``: the paste baseline on the same canonical view;
- ``paper_catalog``: the paper route's dressed frontal frame against the truth cut to the
  same frame (its own protocol).

Scores per method (mean, standard error): protocol-B SSIM and local-SSIM over the 44
descriptor regions of the truth's keypoints (:mod:`core.metrics`, :mod:`hpn.metrics`), the
VGG-16 (HED) feature distance (L1 over relu1_2 .. relu4_3, lower is better) when that
backbone is fetched, and for the own views the face box SSIM and background difference to
the truth. Paired win rates and the standard error of the mean gain compare each view with
its baselines. The person mask and keypoints come from the data set (the pose estimator is
not what is scored).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from tryon.pipeline.pipeline import TryOnPipeline

OWN_METHODS = ("own", "own_canonical", "own_paste", "paper_own")
CATALOG_METHODS = ("catalog", "catalog_paste", "paper_catalog")
COMPARISONS = (
    ("own", "own_canonical"),
    ("own", "own_paste"),
    ("own", "paper_own"),
    ("catalog", "catalog_paste"),
    ("catalog", "paper_catalog"),
)


def paste_baseline(
    canvas: np.ndarray, region: np.ndarray, garment: np.ndarray, garment_mask: np.ndarray
) -> np.ndarray:
    """The trivial try-on: the garment's box resized onto the region's box, pasted by its mask."""
    from tryon.preprocess.pose import mask_bbox

    target, source = mask_bbox(region), mask_bbox(garment_mask)
    if target is None or source is None:
        return canvas.copy()
    gx0, gy0, gx1, gy1 = (int(v) for v in source)
    x0, y0, x1, y1 = (int(v) for v in target)
    size = (x1 - x0 + 1, y1 - y0 + 1)
    patch = cv2.resize(garment[gy0 : gy1 + 1, gx0 : gx1 + 1], size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(
        garment_mask[gy0 : gy1 + 1, gx0 : gx1 + 1].astype(np.float32), size, cv2.INTER_LINEAR
    )[..., None]
    out = canvas.astype(np.float32)
    out[y0 : y1 + 1, x0 : x1 + 1] = alpha * patch + (1 - alpha) * out[y0 : y1 + 1, x0 : x1 + 1]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def vgg_feature_distance() -> Callable[[torch.Tensor, torch.Tensor], float] | None:
    """L1 of VGG-16 (HED) relu1_2..relu4_3 features, summed over layers, of two (3, H, W)
    images in [-1, 1]; None when the backbone is not fetched."""
    from tryon.assets import perceptual_backbone
    from tryon.errors import MissingAssetError

    try:
        backbone, _ = perceptual_backbone()
    except MissingAssetError:
        return None

    @torch.inference_mode()
    def distance(image: torch.Tensor, truth: torch.Tensor) -> float:
        features = backbone(torch.stack([image.float(), truth.float()]))
        return float(sum((f[0] - f[1]).abs().mean() for f in features.values()))

    return distance


def _uint8_distance() -> Callable[[np.ndarray, np.ndarray], float] | None:
    from core.images import uint8_to_tensor

    distance = vgg_feature_distance()
    if distance is None:
        return None
    return lambda image, truth: distance(uint8_to_tensor(image), uint8_to_tensor(truth))


def _own_preservation(image: np.ndarray, truth: np.ndarray, parse: np.ndarray, keypoints) -> dict:
    from tryon.data import lip
    from tryon.real_photo_scores import preservation_scores

    person = parse != lip.BACKGROUND
    scores = preservation_scores(truth, image, person, keypoints)
    return {"face_ssim": scores.face_ssim, "background_mad": scores.background_mad}


def evaluate_tryon(
    pipeline: TryOnPipeline,
    data: str | Path,
    limit: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Score every method (module docstring) over the unpaired test pairs.

    Args:
        pipeline: a loaded pipeline (its paper route is needed for the ``paper_*`` methods;
            they are skipped without it).
        data: a synth root or its ``viton/`` layout (``test_unpaired_pairs.txt``,
            ``test/tryon-gt`` and ``test/tryon-gt-own``; generator version 3 or later).
        limit: evaluate the first ``limit`` pairs only.
        show_progress: tqdm bar.

    Returns:
        ``{"pairs", "protocol", "methods": {method: {score: {"mean", "sem"}}},
        "comparisons": {"a_vs_b": {score: {"win_rate", "mean_gain", "sem"}}}}``.
    """
    from tqdm import tqdm

    from core.metrics import mean_and_sem, paired_comparison, ssim
    from hpn.metrics import local_ssim
    from tryon.data import resolve_layout
    from tryon.data.imageio import read_parse
    from tryon.data.keypoint_formats import read_openpose_json
    from tryon.imageio import load_image
    from tryon.pipeline.framing import border_colour, frame_person

    root = resolve_layout(data, "viton")
    folder = root / "test"
    if not (folder / "tryon-gt-own").is_dir():
        from tryon.errors import InvalidInputError

        raise InvalidInputError(
            f"{folder} has no tryon-gt-own/ (the own view's truth): regenerate the data with "
            "`tryon data synth` (generator version 3 or later)"
        )
    distance = _uint8_distance()
    paper = pipeline.paper_route
    via_canonical = pipeline.with_config(own_route="canonical")  # the own view's other route
    scores: dict[str, dict[str, list[float]]] = {}

    def record(method: str, image: np.ndarray, truth: np.ndarray, points: np.ndarray, **extra):
        values = {"ssim": ssim(image, truth), "local_ssim": local_ssim(image, truth, points)}
        if distance is not None:
            values["vgg_distance"] = distance(image, truth)
        values.update({k: v for k, v in extra.items() if v is not None})
        for name, value in values.items():
            scores.setdefault(method, {}).setdefault(name, []).append(float(value))

    pairs = _pairs(root, limit)
    for person_name, garment_name in tqdm(pairs, desc="eval try-on", disable=not show_progress):
        person_stem, garment_stem = Path(person_name).stem, Path(garment_name).stem
        truth_name = f"{person_stem}__{garment_stem}.png"
        person = load_image(folder / "image" / person_name)
        garment = load_image(folder / "cloth" / garment_name)
        mask = read_parse(folder / "image-parse-v3" / person_name) != 0
        keypoints = read_openpose_json(folder / "openpose_json" / f"{person_stem}_keypoints.json")
        own_truth = load_image(folder / "tryon-gt-own" / truth_name)
        own_parse = read_parse(folder / "tryon-gt-own-parse" / truth_name)
        catalog_truth = load_image(folder / "tryon-gt" / truth_name)
        identity = person_stem.split("_")[0]
        frontal_points = read_openpose_json(
            folder / "openpose_json" / f"{identity}_frontal_keypoints.json"
        )
        call = {"person_keypoints": keypoints, "person_mask": mask}
        own = pipeline(person, garment, view="own", **call)
        record("own", own.image, own_truth, keypoints, **_own_preservation(
            own.image, own_truth, own_parse, keypoints))  # fmt: skip
        carried = via_canonical(person, garment, view="own", **call)
        record("own_canonical", carried.image, own_truth, keypoints, **_own_preservation(
            carried.image, own_truth, own_parse, keypoints))  # fmt: skip
        pasted = paste_baseline(person, own.garment_region, garment, own.garment_mask)
        record("own_paste", pasted, own_truth, keypoints, **_own_preservation(
            pasted, own_truth, own_parse, keypoints))  # fmt: skip
        catalog = pipeline(
            person, garment, view="catalog", catalog_pose=(frontal_points, catalog_truth.shape[:2]),
            **call,
        )  # fmt: skip
        record("catalog", catalog.image, catalog_truth, frontal_points)
        canonical = catalog.layers["canonical"]
        canonical_region = catalog.layers["canonical_garment_region"] > 0
        record(
            "catalog_paste",
            paste_baseline(canonical, canonical_region, garment, catalog.garment_mask),
            catalog_truth,
            frontal_points,
        )
        if paper is not None:
            result = pipeline(person, garment, view="paper", **call)
            record("paper_own", result.image, own_truth, keypoints, **_own_preservation(
                result.image, own_truth, own_parse, keypoints))  # fmt: skip
            size = paper.config.resolution
            frame = frame_person(frontal_points, catalog_truth.shape[:2], size, paper.template)
            framed = frame.crop(catalog_truth, fill=border_colour(catalog_truth))
            points = frame.to_frame(frontal_points)
            record("paper_catalog", result.layers["composite"], framed, points)
    return {
        "pairs": len(pairs),
        "data": str(root),
        "protocol": "SSIM protocol B (core.metrics); local-SSIM over the 44 descriptor regions "
        "of the truth's keypoints; vgg_distance: mean L1 of VGG-16 (HED) relu1_2..relu4_3 "
        "features summed over layers (lower is better); face_ssim: skimage 7x7 SSIM of the "
        "face box; background_mad: grey levels outside the truth's person dilated by 4 % of "
        "the long side. Keypoints and person masks from the data set. Catalog views in the "
        "truth's canonical pose; paper_catalog in the paper's frame.",
        "methods": {
            method: {name: mean_and_sem(values) for name, values in by_score.items()}
            for method, by_score in scores.items()
        },
        "comparisons": {
            f"{a}_vs_{b}": paired_comparison(scores[a], scores[b], LOWER_IS_BETTER)
            for a, b in COMPARISONS
            if a in scores and b in scores
        },
    }


def _pairs(root: Path, limit: int | None) -> list[tuple[str, str]]:
    from tryon.data.viton import read_viton_pairs

    pairs = read_viton_pairs(root / "test_unpaired_pairs.txt")
    return pairs[:limit] if limit else pairs


LOWER_IS_BETTER = frozenset({"vgg_distance", "background_mad"})


__all__ = ["CATALOG_METHODS", "COMPARISONS", "OWN_METHODS", "evaluate_tryon", "paste_baseline"]
