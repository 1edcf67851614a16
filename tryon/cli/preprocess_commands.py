"""Preprocessing commands: `tryon pose`, `tryon garment-mask`, `tryon parse`, parser train/eval."""

from __future__ import annotations

from pathlib import Path

import click

from tryon.cli import cli

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
    present = int((~(result.keypoints != result.keypoints).any(axis=1)).sum())
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
