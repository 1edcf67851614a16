"""Errors a user can cause and fix; the CLI prints their message on one line, no traceback."""

from __future__ import annotations


class TryOnError(Exception):
    """Base class of every user-facing error of the application."""


class InvalidInputError(TryOnError, ValueError):
    """An input file or argument is unusable (corrupt, too large, wrong format or layout)."""


class NoPersonFound(TryOnError):
    """The pose estimator found nobody in a photo."""


class MissingAssetError(TryOnError):
    """A model asset (backbone, pose model) is not cached; the message says how to fetch it."""
