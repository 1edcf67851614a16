"""``tryon repose``: canonical view, a pose from a file, the round trip, refused outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tryon.cli import main
from tryon.imageio import load_image

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"
ASTRONAUT = CATALOG / "people" / "astronaut.jpg"


def test_canonical_view_and_round_trip_of_a_real_photo(tmp_path, capsys) -> None:
    from tryon.preprocess import BlazePoseEstimator, PrecomputedPoseEstimator

    out, back, points = tmp_path / "canonical.png", tmp_path / "back.png", tmp_path / "k.json"
    main(["repose", "--person", str(ASTRONAUT), "--out", str(out), "--roundtrip", str(back),
          "--keypoints-out", str(points)])  # fmt: skip
    assert "wrote" in capsys.readouterr().out
    canonical = load_image(out)
    assert load_image(back).shape == load_image(ASTRONAUT).shape
    target = PrecomputedPoseEstimator.from_openpose_json(points).people[0]
    found = BlazePoseEstimator().estimate(canonical).keypoints
    right, left = found[2], found[5]
    tilt = np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0]))
    assert abs(tilt) < 10  # level shoulders: the person faces the camera upright
    assert np.linalg.norm(found[1] - target[1]) < 0.1 * max(canonical.shape[:2])


def test_a_pose_from_a_file_at_a_given_size(tmp_path) -> None:
    from tryon_samples import write_openpose_json

    from core.keypoints import DEFAULT_CANONICAL_POSE

    pose = tmp_path / "pose.json"
    write_openpose_json(pose, DEFAULT_CANONICAL_POSE.in_frame(256) * 1.5)
    out = tmp_path / "posed.png"
    main(["repose", "--person", str(ASTRONAUT), "--to", str(pose), "--size", "384x400",
          "--out", str(out)])  # fmt: skip
    assert load_image(out).shape == (400, 384, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--to", "sideways"], "--to must be"),
        (["--to", "POSE", "--size", "big"], "WIDTHxHEIGHT"),
    ],
)
def test_bad_targets_are_one_line_errors(tmp_path, capsys, extra, message) -> None:
    from tryon_samples import write_openpose_json

    from core.keypoints import DEFAULT_CANONICAL_POSE

    pose = tmp_path / "pose.json"
    write_openpose_json(pose, DEFAULT_CANONICAL_POSE.in_frame(256))
    extra = [str(pose) if value == "POSE" else value for value in extra]
    with pytest.raises(SystemExit) as exit_info:
        main(["repose", "--person", str(ASTRONAUT), "--out", str(tmp_path / "x.png"), *extra])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error


def test_the_photo_is_never_overwritten(tmp_path, capsys) -> None:
    photo = tmp_path / "me.jpg"
    photo.write_bytes(ASTRONAUT.read_bytes())
    with pytest.raises(SystemExit):
        main(["repose", "--person", str(photo), "--out", str(photo)])
    assert "is the input photo" in capsys.readouterr().err
    assert photo.read_bytes() == ASTRONAUT.read_bytes()


def test_refine_is_opt_in_and_uses_the_bundled_refiner(tmp_path) -> None:
    """Default: the part warp alone (real photos come first); --refine: the refiner's output."""
    from tryon.pipeline import PipelineConfig, TryOnPipeline

    assert TryOnPipeline.from_pretrained().canonical_refiner is None
    refined_pipeline = TryOnPipeline.from_pretrained(config=PipelineConfig(refine=True))
    assert refined_pipeline.canonical_refiner is refined_pipeline.refiner is not None
    plain, refined = tmp_path / "plain.png", tmp_path / "refined.png"
    main(["repose", "--person", str(ASTRONAUT), "--out", str(plain)])
    main(["repose", "--person", str(ASTRONAUT), "--out", str(refined), "--refine"])
    first, second = load_image(plain), load_image(refined)
    assert first.shape == second.shape
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 0.5
