"""Batch engine: planning, manifest, resume after a kill, failing pairs, contact sheets."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import numpy as np
import pytest
from tryon_samples import (
    make_tiny_models,
    synthetic_garment,
    synthetic_person,
    write_openpose_json,
)

from tryon.batch import (
    MANIFEST_FILE,
    Manifest,
    Pair,
    plan_pairs,
    process_pair,
    run_local,
    worker_threads,
)
from tryon.contact_sheet import write_contact_sheets
from tryon.errors import InvalidInputError
from tryon.imageio import save_image
from tryon.pipeline import TryOnPipeline


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Three people (with keypoint files) and two garments, plus tiny models."""
    root = tmp_path_factory.mktemp("catalog")
    people, garments = root / "people", root / "garments"
    for index in range(3):
        image, keypoints = synthetic_person(seed=10 + index, size=96)
        save_image(people / f"person{index}.png", image)
        write_openpose_json(people / f"person{index}_keypoints.json", keypoints)
    for index in range(2):
        save_image(garments / f"garment{index}.png", synthetic_garment(seed=20 + index, size=96))
    return people, garments, make_tiny_models(root / "models")


class CountingPipeline:
    """A real pipeline that counts its calls and can simulate a kill after ``kill_after``."""

    calls = 0

    def __init__(self, models: Path, kill_after: int | None = None) -> None:
        self.pipeline = TryOnPipeline.from_pretrained(models)
        self.kill_after = kill_after

    def __call__(self, *args, **kwargs):
        if self.kill_after is not None and CountingPipeline.calls >= self.kill_after:
            raise KeyboardInterrupt("simulated kill")
        CountingPipeline.calls += 1
        return self.pipeline(*args, **kwargs)


def test_plan_all_pairs_and_pairs_file(catalog, tmp_path) -> None:
    people, garments, _ = catalog
    plan = plan_pairs(people, garments)
    assert len(plan) == 6 and len({pair.key for pair in plan}) == 6
    assert plan[0].output == Path("results/garment0/person0.png")
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("# comment\nperson1.png garment1.png\n\nperson1.png garment1.png\n")
    assert [pair.key for pair in plan_pairs(people, garments, pairs_file)] == ["person1__garment1"]
    pairs_file.write_text("person9.png garment1.png\n")
    with pytest.raises(InvalidInputError, match=r"person9\.png"):
        plan_pairs(people, garments, pairs_file)


