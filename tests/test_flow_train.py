"""flow.trainer and flow.evaluate on a toy try-on set made in the test (no data files)."""

from __future__ import annotations

import dataclasses
import json
import signal

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import Dataset

from core.errors import CheckpointError
from core.perceptual import load_backbone
from core.training.records import read_jsonl
from flow.evaluate import (
    baseline_method,
    evaluate_warps,
    mask_iou,
    masked_ssim,
    model_inputs,
    model_method,
    win_rates,
)
from flow.model import AppearanceFlowNet, FlowConfig, FlowLossConfig
from flow.trainer import FlowTrainOptions, train_flow
from flow.warp import identity_grid, warp

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = FlowConfig(channels=(4, 8, 8), loss=FlowLossConfig(perceptual_weight=0.02))


class ToyPairs(Dataset):
    """A striped garment on white, and the same garment shifted and scaled onto a person.

    The worn garment is made by an affine flow, so a perfect warp exists.
    """

    def __init__(self, count: int, size: int) -> None:
        self.count, self.size = count, size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        size, quarter = self.size, self.size // 4
        garment_mask = torch.zeros(1, size, size)
        garment_mask[:, quarter : 3 * quarter, quarter : 3 * quarter] = 1
        rows = torch.arange(size, dtype=torch.float32).view(1, size, 1)
        colour = torch.rand(3, 1, 1, generator=generator) * 2 - 1
        stripes = colour * torch.sin(rows * (0.5 + torch.rand(1, generator=generator)))
        garment = stripes.expand(3, size, size) * garment_mask + (1 - garment_mask)
        scale = 0.8 + 0.4 * torch.rand(1, generator=generator)
        shift = (torch.rand(2, generator=generator) - 0.5) * 0.4
        flow = (1 / scale - 1) * identity_grid(size, size) + shift.view(1, 2, 1, 1)
        region = (warp(garment_mask[None], flow)[0] > 0.5).float()
        worn = warp(garment[None], flow)[0]
        person = worn * region - 0.5 * (1 - region)
        return {
            "person_keypoints": torch.rand(18, 2, generator=generator) * size,
            "garment": garment,
            "garment_mask": garment_mask,
            "garment_region": region,
            "person": person,
        }


def _weights(model_dir) -> dict[str, torch.Tensor]:
    return load_file(model_dir / "model.safetensors")


def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path, vgg16_path):
    data = ToyPairs(6, 16)
    options = FlowTrainOptions(resolution=16, steps=4, batch_size=2, checkpoint_every=2)
    backbone = load_backbone(vgg16_path, "vgg16-hed", TINY.loss.perceptual_layers)
    straight = train_flow(data, tmp_path / "straight", TINY, options, *backbone)
    # The "interrupted" run stops after its step-2 checkpoint; the second call resumes it.
    train_flow(data, tmp_path / "resumed", TINY, dataclasses.replace(options, steps=2), *backbone)
    resumed = train_flow(data, tmp_path / "resumed", TINY, options, *backbone)
    first, second = _weights(straight), _weights(resumed)
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    straight_log = read_jsonl(tmp_path / "straight" / "log.jsonl")
    resumed_log = read_jsonl(tmp_path / "resumed" / "log.jsonl")
    assert [record["step"] for record in resumed_log] == [1, 2, 3, 4]
    assert [r["loss"] for r in straight_log] == [r["loss"] for r in resumed_log]


class InterruptedPairs(ToyPairs):
    """ToyPairs that presses Ctrl-C (SIGINT) once, while the ``at``-th item is loaded."""

    def __init__(self, count: int, size: int, at: int) -> None:
        super().__init__(count, size)
        self.calls, self.at = 0, at

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.calls == self.at:
            signal.raise_signal(signal.SIGINT)
        return super().__getitem__(index)


def test_ctrl_c_saves_a_checkpoint_and_the_rerun_finishes_identically(tmp_path):
    config = dataclasses.replace(TINY, loss=FlowLossConfig(perceptual_weight=0.0))
    options = FlowTrainOptions(resolution=16, steps=6, batch_size=2, checkpoint_every=100)
    straight = train_flow(ToyPairs(6, 16), tmp_path / "straight", config, options)
    run = tmp_path / "interrupted"
    # 4 sample-grid items, then 2 per step: the 9th load happens during step 3.
    with pytest.raises(KeyboardInterrupt):
        train_flow(InterruptedPairs(6, 16, at=9), run, config, options)
    assert [path.name for path in (run / "checkpoints").iterdir()] == ["step-000000003"]
    resumed = train_flow(ToyPairs(6, 16), run, config, options)
    first, second = _weights(straight), _weights(resumed)
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_a_run_writes_its_artefacts_and_refuses_other_options(tmp_path):
    config = dataclasses.replace(TINY, loss=FlowLossConfig(perceptual_weight=0.0))
    options = FlowTrainOptions(
        resolution=16,
        steps=3,
        batch_size=2,
        checkpoint_every=1,
        sample_every=2,
        keep_checkpoints=2,
    )
    run = tmp_path / "run"
    model_dir = train_flow(ToyPairs(4, 16), run, config, options, data_description="toy")
    assert AppearanceFlowNet.from_pretrained(model_dir).config == config
    assert json.loads((model_dir / "config.json").read_text())["metadata"]["steps"] == 3
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-000000002.png",
        "step-000000003.png",
    ]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-000000002",
        "step-000000003",
    ]
    assert json.loads((run / "options.json").read_text())["data"] == "toy"
    with pytest.raises(CheckpointError, match="batch_size"):
        train_flow(ToyPairs(4, 16), run, config, dataclasses.replace(options, batch_size=4))


