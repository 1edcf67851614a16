"""TryOnPipeline on synthetic inputs: the own, catalog and paper views, stages, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tryon_samples import TINY_RESOLUTION, make_tiny_models, synthetic_garment, synthetic_sample

from tryon.errors import InvalidInputError, NoPersonFound
from tryon.pipeline import STAGES, PipelineConfig, TryOnPipeline
from tryon.pipeline.compositing import dilate, feathered_alpha, reach
from tryon.pipeline.framing import frame_person, frontal_template
from tryon.pipeline.paper_route import PaperRouteConfig


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> TryOnPipeline:
    models = make_tiny_models(tmp_path_factory.mktemp("models"))
    config = PipelineConfig(paper=PaperRouteConfig(resolution=TINY_RESOLUTION))
    return TryOnPipeline.from_pretrained(models, config=config)


@pytest.fixture(scope="module")
def inputs():
    sample = synthetic_sample(seed=3, size=192)
    return sample, synthetic_garment(seed=4, size=160)


def _call(pipeline, inputs, **options):
    sample, garment = inputs
    return pipeline(
        sample.image,
        garment,
        person_keypoints=sample.keypoints,
        person_mask=sample.person_mask,
        **options,
    )


def test_own_view_has_the_photo_size_and_documented_stages(pipeline, inputs) -> None:
    stages: list[str] = []
    result = _call(pipeline, inputs, progress=stages.append)
    sample, garment = inputs
    assert result.view == "own"
    assert result.image.shape == sample.image.shape and result.image.dtype == np.uint8
    assert stages == ["pose", "garment_mask", "parse", "fit", "composite"]
    assert [stage for stage in STAGES if stage in stages] == stages  # STAGES lists the order
    assert list(result.timings) == stages
    assert result.region_source == "classical"  # no parser model in the tiny model folder
    assert result.garment_region.shape == sample.image.shape[:2]
    assert result.garment_mask.shape == garment.shape[:2]
    np.testing.assert_array_equal(result.keypoints, sample.keypoints)
    names = set(result.intermediates())
    assert {"pose", "person_mask", "garment_region", "parts", "fitted_garment", "alpha"} <= names
    assert "result" in names


def test_own_view_changes_nothing_off_the_person(pipeline, inputs) -> None:
    result = _call(pipeline, inputs)
    sample = inputs[0]
    spill = round(pipeline.config.own_view.spill * max(sample.image.shape[:2]))
    outside = ~dilate(sample.person_mask, spill + 1)
    np.testing.assert_array_equal(result.image[outside], sample.image[outside])
    changed = np.abs(result.image.astype(int) - sample.image.astype(int)).max(axis=2) > 0
    assert changed[result.garment_region].mean() > 0.5  # the old garment did change


def test_own_view_by_the_canonical_route_keeps_the_photo_and_fits_the_garment(
    pipeline, inputs
) -> None:
    """Route (b): fitted in the canonical pose, carried back; the same guarantees as (a)."""
    stages: list[str] = []
    via = pipeline.with_config(own_route="canonical")
    result = _call(via, inputs, progress=stages.append)
    direct = _call(pipeline, inputs)
    sample = inputs[0]
    assert stages == ["pose", "garment_mask", "parse", "repose", "fit", "composite"]
    spill = round(pipeline.config.own_view.spill * max(sample.image.shape[:2]))
    outside = ~dilate(sample.person_mask, spill + 1)
    np.testing.assert_array_equal(result.image[outside], sample.image[outside])
    alpha = result.layers["alpha"] > 127
    iou = (alpha & (direct.layers["alpha"] > 127)).sum() / max(
        (alpha | direct.layers["alpha"] > 127).sum(), 1
    )
    assert iou > 0.7  # the same garment on the same body, by either route
    with pytest.raises(ValueError, match="own_route"):
        PipelineConfig(own_route="back")  # type: ignore[arg-type]


def test_catalog_view_renders_the_given_pose_on_its_canvas(pipeline, inputs) -> None:
    stages: list[str] = []
    pose = (frontal_template(256), (256, 256))
    result = _call(pipeline, inputs, view="catalog", catalog_pose=pose, progress=stages.append)
    assert stages == ["pose", "garment_mask", "parse", "repose", "fit", "composite"]
    assert result.image.shape == (256, 256, 3)
    assert result.layers["canonical"].shape == (256, 256, 3)
    own_canvas = _call(pipeline, inputs, view="catalog")
    assert own_canvas.image.shape == own_canvas.layers["canonical"].shape


def test_paper_view_runs_the_paper_route(pipeline, inputs) -> None:
    stages: list[str] = []
    result = _call(pipeline, inputs, view="paper", progress=stages.append)
    assert stages == [
        "pose", "garment_mask", "frame", "frontalize", "parse", "warp", "composite", "paste_back",
    ]  # fmt: skip
    size = TINY_RESOLUTION
    for name in ("frontal", "warped_garment", "flow", "composite"):
        assert result.layers[name].shape == (size, size, 3)
    assert result.image.shape == inputs[0].image.shape


def test_paper_route_keeps_the_photo_outside_its_frame(pipeline) -> None:
    sample = synthetic_sample(seed=5, size=128)
    wide = np.concatenate([sample.image, np.full((128, 256, 3), 37, np.uint8)], axis=1)
    mask = np.concatenate([sample.person_mask, np.zeros((128, 256), bool)], axis=1)
    result = pipeline(
        wide, synthetic_garment(seed=6), person_keypoints=sample.keypoints, person_mask=mask,
        view="paper",
    )  # fmt: skip
    route = pipeline.paper_route
    frame = frame_person(sample.keypoints, wide.shape[:2], TINY_RESOLUTION, route.template)
    corners = frame.from_frame(
        np.array([[0, 0], [TINY_RESOLUTION - 1, TINY_RESOLUTION - 1]], np.float32)
    )
    right_of_frame = int(np.ceil(corners[1, 0])) + 2
    assert right_of_frame < wide.shape[1]
    np.testing.assert_array_equal(result.image[:, right_of_frame:], wide[:, right_of_frame:])


def test_the_own_view_needs_no_model(tmp_path, inputs) -> None:
    bare = TryOnPipeline.from_pretrained(tmp_path)
    assert bare.paper_route is None and bare.parser is None
    assert _call(bare, inputs).image.shape == inputs[0].image.shape
    with pytest.raises(InvalidInputError, match="hpn"):
        _call(bare, inputs, view="paper")
    with pytest.raises(InvalidInputError, match="hpn"):
        TryOnPipeline.from_pretrained(tmp_path, config=PipelineConfig(view="paper"))
    with pytest.raises(InvalidInputError, match="not a folder"):
        TryOnPipeline.from_pretrained(tmp_path / "missing")


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
        pipeline(person, inputs[1], person_keypoints=inputs[0].keypoints)


def test_bad_keypoints_and_masks_raise_user_errors(pipeline, inputs) -> None:
    sample, garment = inputs
    with pytest.raises(InvalidInputError, match=r"\(18, 2\)"):
        pipeline(sample.image, garment, person_keypoints=sample.keypoints[:10])
    with pytest.raises(NoPersonFound):
        pipeline(sample.image, garment, person_keypoints=np.full((18, 2), np.nan))
    no_shoulders = sample.keypoints.copy()
    no_shoulders[[2, 5]] = np.nan
    with pytest.raises(InvalidInputError, match="shoulders"):
        pipeline(sample.image, garment, person_keypoints=no_shoulders)
    with pytest.raises(InvalidInputError, match="person_mask"):
        pipeline(
            sample.image, garment, person_keypoints=sample.keypoints,
            person_mask=np.ones((10, 10), bool),
        )  # fmt: skip
    with pytest.raises(NoPersonFound):
        pipeline(
            sample.image, garment, person_keypoints=sample.keypoints,
            person_mask=np.zeros(sample.image.shape[:2], bool),
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="view"):
        _call(pipeline, inputs, view="sideways")


def test_with_config_shares_the_models(pipeline) -> None:
    catalog = pipeline.with_config(view="catalog")
    assert catalog.paper_route is pipeline.paper_route and catalog.config.view == "catalog"


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        PaperRouteConfig(resolution=100)
    with pytest.raises(ValueError, match="view"):
        PipelineConfig(view="side")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="region_source"):
        PipelineConfig(region_source="keypoints")  # type: ignore[arg-type]


def test_an_implausible_parser_region_falls_back_to_the_classical_one(tmp_path, inputs) -> None:
    from tryon.preprocess.parser import HumanParser, ParserConfig

    models = make_tiny_models(tmp_path)
    HumanParser(ParserConfig(decoder_channels=(16, 16, 8, 8, 8), resolution=64)).save_pretrained(
        models / "parser"
    )
    auto = TryOnPipeline.from_pretrained(models)
    assert auto.parser is not None
    result = _call(auto, inputs)  # an untrained parser's region is not plausible
    assert result.region_source == "classical"
    assert any("implausible" in note for note in result.notes) and not result.warnings
    forced = _call(auto.with_config(region_source="parser"), inputs)
    assert forced.region_source == "parser"
    assert not any("implausible" in note for note in forced.notes)
