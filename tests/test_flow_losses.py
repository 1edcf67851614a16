"""flow.losses: every term against hand-computed values on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from core.perceptual import PerceptualLoss, VGG16Features
from flow.losses import FlowLoss, charbonnier, masked_l1, second_order_smoothness
from flow.model import FlowLossConfig
from flow.warp import identity_grid, warp

EPS = 1e-3


def test_masked_l1_averages_inside_the_mask_only():
    output = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert masked_l1(output, target, mask).item() == pytest.approx((1 + 4) / 2)
    two_channels = torch.cat((target, 2 * target), dim=1)
    assert masked_l1(torch.zeros_like(two_channels), two_channels, mask).item() == pytest.approx(
        (1 + 4 + 2 + 8) / 4
    )


def test_masked_l1_of_an_empty_mask_is_zero_not_nan():
    loss = masked_l1(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2), torch.zeros(1, 1, 2, 2))
    assert loss.item() == 0.0


def test_masked_l1_rejects_a_mask_of_another_shape():
    with pytest.raises(ValueError, match="mask must be"):
        masked_l1(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def test_charbonnier_hand_values():
    values = torch.tensor([0.0, 3.0])
    expected = (EPS + math.sqrt(9 + EPS**2)) / 2 - EPS
    assert charbonnier(values, EPS).item() == pytest.approx(expected, rel=1e-6)
    assert charbonnier(torch.zeros(5), EPS).item() == pytest.approx(0.0, abs=1e-9)


def test_smoothness_is_zero_for_affine_flows():
    affine = 0.3 * identity_grid(8, 8) + torch.tensor([0.1, -0.2]).view(1, 2, 1, 1)
    assert second_order_smoothness(affine).item() == pytest.approx(0.0, abs=1e-6)


def test_smoothness_of_a_quadratic_flow_in_pixels():
    # x offset of c * j^2 pixels at column j: second difference 2c along x, 0 along y.
    height, width, c = 4, 6, 0.5
    columns = torch.arange(width, dtype=torch.float32)
    flow = torch.zeros(1, 2, height, width)
    flow[0, 0] = (c * columns**2 * 2 / width).expand(height, width)  # pixels -> normalised
    expected = (math.sqrt((2 * c) ** 2 + EPS**2) - EPS) / 2  # channel 1 contributes zeros
    assert second_order_smoothness(flow, EPS).item() == pytest.approx(expected, rel=1e-5)


def test_smoothness_rejects_tiny_flows():
    with pytest.raises(ValueError, match="H>=3"):
        second_order_smoothness(torch.zeros(1, 2, 2, 8))


def _unit_case(size: int = 4):
    garment = torch.zeros(1, 3, size, size)
    garment_mask = torch.zeros(1, 1, size, size)
    worn = torch.ones(1, 3, size, size)
    target_mask = torch.ones(1, 1, size, size)
    return garment, garment_mask, worn, target_mask


def test_flow_loss_weights_each_term():
    config = FlowLossConfig(l1_weight=2.0, mask_weight=3.0, perceptual_weight=0.0)
    terms = FlowLoss(config)([torch.zeros(1, 2, 4, 4)], *_unit_case())
    assert terms["l1"].item() == pytest.approx(2.0)  # |0 - 1| everywhere inside
    assert terms["mask"].item() == pytest.approx(3.0)  # warped mask 0 vs target 1
    assert terms["smoothness"].item() == pytest.approx(0.0, abs=1e-7)
    assert terms["perceptual"].item() == 0.0
    assert terms["total"].item() == pytest.approx(5.0)


def test_flow_loss_sums_scales_with_decay():
    config = FlowLossConfig(perceptual_weight=0.0, scale_decay=0.5)
    flows = [torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 8, 8)]
    terms = FlowLoss(config)(flows, *_unit_case(8))
    assert terms["l1"].item() == pytest.approx(1 + 0.5 + 0.25)
    assert terms["mask"].item() == pytest.approx(1 + 0.5 + 0.25)


def test_flow_loss_is_zero_for_a_perfect_warp():
    garment = torch.rand(1, 3, 8, 8) * 2 - 1
    mask = torch.ones(1, 1, 8, 8)
    flow = torch.zeros(1, 2, 8, 8)
    terms = FlowLoss(FlowLossConfig(perceptual_weight=0.0))([flow], garment, mask, garment, mask)
    assert terms["total"].item() == pytest.approx(0.0, abs=1e-6)


def test_flow_loss_needs_the_last_flow_at_full_resolution():
    with pytest.raises(ValueError, match="full resolution"):
        FlowLoss(FlowLossConfig(perceptual_weight=0.0))([torch.zeros(1, 2, 2, 2)], *_unit_case())


def test_perceptual_weight_needs_a_backbone():
    with pytest.raises(ValueError, match="PerceptualLoss"):
        FlowLoss(FlowLossConfig(perceptual_weight=1.0))


def test_perceptual_term_is_the_shared_loss_on_masked_garments(vgg16_path):
    perceptual = PerceptualLoss(VGG16Features.from_file(vgg16_path))
    config = FlowLossConfig(perceptual_weight=0.5)
    garment = torch.rand(1, 3, 16, 16) * 2 - 1
    worn = torch.rand(1, 3, 16, 16) * 2 - 1
    target_mask = torch.zeros(1, 1, 16, 16)
    target_mask[..., 4:12, 2:14] = 1
    flow = 0.1 * torch.randn(1, 2, 16, 16)
    terms = FlowLoss(config, perceptual)(
        [flow], garment, torch.ones_like(target_mask), worn, target_mask
    )
    expected = 0.5 * perceptual(warp(garment, flow) * target_mask, worn * target_mask, "l1")
    assert terms["perceptual"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["perceptual"].item() > 0
