"""Pose-guided person video (paper §4.4): the shopper moved into each pose of a sequence.

The pose sequence comes from the pose estimator run on every frame of a driving video, or
from a JSONL file (one line per frame: ``{"keypoints": [[x, y], ...18 rows]}``, ``null`` or
NaN for a missing joint, pixels of the driving frames). It is smoothed over time with a
NaN-aware One-Euro filter (Casiez et al. 2012): a low-pass filter whose cut-off rises with
the speed of the joint, so slow jitter is removed without lagging fast motion.

Placement: one similarity map (scale and shift, the driving torso onto the shopper's torso,
:func:`tryon.pipeline.framing.torso_anchor`) is computed from the first driving pose with a
torso and applied to every frame, so the driving person's motion across the picture is kept.
Each frame moves the shopper's own pixels into the pose with the part warp
(:func:`hpn.repose.repose`: parts the photo does not show are filled, the rest is a studio
backdrop), at the photo's pixel density (long side at most ``MAX_VIDEO_SIDE``). With a
garment, the own-view try-on runs first and the dressed photo is animated. Frames whose pose
is missing repeat the last known pose.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.files import atomic_path
from core.keypoints import NUM_KEYPOINTS
from tryon.errors import InvalidInputError, NoPersonFound

DEFAULT_JSONL_FPS = 25.0
MAX_VIDEO_SIDE = 768


@dataclass(frozen=True)
class PoseSequence:
    """Keypoints of a driving sequence.

    Attributes:
        keypoints: (T, 18, 2) float32 pixel (x, y) of the driving frames, NaN missing.
        fps: frames per second to write the result at.
    """

    keypoints: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        shape = np.shape(self.keypoints)
        if len(shape) != 3 or shape[1:] != (NUM_KEYPOINTS, 2) or shape[0] == 0:
            raise InvalidInputError(f"a pose sequence must be (T>0, 18, 2), got {shape}")
        if not math.isfinite(self.fps) or self.fps <= 0:
            raise InvalidInputError(f"fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])


def poses_from_jsonl(path: str | Path, fps: float = DEFAULT_JSONL_FPS) -> PoseSequence:
    """Read a JSONL pose sequence (format in the module docstring)."""
    path = Path(path)
    frames = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows = json.loads(line)["keypoints"]
            array = np.array(
                [[np.nan, np.nan] if row is None else row for row in rows], dtype=np.float32
            )
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInputError(
                f'{path}:{number}: expected {{"keypoints": [[x, y], ...]}} ({error})'
            ) from error
        if array.shape != (NUM_KEYPOINTS, 2):
            raise InvalidInputError(f"{path}:{number}: 18 [x, y] rows needed, got {array.shape}")
        frames.append(array)
    if not frames:
        raise InvalidInputError(f"{path} holds no poses")
    return PoseSequence(np.stack(frames), fps)


def poses_from_video(path: str | Path, estimator: Any, show_progress: bool = True) -> PoseSequence:
    """Estimate the pose in every frame of a video (NaN rows where nobody is found)."""
    import cv2
    from tqdm import tqdm

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InvalidInputError(f"{path}: not a video OpenCV can read")
    fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_JSONL_FPS
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    frames = []
    with tqdm(total=total, desc="driving poses", unit="frame", disable=not show_progress) as bar:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            try:
                keypoints = estimator.estimate(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).keypoints
            except NoPersonFound:
                keypoints = np.full((NUM_KEYPOINTS, 2), np.nan, np.float32)
            frames.append(np.asarray(keypoints, np.float32))
            bar.update()
    capture.release()
    if not frames:
        raise InvalidInputError(f"{path}: no frame could be read")
    return PoseSequence(np.stack(frames), float(fps))


@dataclass(frozen=True)
class OneEuroConfig:
    """One-Euro filter settings (Casiez et al. 2012), in pixels and seconds.

    Attributes:
        min_cutoff: cut-off frequency (Hz) at rest; lower = smoother, more lag when slow.
        beta: how fast the cut-off rises with speed (per px/s); higher = less lag.
        derivative_cutoff: cut-off (Hz) of the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 0.01
    derivative_cutoff: float = 1.0


def _smoothing_factor(cutoff: np.ndarray | float, period: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / period)


