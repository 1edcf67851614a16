"""Ray engine: same outputs and manifest as the local engine, resume, one local Ray."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from tryon_samples import (
    make_tiny_models,
    synthetic_garment,
    synthetic_person,
    write_openpose_json,
)

from tryon.batch import MANIFEST_FILE, Manifest, Pair, plan_pairs, run_local
from tryon.batch_ray import RayOptions, run_ray
from tryon.imageio import load_image, save_image
from tryon.pipeline import TryOnPipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Two people (with keypoint files), two garments and tiny models."""
    root = tmp_path_factory.mktemp("catalog")
    people, garments = root / "people", root / "garments"
    for index in range(2):
        image, keypoints = synthetic_person(seed=30 + index, size=96)
        save_image(people / f"person{index}.png", image)
        write_openpose_json(people / f"person{index}_keypoints.json", keypoints)
        save_image(garments / f"garment{index}.png", synthetic_garment(seed=40 + index, size=96))
    return people, garments, make_tiny_models(root / "models")


@pytest.fixture(scope="module")
def local_ray():
    """One local 2-CPU Ray for the module (starting Ray costs seconds)."""
    ray = pytest.importorskip("ray")
    import logging

    ray.init(
        num_cpus=2,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    yield
    ray.shutdown()


def _statuses(out: Path) -> dict[str, str]:
    return {key: record.status for key, record in Manifest(out / MANIFEST_FILE).records.items()}


def test_ray_matches_local_and_resumes(catalog, tmp_path, local_ray) -> None:
    people, garments, models = catalog
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    plan = [*plan_pairs(people, garments), Pair(broken, plan_pairs(people, garments)[0].garment)]
    make = functools.partial(TryOnPipeline.from_pretrained, models)
    options = RayOptions(workers=2, batch_size=1)

    local = run_local(plan, tmp_path / "local", make, 1, False)
    # "Interrupted" Ray run: only the first two pairs, then the full plan resumes it.
    first = run_ray(plan[:2], tmp_path / "ray", make, options, show_progress=False)
    assert (first.ok, first.failed) == (2, 0)
    done = {p.key: (tmp_path / "ray" / p.output).stat().st_mtime_ns for p in plan[:2]}
    rest = run_ray(plan, tmp_path / "ray", make, options, show_progress=False)
    assert (rest.already_done, rest.ok, rest.failed) == (2, 2, 1)
    assert (local.ok, local.failed) == (4, 1)
    for pair in plan[:2]:  # finished pairs are not redone
        assert (tmp_path / "ray" / pair.output).stat().st_mtime_ns == done[pair.key]

    assert _statuses(tmp_path / "ray") == _statuses(tmp_path / "local")
    workers = {r.worker for r in Manifest(tmp_path / "ray" / MANIFEST_FILE).records.values()}
    assert len(workers) >= 2, "two actors should have shared the pairs"
    for pair in plan[:4]:  # the pipeline is deterministic on CPU: bit-identical PNGs
        ray_image = load_image(tmp_path / "ray" / pair.output)
        np.testing.assert_array_equal(ray_image, load_image(tmp_path / "local" / pair.output))
    assert not list((tmp_path / "ray").rglob("*.tmp*"))

    again = run_ray(plan, tmp_path / "ray", make, options, show_progress=False)
    assert (again.already_done, again.ok, again.failed) == (4, 0, 1)  # errors are retried


def test_actor_that_cannot_load_models_records_errors(catalog, tmp_path, local_ray) -> None:
    people, garments, _ = catalog
    plan = plan_pairs(people, garments)[:2]
    missing = functools.partial(TryOnPipeline.from_pretrained, tmp_path / "no-models")
    summary = run_ray(plan, tmp_path / "out", missing, RayOptions(workers=1), show_progress=False)
    assert (summary.ok, summary.failed) == (0, 2)
    records = Manifest(tmp_path / "out" / MANIFEST_FILE).records.values()
    assert all("could not load the pipeline" in record.error for record in records)


def test_cli_refuses_ray_options_for_the_local_engine(catalog, tmp_path) -> None:
    from click.testing import CliRunner

    from tryon.cli import (
        cli,
        run_commands,  # noqa: F401  (registers `tryon batch`)
    )

    people, garments, _ = catalog
    arguments = ["--people", str(people), "--garments", str(garments), "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, ["batch", *arguments, "--address", "auto"])
    assert result.exit_code != 0 and "need --engine ray" in str(result.exception)


def test_options_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        RayOptions(batch_size=0)
    with pytest.raises(ValueError, match="workers"):
        RayOptions(workers=0)
