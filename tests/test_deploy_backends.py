"""load_backend: torch and onnxruntime behind one interface, and its refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import deploy
from deploy.errors import BackendUnavailableError, DeployError
from deploy.inputs import real_inputs
from deploy.onnx_export import export_model_dir
from flow import AppearanceFlowNet, FlowConfig
from hpn.model import HPN, HPNConfig

TINY_HPN = HPNConfig(
    bottleneck_size=8, bottleneck_channels=32, start_resolution=16, final_resolution=32
)
TINY_FLOW = FlowConfig(channels=(8, 16, 16), pose_channels=18)


@pytest.fixture(scope="module")
def hpn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hpn")
    HPN(TINY_HPN).save_pretrained(directory)
    export_model_dir(directory, directory / "model.onnx", check_batches=(2,))
    return directory


@pytest.fixture(scope="module")
def flow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("flow")
    model = AppearanceFlowNet(TINY_FLOW)
    for estimator in model.estimators:
        torch.nn.init.normal_(estimator.head.weight, std=0.05)
    model.save_pretrained(directory)
    export_model_dir(directory, directory / "model.onnx", resolution=16, check_batches=(2,))
    return directory


@pytest.mark.parametrize("which", ["hpn", "flow"])
def test_torch_and_onnxruntime_backends_agree(which: str, hpn_dir: Path, flow_dir: Path) -> None:
    directory = hpn_dir if which == "hpn" else flow_dir
    eager = deploy.load_backend(directory, backend="torch")
    runtime = deploy.load_backend(directory, backend="onnxruntime")
    assert isinstance(eager, deploy.Backend) and isinstance(runtime, deploy.Backend)
    assert eager.input_names == runtime.input_names
    assert eager.output_names == runtime.output_names
    assert eager.model_type == runtime.model_type
    assert eager.config == runtime.config  # the frozen dataclass, rebuilt from the sidecar

    signature = runtime.signature
    if signature.dynamic_spatial:  # the flow net runs at a size other than the export's
        resized = tuple(replace(spec, height=32, width=24) for spec in signature.inputs)
        signature = replace(signature, inputs=resized)
    inputs = real_inputs(signature, 3)
    from_torch = eager(**inputs)
    from_onnx = runtime(**{name: tensor.numpy() for name, tensor in inputs.items()})  # numpy in
    assert set(from_torch) == set(from_onnx) == set(eager.output_names)
    for name in eager.output_names:
        assert from_onnx[name].dtype == torch.float32
        torch.testing.assert_close(from_onnx[name], from_torch[name], atol=1e-4, rtol=0)


def test_onnx_file_path_loads_directly(hpn_dir: Path) -> None:
    runtime = deploy.load_backend(hpn_dir / "model.onnx", backend="onnxruntime", threads=1)
    assert runtime.name == "onnxruntime" and runtime.model_type == "hpn"
    assert runtime.signature.input_shapes(1)["pose_maps"] == (1, 18, 8, 8)
    automatic = deploy.load_backend(hpn_dir, backend="onnxruntime", device="auto")
    expected = (
        "CUDAExecutionProvider" if automatic.device.type == "cuda" else "CPUExecutionProvider"
    )
    assert automatic.session.get_providers()[0] == expected


def test_torch_backend_channels_last_and_bf16_autocast(hpn_dir: Path) -> None:
    reference = deploy.load_backend(hpn_dir)
    channels_last = deploy.load_backend(hpn_dir, channels_last=True)
    bf16 = deploy.load_backend(hpn_dir, precision="bf16")
    inputs = real_inputs(reference.signature, 2)
    expected = reference(**inputs)["generated"]
    torch.testing.assert_close(channels_last(**inputs)["generated"], expected, atol=1e-5, rtol=0)
    lowered = bf16(**inputs)["generated"]
    assert lowered.dtype == torch.float32
    assert 0 < float((lowered - expected).abs().max()) < 0.1  # bf16 has an 8-bit mantissa


def test_missing_onnx_file_names_the_export_command(tmp_path: Path) -> None:
    HPN(TINY_HPN).save_pretrained(tmp_path)
    with pytest.raises(BackendUnavailableError) as caught:
        deploy.load_backend(tmp_path, backend="onnxruntime")
    assert f"tryon export --model {tmp_path} --format onnx --out {tmp_path / 'model.onnx'}" in str(
        caught.value
    )


def test_onnx_exported_from_older_weights_is_refused(hpn_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes((hpn_dir / "model.onnx").read_bytes())
    (tmp_path / "model.onnx.json").write_bytes((hpn_dir / "model.onnx.json").read_bytes())
    retrained = HPN.from_pretrained(hpn_dir)
    with torch.no_grad():
        retrained.to_rgb.bias.add_(0.5)
    retrained.save_pretrained(tmp_path)  # new weights beside the old export
    with pytest.raises(BackendUnavailableError, match=r"exported from other weights.*re-export"):
        deploy.load_backend(tmp_path, backend="onnxruntime")


def test_onnx_without_sidecar_is_refused(hpn_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.onnx"
    bare.write_bytes((hpn_dir / "model.onnx").read_bytes())
    with pytest.raises(BackendUnavailableError, match=r"no bare\.onnx\.json"):
        deploy.load_backend(bare, backend="onnxruntime")


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"backend": "tvm"}, DeployError, "unknown backend 'tvm'"),
        ({"precision": "int8"}, DeployError, "unknown precision 'int8'"),
        ({"backend": "onnxruntime", "precision": "fp16"}, DeployError, "fp32 ONNX graph"),
        ({"precision": "fp16"}, BackendUnavailableError, "fp16 autocast needs a CUDA device"),
        (
            {"backend": "tensorrt", "precision": "fp16"},
            BackendUnavailableError,
            "model.fp16.engine",
        ),
    ],
)
def test_refusals_say_what_to_do(
    hpn_dir: Path, arguments: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        deploy.load_backend(hpn_dir, **arguments)


def test_artefact_of_the_wrong_kind_is_refused(hpn_dir: Path) -> None:
    with pytest.raises(DeployError, match="the tensorrt backend runs engines"):
        deploy.load_backend(hpn_dir / "model.onnx", backend="tensorrt")
    with pytest.raises(DeployError, match=r"runs \.onnx files, not model\.onnx\.json"):
        deploy.load_backend(hpn_dir / "model.onnx.json", backend="onnxruntime")


def test_tensorrt_needs_a_cuda_device(tmp_path: Path) -> None:
    engine = tmp_path / "model.fp16.engine"
    engine.write_bytes(b"not an engine")
    with pytest.raises(BackendUnavailableError, match="CUDA"):
        deploy.load_backend(engine, backend="tensorrt", device="cpu")


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_cuda_device_without_a_gpu_is_refused(hpn_dir: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="no CUDA GPU"):
        deploy.load_backend(hpn_dir, device="cuda")
    assert deploy.resolve_device("auto") == torch.device("cpu")


def test_inputs_are_checked_by_name_and_shape(hpn_dir: Path, flow_dir: Path) -> None:
    hpn = deploy.load_backend(hpn_dir, backend="onnxruntime")
    image, pose_maps = np.zeros((1, 3, 16, 16), np.float32), np.zeros((1, 18, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"missing \['pose_maps'\], unexpected \['pose'\]"):
        hpn(image=image, pose=pose_maps)
    with pytest.raises(ValueError, match="image must be 16x16 for this model"):
        hpn(image=np.zeros((1, 3, 32, 32), np.float32), pose_maps=pose_maps)
    with pytest.raises(ValueError, match="pose_maps must be"):
        hpn(image=image, pose_maps=np.zeros((2, 18, 8, 8), np.float32))
    flow = deploy.load_backend(flow_dir)
    sized = {
        name: torch.zeros(1, c, 18, 18)
        for name, c in zip(flow.input_names, (3, 1, 1, 18), strict=True)
    }
    with pytest.raises(ValueError, match="multiples of 4"):
        flow(**sized)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_backend_autocast_on_gpu(hpn_dir: Path, precision: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible")
    reference = deploy.load_backend(hpn_dir, device="cuda")
    lowered = deploy.load_backend(hpn_dir, device="cuda", precision=precision, channels_last=True)
    inputs = real_inputs(reference.signature, 2)
    expected, actual = reference(**inputs)["generated"], lowered(**inputs)["generated"]
    assert actual.is_cuda and actual.dtype == torch.float32
    torch.testing.assert_close(actual, expected, atol=0.1, rtol=0)
