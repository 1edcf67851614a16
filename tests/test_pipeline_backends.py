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
