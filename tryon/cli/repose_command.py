"""``tryon repose``: pose transfer as a command (the paper's own application).

The person of a photo is moved, by moving their own pixels (:func:`hpn.repose.repose`;
with ``--refine``, corrected by the models folder's warp-and-refine HPN), into their
canonical frontal pose or into the pose of an OpenPose JSON file, on the studio backdrop.
``--roundtrip`` also moves that result back to the photo's own pose, from the result alone,
at the photo's size: what DATA.md's round-trip measures score.
"""

from __future__ import annotations

from pathlib import Path

import click

from tryon.cli import cli
from tryon.cli.options import device_option
from tryon.errors import TryOnError


@cli.command("repose")
@click.option(
    "--person", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--to",
    "target",
    default="canonical",
    show_default=True,
    help="'canonical', or an OpenPose JSON of the target pose (pixels of the output).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--size",
    help="WIDTHxHEIGHT of the output for a JSON target [default: the photo's size].",
)
@click.option(
    "--keypoints",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="OpenPose JSON of the photo (skips the pose estimator; the mask comes from selfie "
    "segmentation).",
)
@click.option("--keypoints-out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--roundtrip",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the result moved back to the photo's pose (from the result alone).",
)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Models folder [default: bundled].",
)
@click.option(
    "--refine/--no-refine",
    default=False,
    show_default=True,
    help="Correct the part warp with the models folder's warp-and-refine HPN (trained on "
    "renders: better on them, worse on real photos; docs/hpn.md).",
)
@device_option("cpu")
def repose_command(
    person: Path, target: str, out: Path, size: str | None, keypoints: Path | None,
    keypoints_out: Path | None, roundtrip: Path | None, models_dir: Path | None,
    refine: bool, device: str,
) -> None:  # fmt: skip
    """Move the person of a photo into another pose (canonical by default)."""
    import numpy as np

    from hpn.repose import repose
    from tryon.data.keypoint_formats import write_openpose_json
    from tryon.imageio import load_image, save_image
    from tryon.pipeline import PipelineConfig, TryOnPipeline
    from tryon.preprocess import PrecomputedPoseEstimator

    for path in (out, roundtrip, keypoints_out):
        if path is not None and path.resolve() == person.resolve():
            raise TryOnError(f"{path} is the input photo: choose another output")
    pipeline = TryOnPipeline.from_pretrained(
        models_dir, device=device, config=PipelineConfig(refine=refine)
    )
    if refine and pipeline.refiner is None:
        raise TryOnError("--refine needs a models folder with hpn_refine/ (see docs/models.md)")
    photo = load_image(person)
    given = None
    if keypoints is not None:
        people = PrecomputedPoseEstimator.from_openpose_json(keypoints).people
        if not people:
            raise TryOnError(f"{keypoints} lists no person")
        given = people[0]
    points, mask = pipeline.person_pose(photo, given)
    if target == "canonical":
        result = pipeline.canonical_view(photo, points, mask)
    else:
        target_path = Path(target)
        if not target_path.is_file():
            raise TryOnError(f"--to must be 'canonical' or an OpenPose JSON file, got {target!r}")
        poses = PrecomputedPoseEstimator.from_openpose_json(target_path).people
        if not poses:
            raise TryOnError(f"{target_path} lists no person")
        height, width = photo.shape[:2]
        if size is not None:
            try:
                width, height = (int(value) for value in size.lower().split("x"))
            except ValueError:
                raise TryOnError(f"--size must be WIDTHxHEIGHT, got {size!r}") from None
        result = repose(
            photo, points, mask, np.asarray(poses[0], np.float32), (height, width),
            refiner=pipeline.canonical_refiner,
        )  # fmt: skip
    save_image(out, result.image)
    click.echo(f"wrote {out} ({result.image.shape[1]}x{result.image.shape[0]})")
    if keypoints_out is not None:
        write_openpose_json(keypoints_out, result.keypoints)
        click.echo(f"wrote {keypoints_out}")
    if roundtrip is not None:
        back = repose(
            result.image, result.keypoints, result.person_mask, points, photo.shape[:2],
            result.labels, fitted_from="target", refiner=pipeline.canonical_refiner,
        )  # fmt: skip
        save_image(roundtrip, back.image)
        click.echo(f"wrote {roundtrip} (the result moved back to the photo's pose)")
