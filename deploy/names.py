"""The backend and precision names, free of heavy imports so CLIs can offer them instantly."""

from __future__ import annotations

BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "tensorrt")
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
