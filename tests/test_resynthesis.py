"""What the own view paints where the old garment is left bare: its colour, grain and seams."""

from __future__ import annotations

import cv2
import numpy as np

from tryon.pipeline.resynthesis import (
    grain_level,
    nearby_skin_colour,
    shaded_skin,
    shadowed_skin_colour,
    soften_seams,
)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(rgb, np.float32)[None, None] / 255.0, cv2.COLOR_RGB2LAB)[0, 0]


def _torso(hip_row: float = 150.0, scale: float = 1.0) -> np.ndarray:
    """(18, 2) keypoints of a frontal torso (neck, shoulders, hips) on a 200-px canvas
    (times ``scale``), the rest missing: each test adds its arms."""
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[1], keypoints[2], keypoints[5] = (100, 40), (70, 40), (130, 40)
    keypoints[8], keypoints[11] = (78, hip_row), (122, hip_row)
    return keypoints * scale


def test_painted_skin_takes_the_face_hue_at_the_nearby_skin_lightness() -> None:
    face = np.array([200.0, 160.0, 135.0], np.float32)
    neck = face * 0.85  # the same skin in the chin's shadow
    painted = shadowed_skin_colour(face, neck)
    assert abs(_lab(painted)[0] - _lab(neck)[0]) < 1.0
    grey_metal = np.array([150.0, 150.0, 150.0], np.float32)  # skin-coloured enough to sample
    painted = shadowed_skin_colour(face, grey_metal)
    face_ab, painted_ab = _lab(face)[1:], _lab(painted)[1:]
    assert np.abs(face_ab - painted_ab).max() < 2.0  # the metal's greyness does not leak in
    assert _lab(painted)[0] >= 0.6 * _lab(face)[0] - 0.5  # nor darkens it without bound
    assert np.array_equal(shadowed_skin_colour(face, None), face)


def test_nearby_skin_is_sampled_next_to_the_hole_only() -> None:
    photo = np.zeros((100, 100, 3), np.uint8)
    photo[:, :50] = (180, 130, 110)  # skin left of the hole
    photo[:, 50:] = (90, 60, 50)  # darker skin far to the right
    hole = np.zeros((100, 100), bool)
    hole[40:60, 30:45] = True
    skin = np.ones((100, 100), bool)
    assert np.allclose(nearby_skin_colour(photo, hole, skin, reach=4), (180, 130, 110))
    assert nearby_skin_colour(photo, hole, np.zeros_like(skin), reach=4) is None


def test_grain_matches_the_noise_of_the_photo() -> None:
    rng = np.random.default_rng(1)
    photo = np.full((200, 200, 3), 150.0) + rng.normal(0, 4.0, (200, 200, 1))
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[0], keypoints[14], keypoints[15] = (100, 100), (80, 90), (120, 90)
    measured = grain_level(photo, keypoints)
    clean = grain_level(np.full_like(photo, 150), keypoints)
    assert clean == 0.0 and 1.5 < measured < 4.5  # white noise, seen through a 1 px blur
    region = np.zeros((200, 200), bool)
    region[50:150, 50:150] = True
    skin = shaded_skin(region.astype(np.float32), np.array([180.0, 130.0, 110.0]), 3.0 / 0.7)
    detail = skin[..., 0] - cv2.GaussianBlur(skin[..., 0], (0, 0), 3.0)
    assert 1.5 < detail[70:130, 70:130].std() < 3.5


def test_seams_are_softened_on_the_painted_side_only() -> None:
    image = np.zeros((50, 50, 3), np.float32)
    image[:, 25:] = 200.0
    painted = np.zeros((50, 50), bool)
    painted[:, 25:] = True
    soft = soften_seams(image, painted, width=2.0)
    assert np.array_equal(soft[:, :25], image[:, :25])  # the photo's side is untouched
    assert 0 < soft[25, 25, 0] < 200  # the painted edge meets its neighbour gradually
    assert np.array_equal(soft[:, 35:], image[:, 35:])  # and its inside keeps the paint


