"""Where deploy artefacts live and the JSON sidecar that travels with each one.

An exported file is only trustworthy together with what made it: every ``X.onnx`` or
``X.engine`` has ``X.onnx.json`` / ``X.engine.json`` beside it (model type and config, the
signature, opset or TensorRT version, precision, parity numbers, and the SHA-256 of the
source weights). The source hash lets :func:`deploy.load_backend` refuse an artefact that
is older than the weights it was exported from.

Default names inside a model directory: ``model.onnx`` and ``model.<precision>.engine``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as serialize_tensors

from core.files import bytes_sha256, file_sha256, write_json_atomic
from core.modelio import WEIGHTS_FILE
from deploy.errors import BackendUnavailableError

ONNX_FILE = "model.onnx"
SIDECAR_VERSION = 1


def engine_file(precision: str) -> str:
    """Default engine name in a model directory, e.g. ``model.fp16.engine``."""
    return f"model.{precision}.engine"


def sidecar_path(artifact: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def write_sidecar(artifact: str | Path, data: dict[str, Any]) -> Path:
    """Write the sidecar of an artefact (adds the sidecar format version)."""
    path = sidecar_path(artifact)
    write_json_atomic(path, {"sidecar_version": SIDECAR_VERSION, **data})
    return path


def read_sidecar(artifact: str | Path) -> dict[str, Any]:
    """The sidecar of an artefact; a missing one means the artefact was not made by deploy."""
    path = sidecar_path(artifact)
    if not path.is_file():
        raise BackendUnavailableError(
            f"{artifact} has no {path.name} beside it; re-create it with `tryon export`, "
            "which writes both"
        )
    return json.loads(path.read_text())


def weights_sha256(model_dir: str | Path) -> str:
    """SHA-256 of a model directory's ``model.safetensors`` (the export's source hash)."""
    return file_sha256(Path(model_dir) / WEIGHTS_FILE)


def state_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of a module's weights serialised as safetensors, for in-memory exports.

    ``save_pretrained`` writes the same bytes for the same tensors, so this equals
    :func:`weights_sha256` of the directory the model was saved to.
    """
    tensors = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
    }
    return bytes_sha256(serialize_tensors(tensors))
