"""``tryon train parser``: train the human parser on parse maps, resumably.

Built on :mod:`hpn.training`: seeded, an epoch-shuffled sampler that resumes mid-epoch,
atomic checkpoints every ``checkpoint_every`` steps (and on Ctrl-C), a JSONL log, a progress
bar and a preview grid (photo | truth | prediction). The learning rate follows a cosine from
``learning_rate`` to zero over ``steps``, computed from the step number so a resumed run
continues on the same curve. ``max_minutes`` stops a run early (with a checkpoint) to fit a
wall-clock budget; running the command again continues it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from core.devices import resolve_device
from core.images import save_image_grid
from hpn import training
from tryon.data.lip import colorize_parse
from tryon.preprocess.parse_data import ParseDataset
from tryon.preprocess.parser import HumanParser, ParserConfig

CHECKPOINTS = "checkpoints"
FINAL_MODEL = "model"
PREVIEW_COUNT = 4


@dataclasses.dataclass(frozen=True)
class ParserTrainOptions:
    """Everything a parser run depends on (written to ``options.json`` in the run directory).

    Attributes:
        data: data root with ``viton/train`` (synthetic) or ``train/`` (VITON-HD).
        out: run directory.
        steps: optimisation steps in total.
        batch_size: photos per step.
        learning_rate: peak Adam learning rate (cosine decay to 0).
        weight_decay: AdamW weight decay.
        resolution: parser input side (multiple of 32).
        encoder: smp encoder name, trained from scratch.
        decoder_channels: U-Net decoder widths.
        seed: seed of weights and data order.
        checkpoint_every: steps between checkpoints.
        keep_checkpoints: how many recent checkpoints to keep.
        max_minutes: stop (with a checkpoint) after this much wall time in this invocation.
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    data: str
    out: str
    steps: int = 1500
    batch_size: int = 8
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    resolution: int = 128
    encoder: str = "resnet18"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    seed: int = 0
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    max_minutes: float | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


def train_parser(options: ParserTrainOptions, show_progress: bool = True) -> Path:
    """Train (or resume) a parser run; returns the final model directory ``OUT/model``.

    Raises:
        KeyboardInterrupt: after saving a checkpoint, when interrupted with Ctrl-C.
    """
    run_dir = Path(options.out)
    training.write_resolved_options(run_dir, options, may_change=("max_minutes", "device"))
    training.seed_everything(options.seed)
    device = resolve_device(options.device)
    dataset = ParseDataset(options.data, "train", options.resolution, flip=True)
    config = ParserConfig(
        encoder=options.encoder,
        decoder_channels=options.decoder_channels,
        resolution=options.resolution,
    )
    latest = training.find_latest_checkpoint(run_dir / CHECKPOINTS)
    model = (HumanParser.from_pretrained(latest) if latest else HumanParser(config)).to(device)
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    state = {"step": 0, "samples_seen": 0}
    if latest is not None:
        state = training.load_training_checkpoint(latest, optimizer=optimizer).trainer_state
    metadata = {"training_data": str(options.data), "split": "train", "images": len(dataset)}
    photos = len(dataset.samples)  # unflipped copies, spread over the data set
    preview = [dataset[i * photos // PREVIEW_COUNT] for i in range(min(PREVIEW_COUNT, photos))]

    def checkpoint() -> None:
        name = training.step_name(state["step"])
        training.save_training_checkpoint(
            run_dir / CHECKPOINTS / name, model, optimizer, state, metadata | state
        )
        training.prune_checkpoints(run_dir / CHECKPOINTS, options.keep_checkpoints)
        _save_preview(model, preview, run_dir / "previews" / f"{name}.png", device)

    loader = training.resumable_loader(
        dataset, options.batch_size, options.seed, samples_seen=state["samples_seen"]
    )
    started = time.monotonic()
    with (
        training.JsonlLogger(run_dir / "log.jsonl", resume_step=state["step"]) as log,
        training.interrupt_guard() as interrupt,
        training.progress_bar(
            options.steps, initial=state["step"], desc="parser", disable=not show_progress
        ) as bar,
    ):
        batches = iter(loader)
        while state["step"] < options.steps:
            images, labels = next(batches)
            images, labels = images.to(device), labels.to(device)
            learning_rate = _cosine(options.learning_rate, state["step"], options.steps)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["step"] += 1
            state["samples_seen"] += len(images)
            accuracy = (logits.argmax(1) == labels).float().mean()
            log.log(state["step"], loss=loss, pixel_accuracy=accuracy, lr=learning_rate)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            bar.update()
            out_of_time = (
                options.max_minutes is not None
                and time.monotonic() - started > options.max_minutes * 60
            )
            if (
                state["step"] % options.checkpoint_every == 0
                or interrupt.requested
                or out_of_time
                or state["step"] == options.steps
            ):
                checkpoint()
            if interrupt.requested:
                raise KeyboardInterrupt
            if out_of_time:
                break
    model.eval().save_pretrained(run_dir / FINAL_MODEL, metadata=metadata | state)
    return run_dir / FINAL_MODEL


def _cosine(peak: float, step: int, total: int) -> float:
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(step, total) / total))


@torch.no_grad()
def _save_preview(
    model: HumanParser,
    samples: list[tuple[torch.Tensor, torch.Tensor]],
    path: Path,
    device: torch.device,
) -> None:
    """Rows of photo | true parse | predicted parse, for looking at a run."""
    was_training = model.training
    model.eval()
    rows = []
    for image, labels in samples:
        predicted = model(image[None].to(device)).argmax(1)[0].cpu()
        rows.append([image, _colour(labels), _colour(predicted)])
    model.train(was_training)
    save_image_grid(rows, path)


def _colour(labels: torch.Tensor) -> torch.Tensor:
    rgb = torch.from_numpy(colorize_parse(labels.numpy())).permute(2, 0, 1).float()
    return rgb / 127.5 - 1.0
