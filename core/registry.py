"""One registry of the project's networks: ``model_type`` -> class and presets.

Deploy, shipping, the pipeline and the contract tests look model types up here instead of
keeping their own tables. An entry names its class as an import path (``"module:Class"``)
and is imported only when looked up, so :mod:`core` never imports a model package.

A new network joins with :func:`register` (the built-in ones are registered at the bottom of
this module). Its ``model_type`` is the spelling written into every ``config.json``;
``aliases`` are older spellings that :mod:`core.modelio` migrates on load.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UnknownModelTypeError


@dataclass(frozen=True)
class ModelEntry:
    """What the project knows about one network type.

    Attributes:
        model_type: the registry key, as written into ``config.json`` (snake_case).
        model_class: ``"module:Class"`` of the ``nn.Module`` (a :class:`core.modelio.
            PretrainedMixin`), imported on first use.
        presets: names of constructors on the class's ``config_class`` (``HPNConfig.small``)
            that build a named configuration; the first is the default.
        aliases: older spellings of ``model_type`` in model directories written before it.
        exportable: deploy can export it (it has an I/O signature in :mod:`deploy.registry`).
        summary: one line for listings.
    """

    model_type: str
    model_class: str
    presets: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    exportable: bool = False
    summary: str = ""

    def __post_init__(self) -> None:
        module, _, name = self.model_class.partition(":")
        if not module or not name:
            raise ValueError(f"model_class must be 'module:Class', got {self.model_class!r}")

    def load_class(self) -> type:
        """The network class (imports its module)."""
        module, name = self.model_class.split(":")
        return getattr(importlib.import_module(module), name)

    def config_class(self) -> type:
        """The frozen config dataclass the class is built from."""
        return self.load_class().config_class

    def preset(self, name: str | None = None) -> Any:
        """The config of preset ``name`` (None: the default preset)."""
        if not self.presets:
            raise UnknownModelTypeError(f"{self.model_type} has no presets")
        chosen = self.presets[0] if name is None else name
        if chosen not in self.presets:
            raise UnknownModelTypeError(
                f"{self.model_type} has no preset {chosen!r}; choose one of "
                f"{', '.join(self.presets)}"
            )
        return getattr(self.config_class(), chosen)()


_ENTRIES: dict[str, ModelEntry] = {}
_ALIASES: dict[str, str] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Make a network type known to every consumer of the registry."""
    for name in (entry.model_type, *entry.aliases):
        owner = _ALIASES.get(name)
        if owner is not None and owner != entry.model_type:
            raise ValueError(f"model type {name!r} is already taken by {owner!r}")
    _ENTRIES[entry.model_type] = entry
    _ALIASES.update(dict.fromkeys((entry.model_type, *entry.aliases), entry.model_type))
    return entry


def model_types() -> tuple[str, ...]:
    """Every registered ``model_type``, sorted."""
    return tuple(sorted(_ENTRIES))


def canonical_model_type(name: str) -> str:
    """The current spelling of a model type or one of its aliases.

    Raises:
        UnknownModelTypeError: not a registered type, with the known ones listed.
    """
    try:
        return _ALIASES[name]
    except (KeyError, TypeError):
        raise UnknownModelTypeError(
            f"unknown model type {name!r}; known: {', '.join(model_types())}"
        ) from None


def entry(model_type: str) -> ModelEntry:
    """The registry entry of a model type (an alias is accepted)."""
    return _ENTRIES[canonical_model_type(model_type)]


def model_class(model_type: str) -> type:
    """The network class of a model type (imported lazily)."""
    return entry(model_type).load_class()


def load_model(directory: str | Path) -> Any:
    """Load a model directory of any registered type (float32, eval mode)."""
    from core.modelio import read_config_json

    return model_class(read_config_json(directory)["model_type"]).from_pretrained(directory)


HPN = register(
    ModelEntry(
        "hpn",
        "hpn.model:HPN",
        presets=("small", "paper", "tiny"),
        exportable=True,
        summary="pose transfer: person image + target pose maps -> the person in that pose",
    )
)
HPN_WARP_REFINE = register(
    ModelEntry(
        "hpn_warp_refine",
        "hpn.warp_refine:WarpRefineHPN",
        presets=("small", "tiny"),
        exportable=True,
        summary="pose transfer by moving pixels: part-warp prior + pose maps -> residual "
        "flow, visibility mask and fill colours",
    )
)
APPEARANCE_FLOW = register(
    ModelEntry(
        "appearance_flow",
        "flow.model:AppearanceFlowNet",
        presets=("small", "full"),
        exportable=True,
        summary="garment warp: product photo + masks -> flow, warped garment and mask",
    )
)
HUMAN_PARSER = register(
    ModelEntry(
        "human_parser",
        "tryon.preprocess.parser:HumanParser",
        presets=("small", "mobile"),
        aliases=("human-parser",),
        exportable=True,
        summary="human parsing: photo -> 20 LIP labels per pixel",
    )
)
