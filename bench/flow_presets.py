"""Parameters, FLOPs and CPU latency of the flow net's presets at 256 and 512.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python bench/flow_presets.py   # -> bench/results/flow_presets.json

Batch 1, torch eager fp32, random weights (cost does not depend on them); latency is the
median of ``--repeats`` forwards after one warm-up. FLOPs come from
``torch.utils.flop_counter`` (convolutions; grid_sample, interpolation and elementwise ops
are not counted), through the same helpers as ``bench/backends.py``. The load average is
recorded: on a shared machine latency is noisy, FLOPs are exact.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

# bench/ is a folder of scripts, not a package: reuse the sibling's measuring helpers.
sys.path.insert(0, str(Path(__file__).parent))
from backends import forward_flops, time_calls

from core.files import write_json_atomic
from flow import AppearanceFlowNet, FlowConfig

PRESETS = {"small": FlowConfig.small, "full": FlowConfig.full}


def measure(preset: str, resolution: int, repeats: int) -> dict[str, object]:
    """One preset at one resolution: parameters, GFLOPs of a forward, latency in ms."""
    torch.manual_seed(0)
    model = AppearanceFlowNet(PRESETS[preset]()).eval()
    inputs = {
        "garment": torch.rand(1, 3, resolution, resolution) * 2 - 1,
        "garment_mask": torch.ones(1, 1, resolution, resolution),
        "target_mask": torch.ones(1, 1, resolution, resolution),
    }
    with torch.inference_mode():
        seconds = time_calls(lambda: model(**inputs), torch.device("cpu"), 1, repeats)
    return {
        "preset": preset,
        "resolution": resolution,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "gflops": forward_flops(model, inputs) / 1e9,
        "latency_ms_median": 1000 * statistics.median(seconds),
        "latency_ms_all": [round(1000 * value, 1) for value in seconds],
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results") / "flow_presets.json"
    )
    args = parser.parse_args()
    rows = []
    for preset in PRESETS:
        for resolution in (256, 512):
            row = measure(preset, resolution, args.repeats)
            print(
                f"{preset:5} {resolution}: {row['parameters'] / 1e6:.2f} M params, "
                f"{row['gflops']:.2f} GFLOP, {row['latency_ms_median']:.0f} ms "
                f"(load {row['load_average'][0]:.1f})"
            )
            rows.append(row)
    document = {"threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows}
    write_json_atomic(args.out, document)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
