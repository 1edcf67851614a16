"""HPN: the model contract, plus shapes and widths at every level, growth and the image skip."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from model_contract import ModelContract

from core.errors import CheckpointError
from hpn import HPN, HPNConfig

TINY = HPNConfig(
    bottleneck_size=4, bottleneck_channels=32, start_resolution=8, final_resolution=32,
    pose_sigma=0.4,
)  # fmt: skip


class TestHPNContract(ModelContract):
    """The shared contract on a tiny HPN grown one level (its architecture state is saved)."""

    model_type = "hpn"

    def make_config(self) -> HPNConfig:
        return TINY

    def make_model(self) -> HPN:
        model = HPN(TINY)
        model.grow()
        return model

    def make_inputs(self, model: HPN, batch: int = 2) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        size, bottleneck = model.resolution, model.config.bottleneck_size
        image = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
        maps = torch.rand(batch, 18, bottleneck, bottleneck, generator=generator)
        return {"image": image, "pose_maps": maps}


def _inputs(model: HPN, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    size, bottleneck = model.resolution, model.config.bottleneck_size
    image = torch.rand(batch, 3, size, size) * 2 - 1
    return image, torch.rand(batch, 18, bottleneck, bottleneck)


def _conv_widths(block: torch.nn.Module) -> tuple[int, int]:
    convs = [layer for layer in block.modules() if isinstance(layer, torch.nn.Conv2d)]
    return convs[0].in_channels, convs[-1].out_channels


@pytest.mark.parametrize(
    ("config", "widths"),
    [
        (HPNConfig.paper(), {32: 1024, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}),
        (HPNConfig.small(), {16: 256, 32: 128, 64: 64, 128: 32, 256: 16}),
    ],
    ids=["paper", "small"],
)
def test_every_level_has_the_paper_shapes(config, widths):
    """Instantiated on the meta device: the paper preset at 1024^2 allocates nothing."""
    with torch.device("meta"):
        model = HPN(config)
        assert model.resolution == config.start_resolution
        bottleneck = config.bottleneck_size
        assert _conv_widths(model.bottleneck_encoder)[1] == widths[bottleneck]
        assert _conv_widths(model.bottleneck_decoder) == (
            widths[bottleneck] + 18,
            widths[bottleneck],
        )
        for level in config.levels():
            model.grow_to(level)
            image, maps = _inputs(model, batch=1)
            assert model(image, maps).shape == (1, 3, level, level)
            for resolution in (r for r in widths if bottleneck < r <= level):
                encoder = _conv_widths(model.encoder[str(resolution)])
                decoder = _conv_widths(model.decoder[str(resolution)])
                assert encoder == (widths[resolution] // 2, widths[resolution])
                assert decoder == (widths[resolution // 2] + widths[resolution], widths[resolution])
            assert model.from_rgb.out_channels == widths[level] // 2
            assert model.to_rgb.in_channels == widths[level]
        assert sorted(map(int, model.encoder)) == [r for r in widths if r > bottleneck]


def test_forward_output_is_an_image_in_range():
    model = HPN(TINY)
    output = model(*_inputs(model))
    assert output.shape == (2, 3, 8, 8)
    assert output.abs().max() <= 1.0


def test_grow_keeps_old_weights_and_trains_new_and_old_blocks():
    model = HPN(TINY)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    model.grow()
    assert model.resolution == 16
    after = model.state_dict()
    for name, tensor in before.items():
        if name.startswith(("from_rgb", "to_rgb")):
            continue  # the paper replaces the 1x1 layers at growth
        assert torch.equal(after[name], tensor), name
    assert model.from_rgb.in_channels == 3 and model.from_rgb.out_channels == TINY.channels(32)
    model(*_inputs(model)).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad, name
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_grow_stops_at_the_final_resolution():
    model = HPN(TINY)
    model.grow_to(32)
    with pytest.raises(ValueError, match="final resolution"):
        model.grow()
    with pytest.raises(ValueError, match="not a level"):
        model.grow_to(24)


def test_input_checks_say_how_to_fix_the_input():
    model = HPN(TINY)
    image, maps = _inputs(model)
    with pytest.raises(ValueError, match="resize the input to 8x8"):
        model(torch.zeros(2, 3, 16, 16), maps)
    with pytest.raises(ValueError, match="pose_maps_batch"):
        model(image, torch.zeros(2, 18, 8, 8))


def test_save_load_round_trip_rebuilds_the_grown_model(tmp_path):
    model = HPN(TINY)
    model.grow()
    model.train()
    model(*_inputs(model))  # moves BatchNorm running statistics away from their start
    model.save_pretrained(tmp_path / "hpn", metadata={"note": "x"})
    loaded = HPN.from_pretrained(tmp_path / "hpn")
    assert loaded.resolution == 16 and not loaded.training
    model.eval()
    image, maps = _inputs(model)
    assert torch.equal(loaded(image, maps), model(image, maps))
    with pytest.raises(CheckpointError):
        HPN.from_pretrained(tmp_path)


def test_config_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="power of two"):
        HPNConfig(bottleneck_size=24)
    with pytest.raises(ValueError, match="bottleneck_size < start_resolution"):
        HPNConfig(start_resolution=32)
    with pytest.raises(ValueError, match="divisible"):
        HPNConfig(bottleneck_channels=32, bottleneck_size=32, final_resolution=1024)


def test_image_skip_starts_every_level_at_the_reference_and_then_learns_everywhere():
    model = HPN(dataclasses.replace(TINY, image_skip=True))
    for level in (8, 16):
        model.grow_to(level)
        image, maps = _inputs(model)
        assert torch.allclose(model(image, maps), image, atol=1e-3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # after growth: new layers too
        for _ in range(2):  # the zero to-RGB layer passes gradients down from step two
            optimizer.zero_grad()
            model(image, maps).square().mean().backward()
            optimizer.step()
        for name, parameter in model.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert not torch.allclose(model(image, maps), image, atol=1e-3)
