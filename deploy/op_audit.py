"""Audit an ONNX graph against the operators TensorRT's ONNX parser supports.

The list is data (``tensorrt_onnx_ops.json`` beside this file, copied from onnx-tensorrt's
``docs/operators.md`` for the TensorRT version it names). Checking op names is not enough:
an op can be "supported" with an attribute value the parser mishandles. The case that forced
this module is GridSample at opset >= 20, whose bilinear mode is spelled ``linear``; TensorRT
parses it without error and samples nearest (NVIDIA/TensorRT issue 4646). So the table also
holds attribute constraints (allowed values, with the opset-dependent default when the
attribute is absent) and input-rank constraints, and the audit checks them on every node,
inside subgraphs and model-local functions too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import helper

from deploy.errors import UnsupportedOpError

DEFAULT_TABLE = Path(__file__).with_name("tensorrt_onnx_ops.json")
_DEFAULT_DOMAINS = ("", "ai.onnx")
_PRECISION_TYPES = {"fp16": "FP16", "bf16": "BF16"}


@dataclass(frozen=True)
class Violation:
    """One reason TensorRT would reject (or silently mis-run) a node."""

    op_type: str
    node_name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.op_type} (node {self.node_name or '<unnamed>'}): {self.reason}"


@dataclass(frozen=True)
class SupportTable:
    """TensorRT's supported ONNX operators as loaded from the JSON data file."""

    source: dict[str, Any]
    opset_range: tuple[int, int]
    operators: dict[str, dict[str, Any]]
    attribute_constraints: dict[str, list[dict[str, Any]]]
    input_rank_constraints: dict[str, dict[str, Any]]

    @property
    def tensorrt_version(self) -> str:
        return str(self.source["tensorrt_version"])

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TABLE) -> SupportTable:
        """Read a table file (the default is the one shipped with deploy)."""
        data = json.loads(Path(path).read_text())
        return cls(
            source=data["source"],
            opset_range=(int(data["opset_range"][0]), int(data["opset_range"][1])),
            operators=data["operators"],
            attribute_constraints=data.get("attribute_constraints", {}),
            input_rank_constraints=data.get("input_rank_constraints", {}),
        )


@dataclass(frozen=True)
class AuditReport:
    """What the audit found: op counts, violations, and precision fallbacks.

    Attributes:
        tensorrt_version: the TensorRT version the table describes.
        opset: the graph's default-domain opset.
        op_counts: op type -> number of nodes.
        violations: everything TensorRT would reject or mis-run; empty means it passes.
        precision_notes: ops that have no kernel in the requested reduced precision and run
            in FP32 inside such an engine (allowed, but worth knowing when timing it).
    """

    tensorrt_version: str
    opset: int
    op_counts: dict[str, int]
    violations: tuple[Violation, ...]
    precision_notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.violations

    def raise_if_failed(self) -> None:
        """Raise :class:`UnsupportedOpError` naming every offending op."""
        if self.violations:
            details = "; ".join(str(violation) for violation in self.violations)
            raise UnsupportedOpError(
                f"the graph does not fit TensorRT {self.tensorrt_version}'s ONNX parser: {details}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensorrt_version": self.tensorrt_version,
            "opset": self.opset,
            "passed": self.passed,
            "op_counts": self.op_counts,
            "violations": [str(violation) for violation in self.violations],
            "precision_notes": list(self.precision_notes),
        }


def audit_model(
    model: onnx.ModelProto, table: SupportTable | None = None, precision: str = "fp32"
) -> AuditReport:
    """Check every node of ``model`` against TensorRT's supported operators.

    Args:
        model: the ONNX model, ideally shape-inferred (rank constraints are checked only where
            the input's rank is known).
        table: the support table; the shipped TensorRT 10.x table by default.
        precision: "fp32", "fp16" or "bf16": the engine precision, for the fallback notes.

    Returns:
        The report; call :meth:`AuditReport.raise_if_failed` to turn violations into an error.
    """
    table = table or SupportTable.load()
    opset = _default_opset(model)
    violations: list[Violation] = []
    low, high = table.opset_range
    if not low <= opset <= high:
        violations.append(
            Violation("<model>", "", f"opset {opset} is outside TensorRT's range {low}-{high}")
        )
    ranks = _known_ranks(model)
    counts: Counter[str] = Counter()
    for node in _nodes(model):
        counts[node.op_type] += 1
        violations.extend(_check_node(node, table, opset, ranks))
    return AuditReport(
        tensorrt_version=table.tensorrt_version,
        opset=opset,
        op_counts=dict(sorted(counts.items())),
        violations=tuple(violations),
        precision_notes=_precision_notes(counts, table, precision),
    )


