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
from safetensors import SafetensorError, safe_open
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


def config_from_dict(
    config_class: type[ConfigT], data: Mapping[str, Any], where: str = "config"
) -> ConfigT:
    """Rebuild ``config_class`` from :func:`config_to_dict` output, checking every value.

    Unknown keys are refused, and so is a value of the wrong type for its field (a string
    where an int goes, a float for a bool, a list of the wrong length): a model is never
    built from a config it was not written with. JSON lists become the declared tuples.

    Args:
        config_class: the frozen config dataclass.
        data: its JSON form.
        where: how messages name ``data`` (nested configs extend it: ``config.loss``).

    Raises:
        CheckpointError: not a JSON object, an unknown key, a value of the wrong type, or a
            value the dataclass itself refuses.
    """
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{where} must be a JSON object, got {_describe(data)}")
    fields = {field.name: field for field in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CheckpointError(
            f"{config_class.__name__} has no field(s) {', '.join(unknown)}; the directory was "
            "written for another version of the model"
        )
    hints = typing.get_type_hints(config_class)
    values = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return config_class(**values)
    except (TypeError, ValueError) as error:  # the dataclass's own checks
        raise CheckpointError(f"{where}: {error}") from error


def _describe(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | None) else ""
    kind = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    kind |= {list: "a list", dict: "an object", type(None): "null"}
    name = kind.get(type(value), type(value).__name__)
    return f"{name} {text}".strip() if text and len(text) <= 40 else name


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """``value`` as the type ``hint`` declares (JSON lists become tuples), or CheckpointError."""
    origin = typing.get_origin(hint)
    if hint is Any or isinstance(hint, typing.TypeVar):
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in (arg for arg in options if arg is not type(None)):
            with contextlib.suppress(CheckpointError):
                return _coerce(option, value, where)
        raise CheckpointError(f"{where} must be {_expected(hint)}, got {_describe(value)}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint) or isinstance(value, bool):
            raise CheckpointError(f"{where} must be {_expected(hint)}, got {_describe(value)}")
        return value
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise CheckpointError(f"{where} must be a list, got {_describe(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise CheckpointError(f"{where} must be a list of {len(args)} values, got {len(value)}")
        return tuple(
            _coerce(arg, item, f"{where}[{i}]")
            for i, (arg, item) in enumerate(zip(args, value, strict=True))
        )
    if dataclasses.is_dataclass(hint):
        return config_from_dict(hint, value, where)  # type: ignore[arg-type]
    if hint is bool:
        if not isinstance(value, bool):
            raise CheckpointError(f"{where} must be true or false, got {_describe(value)}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CheckpointError(f"{where} must be an integer, got {_describe(value)}")
        return value
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise CheckpointError(f"{where} must be a number, got {_describe(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise CheckpointError(f"{where} must be a string, got {_describe(value)}")
        return value
    return value


def _expected(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(json.dumps(arg) for arg in typing.get_args(hint))
    return str(hint).replace("typing.", "")


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
    blocks = {}
    for name in ("config", "architecture", "metadata"):
        block = document.get(name)
        if block is None:  # absent (older writers): defaults, which the weights then check
            block = {}
        if not isinstance(block, dict):
            raise CheckpointError(
                f"{source}: {CONFIG_FILE}'s {name!r} must be a JSON object, got {_describe(block)}"
            )
        blocks[name] = dict(block)
    metadata = blocks["metadata"]
    return {
        "format_version": FORMAT_VERSION,
        "library_version": document.get("library_version", "unknown"),
        "model_type": model_type,
        "config": blocks["config"],
        "architecture": blocks["architecture"],
        "metadata": migrate_metadata(metadata) if version == 0 else metadata,
    }


def read_raw_config_json(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` as stored, with a clear error when it is absent or broken."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a model directory (no {CONFIG_FILE})")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror or error})") from error
    except ValueError as error:  # not JSON, or not UTF-8
        raise CheckpointError(f"{path}: invalid JSON ({error})") from error
    if not isinstance(document, dict):
        raise CheckpointError(f"{path}: must hold a JSON object, got {_describe(document)}")
    return document


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


def read_weight_shapes(directory: str | Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in ``model.safetensors``, from its header alone.

    Raises:
        CheckpointError: the file is missing, truncated or not safetensors.
    """
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {WEIGHTS_FILE}")
    try:
        with safe_open(str(path), framework="pt") as weights:
            names = weights.keys()
            return {name: tuple(weights.get_slice(name).get_shape()) for name in names}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path}: unreadable weights, truncated or corrupt ({error})"
        ) from error


def check_weights_fit(
    directory: str | Path, expected: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """Refuse a model directory whose weights are not the tensors its config builds.

    Args:
        directory: the model directory.
        expected: name -> shape of the model ``config.json`` builds (a ``meta``-device model's
            ``state_dict``: nothing allocated).

    Returns:
        The weights' shapes.

    Raises:
        CheckpointError: names missing or extra, or shapes that differ, with the first few.
    """
    found = read_weight_shapes(directory)
    problems = [f"{name} is missing" for name in expected if name not in found]
    problems += [f"{name} is not in the model" for name in found if name not in expected]
    problems += [
        f"{name} is {list(found[name])} in {WEIGHTS_FILE} but {list(shape)} by {CONFIG_FILE}"
        for name, shape in expected.items()
        if name in found and tuple(found[name]) != tuple(shape)
    ]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckpointError(
            f"{directory}: the weights do not fit the config in {CONFIG_FILE}: "
            f"{'; '.join(problems[:3])}{more}; "
            "the config or the weights were changed since they were saved together"
        )
    return found


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
        try:
            config = config_from_dict(cls.config_class, document["config"])
        except CheckpointError as error:
            raise CheckpointError(f"{directory}/{CONFIG_FILE}: {error}") from error
        # Build on the meta device first (no memory) and compare with the weights' header, so
        # a config that asks for 200000 channels is refused before anything is allocated.
        skeleton = cls._build(directory, config, document["architecture"], torch.device("meta"))
        expected = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
        check_weights_fit(directory, expected)
        model = cls._build(directory, config, document["architecture"])
        module = typing.cast(torch.nn.Module, model)
        try:
            module.load_state_dict(read_weights(directory), strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{directory}: weights do not fit the config: {error}") from error
        model.pretrained_metadata = document["metadata"]
        return typing.cast(Self, module.eval())

    @classmethod
    def _build(
        cls,
        directory: str | Path,
        config: Any,
        architecture: dict[str, Any],
        device: torch.device | None = None,
    ) -> Any:
        """The untrained model of a directory's config (on ``device``; None: the default)."""
        try:
            with torch.device(device) if device is not None else contextlib.nullcontext():
                return cls.from_architecture_state(config, architecture)
        except (TypeError, ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(
                f"{directory}: {CONFIG_FILE} does not describe a model that can be built "
                f"({type(error).__name__}: {error})"
            ) from error
