"""tryon: the try-on application (data, preprocessing, pipeline, batch, video, CLI).

``tryon.TryOnPipeline``, ``tryon.TryOnResult`` and ``tryon.PipelineConfig`` are the
:mod:`tryon.pipeline` names, imported on first use so ``import tryon`` stays light.
"""

from __future__ import annotations

from typing import Any

_PIPELINE_NAMES = ("PipelineConfig", "TryOnPipeline", "TryOnResult")


def __getattr__(name: str) -> Any:
    if name in _PIPELINE_NAMES:
        from tryon import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'tryon' has no attribute {name!r}")