def test_each_limb_is_shaded_towards_its_own_edges() -> None:
    """Two crossed forearms: darker where they meet, lit along each axis."""
    from tryon.pipeline.own_view import bare_body

    keypoints = _torso(130)
    keypoints[3], keypoints[4] = (60, 90), (125, 100)  # right forearm across the belly
    keypoints[6], keypoints[7] = (140, 90), (75, 120)  # left forearm across, lower
    body = bare_body(keypoints, (200, 200))
    skin = shaded_skin(body.roundness, np.array([200.0, 150.0, 120.0]))
    on_axis = skin[96, 100, 0]  # on the right forearm's bone (y = 96.2 at x = 100)
    assert body.arms[96, 100] and body.roundness[96, 100] > 0.9
    edge = skin[np.nonzero(body.arms & (body.roundness < 0.3))][:, 0]
    assert edge.size > 0 and edge.max() < on_axis


def test_the_bare_body_outline_is_smooth_at_the_photos_own_resolution() -> None:
    """Drawn at 320 px and upsampled, a slanted forearm's edge still moves a pixel a row,
    without the small grid's stair steps (nearest upsampling: 0, 0, 0, then 3 or 4)."""
    from tryon.pipeline.own_view import bare_body

    keypoints = _torso(130, scale=5)  # on a 1000-px canvas
    keypoints[3], keypoints[4] = (300, 450), (150, 600)  # a forearm at 45 degrees
    keypoints[6], keypoints[7] = (700, 450), (750, 700)
    body = bare_body(keypoints, (1000, 1000))
    rows = range(480, 570)
    first = [int(np.argmax(body.arms[row, :300])) for row in rows]  # the forearm's left edge
    steps = np.abs(np.diff(first))
    assert steps.max() <= 2 and (steps == 0).mean() < 0.5


def test_two_forearms_folded_one_over_the_other_read_as_two_limbs() -> None:
    """Forearms crossed flat over the belly, overlapping along their length: the front one
    darkens towards its own edge over the back one (the union of the two would be one slab,
    lit all across)."""
    from tryon.pipeline.own_view import bare_body

    keypoints = _torso()
    keypoints[3], keypoints[4] = (65, 100), (140, 100)  # right forearm across, level
    keypoints[6], keypoints[7] = (135, 108), (60, 108)  # left forearm across, 8 px lower
    body = bare_body(keypoints, (200, 200))
    column = body.roundness[100:109, 100]  # from the upper forearm's axis to the lower's
    assert column[0] > 0.9 and column[-1] > 0.9
    assert column.min() < 0.6 and body.arms[100:109, 100].all()  # a dip on continuous skin


def test_the_background_behind_a_band_keeps_the_backgrounds_texture() -> None:
    """A 6-px band along a person's side on grass-like noise: the plate continues the grass
    (same colour, same fine texture), where an inpainted one was a flat smear; off the hidden
    pixels the photo is exact."""
    from tryon.pipeline.resynthesis import background_plate

    rng = np.random.default_rng(0)
    tint = np.array([0, 20, -30])
    photo = np.clip(rng.normal(120, 25, (120, 160, 1)) + tint, 0, 255).astype(np.uint8)
    photo[20:110, 60:100] = (30, 30, 40)  # the person: a dark jacket
    hidden = np.zeros((120, 160), bool)
    hidden[20:110, 54:100] = True  # the person and the band beside it (what the jacket hid)
    plate = background_plate(photo, hidden)
    assert np.array_equal(plate[~hidden], photo[~hidden])
    band = plate[30:100, 54:60].astype(np.float32)
    grass = photo[30:100, 40:54].astype(np.float32)
    assert np.abs(band.mean(axis=(0, 1)) - grass.mean(axis=(0, 1))).max() < 6
    assert band[..., 0].std() > 0.8 * grass[..., 0].std()  # texture, not a smear
    jacket = np.abs(band - (30, 30, 40)).max(axis=-1) < 20
    assert jacket.mean() < 0.01  # none of the jacket


def test_an_arms_two_bones_are_one_surface_at_the_elbow() -> None:
    """On a straight arm the forearm's round end lies on the upper arm: shaded by the limb,
    not by its frontmost bone, the elbow shows no ring."""
    from tryon.pipeline.own_view import bare_body

    keypoints = _torso()
    keypoints[3], keypoints[4] = (40, 90), (20, 140)  # the right arm hangs straight out
    keypoints[6], keypoints[7] = (160, 90), (180, 140)
    body = bare_body(keypoints, (200, 200))
    elbow_cap = body.roundness[86:88, 41:43]  # on the upper arm's axis, inside the cap
    assert body.arms[87, 42] and elbow_cap.min() > 0.9


