"""Pose maps (eq. 1) and local-descriptor centres and crops (§3.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.posemaps import pose_maps, pose_maps_batch
from hpn import crop_regions, descriptor_count_for_resolution, local_descriptor_centers
from hpn.local_descriptors import DESCRIPTOR_LIMBS


def _keypoints(seed: int = 0, size: float = 32.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(2, size - 3, (18, 2)).astype(np.float32)


def test_pose_map_peaks_at_each_keypoint():
    keypoints = np.round(_keypoints())
    maps = pose_maps(keypoints, 32)
    assert maps.shape == (18, 32, 32) and maps.dtype == torch.float32
    for index, (x, y) in enumerate(keypoints.astype(int)):
        assert maps[index, y, x] == pytest.approx(1.0)
        peak = torch.argmax(maps[index]).item()
        assert divmod(peak, 32) == (y, x)


def test_pose_map_values_follow_the_gaussian_with_sigma_in_cells():
    keypoints = np.full((18, 2), np.nan, dtype=np.float32)
    keypoints[0] = (10.0, 20.0)
    maps = pose_maps(keypoints, 32, sigma=3.2)
    assert maps[0, 20, 13].item() == pytest.approx(np.exp(-9 / (2 * 3.2**2)), rel=1e-5)
    assert maps[0, 24, 10].item() == pytest.approx(np.exp(-16 / (2 * 3.2**2)), rel=1e-5)


def test_missing_keypoint_gives_an_all_zero_map():
    keypoints = _keypoints(size=16.0)
    keypoints[[3, 17]] = np.nan
    maps = pose_maps(keypoints, 16)
    assert maps[3].abs().sum() == 0 and maps[17].abs().sum() == 0
    assert (maps[0].amax() > 0.5).item()
    assert torch.isfinite(maps).all()


def test_image_size_rescales_pixel_keypoints_to_the_grid():
    keypoints = np.full((18, 2), np.nan, dtype=np.float32)
    keypoints[1] = ((12 + 0.5) * 8 - 0.5, (20 + 0.5) * 4 - 0.5)  # cell (12, 20) of a 32 grid
    maps = pose_maps(keypoints, 32, image_size=(128, 256))  # h=128 -> x4, w=256 -> x8
    assert divmod(torch.argmax(maps[1]).item(), 32) == (20, 12)
    assert maps[1, 20, 12].item() == pytest.approx(1.0, abs=1e-5)


def test_batch_version_matches_single_maps_and_checks_shapes():
    keypoints = torch.from_numpy(np.stack([_keypoints(1), _keypoints(2)]))
    batch = pose_maps_batch(keypoints, 32, sigma=2.0)
    assert batch.shape == (2, 18, 32, 32)
    assert torch.equal(batch[1], pose_maps(keypoints[1], 32, sigma=2.0))
    with pytest.raises(ValueError, match=r"\(18, 2\)"):
        pose_maps(np.zeros((17, 2)), 32)
    with pytest.raises(ValueError, match="sigma"):
        pose_maps_batch(keypoints, 32, sigma=0)


@pytest.mark.parametrize("count", [18, 31, 44])
def test_centre_counts_and_order(count):
    keypoints = _keypoints()
    centers = local_descriptor_centers(keypoints, count)
    assert centers.shape == (count, 2) and isinstance(centers, np.ndarray)
    np.testing.assert_array_equal(centers[:18], keypoints)
    if count == 31:
        start, end = DESCRIPTOR_LIMBS[0]
        np.testing.assert_allclose(centers[18], (keypoints[start] + keypoints[end]) / 2)
    if count == 44:
        start, end = DESCRIPTOR_LIMBS[1]
        expected = keypoints[start] + (keypoints[end] - keypoints[start]) * (2 / 3)
        np.testing.assert_allclose(centers[18 + 2 * 1 + 1], expected, rtol=1e-6)


def test_interpolated_centre_is_missing_when_an_end_is_missing():
    keypoints = _keypoints()
    keypoints[3] = np.nan  # right elbow: ends of limbs 0 (2-3) and 1 (3-4)
    centers = torch.as_tensor(local_descriptor_centers(torch.from_numpy(keypoints)[None], 31))
    missing = torch.isnan(centers[0]).any(dim=1).nonzero().flatten().tolist()
    assert missing == [3, 18, 19]
    with pytest.raises(ValueError, match="18, 31, 44"):
        local_descriptor_centers(keypoints, 20)


def test_descriptor_count_by_resolution_follows_the_paper():
    counts = [descriptor_count_for_resolution(r) for r in (64, 128, 256, 512, 1024)]
    assert counts == [18, 18, 31, 31, 44]


def test_crops_are_shifted_inside_the_image_and_missing_centres_are_invalid():
    images = torch.arange(2 * 1 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16)
    centers = torch.tensor(
        [
            [[8.0, 8.0], [0.0, 0.0], [15.0, 15.0]],
            [[float("nan"), 3.0], [5.2, 9.7], [-4.0, 30.0]],
        ]
    )
    crops, valid = crop_regions(images, centers, side=4)
    assert crops.shape == (2, 3, 1, 4, 4)
    assert valid.tolist() == [[True, True, True], [False, True, True]]
    assert torch.equal(crops[0, 0, 0], images[0, 0, 6:10, 6:10])
    assert torch.equal(crops[0, 1, 0], images[0, 0, 0:4, 0:4])  # clamped at the top-left
    assert torch.equal(crops[0, 2, 0], images[0, 0, 12:16, 12:16])  # clamped at bottom-right
    assert torch.equal(crops[1, 1, 0], images[1, 0, 8:12, 3:7])  # rounds (5.2, 9.7) to (5, 10)
    assert torch.equal(crops[1, 2, 0], images[1, 0, 12:16, 0:4])  # far outside: both clamped


def test_crops_pass_gradients_to_the_cropped_pixels_only():
    images = torch.zeros(1, 3, 16, 16, requires_grad=True)
    crops, _ = crop_regions(images, torch.tensor([[[4.0, 4.0]]]), side=4)
    crops.sum().backward()
    assert images.grad[0, :, 2:6, 2:6].eq(1).all()
    assert images.grad.sum() == 3 * 16
