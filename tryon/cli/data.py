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
    "--seed", default=0, show_default=True, type=int, help="Global seed; identity i uses (seed, i)."
)
@click.option(
    "--workers", default=None, type=click.IntRange(min=1), help="Processes [default: CPU count]."
)
def synth_command(
    out: str, identities: int, poses: int, size: int, seed: int, workers: int | None
) -> None:
    """Render a synthetic fashion data set in the DeepFashion and VITON-HD layouts.

    Interrupt any time; running the same command again resumes where it stopped.
    """
    from tryon.data.synthetic import SynthSettings, synthesize

    settings = SynthSettings(identities=identities, poses=poses, size=size, seed=seed)
    counts = synthesize(out, settings, workers=workers or os.cpu_count() or 1)
    for split, numbers in counts.items():
        click.echo(
            f"{split}: {numbers['identities']} identities, {numbers['images']} person images, "
            f"{numbers['deepfashion_pairs']} pose pairs, "
            f"{numbers['unpaired_pairs']} unpaired try-on pairs"
        )
    click.echo(f"written to {out} (deepfashion/ and viton/ layouts, synthetic.json)")
