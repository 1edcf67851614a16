"""The contract every registered network keeps, as one test class each model's tests inherit.

In the manner of segmentation_models.pytorch's ``tests/models/base.py``: a network's test file
subclasses :class:`ModelContract`, names its ``model_type`` and gives a tiny config and example
inputs; the subclass then runs every test below. A model's own test file adds only what is
particular to it. ``tests/test_model_contracts.py`` checks that every type in
:mod:`core.registry` has such a subclass.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

from core import registry
from core.errors import CheckpointError
from core.modelio import CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, config_to_dict


class ModelContract:
    """Shared tests of a registered network (see the module docstring).

    Subclasses set ``model_type`` and implement :meth:`make_config` and :meth:`make_inputs`;
    they may override :meth:`make_model` (e.g. to grow it) and the tolerances.
    """

    model_type: ClassVar[str]
    fp16_atol: ClassVar[float] = 5e-2  # outputs of the fp16 ship against the float32 model
    onnx_resolution: ClassVar[int | None] = None

    # ------------------------------------------------------------------ what a model supplies

    def make_config(self) -> Any:
        """A tiny config of the network (fast on CPU)."""
        raise NotImplementedError

    def make_inputs(self, model: nn.Module, batch: int = 2) -> dict[str, torch.Tensor]:
        """Keyword inputs of ``model.forward``, drawn from a fixed generator."""
        raise NotImplementedError

    def make_model(self) -> nn.Module:
        return registry.model_class(self.model_type)(self.make_config())

    @staticmethod
    def tensors_of(result: Any) -> list[torch.Tensor]:
        """The output tensors of a forward result (a tensor or a tuple of them)."""
        return list(result) if isinstance(result, tuple) else [result]

    def run(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        with torch.no_grad():
            return self.tensors_of(model(**inputs))

    # ------------------------------------------------------------------ the contract

    def test_is_registered_with_its_presets(self) -> None:
        entry = registry.entry(self.model_type)
        model_class = entry.load_class()
        assert model_class.model_type == self.model_type
        assert isinstance(self.make_config(), model_class.config_class)
        for preset in entry.presets:
            assert isinstance(entry.preset(preset), model_class.config_class)

    def test_save_load_round_trip_in_eval_mode(self, tmp_path) -> None:
        model = self.make_model().eval()
        model.save_pretrained(tmp_path / "model", metadata={"steps": 3, "note": "x"})
        document = json.loads((tmp_path / "model" / CONFIG_FILE).read_text())
        assert document["format_version"] == FORMAT_VERSION
        assert document["model_type"] == self.model_type
        model_class = registry.model_class(self.model_type)
        loaded = model_class.from_pretrained(tmp_path / "model")
        assert not loaded.training and all(not module.training for module in loaded.modules())
        assert loaded.config == model.config
        assert loaded.pretrained_metadata == {"steps": 3, "note": "x"}
        assert registry.load_model(tmp_path / "model").config == model.config
        inputs = self.make_inputs(model)
        for first, second in zip(self.run(model, inputs), self.run(loaded, inputs), strict=True):
            assert torch.equal(first, second)

    def test_fp16_ship_round_trip(self, tmp_path) -> None:
        from tryon.shipping import ship_model

        model = self.make_model().eval()
        model.save_pretrained(tmp_path / "trained", metadata={"steps": 1, "data": "toy"})
        ship_model(tmp_path / "trained", tmp_path / "shipped")
        from safetensors.torch import load_file

        stored = load_file(tmp_path / "shipped" / WEIGHTS_FILE)
        assert {t.dtype for t in stored.values() if t.is_floating_point()} == {torch.float16}
        shipped = registry.load_model(tmp_path / "shipped")
        assert {p.dtype for p in shipped.parameters()} == {torch.float32}
        assert shipped.pretrained_metadata["shipped_from"]["dtype"] == "float16"
        inputs = self.make_inputs(model)
        for first, second in zip(self.run(model, inputs), self.run(shipped, inputs), strict=True):
            torch.testing.assert_close(second, first, atol=self.fp16_atol, rtol=0)

    def test_unknown_config_keys_are_refused(self, tmp_path) -> None:
        self.make_model().save_pretrained(tmp_path / "model")
        path = tmp_path / "model" / CONFIG_FILE
        document = json.loads(path.read_text())
        document["config"]["no_such_field"] = 1
        path.write_text(json.dumps(document))
        with pytest.raises(CheckpointError, match=r"no field.*no_such_field"):
            registry.load_model(tmp_path / "model")

    def test_deterministic_under_a_seed(self) -> None:
        torch.manual_seed(7)
        first = self.make_model()
        torch.manual_seed(7)
        second = self.make_model()
        for (name, a), b in zip(
            first.state_dict().items(), second.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b), name
        first.eval()
        inputs = self.make_inputs(first)
        for a, b in zip(self.run(first, inputs), self.run(first, inputs), strict=True):
            assert torch.equal(a, b)

    def test_every_parameter_gets_a_gradient(self) -> None:
        model = self.make_model().train()
        outputs = self.tensors_of(model(**self.make_inputs(model)))
        sum(output.float().square().mean() for output in outputs).backward()
        for name, parameter in model.named_parameters():
            assert parameter.requires_grad, name
            assert parameter.grad is not None, name
            assert torch.isfinite(parameter.grad).all(), name
            assert parameter.grad.abs().sum() > 0, name

    def test_config_is_plain_json(self) -> None:
        config = self.make_config()
        assert json.loads(json.dumps(config_to_dict(config))) == config_to_dict(config)

    def test_onnx_export_matches_pytorch(self, tmp_path) -> None:
        if not registry.entry(self.model_type).exportable:
            pytest.skip(f"{self.model_type} is not exportable (no I/O signature in deploy)")
        pytest.importorskip("onnxruntime")
        from deploy.onnx_export import export_onnx

        model = self.make_model().eval()
        result = export_onnx(
            model, tmp_path / "model.onnx", resolution=self.onnx_resolution, check_batches=(1, 2)
        )
        assert result.onnx_path.is_file() and result.parity.max_abs <= 1e-3
