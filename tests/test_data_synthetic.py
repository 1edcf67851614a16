"""The synthetic generator: determinism, exact ground truth, the canonical pose, resumability."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from tryon.data import lip
from tryon.data.synthetic import (
    CANONICAL_POSE,
    LimbPose,
    SynthSettings,
    canonical_keypoints,
    render_person,
    render_product,
    sample_garment,
    sample_identity,
    sample_pose,
    synthesize,
)
from tryon.data.synthetic.params import TEXTURE_KINDS, TextureParams
from tryon.data.synthetic.textures import garment_texture
from tryon.errors import InvalidInputError


def _draw(seed: int):
    rng = np.random.default_rng(seed)
    return sample_identity(rng), sample_garment(rng), sample_pose(rng)


def _solid(garment, colour):
    texture = TextureParams("solid", (colour, colour, colour), seed=garment.texture.seed)
    return dataclasses.replace(garment, texture=texture)


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _truth_and_photo(folder: Path, truth: str, name: str, photo: str):
    """A try-on truth (``truth`` folder) and the photo it is compared with, as BGR arrays,
    their parse maps, and where either shows an upper garment."""
    truth_image = cv2.imread(str(folder / truth / name))
    photo_image = cv2.imread(str(folder / "image" / photo))
    truth_parse = np.asarray(Image.open(folder / f"{truth}-parse" / name))
    photo_parse = np.asarray(Image.open(folder / "image-parse-v3" / photo))
    garment = np.isin(truth_parse, lip.UPPER_GARMENT_IDS) | np.isin(
        photo_parse, lip.UPPER_GARMENT_IDS
    )
    return truth_image, photo_image, truth_parse, photo_parse, garment


def test_same_seed_same_bytes():
    identity, garment, pose = _draw(5)
    first, second = render_person(identity, garment, pose, 96), render_person(*_draw(5), 96)
    assert first.image.tobytes() == second.image.tobytes()
    assert first.parse.tobytes() == second.parse.tobytes()
    np.testing.assert_array_equal(first.keypoints, second.keypoints)
    assert render_person(*_draw(6), 96).image.tobytes() != first.image.tobytes()


def test_worker_count_does_not_change_the_data_set(tmp_path):
    settings = SynthSettings(identities=8, poses=1, size=64, seed=11)
    synthesize(tmp_path / "one", settings, workers=1, progress=False)
    synthesize(tmp_path / "two", settings, workers=2, progress=False)
    one, two = _tree_digest(tmp_path / "one"), _tree_digest(tmp_path / "two")
    assert one == two
    assert "viton/test/tryon-gt/id00006_pose00__id00007_cloth.png" in one


@pytest.mark.parametrize("seed", range(6))
def test_keypoints_lie_inside_the_person_mask(seed):
    identity, garment, pose = _draw(seed)
    for chosen in (pose, CANONICAL_POSE):
        sample = render_person(identity, garment, chosen, 128)
        visible = sample.keypoints[~np.isnan(sample.keypoints).any(axis=1)]
        columns, rows = np.round(visible).astype(int).T
        assert sample.person_mask[rows, columns].all()
        np.testing.assert_array_equal(sample.person_mask, sample.parse != lip.BACKGROUND)


@pytest.mark.parametrize("seed", range(6))
def test_upper_clothes_parse_region_is_exactly_the_garment_drawn(seed):
    identity, garment, pose = _draw(seed)
    red = render_person(identity, _solid(garment, (250, 10, 10)), pose, 128)
    blue = render_person(identity, _solid(garment, (10, 10, 250)), pose, 128)
    changed = np.abs(red.image.astype(int) - blue.image.astype(int)).max(axis=2) > 8
    region = np.isin(red.parse, lip.UPPER_GARMENT_IDS)
    assert region.sum() > 50
    assert not (region & ~changed).any()  # every garment-labelled pixel shows the garment
    near_region = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    # The garment's colour shows nowhere else, except its anti-aliased rim and rare sub-pixel
    # slivers (a gap between two crossed arms narrower than a pixel is labelled arm by the
    # majority vote yet shows a little fabric): at most 0.1% of the pixels.
    assert (changed & ~near_region).sum() <= 0.001 * changed.size


def test_arm_in_front_of_torso_covers_the_garment_in_image_and_parse():
    identity, garment, _ = _draw(1)
    folded = LimbPose(swing=-0.1, bend=-1.7, upper_scale=0.85)
    pose = dataclasses.replace(CANONICAL_POSE, right_arm=folded)
    red = render_person(identity, _solid(garment, (250, 10, 10)), pose, 128)
    blue = render_person(identity, _solid(garment, (10, 10, 250)), pose, 128)
    elbow, wrist = red.keypoints[3], red.keypoints[4]
    column, row = np.round((elbow + wrist) / 2).astype(int)
    assert red.parse[row, column] == lip.RIGHT_ARM
    assert (red.image[row, column] == blue.image[row, column]).all()
    canonical = render_person(identity, garment, CANONICAL_POSE, 128)
    assert np.isin(canonical.parse[row, column], lip.UPPER_GARMENT_IDS)  # garment under the arm


def test_canonical_pose_is_the_same_for_everyone_up_to_proportions():
    directions = []
    for seed in range(5):
        keypoints = canonical_keypoints(_draw(seed)[0].body, 256)
        assert not np.isnan(keypoints).any()
        assert keypoints[1, 0] == pytest.approx(127.5)  # centred
        limbs = [(2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13), (1, 0)]
        vectors = np.array([keypoints[b] - keypoints[a] for a, b in limbs])
        directions.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    for other in directions[1:]:
        np.testing.assert_allclose(other, directions[0], atol=1e-4)
    identity, garment, _ = _draw(2)
    frontal = render_person(identity, garment, CANONICAL_POSE, 256)
    np.testing.assert_allclose(frontal.keypoints, canonical_keypoints(identity.body, 256))


def test_the_generator_still_draws_the_canonical_pose_the_shipped_models_record():
    """Changing the generator's canonical pose must be a decision: update the manifests too."""
    import json
    from pathlib import Path

    from core.keypoints import DEFAULT_CANONICAL_POSE

    np.testing.assert_array_equal(canonical_keypoints(size=256), DEFAULT_CANONICAL_POSE.keypoints)
    manifest = Path(__file__).parent.parent / "tryon" / "demo" / "models" / "model_index.json"
    recorded = json.loads(manifest.read_text())["canonical_pose"]
    np.testing.assert_array_equal(
        np.asarray(recorded["keypoints"], np.float32), DEFAULT_CANONICAL_POSE.keypoints
    )


