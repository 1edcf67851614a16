"""Errors of the base layer (free of heavy imports, so a CLI can catch them cheaply).

Each one is a ``ValueError``: bad input, a bad file or a missing device, not a bug. Their
messages say what went wrong and how to fix it.
"""

from __future__ import annotations


class CoreError(ValueError):
    """Base class of every user-fixable failure raised by :mod:`core`."""


class CheckpointError(CoreError):
    """A model directory is missing, truncated, of another model type or of another shape."""


class DeviceUnavailableError(CoreError):
    """A device was asked for that this machine does not have (CUDA without a GPU)."""


class UnknownModelTypeError(CoreError):
    """A ``model_type`` that the registry (:mod:`core.registry`) does not know."""
