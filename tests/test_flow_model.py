"""flow.model: the model contract, plus shapes at several sizes, input checks, scales, ONNX."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from model_contract import ModelContract

from core.errors import CheckpointError
from flow import AppearanceFlowNet, FlowConfig, FlowLoss, FlowLossConfig, FlowOutput

TINY = FlowConfig(channels=(4, 8, 8))  # coarsest stride 4
NO_PERCEPTUAL = FlowLossConfig(perceptual_weight=0.0)


class TestFlowContract(ModelContract):
    """The shared contract on a tiny flow net (stride 4)."""

    model_type = "appearance_flow"
    onnx_resolution = 32

    def make_config(self) -> FlowConfig:
        return TINY

    def make_inputs(self, model: AppearanceFlowNet, batch: int = 2) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        garment, garment_mask, target_mask, _ = _inputs(batch, 16, 16)
        return {"garment": garment, "garment_mask": garment_mask, "target_mask": target_mask}


def _inputs(batch: int, height: int, width: int, pose_channels: int = 0):
    garment = torch.rand(batch, 3, height, width) * 2 - 1
    garment_mask = (torch.rand(batch, 1, height, width) > 0.5).float()
    target_mask = (torch.rand(batch, 1, height, width) > 0.5).float()
    pose = torch.rand(batch, pose_channels, height, width) if pose_channels else None
    return garment, garment_mask, target_mask, pose


@pytest.mark.parametrize(("height", "width"), [(16, 16), (32, 24), (48, 64)])
def test_output_shapes_follow_the_input_size(height, width):
    model = AppearanceFlowNet(TINY)
    garment, garment_mask, target_mask, _ = _inputs(2, height, width)
    output = model(garment, garment_mask, target_mask)
    assert isinstance(output, FlowOutput)
    assert output.flow.shape == (2, 2, height, width)
    assert output.warped_garment.shape == (2, 3, height, width)
    assert output.warped_mask.shape == (2, 1, height, width)
    flows = model.forward_flows(garment, garment_mask, target_mask)
    assert [flow.shape[-2:] for flow in flows] == [
        (height // 4, width // 4),
        (height // 2, width // 2),
        (height, width),
    ]


def test_untrained_net_starts_near_the_identity_warp():
    garment, garment_mask, target_mask, _ = _inputs(1, 32, 32)
    output = AppearanceFlowNet(TINY)(garment, garment_mask, target_mask)
    assert output.flow.abs().max() < 0.05


def test_size_not_a_multiple_of_the_coarsest_stride_is_refused():
    garment, garment_mask, target_mask, _ = _inputs(1, 30, 32)
    with pytest.raises(ValueError, match="multiples of 4"):
        AppearanceFlowNet(TINY)(garment, garment_mask, target_mask)


def test_mismatched_inputs_are_refused_with_the_expected_shape():
    garment, garment_mask, _, _ = _inputs(1, 16, 16)
    with pytest.raises(ValueError, match=r"target_mask must have shape \(1, 1, 16, 16\)"):
        AppearanceFlowNet(TINY)(garment, garment_mask, torch.zeros(1, 1, 16, 8))
    with pytest.raises(ValueError, match="garment must be"):
        AppearanceFlowNet(TINY)(garment[:, :1], garment_mask, garment_mask)


def test_pose_maps_are_optional_and_checked():
    with_pose = AppearanceFlowNet(dataclasses.replace(TINY, pose_channels=18))
    garment, garment_mask, target_mask, pose = _inputs(1, 16, 16, pose_channels=18)
    assert with_pose(garment, garment_mask, target_mask, pose).flow.shape == (1, 2, 16, 16)
    with pytest.raises(ValueError, match="pass the target pose maps"):
        with_pose(garment, garment_mask, target_mask)
    with pytest.raises(ValueError, match="without pose maps"):
        AppearanceFlowNet(TINY)(garment, garment_mask, target_mask, pose)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        FlowConfig(channels=(8,))
    with pytest.raises(ValueError, match="pose_channels"):
        FlowConfig(pose_channels=3)
    assert FlowConfig.small().coarsest_stride == 16
    assert FlowConfig.full().coarsest_stride == 32


def test_gradients_reach_every_flow_scale_and_every_parameter():
    model = AppearanceFlowNet(TINY)
    garment, garment_mask, target_mask, _ = _inputs(2, 16, 16)
    flows = model.forward_flows(garment, garment_mask, target_mask)
    for flow in flows:
        flow.retain_grad()
    worn = torch.rand(2, 3, 16, 16) * 2 - 1
    FlowLoss(NO_PERCEPTUAL)(flows, garment, garment_mask, worn, target_mask)["total"].backward()
    for flow in flows:
        assert flow.grad is not None and flow.grad.abs().sum() > 0
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_save_and_load_round_trip(tmp_path):
    config = dataclasses.replace(TINY, loss=FlowLossConfig(smoothness_weight=0.25))
    model = AppearanceFlowNet(config).eval()
    model.save_pretrained(tmp_path / "model", metadata={"steps": 7})
    loaded = AppearanceFlowNet.from_pretrained(tmp_path / "model")
    assert loaded.config == config
    inputs = _inputs(1, 16, 16)[:3]
    assert torch.equal(model(*inputs).flow, loaded(*inputs).flow)
    other = AppearanceFlowNet(FlowConfig(channels=(4, 8)))
    other.save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_text(
        (tmp_path / "model" / "config.json").read_text()
    )
    with pytest.raises(CheckpointError, match="do not fit"):
        AppearanceFlowNet.from_pretrained(tmp_path / "other")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter's notice
def test_onnx_export_with_dynamic_batch_and_size(tmp_path):
    """Exportability only (the deploy engineer owns parity): opset 17, one file."""
    onnxruntime = pytest.importorskip("onnxruntime")
    model = AppearanceFlowNet(TINY).eval()
    path = tmp_path / "flow.onnx"
    names = ["garment", "garment_mask", "target_mask"]
    dynamic = {name: {0: "batch", 2: "height", 3: "width"} for name in names}
    torch.onnx.export(
        model,
        _inputs(1, 16, 16)[:3],
        path,
        opset_version=17,
        dynamo=False,
        external_data=False,
        input_names=names,
        output_names=list(FlowOutput._fields),
        dynamic_axes={
            **dynamic,
            **{name: {0: "batch", 2: "height", 3: "width"} for name in FlowOutput._fields},
        },
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = _inputs(3, 24, 32)[:3]  # another batch size and another size than at export
    feeds = {name: tensor.numpy() for name, tensor in zip(names, inputs, strict=True)}
    flow, warped, mask = session.run(None, feeds)
    with torch.no_grad():
        reference = model(*inputs)
    assert flow.shape == (3, 2, 24, 32) and warped.shape == (3, 3, 24, 32)
    np.testing.assert_allclose(flow, reference.flow.numpy(), atol=1e-4)
    np.testing.assert_allclose(mask, reference.warped_mask.numpy(), atol=1e-4)
