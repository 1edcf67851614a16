"""Training of the appearance-flow net (product garment -> the same garment as worn).

The flow net's part of the one training loop (:mod:`core.training.loop`): its options, its
step (multi-scale flows through :class:`flow.losses.FlowLoss`) and its sample grid; the loop
does the rest (seeding, resumable data, checkpoints, AMP, logging, DDP, ``options.json``). A
run directory holds ``options.json``, ``log.jsonl``, ``checkpoints/step-*/`` (the newest
``keep_checkpoints``), ``samples/step-*.png`` and, at the end, ``final/`` (the model directory
to evaluate or ship). Running the same command again resumes from the newest checkpoint and
reproduces the uninterrupted run bit for bit on CPU; with the constant learning rate a
finished run may be extended by raising ``steps``.

The dataset is any map-style dataset of dicts with ``garment`` (3, R, R), ``garment_mask``
(1, R, R), ``garment_region`` (1, R, R; the target mask) and ``person`` (3, R, R), plus
``person_keypoints`` (18, 2) when the config uses pose maps, e.g. ``tryon.data.VitonPairs``;
the worn garment is ``person * garment_region``. An optional ``target_mask`` replaces the
garment region as the net's target input (``tryon.data.garment_prior`` gives the person's
mask there, the garment region staying the ground truth).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from core.perceptual import PerceptualLoss, VGG16Features
from core.training.distributed import DistributedContext, MethodAsForward
from core.training.loop import LoopOptions, StepResult, Trainer, TrainingTask
from flow.evaluate import model_inputs, worn_garment
from flow.losses import FlowLoss
from flow.model import AppearanceFlowNet, FlowConfig
from flow.visualize import flow_to_rgb

SAMPLE_COUNT = 4


@dataclasses.dataclass(frozen=True)
class FlowTrainOptions(LoopOptions):
    """How to train (the network itself is described by :class:`flow.model.FlowConfig`).

    Attributes (beyond :class:`core.training.loop.LoopOptions`):
        resolution: training image size R (a multiple of the config's coarsest stride).
        steps: total optimisation steps of the run (raise it to extend a finished run).
        batch_size: pairs per step.
    """

    resolution: int = 128
    steps: int = 2000
    batch_size: int = 8
    checkpoint_every: int = 100
    sample_every: int = 250
    log_every: int = 1

    EXTENDABLE: ClassVar[tuple[str, ...]] = ("steps",)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("resolution", "steps", "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def check_trainable(config: FlowConfig, options: FlowTrainOptions) -> None:
    """Refuse option combinations the trainer cannot run, before anything is written."""
    if options.resolution % config.coarsest_stride:
        raise ValueError(
            f"resolution {options.resolution} is not a multiple of the config's coarsest "
            f"stride {config.coarsest_stride}; choose e.g. "
            f"{max(1, round(options.resolution / config.coarsest_stride)) * config.coarsest_stride}"
        )


class FlowTask(TrainingTask):
    """The flow net's step and samples for :class:`core.training.loop.Trainer`.

    Args:
        config: the network and its loss weights.
        options: the schedule.
        backbone: the VGG-16 of the perceptual term (needed when its weight is > 0).
    """

    name = "flow"
    model_class = AppearanceFlowNet

    def __init__(
        self, config: FlowConfig, options: FlowTrainOptions, backbone: VGG16Features | None
    ) -> None:
        check_trainable(config, options)
        super().__init__(config, options)
        perceptual = None
        if config.loss.perceptual_weight > 0:
            if backbone is None:
                raise ValueError("the perceptual term needs the VGG-16 backbone: pass backbone")
            perceptual = PerceptualLoss(backbone)
        self.loss = FlowLoss(config.loss, perceptual)
        keys = ("garment", "garment_mask", "garment_region", "person")
        self.keys = keys + (("person_keypoints",) if config.pose_channels else ())
        self.optional_keys = ("target_mask",)

    def prepare(self, device: torch.device) -> None:
        super().prepare(device)
        self.loss.to(device)

    def build_model(self) -> AppearanceFlowNet:
        return AppearanceFlowNet(self.config)

    def make_optimizer(self, model: nn.Module) -> torch.optim.Adam:
        return torch.optim.Adam(model.parameters(), lr=self.options.learning_rate)

    def trained_module(self, model: nn.Module) -> nn.Module:
        """Training reads every scale's flow, so DDP wraps ``forward_flows``."""
        return MethodAsForward(model, "forward_flows")

    def _on_device(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        missing = [key for key in self.keys if key not in batch]
        if missing:
            raise ValueError(f"training batches need {list(self.keys)}; missing {missing}")
        present = self.keys + tuple(key for key in self.optional_keys if key in batch)
        return {key: batch[key].to(self.device) for key in present}

    def step(
        self, network: nn.Module, batch: Mapping[str, Any], phase: Any, step_in_phase: int
    ) -> StepResult:
        batch = self._on_device(batch)
        flows = network(*model_inputs(self.config, batch))
        terms = self.loss(
            flows,
            batch["garment"],
            batch["garment_mask"],
            worn_garment(batch),
            batch["garment_region"],
        )
        total = terms.pop("total")
        return StepResult(total, terms)

    def sample_batch(self, dataset: Dataset) -> dict[str, torch.Tensor]:
        size = len(dataset)  # type: ignore[arg-type]
        indices = sorted({index * size // SAMPLE_COUNT for index in range(SAMPLE_COUNT)})
        return default_collate([dataset[index] for index in indices])

    def sample_rows(self, model: nn.Module, samples: Mapping[str, Any]) -> list[Any]:
        """Rows: garment, target mask, worn garment, warped garment (x target mask), flow."""
        samples = self._on_device(samples)
        output = model(*model_inputs(self.config, samples))
        target_mask = samples["garment_region"]
        return [
            samples["garment"],
            target_mask.expand(-1, 3, -1, -1) * 2 - 1,
            worn_garment(samples),
            output.warped_garment * target_mask,
            flow_to_rgb(output.flow),
        ]


def train_flow(
    dataset: Dataset,
    run_dir: str | Path,
    config: FlowConfig,
    options: FlowTrainOptions,
    backbone: VGG16Features | None = None,
    backbone_info: Mapping[str, Any] | None = None,
    data_description: str = "",
    device: str = "cpu",
    num_workers: int = 0,
    distributed: DistributedContext | None = None,
    show_progress: bool = True,
) -> Path:
    """Train (or resume) an appearance-flow net into ``run_dir``; returns the final model dir.

    Args:
        dataset: map-style dataset of training pairs (see the module docstring), already at
            ``options.resolution``.
        run_dir: the run directory; an existing one is resumed (same options required).
        config: the network and loss weights.
        options: the training schedule.
        backbone: the VGG-16 of the perceptual term (needed when its weight is > 0).
        backbone_info: its record (:func:`core.perceptual.load_backbone`).
        data_description: what the data was (recorded in options and model metadata).
        device: "cpu", "cuda", "cuda:N" or "auto".
        num_workers: DataLoader worker processes.
        distributed: this rank of a ``torchrun`` run; ``options.batch_size`` is then per
            rank, rank 0 alone logs and writes files.
        show_progress: show a tqdm bar.

    Returns:
        ``run_dir / "final"``, a model directory for ``AppearanceFlowNet.from_pretrained``
        (written once the run has finished).
    """
    task = FlowTask(config, options, backbone)
    trainer = Trainer(
        task, dataset, run_dir, data=data_description,
        backbone=backbone_info if config.loss.perceptual_weight > 0 else None,
        device=device, num_workers=num_workers, show_progress=show_progress,
        distributed=distributed,
    )  # fmt: skip
    return trainer.train().final_dir or trainer.final_dir
