"""Model directories: ``config.json`` (the config that built the model) + ``model.safetensors``.

Every network in the project is saved and loaded through this module, so a model directory
always looks the same and loading never unpickles code. ``config.json`` (format version 1)::

    {
      "format_version": 1,               # bumped when a field is renamed; older ones migrate
      "library_version": "0.1.0",        # the hpn-tryon that wrote it
      "model_type": "hpn",               # a key of core.registry
      "config": {...},                   # the frozen config dataclass (unknown keys refused)
      "architecture": {...},             # shape state beyond the config (HPN's level)
      "metadata": {...}                  # the training record, schema below
    }

The metadata block (:func:`training_metadata` writes it) has the same keys for every network:
``steps`` (optimisation steps the weights have seen), ``data`` (the training set's name, never
a path), ``data_items``, ``backbone`` (``{"name", "sha256", "convention", "layers"}`` of the
perceptual backbone, or null), ``train`` (the training options) and, for shipped models,
``shipped_from`` (``{"sha256", "dtype"}``); networks may add more keys.

Documents written before format versions existed (version 0) are migrated on load by
:func:`migrate_document`: the old model-type spellings of :mod:`core.registry`, the step
counters ``trained_steps`` / ``step``, ``training_data``, ``train_config``, ``images`` /
``data_pairs``, a backbone given as a bare SHA-256, and paths (reduced to names).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar, Self, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from core.errors import CheckpointError, UnknownModelTypeError
from core.files import write_bytes_atomic, write_json_atomic
from core.registry import canonical_model_type

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
# Folder names of the data layouts: a data set is named by the folder above them.
_LAYOUT_FOLDERS = ("viton", "deepfashion", "train", "test")

ConfigT = TypeVar("ConfigT")


def library_version() -> str:
    """The installed hpn-tryon's version ("unknown" when run from a bare source tree)."""
    try:
        return importlib.metadata.version("hpn-tryon")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as JSON-ready data (tuples become lists)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_class: type[ConfigT], data: Mapping[str, Any]) -> ConfigT:
    """Rebuild ``config_class`` from :func:`config_to_dict` output, refusing unknown keys."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CheckpointError(
            f"{config_class.__name__} has no field(s) {', '.join(unknown)}; the directory was "
            "written for another version of the model"
        )
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


# --------------------------------------------------------------------------- the document


def data_name(data: str | Path) -> str:
    """A data set's name for a record: its folder's name, never the machine's path.

    ``/tmp/hpn_data2`` -> ``hpn_data2``; a layout folder keeps its parent
    (``runs/flow_data/viton`` -> ``flow_data/viton``).
    """
    text = str(data)
    path = PureWindowsPath(text) if ":" in text[:3] or "\\" in text else PurePosixPath(text)
    parts = [part for part in path.parts if part not in ("/", "\\") and not part.endswith(":\\")]
    if not parts:
        return text
    if parts[-1] in _LAYOUT_FOLDERS and len(parts) >= 2:
        return "/".join(parts[-2:])
    return parts[-1]


def backbone_record(
    name: str, sha256: str, convention: str | None = None, layers: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """How metadata names a perceptual backbone: by name and SHA-256, never by path."""
    record: dict[str, Any] = {"name": name, "sha256": sha256}
    if convention is not None:
        record["convention"] = convention
    if layers is not None:
        record["layers"] = list(layers)
    return record


def training_metadata(
    steps: int,
    data: str | Path | None,
    data_items: int | None,
    backbone: Mapping[str, Any] | None,
    train: Mapping[str, Any] | None,
    **extra: Any,
) -> dict[str, Any]:
    """The metadata block of a trained model (see the module docstring for the schema)."""
    return {
        "steps": int(steps),
        "data": None if data is None else data_name(data),
        "data_items": data_items,
        "backbone": None if backbone is None else dict(backbone),
        "train": None if train is None else dict(train),
        **extra,
    }


def migrate_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A version-0 metadata block in the version-1 schema (unknown keys are kept)."""
    old = dict(metadata)
    new: dict[str, Any] = {}
    for key in ("steps", "trained_steps", "step"):
        if key in old:
            new.setdefault("steps", int(old.pop(key)))
    for key in ("data", "training_data"):
        if key in old:
            value = old.pop(key)
            new.setdefault("data", None if value is None else data_name(value))
    for key in ("data_items", "images", "data_pairs"):
        if key in old:
            new.setdefault("data_items", old.pop(key))
    if "backbone" in old:
        new["backbone"] = _migrate_backbone(old.pop("backbone"))
    for key in ("train", "train_config"):
        if key in old:
            new.setdefault("train", old.pop(key))
    if isinstance(old.get("shipped_from"), Mapping):
        shipped = dict(old.pop("shipped_from"))
        shipped.pop("directory", None)
        new["shipped_from"] = shipped
    for key in ("steps", "data", "data_items", "backbone", "train"):
        new.setdefault(key, None)
    return {**new, **old}


