"""Issue 15, item 10: a model directory's config.json is validated (types, and sizes against
the weights' shapes) before any tensor is allocated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.errors import CheckpointError
from flow import AppearanceFlowNet, FlowConfig


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return AppearanceFlowNet(FlowConfig(channels=(4, 8, 8, 8))).eval().save_pretrained(tmp_path)


def edit(directory: Path, change) -> None:
    path = directory / "config.json"
    document = json.loads(path.read_text())
    document = change(document) or document
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: [d], "must hold a JSON object, got a list"),
        (lambda d: "flow", "must hold a JSON object, got a string"),
        (lambda d: d.update(config=[1, 2]), "'config' must be a JSON object, got a list"),
        (lambda d: d.update(metadata=7), "'metadata' must be a JSON object"),
        (lambda d: d["config"].update(pose_channels="0"), "pose_channels must be an integer"),
        (lambda d: d["config"].update(pose_channels=True), "pose_channels must be an integer"),
        (lambda d: d["config"].update(pose_channels=0.5), "pose_channels must be an integer"),
        (lambda d: d["config"].update(channels=8), "config.channels must be a list"),
        (lambda d: d["config"].update(channels=[4, "8", 8, 8]), r"config.channels\[1\] must be an"),
        (lambda d: d["config"]["loss"].update(l1_weight="1"), "loss.l1_weight must be a number"),
        (lambda d: d["config"].update(loss=None), "config.loss must be a JSON object"),
    ],
)  # fmt: skip
def test_a_config_of_the_wrong_shape_or_types_is_one_clear_error(model_dir, change, message):
    edit(model_dir, change)
    with pytest.raises(CheckpointError, match=message):
        AppearanceFlowNet.from_pretrained(model_dir)


def test_200000_channels_are_refused_from_the_weights_header_before_allocating(model_dir):
    # [200000, 200000, 3, 3] float32 is 1.4 TB: building it for real fails (or swaps the
    # machine to death); the config is refused from the meta-device shapes instead.
    edit(model_dir, lambda d: d["config"].update(channels=[4, 8, 200_000, 200_000]))
    with pytest.raises(CheckpointError, match=r"do not fit the config.*\[200000, "):
        AppearanceFlowNet.from_pretrained(model_dir)


def test_values_the_network_cannot_be_built_with_are_checkpoint_errors(model_dir) -> None:
    edit(model_dir, lambda d: d["config"].update(channels=[4, -8, 8, 8]))
    with pytest.raises(CheckpointError, match=r"positive widths|cannot be built|do not fit"):
        AppearanceFlowNet.from_pretrained(model_dir)


def test_a_valid_directory_still_loads_identically(model_dir) -> None:
    loaded = AppearanceFlowNet.from_pretrained(model_dir)
    again = AppearanceFlowNet.from_pretrained(model_dir)
    for (name, a), (_, b) in zip(
        loaded.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert next(loaded.parameters()).device.type == "cpu"


@pytest.mark.parametrize("name", ["mps", "xpu", "meta", "banana"])
def test_the_api_refuses_devices_it_does_not_support(name) -> None:
    from core.devices import resolve_device
    from core.errors import DeviceUnavailableError

    with pytest.raises(DeviceUnavailableError):
        resolve_device(name)
