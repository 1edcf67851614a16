"""Keypoint converters: published formats read correctly and round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tryon.data.keypoint_formats import (
    blazepose33_to_coco18,
    openpose_values_to_coco18,
    read_deepfashion_annotations,
    read_openpose_json,
    read_pairs_csv,
    write_deepfashion_annotations,
    write_openpose_json,
    write_pairs_csv,
)
from tryon.errors import InvalidInputError

FIXTURES = Path(__file__).parent / "fixtures"
FRONT = "fashionWOMENBlouses_Shirtsid0000637003_1front.jpg"
SIDE = "fashionWOMENBlouses_Shirtsid0000637003_2side.jpg"


def test_deepfashion_annotations_are_y_first_with_minus_one_missing():
    annotations = read_deepfashion_annotations(
        FIXTURES / "deepfashion" / "fasion-resize-annotation-test.csv"
    )
    assert set(annotations) == {FRONT, SIDE}
    front = annotations[FRONT]
    assert front.shape == (18, 2) and front.dtype == np.float32
    np.testing.assert_array_equal(front[0], [88, 30])  # nose: y list says 30, x list says 88
    np.testing.assert_array_equal(front[4], [40, 120])  # right wrist
    side = annotations[SIDE]
    assert np.isnan(side[[4, 15, 17]]).all()
    assert not np.isnan(side[[0, 1, 16]]).any()


def test_deepfashion_round_trip(tmp_path):
    keypoints = np.random.randint(0, 200, (18, 2)).astype(np.float32)
    keypoints[[3, 17]] = np.nan
    path = tmp_path / "annotation.csv"
    write_deepfashion_annotations(path, {"a.jpg": keypoints})
    header, row = path.read_text().splitlines()
    assert header == "name:keypoints_y:keypoints_x"
    assert row.split(":")[1].strip().startswith(f"[{int(keypoints[0, 1])},")
    np.testing.assert_array_equal(read_deepfashion_annotations(path)["a.jpg"], keypoints)


def test_deepfashion_bad_header_is_a_user_error(tmp_path):
    path = tmp_path / "annotation.csv"
    path.write_text("name,x,y\n")
    with pytest.raises(InvalidInputError, match="header"):
        read_deepfashion_annotations(path)


def test_pairs_csv_round_trip(tmp_path):
    pairs = read_pairs_csv(FIXTURES / "deepfashion" / "fasion-resize-pairs-test.csv")
    assert pairs == [(FRONT, SIDE), (SIDE, FRONT)]
    write_pairs_csv(tmp_path / "pairs.csv", pairs)
    assert read_pairs_csv(tmp_path / "pairs.csv") == pairs


def test_openpose_body25_is_detected_by_length():
    keypoints = read_openpose_json(FIXTURES / "viton/test/openpose_json/00001_00_keypoints.json")
    np.testing.assert_array_equal(keypoints[8], [20, 34])  # R-hip is BODY_25 9, not mid-hip 8
    np.testing.assert_array_equal(keypoints[11], [28, 34])  # L-hip is BODY_25 12
    np.testing.assert_array_equal(keypoints[13], [28, 58])  # L-ankle is BODY_25 14
    assert np.isnan(keypoints[17]).all()  # L-ear had confidence 0
    assert not np.isnan(keypoints[:17]).any()


def test_openpose_old_key_coco18():
    keypoints = read_openpose_json(FIXTURES / "viton/test/openpose_json/00002_00_keypoints.json")
    np.testing.assert_array_equal(keypoints[4], [10, 2])
    np.testing.assert_array_equal(keypoints[17], [28, 6])
    assert np.isnan(keypoints[16]).all()


def test_openpose_round_trip_and_missing_points(tmp_path):
    keypoints = (np.random.rand(18, 2) * 300).astype(np.float32)
    keypoints[5] = np.nan
    path = tmp_path / "x_keypoints.json"
    write_openpose_json(path, keypoints)
    values = json.loads(path.read_text())["people"][0]["pose_keypoints_2d"]
    assert len(values) == 54 and values[5 * 3 + 2] == 0
    np.testing.assert_allclose(read_openpose_json(path), keypoints, atol=1e-3)


def test_openpose_rejects_other_lengths_and_reads_nobody_as_missing(tmp_path):
    with pytest.raises(ValueError, match="54"):
        openpose_values_to_coco18([1.0] * 60)
    path = tmp_path / "empty_keypoints.json"
    path.write_text('{"people": []}')
    assert np.isnan(read_openpose_json(path)).all()
    path.write_text("not json")
    with pytest.raises(InvalidInputError):
        read_openpose_json(path)


def test_blazepose_mapping_neck_and_visibility():
    landmarks = np.stack([np.arange(33) * 10.0, np.arange(33) * 10.0 + 1], axis=1)
    keypoints = blazepose33_to_coco18(landmarks)
    np.testing.assert_array_equal(keypoints[2], landmarks[12])  # R-shoulder
    np.testing.assert_array_equal(keypoints[5], landmarks[11])  # L-shoulder
    np.testing.assert_array_equal(keypoints[14], landmarks[5])  # R-eye
    np.testing.assert_array_equal(keypoints[17], landmarks[7])  # L-ear
    np.testing.assert_allclose(keypoints[1], (landmarks[11] + landmarks[12]) / 2)
    visibility = np.ones(33)
    visibility[[12, 25]] = 0.1
    hidden = blazepose33_to_coco18(np.hstack([landmarks, np.zeros((33, 2))]), visibility)
    assert np.isnan(hidden[[1, 2, 12]]).all()  # neck needs both shoulders
    assert not np.isnan(hidden[[0, 5, 9]]).any()
    with pytest.raises(ValueError, match="33"):
        blazepose33_to_coco18(np.zeros((18, 2)))
