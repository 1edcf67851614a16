"""Each of our networks against the machine: FLOPs, measured time, fraction of fp32 GEMM peak.

    python bench/machine.py                      # every network, torch's default threads
    OMP_NUM_THREADS=1 python bench/machine.py --repeats 5

Networks at the size the pipeline serves them: the bundled HPN (its trained level), flow
net (the paper route's frame, 256), parser (its trained input size, with its person-mask
and pose-map guides) and warp-and-refine HPN (its trained level, 128). FLOPs are
``torch.utils.flop_counter``'s (2 x multiply-accumulates of convolutions and matmuls;
grid_sample, norms and elementwise ops not counted, so the fraction of peak is a lower
bound). The peak is *measured* in the same run: the best of a few 2048^3 ``torch.mm`` at
the same thread count (bench/backends.py's helper).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from backends import forward_flops, measured_peak_gflops  # bench/ is sys.path[0]

from core.files import write_json_atomic

RESULTS = Path(__file__).with_name("results") / "machine.json"


def networks() -> dict[str, tuple[torch.nn.Module, dict[str, torch.Tensor], str]]:
    """name -> (model in eval mode, batch-1 inputs at its serving size, where it comes from)."""
    from core.registry import load_model
    from deploy.inputs import real_inputs
    from deploy.registry import model_io_of
    from tryon.pipeline.pipeline import bundled_models_dir

    root = bundled_models_dir()
    found: dict[str, tuple[torch.nn.Module, dict[str, torch.Tensor], str]] = {}
    for name, resolution in (("hpn", None), ("flow", 256), ("parser", None), ("hpn_refine", None)):
        model = load_model(root / name).eval()
        signature = model_io_of(model).signature(model, resolution)
        found[name] = (model, real_inputs(signature, 1), f"bundled {name}/")
    return found


def measure(model: torch.nn.Module, inputs: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Median seconds of a batch-1 forward after two warm-ups, and its FLOPs."""
    flops = forward_flops(model, inputs)
    seconds = []
    with torch.inference_mode():
        for run in range(repeats + 2):
            start = time.perf_counter()
            model(**inputs)
            if run >= 2:
                seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "input_shapes": {name: list(tensor.shape) for name, tensor in inputs.items()},
        "gflop": flops / 1e9,
        "ms_median": 1e3 * median,
        "achieved_gflops": flops / median / 1e9,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    load_before = os.getloadavg()
    peak = measured_peak_gflops(torch.device("cpu"))
    report: dict[str, Any] = {
        "torch_threads": threads,
        "cpu_count": os.cpu_count(),
        "measured_fp32_gemm_peak_gflops": peak,
        "peak_how": "best of 6 torch.mm 2048x2048x2048 fp32, same process and thread count",
        "load_average_before": load_before,
        "networks": {},
    }
    print(f"measured fp32 GEMM peak: {peak:.1f} GFLOP/s ({threads} threads)")
    for name, (model, inputs, source) in networks().items():
        row = {"source": source, **measure(model, inputs, args.repeats)}
        row["fraction_of_peak"] = row["achieved_gflops"] / peak
        row["load_average"] = os.getloadavg()
        report["networks"][name] = row
        print(
            f"{name:<16} {row['gflop']:7.2f} GFLOP  {row['ms_median']:8.1f} ms  "
            f"{row['achieved_gflops']:6.1f} GFLOP/s = {100 * row['fraction_of_peak']:5.1f}% of "
            f"peak  inputs {row['input_shapes']}  load {row['load_average'][0]:.2f}"
        )
    report["load_average_after"] = os.getloadavg()
    write_json_atomic(args.json, report)
    return report


if __name__ == "__main__":
    main()
