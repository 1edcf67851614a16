"""ONNX export: checker, dynamic axes, TensorRT audit and ONNX Runtime parity, end to end.

Covers a stand-in with every op family of HPN and the flow net (so export failures show up
independent of either model), the real HPN at two progressive levels, and the real flow net.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deploy.errors import DeployError, ExportCheckError, ParityError, UnsupportedOpError
from deploy.inputs import random_inputs, real_inputs
from deploy.onnx_export import export_onnx, verify_dynamic_axes
from deploy.parity import ParityTolerance
from deploy.registry import IOSignature, ModelIO, TensorSpec, register
from flow import AppearanceFlowNet, FlowConfig
from hpn.model import HPN, HPNConfig


@dataclass(frozen=True)
class StandInConfig:
    channels: int = 8
    grid_mode: str = "bilinear"
    fixed_offset: bool = False


class StandInNet(nn.Module):
    """Conv-BN-LeakyReLU, avg pool, nearest x2, concat, tanh, grid_sample(align_corners=False)."""

    model_type = "deploy_test_standin"

    def __init__(self, config: StandInConfig) -> None:
        super().__init__()
        self.config = config
        width = config.channels

        def block(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(inputs, outputs, 3, padding=1),
                nn.BatchNorm2d(outputs),
                nn.LeakyReLU(0.2),
            )

        self.encoder, self.middle = block(4, width), block(width, width)
        self.decoder, self.head = block(2 * width, width), nn.Conv2d(width, 2, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        skip = self.encoder(torch.cat([image, mask], 1))
        hidden = F.interpolate(self.middle(F.avg_pool2d(skip, 2)), scale_factor=2.0)
        flow = 0.2 * torch.tanh(self.head(self.decoder(torch.cat([hidden, skip], 1))))
        height, width = image.shape[-2:]
        if self.config.fixed_offset:  # a Python int from the shape: traced as a constant
            flow = flow + torch.zeros(1, 2, int(height), int(width))
        xs = (torch.arange(width, dtype=image.dtype) * 2 + 1) / width - 1
        ys = (torch.arange(height, dtype=image.dtype) * 2 + 1) / height - 1
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack((grid_x, grid_y), -1).unsqueeze(0) + flow.permute(0, 2, 3, 1)
        warped = F.grid_sample(
            image, grid, mode=self.config.grid_mode, padding_mode="zeros", align_corners=False
        )
        return flow, warped


class StandInIO(ModelIO):
    model_type = StandInNet.model_type

    def model_class(self) -> type[nn.Module]:
        return StandInNet

    def signature(self, model: nn.Module, resolution: int | None = None) -> IOSignature:
        size = resolution or 16
        return IOSignature(
            self.model_type,
            (
                TensorSpec("image", 3, "image", size, size),
                TensorSpec("mask", 1, "mask", size, size),
            ),
            (
                TensorSpec("flow", 2, "flow", size, size),
                TensorSpec("warped", 3, "image", size, size),
            ),
            dynamic_spatial=True,
            size_multiple=2,
        )


register(StandInIO())


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics, so BatchNorm folding into Conv is really checked."""
    generator = torch.Generator().manual_seed(1)
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            count = layer.num_features
            layer.running_mean.copy_(torch.randn(count, generator=generator) * 0.1)
            layer.running_var.copy_(torch.rand(count, generator=generator) + 0.5)
            layer.weight.data.copy_(torch.rand(count, generator=generator) + 0.5)
            layer.bias.data.copy_(torch.randn(count, generator=generator) * 0.1)
    return model.eval()


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]


def _graph_dims(path: Path) -> dict[str, list[int | str]]:
    graph = onnx.load(str(path)).graph
    return {value.name: _dims(value) for value in (*graph.input, *graph.output)}


def test_standin_export_is_checked_dynamic_and_matches_torch(tmp_path: Path) -> None:
    model = _randomise_batchnorm(StandInNet(StandInConfig()))
    result = export_onnx(model, tmp_path / "standin.onnx", resolution=16)

    onnx.checker.check_model(onnx.load(str(result.onnx_path)), full_check=True)
    assert _graph_dims(result.onnx_path) == {
        "image": ["batch", 3, "height", "width"],
        "mask": ["batch", 1, "height", "width"],
        "flow": ["batch", 2, "height", "width"],
        "warped": ["batch", 3, "height", "width"],
    }
    assert result.audit.passed and result.audit.op_counts["GridSample"] == 1
    shapes = {(record.inputs, record.shape) for record in result.parity.records}
    assert {("random", (1, 3, 16, 16)), ("real", (4, 3, 16, 16)), ("random", (1, 3, 18, 16))} <= (
        shapes
    )
    assert result.parity.passed and result.parity.max_abs < 1e-4

    sidecar = json.loads(result.sidecar_path.read_text())
    assert sidecar["opset"] == 17 and sidecar["precision"] == "fp32"
    assert sidecar["model_type"] == StandInNet.model_type
    assert sidecar["parity"]["max_abs"] == result.parity.max_abs
    assert len(sidecar["source"]["sha256"]) == 64
    assert sidecar["dynamic_axes"]["image"] == {"0": "batch", "2": "height", "3": "width"}


def test_parity_failure_writes_nothing(tmp_path: Path) -> None:
    model = _randomise_batchnorm(StandInNet(StandInConfig()))
    impossible = ParityTolerance(max_abs=0.0, mean_abs=0.0)
    with pytest.raises(ParityError, match="max abs error"):
        export_onnx(model, tmp_path / "m.onnx", resolution=8, tolerance=impossible)
    assert list(tmp_path.iterdir()) == []


