"""BlazePose on real photographs bundled with scikit-image, the file backend, and `tryon pose`.

Hand-checked positions in scikit-image's ``astronaut`` (512x512; read off a 3x zoom with a
10-pixel grid): nose tip (223, 125), pupils (203, 102) person's right / (245, 102) person's
left, shoulder joints inside the suit about (100, 245) / (310, 245); hips and below are out of
frame. Tolerances: 12 px for nose and eyes (about a quarter of the eye distance), 35 px for
the shoulders (the suit hides the joints), all in the original photo's pixels.
"""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from tryon.errors import InvalidInputError, NoPersonFound
from tryon.preprocess import BlazePoseEstimator, PoseEstimator, PrecomputedPoseEstimator

NOSE, R_SHOULDER, L_SHOULDER, R_EYE, L_EYE = 0, 2, 5, 14, 15
ASTRONAUT_TRUTH = {
    NOSE: ((223, 125), 12),
    R_EYE: ((203, 102), 12),
    L_EYE: ((245, 102), 12),
    R_SHOULDER: ((100, 245), 35),
    L_SHOULDER: ((310, 245), 35),
}


@pytest.fixture(scope="module")
def estimator() -> BlazePoseEstimator:
    pytest.importorskip("ai_edge_litert", reason="the pose extra (ai-edge-litert) is needed")
    return BlazePoseEstimator()


@pytest.fixture(scope="module")
def astronaut_pose(estimator):
    return estimator.estimate(skimage.data.astronaut())


def _assert_near(keypoints: np.ndarray, truth: dict, scale: float = 1.0, offset=(0, 0)) -> None:
    for index, ((x, y), tolerance) in truth.items():
        expected = np.array([x, y]) * scale + offset
        error = float(np.linalg.norm(keypoints[index] - expected))
        assert error <= tolerance * scale, f"keypoint {index}: {keypoints[index]} vs {expected}"


def test_estimator_satisfies_the_interface(estimator):
    assert isinstance(estimator, PoseEstimator)


def test_astronaut_keypoints_land_on_the_joints(astronaut_pose):
    result = astronaut_pose
    assert result.keypoints.shape == (18, 2) and result.keypoints.dtype == np.float32
    _assert_near(result.keypoints, ASTRONAUT_TRUTH)
    # The person's right side is on the image's left in a frontal photo.
    assert result.keypoints[R_EYE, 0] < result.keypoints[L_EYE, 0]
    assert result.keypoints[R_SHOULDER, 0] < result.keypoints[L_SHOULDER, 0]
    neck = result.keypoints[1]
    np.testing.assert_allclose(neck, result.keypoints[[2, 5]].mean(axis=0), atol=1e-3)
    # Hips, knees and ankles are below the frame: missing, with zero confidence.
    assert np.isnan(result.keypoints[[8, 9, 10, 11, 12, 13]]).all()
    assert (result.confidences[[8, 9, 10, 11, 12, 13]] == 0).all()
    assert (result.confidences[[0, 2, 5, 14, 15]] > 0.9).all()
    assert result.score > 0.8 and result.people_found == 1 and result.warnings == ()


def test_astronaut_person_mask(astronaut_pose):
    mask = astronaut_pose.person_mask
    assert mask.shape == (512, 512) and mask.dtype == bool
    assert mask[125, 223] and mask[400, 200] and mask[300, 100]  # face, suit, arm
    assert not mask[60, 450] and not mask[150, 420]  # wall, shuttle model
    x_min, y_min, x_max, y_max = astronaut_pose.bbox
    assert x_min < 60 and y_min < 40 and x_max > 300 and y_max > 500


def test_cameraman_side_view_in_greyscale(estimator):
    # scikit-image's `camera`: a man in profile behind a tripod, the detector's hard case.
    grey = skimage.data.camera()
    result = estimator.estimate(np.repeat(grey[:, :, None], 3, axis=2))
    # Hand-checked: nose tip near (245, 165); his shoulders in the coat near (160, 170).
    _assert_near(result.keypoints, {NOSE: ((245, 165), 15), 1: ((165, 170), 40)})
    assert result.person_mask[300, 100] and not result.person_mask[50, 400]


