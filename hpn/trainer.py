"""Progressive training of HPN (paper §3.3): one level at a time, 64^2 up to the final size.

This module is HPN's part of the one training loop (:mod:`core.training.loop`): the schedule
of levels, growth, the step and its losses, the sample grid. The loop does the rest (seeding,
resumable data, checkpoints, AMP, logging, DDP, ``options.json``).

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
- Channels-last on CUDA (with the loop's mixed precision); CPU runs are float32 and
  bit-for-bit reproducible, including across an interruption and resume.

Run directory: the loop's (``options.json``, ``log.jsonl``, ``samples/step-*.png`` with
reference | target pose | output | ground truth, ``checkpoints/step-*``, ``final``) plus
``levels/<resolution>`` (the model at the end of each level).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from core.perceptual import VGG16Features
from core.posemaps import pose_maps_batch
from core.skeleton import draw_skeleton
from core.training.distributed import DistributedContext
from core.training.loop import LoopOptions, StepResult, Trainer, TrainingTask
from hpn.evaluation import predict
from hpn.losses import PoseTransferLoss, criterion_for_step
from hpn.model import HPN, HPNConfig
from hpn.pairs import resize_pair_batch

GrowthPolicy = Literal["reset", "keep"]


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

    @property
    def label(self) -> str:
        return f"{self.resolution}^2"


@dataclasses.dataclass(frozen=True)
class TrainConfig(LoopOptions):
    """Everything that decides what an HPN training run computes (the loop's options too).

    Attributes (beyond :class:`core.training.loop.LoopOptions`):
        levels: resolutions to train, consecutive doublings within the model config's levels
            (e.g. (64, 128)). The model is grown to ``levels[0]`` before training starts.
        steps_per_level: optimisation steps per level (700k in the paper).
        batch_sizes: one batch size per level, or a single one for all levels.
        weight_decay, adam_betas: Adam's settings (paper: 5e-4; learning rate 2e-4).
        use_local: add the local-descriptor loss (ablation "LD").
        local_weight: weight of the local loss in the total.
        pixel_weight: weight of a pixel term in 0-255 units, beyond the paper (0 = paper; see
            :class:`hpn.losses.PoseTransferLoss`).
        progressive: grow level by level (ablation "PT"); False trains ``levels[-1]`` from
            scratch for ``len(levels) * steps_per_level`` steps at the last batch size.
        optimizer_at_growth: "reset" or "keep" (see the module docstring).
        num_samples: data set items shown in each sample grid.
    """

    levels: tuple[int, ...] = (64, 128, 256, 512, 1024)
    steps_per_level: int = 700_000
    batch_sizes: tuple[int, ...] = (8,)
    weight_decay: float = 5e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    use_local: bool = True
    local_weight: float = 1.0
    pixel_weight: float = 0.0
    progressive: bool = True
    optimizer_at_growth: GrowthPolicy = "reset"
    num_samples: int = 4

    OPERATIONAL: ClassVar[tuple[str, ...]] = (*LoopOptions.OPERATIONAL, "num_samples")

    def __post_init__(self) -> None:
        super().__post_init__()
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
        if self.num_samples <= 0:
            raise ValueError(f"num_samples must be positive, got {self.num_samples}")

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


def level_dir_name(resolution: int) -> str:
    """Where a run keeps the model at the end of a level: ``levels/0064``."""
    return f"levels/{resolution:04d}"


class HPNTask(TrainingTask):
    """HPN's step, growth and samples for :class:`core.training.loop.Trainer`.

    Args:
        config: the architecture (``HPNConfig.paper()`` / ``.small()``).
        options: the schedule and loss switches.
        backbone: the frozen VGG-16 of the perceptual losses (never random weights).
    """

    name = "hpn"
    model_class = HPN

    def __init__(self, config: HPNConfig, options: TrainConfig, backbone: VGG16Features) -> None:
        options.check_against(config)
        super().__init__(config, options)
        self.loss = PoseTransferLoss(
            backbone, options.use_local, options.local_weight, options.pixel_weight
        )

    def prepare(self, device: torch.device) -> None:
        super().prepare(device)
        self.loss.to(device)
        if device.type == "cuda":
            self.loss.to(memory_format=torch.channels_last)

    def phases(self) -> Sequence[Phase]:
        return self.options.phases()

    def build_model(self) -> HPN:
        model = HPN(self.config)
        model.grow_to(self.options.phases()[0].resolution)
        return model

    def make_optimizer(self, model: nn.Module) -> torch.optim.Adam:
        return torch.optim.Adam(
            model.parameters(),
            lr=self.options.learning_rate,
            betas=self.options.adam_betas,
            weight_decay=self.options.weight_decay,
        )

    def enter_phase(
        self, model: nn.Module, phase: Phase, optimizer: torch.optim.Optimizer
    ) -> torch.optim.Optimizer:
        """Grow to the phase's level (new blocks, new optimiser) and go channels-last on CUDA."""
        if self.device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        if model.resolution >= phase.resolution:
            return optimizer
        model.grow_to(phase.resolution)
        model.to(self.device)
        if self.device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        grown = self.make_optimizer(model)
        if self.options.optimizer_at_growth == "keep":
            for parameter in model.parameters():
                if parameter in optimizer.state:
                    grown.state[parameter] = optimizer.state[parameter]
        return grown

    def phase_finished(self, model: nn.Module, phase: Phase, save: Callable[[str], None]) -> None:
        """Write ``levels/<resolution>`` for a finished level if the model is still at it."""
        if model.resolution == phase.resolution:
            save(level_dir_name(phase.resolution))

    def step(
        self, network: nn.Module, batch: Mapping[str, Any], phase: Phase, step_in_phase: int
    ) -> StepResult:
        criterion = criterion_for_step(step_in_phase, phase.steps)
        batch = resize_pair_batch(batch, phase.resolution, self.device)
        maps = pose_maps_batch(
            batch["target_keypoints"],
            self.config.bottleneck_size,
            self.config.pose_sigma,
            image_size=(phase.resolution, phase.resolution),
        )
        reference, target = batch["reference"], batch["target"]
        if self.device.type == "cuda":
            reference = reference.contiguous(memory_format=torch.channels_last)
            target = target.contiguous(memory_format=torch.channels_last)
        output = network(reference, maps)
        terms = self.loss(output, target, batch["target_keypoints"], criterion)
        return StepResult(
            terms.total,
            {"global": terms.global_, "local": terms.local, "pixel": terms.pixel},
            {"resolution": phase.resolution, "criterion": criterion},
        )

    def sample_batch(self, dataset: Dataset) -> dict[str, Any]:
        count = min(self.options.num_samples, len(dataset))  # type: ignore[arg-type]
        return default_collate([dataset[index] for index in range(count)])

    def sample_rows(self, model: nn.Module, samples: Mapping[str, Any]) -> list[Any]:
        """Reference | target pose | output | ground truth, at the model's level."""
        batch = resize_pair_batch(samples, model.resolution)
        outputs = predict(model, batch)
        size = model.resolution
        return [
            [
                batch["reference"][index],
                draw_skeleton(batch["target_keypoints"][index], size, size),
                outputs[index],
                batch["target"][index],
            ]
            for index in range(len(outputs))
        ]


class ProgressiveTrainer:
    """Trains an HPN into a run directory, resumably: :class:`HPNTask` on the one loop.

    Args:
        model_config: the architecture (``HPNConfig.paper()`` / ``.small()``).
        config: the schedule and loss switches.
        dataset: pose-transfer pairs (:mod:`hpn.pairs` contract), any square resolution.
        backbone: the frozen VGG-16 of the perceptual losses (never random weights).
        run_dir: where checkpoints, logs, samples and models go.
        backbone_info: recorded in every saved model's metadata
            (:func:`core.perceptual.load_backbone` makes it).
        run_info: ``data`` (what the data is) and extra options, recorded in ``options.json``
            and in the metadata of every saved model.
        device: "cpu", "cuda", ... or "auto" / None (CUDA when available).
        num_workers: DataLoader worker processes.
        show_progress: show a tqdm bar (on rank 0 only).
        distributed: this rank of a ``torchrun`` run: batch sizes are then per rank.
        sync_batchnorm: SyncBatchNorm across ranks (CUDA only).
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
        extra = dict(run_info or {})
        self.trainer = Trainer(
            HPNTask(model_config, config, backbone), dataset, run_dir,
            data=extra.pop("data", None), backbone=backbone_info, extra=extra, device=device,
            num_workers=num_workers, show_progress=show_progress, distributed=distributed,
            sync_batchnorm=sync_batchnorm,
        )  # fmt: skip
        self.device = self.trainer.device
        self.final_dir = self.trainer.final_dir

    def level_dir(self, resolution: int) -> Path:
        return self.trainer.run_dir / level_dir_name(resolution)

    def options(self) -> dict[str, Any]:
        """The resolved options of this run, flat, as written to ``options.json``."""
        return self.trainer.options_record()

    def train(self, max_steps: int | None = None) -> HPN:
        """Train (or resume) until the schedule ends, or until global step ``max_steps``.

        Returns:
            The model (in train mode) after the last step run.
        """
        return self.trainer.train(max_steps).model  # type: ignore[return-value]
