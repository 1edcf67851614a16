"""Turn a trained model directory into a shippable one: fp16 weights, provenance recorded.

The demo models in ``tryon/demo/models`` are made with this (``tryon models ship``); loading
casts them back to float32 (:meth:`hpn.modelio.PretrainedMixin.from_pretrained`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from hpn.modelio import WEIGHTS_FILE, read_config_json, read_metadata
from tryon.errors import InvalidInputError

# model_type (as written in config.json) -> "module:Class"
MODEL_CLASSES: dict[str, str] = {
    "hpn": "hpn.model:HPN",
    "appearance_flow": "flow.model:AppearanceFlowNet",
    "human-parser": "tryon.preprocess.parser:HumanParser",
}


def model_class_for(directory: str | Path) -> Any:
    """The network class of a model directory, from its ``model_type``."""
    model_type = read_config_json(directory).get("model_type")
    if model_type not in MODEL_CLASSES:
        raise InvalidInputError(
            f"{directory}: model type {model_type!r} cannot be shipped; known types: "
            f"{', '.join(sorted(MODEL_CLASSES))}"
        )
    module, name = MODEL_CLASSES[model_type].split(":")
    return getattr(importlib.import_module(module), name)


def ship_model(source: str | Path, destination: str | Path) -> Path:
    """Write ``destination`` = ``source`` with fp16 weights; metadata gains ``shipped_from``.

    Args:
        source: a trained model directory (config.json + model.safetensors).
        destination: the model directory to write (a MODEL_CARD.md there is kept).

    Returns:
        ``destination``.
    """
    from hpn.vgg import file_sha256

    source = Path(source)
    if not (source / WEIGHTS_FILE).is_file():
        raise InvalidInputError(f"{source} has no {WEIGHTS_FILE}: not a model directory")
    model = model_class_for(source).from_pretrained(source)
    metadata = read_metadata(source)
    metadata["shipped_from"] = {
        "directory": str(source),
        "sha256": file_sha256(source / WEIGHTS_FILE),
        "dtype": "float16",
    }
    return model.save_pretrained(destination, metadata=metadata, dtype=torch.float16)
