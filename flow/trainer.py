"""Training loop of the appearance-flow net: product garment -> the same garment as worn.

Built on :mod:`hpn.training` (seeding, resumable data order, atomic checkpoints, JSONL log,
image grids, resolved options). A run directory holds ``options.json``, ``log.jsonl``,
``checkpoints/step-*/`` (the newest ``keep_checkpoints``), ``samples/step-*.png`` and, at the
end, ``model/`` (the model directory to evaluate or ship). Running the same command again
resumes from the newest checkpoint and reproduces the uninterrupted run bit for bit on CPU.

The dataset is any map-style dataset of dicts with ``garment`` (3, R, R), ``garment_mask``
(1, R, R), ``garment_region`` (1, R, R; the target mask) and ``person`` (3, R, R), plus
``person_keypoints`` (18, 2) when the config uses pose maps, e.g. ``tryon.data.VitonPairs``;
the worn garment is ``person * garment_region``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, default_collate

from core.devices import resolve_device
from core.errors import CheckpointError
from core.files import file_sha256
from core.images import save_image_grid
from core.modelio import config_to_dict
from core.perceptual import PerceptualLoss, VGG16Features
from flow.evaluate import model_inputs, worn_garment
from flow.losses import FlowLoss
from flow.model import AppearanceFlowNet, FlowConfig
from flow.visualize import flow_to_rgb
from hpn.distributed import (
    DistributedContext,
    MethodAsForward,
    all_reduce_means,
    barrier,
    sharded_loader,
    wrap_model,
)
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

FINAL_MODEL_DIR = "model"
SAMPLE_COUNT = 4
# Options that may differ when a run is resumed (extending a run, another machine).
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "sample_every", "keep_checkpoints", "device")


@dataclasses.dataclass(frozen=True)
class FlowTrainOptions:
    """How to train (the network itself is described by :class:`flow.model.FlowConfig`).

    Attributes:
        resolution: training image size R (a multiple of the config's coarsest stride).
        steps: total optimisation steps of the run (raise it to extend a finished run).
        batch_size: pairs per step.
        learning_rate: Adam's learning rate.
        seed: seeds the weights and the data order.
        checkpoint_every: steps between checkpoints (one is also taken at the end and on
            Ctrl-C).
        sample_every: steps between sample grids.
        keep_checkpoints: newest checkpoints kept on disk.
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    resolution: int = 128
    steps: int = 2000
    batch_size: int = 8
    learning_rate: float = 2e-4
    seed: int = 0
    checkpoint_every: int = 100
    sample_every: int = 250
    keep_checkpoints: int = 2
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("resolution", "steps", "batch_size", "checkpoint_every", "sample_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}")


def check_trainable(config: FlowConfig, options: FlowTrainOptions) -> None:
    """Refuse option combinations the trainer cannot run, before anything is written."""
    if options.resolution % config.coarsest_stride:
        raise ValueError(
            f"resolution {options.resolution} is not a multiple of the config's coarsest "
            f"stride {config.coarsest_stride}; choose e.g. "
            f"{max(1, round(options.resolution / config.coarsest_stride)) * config.coarsest_stride}"
        )


def _to_device(
    batch: Mapping[str, Any], device: torch.device, config: FlowConfig
) -> dict[str, torch.Tensor]:
    keys = ("garment", "garment_mask", "garment_region", "person")
    if config.pose_channels:
        keys += ("person_keypoints",)
    missing = [key for key in keys if key not in batch]
    if missing:
        raise ValueError(f"training batches need {list(keys)}; missing {missing}")
    return {key: batch[key].to(device) for key in keys}


def _sample_grid(model: AppearanceFlowNet, samples: Mapping[str, torch.Tensor], path: Path) -> None:
    """Rows: garment, target mask, worn garment, warped garment (x target mask), flow colours."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        output = model(*model_inputs(model.config, samples))
    model.train(was_training)
    target_mask = samples["garment_region"]
    rows = [
        samples["garment"],
        target_mask.expand(-1, 3, -1, -1) * 2 - 1,
        worn_garment(samples),
        output.warped_garment * target_mask,
        flow_to_rgb(output.flow),
    ]
    save_image_grid(rows, path)


def train_flow(
    dataset: Dataset,
    run_dir: str | Path,
    config: FlowConfig,
    options: FlowTrainOptions,
    vgg_path: str | Path | None = None,
    data_description: str = "",
    distributed: DistributedContext | None = None,
) -> Path:
    """Train (or resume) an appearance-flow net into ``run_dir``; returns the final model dir.

    Args:
        dataset: map-style dataset of training pairs (see the module docstring), already at
            ``options.resolution``.
        run_dir: the run directory; an existing one is resumed (same options required).
        config: the network and loss weights.
        options: the training schedule.
        vgg_path: VGG-16 weights for the perceptual term (needed when its weight is > 0).
        data_description: what the data was (recorded in options and model metadata).
        distributed: this rank of a ``torchrun`` run (:func:`hpn.distributed.init_from_env`);
            ``options.batch_size`` is then per rank, rank 0 alone logs and writes files.

    Returns:
        ``run_dir / "model"``, a model directory for ``AppearanceFlowNet.from_pretrained``.
    """
    check_trainable(config, options)
    run_dir = Path(run_dir)
    context = distributed or DistributedContext()
    device = context.device(resolve_device(options.device))
    perceptual = None
    backbone_sha = None
    if config.loss.perceptual_weight > 0:
        if vgg_path is None:
            raise ValueError("the perceptual term needs VGG-16 weights: pass vgg_path")
        backbone = VGG16Features.from_file(vgg_path, layers=config.loss.perceptual_layers)
        perceptual = PerceptualLoss(backbone).to(device)
        backbone_sha = file_sha256(vgg_path)
    resolved = {
        **dataclasses.asdict(options),
        "config": config_to_dict(config),
        "data": data_description,
        "backbone_sha256": backbone_sha,
    }
    if context.distributed:  # the global batch is batch_size x world_size
        resolved["world_size"] = context.world_size
    if context.is_main:
        write_resolved_options(run_dir, resolved, may_change=RESUMABLE_CHANGES)
    barrier(context)
    loss_fn = FlowLoss(config.loss, perceptual)

    seed_everything(options.seed)
    checkpoints = run_dir / "checkpoints"
    latest = find_latest_checkpoint(checkpoints)
    if latest is None:
        model = AppearanceFlowNet(config).to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
        state: dict[str, Any] = {"step": 0, "samples_seen": 0}
    else:
        model = AppearanceFlowNet.from_pretrained(latest).to(device).train()
        if model.config != config:
            raise CheckpointError(f"{latest} was trained with another FlowConfig")
        optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
        state = load_training_checkpoint(latest, optimizer=optimizer).trainer_state

    metadata = {
        "resolution": options.resolution,
        "data": data_description,
        "backbone": backbone_sha,
    }
    size = len(dataset)  # type: ignore[arg-type]
    sample_indices = sorted({index * size // SAMPLE_COUNT for index in range(SAMPLE_COUNT)})
    samples = _to_device(
        default_collate([dataset[index] for index in sample_indices]), device, config
    )
    loader = sharded_loader(
        dataset, options.batch_size, options.seed, context, samples_seen=state["samples_seen"]
    )
    network = wrap_model(MethodAsForward(model, "forward_flows"), context, sync_batchnorm=False)
    resume_step = state["step"] if latest is not None else None
    main = context.is_main
    with (
        JsonlLogger(run_dir / "log.jsonl", resume_step=resume_step)
        if main
        else contextlib.nullcontext() as log,
        interrupt_guard() as interrupt,
        progress_bar(
            options.steps, initial=min(state["step"], options.steps), desc="flow", disable=not main
        ) as bar,
    ):
        batches = iter(loader)
        while state["step"] < options.steps:
            batch = _to_device(next(batches), device, config)
            flows = network(*model_inputs(config, batch))
            terms = loss_fn(
                flows,
                batch["garment"],
                batch["garment_mask"],
                worn_garment(batch),
                batch["garment_region"],
            )
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            state["step"] += 1
            state["samples_seen"] += batch["garment"].shape[0] * context.world_size
            step = state["step"]
            terms = all_reduce_means(terms, context)  # the global batch's losses
            bar.set_postfix(loss=f"{terms['total'].item():.4f}", refresh=False)
            bar.update()
            finished = step == options.steps
            if main:
                log.log(step, **{name: value.item() for name, value in terms.items()})
            if main and (step % options.sample_every == 0 or finished):
                _sample_grid(model, samples, run_dir / "samples" / f"{step_name(step)}.png")
            checkpoint_now = step % options.checkpoint_every == 0 or finished
            if main and (checkpoint_now or interrupt.requested):
                save_training_checkpoint(
                    checkpoints / step_name(step),
                    model,
                    optimizer,
                    state,
                    metadata={**metadata, "steps": step},
                )
                prune_checkpoints(checkpoints, options.keep_checkpoints)
            if interrupt.requested:
                raise KeyboardInterrupt
    final = run_dir / FINAL_MODEL_DIR
    if main:
        model.save_pretrained(final, metadata={**metadata, "steps": state["step"]})
    barrier(context)
    return final
