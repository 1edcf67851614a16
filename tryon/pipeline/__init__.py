"""The try-on pipeline: person photo + garment photo -> dressed person, with intermediates.

Public API: :class:`TryOnPipeline` (load once, call many times), :class:`TryOnResult`,
:class:`PipelineConfig`, :data:`STAGES` (stage names in order) and the framing helpers in
:mod:`tryon.pipeline.framing`.
"""

from tryon.pipeline.pipeline import PipelineConfig, TryOnPipeline, bundled_models_dir
from tryon.pipeline.result import STAGES, TryOnResult

__all__ = ["STAGES", "PipelineConfig", "TryOnPipeline", "TryOnResult", "bundled_models_dir"]
