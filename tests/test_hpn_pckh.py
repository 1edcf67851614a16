"""PCKh: head-box tolerance from the target's head points, misses count, absent joints don't."""

from __future__ import annotations

import numpy as np
import pytest

from hpn.pckh import pckh_joints, pooled_pckh


def _target() -> np.ndarray:
    points = np.full((18, 2), np.nan)
    points[:14] = np.stack([np.linspace(40, 60, 14), np.linspace(10, 120, 14)], axis=1)
    points[0] = (50, 10)  # nose
    points[1] = (50, 30)  # neck
    points[14:16] = ((46, 8), (54, 8))  # eyes: the head box is 8 wide, 22 high
    return points  # ears missing


def test_a_joint_is_correct_within_half_the_head_box_on_each_axis():
    target = _target()
    detected = target.copy()
    detected[2] += (3.9, 10.9)  # inside 0.5 * (8, 22)
    detected[3] += (4.1, 0.0)  # outside on x
    detected[4] += (0.0, 11.0)  # on the edge of y: strict, so wrong
    detected[5] = np.nan  # the detector missed it
    scores = pckh_joints(detected, target)
    assert scores[2] == 1 and scores[3] == 0 and scores[4] == 0 and scores[5] == 0
    assert np.isnan(scores[16:]).all()  # ears absent from the target: not counted
    assert np.nansum(scores) == 13  # 16 counted, three wrong
    assert pooled_pckh([scores, scores]) == pytest.approx(13 / 16)


def test_no_head_size_gives_no_count_and_a_person_not_found_scores_zero():
    target = _target()
    headless = target.copy()
    headless[[0, 14, 15]] = np.nan  # only the neck is left
    assert np.isnan(pckh_joints(target, headless)).all()
    assert np.nansum(pckh_joints(np.full((18, 2), np.nan), target)) == 0
    assert np.isnan(pooled_pckh([]))
    with pytest.raises(ValueError, match=r"\(18, 2\)"):
        pckh_joints(np.zeros((17, 2)), target)