def smooth_poses(sequence: PoseSequence, config: OneEuroConfig | None = None) -> np.ndarray:
    """One-Euro smoothing of every coordinate; NaN-aware.

    A missing value stays NaN in the output and does not disturb the filter: the next present
    value continues from the last state (the time step grows by the frames skipped).

    Returns:
        (T, 18, 2) float32.
    """
    config = config or OneEuroConfig()
    values = sequence.keypoints.astype(np.float64)
    period = 1.0 / sequence.fps
    smoothed = np.full_like(values, np.nan)
    state = np.full(values.shape[1:], np.nan)
    speed = np.zeros(values.shape[1:])
    last_seen = np.full(values.shape[1:], -1)
    for index, current in enumerate(values):
        present = ~np.isnan(current)
        fresh = present & np.isnan(state)
        state[fresh] = current[fresh]
        last_seen[fresh] = index
        update = present & ~fresh
        if update.any():
            step = (index - last_seen[update]) * period
            raw_speed = (current[update] - state[update]) / step
            alpha_d = _smoothing_factor(config.derivative_cutoff, step)
            speed[update] = alpha_d * raw_speed + (1 - alpha_d) * speed[update]
            cutoff = config.min_cutoff + config.beta * np.abs(speed[update])
            alpha = _smoothing_factor(cutoff, step)
            state[update] = alpha * current[update] + (1 - alpha) * state[update]
            last_seen[update] = index
        smoothed[index][present] = state[present]
    return smoothed.astype(np.float32)


@dataclass(frozen=True)
class VideoSummary:
    """What :func:`render_video` wrote (``size`` is (height, width) of its frames)."""

    path: Path
    frames: int
    fps: float
    size: tuple[int, int]


def render_video(
    pipeline: Any,
    person: np.ndarray,
    driving: PoseSequence,
    out_path: str | Path,
    garment: np.ndarray | None = None,
    person_keypoints: np.ndarray | None = None,
    smoothing: OneEuroConfig | None = None,
    show_progress: bool = True,
) -> VideoSummary:
    """Render the shopper (optionally dressed in ``garment``) in every pose of ``driving``.

    Args:
        pipeline: a :class:`tryon.pipeline.TryOnPipeline` (its pose estimator, segmenter and,
            with a garment, its own view).
        person: HxWx3 uint8 RGB photo of the shopper.
        driving: the pose sequence (pixels of the driving frames).
        out_path: the .mp4 to write (mp4v; written to a temp file, then renamed).
        garment: optional product photo to try on first.
        person_keypoints: the shopper's keypoints (None: estimate).
        smoothing: One-Euro settings.
        show_progress: tqdm bar.

    Returns:
        :class:`VideoSummary` (one output frame per driving frame, same fps).
    """
    import cv2
    from tqdm import tqdm

    from hpn.part_warp import source_labels
    from hpn.repose import repose
    from tryon.pipeline.pipeline import check_photo

    person = check_photo(person, "person")
    if garment is not None:
        dressed = pipeline(person, garment, person_keypoints=person_keypoints, view="own")
        person, person_keypoints, mask = dressed.image, dressed.keypoints, dressed.person_mask
    else:
        if person_keypoints is None:
            person_keypoints = pipeline.pose_estimator.estimate(person).keypoints
        mask = pipeline.segmenter.mask(person)
    person, person_keypoints, mask = _fit_side(person, person_keypoints, mask)
    height, width = person.shape[:2]
    labels = source_labels(person_keypoints, mask)
    poses = smooth_poses(driving, smoothing)
    first = _first_framable(poses)
    place = _placement(poses[first], person_keypoints)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    target = place(poses[first])
    with atomic_path(out_path, suffix=out_path.suffix or ".mp4") as temporary:
        writer = cv2.VideoWriter(
            str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), driving.fps, (width, height)
        )
        if not writer.isOpened():
            raise InvalidInputError(f"OpenCV cannot write an mp4v video to {temporary}")
        try:
            for pose in tqdm(poses, desc="render", unit="frame", disable=not show_progress):
                if not np.isnan(pose[[2, 5]]).any():
                    target = place(pose)
                frame = repose(
                    person, person_keypoints, mask, target, (height, width), labels,
                    refiner=pipeline.canonical_refiner,
                )  # fmt: skip
                writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return VideoSummary(out_path, len(poses), driving.fps, (height, width))


def _fit_side(
    image: np.ndarray, keypoints: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The source scaled down so its long side is at most ``MAX_VIDEO_SIDE``."""
    import cv2

    from core.keypoints import scale_keypoints

    height, width = image.shape[:2]
    factor = min(1.0, MAX_VIDEO_SIDE / max(height, width))
    if factor == 1.0:
        return image, np.asarray(keypoints, np.float32), np.asarray(mask, bool)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return small, scale_keypoints(keypoints, (height, width), size[::-1]), small_mask


def _placement(driving: np.ndarray, person: np.ndarray) -> Any:
    """Map driving-frame points into the shopper's picture: torso onto torso, no rotation."""
    from tryon.pipeline.framing import torso_anchor

    shopper = torso_anchor(person)
    source = torso_anchor(driving, kind=shopper.kind)
    scale = shopper.length / source.length

    def place(points: np.ndarray) -> np.ndarray:
        return ((points - source.centre) * scale + shopper.centre).astype(np.float32)

    return place


def _first_framable(poses: np.ndarray) -> int:
    """Index of the first pose with both shoulders (what a frame needs)."""
    for index, pose in enumerate(poses):
        if not np.isnan(pose[[2, 5]]).any():
            return index
    raise NoPersonFound("no driving frame shows both shoulders; cannot place the poses")
