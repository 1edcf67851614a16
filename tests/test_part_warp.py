"""The keypoint-driven part warp: identity, exactness under one affine map, exact round trips,
gradcheck of the differentiable sampler, part labels and the canonical pose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpn.body_parts import (
    ARM_PARTS,
    HEAD_PART,
    PART_NAMES,
    TORSO_PART,
    body_from_keypoints,
    complete_arms,
    label_parts,
)
from hpn.canonical import canonical_pose
from hpn.part_warp import part_warp, sample, source_labels
from tryon.data.synthetic import (
    CANONICAL_POSE,
    canonical_keypoints,
    render_person,
    sample_garment,
    sample_identity,
    sample_pose,
)

SIZE = 256


@pytest.fixture(scope="module")
def person():
    rng = np.random.default_rng(3)
    identity, garment = sample_identity(rng), sample_garment(rng)
    return render_person(identity, garment, sample_pose(rng), SIZE)


def _pixel_grid(size: int) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([xs, ys], axis=-1)


def _affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_equal_poses_give_the_identity(person) -> None:
    warp = part_warp(person.keypoints, person.keypoints, person.person_mask, (SIZE, SIZE))
    covered = warp.coverage > 0.99
    assert covered.sum() > 0.97 * person.person_mask.sum()
    np.testing.assert_allclose(warp.grid[covered], _pixel_grid(SIZE)[covered], atol=1e-3)
    assert not ((warp.coverage > 0.5) & ~person.person_mask).any()


def test_one_similarity_moves_every_part_exactly(person) -> None:
    matrix = np.array([[0.8, -0.2, 40.0], [0.2, 0.8, 10.0]])
    _assert_moved_by(person, matrix, person.person_mask)


def test_a_body_turned_far_still_turns_its_head_with_it() -> None:
    """A 70-degree turn of the whole pose: the head turns with the torso, not clipped."""
    from hpn.body_parts import part_maps, rotation_angle

    keypoints = canonical_keypoints(size=SIZE)
    angle = np.radians(70.0)
    turn = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0]])
    turned = _affine(keypoints, turn).astype(np.float32)
    maps = part_maps(body_from_keypoints(keypoints), body_from_keypoints(turned))
    assert abs(np.degrees(rotation_angle(maps["head"])) - 70.0) < 0.5


def test_a_leaning_head_turns_at_most_thirty_degrees_against_the_torso() -> None:
    """A face far to the side of the neck (bent over a viewfinder) is not a head on its side."""
    from hpn.body_parts import NECK, part_maps, rotation_angle

    upright = canonical_keypoints(size=SIZE)
    leaning = upright.copy()
    face = [0, 14, 15, 16, 17]
    reach = np.linalg.norm(upright[0] - upright[NECK])
    leaning[face] += np.array([reach, reach * 0.9], np.float32)  # face pushed forward, down
    maps = part_maps(body_from_keypoints(leaning), body_from_keypoints(upright))
    relative = np.degrees(rotation_angle(maps["head"]) - rotation_angle(maps["torso"]))
    assert 29.0 < abs(relative) <= 30.01


def test_one_affine_map_moves_the_torso_exactly(person) -> None:
    matrix = np.array([[0.9, 0.15, 12.0], [-0.05, 1.1, -8.0]])
    torso = source_labels(person.keypoints, person.person_mask) == TORSO_PART
    _assert_moved_by(person, matrix, torso, TORSO_PART)


def _assert_moved_by(person, matrix: np.ndarray, where: np.ndarray, part: int = -1) -> None:
    target = _affine(person.keypoints.astype(np.float64), matrix).astype(np.float32)
    warp = part_warp(person.keypoints, target, person.person_mask, (SIZE, SIZE))
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    expected = _affine(_pixel_grid(SIZE).astype(np.float64), inverse)
    # Target pixels covered by the chosen source pixels: where the expected map lands on them.
    xs, ys = np.round(expected[..., 0]).astype(int), np.round(expected[..., 1]).astype(int)
    inside = (xs >= 0) & (xs < SIZE) & (ys >= 0) & (ys < SIZE)
    lands = np.zeros((SIZE, SIZE), bool)
    lands[inside] = where[ys[inside], xs[inside]]
    covered = (warp.coverage > 0.99) & lands
    if part >= 0:  # only what that part draws (a limb in front is not exact under shear)
        covered &= warp.part == part
    assert covered.sum() > 0.5 * where.sum() * abs(np.linalg.det(matrix[:, :2]))
    np.testing.assert_allclose(warp.grid[covered], expected[covered], atol=2e-3)


def test_a_round_trip_fitted_from_one_pose_is_exact(person) -> None:
    frontal = canonical_keypoints(size=SIZE)
    there = part_warp(person.keypoints, frontal, person.person_mask, (SIZE, SIZE))
    back = part_warp(
        frontal,
        person.keypoints,
        there.coverage > 0.5,
        (SIZE, SIZE),
        labels=np.where(there.coverage > 0.5, there.part, -1).astype(np.int8),
        fitted_from="target",
    )
    both = (back.coverage > 0.99) & person.person_mask
    assert both.sum() > 0.8 * person.person_mask.sum()
    # Reading the frontal view at back.grid, which reads the person at there.grid:
    xs, ys = np.round(back.grid[both]).astype(int).T
    inside = (xs >= 0) & (xs < SIZE) & (ys >= 0) & (ys < SIZE)
    through = there.grid[ys[inside], xs[inside]]
    pixels = _pixel_grid(SIZE)[both][inside]
    assert np.median(np.abs(through - pixels).max(axis=1)) < 1.0


def test_a_part_the_source_hides_is_not_covered() -> None:
    rng = np.random.default_rng(0)
    identity, garment = sample_identity(rng), sample_garment(rng)
    frontal = render_person(identity, garment, CANONICAL_POSE, SIZE)
    no_left_arm = frontal.keypoints.copy()
    no_left_arm[[6, 7]] = np.nan  # the photo does not show the left elbow and wrist
    warp = part_warp(no_left_arm, frontal.keypoints, frontal.person_mask, (SIZE, SIZE))
    left_forearm = PART_NAMES.index("left_forearm")
    assert not (warp.part == left_forearm).any()


def test_sample_is_differentiable_in_image_grid_and_residual() -> None:
    image = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    grid = (torch.rand(1, 4, 3, 2, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    residual = (torch.randn(1, 2, 4, 3, dtype=torch.float64) * 0.05).requires_grad_()
    assert torch.autograd.gradcheck(sample, (image, grid, residual), eps=1e-6, atol=1e-4)


def test_sample_checks_the_grid_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, H, W, 2\)"):
        sample(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 4, 4))


def test_labels_put_arms_head_and_torso_where_they_are() -> None:
    rng = np.random.default_rng(0)
    frontal = render_person(sample_identity(rng), sample_garment(rng), CANONICAL_POSE, SIZE)
    labels = source_labels(frontal.keypoints, frontal.person_mask)
    keypoints = frontal.keypoints
    at = lambda point: labels[round(point[1]), round(point[0])]  # noqa: E731
    assert at((keypoints[1] + keypoints[8] + keypoints[11]) / 3) == TORSO_PART
    assert at(keypoints[0]) == HEAD_PART
    assert at((keypoints[6] + keypoints[7]) / 2) in ARM_PARTS
    assert (labels >= 0).sum() == frontal.person_mask.sum()


def test_the_head_never_takes_pixels_below_the_shoulder_line() -> None:
    keypoints = canonical_keypoints(size=SIZE)
    body = body_from_keypoints(keypoints)
    labels = label_parts(body, np.ones((SIZE, SIZE), bool))
    shoulder_y = keypoints[2, 1]
    assert not (labels[int(shoulder_y) + 2 :] == HEAD_PART).any()


def test_canonical_pose_keeps_proportions_and_levels_the_shoulders(person) -> None:
    template = canonical_keypoints(size=SIZE)
    target = canonical_pose(person.keypoints, template, (100.0, 50.0))
    assert np.isfinite(target).all()
    np.testing.assert_allclose(target[1], (100.0, 50.0))
    assert abs(target[2, 1] - target[5, 1]) < 1e-4  # level shoulders
    measured = np.linalg.norm(person.keypoints[5] - person.keypoints[2])
    assert np.linalg.norm(target[5] - target[2]) >= measured - 1e-3
    face = [i for i in (0, 14, 15, 16, 17) if np.isfinite(person.keypoints[i]).all()]
    spread = np.ptp(person.keypoints[face], axis=0).max()
    assert np.ptp(target[face], axis=0).max() == pytest.approx(spread, rel=1e-3)  # same head


def test_complete_arms_fills_only_missing_elbows_and_wrists() -> None:
    keypoints = canonical_keypoints(size=SIZE)
    cut = keypoints.copy()
    cut[[3, 4, 6, 7]] = np.nan
    done = complete_arms(cut)
    assert np.isfinite(done[[3, 4, 6, 7]]).all()
    np.testing.assert_array_equal(np.delete(done, [3, 4, 6, 7], 0), np.delete(cut, [3, 4, 6, 7], 0))
    assert (done[[3, 4], 1] > keypoints[2, 1]).all()  # the arms hang down
