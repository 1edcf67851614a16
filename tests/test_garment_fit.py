"""Classical garment region, product-photo landmarks, the part-warp garment fit and the own-view
composite: on renders with exact truth, and on scikit-image's astronaut (a real photo)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from skimage import data

from hpn.body_parts import complete_arms
from hpn.part_warp import source_labels
from tryon.data import lip
from tryon.data.synthetic import (
    product_keypoints,
    render_person,
    render_product,
    sample_garment,
    sample_identity,
    sample_pose,
)
from tryon.pipeline.garment_fit import fit_garment
from tryon.pipeline.own_view import compose_own_view
from tryon.preprocess.garment_landmarks import garment_landmarks
from tryon.preprocess.garment_mask import garment_mask
from tryon.preprocess.garment_region import (
    classical_garment_region,
    close_garment_holes,
    region_plausibility,
)

SIZE = 256


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def astronaut_pose():
    from tryon.preprocess import BlazePoseEstimator

    photo = data.astronaut()
    return photo, BlazePoseEstimator().estimate(photo)


@pytest.fixture(scope="module")
def astronaut_fit(astronaut_pose):
    """The astronaut's completed keypoints, part labels, classical region and a fitted garment."""
    photo, pose = astronaut_pose
    keypoints = complete_arms(pose.keypoints)
    labels = source_labels(keypoints, pose.person_mask)
    old = classical_garment_region(photo, pose.keypoints, pose.person_mask)
    product = render_product(sample_garment(np.random.default_rng(0)), 512)
    mask = garment_mask(product.image)
    fit = fit_garment(product.image, mask, garment_landmarks(mask), keypoints, photo.shape[:2])
    return keypoints, labels, old, product, fit


def test_landmarks_of_synthetic_products_are_near_the_true_layout() -> None:
    rng = np.random.default_rng(11)
    truth = product_keypoints(SIZE)
    shoulder_width = truth[5, 0] - truth[2, 0]
    for _ in range(12):
        garment = sample_garment(rng)
        estimate = garment_landmarks(render_product(garment, SIZE).mask)
        torso = [1, 2, 5, 8, 11]
        error = np.linalg.norm(estimate[torso] - truth[torso], axis=1) / shoulder_width
        assert error.max() < 0.3, (garment.cut, error)
        has_sleeves = garment.cut != "tank"
        assert np.isfinite(estimate[[3, 4, 6, 7]]).all() == has_sleeves


def test_landmarks_refuse_an_empty_mask() -> None:
    from tryon.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="empty"):
        garment_landmarks(np.zeros((64, 64), bool))


def test_fitted_garment_lands_on_the_worn_garment_of_a_render() -> None:
    rng = np.random.default_rng(5)
    scores = []
    for _ in range(6):
        identity, garment = sample_identity(rng), sample_garment(rng)
        worn = render_person(identity, garment, sample_pose(rng), SIZE)
        product = render_product(garment, SIZE)
        fit = fit_garment(
            product.image,
            product.mask,
            garment_landmarks(product.mask),
            complete_arms(worn.keypoints),
            (SIZE, SIZE),
        )
        truth = np.isin(worn.parse, lip.UPPER_GARMENT_IDS)
        scores.append(_iou(fit.alpha > 0.5, truth))
    assert np.mean(scores) > 0.6, scores


def test_classical_region_on_a_render_matches_the_parse() -> None:
    rng = np.random.default_rng(2)
    scores = []
    for _ in range(4):
        person = render_person(sample_identity(rng), sample_garment(rng), sample_pose(rng), SIZE)
        region = classical_garment_region(person.image, person.keypoints, person.person_mask)
        scores.append(_iou(region, np.isin(person.parse, lip.UPPER_GARMENT_IDS)))
    assert np.mean(scores) > 0.6, scores


def test_classical_region_on_the_astronaut_is_plausible(astronaut_pose) -> None:
    photo, pose = astronaut_pose
    region = classical_garment_region(photo, pose.keypoints, pose.person_mask)
    scores = region_plausibility(region, pose.keypoints, pose.person_mask)
    assert scores.plausible(), scores


def test_plausibility_flags_a_region_over_the_face(astronaut_pose) -> None:
    photo, pose = astronaut_pose
    everything = np.ones(photo.shape[:2], bool)
    scores = region_plausibility(everything, pose.keypoints, pose.person_mask)
    assert scores.face_covered == 1.0 and scores.on_person < 0.95 and not scores.plausible()


