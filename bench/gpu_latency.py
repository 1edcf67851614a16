"""GPU latency of each network and of the whole try-on, per precision and runtime, one run.

    python bench/gpu_latency.py --sizes 512,1024 --json bench/results/gpu.json   # bench/gpu.sh

Networks at each size (random weights where a bundled model cannot take it): HPN and the
warp-and-refine HPN (small presets grown to the size), the bundled flow net and parser
(fully convolutional). Variants: torch eager, channels-last, ``torch.compile`` (fp32 / fp16 /
bf16 through deploy's TorchBackend autocast), ONNX Runtime's CUDA provider (fp32 graph) and
the TensorRT-RTX execution provider when its wheel (``onnxruntime-ep-nv-tensorrt-rtx-cu12``)
is installed; a variant that cannot run is recorded with its error, not fatal. The whole
try-on: ``TryOnPipeline`` on CUDA (own and paper views, torch and onnxruntime backends) on the
astronaut resized to the size; BlazePose runs on the CPU (ai-edge-litert) either way.
Compilation runs last, so a time limit cuts it first; the JSON is rewritten after every row.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from backends import time_calls  # bench/ is sys.path[0]

from core.files import write_json_atomic

PRECISIONS = ("fp32", "fp16", "bf16")


def build(name: str, size: int) -> torch.nn.Module:
    """The network ``name`` able to run at ``size`` (see the module docstring), eval mode."""
    from core.registry import load_model
    from hpn.model import HPN, HPNConfig
    from hpn.warp_refine import WarpRefineConfig, WarpRefineHPN
    from tryon.pipeline.pipeline import bundled_models_dir

    torch.manual_seed(0)
    if name == "hpn":
        model = HPN(replace(HPNConfig.small(), final_resolution=size))
    elif name == "hpn_warp_refine":
        small = WarpRefineConfig.small()
        model = WarpRefineHPN(
            replace(small, backbone=replace(small.backbone, final_resolution=size))
        )
    else:
        return load_model(bundled_models_dir() / name).eval()
    model.grow_to(size)
    return model.eval()


def ort_session(onnx_path: Path, variant: str) -> Any:
    """An ONNX Runtime session on the CUDA provider or the TensorRT-RTX plugin EP."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if variant == "onnxruntime-cuda":
        providers = ["CUDAExecutionProvider"]
        session = onnxruntime.InferenceSession(str(onnx_path), options, providers=providers)
        if session.get_providers()[0] != "CUDAExecutionProvider":
            raise RuntimeError(f"CUDA provider not taken: {session.get_providers()}")
        return session
    import onnxruntime_ep_nv_tensorrt_rtx as trt_ep  # the plugin wheel's documented API

    if trt_ep.get_ep_name() not in {d.ep_name for d in onnxruntime.get_ep_devices()}:
        onnxruntime.register_execution_provider_library(
            trt_ep.get_ep_name(), trt_ep.get_library_path()
        )
    devices = [d for d in onnxruntime.get_ep_devices() if d.ep_name == trt_ep.get_ep_name()]
    if not devices:
        raise RuntimeError("the TensorRT-RTX EP registered but offers no device on this GPU")
    options.add_provider_for_devices(devices, {})
    return onnxruntime.InferenceSession(str(onnx_path), options)


def make_call(
    variant: str,
    precision: str,
    model: torch.nn.Module,
    size: int,
    inputs: dict[str, torch.Tensor],
    onnx_path: Path,
) -> Any:
    """A no-argument call that runs one variant of a network on the GPU."""
    from deploy.onnx_export import export_onnx
    from deploy.registry import model_io_of
    from deploy.torch_backend import TorchBackend

    if variant.startswith("torch"):
        cuda = torch.device("cuda")
        backend = TorchBackend(
            copy.deepcopy(model), model_io_of(model), cuda, precision,
            channels_last=variant != "torch-eager",
            compile=variant == "torch-compile", resolution=size,
        )  # fmt: skip
        feed = {key: value.to(cuda) for key, value in inputs.items()}
        return lambda: backend(**feed)
    if not onnx_path.is_file():
        export_onnx(model, onnx_path, resolution=size, check_batches=(1,))
    session = ort_session(onnx_path, variant)
    arrays = {key: value.numpy() for key, value in inputs.items()}
    return lambda: session.run(None, arrays)


