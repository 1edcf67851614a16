"""``tryon run``, ``tryon batch``, ``tryon video``, ``tryon demo`` and ``tryon eval tryon``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import click

from core.files import write_json_atomic
from deploy.names import BACKENDS
from tryon.cli import cli, evaluate, models
from tryon.cli.options import check_output_file, check_output_folder, device_option
from tryon.errors import TryOnError

MIN_RESOLUTION, MAX_RESOLUTION = 64, 2048


def _multiple_of_32(context: click.Context, parameter: click.Parameter, value: int) -> int:
    if value % 32:
        lower = max(MIN_RESOLUTION, value // 32 * 32)
        raise click.BadParameter(f"{value} is not a multiple of 32; try {lower}", context)
    return value


def model_options(function: Any) -> Any:
    """The options every command that loads the pipeline shares."""
    options = [
        click.option(
            "--models",
            "models_dir",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=None,
            help="Folder with hpn/, flow/ [, parser/] model directories (default: bundled demo).",
        ),
        click.option("--backend", type=click.Choice(BACKENDS), default="torch", show_default=True),
        device_option("cpu"),
        click.option(
            "--resolution",
            type=click.IntRange(MIN_RESOLUTION, MAX_RESOLUTION),
            default=256,
            show_default=True,
            callback=_multiple_of_32,
            help=f"Frame side of the paper view (a multiple of 32, {MIN_RESOLUTION} to "
            f"{MAX_RESOLUTION}; the own and catalog views keep the photo's resolution).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


VIEW_OPTION = click.option(
    "--view",
    type=click.Choice(["own", "catalog", "paper"]),
    default="own",
    show_default=True,
    help="own: your photo, dressed; catalog: you in the canonical frontal pose, dressed; "
    "paper: the paper's HPN route (the baseline).",
)


def make_pipeline(
    models_dir: Path | None, backend: str, device: str, resolution: int, view: str = "own"
) -> Any:
    """Build the pipeline (picklable by name, so batch workers can build their own)."""
    from tryon.pipeline import PipelineConfig, TryOnPipeline
    from tryon.pipeline.paper_route import PaperRouteConfig

    config = PipelineConfig(view=view, paper=PaperRouteConfig(resolution=resolution))  # type: ignore[arg-type]
    return TryOnPipeline.from_pretrained(models_dir, backend, device, config)


def load_pipeline(
    models_dir: Path | None, backend: str, device: str, resolution: int, view: str = "own"
) -> Any:
    """The pipeline, with deploy's loading errors turned into one-line user errors."""
    from deploy import DeployError

    try:
        return make_pipeline(models_dir, backend, device, resolution, view)
    except (DeployError, ValueError) as error:
        raise TryOnError(str(error)) from error
    except (AttributeError, TypeError, KeyError) as error:  # a manifest of another shape
        raise TryOnError(
            f"{models_dir}: not a models folder this version can load ({type(error).__name__}: "
            f"{error}); check its model_index.json"
        ) from error


def _keypoints(path: Path | None) -> Any:
    from tryon.batch import read_keypoints_file

    return None if path is None else read_keypoints_file(path)


@cli.command("run")
@click.option(
    "--person", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--garment", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--keypoints",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="OpenPose JSON of the person photo (skips the pose estimator).",
)
@click.option("--save-intermediates", is_flag=True, help="Also write OUT_STEM_intermediates/*.png.")
@VIEW_OPTION
@model_options
def run_command(
    person: Path,
    garment: Path,
    out: Path,
    keypoints: Path | None,
    save_intermediates: bool,
    view: str,
    models_dir: Path | None,
    backend: str,
    device: str,
    resolution: int,
) -> None:
    """Dress the person of one photo in the garment of a product photo."""
    from tryon.batch import check_dressed
    from tryon.imageio import SAVE_FORMATS, load_image, save_image
    from tryon.pipeline.pipeline import check_keypoints, check_photo

    # Everything that can be refused is refused before the models load and the work runs.
    check_output_file(out, SAVE_FORMATS, inputs=(person, garment, keypoints))
    if save_intermediates:
        check_output_folder(out.with_name(f"{out.stem}_intermediates"))
    person_image = check_photo(load_image(person), "person")
    garment_image = check_photo(load_image(garment), "garment")
    given = _keypoints(keypoints)
    if given is not None:
        given = check_keypoints(given, person_image.shape[:2], str(keypoints))
    pipeline = load_pipeline(models_dir, backend, device, resolution, view)
    result = pipeline(
        person_image,
        garment_image,
        person_keypoints=given,
        progress=lambda stage: click.echo(f"  {stage}", err=True),
    )
    check_dressed(result, person_image)
    save_image(out, result.image)
    click.echo(f"wrote {out}")
    if save_intermediates:
        folder = out.with_name(f"{out.stem}_intermediates")
        for name, image in result.intermediates().items():
            save_image(folder / f"{name}.png", image)
        click.echo(f"intermediates in {folder}/")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    timings = ", ".join(
        f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in result.timings.items()
    )
    click.echo(f"timings: {timings} (region from {result.region_source})")


