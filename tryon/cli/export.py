"""``tryon export``: a model directory -> a checked ONNX file, or a TensorRT engine.

The ONNX export verifies itself (checker, dynamic axes, TensorRT op audit, ONNX Runtime parity
on random and real inputs) and writes nothing when a check fails. The TensorRT format builds
on the ONNX step: the ONNX file is kept beside the engine and reused when a rerun finds it
current, so an interrupted build loses only the engine build itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deploy.names import PRECISIONS
from tryon.cli import cli
from tryon.cli.options import check_output_file
from tryon.errors import TryOnError

if TYPE_CHECKING:
    from deploy.tensorrt_build import BatchProfile


@cli.command("export")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Model directory (config.json + model.safetensors).",
)
@click.option("--format", "export_format", required=True, type=click.Choice(["onnx", "tensorrt"]))
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="fp32",
    show_default=True,
    help="Engine precision (TensorRT); the ONNX graph itself is always fp32.",
)
@click.option(
    "--batch",
    default="1:1:4",
    show_default=True,
    help="MIN:OPT:MAX batch: the TensorRT profile; ONNX parity is checked at MIN and MAX.",
)
@click.option(
    "--resolution",
    type=click.IntRange(min=1),
    default=None,
    help="Example size (HPN: its level, the default; flow: a multiple of its stride, 256).",
)
@click.option("--opset", type=click.IntRange(17, 20), default=17, show_default=True)
@click.option(
    "--workspace-gib",
    type=click.FloatRange(min=0.25),
    default=2.0,
    show_default=True,
    help="TensorRT builder workspace memory limit.",
)
@click.option(
    "--timing-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TensorRT timing cache file (default: tensorrt.timing_cache beside --out).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .onnx or .engine file to write (its .json sidecar goes beside it).",
)
def export_command(
    model_dir: Path,
    export_format: str,
    precision: str,
    batch: str,
    resolution: int | None,
    opset: int,
    workspace_gib: float,
    timing_cache: Path | None,
    out_path: Path,
) -> None:
    """Export a model to ONNX (checked against PyTorch) or build a TensorRT engine."""
    from deploy.errors import DeployError
    from deploy.tensorrt_build import BatchProfile

    check_output_file(out_path, inputs=(model_dir / "model.safetensors",))
    try:
        profile = BatchProfile.parse(batch)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--batch") from error
    if export_format == "onnx" and precision != "fp32":
        raise click.BadParameter(
            "ONNX export is fp32; fp16/bf16 are TensorRT builder precisions "
            "(use --format tensorrt)",
            param_hint="--precision",
        )
    try:
        if export_format == "onnx":
            _export_onnx(model_dir, out_path, resolution, opset, profile)
        else:
            _build_tensorrt(
                model_dir,
                out_path,
                resolution,
                opset,
                profile,
                precision,
                int(workspace_gib * (1 << 30)),
                timing_cache or out_path.with_name("tensorrt.timing_cache"),
            )
    except DeployError as error:
        raise TryOnError(str(error)) from error


def _export_onnx(
    model_dir: Path, out_path: Path, resolution: int | None, opset: int, profile: BatchProfile
) -> None:
    from deploy.onnx_export import export_model_dir

    batches = sorted({profile.min, profile.max})
    click.echo(f"exporting {model_dir} to {out_path} (opset {opset}) ...")
    result = export_model_dir(model_dir, out_path, resolution, opset, check_batches=batches)
    spatial = "dynamic" if result.signature.dynamic_spatial else "fixed"
    click.echo(f"inputs  {', '.join(result.signature.input_names)} (batch dynamic, H/W {spatial})")
    click.echo(f"outputs {', '.join(result.signature.output_names)}")
    click.echo(
        f"parity vs PyTorch (random + real inputs, batch {'/'.join(map(str, batches))}): "
        f"max abs {result.parity.max_abs:.3g}, worst mean abs {result.parity.mean_abs:.3g}"
    )
    click.echo(
        f"TensorRT {result.audit.tensorrt_version} op audit: passed "
        f"({sum(result.audit.op_counts.values())} nodes, {len(result.audit.op_counts)} op types)"
    )
    click.echo(f"wrote {result.onnx_path} and {result.sidecar_path}")


def _build_tensorrt(
    model_dir: Path,
    out_path: Path,
    resolution: int | None,
    opset: int,
    profile: BatchProfile,
    precision: str,
    workspace_bytes: int,
    timing_cache: Path,
) -> None:
    from deploy.tensorrt_build import build_engine, require_tensorrt

    require_tensorrt()  # fail before the ONNX step when TensorRT cannot run here anyway
    onnx_path = out_path.with_suffix(".onnx")
    if onnx_path.is_file() and _onnx_is_current(onnx_path, model_dir, opset, resolution):
        click.echo(f"reusing {onnx_path} (exported from the current weights, same signature)")
    else:
        _export_onnx(model_dir, onnx_path, resolution, opset, profile)
    click.echo(f"building {precision} engine, batch {profile} ...")
    engine = build_engine(onnx_path, out_path, precision, profile, workspace_bytes, timing_cache)
    click.echo(f"wrote {engine} and its sidecar; timing cache {timing_cache}")


def _onnx_is_current(onnx_path: Path, model_dir: Path, opset: int, resolution: int | None) -> bool:
    """True when a rerun would export the same graph: same weights, opset and signature."""
    from deploy.artifacts import read_sidecar, weights_sha256
    from deploy.registry import load_model

    model, model_io = load_model(model_dir)
    wanted = json.loads(json.dumps(model_io.signature(model, resolution).to_dict()))
    sidecar = read_sidecar(onnx_path)
    return (
        sidecar.get("source", {}).get("sha256") == weights_sha256(model_dir)
        and sidecar.get("opset") == opset
        and sidecar.get("signature") == wanted
    )
