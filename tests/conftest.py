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


@pytest.fixture
def one_torch_thread():
    """Tiny convolutions run several times faster on one thread than on a busy pool."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
