"""Shared fixtures. Tests never download: model assets come from `make test`'s fetch step."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def vgg16_path():
    """Path of the fetched VGG-16 (HED) weights; fails with the fix when absent."""
    from tryon.assets import get_asset

    return get_asset("vgg16-hed").path()