def test_holes_a_parser_leaves_in_a_dark_suit_close_where_they_are_suit_not_skin() -> None:
    # A dark suit lit from the left; the parser left three holes: suit cloth it took for an
    # arm (in the dim half), a hand and a white cuff. Only the cloth is garment.
    height, width = 200, 300
    light = np.linspace(1.6, 0.6, width, dtype=np.float32)[None, :, None]
    photo = np.clip(np.full((height, width, 3), (24, 22, 30), np.float32) * light, 0, 255)
    photo = photo.astype(np.uint8)
    region = np.zeros((height, width), bool)
    region[20:180, 20:280] = True
    cloth, hand, cuff = np.zeros_like(region), np.zeros_like(region), np.zeros_like(region)
    cloth[90:110, 220:250] = True
    hand[60:100, 60:110] = True
    cuff[130:150, 130:170] = True
    photo[hand], photo[cuff] = (190, 140, 115), (235, 238, 242)
    notch = np.zeros_like(region)
    notch[20:40, 100:130] = True  # open to the outside: not a hole
    parsed = region & ~(cloth | hand | cuff | notch)

    closed = close_garment_holes(parsed, photo)

    assert closed[cloth].all()
    assert not closed[hand].any() and not closed[cuff].any() and not closed[notch].any()
    assert (closed & ~(parsed | cloth)).sum() == 0
    assert close_garment_holes(region, photo).sum() == region.sum()


def test_own_view_keeps_face_and_background_and_recolours_the_torso(
    astronaut_pose, astronaut_fit
) -> None:
    from skimage.metrics import structural_similarity

    from tryon.preprocess.body_boxes import face_box, torso_mask
    from tryon.preprocess.garment_region import dilate

    photo, pose = astronaut_pose
    keypoints, labels, old, product, fit = astronaut_fit
    layers = compose_own_view(photo, keypoints, pose.person_mask, labels, old, fit)

    outside = ~dilate(pose.person_mask, round(0.04 * 512))
    assert np.abs(layers.image.astype(int) - photo.astype(int))[outside].max() == 0
    x0, y0, x1, y1 = face_box(pose.keypoints, photo.shape[:2])
    face_ssim = structural_similarity(
        photo[y0:y1, x0:x1], layers.image[y0:y1, x0:x1], channel_axis=-1, data_range=255
    )
    assert face_ssim >= 0.95
    torso = torso_mask(pose.keypoints, photo.shape[:2]) & (layers.alpha > 0.9)
    garment_colour = np.median(product.image[product.mask], axis=0)
    result_colour = np.median(layers.image[torso], axis=0)
    assert np.abs(result_colour.astype(float) - garment_colour).max() < 30


def _dressed_render():
    """A render (seed 3), its person mask, completed keypoints, part labels and a new garment
    fitted onto it: the own view's inputs with exact truth."""
    rng = np.random.default_rng(3)
    identity, garment = sample_identity(rng), sample_garment(rng)
    worn = render_person(identity, garment, sample_pose(rng), SIZE)
    person = worn.parse > 0
    keypoints = complete_arms(worn.keypoints)
    labels = source_labels(keypoints, person)
    product = render_product(sample_garment(rng), SIZE)
    fit = fit_garment(
        product.image, product.mask, garment_landmarks(product.mask), keypoints, (SIZE, SIZE)
    )
    return worn, person, keypoints, labels, fit


def test_old_garment_below_the_new_hem_keeps_its_pixels() -> None:
    """A coat longer than the new shirt: below the shirt's hem the coat stays, never skin."""
    from hpn.body_parts import HEAD_PART, TORSO_PART
    from tryon.pipeline.own_view import below_hem

    worn, person, keypoints, labels, fit = _dressed_render()
    coat = person & (labels != HEAD_PART)  # everything below the head wears the "coat"
    cropped = fit.alpha * (np.arange(SIZE)[:, None] < keypoints[[8, 11], 1].mean() - 20)
    fit = dataclasses.replace(fit, alpha=cropped.astype(np.float32))  # a cropped top
    layers = compose_own_view(worn.image, keypoints, person, labels, coat, fit)

    under = below_hem(keypoints, fit.alpha, labels) & coat & (layers.alpha == 0)
    under &= labels == TORSO_PART  # the legs were never re-synthesised anyway
    assert under.sum() > 200  # the coat shows below the top
    assert not (layers.uncovered & under).any()
    assert np.array_equal(layers.image[under], worn.image[under])
    assert layers.uncovered.any()  # a bare neckline or forearm is still re-synthesised


