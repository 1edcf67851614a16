"""Atomic, resumable checkpoints that are also loadable model directories.

:func:`save_training_checkpoint` writes a model directory (``config.json`` +
``model.safetensors`` via :mod:`core.modelio`) plus ``trainer_state.pt`` (optimizer, RNG,
anything else) plus ``checkpoint.json`` (the completion marker), into a hidden temporary
directory that is renamed into place only when complete: a kill mid-save never leaves a
half-written checkpoint that :func:`find_latest_checkpoint` would pick.
:func:`load_training_checkpoint` reads it back without unpickling code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core.errors import CheckpointError
from core.modelio import CONFIG_FILE, WEIGHTS_FILE, PretrainedMixin, read_config_json, read_weights
from core.training.rng import capture_rng_state, restore_rng_state

TRAINER_STATE_FILE = "trainer_state.pt"
CHECKPOINT_MARKER_FILE = "checkpoint.json"


@dataclasses.dataclass(frozen=True)
class TrainingCheckpoint:
    """What :func:`load_training_checkpoint` read back.

    Attributes:
        path: the checkpoint directory (also a model directory for ``from_pretrained``).
        step: ``trainer_state["step"]`` at save time.
        trainer_state: the caller's dict, as saved.
        optimizer_state: the optimizer's ``state_dict()`` (None if none was saved).
        rng_state: the :func:`capture_rng_state` snapshot taken at save time.
        metadata: the model directory's metadata block.
    """

    path: Path
    step: int
    trainer_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None
    rng_state: dict[str, Any]
    metadata: dict[str, Any]


def step_name(step: int) -> str:
    """Directory name of the checkpoint taken after ``step`` steps (sorts by step)."""
    return f"step-{step:09d}"


def save_training_checkpoint(
    directory: str | Path,
    model: PretrainedMixin,
    optimizer: torch.optim.Optimizer | None,
    trainer_state: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Atomically write a resumable checkpoint that is also a loadable model directory.

    Layout of ``directory``: ``config.json`` + ``model.safetensors`` (``model.save_pretrained``,
    so ``MyNet.from_pretrained(directory)`` works), ``trainer_state.pt`` ({"optimizer",
    "rng", "trainer"}) and ``checkpoint.json`` ({"step", "time"}). Everything is first written
    into a hidden sibling ``.<name>.tmp-<id>`` and renamed into place at the end; an existing
    ``directory`` is replaced (moved aside, then deleted after the rename). Prefer one directory
    per step (:func:`step_name`) plus :func:`prune_checkpoints`: then no moment exists at which
    the newest complete checkpoint is missing.

    Args:
        directory: where the checkpoint goes, e.g. ``run_dir / "checkpoints" / step_name(s)``.
        model: a module using :class:`core.modelio.PretrainedMixin`.
        optimizer: its optimizer (None for none).
        trainer_state: plain data (ints, floats, str, lists, dicts, tensors) that must include
            an int ``"step"``; anything a loop needs to continue (samples seen, level, the
            AMP scaler's ``state_dict()``, ...).
        metadata: free-form JSON data stored in ``config.json`` (data set, backbone, ...).

    Returns:
        The final checkpoint directory.
    """
    directory = Path(directory)
    step = trainer_state.get("step")
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"trainer_state must hold a non-negative int 'step', got {step!r}")
    directory.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = directory.parent / f".{directory.name}.tmp-{token}"
    try:
        model.save_pretrained(staging, metadata=dict(metadata or {}))
        payload = {
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "rng": capture_rng_state(),
            "trainer": dict(trainer_state),
        }
        torch.save(payload, staging / TRAINER_STATE_FILE)
        marker = {"step": step, "time": time.time()}
        (staging / CHECKPOINT_MARKER_FILE).write_text(json.dumps(marker) + "\n")
        _fsync_directory_files(staging)
        if directory.exists():
            retired = directory.parent / f".{directory.name}.old-{token}"
            os.replace(directory, retired)
            os.replace(staging, directory)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return directory


