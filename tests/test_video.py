"""Pose-guided video: JSONL poses, One-Euro smoothing, frame count and fps of the MP4."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from tryon_samples import make_tiny_models, synthetic_garment, synthetic_person

from tryon.errors import InvalidInputError
from tryon.pipeline import TryOnPipeline
from tryon.pipeline.framing import frontal_template
from tryon.video import OneEuroConfig, PoseSequence, poses_from_jsonl, render_video, smooth_poses


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> TryOnPipeline:
    models = make_tiny_models(tmp_path_factory.mktemp("models"))
    return TryOnPipeline.from_pretrained(models)


def _write_jsonl(path, poses: np.ndarray) -> None:
    lines = [
        json.dumps({"keypoints": [None if np.isnan(p).any() else p.tolist() for p in pose]})
        for pose in poses
    ]
    path.write_text("\n".join(lines) + "\n")


def _read_video(path) -> tuple[int, float, tuple[int, int], list[np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    images = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        images.append(frame)
    capture.release()
    size = images[-1].shape[:2] if images else (0, 0)
    return len(images), fps, size, images


@pytest.mark.parametrize("with_garment", [False, True])
def test_video_has_one_frame_per_pose_at_the_driving_fps(pipeline, tmp_path, with_garment) -> None:
    person, keypoints = synthetic_person(seed=1, size=96)
    template = frontal_template(200)
    poses = np.stack([template + np.array([3.0 * t, 0.0], np.float32) for t in range(7)])
    poses[3, 4] = np.nan  # a missing wrist in one frame
    jsonl = tmp_path / "poses.jsonl"
    _write_jsonl(jsonl, poses)
    sequence = poses_from_jsonl(jsonl, fps=12)
    garment = synthetic_garment(seed=2, size=96) if with_garment else None
    summary = render_video(
        pipeline,
        person,
        sequence,
        tmp_path / "out.mp4",
        garment=garment,
        person_keypoints=keypoints,
        show_progress=False,
    )
    frames, fps, size, images = _read_video(tmp_path / "out.mp4")
    assert summary.frames == frames == 7
    assert fps == pytest.approx(12, abs=0.01)
    assert size == person.shape[:2] == summary.size  # the photo's own pixels, moved
    moved = np.abs(images[0].astype(int) - images[-1].astype(int)).max(axis=2) > 40
    assert moved.mean() > 0.01, "the person must follow the driving poses"
    assert not list(tmp_path.glob(".*partial*")), "the temporary video must be renamed"


def test_one_euro_smooths_jitter_and_keeps_nan_gaps() -> None:
    rng = np.random.default_rng(0)
    steady = np.tile(frontal_template(128)[None], (60, 1, 1))
    noisy = steady + rng.normal(0, 2.0, steady.shape).astype(np.float32)
    noisy[30, 7] = np.nan
    smoothed = smooth_poses(PoseSequence(noisy, 30.0), OneEuroConfig(min_cutoff=1.0, beta=0.0))
    assert np.isnan(smoothed[30, 7]).all() and not np.isnan(smoothed[31, 7]).any()
    error_raw = np.nanmean(np.abs(noisy[10:] - steady[10:]))
    error_smooth = np.nanmean(np.abs(smoothed[10:] - steady[10:]))
    assert error_smooth < 0.5 * error_raw


def test_one_euro_follows_a_fast_move_with_high_beta() -> None:
    ramp = frontal_template(128)[None] + np.arange(30, dtype=np.float32)[:, None, None] * 5
    lagging = smooth_poses(PoseSequence(ramp, 30.0), OneEuroConfig(beta=0.0))
    following = smooth_poses(PoseSequence(ramp, 30.0), OneEuroConfig(beta=1.0))
    assert np.abs(following[-1] - ramp[-1]).max() < np.abs(lagging[-1] - ramp[-1]).max()


def test_bad_jsonl_is_a_user_error(tmp_path) -> None:
    path = tmp_path / "poses.jsonl"
    path.write_text('{"keypoints": [[1, 2]]}\n')
    with pytest.raises(InvalidInputError, match="18"):
        poses_from_jsonl(path)
    path.write_text("not json\n")
    with pytest.raises(InvalidInputError, match=":1:"):
        poses_from_jsonl(path)


class _FramePoses:
    """Pose estimator stand-in: a fixed pose per call, nobody found on the third frame."""

    def __init__(self) -> None:
        self.calls = 0

    def estimate(self, image: np.ndarray):
        from tryon.errors import NoPersonFound
        from tryon.preprocess import PoseResult

        self.calls += 1
        if self.calls == 3:
            raise NoPersonFound("nobody")
        keypoints = frontal_template(image.shape[0]) + self.calls
        return PoseResult(keypoints, np.ones(18, np.float32), None, 1.0, 1, (0, 0, 1, 1))


def test_poses_from_video_reads_every_frame_and_keeps_its_fps(tmp_path) -> None:
    from tryon.video import poses_from_video

    path = tmp_path / "driving.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64))
    for value in range(5):
        writer.write(np.full((64, 64, 3), 40 * value, np.uint8))
    writer.release()
    sequence = poses_from_video(path, _FramePoses(), show_progress=False)
    assert len(sequence) == 5 and sequence.fps == pytest.approx(10.0)
    assert np.isnan(sequence.keypoints[2]).all() and not np.isnan(sequence.keypoints[3]).any()
    np.testing.assert_allclose(sequence.keypoints[1], frontal_template(64) + 2)
