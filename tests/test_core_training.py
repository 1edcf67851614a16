"""The parts of the one training loop (core/training/: RNG, data order, checkpoints, logs)."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from core.errors import CheckpointError
from core.images import save_image_grid
from core.modelio import PretrainedMixin
from core.training.checkpoints import (
    find_latest_checkpoint,
    list_checkpoints,
    load_training_checkpoint,
    prune_checkpoints,
    save_training_checkpoint,
    step_name,
)
from core.training.data import ResumableSampler, resumable_loader
from core.training.records import JsonlLogger, read_jsonl, write_resolved_options
from core.training.rng import capture_rng_state, restore_rng_state, seed_everything


@dataclass(frozen=True)
class TinyConfig:
    width: int = 4


class TinyNet(PretrainedMixin, nn.Module):
    model_type = "tiny-test-net"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(3, config.width)
        self.norm = nn.BatchNorm1d(config.width)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(inputs))


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), torch.rand(()).item()


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    seed_everything(3)
    _draws()
    state = capture_rng_state()
    expected = _draws()
    torch.save(state, tmp_path / "rng.pt")
    seed_everything(99)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert _draws() == expected


def test_sampler_resumes_at_any_sample_count():
    stream = list(itertools.islice(iter(ResumableSampler(7, seed=1)), 30))
    assert sorted(stream[:7]) == list(range(7)) and sorted(stream[7:14]) == list(range(7))
    assert stream[:7] != stream[7:14]  # each epoch has its own order
    resumed = list(itertools.islice(iter(ResumableSampler(7, seed=1, start=11)), 19))
    assert resumed == stream[11:]


def test_loader_does_not_touch_global_rng():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    loader = resumable_loader(list(range(10)), batch_size=4, seed=0, samples_seen=6)
    assert len(next(iter(loader))) == 4
    assert torch.equal(torch.get_rng_state(), before)


def test_loader_batches_follow_the_sampler():
    sampler_stream = list(itertools.islice(iter(ResumableSampler(10, seed=5, start=3)), 8))
    loader = iter(resumable_loader(list(range(10)), batch_size=4, seed=5, samples_seen=3))
    assert next(loader).tolist() + next(loader).tolist() == sampler_stream


def _trained_pair() -> tuple[TinyNet, torch.optim.Optimizer]:
    model = TinyNet(TinyConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.randn(5, 3)).pow(2).mean().backward()
    optimizer.step()
    return model, optimizer


def test_checkpoint_round_trip_restores_model_optimizer_rng(tmp_path):
    seed_everything(0)
    model, optimizer = _trained_pair()
    directory = save_training_checkpoint(
        tmp_path / "ckpt" / step_name(7),
        model,
        optimizer,
        {"step": 7, "samples_seen": 35},
        metadata={"data": "x"},
    )
    expected = _draws()
    restored = TinyNet.from_pretrained(directory).train()
    new_optimizer = torch.optim.Adam(restored.parameters(), lr=1e-2)
    checkpoint = load_training_checkpoint(directory, optimizer=new_optimizer)
    assert _draws() == expected
    assert checkpoint.step == 7 and checkpoint.trainer_state["samples_seen"] == 35
    assert checkpoint.metadata == {"data": "x"}
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, restored.state_dict()[name]), name
    saved_state = optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(new_optimizer.state_dict()["state"][0]["exp_avg"], saved_state)


def test_latest_checkpoint_ignores_partial_saves_and_prunes(tmp_path):
    model, optimizer = _trained_pair()
    root = tmp_path / "ckpt"
    for step in (2, 10, 5):
        save_training_checkpoint(root / step_name(step), model, optimizer, {"step": step})
    (root / ".step-000000011.tmp-dead").mkdir()  # what a kill mid-save leaves behind
    (root / "step-000000012").mkdir()  # incomplete: no marker
    assert find_latest_checkpoint(root).name == step_name(10)
    prune_checkpoints(root, keep=2)
    assert [path.name for path in list_checkpoints(root)] == [step_name(5), step_name(10)]
    assert not (root / ".step-000000011.tmp-dead").exists()
    assert find_latest_checkpoint(tmp_path / "absent") is None


def test_saving_over_an_existing_checkpoint_replaces_it(tmp_path):
    model, optimizer = _trained_pair()
    save_training_checkpoint(tmp_path / "latest", model, optimizer, {"step": 1})
    save_training_checkpoint(tmp_path / "latest", model, optimizer, {"step": 2})
    assert load_training_checkpoint(tmp_path / "latest", restore_rng=False).step == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["latest"]


def test_checkpoint_errors_are_clear(tmp_path):
    model, optimizer = _trained_pair()
    with pytest.raises(ValueError, match="step"):
        save_training_checkpoint(tmp_path / "c", model, optimizer, {"epoch": 1})
    with pytest.raises(CheckpointError, match="not a complete"):
        load_training_checkpoint(tmp_path)


def test_jsonl_logger_resume_drops_lines_past_the_checkpoint(tmp_path):
    path = tmp_path / "log.jsonl"
    with JsonlLogger(path) as log:
        for step in range(1, 6):
            log.log(step, loss=torch.tensor(step / 10))
    with path.open("a") as handle:
        handle.write('{"step": 6, "lo')  # a line cut by a kill
    with JsonlLogger(path, resume_step=3) as log:
        log.log(4, loss=np.float32(0.5))
    assert [record["step"] for record in read_jsonl(path)] == [1, 2, 3, 4]
    assert read_jsonl(path)[-1]["loss"] == 0.5
    JsonlLogger(path).close()  # a fresh run starts over
    assert read_jsonl(path) == []


def test_image_grid_layout_and_values(tmp_path):
    white = torch.ones(2, 3, 4, 6)
    black = [-torch.ones(3, 4, 6)]
    path = save_image_grid([white, black], tmp_path / "grid.png", padding=1)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (2 * 5 + 1, 2 * 7 + 1, 3)
    assert (pixels[6:10, 1:7] == 0).all()  # second row, first cell is black
    with pytest.raises(ValueError, match="share one"):
        save_image_grid([[torch.zeros(3, 4, 4), torch.zeros(3, 8, 8)]], tmp_path / "bad.png")


def test_resolved_options_refuse_a_different_run(tmp_path):
    write_resolved_options(tmp_path, {"seed": 1, "out": tmp_path, "dry_run": False})
    write_resolved_options(tmp_path, {"seed": 1, "out": tmp_path, "dry_run": True}, ("dry_run",))
    assert json.loads((tmp_path / "options.json").read_text())["out"] == str(tmp_path)
    with pytest.raises(CheckpointError, match=r"seed: 1 -> 2"):
        write_resolved_options(tmp_path, {"seed": 2, "out": tmp_path, "dry_run": False})
