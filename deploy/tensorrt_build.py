"""Build a TensorRT engine from an exported ONNX file (TensorRT 10.x Python API).

Written against TensorRT 10: networks are always explicit-batch (``create_network(0)``; the
EXPLICIT_BATCH flag is deprecated there), reduced precision is the weakly typed
``BuilderFlag.FP16`` / ``BuilderFlag.BF16`` (TensorRT 11 removed weak typing, so 11 is
refused rather than mis-built). One optimisation profile covers ``--batch MIN:OPT:MAX``; the
spatial size is fixed at the export's resolution (HPN's is fixed anyway; for the flow net,
build one engine per serving resolution). A timing cache file makes rebuilds fast.

Engines are not portable across TensorRT versions or GPUs, so the sidecar records both and
:mod:`deploy.tensorrt_runtime` refuses a mismatch.

Only the pure parts of this module (profile parsing, shapes, sidecar) run on a machine
without TensorRT and a GPU; see docs/deploy.md for what has been executed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from core.files import file_sha256, write_bytes_atomic
from deploy.artifacts import read_sidecar, write_sidecar
from deploy.errors import BackendUnavailableError, DeployError, ExportCheckError
from deploy.registry import IOSignature

SUPPORTED_MAJOR = 10
DEFAULT_WORKSPACE_BYTES = 2 << 30


@dataclass(frozen=True)
class BatchProfile:
    """The batch range of an engine's optimisation profile: min <= opt <= max."""

    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(
                f"batch profile needs 1 <= MIN <= OPT <= MAX, got {self.min}:{self.opt}:{self.max}"
            )

    @classmethod
    def parse(cls, text: str) -> BatchProfile:
        """``"1:4:8"`` -> BatchProfile(1, 4, 8); a single ``"4"`` means 4:4:4."""
        parts = text.split(":")
        if len(parts) not in (1, 3) or not all(part.strip().isdigit() for part in parts):
            raise ValueError(f"--batch takes MIN:OPT:MAX (e.g. 1:4:8) or one size, got {text!r}")
        sizes = [int(part) for part in parts]
        return cls(*(sizes * 3 if len(sizes) == 1 else sizes))

    def check(self, batch: int) -> None:
        """Refuse a batch the engine's profile does not cover."""
        if not self.min <= batch <= self.max:
            raise ValueError(
                f"this engine takes batches of {self.min} to {self.max}, got {batch}; split the "
                f"batch or rebuild the engine with a wider --batch"
            )

    def __str__(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"


@dataclass(frozen=True)
class GpuInfo:
    """The identity an engine is bound to."""

    name: str
    compute_capability: tuple[int, int]

    @classmethod
    def of(cls, device: torch.device) -> GpuInfo:
        """The GPU behind a CUDA device."""
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return cls(torch.cuda.get_device_name(index), (major, minor))


def profile_shapes(
    signature: IOSignature, profile: BatchProfile
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(min, opt, max) NCHW shape per input: the batch from the profile, the rest fixed.

    Args:
        signature: the exported model's inputs, at the export's resolution.
        profile: the batch range.

    Returns:
        input name -> (min shape, opt shape, max shape).
    """
    return {
        spec.name: (spec.shape(profile.min), spec.shape(profile.opt), spec.shape(profile.max))
        for spec in signature.inputs
    }


def require_tensorrt() -> Any:
    """Import TensorRT 10.x, or say why it cannot be used."""
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailableError(
            "TensorRT is not installed: install NVIDIA's TensorRT 10.x Python wheels on a CUDA "
            "machine (the PyPI 'tensorrt' package downloads them from NVIDIA)"
        ) from error
    major = int(str(tensorrt.__version__).split(".")[0])
    if major != SUPPORTED_MAJOR:
        raise BackendUnavailableError(
            f"TensorRT {tensorrt.__version__} found; deploy targets the {SUPPORTED_MAJOR}.x API "
            "(weakly typed FP16/BF16 builder flags, removed in 11)"
        )
    return tensorrt


def engine_sidecar(
    onnx_sidecar: dict[str, Any],
    onnx_sha256: str,
    tensorrt_version: str,
    gpu: GpuInfo,
    precision: str,
    profile: BatchProfile,
    workspace_bytes: int,
) -> dict[str, Any]:
    """The JSON written beside an engine (pure: testable without TensorRT)."""
    signature = IOSignature.from_dict(onnx_sidecar["signature"])
    shapes = profile_shapes(signature, profile)
    return {
        "format": "tensorrt",
        "tensorrt_version": tensorrt_version,
        "tensorrt_api": f"{SUPPORTED_MAJOR}.x, weakly typed network with BuilderFlag precision",
        "gpu": {"name": gpu.name, "compute_capability": list(gpu.compute_capability)},
        "precision": precision,
        "batch_profile": {"min": profile.min, "opt": profile.opt, "max": profile.max},
        "shapes": {
            name: {"min": list(low), "opt": list(opt), "max": list(high)}
            for name, (low, opt, high) in shapes.items()
        },
        "workspace_bytes": workspace_bytes,
        "model_type": onnx_sidecar["model_type"],
        "config": onnx_sidecar["config"],
        "architecture": onnx_sidecar.get("architecture", {}),
        # The engine's spatial size is fixed by its profile, whatever the ONNX allowed.
        "signature": replace(signature, dynamic_spatial=False).to_dict(),
        "source": onnx_sidecar["source"],
        "onnx": {"opset": onnx_sidecar["opset"], "sha256": onnx_sha256},
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    precision: str = "fp16",
    profile: BatchProfile | None = None,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    timing_cache: str | Path | None = None,
) -> Path:
    """Build and save an engine (and its sidecar) from an ONNX file made by ``tryon export``.

    Args:
        onnx_path: the ONNX file; its sidecar supplies the signature and provenance.
        engine_path: where to write the serialised engine.
        precision: "fp32", "fp16" or "bf16" (builder flags; I/O stays fp32).
        profile: batch range of the single optimisation profile (default 1:1:1).
        workspace_bytes: the builder's workspace memory-pool limit.
        timing_cache: a timing cache file, read if present and written back after the build.

    Returns:
        The engine path.
    """
    trt = require_tensorrt()
    if not torch.cuda.is_available():
        raise BackendUnavailableError("building a TensorRT engine needs a CUDA GPU")
    profile = profile or BatchProfile(1, 1, 1)
    onnx_sidecar = read_sidecar(onnx_path)
    signature = IOSignature.from_dict(onnx_sidecar["signature"])
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10 networks are always explicit-batch.
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise ExportCheckError(f"TensorRT's ONNX parser rejected {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    elif precision != "fp32":
        raise DeployError(f"unknown precision {precision!r}; use fp32, fp16 or bf16")
    optimisation_profile = builder.create_optimization_profile()
    for name, (low, opt, high) in profile_shapes(signature, profile).items():
        optimisation_profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(optimisation_profile)
    cache_path = Path(timing_cache) if timing_cache is not None else None
    cache_bytes = cache_path.read_bytes() if cache_path and cache_path.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(cache_bytes), ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportCheckError(f"TensorRT failed to build an engine from {onnx_path} (see log)")
    engine_path = Path(engine_path)
    write_bytes_atomic(engine_path, bytes(memoryview(serialized)))
    if cache_path is not None:
        write_bytes_atomic(cache_path, bytes(memoryview(config.get_timing_cache().serialize())))
    write_sidecar(
        engine_path,
        engine_sidecar(
            onnx_sidecar,
            file_sha256(onnx_path),
            str(trt.__version__),
            GpuInfo.of(torch.device("cuda")),
            precision,
            profile,
            workspace_bytes,
        ),
    )
    return engine_path
