"""Latency and throughput of HPN and the flow net per backend, resolution and device.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python bench/backends.py                  # CPU, 256 and 512
    .venv/bin/python bench/backends.py --models flow --resolutions 256 \
        --variants torch-eager,onnxruntime

For each (model, resolution, device) group, every variant runs through the same
``deploy`` backend code the pipeline uses, in one process: latency at batch 1 (median and
p90 of ``--repeats`` runs after ``--warmup``), throughput at ``--throughput-batch``, the FLOPs
of one forward (``torch.utils.flop_counter``, convolutions and matmuls; grid_sample and
elementwise ops are not counted) and the implied fraction of the machine's peak. The peak is
*measured* once per run as the best of a few 2048^3 sgemm products at the same thread count,
not taken from a datasheet. Ratios are against torch eager fp32 of the same group, measured
in the same run.

Models are the small presets with random weights (timing does not depend on them): HPN's
small preset grown to the resolution (its ``final_resolution`` raised to 512 for the 512
group), the flow net's small preset. Results go to ``bench/results/<name>.json`` after every
group; a rerun skips finished groups (``--fresh`` re-measures), so an interrupted run keeps
its work. Load average is recorded per group: on a shared machine timings are noisy.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from core.files import write_json_atomic
from deploy.artifacts import read_sidecar, state_sha256
from deploy.inputs import real_inputs
from deploy.interface import Backend
from deploy.registry import IOSignature, model_io_of
from deploy.torch_backend import TorchBackend
from flow import AppearanceFlowNet, FlowConfig
from hpn.model import HPN, HPNConfig

RESULTS_DIR = Path(__file__).with_name("results")
ONNX_CACHE = Path(platformdirs.user_cache_dir("hpn-tryon")) / "bench-onnx"
BASELINE = {"cpu": "torch-eager", "cuda": "torch-cuda-fp32"}
CPU_VARIANTS = ("torch-eager", "torch-channels-last", "torch-compile", "onnxruntime")
GPU_VARIANTS = ("torch-cuda-fp32", "torch-cuda-bf16", "torch-cuda-bf16-compile", "tensorrt-fp16")


@dataclass(frozen=True)
class BenchOptions:
    """What to measure (the command line, resolved)."""

    models: tuple[str, ...]
    resolutions: tuple[int, ...]
    variants: tuple[str, ...]
    throughput_batch: int
    warmup: int
    repeats: int
    out: Path
    fresh: bool
    gpu: bool

    def variants_for(self, device: torch.device) -> tuple[str, ...]:
        """The requested variants that run on ``device``, in the requested order."""
        known = CPU_VARIANTS if device.type == "cpu" else GPU_VARIANTS
        return tuple(variant for variant in self.variants if variant in known)


def build_model(name: str, resolution: int) -> torch.nn.Module:
    """The small preset of ``name`` at ``resolution``, seeded random weights, eval mode."""
    torch.manual_seed(0)
    if name == "hpn":
        config = replace(HPNConfig.small(), final_resolution=max(resolution, 256))
        model = HPN(config)
        model.grow_to(resolution)
        return model.eval()
    if name == "flow":
        return AppearanceFlowNet(FlowConfig.small()).eval()
    raise ValueError(f"unknown model {name!r}; choose hpn or flow")


def forward_flops(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> int:
    """FLOPs of one forward pass (convolutions and matmuls, as flop_counter counts them)."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(**inputs)
    return int(counter.get_total_flops())


