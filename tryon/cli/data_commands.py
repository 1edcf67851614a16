"""``tryon data synth | check | preview``: make, validate and look at data sets."""

from __future__ import annotations

import os

import click

from tryon.cli import data


@data.command("synth")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Data-set root to write (or resume).",
)
@click.option(
    "--identities",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="People, each with one outfit.",
)
@click.option(
    "--poses",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Posed photos per identity (plus one frontal).",
)
@click.option(
    "--size",
    default=256,
    show_default=True,
    type=click.IntRange(64, 1024),
    help="Image side in pixels (square).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Global seed; identity i uses (seed, i).",
)
@click.option(
    "--style",
    default="flat",
    show_default=True,
    type=click.Choice(["flat", "photo"]),
    help="flat: plain backdrops and flat colours; photo: photographic backdrops, light, "
    "noise, blur, JPEG, shoppers' framings, occluders and garment folds (docs/data.md).",
)
@click.option(
    "--target-backdrop",
    default="scene",
    show_default=True,
    type=click.Choice(["scene", "studio"]),
    help="studio: also render every person photo on the canonical view's studio backdrop "
    "(deepfashion/studio/<split>/), the targets of `tryon train hpn-refine --studio`.",
)
@click.option(
    "--workers", default=None, type=click.IntRange(min=1), help="Processes [default: CPU count]."
)
def synth_command(
    out: str, identities: int, poses: int, size: int, seed: int, style: str,
    target_backdrop: str, workers: int | None,
) -> None:  # fmt: skip
    """Render a synthetic fashion data set in the DeepFashion and VITON-HD layouts.

    Interrupt any time; running the same command again resumes where it stopped.
    """
    from tryon.data.synthetic import SynthSettings, synthesize

    settings = SynthSettings(
        identities=identities, poses=poses, size=size, seed=seed, style=style,
        target_backdrop=target_backdrop,
    )  # fmt: skip
    result = synthesize(out, settings, workers=workers or os.cpu_count() or 1)
    for split, numbers in result.counts.items():
        line = (
            f"{split}: {numbers['identities']} identities, {numbers['images']} person images, "
            f"{numbers['deepfashion_pairs']} pose pairs"
        )
        if split == "test":
            line += f", {numbers['unpaired_pairs']} unpaired try-on pairs with ground truth"
        click.echo(line)
    if result.rendered_images:
        click.echo(
            f"rendered {result.rendered_images} person images (plus product photos and try-on "
            f"truth) in {result.seconds:.1f} s: {result.images_per_second:.1f} images/s, "
            f"{result.images_per_cpu_second:.1f} images per CPU-second"
        )
    click.echo(f"written to {out} (deepfashion/ and viton/ layouts, synthetic.json)")


@data.command("check")
@click.argument("directory", type=click.Path())
@click.option(
    "--max-problems",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Problems to list.",
)
@click.pass_context
def check_command(ctx: click.Context, directory: str, max_problems: int) -> None:
    """Validate a data set (DeepFashion or VITON-HD layout, or a synth root with both).

    Exits with status 1 when a problem is found.
    """
    from tryon.data.check import check_dataset

    report = check_dataset(directory, progress=True)
    for line in report.summary:
        click.echo(line)
    if report.valid:
        click.echo(f"{directory}: valid")
        return
    for problem in report.problems[:max_problems]:
        click.echo(f"problem: {problem}", err=True)
    hidden = len(report.problems) - max_problems
    if hidden > 0:
        click.echo(f"... and {hidden} more problems", err=True)
    click.echo(f"{directory}: INVALID ({len(report.problems)} problems)", err=True)
    ctx.exit(1)


@data.command("preview")
@click.argument("directory", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--count", default=8, show_default=True, type=click.IntRange(min=1), help="Samples.")
@click.option(
    "--tile", default=192, show_default=True, type=click.IntRange(16, 1024), help="Tile side."
)
def preview_command(directory: str, out: str, count: int, tile: int) -> None:
    """Draw a contact sheet: photos with skeletons, parse overlays and garments."""
    from tryon.data.preview import contact_sheet
    from tryon.imageio import save_image

    save_image(out, contact_sheet(directory, count=count, tile=tile))
    click.echo(f"contact sheet of {count} samples written to {out}")
