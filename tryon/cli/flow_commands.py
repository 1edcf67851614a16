"""``tryon train flow`` and ``tryon eval flow``: the appearance-flow net on try-on pairs.

Thin wrappers: :class:`flow.trainer.FlowTask` on the one training loop, and
:func:`flow.evaluate.evaluate_flow_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core import registry
from tryon.cli import evaluate, train
from tryon.cli.options import (
    data_option,
    device_option,
    eval_output_options,
    model_dir_option,
    pop_loop_options,
    run_dir_option,
    train_from_options,
    training_options,
    write_scores,
)

PRESETS = registry.APPEARANCE_FLOW.presets
GRID_PAIRS = 6  # test pairs shown in the comparison grid, spread over the split


def _flow_config(preset: str, pose_maps: bool) -> Any:
    import dataclasses

    from core.keypoints import NUM_KEYPOINTS

    config = registry.APPEARANCE_FLOW.preset(preset)
    return dataclasses.replace(config, pose_channels=NUM_KEYPOINTS) if pose_maps else config


def _viton_root(data: Path) -> Path:
    from tryon.data import resolve_layout

    return resolve_layout(data, "viton")


@train.command("flow")
@data_option("Try-on data root (VITON-HD layout, or a `tryon data synth` output).")
@run_dir_option
@click.option("--config", "preset", type=click.Choice(PRESETS), default="small", show_default=True)
@click.option(
    "--pose-maps", is_flag=True, help="Also feed the person's 18 keypoint maps (target pose)."
)
@click.option(
    "--resolution", type=click.IntRange(min=1), default=128, show_default=True, help="Size R."
)
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--prior",
    type=click.Choice(["none", "part-warp"]),
    default="none",
    show_default=True,
    help="part-warp: learn a residual on the garment's keypoint fit (the net reads the fitted "
    "garment and the person's mask, never the worn garment's shape).",
)
@click.option(
    "--prior-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --prior part-warp: keep the computed fits here (.npz per pair) and reuse them.",
)
@training_options(learning_rate=2e-4, checkpoint_every=100, sample_every=250)
def train_flow_command(**options: Any) -> None:
    """Train the appearance-flow net (product garment -> worn garment); rerun to resume.

    Data parallel: torchrun --nproc_per_node N -m tryon train flow ... (--batch-size per rank).
    """
    from flow.trainer import FlowTask, FlowTrainOptions
    from tryon.assets import perceptual_backbone
    from tryon.data import VitonPairs

    config = _flow_config(options["preset"], options["pose_maps"])
    try:
        train_options = FlowTrainOptions(
            resolution=options["resolution"],
            steps=options["steps"],
            batch_size=options["batch_size"],
            **pop_loop_options(options),
        )
        backbone, backbone_info = None, None
        if config.loss.perceptual_weight > 0:
            layers = ",".join(config.loss.perceptual_layers)
            backbone, backbone_info = perceptual_backbone(None, layers)
        task = FlowTask(config, train_options, backbone)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    root = _viton_root(options["data"])
    dataset = VitonPairs(root, "train", train_options.resolution)
    prior, cache = options.pop("prior"), options.pop("prior_cache")
    if prior == "part-warp":
        from tryon.data.garment_prior import GarmentPriorPairs

        dataset = GarmentPriorPairs(dataset, cache)
    train_from_options(task, dataset, options, root, backbone_info, extra={"prior": prior})


@evaluate.command("flow")
@model_dir_option
@data_option("Try-on data root; its test split is evaluated.")
@eval_output_options
@click.option("--resolution", type=click.IntRange(min=1), default=256, show_default=True)
@click.option(
    "--grid",
    "grid_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG comparing the methods on pairs spread over the split.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@device_option()
def eval_flow_command(
    model_dir: Path,
    data: Path,
    json_path: Path | None,
    limit: int | None,
    resolution: int,
    grid_path: Path | None,
    batch_size: int,
    device: str,
) -> None:
    """Masked SSIM and IoU of the flow net and the classical baselines on the test split."""
    from core.devices import resolve_device
    from core.images import save_image_grid
    from core.training.loop import resolve_model_dir
    from flow.evaluate import evaluate_flow_model
    from flow.model import AppearanceFlowNet
    from tryon.data import VitonPairs

    model_dir = resolve_model_dir(model_dir)
    model = AppearanceFlowNet.from_pretrained(model_dir).to(resolve_device(device))
    stride = model.config.coarsest_stride
    if resolution % stride:
        raise click.UsageError(f"--resolution must be a multiple of {stride} for this model")
    root = _viton_root(data)
    dataset = VitonPairs(root, "test", resolution)
    result, rows = evaluate_flow_model(
        model, dataset, batch_size, limit, GRID_PAIRS if grid_path else 0
    )
    result.update(model=str(model_dir), data=str(root), split="test", resolution=resolution)
    write_scores(json_path, result)
    for metric in ("masked_ssim", "iou"):
        scores = ", ".join(f"{name} {value:.4f}" for name, value in result[metric].items())
        wins = ", ".join(
            f"{other} {fraction:.0%}"
            for other, fraction in result["flow_better_fraction"][metric].items()
        )
        click.echo(f"{metric}: {scores} (flow better on: {wins})")
    if grid_path is not None and rows is not None:
        save_image_grid(rows, grid_path)
        methods = ", ".join(result["masked_ssim"])
        click.echo(f"grid: {grid_path} (rows: garment, worn, {methods})")
    click.echo(
        f"results: {json_path or '(not written)'} ({result['images']} pairs at {resolution}px)"
    )


@evaluate.command("garment-fit")
@data_option("A `tryon data synth` root (or VITON-HD layout); its test split is scored.")
@eval_output_options
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A flow net trained on fits (tryon train flow --prior part-warp): adds fit_flow.",
)
@click.option(
    "--paper-model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The paper-route flow net [default: the bundled demo's].",
)
@click.option("--resolution", type=click.IntRange(min=16), default=256, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
def eval_garment_fit(
    data: Path, json_path: Path | None, limit: int | None, model_dir: Path | None,
    paper_model: Path | None, resolution: int, batch_size: int,
) -> None:  # fmt: skip
    """Garment fits onto posed bodies vs TPS, the box paste and the paper's flow net."""
    import json

    from core.training.loop import resolve_model_dir
    from flow.model import AppearanceFlowNet
    from tryon.pipeline import bundled_models_dir
    from tryon.pipeline.garment_fit_eval import evaluate_garment_fit

    fit_flow = None
    if model_dir is not None:
        fit_flow = AppearanceFlowNet.from_pretrained(resolve_model_dir(model_dir)).eval()
    paper = AppearanceFlowNet.from_pretrained(paper_model or bundled_models_dir() / "flow").eval()
    scores = evaluate_garment_fit(
        _viton_root(data), resolution, fit_flow, paper, limit=limit, batch_size=batch_size
    )
    click.echo(json.dumps(scores, indent=2))
    write_scores(json_path, scores)
