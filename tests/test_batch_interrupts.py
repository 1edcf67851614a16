"""Issue 15, item 7: ``tryon batch`` interrupted (SIGINT, SIGKILL) with 1 and 2 workers, then
resumed: every pair made exactly once, no worker outliving the batch, no temporary left.

These run the real command in a subprocess (a signal to a real process is the point); the
resume runs in this process. Marked slow: about a minute on two busy cores.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tryon_samples import batch_arguments, make_catalog

from tryon.batch import MANIFEST_FILE
from tryon.cli import main

pytestmark = pytest.mark.slow
PAIRS = 16


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_catalog(tmp_path_factory.mktemp("catalog"), people=8, garments=2, size=160)


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (the batch and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone, a zombie, or not ours to read
            continue
    return found


def wait_for(condition, seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def outputs(out: Path) -> dict[str, int]:
    """Every file under ``out/results`` (temporaries too) and its modification time."""
    found = {}
    for path in (out / "results").rglob("*"):
        try:
            found[str(path)] = path.stat().st_mtime_ns
        except FileNotFoundError:  # a temporary renamed meanwhile
            continue
    return found


def records(out: Path) -> list[dict]:
    path = out / MANIFEST_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupt_then_resume_makes_every_pair_once(
    catalog, tmp_path, capsys, workers, signum
) -> None:
    out = tmp_path / "out"
    marker = f"HPN_TRYON_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    environment = {**os.environ, name: value, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "tryon",
        *batch_arguments(catalog, out, "--workers", str(workers)),
    ]
    # Output to files, not pipes: the workers inherit them, and waiting for a pipe to close
    # would wait for the last worker, hiding one that outlives the batch.
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        batch = subprocess.Popen(
            command, env=environ_with_path(environment), stdout=subprocess.DEVNULL,
            stderr=stderr, preexec_fn=_default_sigint,
        )  # fmt: skip
    try:
        assert wait_for(lambda: len(records(out)) >= 1 or batch.poll() is not None, 240)
        assert batch.poll() is None, "the batch finished before it could be interrupted"
        batch.send_signal(signum)
        batch.wait(timeout=60)
    finally:
        if batch.poll() is None:
            batch.kill()
    error = log.read_text()
    if signum == signal.SIGINT:
        assert batch.returncode == 130, error
        assert "Traceback" not in error and error.strip().splitlines()[-1].startswith("interrupted")
    else:
        assert batch.returncode == -signal.SIGKILL
    # The kernel ends the workers with the batch: none is left, and none writes any more.
    assert wait_for(lambda: not marked_processes(marker), 1.0), "a worker outlived the batch"
    written = outputs(out)
    time.sleep(1.5)
    assert outputs(out) == written, "a worker wrote results after the batch was gone"
    made_before = len(records(out))
    assert 1 <= made_before < PAIRS

    main(batch_arguments(catalog, out))  # resume in this process
    assert f"{PAIRS} pairs: {made_before} already done, {PAIRS - made_before} made" in (
        capsys.readouterr().out
    )
    statuses = collections.Counter((line["key"], line["status"]) for line in records(out))
    assert all(status == "ok" for _, status in statuses), statuses
    assert len(statuses) == PAIRS and set(statuses.values()) == {1}, "a pair was made twice"
    assert len(list((out / "results").rglob("*.png"))) == PAIRS
    assert not list(out.rglob(".*partial*")), "a temporary file was left behind"


def _default_sigint() -> None:
    """Give the batch Ctrl-C's default handling even when pytest itself ignores SIGINT (a
    shell starts background jobs that way, and ignored signals are inherited): Python then
    raises KeyboardInterrupt, which is what the test interrupts with."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def environ_with_path(environment: dict[str, str]) -> dict[str, str]:
    """Let ``python -m tryon`` import the project and the tests' helpers from a checkout."""
    root = str(Path(__file__).resolve().parents[1])
    paths = [root, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    return {**environment, "PYTHONPATH": os.pathsep.join(paths)}
