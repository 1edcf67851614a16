"""Options shared by the commands: one spelling, one range check and one help text each.

Every command that trains takes the loop's options through :func:`training_options` (the same
flags for hpn, flow and the parser, with per-network defaults), and every command that runs a
model takes ``--device`` through :func:`device_option` (``auto`` everywhere). Values are checked
by click types, so a bad value is a usage error before anything loads.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

import click

from tryon.errors import InvalidInputError

# The loop's options (core.training.loop.LoopOptions) as the CLI spells them.
LOOP_FIELDS = (
    "seed",
    "learning_rate",
    "lr_schedule",
    "checkpoint_every",
    "keep_checkpoints",
    "sample_every",
    "max_minutes",
    "amp",
)


class DeviceType(click.ParamType):
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (availability is checked when a model loads)."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        kind, _, index = text.partition(":")
        if text in ("auto", "cpu", "cuda") or (kind == "cuda" and index.isdigit()):
            return text
        self.fail(f"{text!r} is not a device; use auto, cpu, cuda or cuda:N", param, ctx)


def _apply(function: Callable[..., Any], options: list[Callable[..., Any]]) -> Callable[..., Any]:
    for option in reversed(options):
        function = option(function)
    return function


def device_option(default: str = "auto") -> Callable[..., Any]:
    """``--device``: where models run (``auto``: the first CUDA GPU when there is one)."""
    return click.option(
        "--device",
        type=DeviceType(),
        default=default,
        show_default=True,
        help="auto, cpu, cuda or cuda:N.",
    )


def data_option(help: str) -> Callable[..., Any]:
    """``--data``: an existing data-set folder."""
    return click.option(
        "--data",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
        help=help,
    )


def run_dir_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--out``: the run directory of a training (rerun the command to resume it)."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help="Run directory (rerun the same command to resume).",
    )(function)


def training_options(
    learning_rate: float,
    lr_schedule: str = "constant",
    checkpoint_every: int = 500,
    sample_every: int = 500,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The one training loop's options, with a network's defaults (see LoopOptions)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _apply(
            function,
            [
                click.option(
                    "--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True
                ),
                click.option(
                    "--learning-rate",
                    type=click.FloatRange(min=0, min_open=True),
                    default=learning_rate,
                    show_default=True,
                    help="Peak learning rate.",
                ),
                click.option(
                    "--lr-schedule",
                    type=click.Choice(["constant", "cosine"]),
                    default=lr_schedule,
                    show_default=True,
                    help="cosine: from --learning-rate down to 0 over the run.",
                ),
                click.option(
                    "--checkpoint-every",
                    type=click.IntRange(min=1),
                    default=checkpoint_every,
                    show_default=True,
                ),
                click.option(
                    "--keep-checkpoints", type=click.IntRange(min=1), default=2, show_default=True
                ),
                click.option(
                    "--sample-every",
                    type=click.IntRange(min=0),
                    default=sample_every,
                    show_default=True,
                    help="Steps between sample grids (0 = never).",
                ),
                click.option(
                    "--max-minutes",
                    type=click.FloatRange(min=0),
                    default=None,
                    help="Stop with a checkpoint after this wall time; rerun to continue.",
                ),
                click.option(
                    "--amp/--no-amp",
                    default=True,
                    show_default=True,
                    help="fp16 autocast with loss scaling on CUDA (CPU stays float32).",
                ),
                device_option("auto"),
                click.option(
                    "--num-workers",
                    type=click.IntRange(min=0),
                    default=0,
                    show_default=True,
                    help="DataLoader worker processes.",
                ),
                click.option(
                    "--dry-run",
                    is_flag=True,
                    help="Validate and print the resolved options and the schedule; write nothing.",
                ),
            ],
        )

    return decorate


def pop_loop_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the loop's fields out of a command's keyword arguments (LoopOptions kwargs)."""
    return {name: options.pop(name) for name in LOOP_FIELDS}