def test_a_region_that_strays_onto_skin_keeps_the_skin(astronaut_pose, astronaut_fit) -> None:
    """The old garment's region reaching the chin: the chin keeps its pixels, unpainted."""
    from tryon.preprocess.body_boxes import face_box

    photo, pose = astronaut_pose
    keypoints, labels, old, _, fit = astronaut_fit
    x0, y0, x1, y1 = face_box(pose.keypoints, photo.shape[:2])
    cheeks = np.zeros_like(old)
    cheeks[(y0 + y1) // 2 : y1, x0 + (x1 - x0) // 3 : x1 - (x1 - x0) // 3] = True
    layers = compose_own_view(photo, keypoints, pose.person_mask, labels, old | cheeks, fit)

    bare_cheeks = cheeks & (layers.alpha == 0) & pose.person_mask
    assert bare_cheeks.sum() > 100
    changed = np.abs(layers.image.astype(int) - photo.astype(int)).max(axis=-1) > 0
    assert changed[bare_cheeks].mean() < 0.2


def test_the_face_box_is_never_edited_even_under_the_old_garment(
    astronaut_pose, astronaut_fit
) -> None:
    """A region (and a fitted garment) reaching over the face: the face box stays bit for bit."""
    from tryon.preprocess.body_boxes import face_box

    photo, pose = astronaut_pose
    keypoints, labels, _, _, fit = astronaut_fit
    everything = pose.person_mask.copy()  # a hood: the old garment covers the head too
    grown = dataclasses.replace(fit, alpha=np.maximum(fit.alpha, everything.astype(np.float32)))
    layers = compose_own_view(photo, keypoints, pose.person_mask, labels, everything, grown)

    x0, y0, x1, y1 = face_box(pose.keypoints, photo.shape[:2])
    assert np.array_equal(layers.image[y0:y1, x0:x1], photo[y0:y1, x0:x1])
    assert layers.alpha[y0:y1, x0:x1].max() == 0 and not layers.uncovered[y0:y1, x0:x1].any()
    below = layers.alpha[y1 + 20 : y1 + 40, x0:x1]
    assert below.mean() > 0.5  # the garment starts just under the face box, faded in


def test_a_collar_reaching_into_the_face_box_keeps_the_old_shirt_it_joins(
    astronaut_pose, astronaut_fit
) -> None:
    """A high collar joined to the bare neckline: no skin is painted up to the box's edge."""
    from scipy import ndimage

    from tryon.preprocess.body_boxes import face_box

    photo, pose = astronaut_pose
    keypoints, labels, old, _, fit = astronaut_fit
    x0, y0, x1, y1 = face_box(pose.keypoints, photo.shape[:2])
    collar = np.zeros_like(old)
    collar[(y0 + 2 * y1) // 3 : y1 + 60, (2 * x0 + x1) // 3 : (x0 + 2 * x1) // 3] = True
    collar &= pose.person_mask
    plain = compose_own_view(photo, keypoints, pose.person_mask, labels, old, fit)
    layers = compose_own_view(photo, keypoints, pose.person_mask, labels, old | collar, fit)

    bare_collar = collar & (layers.alpha == 0)
    assert bare_collar[y1:].sum() > 100  # the collar shows below the face box too
    assert np.array_equal(layers.image[bare_collar], photo[bare_collar])
    components, _ = ndimage.label(layers.uncovered)
    near_box = np.zeros_like(old)
    near_box[max(y0 - 3, 0) : y1 + 3, max(x0 - 3, 0) : x1 + 3] = True
    assert not np.isin(components, np.unique(components[near_box])[1:]).any()
    assert plain.uncovered.any() and layers.uncovered.any()  # far from the face it still paints


def test_a_wide_sleeve_over_the_body_shows_the_new_garment_beside_the_bare_arm() -> None:
    """An arm across the torso in a loose sleeve: the bare arm stays in front, slimmer."""
    from hpn.body_parts import ARM_PARTS, HEAD_PART, TORSO_PART
    from tryon.preprocess.body_boxes import torso_polygon

    for seed in range(200):  # a pose whose wrist lies on the torso
        rng = np.random.default_rng(seed)
        identity, garment, pose = sample_identity(rng), sample_garment(rng), sample_pose(rng)
        worn = render_person(identity, garment, pose, SIZE)
        keypoints = complete_arms(worn.keypoints)
        polygon = torso_polygon(worn.keypoints)
        if polygon is None or not np.isfinite(worn.keypoints[[4, 7]]).all():
            continue
        path = polygon.astype(np.float32).reshape(-1, 1, 2)
        wrists = [tuple(map(float, worn.keypoints[j])) for j in (4, 7)]
        if max(cv2.pointPolygonTest(path, w, True) for w in wrists) > 10:
            break
    person = worn.parse > 0
    arms = np.isin(source_labels(keypoints, person), ARM_PARTS).astype(np.uint8)
    person |= cv2.dilate(arms, np.ones((9, 9), np.uint8)) > 0  # a loose sleeve round the arm
    labels = source_labels(keypoints, person)
    coat = person & (labels != HEAD_PART)
    product = render_product(sample_garment(rng), SIZE)
    fit = fit_garment(
        product.image, product.mask, garment_landmarks(product.mask), keypoints, (SIZE, SIZE)
    )
    layers = compose_own_view(worn.image, keypoints, person, labels, coat, fit)

    sleeve_on_body = np.isin(labels, ARM_PARTS) & (fit.part == TORSO_PART) & coat
    assert sleeve_on_body.sum() > 50
    assert (layers.kept_in_front & sleeve_on_body).any()  # the arm itself stays in front
    assert (~layers.kept_in_front & sleeve_on_body & (layers.alpha > 0.5)).any()


def test_old_garment_joined_to_a_shirt_worn_under_it_keeps_its_pixels() -> None:
    """A jacket open over a shirt: the jacket left bare next to the shirt is not painted skin."""
    from scipy import ndimage

    from hpn.body_parts import ARM_PARTS, HEAD_PART, TORSO_PART

    worn, person, keypoints, labels, fit = _dressed_render()
    neck, hips = keypoints[1], keypoints[[8, 11]].mean(axis=0)
    columns = np.abs(np.arange(SIZE)[None, :] - (neck[0] + hips[0]) / 2) < 6
    shirt = person & (labels == TORSO_PART) & columns  # a strip down the chest, not skin
    jacket = person & (labels != HEAD_PART) & ~shirt
    neckline = (np.abs(np.arange(SIZE)[None, :] - (neck[0] + hips[0]) / 2) < 20) & (
        np.arange(SIZE)[:, None] < (neck[1] + hips[1]) / 2
    )  # a deep V-neck: the new top leaves the middle of the chest bare
    fit = dataclasses.replace(fit, alpha=np.where(neckline, 0.0, fit.alpha).astype(np.float32))
    layers = compose_own_view(worn.image, keypoints, person, labels, jacket, fit)

    components, _ = ndimage.label(layers.uncovered & ~np.isin(labels, ARM_PARTS))
    next_to_shirt = ndimage.binary_dilation(shirt, iterations=2)
    assert not (components[next_to_shirt] > 0).any()
    bare_jacket = jacket & (layers.alpha == 0) & next_to_shirt & ~np.isin(labels, ARM_PARTS)
    assert bare_jacket.sum() > 20 and np.array_equal(
        layers.image[bare_jacket], worn.image[bare_jacket]
    )


JACKET = (30, 40, 110)  # navy: far from the render's skin and hair (a dark jacket is "hair")


def test_a_loose_jackets_outline_leaves_no_contour_round_the_new_garment() -> None:
    """The person mask stops 2 px short of a jacket's edge and the garment region 3 px short
    of the mask's: painting the jacket's outline as background takes its last pixels
    too, not only the region's, so no dark contour of the old silhouette stays standing."""
    from hpn.body_parts import HEAD_PART, LEG_PARTS
    from tryon.pipeline.own_view import bare_body

    worn, person, keypoints, labels, fit = _dressed_render()
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25))
    jacket = (cv2.dilate(person.astype(np.uint8), disc) > 0) & ~(labels == HEAD_PART)
    rows = np.arange(SIZE)[:, None]
    jacket &= ~np.isin(labels, LEG_PARTS) & (rows < keypoints[8, 1]) & (rows > keypoints[1, 1])
    photo = worn.image.copy()
    photo[jacket] = JACKET
    ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    short = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = (cv2.erode(jacket.astype(np.uint8), short) > 0) | person
    region = (cv2.erode(jacket.astype(np.uint8), ring) > 0) & cv2.erode(
        mask.astype(np.uint8), ring
    ).astype(bool)
    labels = source_labels(keypoints, mask)
    layers = compose_own_view(photo, keypoints, mask, labels, region, fit)

    outline = bare_body(keypoints, (SIZE, SIZE)).outline
    painted = layers.uncovered & ~outline & region
    assert painted.sum() > 200  # the jacket's sides were painted as background
    beside = jacket & ~outline & (layers.alpha < 0.5) & ~region
    beside &= cv2.dilate(painted.astype(np.uint8), ring) > 0
    left = np.abs(layers.image.astype(int) - JACKET).max(axis=-1) < 12
    assert beside.sum() > 50 and left[beside].mean() < 0.15  # before: 0.997
    far = ~(cv2.dilate(mask.astype(np.uint8), np.ones((21, 21), np.uint8)) > 0)
    assert np.array_equal(layers.image[far], photo[far])  # off the grown mask: the photo


