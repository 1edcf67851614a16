"""hpn: the High-Resolution Pose Transfer Network (pose maps, model, losses, trainer, metrics).

Public API (heavy submodules such as :mod:`hpn.trainer` and :mod:`hpn.training` are imported
on their own)::

    from hpn import HPN, HPNConfig, pose_maps, pose_maps_batch, local_descriptor_centers
    from hpn.metrics import ssim, local_ssim
    from hpn.trainer import ProgressiveTrainer, TrainConfig
"""

import importlib
from typing import Any

# Lazy exports (PEP 562): ``import hpn.errors`` (the CLI does) must not pull in torch.
_EXPORTS = {
    "HPN": "hpn.model",
    "HPNConfig": "hpn.model",
    "crop_regions": "hpn.local_descriptors",
    "descriptor_count_for_resolution": "hpn.local_descriptors",
    "local_descriptor_centers": "hpn.local_descriptors",
    "region_side": "hpn.local_descriptors",
    "pose_maps": "hpn.posemaps",
    "pose_maps_batch": "hpn.posemaps",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hpn' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = sorted(_EXPORTS)