def model_dir_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--model``: a model directory, or a run directory (its ``final/`` is taken)."""
    return click.option(
        "--model",
        "model_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
        help="A model directory (a run's final/, levels/N or checkpoint), or a run directory.",
    )(function)


def train_from_options(
    task: Any,
    dataset: Any,
    options: dict[str, Any],
    data: Path,
    backbone: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    sync_batchnorm: bool = False,
) -> None:
    """Run a network's task on the one loop with the command's run options (see
    :func:`training_options`), as one rank when started under ``torchrun``."""
    from core.training.distributed import init_from_env
    from core.training.loop import Trainer

    context = init_from_env()
    try:
        trainer = Trainer(
            task, dataset, options["out"], data=data.resolve(), backbone=backbone, extra=extra,
            device=options["device"], num_workers=options["num_workers"], distributed=context,
            sync_batchnorm=sync_batchnorm,
        )  # fmt: skip
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    run_training(trainer, options["dry_run"], context)


def run_training(trainer: Any, dry_run: bool, context: Any) -> None:
    """Run a :class:`core.training.loop.Trainer` (or print its plan) and say what came of it."""
    from core.training.distributed import process_group

    if dry_run:
        click.echo(json.dumps(trainer.options_record(), indent=2, sort_keys=True))
        for line in trainer.plan():
            click.echo(line)
        click.echo(f"dry run: nothing written to {trainer.run_dir}")
        return
    with process_group(context):
        result = trainer.train()
    if not context.is_main:
        return
    if result.finished:
        click.echo(f"finished: {result.final_dir}")
    else:
        click.echo(
            f"stopped at step {result.step} of {trainer.total_steps} (--max-minutes); run the "
            "same command again to continue"
        )


def eval_output_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` (scores file) and ``--limit`` of the evaluation commands."""
    return _apply(
        function,
        [
            click.option(
                "--json",
                "json_path",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Write the scores here (JSON).",
            ),
            click.option(
                "--limit", type=click.IntRange(min=1), help="Score only the first N test items."
            ),
        ],
    )


def write_scores(path: Path | None, scores: dict[str, Any]) -> None:
    """Write an evaluation's scores as JSON, atomically (nothing when ``path`` is None)."""
    if path is not None:
        from core.files import write_json_atomic

        write_json_atomic(path, scores)


def check_output_folder(folder: Path) -> Path:
    """Make sure files can be written into ``folder`` before any work: create it and probe it.

    Raises:
        InvalidInputError: a file stands where the folder (or one above it) should be, or the
            folder cannot be created or written (read-only, no permission, no space).
    """
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InvalidInputError(f"{folder} cannot be written: {ancestor} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-probe."):
            pass
    except OSError as error:
        raise InvalidInputError(
            f"{folder} is not a folder this program can write into "
            f"({error.strerror or error}); choose another output"
        ) from error
    return folder


def check_output_file(
    path: Path,
    suffixes: Collection[str] | None = None,
    inputs: Iterable[Path | None] = (),
) -> Path:
    """Refuse, before any work, an output that could not be written or would destroy an input.

    Args:
        path: the file the command will write.
        suffixes: the suffixes it may have (lower case, with the dot); None: any.
        inputs: the command's input files; the output must be none of them (same file,
            also through a link).

    Raises:
        InvalidInputError: a wrong or missing suffix, an existing folder, one of the inputs,
            or a folder that cannot be written (see :func:`check_output_folder`).
    """
    if suffixes is not None and path.suffix.lower() not in suffixes:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise InvalidInputError(
            f"{path}: cannot write this kind of file ({found}); end the name with one of "
            f"{', '.join(sorted(suffixes))}"
        )
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; give the file name to write")
    if path.exists():
        for source in inputs:
            if source is not None and Path(source).exists() and os.path.samefile(path, source):
                raise InvalidInputError(
                    f"{path} is also an input ({source}); writing there would overwrite it. "
                    "Choose another output file"
                )
    check_output_folder(path.parent)
    return path
