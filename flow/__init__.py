"""flow: the appearance-flow network that warps a catalog garment onto a target region.

Public API: :class:`FlowConfig` / :class:`FlowLossConfig`, :class:`AppearanceFlowNet` and its
:class:`FlowOutput`, :func:`target_pose_maps` (the optional pose-map input), :func:`warp`
(the flow convention lives in :mod:`flow.warp`), :class:`FlowLoss`. The trainer, evaluation
and classical baselines are in submodules (:mod:`flow.trainer`, :mod:`flow.evaluate`,
:mod:`flow.baselines`).
"""

from flow.losses import FlowLoss
from flow.model import (
    AppearanceFlowNet,
    FlowConfig,
    FlowLossConfig,
    FlowOutput,
    target_pose_maps,
)
from flow.warp import ALIGN_CORNERS, warp

__all__ = [
    "ALIGN_CORNERS",
    "AppearanceFlowNet",
    "FlowConfig",
    "FlowLoss",
    "FlowLossConfig",
    "FlowOutput",
    "target_pose_maps",
    "warp",
]
