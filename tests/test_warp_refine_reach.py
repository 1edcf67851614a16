"""The warp-and-refine HPN held to the rims of the holes (``WarpRefineConfig.reach``): far
from a hole the part warp passes through untouched, whatever the weights say."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hpn.model import HPNConfig
from hpn.part_warp import sample
from hpn.warp_refine import WarpRefineConfig, WarpRefineHPN, compose, inpainted_prior, near_holes

REACHING = WarpRefineConfig(
    backbone=HPNConfig(
        bottleneck_size=4, bottleneck_channels=32, start_resolution=8, final_resolution=32,
        pose_sigma=0.4,
    ),
    fill="inpainted",
    reach=0.125,
)  # fmt: skip


def _canvas(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random source, the identity grid, validity whole but for a 4 x 4 hole at (6, 6)."""
    source = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    centres = (torch.arange(size) * 2 + 1) / size - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    grid = torch.stack([xs, ys], dim=-1)[None]
    validity = torch.zeros(1, 2, size, size)
    validity[:, 0] = 1.0
    validity[:, 0, 6:10, 6:10] = 0.0
    return source, grid, validity


def test_near_holes_marks_the_rim_of_each_hole() -> None:
    validity = torch.ones(1, 2, 20, 20)
    validity[..., 10, 10] = 0.2  # sums to 0.4 < 0.5: a hole
    validity[..., 3, 3] = 0.3  # sums to 0.6: a partial coverage, not a hole
    near = near_holes(validity, 0.1, 20)[0, 0]  # radius 2 pixels
    rows, cols = torch.nonzero(near, as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 12, 8, 12)
    assert int(near.sum()) == 25


def test_far_from_the_holes_the_part_warp_passes_untouched() -> None:
    model = WarpRefineHPN(REACHING).eval()
    torch.manual_seed(1)
    with torch.no_grad():  # a head that moves, masks and repaints every pixel
        model.network.to_rgb.weight.normal_(0, 0.5)
        model.network.to_rgb.bias.normal_(0, 1.0)
    size = model.resolution
    source, grid, validity = _canvas(size)
    maps = torch.zeros(1, 18, model.pose_map_size, model.pose_map_size)
    refinement = model.refine(source, validity, maps)
    output, mask = compose(
        source, grid, validity, refinement, base=inpainted_prior(source, validity)
    )
    far = near_holes(validity, REACHING.reach, size)[0, 0] == 0
    assert far.sum() > 0.5 * size * size
    torch.testing.assert_close(output[0][:, far], sample(source, grid)[0][:, far])
    assert torch.equal(mask[0, 0][far], torch.ones_like(mask[0, 0][far]))
    # near the hole the network does act: the same head without the limit changes more
    free = WarpRefineHPN(dataclasses.replace(REACHING, reach=None)).eval()
    free.load_state_dict(model.state_dict())
    free_output, _ = compose(
        source, grid, validity, free.refine(source, validity, maps),
        base=inpainted_prior(source, validity),
    )  # fmt: skip
    rim = ~far
    rim[6:10, 6:10] = False
    assert not torch.allclose(output[0][:, rim], sample(source, grid)[0][:, rim])
    assert not torch.allclose(free_output[0][:, far], sample(source, grid)[0][:, far])


def test_the_reach_is_validated_and_may_change_on_init(tmp_path, vgg16_path) -> None:
    from core.perceptual import VGG16Features
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig

    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="reach"):
            WarpRefineConfig(reach=bad)
    trained = WarpRefineHPN(dataclasses.replace(REACHING, reach=None))
    with torch.no_grad():
        trained.network.to_rgb.weight.fill_(0.3)
    trained.save_pretrained(tmp_path / "free")
    backbone = VGG16Features.from_file(vgg16_path, layers=("relu1_2",))
    options = WarpRefineTrainConfig(levels=(8,), steps_per_level=2, batch_sizes=(2,))
    model = WarpRefineTask(REACHING, options, backbone, init=tmp_path / "free").build_model()
    assert model.config == REACHING
    assert torch.equal(model.network.to_rgb.weight, trained.network.to_rgb.weight)  # kept
    model.save_pretrained(tmp_path / "reaching")
    assert WarpRefineHPN.from_pretrained(tmp_path / "reaching").config == REACHING


def test_a_reaching_refiner_exports_to_onnx_with_parity(tmp_path) -> None:
    from deploy.onnx_export import export_onnx

    model = WarpRefineHPN(REACHING).eval()
    torch.manual_seed(2)
    with torch.no_grad():
        model.network.to_rgb.weight.normal_(0, 0.5)
    result = export_onnx(model, tmp_path / "reaching.onnx", check_batches=(1,))
    assert result.parity.passed, result.parity.to_dict()