def _already_loaded(pipeline: Any) -> Any:
    return pipeline


def run_batch(
    people: Path,
    garments: Path,
    pairs: Path | None,
    out: Path,
    workers: int,
    view: str,
    models_dir: Path | None,
    backend: str,
    device: str,
    resolution: int,
    engine: str = "local",
    address: str | None = None,
    gpus_per_actor: float = 0.0,
    batch_size: int = 4,
    threads: int | None = None,
) -> None:
    """Plan, run (resuming), summarise and write the contact sheets of one batch.

    Raises:
        TryOnError: bad options or inputs, another batch writing ``out``, or (after the
            summary and the contact sheets) any pair that failed in this run.
    """
    from tryon.batch import batch_lock, plan_pairs, run_local

    if engine == "local" and (address or gpus_per_actor):
        raise TryOnError("--address and --gpus-per-actor need --engine ray")
    check_output_folder(out)
    with batch_lock(out):  # one batch at a time in a folder; its options, manifest and sheets
        skipped: list[str] = []
        plan = plan_pairs(people, garments, pairs, skipped)
        for line in skipped:
            click.echo(f"warning: skipped {line}", err=True)
        pipeline = load_pipeline(models_dir, backend, device, resolution, view)  # fails fast
        if workers == 1 and engine == "local":
            build = functools.partial(_already_loaded, pipeline)
        else:  # each worker process / Ray actor loads its own (the partial is pickled to it)
            build = functools.partial(make_pipeline, models_dir, backend, device, resolution, view)
        options = {
            "people": str(people),
            "garments": str(garments),
            "pairs": str(pairs) if pairs else None,
            "models": str(models_dir) if models_dir else "bundled",
            "backend": backend,
            "device": device,
            "resolution": resolution,
            "view": view,
        }
        write_json_atomic(out / "options.json", options)
        if engine == "ray":
            from tryon.batch_ray import RayOptions, run_ray

            ray_options = RayOptions(address, workers, gpus_per_actor, batch_size, threads or 1)
            summary = run_ray(plan, out, build, ray_options)
        else:
            summary = run_local(plan, out, build, workers, threads=threads)
        for failure in summary.failures[:MAX_LISTED_FAILURES]:
            click.echo(f"failed: {failure}", err=True)
        if len(summary.failures) > MAX_LISTED_FAILURES:
            more = len(summary.failures) - MAX_LISTED_FAILURES
            click.echo(f"failed: ... and {more} more", err=True)
        click.echo(summary.describe())
        click.echo(f"manifest: {out / 'manifest.jsonl'}")
        _contact_sheets(out)
    if summary.failed:
        raise TryOnError(
            f"{summary.failed} of {summary.planned} pairs failed (listed above and in "
            f"{out / 'index.html'}); fix them and run the same command again"
        )


MAX_LISTED_FAILURES = 20


def _contact_sheets(out: Path) -> None:
    """Write the contact sheets; a failure there (a full disk) is a warning: the results and
    the manifest are what the batch is for."""
    from tryon.contact_sheet import write_contact_sheets

    try:
        index = write_contact_sheets(out)
    except (OSError, TryOnError) as error:
        click.echo(f"warning: the contact sheets could not be written ({error})", err=True)
        return
    click.echo(f"contact sheets: {index} (PNG per garment in {index.parent / 'contact_sheets'}/)")


