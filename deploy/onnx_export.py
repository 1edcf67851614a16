"""Export a registered model to ONNX and prove the file is right before keeping it.

The steps, each of which can reject the export (the output path is then left untouched):

1. Trace with the TorchScript exporter (``dynamo=False``), named inputs and outputs from the
   model's :class:`~deploy.registry.IOSignature`, a dynamic batch axis, and dynamic H, W where
   the signature allows. Why not the default dynamo exporter: on the flow net it silently
   specialises H and W to the example size (its sampling grid is built from the input's
   shape), emits opset 18 and down-converts, and takes ~15x longer; the TorchScript exporter
   keeps the axes symbolic and emits the requested opset directly. Step 3 verifies the axes
   whichever exporter made them.
2. ``onnx.checker`` with ``full_check`` and strict shape inference; the shape-inferred model
   is what gets saved.
3. Every axis asked to be dynamic must be symbolic in the graph's inputs and outputs.
4. The TensorRT op audit (:mod:`deploy.op_audit`).
5. Parity against PyTorch with ONNX Runtime on random and real inputs, at batch 1 and 4 (and
   at another H, W when the spatial axes are dynamic), within :class:`ParityTolerance`.

Then the file and its sidecar (``<out>.json``) are written atomically.
"""

from __future__ import annotations

import datetime
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from core.files import write_bytes_atomic
from core.modelio import config_to_dict
from deploy.artifacts import state_sha256, weights_sha256, write_sidecar
from deploy.errors import DeployError, DynamicAxisError, ExportCheckError
from deploy.inputs import random_inputs, real_inputs
from deploy.interface import check_inputs
from deploy.onnxruntime_backend import create_session, run_session
from deploy.op_audit import AuditReport, SupportTable, audit_model
from deploy.parity import ParityRecord, ParityReport, ParityTolerance, compare_outputs
from deploy.registry import IOSignature, ModelIO, NamedGraph, load_model, model_io_of

