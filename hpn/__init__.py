"""hpn: the High-Resolution Pose Transfer Network (pose maps, model, losses, trainer, metrics).

Public API (heavy submodules such as :mod:`hpn.trainer` and :mod:`hpn.training` are imported
on their own)::

    from hpn import HPN, HPNConfig, pose_maps, pose_maps_batch, local_descriptor_centers
    from hpn.metrics import ssim, local_ssim
    from hpn.trainer import ProgressiveTrainer, TrainConfig
"""

from hpn.local_descriptors import (
    crop_regions,
    descriptor_count_for_resolution,
    local_descriptor_centers,
    region_side,
)
from hpn.model import HPN, HPNConfig
from hpn.posemaps import pose_maps, pose_maps_batch

__all__ = [
    "HPN",
    "HPNConfig",
    "crop_regions",
    "descriptor_count_for_resolution",
    "local_descriptor_centers",
    "pose_maps",
    "pose_maps_batch",
    "region_side",
]