def measured_peak_gflops(device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    """Best sgemm rate of this run: the practical fp32 peak at the current thread count."""
    left = torch.rand(size, size, device=device)
    right = torch.rand(size, size, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        _synchronize(device)
        start = time.perf_counter()
        torch.mm(left, right)
        _synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    call: Callable[[], object], device: torch.device, warmup: int, repeats: int
) -> list[float]:
    """Seconds per call, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    _synchronize(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        _synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def make_backend(
    variant: str, model: torch.nn.Module, resolution: int, cache: Path
) -> tuple[Backend, float]:
    """The backend of a variant, and the seconds it took to prepare (export, build)."""
    start = time.perf_counter()
    model_io = model_io_of(model)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    backend: Backend
    if variant == "torch-eager":
        backend = TorchBackend(model, model_io, cpu, resolution=resolution)
    elif variant == "torch-channels-last":
        backend = TorchBackend(model, model_io, cpu, channels_last=True, resolution=resolution)
    elif variant == "torch-compile":
        backend = TorchBackend(
            model, model_io, cpu, channels_last=True, compile=True, resolution=resolution
        )
    elif variant == "onnxruntime":
        from deploy.onnxruntime_backend import OnnxRuntimeBackend

        backend = OnnxRuntimeBackend(_onnx_file(model, resolution, cache), cpu)
    elif variant == "torch-cuda-fp32":
        backend = TorchBackend(model, model_io, cuda, resolution=resolution)
    elif variant == "torch-cuda-bf16":
        backend = TorchBackend(
            model, model_io, cuda, "bf16", channels_last=True, resolution=resolution
        )
    elif variant == "torch-cuda-bf16-compile":
        backend = TorchBackend(
            model, model_io, cuda, "bf16", channels_last=True, compile=True, resolution=resolution
        )
    elif variant == "tensorrt-fp16":
        from deploy.tensorrt_build import BatchProfile, build_engine
        from deploy.tensorrt_runtime import TensorRTBackend

        onnx_path = _onnx_file(model, resolution, cache)
        engine = build_engine(
            onnx_path,
            onnx_path.with_suffix(".fp16.engine"),
            "fp16",
            BatchProfile(1, 1, 4),
            timing_cache=cache / "tensorrt.timing_cache",
        )
        backend = TensorRTBackend(engine, cuda)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return backend, time.perf_counter() - start


def _onnx_file(model: torch.nn.Module, resolution: int, cache: Path) -> Path:
    """An exported (checked) ONNX file of this model, reused when the weights match."""
    from deploy.onnx_export import export_onnx

    path = cache / f"{model_io_of(model).model_type}-{resolution}.onnx"
    weights = state_sha256(model)
    if path.is_file() and read_sidecar(path)["source"].get("sha256") == weights:
        return path
    return export_onnx(model, path, resolution=resolution, check_batches=(1,)).onnx_path


def _group_inputs(signature: IOSignature, batch: int, device: torch.device) -> dict[str, Any]:
    return {name: tensor.to(device) for name, tensor in real_inputs(signature, batch).items()}


def run_group(
    name: str,
    resolution: int,
    device: torch.device,
    options: BenchOptions,
    peak_gflops: float,
    progress: tqdm,
) -> dict[str, Any]:
    """Measure every variant of one (model, resolution, device) group."""
    model = build_model(name, resolution)
    signature = model_io_of(model).signature(model, resolution)
    single = _group_inputs(signature, 1, torch.device("cpu"))
    flops = forward_flops(model, single)
    ONNX_CACHE.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    rows = []
    for variant in options.variants_for(device):
        progress.set_description(f"{name}@{resolution} {variant}")
        rows.append(
            _measure_variant(variant, model, signature, device, options, flops, peak_gflops)
        )
        progress.update()
    baseline = next((row for row in rows if row["variant"] == BASELINE[device.type]), None)
    for row in rows:
        if baseline is not None and "latency_ms_median" in row:
            row["latency_speedup_vs_baseline"] = (
                baseline["latency_ms_median"] / row["latency_ms_median"]
            )
            row["throughput_ratio_vs_baseline"] = (
                row["throughput_images_per_s"] / baseline["throughput_images_per_s"]
            )
    return {
        "model": name,
        "resolution": resolution,
        "device": str(device),
        "gflop_per_image": flops / 1e9,
        "baseline": BASELINE[device.type],
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "variants": rows,
    }


def _measure_variant(
    variant: str,
    model: torch.nn.Module,
    signature: IOSignature,
    device: torch.device,
    options: BenchOptions,
    flops: int,
    peak_gflops: float,
) -> dict[str, Any]:
    try:
        # A fresh copy per variant: channels-last and device moves change a module in place.
        backend, prepare_seconds = make_backend(
            variant, copy.deepcopy(model), signature.inputs[0].height, ONNX_CACHE
        )
        single = _group_inputs(signature, 1, device)
        batched = _group_inputs(signature, options.throughput_batch, device)
        first_start = time.perf_counter()
        backend(**single)  # compiles / allocates; reported separately
        _synchronize(device)
        first_call = time.perf_counter() - first_start
        latency = time_calls(lambda: backend(**single), device, options.warmup, options.repeats)
        throughput = time_calls(
            lambda: backend(**batched), device, options.warmup, max(options.repeats // 2, 2)
        )
    except Exception as error:  # a variant that cannot run here is reported, not fatal
        return {"variant": variant, "error": f"{type(error).__name__}: {error}"}
    median = statistics.median(latency)
    achieved = flops / median / 1e9
    return {
        "variant": variant,
        "prepare_s": prepare_seconds,
        "first_call_s": first_call,
        "latency_ms_median": 1e3 * median,
        "latency_ms_p90": 1e3 * sorted(latency)[int(0.9 * (len(latency) - 1))],
        "throughput_batch": options.throughput_batch,
        "throughput_images_per_s": options.throughput_batch / statistics.median(throughput),
        "achieved_gflops": achieved,
        "fraction_of_measured_peak": achieved / peak_gflops,
    }


def print_group(group: dict[str, Any]) -> None:
    """One table per group; ratios are against the group's baseline, same run."""
    print(
        f"\n{group['model']} @ {group['resolution']} on {group['device']}: "
        f"{group['gflop_per_image']:.2f} GFLOP/image, load {group['load_average_before'][0]:.1f}"
    )
    print(
        f"  {'variant':<26}{'lat ms':>9}{'p90':>9}{'img/s':>9}{'%peak':>8}{'lat x':>8}{'thr x':>8}"
    )
    for row in group["variants"]:
        if "error" in row:
            print(f"  {row['variant']:<26}failed: {row['error'][:70]}")
            continue
        print(
            f"  {row['variant']:<26}{row['latency_ms_median']:9.1f}{row['latency_ms_p90']:9.1f}"
            f"{row['throughput_images_per_s']:9.2f}{100 * row['fraction_of_measured_peak']:7.1f}%"
            f"{row.get('latency_speedup_vs_baseline', float('nan')):8.2f}"
            f"{row.get('throughput_ratio_vs_baseline', float('nan')):8.2f}"
        )


def machine_info(device: torch.device) -> dict[str, Any]:
    import onnxruntime

    info = {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": sys.version.split()[0],
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run(options: BenchOptions) -> dict[str, Any]:
    """Measure every group not already in the results file; returns the whole document."""
    document: dict[str, Any] = {}
    if options.out.is_file() and not options.fresh:
        document = json.loads(options.out.read_text())
    groups = document.setdefault("groups", {})
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if options.gpu else [])
    for device in devices:
        key = f"{device.type}"
        if key not in document.setdefault("peak_gflops", {}):
            document["peak_gflops"][key] = measured_peak_gflops(device)
        document.setdefault("machine", {})[key] = machine_info(device)
    todo = [
        (name, resolution, device)
        for device in devices
        for name in options.models
        for resolution in options.resolutions
        if f"{name}@{resolution}/{device.type}" not in groups
    ]
    count = sum(len(options.variants_for(device)) for _, _, device in todo)
    with tqdm(total=count, unit="variant") as progress:
        for name, resolution, device in todo:
            group = run_group(
                name, resolution, device, options, document["peak_gflops"][device.type], progress
            )
            groups[f"{name}@{resolution}/{device.type}"] = group
            document["updated"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            write_json_atomic(options.out, document)
            progress.write(f"saved {name}@{resolution}/{device.type} to {options.out}")
    for group in groups.values():
        print_group(group)
    print(f"\nmeasured fp32 peak (best 2048^3 sgemm): {document['peak_gflops']}")
    return document


def parse_options(argv: list[str] | None = None) -> BenchOptions:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="hpn,flow")
    parser.add_argument("--resolutions", default="256,512")
    parser.add_argument("--variants", default=",".join(CPU_VARIANTS + GPU_VARIANTS))
    parser.add_argument("--throughput-batch", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "backends.json")
    parser.add_argument("--fresh", action="store_true", help="re-measure finished groups")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU section")
    args = parser.parse_args(argv)
    variants = tuple(args.variants.split(","))
    unknown = sorted(set(variants) - set(CPU_VARIANTS + GPU_VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {CPU_VARIANTS + GPU_VARIANTS}")
    return BenchOptions(
        models=tuple(args.models.split(",")),
        resolutions=tuple(int(size) for size in args.resolutions.split(",")),
        variants=variants,
        throughput_batch=args.throughput_batch,
        warmup=args.warmup,
        repeats=args.repeats,
        out=args.out,
        fresh=args.fresh,
        gpu=torch.cuda.is_available() and not args.no_gpu,
    )


if __name__ == "__main__":
    run(parse_options())
