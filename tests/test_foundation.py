"""Keypoint conventions, model directories and the CLI's error contract."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import CheckpointError
from core.keypoints import FLIP_PERMUTATION, KEYPOINT_NAMES, flip_keypoints, scale_keypoints
from core.modelio import WEIGHTS_FILE, PretrainedMixin
from tryon.assets import ASSETS


def test_flip_permutation_swaps_every_left_right_pair():
    for index, name in enumerate(KEYPOINT_NAMES):
        partner = KEYPOINT_NAMES[FLIP_PERMUTATION[index]]
        expected = name.replace("left", "#").replace("right", "left").replace("#", "right")
        assert partner == expected


def test_flip_twice_is_identity_and_mirrors_x():
    keypoints = np.random.rand(18, 2).astype(np.float32) * 100
    keypoints[3] = np.nan
    flipped = flip_keypoints(keypoints, width=100)
    assert flipped[2, 0] == pytest.approx(99 - keypoints[5, 0])
    assert np.isnan(flipped[6]).all()  # right elbow (3) became left elbow (6)
    np.testing.assert_allclose(flip_keypoints(flipped, width=100), keypoints, atol=1e-4)


def test_scale_keypoints_maps_pixel_centres():
    keypoints = np.zeros((18, 2), np.float32)
    keypoints[0] = (0.5, 1.5)  # right edge of pixel 0, centre of row 1
    scaled = scale_keypoints(keypoints, (4, 4), (8, 8))
    assert scaled[0] == pytest.approx((1.5, 3.5))


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    width: int = 4
    sizes: tuple[int, ...] = (1, 2)


class TinyNet(nn.Module, PretrainedMixin):
    model_type = "tiny"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(config.width, config.width)


def test_model_directory_round_trip(tmp_path):
    model = TinyNet(TinyConfig(width=3, sizes=(5,)))
    model.save_pretrained(tmp_path, metadata={"steps": 7})
    loaded = TinyNet.from_pretrained(tmp_path)
    assert loaded.config == model.config
    assert torch.equal(loaded.linear.weight, model.linear.weight)
    assert json.loads((tmp_path / "config.json").read_text())["metadata"] == {"steps": 7}


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    TinyNet(TinyConfig()).save_pretrained(tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        TinyNet.from_pretrained(tmp_path)


def test_checkpoint_of_another_shape_is_refused(tmp_path):
    TinyNet(TinyConfig(width=4)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["config"]["width"] = 5
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not fit the config"):
        TinyNet.from_pretrained(tmp_path)


def test_cli_user_error_is_one_line_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "tryon", "models", "fetch", "no-such-asset"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    known = ", ".join(ASSETS)
    assert result.stderr.strip().splitlines() == [
        f"error: unknown asset 'no-such-asset'; known: {known}"
    ]
