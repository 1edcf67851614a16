"""BlazePose (MediaPipe 0.10.14's tflite models) through ``ai-edge-litert``: photo -> COCO-18.

How a person is found anywhere in the frame:
1. the detector (:mod:`tryon.preprocess.blazepose_detector`) proposes people on the whole
   frame; when none is confirmed, on a 3x3 grid of overlapping half-size tiles (people too
   small for the 224x224 whole-frame input); when still none, a two-pass fallback runs the
   landmark model on the letterboxed whole frame and then on the crop its landmarks define;
2. every confirmed person is counted, the largest (by body size) is kept, and the result's
   ``warnings`` say when there were several;
3. the landmark model runs on a rotated square crop around the person, then once more on the
   crop its own auxiliary landmarks (33 hip centre, 34 body-size point) describe, the way
   MediaPipe tracks a person from one frame to the next. Every crop is verified by the
   model's pose-presence score and by its heatmap peaks (presence alone accepts a cat's
   face); when no crop passes both: :class:`tryon.errors.NoPersonFound`.

Landmarks map back to the photo's pixels through the crop's inverse affine, joints below the
visibility threshold or outside the photo become NaN, and the model's 256x256 person mask is
warped back onto the whole photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tryon.data.keypoint_formats import (
    BLAZEPOSE_LEFT_SHOULDER,
    BLAZEPOSE_RIGHT_SHOULDER,
    BLAZEPOSE_TO_COCO18,
    blazepose33_to_coco18,
)
from tryon.errors import NoPersonFound
from tryon.preprocess.affine import apply_affine, crop_affine, invert_affine, warp_to_square
from tryon.preprocess.blazepose_detector import BlazePoseDetector, PersonDetection, sigmoid
from tryon.preprocess.pose import PoseResult, check_rgb_image, keypoint_bbox, mask_bbox

LANDMARK_INPUT_SIZE = 256
NUM_LANDMARKS = 39  # 33 body landmarks + hip centre, body-size point and 4 more auxiliaries
_AUX_HIP_CENTRE, _AUX_BODY_SIZE = 33, 34
_HEATMAP_SIZE = 64
_EVIDENCE_RANK = 5  # the evidence is the 5th highest body-landmark heatmap peak


@dataclass(frozen=True)
class BlazePoseConfig:
    """Thresholds and crop geometry of the BlazePose backend (MediaPipe's values where it has one).

    Attributes:
        detector_threshold: minimum detector score for a person proposal. 0.4, below
            MediaPipe's 0.5: scikit-image's cameraman (a side view) scores 0.46; every
            proposal is verified by the landmark model's presence score anyway.
        presence_threshold: minimum pose-presence score of the landmark model; below it the
            photo holds nobody (NoPersonFound).
        evidence_threshold: minimum keypoint evidence: the 5th highest peak (as a
            probability) of the model's 33 body-landmark heatmaps. The presence score alone
            says "person" for a cat's face (0.99 on scikit-image's ``chelsea``) whose heatmap
            peaks stay below 0.76; people in the test photos reach 0.85 and more.
        shoulders_evidence: the lower evidence a crop may have when its shoulders are
            clear (``shoulders_threshold``): friends photographed chest-up, arm in arm, share
            the crop and split the heatmaps (evidence 0.74-0.75, as low as the cat's), but
            each shows human shoulders.
        shoulders_threshold: minimum heatmap peak (as a probability) of the weaker
            shoulder for ``shoulders_evidence``: people 0.55-0.91 in the evaluation photos,
            the cat 0.41, none of scikit-image's other pictures above 0.46.
        visibility_threshold: joints whose visibility is lower become NaN.
        mask_threshold: person-mask probability above which a pixel is the person.
        roi_scale: how much the crop is enlarged around the body circle.
        refine_passes: extra landmark passes on the crop the previous pass's landmarks define.
        max_candidates: most detector proposals verified per search stage (bounds the time
            spent on photos without a person).
        working_size: larger photos are searched in a copy shrunk to this longest side
            (results are mapped back to full resolution), so a 12-megapixel photo costs
            about what a small one does.
    """

    detector_threshold: float = 0.4
    presence_threshold: float = 0.5
    evidence_threshold: float = 0.8
    shoulders_evidence: float = 0.7
    shoulders_threshold: float = 0.55
    visibility_threshold: float = 0.5
    mask_threshold: float = 0.5
    roi_scale: float = 1.25
    refine_passes: int = 1
    max_candidates: int = 6
    working_size: int = 1280


@dataclass(frozen=True)
class _Region:
    """A rotated square crop of the photo: centre (x, y), side and rotation in pixels/radians."""

    centre: tuple[float, float]
    size: float
    rotation: float

    @classmethod
    def around_body(cls, hip_centre: np.ndarray, size_point: np.ndarray, scale: float) -> _Region:
        """MediaPipe's ROI: centred on the hips, side = 2 x body radius x scale, upright body."""
        dx, dy = (np.asarray(size_point, np.float64) - np.asarray(hip_centre, np.float64)).tolist()
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
        size = 2.0 * math.hypot(dx, dy) * scale
        return cls((float(hip_centre[0]), float(hip_centre[1])), max(size, 1.0), rotation)

    def to_crop(self) -> np.ndarray:
        return crop_affine(self.centre, self.size, self.rotation, LANDMARK_INPUT_SIZE)


@dataclass(frozen=True)
class _LandmarkPass:
    """Raw landmark-model output of one crop, landmarks already in photo pixels."""

    region: _Region
    landmarks: np.ndarray  # (39, 2) photo pixels
    visibility: np.ndarray  # (39,) probabilities
    presence: float
    evidence: float
    shoulders: float  # the weaker shoulder's heatmap peak, as a probability
    mask_logits: np.ndarray  # (256, 256) in crop pixels

    @property
    def score(self) -> float:
        """Confidence that this crop shows a person: the weaker of presence and evidence."""
        return min(self.presence, self.evidence)

    def covers(self, point: tuple[float, float] | np.ndarray) -> bool:
        """Whether ``point`` lies in the box of this person's 33 body landmarks."""
        body = self.landmarks[:33]
        x, y = float(point[0]), float(point[1])
        (x_min, y_min), (x_max, y_max) = body.min(axis=0), body.max(axis=0)
        return bool(x_min <= x <= x_max and y_min <= y <= y_max)


class BlazePoseEstimator:
    """The BlazePose backend of :class:`tryon.preprocess.PoseEstimator`.

    Both interpreters are created once per instance and reused by every call (an instance is
    not thread safe: give each worker its own).

    Args:
        model_dir: folder holding ``pose_detection.tflite`` and ``pose_landmark_full.tflite``;
            default: the fetched ``blazepose`` asset (MissingAssetError says how to fetch it).
        config: thresholds and crop geometry.
    """

    def __init__(
        self, model_dir: str | Path | None = None, config: BlazePoseConfig | None = None
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.config = config or BlazePoseConfig()
        detector_path, landmark_path = _model_paths(model_dir)
        self._detector = BlazePoseDetector(detector_path, self.config.detector_threshold)
        self._interpreter = Interpreter(model_path=str(landmark_path), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        by_shape: dict[tuple[int, ...], int] = {
            tuple(int(n) for n in o["shape"]): o["index"]
            for o in self._interpreter.get_output_details()
        }
        self._landmarks_index = by_shape[(1, NUM_LANDMARKS * 5)]
        self._presence_index = by_shape[(1, 1)]
        self._mask_index = by_shape[(1, LANDMARK_INPUT_SIZE, LANDMARK_INPUT_SIZE, 1)]
        self._heatmap_index = by_shape[(1, _HEATMAP_SIZE, _HEATMAP_SIZE, NUM_LANDMARKS)]

    def estimate(self, image: np.ndarray) -> PoseResult:
        """Pose and person mask of the largest person in ``image`` (HxWx3 uint8 RGB).

        Raises:
            NoPersonFound: no candidate crop passes the presence and evidence thresholds.
        """
        image = check_rgb_image(image)
        height, width = image.shape[:2]
        work, work_to_photo = self._working_copy(image)
        people, best_score = self._find_people(work)
        if not people:
            raise NoPersonFound(
                f"no person found in the {width}x{height} photo (best person score "
                f"{best_score:.2f}); use a photo that shows one person, head and shoulders "
                "at least"
            )
        largest = max(people, key=lambda person: person.region.size)
        return self._to_result(largest, work_to_photo, (height, width), len(people))

    def _working_copy(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The photo shrunk to ``working_size`` (the models see 224/256 crops anyway), and the
        (2, 3) map from its pixels back to the photo's."""
        height, width = image.shape[:2]
        scale = self.config.working_size / max(height, width)
        if scale >= 1.0:
            return image, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        fx, fy = width / size[0], height / size[1]
        # Pixel centres: x_photo = (x_work + 0.5) * fx - 0.5.
        work_to_photo = np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5]])
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), work_to_photo

    def _find_people(self, image: np.ndarray) -> tuple[list[_LandmarkPass], float]:
        """Everyone the first successful search stage verifies, and the best score seen.

        Stages, cheapest first: detector on the whole frame; detector on overlapping tiles
        (people too small for the whole-frame detector); the landmark model on the whole
        frame (people the detector misses). Each candidate crop is verified by the landmark
        model; a candidate whose hip centre falls on an already verified person is skipped.
        """
        best_score = 0.0
        for stage in (self._whole_frame_regions, self._tile_regions, self._letterbox_region):
            people: list[_LandmarkPass] = []
            for region in stage(image)[: self.config.max_candidates]:
                if any(person.covers(region.centre) for person in people):
                    continue
                found = self._run_landmarks(image, region)
                best_score = max(best_score, found.score)
                if not self._is_person(found):
                    continue
                found = self._refine(image, found)
                hip_centre = found.landmarks[_AUX_HIP_CENTRE]
                if not any(person.covers(hip_centre) for person in people):
                    people.append(found)
            if people:
                return people, best_score
        return [], best_score

    def _is_person(self, found: _LandmarkPass) -> bool:
        config = self.config
        shoulders_clear = (
            found.evidence >= config.shoulders_evidence
            and found.shoulders >= config.shoulders_threshold
        )
        return found.presence >= config.presence_threshold and (
            found.evidence >= config.evidence_threshold or shoulders_clear
        )

    def _whole_frame_regions(self, image: np.ndarray) -> list[_Region]:
        return self._regions_of(self._detector.detect(image))

    def _tile_regions(self, image: np.ndarray) -> list[_Region]:
        """Detections in a 3x3 grid of half-size tiles overlapping by half."""
        height, width = image.shape[:2]
        side = max(height, width) / 2
        detections = []
        for y in np.linspace(side / 2, max(height - side / 2, side / 2), 3):
            for x in np.linspace(side / 2, max(width - side / 2, side / 2), 3):
                window = ((float(x) - 0.5, float(y) - 0.5), side)
                detections.extend(self._detector.detect(image, window))
        return self._regions_of(detections)

    @staticmethod
    def _letterbox_region(image: np.ndarray) -> list[_Region]:
        height, width = image.shape[:2]
        return [_Region(((width - 1) / 2, (height - 1) / 2), float(max(height, width)), 0.0)]

    def _regions_of(self, detections: list[PersonDetection]) -> list[_Region]:
        ranked = sorted(detections, key=lambda detection: -detection.score)
        return [
            _Region.around_body(d.keypoints[0], d.keypoints[1], self.config.roi_scale)
            for d in ranked
        ]

    def _refine(self, image: np.ndarray, found: _LandmarkPass) -> _LandmarkPass:
        """Re-run on the crop the landmarks' own hip centre and body-size point describe."""
        for _ in range(self.config.refine_passes):
            region = _Region.around_body(
                found.landmarks[_AUX_HIP_CENTRE],
                found.landmarks[_AUX_BODY_SIZE],
                self.config.roi_scale,
            )
            refined = self._run_landmarks(image, region)
            if not self._is_person(refined):
                break
            found = refined
        return found

    def _run_landmarks(self, image: np.ndarray, region: _Region) -> _LandmarkPass:
        to_crop = region.to_crop()
        crop = warp_to_square(image, to_crop, LANDMARK_INPUT_SIZE)
        self._interpreter.set_tensor(self._input_index, (crop.astype(np.float32) / 255.0)[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._landmarks_index)[0].reshape(NUM_LANDMARKS, 5)
        presence = float(self._interpreter.get_tensor(self._presence_index)[0, 0])
        mask_logits = self._interpreter.get_tensor(self._mask_index)[0, :, :, 0].copy()
        peaks = self._interpreter.get_tensor(self._heatmap_index)[0, :, :, :33].max(axis=(0, 1))
        evidence = float(sigmoid(np.sort(peaks)[-_EVIDENCE_RANK]))
        shoulders = float(sigmoid(peaks[[BLAZEPOSE_LEFT_SHOULDER, BLAZEPOSE_RIGHT_SHOULDER]].min()))
        # Landmarks come in crop pixels with edges at 0 and 256; pixel centres are 0.5 in.
        landmarks = apply_affine(invert_affine(to_crop), raw[:, :2] - 0.5)
        visibility = sigmoid(raw[:, 3])
        return _LandmarkPass(
            region, landmarks, visibility, presence, evidence, shoulders, mask_logits
        )

    def _to_result(
        self,
        found: _LandmarkPass,
        work_to_photo: np.ndarray,
        photo_size: tuple[int, int],
        people_found: int,
    ) -> PoseResult:
        height, width = photo_size
        body = apply_affine(work_to_photo, found.landmarks[:33])
        visibility = found.visibility[:33]
        keypoints = blazepose33_to_coco18(body, visibility, self.config.visibility_threshold)
        confidences = np.array(
            [visibility[i] if i is not None else 0.0 for i in BLAZEPOSE_TO_COCO18], np.float32
        )
        confidences[1] = min(
            visibility[BLAZEPOSE_LEFT_SHOULDER], visibility[BLAZEPOSE_RIGHT_SHOULDER]
        )
        x, y = keypoints[:, 0], keypoints[:, 1]
        outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
        missing = outside | np.isnan(keypoints).any(axis=1)
        keypoints[missing] = np.nan
        confidences[missing] = 0.0

        crop_to_work = np.vstack([invert_affine(found.region.to_crop()), [0.0, 0.0, 1.0]])
        probability = cv2.warpAffine(
            sigmoid(found.mask_logits).astype(np.float32),
            work_to_photo @ crop_to_work,
            (width, height),
            flags=cv2.INTER_LINEAR,
        )
        person_mask = probability > self.config.mask_threshold
        bbox = mask_bbox(person_mask)
        if bbox is None:
            bbox = keypoint_bbox(keypoints)
        warnings = ()
        if people_found > 1:
            warnings = (f"{people_found} people found; using the largest",)
        return PoseResult(
            keypoints=keypoints,
            confidences=confidences,
            person_mask=person_mask,
            score=found.score,
            people_found=people_found,
            bbox=bbox,
            warnings=warnings,
        )


def _model_paths(model_dir: str | Path | None) -> tuple[Path, Path]:
    """Paths of the detector and landmark models, from ``model_dir`` or the fetched asset."""
    names = ("pose_detection.tflite", "pose_landmark_full.tflite")
    if model_dir is None:
        from tryon.assets import get_asset

        asset = get_asset("blazepose")
        return asset.path(names[0]), asset.path(names[1])
    folder = Path(model_dir)
    paths = tuple(folder / name for name in names)
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; `tryon models fetch blazepose` has it")
    return paths  # type: ignore[return-value]
