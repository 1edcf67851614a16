"""Preprocessing commands: `tryon pose`, `tryon garment-mask`, `tryon parse`, parser train/eval."""

from __future__ import annotations

from pathlib import Path

import click

from tryon.cli import cli, evaluate, train

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
    from tryon.imageio import load_image, save_image
    from tryon.preprocess import BlazePoseEstimator, PrecomputedPoseEstimator, person_mask

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
    from tryon.imageio import load_image, save_image
    from tryon.preprocess import garment_mask

    mask = garment_mask(load_image(image))
    save_image(out, mask.astype("uint8") * 255)
    click.echo(f"{out}: garment covers {mask.mean():.1%} of the photo")


@train.command("parser")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--steps", default=1500, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", "learning_rate", default=2e-3, show_default=True, type=float)
@click.option(
    "--resolution",
    default=128,
    show_default=True,
    type=click.IntRange(min=32),
    help="Input side (multiple of 32).",
)
@click.option("--encoder", default="resnet18", show_default=True, help="smp encoder name.")
@click.option(
    "--decoder-channels",
    default="128,64,32,16,16",
    show_default=True,
    help="Five comma-separated U-Net decoder widths.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--checkpoint-every", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--max-minutes", type=float, help="Stop with a checkpoint after this wall time.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
def train_parser_command(
    data: str,
    out: str,
    steps: int,
    batch_size: int,
    learning_rate: float,
    resolution: int,
    encoder: str,
    decoder_channels: str,
    seed: int,
    checkpoint_every: int,
    max_minutes: float | None,
    device: str,
) -> None:
    """Train the human parser (U-Net over LIP ids) on DATA's train split; resumable.

    DATA is `tryon data synth` output or a VITON-HD root (image/ + image-parse-v3/).
    Interrupt any time; the same command resumes from the last checkpoint.
    """
    from tryon.errors import InvalidInputError
    from tryon.preprocess.parser_training import ParserTrainOptions, train_parser

    try:
        widths = tuple(int(width) for width in decoder_channels.split(","))
        options = ParserTrainOptions(
            data=data,
            out=out,
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            resolution=resolution,
            encoder=encoder,
            decoder_channels=widths,
            seed=seed,
            checkpoint_every=checkpoint_every,
            max_minutes=max_minutes,
            device=device,
        )
        from tryon.preprocess.parser import ParserConfig

        ParserConfig(encoder, widths, resolution=resolution)  # validate before loading data
    except ValueError as error:
        raise InvalidInputError(str(error)) from error
    model_dir = train_parser(options)
    click.echo(f"parser saved to {model_dir}")


@evaluate.command("parser")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Parser model directory (RUN_DIR/model).",
)
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N photos.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Also write the report JSON.")
def eval_parser_command(
    model_dir: str, data: str, split: str, limit: int | None, out: str | None
) -> None:
    """Upper-garment IoU of the parser and of the keypoint-geometry fallback on DATA's split."""
    import dataclasses
    import json

    from tryon.preprocess.parser import HumanParser
    from tryon.preprocess.parser_eval import evaluate_parser

    report = evaluate_parser(HumanParser.from_pretrained(model_dir), data, split, limit)
    click.echo(
        f"{report.photos} {split} photos: upper-garment IoU parser {report.parser_iou_mean:.3f} "
        f"(pooled {report.parser_iou_pooled:.3f}), keypoint-geometry fallback "
        f"{report.fallback_iou_mean:.3f} (pooled {report.fallback_iou_pooled:.3f}); parser mIoU "
        f"over {len(report.parser_class_iou)} classes {report.parser_mean_class_iou:.3f}; "
        f"parsing {report.parse_seconds_median * 1000:.0f} ms per photo (median)"
    )
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
        click.echo(f"report written to {out}")


@cli.command("parse")
@click.argument("image", type=_IMAGE)
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Parser model directory (RUN_DIR/model of `tryon train parser`).",
)
@click.option("--out", "out", type=_IMAGE, required=True, help="Parse map PNG (LIP palette).")
@click.option("--garment-mask", "mask_out", type=_IMAGE, help="Also write the garment region.")
def parse_command(image: Path, model_dir: str, out: Path, mask_out: Path | None) -> None:
    """Human parsing of IMAGE into LIP ids (a palette PNG as in VITON-HD's image-parse-v3)."""
    from PIL import Image

    from tryon.data.lip import PALETTE
    from tryon.imageio import load_image, save_image
    from tryon.preprocess.parser import HumanParser, garment_region, parse_image

    parse = parse_image(HumanParser.from_pretrained(model_dir), load_image(image))
    picture = Image.fromarray(parse, mode="P")
    picture.putpalette(PALETTE.reshape(-1).tolist())
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out)
    click.echo(f"{out}: {len(set(parse.reshape(-1).tolist()))} LIP labels")
    if mask_out is not None:
        region = garment_region(parse)
        save_image(mask_out, region.astype("uint8") * 255)
        click.echo(f"{mask_out}: upper garment covers {region.mean():.1%} of the photo")


@evaluate.command("preprocess-latency")
@click.option("--photo", "photo_path", type=_IMAGE, help="Photo to time [default: astronaut].")
@click.option(
    "--parser",
    "parser_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Parser model directory to time too.",
)
@click.option("--runs", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Also write the JSON.")
def preprocess_latency_command(
    photo_path: Path | None, parser_dir: str | None, runs: int, out: str | None
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
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2) + "\n")


@evaluate.command("pose")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N photos.")
@click.option("--threshold", default=0.5, show_default=True, type=float)
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Also write the report JSON.")
def eval_pose_command(
    data: str, split: str, limit: int | None, threshold: float, out: str | None
) -> None:
    """BlazePose against DATA's own keypoints: people found and PCK (shoulder-width scale)."""
    import dataclasses
    import json

    from tryon.preprocess import BlazePoseEstimator
    from tryon.preprocess.pose_eval import evaluate_pose

    report = evaluate_pose(BlazePoseEstimator(), data, split, limit, threshold)
    click.echo(
        f"{report.found}/{report.photos} {split} photos with a person found; PCK@{threshold} "
        f"shoulder width {report.pck:.3f}; {report.estimate_seconds_median * 1000:.0f} ms per "
        "photo (median)"
    )
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
