"""``tryon export``: writes a checked ONNX file and sidecar; user mistakes are one-line errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import deploy
from flow import AppearanceFlowNet, FlowConfig
from tryon.cli import main


@pytest.fixture()
def flow_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "flow"
    AppearanceFlowNet(FlowConfig(channels=(8, 16))).save_pretrained(directory)
    return directory


def test_export_onnx_writes_file_sidecar_and_report(
    flow_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = flow_dir / "model.onnx"
    main(["export", "--model", str(flow_dir), "--format", "onnx", "--resolution", "16",
          "--batch", "1:2:3", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert "inputs  garment, garment_mask, target_mask (batch dynamic, H/W dynamic)" in printed
    assert "parity vs PyTorch (random + real inputs, batch 1/3): max abs" in printed
    assert "op audit: passed" in printed
    sidecar = json.loads((flow_dir / "model.onnx.json").read_text())
    assert sidecar["source"]["model_dir"] == str(flow_dir.resolve())
    assert {record["shape"][0] for record in sidecar["parity"]["records"]} == {1, 3}
    backend = deploy.load_backend(flow_dir, backend="onnxruntime")  # found by the default name
    assert backend.signature.inputs[0].height == 16


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "onnx", "--precision", "fp16"], "ONNX export is fp32"),
        (["--format", "onnx", "--batch", "4:2:1"], "1 <= MIN <= OPT <= MAX"),
        (["--format", "onnx", "--resolution", "17"], "positive multiple of 2"),
        (["--format", "onnx", "--opset", "16"], "16 is not in the range 17<=x<=20"),
    ],
)
def test_user_mistakes_are_one_line_errors(
    flow_dir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--model", str(flow_dir), "--out", str(flow_dir / "m.onnx"), *arguments])
    assert exit_info.value.code in (1, 2)
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (flow_dir / "m.onnx").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is not None, reason="checks the TensorRT-absent message"
)
def test_tensorrt_format_without_tensorrt_fails_before_exporting(
    flow_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = flow_dir / "model.fp16.engine"
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--model", str(flow_dir), "--format", "tensorrt", "--precision", "fp16",
              "--out", str(out)])  # fmt: skip
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.startswith("error: TensorRT is not installed")
    assert not out.with_suffix(".onnx").exists()