def test_resume_after_kill_finishes_and_writes_each_output_once(catalog, tmp_path) -> None:
    people, garments, models = catalog
    plan = plan_pairs(people, garments)
    CountingPipeline.calls = 0
    with pytest.raises(KeyboardInterrupt):
        run_local(plan, tmp_path, lambda: CountingPipeline(models, kill_after=2), 1, False)
    assert CountingPipeline.calls == 2
    manifest = Manifest(tmp_path / MANIFEST_FILE)
    done = [pair for pair in plan if manifest.is_done(pair, tmp_path)]
    assert len(done) == 2
    written = {pair.key: (tmp_path / pair.output).stat().st_mtime_ns for pair in done}

    summary = run_local(plan, tmp_path, lambda: CountingPipeline(models), 1, False)
    assert (summary.already_done, summary.ok, summary.failed) == (2, 4, 0)
    assert CountingPipeline.calls == 6  # 2 before the kill + the 4 missing ones, none redone
    for key, mtime in written.items():
        assert (
            tmp_path / f"results/{key.split('__')[1]}/{key.split('__')[0]}.png"
        ).stat().st_mtime_ns == mtime
    lines = [json.loads(line) for line in (tmp_path / MANIFEST_FILE).read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(pair.key for pair in plan)
    assert all(line["status"] == "ok" for line in lines)
    assert not list(tmp_path.rglob("*.tmp*")), "no temporary files may be left behind"

    again = run_local(plan, tmp_path, lambda: CountingPipeline(models), 1, False)
    assert (again.already_done, again.ok) == (6, 0) and CountingPipeline.calls == 6

    (tmp_path / plan[0].output).unlink()  # "done" needs the file too: a lost output is redone
    repaired = run_local(plan, tmp_path, lambda: CountingPipeline(models), 1, False)
    assert (repaired.already_done, repaired.ok) == (5, 1) and CountingPipeline.calls == 7
    assert (tmp_path / plan[0].output).is_file()


def test_corrupt_input_is_recorded_and_the_others_finish(catalog, tmp_path) -> None:
    people, garments, models = catalog
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    plan = [
        *plan_pairs(people, garments)[:2],
        Pair(broken, plan_pairs(people, garments)[0].garment),
    ]
    out = tmp_path / "out"
    make = functools.partial(TryOnPipeline.from_pretrained, models)
    summary = run_local(plan, out, make, workers=2, show_progress=False)
    assert (summary.ok, summary.failed) == (2, 1)
    records = Manifest(out / MANIFEST_FILE).records
    failed = records[plan[2].key]
    assert failed.status == "error" and "InvalidInputError" in failed.error
    assert failed.output == "" and not (out / plan[2].output).exists()
    ok = records[plan[0].key]
    assert ok.ok and {"pose", "fit", "composite", "save"} <= set(ok.timings)
    assert len({record.worker for record in records.values()}) >= 1
    index = write_contact_sheets(out, tile=48)
    assert "1 of 3" not in index.read_text() and "2 of 3 pairs ok" in index.read_text()
    assert (out / "contact_sheets" / "garment0.png").is_file()


def test_manifest_ignores_a_torn_last_line(tmp_path) -> None:
    path = tmp_path / MANIFEST_FILE
    path.write_text(
        json.dumps({"key": "a__b", "person": "a", "garment": "b", "status": "ok", "output": "x"})
        + '\n{"key": "c__d", "pers'
    )
    assert list(Manifest(path).records) == ["a__b"]


def test_process_pair_records_errors_instead_of_raising(catalog, tmp_path) -> None:
    people, _, models = catalog
    pipeline = TryOnPipeline.from_pretrained(models)
    blank = tmp_path / "blank.png"
    save_image(blank, np.full((96, 96, 3), 255, np.uint8))  # no garment on a white photo
    pair = Pair(people / "person0.png", blank)
    record = process_pair(pipeline, pair, tmp_path)
    assert record.status == "error" and record.error.startswith("InvalidInputError")


def test_a_worker_that_cannot_load_models_records_errors_instead_of_hanging(
    catalog, tmp_path
) -> None:
    people, garments, _ = catalog
    plan = plan_pairs(people, garments)[:2]
    missing = functools.partial(TryOnPipeline.from_pretrained, tmp_path / "no-models")
    summary = run_local(plan, tmp_path / "out", missing, workers=2, show_progress=False)
    assert (summary.ok, summary.failed) == (0, 2)
    records = Manifest(tmp_path / "out" / MANIFEST_FILE).records.values()
    assert all("could not load the pipeline" in record.error for record in records)


def _report_threads() -> None:
    """A make_pipeline that fails with the worker's thread counts in its message."""
    import cv2
    import torch

    raise RuntimeError(
        f"threads torch={torch.get_num_threads()} interop={torch.get_num_interop_threads()} "
        f"cv2={cv2.getNumThreads()}"
    )


@pytest.mark.parametrize("threads", [None, 1])
def test_pool_workers_share_the_cores_in_every_thread_pool(catalog, tmp_path, threads) -> None:
    # Workers must not oversubscribe the cores: torch's and OpenCV's pools are capped too.
    people, garments, _ = catalog
    plan = plan_pairs(people, garments)[:2]
    run_local(plan, tmp_path, _report_threads, workers=2, show_progress=False, threads=threads)
    expected = threads or worker_threads(2)
    records = Manifest(tmp_path / MANIFEST_FILE).records.values()
    assert {record.error.rsplit(": ", 1)[1] for record in records} == {
        f"threads torch={expected} interop={expected} cv2={expected}"
    }


def test_records_carry_the_time_they_finished(catalog, tmp_path) -> None:
    people, garments, models = catalog
    plan = plan_pairs(people, garments)[:2]
    before = time.time()
    run_local(plan, tmp_path, functools.partial(TryOnPipeline.from_pretrained, models), 1, False)
    records = list(Manifest(tmp_path / MANIFEST_FILE).records.values())
    assert all(before <= record.finished <= time.time() for record in records)
