"""The layers of docs/architecture.md, enforced: who may import whom among the packages.

    app.py  ->  tryon  ->  deploy  ->  hpn, flow  ->  core

- ``core`` imports no project package (the registry names model classes as strings);
- ``hpn`` and ``flow`` import ``core`` only (never each other), so either can be deleted or
  replaced without breaking the other;
- ``deploy`` imports ``core``, ``hpn`` and ``flow``, never ``tryon``;
- ``tryon`` imports everything but ``app.py``.

Every ``import`` statement counts, including those inside functions; a string passed to
``importlib.import_module`` counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "hpn", "flow", "deploy", "tryon", "app")
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "hpn": {"core"},
    "flow": {"core"},
    "deploy": {"core", "hpn", "flow"},
    "tryon": {"core", "hpn", "flow", "deploy"},
}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    """(line, top-level project package) of every import in a Python file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                found.add((node.lineno, top))
    return found


def violations(package: str) -> list[str]:
    """``file:line imports X`` for every import the layering forbids in ``package``."""
    allowed = ALLOWED[package] | {package}
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, top in sorted(imported_packages(path)):
            if top not in allowed:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    return problems


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_layers_below_it(package: str) -> None:
    problems = violations(package)
    assert not problems, (
        f"{package}/ may import only {sorted(ALLOWED[package]) or 'no project package'} "
        "(docs/architecture.md):\n" + "\n".join(problems)
    )


def test_the_check_sees_imports_inside_functions_and_import_module(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import os\nimport hpn.model\n\ndef f():\n    from tryon.data import lip\n"
        "    import importlib\n    importlib.import_module('deploy.registry')\n"
    )
    assert imported_packages(source) == {(2, "hpn"), (5, "tryon"), (7, "deploy")}
