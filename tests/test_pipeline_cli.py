"""``tryon run`` end to end with the bundled demo models on the bundled demo catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tryon.cli import main
from tryon.imageio import load_image
from tryon.pipeline import bundled_models_dir

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"


def test_bundled_models_and_catalog_are_present() -> None:
    for name in ("hpn", "flow", "parser"):
        directory = bundled_models_dir() / name
        assert (directory / "config.json").is_file() and (directory / "MODEL_CARD.md").is_file()
    total = sum(f.stat().st_size for f in bundled_models_dir().rglob("*") if f.is_file())
    assert total < 30 * 2**20, "the shipped models must stay under 30 MB together"
    assert len(list((CATALOG / "people").glob("*.png"))) >= 3
    assert (CATALOG / "people" / "astronaut.jpg").is_file()


def test_run_on_a_synthetic_person_with_keypoints(tmp_path, capsys) -> None:
    person = CATALOG / "people" / "id00163_pose00.png"
    out, garment = tmp_path / "result.png", CATALOG / "garments" / "id00166_cloth.png"
    main(["run", "--person", str(person), "--garment", str(garment),
          "--keypoints", str(person.with_name("id00163_pose00_keypoints.json")),
          "--out", str(out), "--save-intermediates"])  # fmt: skip
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "timings: pose" in printed
    assert load_image(out).shape == load_image(person).shape
    intermediates = tmp_path / "result_intermediates"
    for name in ("pose", "garment_region", "fitted_garment", "alpha", "parts", "result"):
        assert (intermediates / f"{name}.png").is_file(), name


@pytest.mark.parametrize("view", ["catalog", "paper"])
def test_run_writes_the_other_views(tmp_path, view) -> None:
    person = CATALOG / "people" / "id00171_pose01.png"
    out, garment = tmp_path / f"{view}.png", CATALOG / "garments" / "id00192_cloth.png"
    main(["run", "--person", str(person), "--garment", str(garment),
          "--keypoints", str(person.with_name("id00171_pose01_keypoints.json")),
          "--out", str(out), "--view", view, "--resolution", "128"])  # fmt: skip
    image = load_image(out)
    assert image.ndim == 3 and image.shape[2] == 3


def test_run_on_a_real_photo_with_the_pose_estimator(tmp_path) -> None:
    out = tmp_path / "astronaut.png"
    main(["run", "--person", str(CATALOG / "people" / "astronaut.jpg"),
          "--garment", str(CATALOG / "garments" / "id00178_cloth.png"),
          "--out", str(out)])  # fmt: skip
    assert load_image(out).shape == (512, 512, 3)


def test_a_corrupt_photo_is_a_one_line_error(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--person", str(broken), "--garment", str(broken),
              "--out", str(tmp_path / "x.png")])  # fmt: skip
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "\n" not in error and "Traceback" not in error