def test_an_enlarged_garment_has_a_smooth_outline_not_the_product_photos_pixel_stairs() -> None:
    """A product photo's 30-degree hem enlarged 6x: read bilinearly the binary mask ramps
    along 6-px teeth; the garment's alpha crosses one half about a pixel from the true line
    and ramps over about one output pixel."""
    from hpn.part_warp import PartWarp
    from tryon.pipeline.garment_fit import outline_alpha

    rows, cols = np.mgrid[0:64, 0:64] + 0.5
    slope = np.tan(np.radians(30))
    mask = rows > 20 + slope * cols
    out_rows, out_cols = np.mgrid[0:384, 0:384].astype(np.float32)
    grid = np.stack([(out_cols + 0.5) / 6 - 0.5, (out_rows + 0.5) / 6 - 0.5], axis=-1)
    coverage = cv2.remap(mask.astype(np.float32), grid[..., 0], grid[..., 1], cv2.INTER_LINEAR)
    warp = PartWarp(grid=grid, coverage=coverage, part=np.where(coverage > 0, 6, -1))
    alpha = outline_alpha(mask, warp)
    truth = (20 + slope * (np.arange(384) + 0.5) / 6) * 6

    def wiggle(image: np.ndarray) -> float:  # off the true line, a constant bias aside
        off = (384 - image.sum(axis=0) - truth)[40:300]  # the column's sub-pixel edge
        return float(np.abs(off - off.mean()).max())

    assert wiggle(alpha) < 1.2  # 0.95
    assert wiggle(coverage) > 2.0  # 2.7: the teeth it replaces
    ramp = ((alpha > 0.05) & (alpha < 0.95)).sum(axis=0)[40:300]
    assert ramp.max() <= 3
    assert (alpha[coverage <= 0] == 0).all()  # nothing drawn where the warp reads no garment


