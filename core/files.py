"""Files that are either complete or absent: atomic writes, and SHA-256 of files and bytes.

Every writer puts its bytes into a hidden temporary file in the target's folder and renames it
over the target only when the write succeeded (``os.replace`` is atomic on one file system),
so a killed process never leaves a truncated file behind where a reader expects a whole one.
``fsync=True`` also flushes the bytes to disk before the rename (against power loss; slower).

Every file written gets the permissions a new file of ``open()`` gets (0666 less the umask),
not ``mkstemp``'s 0600, so a web server running as another user can serve what was written.
A process killed mid-write (SIGKILL) leaves its
temporary behind: it is named ``.<stem>.<random>.partial<suffix>`` (:data:`TEMPORARY_GLOB`),
so whoever owns the folder can find and delete it (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMPORARY_GLOB = ".*.partial*"
"""What every temporary of :func:`atomic_path` matches (``Path.glob`` pattern)."""
_NEW_FILE_MODE = 0o666  # what open() asks for; the kernel takes the umask off


def _create_temporary(folder: Path, prefix: str, suffix: str, mode: int) -> Path:
    """A new empty file ``folder/prefix<random>suffix``, created with ``mode`` less the umask."""
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            handle = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        os.close(handle)
        return candidate
    raise FileExistsError(f"no free temporary name for {prefix}*{suffix} in {folder}")


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``target`` that becomes ``target`` when the block succeeds.

    For writers that want a file name rather than a handle (OpenCV's video writer, ONNX,
    TensorRT engines). The temporary keeps the target's suffix, so format detection by suffix
    still works. On an exception the temporary is deleted and ``target`` is left untouched.

    Args:
        target: the file to create or replace (its parent folders are created).
        suffix: the temporary's suffix when it must differ from the target's (a writer that
            picks its format by suffix, writing to a target without one).

    Yields:
        The temporary path to write to.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _create_temporary(
        target.parent,
        prefix=f".{target.stem}.",
        suffix=f".partial{target.suffix if suffix is None else suffix}",
        mode=_NEW_FILE_MODE,
    )
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "wb", fsync: bool = False) -> Iterator[IO[Any]]:
    """``open(target, mode)`` that publishes the file only when the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', got {mode!r}")
    with atomic_path(target) as temporary, temporary.open(mode) as stream:
        yield stream
        if fsync:
            stream.flush()
            os.fsync(stream.fileno())


def remove_stale_temporaries(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Delete the temporaries that killed writers left in ``folder``; returns them.

    Only call it while no other process writes there (a batch holds its folder's lock).
    """
    folder = Path(folder)
    found = folder.rglob(TEMPORARY_GLOB) if recursive else folder.glob(TEMPORARY_GLOB)
    removed = []
    for path in found:
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "wb") as stream:
        stream.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any, sort_keys: bool = False) -> Path:
    """Write ``data`` as indented JSON (with a final newline) atomically; returns ``path``."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (hex digest)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """SHA-256 of in-memory bytes (hex digest)."""
    return hashlib.sha256(data).hexdigest()