def test_product_photo_is_the_garment_on_white():
    garment = _draw(3)[1]
    product = render_product(garment, 96)
    assert product.image.shape == (96, 96, 3) and product.mask.dtype == bool
    assert 0.05 < product.mask.mean() < 0.7
    outside = ~cv2.dilate(product.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert (product.image[outside] == 255).all()


@pytest.mark.parametrize("kind", TEXTURE_KINDS)
def test_every_texture_kind_renders_offline(kind):
    images = {"image": "astronaut.png", "print": "logo.png"}
    params = TextureParams(
        kind, ((200, 30, 30), (20, 20, 200), (20, 200, 20)), image=images.get(kind, ""), word="HPN"
    )
    texture = garment_texture(params, 64, (0.5, 0.4, 0.3))
    assert texture.shape == (64, 64, 3) and texture.dtype == np.uint8
    assert texture.std() > 0


@pytest.mark.parametrize("size", [64, 1024])
def test_supported_size_range(size):
    sample = render_person(*_draw(4), size)
    assert sample.image.shape == (size, size, 3) and sample.parse.shape == (size, size)
    assert sample.person_mask.mean() > 0.03


def test_resume_redoes_only_missing_identities_and_refuses_other_settings(tmp_path):
    settings = SynthSettings(identities=3, poses=2, size=64, seed=2)
    root = tmp_path / "set"
    synthesize(root, settings, progress=False)
    before = _tree_digest(root)
    (root / ".synth-progress/id00001.json").unlink()
    (root / "viton/train/image/id00001_pose00.png").unlink()
    result = synthesize(root, settings, progress=False)
    assert _tree_digest(root) == before
    assert result.rendered_identities == 1 and result.rendered_images == 3
    assert result.counts["train"]["deepfashion_pairs"] == 2 * (2 * 1 + 2)  # K(K-1) + K per identity
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["complete"] and manifest["split"]["test"] == ["id00002"]
    with pytest.raises(InvalidInputError, match="other settings"):
        synthesize(root, dataclasses.replace(settings, seed=3), progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not empty"):
        synthesize(tmp_path / "other", settings, progress=False)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="size"):
        SynthSettings(identities=2, poses=1, size=32)
    with pytest.raises(ValueError, match="identities"):
        SynthSettings(identities=0, poses=1, size=64)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "set"
    synthesize(root, SynthSettings(identities=8, poses=1, size=64, seed=4), progress=False)
    return root


def test_tryon_truth_is_the_frontal_person_with_the_other_garment(small_set):
    from tryon.data import VitonPairs

    unpaired = VitonPairs(small_set, "test", 64, pairs_file="test_unpaired_pairs.txt")
    own = VitonPairs(small_set, "test", 64)
    item = unpaired[0]
    assert (item["person_name"], item["garment_name"]) == (
        "id00006_pose00.png",
        "id00007_cloth.png",
    )
    frontal = next(
        own[i] for i in range(len(own)) if own[i]["person_name"] == "id00006_frontal.png"
    )
    garment_ids = torch.tensor(lip.UPPER_GARMENT_IDS)
    either = torch.isin(item["tryon_target_parse"], garment_ids) | torch.isin(
        frontal["parse"], garment_ids
    )
    rim = cv2.dilate(either.numpy().astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    same = (item["tryon_target"] == frontal["person"]).all(dim=0).numpy()
    assert same[~rim].all()  # only the garment (and its anti-aliased rim) differs
    assert not same[either.numpy()].all()


def test_own_view_truth_is_the_posed_person_with_the_other_garment(small_set):
    truth, posed, _, _, garment = _truth_and_photo(
        small_set / "viton" / "test",
        "tryon-gt-own",
        "id00006_pose00__id00007_cloth.png",
        "id00006_pose00.png",
    )
    rim = cv2.dilate(garment.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    same = (truth == posed).all(axis=2)
    assert same[~rim].all()  # same person, pose, light and background
    assert not same[garment].all()  # another garment


def test_deepfashion_view_of_a_synth_set_matches_the_viton_view(small_set):
    from tryon.data import DeepFashionPairs, VitonPairs

    pairs = DeepFashionPairs(small_set, "train", 64)
    assert len(pairs) == 6 * 1  # 6 train identities, K(K-1) + K = 1 pair each (K = 1)
    item = pairs[0]
    viton = VitonPairs(small_set, "train", 64)
    same_image = next(
        viton[i] for i in range(len(viton)) if viton[i]["person_name"] == item["target_name"]
    )
    torch.testing.assert_close(item["target"], same_image["person"])
    torch.testing.assert_close(
        item["target_keypoints"], same_image["person_keypoints"], atol=0.51, rtol=0
    )
    torch.testing.assert_close(item["target_person_mask"], same_image["person_mask"])


# -- the photographic style (SynthSettings(style="photo")) -----------------------------------


def _photo_draws(count: int, seed: int = 0):
    """(identity, garment, pose, shot) of the first posed photo of ``count`` identities."""
    from tryon.data.synthetic import draw_identity

    for index in range(count):
        drawn = draw_identity(seed, index, 1, "photo")
        yield drawn.identity, drawn.garment, drawn.poses[0], drawn.photo.posed[0]


def _spread(shot, skeleton_unit: float, size: int) -> int:
    """How far (pixels) a change of the garment can reach in a photo of ``shot``: the edge
    shading beside a part boundary, the defocus disc and half the motion streak."""
    from tryon.data.synthetic.photo import REFERENCE_SIZE
    from tryon.data.synthetic.render import EDGE_SHADE_WIDTH

    scale = size / REFERENCE_SIZE
    blur = shot.camera.defocus * scale + shot.camera.motion * scale / 2
    return int(np.ceil(EDGE_SHADE_WIDTH * skeleton_unit + blur)) + 1


def _reach(region: np.ndarray, spread: int, jpeg: bool) -> np.ndarray:
    """``region`` grown by ``spread`` pixels and, for a JPEG photo, to every 16x16 block it
    touches (4:2:0 chroma), plus 2 pixels of the decoder's chroma upsampling."""
    grown = cv2.dilate(region.astype(np.uint8), np.ones((2 * spread + 1,) * 2, np.uint8)) > 0
    if not jpeg:
        return grown
    height, width = grown.shape
    blocks = np.zeros_like(grown)
    for top in range(0, height, 16):
        for left in range(0, width, 16):
            if grown[top : top + 16, left : left + 16].any():
                blocks[top : top + 16, left : left + 16] = True
    return cv2.dilate(blocks.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def _framed_unit(identity, pose, shot, size: int) -> float:
    from tryon.data.synthetic.photo import framing_window
    from tryon.data.synthetic.skeleton import crop_skeleton, frame_skeleton

    skeleton = frame_skeleton(identity.body, pose, size)
    window = framing_window(shot.framing, skeleton, identity.body, size)
    return crop_skeleton(skeleton, window, size).px_per_unit


def test_photo_style_is_deterministic_and_independent_of_workers(tmp_path):
    settings = SynthSettings(identities=6, poses=2, size=64, seed=3, style="photo")
    synthesize(tmp_path / "one", settings, workers=1, progress=False)
    synthesize(tmp_path / "two", settings, workers=2, progress=False)
    one, two = _tree_digest(tmp_path / "one"), _tree_digest(tmp_path / "two")
    assert one == two
    flat = tmp_path / "flat"
    synthesize(flat, dataclasses.replace(settings, style="flat"), progress=False)
    flat_digest = _tree_digest(flat)
    photo_images = [name for name in one if "/image/" in name]
    assert all(one[name] != flat_digest[name] for name in photo_images)
    manifest = json.loads((tmp_path / "one" / "synthetic.json").read_text())
    assert manifest["settings"]["style"] == "photo"
    shots = manifest["identities"]["id00000"]["shots"]
    assert set(shots) == {"id00000_pose00.png", "id00000_pose01.png", "id00000_frontal.png"}
    assert shots["id00000_frontal.png"]["framing"] == "frame"  # uncropped
    assert shots["id00000_frontal.png"]["occluder"] is None
    # a flat data set's manifest is the one from before styles existed: no "style" key, so
    # older folders resume; a photo run refuses a flat folder
    assert "style" not in json.loads((flat / "synthetic.json").read_text())["settings"]
    with pytest.raises(InvalidInputError, match="other settings"):
        synthesize(flat, settings, progress=False)


def test_photo_style_draws_the_flat_people_and_no_photo_of_a_person():
    from tryon.data.synthetic import draw_identity
    from tryon.data.synthetic.params import PERSON_PHOTOS

    for index in range(200):
        flat, photo = draw_identity(1, index, 2), draw_identity(1, index, 2, "photo")
        assert flat.photo is None and photo.photo is not None
        assert (photo.identity, photo.garment, photo.poses) == (
            flat.identity, flat.garment, flat.poses,
        )  # fmt: skip
        assert flat.garment.texture.image not in PERSON_PHOTOS
        for shot in (*photo.photo.posed, photo.photo.frontal):
            assert shot.backdrop.image not in PERSON_PHOTOS
            assert shot.occluder is None or shot.occluder.image not in PERSON_PHOTOS


@pytest.mark.parametrize("style", ["flat", "photo"])
def test_no_style_ever_reads_a_photo_of_a_person(tmp_path, monkeypatch, style):
    from tryon.data.synthetic import photo, render, textures
    from tryon.data.synthetic.params import PERSON_PHOTOS

    for cache in (
        textures.bundled_image,
        textures.garment_texture,
        textures.background_image,
        render._garment_material,
        photo._source_pyramid,
    ):
        cache.cache_clear()
    read = []
    original = cv2.imread

    def recording_imread(path, *args):
        read.append(Path(path).name)
        return original(path, *args)

    monkeypatch.setattr(textures.cv2, "imread", recording_imread)
    settings = SynthSettings(identities=24, poses=2, size=64, seed=5, style=style)
    synthesize(tmp_path / "set", settings, workers=1, progress=False)
    assert len(set(read)) >= 3  # fabrics (and, in photo style, backdrops, patches) were read
    assert not set(read) & PERSON_PHOTOS


def test_source_lists_exclude_photos_of_people():
    from tryon.data.synthetic import params, style

    assert {"astronaut.png", "camera.png", "coins.png"} <= params.PERSON_PHOTOS
    sources = set(style.BACKDROP_PHOTOS) | set(params.COLOUR_IMAGES) | set(params.GREY_IMAGES)
    assert not sources & params.PERSON_PHOTOS
    assert len(style.BACKDROP_PHOTOS) >= 8


def test_photo_render_garment_region_is_exact_and_nothing_else_changes():
    """Two photos of one shot that differ only in the garment differ only around it (by the
    blur, the edge shading and the JPEG blocks): background, light, framing, noise and
    occluder are the same, and every garment-labelled pixel shows the garment."""
    size, checked = 128, 0
    for identity, garment, pose, shot in _photo_draws(12, seed=7):
        red = render_person(identity, _solid(garment, (250, 10, 10)), pose, size, shot)
        blue = render_person(identity, _solid(garment, (10, 10, 250)), pose, size, shot)
        np.testing.assert_array_equal(red.parse, blue.parse)
        region = np.isin(red.parse, lip.UPPER_GARMENT_IDS)
        changed = (red.image != blue.image).any(axis=2)
        if region.sum() > 20:
            difference = np.abs(red.image.astype(int) - blue.image.astype(int)).max(axis=2)
            assert (difference[region] > 8).mean() > 0.99
            checked += 1
        spread = _spread(shot, _framed_unit(identity, pose, shot, size), size)
        outside = ~_reach(region, spread, bool(shot.camera.jpeg_quality))
        assert not changed[outside].any()
    assert checked >= 8


def test_photo_keypoints_are_missing_exactly_when_outside_the_frame():
    from tryon.data.synthetic.photo import framing_window
    from tryon.data.synthetic.skeleton import crop_skeleton, frame_skeleton

    size, cut = 128, 0
    for identity, garment, pose, shot in _photo_draws(40, seed=2):
        shot = dataclasses.replace(shot, occluder=None)
        sample = render_person(identity, garment, pose, size, shot)
        skeleton = frame_skeleton(identity.body, pose, size)
        window = framing_window(shot.framing, skeleton, identity.body, size)
        expected = crop_skeleton(skeleton, window, size).keypoints  # NaN: face turned away
        outside = ((expected < -0.5) | (expected > size - 0.5)).any(axis=1)
        missing = np.isnan(sample.keypoints).any(axis=1)
        np.testing.assert_array_equal(missing, np.isnan(expected).any(axis=1) | outside)
        np.testing.assert_array_equal(sample.keypoints[~missing], expected[~missing])
        cut += int(outside.sum())
        # the parse and the mask are framed like the keypoints: each visible joint is on the
        # person (no occluder here)
        columns, rows = np.round(sample.keypoints[~missing]).astype(int).T
        assert sample.person_mask[rows, columns].all()
    assert cut >= 20  # crops did cut people: legs, arms


def test_photo_frontal_is_full_body_and_product_stays_a_studio_shot():
    from tryon.data.synthetic import draw_identity

    for index in range(4):
        drawn = draw_identity(0, index, 1, "photo")
        frontal = render_person(
            drawn.identity, drawn.garment, CANONICAL_POSE, 128, drawn.photo.frontal
        )
        np.testing.assert_allclose(frontal.keypoints, canonical_keypoints(drawn.identity.body, 128))
        flat_product = render_product(drawn.garment, 96)
        product = render_product(drawn.garment, 96, drawn.photo.product_gains)
        np.testing.assert_array_equal(product.mask, flat_product.mask)
        near = cv2.dilate(product.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert (product.image[~near] == 255).all()
        assert (product.image[product.mask] != flat_product.image[product.mask]).any()


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("photo") / "set"
    settings = SynthSettings(identities=8, poses=3, size=64, seed=4, style="photo")
    synthesize(root, settings, progress=False)
    return root


def test_photo_own_view_truth_is_the_posed_photo_with_the_other_garment(photo_set):
    """As in the flat style, but a difference may also reach as far as the blur, the edge
    shading and the JPEG blocks around the garment."""
    from tryon.data.synthetic import draw_identity

    folder, compared = photo_set / "viton" / "test", []
    for index, partner in ((6, 7), (7, 6)):
        drawn = draw_identity(4, index, 3, "photo")
        for pose_index, (pose, shot) in enumerate(zip(drawn.poses, drawn.photo.posed, strict=True)):
            stem = f"id{index:05d}_pose{pose_index:02d}"
            truth, posed, truth_parse, posed_parse, garment = _truth_and_photo(
                folder, "tryon-gt-own", f"{stem}__id{partner:05d}_cloth.png", f"{stem}.png"
            )
            spread = _spread(shot, _framed_unit(drawn.identity, pose, shot, 64), 64)
            outside = ~_reach(garment, spread, bool(shot.camera.jpeg_quality))
            same = (truth == posed).all(axis=2)
            compared.append(outside.mean())
            assert same[outside].all()  # same person, pose, light, background, framing, noise
            assert not same[garment].all()  # another garment
            rim = cv2.dilate(garment.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            np.testing.assert_array_equal(  # the parse agrees away from the garments
                truth_parse[~rim], posed_parse[~rim]
            )
    assert np.mean(compared) > 0.2  # a fair share of the pixels was compared


def test_photo_catalog_truth_shares_the_frontal_studio_shot(photo_set):
    from tryon.data.synthetic import draw_identity

    truth, frontal, _, _, garment = _truth_and_photo(
        photo_set / "viton" / "test",
        "tryon-gt",
        "id00006_pose00__id00007_cloth.png",
        "id00006_frontal.png",
    )
    drawn = draw_identity(4, 6, 3, "photo")
    shot = drawn.photo.frontal
    spread = _spread(shot, _framed_unit(drawn.identity, CANONICAL_POSE, shot, 64), 64)
    outside = ~_reach(garment, spread, bool(shot.camera.jpeg_quality))
    assert outside.mean() > 0.2
    assert (truth == frontal).all(axis=2)[outside].all()
    assert not (truth == frontal).all(axis=2)[garment].all()


def test_develop_adds_noise_to_every_channel_and_keeps_a_neutral_shot_neutral():
    from tryon.data.synthetic import photo, style

    grey = np.full((64, 64, 3), 128, np.uint8)
    neutral = style.Shot(
        style.Backdrop("wall"), style.Light(), style.Camera(), style.Framing(), None,
        style.Folds(seed=0, count=0, depth=0.0, roundness=0.0),
    )  # fmt: skip
    np.testing.assert_array_equal(photo.develop(grey, neutral, 64), grey)  # gamma round trip
    noisy = dataclasses.replace(neutral, camera=style.Camera(read_noise=0.02, noise_seed=3))
    spread = photo.develop(grey, noisy, 64).reshape(-1, 3).astype(float).std(axis=0)
    assert (spread > 2).all() and spread.max() < 1.3 * spread.min()
    brighter = dataclasses.replace(noisy, camera=style.Camera(shot_noise=0.01, noise_seed=3))
    dark, light = np.full_like(grey, 40), np.full_like(grey, 220)

    def linear_spread(image):
        return photo._TO_LINEAR[photo.develop(image, brighter, 64)].std()

    assert linear_spread(light) > 3 * linear_spread(dark)  # shot noise grows with the signal


def test_studio_targets_are_the_same_people_on_the_canonical_views_backdrop(tmp_path):
    """``target_backdrop="studio"``: every person photo again, on the exact studio ramp of
    the canonical view, same keypoints; the scene photos and the manifest's other data stay
    as a scene-target set has them."""
    from hpn.repose import studio_backdrop

    root, plain_root = tmp_path / "studio", tmp_path / "scene"
    settings = SynthSettings(
        identities=3, poses=2, size=64, seed=4, style="photo", target_backdrop="studio"
    )
    synthesize(root, settings, progress=False)
    synthesize(plain_root, dataclasses.replace(settings, target_backdrop="scene"), progress=False)
    ramp = np.round(studio_backdrop((64, 64))).astype(np.uint8)
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["settings"]["target_backdrop"] == "studio"
    plain = json.loads((plain_root / "synthetic.json").read_text())
    assert "target_backdrop" not in plain["settings"]
    assert not (plain_root / "deepfashion" / "studio").exists()
    images = sorted((root / "deepfashion" / "train").glob("*.png"))
    assert images
    for path in images:
        studio = cv2.imread(str(root / "deepfashion" / "studio" / "train" / path.name))
        scene = cv2.imread(str(path))
        assert (scene == cv2.imread(str(plain_root / "deepfashion" / "train" / path.name))).all()
        studio, scene = studio[..., ::-1], scene[..., ::-1]
        exact = (studio == ramp).all(axis=-1)
        assert 0.3 < exact.mean() < 0.995  # the backdrop is the ramp, and a person stands on it
        assert not (scene == ramp).all(axis=-1).mean() > 0.3  # the scene photo is no studio
        mask = cv2.imread(str(root / "viton" / "train" / "person-mask" / path.name), 0) > 0
        inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert not exact[inner].any()  # the person is drawn over it


def test_target_backdrop_is_validated():
    with pytest.raises(ValueError, match="target-backdrop"):
        SynthSettings(identities=2, poses=1, size=64, target_backdrop="beach")
