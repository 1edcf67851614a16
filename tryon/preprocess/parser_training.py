"""``tryon train parser``: the human parser's part of the one training loop.

Its options, its step (per-pixel cross-entropy over the 20 LIP ids, pixel accuracy logged), its
start (the encoder's ImageNet EfficientNet-Lite0 weights from ``tryon models fetch
efficientnet-lite0``, unless ``encoder_weights`` is None), its data (mirrored, with the person
mask and keypoints perturbed the way BlazePose's differ from the truth) and its sample grid
(photo | truth | prediction); :mod:`core.training.loop` does the rest: seeding, the resumable
data order, atomic checkpoints, the JSONL log, the progress bar, AMP on CUDA, ``torchrun`` data
parallelism and ``max_minutes``. The learning rate follows a cosine from ``learning_rate`` to
zero over ``steps`` (computed from the step number, so a resumed run continues on the same
curve; for the same reason ``steps`` cannot change on resume).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from core.training.distributed import DistributedContext
from core.training.loop import LoopOptions, StepResult, Trainer, TrainingResult, TrainingTask
from core.training.schedule import Schedule
from tryon.data.lip import BACKGROUND, colorize_parse
from tryon.preprocess.parse_data import ParseDataset
from tryon.preprocess.parser import HumanParser, ParserConfig, gate_mask

PREVIEW_COUNT = 4
ENCODER_ASSET = "efficientnet-lite0"


@dataclasses.dataclass(frozen=True)
class ParserTrainOptions(LoopOptions):
    """How a parser run trains (the network is :class:`tryon.preprocess.parser.ParserConfig`).

    Attributes (beyond :class:`core.training.loop.LoopOptions`):
        steps: optimisation steps in total.
        batch_size: photos per step.
        weight_decay: AdamW weight decay.
        encoder_weights: the asset the encoder starts from (``efficientnet-lite0``), or None
            to train it from scratch.
        init: a trained parser's model directory (the same network config) to start from
            instead: a longer or differently augmented run continues from the shipped
            parser rather than from ImageNet.
    """

    steps: int = 1500
    batch_size: int = 8
    weight_decay: float = 1e-4
    encoder_weights: str | None = ENCODER_ASSET
    init: str | None = None
    learning_rate: float = 2e-3
    lr_schedule: Schedule = "cosine"
    checkpoint_every: int = 100
    sample_every: int = 100
    log_every: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


class ParserTask(TrainingTask):
    """The parser's step and samples for :class:`core.training.loop.Trainer`."""

    name = "parser"
    model_class = HumanParser

    def build_model(self) -> HumanParser:
        if self.options.init is not None:
            return self.load_model(Path(self.options.init)).float().train()
        model = HumanParser(self.config)
        if self.options.encoder_weights is not None:
            from safetensors.torch import load_file

            model.load_imagenet_encoder(load_file(encoder_weights_path(self.options)))
        return model

    def make_optimizer(self, model: nn.Module) -> torch.optim.AdamW:
        return torch.optim.AdamW(
            model.parameters(),
            lr=self.options.learning_rate,
            weight_decay=self.options.weight_decay,
        )

    def step(self, network: nn.Module, batch: Any, phase: Any, step_in_phase: int) -> StepResult:
        image, person_mask, pose_maps, labels = (tensor.to(self.device) for tensor in batch)
        logits = network(image=image, person_mask=person_mask, pose_maps=pose_maps)
        # Outside the gate the answer is background by construction; a truth that says
        # otherwise (a perturbed mask cut into the person) is not the network's to learn.
        inside = gate_mask(person_mask, self.config.gate_radius)[:, 0]
        labels = labels.where(inside, BACKGROUND)
        loss = F.cross_entropy(logits.float(), labels)
        accuracy = (logits.detach().argmax(1) == labels).float().mean()
        return StepResult(loss, {"pixel_accuracy": accuracy})

    def sample_batch(self, dataset: Dataset) -> list[tuple[torch.Tensor, ...]]:
        # Unperturbed copies: drawing perturbations here would move the RNG the training
        # batches draw from, and a resumed run would no longer repeat the straight one.
        plain = copy.copy(dataset)
        plain.augment = False  # type: ignore[attr-defined]
        photos = len(plain.samples)  # type: ignore[attr-defined]  # unflipped copies
        count = min(PREVIEW_COUNT, photos)
        return [plain[index * photos // PREVIEW_COUNT] for index in range(count)]

    def sample_rows(self, model: nn.Module, samples: Any) -> list[Any]:
        """Rows of photo | true parse | predicted parse."""
        rows = []
        for image, person_mask, pose_maps, labels in samples:
            inputs = {"image": image, "person_mask": person_mask, "pose_maps": pose_maps}
            batch = {name: tensor[None].to(self.device) for name, tensor in inputs.items()}
            predicted = model(**batch).argmax(1)[0].cpu()
            rows.append([image, _colour(labels), _colour(predicted)])
        return rows


def encoder_weights_path(options: ParserTrainOptions) -> Path:
    """The fetched safetensors of ``options.encoder_weights`` (MissingAssetError if absent)."""
    from tryon.assets import get_asset

    return get_asset(str(options.encoder_weights)).path()


def encoder_record(options: ParserTrainOptions) -> dict[str, Any] | None:
    """How the run's metadata names the encoder's starting weights (name and SHA-256)."""
    if options.encoder_weights is None or options.init is not None:
        return None
    from core.files import file_sha256
    from core.modelio import backbone_record

    path = encoder_weights_path(options)
    return backbone_record(options.encoder_weights, file_sha256(path), convention="imagenet")


def parser_dataset(data: str | Path, config: ParserConfig) -> ParseDataset:
    """The training set: mirrored, perturbed, letterboxed at the parser's resolution."""
    return ParseDataset(
        data, "train", config.resolution, config.pose_sigma, flip=True, augment=True
    )


def _colour(labels: torch.Tensor) -> torch.Tensor:
    rgb = torch.from_numpy(colorize_parse(labels.numpy())).permute(2, 0, 1).float()
    return rgb / 127.5 - 1.0


def train_parser(
    data: str | Path,
    out: str | Path,
    config: ParserConfig,
    options: ParserTrainOptions,
    device: str = "auto",
    num_workers: int = 0,
    distributed: DistributedContext | None = None,
    show_progress: bool = True,
) -> TrainingResult:
    """Train (or resume) a parser on ``data``'s train split into the run directory ``out``.

    Args:
        data: `tryon data synth` output or a VITON-HD root (image/ + image-parse-v3/).
        out: the run directory; an existing one is resumed (same options required).
        config: the parser's architecture (its resolution is the training size).
        options: the schedule.
        device: "cpu", "cuda", "cuda:N" or "auto".
        num_workers: DataLoader worker processes.
        distributed: this rank of a ``torchrun`` run (``options.batch_size`` is per rank).
        show_progress: show a tqdm bar.

    Returns:
        The :class:`core.training.loop.TrainingResult`; ``final_dir`` is ``out/final`` once
        the run has finished (None when ``max_minutes`` stopped it first).

    Raises:
        KeyboardInterrupt: after saving a checkpoint, when interrupted with Ctrl-C.
    """
    trainer = Trainer(
        ParserTask(config, options), parser_dataset(data, config), out, data=str(data),
        backbone=encoder_record(options), extra={"split": "train"},
        device=device, num_workers=num_workers, show_progress=show_progress,
        distributed=distributed,
    )  # fmt: skip
    return trainer.train()