def test_the_own_view_lays_the_photos_grain_on_the_garment_and_the_catalog_view_does_not() -> None:
    """A noisy photo, a smooth garment, old garment left bare (so skin is painted too): in
    the own view the garment carries the photo's grain, on a known clean backdrop it does not.
    """
    from tryon.pipeline.resynthesis import fine_detail, grain_level

    worn, person, keypoints, labels, fit = _dressed_render()
    rng = np.random.default_rng(5)
    photo = np.clip(worn.image + rng.normal(0, 6, (*worn.image.shape[:2], 1)), 0, 255)
    photo = photo.astype(np.uint8)
    smooth = cv2.GaussianBlur(fit.image, (0, 0), 3.0)
    fit = dataclasses.replace(fit, image=smooth)
    old = person & (labels != 4)  # everything below the head: some of it is left bare
    grain = grain_level(photo, keypoints)
    worn_garment = cv2.erode((fit.alpha > 0.99).astype(np.uint8), np.ones((5, 5))) > 0
    for backdrop, expected in ((None, True), (np.full(photo.shape, 230.0), False)):
        layers = compose_own_view(photo, keypoints, person, labels, old, fit, backdrop=backdrop)
        assert layers.uncovered.any()
        grey = cv2.cvtColor(layers.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        detail = fine_detail(grey, worn_garment & ~layers.kept_in_front)
        assert (detail > 0.2 * grain) == expected, (detail, grain)


def _hanging_arms_pose(right_wrist: tuple[float, float] = (90.0, 160.0)) -> np.ndarray:
    """COCO-18 keypoints of a frontal figure on a 256 px canvas, arms hanging at its sides."""
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[:8] = [
        (128, 40), (128, 62), (98, 62), (92, 112), right_wrist, (158, 62), (164, 112), (166, 160),
    ]  # fmt: skip
    keypoints[[8, 11]] = [(112, 170), (144, 170)]
    keypoints[14:18] = [(122, 34), (134, 34), (114, 38), (142, 38)]
    return keypoints


def _suited_figure(seed: int, suit_columns: slice, keypoints: np.ndarray):
    """A figure in a suit (rows 62-200, ``suit_columns``) with a round head on a textured
    backdrop, and a product garment fitted onto ``keypoints``: (photo, suit, head, fit)."""
    photo = np.random.default_rng(seed).integers(150, 230, (SIZE, SIZE, 3)).astype(np.uint8)
    suit = np.zeros((SIZE, SIZE), bool)
    suit[62:200, suit_columns] = True
    head = np.zeros_like(suit)
    cv2.circle(head.view(np.uint8), (128, 38), 22, 1, -1)
    product = render_product(sample_garment(np.random.default_rng(1)), SIZE)
    fit = fit_garment(
        product.image, product.mask, garment_landmarks(product.mask), keypoints, (SIZE, SIZE)
    )
    return photo, suit, head, fit


def test_beyond_hanging_arms_is_outside_the_arm_and_torso_between_shoulder_and_hand() -> None:
    from tryon.pipeline.own_view import beyond_hanging_arms

    beyond = beyond_hanging_arms(_hanging_arms_pose(), (SIZE, SIZE))
    assert beyond[112, 40] and beyond[112, 80] and beyond[112, 215]  # beside the elbows
    assert not beyond[112, 88] and not beyond[112, 128]  # the arm's edge, the torso
    assert beyond[175, 60]  # beside the hand, below the wrist
    assert not beyond[40, 40] and not beyond[230, 40]  # above the shoulders, below the hands
    raised = beyond_hanging_arms(_hanging_arms_pose(right_wrist=(60.0, 80.0)), (SIZE, SIZE))
    assert not raised[:, :128].any() and raised[112, 215]  # a raised forearm: not that side
    cut = _hanging_arms_pose()
    cut[3] = (92, 300)  # the right elbow off the image: an arm the photo does not show
    assert not beyond_hanging_arms(cut, (SIZE, SIZE))[:, :128].any()


def test_a_bulky_suit_beyond_hanging_arms_becomes_background_however_deep() -> None:
    """A space suit reaches 30 px beyond the hanging arms, deeper into the person mask than
    the plate's reach: under a slimmer garment it is the background, not the suit's sides."""
    from hpn.body_parts import HEAD_PART
    from tryon.pipeline.own_view import OwnViewConfig, beyond_hanging_arms

    keypoints = complete_arms(_hanging_arms_pose())
    photo, suit, head, fit = _suited_figure(5, slice(50, 207), keypoints)
    person = suit | head
    photo[suit] = (230, 100, 40)  # orange
    labels = source_labels(keypoints, person)
    region = suit & (labels != HEAD_PART)
    config = OwnViewConfig()
    layers = compose_own_view(photo, keypoints, person, labels, region, fit, config)

    inside = cv2.distanceTransform(person.astype(np.uint8), cv2.DIST_L2, 3)
    deep = inside > config.plate_reach * SIZE + 2
    sides = region & deep & beyond_hanging_arms(keypoints, (SIZE, SIZE)) & (layers.alpha < 0.05)
    assert sides.sum() > 300
    orange = np.abs(layers.image.astype(int) - (230, 100, 40)).max(axis=-1) < 40
    assert orange[sides].mean() < 0.05  # before: 0.94, the suit's sides kept


def test_a_hand_beside_a_crossed_forearm_stays_in_front_of_the_new_garment() -> None:
    """COCO-18 has no hand points: a hand lying on the torso next to the wrist was covered by
    the new garment's torso piece. Real skin near a wrist stays in front; in a grey photo
    (where every grey pixel looks like skin) nothing is taken for a hand."""
    from hpn.body_parts import HEAD_PART

    keypoints = complete_arms(_hanging_arms_pose(right_wrist=(118.0, 150.0)))
    photo, suit, head, fit = _suited_figure(6, slice(80, 177), keypoints)
    hand = np.zeros_like(suit)
    cv2.circle(hand.view(np.uint8), (141, 139), 8, 1, -1)  # off the forearm, on the torso
    photo[suit], photo[head], photo[hand] = (40, 60, 150), (190, 140, 115), (185, 135, 112)
    person = suit | head
    labels = source_labels(keypoints, person)
    region = suit & ~hand & (labels != HEAD_PART)
    assert fit.alpha[hand].mean() > 0.9  # the garment's torso piece lies over the hand

    layers = compose_own_view(photo, keypoints, person, labels, region, fit)
    assert layers.kept_in_front[hand].all()
    assert np.array_equal(layers.image[hand], photo[hand])

    grey = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1)
    layers = compose_own_view(grey, keypoints, person, labels, region, fit)
    assert layers.alpha[hand].mean() > 0.9  # no skin colour to tell a hand by: covered


