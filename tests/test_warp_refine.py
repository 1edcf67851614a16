"""The warp-and-refine HPN: the shared model contract, the prior it starts from, its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_contract import ModelContract

from core.posemaps import pose_maps_batch
from hpn.model import HPNConfig
from hpn.warp_refine import WarpRefineConfig, WarpRefineHPN, compose

TINY = WarpRefineConfig(
    backbone=HPNConfig(
        bottleneck_size=4, bottleneck_channels=32, start_resolution=8, final_resolution=32,
        pose_sigma=0.4,
    )
)  # fmt: skip


def _inputs(model: WarpRefineHPN, batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    size, bottleneck = model.resolution, model.pose_map_size
    return {
        "prior": torch.rand(batch, 3, size, size, generator=generator) * 2 - 1,
        "validity": torch.rand(batch, 2, size, size, generator=generator),
        "pose_maps": torch.rand(batch, 18, bottleneck, bottleneck, generator=generator),
    }


class TestWarpRefineContract(ModelContract):
    """The shared contract; the head is perturbed so gradients reach every layer at once
    (a fresh head is zero on purpose: see test_a_fresh_network_keeps_the_prior)."""

    model_type = "hpn_warp_refine"

    def make_config(self) -> WarpRefineConfig:
        return TINY

    def make_model(self) -> WarpRefineHPN:
        model = WarpRefineHPN(TINY)
        model.grow()
        with torch.no_grad():
            model.network.to_rgb.weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        return model

    def make_inputs(self, model: WarpRefineHPN, batch: int = 2) -> dict[str, torch.Tensor]:
        return _inputs(model, batch)


def test_a_fresh_network_keeps_the_prior_where_it_is_valid() -> None:
    model = WarpRefineHPN(TINY).eval()
    inputs = _inputs(model)
    inputs["validity"] = torch.zeros_like(inputs["validity"])
    inputs["validity"][:, 0, :, :8] = 1.0  # the prior is valid on the left half
    refinement = model.refine(**inputs)
    assert torch.equal(refinement.residual, torch.zeros_like(refinement.residual))
    assert torch.equal(refinement.generated, torch.zeros_like(refinement.generated))
    torch.testing.assert_close(
        refinement.visibility, torch.full_like(refinement.visibility, TINY.initial_visibility)
    )
    size = model.resolution
    ys, xs = torch.meshgrid(
        (torch.arange(size) * 2 + 1) / size - 1, (torch.arange(size) * 2 + 1) / size - 1,
        indexing="ij",
    )  # fmt: skip
    identity = torch.stack([xs, ys], dim=-1)[None].expand(2, -1, -1, -1)
    source = inputs["prior"]
    output, mask = compose(source, identity, inputs["validity"], refinement)
    left, right = (slice(None), slice(None), slice(None), slice(0, 8)), (..., slice(8, None))
    torch.testing.assert_close(output[left], TINY.initial_visibility * source[left])
    assert torch.equal(mask[right], torch.zeros_like(mask[right]))  # invalid: generated only


def test_growth_keeps_the_head_at_its_start() -> None:
    model = WarpRefineHPN(TINY)
    model.grow_to(32)
    assert model.resolution == 32
    assert torch.equal(model.network.to_rgb.weight, torch.zeros_like(model.network.to_rgb.weight))
    with pytest.raises(ValueError):
        model.grow()


def test_validity_must_have_two_channels() -> None:
    model = WarpRefineHPN(TINY)
    inputs = _inputs(model)
    inputs["validity"] = inputs["validity"][:, :1]
    with pytest.raises(ValueError, match="validity"):
        model(**inputs)


def test_the_prior_of_a_synthetic_pair_is_the_part_warp_and_the_scene(tmp_path) -> None:
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs
    from tryon.data.synthetic import SynthSettings, synthesize

    synthesize(tmp_path / "s", SynthSettings(identities=3, poses=2, size=64), progress=False)
    item = PriorPairs(DeepFashionPairs(tmp_path / "s", "train", 64))[0]
    grid, validity = item["prior_grid"], item["validity"]
    assert grid.shape == (64, 64, 2) and validity.shape == (2, 64, 64)
    target_mask = item["target_person_mask"][0] > 0.5
    covered = validity[0] > 0.5
    iou = (covered & target_mask).sum() / (covered | target_mask).sum()
    assert iou > 0.6  # the warped person lands where the target person is
    assert not ((validity[0] > 0) & (validity[1] > 0)).any()  # a pixel is one or the other
    background = validity[1] > 0.5
    assert not (background & (item["reference_person_mask"][0] > 0.5)).any()


def test_a_training_step_lowers_the_loss_on_one_pair(tmp_path, vgg16_path) -> None:
    from core.perceptual import VGG16Features
    from core.training.loop import SinglePhase
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs
    from tryon.data.synthetic import SynthSettings, synthesize

    synthesize(tmp_path / "s", SynthSettings(identities=3, poses=2, size=64), progress=False)
    items = [PriorPairs(DeepFashionPairs(tmp_path / "s", "train", 32))[i] for i in range(2)]
    batch = torch.utils.data.default_collate(items)
    backbone = VGG16Features.from_file(vgg16_path, layers=("relu1_2",))
    options = WarpRefineTrainConfig(levels=(32,), steps_per_level=5, batch_sizes=(2,))
    task = WarpRefineTask(WarpRefineConfig(backbone=TINY.backbone), options, backbone)
    task.prepare(torch.device("cpu"))
    torch.manual_seed(0)
    model = task.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    phase = task.phases()[0]
    assert not isinstance(phase, SinglePhase)
    losses = []
    for step in range(6):
        result = task.step(model, batch, phase, min(step, 4))
        optimizer.zero_grad()
        result.loss.backward()
        optimizer.step()
        losses.append(result.loss.item())
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    rows = task.sample_rows(model.eval(), batch)
    assert len(rows) == 2 and all(image.shape == (3, 32, 32) for image in rows[0])
    maps = pose_maps_batch(batch["target_keypoints"], 4, 0.4, (32, 32))
    assert maps.shape == (2, 18, 4, 4)


def test_array_cache_computes_once_and_recomputes_a_torn_file(tmp_path) -> None:
    from tryon.data.array_cache import cached_arrays

    calls = []

    def compute():
        calls.append(1)
        return {"grid": np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), "n": np.arange(3)}

    path = tmp_path / "item.npz"
    first = cached_arrays(path, compute)
    second = cached_arrays(path, compute)
    assert len(calls) == 1 and second["grid"].dtype == np.float32
    np.testing.assert_allclose(second["grid"], first["grid"], atol=1e-3)
    np.testing.assert_array_equal(second["n"], first["n"])
    path.write_bytes(path.read_bytes()[:20])  # a run killed mid-write
    cached_arrays(path, compute)
    assert len(calls) == 2 and not list(tmp_path.glob(".*partial*"))


def test_one_prior_cache_serves_every_resolution(tmp_path) -> None:
    """A cache filled at 32 px must not hand its priors to a 64 px run of the same pairs."""
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs
    from tryon.data.synthetic import SynthSettings, synthesize

    synthesize(tmp_path / "s", SynthSettings(identities=3, poses=2, size=64), progress=False)
    cache = tmp_path / "cache"
    for size in (32, 64, 32):
        item = PriorPairs(DeepFashionPairs(tmp_path / "s", "train", size), cache=cache)[0]
        assert item["prior_grid"].shape == (size, size, 2)
        assert item["validity"].shape == (2, size, size)
    assert len(list(cache.glob("*.npz"))) == 2
