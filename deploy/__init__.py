"""deploy: ONNX and TensorRT export and the runtime backends behind one interface.

Public API:
    - :func:`load_backend` -> :class:`Backend`: ``backend(**named_inputs) -> {name: tensor}``
      over PyTorch, ONNX Runtime or TensorRT.
    - :mod:`deploy.onnx_export`: :func:`~deploy.onnx_export.export_model_dir` /
      :func:`~deploy.onnx_export.export_onnx` (checked, audited, parity-tested ONNX).
    - :mod:`deploy.tensorrt_build`: :func:`~deploy.tensorrt_build.build_engine`.
    - :mod:`deploy.registry`: the model types deploy knows and their named inputs/outputs.

This package imports neither onnx nor TensorRT at import time (their modules do), so the
torch backend works without the ``deploy`` extra installed.
"""

from deploy.errors import (
    BackendUnavailableError,
    DeployError,
    DynamicAxisError,
    EngineMismatchError,
    ExportCheckError,
    ParityError,
    UnsupportedOpError,
)
from deploy.interface import BACKENDS, PRECISIONS, Backend
from deploy.loader import load_backend, resolve_device
from deploy.registry import IOSignature, ModelIO, TensorSpec, load_model, register

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "BackendUnavailableError",
    "DeployError",
    "DynamicAxisError",
    "EngineMismatchError",
    "ExportCheckError",
    "IOSignature",
    "ModelIO",
    "ParityError",
    "TensorSpec",
    "UnsupportedOpError",
    "load_backend",
    "load_model",
    "register",
    "resolve_device",
]
