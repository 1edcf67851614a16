"""Turn a trained model directory into a shippable one: fp16 weights, provenance recorded.

The demo models in ``tryon/demo/models`` are made with this (``tryon models ship``); loading
casts them back to float32 (:meth:`core.modelio.PretrainedMixin.from_pretrained`). A shipped
``config.json`` is in the current format and holds no path of the machine that trained it:
the metadata is migrated (:func:`core.modelio.migrate_metadata`) and checked.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core import registry
from core.errors import CoreError
from core.files import file_sha256
from core.modelio import WEIGHTS_FILE, find_absolute_paths, migrate_metadata, read_metadata
from tryon.errors import InvalidInputError


def ship_model(source: str | Path, destination: str | Path) -> Path:
    """Write ``destination`` = ``source`` with fp16 weights; metadata gains ``shipped_from``.

    Args:
        source: a trained model directory (config.json + model.safetensors) of any
            registered model type.
        destination: the model directory to write (a MODEL_CARD.md there is kept).

    Returns:
        ``destination``.

    Raises:
        InvalidInputError: not a model directory, an unknown model type, or metadata that
            still holds an absolute path.
    """
    source = Path(source)
    if not (source / WEIGHTS_FILE).is_file():
        raise InvalidInputError(f"{source} has no {WEIGHTS_FILE}: not a model directory")
    try:
        model = registry.load_model(source)
    except CoreError as error:
        raise InvalidInputError(f"{source}: cannot be shipped: {error}") from error
    metadata = migrate_metadata(read_metadata(source))
    metadata["shipped_from"] = {"sha256": file_sha256(source / WEIGHTS_FILE), "dtype": "float16"}
    absolute = find_absolute_paths(metadata)
    if absolute:
        raise InvalidInputError(
            f"{source}: its metadata records paths of this machine ({'; '.join(absolute)}); "
            "a shipped model must name its data and backbone, not locate them"
        )
    return model.save_pretrained(destination, metadata=metadata, dtype=torch.float16)
