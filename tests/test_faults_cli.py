"""Issue 15, items 4, 8 and 9: outputs checked before the work, devices and sizes refused in
one line, and an output never overwrites an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tryon.cli import main
from tryon.imageio import load_image

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"
PERSON = CATALOG / "people" / "id00163_pose00.png"
KEYPOINTS = CATALOG / "people" / "id00163_pose00_keypoints.json"
GARMENT = CATALOG / "garments" / "id00166_cloth.png"


def run(arguments: list[str], capsys) -> tuple[int, str]:
    """``tryon ARGUMENTS`` in this process: (exit status, stderr)."""
    try:
        main(arguments)
    except SystemExit as exit_info:
        return int(exit_info.code or 0), capsys.readouterr().err.strip()
    return 0, capsys.readouterr().err.strip()


def one_line_error(status: int, error: str, expected_status: int, *needles: str) -> None:
    assert status == expected_status, error
    assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error, error
    for needle in needles:
        assert needle in error, (needle, error)


@pytest.fixture
def no_models(monkeypatch):
    """Fail the test if the command gets as far as loading the models (checks come first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the models were loaded before the output was checked")

    monkeypatch.setattr("tryon.cli.run_commands.load_pipeline", refuse)


def _run(out: Path, *extra: str, person: Path = PERSON) -> list[str]:
    return ["run", "--person", str(person), "--garment", str(GARMENT), "--keypoints",
            str(KEYPOINTS), "--out", str(out), *extra]  # fmt: skip


def test_an_output_that_is_an_input_is_refused_and_the_photo_kept(tmp_path, capsys, no_models):
    photo = tmp_path / "me.png"
    photo.write_bytes(PERSON.read_bytes())
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    hard = tmp_path / "hard.png"
    os.link(photo, hard)
    for out in (photo, link, hard, tmp_path / "." / "me.png"):
        status, error = run(_run(out, person=photo), capsys)
        one_line_error(status, error, 1, "is also an input", "overwrite")
    assert photo.read_bytes() == PERSON.read_bytes()


@pytest.mark.parametrize(
    ("name", "needle"),
    [("x.gif", "suffix '.gif'"), ("noext", "no suffix"), ("x.PNG.txt", "suffix '.txt'")],
)
def test_an_unwritable_image_suffix_is_refused_before_the_work(
    tmp_path, capsys, no_models, name, needle
) -> None:
    status, error = run(_run(tmp_path / name), capsys)
    one_line_error(status, error, 1, needle, ".png")


def test_an_output_under_a_file_is_refused_before_the_work(tmp_path, capsys, no_models) -> None:
    (tmp_path / "afile").write_text("x")
    status, error = run(_run(tmp_path / "afile" / "deeper" / "x.png"), capsys)
    one_line_error(status, error, 1, "is a file, not a folder")


def test_an_output_in_a_read_only_folder_is_refused_before_the_work(
    tmp_path, capsys, no_models
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anywhere; sysfs refuses even root
        folder = Path("/sys")
        if not folder.is_dir():
            pytest.skip("running as root without /sys: no folder this user cannot write")
    try:
        status, error = run(_run(folder / "x.png"), capsys)
    finally:
        (tmp_path / "read-only").chmod(0o755)
    one_line_error(status, error, 1, "not a folder this program can write into")


def test_device_auto_runs_with_the_bundled_models(tmp_path, capsys) -> None:
    """Item 8: already fixed by core.devices before issue 15; kept here as its proof."""
    out = tmp_path / "auto.png"
    status, error = run(_run(out, "--device", "auto"), capsys)
    assert status == 0, error
    assert load_image(out).shape == load_image(PERSON).shape


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--device", "banana"], "'banana' is not a device"),
        (["--device", "mps"], "'mps' is not a device"),
        (["--device", "cuda:x"], "'cuda:x' is not a device"),
        (["--resolution", "1000000"], "--resolution"),
        (["--resolution", "0"], "--resolution"),
        (["--resolution", "100", "--view", "paper"], "not a multiple of 32"),
    ],
)
def test_bad_devices_and_sizes_are_one_line_usage_errors(
    tmp_path, capsys, no_models, options, needle
) -> None:
    status, error = run(_run(tmp_path / "x.png", *options), capsys)
    one_line_error(status, error, 2, needle, "tryon run --help")


def test_other_commands_check_their_outputs_too(tmp_path, capsys) -> None:
    status, error = run(["pose", str(PERSON), "--out", str(tmp_path / "k.txt")], capsys)
    one_line_error(status, error, 1, "suffix '.txt'", ".json")
    status, error = run(["garment-mask", str(GARMENT), "--out", str(GARMENT)], capsys)
    one_line_error(status, error, 1, "is also an input")
    status, error = run(
        ["video", "--person", str(PERSON), "--driving", str(KEYPOINTS), "--out", str(PERSON)],
        capsys,
    )
    one_line_error(status, error, 1, "is also an input")