def test_an_axis_fixed_by_the_model_fails_the_export(tmp_path: Path) -> None:
    model = StandInNet(StandInConfig(fixed_offset=True)).eval()
    with pytest.raises(ExportCheckError, match="fixed"):
        export_onnx(model, tmp_path / "m.onnx", resolution=8)
    assert not (tmp_path / "m.onnx").exists()


def test_verify_dynamic_axes_names_the_fixed_axis() -> None:
    signature = StandInIO().signature(StandInNet(StandInConfig()), 8)
    fixed = onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", 3, 8, 8])
    mask = onnx.helper.make_tensor_value_info(
        "mask", onnx.TensorProto.FLOAT, ["batch", 1, "height", "width"]
    )
    graph = onnx.helper.make_graph([], "g", [fixed, mask], [])
    with pytest.raises(DeployError, match=r"image axis 2 \(height\) came out fixed at 8"):
        verify_dynamic_axes(onnx.helper.make_model(graph), signature)


@pytest.mark.parametrize(
    ("grid_mode", "opset", "message"),
    [
        ("bilinear", 20, "mode='linear' is not one of"),  # NVIDIA/TensorRT issue 4646
        ("bicubic", 17, "mode='bicubic' is not one of"),
    ],
)
def test_export_rejects_grid_sample_modes_tensorrt_mis_parses(
    tmp_path: Path, grid_mode: str, opset: int, message: str
) -> None:
    model = StandInNet(StandInConfig(grid_mode=grid_mode)).eval()
    with pytest.raises(UnsupportedOpError, match=f"GridSample.*{message}"):
        export_onnx(model, tmp_path / "m.onnx", resolution=8, opset=opset)
    assert not (tmp_path / "m.onnx").exists()


def test_opset_outside_the_supported_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="opset 16 is not supported"):
        export_onnx(StandInNet(StandInConfig()), tmp_path / "m.onnx", opset=16)


def _run_onnx(path: Path, inputs: dict[str, torch.Tensor]) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})


def test_hpn_exports_at_two_levels(tmp_path: Path) -> None:
    # The small preset's geometry (levels 64 -> 128, 16 x 16 bottleneck) at a quarter of its
    # width, to keep the test fast; bench/backends.py exports the full small preset.
    model = _randomise_batchnorm(HPN(replace(HPNConfig.small(), bottleneck_channels=64)))
    for level in (64, 128):
        assert model.resolution == level
        result = export_onnx(model, tmp_path / f"hpn{level}.onnx", check_batches=(1,))
        assert _graph_dims(result.onnx_path) == {
            "image": ["batch", 3, level, level],
            "pose_maps": ["batch", 18, 16, 16],
            "generated": ["batch", 3, level, level],
        }
        assert result.parity.passed, result.parity.to_dict()
        sidecar = json.loads(result.sidecar_path.read_text())
        assert sidecar["architecture"] == {"resolution": level}

        # Dynamic batch: the same file runs batch 4, matching PyTorch on real inputs.
        inputs = real_inputs(result.signature, 4)
        (generated,) = _run_onnx(result.onnx_path, inputs)
        with torch.inference_mode():
            expected = model(**inputs)
        assert generated.shape == (4, 3, level, level)
        np.testing.assert_allclose(generated, expected.numpy(), atol=1e-4)
        model.grow()
        _randomise_batchnorm(model)


def test_hpn_export_refuses_another_resolution(tmp_path: Path) -> None:
    model = HPN(
        HPNConfig(
            bottleneck_size=8, bottleneck_channels=32, start_resolution=16, final_resolution=32
        )
    )
    with pytest.raises(DeployError, match="this HPN is at level 16x16"):
        export_onnx(model, tmp_path / "m.onnx", resolution=32)


def test_flow_net_exports_with_dynamic_batch_and_size(tmp_path: Path) -> None:
    model = AppearanceFlowNet(FlowConfig.small()).eval()
    for estimator in model.estimators:  # untrained heads predict ~zero flow: make it warp
        nn.init.normal_(estimator.head.weight, std=0.05)
    result = export_onnx(model, tmp_path / "flow.onnx", resolution=32, check_batches=(1,))
    assert result.parity.passed, result.parity.to_dict()
    assert _graph_dims(result.onnx_path)["warped_garment"] == ["batch", 3, "height", "width"]
    modes = {
        onnx.helper.get_attribute_value(attribute)
        for node in onnx.load(str(result.onnx_path)).graph.node
        if node.op_type == "GridSample"
        for attribute in node.attribute
        if attribute.name == "mode"
    }
    assert modes == {b"bilinear"}  # opset 17 spelling; TensorRT parses it as bilinear

    for batch, height, width in ((1, 32, 32), (4, 48, 64)):
        inputs = random_inputs(_resized(result.signature, height, width), batch, seed=3)
        outputs = _run_onnx(result.onnx_path, inputs)
        with torch.inference_mode():
            expected = model(**inputs)
        assert float(expected.flow.abs().max()) > 1e-2  # the warp really moves pixels
        for actual, reference in zip(outputs, expected, strict=True):
            assert actual.shape == tuple(reference.shape)
            np.testing.assert_allclose(actual, reference.numpy(), atol=1e-4)


def _resized(signature: IOSignature, height: int, width: int) -> IOSignature:
    inputs = tuple(replace(spec, height=height, width=width) for spec in signature.inputs)
    return replace(signature, inputs=inputs)
