"""Errors of the deploy layer: each message says what went wrong and the command that fixes it.

They subclass ``ValueError`` (bad input or artefact, not a bug) and stay free of heavy imports,
so the CLI and the app can catch them without importing onnx or TensorRT.
"""

from __future__ import annotations


class DeployError(ValueError):
    """Base class of every user-fixable deploy failure."""


class BackendUnavailableError(DeployError):
    """The requested backend's package, device or artefact (ONNX file, engine) is absent."""


class ExportCheckError(DeployError):
    """An exported graph failed one of its own checks; the export is not written as valid."""


class UnsupportedOpError(ExportCheckError):
    """The graph holds an operator (or attribute value) that TensorRT's ONNX parser lacks."""


class DynamicAxisError(ExportCheckError):
    """An axis asked to be dynamic came out fixed in the exported graph."""


class ParityError(ExportCheckError):
    """ONNX Runtime's outputs differ from PyTorch's by more than the stated tolerance."""


class EngineMismatchError(DeployError):
    """A TensorRT engine was built by another TensorRT version or for another GPU."""
