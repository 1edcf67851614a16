"""``tryon train flow`` and ``tryon eval flow``: the appearance-flow net on try-on pairs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from tryon.cli import evaluate, train

PRESETS = ("small", "full")
GRID_PAIRS = 6  # test pairs shown in the comparison grid, spread over the split


def _flow_config(preset: str, pose_maps: bool):
    import dataclasses

    from core.keypoints import NUM_KEYPOINTS
    from flow.model import FlowConfig

    config = FlowConfig.small() if preset == "small" else FlowConfig.full()
    return dataclasses.replace(config, pose_channels=NUM_KEYPOINTS) if pose_maps else config


def _viton_root(data: Path) -> Path:
    from tryon.data import resolve_layout

    return resolve_layout(data, "viton")


@train.command("flow")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Try-on data root (VITON-HD layout, or a `tryon data synth` output).",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run directory."
)
@click.option("--config", "preset", type=click.Choice(PRESETS), default="small", show_default=True)
@click.option(
    "--pose-maps", is_flag=True, help="Also feed the person's 18 keypoint maps (target pose)."
)
@click.option("--resolution", type=int, default=128, show_default=True, help="Training size R.")
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=2e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--checkpoint-every", type=int, default=100, show_default=True)
@click.option("--sample-every", type=int, default=250, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
@click.option(
    "--dry-run", is_flag=True, help="Check data and options, print the plan, write nothing."
)
def train_flow_command(
    data: Path,
    out: Path,
    preset: str,
    pose_maps: bool,
    resolution: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    checkpoint_every: int,
    sample_every: int,
    device: str,
    dry_run: bool,
) -> None:
    """Train the appearance-flow net (product garment -> worn garment); rerun to resume.

    Data parallel: torchrun --nproc_per_node N -m tryon train flow ... (--batch-size per rank).
    """
    from flow.trainer import FlowTrainOptions, check_trainable, train_flow
    from hpn.distributed import init_from_env, process_group
    from tryon.assets import get_asset
    from tryon.data import VitonPairs

    config = _flow_config(preset, pose_maps)
    try:
        options = FlowTrainOptions(
            resolution=resolution,
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            checkpoint_every=checkpoint_every,
            sample_every=sample_every,
            device=device,
        )
        check_trainable(config, options)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    root = _viton_root(data)
    dataset = VitonPairs(root, "train", resolution)
    vgg_path = get_asset("vgg16-hed").path() if config.loss.perceptual_weight > 0 else None
    if dry_run:
        from flow.model import AppearanceFlowNet

        parameters = sum(p.numel() for p in AppearanceFlowNet(config).parameters())
        click.echo(f"data: {root} (train split, {len(dataset)} pairs at {resolution}px)")
        click.echo(f"model: {preset} preset, {parameters / 1e6:.2f} M parameters")
        click.echo(f"options: {options}")
        click.echo(f"would write the run to {out}; dry run, nothing written")
        return
    context = init_from_env()
    with process_group(context):
        model_dir = train_flow(
            dataset, out, config, options, vgg_path, str(root), distributed=context
        )
    if context.is_main:
        click.echo(f"model: {model_dir}")


def _model_directory(path: Path) -> Path:
    """Accept a model directory or a run directory (whose final model is ``model/``)."""
    from core.modelio import CONFIG_FILE
    from flow.trainer import FINAL_MODEL_DIR

    if not (path / CONFIG_FILE).is_file() and (path / FINAL_MODEL_DIR / CONFIG_FILE).is_file():
        return path / FINAL_MODEL_DIR
    return path


@evaluate.command("flow")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Model directory (or a run directory with model/).",
)
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Try-on data root; its test split is evaluated.",
)
@click.option(
    "--json",
    "json_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the scores.",
)
@click.option("--resolution", type=int, default=256, show_default=True)
@click.option(
    "--grid",
    "grid_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG comparing the methods on pairs spread over the split.",
)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--limit", type=int, default=None, help="Evaluate only the first N test pairs.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
def eval_flow_command(
    model_path: Path,
    data: Path,
    json_path: Path,
    resolution: int,
    grid_path: Path | None,
    batch_size: int,
    limit: int | None,
    device: str,
) -> None:
    """Masked SSIM and IoU of the flow net and the classical baselines on the test split."""
    import torch
    from torch.utils.data import DataLoader, Subset, default_collate

    from core.devices import resolve_device
    from core.images import save_image_grid
    from flow.baselines import BASELINES
    from flow.evaluate import (
        baseline_method,
        comparison_rows,
        evaluate_warps,
        margins_over_baselines,
        model_method,
        win_rates,
    )
    from flow.model import AppearanceFlowNet
    from tryon.data import VitonPairs

    if batch_size <= 0 or (limit is not None and limit <= 0):
        raise click.UsageError("--batch-size and --limit must be positive")
    torch_device = resolve_device(device)
    model_dir = _model_directory(model_path)
    model = AppearanceFlowNet.from_pretrained(model_dir).to(torch_device)
    stride = model.config.coarsest_stride
    if resolution % stride:
        raise click.UsageError(f"--resolution must be a multiple of {stride} for this model")
    root = _viton_root(data)
    dataset = VitonPairs(root, "test", resolution)
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)

    def on_device(batches):
        for batch in batches:
            yield {
                key: value.to(torch_device)
                for key, value in batch.items()
                if torch.is_tensor(value)
            }

    methods = {"flow": model_method(model)}
    methods.update({name: baseline_method(name) for name in BASELINES})
    result = evaluate_warps(on_device(loader), methods, total=len(loader))
    result.update(
        flow_minus_baseline=margins_over_baselines(result),
        flow_better_fraction=win_rates(result),
        model=str(model_dir),
        data=str(root),
        split="test",
        resolution=resolution,
    )
    json_path.parent.mkdir(parents=True, exist_ok=True)
    staging = json_path.with_name(f".{json_path.name}.tmp")
    staging.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(staging, json_path)
    for metric in ("masked_ssim", "iou"):
        scores = ", ".join(f"{name} {value:.4f}" for name, value in result[metric].items())
        wins = ", ".join(
            f"{other} {fraction:.0%}"
            for other, fraction in result["flow_better_fraction"][metric].items()
        )
        click.echo(f"{metric}: {scores} (flow better on: {wins})")
    if grid_path is not None:
        count = min(GRID_PAIRS, len(dataset))
        spread = [index * len(dataset) // count for index in range(count)]
        batch = next(on_device([default_collate([dataset[index] for index in spread])]))
        save_image_grid(comparison_rows(batch, methods, count), grid_path)
        click.echo(f"grid: {grid_path} (rows: garment, worn, {', '.join(methods)})")
    click.echo(f"results: {json_path} ({result['images']} test pairs at {resolution}px)")
