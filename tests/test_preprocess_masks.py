"""Product-garment masks on synthetic catalog shots and the keypoint-geometry garment region."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon.errors import InvalidInputError
from tryon.preprocess.garment_mask import garment_mask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _tshirt_polygon(size: int) -> np.ndarray:
    """A T-shirt outline (body, short sleeves, neckline) in a size x size frame."""
    s = size / 256
    points = [
        (96, 40), (112, 52), (144, 52), (160, 40),  # neckline
        (206, 62), (228, 110), (196, 122), (184, 100),  # left sleeve
        (186, 224), (70, 224), (72, 100), (60, 122), (28, 110), (50, 62),  # body, right sleeve
    ]  # fmt: skip
    return (np.array(points, np.float64) * s).round().astype(np.int32)


def _product_shot(size: int, garment_rgb, background_rgb, outline: int, seed: int = 0):
    """A catalog photo: flat background with sensor noise, a garment with a faint outline and
    a soft drop shadow; returns (image, true garment mask)."""
    rng = np.random.default_rng(seed)
    polygon = _tshirt_polygon(size)
    truth = np.zeros((size, size), np.uint8)
    cv2.fillPoly(truth, [polygon], 1)
    image = np.empty((size, size, 3), np.float32)
    image[:] = background_rgb
    shadow = cv2.GaussianBlur(np.roll(truth, (4, 3), axis=(0, 1)).astype(np.float32), (0, 0), 4)
    image -= 10.0 * shadow[..., None]  # soft shadow down-right of the garment
    image[truth > 0] = garment_rgb
    edge = cv2.morphologyEx(truth, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    image[edge] -= outline  # the seam / fold that outlines a white garment
    image += rng.normal(0, 1.5, image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), truth > 0


@pytest.mark.parametrize(("background", "outline"), [(244, 14), (250, 10)])
def test_white_shirt_on_white_background(background, outline):
    # 250 on 250: the shirt differs from the sweep only by its outline and shadow.
    image, truth = _product_shot(320, (250, 250, 250), (background,) * 3, outline=outline)
    mask = garment_mask(image)
    assert mask.shape == truth.shape and mask.dtype == bool
    assert _iou(mask, truth) > 0.9
    # The same photo defeats a bare threshold against the background colour.
    distance = np.abs(image.astype(np.int16) - background).max(axis=2)
    assert _iou(distance > 12, truth) < 0.1


def test_coloured_garment_on_grey_background_non_square():
    image, truth = _product_shot(300, (30, 60, 160), (200, 200, 200), outline=0, seed=1)
    image, truth = (
        np.pad(image, ((0, 0), (60, 0), (0, 0)), mode="edge"),
        np.pad(truth, ((0, 0), (60, 0))),
    )
    assert _iou(garment_mask(image), truth) > 0.95


def test_plain_background_without_garment_is_an_error():
    blank = np.full((200, 160, 3), 240, np.uint8)
    with pytest.raises(InvalidInputError, match="no garment found"):
        garment_mask(blank)


def _standing_person() -> np.ndarray:
    """COCO-18 keypoints of a frontal person in a 256x256 frame, arms slightly out."""
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]] = [
        (128, 40), (128, 70), (100, 70), (90, 110), (84, 150), (156, 70), (166, 110),
        (172, 150), (110, 150), (108, 195), (106, 240), (146, 150), (148, 195), (150, 240),
    ]  # fmt: skip
    return keypoints


def test_geometry_region_covers_torso_and_upper_arms_only():
    from tryon.preprocess.body_geometry import upper_clothes_region

    keypoints = _standing_person()
    region = upper_clothes_region(keypoints, (256, 256))
    assert region.dtype == bool and region.shape == (256, 256)
    for x, y in [(128, 110), (105, 75), (150, 145), (93, 95), (163, 95)]:  # torso, upper arms
        assert region[y, x], (x, y)
    for x, y in [(128, 40), (107, 200), (84, 150), (172, 150), (20, 100)]:  # head, leg, wrists
        assert not region[y, x], (x, y)
    # A sleeveless cut loses the upper arms; a long sleeve reaches the wrists.
    from tryon.preprocess.body_geometry import GarmentGeometry

    assert not upper_clothes_region(keypoints, (256, 256), GarmentGeometry(sleeve_length=0))[
        100, 91
    ]
    assert upper_clothes_region(keypoints, (256, 256), GarmentGeometry(sleeve_length=2))[148, 84]


def test_geometry_region_is_mirror_symmetric_and_scales():
    from core.keypoints import flip_keypoints
    from tryon.preprocess.body_geometry import upper_clothes_region

    keypoints = _standing_person()
    region = upper_clothes_region(keypoints, (256, 256))
    mirrored = upper_clothes_region(flip_keypoints(keypoints, 256), (256, 256))
    assert _iou(region, mirrored[:, ::-1]) > 0.97
    doubled = upper_clothes_region(keypoints * 2 + 0.5, (512, 512))
    assert (
        _iou(cv2.resize(region.astype(np.uint8), (512, 512), cv2.INTER_NEAREST) > 0, doubled) > 0.95
    )


def test_geometry_region_without_hips_extends_down_from_shoulders():
    from tryon.preprocess.body_geometry import upper_clothes_region

    keypoints = _standing_person()
    keypoints[[8, 11]] = np.nan  # a half-body photo
    region = upper_clothes_region(keypoints, (256, 256))
    rows = np.nonzero(region[:, 128])[0]
    assert 55 <= rows.min() <= 70 and 150 <= rows.max() <= 190


def test_geometry_region_needs_both_shoulders():
    from tryon.preprocess.body_geometry import upper_clothes_region

    keypoints = _standing_person()
    keypoints[5] = np.nan
    with pytest.raises(InvalidInputError, match="needs both shoulders"):
        upper_clothes_region(keypoints, (256, 256))


def test_cli_garment_mask(tmp_path, capsys):
    from tryon.cli import main
    from tryon.imageio import load_image, save_image

    image, truth = _product_shot(200, (250, 250, 250), (244, 244, 244), outline=14)
    photo = save_image(tmp_path / "shirt.png", image)
    out = tmp_path / "masks" / "shirt_mask.png"
    main(["garment-mask", str(photo), "--out", str(out)])
    assert _iou(load_image(out)[:, :, 0] > 127, truth) > 0.9
    assert "garment covers" in capsys.readouterr().out
