"""TryOnPipeline on synthetic inputs with tiny random models: shapes, stages, compositing."""

from __future__ import annotations

import numpy as np
import pytest
from tryon_samples import (
    TINY_RESOLUTION,
    make_tiny_models,
    synthetic_garment,
    synthetic_person,
)

from tryon.errors import InvalidInputError, NoPersonFound
from tryon.pipeline import STAGES, PipelineConfig, TryOnPipeline
from tryon.pipeline.compositing import dilate, feathered_alpha, reach
from tryon.pipeline.framing import frame_person, frontal_template


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> TryOnPipeline:
    models = make_tiny_models(tmp_path_factory.mktemp("models"))
    return TryOnPipeline.from_pretrained(models, resolution=TINY_RESOLUTION)


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    person, keypoints = synthetic_person(seed=3, size=160)
    return person, keypoints, synthetic_garment(seed=4, size=120)


def test_outputs_have_documented_shapes_and_stages(pipeline, inputs) -> None:
    person, keypoints, garment = inputs
    stages: list[str] = []
    result = pipeline(person, garment, person_keypoints=keypoints, progress=stages.append)
    size = TINY_RESOLUTION
    assert result.image.shape == person.shape and result.image.dtype == np.uint8
    for image in (result.frontal, result.warped_garment, result.flow_visualization):
        assert image.shape == (size, size, 3) and image.dtype == np.uint8
    assert result.composite.shape == (size, size, 3)
    assert result.garment_region.shape == (size, size) and result.garment_region.dtype == bool
    assert result.garment_mask.shape == garment.shape[:2]
    np.testing.assert_array_equal(result.keypoints, keypoints)
    assert stages == [stage for stage in STAGES if stage != "repose"]
    assert list(result.timings) == stages
    assert result.region_source == "keypoints"  # no parser model in the tiny model folder
    assert {"frontal", "composite", "warped_garment", "flow", "result"} <= set(
        result.intermediates()
    )


def test_composite_changes_only_the_garment_region(pipeline, inputs) -> None:
    person, keypoints, garment = inputs
    result = pipeline(person, garment, person_keypoints=keypoints)
    outside = ~dilate(result.garment_region, reach(pipeline.config.feather_sigma) + 1)
    difference = np.abs(result.composite.astype(int) - result.frontal.astype(int))
    assert outside.any() and difference[outside].max() <= 1
    inside = result.garment_region & (result.alpha > 0.99)
    assert inside.any(), "the warped garment must cover part of the region"
    np.testing.assert_allclose(result.composite[inside], result.warped_garment[inside], atol=1)


def test_return_to_pose_adds_the_repose_stage(pipeline, inputs) -> None:
    person, keypoints, garment = inputs
    result = pipeline(person, garment, person_keypoints=keypoints, return_to_pose=True)
    assert list(result.timings) == list(STAGES)
    assert result.reposed is not None and result.reposed.shape == result.composite.shape
    assert "reposed" in result.intermediates()


def test_paste_back_keeps_the_photo_outside_the_frame(pipeline) -> None:
    person, keypoints = synthetic_person(seed=5, size=128)
    # Put the person in the left half of a wide photo: the right edge is outside the frame.
    wide = np.concatenate([person, np.full((128, 256, 3), 37, np.uint8)], axis=1)
    result = pipeline(wide, synthetic_garment(seed=6), person_keypoints=keypoints)
    frame = frame_person(keypoints, wide.shape[:2], TINY_RESOLUTION, pipeline.template)
    corners = frame.from_frame(
        np.array([[0, 0], [TINY_RESOLUTION - 1, TINY_RESOLUTION - 1]], np.float32)
    )
    right_of_frame = int(np.ceil(corners[1, 0])) + 2
    assert right_of_frame < wide.shape[1]
    np.testing.assert_array_equal(result.image[:, right_of_frame:], wide[:, right_of_frame:])


def test_framing_puts_the_torso_on_the_template() -> None:
    template = frontal_template(256)
    person = template * 0.5 + np.array([40.0, 10.0], np.float32)  # smaller and shifted
    frame = frame_person(person, (300, 300), 256, template)
    np.testing.assert_allclose(frame.to_frame(person), template, atol=1e-3)
    np.testing.assert_allclose(frame.from_frame(template), person, atol=1e-3)


def test_feathered_alpha_is_zero_beyond_its_reach() -> None:
    region = np.zeros((64, 64), bool)
    region[20:40, 20:40] = True
    alpha = feathered_alpha(region, np.ones((64, 64), np.float32), sigma=2.0)
    assert alpha[30, 30] > 0.99 and 0 < alpha[20, 30] < 1
    assert not alpha[~dilate(region, reach(2.0))].any()


@pytest.mark.parametrize(
    "person",
    [
        np.zeros((64, 64), np.uint8),
        np.zeros((64, 64, 3), np.float32),
        np.zeros((8, 8, 3), np.uint8),
    ],
)
def test_bad_images_raise_invalid_input(pipeline, inputs, person) -> None:
    with pytest.raises(InvalidInputError):
        pipeline(person, inputs[2], person_keypoints=inputs[1])


def test_bad_keypoints_raise_user_errors(pipeline, inputs) -> None:
    person, keypoints, garment = inputs
    with pytest.raises(InvalidInputError, match=r"\(18, 2\)"):
        pipeline(person, garment, person_keypoints=keypoints[:10])
    with pytest.raises(NoPersonFound):
        pipeline(person, garment, person_keypoints=np.full((18, 2), np.nan))
    no_shoulders = keypoints.copy()
    no_shoulders[[2, 5]] = np.nan
    with pytest.raises(InvalidInputError, match="shoulders"):
        pipeline(person, garment, person_keypoints=no_shoulders)


def test_bbox_baseline_shares_the_models(pipeline, inputs) -> None:
    person, keypoints, garment = inputs
    baseline = pipeline.with_config(warp="bbox_resize")
    assert baseline.hpn is pipeline.hpn and baseline.config.warp == "bbox_resize"
    result = baseline(person, garment, person_keypoints=keypoints)
    assert result.warped_garment.shape == (TINY_RESOLUTION, TINY_RESOLUTION, 3)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        PipelineConfig(resolution=100)
    with pytest.raises(ValueError, match="warp"):
        PipelineConfig(warp="tps")  # type: ignore[arg-type]


def test_missing_model_dir_is_a_user_error(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="hpn"):
        TryOnPipeline.from_pretrained(tmp_path)


def test_parser_region_is_checked_against_the_template(tmp_path, inputs) -> None:
    from tryon.preprocess.parser import HumanParser, ParserConfig

    models = make_tiny_models(tmp_path)
    HumanParser(ParserConfig(decoder_channels=(16, 16, 8, 8, 8), resolution=64)).save_pretrained(
        models / "parser"
    )
    person, keypoints, garment = inputs
    auto = TryOnPipeline.from_pretrained(models, resolution=TINY_RESOLUTION)
    assert auto.parser is not None
    strict = auto.with_config(min_parser_agreement=1.0)  # an untrained parser never agrees
    result = strict(person, garment, person_keypoints=keypoints)
    assert result.region_source == "keypoints"
    assert any("IoU" in warning for warning in result.warnings)
    forced = auto.with_config(region_source="parser")(person, garment, person_keypoints=keypoints)
    assert forced.region_source == "parser" and not forced.warnings
