"""The warp-and-refine HPN that corrects the part warp alone (``fill="inpainted"``), its
person-only loss, and the region SSIM its evaluation reports."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core.metrics import region_ssim
from hpn.model import HPNConfig
from hpn.warp_refine import WarpRefineConfig, WarpRefineHPN, compose, inpainted_prior
from hpn.warp_refine_trainer import PERSON_LOSS_MARGIN, person_region

INPAINTED = WarpRefineConfig(
    backbone=HPNConfig(
        bottleneck_size=4, bottleneck_channels=32, start_resolution=8, final_resolution=32,
        pose_sigma=0.4,
    ),
    fill="inpainted",
)  # fmt: skip


def _identity(size: int, batch: int) -> torch.Tensor:
    centres = (torch.arange(size) * 2 + 1) / size - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([xs, ys], dim=-1)[None].expand(batch, -1, -1, -1)


def _canvas(size: int = 16, batch: int = 2) -> dict[str, torch.Tensor]:
    """A smooth source, valid but for a square hole in the middle."""
    ramp = torch.linspace(-0.8, 0.8, size)
    source = torch.stack([ramp[None, :].expand(size, size), ramp[:, None].expand(size, size),
                          torch.zeros(size, size)])[None].repeat(batch, 1, 1, 1)  # fmt: skip
    validity = torch.zeros(batch, 2, size, size)
    validity[:, 0] = 1.0
    validity[:, 0, 6:10, 6:10] = 0.0  # a hole no source pixel shows
    return {"source": source, "validity": validity, "grid": _identity(size, batch)}


def test_a_fresh_inpainted_network_returns_the_part_warp_alone() -> None:
    model = WarpRefineHPN(INPAINTED).eval()
    canvas = _canvas(model.resolution)
    base = inpainted_prior(canvas["source"], canvas["validity"])
    maps = torch.zeros(2, 18, model.pose_map_size, model.pose_map_size)
    refinement = model.refine(canvas["source"], canvas["validity"], maps)
    output, _ = compose(canvas["source"], canvas["grid"], canvas["validity"], refinement, base=base)
    # warped pixels are blended with their own inpainted copy (one grey level of rounding)
    torch.testing.assert_close(output, base, atol=1 / 127.5, rtol=0)
    hole = (..., slice(6, 10), slice(6, 10))
    assert base[hole].abs().max() < 0.8  # the hole was filled from around it, not left black
    assert (base[hole] != -1).all()


def test_the_colour_head_corrects_the_base() -> None:
    model = WarpRefineHPN(INPAINTED).eval()
    with torch.no_grad():
        model.network.to_rgb.bias[3:] = torch.atanh(torch.tensor(0.25))
    canvas = _canvas(model.resolution)
    base = inpainted_prior(canvas["source"], canvas["validity"])
    maps = torch.zeros(2, 18, model.pose_map_size, model.pose_map_size)
    refinement = model.refine(canvas["source"], canvas["validity"], maps)
    output, mask = compose(
        canvas["source"], canvas["grid"], canvas["validity"], refinement, base=base
    )
    hole = (..., slice(6, 10), slice(6, 10))
    assert torch.equal(mask[hole], torch.zeros_like(mask[hole]))
    torch.testing.assert_close(output[hole], (base[hole] + 0.25).clamp(-1, 1))


def test_refill_restarts_the_head_and_records_the_design() -> None:
    model = WarpRefineHPN(dataclasses.replace(INPAINTED, fill="generated"))
    with torch.no_grad():
        model.network.to_rgb.weight.fill_(0.3)
    model.refill("inpainted")
    assert model.config.fill == "inpainted"
    assert torch.equal(model.network.to_rgb.weight, torch.zeros_like(model.network.to_rgb.weight))
    with pytest.raises(ValueError, match="fill"):
        WarpRefineConfig(fill="drawn")  # type: ignore[arg-type]


def test_init_from_a_generated_model_starts_an_inpainted_run(tmp_path, vgg16_path) -> None:
    from core.errors import CheckpointError
    from core.perceptual import VGG16Features
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig

    trained = WarpRefineHPN(dataclasses.replace(INPAINTED, fill="generated"))
    with torch.no_grad():
        trained.network.to_rgb.weight.fill_(0.3)
    trained.save_pretrained(tmp_path / "generated")
    backbone = VGG16Features.from_file(vgg16_path, layers=("relu1_2",))
    options = WarpRefineTrainConfig(levels=(8,), steps_per_level=2, batch_sizes=(2,))
    task = WarpRefineTask(INPAINTED, options, backbone, init=tmp_path / "generated")
    model = task.build_model()
    assert model.config == INPAINTED
    assert not model.network.to_rgb.weight.any()
    other = dataclasses.replace(INPAINTED, max_residual=0.2)
    with pytest.raises(CheckpointError):
        WarpRefineTask(other, options, backbone, init=tmp_path / "generated").build_model()


def test_the_person_region_grows_the_mask_by_its_margin() -> None:
    mask = torch.zeros(1, 1, 100, 100)
    mask[..., 40:60, 40:60] = 1.0
    region = person_region(mask)
    margin = round(PERSON_LOSS_MARGIN * 100)
    assert region[0, 0, 40 - margin, 50] == 1 and region[0, 0, 40 - margin - 1, 50] == 0
    assert region[0, 0, 50, 60 + margin - 1] == 1 and region[0, 0, 50, 60 + margin] == 0


def test_a_person_loss_ignores_the_scene(tmp_path, vgg16_path) -> None:
    from core.perceptual import VGG16Features
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs
    from tryon.data.synthetic import SynthSettings, synthesize

    synthesize(tmp_path / "s", SynthSettings(identities=3, poses=2, size=64), progress=False)
    items = [PriorPairs(DeepFashionPairs(tmp_path / "s", "train", 32))[i] for i in range(2)]
    batch = torch.utils.data.default_collate(items)
    backbone = VGG16Features.from_file(vgg16_path, layers=("relu1_2",))
    losses = {}
    for region in ("image", "person"):
        options = WarpRefineTrainConfig(
            levels=(32,), steps_per_level=2, batch_sizes=(2,), loss_region=region
        )
        task = WarpRefineTask(INPAINTED, options, backbone)
        task.prepare(torch.device("cpu"))
        torch.manual_seed(0)
        model = task.build_model()
        phase = task.phases()[0]
        scene = dict(batch)
        scene["target"] = batch["target"].clone()
        outside = person_region(batch["target_person_mask"]) < 0.5
        scene["target"][outside.expand_as(scene["target"])] = 1.0  # repaint the scene white
        losses[region] = [
            task.step(model, b, phase, 0).loss.item() for b in (batch, scene)
        ]  # fmt: skip
    # only VGG's receptive fields across the region's edge still see the scene
    image_change = abs(losses["image"][1] - losses["image"][0])
    person_change = abs(losses["person"][1] - losses["person"][0])
    assert image_change > 0.05 * losses["image"][0]
    assert person_change < 0.1 * image_change
    without_masks = {k: v for k, v in batch.items() if k != "target_person_mask"}
    with pytest.raises(ValueError, match="person masks"):
        task.step(model, without_masks, phase, 0)


def test_region_ssim_scores_only_the_region() -> None:
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    second = first.copy()
    second[:, 30:] = 255 - second[:, 30:]  # differs outside the region only
    inside = np.zeros((40, 40), bool)
    inside[5:25, 5:25] = True
    assert region_ssim(first, second, inside) == pytest.approx(1.0)
    assert region_ssim(first, second, np.ones((40, 40), bool)) < 0.9
    assert np.isnan(region_ssim(first, second, np.zeros((40, 40), bool)))


def test_the_ssim_term_adds_one_minus_the_region_ssim(tmp_path, vgg16_path) -> None:
    from core.perceptual import VGG16Features
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs
    from tryon.data.synthetic import SynthSettings, synthesize

    synthesize(tmp_path / "s", SynthSettings(identities=3, poses=2, size=64), progress=False)
    items = [PriorPairs(DeepFashionPairs(tmp_path / "s", "train", 32))[i] for i in range(2)]
    batch = torch.utils.data.default_collate(items)
    backbone = VGG16Features.from_file(vgg16_path, layers=("relu1_2",))
    results = {}
    for weight in (0.0, 100.0):
        options = WarpRefineTrainConfig(
            levels=(32,), steps_per_level=2, batch_sizes=(2,), loss_region="person",
            ssim_weight=weight,
        )  # fmt: skip
        task = WarpRefineTask(INPAINTED, options, backbone)
        task.prepare(torch.device("cpu"))
        torch.manual_seed(0)
        results[weight] = task.step(task.build_model(), batch, task.phases()[0], 0)
    similarity = results[0.0].terms["ssim"].item()
    assert 0 < similarity < 1
    added = results[100.0].loss.item() - results[0.0].loss.item()
    assert added == pytest.approx(100 * (1 - similarity), rel=1e-4)
    with pytest.raises(ValueError, match="ssim_weight"):
        WarpRefineTrainConfig(levels=(32,), steps_per_level=2, batch_sizes=(2,), ssim_weight=-1)
