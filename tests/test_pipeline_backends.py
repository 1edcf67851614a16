"""Backend switching: the same pipeline through PyTorch and ONNX Runtime gives the same result."""

from __future__ import annotations

import numpy as np
import pytest
from tryon_samples import TINY_RESOLUTION, make_tiny_models, synthetic_garment, synthetic_person

pytest.importorskip("onnxruntime", reason="the deploy extra (onnxruntime) is not installed")


def test_torch_and_onnxruntime_pipelines_match(tmp_path) -> None:
    from deploy.onnx_export import export_model_dir
    from tryon.pipeline import PipelineConfig, TryOnPipeline
    from tryon.pipeline.paper_route import PaperRouteConfig

    models = make_tiny_models(tmp_path / "models")
    for name in ("hpn", "flow"):
        export_model_dir(models / name, models / name / "model.onnx", check_batches=(1,))
    person, keypoints = synthetic_person(seed=7, size=96)
    garment = synthetic_garment(seed=8, size=96)
    config = PipelineConfig(view="paper", paper=PaperRouteConfig(resolution=TINY_RESOLUTION))
    results = {
        backend: TryOnPipeline.from_pretrained(models, backend=backend, config=config)(
            person, garment, person_keypoints=keypoints
        )
        for backend in ("torch", "onnxruntime")
    }
    eager, runtime = results["torch"], results["onnxruntime"]
    for name in ("frontal", "warped_garment", "composite", "frame_garment_region"):
        a = eager.layers[name].astype(int)
        b = runtime.layers[name].astype(int)
        assert np.abs(a - b).max() <= 2, name  # uint8 rounding of float32 differences
        assert np.abs(a - b).mean() < 0.05, name
    a, b = eager.image.astype(int), runtime.image.astype(int)
    assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.05


def test_an_exported_parser_runs_on_onnxruntime(tmp_path) -> None:
    import torch

    from deploy import Backend
    from deploy.onnx_export import export_model_dir
    from tryon.pipeline import TryOnPipeline
    from tryon.preprocess.parser import HumanParser, ParserConfig, parse_image

    models = tmp_path / "models"  # the parser alone: HPN and the flow net are tested above
    torch.manual_seed(0)
    HumanParser(ParserConfig.mobile()).eval().save_pretrained(models / "parser")
    # Not exported yet: the parser stays on torch, as before it could be exported.
    assert isinstance(TryOnPipeline.from_pretrained(models, "onnxruntime").parser, HumanParser)
    export_model_dir(models / "parser", models / "parser" / "model.onnx", check_batches=(1,))
    runtime = TryOnPipeline.from_pretrained(models, "onnxruntime").parser
    assert isinstance(runtime, Backend) and runtime.name == "onnxruntime"
    person, _ = synthetic_person(seed=7, size=96)
    eager = TryOnPipeline.from_pretrained(models, "torch").parser
    labels = parse_image(eager, person), parse_image(runtime, person)
    assert labels[0].shape == person.shape[:2]
    assert (labels[0] != labels[1]).mean() < 0.002  # argmax ties flip on float differences
