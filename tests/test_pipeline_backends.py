"""Backend switching: the same pipeline through PyTorch and ONNX Runtime gives the same result."""

from __future__ import annotations

import numpy as np
import pytest
from tryon_samples import TINY_RESOLUTION, make_tiny_models, synthetic_garment, synthetic_person

pytest.importorskip("onnxruntime", reason="the deploy extra (onnxruntime) is not installed")


def test_torch_and_onnxruntime_pipelines_match(tmp_path) -> None:
    from deploy.onnx_export import export_model_dir
    from tryon.pipeline import TryOnPipeline

    models = make_tiny_models(tmp_path / "models")
    for name in ("hpn", "flow"):
        export_model_dir(models / name, models / name / "model.onnx", check_batches=(1,))
    person, keypoints = synthetic_person(seed=7, size=96)
    garment = synthetic_garment(seed=8, size=96)
    results = {
        backend: TryOnPipeline.from_pretrained(models, backend=backend, resolution=TINY_RESOLUTION)(
            person, garment, person_keypoints=keypoints, return_to_pose=True
        )
        for backend in ("torch", "onnxruntime")
    }
    eager, runtime = results["torch"], results["onnxruntime"]
    for name in ("frontal", "warped_garment", "composite", "reposed", "image"):
        a = getattr(eager, name).astype(int)
        b = getattr(runtime, name).astype(int)
        assert np.abs(a - b).max() <= 2, name  # uint8 rounding of float32 differences
        assert np.abs(a - b).mean() < 0.05, name
    np.testing.assert_array_equal(eager.garment_region, runtime.garment_region)
