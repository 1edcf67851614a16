"""The ONNX Runtime backend, and the session factory export's parity check uses too.

Provider choice: CUDA when the device is a GPU (an error if this onnxruntime build lacks the
CUDA provider, rather than a silent fall back to CPU), CPU otherwise. CPU threading: as many
intra-op threads as torch uses (it honours ``OMP_NUM_THREADS`` and defaults to the physical
cores), one inter-op thread, sequential execution: our graphs are a single chain of
convolutions, so parallelism lives inside each op, and matching torch's count keeps
benchmark comparisons fair.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deploy.artifacts import read_sidecar
from deploy.errors import BackendUnavailableError
from deploy.interface import Backend, check_inputs
from deploy.registry import IOSignature, model_io_for


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise BackendUnavailableError(
            "the onnxruntime backend needs the onnxruntime package: pip install 'hpn-tryon[deploy]'"
        ) from error
    return onnxruntime


def cuda_provider_available() -> bool:
    """Whether this onnxruntime build has the CUDA execution provider."""
    return "CUDAExecutionProvider" in _onnxruntime().get_available_providers()


def create_session(
    model: str | Path | bytes, device: torch.device, threads: int | None = None
) -> Any:
    """An ``InferenceSession`` with the providers and threading described in the module doc.

    Args:
        model: an ONNX file path or serialised model bytes.
        device: "cpu" or a CUDA device.
        threads: intra-op threads (default: ``torch.get_num_threads()``).

    Returns:
        The onnxruntime ``InferenceSession``.
    """
    ort = _onnxruntime()
    if device.type == "cuda":
        if not cuda_provider_available():
            raise BackendUnavailableError(
                "this onnxruntime has no CUDA provider; install onnxruntime-gpu or use device='cpu'"
            )
        providers: list[Any] = [
            ("CUDAExecutionProvider", {"device_id": device.index or 0}),
            "CPUExecutionProvider",
        ]
    else:
        providers = ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=providers)


def run_session(
    session: Any, signature: IOSignature, tensors: list[torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Feed input tensors (signature order) to a session; outputs as float32 CPU tensors."""
    feed = {
        name: np.ascontiguousarray(tensor.detach().cpu().float().numpy())
        for name, tensor in zip(signature.input_names, tensors, strict=True)
    }
    outputs = session.run(list(signature.output_names), feed)
    return {
        name: torch.from_numpy(output)
        for name, output in zip(signature.output_names, outputs, strict=True)
    }


class OnnxRuntimeBackend(Backend):
    """Runs an exported ``.onnx`` file (fp32) with ONNX Runtime.

    Inputs pass through host memory and outputs are CPU tensors, also with the CUDA provider
    (no I/O binding: on a GPU, the tensorrt backend is the fast path).

    Args:
        onnx_path: the file written by ``tryon export --format onnx`` (its sidecar beside it).
        device: "cpu" or a CUDA device (needs onnxruntime-gpu).
        threads: intra-op threads (default: ``torch.get_num_threads()``).
    """

    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, device: torch.device, threads: int | None = None):
        sidecar = read_sidecar(onnx_path)
        model_io = model_io_for(sidecar["model_type"])
        super().__init__(
            IOSignature.from_dict(sidecar["signature"]),
            model_io.config_from_dict(sidecar["config"]),
            "fp32",
            device,
        )
        self.path = Path(onnx_path)
        self.sidecar = sidecar
        self.session = create_session(self.path, device, threads)

    def __call__(self, **inputs: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        return run_session(self.session, self.signature, check_inputs(self.signature, inputs))
