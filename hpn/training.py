"""Generic training plumbing shared by every trainer in the project (HPN, flow net, parser).

Nothing here knows about a particular network. A trainer built on it gets:

- **Determinism**: :func:`seed_everything` seeds python, numpy and torch;
  :func:`capture_rng_state` / :func:`restore_rng_state` snapshot all three (and CUDA) as plain
  tensors and ints, so the snapshot survives ``torch.load(weights_only=True)``.
- **Data order that resumes**: :class:`ResumableSampler` is an endless stream of dataset
  indices (one seeded permutation per epoch, epochs concatenated). Its only state is the number
  of samples already consumed, so a trainer stores ``samples_seen`` and resumes exactly where it
  stopped, whatever the batch size was. :func:`resumable_loader` wraps it in a DataLoader that
  never touches the global torch RNG.
- **Checkpoints**: :func:`save_training_checkpoint` writes a model directory
  (``config.json`` + ``model.safetensors`` via :mod:`core.modelio`) plus ``trainer_state.pt``
  (optimizer, RNG, anything else) plus ``checkpoint.json`` (the completion marker), into a
  hidden temporary directory that is renamed into place only when complete: a kill mid-save
  never leaves a half-written checkpoint that :func:`find_latest_checkpoint` would pick.
  :func:`load_training_checkpoint` reads it back without unpickling code.
- **Logs and artefacts**: :class:`JsonlLogger` (a resumed run continues the same file and
  drops lines past the resumed step), :func:`progress_bar`
  (tqdm with it/s and a loss postfix), :func:`write_resolved_options` (``options.json`` in the
  run directory, as stylegan3 does; refuses to resume a run with different options).
- **Clean interrupts**: :func:`interrupt_guard` turns the first Ctrl-C into a flag the loop
  checks between steps, so the trainer can save a consistent checkpoint and stop.

Typical loop::

    seed_everything(options.seed)
    write_resolved_options(run_dir, options)
    latest = find_latest_checkpoint(run_dir / "checkpoints")
    if latest is not None:
        model = MyNet.from_pretrained(latest).train()
        optimizer = make_optimizer(model)
        state = load_training_checkpoint(latest, optimizer=optimizer).trainer_state
    loader = resumable_loader(dataset, batch_size, seed, samples_seen=state["samples_seen"])
    with JsonlLogger(run_dir / "log.jsonl", resume_step=state["step"]) as log, \\
            interrupt_guard() as interrupt, progress_bar(total, initial=state["step"]) as bar:
        for batch in loader:
            ...  # one optimisation step, state["step"] += 1
            log.log(state["step"], loss=loss)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update()
            if state["step"] % every == 0 or interrupt.requested:
                save_training_checkpoint(run_dir / "checkpoints" / step_name(state["step"]),
                                         model, optimizer, state)
            if interrupt.requested:
                raise KeyboardInterrupt
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from core.errors import CheckpointError
from core.modelio import CONFIG_FILE, WEIGHTS_FILE, PretrainedMixin, read_weights

TRAINER_STATE_FILE = "trainer_state.pt"
CHECKPOINT_MARKER_FILE = "checkpoint.json"
OPTIONS_FILE = "options.json"


# --------------------------------------------------------------------------- determinism


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global RNG and torch (CPU and every CUDA device).

    Also asks cuDNN for deterministic kernels. Call once at the start of a run; a resumed run
    then overwrites these states with :func:`restore_rng_state`.
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def capture_rng_state() -> dict[str, Any]:
    """Snapshot of every global RNG, made only of tensors, ints, floats and lists.

    Returns:
        A dict that :func:`restore_rng_state` accepts and ``torch.save`` / ``torch.load(...,
        weights_only=True)`` round-trip (numpy arrays are stored as int64 tensors).
    """
    version, python_state, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(python_state), "gauss": gauss},
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back a snapshot taken by :func:`capture_rng_state` (CUDA part only if present)."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy["bit_generator"],
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- data order


def epoch_permutation(dataset_size: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch ``epoch`` visits a dataset: a permutation seeded by both."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(dataset_size, generator=generator)


class ResumableSampler(Sampler[int]):
    """Endless, deterministic stream of dataset indices that resumes from a sample count.

    The stream is the concatenation of :func:`epoch_permutation` for epochs 0, 1, 2, ...;
    ``start`` skips the first ``start`` indices of it. A trainer records how many samples it
    has consumed (``samples_seen``, the sum of its batch sizes) and passes that back as
    ``start`` on resume: the data order then continues exactly, even if batch sizes changed
    between levels. DataLoader workers prefetching ahead does not matter, because the state
    is the trainer's count, not the sampler's position.

    Args:
        dataset_size: number of items in the dataset (> 0).
        seed: seed of the permutations.
        start: number of stream entries already consumed.
    """

    def __init__(self, dataset_size: int, seed: int, start: int = 0) -> None:
        if dataset_size <= 0:
            raise ValueError(
                f"dataset_size must be positive, got {dataset_size}: the data is empty"
            )
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.dataset_size = dataset_size
        self.seed = seed
        self.start = start

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.dataset_size)
        while True:
            order = epoch_permutation(self.dataset_size, self.seed, epoch)
            yield from order[offset:].tolist()
            epoch, offset = epoch + 1, 0


def resumable_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    samples_seen: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """An endless DataLoader over :class:`ResumableSampler`, independent of the global RNG.

    The loader gets its own seeded ``torch.Generator`` (for worker seeds), so creating it does
    not advance the global torch RNG: a run resumed mid-way and an uninterrupted run see the
    same global RNG sequence. Iterate it with ``next()`` / ``for``: it never ends.

    Args:
        dataset: a map-style dataset with ``__len__``.
        batch_size: items per batch (the last batch of an epoch borrows from the next epoch).
        seed: seed of the data order.
        samples_seen: how many items earlier steps consumed (sum of their batch sizes).
        num_workers: DataLoader worker processes (0 = load in the main process).
        pin_memory: pin batches for faster host-to-GPU copies.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    sampler = ResumableSampler(len(dataset), seed, start=samples_seen)  # type: ignore[arg-type]
    return loader_over(dataset, sampler, batch_size, seed, num_workers, pin_memory)


