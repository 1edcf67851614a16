"""``tryon train flow`` / ``tryon eval flow`` end to end on a tiny synthetic set."""

from __future__ import annotations

import json

import pytest

from tryon.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow_cli") / "synth"
    main(["data", "synth", "--out", str(root), "--identities", "10", "--poses", "1",
          "--size", "64", "--workers", "1"])  # fmt: skip
    return root


def test_train_then_evaluate_writes_scores_for_every_method(synth_root, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "flow", "--data", str(synth_root), "--out", str(run), "--resolution", "64",
          "--steps", "2", "--batch-size", "2", "--checkpoint-every", "1"])  # fmt: skip
    assert (run / "final" / "model.safetensors").is_file()
    result_path, grid = tmp_path / "eval.json", tmp_path / "grid.png"
    main(["eval", "flow", "--model", str(run), "--data", str(synth_root), "--json",
          str(result_path), "--resolution", "64", "--limit", "3", "--grid", str(grid)])  # fmt: skip
    result = json.loads(result_path.read_text())
    methods = {"flow", "bbox_resize", "tps"}
    assert set(result["masked_ssim"]) == set(result["iou"]) == methods
    assert all(0.0 <= value <= 1.0 for value in result["iou"].values())
    assert result["images"] == 3 and result["split"] == "test"
    assert set(result["flow_minus_baseline"]["iou"]) == {"bbox_resize", "tps"}
    assert 0.0 <= result["flow_better_fraction"]["masked_ssim"]["tps"] <= 1.0
    assert grid.is_file()
    assert "masked_ssim: flow" in capsys.readouterr().out


def test_dry_run_writes_nothing(synth_root, tmp_path, capsys):
    main(["train", "flow", "--data", str(synth_root), "--out", str(tmp_path / "run"),
          "--resolution", "64", "--dry-run"])  # fmt: skip
    assert "dry run" in capsys.readouterr().out
    assert not (tmp_path / "run").exists()


def test_bad_resolution_is_a_usage_error(synth_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "flow", "--data", str(synth_root), "--out", str(tmp_path / "run"),
              "--resolution", "60"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "multiple of the config's coarsest stride 16" in capsys.readouterr().err


def test_evaluating_a_missing_model_is_one_line_error(synth_root, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "flow", "--model", str(tmp_path / "empty"), "--data", str(synth_root),
              "--json", str(tmp_path / "out.json")])  # fmt: skip
    assert exit_info.value.code == 1
    assert "not a model directory" in capsys.readouterr().err
