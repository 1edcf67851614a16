"""Per-stage CPU latency of TryOnPipeline and batch throughput with 1 and 2 workers.

    OMP_NUM_THREADS=1 python bench/pipeline_latency.py --runs 5 --json bench/results/pipeline.json
    OMP_NUM_THREADS=1 python bench/pipeline_latency.py --backends torch,onnxruntime --no-batch

``--backends``: every view once per backend, in the same run; for onnxruntime the bundled
models are copied to a temporary folder and HPN, the flow net and the parser exported there
(checked, parity-tested ONNX files), so every network of every view runs on ONNX Runtime.
The ratio per view is torch eager's total over the backend's.

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
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from core.files import write_json_atomic

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"


def exported_models(folder: Path) -> Path:
    """The bundled models copied into ``folder``, each with its ONNX file exported."""
    import shutil

    from deploy.artifacts import ONNX_FILE
    from deploy.onnx_export import export_model_dir
    from tryon.pipeline.pipeline import bundled_models_dir

    models = Path(shutil.copytree(bundled_models_dir(), folder / "models"))
    for component in ("hpn", "flow", "parser"):
        export_model_dir(models / component, models / component / ONNX_FILE, check_batches=(1,))
    return models


def stage_latency(
    runs: int, resolution: int, view: str, backend: str = "torch", models: Path | None = None
) -> dict[str, float]:
    from tryon.cli.run_commands import make_pipeline
    from tryon.imageio import load_image
    from tryon.preprocess import PrecomputedPoseEstimator

    pipeline = make_pipeline(models, backend, "cpu", resolution, view)
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
    parser.add_argument("--backends", default="torch", help="e.g. torch,onnxruntime")
    parser.add_argument("--no-batch", action="store_true", help="latency only")
    arguments = parser.parse_args()
    report: dict[str, Any] = {
        "resolution": arguments.resolution,
        "runs": arguments.runs,
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as folder:
        for backend in arguments.backends.split(","):
            models = None if backend == "torch" else exported_models(Path(folder))
            key = "latency_median_seconds" + ("" if backend == "torch" else f"_{backend}")
            report[key] = {
                view: stage_latency(arguments.runs, arguments.resolution, view, backend, models)
                for view in ("own", "catalog", "paper")
            }
            if backend != "torch" and "latency_median_seconds" in report:
                report[f"speedup_{backend}_vs_torch"] = {
                    view: report["latency_median_seconds"][view]["total"] / stages["total"]
                    for view, stages in report[key].items()
                }
    if not arguments.no_batch:
        report["batch"] = {
            str(w): batch_throughput(w, arguments.resolution, arguments.people, arguments.garments)
            for w in (1, 2)
        }
    report["load_average_after"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.json is not None:
        write_json_atomic(arguments.json, report)


if __name__ == "__main__":
    main()
