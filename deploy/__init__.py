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

import importlib
from typing import Any

# Lazy exports (PEP 562): ``import deploy.names`` (the CLI does) must not pull in torch.
_EXPORTS = {
    "BACKENDS": "deploy.names",
    "PRECISIONS": "deploy.names",
    "Backend": "deploy.interface",
    "BackendUnavailableError": "deploy.errors",
    "DeployError": "deploy.errors",
    "DynamicAxisError": "deploy.errors",
    "EngineMismatchError": "deploy.errors",
    "ExportCheckError": "deploy.errors",
    "ParityError": "deploy.errors",
    "UnsupportedOpError": "deploy.errors",
    "load_backend": "deploy.loader",
    "resolve_device": "core.devices",
    "IOSignature": "deploy.registry",
    "ModelIO": "deploy.registry",
    "TensorSpec": "deploy.registry",
    "load_model": "deploy.registry",
    "register": "deploy.registry",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = sorted(_EXPORTS)
