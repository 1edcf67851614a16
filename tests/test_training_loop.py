"""The one training loop on a toy task: schedule, NaN guard, time budget, options, AMP."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from core.modelio import PretrainedMixin, read_metadata
from core.training.loop import LoopOptions, StepResult, Trainer, TrainingTask
from core.training.records import read_jsonl
from core.training.schedule import learning_rate_at


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    width: int = 3


class ToyNet(PretrainedMixin, nn.Module):
    model_type = "toy-loop-net"
    config_class = ToyConfig

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(config.width, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs)


@dataclasses.dataclass(frozen=True)
class ToyOptions(LoopOptions):
    steps: int = 6
    batch_size: int = 2
    log_every: int = 1
    sample_every: int = 0
    checkpoint_every: int = 2
    poison_at: int = -1  # the step whose loss becomes NaN (-1: never)

    EXTENDABLE = ("steps",)


class Line(Dataset):
    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = torch.tensor([index, 1.0, -index], dtype=torch.float32)
        return inputs, inputs.sum(0, keepdim=True) * 0.5


class ToyTask(TrainingTask):
    name = "toy"
    model_class = ToyNet

    def build_model(self) -> ToyNet:
        return ToyNet(self.config)

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), lr=self.options.learning_rate)

    def step(self, network, batch, phase, step_in_phase) -> StepResult:
        inputs, targets = (tensor.to(self.device) for tensor in batch)
        loss = (network(inputs) - targets).square().mean()
        if phase.start + step_in_phase == self.options.poison_at:
            loss = loss * float("nan")
        return StepResult(loss, {"half": loss / 2}, {"tag": "x"})


def _trainer(run_dir, **changes) -> Trainer:
    options = ToyOptions(learning_rate=0.01, **changes)
    return Trainer(ToyTask(ToyConfig(), options), Line(), run_dir, data="line", device="cpu",
                   show_progress=False)  # fmt: skip


def test_cosine_schedule_runs_from_the_peak_to_zero_and_is_logged(tmp_path):
    assert learning_rate_at("cosine", 1.0, 0, 4) == 1.0
    assert learning_rate_at("cosine", 1.0, 2, 4) == pytest.approx(0.5)
    assert learning_rate_at("constant", 0.3, 3, 4) == 0.3
    with pytest.raises(ValueError, match="unknown schedule"):
        learning_rate_at("linear", 1.0, 0, 4)
    _trainer(tmp_path / "run", lr_schedule="cosine").train()
    records = read_jsonl(tmp_path / "run" / "log.jsonl")
    expected = [0.005 * (1 + math.cos(math.pi * step / 6)) for step in range(6)]
    assert [r["lr"] for r in records] == pytest.approx(expected)
    assert all(r["half"] == pytest.approx(r["loss"] / 2) and r["tag"] == "x" for r in records)


def test_a_non_finite_loss_stops_before_the_weights_change(tmp_path):
    with pytest.raises(FloatingPointError, match="the loss became nan at step 4"):
        _trainer(tmp_path / "run", poison_at=3).train()
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "log.jsonl")] == [1, 2, 3]
    last = ToyNet.from_pretrained(tmp_path / "run" / "checkpoints" / "step-000000002")
    assert torch.isfinite(last.linear.weight).all()


def test_time_budget_checkpoints_and_the_rerun_finishes_identically(tmp_path):
    straight = _trainer(tmp_path / "straight").train()
    cut = _trainer(tmp_path / "cut", max_minutes=0.0).train()
    assert (cut.step, cut.finished, cut.final_dir) == (1, False, None)
    assert [p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()] == ["step-000000001"]
    resumed = _trainer(tmp_path / "cut").train()  # max_minutes may change on resume
    assert resumed.finished and resumed.final_dir == tmp_path / "cut" / "final"
    assert torch.equal(resumed.model.linear.weight, straight.model.linear.weight)
    assert read_metadata(resumed.final_dir)["steps"] == 6


def test_steps_extend_a_finished_run_only_under_a_constant_schedule(tmp_path):
    _trainer(tmp_path / "run").train()
    longer = _trainer(tmp_path / "run", steps=8).train()
    assert longer.step == 8 and read_metadata(longer.final_dir)["steps"] == 8
    assert ToyOptions().resumable_changes()[-1] == "steps"
    assert "steps" not in ToyOptions(lr_schedule="cosine").resumable_changes()


def test_options_json_has_one_flat_shape(tmp_path):
    trainer = _trainer(tmp_path / "run")
    trainer.train()
    options = json.loads((tmp_path / "run" / "options.json").read_text())
    assert options["model_type"] == "toy-loop-net" and options["model.width"] == 3
    assert options["train.steps"] == 6 and options["train.lr_schedule"] == "constant"
    assert {"data", "data_items", "backbone", "device", "num_workers", "world_size"} <= set(options)
    assert (options["data"], options["data_items"], options["world_size"]) == ("line", 5, 1)
    assert trainer.plan() == ["phase train: steps 0..6, batch 2"]


def test_loop_options_are_checked():
    with pytest.raises(ValueError, match="lr_schedule"):
        LoopOptions(lr_schedule="step")
    with pytest.raises(ValueError, match="learning_rate"):
        LoopOptions(learning_rate=0)
    with pytest.raises(ValueError, match="max_minutes"):
        LoopOptions(max_minutes=-1)
    with pytest.raises(ValueError, match="empty"):
        Trainer(ToyTask(ToyConfig(), ToyOptions()), [], "unused")


@pytest.mark.gpu
def test_mixed_precision_on_cuda_trains_and_resumes_its_loss_scaler(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    options = ToyOptions(learning_rate=0.01, steps=4)
    trainer = Trainer(ToyTask(ToyConfig(), options), Line(), tmp_path / "run", device="cuda",
                      show_progress=False)  # fmt: skip
    first = trainer.train(max_steps=2)
    assert next(first.model.parameters()).is_cuda
    state = torch.load(
        tmp_path / "run" / "checkpoints" / "step-000000002" / "trainer_state.pt",
        weights_only=True,
    )
    assert state["trainer"]["scaler"]["scale"] > 0  # AMP's scaler was on and is saved
    assert trainer.train().finished
