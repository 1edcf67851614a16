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
    folder = small_set / "viton" / "test"
    name = "id00006_pose00__id00007_cloth.png"
    truth = cv2.imread(str(folder / "tryon-gt-own" / name))
    posed = cv2.imread(str(folder / "image" / "id00006_pose00.png"))
    truth_parse = np.asarray(Image.open(folder / "tryon-gt-own-parse" / name))
    posed_parse = np.asarray(Image.open(folder / "image-parse-v3" / "id00006_pose00.png"))
    garment = np.isin(truth_parse, lip.UPPER_GARMENT_IDS) | np.isin(
        posed_parse, lip.UPPER_GARMENT_IDS
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