def _default_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in _DEFAULT_DOMAINS:
            return int(entry.version)
    raise UnsupportedOpError("the model imports no default-domain opset")


def _nodes(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    """Every node that TensorRT will see: local functions expanded, subgraphs walked."""
    functions = {(function.domain, function.name): function for function in model.functions}

    def walk(nodes: Any) -> Iterator[onnx.NodeProto]:
        for node in nodes:
            function = functions.get((node.domain, node.op_type))
            if function is not None:
                yield from walk(function.node)
                continue
            yield node
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    yield from walk(attribute.g.node)
                elif attribute.type == onnx.AttributeProto.GRAPHS:
                    for graph in attribute.graphs:
                        yield from walk(graph.node)

    yield from walk(model.graph.node)


def _known_ranks(model: onnx.ModelProto) -> dict[str, int]:
    graph = model.graph
    ranks = {tensor.name: len(tensor.dims) for tensor in graph.initializer}
    for value in (*graph.input, *graph.output, *graph.value_info):
        tensor_type = value.type.tensor_type
        if tensor_type.HasField("shape"):
            ranks[value.name] = len(tensor_type.shape.dim)
    return ranks


def _check_node(
    node: onnx.NodeProto, table: SupportTable, opset: int, ranks: dict[str, int]
) -> list[Violation]:
    name = node.name
    if node.domain not in _DEFAULT_DOMAINS:
        return [Violation(node.op_type, name, f"custom domain {node.domain!r} needs a plugin")]
    entry = table.operators.get(node.op_type)
    if entry is None or not entry.get("supported", False):
        state = "listed as unsupported" if entry else "not in the support list"
        return [Violation(node.op_type, name, f"{state} for TensorRT {table.tensorrt_version}")]
    found = []
    attributes = {attribute.name: _attribute_value(attribute) for attribute in node.attribute}
    for constraint in table.attribute_constraints.get(node.op_type, []):
        attribute, reason = constraint["attribute"], constraint["reason"]
        value = attributes.get(attribute, _default_for(constraint, opset))
        if value is None:
            continue
        if constraint.get("all_ones") and any(item != 1 for item in value):
            found.append(Violation(node.op_type, name, f"{attribute}={value}: {reason}"))
        allowed = constraint.get("allowed")
        if allowed is not None and value not in allowed:
            source = "" if attribute in attributes else f" (the opset-{opset} default)"
            message = f"{attribute}={value!r}{source} is not one of {allowed}: {reason}"
            found.append(Violation(node.op_type, name, message))
    rank_rule = table.input_rank_constraints.get(node.op_type)
    if rank_rule and node.input and node.input[0] in ranks:
        rank = ranks[node.input[0]]
        if rank not in rank_rule["ranks"]:
            found.append(Violation(node.op_type, name, f"input rank {rank}: {rank_rule['reason']}"))
    return found


def _attribute_value(attribute: onnx.AttributeProto) -> Any:
    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [item.decode() if isinstance(item, bytes) else item for item in value]
    return value


def _default_for(constraint: dict[str, Any], opset: int) -> Any:
    """The attribute's default at ``opset``: the entry of the newest opset not above it."""
    defaults = constraint.get("default_by_opset", {})
    eligible = [int(since) for since in defaults if int(since) <= opset]
    return defaults[str(max(eligible))] if eligible else None


def _precision_notes(counts: Counter[str], table: SupportTable, precision: str) -> tuple[str, ...]:
    wanted = _PRECISION_TYPES.get(precision)
    if wanted is None:
        return ()
    notes = []
    for op_type in sorted(counts):
        types = table.operators.get(op_type, {}).get("types", [])
        if "FP32" in types and wanted not in types:
            notes.append(f"{op_type} has no {wanted} kernel; TensorRT runs it in FP32")
    return tuple(notes)
