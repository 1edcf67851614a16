"""hpn: the High-Resolution Pose Transfer Network (model, local descriptors, losses, trainer).

Public API (heavy submodules such as :mod:`hpn.trainer` are imported on their own)::

    from hpn import HPN, HPNConfig, local_descriptor_centers
    from hpn.metrics import local_ssim
    from hpn.trainer import ProgressiveTrainer, TrainConfig

The pose maps it reads (paper eq. 1) are the base layer's :mod:`core.posemaps`.
"""

import importlib
from typing import Any

# Lazy exports (PEP 562): importing a light submodule must not pull in torch.
_EXPORTS = {
    "HPN": "hpn.model",
    "HPNConfig": "hpn.model",
    "crop_regions": "hpn.local_descriptors",
    "descriptor_count_for_resolution": "hpn.local_descriptors",
    "local_descriptor_centers": "hpn.local_descriptors",
    "region_side": "hpn.local_descriptors",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hpn' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = sorted(_EXPORTS)
