"""``tryon data synth | check | preview`` end to end, and the CLI's error contract."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from tryon.cli import main


def _tryon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tryon", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "set"
    main(
        [
            "data",
            "synth",
            "--out",
            str(root),
            "--identities",
            "5",
            "--poses",
            "2",
            "--size",
            "64",
            "--workers",
            "1",
        ]
    )
    return root


def test_synth_then_check_reports_both_layouts_valid(synth_root, capsys):
    capsys.readouterr()
    main(["data", "check", str(synth_root)])
    output = capsys.readouterr().out
    assert "deepfashion train: 12 images, 16 pairs" in output
    assert "viton test: 3 pairs" in output
    assert output.strip().endswith("valid")


def test_preview_writes_a_contact_sheet(synth_root, tmp_path):
    out = tmp_path / "sheet.png"
    main(["data", "preview", str(synth_root), "--out", str(out), "--count", "3", "--tile", "48"])
    sheet = cv2.imread(str(out))
    assert sheet is not None and sheet.shape[1] > 48 * 3 and sheet.std() > 10


def test_bad_directory_is_one_line_error(tmp_path):
    result = _tryon("data", "check", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")


def test_preview_of_a_folder_without_data_is_a_user_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "preview", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.startswith("error:")


def test_check_lists_problems_and_exits_non_zero(synth_root, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(synth_root, broken)
    parse_path = broken / "viton/train/image-parse-v3/id00000_pose00.png"
    parse = np.array(Image.open(parse_path))
    parse[0, 0] = 42
    Image.fromarray(parse).save(parse_path)
    (broken / "deepfashion/train/id00001_pose01.png").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(broken)])
    assert exit_info.value.code == 1
    errors = capsys.readouterr().err
    assert "parse id 42" in errors
    assert "id00001_pose01.png: missing" in errors
    assert "INVALID (2 problems)" in errors


@pytest.mark.parametrize("layout", ["deepfashion", "viton"])
def test_check_accepts_the_published_format_fixtures(layout, capsys):
    from pathlib import Path

    main(["data", "check", str(Path(__file__).parent / "fixtures" / layout)])
    assert capsys.readouterr().out.strip().endswith("valid")


def test_preview_of_a_deepfashion_layout(tmp_path):
    from pathlib import Path

    out = tmp_path / "sheet.png"
    fixtures = Path(__file__).parent / "fixtures" / "deepfashion"
    main(["data", "preview", str(fixtures), "--out", str(out), "--count", "2", "--tile", "32"])
    sheet = cv2.imread(str(out))
    assert sheet.shape[0] == 32 and sheet.shape[1] > 2 * 32  # one row: reference, target


def test_photo_style_synth_then_check_is_valid(tmp_path, capsys):
    import json

    root = tmp_path / "photo"
    args = ["--identities", "5", "--poses", "2", "--size", "64", "--workers", "1"]
    main(["data", "synth", "--out", str(root), "--style", "photo", *args])
    assert "images per CPU-second" in capsys.readouterr().out
    assert json.loads((root / "synthetic.json").read_text())["settings"]["style"] == "photo"
    main(["data", "check", str(root)])
    output = capsys.readouterr().out
    assert "deepfashion train: 12 images, 16 pairs" in output
    assert output.strip().endswith("valid")
    sheet = tmp_path / "sheet.png"
    main(["data", "preview", str(root), "--out", str(sheet), "--count", "3", "--tile", "48"])
    assert cv2.imread(str(sheet)) is not None


def test_unknown_style_is_refused(tmp_path):
    result = _tryon("data", "synth", "--out", str(tmp_path / "x"), "--style", "cartoon")
    assert result.returncode == 2 and "cartoon" in result.stderr
    assert not (tmp_path / "x").exists()
