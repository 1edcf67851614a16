"""``load_backend``: one entry point from a model directory or artefact to a :class:`Backend`.

Resolution rules (what the path may be, per backend):

- ``torch``: a model directory (``config.json`` + ``model.safetensors``).
- ``onnxruntime``: an ``.onnx`` file, or a model directory holding ``model.onnx``.
- ``tensorrt``: an ``.engine`` file, or a model directory holding ``model.<precision>.engine``.

An artefact found through a model directory must have been exported from that directory's
current weights (sidecar hash); otherwise it is refused with the command that re-exports it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.devices import resolve_device
from core.errors import DeviceUnavailableError
from core.modelio import CONFIG_FILE
from deploy.artifacts import ONNX_FILE, engine_file, read_sidecar, weights_sha256
from deploy.errors import BackendUnavailableError, DeployError
from deploy.interface import Backend
from deploy.names import BACKENDS, PRECISIONS
from deploy.registry import load_model


def load_backend(
    path_or_model_dir: str | Path,
    backend: str = "torch",
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    threads: int | None = None,
) -> Backend:
    """Load a model behind the common :class:`Backend` interface.

    Args:
        path_or_model_dir: a model directory, an ``.onnx`` file or an ``.engine`` file.
        backend: "torch", "onnxruntime" or "tensorrt".
        device: "cpu", "cuda", "cuda:N" or "auto".
        precision: "fp32", "fp16" or "bf16" (torch: autocast; tensorrt: picks the engine;
            onnxruntime: fp32 only).
        channels_last: torch only: NHWC weights and inputs.
        compile: torch only: ``torch.compile`` the graph.
        threads: onnxruntime only: intra-op CPU threads (default: torch's thread count).

    Returns:
        A callable ``backend(**named_inputs) -> {output_name: tensor}``.

    Raises:
        BackendUnavailableError: the backend's package, device or artefact is missing; the
            message says how to get it.
        DeployError: an unknown backend or precision, or a stale artefact.
    """
    if backend not in BACKENDS:
        raise DeployError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise DeployError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    path = Path(path_or_model_dir)
    if not path.exists():
        raise BackendUnavailableError(f"{path} does not exist")
    try:
        resolved = resolve_device(device)
    except DeviceUnavailableError as error:
        raise BackendUnavailableError(str(error)) from error
    if backend == "torch":
        from deploy.torch_backend import TorchBackend

        if not (path / CONFIG_FILE).is_file():
            raise BackendUnavailableError(
                f"the torch backend needs a model directory ({CONFIG_FILE} + weights); {path} "
                "is not one"
            )
        model, model_io = load_model(path)
        return TorchBackend(model, model_io, resolved, precision, channels_last, compile)
    if backend == "onnxruntime":
        from deploy.onnxruntime_backend import OnnxRuntimeBackend, cuda_provider_available

        if precision != "fp32":
            raise DeployError(
                "the onnxruntime backend runs the fp32 ONNX graph; for fp16/bf16 use the "
                "tensorrt backend (GPU) or the torch backend (autocast)"
            )
        if str(device) == "auto" and not cuda_provider_available():
            resolved = torch.device("cpu")  # "auto": the CUDA provider if usable, else CPU
        artifact = _artifact(path, ONNX_FILE, f"--format onnx --out {path / ONNX_FILE}")
        if artifact.suffix != ".onnx":
            raise DeployError(f"the onnxruntime backend runs .onnx files, not {artifact.name}")
        return OnnxRuntimeBackend(artifact, resolved, threads)
    from deploy.tensorrt_runtime import TensorRTBackend

    name = engine_file(precision)
    artifact = _artifact(
        path, name, f"--format tensorrt --precision {precision} --out {path / name}"
    )
    if artifact.suffix == ".onnx":
        raise DeployError(
            f"the tensorrt backend runs engines; build one from {artifact.name} with "
            "`tryon export --format tensorrt`"
        )
    return TensorRTBackend(artifact, resolved)


def _artifact(path: Path, file_name: str, export_arguments: str) -> Path:
    """The artefact itself, or the one inside a model directory if it is current."""
    if path.is_file():
        return path
    artifact = path / file_name
    command = f"tryon export --model {path} {export_arguments}"
    if not artifact.is_file():
        raise BackendUnavailableError(f"{path} has no {file_name}; make it with `{command}`")
    recorded = read_sidecar(artifact).get("source", {}).get("sha256")
    if recorded != weights_sha256(path):
        raise BackendUnavailableError(
            f"{artifact} was exported from other weights than {path}'s current ones; "
            f"re-export with `{command}`"
        )
    return artifact
