"""Run a TensorRT engine with torch CUDA tensors (TensorRT 10.x name-based I/O API).

The engine reads and writes torch tensors in place: inputs are bound by name with
``set_input_shape`` + ``set_tensor_address``, outputs are allocated by torch at the shapes the
context reports, and ``execute_async_v3`` runs on torch's current CUDA stream, so the results
are ordered with the caller's following torch ops without a host synchronisation.

Before deserialising, the sidecar is compared with the running TensorRT version and GPU:
engines are not portable across either, and a mismatch is refused with the command that
rebuilds the engine (see :func:`check_engine_compatible`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deploy.artifacts import read_sidecar
from deploy.errors import BackendUnavailableError, EngineMismatchError
from deploy.interface import Backend, check_inputs
from deploy.registry import IOSignature, model_io_for
from deploy.tensorrt_build import BatchProfile, GpuInfo, require_tensorrt


def check_engine_compatible(
    sidecar: dict[str, Any], tensorrt_version: str, gpu: GpuInfo, engine_name: str = "engine"
) -> None:
    """Refuse an engine built by another TensorRT version or for another GPU.

    Args:
        sidecar: the engine's sidecar JSON.
        tensorrt_version: the running TensorRT's ``__version__``.
        gpu: the GPU it would run on.
        engine_name: how to name the engine in the message.

    Raises:
        EngineMismatchError: saying what differs and how to rebuild.
    """
    model_dir = sidecar.get("source", {}).get("model_dir", "MODEL_DIR")
    precision = sidecar.get("precision", "fp16")
    rebuild = (
        f"rebuild it here with `tryon export --model {model_dir} --format tensorrt "
        f"--precision {precision} --out {engine_name}`"
    )
    built_version = sidecar.get("tensorrt_version")
    if built_version != tensorrt_version:
        raise EngineMismatchError(
            f"{engine_name} was built with TensorRT {built_version}, this is TensorRT "
            f"{tensorrt_version}; engines do not carry across TensorRT versions: {rebuild}"
        )
    built_gpu = sidecar.get("gpu", {})
    built_capability = tuple(built_gpu.get("compute_capability", ()))
    if built_gpu.get("name") != gpu.name or built_capability != gpu.compute_capability:
        raise EngineMismatchError(
            f"{engine_name} was built for {built_gpu.get('name')} (compute capability "
            f"{'.'.join(map(str, built_capability))}), this GPU is {gpu.name} "
            f"({'.'.join(map(str, gpu.compute_capability))}); engines are GPU-specific: {rebuild}"
        )


class TensorRTBackend(Backend):
    """Runs a serialised TensorRT engine on a CUDA device.

    Args:
        engine_path: an engine written by ``tryon export --format tensorrt`` (sidecar beside).
        device: a CUDA device.
    """

    name = "tensorrt"

    def __init__(self, engine_path: str | Path, device: torch.device) -> None:
        if device.type != "cuda":
            raise BackendUnavailableError(
                "TensorRT engines run on a CUDA device; use device='cuda'"
            )
        trt = require_tensorrt()
        engine_path = Path(engine_path)
        sidecar = read_sidecar(engine_path)
        check_engine_compatible(sidecar, str(trt.__version__), GpuInfo.of(device), str(engine_path))
        model_io = model_io_for(sidecar["model_type"])
        super().__init__(
            IOSignature.from_dict(sidecar["signature"]),
            model_io.config_from_dict(sidecar["config"]),
            sidecar["precision"],
            device,
        )
        self.sidecar = sidecar
        self.profile = BatchProfile(**sidecar["batch_profile"])
        self._logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(device):
            self._runtime = trt.Runtime(self._logger)
            self._engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
            if self._engine is None:
                raise EngineMismatchError(
                    f"TensorRT could not deserialise {engine_path} (corrupt, or built by another "
                    "TensorRT build); rebuild it with `tryon export --format tensorrt`"
                )
            self._context = self._engine.create_execution_context()
        dtypes = {
            trt.DataType.FLOAT: torch.float32,
            trt.DataType.HALF: torch.float16,
            trt.DataType.BF16: torch.bfloat16,
        }
        self._dtypes = {
            name: dtypes[self._engine.get_tensor_dtype(name)]
            for name in (*self.input_names, *self.output_names)
        }

    def __call__(self, **inputs: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        tensors = check_inputs(self.signature, inputs)
        self.profile.check(tensors[0].shape[0])
        with torch.cuda.device(self.device):
            stream = torch.cuda.current_stream(self.device)
            bound = []  # keeps the inputs alive until the engine has read them
            for name, tensor in zip(self.input_names, tensors, strict=True):
                tensor = tensor.to(self.device, self._dtypes[name]).contiguous()
                bound.append(tensor)
                self._context.set_input_shape(name, tuple(tensor.shape))
                self._context.set_tensor_address(name, tensor.data_ptr())
            outputs = {}
            for name in self.output_names:
                shape = tuple(self._context.get_tensor_shape(name))
                output = torch.empty(shape, dtype=self._dtypes[name], device=self.device)
                self._context.set_tensor_address(name, output.data_ptr())
                outputs[name] = output
            if not self._context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
            for tensor in bound:
                tensor.record_stream(stream)
        return {name: output.float() for name, output in outputs.items()}
