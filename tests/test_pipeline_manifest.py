"""A models folder's manifest (model_index.json) and TryOnPipeline.save_pretrained."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from tryon_samples import TINY_RESOLUTION, make_tiny_models, synthetic_garment, synthetic_person

from core.keypoints import DEFAULT_CANONICAL_POSE
from tryon.errors import InvalidInputError
from tryon.pipeline import PipelineConfig, TryOnPipeline
from tryon.pipeline.manifest import MANIFEST_FILE, read_manifest
from tryon.pipeline.paper_route import PaperRouteConfig
from tryon.pipeline.pipeline import bundled_models_dir

TINY = PipelineConfig(paper=PaperRouteConfig(resolution=TINY_RESOLUTION))

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _inputs():
    person, keypoints = synthetic_person(seed=3, size=128)
    return person, synthetic_garment(seed=4), keypoints


def test_the_bundled_folder_names_its_components_and_canonical_pose():
    manifest = read_manifest(bundled_models_dir())
    assert manifest.recorded
    assert dict(manifest.components) == {
        "hpn": "hpn",
        "flow": "appearance_flow",
        "parser": "human_parser",
        "hpn_refine": "hpn_warp_refine",
    }
    assert manifest.canonical_pose.frame == 256
    assert manifest.canonical_pose == DEFAULT_CANONICAL_POSE


def test_save_pretrained_mirrors_from_pretrained(tmp_path):
    pipeline = TryOnPipeline.from_pretrained()  # the bundled fp16 models, at 256
    saved = pipeline.save_pretrained(tmp_path / "models", dtype=torch.float16)
    assert read_manifest(saved) == read_manifest(bundled_models_dir())
    for name in ("hpn", "flow", "parser"):
        original = json.loads((bundled_models_dir() / name / "config.json").read_text())
        copy = json.loads((saved / name / "config.json").read_text())
        assert copy["config"] == original["config"] and copy["metadata"] == original["metadata"]
    again = TryOnPipeline.from_pretrained(saved)
    person, garment, keypoints = _inputs()
    first = pipeline(person, garment, person_keypoints=keypoints)
    second = again(person, garment, person_keypoints=keypoints)
    np.testing.assert_array_equal(first.image, second.image)
    assert first.region_source == second.region_source


def test_a_folder_without_manifest_uses_the_default_pose(tmp_path):
    root = make_tiny_models(tmp_path / "models")
    manifest = read_manifest(root)
    assert not manifest.recorded and set(manifest.components) == {"hpn", "flow"}
    pipeline = TryOnPipeline.from_pretrained(root, config=TINY)
    assert pipeline.canonical_pose == DEFAULT_CANONICAL_POSE
    np.testing.assert_array_equal(
        pipeline.paper_route.template, DEFAULT_CANONICAL_POSE.in_frame(TINY_RESOLUTION)
    )
    pipeline.save_pretrained(tmp_path / "saved")
    assert read_manifest(tmp_path / "saved").recorded


def test_the_pose_comes_from_the_manifest_not_the_generator(tmp_path):
    root = make_tiny_models(tmp_path / "models")
    TryOnPipeline.from_pretrained(root, config=TINY).save_pretrained(root)
    document = json.loads((root / MANIFEST_FILE).read_text())
    document["canonical_pose"]["keypoints"][4] = [70.0, 130.0]  # another right wrist
    (root / MANIFEST_FILE).write_text(json.dumps(document))
    pipeline = TryOnPipeline.from_pretrained(root)
    assert pipeline.paper_route.template[4].tolist() == [70.0, 130.0]
    tiny = pipeline.with_config(paper=PaperRouteConfig(resolution=TINY_RESOLUTION))
    assert tiny.paper_route.template[4] == pytest.approx(
        (np.array([70.0, 130.0]) + 0.5) * TINY_RESOLUTION / 256 - 0.5
    )
    assert tiny.canonical_pose.keypoints[4].tolist() == [70.0, 130.0]  # the catalog view's


def test_manifests_that_do_not_fit_the_folder_are_refused(tmp_path):
    root = make_tiny_models(tmp_path / "models")
    TryOnPipeline.from_pretrained(root, config=TINY).save_pretrained(root)
    document = json.loads((root / MANIFEST_FILE).read_text())
    named = {**document["components"], "parser": "human_parser"}  # no parser/ folder
    (root / MANIFEST_FILE).write_text(json.dumps({**document, "components": named}))
    with pytest.raises(InvalidInputError, match="names component 'parser'"):
        read_manifest(root)
    swapped = {"hpn": "appearance_flow", "flow": "appearance_flow"}
    (root / MANIFEST_FILE).write_text(json.dumps({**document, "components": swapped}))
    with pytest.raises(InvalidInputError, match="holds 'hpn'"):
        read_manifest(root)
    (root / MANIFEST_FILE).write_text(json.dumps({**document, "format_version": 99}))
    with pytest.raises(InvalidInputError, match="upgrade"):
        read_manifest(root)
    shutil.rmtree(root / "flow")
    (root / MANIFEST_FILE).unlink()
    assert set(read_manifest(root).components) == {"hpn"}  # found by folder name
    with pytest.raises(InvalidInputError, match="hpn/ and flow/"):
        TryOnPipeline.from_pretrained(root, config=PipelineConfig(view="paper"))


def test_save_pretrained_needs_the_torch_backend(tmp_path):
    root = make_tiny_models(tmp_path / "models")
    pipeline = TryOnPipeline.from_pretrained(root, config=TINY)

    class Compiled:
        name = "onnxruntime"
        model_type = "hpn"

    pipeline.paper_route.hpn = Compiled()
    with pytest.raises(InvalidInputError, match=r"needs the torch backend.*onnxruntime"):
        pipeline.save_pretrained(tmp_path / "saved")


@pytest.mark.parametrize(
    "document", [[1, 2], {"format_version": 1, "components": ["hpn"]}, {"format_version": 1,
    "components": {"hpn": 3}}],
)  # fmt: skip
def test_a_manifest_of_another_shape_is_a_user_error(tmp_path, document):
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(document))
    with pytest.raises(InvalidInputError):
        read_manifest(tmp_path)
