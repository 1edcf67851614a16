"""The PyTorch backend: the eager model (optionally channels-last, autocast, compiled).

It is the reference the other backends are checked against, and the fallback that always
works. Reduced precision is autocast (weights stay fp32): fp16 and bf16 on a GPU, bf16 on a
CPU (CPU fp16 autocast exists but is slower than fp32 on the CPUs we target).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from deploy.errors import BackendUnavailableError
from deploy.interface import TORCH_DTYPES, Backend, check_inputs
from deploy.registry import ModelIO, NamedGraph


class TorchBackend(Backend):
    """Runs the PyTorch module under ``torch.inference_mode``.

    Args:
        model: the loaded network (moved to ``device``, put in eval mode).
        model_io: its registry entry (gives the signature).
        device: where to run.
        precision: "fp32", or "fp16"/"bf16" autocast (fp16 only on CUDA).
        channels_last: store weights and inputs NHWC, which oneDNN and cuDNN convolutions
            prefer.
        compile: wrap the graph in ``torch.compile`` (first call compiles; needs a C++
            compiler on CPU).
        resolution: the signature's example resolution (None: the model's default).
    """

    name = "torch"

    def __init__(
        self,
        model: nn.Module,
        model_io: ModelIO,
        device: torch.device,
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        resolution: int | None = None,
    ) -> None:
        if precision == "fp16" and device.type != "cuda":
            raise BackendUnavailableError(
                "fp16 autocast needs a CUDA device; use precision='bf16' or 'fp32' on CPU"
            )
        model = model.to(device).eval()
        super().__init__(model_io.signature(model, resolution), model.config, precision, device)
        self.model = model
        self.channels_last = channels_last
        graph: nn.Module = NamedGraph(model, self.signature)
        if channels_last:
            graph = graph.to(memory_format=torch.channels_last)
        self._graph = torch.compile(graph) if compile else graph

    def __call__(self, **inputs: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        tensors = [
            tensor.to(self.device, torch.float32) for tensor in check_inputs(self.signature, inputs)
        ]
        if self.channels_last:
            tensors = [tensor.contiguous(memory_format=torch.channels_last) for tensor in tensors]
        autocast = (
            torch.autocast(self.device.type, dtype=TORCH_DTYPES[self.precision])
            if self.precision != "fp32"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            outputs = self._graph(*tensors)
        return {
            name: output.float().contiguous()
            for name, output in zip(self.output_names, outputs, strict=True)
        }
