"""CPU latency of one try-on on a real 1024 px photo, pose estimation included.

    python bench/photo_latency.py --runs 5 --threads 1 2 --json bench/results/photo_latency.json

What a shopper waits for after the upload (decoding excluded): BlazePose and its person
mask, the garment region, the fit and the composite, in the own view (the default) and the
catalog view, and the canonical view alone (``tryon repose``: pose and the part warp, with
the warp-and-refine HPN when the models folder has one), on scikit-image's astronaut
upscaled to 1024x1024 with the bundled demo models. Per thread count: the median wall time
and the median process CPU time of ``--runs`` runs after one warm-up, with the load average
at the start, since this machine's two cores are often shared: on a loaded machine the wall
time is the CPU time stretched by the other jobs, and the CPU time is what the run costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
from skimage import data

from core.files import write_json_atomic

GARMENT = Path(__file__).resolve().parents[1] / "tryon/demo/catalog/garments/id00192_cloth.png"


def time_view(view: str, threads: int, runs: int, side: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``runs`` try-ons in ``view`` with ``threads`` threads."""
    from tryon.batch import limit_threads
    from tryon.cli.run_commands import make_pipeline
    from tryon.imageio import load_image

    limit_threads(threads)
    pipeline = make_pipeline(None, "torch", "cpu", 256, "catalog" if view == "canonical" else view)
    photo = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    garment = load_image(GARMENT)
    walls, cpus = [], []
    load = os.getloadavg()[0]
    for run in range(runs + 1):
        pipeline.clear_caches()
        wall, cpu = time.perf_counter(), time.process_time()
        if view == "canonical":
            pipeline.canonical_view(photo, *pipeline.person_pose(photo))
        else:
            pipeline(photo, garment)
        if run:  # the first run warms up
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return {
        "wall_seconds": statistics.median(walls),
        "cpu_seconds": statistics.median(cpus),
        "load_average_at_start": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    report: dict[str, dict[str, dict[str, float]]] = {}
    for view in ("own", "catalog", "canonical"):
        for threads in arguments.threads:
            scores = time_view(view, threads, arguments.runs, arguments.side)
            report.setdefault(view, {})[str(threads)] = scores
            print(
                f"{view} view, {arguments.side} px, {threads} thread(s): "
                f"{scores['wall_seconds']:.2f} s wall, {scores['cpu_seconds']:.2f} s CPU "
                f"(load average {scores['load_average_at_start']:.1f})"
            )
    if arguments.json is not None:
        write_json_atomic(arguments.json, {"side": arguments.side, "views": report})


if __name__ == "__main__":
    main()
