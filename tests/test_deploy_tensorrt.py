"""TensorRT path: the pure logic here always; the engine build and run only with TensorRT + GPU.

The ``tensorrt``/``gpu``-marked test skips (with the reason) where TensorRT or CUDA is absent:
a skip is not a pass; docs/deploy.md records where it has been executed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
import torch

import deploy
from deploy.errors import BackendUnavailableError, EngineMismatchError
from deploy.inputs import real_inputs
from deploy.registry import model_io_of
from deploy.tensorrt_build import (
    BatchProfile,
    GpuInfo,
    engine_sidecar,
    profile_shapes,
    require_tensorrt,
)
from deploy.tensorrt_runtime import check_engine_compatible
from flow import AppearanceFlowNet, FlowConfig
from hpn.model import HPN, HPNConfig

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
TINY_HPN = HPNConfig(
    bottleneck_size=8, bottleneck_channels=32, start_resolution=16, final_resolution=32
)
H100 = GpuInfo("NVIDIA H100 80GB HBM3", (9, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1:4:8", (1, 4, 8)), ("4", (4, 4, 4)), (" 2: 2 :3", (2, 2, 3))],
)
def test_batch_profile_parses(text: str, expected: tuple[int, int, int]) -> None:
    profile = BatchProfile.parse(text)
    assert (profile.min, profile.opt, profile.max) == expected
    assert BatchProfile.parse(str(profile)) == profile


@pytest.mark.parametrize("text", ["1:2", "a:b:c", "0:1:2", "4:2:1", "1:8:4", ""])
def test_batch_profile_rejects_bad_ranges(text: str) -> None:
    with pytest.raises(ValueError, match="MIN"):
        BatchProfile.parse(text)


def test_batch_profile_refuses_batches_outside_it() -> None:
    profile = BatchProfile(1, 2, 4)
    profile.check(1)
    profile.check(4)
    with pytest.raises(ValueError, match="takes batches of 1 to 4, got 5"):
        profile.check(5)


def _onnx_sidecar(model: torch.nn.Module, resolution: int | None = None) -> dict[str, object]:
    signature = model_io_of(model).signature(model, resolution)
    return {
        "model_type": signature.model_type,
        "config": {"placeholder": True},
        "signature": json.loads(json.dumps(signature.to_dict())),
        "source": {"model_dir": "/models/hpn", "sha256": "ab" * 32},
        "opset": 17,
    }


def test_profile_shapes_vary_the_batch_only() -> None:
    signature = model_io_of(HPN(TINY_HPN)).signature(HPN(TINY_HPN))
    shapes = profile_shapes(signature, BatchProfile(1, 2, 4))
    assert shapes == {
        "image": ((1, 3, 16, 16), (2, 3, 16, 16), (4, 3, 16, 16)),
        "pose_maps": ((1, 18, 8, 8), (2, 18, 8, 8), (4, 18, 8, 8)),
    }


def test_engine_sidecar_records_what_the_engine_is_bound_to() -> None:
    model = AppearanceFlowNet(FlowConfig(channels=(8, 16)))
    sidecar = engine_sidecar(
        _onnx_sidecar(model, 32), "cd" * 32, "10.9.0", H100, "bf16", BatchProfile(1, 2, 8), 1 << 30
    )
    assert sidecar["tensorrt_version"] == "10.9.0"
    assert sidecar["gpu"] == {"name": H100.name, "compute_capability": [9, 0]}
    assert sidecar["precision"] == "bf16"
    assert sidecar["batch_profile"] == {"min": 1, "opt": 2, "max": 8}
    assert sidecar["shapes"]["garment"] == {
        "min": [1, 3, 32, 32],
        "opt": [2, 3, 32, 32],
        "max": [8, 3, 32, 32],
    }
    assert sidecar["source"]["sha256"] == "ab" * 32 and sidecar["onnx"]["sha256"] == "cd" * 32
    # The flow net's ONNX is spatially dynamic; its engine is fixed by the profile.
    assert deploy.IOSignature.from_dict(sidecar["signature"]).dynamic_spatial is False
    json.dumps(sidecar)  # JSON-ready


def test_compatible_engine_passes_and_mismatches_are_refused() -> None:
    sidecar = engine_sidecar(
        _onnx_sidecar(HPN(TINY_HPN)), "cd" * 32, "10.9.0", H100, "fp16", BatchProfile(1, 1, 1), 1
    )
    check_engine_compatible(sidecar, "10.9.0", H100)
    with pytest.raises(EngineMismatchError) as version:
        check_engine_compatible(sidecar, "10.13.2", H100, "m.engine")
    assert "built with TensorRT 10.9.0, this is TensorRT 10.13.2" in str(version.value)
    assert "tryon export --model /models/hpn --format tensorrt --precision fp16 --out m.engine" in (
        str(version.value)
    )
    with pytest.raises(
        EngineMismatchError, match=r"built for NVIDIA H100.*capability 9\.0.*A100.*\(8\.0\)"
    ):
        check_engine_compatible(sidecar, "10.9.0", GpuInfo("NVIDIA A100-SXM4-40GB", (8, 0)))
    with pytest.raises(EngineMismatchError, match="GPU-specific"):
        check_engine_compatible(sidecar, "10.9.0", GpuInfo(H100.name, (9, 1)))


@pytest.mark.skipif(HAS_TENSORRT, reason="checks the message where TensorRT is absent")
def test_missing_tensorrt_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailableError, match="TensorRT is not installed"):
        require_tensorrt()


def test_tensorrt_other_than_10_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="11.0.1"))
    with pytest.raises(BackendUnavailableError, match=r"TensorRT 11\.0\.1 found; .*10\.x API"):
        require_tensorrt()


def _skip_without_tensorrt_gpu() -> None:
    if not HAS_TENSORRT:
        pytest.skip("TensorRT is not installed (NVIDIA wheels; not on this package index)")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible")


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_engine_builds_runs_and_refuses_another_version(tmp_path: Path) -> None:
    _skip_without_tensorrt_gpu()
    from deploy.onnx_export import export_model_dir
    from deploy.tensorrt_build import build_engine

    model = AppearanceFlowNet(FlowConfig(channels=(8, 16, 16)))
    for estimator in model.estimators:
        torch.nn.init.normal_(estimator.head.weight, std=0.05)
    model.save_pretrained(tmp_path)
    export_model_dir(tmp_path, tmp_path / "model.onnx", resolution=32, check_batches=(1,))
    cache = tmp_path / "tensorrt.timing_cache"
    engine = build_engine(
        tmp_path / "model.onnx", tmp_path / "model.fp16.engine", "fp16", BatchProfile(1, 2, 4),
        timing_cache=cache,
    )  # fmt: skip
    assert engine.is_file() and cache.stat().st_size > 0

    runtime = deploy.load_backend(tmp_path, backend="tensorrt", device="cuda", precision="fp16")
    eager = deploy.load_backend(tmp_path, backend="torch", device="cuda")
    inputs = {name: tensor.cuda() for name, tensor in real_inputs(runtime.signature, 3).items()}
    from_engine, from_torch = runtime(**inputs), eager(**inputs)
    for name in runtime.output_names:
        assert from_engine[name].is_cuda
        torch.testing.assert_close(from_engine[name], from_torch[name], atol=3e-2, rtol=0)
    with pytest.raises(ValueError, match="takes batches of 1 to 4"):
        runtime(**{name: torch.cat([tensor, tensor]) for name, tensor in inputs.items()})

    sidecar_path = tmp_path / "model.fp16.engine.json"
    sidecar = json.loads(sidecar_path.read_text())
    sidecar["tensorrt_version"] = "10.0.0-other"
    sidecar_path.write_text(json.dumps(sidecar))
    with pytest.raises(EngineMismatchError, match=r"10\.0\.0-other"):
        deploy.load_backend(tmp_path, backend="tensorrt", device="cuda", precision="fp16")
