"""Batch scaling: ``tryon batch`` with 1 / 2 local workers and 1 / 2 Ray actors.

    python bench/batch_scaling.py --pairs 200                   # the acceptance run
    python bench/batch_scaling.py --pairs 60 --runs local:1:1,local:2   # a short look

A run is ``engine:workers[:threads]`` (``--threads`` of ``tryon batch``; default: the
command's own, i.e. a lone local worker keeps torch's default of one thread per core, pool
workers share the cores, a Ray actor uses 1).

Each run is the real command (``python -m tryon batch``, a subprocess, bundled models, own
view) on a catalog of ``--pairs`` pairs made from the demo people (copied under new names,
with their keypoint files, so BlazePose is skipped and the selfie mask runs) x the demo
garments. Reported per run:

- pairs/s with start-up: pairs / wall time of the whole command (imports, model loading,
  worker or Ray start, contact sheets);
- steady-state pairs/s: from the manifest's ``finished`` times, the pairs after the first
  ``--warm-fraction`` over the time they took (worker start-up excluded);
- peak memory (VmHWM) of every process that made pairs, polled from ``/proc``.

Ratios (2 vs 1 of the same engine) are measured in the same run; the acceptance is a
steady-state ratio >= 1.6 for 2 local workers on 2 free cores. The load average is recorded
before and after each run: with other jobs on the cores the ratio says little.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.files import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "tryon" / "demo" / "catalog"
RESULTS = Path(__file__).with_name("results") / "batch_scaling.json"
ACCEPTANCE = 1.6


def make_catalog(root: Path, pairs: int) -> tuple[Path, Path]:
    """People (demo people with keypoints, copied) x the 3 demo garments, >= ``pairs``."""
    people, garments = root / "people", root / "garments"
    people.mkdir(parents=True)
    shutil.copytree(CATALOG / "garments", garments)
    sources = sorted(CATALOG.glob("people/*_keypoints.json"))
    count = math.ceil(pairs / len(list(garments.iterdir())))
    for index in range(count):
        keypoints = sources[index % len(sources)]
        photo = keypoints.with_name(keypoints.name.replace("_keypoints.json", ".png"))
        stem = f"p{index:04d}_{photo.stem}"
        shutil.copy(photo, people / f"{stem}.png")
        shutil.copy(keypoints, people / f"{stem}_keypoints.json")
    return people, garments


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found.extend(int(child) for child in children)
        frontier.extend(int(child) for child in children)
    return found


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_batch(people: Path, garments: Path, out: Path, spec: str) -> dict:
    """One ``tryon batch`` subprocess, its wall time and the peak memory of its processes."""
    engine, workers, *threads = spec.split(":")
    command = [sys.executable, "-m", "tryon", "batch", "--people", str(people)]
    command += ["--garments", str(garments), "--out", str(out), "--engine", engine]
    command += ["--workers", workers] + (["--threads", threads[0]] if threads else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    load_before = os.getloadavg()
    start = time.time()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peaks: dict[int, float] = {}
    while process.poll() is None:
        for pid in [process.pid, *_descendants(process.pid)]:
            peak = _peak_rss_mib(pid)
            if peak is not None:
                peaks[pid] = max(peak, peaks.get(pid, 0.0))
        time.sleep(0.25)
    wall = time.time() - start
    _, stderr = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return {"wall": wall, "start": start, "records": records, "peaks": peaks,
            "load_average_before": load_before, "load_average_after": os.getloadavg()}  # fmt: skip


def summarise(run: dict, warm_fraction: float) -> dict[str, Any]:
    """Throughput with and without start-up, and memory per worker, of one run."""
    records = sorted(run["records"], key=lambda record: record["finished"])
    finished = [record["finished"] for record in records]
    skip = max(1, int(warm_fraction * len(records)))
    steady = (len(records) - 1 - skip) / (finished[-1] - finished[skip])
    workers = sorted({record["worker"] for record in records})
    memory = [round(run["peaks"].get(pid, float("nan")), 1) for pid in workers]
    return {
        "pairs": len(records),
        "failed": sum(record["status"] != "ok" for record in records),
        "wall_seconds": run["wall"],
        "pairs_per_second_with_startup": len(records) / run["wall"],
        "first_pair_after_seconds": finished[0] - run["start"],
        "steady_pairs_per_second": steady,
        "steady_window": [skip, len(records) - 1],
        "mean_seconds_per_pair_in_worker": sum(r["seconds"] for r in records) / len(records),
        "peak_memory_mib_per_worker": memory,
        "peak_memory_mib_all_processes": round(sum(run["peaks"].values()), 1),
        "load_average_before": run["load_average_before"],
        "load_average_after": run["load_average_after"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--runs", default="local:1,local:1:1,local:2,ray:1,ray:2")
    parser.add_argument("--warm-fraction", type=float, default=0.1)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"pairs": args.pairs, "cpu_count": os.cpu_count(), "runs": {}}
    specs = args.runs.split(",")
    with tempfile.TemporaryDirectory() as folder:
        people, garments = make_catalog(Path(folder), args.pairs)
        for spec in specs:
            out = Path(folder) / f"out-{spec.replace(':', '-')}"
            result = summarise(run_batch(people, garments, out, spec), args.warm_fraction)
            report["runs"][spec] = result
            print(
                f"{spec}: steady {result['steady_pairs_per_second']:.2f} pairs/s, "
                f"with start-up {result['pairs_per_second_with_startup']:.2f} pairs/s, "
                f"peak MiB/worker {result['peak_memory_mib_per_worker']}, "
                f"load {result['load_average_before'][0]:.2f}",
                flush=True,
            )
            write_json_atomic(args.json, report)
    report["steady_ratios_2_vs_1"] = {}
    for two in (spec for spec in specs if spec.split(":")[1] == "2"):
        engine = two.split(":")[0]
        for one in (s for s in specs if s.split(":")[:2] == [engine, "1"]):
            ratio = (
                report["runs"][two]["steady_pairs_per_second"]
                / report["runs"][one]["steady_pairs_per_second"]
            )
            report["steady_ratios_2_vs_1"][f"{two} / {one}"] = ratio
            verdict = "meets" if ratio >= ACCEPTANCE else "below"
            print(f"{two} vs {one}: steady-state {ratio:.2f}x ({verdict} {ACCEPTANCE}x)")
    write_json_atomic(args.json, report)
    return report


if __name__ == "__main__":
    main()
