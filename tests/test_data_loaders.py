"""Loaders on fixtures in the published layouts: geometry, keypoints, parse ids and flips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.keypoints import FLIP_PERMUTATION
from tryon.data import DeepFashionPairs, VitonPairs, lip, resolve_layout
from tryon.data.geometry import SquareFit, flip_decision
from tryon.errors import InvalidInputError

FIXTURES = Path(__file__).parent / "fixtures"


def _marker_centre(image: torch.Tensor, channel: int) -> np.ndarray:
    """Centroid (x, y) of the pixels saturated in ``channel`` only."""
    pixels = image.numpy()
    others = [c for c in range(3) if c != channel]
    mask = (pixels[channel] > 0.3) & (pixels[others] < -0.3).all(axis=0)
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_square_fit_pads_symmetrically_and_moves_keypoints_with_pixels():
    fit = SquareFit(256, 176, 128)
    assert fit.padding == (0, 0, 40, 40)
    labels = np.zeros((256, 176), np.uint8)
    labels[100, 50] = 7
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[0] = (50, 100)
    ys, xs = np.nonzero(fit.labels(labels))
    moved = fit.keypoints(keypoints)[0]
    assert abs(moved[0] - xs.mean()) <= 0.5 and abs(moved[1] - ys.mean()) <= 0.5
    assert np.isnan(fit.keypoints(keypoints)[1]).all()
    assert SquareFit(5, 2, 5).padding == (0, 0, 1, 2)  # odd pixel on the right
    with pytest.raises(ValueError, match="share a size"):
        fit.image(np.zeros((10, 10, 3), np.uint8))


def test_deepfashion_fixture_keypoints_follow_the_image():
    dataset = DeepFashionPairs(FIXTURES / "deepfashion", "test", resolution=128)
    assert len(dataset) == 2
    item = dataset[0]
    assert item["reference"].shape == (3, 128, 128) and item["target"].shape == (3, 128, 128)
    assert item["reference"].min() >= -1 and item["reference"].max() <= 1
    assert item["reference_keypoints"].shape == (18, 2)
    assert item["reference_keypoints"].dtype == torch.float32
    assert item["reference_name"].endswith("1front.jpg")
    assert "target_person_mask" not in item  # the published layout has no masks
    keypoints = item["reference_keypoints"].numpy()
    np.testing.assert_allclose(keypoints[0], [(88 + 40 + 0.5) / 2 - 0.5, (30 + 0.5) / 2 - 0.5])
    np.testing.assert_allclose(_marker_centre(item["reference"], 0), keypoints[0], atol=0.6)
    np.testing.assert_allclose(_marker_centre(item["reference"], 2), keypoints[4], atol=0.6)
    assert np.isnan(item["target_keypoints"].numpy()[4]).all()


def test_deepfashion_flip_mirrors_images_and_swaps_keypoints():
    plain = DeepFashionPairs(FIXTURES / "deepfashion", "test", 64)[0]
    flipped = DeepFashionPairs(FIXTURES / "deepfashion", "test", 64, flip_probability=1.0)[0]
    torch.testing.assert_close(flipped["reference"], plain["reference"].flip(-1))
    original, mirrored = (
        plain["reference_keypoints"].numpy(),
        flipped["reference_keypoints"].numpy(),
    )
    np.testing.assert_allclose(mirrored[2], [63 - original[5, 0], original[5, 1]])  # R <- L
    np.testing.assert_allclose(mirrored[4], [63 - original[7, 0], original[7, 1]])
    np.testing.assert_allclose(mirrored[0], [63 - original[0, 0], original[0, 1]])
    np.testing.assert_allclose(_marker_centre(flipped["reference"], 0), mirrored[0], atol=0.6)


def test_viton_fixture_items():
    dataset = VitonPairs(FIXTURES / "viton", "test", resolution=32)
    assert len(dataset) == 2
    item = dataset[0]
    for key in ("person", "garment"):
        assert item[key].shape == (3, 32, 32)
    for key in ("person_mask", "garment_region", "garment_mask"):
        assert item[key].shape == (1, 32, 32)
        assert set(item[key].unique().tolist()) <= {0.0, 1.0}
    assert item["parse"].shape == (32, 32) and item["parse"].dtype == torch.int64
    parse = item["parse"]
    torch.testing.assert_close(item["garment_region"][0], (parse == lip.UPPER_CLOTHES).float())
    torch.testing.assert_close(item["person_mask"][0], (parse != 0).float())  # no mask folder
    assert item["garment_mask"].sum() > 0  # JPEG mask thresholded
    # 64x48 padded by 8 columns each side, then halved.
    np.testing.assert_allclose(
        item["person_keypoints"][8].numpy(), [(20 + 8 + 0.5) / 2 - 0.5, 16.75]
    )
    assert item["person_name"] == "00001_00.jpg" and item["garment_name"] == "00001_00.jpg"
    assert torch.isnan(dataset[1]["person_keypoints"][16]).all()  # old-key COCO-18 file


def test_viton_flip_swaps_parse_ids_and_keypoints():
    plain = VitonPairs(FIXTURES / "viton", "test", 48)[1]
    flipped = VitonPairs(FIXTURES / "viton", "test", 48, flip_probability=1.0)[1]
    parse, mirrored = plain["parse"].numpy(), flipped["parse"].numpy()
    np.testing.assert_array_equal(mirrored, lip.FLIP_LUT[parse[:, ::-1]])
    raised = parse == lip.RIGHT_ARM
    assert raised[:, :24].any() and not raised[:, 24:].any()  # raised right arm on image left
    assert (mirrored[:, ::-1][raised] == lip.LEFT_ARM).all()  # ... becomes a left arm
    assert (mirrored == lip.RIGHT_SHOE).sum() == (parse == lip.LEFT_SHOE).sum()
    torch.testing.assert_close(flipped["person"], plain["person"].flip(-1))
    torch.testing.assert_close(flipped["garment"], plain["garment"].flip(-1))
    original = plain["person_keypoints"].numpy()
    expected = original[list(FLIP_PERMUTATION)]
    expected[:, 0] = 47 - expected[:, 0]
    np.testing.assert_allclose(flipped["person_keypoints"].numpy(), expected)


def test_flip_decision_is_reproducible_and_varies_with_epoch():
    draws = [flip_decision(0.5, 3, 0, index) for index in range(200)]
    assert draws == [flip_decision(0.5, 3, 0, index) for index in range(200)]
    assert 60 < sum(draws) < 140
    assert draws != [flip_decision(0.5, 3, 1, index) for index in range(200)]
    with pytest.raises(ValueError, match="flip_probability"):
        flip_decision(1.5, 0, 0, 0)


def test_resolve_layout_accepts_layout_or_parent(tmp_path):
    shutil.copytree(FIXTURES / "viton", tmp_path / "viton")
    assert resolve_layout(tmp_path, "viton") == tmp_path / "viton"
    assert resolve_layout(tmp_path / "viton", "viton") == tmp_path / "viton"
    with pytest.raises(InvalidInputError, match="tryon data synth"):
        resolve_layout(tmp_path, "deepfashion")
    with pytest.raises(InvalidInputError, match="no such"):
        resolve_layout(tmp_path / "missing", "viton")
    with pytest.raises(ValueError, match="kind"):
        resolve_layout(tmp_path, "lip")


def test_viton_missing_file_is_a_user_error(tmp_path):
    shutil.copytree(FIXTURES / "viton", tmp_path / "viton")
    (tmp_path / "viton/test/image-parse-v3/00001_00.png").unlink()
    with pytest.raises(InvalidInputError, match="00001_00"):
        VitonPairs(tmp_path, "test", 32)[0]


def test_viton_parse_of_another_size_is_a_user_error(tmp_path):
    from PIL import Image

    shutil.copytree(FIXTURES / "viton", tmp_path / "viton")
    Image.new("P", (24, 32)).save(tmp_path / "viton/test/image-parse-v3/00001_00.png")
    with pytest.raises(InvalidInputError, match="share a size"):
        VitonPairs(tmp_path, "test", 32)[0]