def test_specks_on_a_known_backdrop_are_found_and_the_body_is_not() -> None:
    from tryon.pipeline.own_view import stray_pieces

    drawn = np.zeros((200, 200), bool)
    drawn[40:180, 60:140] = True  # the person
    drawn[100:104, 10:13] = True  # a crumb of the old sleeve
    drawn[20:40, 90:110] = True  # the head, joined to the body
    strays = stray_pieces(drawn)
    assert strays[100:104, 10:13].all() and strays.sum() == 12
    assert not stray_pieces(drawn[40:180, 60:140]).any()  # one piece: nothing stray


def test_an_enlarged_garment_gets_the_grain_it_lacks_and_no_more() -> None:
    """A product photo enlarged onto a photo is smoother than the photo: the noise it lacks
    is what the photo's grain has beyond the garment's own, zero once it is as noisy."""
    from tryon.pipeline.resynthesis import (
        GRAIN_STRENGTH,
        camera_grain,
        fine_detail,
        missing_grain,
    )

    rng = np.random.default_rng(2)
    noisy = np.clip(np.full((120, 120, 3), 140.0) + rng.normal(0, 5, (120, 120, 1)), 0, 255)
    grain = fine_detail(cv2.cvtColor(noisy.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32))
    everywhere = np.ones((120, 120), bool)
    smooth = np.full((120, 120, 3), 140.0, np.float32)
    assert abs(missing_grain(smooth, everywhere, grain) - grain) < 1e-3
    assert missing_grain(noisy, everywhere, grain) < 0.3 * grain
    assert missing_grain(smooth, np.zeros_like(everywhere), grain) == 0.0  # nothing to measure
    added = camera_grain((120, 120), grain)
    assert np.array_equal(added, camera_grain((120, 120), grain))  # reproducible
    assert abs(fine_detail(added) - GRAIN_STRENGTH * grain) < 0.1 * grain  # what it claims
    assert not camera_grain((8, 8), 0.0).any()


def _face_photo(left: int, right: int, nose_x: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """A 200-px photo whose face box has halves of grey ``left`` and ``right``."""
    keypoints = _torso()
    keypoints[0], keypoints[14], keypoints[15] = (nose_x, 20), (92, 14), (108, 14)
    keypoints[16], keypoints[17] = (84, 16), (116, 16)
    photo = np.full((200, 200, 3), 120, np.uint8)
    photo[:, :100], photo[:, 100:] = left, right
    return photo, keypoints


def test_the_side_light_is_read_off_the_faces_two_halves() -> None:
    from tryon.pipeline.resynthesis import LIGHT_MAX, light_from_face

    assert light_from_face(*_face_photo(150, 150)) == 0.0  # even light: from the camera
    from_right = light_from_face(*_face_photo(110, 170))
    assert 0.3 < from_right <= LIGHT_MAX
    assert light_from_face(*_face_photo(170, 110)) == -from_right
    assert light_from_face(*_face_photo(110, 170, nose_x=106.0)) == 0.0  # a turned face


def test_a_limb_is_brightest_on_its_side_towards_the_light() -> None:
    from tryon.pipeline.own_view import bare_body

    keypoints = _torso(130)
    keypoints[3], keypoints[4] = (60, 60), (60, 130)  # a right forearm hanging straight down
    body = bare_body(keypoints, (200, 200))
    row = 100
    columns = np.nonzero(body.arms[row, :90])[0]
    left, right = columns.min(), columns.max()  # the limb's edges: facing left and right
    assert body.sideways[row, left] < -0.7 and body.sideways[row, right] > 0.7
    colour = np.array([200.0, 150.0, 120.0])
    even = shaded_skin(body.roundness, colour, 0.0, body.sideways, 0.0)[row, :, 0]
    assert abs(even[left] - even[right]) < 2  # from the camera: symmetric
    lit = shaded_skin(body.roundness, colour, 0.0, body.sideways, 0.5)[row, :, 0]
    assert lit[right] > lit[left] + 20 and lit[columns].argmax() > len(columns) // 2
