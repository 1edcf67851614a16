"""What a run leaves to read: the JSONL log, the progress bar, the resolved options, Ctrl-C.

- :class:`JsonlLogger`: one JSON record per call; a resumed run continues the same file and
  drops lines past the resumed step.
- :func:`progress_bar`: tqdm with it/s and a loss postfix.
- :func:`write_resolved_options`: ``options.json`` in the run directory (as stylegan3 does), one
  flat shape for every network; refuses to resume a run with different options.
- :func:`interrupt_guard`: the first Ctrl-C becomes a flag the loop checks between steps, so
  it can save a consistent checkpoint and stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from core.errors import CheckpointError
from core.files import write_json_atomic, write_text_atomic

OPTIONS_FILE = "options.json"


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
        write_text_atomic(self.path, "".join(f"{line}\n" for line in kept))
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
    write_json_atomic(path, resolved, sort_keys=True)
    return path


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