def test_a_wrist_moves_onto_its_real_hand_ahead_of_the_forearm_only() -> None:
    from tryon.pipeline.own_view import HAND_REACH, reach_hands

    keypoints = complete_arms(_hanging_arms_pose(right_wrist=(125.0, 125.0)))
    hand = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(hand, (152, 112), 8, 1, -1)  # ahead of the right forearm, on the left arm
    labels = source_labels(keypoints, np.ones((SIZE, SIZE), bool))
    moved = reach_hands(keypoints, hand > 0, labels)
    assert np.hypot(*(moved[4] - (152, 112))) == pytest.approx(8, abs=1.5)  # its near edge
    np.testing.assert_array_equal(np.delete(moved, 4, axis=0), np.delete(keypoints, 4, axis=0))

    behind = np.zeros_like(hand)
    cv2.circle(behind, (104, 117), 5, 1, -1)  # on the forearm itself: the other hand
    far = np.zeros_like(hand)
    width = float(np.hypot(*(keypoints[5] - keypoints[2])))
    cv2.circle(far, (125 + round(HAND_REACH * width) + 6, 125), 4, 1, -1)
    theirs = np.zeros_like(hand)
    cv2.circle(theirs, (160, 150), 5, 1, -1)  # ahead of it, but nearer the left wrist
    sideways = np.zeros_like(hand)
    cv2.circle(sideways, (118, 146), 4, 1, -1)  # beside the wrist: a neckline's skin
    for elsewhere in (behind, far, theirs, sideways):
        np.testing.assert_array_equal(
            reach_hands(keypoints, elsewhere > 0, labels)[4], keypoints[4]
        )
    on = np.zeros_like(hand)
    cv2.circle(on, (125, 125), 6, 1, -1)  # the wrist lies on its hand: it stays
    np.testing.assert_array_equal(reach_hands(keypoints, on > 0, labels), keypoints)
    unshown = np.where(labels == 0, 9, labels)  # no right forearm: an arm beyond the frame
    np.testing.assert_array_equal(reach_hands(keypoints, hand > 0, unshown), keypoints)