def _fsync_directory_files(directory: Path) -> None:
    """Flush every file of ``directory`` to disk before the rename publishes it."""
    for path in directory.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def is_complete_checkpoint(directory: str | Path) -> bool:
    """Whether ``directory`` holds every file :func:`save_training_checkpoint` writes."""
    directory = Path(directory)
    required = (CONFIG_FILE, WEIGHTS_FILE, TRAINER_STATE_FILE, CHECKPOINT_MARKER_FILE)
    return all((directory / name).is_file() for name in required)


def _checkpoint_step(directory: Path) -> int:
    return int(json.loads((directory / CHECKPOINT_MARKER_FILE).read_text())["step"])


def list_checkpoints(checkpoints_dir: str | Path) -> list[Path]:
    """Complete checkpoints directly inside ``checkpoints_dir``, oldest step first.

    Hidden entries (temporary or retired directories of an interrupted save) are ignored.
    """
    checkpoints_dir = Path(checkpoints_dir)
    if not checkpoints_dir.is_dir():
        return []
    found = [
        path
        for path in checkpoints_dir.iterdir()
        if path.is_dir() and not path.name.startswith(".") and is_complete_checkpoint(path)
    ]
    return sorted(found, key=lambda path: (_checkpoint_step(path), path.name))


def find_latest_checkpoint(checkpoints_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step in ``checkpoints_dir``, or None."""
    checkpoints = list_checkpoints(checkpoints_dir)
    return checkpoints[-1] if checkpoints else None


def prune_checkpoints(checkpoints_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest complete checkpoints (and stale hidden temporaries).

    Returns:
        The deleted directories.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1 so a run can always resume, got {keep}")
    checkpoints_dir = Path(checkpoints_dir)
    doomed = list_checkpoints(checkpoints_dir)[:-keep]
    if checkpoints_dir.is_dir():
        doomed += [
            path
            for path in checkpoints_dir.iterdir()
            if path.is_dir()
            and path.name.startswith(".")
            and (".tmp-" in path.name or ".old-" in path.name)
        ]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def load_training_checkpoint(
    directory: str | Path,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    restore_rng: bool = True,
) -> TrainingCheckpoint:
    """Read a checkpoint of :func:`save_training_checkpoint`; optionally load it into objects.

    Rebuilding a model whose shape depends on training progress (HPN's level) is the model
    class's job: call ``MyNet.from_pretrained(directory)`` first, then build the optimizer
    over its parameters and pass it here. Alternatively pass an already-built ``model`` to
    load the weights into it (strict). Nothing is unpickled (``weights_only=True``).

    Args:
        directory: a complete checkpoint directory.
        model: if given, receives the saved weights.
        optimizer: if given, receives the saved optimizer state.
        restore_rng: put back the python/numpy/torch RNG states saved with the checkpoint.

    Returns:
        The checkpoint's contents (see :class:`TrainingCheckpoint`).
    """
    directory = Path(directory)
    if not is_complete_checkpoint(directory):
        raise CheckpointError(
            f"{directory}: not a complete training checkpoint (needs {CONFIG_FILE}, "
            f"{WEIGHTS_FILE}, {TRAINER_STATE_FILE} and {CHECKPOINT_MARKER_FILE})"
        )
    try:
        payload = torch.load(directory / TRAINER_STATE_FILE, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{directory / TRAINER_STATE_FILE}: unreadable ({error})") from error
    if model is not None:
        try:
            model.load_state_dict(read_weights(directory), strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{directory}: weights do not fit the model: {error}") from error
    if optimizer is not None:
        if payload["optimizer"] is None:
            raise CheckpointError(f"{directory}: saved without optimizer state")
        optimizer.load_state_dict(payload["optimizer"])
    if restore_rng:
        restore_rng_state(payload["rng"])
    metadata = read_config_json(directory)["metadata"]
    return TrainingCheckpoint(
        path=directory,
        step=int(payload["trainer"]["step"]),
        trainer_state=payload["trainer"],
        optimizer_state=payload["optimizer"],
        rng_state=payload["rng"],
        metadata=dict(metadata),
    )
