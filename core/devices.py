"""Devices and mixed precision: one ``resolve_device`` for every command and backend.

``"auto"`` (or None) means the first CUDA GPU when one is visible, else the CPU. Asking for
CUDA on a machine without it is an error, never a silent fall-back to the CPU. Mixed precision
(fp16 autocast with loss scaling) is used on CUDA only: CPU runs stay float32 and bit-for-bit
reproducible.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from core.errors import DeviceUnavailableError

AUTO = "auto"


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``name`` as a ``torch.device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"`` / None.

    Raises:
        DeviceUnavailableError: CUDA asked for, but no CUDA GPU is visible; or another
            device type (mps, xpu, meta, ...), which the project does not support.
    """
    if name is None or str(name) == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceUnavailableError(
            f"unknown device {str(name)!r}; use cpu, cuda, cuda:N or auto"
        ) from error
    if device.type not in ("cpu", "cuda"):
        raise DeviceUnavailableError(
            f"device {str(name)!r} is not supported (only CPU and CUDA are tested); use cpu, "
            "cuda, cuda:N or auto"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"device {str(name)!r} asked for, but no CUDA GPU is visible; use cpu or auto"
        )
    return device


def autocast_for(
    device: torch.device, enabled: bool = True
) -> contextlib.AbstractContextManager[Any]:
    """fp16 autocast on CUDA (when ``enabled``), nothing elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def grad_scaler_for(device: torch.device, enabled: bool = True) -> torch.amp.GradScaler:
    """The loss scaler that goes with :func:`autocast_for` (identity off CUDA)."""
    return torch.amp.GradScaler(device.type, enabled=enabled and device.type == "cuda")