def test_pose_maps_are_drawn_from_the_keypoints_and_trained_with(tmp_path):
    config = dataclasses.replace(TINY, pose_channels=18, loss=FlowLossConfig(perceptual_weight=0))
    batch = torch.utils.data.default_collate([ToyPairs(2, 16)[index] for index in range(2)])
    pose = model_inputs(config, batch)[3]
    assert pose.shape == (2, 18, 16, 16)
    x, y = batch["person_keypoints"][1, 4].round().long().tolist()
    assert pose[1, 4, y, x] > 0.8  # the map of joint 4 peaks at joint 4 (sigma 1.6 px here)
    assert model_inputs(TINY, batch)[3] is None
    options = FlowTrainOptions(resolution=16, steps=2, batch_size=2)
    model_dir = train_flow(ToyPairs(4, 16), tmp_path / "run", config, options)
    assert AppearanceFlowNet.from_pretrained(model_dir).config.pose_channels == 18


def test_resolution_must_fit_the_config():
    with pytest.raises(ValueError, match="multiple of the config's coarsest stride 4"):
        train_flow(ToyPairs(2, 18), "unused", TINY, FlowTrainOptions(resolution=18))


def test_training_learns_to_fit_held_out_toy_pairs(tmp_path):
    config = FlowConfig(channels=(8, 16, 16), loss=FlowLossConfig(perceptual_weight=0.0))
    options = FlowTrainOptions(
        resolution=32,
        steps=100,
        batch_size=4,
        learning_rate=1e-3,
        checkpoint_every=100,
        sample_every=100,
    )
    trained = AppearanceFlowNet.from_pretrained(
        train_flow(ToyPairs(16, 32), tmp_path / "run", config, options)
    )
    held_out = torch.utils.data.default_collate(
        [ToyPairs(24, 32)[index] for index in range(16, 24)]
    )
    methods = {
        "trained": model_method(trained),
        "untrained": model_method(AppearanceFlowNet(config)),
    }
    result = evaluate_warps([held_out], methods)
    # Measured after these 100 steps: masked SSIM 0.74 -> 0.80, IoU up by more than 0.08.
    assert result["iou"]["trained"] > result["iou"]["untrained"] + 0.08
    assert result["masked_ssim"]["trained"] > result["masked_ssim"]["untrained"] + 0.04


def test_evaluation_scores_every_method_and_an_oracle_perfectly():
    batch = torch.utils.data.default_collate([ToyPairs(3, 32)[index] for index in range(3)])

    def oracle(batch):
        return batch["person"], batch["garment_region"]

    model = AppearanceFlowNet(FlowConfig(channels=(4, 8))).eval()
    methods = {
        "oracle": oracle,
        "flow": model_method(model),
        "bbox_resize": baseline_method("bbox_resize"),
        "tps": baseline_method("tps"),
    }
    result = evaluate_warps([batch], methods)
    assert result["images"] == 3
    assert len(result["per_image"]["iou"]["tps"]) == 3
    assert set(result["masked_ssim"]) == set(result["iou"]) == set(methods)
    assert result["masked_ssim"]["oracle"] == pytest.approx(1.0)
    assert result["iou"]["oracle"] == 1.0
    # Toy targets are boxes: the box baseline is nearly perfect, the untrained net is not.
    assert result["iou"]["bbox_resize"] > 0.9 > result["iou"]["flow"]


def test_win_rates_count_images_where_the_method_is_strictly_better():
    result = {
        "per_image": {
            "iou": {"flow": [0.9, 0.5, 0.7, 0.2], "box": [0.8, 0.5, 0.9, 0.1]},
            "masked_ssim": {"flow": [1.0, 1.0], "box": [0.0, 1.0]},
        }
    }
    assert win_rates(result) == {"iou": {"box": 0.5}, "masked_ssim": {"box": 0.5}}


def test_metric_hand_values():
    predicted = torch.zeros(1, 4, 4)
    target = torch.zeros(1, 4, 4)
    predicted[0, :2, :2] = 1  # 4 pixels
    target[0, :2, :] = 1  # 8 pixels, 4 shared
    assert mask_iou(predicted, target) == pytest.approx(4 / 8)
    assert mask_iou(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4)) == 1.0
    image = torch.rand(3, 16, 16) * 2 - 1
    mask = torch.ones(1, 16, 16)
    assert masked_ssim(image, image, mask) == pytest.approx(1.0)
    assert masked_ssim(image, -image, mask) < 0.5
    # Outside the mask nothing counts: both become black there.
    outside = torch.zeros(1, 16, 16)
    assert masked_ssim(image, -image, outside) == pytest.approx(1.0)
