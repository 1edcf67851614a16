"""``tryon train hpn``, ``tryon eval hpn`` and ``tryon train hpn-table1``.

Thin wrappers: they validate options, load the data (:class:`tryon.data.DeepFashionPairs`)
and the loss backbone, and hand over to the one training loop with :class:`hpn.trainer.
HPNTask`, to :mod:`hpn.evaluation` and to :mod:`hpn.ablation`. Rerunning the same training
command resumes it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from tryon.errors import InvalidInputError

if TYPE_CHECKING:
    from hpn.model import HPNConfig
    from hpn.trainer import TrainConfig

PRESETS = registry.HPN.presets
# Steps per level when --steps-per-level is not given: the paper's 700k for its preset,
# a CPU-sized default for the others.
DEFAULT_STEPS = {"paper": 700_000, "small": 2_000, "tiny": 1_000}


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers, got {text!r}", param_hint=option
        ) from None
    if not values:
        raise click.BadParameter("give at least one value", param_hint=option)
    return values


def _model_config(preset: str, image_skip: bool = False) -> HPNConfig:
    return dataclasses.replace(registry.HPN.preset(preset), image_skip=image_skip)


def _pairs(data: Path, split: str, resolution: int, flip: float = 0.0, seed: int = 0) -> Any:
    from tryon.data import DeepFashionPairs

    dataset = DeepFashionPairs(data, split, resolution, flip_probability=flip, seed=seed)
    if len(dataset) == 0:
        raise InvalidInputError(f"{data}: the {split} split has no pairs")
    return dataset


def _train_config(
    model_config: HPNConfig,
    preset: str,
    levels: str | None,
    steps_per_level: int | None,
    batch_size: str,
    **fields: Any,
) -> TrainConfig:
    from hpn.trainer import TrainConfig

    try:
        config = TrainConfig(
            levels=_int_list(levels, "--levels") if levels else model_config.levels(),
            steps_per_level=steps_per_level or DEFAULT_STEPS[preset],
            batch_sizes=_int_list(batch_size, "--batch-size"),
            **fields,
        )
        config.check_against(model_config)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return config


def _hpn_options(function: Any) -> Any:
    """What both HPN training commands take beyond the loop's options."""
    options = [
        data_option("A DeepFashion layout or a `tryon data synth` root."),
        click.option(
            "--config",
            "preset",
            type=click.Choice(PRESETS),
            default="small",
            show_default=True,
            help="Model preset (HPNConfig.small/paper/tiny).",
        ),
        click.option(
            "--image-skip",
            is_flag=True,
            help="Beyond the paper: output = input image + learned correction "
            "(HPNConfig.image_skip); starts every level at 'reference unchanged'.",
        ),
        click.option(
            "--levels",
            help="Resolutions to train, e.g. 64,128 [default: all levels of the preset].",
        ),
        click.option(
            "--steps-per-level",
            type=click.IntRange(min=1),
            help="Steps per level [default: 700000 paper, 2000 small, 1000 tiny].",
        ),
        click.option(
            "--batch-size",
            default="8",
            show_default=True,
            help="One batch size, or one per level (e.g. 16,8).",
        ),
        click.option(
            "--backbone",
            help="VGG-16 weights: a .safetensors (HED) or .pth (torchvision) file, or "
            "'torchvision' for torch's hub cache [default: the fetched vgg16-hed].",
        ),
        click.option(
            "--vgg-layers",
            help="Comma-separated VGG-16 layers of the perceptual losses "
            "[default: relu1_2,relu2_2,relu3_3,relu4_3].",
        ),
        click.option(
            "--growth",
            type=click.Choice(["reset", "keep"]),
            default="reset",
            show_default=True,
            help="Optimiser state when the model grows.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@train.command("hpn")
@_hpn_options
@run_dir_option
@click.option("--no-local", is_flag=True, help="Ablation: no local-descriptor loss.")
@click.option(
    "--no-progressive",
    is_flag=True,
    help="Ablation: train the last level from scratch for the same total steps.",
)
@click.option("--local-weight", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option(
    "--pixel-weight",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Beyond the paper: weight of a pixel L2/L1 term (0-255 units); helps short CPU runs.",
)
@click.option(
    "--flip",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of mirroring a training pair.",
)
@click.option(
    "--sync-bn",
    is_flag=True,
    help="Under torchrun on GPUs: BatchNorm statistics over the global batch (SyncBatchNorm).",
)
@training_options(learning_rate=2e-4)
def train_hpn(**options: Any) -> None:
    """Train HPN progressively (paper §3.3) on pose-transfer pairs into a run directory.

    Data parallel: torchrun --nproc_per_node N -m tryon train hpn ... (--batch-size per rank).
    """
    from hpn.trainer import HPNTask
    from tryon.assets import perceptual_backbone

    loop = pop_loop_options(options)
    data, preset = options["data"], options["preset"]
    model_config = _model_config(preset, options["image_skip"])
    config = _train_config(
        model_config, preset, options["levels"], options["steps_per_level"],
        options["batch_size"], **loop, use_local=not options["no_local"],
        progressive=not options["no_progressive"], local_weight=options["local_weight"],
        pixel_weight=options["pixel_weight"], optimizer_at_growth=options["growth"],
    )  # fmt: skip
    dataset = _pairs(data, "train", config.levels[-1], flip=options["flip"], seed=config.seed)
    loss_backbone, backbone_info = perceptual_backbone(options["backbone"], options["vgg_layers"])
    train_from_options(
        HPNTask(model_config, config, loss_backbone), dataset, options, data, backbone_info,
        extra={"flip": options["flip"], "preset": preset}, sync_batchnorm=options["sync_bn"],
    )  # fmt: skip


@evaluate.command("hpn")
@model_dir_option
@data_option("A DeepFashion layout or a `tryon data synth` root; its test split is scored.")
@eval_output_options
@click.option(
    "--grid",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG: reference | target pose | output | ground truth.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@device_option()
@click.option(
    "--pckh",
    is_flag=True,
    help="Also PCKh: BlazePose re-detects keypoints on outputs, references and targets "
    "(needs `tryon models fetch blazepose`).",
)
def eval_hpn(
    model_dir: Path, data: Path, json_path: Path | None, limit: int | None, grid: Path | None,
    batch_size: int, device: str, pckh: bool,
) -> None:  # fmt: skip
    """SSIM and local-SSIM (protocol B) on the test split, next to "reference unchanged"."""
    from functools import partial

    from core.devices import resolve_device
    from core.images import save_image_grid
    from core.training.loop import resolve_model_dir
    from hpn.evaluation import evaluate_pose_transfer
    from hpn.model import HPN

    detect = None
    if pckh:
        from tryon.preprocess import BlazePoseEstimator
        from tryon.preprocess.pose_eval import keypoints_or_missing

        detect = partial(keypoints_or_missing, BlazePoseEstimator())
    model = HPN.from_pretrained(resolve_model_dir(model_dir)).to(resolve_device(device))
    dataset = _pairs(data, "test", model.resolution)
    result = evaluate_pose_transfer(
        model, dataset, limit=limit, batch_size=batch_size, detect_keypoints=detect
    )
    scores = {**result.scores.as_dict(), "model": str(model_dir), "data": str(data)}
    click.echo(json.dumps(scores, indent=2))
    write_scores(json_path, scores)
    if grid is not None:
        save_image_grid(result.examples, grid)
        click.echo(f"grid: {grid}")


@train.command("hpn-table1")
@_hpn_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="One run directory per variant goes here.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate on the first N test pairs.")
@click.option(
    "--table",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/table1.md"),
    show_default=True,
)
@click.option(
    "--table-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/table1.json"),
    show_default=True,
)
@training_options(learning_rate=2e-4, checkpoint_every=250, sample_every=0)
def train_hpn_table1(**options: Any) -> None:
    """Paper Table 1 on our data: Baseline, LD, PT, LD+PT with equal step budgets."""
    from hpn.ablation import run_table1, table1_settings, write_table1
    from tryon.assets import perceptual_backbone

    loop = pop_loop_options(options)
    data, preset = options["data"], options["preset"]
    model_config = _model_config(preset, options["image_skip"])
    config = _train_config(
        model_config, preset, options["levels"], options["steps_per_level"],
        options["batch_size"], **loop, optimizer_at_growth=options["growth"],
    )  # fmt: skip
    train_set = _pairs(data, "train", config.levels[-1], seed=config.seed)
    test_set = _pairs(data, "test", config.levels[-1])
    loss_backbone, backbone_info = perceptual_backbone(options["backbone"], options["vgg_layers"])
    if options["dry_run"]:
        click.echo(
            f"dry run: would train {config.total_steps} steps per variant into {options['out']}"
        )
        return
    results = run_table1(
        model_config, config, train_set, test_set, loss_backbone, backbone_info, options["out"],
        {"data": str(data.resolve()), "preset": preset}, limit=options["limit"],
        device=options["device"], num_workers=options["num_workers"],
    )  # fmt: skip
    command = (
        f"tryon train hpn-table1 --data {data} --config {preset}"
        + (" --image-skip" if options["image_skip"] else "")
        + f" --levels {','.join(map(str, config.levels))} --steps-per-level "
        f"{config.steps_per_level} --batch-size {options['batch_size']} --learning-rate "
        f"{config.learning_rate:g} --seed {config.seed} --out {options['out']}"
        + (f" --vgg-layers {options['vgg_layers']}" if options["vgg_layers"] else "")
        + (f" --limit {options['limit']}" if options["limit"] else "")
    )
    settings = table1_settings(results, config, backbone_info, preset, command)
    click.echo(write_table1(results, settings, options["table"], options["table_json"]))


@evaluate.command("hpn-cost")
@click.option("--config", "preset", type=click.Choice(PRESETS), default="small", show_default=True)
@click.option("--time-at", type=click.IntRange(min=1), help="Also time a CPU forward here.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
def eval_hpn_cost(preset: str, time_at: int | None, batch_size: int, repeats: int) -> None:
    """Parameters and forward GFLOPs per level (meta device), optionally CPU forward time."""
    from hpn.cost import level_costs, time_forward

    model_config = _model_config(preset)
    click.echo(f"| {preset} level | parameters | forward GFLOPs (1 image) |")
    click.echo("|---|---|---|")
    for cost in level_costs(model_config):
        click.echo(
            f"| {cost.resolution}^2 | {cost.parameters:,} | {cost.forward_flops / 1e9:.2f} |"
        )
    if time_at is not None:
        if time_at not in model_config.levels():
            raise click.BadParameter(
                f"{time_at} is not a level of {model_config.levels()}", param_hint="--time-at"
            )
        timing = time_forward(model_config, time_at, batch_size, repeats)
        click.echo(
            f"CPU forward at {time_at}^2, batch {batch_size}, {int(timing['threads'])} threads: "
            f"median {timing['median_s'] * 1000:.1f} ms, min {timing['min_s'] * 1000:.1f} ms "
            f"over {repeats} runs"
        )


def _prior_pairs(
    data: Path,
    split: str,
    resolution: int,
    seed: int = 0,
    cache: Path | None = None,
    studio: bool = False,
) -> Any:
    """Pairs with their part-warp prior; ``studio``: the canonical view's inputs and the
    data set's studio-backdrop targets (see :mod:`tryon.data.prior_pairs`)."""
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs

    if not studio:
        pairs = _pairs(data, split, resolution, seed=seed)
    else:
        pairs = DeepFashionPairs(data, split, resolution, seed=seed, targets="studio")
        if len(pairs) == 0:
            raise InvalidInputError(f"{data}: the {split} split has no pairs")
    try:
        return PriorPairs(pairs, cache, studio=studio)
    except ValueError as error:
        raise InvalidInputError(f"{data}: {error}") from error


def _studio_option(function: Any) -> Any:
    return click.option(
        "--studio",
        is_flag=True,
        help="The canonical view's inputs: the source's scene replaced by the studio backdrop "
        "in the prior and the composition, targets from studio/<split>/ (`tryon data synth "
        "--target-backdrop studio`).",
    )(function)


@train.command("hpn-refine")
@data_option("A `tryon data synth` root (person masks are needed for the part-warp prior).")
@run_dir_option
@click.option(
    "--config",
    "preset",
    type=click.Choice(registry.HPN_WARP_REFINE.presets),
    default="small",
    show_default=True,
    help="Backbone preset (WarpRefineConfig.small/tiny).",
)
@click.option("--levels", help="Resolutions to train, e.g. 64,128,256 [default: all].")
@click.option("--steps-per-level", type=click.IntRange(min=1), default=800, show_default=True)
@click.option("--batch-size", default="4", show_default=True, help="One, or one per level.")
@click.option("--backbone", help="VGG-16 weights [default: the fetched vgg16-hed].")
@click.option("--vgg-layers", help="VGG-16 layers of the perceptual losses.")
@click.option("--local-weight", type=click.FloatRange(min=0), default=0.05, show_default=True)
@click.option("--pixel-weight", type=click.FloatRange(min=0), default=20.0, show_default=True)
@click.option(
    "--visibility-weight",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Reward for using the warped pixels where the prior is valid.",
)
@click.option(
    "--smoothness-weight",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Total variation of the residual flow.",
)
@click.option(
    "--ssim-weight",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Weight of 1 - SSIM over the scored region (the measure the fill is judged by).",
)
@click.option(
    "--fill",
    type=click.Choice(["generated", "inpainted"]),
    default="generated",
    show_default=True,
    help="What the colour head predicts: the colours, or a correction of the part warp "
    "alone (WarpRefineConfig.fill).",
)
@click.option(
    "--reach",
    type=click.FloatRange(min=0, min_open=True, max=1),
    help="Change the part warp only this near a hole (fraction of the side; "
    "WarpRefineConfig.reach) [default: everywhere].",
)
@click.option(
    "--loss-region",
    type=click.Choice(["image", "person"]),
    default="image",
    show_default=True,
    help="Score the whole target, or the target person only (the canonical view's task).",
)
@click.option(
    "--prior-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the computed part-warp priors here (.npz per pair) and reuse them.",
)
@_studio_option
@click.option(
    "--init",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Start from this trained model directory (e.g. tryon/demo/models/hpn_refine) "
    "instead of a fresh network; the first of --levels must not be below its level.",
)
@training_options(learning_rate=1e-3)
def train_hpn_refine(**options: Any) -> None:
    """Train the warp-and-refine HPN (part-warp prior + residual flow, mask and fill)."""
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig
    from tryon.assets import perceptual_backbone

    loop = pop_loop_options(options)
    data, preset = options["data"], options["preset"]
    model_config = dataclasses.replace(
        registry.HPN_WARP_REFINE.preset(preset), fill=options["fill"], reach=options["reach"]
    )
    backbone_levels = model_config.backbone.levels()
    try:
        config = WarpRefineTrainConfig(
            levels=_int_list(options["levels"], "--levels") if options["levels"]
            else backbone_levels,
            steps_per_level=options["steps_per_level"],
            batch_sizes=_int_list(options["batch_size"], "--batch-size"),
            local_weight=options["local_weight"], pixel_weight=options["pixel_weight"],
            visibility_weight=options["visibility_weight"],
            smoothness_weight=options["smoothness_weight"], ssim_weight=options["ssim_weight"],
            loss_region=options["loss_region"], **loop,
        )  # fmt: skip
        config.check_against(model_config.backbone)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    cache, studio, init = options.pop("prior_cache"), options.pop("studio"), options.pop("init")
    dataset = _prior_pairs(
        data, "train", config.levels[-1], seed=config.seed, cache=cache, studio=studio
    )
    loss_backbone, backbone_info = perceptual_backbone(options["backbone"], options["vgg_layers"])
    task = WarpRefineTask(model_config, config, loss_backbone, init=init)
    if init is not None:
        from core.errors import CheckpointError

        try:
            task.build_model()  # refuse a misfit --init before training starts
        except (ValueError, CheckpointError) as error:
            raise click.BadParameter(str(error), param_hint="--init") from None
    extra = {"preset": preset, "studio": studio, "init": None if init is None else str(init)}
    train_from_options(task, dataset, options, data, backbone_info, extra=extra)


@evaluate.command("hpn-refine")
@model_dir_option
@data_option("A `tryon data synth` root; its test split is scored.")
@eval_output_options
@click.option(
    "--paper-model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The paper variant to compare with (an HPN model directory; default: the demo's).",
)
@click.option("--resolution", type=click.IntRange(min=32), default=256, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--prior-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the computed part-warp priors here (.npz per pair) and reuse them.",
)
@_studio_option
@device_option()
def eval_hpn_refine(
    model_dir: Path, data: Path, json_path: Path | None, limit: int | None,
    paper_model: Path | None, resolution: int, batch_size: int, prior_cache: Path | None,
    studio: bool, device: str,
) -> None:  # fmt: skip
    """Warp-and-refine vs the part warp alone, the paper's HPN and "reference unchanged"."""
    from core.devices import resolve_device
    from core.training.loop import resolve_model_dir
    from hpn.model import HPN
    from hpn.warp_refine import WarpRefineHPN
    from hpn.warp_refine_eval import compare_pose_transfer
    from tryon.pipeline import bundled_models_dir

    target = resolve_device(device)
    model = WarpRefineHPN.from_pretrained(resolve_model_dir(model_dir)).to(target)
    paper = HPN.from_pretrained(paper_model or bundled_models_dir() / "hpn").to(target).eval()
    dataset = _prior_pairs(data, "test", resolution, cache=prior_cache, studio=studio)
    scores = compare_pose_transfer(model, dataset, paper, limit=limit, batch_size=batch_size)
    scores.update(model=str(model_dir), data=str(data), studio=studio)
    click.echo(json.dumps(scores, indent=2))
    write_scores(json_path, scores)
