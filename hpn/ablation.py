"""The paper's Table 1 ablation on our data: Baseline, LD, PT and LD+PT with equal budgets.

Each variant is one :class:`hpn.trainer.ProgressiveTrainer` run in ``out_dir/<variant>`` with
the same model config, data, seed and number of optimisation steps
(``len(levels) * steps_per_level``); only the two switches differ:

- Baseline: no local descriptors, no progressive training (final resolution from scratch);
- LD: local descriptors, no progressive training;
- PT: progressive training, no local descriptors;
- LD+PT: both.

"Equal budget" means equal iterations, as in the paper; PT variants spend part of them at lower
resolutions, so they use less compute. Every run resumes, and a finished variant's scores
(``scores.json``) are reused, so the whole table is one interruptible command.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from core.files import write_json_atomic, write_text_atomic
from core.images import save_image_grid
from core.perceptual import VGG16Features
from hpn.evaluation import evaluate_pose_transfer
from hpn.model import HPNConfig
from hpn.trainer import ProgressiveTrainer, TrainConfig

VARIANTS: dict[str, tuple[bool, bool]] = {
    "Baseline": (False, False),
    "LD": (True, False),
    "PT": (False, True),
    "LD+PT": (True, True),
}  # name -> (use_local, progressive)

PAPER_TABLE1: dict[str, tuple[float, float]] = {
    "Baseline": (0.909, 0.699),
    "LD": (0.944, 0.744),
    "PT": (0.953, 0.759),
    "LD+PT": (0.954, 0.772),
}  # Human3.6M, SSIM / local-SSIM, paper Table 1


def run_table1(
    model_config: HPNConfig,
    train_config: TrainConfig,
    train_dataset: Dataset,
    test_dataset: Dataset,
    backbone: VGG16Features,
    backbone_info: Mapping[str, Any],
    out_dir: str | Path,
    run_info: Mapping[str, Any] | None = None,
    limit: int | None = None,
    device: str | None = None,
    show_progress: bool = True,
    num_workers: int = 0,
) -> dict[str, dict[str, Any]]:
    """Train and evaluate the four variants; returns variant -> scores (+ the baseline's).

    Args:
        model_config, train_config: shared by every variant (its ``use_local`` and
            ``progressive`` fields are overridden per variant).
        train_dataset, test_dataset: pose-transfer pairs (:mod:`hpn.pairs` contract).
        backbone, backbone_info: the perceptual-loss backbone and its record.
        out_dir: one run directory per variant goes in here.
        run_info: extra options recorded in each run (data path...).
        limit: evaluate on the first ``limit`` test pairs only.
        device: training device (None or "auto": CUDA when available).
        show_progress: tqdm bars.
        num_workers: DataLoader worker processes.
    """
    out_dir = Path(out_dir)
    results: dict[str, dict[str, Any]] = {}
    for name, (use_local, progressive) in VARIANTS.items():
        run_dir = out_dir / _slug(name)
        scores_path = run_dir / "scores.json"
        if scores_path.is_file():
            results[name] = json.loads(scores_path.read_text())
            continue
        config = dataclasses.replace(train_config, use_local=use_local, progressive=progressive)
        trainer = ProgressiveTrainer(
            model_config, config, train_dataset, backbone, run_dir, backbone_info,
            {**(run_info or {}), "variant": name}, device=device, show_progress=show_progress,
            num_workers=num_workers,
        )  # fmt: skip
        model = trainer.train()
        evaluation = evaluate_pose_transfer(
            model, test_dataset, limit=limit, show_progress=show_progress
        )
        save_image_grid(evaluation.examples, run_dir / "test_grid.png")
        scores = evaluation.scores.as_dict()
        write_json_atomic(scores_path, scores)
        results[name] = scores
    return results


def _slug(name: str) -> str:
    return name.lower().replace("+", "_")


def table1_markdown(results: Mapping[str, Mapping[str, Any]], settings: str) -> str:
    """The measured table next to the paper's, as markdown."""
    lines = [
        "| variant | SSIM | local-SSIM | paper SSIM (H3.6M) | paper local-SSIM |",
        "|---|---|---|---|---|",
    ]
    for name, scores in results.items():
        paper_ssim, paper_local = PAPER_TABLE1[name]
        lines.append(
            f"| {name} | {_fmt(scores['ssim'])} | {_fmt(scores['local_ssim'])} | "
            f"{paper_ssim:.3f} | {paper_local:.3f} |"
        )
    first = next(iter(results.values()))
    lines.append(
        f"| reference unchanged | {_fmt(first['baseline_ssim'])} | "
        f"{_fmt(first['baseline_local_ssim'])} | - | - |"
    )
    return "\n".join([settings, "", *lines, ""])


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def table1_settings(
    results: Mapping[str, Mapping[str, Any]],
    config: TrainConfig,
    backbone_info: Mapping[str, Any],
    preset: str,
    command: str,
) -> str:
    """The sentence above the table: how it was measured."""
    return (
        f"Measured with `{command}`: preset {preset}, levels {list(config.levels)}, "
        f"{config.steps_per_level} steps per level ({config.total_steps} per variant), batch "
        f"{list(config.batch_sizes)}, seed {config.seed}, backbone {backbone_info['name']} layers "
        f"{backbone_info['layers']}; test pairs: {next(iter(results.values()))['count']}; SSIM "
        "protocol B (DATA.md) at the final resolution."
    )


def write_table1(
    results: Mapping[str, Mapping[str, Any]], settings: str, table: Path, table_json: Path
) -> str:
    """Write the markdown table and its JSON (atomically); returns the markdown."""
    markdown = table1_markdown(results, settings)
    write_text_atomic(table, markdown)
    write_json_atomic(table_json, {"settings": settings, "results": results})
    return markdown
