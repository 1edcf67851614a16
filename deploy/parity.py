"""Parity of an exported graph against the PyTorch model it came from.

Tolerance (:class:`ParityTolerance`), and why. Every output of our models lives in [-1, 1]:
images and masks by construction, flows as normalised offsets. One 8-bit grey level is
2/255 = 7.8e-3 in that range. A maximum absolute error of 1e-3 (an eighth of a level) can move
a rounded pixel by at most one level, and only where it sits on a rounding boundary; for a flow
it is 0.25 px at 512 x 512. Two correct fp32 implementations differ only by summation order
(oneDNN vs MLAS convolutions, folded BatchNorm). Measured (docs/deploy.md): ~7e-6 on HPN's
generated image; on the trained flow net ~7e-7 on the flow itself, which bilinear sampling of
a noise garment (a gradient of up to 2 per pixel) amplifies to ~1.3e-4 on the warped garment.
So 1e-3 keeps 8x headroom on the worst case, while a wrong operator (nearest instead of
bilinear sampling, another ``align_corners``, a mis-folded BatchNorm) errs by 1e-2 to 1. The
mean bound (1e-4, 30x the worst measured 3e-6) catches a small systematic drift, such as a
wrong constant, that a max bound alone would let through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deploy.errors import ParityError


@dataclass(frozen=True)
class ParityTolerance:
    """Largest accepted absolute errors of an fp32 export (see the module docstring)."""

    max_abs: float = 1e-3
    mean_abs: float = 1e-4


@dataclass(frozen=True)
class ParityRecord:
    """The error of one output on one input set."""

    inputs: str
    shape: tuple[int, ...]
    output: str
    max_abs: float
    mean_abs: float


@dataclass(frozen=True)
class ParityReport:
    """Errors of every output on every input set, against one tolerance."""

    records: tuple[ParityRecord, ...]
    tolerance: ParityTolerance

    @property
    def max_abs(self) -> float:
        return max(record.max_abs for record in self.records)

    @property
    def mean_abs(self) -> float:
        """The worst per-output mean error (not an average over outputs)."""
        return max(record.mean_abs for record in self.records)

    @property
    def passed(self) -> bool:
        return self.max_abs <= self.tolerance.max_abs and self.mean_abs <= self.tolerance.mean_abs

    def raise_if_failed(self) -> None:
        """Raise :class:`ParityError` naming the worst output and input set."""
        if self.passed:
            return
        worst = max(self.records, key=lambda record: record.max_abs)
        raise ParityError(
            f"ONNX Runtime differs from PyTorch: max abs error {self.max_abs:.3g} "
            f"(tolerance {self.tolerance.max_abs:g}), mean {self.mean_abs:.3g} (tolerance "
            f"{self.tolerance.mean_abs:g}); worst on output {worst.output!r} with "
            f"{worst.inputs} inputs of shape {worst.shape}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_abs": self.max_abs,
            "mean_abs": self.mean_abs,
            "tolerance": {"max_abs": self.tolerance.max_abs, "mean_abs": self.tolerance.mean_abs},
            "passed": self.passed,
            "records": [
                {
                    "inputs": record.inputs,
                    "shape": list(record.shape),
                    "output": record.output,
                    "max_abs": record.max_abs,
                    "mean_abs": record.mean_abs,
                }
                for record in self.records
            ],
        }


def compare_outputs(
    label: str,
    reference: Mapping[str, torch.Tensor],
    candidate: Mapping[str, np.ndarray | torch.Tensor],
    shape: Sequence[int],
) -> list[ParityRecord]:
    """Per-output max and mean absolute error of ``candidate`` against ``reference``.

    Args:
        label: names the input set in the report ("random", "real").
        reference: output name -> PyTorch tensor.
        candidate: output name -> the other backend's array, same shapes.
        shape: the shape of the first input, recorded to locate failures.

    Returns:
        One record per reference output.
    """
    records = []
    for name, expected in reference.items():
        actual = torch.as_tensor(np.asarray(candidate[name]), dtype=torch.float32)
        expected = expected.detach().float().cpu()
        if actual.shape != expected.shape:
            raise ParityError(
                f"output {name!r} has shape {tuple(actual.shape)}, PyTorch gives "
                f"{tuple(expected.shape)}"
            )
        error = (actual - expected).abs()
        records.append(
            ParityRecord(label, tuple(shape), name, float(error.max()), float(error.mean()))
        )
    return records
