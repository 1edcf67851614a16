"""``tryon eval tryon``: every view and baseline scored against the exact unpaired truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tryon_samples import TINY_RESOLUTION, make_tiny_models

from tryon.data.synthetic import SynthSettings, synthesize
from tryon.pipeline import PipelineConfig, TryOnPipeline
from tryon.pipeline.evaluation import COMPARISONS, OWN_METHODS, evaluate_tryon, paste_baseline
from tryon.pipeline.paper_route import PaperRouteConfig


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval") / "set"
    synthesize(root, SynthSettings(identities=10, poses=1, size=128, seed=2), progress=False)
    return root


def test_every_method_and_comparison_is_scored(synth, tmp_path) -> None:
    config = PipelineConfig(paper=PaperRouteConfig(resolution=TINY_RESOLUTION))
    pipeline = TryOnPipeline.from_pretrained(make_tiny_models(tmp_path), config=config)
    report = evaluate_tryon(pipeline, synth, limit=2, show_progress=False)
    assert report["pairs"] == 2
    methods = report["methods"]
    assert set(methods) == {
        "own", "own_canonical", "own_paste", "paper_own",
        "catalog", "catalog_paste", "paper_catalog",
    }  # fmt: skip
    for name in ("ssim", "local_ssim", "vgg_distance"):
        assert all(math.isfinite(scores[name]["mean"]) for scores in methods.values()), name
    face = {name: methods[name]["face_ssim"]["mean"] for name in OWN_METHODS}
    assert face["own"] > face["paper_own"] + 0.2, face  # the own view keeps the face
    assert face["own_canonical"] > face["paper_own"] + 0.2, face  # by either route
    assert methods["own"]["background_mad"]["mean"] < 1.0
    assert methods["own_canonical"]["ssim"]["mean"] != methods["own"]["ssim"]["mean"]
    assert set(report["comparisons"]) == {f"{a}_vs_{b}" for a, b in COMPARISONS}
    win = report["comparisons"]["own_vs_own_paste"]["ssim"]["win_rate"]
    assert 0.0 <= win <= 1.0


def test_data_without_own_view_truth_is_refused(synth, tmp_path) -> None:
    import shutil

    from tryon.errors import InvalidInputError

    copy = tmp_path / "old"
    shutil.copytree(synth, copy)
    shutil.rmtree(copy / "viton" / "test" / "tryon-gt-own")
    with pytest.raises(InvalidInputError, match="tryon-gt-own"):
        evaluate_tryon(TryOnPipeline(), copy)


def test_paste_baseline_puts_the_garment_box_on_the_region_box() -> None:
    canvas = np.zeros((40, 40, 3), np.uint8)
    region = np.zeros((40, 40), bool)
    region[10:30, 5:25] = True
    garment = np.full((20, 20, 3), 200, np.uint8)
    mask = np.zeros((20, 20), bool)
    mask[2:18, 4:16] = True
    pasted = paste_baseline(canvas, region, garment, mask)
    assert (pasted[12:28, 7:23] == 200).all() and (pasted[~region] == 0).all()
