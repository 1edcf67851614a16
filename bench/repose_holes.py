"""The canonical view's hole fill, by part vs from every known pixel, on synthetic pairs.

Usage::

    .venv/bin/python bench/repose_holes.py --data runs/refine_studio [--split test]
        [--resolution 256] [--json bench/results/repose_holes.json]

Each pair of a ``tryon data synth --style photo --target-backdrop studio`` set whose source
shows every keypoint the target shows and both poses both shoulders (the canonical view's
task, as
:class:`tryon.data.prior_pairs.PriorPairs` with ``studio=True`` keeps them) is moved by
:func:`hpn.repose.repose` from the source photo to the target pose twice: holes filled by
part (the default) and from every known pixel (the baseline). Both are scored against the
target's studio render: SSIM (protocol B) of the whole image, of the target person
(:func:`core.metrics.region_ssim` inside its mask) and of the holes alone; paired gains
with standard errors and win rates, and the CPU time ratio, measured in this one run.
Nothing here is learned, so the train split is a fair (larger) sample too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.files import write_json_atomic
from core.images import tensor_to_uint8
from core.metrics import mean_and_sem, paired_comparison, region_ssim, ssim
from hpn.repose import repose

VARIANTS = {"by_part": True, "any_part": False}


def score_pairs(data: Path, split: str, resolution: int) -> dict[str, dict[str, list[float]]]:
    """Variant -> score name -> one value per pair (NaN where a pair has no holes)."""
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs

    pairs = DeepFashionPairs(data, split, resolution, targets="studio")
    kept = PriorPairs(pairs, studio=True).indices
    scores: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
    for index in tqdm(kept, desc=f"{split} pairs", unit="pair"):
        item = pairs[index]
        source = tensor_to_uint8(item["reference"])
        target = tensor_to_uint8(item["target"])
        mask = item["reference_person_mask"][0].numpy() > 0.5
        target_mask = item["target_person_mask"][0].numpy() > 0.5
        keypoints = item["reference_keypoints"].numpy()
        target_keypoints = item["target_keypoints"].numpy()
        for name, by_part in VARIANTS.items():
            start = time.perf_counter()
            try:
                moved = repose(
                    source, keypoints, mask, target_keypoints, mask.shape, fill_by_part=by_part
                )
            except ValueError:  # a pose without both shoulders: no part warp to score
                break
            seconds = time.perf_counter() - start
            holes = moved.filled & target_mask
            values = {
                "ssim": ssim(moved.image, target),
                "person_ssim": region_ssim(moved.image, target, target_mask),
                "hole_ssim": region_ssim(moved.image, target, holes) if holes.any() else np.nan,
                "seconds": seconds,
            }
            for score, value in values.items():
                scores[name].setdefault(score, []).append(float(value))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test", choices=("train", "test"))
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scores = score_pairs(args.data, args.split, args.resolution)
    new, base = scores["by_part"], scores["any_part"]
    with_holes = ~np.isnan(np.asarray(new["hole_ssim"]))
    holes_only = {
        name: {"hole_ssim": list(np.asarray(s["hole_ssim"])[with_holes])}
        for name, s in scores.items()
    }
    gains = paired_comparison(
        {k: v for k, v in new.items() if k != "hole_ssim"},
        {k: v for k, v in base.items() if k != "hole_ssim"},
        lower_is_better=("seconds",),
    )
    gains |= paired_comparison(holes_only["by_part"], holes_only["any_part"])
    time_ratio = float(np.sum(new["seconds"]) / np.sum(base["seconds"]))
    print(f"{len(new['ssim'])} pairs ({int(with_holes.sum())} with holes), {args.split} split")
    for score in ("ssim", "person_ssim", "hole_ssim"):
        mean_new = mean_and_sem(new[score])["mean"]
        mean_base = mean_and_sem(base[score])["mean"]
        gain = gains[score]
        print(
            f"{score:12s} by part {mean_new:.4f}  every part {mean_base:.4f}  "
            f"gain {gain['mean_gain']:+.4f} +- {gain['sem']:.4f}  wins {gain['win_rate']:.0%}"
        )
    print(f"CPU time by part / every part: {time_ratio:.2f}")
    if args.json:
        summary = {
            name: {score: mean_and_sem(values) for score, values in variant.items()}
            for name, variant in scores.items()
        }
        record = {
            "data": str(args.data),
            "split": args.split,
            "pairs": len(new["ssim"]),
            "pairs_with_holes": int(with_holes.sum()),
            "variants": summary,
            "gain_by_part": gains,
            "time_ratio_by_part": time_ratio,
        }
        write_json_atomic(args.json, record)


if __name__ == "__main__":
    main()
