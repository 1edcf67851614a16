"""Learning-rate schedules, computed from the step number alone.

A resumed run therefore continues on the same curve without any scheduler state. ``step`` is
the 0-based index of the step about to run; ``total`` the run's total number of steps.

- ``constant``: the peak learning rate throughout.
- ``cosine``: ``peak * (1 + cos(pi * step / total)) / 2``, from the peak down to 0.
"""

from __future__ import annotations

import math
from typing import Literal

Schedule = Literal["constant", "cosine"]
SCHEDULES: tuple[str, ...] = ("constant", "cosine")


def learning_rate_at(schedule: str, peak: float, step: int, total: int) -> float:
    """The learning rate of step ``step`` (0-based) of ``total`` under ``schedule``."""
    if total <= 0:
        raise ValueError(f"total must be positive, got {total}")
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        return 0.5 * peak * (1.0 + math.cos(math.pi * min(step, total) / total))
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