def test_a_bare_forearm_is_painted_up_to_the_real_hand_not_to_a_misplaced_wrist() -> None:
    """Crossed arms: the estimator's wrist lies on the other forearm, the real hand beside
    it. The painted forearm runs from the elbow to the hand; before, it stopped at the
    wrist and the new garment lay between it and the hand."""
    from hpn.body_parts import HEAD_PART

    keypoints = complete_arms(_hanging_arms_pose(right_wrist=(125.0, 125.0)))
    photo, suit, head, fit = _suited_figure(6, slice(80, 177), keypoints)
    hand = np.zeros_like(suit)
    cv2.circle(hand.view(np.uint8), (152, 112), 8, 1, -1)
    skin = (190, 140, 115)
    photo[suit], photo[head], photo[hand] = (40, 60, 150), skin, (185, 135, 112)
    person = suit | head
    labels = source_labels(keypoints, person)
    region = suit & ~hand & (labels != HEAD_PART)
    on_the_way = (114, 132)  # (row, col) between the elbow and the hand, off the old forearm
    assert fit.alpha[on_the_way] > 0.9  # the garment's torso piece lies there

    layers = compose_own_view(photo, keypoints, person, labels, region, fit)
    assert layers.uncovered[on_the_way] and layers.alpha[on_the_way] == 0
    assert np.abs(layers.image[on_the_way].astype(int) - skin).max() < 60


def test_the_wedge_between_a_hanging_sleeve_and_the_torso_piece_is_closed_on_the_body() -> None:
    """A sleeve spread in the product photo hangs down on the shopper: between its inner edge
    and the torso piece a wedge opens, where the own view painted the old garment as a bare
    flank. It becomes torso piece on the body; a narrow neckline V (one piece's own notch)
    and a gap off the body stay open."""
    from hpn.body_parts import PART_NAMES, TORSO_PART
    from tryon.pipeline.garment_fit import close_piece_gaps

    keypoints = _hanging_arms_pose()  # shoulders 60 px apart: gaps under ~14 px close
    part = np.full((SIZE, SIZE), -1, np.int8)
    part[62:200, 100:157] = TORSO_PART
    neckline = np.array([(123, 62), (133, 62), (128, 90)], np.int32)
    cv2.fillPoly(part, [neckline], -1)
    sleeve = np.array([(157, 62), (175, 62), (185, 120), (166, 120)], np.int32)
    cv2.fillPoly(part, [sleeve], PART_NAMES.index("left_upper_arm"))
    alpha = (part >= 0).astype(np.float32)
    wedge, neck = (100, 160), (66, 128)  # (row, col)
    assert alpha[wedge] == 0 and alpha[neck] == 0

    body = np.ones((SIZE, SIZE), bool)
    closed, closed_part = close_piece_gaps(alpha, part, body, keypoints)
    assert closed[wedge] == 1 and closed_part[wedge] == TORSO_PART
    assert closed[neck] == 0 and closed_part[neck] == -1
    assert (closed >= alpha).all() and closed[:, :100].max() == 0  # nothing taken, none beside

    torso_only = part == TORSO_PART  # the wedge is not body: an arm held away from the side
    closed, _ = close_piece_gaps(alpha, part, torso_only, keypoints)
    assert closed[wedge] == 0