@cli.command("batch")
@click.option(
    "--people", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--garments", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Text file of 'person_file garment_file' lines (default: every pair).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@VIEW_OPTION
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: a process pool; ray: Ray Data actors (--workers of them).",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster to join (e.g. auto or ray://head:10001); default: a local Ray.",
)
@click.option(
    "--gpus-per-actor",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Ray: GPUs per actor (0.5 puts two actors on a GPU); use with --device cuda.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Ray: pairs per actor call.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads per worker (torch and OpenCV). Default: local workers share the cores "
    "evenly (1 worker: torch's default); Ray: 1 CPU per actor.",
)
@model_options
def batch_command(**options: Any) -> None:
    """Try every garment on every person (or the pairs of a file); re-run to resume.

    A person photo's OpenPose keypoints may sit next to it as <stem>_keypoints.json.
    """
    run_batch(**options)


@cli.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outputs/demo/tryon"),
    show_default=True,
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
def demo_command(out: Path, workers: int) -> None:
    """Batch try-on of the bundled demo catalog with the bundled demo models."""
    catalog = Path(__file__).resolve().parent.parent / "demo" / "catalog"
    run_batch(
        catalog / "people",
        catalog / "garments",
        None,
        out,
        workers,
        "own",
        None,
        "torch",
        "cpu",
        256,
    )


@cli.command("video")
@click.option(
    "--person", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--driving",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='A driving video, or a JSONL of poses (one {"keypoints": [[x, y], ...]} per line).',
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--garment", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keypoints",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="OpenPose JSON of the person photo.",
)
@click.option(
    "--fps", type=click.FloatRange(min=0, min_open=True), default=25.0, show_default=True,
    help="Frame rate of a JSONL.",
)  # fmt: skip
@click.option(
    "--min-cutoff", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
    help="One-Euro, Hz.",
)  # fmt: skip
@click.option(
    "--beta", type=click.FloatRange(min=0), default=0.01, show_default=True,
    help="One-Euro speed gain.",
)  # fmt: skip
@model_options
def video_command(
    person: Path,
    driving: Path,
    out: Path,
    garment: Path | None,
    keypoints: Path | None,
    fps: float,
    min_cutoff: float,
    beta: float,
    models_dir: Path | None,
    backend: str,
    device: str,
    resolution: int,
) -> None:
    """Render the person (optionally dressed in GARMENT) in every pose of a driving sequence."""
    from tryon.imageio import load_image
    from tryon.video import OneEuroConfig, poses_from_jsonl, poses_from_video, render_video

    check_output_file(out, inputs=(person, driving, garment, keypoints))
    pipeline = load_pipeline(models_dir, backend, device, resolution)
    if driving.suffix.lower() == ".jsonl":
        sequence = poses_from_jsonl(driving, fps)
    else:
        sequence = poses_from_video(driving, pipeline.pose_estimator)
    summary = render_video(
        pipeline,
        load_image(person),
        sequence,
        out,
        garment=load_image(garment) if garment else None,
        person_keypoints=_keypoints(keypoints),
        smoothing=OneEuroConfig(min_cutoff=min_cutoff, beta=beta),
    )
    click.echo(
        f"wrote {summary.path}: {summary.frames} frames at {summary.fps:g} fps, "
        f"{summary.size[1]}x{summary.size[0]}"
    )


@evaluate.command("tryon")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A synth root (or its viton/ layout) with test_unpaired_pairs.txt and tryon-gt.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the scores here.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N pairs only.")
@model_options
def eval_tryon_command(
    data: Path,
    json_out: Path | None,
    limit: int | None,
    models_dir: Path | None,
    backend: str,
    device: str,
    resolution: int,
) -> None:
    """SSIM / local-SSIM of try-on outputs vs the synthetic ground truth, with baselines."""
    from tryon.pipeline.evaluation import evaluate_tryon

    pipeline = load_pipeline(models_dir, backend, device, resolution)
    report = evaluate_tryon(pipeline, data, limit)
    report["models"] = str(models_dir) if models_dir else "bundled"
    report["backend"] = backend
    if json_out is not None:
        write_json_atomic(json_out, report)
    click.echo(json.dumps(report, indent=2))


@models.command("ship")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
def ship_command(source: Path, destination: Path) -> None:
    """Copy a trained model directory as fp16 (how the bundled demo models are made)."""
    from tryon.shipping import ship_model

    written = ship_model(source, destination)
    size = sum(file.stat().st_size for file in written.iterdir() if file.is_file())
    click.echo(f"wrote {written} ({size / 2**20:.1f} MB)")
