"""Data: the synthetic fashion generator, published-layout loaders and keypoint converters.

- :func:`resolve_layout` finds a DeepFashion / VITON-HD layout (or a synth root above one).
- :class:`DeepFashionPairs`, :class:`VitonPairs`: torch Datasets in the library's conventions.
- :mod:`tryon.data.keypoint_formats`: OpenPose JSON, DeepFashion CSV, BlazePose 33.
- :mod:`tryon.data.synthetic`: the generator behind ``tryon data synth``.
"""

from tryon.data.deepfashion import DeepFashionPairs
from tryon.data.layouts import resolve_layout
from tryon.data.viton import VitonPairs

__all__ = ["DeepFashionPairs", "VitonPairs", "resolve_layout"]