def test_the_old_suit_beside_a_narrower_garments_torso_piece_is_the_garment_not_bare_flanks() -> (
    None
):
    """A suit wider than the new garment: below the armpits the bare body's torso beside the
    garment's torso piece is the garment's (it was painted as two strips of bare skin down
    the sides of a T-shirt); the neckline between the piece's two edges stays open."""
    from hpn.body_parts import HEAD_PART, TORSO_PART
    from hpn.part_warp import PartWarp
    from tryon.pipeline.garment_fit import FittedGarment

    keypoints = np.full((18, 2), np.nan, np.float32)  # arms held out level: free flanks
    keypoints[:8] = [
        (128, 40), (128, 62), (98, 62), (60, 62), (30, 62), (158, 62), (196, 62), (226, 62),
    ]  # fmt: skip
    keypoints[[8, 11]] = [(112, 170), (144, 170)]
    keypoints[14:18] = [(122, 34), (134, 34), (114, 38), (142, 38)]
    photo, suit, head, _ = _suited_figure(7, slice(90, 167), keypoints)
    photo[suit], photo[head] = (40, 60, 150), (190, 140, 115)
    person = suit | head
    labels = source_labels(keypoints, person)
    region = suit & (labels != HEAD_PART)
    part = np.full((SIZE, SIZE), -1, np.int8)
    part[62:190, 110:147] = TORSO_PART
    cv2.fillPoly(part, [np.array([(116, 62), (140, 62), (128, 120)], np.int32)], -1)  # the V
    alpha = (part >= 0).astype(np.float32)
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[alpha > 0] = (200, 40, 40)
    warp = PartWarp(grid=np.zeros((SIZE, SIZE, 2), np.float32), coverage=alpha, part=part)
    fit = FittedGarment(image=image, alpha=alpha, part=part, warp=warp)

    layers = compose_own_view(photo, keypoints, person, labels, region, fit)
    for flank in ((140, 105), (140, 151)):  # (row, col): beside the piece, on the torso
        assert layers.alpha[flank] == 1 and not layers.uncovered[flank]
        assert np.abs(layers.image[flank].astype(int) - (200, 40, 40)).max() < 60
    assert layers.alpha[100, 128] < 0.5  # the neckline
    assert layers.alpha[140, 95] < 0.5  # beyond the bare torso's outline


def test_crumbs_are_the_small_pieces_and_enclosed_by_counts_their_ring() -> None:
    from tryon.pipeline.own_view import CRUMB_AREA, crumbs, enclosed_by

    keypoints = _hanging_arms_pose()  # shoulders 60 px apart: crumbs under 7.2 px
    shown = np.zeros((SIZE, SIZE), bool)
    shown[:40, :] = True  # the background: one large piece
    shown[100, 100:103] = True  # a dash of 3 px
    shown[150:160, 150:160] = True  # a watch, 100 px
    assert CRUMB_AREA * 60**2 < 100
    found = crumbs(shown, keypoints)
    assert found[100, 100:103].all() and found.sum() == 3

    around = np.zeros_like(shown)
    around[90:110, 90:115] = True  # the dash lies in it
    enclosed = enclosed_by(found, around)
    assert enclosed[100, 100:103].all()
    half = around.copy()
    half[:, 101:] = False  # most of its ring outside
    assert not enclosed_by(found, half).any()


def test_a_badges_border_left_out_of_the_region_is_painted_with_the_skin_round_it() -> None:
    """A white line the old garment's region left out (a badge's border) stood alone in the
    skin painted over the old sleeve: a dashed white line on the astronaut's arm."""
    from hpn.body_parts import HEAD_PART

    keypoints = complete_arms(_hanging_arms_pose())
    photo, suit, head, fit = _suited_figure(8, slice(80, 177), keypoints)
    photo[suit], photo[head] = (40, 60, 150), (190, 140, 115)
    person = suit | head
    labels = source_labels(keypoints, person)
    region = suit & (labels != HEAD_PART)
    before = compose_own_view(photo, keypoints, person, labels, region, fit)
    painted = cv2.erode(before.uncovered.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert painted.any()
    row, col = np.argwhere(painted)[0]
    dash = np.zeros_like(suit)
    dash[row, col - 1 : col + 2] = True
    photo[dash] = 255
    layers = compose_own_view(photo, keypoints, person, labels, region & ~dash, fit)
    assert layers.uncovered[dash].all()  # painted as it was without the line, not white
    assert np.abs(layers.image[dash].astype(int) - before.image[dash]).max() < 30


def test_a_chest_broader_than_one_body_does_not_widen_the_garment() -> None:
    """A broad body widens the garment; a person mask whose chest runs on into a friend's
    (arm in arm, one mask) is not one body, and the joints alone size the garment."""
    from tryon.pipeline.garment_fit import MAX_CHEST_RUN, WIDTH_RANGE, body_width_ratio

    keypoints = _hanging_arms_pose()  # shoulders 98-158: 60 px
    garment = np.zeros((SIZE, SIZE), bool)
    garment[62:200, 98:159] = True  # as broad as the shoulders
    ratios = []
    for half_run in (39, 47, round(MAX_CHEST_RUN * 60 / 2) + 5):  # 1.3, 1.58, > 1.6 widths
        person = np.zeros_like(garment)
        person[40:230, 128 - half_run : 128 + half_run + 1] = True
        ratios.append(body_width_ratio(garment, keypoints, person, keypoints))
    assert ratios[0] == pytest.approx(79 / 61, abs=0.02) and ratios[1] == WIDTH_RANGE[1]
    assert ratios[2] == 1.0
