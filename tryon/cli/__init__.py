"""The ``tryon`` command line: a root group with one group per noun.

Each command module in this package registers its commands on the groups defined here
(``data``, ``train``, ``eval``, ``models``, ...); :func:`main` imports them all. Heavy
imports stay inside command functions so ``tryon --help`` is instant.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from core.errors import CoreError
from tryon.errors import TryOnError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hpn-tryon")
def cli() -> None:
    """hpn-tryon: garment virtual try-on with the High-Resolution Pose Transfer Network."""


@cli.group()
def data() -> None:
    """Make, check and preview data sets (synthetic, DeepFashion, VITON-HD layouts)."""


@cli.group()
def train() -> None:
    """Train a network (hpn, flow, parser) into a run directory."""


@cli.group(name="eval")
def evaluate() -> None:
    """Evaluate a trained network on a data set's test split."""


@cli.group()
def models() -> None:
    """Fetch and list model assets (pose estimator, perceptual backbone) and shipped models."""


def _register_commands() -> None:
    """Import every command module of this package so they attach to the groups above."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def _one_line(error: Exception) -> str:
    """An error's message on one line; an OSError as ``x.png: No space left on device``."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    text = error.format_message() if isinstance(error, click.ClickException) else str(error)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _interrupted() -> None:
    click.echo("interrupted; finished work is kept, run the same command again to resume", err=True)
    sys.exit(130)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes end as one line on stderr and exit status 1, no traceback."""
    _register_commands()
    try:
        status = cli.main(args=argv, prog_name="tryon", standalone_mode=False)
    except click.exceptions.Abort as error:  # click turns Ctrl-C into Abort
        if isinstance(error.__cause__, KeyboardInterrupt):
            _interrupted()
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as error:  # one line too, with where to read the usage
        command = error.ctx.command_path if error.ctx is not None else "tryon"
        click.echo(f"error: {_one_line(error)} (see '{command} --help')", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        click.echo(f"error: {_one_line(error)}", err=True)
        sys.exit(error.exit_code)
    # User-fixable failures, and OSErrors (a missing file, no permission, a full disk).
    except (TryOnError, CoreError, OSError) as error:
        click.echo(f"error: {_one_line(error)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    if isinstance(status, int) and status != 0:
        sys.exit(status)
