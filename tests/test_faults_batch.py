"""Issue 15, items 3, 6, 7 (lock, temporaries), 11 and 12: a batch that says what happened,
a manifest that survives kills and stray bytes and is not trusted, links kept as named."""

from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import pytest
from tryon_samples import batch_arguments, make_catalog

from tryon import imageio
from tryon.batch import MANIFEST_FILE, Manifest, batch_lock, plan_pairs
from tryon.cli import main
from tryon.contact_sheet import write_contact_sheets


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_catalog(tmp_path_factory.mktemp("catalog"), people=2, garments=1)


def batch(arguments: list[str], capsys) -> tuple[int, str, str]:
    """``tryon batch`` in this process: (exit status, stdout, stderr)."""
    try:
        main(arguments)
        status = 0
    except SystemExit as exit_info:
        status = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_batch_with_failed_pairs_says_so_in_its_exit_status(catalog, tmp_path, capsys) -> None:
    people = tmp_path / "people"
    people.mkdir()
    for photo in (catalog / "people").iterdir():
        (people / photo.name).write_bytes(photo.read_bytes())
    (people / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (people / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"
    arguments = ["batch", "--people", str(people), "--garments", str(catalog / "garments"),
                 "--models", str(catalog / "models"), "--out", str(out)]  # fmt: skip
    status, printed, error = batch(arguments, capsys)
    assert status == 1
    assert "4 pairs: 0 already done, 2 made, 2 failed" in printed
    assert "failed: broken__garment0: InvalidInputError" in error
    last = error.strip().splitlines()[-1]
    assert last.startswith("error: 2 of 4 pairs failed") and "Traceback" not in error
    assert (out / "index.html").is_file()
    status, printed, error = batch(arguments, capsys)  # the failures are retried, and fail again
    assert status == 1 and "2 already done, 0 made, 2 failed" in printed


def test_a_torn_last_line_does_not_swallow_the_next_record(catalog, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    torn = '{"key": "person0__garment0", "person": "x", "status": "o'
    (out / MANIFEST_FILE).write_text(torn)  # a kill mid-write: no newline
    status, printed, _ = batch(batch_arguments(catalog, out), capsys)
    assert status == 0
    assert "1 unreadable manifest line(s) skipped (1)" in printed
    raw = (out / MANIFEST_FILE).read_text().splitlines()
    assert raw[0] == torn and len(raw) == 3
    records = Manifest(out / MANIFEST_FILE)
    assert sorted(records.records) == ["person0__garment0", "person1__garment0"]
    assert records.skipped == [1]


def test_a_non_utf8_manifest_is_read_and_reported_not_a_crash(catalog, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    status, _, _ = batch(batch_arguments(catalog, out), capsys)
    assert status == 0
    manifest = out / MANIFEST_FILE
    manifest.write_bytes(b"\xff\xfe\x00 not text\n" + manifest.read_bytes() + b"[1, 2]\n")
    status, printed, error = batch(batch_arguments(catalog, out), capsys)
    assert status == 0, error
    assert "2 already done, 0 made, 0 failed" in printed
    assert "2 unreadable manifest line(s) skipped (1, 4)" in printed
    assert "Traceback" not in error


@pytest.mark.parametrize("where", ["absolute", "dot-dot", "link"])
def test_a_record_pointing_outside_the_folder_is_neither_done_nor_shown(
    catalog, tmp_path, where
) -> None:
    out = tmp_path / "out"
    secret = tmp_path / "secret.png"
    secret.write_bytes((catalog / "people" / "person0.png").read_bytes())
    pair = plan_pairs(catalog / "people", catalog / "garments")[0]
    output = {"absolute": str(secret), "dot-dot": "../secret.png"}.get(where, pair.output)
    if where == "link":
        (out / pair.output).parent.mkdir(parents=True)
        (out / pair.output).symlink_to(secret)
    record = {"key": pair.key, "person": str(pair.person), "garment": str(pair.garment),
              "status": "ok", "output": str(output)}  # fmt: skip
    out.mkdir(exist_ok=True)
    (out / MANIFEST_FILE).write_text(json.dumps(record) + "\n")
    manifest = Manifest(out / MANIFEST_FILE)
    assert not manifest.is_done(pair, out)
    assert manifest.output_path(manifest.records[pair.key], out) is None
    index = write_contact_sheets(out, tile=32)
    assert "0 of 1 pairs ok" in index.read_text()


def test_two_batches_on_one_folder_do_not_run_at_once(catalog, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    held, release = threading.Event(), threading.Event()

    def other_batch() -> None:
        with batch_lock(out):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=other_batch)
    thread.start()
    try:
        held.wait(30)
        status, _, error = batch(batch_arguments(catalog, out), capsys)
    finally:
        release.set()
        thread.join()
    assert status == 1 and "is in use by another tryon batch (pid " in error
    assert not (out / MANIFEST_FILE).exists()
    status, _, _ = batch(batch_arguments(catalog, out), capsys)  # the lock went with it
    assert status == 0


def test_temporaries_of_a_killed_save_are_removed_by_the_next_batch(
    catalog, tmp_path, capsys
) -> None:
    out = tmp_path / "out"
    stale = out / "results" / "garment0" / ".person0.0badcafe.partial.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    status, printed, _ = batch(batch_arguments(catalog, out), capsys)
    assert status == 0 and "1 temporary file(s) of a killed run removed" in printed
    assert not list(out.rglob(".*partial*"))


def test_links_are_kept_as_named_and_a_link_loop_is_skipped(catalog, tmp_path, capsys) -> None:
    people = tmp_path / "people"
    people.mkdir()
    for name in ("alice", "bob"):
        (people / f"{name}.png").symlink_to(catalog / "people" / "person0.png")
        (people / f"{name}_keypoints.json").symlink_to(
            catalog / "people" / "person0_keypoints.json"
        )
    (people / "loop.png").symlink_to(people / "loop.png")
    (people / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    skipped: list[str] = []
    plan = plan_pairs(people, catalog / "garments", skipped=skipped)
    assert [pair.key for pair in plan] == ["alice__garment0", "bob__garment0"]
    assert plan[0].person == people / "alice.png"  # as named, not the resolved target
    assert len(skipped) == 2 and "loop.png" in skipped[1] and "dangling.jpg" in skipped[0]
    out = tmp_path / "out"
    arguments = ["batch", "--people", str(people), "--garments", str(catalog / "garments"),
                 "--models", str(catalog / "models"), "--out", str(out)]  # fmt: skip
    status, _, error = batch(arguments, capsys)
    assert status == 0, error
    assert "warning: skipped" in error and "loop.png" in error and "Traceback" not in error
    for name in ("alice", "bob"):  # two results, not one collapsed onto the target's name
        assert (out / "results" / "garment0" / f"{name}.png").is_file()


def test_contact_sheets_survive_an_unreadable_photo_and_a_full_disk(
    catalog, tmp_path, capsys, monkeypatch
) -> None:
    out = tmp_path / "out"
    assert batch(batch_arguments(catalog, out), capsys)[0] == 0
    unreadable = str(catalog / "people" / "person1.png")
    real_load = imageio.load_image

    def load(path, *args, **kwargs):
        if str(path) == unreadable:
            raise PermissionError(errno.EACCES, "Permission denied", unreadable)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr("tryon.imageio.load_image", load)
    (out / "index.html").unlink()
    assert "2 of 2 pairs ok" in write_contact_sheets(out, tile=32).read_text()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "x")

    real_save = imageio.save_image
    monkeypatch.setattr("tryon.imageio.save_image", full)
    assert "could not be written" in write_contact_sheets(out, tile=32).read_text()
    monkeypatch.setattr("tryon.imageio.save_image", real_save)
    monkeypatch.setattr("tryon.contact_sheet.write_text_atomic", full)
    (out / "results" / "garment0" / "person0.png").unlink()  # one pair to redo
    status, printed, error = batch(batch_arguments(catalog, out), capsys)
    assert status == 0 and "1 made, 0 failed" in printed
    assert "warning: the contact sheets could not be written" in error
    assert "Traceback" not in error
