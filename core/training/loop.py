"""The one training loop: every network supplies a task, the loop does everything else.

A network supplies a :class:`TrainingTask` (its model, optimiser, one step's forward and
losses, sample grids, optional phases) and a training-options dataclass derived from
:class:`LoopOptions`; :class:`Trainer` runs it into a run directory:

- seeding, and on resume the RNG states, optimiser, loss scaler and data position of the
  newest checkpoint, so a resumed CPU run reproduces the uninterrupted one bit for bit;
- the resumable (and, under ``torchrun``, sharded) data stream, with DataLoader workers;
- mixed precision (fp16 autocast + loss scaling) on CUDA, float32 elsewhere;
- a NaN guard (a non-finite loss stops the run before it touches the weights, on every rank);
- the learning-rate schedule (:mod:`core.training.schedule`), computed from the step number;
- phases (HPN's resolution levels), each with its own batch size, entered through a hook;
- DDP over ``torchrun`` ranks (rank 0 alone writes), optionally with SyncBatchNorm (CUDA);
- atomic checkpoints every ``checkpoint_every`` steps, at phase ends, on Ctrl-C and when the
  ``max_minutes`` budget runs out; the JSONL log; sample grids; the progress bar;
- ``options.json`` in one flat shape for every network (:meth:`Trainer.options`), refusing to
  resume a run with options that change what it computes.

Run directory: ``options.json``, ``log.jsonl``, ``samples/step-*.png``, ``checkpoints/step-*``
(model directories themselves), phase outputs a task writes (HPN's ``levels/<R>``), and
``final/`` (the finished model). Running the same training again resumes from the newest
checkpoint; a finished run returns the final model without training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from torch import nn
from torch.utils.data import Dataset

from core.devices import autocast_for, grad_scaler_for, resolve_device
from core.errors import CheckpointError
from core.images import save_image_grid
from core.modelio import CONFIG_FILE, config_to_dict, read_metadata, training_metadata
from core.training.checkpoints import (
    find_latest_checkpoint,
    load_training_checkpoint,
    prune_checkpoints,
    save_training_checkpoint,
    step_name,
)
from core.training.data import sharded_loader
from core.training.distributed import (
    DistributedContext,
    all_ranks_true,
    all_reduce_means,
    barrier,
    wrap_model,
)
from core.training.records import JsonlLogger, interrupt_guard, progress_bar, write_resolved_options
from core.training.rng import seed_everything
from core.training.schedule import SCHEDULES, Schedule, learning_rate_at

FINAL_DIR = "final"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
LOG_FILE = "log.jsonl"
# Run-level options that only change how a run is executed, not what it computes.
RUN_OPERATIONAL: tuple[str, ...] = ("device", "num_workers")


@dataclasses.dataclass(frozen=True)
class LoopOptions:
    """What every training run has, whichever network it trains.

    A network's options subclass this and add their own fields (steps, batch sizes, loss
    weights); subclasses may change the defaults.

    Attributes:
        seed: seeds the weights, the data order and everything random.
        learning_rate: the peak learning rate.
        lr_schedule: "constant", or "cosine" (from ``learning_rate`` to 0 over the run).
        checkpoint_every: steps between checkpoints (also taken at phase ends, on Ctrl-C and
            when ``max_minutes`` runs out).
        keep_checkpoints: how many recent checkpoints to keep.
        sample_every: steps between sample grids (0 = never; also one at the end).
        log_every: steps between JSONL records (also one at every phase end).
        max_minutes: stop (with a checkpoint) after this much wall time in one invocation;
            running the same command again continues.
        amp: fp16 autocast with loss scaling on CUDA (no effect on CPU, which stays float32).
    """

    seed: int = 0
    learning_rate: float = 2e-4
    lr_schedule: Schedule = "constant"
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    sample_every: int = 1000
    log_every: int = 10
    max_minutes: float | None = None
    amp: bool = True

    # Fields that only change how a run is observed or executed (may differ on resume).
    OPERATIONAL: ClassVar[tuple[str, ...]] = (
        "checkpoint_every",
        "keep_checkpoints",
        "sample_every",
        "log_every",
        "max_minutes",
    )
    # Fields that may grow on resume when the learning rate does not depend on them.
    EXTENDABLE: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}"
            )
        for name in ("checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.sample_every < 0:
            raise ValueError(f"sample_every must be >= 0 (0 = never), got {self.sample_every}")
        if self.max_minutes is not None and self.max_minutes < 0:
            raise ValueError(f"max_minutes must be >= 0, got {self.max_minutes}")

    def resumable_changes(self) -> tuple[str, ...]:
        """The fields a resumed run may change (``EXTENDABLE`` ones under a constant LR)."""
        extendable = self.EXTENDABLE if self.lr_schedule == "constant" else ()
        return (*self.OPERATIONAL, *extendable)


class Phase(Protocol):
    """A stretch of training with one batch size: global steps [start, end)."""

    steps: int
    batch_size: int
    start: int

    @property
    def end(self) -> int: ...

    @property
    def label(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class SinglePhase:
    """The whole run as one phase (networks without levels)."""

    steps: int
    batch_size: int
    start: int = 0

    @property
    def end(self) -> int:
        return self.start + self.steps

    @property
    def label(self) -> str:
        return "train"


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What a task's step returns.

    Attributes:
        loss: the scalar the loop backpropagates (logged as ``loss``).
        terms: named scalar tensors to log (averaged over ranks), e.g. the loss's parts.
        info: plain values to log as they are (the phase's resolution, the criterion).
    """

    loss: torch.Tensor
    terms: Mapping[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class TrainingTask(ABC):
    """What one network supplies to the loop.

    Required: :attr:`name`, :attr:`model_class`, :meth:`build_model`, :meth:`make_optimizer`
    and :meth:`step`. The other hooks have defaults for a network trained in one phase.

    Args:
        config: the model config (a frozen dataclass; ``model.*`` in ``options.json``).
        options: the training options (``train.*`` in ``options.json``).
    """

    name: ClassVar[str]
    model_class: ClassVar[type]

    def __init__(self, config: Any, options: LoopOptions) -> None:
        self.config = config
        self.options = options
        self.device = torch.device("cpu")

    def prepare(self, device: torch.device) -> None:
        """Called once before training: move losses and buffers to ``device``."""
        self.device = device

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model (the RNGs are seeded already), on the CPU."""

    def load_model(self, directory: Path) -> nn.Module:
        """The model of a checkpoint directory (to resume from)."""
        model = self.model_class.from_pretrained(directory)
        if model.config != self.config:
            raise CheckpointError(
                f"{directory} was trained with another {type(self.config).__name__}"
            )
        return model

    def phases(self) -> Sequence[Phase]:
        """The schedule (default: one phase of ``options.steps`` at ``options.batch_size``)."""
        return (SinglePhase(self.options.steps, self.options.batch_size),)  # type: ignore[attr-defined]

    @abstractmethod
    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimiser over the model's parameters (the loop sets its learning rate)."""

    def enter_phase(
        self, model: nn.Module, phase: Phase, optimizer: torch.optim.Optimizer
    ) -> torch.optim.Optimizer:
        """Called when a phase starts (or resumes); may change the model and the optimiser."""
        return optimizer

    def phase_finished(self, model: nn.Module, phase: Phase, save: Callable[[str], None]) -> None:
        """Called at a phase's end (and when a resumed run passes it).

        ``save(name)`` writes the model as ``run_dir/name`` unless that model directory
        exists already (HPN keeps the model at the end of every level this way).
        """
        return None

    def trained_module(self, model: nn.Module) -> nn.Module:
        """What DDP wraps and :meth:`step` calls (default: the model's own ``forward``)."""
        return model

    @abstractmethod
    def step(self, network: nn.Module, batch: Any, phase: Phase, step_in_phase: int) -> StepResult:
        """One step's forward pass and loss (under the loop's autocast); no backward.

        Args:
            network: :meth:`trained_module`, DDP-wrapped in a distributed run.
            batch: what the data loader yields (on the CPU).
            phase: the current phase.
            step_in_phase: 0-based index of this step within the phase.
        """

    def sample_batch(self, dataset: Dataset) -> Any:
        """The fixed items every sample grid shows (read once, at the start); None: no grids."""
        return None

    def sample_rows(self, model: nn.Module, samples: Any) -> list[Any]:
        """Rows of a sample grid (the model is in eval mode, gradients off)."""
        raise NotImplementedError

    def model_record(self) -> dict[str, Any]:
        """The model config for ``options.json`` (default: the config's fields)."""
        return config_to_dict(self.config)


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """What :meth:`Trainer.train` ends with.

    Attributes:
        model: the model after the last step (train mode; unwrapped).
        step: global steps done.
        finished: the schedule ran to its end (False: stopped by ``max_steps`` or time).
        final_dir: the finished model's directory (None when not finished).
    """

    model: nn.Module
    step: int
    finished: bool
    final_dir: Path | None


class Trainer:
    """Runs a :class:`TrainingTask` into a run directory, resumably.

    Args:
        task: the network's task.
        dataset: a map-style training set (what the task's step expects, batched).
        run_dir: where checkpoints, logs, samples and models go.
        data: what the data is (recorded in ``options.json``; model metadata keeps its name).
        backbone: the perceptual backbone's record (:func:`core.modelio.backbone_record`).
        extra: more options to record, at the top level of ``options.json`` and metadata.
        device: "cpu", "cuda", "cuda:N" or "auto".
        num_workers: DataLoader worker processes.
        show_progress: show a tqdm bar (on rank 0 only).
        distributed: this rank of a ``torchrun`` run (:func:`core.training.distributed.
            init_from_env`): batch sizes are then per rank (global batch = batch size x
            world size) and rank 0 alone logs, samples and writes files.
        sync_batchnorm: SyncBatchNorm across ranks (CUDA only).
    """

    def __init__(
        self,
        task: TrainingTask,
        dataset: Dataset,
        run_dir: str | Path,
        data: str | Path | None = None,
        backbone: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        device: str | torch.device | None = "auto",
        num_workers: int = 0,
        show_progress: bool = True,
        distributed: DistributedContext | None = None,
        sync_batchnorm: bool = False,
    ) -> None:
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ValueError("the training data set is empty")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.task = task
        self.options = task.options
        self.dataset = dataset
        self.run_dir = Path(run_dir)
        self.data = None if data is None else str(data)
        self.backbone = None if backbone is None else dict(backbone)
        self.extra = dict(extra or {})
        self.context = distributed or DistributedContext()
        self.device = self.context.device(resolve_device(device))
        self.num_workers = num_workers
        self.show_progress = show_progress and self.context.is_main
        self.sync_batchnorm = sync_batchnorm
        if sync_batchnorm and self.context.distributed and self.device.type != "cuda":
            raise ValueError(
                "SyncBatchNorm needs CUDA (PyTorch has none on CPU); leave it off on CPU: each "
                "rank then normalises with its own batch"
            )
        self.phases = tuple(task.phases())
        self.total_steps = self.phases[-1].end

    # ------------------------------------------------------------------ records

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / CHECKPOINTS_DIR

    @property
    def final_dir(self) -> Path:
        return self.run_dir / FINAL_DIR

    def options_record(self) -> dict[str, Any]:
        """The resolved options, flat, as written to ``options.json`` (one shape for all).

        Keys: ``model_type``; ``model.<field>`` (the model config); ``train.<field>`` (the
        training options); ``data``, ``data_items``, ``backbone``; the ``extra`` keys; and how
        it runs: ``device``, ``num_workers``, ``world_size``, ``sync_batchnorm``.
        """
        record: dict[str, Any] = {"model_type": self.task.model_class.model_type}
        record.update({f"model.{k}": v for k, v in self.task.model_record().items()})
        record.update({f"train.{k}": v for k, v in config_to_dict(self.options).items()})
        record.update(
            data=self.data,
            data_items=len(self.dataset),  # type: ignore[arg-type]
            backbone=self.backbone,
            **self.extra,
            device=str(self.device),
            num_workers=self.num_workers,
            world_size=self.context.world_size,
            sync_batchnorm=self.sync_batchnorm,
        )
        return record

    def may_change(self) -> tuple[str, ...]:
        """Keys of ``options.json`` a resumed run may change."""
        return (*(f"train.{name}" for name in self.options.resumable_changes()), *RUN_OPERATIONAL)

    def metadata(self, step: int) -> dict[str, Any]:
        """The metadata block of every model this run saves (:mod:`core.modelio` schema)."""
        return training_metadata(
            step,
            self.data,
            len(self.dataset),  # type: ignore[arg-type]
            self.backbone,
            config_to_dict(self.options),
            **self.extra,
        )

    def plan(self) -> list[str]:
        """One line per phase (what ``--dry-run`` prints after the options)."""
        return [
            f"phase {phase.label}: steps {phase.start}..{phase.end}, batch {phase.batch_size}"
            for phase in self.phases
        ]

    # ------------------------------------------------------------------ the loop

    def train(self, max_steps: int | None = None) -> TrainingResult:
        """Train (or resume) until the schedule ends, the time budget runs out, or ``max_steps``.

        Stopping early saves a checkpoint; a later ``train()`` continues bit for bit on CPU.
        Ctrl-C saves a checkpoint at the end of the current step, then raises
        KeyboardInterrupt.
        """
        main, context, options, task = self.context.is_main, self.context, self.options, self.task
        if main:
            write_resolved_options(self.run_dir, self.options_record(), self.may_change())
        barrier(context)
        task.prepare(self.device)
        model, optimizer, scaler, state, resumed = self._start_or_resume()
        samples = task.sample_batch(self.dataset) if main and options.sample_every else None
        stop_at = self.total_steps if max_steps is None else min(max_steps, self.total_steps)
        started = time.monotonic()
        out_of_time = False
        with (
            JsonlLogger(self.run_dir / LOG_FILE, resume_step=state["step"] if resumed else None)
            if main
            else contextlib.nullcontext() as log,
            interrupt_guard() as interrupt,
            progress_bar(
                self.total_steps,
                initial=min(state["step"], self.total_steps),
                desc=f"train {task.name}",
                disable=not self.show_progress,
            ) as bar,
        ):
            for phase in self.phases:
                if state["step"] >= phase.end:
                    task.phase_finished(model, phase, self._saver(model, state))
                    continue
                if state["step"] >= stop_at or out_of_time:
                    break
                optimizer = task.enter_phase(model, phase, optimizer)
                model.to(self.device).train()
                network = wrap_model(task.trained_module(model), context, self.sync_batchnorm)
                batches = iter(
                    sharded_loader(
                        self.dataset,
                        phase.batch_size,
                        options.seed,
                        context,
                        samples_seen=state["samples_seen"],
                        num_workers=self.num_workers,
                        pin_memory=self.device.type == "cuda",
                    )
                )
                while state["step"] < min(phase.end, stop_at):
                    result = self._step(network, optimizer, scaler, next(batches), phase, state)
                    state["step"] += 1
                    state["samples_seen"] += phase.batch_size * context.world_size
                    step = state["step"]
                    bar.set_postfix(loss=f"{result.loss.item():.4f}", **result.info, refresh=False)
                    bar.update()
                    if step % options.log_every == 0 or step == phase.end:
                        terms = all_reduce_means({"loss": result.loss, **result.terms}, context)
                        if main:
                            values = {name: value.item() for name, value in terms.items()}
                            lr = optimizer.param_groups[0]["lr"]
                            log.log(step, **result.info, **values, lr=lr)
                    if samples is not None and (
                        step % options.sample_every == 0 or step == self.total_steps
                    ):
                        self._save_samples(model, samples, step)
                    out_of_time = options.max_minutes is not None and (
                        time.monotonic() - started > options.max_minutes * 60
                    )
                    if step == phase.end:
                        task.phase_finished(model, phase, self._saver(model, state))
                    if (
                        step % options.checkpoint_every == 0
                        or step in (phase.end, stop_at)
                        or interrupt.requested
                        or out_of_time
                    ):
                        self._save_checkpoint(model, optimizer, scaler, state)
                    if interrupt.requested:
                        raise KeyboardInterrupt
                    if out_of_time:
                        break
        finished = state["step"] >= self.total_steps
        if main and finished and self._final_is_stale(state["step"]):
            self._save(model, FINAL_DIR, state)
        barrier(context)
        return TrainingResult(model, state["step"], finished, self.final_dir if finished else None)

    # ------------------------------------------------------------------ building blocks

    def _start_or_resume(self) -> tuple[nn.Module, Any, Any, dict[str, Any], bool]:
        seed_everything(self.options.seed)
        scaler = grad_scaler_for(self.device, self.options.amp)
        latest = find_latest_checkpoint(self.checkpoints_dir)
        if latest is None:
            model = self.task.build_model().to(self.device).train()
            optimizer = self.task.make_optimizer(model)
            return model, optimizer, scaler, {"step": 0, "samples_seen": 0}, False
        model = self.task.load_model(latest).to(self.device).train()
        optimizer = self.task.make_optimizer(model)
        state = dict(load_training_checkpoint(latest, optimizer=optimizer).trainer_state)
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        return model, optimizer, scaler, state, True

    def _step(
        self,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        batch: Any,
        phase: Phase,
        state: dict[str, Any],
    ) -> StepResult:
        learning_rate = learning_rate_at(
            self.options.lr_schedule, self.options.learning_rate, state["step"], self.total_steps
        )
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        with autocast_for(self.device, self.options.amp):
            result = self.task.step(network, batch, phase, state["step"] - phase.start)
        finite = bool(torch.isfinite(result.loss.detach()).all())
        if not all_ranks_true(finite, self.context):
            raise FloatingPointError(
                f"the loss became {result.loss.item()} at step {state['step'] + 1} (on some rank); "
                "lower the learning rate or check the data for broken images; the run resumes "
                "from its last checkpoint"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(result.loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return result

    def _save(self, model: nn.Module, name: str, state: Mapping[str, Any]) -> None:
        """Write the model as ``run_dir/name`` with this run's metadata (rank 0 only)."""
        if self.context.is_main:
            model.save_pretrained(self.run_dir / name, metadata=self.metadata(state["step"]))

    def _saver(self, model: nn.Module, state: Mapping[str, Any]) -> Callable[[str], None]:
        """``save(name)`` for :meth:`TrainingTask.phase_finished`: once per directory."""

        def save(name: str) -> None:
            if not (self.run_dir / name / CONFIG_FILE).is_file():
                self._save(model, name, state)

        return save

    def _save_checkpoint(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        state: dict[str, Any],
    ) -> None:
        if not self.context.is_main:
            return
        trainer_state = {**state, "scaler": scaler.state_dict() if scaler.is_enabled() else {}}
        save_training_checkpoint(
            self.checkpoints_dir / step_name(state["step"]),
            model,  # type: ignore[arg-type]
            optimizer,
            trainer_state,
            self.metadata(state["step"]),
        )
        prune_checkpoints(self.checkpoints_dir, self.options.keep_checkpoints)

    def _save_samples(self, model: nn.Module, samples: Any, step: int) -> None:
        """A grid of the fixed sample items; eval mode and no grad, training state untouched."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            rows = self.task.sample_rows(model, samples)
        model.train(was_training)
        save_image_grid(rows, self.run_dir / SAMPLES_DIR / f"{step_name(step)}.png")

    def _final_is_stale(self, step: int) -> bool:
        """No final model yet, or one of fewer steps (a finished run that was extended)."""
        if not (self.final_dir / CONFIG_FILE).is_file():
            return True
        return read_metadata(self.final_dir).get("steps") != step


def resolve_model_dir(path: str | Path) -> Path:
    """A model directory itself, or the final model of a run directory (``RUN/final``)."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file() and (path / FINAL_DIR / CONFIG_FILE).is_file():
        return path / FINAL_DIR
    return path
