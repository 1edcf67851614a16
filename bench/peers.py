"""Our try-on against the field's generators, timed on this CPU in the same run, same size.

    OMP_NUM_THREADS=1 python bench/peers.py --quick           # < 5 min on 2 cores
    python bench/peers.py --height 512 --width 384 --repeats 2  # every stage, warm-up first

Ours: ``TryOnPipeline`` with the bundled models, own view, BlazePose included (no keypoint
file), garment cache cleared before every call: what ``tryon run`` does after loading, on
the astronaut cropped to ``--height`` x ``--width``; timed again just before each peer, and
each ratio uses that adjacent timing (the load changes during a run).

Peers (:mod:`bench.peer_models`): their generators from the published configurations with
random weights. One call of each stage is timed and the whole generation *extrapolated*
(``calls_per_image`` x the call), which is how the numbers must be read. ``--quick`` times
only each peer's main stage, once, without a warm-up, so its totals are lower bounds (VAE and
garment nets left out).

Every result carries ``os.getloadavg()``: on a shared machine timings are noisy, the ratio
(measured in the same run) is the figure to quote.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peer_models import PEERS, Peer, Stage  # bench/ is sys.path[0] when run as a script

from core.files import write_json_atomic

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"
RESULTS = Path(__file__).with_name("results") / "peers.json"


def person_photo(height: int, width: int) -> np.ndarray:
    """The astronaut, centre-cropped to the output aspect and resized to the output size."""
    import cv2

    from tryon.imageio import load_image

    photo = load_image(CATALOG / "people" / "astronaut.jpg")
    rows, cols = photo.shape[:2]
    keep = min(cols, round(rows * width / height))
    left = (cols - keep) // 2
    return cv2.resize(photo[:, left : left + keep], (width, height), interpolation=cv2.INTER_AREA)


class Ours:
    """Our own-view try-on, loaded once, timed on demand (before every peer as well)."""

    def __init__(self, height: int, width: int) -> None:
        from tryon.imageio import load_image
        from tryon.pipeline import TryOnPipeline

        self.pipeline = TryOnPipeline.from_pretrained()
        self.person = person_photo(height, width)
        self.garment = load_image(CATALOG / "garments" / "id00192_cloth.png")
        self.time(1)  # warm-up: BlazePose and the parser load on the first call

    def time(self, repeats: int) -> dict[str, Any]:
        """Median seconds per try-on (pose estimation included, garment uncached)."""
        seconds = []
        for _ in range(repeats):
            self.pipeline.clear_caches()
            start = time.perf_counter()
            result = self.pipeline(self.person, self.garment)
            seconds.append(time.perf_counter() - start)
        assert result.image.shape == self.person.shape
        return {
            "seconds_per_image": statistics.median(seconds),
            "runs": seconds,
            "stages_last_run": result.timings,
            "load_average": os.getloadavg(),
        }


def time_stage(stage: Stage, warmup: int) -> dict[str, Any]:
    """Seconds of one call of a stage (after ``warmup`` untimed calls), and its build time."""
    start = time.perf_counter()
    module = stage.build()
    built = time.perf_counter() - start
    inputs = stage.inputs()
    with torch.inference_mode():
        for _ in range(warmup):
            module(**inputs)
        start = time.perf_counter()
        module(**inputs)
        call = time.perf_counter() - start
    parameters = sum(p.numel() for p in module.parameters())
    del module, inputs
    gc.collect()
    return {
        "stage": stage.name,
        "seconds_per_call": call,
        "calls_per_image": stage.calls_per_image,
        "parameters": parameters,
        "build_seconds": built,
        "load_average": os.getloadavg(),
    }


def time_peer(peer: Peer, quick: bool) -> dict[str, Any]:
    """Every stage of a peer timed once and scaled to one image (see the module docstring)."""
    stages, skipped = [], []
    for stage in peer.stages:
        if quick and not stage.quick:
            skipped.append(stage.name)
            continue
        stages.append(time_stage(stage, warmup=0 if quick else 1))
    return {
        "seconds_per_image": sum(s["seconds_per_call"] * s["calls_per_image"] for s in stages),
        "extrapolated": True,
        "lower_bound": bool(skipped),
        "stages_not_timed": skipped,
        "source": peer.source,
        "stages": stages,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours")
    parser.add_argument("--quick", action="store_true", help="main stages only, no warm-up")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.peers.split(",")
    unknown = sorted(set(names) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    started = time.perf_counter()
    ours = Ours(args.height, args.width)
    first = ours.time(args.repeats)
    report: dict[str, Any] = {
        "size": [args.height, args.width],
        "quick": args.quick,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "ours": {
            **first,
            "size": [args.height, args.width],
            "what": "TryOnPipeline own view, bundled models, BlazePose included, garment uncached",
        },
        "peers": {},
    }
    for name in names:
        mine = ours.time(args.repeats)  # just before the peer: the same load for both
        result = time_peer(PEERS[name](args.height, args.width), args.quick)
        result["ours_just_before"] = mine
        result["ratio_to_ours"] = result["seconds_per_image"] / mine["seconds_per_image"]
        report["peers"][name] = result
        bound = ">=" if result["lower_bound"] else ""
        print(
            f"{name}: {bound}{result['seconds_per_image']:.1f} s per image "
            f"(ours: {mine['seconds_per_image']:.2f} s) -> {bound}{result['ratio_to_ours']:.0f}x "
            f"[extrapolated from one call per stage; {result['source']}]",
            flush=True,
        )
        write_json_atomic(args.json, report)
    report["wall_seconds"] = time.perf_counter() - started
    report["load_average_end"] = os.getloadavg()
    write_json_atomic(args.json, report)
    print(f"load average at the end: {report['load_average_end']}; wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
