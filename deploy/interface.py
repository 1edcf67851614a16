"""The one runtime interface every backend implements, and the input checks they share.

The pipeline, batch runs and the app hold a :class:`Backend` and call it with named tensors;
whether PyTorch, ONNX Runtime or TensorRT runs underneath is a loading-time choice
(:func:`deploy.load_backend`). Inputs may be numpy arrays or torch tensors (any device);
outputs are always float32 torch tensors keyed by output name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from deploy.registry import IOSignature

BackendName = Literal["torch", "onnxruntime", "tensorrt"]
Precision = Literal["fp32", "fp16", "bf16"]
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class Backend(ABC):
    """A loaded model behind one calling convention.

    Attributes:
        name: "torch", "onnxruntime" or "tensorrt".
        signature: named inputs and outputs with their shapes (fixed or dynamic spatial).
        config: the frozen config dataclass the model was built from.
        precision: the compute precision ("fp32", "fp16", "bf16").
        device: where the computation runs.
    """

    name: ClassVar[str]

    def __init__(
        self, signature: IOSignature, config: Any, precision: str, device: torch.device
    ) -> None:
        self.signature = signature
        self.config = config
        self.precision = precision
        self.device = device

    @property
    def model_type(self) -> str:
        """The registry key ("hpn", "appearance_flow")."""
        return self.signature.model_type

    @property
    def input_names(self) -> tuple[str, ...]:
        return self.signature.input_names

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.signature.output_names

    @abstractmethod
    def __call__(self, **inputs: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model on named (N, C, H, W) inputs; returns name -> float32 tensor."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_type={self.model_type!r}, "
            f"precision={self.precision!r}, device={str(self.device)!r})"
        )


def check_inputs(
    signature: IOSignature, inputs: Mapping[str, np.ndarray | torch.Tensor]
) -> list[torch.Tensor]:
    """Validate named inputs against a signature and return them as tensors in input order.

    Fixed-size inputs must match their spatial size exactly; dynamic ones must share one
    H, W that is a multiple of the signature's ``size_multiple``. All share one batch size.

    Raises:
        ValueError: with the expected names and shapes, saying what to change.
    """
    expected = signature.input_names
    if set(inputs) != set(expected):
        missing = sorted(set(expected) - set(inputs))
        extra = sorted(set(inputs) - set(expected))
        raise ValueError(
            f"{signature.model_type} takes inputs {list(expected)}; missing {missing}, "
            f"unexpected {extra}"
        )
    tensors = [torch.as_tensor(inputs[name]) for name in expected]
    batch = tensors[0].shape[0] if tensors[0].ndim == 4 else None
    spatial = tuple(tensors[0].shape[-2:])
    for spec, tensor in zip(signature.inputs, tensors, strict=True):
        if tensor.ndim != 4 or tensor.shape[1] != spec.channels or tensor.shape[0] != batch:
            raise ValueError(
                f"{spec.name} must be (N, {spec.channels}, H, W) with the batch size of "
                f"{expected[0]}, got {tuple(tensor.shape)}"
            )
        if not signature.dynamic_spatial and tuple(tensor.shape[-2:]) != (spec.height, spec.width):
            raise ValueError(
                f"{spec.name} must be {spec.height}x{spec.width} for this model, got "
                f"{tuple(tensor.shape[-2:])}; resize it first"
            )
        if signature.dynamic_spatial and tuple(tensor.shape[-2:]) != spatial:
            raise ValueError(
                f"every input must share one H, W; {spec.name} is {tuple(tensor.shape[-2:])} "
                f"but {expected[0]} is {spatial}"
            )
    multiple = signature.size_multiple
    if signature.dynamic_spatial and (spatial[0] % multiple or spatial[1] % multiple):
        raise ValueError(f"H and W must be multiples of {multiple}, got {spatial}; resize or pad")
    return tensors
