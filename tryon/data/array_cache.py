"""A folder of ``.npz`` files holding what is slow to compute per data set item.

Priors (part warps of a pose pair, garment fits) cost tens of milliseconds per item, more
than a CPU training step can afford every epoch. :func:`cached_arrays` computes an item's
arrays once, writes them atomically as float16 / uint8 ``.npz`` (a torn file from a killed
run is recomputed, never trusted), and reads them back afterwards.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.files import atomic_path


def cached_arrays(
    path: Path | None, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, from ``path`` when a complete copy is there (None: no cache).

    Floating arrays are stored as float16 (priors are smooth maps; the loss of precision is
    below 1e-3 of a pixel at 256 px) and come back as float32.
    """
    if path is None:
        return compute()
    if path.is_file():
        try:
            with np.load(path) as stored:
                return {
                    key: stored[key].astype(np.float32)
                    if stored[key].dtype == np.float16
                    else stored[key]
                    for key in stored.files
                }
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            path.unlink(missing_ok=True)  # torn by a killed run: compute it again
    arrays = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = {
        key: value.astype(np.float16) if np.issubdtype(value.dtype, np.floating) else value
        for key, value in arrays.items()
    }
    with atomic_path(path, suffix=".npz") as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **packed)
    return arrays