DEFAULT_OPSET = 17
# GridSample needs 16; from 20 its bilinear mode is spelled "linear", which the op audit
# rejects for TensorRT; the TorchScript exporter stops at 20.
SUPPORTED_OPSETS = range(17, 21)
_TRACE_BATCH = 2


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote and measured."""

    onnx_path: Path
    sidecar_path: Path
    signature: IOSignature
    audit: AuditReport
    parity: ParityReport


def export_model_dir(
    model_dir: str | Path,
    out_path: str | Path,
    resolution: int | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: ParityTolerance | None = None,
    check_batches: Sequence[int] = (1, 4),
) -> ExportResult:
    """Load a model directory and export it (see :func:`export_onnx`)."""
    model, model_io = load_model(model_dir)
    return export_onnx(
        model,
        out_path,
        resolution=resolution,
        opset=opset,
        tolerance=tolerance,
        source={"model_dir": str(Path(model_dir).resolve()), "sha256": weights_sha256(model_dir)},
        model_io=model_io,
        check_batches=check_batches,
    )


def export_onnx(
    model: nn.Module,
    out_path: str | Path,
    resolution: int | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: ParityTolerance | None = None,
    source: dict[str, str] | None = None,
    model_io: ModelIO | None = None,
    check_batches: Sequence[int] = (1, 4),
    table: SupportTable | None = None,
) -> ExportResult:
    """Export ``model`` to a checked, audited, parity-tested ONNX file with a sidecar.

    Args:
        model: a registered network (its class has a ``model_type`` in deploy's registry).
        out_path: the ``.onnx`` file to write; its sidecar goes to ``<out_path>.json``.
        resolution: example resolution (HPN: must be the model's own; flow: any multiple of
            its stride, default 256).
        opset: ONNX opset, 17-20 (17 recommended for TensorRT, see SUPPORTED_OPSETS).
        tolerance: parity bounds; :class:`ParityTolerance` defaults.
        source: provenance for the sidecar (model_dir, sha256); default: the module's hash.
        model_io: the registry entry (default: looked up from the model).
        check_batches: batch sizes of the parity runs (the trace uses batch 2).
        table: TensorRT op table for the audit (default: the shipped one).

    Returns:
        Paths, signature, audit and parity reports.

    Raises:
        DeployError: any check failed (subclasses name which); nothing is written then.
    """
    if opset not in SUPPORTED_OPSETS:
        raise DeployError(
            f"opset {opset} is not supported; use {SUPPORTED_OPSETS.start}-"
            f"{SUPPORTED_OPSETS.stop - 1} (GridSample needs >= 16; 17 is what TensorRT parses "
            "best)"
        )
    model = model.eval()
    model_io = model_io or model_io_of(model)
    signature = model_io.signature(model, resolution)
    graph = NamedGraph(model, signature).eval()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as scratch:
        traced_path = Path(scratch) / out_path.name
        _trace(graph, signature, traced_path, opset)
        proto = _check_and_infer(traced_path)
        verify_dynamic_axes(proto, signature)
        audit = audit_model(proto, table)
        audit.raise_if_failed()
        serialized = proto.SerializeToString()
        parity = check_parity(graph, serialized, signature, check_batches, tolerance)
        parity.raise_if_failed()
        write_bytes_atomic(out_path, serialized)
    sidecar = write_sidecar(
        out_path,
        {
            "format": "onnx",
            "model_type": signature.model_type,
            "config": config_to_dict(model.config),
            "architecture": _architecture_state(model),
            "source": source or {"sha256": state_sha256(model)},
            "opset": opset,
            "precision": "fp32",
            "exporter": f"torch.onnx TorchScript exporter, torch {torch.__version__}",
            "onnx_version": onnx.__version__,
            "signature": signature.to_dict(),
            "dynamic_axes": signature.dynamic_axes(),
            "audit": audit.to_dict(),
            "parity": parity.to_dict(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
    )
    return ExportResult(out_path, sidecar, signature, audit, parity)


def _trace(graph: NamedGraph, signature: IOSignature, path: Path, opset: int) -> None:
    example = tuple(random_inputs(signature, _TRACE_BATCH).values())
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo (see the module doc for
        # why we keep it); tracer warnings flag Python-side shape checks, which are
        # constant for a given example and verified by the parity runs.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph,
            example,
            str(path),
            input_names=list(signature.input_names),
            output_names=list(signature.output_names),
            dynamic_axes=signature.dynamic_axes(),
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def _check_and_infer(path: Path) -> onnx.ModelProto:
    proto = onnx.load(str(path))
    try:
        onnx.checker.check_model(proto, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise DeployError(f"the exported graph fails onnx.checker: {error}") from error
    return inferred


def verify_dynamic_axes(proto: onnx.ModelProto, signature: IOSignature) -> None:
    """Fail when an axis the signature declares dynamic came out as a fixed size.

    Raises:
        DynamicAxisError: naming the tensor, the axis and the size it was fixed to.
    """
    wanted = signature.dynamic_axes()
    for value in (*proto.graph.input, *proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        for axis, symbol in wanted.get(value.name, {}).items():
            dim = dims[axis]
            if not dim.dim_param:
                raise DynamicAxisError(
                    f"{value.name} axis {axis} ({symbol}) came out fixed at {dim.dim_value}; "
                    "the model builds a shape from a Python int somewhere (use the tensor's "
                    "shape inside forward)"
                )


def check_parity(
    graph: NamedGraph,
    onnx_model: bytes | str | Path,
    signature: IOSignature,
    batches: Sequence[int] = (1, 4),
    tolerance: ParityTolerance | None = None,
) -> ParityReport:
    """Compare ONNX Runtime (CPU) against PyTorch on random and real inputs.

    Args:
        graph: the PyTorch model wrapped as :class:`NamedGraph`.
        onnx_model: the ONNX model (path or serialised bytes).
        signature: its inputs and outputs.
        batches: batch sizes to run; each with random and with real inputs.
        tolerance: bounds for :meth:`ParityReport.passed`.

    Returns:
        The report (not raised; call ``raise_if_failed``).
    """
    session = create_session(onnx_model, torch.device("cpu"))
    input_sets = [(kind, batch, signature) for batch in batches for kind in ("random", "real")]
    if signature.dynamic_spatial:
        input_sets.append(("random", batches[0], _other_size(signature)))
    records: list[ParityRecord] = []
    for kind, batch, sized in input_sets:
        named = random_inputs(sized, batch) if kind == "random" else real_inputs(sized, batch)
        tensors = check_inputs(sized, named)
        with torch.inference_mode():
            expected = dict(zip(signature.output_names, graph(*tensors), strict=True))
        try:
            actual = run_session(session, signature, tensors)
        except Exception as error:  # onnxruntime raises its own (non-exported) error types
            raise ExportCheckError(
                f"ONNX Runtime cannot run the exported graph on {kind} inputs of shape "
                f"{tuple(tensors[0].shape)} (an axis meant to vary may have been fixed): {error}"
            ) from error
        records.extend(compare_outputs(kind, expected, actual, tensors[0].shape))
    return ParityReport(tuple(records), tolerance or ParityTolerance())


def _other_size(signature: IOSignature) -> IOSignature:
    """The signature at a non-square size different from the traced one (H + m, W)."""
    step = signature.size_multiple
    return replace(
        signature,
        inputs=tuple(replace(spec, height=spec.height + step) for spec in signature.inputs),
        outputs=tuple(replace(spec, height=spec.height + step) for spec in signature.outputs),
    )


def _architecture_state(model: nn.Module) -> dict[str, Any]:
    state = getattr(model, "architecture_state", None)
    return state() if callable(state) else {}
