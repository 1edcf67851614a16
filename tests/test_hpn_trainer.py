"""The progressive trainer: schedule, growth, resume bit-for-bit, run directory, evaluation."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import Dataset

from core.errors import CheckpointError
from core.perceptual import VGG16Features
from core.training.checkpoints import list_checkpoints
from core.training.records import read_jsonl
from hpn import HPN, HPNConfig
from hpn.evaluation import evaluate_pose_transfer
from hpn.trainer import Phase, ProgressiveTrainer, TrainConfig

TINY = HPNConfig(
    bottleneck_size=8, bottleneck_channels=32, start_resolution=16, final_resolution=32,
    pose_sigma=0.8,
)  # fmt: skip
BACKBONE_INFO = {"name": "vgg16-hed", "sha256": "test"}


class BlobPairs(Dataset):
    """A square blob that moves: the target pose's keypoints say where it went."""

    def __init__(self, count: int = 6, size: int = 32) -> None:
        self.count, self.size = count, size

    def __len__(self) -> int:
        return self.count

    def _image(self, x: int, y: int, shade: float) -> torch.Tensor:
        image = -torch.ones(3, self.size, self.size)
        image[:, y : y + 8, x : x + 8] = torch.tensor([shade, 0.5, -shade]).view(3, 1, 1)
        return image

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        shade = index / self.count
        x, y = 2 + 3 * index % 20, 4 + 2 * index % 18
        keypoints = torch.full((18, 2), float("nan"))
        keypoints[:4] = torch.tensor([[x, y], [x + 7, y], [x, y + 7], [x + 7, y + 7]]).float()
        keypoints[4:8] = keypoints[:4] + 3.5
        return {
            "reference": self._image(4, 4, shade),
            "target": self._image(x, y, shade),
            "target_keypoints": keypoints,
        }


@pytest.fixture(scope="module")
def backbone(vgg16_path):
    return VGG16Features.from_file(vgg16_path, layers=("relu1_2", "relu2_2"))


def _config(**changes) -> TrainConfig:
    base = {
        "levels": (16, 32),
        "steps_per_level": 4,
        "batch_sizes": (3, 2),
        "checkpoint_every": 100,
        "sample_every": 3,
        "num_samples": 2,
        "log_every": 1,
    }
    return TrainConfig(**{**base, **changes})


def _trainer(run_dir, backbone, config: TrainConfig) -> ProgressiveTrainer:
    return ProgressiveTrainer(
        TINY, config, BlobPairs(), backbone, run_dir, BACKBONE_INFO, {"data": "blobs"},
        device="cpu", show_progress=False,
    )  # fmt: skip


def test_schedule_phases_and_batch_sizes():
    assert _config().phases() == (Phase(16, 4, 3, 0), Phase(32, 4, 2, 4))
    flat = _config(progressive=False).phases()
    assert flat == (Phase(32, 8, 2, 0),)
    with pytest.raises(ValueError, match="double"):
        TrainConfig(levels=(64, 256))
    with pytest.raises(ValueError, match="one per level"):
        TrainConfig(levels=(64, 128), batch_sizes=(1, 2, 3))
    with pytest.raises(ValueError, match="not levels of the model config"):
        TrainConfig(levels=(64, 128)).check_against(TINY)


@pytest.mark.parametrize("growth", ["reset", "keep"])
def test_resume_mid_level_reproduces_the_uninterrupted_run(tmp_path, backbone, growth):
    config = _config(optimizer_at_growth=growth)
    straight = _trainer(tmp_path / "straight", backbone, config).train()
    _trainer(tmp_path / "split", backbone, config).train(max_steps=3)  # mid-level 16
    _trainer(tmp_path / "split", backbone, config).train(max_steps=6)  # across growth, mid 32
    resumed = _trainer(tmp_path / "split", backbone, config).train()
    assert resumed.resolution == straight.resolution == 32
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    straight_log = [(r["step"], r["loss"]) for r in read_jsonl(tmp_path / "straight/log.jsonl")]
    split_log = [(r["step"], r["loss"]) for r in read_jsonl(tmp_path / "split/log.jsonl")]
    assert straight_log == split_log and [s for s, _ in split_log] == list(range(1, 9))


def test_run_directory_holds_models_samples_and_checkpoints(tmp_path, backbone):
    run = tmp_path / "run"
    _trainer(run, backbone, _config()).train()
    assert HPN.from_pretrained(run / "levels/0016").resolution == 16
    final = HPN.from_pretrained(run / "final")
    assert final.resolution == 32
    metadata = json.loads((run / "final/config.json").read_text())["metadata"]
    assert metadata["backbone"] == BACKBONE_INFO and metadata["steps"] == 8
    assert metadata["data"] == "blobs"
    assert sorted(path.name for path in (run / "samples").iterdir()) == [
        "step-000000003.png",
        "step-000000006.png",
        "step-000000008.png",  # the end of the run
    ]
    assert len(list_checkpoints(run / "checkpoints")) == 2  # keep_checkpoints
    records = read_jsonl(run / "log.jsonl")
    assert [r["criterion"] for r in records] == ["l2", "l2", "l1", "l1"] * 2
    assert [r["resolution"] for r in records] == [16] * 4 + [32] * 4
    options = json.loads((run / "options.json").read_text())
    assert options["train.levels"] == [16, 32] and options["model.bottleneck_size"] == 8


def test_finished_run_is_not_trained_again_and_options_must_match(tmp_path, backbone):
    run = tmp_path / "run"
    first = _trainer(run, backbone, _config()).train()
    log_before = (run / "log.jsonl").read_text()
    again = _trainer(run, backbone, _config(sample_every=0)).train()  # operational change: ok
    assert (run / "log.jsonl").read_text() == log_before
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True)
    )
    with pytest.raises(CheckpointError, match=r"train\.use_local"):
        _trainer(run, backbone, _config(use_local=False)).train()


def test_not_progressive_trains_the_final_level_from_the_start(tmp_path, backbone):
    model = _trainer(tmp_path / "flat", backbone, _config(progressive=False)).train()
    records = read_jsonl(tmp_path / "flat/log.jsonl")
    assert {r["resolution"] for r in records} == {32} and len(records) == 8
    assert model.resolution == 32 and not (tmp_path / "flat/levels/0016").exists()


def test_evaluation_compares_with_the_reference_baseline(tmp_path, backbone):
    model = _trainer(tmp_path / "run", backbone, _config()).train()
    result = evaluate_pose_transfer(
        model, BlobPairs(count=5), limit=4, batch_size=3, show_progress=False
    )
    scores = result.scores
    assert scores.count == 4 and scores.resolution == 32
    assert -1 <= scores.ssim <= 1 and -1 <= scores.baseline_ssim <= 1
    assert scores.baseline_ssim < 1.0  # the blob moved
    assert len(result.examples) == 4 and all(len(row) == 4 for row in result.examples)
    assert result.examples[0][2].shape == (3, 32, 32)