def network_rows(name: str, size: int, variants: list[str], folder: Path) -> list[dict]:
    """Latency rows of one network at one size (ms, median of 20 after 5 warm-ups)."""
    from deploy.inputs import real_inputs
    from deploy.registry import model_io_of

    model = build(name, size)
    signature = model_io_of(model).signature(model, None if name.startswith("hpn") else size)
    inputs = real_inputs(signature, 1)
    rows = []
    for variant in variants:
        for precision in PRECISIONS if variant.startswith("torch") else ("fp32",):
            row: dict[str, Any] = {"network": name, "size": size, "variant": variant}
            row["precision"] = precision
            try:
                onnx_path = folder / f"{name}-{size}.onnx"
                call = make_call(variant, precision, model, size, inputs, onnx_path)
                start = time.perf_counter()
                call()
                torch.cuda.synchronize()
                row["first_call_s"] = time.perf_counter() - start
                seconds = time_calls(call, torch.device("cuda"), warmup=5, repeats=20)
                row["ms_median"] = 1e3 * statistics.median(seconds)
            except Exception as error:  # a variant that cannot run here is a result too
                row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
            rows.append(row)
    return rows


def pipeline_rows(size: int, folder: Path) -> list[dict]:
    """The whole try-on on CUDA: own and paper views, torch and onnxruntime backends."""
    import cv2
    from pipeline_latency import CATALOG, exported_models

    from tryon.imageio import load_image
    from tryon.pipeline import PipelineConfig, TryOnPipeline

    person = cv2.resize(load_image(CATALOG / "people" / "astronaut.jpg"), (size, size))
    garment = load_image(CATALOG / "garments" / "id00192_cloth.png")
    models = {"torch": None, "onnxruntime": exported_models(folder)}
    rows = []
    for backend, models_dir in models.items():
        for view in ("own", "paper"):
            row: dict[str, Any] = {"pipeline": view, "backend": backend, "size": size}
            try:
                pipeline = TryOnPipeline.from_pretrained(
                    models_dir, backend, "cuda", PipelineConfig(view=view)
                )
                seconds = []
                for run in range(6):
                    pipeline.clear_caches()
                    start = time.perf_counter()
                    result = pipeline(person, garment)
                    torch.cuda.synchronize()
                    if run:
                        seconds.append(time.perf_counter() - start)
                row["ms_median"] = 1e3 * statistics.median(seconds)
                row["stages_ms"] = {k: 1e3 * v for k, v in result.timings.items()}
            except Exception as error:
                row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--networks", default="hpn,flow,parser,hpn_warp_refine")
    parser.add_argument("--json", type=Path, default=Path("bench/results/gpu.json"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this bench runs on a lent GPU (bench/gpu.sh)")
    report: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cpu_load_average_before": os.getloadavg(),
        "networks": [],
        "pipelines": [],
    }
    sizes = [int(size) for size in args.sizes.split(",")]
    names = args.networks.split(",")
    fast = ["torch-eager", "torch-channels-last", "onnxruntime-cuda", "onnxruntime-trt-rtx"]
    with tempfile.TemporaryDirectory() as folder:
        for phase in (fast, ["torch-compile"]):  # compile last: the slowest to prepare
            for size in sizes:
                for name in names:
                    for row in network_rows(name, size, phase, Path(folder)):
                        report["networks"].append(row)
                        print(row, flush=True)
                    write_json_atomic(args.json, report)
            if phase is fast:
                for size in sizes:
                    report["pipelines"] += pipeline_rows(size, Path(folder) / f"p{size}")
                    print(report["pipelines"][-4:], flush=True)
                    write_json_atomic(args.json, report)
    report["cpu_load_average_after"] = os.getloadavg()
    write_json_atomic(args.json, report)
    return report


if __name__ == "__main__":
    main()