def _migrate_backbone(backbone: Any) -> dict[str, Any] | None:
    if backbone is None:
        return None
    if isinstance(backbone, str):
        return {"sha256": backbone}
    record = dict(backbone)
    record.pop("path", None)
    return record


def migrate_document(document: Mapping[str, Any], source: str | Path = "") -> dict[str, Any]:
    """A ``config.json`` document of any known format version, in the current one.

    Raises:
        CheckpointError: a newer format than this library reads, or no model type.
    """
    version = document.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: {CONFIG_FILE} has format_version {version!r}, newer than the "
            f"{FORMAT_VERSION} this hpn-tryon {library_version()} reads; upgrade hpn-tryon"
        )
    model_type = document.get("model_type")
    if not isinstance(model_type, str):
        raise CheckpointError(f"{source}: {CONFIG_FILE} names no model_type")
    with contextlib.suppress(UnknownModelTypeError):  # a class outside the registry (tests)
        model_type = canonical_model_type(model_type)
    metadata = document.get("metadata") or {}
    return {
        "format_version": FORMAT_VERSION,
        "library_version": document.get("library_version", "unknown"),
        "model_type": model_type,
        "config": dict(document.get("config") or {}),
        "architecture": dict(document.get("architecture") or {}),
        "metadata": migrate_metadata(metadata) if version == 0 else dict(metadata),
    }


def read_raw_config_json(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` as stored, with a clear error when it is absent or broken."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a model directory (no {CONFIG_FILE})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: invalid JSON ({error})") from error


def read_config_json(directory: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a model directory in the current format (migrated if older)."""
    return migrate_document(read_raw_config_json(directory), directory)


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """The metadata block of a model directory (training data, steps, backbone)."""
    return dict(read_config_json(directory)["metadata"])


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


def find_absolute_paths(value: Any, where: str = "") -> list[str]:
    """Places in a JSON document holding an absolute path (which a shipped file must not)."""
    if isinstance(value, Mapping):
        return [
            found
            for key, item in value.items()
            for found in find_absolute_paths(item, f"{where}.{key}")
        ]
    if isinstance(value, list):
        return [
            found
            for i, item in enumerate(value)
            for found in find_absolute_paths(item, f"{where}[{i}]")
        ]
    if isinstance(value, str) and (value.startswith(("/", "~")) or ":\\" in value[:3]):
        return [f"{where.lstrip('.')}: {value}"]
    return []


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` built from a frozen config.

    A subclass sets ``model_type`` (its :mod:`core.registry` key) and ``config_class``, keeps
    its config in ``self.config``, and may override :meth:`architecture_state` /
    :meth:`from_architecture_state` when its shape depends on more than the config (HPN's
    current resolution level, say). A loaded model carries its metadata block in
    ``pretrained_metadata``, which :meth:`save_pretrained` writes back unless given another.
    """

    model_type: ClassVar[str]
    config_class: ClassVar[type]
    config: Any
    pretrained_metadata: dict[str, Any] | None = None

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
        metadata: Mapping[str, Any] | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (optionally cast, e.g. to fp16).

        Args:
            directory: the model directory (created if needed).
            metadata: the training record (None: the one it was loaded with, if any).
            dtype: cast floating-point tensors to this dtype (fp16 for shipping).

        Returns:
            ``directory``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        module = typing.cast(torch.nn.Module, self)
        tensors = {}
        for name, tensor in module.state_dict().items():
            tensor = tensor.detach().cpu()
            if dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(dtype)
            tensors[name] = tensor.contiguous()
        if metadata is None:
            metadata = self.pretrained_metadata or {}
        document = {
            "format_version": FORMAT_VERSION,
            "library_version": library_version(),
            "model_type": self.model_type,
            "config": config_to_dict(self.config),
            "architecture": self.architecture_state(),
            "metadata": dict(metadata),
        }
        write_bytes_atomic(directory / WEIGHTS_FILE, save(tensors))
        write_json_atomic(directory / CONFIG_FILE, document)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Self:
        """Load a model directory written by :meth:`save_pretrained`, in float32, eval mode."""
        document = read_config_json(directory)
        if document["model_type"] != cls.model_type:
            raise CheckpointError(
                f"{directory}: holds a {document['model_type']!r} model, "
                f"not a {cls.model_type!r} model"
            )
        config = config_from_dict(cls.config_class, document["config"])
        model = cls.from_architecture_state(config, document["architecture"])
        module = typing.cast(torch.nn.Module, model)
        try:
            module.load_state_dict(read_weights(directory), strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{directory}: weights do not fit the config: {error}") from error
        model.pretrained_metadata = document["metadata"]
        return typing.cast(Self, module.eval())
