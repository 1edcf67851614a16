"""``tryon app``: start the Streamlit storefront (``app.py``) with the project's settings."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path

import click

from tryon.cli import cli
from tryon.errors import TryOnError


def find_app_script() -> Path:
    """``app.py`` of the repository this package runs from, else of the current folder.

    The storefront is a script beside the packages, not package data: an editable install
    (``make install``) finds it next to ``tryon/``; elsewhere run from a clone's root.

    Raises:
        TryOnError: neither place holds ``app.py``.
    """
    beside_package = Path(__file__).resolve().parents[2] / "app.py"
    in_cwd = Path.cwd() / "app.py"
    for candidate in (beside_package, in_cwd):
        if candidate.is_file():
            return candidate
    raise TryOnError(
        f"app.py not found ({beside_package} nor {in_cwd}); run `tryon app` from a clone of "
        "the hpn-tryon repository"
    )


def streamlit_command(app: Path, port: int, address: str, headless: bool) -> list[str]:
    """The ``streamlit run`` command line for ``app``; usage statistics always off."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
    ]


@cli.command("app")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--address", default="localhost", show_default=True, help="Interface to serve on.")
@click.option(
    "--catalog",
    type=click.Path(file_okay=False, path_type=Path),
    help="Catalog folder (garments/ and people/); default $TRYON_CATALOG, else the demo.",
)
@click.option(
    "--models",
    type=click.Path(file_okay=False, path_type=Path),
    help="Models folder for the pipeline; default $TRYON_MODELS, else the bundled demo models.",
)
@click.option("--headless", is_flag=True, help="Do not open a browser window.")
@click.option("--dry-run", is_flag=True, help="Print the command and environment; start nothing.")
def app_command(
    port: int,
    address: str,
    catalog: Path | None,
    models: Path | None,
    headless: bool,
    dry_run: bool,
) -> None:
    """Start the storefront: upload or pick a photo, pick garments, see them on you."""
    from tryon import storefront

    if importlib.util.find_spec("streamlit") is None:
        raise TryOnError("the storefront needs Streamlit: pip install -e '.[app]'")
    environment = dict(os.environ)
    if catalog is not None:
        environment[storefront.CATALOG_ENV] = str(catalog.resolve())
    if models is not None:
        if not models.is_dir():
            raise TryOnError(f"models folder {models} does not exist")
        environment[storefront.MODELS_ENV] = str(models.resolve())
    storefront.load_catalog(storefront.resolve_catalog_dir(environment))  # fail here, not in UI
    app = find_app_script()
    command = streamlit_command(app, port, address, headless)
    if dry_run:
        for name in (storefront.CATALOG_ENV, storefront.MODELS_ENV):
            if name in environment:
                click.echo(f"{name}={environment[name]}")
        click.echo(f"cd {shlex.quote(str(app.parent))} && {shlex.join(command)}")
        return
    os.chdir(app.parent)  # Streamlit reads .streamlit/config.toml from the working folder
    os.execve(sys.executable, command, environment)
