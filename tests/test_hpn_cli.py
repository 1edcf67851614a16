"""``tryon train hpn`` / ``tryon eval hpn`` / ``tryon train hpn-table1`` end to end, tiny."""

from __future__ import annotations

import json

import pytest

from tryon.cli import main

FAST = [
    "--config", "tiny", "--levels", "32,64", "--steps-per-level", "2", "--batch-size", "2",
    "--vgg-layers", "relu1_2,relu2_2", "--device", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory, vgg16_path):
    root = tmp_path_factory.mktemp("synth")
    main(["data", "synth", "--out", str(root), "--identities", "5", "--poses", "2",
          "--size", "64", "--workers", "1"])  # fmt: skip
    return root


def test_train_resume_and_eval(synth_root, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "hpn", "--data", str(synth_root), "--out", str(run), *FAST])
    assert (run / "final" / "model.safetensors").is_file()
    metadata = json.loads((run / "final" / "config.json").read_text())["metadata"]
    assert metadata["backbone"]["name"] == "vgg16-hed" and len(metadata["backbone"]["sha256"]) == 64
    assert metadata["backbone"]["layers"] == ["relu1_2", "relu2_2"]
    log = (run / "log.jsonl").read_text()
    main(["train", "hpn", "--data", str(synth_root), "--out", str(run), *FAST])  # finished: no-op
    assert (run / "log.jsonl").read_text() == log
    capsys.readouterr()
    scores_path, grid = tmp_path / "scores.json", tmp_path / "grid.png"
    main(["eval", "hpn", "--model", str(run / "final"), "--data", str(synth_root),
          "--json", str(scores_path), "--grid", str(grid), "--limit", "2"])  # fmt: skip
    scores = json.loads(scores_path.read_text())
    assert scores["count"] == 2 and scores["resolution"] == 64
    assert {"ssim", "local_ssim", "baseline_ssim", "baseline_local_ssim"} <= set(scores)
    assert 0 <= scores["ssim_win_rate"] <= 1 and scores["ssim_gain_sem"] >= 0
    assert grid.is_file()
    assert scores["pckh"] is None  # only with --pckh
    main(["eval", "hpn", "--model", str(run / "final"), "--data", str(synth_root),
          "--json", str(scores_path), "--limit", "2", "--pckh"])  # fmt: skip
    scores = json.loads(scores_path.read_text())
    for name in ("pckh", "baseline_pckh", "ground_truth_pckh"):
        assert 0 <= scores[name] <= 1, name


def test_changed_options_do_not_mix_into_a_run(synth_root, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "hpn", "--data", str(synth_root), "--out", str(run), *FAST, "--dry-run"])
    assert "phase 64^2: steps 2..4, batch 2" in capsys.readouterr().out
    assert not run.exists()
    main(["train", "hpn", "--data", str(synth_root), "--out", str(run), *FAST])
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "hpn", "--data", str(synth_root), "--out", str(run), *FAST, "--no-local"])
    assert exit_info.value.code == 1
    assert "train.use_local" in capsys.readouterr().err


def test_image_skip_and_learning_rate_reach_the_run_and_the_saved_model(synth_root, tmp_path):
    run = tmp_path / "run"
    main(["train", "hpn", "--data", str(synth_root), "--out", str(run), *FAST,
          "--image-skip", "--learning-rate", "1e-3"])  # fmt: skip
    options = json.loads((run / "options.json").read_text())
    assert options["model.image_skip"] is True and options["train.learning_rate"] == 1e-3
    saved = json.loads((run / "final" / "config.json").read_text())
    assert saved["config"]["image_skip"] is True


def test_missing_backbone_names_the_fetch_command(synth_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HPN_TRYON_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(SystemExit):
        main(["train", "hpn", "--data", str(synth_root), "--out", str(tmp_path / "r"), *FAST])
    assert "tryon models fetch vgg16-hed" in capsys.readouterr().err


def test_table1_writes_markdown_and_json(synth_root, tmp_path):
    table, table_json = tmp_path / "table1.md", tmp_path / "table1.json"
    out = str(tmp_path / "t1")
    one_level = [*FAST[:2], "--levels", "64", "--steps-per-level", "1", *FAST[6:]]
    main(["train", "hpn-table1", "--data", str(synth_root), "--out", out, *one_level,
          "--limit", "1", "--table", str(table), "--table-json", str(table_json)])  # fmt: skip
    results = json.loads(table_json.read_text())["results"]
    assert list(results) == ["Baseline", "LD", "PT", "LD+PT"]
    markdown = table.read_text()
    assert "| LD+PT |" in markdown and "reference unchanged" in markdown
    assert all(scores["count"] == 1 for scores in results.values())
