"""Model directories: ``config.json`` (the config that built the model) + ``model.safetensors``.

Every network in the project (HPN, the flow net, the parser) is saved and loaded through this
module, so a model directory always looks the same and loading never unpickles code.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hpn.errors import CheckpointError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

ConfigT = TypeVar("ConfigT")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as JSON-ready data (tuples become lists)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_class: type[ConfigT], data: dict[str, Any]) -> ConfigT:
    """Rebuild ``config_class`` from :func:`config_to_dict` output, refusing unknown keys."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CheckpointError(f"{config_class.__name__} has no field(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(config_class)
    values = {name: _coerce(hints[name], value) for name, value in data.items()}
    return config_class(**values)


def _coerce(hint: Any, value: Any) -> Any:
    """Turn JSON lists back into the tuples a frozen dataclass declares."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _coerce(options[0], value) if len(options) == 1 else value
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item) for item in value)
        return tuple(_coerce(arg, item) for arg, item in zip(args, value, strict=True))
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return config_from_dict(hint, value)  # type: ignore[arg-type]
    return value


def read_config_json(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a model directory, with a clear error when it is absent."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a model directory (no {CONFIG_FILE})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: invalid JSON ({error})") from error


def read_weights(directory: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors``; a truncated or corrupt file is a CheckpointError."""
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {WEIGHTS_FILE}")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path}: unreadable weights, truncated or corrupt ({error})"
        ) from error


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` built from a frozen config.

    A subclass sets ``model_type`` and ``config_class``, keeps its config in ``self.config``,
    and may override :meth:`architecture_state` / :meth:`from_architecture_state` when its
    shape depends on more than the config (HPN's current resolution level, say).
    """

    model_type: ClassVar[str]
    config_class: ClassVar[type]
    config: Any

    def architecture_state(self) -> dict[str, Any]:
        """Extra JSON data needed to rebuild the same architecture (default: none)."""
        return {}

    @classmethod
    def from_architecture_state(cls, config: Any, state: dict[str, Any]) -> Self:
        """Build an untrained model of the saved architecture."""
        return cls(config)  # type: ignore[call-arg]

    def save_pretrained(
        self,
        directory: str | Path,
        metadata: dict[str, Any] | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (optionally cast, e.g. to fp16)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        module = typing.cast(torch.nn.Module, self)
        tensors = {}
        for name, tensor in module.state_dict().items():
            tensor = tensor.detach().cpu()
            if dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(dtype)
            tensors[name] = tensor.contiguous()
        document = {
            "model_type": self.model_type,
            "config": config_to_dict(self.config),
            "architecture": self.architecture_state(),
            "metadata": metadata or {},
        }
        save_file(tensors, directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(document, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Self:
        """Load a model directory written by :meth:`save_pretrained`, in float32, eval mode."""
        document = read_config_json(directory)
        if document.get("model_type") != cls.model_type:
            raise CheckpointError(
                f"{directory}: holds a {document.get('model_type')!r} model, "
                f"not a {cls.model_type!r} model"
            )
        config = config_from_dict(cls.config_class, document.get("config", {}))
        model = cls.from_architecture_state(config, document.get("architecture", {}))
        module = typing.cast(torch.nn.Module, model)
        try:
            module.load_state_dict(read_weights(directory), strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{directory}: weights do not fit the config: {error}") from error
        return typing.cast(Self, module.eval())


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """The free-form ``metadata`` block of a model directory (training data, steps, backbone)."""
    return dict(read_config_json(directory).get("metadata", {}))
