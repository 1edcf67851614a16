"""Progressive training of HPN (paper §3.3): one level at a time, 64^2 up to the final size.

Schedule: ``TrainConfig.levels`` are trained in order, ``steps_per_level`` optimisation steps
each, with a batch size per level; the model grows (no fade-in) when a level starts. Within a
level the perceptual criterion is L2 for the first half of its steps and L1 for the second
(:func:`hpn.losses.criterion_for_step`), and the local loss uses 18 / 31 / 44 descriptors by
resolution. ``progressive=False`` (the ablation "no PT") trains the final level from scratch
for the same total number of steps, as one level (its L2 -> L1 switch at the half of it).

Choices the paper leaves open, made here and configurable:

- Optimiser: ``torch.optim.Adam(lr=2e-4, weight_decay=5e-4)`` (weight decay as Adam's coupled
  L2 term, which is what "Adam with weight decay 5e-4" meant in 2019 code), betas (0.9, 0.999).
- Optimiser state at growth (``optimizer_at_growth``): ``"reset"`` (default) starts a fresh
  Adam over all parameters, as PGGAN's reference code does when a level is added: the new
  blocks and 1x1 layers start from scratch and the moments of the old ones describe a
  different loss landscape (other resolution, other descriptor count). ``"keep"`` carries the
  moments of surviving parameters over.
- Data: one data set at any square resolution; each batch is resized to the current level
  (:func:`hpn.pairs.resize_pair_batch`).
- Mixed precision (fp16 autocast + loss scaling) and channels-last only on CUDA; CPU runs are
  float32 and bit-for-bit reproducible, including across an interruption and resume
  (checkpoints hold weights, optimiser, RNG states and the data-stream position).

Run directory layout: ``options.json`` (resolved options), ``log.jsonl``, ``samples/step-*.png``
(reference | target pose | output | ground truth), ``checkpoints/step-*`` (resumable, model
directories themselves), ``levels/<resolution>`` (the model at the end of each level) and
``final`` (the finished model). Running the same training again resumes from the newest
checkpoint; a finished run returns the final model without training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import Dataset, default_collate

from core.devices import autocast_for, grad_scaler_for, resolve_device
from core.images import save_image_grid
from core.modelio import config_to_dict
from core.perceptual import VGG16Features
from core.posemaps import pose_maps_batch
from core.skeleton import draw_skeleton
from hpn.distributed import (
    DistributedContext,
    all_reduce_means,
    barrier,
    sharded_loader,
    unwrap,
    wrap_model,
)
from hpn.evaluation import predict
from hpn.losses import PoseTransferLoss, criterion_for_step
from hpn.model import HPN, HPNConfig
from hpn.pairs import resize_pair_batch
from hpn.training import (
    JsonlLogger,
    find_latest_checkpoint,
    interrupt_guard,
    load_training_checkpoint,
    progress_bar,
    prune_checkpoints,
    save_training_checkpoint,
    seed_everything,
    step_name,
    write_resolved_options,
)

GrowthPolicy = Literal["reset", "keep"]
# Options that only change how a run is observed or executed, not what it computes.
OPERATIONAL_OPTIONS: tuple[str, ...] = (
    "train.checkpoint_every",
    "train.sample_every",
    "train.log_every",
    "train.keep_checkpoints",
    "train.num_samples",
    "device",
    "num_workers",
)


@dataclasses.dataclass(frozen=True)
class Phase:
    """One stretch of training at a fixed resolution: global steps [start, start + steps)."""

    resolution: int
    steps: int
    batch_size: int
    start: int

    @property
    def end(self) -> int:
        return self.start + self.steps


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes.

    Attributes:
        levels: resolutions to train, consecutive doublings within the model config's levels
            (e.g. (64, 128)). The model is grown to ``levels[0]`` before training starts.
        steps_per_level: optimisation steps per level (700k in the paper).
        batch_sizes: one batch size per level, or a single one for all levels.
        learning_rate, weight_decay, adam_betas: Adam's settings (paper: 2e-4, 5e-4).
        use_local: add the local-descriptor loss (ablation "LD").
        local_weight: weight of the local loss in the total.
        pixel_weight: weight of a pixel term in 0-255 units, beyond the paper (0 = paper; see
            :class:`hpn.losses.PoseTransferLoss`).
        progressive: grow level by level (ablation "PT"); False trains ``levels[-1]`` from
            scratch for ``len(levels) * steps_per_level`` steps at the last batch size.
        optimizer_at_growth: "reset" or "keep" (see the module docstring).
        seed: seed of weights, data order and everything random.
        checkpoint_every: steps between checkpoints (also saved at every level's end).
        keep_checkpoints: how many recent checkpoints to keep.
        sample_every: steps between sample grids (0 = never).
        num_samples: data set items shown in each sample grid.
        log_every: steps between JSONL log records.
    """

    levels: tuple[int, ...] = (64, 128, 256, 512, 1024)
    steps_per_level: int = 700_000
    batch_sizes: tuple[int, ...] = (8,)
    learning_rate: float = 2e-4
    weight_decay: float = 5e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    use_local: bool = True
    local_weight: float = 1.0
    pixel_weight: float = 0.0
    progressive: bool = True
    optimizer_at_growth: GrowthPolicy = "reset"
    seed: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    sample_every: int = 1000
    num_samples: int = 4
    log_every: int = 10

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("levels must name at least one resolution, e.g. (64, 128)")
        for lower, higher in zip(self.levels, self.levels[1:], strict=False):
            if higher != 2 * lower:
                raise ValueError(f"levels must double one by one, got {self.levels}")
        if self.steps_per_level <= 0:
            raise ValueError(f"steps_per_level must be positive, got {self.steps_per_level}")
        if len(self.batch_sizes) not in (1, len(self.levels)) or min(self.batch_sizes) <= 0:
            raise ValueError(
                f"batch_sizes must be one positive size or one per level {self.levels}; "
                f"got {self.batch_sizes}"
            )
        if self.optimizer_at_growth not in ("reset", "keep"):
            raise ValueError(
                f"optimizer_at_growth must be 'reset' or 'keep', got {self.optimizer_at_growth!r}"
            )
        for name in ("checkpoint_every", "keep_checkpoints", "log_every", "num_samples"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.sample_every < 0:
            raise ValueError(f"sample_every must be >= 0 (0 = never), got {self.sample_every}")

    def batch_size(self, level_index: int) -> int:
        return self.batch_sizes[level_index if len(self.batch_sizes) > 1 else 0]

    def phases(self) -> tuple[Phase, ...]:
        """The schedule: one phase per level, or a single final-level phase if not progressive."""
        if not self.progressive:
            total = self.steps_per_level * len(self.levels)
            return (Phase(self.levels[-1], total, self.batch_size(len(self.levels) - 1), 0),)
        return tuple(
            Phase(
                resolution,
                self.steps_per_level,
                self.batch_size(index),
                index * self.steps_per_level,
            )
            for index, resolution in enumerate(self.levels)
        )

    @property
    def total_steps(self) -> int:
        return self.steps_per_level * len(self.levels)

    def check_against(self, model_config: HPNConfig) -> None:
        """Raise ValueError when the levels are not levels of ``model_config``."""
        outside = [level for level in self.levels if level not in model_config.levels()]
        if outside:
            raise ValueError(
                f"levels {outside} are not levels of the model config {model_config.levels()}; "
                "choose levels between its start and final resolutions"
            )


class ProgressiveTrainer:
    """Trains an HPN into a run directory, resumably (see the module docstring).

    Args:
        model_config: the architecture (``HPNConfig.paper()`` / ``.small()``).
        config: the schedule and loss switches.
        dataset: pose-transfer pairs (:mod:`hpn.pairs` contract), any square resolution.
        backbone: the frozen VGG-16 of the perceptual losses (never random weights).
        run_dir: where checkpoints, logs, samples and models go.
        backbone_info: recorded in every saved model's metadata
            (:func:`core.perceptual.load_backbone` makes it).
        run_info: extra JSON options written to ``options.json`` and metadata (data path...).
        device: "cpu", "cuda", ... (None: CUDA when available).
        num_workers: DataLoader worker processes.
        show_progress: show a tqdm bar (on rank 0 only).
        distributed: this rank of a ``torchrun`` run (:func:`hpn.distributed.init_from_env`):
            batch sizes are then per rank (global batch = batch size x world size) and rank 0
            alone logs, samples and writes checkpoints and models.
        sync_batchnorm: SyncBatchNorm across ranks (CUDA only); without it each rank's
            BatchNorm normalises with its own per-rank batch.
    """

    def __init__(
        self,
        model_config: HPNConfig,
        config: TrainConfig,
        dataset: Dataset,
        backbone: VGG16Features,
        run_dir: str | Path,
        backbone_info: Mapping[str, Any],
        run_info: Mapping[str, Any] | None = None,
        device: str | None = None,
        num_workers: int = 0,
        show_progress: bool = True,
        distributed: DistributedContext | None = None,
        sync_batchnorm: bool = False,
    ) -> None:
        config.check_against(model_config)
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ValueError("the training data set is empty")
        self.model_config = model_config
        self.config = config
        self.dataset = dataset
        self.run_dir = Path(run_dir)
        self.context = distributed or DistributedContext()
        self.sync_batchnorm = sync_batchnorm
        self.device = self.context.device(resolve_device(device))
        self.num_workers = num_workers
        self.show_progress = show_progress and self.context.is_main
        self.backbone_info = dict(backbone_info)
        self.run_info = dict(run_info or {})
        self.loss = PoseTransferLoss(
            backbone, config.use_local, config.local_weight, config.pixel_weight
        ).to(self.device)
        if self.device.type == "cuda":
            self.loss.to(memory_format=torch.channels_last)
        self.phases = config.phases()

    # ------------------------------------------------------------------ paths and metadata

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def final_dir(self) -> Path:
        return self.run_dir / "final"

    def level_dir(self, resolution: int) -> Path:
        return self.run_dir / "levels" / f"{resolution:04d}"

    def options(self) -> dict[str, Any]:
        """The resolved options of this run, flat, as written to ``options.json``."""
        flat = {f"model.{key}": value for key, value in config_to_dict(self.model_config).items()}
        flat.update({f"train.{key}": value for key, value in config_to_dict(self.config).items()})
        flat.update({"backbone": self.backbone_info, "device": str(self.device)})
        flat.update({"num_workers": self.num_workers, **self.run_info})
        if self.context.distributed:  # what a step computes depends on both
            flat.update(world_size=self.context.world_size, sync_batchnorm=self.sync_batchnorm)
        return flat

    def metadata(self, step: int) -> dict[str, Any]:
        return {
            "trained_steps": step,
            "train_config": config_to_dict(self.config),
            "backbone": self.backbone_info,
            **self.run_info,
        }

    # ------------------------------------------------------------------ building blocks

    def _make_optimizer(self, model: HPN) -> torch.optim.Adam:
        return torch.optim.Adam(
            model.parameters(),
            lr=self.config.learning_rate,
            betas=self.config.adam_betas,
            weight_decay=self.config.weight_decay,
        )

    def _grow(self, model: HPN, resolution: int, optimizer: torch.optim.Adam) -> torch.optim.Adam:
        model.grow_to(resolution)
        model.to(self.device)
        if self.device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        grown = self._make_optimizer(model)
        if self.config.optimizer_at_growth == "keep":
            for parameter in model.parameters():
                if parameter in optimizer.state:
                    grown.state[parameter] = optimizer.state[parameter]
        return grown

    def _start_or_resume(
        self,
    ) -> tuple[HPN, torch.optim.Adam, torch.amp.GradScaler, dict[str, Any]]:
        scaler = grad_scaler_for(self.device)
        latest = find_latest_checkpoint(self.checkpoints_dir)
        if latest is None:
            seed_everything(self.config.seed)
            model = HPN(self.model_config)
            model.grow_to(self.phases[0].resolution)
            model.to(self.device).train()
            optimizer = self._make_optimizer(model)
            return model, optimizer, scaler, {"step": 0, "samples_seen": 0}
        model = HPN.from_pretrained(latest).to(self.device).train()
        optimizer = self._make_optimizer(model)
        checkpoint = load_training_checkpoint(latest, optimizer=optimizer)
        state = dict(checkpoint.trainer_state)
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        return model, optimizer, scaler, state

    def _save_checkpoint(
        self, model: HPN, optimizer: torch.optim.Adam, scaler: torch.amp.GradScaler, state: dict
    ) -> None:
        if not self.context.is_main:
            return
        trainer_state = {**state, "scaler": scaler.state_dict() if scaler.is_enabled() else {}}
        save_training_checkpoint(
            self.checkpoints_dir / step_name(state["step"]),
            model,
            optimizer,
            trainer_state,
            self.metadata(state["step"]),
        )
        prune_checkpoints(self.checkpoints_dir, self.config.keep_checkpoints)

    def _sample_batch(self) -> dict[str, Any]:
        count = min(self.config.num_samples, len(self.dataset))  # type: ignore[arg-type]
        return default_collate([self.dataset[index] for index in range(count)])

    def _save_samples(self, model: HPN, step: int) -> None:
        """A grid of fixed items; eval mode and no grad, so training state is untouched."""
        if not self.context.is_main:
            return
        batch = resize_pair_batch(self._sample_batch(), model.resolution)
        model.eval()
        outputs = predict(model, batch)
        model.train()
        rows = [
            [
                batch["reference"][index],
                draw_skeleton(batch["target_keypoints"][index], model.resolution, model.resolution),
                outputs[index],
                batch["target"][index],
            ]
            for index in range(len(outputs))
        ]
        save_image_grid(rows, self.run_dir / "samples" / f"{step_name(step)}.png")

    def _training_step(
        self,
        model: HPN,
        optimizer: torch.optim.Adam,
        scaler: torch.amp.GradScaler,
        batch: dict[str, torch.Tensor],
        criterion: str,
    ) -> dict[str, float]:
        resolution = unwrap(model).resolution  # model: the HPN or its DDP wrapper
        maps = pose_maps_batch(
            batch["target_keypoints"],
            unwrap(model).pose_map_size,
            self.model_config.pose_sigma,
            image_size=(resolution, resolution),
        )
        reference, target = batch["reference"], batch["target"]
        if self.device.type == "cuda":
            reference = reference.contiguous(memory_format=torch.channels_last)
            target = target.contiguous(memory_format=torch.channels_last)
        with autocast_for(self.device):
            output = model(reference, maps)
            terms = self.loss(output, target, batch["target_keypoints"], criterion)  # type: ignore[arg-type]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(terms.total).backward()
        scaler.step(optimizer)
        scaler.update()
        return {
            "loss": terms.total,
            "global": terms.global_,
            "local": terms.local,
            "pixel": terms.pixel,
        }  # type: ignore[dict-item]

    # ------------------------------------------------------------------ the loop

    def train(self, max_steps: int | None = None) -> HPN:
        """Train (or resume) until the schedule ends, or until global step ``max_steps``.

        Stopping at ``max_steps`` saves a checkpoint and returns the model as it is (an
        interruption on purpose); a later ``train()`` continues bit-for-bit on CPU. Ctrl-C
        saves a checkpoint at the end of the current step, then raises KeyboardInterrupt.

        Returns:
            The model (in train mode) after the last step run.
        """
        if self.context.is_main:
            write_resolved_options(self.run_dir, self.options(), may_change=OPERATIONAL_OPTIONS)
        barrier(self.context)
        model, optimizer, scaler, state = self._start_or_resume()
        network = wrap_model(model, self.context, self.sync_batchnorm)
        total = self.phases[-1].end
        stop_at = total if max_steps is None else min(max_steps, total)
        config = self.config
        main = self.context.is_main
        with (
            JsonlLogger(self.run_dir / "log.jsonl", resume_step=state["step"])
            if main
            else contextlib.nullcontext() as log,
            interrupt_guard() as interrupt,
            progress_bar(
                total, initial=state["step"], desc="train hpn", disable=not self.show_progress
            ) as bar,
        ):
            for phase in self.phases:
                if state["step"] >= phase.end:
                    self._ensure_level_saved(model, phase, state["step"])
                    continue
                if state["step"] >= stop_at:
                    break
                if model.resolution < phase.resolution:
                    optimizer = self._grow(model, phase.resolution, optimizer)
                    network = wrap_model(model, self.context, self.sync_batchnorm)  # new layers
                loader = iter(
                    sharded_loader(
                        self.dataset,
                        phase.batch_size,
                        config.seed,
                        self.context,
                        samples_seen=state["samples_seen"],
                        num_workers=self.num_workers,
                        pin_memory=self.device.type == "cuda",
                    )
                )
                while state["step"] < min(phase.end, stop_at):
                    criterion = criterion_for_step(state["step"] - phase.start, phase.steps)
                    batch = resize_pair_batch(next(loader), phase.resolution, self.device)
                    values = self._training_step(network, optimizer, scaler, batch, criterion)
                    state["step"] += 1
                    state["samples_seen"] += phase.batch_size * self.context.world_size
                    step = state["step"]
                    bar.set_postfix(
                        loss=f"{values['loss'].item():.4f}", res=phase.resolution, refresh=False
                    )
                    bar.update()
                    if step % config.log_every == 0 or step == phase.end:
                        values = all_reduce_means(values, self.context)  # global batch
                        record = {key: value.item() for key, value in values.items()}
                        if not math.isfinite(record["loss"]):
                            raise FloatingPointError(
                                f"the loss became {record['loss']} at step {step}; lower the "
                                "learning rate or check the data for broken images"
                            )
                        if main:
                            log.log(
                                step, resolution=phase.resolution, criterion=criterion, **record
                            )
                    if config.sample_every and step % config.sample_every == 0:
                        self._save_samples(model, step)
                    at_boundary = step in (phase.end, stop_at)
                    if step % config.checkpoint_every == 0 or at_boundary or interrupt.requested:
                        if step == phase.end:
                            self._ensure_level_saved(model, phase, step)
                        self._save_checkpoint(model, optimizer, scaler, state)
                    if interrupt.requested:
                        raise KeyboardInterrupt
        final_missing = not (self.final_dir / "model.safetensors").is_file()
        if main and state["step"] >= total and final_missing:
            model.save_pretrained(self.final_dir, metadata=self.metadata(state["step"]))
        barrier(self.context)
        return model

    def _ensure_level_saved(self, model: HPN, phase: Phase, step: int) -> None:
        """Write ``levels/<resolution>`` for a finished phase if the model is still at it."""
        if not self.context.is_main:
            return
        directory = self.level_dir(phase.resolution)
        if model.resolution == phase.resolution and not (directory / "model.safetensors").is_file():
            model.save_pretrained(directory, metadata=self.metadata(step))
