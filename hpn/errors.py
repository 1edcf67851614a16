"""Errors of the model layer (kept free of heavy imports so the CLI can catch them cheaply)."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A model directory is missing, truncated, of another model type or of another shape."""
