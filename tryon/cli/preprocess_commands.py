"""Preprocessing commands: `tryon pose`, `tryon garment-mask`, `tryon parse`, parser train/eval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core import registry
from tryon.cli import cli, evaluate, train
from tryon.cli.options import (
    check_output_file,
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

_IMAGE = click.Path(dir_okay=False, path_type=Path)


@cli.command("pose")
@click.argument("image", type=_IMAGE)
@click.option("--out", "out", type=_IMAGE, required=True, help="OpenPose JSON to write.")
@click.option("--mask", "mask_out", type=_IMAGE, help="Also write the person mask (PNG).")
@click.option(
    "--keypoints",
    "keypoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take keypoints from this OpenPose JSON instead of running BlazePose (checks them "
    "against the photo and rewrites them as COCO-18).",
)
def pose_command(image: Path, out: Path, mask_out: Path | None, keypoint_file: Path | None) -> None:
    """Estimate the pose of the person in IMAGE and write COCO-18 OpenPose JSON.

    Coordinates are pixels of the photo as it is displayed (after its EXIF rotation).
    """
    import numpy as np

    from tryon.data.keypoint_formats import write_openpose_json
    from tryon.imageio import SAVE_FORMATS, load_image, save_image
    from tryon.preprocess import BlazePoseEstimator, PrecomputedPoseEstimator, person_mask

    check_output_file(out, (".json",), inputs=(image, keypoint_file))
    if mask_out is not None:
        check_output_file(mask_out, SAVE_FORMATS, inputs=(image, keypoint_file, out))
    photo = load_image(image)
    if keypoint_file is not None:
        estimator = PrecomputedPoseEstimator.from_openpose_json(keypoint_file)
    else:
        estimator = BlazePoseEstimator()
    result = estimator.estimate(photo)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_openpose_json(out, result.keypoints)
    present = int((~np.isnan(result.keypoints).any(axis=1)).sum())
    click.echo(f"{out}: {present}/18 keypoints, person score {result.score:.2f}")
    if mask_out is not None:
        save_image(mask_out, person_mask(photo, result).astype("uint8") * 255)
        click.echo(f"{mask_out}: person mask")


@cli.command("garment-mask")
@click.argument("image", type=_IMAGE)
@click.option("--out", "out", type=_IMAGE, required=True, help="Mask PNG to write.")
def garment_mask_command(image: Path, out: Path) -> None:
    """Mask of the garment in a catalog product photo on a plain background."""
    from tryon.imageio import SAVE_FORMATS, load_image, save_image
    from tryon.preprocess import garment_mask

    check_output_file(out, SAVE_FORMATS, inputs=(image,))
    mask = garment_mask(load_image(image))
    save_image(out, mask.astype("uint8") * 255)
    click.echo(f"{out}: garment covers {mask.mean():.1%} of the photo")


@train.command("parser")
@data_option("`tryon data synth` output or a VITON-HD root (image/ + image-parse-v3/).")
@run_dir_option
@click.option(
    "--config",
    "preset",
    type=click.Choice(registry.HUMAN_PARSER.presets),
    default="small",
    show_default=True,
    help="Architecture preset (small: EfficientNet-Lite0 encoder; mobile: MobileNetV2).",
)
@click.option(
    "--encoder-weights",
    type=click.Choice(["efficientnet-lite0", "none"]),
    default="efficientnet-lite0",
    show_default=True,
    help="Start the encoder from these ImageNet weights (`tryon models fetch "
    "efficientnet-lite0`), or from scratch.",
)
@click.option(
    "--init",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Start from this trained parser model directory (same --config and --resolution) "
    "instead of the ImageNet encoder, e.g. tryon/demo/models/parser.",
)
@click.option("--encoder", help="smp encoder name, instead of the preset's.")
@click.option(
    "--decoder-channels", help="Five comma-separated U-Net decoder widths [default: the preset's]."
)
@click.option(
    "--resolution",
    type=click.IntRange(min=32),
    default=128,
    show_default=True,
    help="Input side (multiple of 32).",
)
@click.option("--steps", default=1500, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@training_options(learning_rate=2e-3, lr_schedule="cosine", checkpoint_every=100, sample_every=100)
def train_parser_command(**options: Any) -> None:
    """Train the human parser (U-Net over LIP ids) on DATA's train split; resumable.

    Interrupt any time; the same command resumes from the last checkpoint.
    Data parallel: torchrun --nproc_per_node N -m tryon train parser ... (--batch-size per rank).
    """
    import dataclasses

    from tryon.preprocess.parser_training import (
        ParserTask,
        ParserTrainOptions,
        encoder_record,
        parser_dataset,
    )

    config = registry.HUMAN_PARSER.preset(options["preset"])
    init = options.pop("init")
    changes: dict[str, Any] = {"resolution": options["resolution"]}
    try:
        if options["encoder"]:
            changes["encoder"] = options["encoder"]
        if options["decoder_channels"]:
            widths = options["decoder_channels"].split(",")
            changes["decoder_channels"] = tuple(int(width) for width in widths)
        config = dataclasses.replace(config, **changes)
        weights = options["encoder_weights"]
        train_options = ParserTrainOptions(
            steps=options["steps"],
            batch_size=options["batch_size"],
            encoder_weights=None if weights == "none" else weights,
            init=None if init is None else str(init),
            **pop_loop_options(options),
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    task = ParserTask(config, train_options)
    if train_options.init is not None:
        from core.errors import CheckpointError

        try:
            task.build_model()  # refuse a misfit --init before any data is read
        except CheckpointError as error:
            raise click.BadParameter(str(error), param_hint="--init") from None
    train_from_options(
        task, parser_dataset(options["data"], config), options, options["data"],
        backbone=encoder_record(train_options),
        extra={"split": "train", "init": train_options.init},
    )  # fmt: skip


@evaluate.command("parser")
@model_dir_option
@data_option("`tryon data synth` output or a VITON-HD root.")
@click.option("--split", default="test", show_default=True)
@eval_output_options
@device_option()
def eval_parser_command(
    model_dir: Path, data: Path, split: str, json_path: Path | None, limit: int | None, device: str
) -> None:
    """Upper-garment IoU of the parser, the keypoint-geometry fallback and the classical region."""
    import dataclasses

    from core.devices import resolve_device
    from core.training.loop import resolve_model_dir
    from tryon.preprocess.parser import HumanParser
    from tryon.preprocess.parser_eval import evaluate_parser

    model = HumanParser.from_pretrained(resolve_model_dir(model_dir)).to(resolve_device(device))
    report = evaluate_parser(model, data, split, limit)
    click.echo(
        f"{report.photos} {split} photos: upper-garment IoU parser {report.parser_iou_mean:.3f} "
        f"(pooled {report.parser_iou_pooled:.3f}), keypoint-geometry fallback "
        f"{report.fallback_iou_mean:.3f} (pooled {report.fallback_iou_pooled:.3f}), classical "
        f"region {report.classical_iou_mean:.3f} (pooled {report.classical_iou_pooled:.3f}); "
        f"parser mIoU "
        f"over {len(report.parser_class_iou)} classes {report.parser_mean_class_iou:.3f}; "
        f"parsing {report.parse_seconds_median * 1000:.0f} ms per photo (median)"
    )
    if json_path is not None:
        write_scores(json_path, dataclasses.asdict(report))
        click.echo(f"report written to {json_path}")


@cli.command("parse")
@click.argument("image", type=_IMAGE)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Parser model directory [default: the bundled parser, tryon/demo/models/parser].",
)
@click.option("--out", "out", type=_IMAGE, required=True, help="Parse map PNG (LIP palette).")
@click.option("--garment-mask", "mask_out", type=_IMAGE, help="Also write the garment region.")
@click.option(
    "--keypoints",
    "keypoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take keypoints from this OpenPose JSON instead of running BlazePose.",
)
@click.option(
    "--person-mask",
    "person_mask_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the person mask from this PNG (white: person) instead of BlazePose's.",
)
@click.option(
    "--save-intermediates",
    "intermediates",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the guides the parser used here: person_mask.png and keypoints.json.",
)
def parse_command(
    image: Path,
    model_dir: Path | None,
    out: Path,
    mask_out: Path | None,
    keypoint_file: Path | None,
    person_mask_file: Path | None,
    intermediates: Path | None,
) -> None:
    """Human parsing of IMAGE into LIP ids (a palette PNG as in VITON-HD's image-parse-v3).

    The parser is guided by the person's keypoints and person mask (BlazePose's unless given)
    and labels nothing outside the dilated person mask.
    """
    from PIL import Image

    from core.files import atomic_open
    from tryon.data.keypoint_formats import write_openpose_json
    from tryon.data.lip import PALETTE
    from tryon.imageio import SAVE_FORMATS, load_image, save_image
    from tryon.pipeline.pipeline import bundled_models_dir
    from tryon.preprocess.parser import HumanParser, garment_region, parse_image

    check_output_file(out, (".png",), inputs=(image,))
    if mask_out is not None:
        check_output_file(mask_out, SAVE_FORMATS, inputs=(image, out))
    photo = load_image(image)
    keypoints, person_mask = _parser_guides(photo, keypoint_file, person_mask_file)
    model = HumanParser.from_pretrained(model_dir or bundled_models_dir() / "parser")
    parse = parse_image(model, photo, keypoints, person_mask)
    picture = Image.fromarray(parse, mode="P")
    picture.putpalette(PALETTE.reshape(-1).tolist())
    with atomic_open(out) as stream:
        picture.save(stream, format="PNG")
    click.echo(f"{out}: {len(set(parse.reshape(-1).tolist()))} LIP labels")
    if mask_out is not None:
        region = garment_region(parse)
        save_image(mask_out, region.astype("uint8") * 255)
        click.echo(f"{mask_out}: upper garment covers {region.mean():.1%} of the photo")
    if intermediates is not None:
        intermediates.mkdir(parents=True, exist_ok=True)
        save_image(intermediates / "person_mask.png", person_mask.astype("uint8") * 255)
        write_openpose_json(intermediates / "keypoints.json", keypoints)
        click.echo(f"{intermediates}: person_mask.png and keypoints.json the parser used")


def _parser_guides(
    photo: Any, keypoint_file: Path | None, person_mask_file: Path | None
) -> tuple[Any, Any]:
    """Keypoints and person mask for the parser: from the given files, else from BlazePose."""
    import numpy as np

    from tryon.errors import InvalidInputError
    from tryon.imageio import load_image
    from tryon.preprocess import BlazePoseEstimator, PrecomputedPoseEstimator, person_mask

    if keypoint_file is not None:
        result = PrecomputedPoseEstimator.from_openpose_json(keypoint_file).estimate(photo)
    else:
        result = BlazePoseEstimator().estimate(photo)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if person_mask_file is None:
        return result.keypoints, person_mask(photo, result)
    mask = load_image(person_mask_file).mean(axis=-1) > 127
    if mask.shape != photo.shape[:2]:
        raise InvalidInputError(
            f"{person_mask_file}: the person mask is {mask.shape}, the photo {photo.shape[:2]}"
        )
    return np.asarray(result.keypoints, np.float32), mask


@evaluate.command("preprocess-latency")
@click.option("--photo", "photo_path", type=_IMAGE, help="Photo to time [default: astronaut].")
@click.option(
    "--parser",
    "parser_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Parser model directory to time too.",
)
@click.option("--runs", default=20, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the timings here (JSON).",
)
def preprocess_latency_command(
    photo_path: Path | None, parser_dir: str | None, runs: int, json_path: Path | None
) -> None:
    """Median CPU time per photo of pose estimation and parsing (models loaded once)."""
    import json

    from tryon.imageio import load_image
    from tryon.preprocess.latency import preprocess_latency

    if photo_path is None:
        import skimage.data

        photo = skimage.data.astronaut()
    else:
        photo = load_image(photo_path)
    report = preprocess_latency(photo, runs, parser_dir)
    click.echo(json.dumps(report, indent=2))
    write_scores(json_path, report)


@evaluate.command("pose")
@data_option("`tryon data synth` output or a VITON-HD root with openpose_json/.")
@click.option("--split", default="test", show_default=True)
@eval_output_options
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(min=0))
def eval_pose_command(
    data: Path, split: str, json_path: Path | None, limit: int | None, threshold: float
) -> None:
    """BlazePose against DATA's own keypoints: people found and PCK (shoulder-width scale)."""
    import dataclasses

    from tryon.preprocess import BlazePoseEstimator
    from tryon.preprocess.pose_eval import evaluate_pose

    report = evaluate_pose(BlazePoseEstimator(), data, split, limit, threshold)
    click.echo(
        f"{report.found}/{report.photos} {split} photos with a person found; PCK@{threshold} "
        f"shoulder width {report.pck:.3f}; {report.estimate_seconds_median * 1000:.0f} ms per "
        "photo (median)"
    )
    write_scores(json_path, dataclasses.asdict(report))