@pytest.mark.parametrize(
    ("canvas", "corner", "side"),
    [
        ((1500, 2000), (900, 1300), 512),  # off-centre, bottom right
        ((2000, 2000), (100, 1400), 384),  # 19% of the width: found by the tiled detector
        ((1200, 1800), (700, 60), 256),  # bottom left, 14% of the width
    ],
)
def test_small_off_centre_person_is_found(estimator, canvas, corner, side):
    photo = np.full((*canvas, 3), 235, np.uint8)
    small = cv2.resize(skimage.data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    photo[corner[0] : corner[0] + side, corner[1] : corner[1] + side] = small
    result = estimator.estimate(photo)
    scale = side / 512
    face = {k: v for k, v in ASTRONAUT_TRUTH.items() if k in (NOSE, R_EYE, L_EYE)}
    # Faces 4x smaller than in the original: twice the tolerance, in original pixels.
    _assert_near(result.keypoints, {k: (xy, 2 * t) for k, (xy, t) in face.items()}, scale,
                 offset=(corner[1], corner[0]))  # fmt: skip
    assert result.people_found == 1


def test_large_photo_is_searched_shrunk_and_answered_at_full_resolution(estimator):
    # 2048x2560 (5 megapixels): above the 1280-pixel working size.
    photo = cv2.resize(skimage.data.astronaut(), (2048, 2048), interpolation=cv2.INTER_LINEAR)
    photo = np.pad(photo, ((0, 512), (0, 0), (0, 0)), constant_values=200)
    result = estimator.estimate(photo)
    _assert_near(result.keypoints, ASTRONAUT_TRUTH, scale=4.0)
    assert result.person_mask.shape == (2560, 2048)
    assert result.person_mask[1600, 800] and not result.person_mask[2400, 1000]


def test_two_people_choose_the_largest_and_say_so(estimator):
    photo = np.full((500, 1000, 3), 235, np.uint8)
    astronaut = skimage.data.astronaut()
    photo[150:450, 640:940] = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)
    photo[50:450, 20:420] = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)
    result = estimator.estimate(photo)
    assert result.people_found == 2
    assert result.warnings == ("2 people found; using the largest",)
    _assert_near(result.keypoints, {NOSE: ((223, 125), 15)}, 400 / 512, offset=(20, 50))


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_no_person(estimator, name):
    # A cup, a cat's face (BlazePose's presence score alone calls it a person) and a rocket.
    with pytest.raises(NoPersonFound, match=r"no person found in the \d+x\d+ photo"):
        estimator.estimate(getattr(skimage.data, name)())


def test_clear_shoulders_admit_a_crop_whose_heatmaps_a_crowd_split(estimator):
    """Friends chest-up, arm in arm (two PASCAL VOC photos in dlib's sdist): presence 0.85-0.99
    but evidence 0.74-0.75, as low as the cat's 0.757; their shoulders' heatmaps (0.57-0.60)
    tell them from the cat (0.41)."""
    from tryon.preprocess.blazepose import _LandmarkPass, _Region

    def crop(presence: float, evidence: float, shoulders: float) -> _LandmarkPass:
        return _LandmarkPass(
            _Region((0.0, 0.0), 1.0, 0.0), np.zeros((39, 2)), np.ones(39), presence, evidence,
            shoulders, np.zeros((256, 256)),
        )  # fmt: skip

    assert estimator._is_person(crop(0.988, 0.754, 0.601))  # voc_2008_001322
    assert estimator._is_person(crop(0.846, 0.740, 0.566))  # voc_2008_002506
    assert not estimator._is_person(crop(0.972, 0.757, 0.407))  # chelsea, the cat
    assert not estimator._is_person(crop(0.988, 0.650, 0.90))  # too little evidence
    assert not estimator._is_person(crop(0.30, 0.95, 0.90))  # no presence
    assert estimator._is_person(crop(0.997, 0.866, 0.30))  # enough evidence alone


def test_blank_image_is_no_person(estimator):
    with pytest.raises(NoPersonFound):
        estimator.estimate(np.full((240, 320, 3), 255, np.uint8))


def test_rejects_non_rgb_arrays(estimator):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        estimator.estimate(np.zeros((64, 64), np.uint8))


def _exif_rotated_astronaut_jpeg() -> bytes:
    """The astronaut stored lying on her side, with EXIF orientation 6 (display: turn 90°
    clockwise), so a viewer that honours EXIF shows her upright: the user's frame."""
    stored = np.rot90(skimage.data.astronaut(), k=1).copy()
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def test_cli_pose_writes_openpose_json_in_the_user_seen_frame(tmp_path):
    from tryon.cli import main
    from tryon.data.keypoint_formats import read_openpose_json

    photo = tmp_path / "astronaut_rotated.jpg"
    photo.write_bytes(_exif_rotated_astronaut_jpeg())
    out = tmp_path / "pose" / "astronaut_keypoints.json"
    main(["pose", str(photo), "--out", str(out), "--mask", str(tmp_path / "mask.png")])
    document = json.loads(out.read_text())
    assert len(document["people"][0]["pose_keypoints_2d"]) == 54
    keypoints = read_openpose_json(out)
    _assert_near(keypoints, ASTRONAUT_TRUTH)
    mask = np.asarray(Image.open(tmp_path / "mask.png"))
    assert mask.shape == (512, 512) and mask[400, 200] == 255


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"%PDF-1.4 not a photo", "unsupported format"), (b"", "the file is empty")],
)
def test_cli_pose_bad_input_is_one_line_and_exit_1(tmp_path, capsys, content, message):
    from tryon.cli import main

    photo = tmp_path / "upload.jpg"
    photo.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["pose", str(photo), "--out", str(tmp_path / "k.json")])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "upload.jpg" in error and message in error
    assert not (tmp_path / "k.json").exists()


