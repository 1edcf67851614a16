"""The light of the photo falls on the new garment; the old garment's prints do not."""

from __future__ import annotations

import numpy as np

from tryon.pipeline.own_view import light_pixels, shading_field

SIZE = (200, 200)


def _lit(colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A garment of ``colour`` under light falling off from left (x1.2) to right (x0.8)."""
    light = np.linspace(1.2, 0.8, SIZE[1], dtype=np.float32)[None, :, None]
    photo = np.clip(np.array(colour, np.float32) * light, 0, 255)
    return np.broadcast_to(photo, (*SIZE, 3)).copy(), np.broadcast_to(light[..., 0], SIZE)


def test_a_badge_on_the_old_garment_casts_no_light_on_the_new_one() -> None:
    photo, light = _lit((220, 90, 40))  # an orange suit
    rows, cols = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    badge = (rows - 100) ** 2 + (cols - 100) ** 2 < 30**2
    photo[badge] = (235, 235, 240)  # a white mission patch
    region = np.ones(SIZE, bool)
    assert not light_pixels(photo, region)[badge].any()
    field = shading_field(photo, region, sigma=4.0, strength=1.0)
    expected = light / np.median(light)
    assert np.abs(field - expected)[badge].max() < 0.06  # the light, not the patch
    assert np.abs(field - expected)[~badge].mean() < 0.02  # the light everywhere else too


def test_a_white_shirt_under_a_dark_jacket_is_no_highlight() -> None:
    photo, _ = _lit((40, 40, 45))  # a charcoal jacket, no hue to tell the shirt by
    photo[:, 90:110] = (240, 240, 240)  # the shirt between its lapels
    region = np.ones(SIZE, bool)
    field = shading_field(photo, region, sigma=4.0, strength=1.0)
    assert field[:, 95:105].max() < 1.1  # the old code lit it at the clip, 1.3


def test_a_garment_that_is_all_print_keeps_its_whole_region() -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)  # no dominant colour at all
    region = np.zeros(SIZE, bool)
    region[50:150, 50:150] = True
    assert np.array_equal(light_pixels(photo, region), region)
    assert np.allclose(shading_field(photo, region, 4.0, 0.0), 1.0)


def test_a_large_photo_is_lit_from_a_shrunk_copy_like_from_the_whole(monkeypatch) -> None:
    """Above SHADING_SIZE the field comes from a shrunk copy: the same light to within 2 %,
    folds a few hundred pixels wide included."""
    import tryon.pipeline.own_view as own_view

    size = (2400, 1800)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
    light = 1.0 + 0.2 * np.sin(cols / 150.0) * np.cos(rows / 230.0)  # folds and falloff
    photo = np.clip(np.array((60.0, 70.0, 140.0)) * light[..., None], 0, 255).astype(np.uint8)
    region = np.zeros(size, bool)
    region[300:2100, 300:1500] = True
    sigma = 0.008 * max(size)
    shrunk = shading_field(photo, region, sigma, 1.0)
    monkeypatch.setattr(own_view, "SHADING_SIZE", max(size))
    whole = shading_field(photo, region, sigma, 1.0)
    inner = np.zeros(size, bool)
    inner[400:2000, 400:1400] = True
    assert shrunk.shape == whole.shape == size
    assert np.abs(shrunk - whole)[inner].max() < 0.02
    assert np.abs(whole - light / np.median(light[region]))[inner].mean() < 0.03
