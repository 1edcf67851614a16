"""``tryon train hpn``, ``tryon eval hpn`` and ``tryon train hpn-table1``.

Thin wrappers: they validate options, load the data (:class:`tryon.data.DeepFashionPairs`)
and the loss backbone, and hand over to :mod:`hpn.trainer`, :mod:`hpn.evaluation` and
:mod:`hpn.ablation`. Rerunning the same training command resumes it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tryon.cli import evaluate, train
from tryon.errors import InvalidInputError

if TYPE_CHECKING:
    from hpn.model import HPNConfig
    from hpn.trainer import TrainConfig

PRESETS = ("small", "paper", "tiny")
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
    from hpn.model import HPNConfig

    config = {"small": HPNConfig.small, "paper": HPNConfig.paper, "tiny": HPNConfig.tiny}[preset]()
    return dataclasses.replace(config, image_skip=image_skip)


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


def _common_training_options(function: Any) -> Any:
    options = [
        click.option(
            "--data",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            required=True,
            help="A DeepFashion layout or a `tryon data synth` root.",
        ),
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
            "--learning-rate",
            type=click.FloatRange(min=0, min_open=True),
            default=2e-4,
            show_default=True,
            help="Adam's learning rate (the paper's 2e-4).",
        ),
        click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True),
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
        click.option(
            "--device", default="auto", show_default=True, help="cpu, cuda, cuda:1 or auto."
        ),
        click.option(
            "--num-workers",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="DataLoader workers.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@train.command("hpn")
@_common_training_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Run directory (rerun to resume).",
)
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
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True)
@click.option(
    "--sample-every",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Steps between sample grids (0 = never).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate and print the resolved options and schedule, then stop.",
)
@click.option(
    "--sync-bn",
    is_flag=True,
    help="Under torchrun on GPUs: BatchNorm statistics over the global batch (SyncBatchNorm).",
)
def train_hpn(
    data: Path, preset: str, image_skip: bool, levels: str | None, steps_per_level: int | None,
    batch_size: str, learning_rate: float, seed: int, backbone: str | None,
    vgg_layers: str | None, growth: str, device: str,
    num_workers: int, out: Path, no_local: bool, no_progressive: bool, local_weight: float,
    pixel_weight: float, flip: float, checkpoint_every: int, sample_every: int, dry_run: bool,
    sync_bn: bool,
) -> None:  # fmt: skip
    """Train HPN progressively (paper §3.3) on pose-transfer pairs into a run directory.

    Data parallel: torchrun --nproc_per_node N -m tryon train hpn ... (--batch-size per rank).
    """
    from hpn.distributed import init_from_env, process_group
    from hpn.trainer import ProgressiveTrainer

    model_config = _model_config(preset, image_skip)
    config = _train_config(
        model_config, preset, levels, steps_per_level, batch_size, seed=seed,
        learning_rate=learning_rate,
        use_local=not no_local, progressive=not no_progressive, local_weight=local_weight,
        pixel_weight=pixel_weight,
        optimizer_at_growth=growth, checkpoint_every=checkpoint_every, sample_every=sample_every,
    )  # fmt: skip
    dataset = _pairs(data, "train", config.levels[-1], flip=flip, seed=seed)
    from tryon.assets import perceptual_backbone

    loss_backbone, backbone_info = perceptual_backbone(backbone, vgg_layers)
    run_info = {
        "data": str(data.resolve()),
        "data_pairs": len(dataset),
        "flip": flip,
        "preset": preset,
    }
    context = init_from_env()
    trainer = ProgressiveTrainer(
        model_config, config, dataset, loss_backbone, out, backbone_info, run_info,
        device=None if device == "auto" else device, num_workers=num_workers,
        distributed=context, sync_batchnorm=sync_bn,
    )  # fmt: skip
    if sync_bn and context.distributed and trainer.device.type != "cuda":
        raise click.UsageError("--sync-bn needs CUDA: PyTorch has no SyncBatchNorm on CPU")
    if dry_run:
        click.echo(json.dumps(trainer.options(), indent=2, sort_keys=True))
        for phase in config.phases():
            click.echo(
                f"phase {phase.resolution}^2: steps {phase.start}..{phase.end}, "
                f"batch {phase.batch_size}"
            )
        return
    with process_group(context):
        trainer.train()
    if context.is_main:
        click.echo(f"finished: {trainer.final_dir}")


@evaluate.command("hpn")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A model directory (a run's final/, levels/N or checkpoint).",
)
@click.option(
    "--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the scores here.",
)
@click.option(
    "--grid",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG: reference | target pose | output | ground truth.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N test pairs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--pckh",
    is_flag=True,
    help="Also PCKh: BlazePose re-detects keypoints on outputs, references and targets "
    "(needs `tryon models fetch blazepose`).",
)
def eval_hpn(
    model_dir: Path, data: Path, json_path: Path | None, grid: Path | None, limit: int | None,
    batch_size: int, device: str, pckh: bool,
) -> None:  # fmt: skip
    """SSIM and local-SSIM (protocol B) on the test split, next to "reference unchanged"."""
    from functools import partial

    from core.devices import resolve_device
    from core.images import save_image_grid
    from hpn.evaluation import evaluate_pose_transfer
    from hpn.model import HPN

    detect = None
    if pckh:
        from tryon.preprocess import BlazePoseEstimator
        from tryon.preprocess.pose_eval import keypoints_or_missing

        detect = partial(keypoints_or_missing, BlazePoseEstimator())
    model = HPN.from_pretrained(model_dir).to(resolve_device(device))
    dataset = _pairs(data, "test", model.resolution)
    result = evaluate_pose_transfer(
        model, dataset, limit=limit, batch_size=batch_size, detect_keypoints=detect
    )
    scores = {**result.scores.as_dict(), "model": str(model_dir), "data": str(data)}
    click.echo(json.dumps(scores, indent=2))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(scores, indent=2) + "\n")
    if grid is not None:
        save_image_grid(result.examples, grid)
        click.echo(f"grid: {grid}")


@train.command("hpn-table1")
@_common_training_options
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
def train_hpn_table1(
    data: Path, preset: str, image_skip: bool, levels: str | None, steps_per_level: int | None,
    batch_size: str, learning_rate: float, seed: int, backbone: str | None,
    vgg_layers: str | None, growth: str, device: str,
    num_workers: int, out: Path, limit: int | None, table: Path, table_json: Path,
) -> None:  # fmt: skip
    """Paper Table 1 on our data: Baseline, LD, PT, LD+PT with equal step budgets."""
    from hpn.ablation import run_table1, table1_markdown

    model_config = _model_config(preset, image_skip)
    config = _train_config(
        model_config, preset, levels, steps_per_level, batch_size, seed=seed,
        learning_rate=learning_rate,
        optimizer_at_growth=growth, checkpoint_every=250, sample_every=0,
    )  # fmt: skip
    train_set = _pairs(data, "train", config.levels[-1], seed=seed)
    test_set = _pairs(data, "test", config.levels[-1])
    from tryon.assets import perceptual_backbone

    loss_backbone, backbone_info = perceptual_backbone(backbone, vgg_layers)
    run_info = {"data": str(data.resolve()), "data_pairs": len(train_set), "preset": preset}
    results = run_table1(
        model_config, config, train_set, test_set, loss_backbone, backbone_info, out, run_info,
        limit=limit, device=None if device == "auto" else device,
    )  # fmt: skip
    command = (
        f"tryon train hpn-table1 --data {data} --config {preset}"
        + (" --image-skip" if image_skip else "")
        + " --levels "
        f"{','.join(map(str, config.levels))} --steps-per-level {config.steps_per_level} "
        f"--batch-size {batch_size} --learning-rate {learning_rate:g} --seed {seed} --out {out}"
        + (f" --vgg-layers {vgg_layers}" if vgg_layers else "")
        + (f" --limit {limit}" if limit else "")
    )
    settings = (
        f"Measured with `{command}`: preset {preset}, levels {list(config.levels)}, "
        f"{config.steps_per_level} steps per level ({config.total_steps} per variant), batch "
        f"{list(config.batch_sizes)}, seed {seed}, backbone {backbone_info['name']} layers "
        f"{backbone_info['layers']}; test pairs: {next(iter(results.values()))['count']}; SSIM "
        "protocol B (DATA.md) at the final resolution."
    )
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text(table1_markdown(results, settings))
    table_json.parent.mkdir(parents=True, exist_ok=True)
    table_json.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")
    click.echo(table.read_text())


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
