"""Per-stage CPU latency of TryOnPipeline and batch throughput with 1 and 2 workers.

    OMP_NUM_THREADS=1 python bench/pipeline_latency.py --runs 5 --json bench/results/pipeline.json

Latency: each view (own, catalog, paper at ``--resolution``) with the bundled demo models on
a demo-catalog pair (keypoints given, so "pose" is the file lookup and the selfie mask;
BlazePose is timed separately as "pose_estimator" on the astronaut), garment cache cleared
before every run; the median of ``--runs`` runs per stage after one warm-up.
Throughput: ``tryon batch`` over the demo catalog (all pairs) into a
fresh folder with 1 and 2 workers (``--people`` / ``--garments`` for a bigger catalog), pairs/s
over the whole run (worker start and model loading included).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from pathlib import Path

from core.files import write_json_atomic

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"


def stage_latency(runs: int, resolution: int, view: str) -> dict[str, float]:
    from tryon.cli.run_commands import make_pipeline
    from tryon.imageio import load_image
    from tryon.preprocess import PrecomputedPoseEstimator

    pipeline = make_pipeline(None, "torch", "cpu", resolution, view)
    person_file = CATALOG / "people" / "id00171_pose01.png"
    keypoints = PrecomputedPoseEstimator.from_openpose_json(
        person_file.with_name("id00171_pose01_keypoints.json")
    ).people[0]
    person = load_image(person_file)
    garment = load_image(CATALOG / "garments" / "id00192_cloth.png")
    samples: dict[str, list[float]] = {}
    for run in range(runs + 1):
        pipeline.clear_caches()
        start = time.perf_counter()
        result = pipeline(person, garment, person_keypoints=keypoints)
        total = time.perf_counter() - start
        if run == 0:
            continue  # warm-up
        for stage, seconds in {**result.timings, "total": total}.items():
            samples.setdefault(stage, []).append(seconds)
    astronaut = load_image(CATALOG / "people" / "astronaut.jpg")
    estimator = pipeline.pose_estimator
    estimator.estimate(astronaut)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        estimator.estimate(astronaut)
        timings.append(time.perf_counter() - start)
    samples["pose_estimator (BlazePose, 512x512 photo)"] = timings
    return {stage: statistics.median(values) for stage, values in samples.items()}


def batch_throughput(
    workers: int, resolution: int, people: Path, garments: Path
) -> dict[str, float]:
    from tryon.batch import plan_pairs, run_local
    from tryon.cli.run_commands import make_pipeline

    plan = plan_pairs(people, garments)
    make = functools.partial(make_pipeline, None, "torch", "cpu", resolution, "own")
    with tempfile.TemporaryDirectory() as out:
        summary = run_local(plan, out, make, workers=workers, show_progress=False)
    return {
        "pairs": summary.ok + summary.failed,
        "failed": summary.failed,
        "seconds": summary.seconds,
        "pairs_per_second": summary.pairs_per_second,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--people", type=Path, default=CATALOG / "people", help="batch people")
    parser.add_argument("--garments", type=Path, default=CATALOG / "garments")
    arguments = parser.parse_args()
    report = {
        "resolution": arguments.resolution,
        "runs": arguments.runs,
        "latency_median_seconds": {
            view: stage_latency(arguments.runs, arguments.resolution, view)
            for view in ("own", "catalog", "paper")
        },
        "batch": {
            str(w): batch_throughput(w, arguments.resolution, arguments.people, arguments.garments)
            for w in (1, 2)
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.json is not None:
        write_json_atomic(arguments.json, report)


if __name__ == "__main__":
    main()