def loader_over(
    dataset: Dataset,
    sampler: Sampler[int],
    batch_size: int,
    generator_seed: int,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """The DataLoader every resumable stream uses: the order is the sampler's alone.

    Its own seeded ``torch.Generator`` keeps worker seeds off the global RNG (see
    :func:`resumable_loader`); the distributed loader passes a per-rank seed.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(generator_seed),
        persistent_workers=False,
    )


# --------------------------------------------------------------------------- checkpoints


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
    config = json.loads((directory / CONFIG_FILE).read_text())
    return TrainingCheckpoint(
        path=directory,
        step=int(payload["trainer"]["step"]),
        trainer_state=payload["trainer"],
        optimizer_state=payload["optimizer"],
        rng_state=payload["rng"],
        metadata=dict(config.get("metadata", {})),
    )


# --------------------------------------------------------------------------- logs and artefacts


class JsonlLogger:
    """Append-only JSON-lines log, one record per call, safe to resume.

    Each line is ``{"step": int, "time": unix seconds, **values}``. Opening with
    ``resume_step=s`` first drops every line whose step is greater than ``s`` (work that was
    logged after the checkpoint the run resumes from, which will be redone) and any truncated
    last line of a killed process; the remaining lines are kept and new ones appended.
    ``resume_step=None`` (a fresh run) starts a new file.

    Args:
        path: the ``.jsonl`` file (parent directories are created).
        resume_step: the step of the checkpoint a resumed run continues from.
    """

    def __init__(self, path: str | Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[str] = []
        if resume_step is not None and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if int(record.get("step", 0)) <= resume_step:
                    kept.append(line)
        staging = self.path.with_name(f".{self.path.name}.tmp")
        staging.write_text("".join(f"{line}\n" for line in kept))
        os.replace(staging, self.path)
        self._handle = self.path.open("a")

    def log(self, step: int, **values: Any) -> None:
        """Append one record; tensors of one element and numpy scalars become numbers."""
        record = {"step": int(step), "time": round(time.time(), 3)}
        record.update({key: _plain(value) for key, value in values.items()})
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record of a :class:`JsonlLogger` file."""
    records = []
    for line in Path(path).read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return records


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def progress_bar(
    total: int, initial: int = 0, desc: str = "train", unit: str = "step", disable: bool = False
) -> tqdm:
    """A tqdm bar for a training loop: shows position, it/s and ETA.

    Use ``bar.set_postfix(loss=f"{loss:.4f}", refresh=False)`` then ``bar.update()`` each step;
    ``initial`` makes a resumed run start the bar where it stopped. Use it as a context manager
    so the bar is closed on interrupt. ``disable`` hides it (tests, quiet runs).
    """
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        dynamic_ncols=True,
        smoothing=0.1,
        disable=disable,
    )


def write_resolved_options(
    run_dir: str | Path, options: Mapping[str, Any] | Any, may_change: Sequence[str] = ()
) -> Path:
    """Write the fully resolved options of a run to ``run_dir/options.json`` (stylegan3 style).

    A run directory belongs to one set of options: if ``options.json`` already exists (a
    resumed run) and differs in any key other than ``may_change`` (e.g. ``("dry_run",
    "num_workers")``), this raises :class:`core.errors.CheckpointError` naming the differences,
    instead of silently mixing two experiments. Otherwise the file is (re)written.

    Args:
        run_dir: the run directory (created if needed).
        options: a mapping or a dataclass instance of JSON-serialisable values (paths become
            strings, tuples lists).
        may_change: keys allowed to differ when resuming.

    Returns:
        The path of ``options.json``.
    """
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        options = dataclasses.asdict(options)
    resolved = json.loads(json.dumps(dict(options), default=str))
    run_dir = Path(run_dir)
    path = run_dir / OPTIONS_FILE
    if path.is_file():
        previous = json.loads(path.read_text())
        changed = sorted(
            key
            for key in set(previous) | set(resolved)
            if key not in may_change and previous.get(key) != resolved.get(key)
        )
        if changed:
            details = "; ".join(
                f"{key}: {previous.get(key)!r} -> {resolved.get(key)!r}" for key in changed
            )
            raise CheckpointError(
                f"{run_dir} holds a run made with other options ({details}); rerun with the "
                f"same options to resume it, or choose a new output directory"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    staging = run_dir / f".{OPTIONS_FILE}.tmp"
    staging.write_text(json.dumps(resolved, indent=2, sort_keys=True) + "\n")
    os.replace(staging, path)
    return path


# --------------------------------------------------------------------------- interrupts


@dataclasses.dataclass
class InterruptFlag:
    """Set by the first Ctrl-C inside :func:`interrupt_guard`; the loop checks ``requested``."""

    requested: bool = False


@contextlib.contextmanager
def interrupt_guard() -> Iterator[InterruptFlag]:
    """Defer the first SIGINT to a step boundary so a consistent checkpoint can be saved.

    Inside the block the first Ctrl-C only sets ``flag.requested``; the loop should save and
    then ``raise KeyboardInterrupt``. A second Ctrl-C interrupts immediately. Outside the main
    thread (where signal handlers cannot be installed) the flag is never set and Ctrl-C keeps
    its default behaviour.
    """
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
