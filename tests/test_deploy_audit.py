"""The TensorRT op audit: names, attributes with opset defaults, ranks, domains, subgraphs."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from deploy.errors import UnsupportedOpError
from deploy.op_audit import SupportTable, audit_model


def _model(
    nodes: list[onnx.NodeProto],
    opset: int = 17,
    input_shape: tuple[int, ...] = (1, 3, 8, 8),
    extra_domains: tuple[str, ...] = (),
) -> onnx.ModelProto:
    """A graph whose nodes read tensor "x" (and "grid"); outputs are left undeclared."""
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape)),
        helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 8, 8, 2]),
    ]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "audit", inputs, [output])
    imports = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1) for d in extra_domains)]
    return helper.make_model(graph, opset_imports=imports)


def _grid_sample(**attributes: object) -> onnx.NodeProto:
    return helper.make_node("GridSample", ["x", "grid"], ["y"], name="warp", **attributes)


def test_table_is_data_with_its_source_and_version() -> None:
    table = SupportTable.load()
    assert table.tensorrt_version.startswith("10.")
    assert "onnx-tensorrt" in table.source["repository"]
    assert "operators.md" in table.source["document"]
    assert table.opset_range == (9, 24)
    assert table.operators["Conv"]["supported"] is True
    assert table.operators["Unique"]["supported"] is False


def test_supported_graph_passes_and_counts_ops() -> None:
    nodes = [
        helper.make_node("LeakyRelu", ["x"], ["a"], alpha=0.2),
        helper.make_node("AveragePool", ["a"], ["b"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Tanh", ["b"], ["y"]),
    ]
    report = audit_model(_model(nodes))
    assert report.passed
    assert report.op_counts == {"AveragePool": 1, "LeakyRelu": 1, "Tanh": 1}
    report.raise_if_failed()


@pytest.mark.parametrize("op_type", ["Unique", "NotAnOnnxOp"])
def test_unsupported_op_fails_naming_it(op_type: str) -> None:
    report = audit_model(_model([helper.make_node(op_type, ["x"], ["y"], name="odd")]))
    assert not report.passed
    with pytest.raises(UnsupportedOpError, match=f"{op_type} \\(node odd\\)"):
        report.raise_if_failed()


def test_grid_sample_linear_spelling_is_rejected_even_as_a_default() -> None:
    # opset 20 spells bilinear "linear"; TensorRT 10 parses it as nearest (TensorRT #4646).
    explicit = audit_model(_model([_grid_sample(mode="linear")], opset=20))
    assert [v.op_type for v in explicit.violations] == ["GridSample"]
    assert "mode='linear' is not one of ['bilinear', 'nearest']" in explicit.violations[0].reason
    defaulted = audit_model(_model([_grid_sample()], opset=20))
    assert "(the opset-20 default)" in defaulted.violations[0].reason
    assert audit_model(_model([_grid_sample()], opset=17)).passed  # default is bilinear there
    assert audit_model(_model([_grid_sample(mode="bilinear", align_corners=0)])).passed


def test_grid_sample_on_a_5d_input_is_rejected() -> None:
    report = audit_model(_model([_grid_sample()], input_shape=(1, 3, 4, 8, 8)))
    assert "input rank 5" in report.violations[0].reason


def test_resize_and_pool_attribute_constraints() -> None:
    cubic = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="cubic")
    antialias = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear", antialias=1)
    dilated = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2])
    assert "mode='cubic'" in str(audit_model(_model([cubic])).violations[0])
    assert "antialias=1" in str(audit_model(_model([antialias], opset=19)).violations[0])
    assert "dilations=[2, 2]" in str(audit_model(_model([dilated], opset=19)).violations[0])
    nearest = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")
    assert audit_model(_model([nearest])).passed


def test_custom_domain_needs_a_plugin() -> None:
    node = helper.make_node("FusedConv", ["x"], ["y"], domain="com.microsoft")
    report = audit_model(_model([node], extra_domains=("com.microsoft",)))
    assert "custom domain 'com.microsoft' needs a plugin" in report.violations[0].reason


def test_nodes_inside_subgraphs_are_audited() -> None:
    branch_output = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)
    branch = helper.make_graph(
        [helper.make_node("Unique", ["x"], ["z"])], "branch", [], [branch_output]
    )
    condition = helper.make_node(
        "If", ["c"], ["y"], then_branch=branch, else_branch=branch, name="choose"
    )
    report = audit_model(_model([condition]))
    assert [violation.op_type for violation in report.violations] == ["Unique", "Unique"]


def test_opset_outside_tensorrts_range_fails() -> None:
    report = audit_model(_model([helper.make_node("Relu", ["x"], ["y"])], opset=8))
    assert "opset 8 is outside TensorRT's range 9-24" in str(report.violations[0])


def test_reduced_precision_notes_name_ops_that_fall_back_to_fp32() -> None:
    graph = _model([_grid_sample()])
    assert audit_model(graph, precision="fp32").precision_notes == ()
    assert audit_model(graph, precision="fp16").precision_notes == ()
    (note,) = audit_model(graph, precision="bf16").precision_notes
    assert note.startswith("GridSample has no BF16 kernel")
