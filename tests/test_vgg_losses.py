"""The VGG-16 backbone and the perceptual loss."""

from __future__ import annotations

import pytest
import torch
from skimage import data

from core.images import uint8_to_tensor
from core.perceptual import PerceptualLoss, VGG16Features, feature_distance
from hpn.losses import criterion_for_step


@pytest.fixture(scope="module")
def backbone(vgg16_path):
    return VGG16Features.from_file(vgg16_path)


def test_backbone_is_frozen_and_names_its_layers(backbone):
    image = torch.zeros(1, 3, 32, 32)
    features = backbone(image)
    assert list(features) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert features["relu4_3"].shape == (1, 512, 4, 4)
    assert not any(parameter.requires_grad for parameter in backbone.parameters())
    backbone.train()
    assert not backbone.training


def test_pretrained_features_see_structure(backbone):
    """A pretrained edge detector separates a small shift from a different photo."""
    astronaut = uint8_to_tensor(data.astronaut()[::4, ::4].copy())[None]
    shifted = torch.roll(astronaut, shifts=1, dims=3)
    coffee = uint8_to_tensor(data.coffee()[:128, :128].copy())[None]
    loss = PerceptualLoss(backbone)
    assert loss(shifted, astronaut) < 0.5 * loss(coffee, astronaut)


def test_feature_distance_matches_hand_computation():
    output = {"a": torch.tensor([[1.0, 3.0]]), "b": torch.tensor([[0.0]])}
    target = {"a": torch.tensor([[0.0, 1.0]]), "b": torch.tensor([[2.0]])}
    assert feature_distance(output, target, "l1").item() == pytest.approx(1.5 + 2.0)
    assert feature_distance(output, target, "l2").item() == pytest.approx(2.5 + 4.0)
    weights = {"a": 2.0, "b": 0.5}
    assert feature_distance(output, target, "l1", weights).item() == pytest.approx(3.0 + 1.0)


def test_criterion_switches_at_the_half():
    assert [criterion_for_step(step, 6) for step in range(6)] == ["l2"] * 3 + ["l1"] * 3
    with pytest.raises(ValueError):
        criterion_for_step(6, 6)
