"""The canonical view fills each hole from its own part, never from the part beside it."""

from __future__ import annotations

import numpy as np

from hpn.repose import _inpaint, fill_holes_by_part

SUIT, SKIN = (30, 35, 60), (200, 150, 120)


def _torso_hole_beside_a_hand() -> tuple[np.ndarray, ...]:
    """A dark torso (part 9) with a hole whose right edge touches a skin hand (part 0)."""
    image = np.zeros((120, 160, 3), np.uint8)
    parts = np.full((120, 160), -1, np.int8)
    parts[10:110, 20:110] = 9
    image[10:110, 20:110] = SUIT
    parts[30:90, 110:150] = 0
    image[30:90, 110:150] = SKIN
    holes = np.zeros((120, 160), bool)
    holes[40:80, 70:110] = True
    image[holes] = (255, 0, 255)  # whatever the warp left there
    hole_parts = np.where(holes, 9, -1).astype(np.int8)
    known = (parts >= 0) & ~holes
    return image, holes, hole_parts, known, parts


def test_a_torso_hole_beside_a_hand_is_filled_with_the_torso_not_the_skin() -> None:
    image, holes, hole_parts, known, parts = _torso_hole_beside_a_hand()
    filled = fill_holes_by_part(image, holes, hole_parts, known, parts)
    distance = np.abs(filled[holes].astype(float) - SUIT).max(axis=1)
    assert np.percentile(distance, 95) <= 6  # suit to the hand's very edge
    assert np.array_equal(filled[~holes], image[~holes])  # nothing else changes
    # Filled from every known pixel, the hand's skin bleeds into the torso.
    baseline = _inpaint(image, holes, known)
    edge = holes.copy()
    edge[:, :100] = False  # the hole's last 10 columns, next to the hand
    assert np.abs(baseline[edge].astype(float) - SUIT).max(axis=1).mean() > 30


def test_a_part_that_shows_no_pixel_of_its_own_is_filled_from_the_others() -> None:
    image, holes, hole_parts, known, parts = _torso_hole_beside_a_hand()
    hole_parts[holes] = 5  # a shin no known pixel shows
    filled = fill_holes_by_part(image, holes, hole_parts, known, parts)
    assert not (filled[holes] == (255, 0, 255)).all(axis=1).any()  # every hole pixel filled
    colours = np.array([SUIT, SKIN], float)
    nearest = np.abs(filled[holes].astype(float)[:, None] - colours).max(axis=2).min(axis=1)
    assert nearest.max() <= 120  # from what is known around, not invented
