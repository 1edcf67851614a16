"""Framing: the forward and inverse maps are each other's inverse, and pasting restores pixels."""

from __future__ import annotations

import numpy as np
import pytest

from tryon.preprocess.framing import Framing


def _photo(height: int = 120, width: int = 90) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_box_is_centred_with_margin():
    framing = Framing.around_box((10, 20, 49, 99), (120, 90), size=64, margin=0.1)
    assert framing.side == pytest.approx(80 * 1.2)  # rows 20..99 are 80 pixels
    edges = np.array([[29.5, 59.5], [29.5, 19.5], [29.5, 99.5]], np.float32)
    corners = framing.to_frame(edges)
    np.testing.assert_allclose(corners[0], (31.5, 31.5), atol=1e-4)  # box centre -> frame centre
    # The box's outer edges (80 px apart) fill the frame minus a 10% margin on each side.
    assert corners[2, 1] - corners[1, 1] == pytest.approx(64 / 1.2, rel=1e-5)


def test_to_frame_then_from_frame_is_identity_and_keeps_nan():
    framing = Framing.around_box((5.5, 7.25, 60, 110), (120, 90), size=256, margin=0.2)
    points = np.random.default_rng(1).uniform(-20, 140, (18, 2)).astype(np.float32)
    points[3] = np.nan
    round_trip = framing.from_frame(framing.to_frame(points))
    np.testing.assert_allclose(round_trip, points, atol=1e-3)
    assert np.isnan(round_trip[3]).all()


def test_crop_samples_the_photo_at_mapped_points():
    photo = _photo()
    framing = Framing.around_box((20, 30, 69, 79), photo.shape[:2], size=50, margin=0.0)
    frame = framing.crop(photo)
    assert frame.shape == (50, 50, 3) and frame.dtype == np.uint8
    # Scale 1, integer shift: frame pixel (u, v) is photo pixel (u + 20, v + 30), exactly.
    np.testing.assert_array_equal(frame, photo[30:80, 20:70])


def test_crop_pads_outside_the_photo_with_fill():
    photo = _photo()
    framing = Framing.around_box((0, 0, 89, 119), photo.shape[:2], size=64, margin=0.25)
    frame = framing.crop(photo, fill=255)
    assert (frame[0, 0] == 255).all() and (frame[-1, -1] == 255).all()


def test_paste_back_puts_pixels_back_where_they_were():
    photo = _photo()
    framing = Framing.around_box((20, 30, 69, 79), photo.shape[:2], size=50, margin=0.0)
    edited = framing.crop(photo)
    edited[10:20, 10:20] = (255, 0, 0)  # the "model output": a red square in the frame
    result = framing.paste_back(edited, photo)
    assert result.shape == photo.shape and result.dtype == photo.dtype
    np.testing.assert_array_equal(result[40:50, 30:40], np.broadcast_to((255, 0, 0), (10, 10, 3)))
    untouched = np.ones(photo.shape[:2], bool)
    untouched[40:50, 30:40] = False
    np.testing.assert_array_equal(result[untouched], photo[untouched])


def test_paste_back_of_a_scaled_frame_restores_the_photo():
    photo = np.tile(np.linspace(0, 255, 90, dtype=np.float32), (120, 1)).astype(np.uint8)
    photo = np.repeat(photo[:, :, None], 3, axis=2)  # smooth, so resampling is near-exact
    framing = Framing.around_box((10, 10, 80, 110), photo.shape[:2], size=256, margin=0.1)
    result = framing.paste_back(framing.crop(photo), photo)
    # The photo's outermost pixels were blended with the padding by the upscaling crop.
    error = np.abs(result.astype(int) - photo.astype(int))[1:-1, 1:-1]
    assert error.max() <= 2


def test_paste_back_with_mask_only_changes_masked_pixels():
    photo = _photo()
    framing = Framing.around_box((20, 30, 69, 79), photo.shape[:2], size=50, margin=0.0)
    mask = np.zeros((50, 50), bool)
    mask[:, 25:] = True
    result = framing.paste_back(np.zeros((50, 50, 3), np.uint8), photo, mask=mask)
    assert (result[30:80, 46:70] == 0).all()
    np.testing.assert_array_equal(result[:, :44], photo[:, :44])


def test_from_keypoints_and_mask():
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[[0, 10]] = [(40, 20), (50, 100)]
    framing = Framing.from_keypoints(keypoints, (120, 90), size=64)
    framed = framing.to_frame(keypoints[[0, 10]])
    assert framed[:, 1].min() > 0 and framed[:, 1].max() < 63
    mask = np.zeros((120, 90), bool)
    mask[30:60, 10:20] = True
    assert Framing.from_mask(mask, 32).centre == (14.5, 44.5)
    with pytest.raises(ValueError, match="empty"):
        Framing.from_mask(np.zeros((8, 8), bool), 32)
    with pytest.raises(ValueError, match="made for a"):
        framing.crop(np.zeros((10, 10, 3), np.uint8))