def test_cli_pose_without_person_exits_1(tmp_path, capsys):
    from tryon.cli import main
    from tryon.imageio import save_image

    photo = save_image(tmp_path / "coffee.png", skimage.data.coffee())
    with pytest.raises(SystemExit) as exit_info:
        main(["pose", str(photo), "--out", str(tmp_path / "k.json")])
    assert exit_info.value.code == 1
    assert "no person found" in capsys.readouterr().err


# ----- the file backend -------------------------------------------------------------------


def _openpose_document(*people: np.ndarray) -> dict:
    from tryon.data.keypoint_formats import coco18_to_openpose_values

    return {"people": [{"pose_keypoints_2d": coco18_to_openpose_values(p)} for p in people]}


def _person(offset: float, size: float) -> np.ndarray:
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[[0, 2, 5, 8, 11]] = (
        np.array([(0.5, 0.1), (0.3, 0.3), (0.7, 0.3), (0.35, 0.7), (0.65, 0.7)]) * size + offset
    )
    return keypoints


def test_openpose_file_backend_picks_the_largest(tmp_path):
    path = tmp_path / "people.json"
    small, large = _person(10, 50), _person(100, 150)
    path.write_text(json.dumps(_openpose_document(small, large)))
    result = PrecomputedPoseEstimator.from_openpose_json(path).estimate(
        np.zeros((300, 300, 3), np.uint8)
    )
    np.testing.assert_allclose(result.keypoints, large, atol=1e-3)
    assert result.people_found == 2 and "using the largest" in result.warnings[0]
    assert result.person_mask is None
    assert result.confidences[0] == 1 and result.confidences[1] == 0


def test_openpose_file_backend_errors(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(_openpose_document(_person(100, 400))))
    with pytest.raises(InvalidInputError, match="outside the 300x300 photo"):
        PrecomputedPoseEstimator.from_openpose_json(outside).estimate(
            np.zeros((300, 300, 3), np.uint8)
        )
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"people": []}))
    with pytest.raises(NoPersonFound, match="holds no person"):
        PrecomputedPoseEstimator.from_openpose_json(empty).estimate(
            np.zeros((300, 300, 3), np.uint8)
        )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InvalidInputError, match=r"broken\.json: not a readable OpenPose JSON"):
        PrecomputedPoseEstimator.from_openpose_json(broken)


def test_deepfashion_csv_backend(tmp_path):
    from tryon.data.keypoint_formats import write_deepfashion_annotations

    keypoints = np.round(_person(20, 120))
    path = tmp_path / "fasion-resize-annotation-test.csv"
    write_deepfashion_annotations(path, {"a.jpg": keypoints})
    result = PrecomputedPoseEstimator.from_deepfashion_csv(path, "a.jpg").estimate(
        np.zeros((256, 176, 3), np.uint8)
    )
    np.testing.assert_array_equal(result.keypoints, keypoints)
    with pytest.raises(InvalidInputError, match=r"no keypoints for 'b\.jpg'"):
        PrecomputedPoseEstimator.from_deepfashion_csv(path, "b.jpg")


def test_person_mask_from_selfie_segmentation_for_file_keypoints(astronaut_pose):
    from tryon.preprocess import SelfieSegmenter, person_mask

    photo = skimage.data.astronaut()
    file_pose = PrecomputedPoseEstimator([astronaut_pose.keypoints], "test").estimate(photo)
    assert file_pose.person_mask is None
    mask = person_mask(photo, file_pose, SelfieSegmenter())
    assert mask.shape == (512, 512) and mask[125, 223] and mask[400, 200]
    assert not mask[60, 450]
    overlap = (mask & astronaut_pose.person_mask).sum() / (mask | astronaut_pose.person_mask).sum()
    assert overlap > 0.7  # the two models broadly agree on who the person is
    assert person_mask(photo, astronaut_pose) is astronaut_pose.person_mask


def test_cli_pose_with_precomputed_keypoints(tmp_path, capsys):
    from tryon.cli import main
    from tryon.data.keypoint_formats import read_openpose_json
    from tryon.imageio import save_image

    photo = save_image(tmp_path / "blank.png", np.zeros((300, 300, 3), np.uint8))
    source = tmp_path / "body25.json"
    body25 = np.zeros((25, 3), np.float32)
    body25[0] = (150, 40, 0.9)  # nose
    body25[9] = (120, 200, 0.8)  # BODY_25 right hip -> COCO-18 index 8
    source.write_text(json.dumps({"people": [{"pose_keypoints_2d": body25.ravel().tolist()}]}))
    out = tmp_path / "coco18.json"
    main(["pose", str(photo), "--out", str(out), "--keypoints", str(source)])
    keypoints = read_openpose_json(out)
    np.testing.assert_allclose(keypoints[[0, 8]], [(150, 40), (120, 200)])
    assert np.isnan(keypoints[1]).all()
    assert "2/18 keypoints" in capsys.readouterr().out
