"""Human parser: the model contract, shapes, input checks, VITON-layout data, training, eval."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from model_contract import ModelContract
from PIL import Image

from core.errors import CheckpointError
from core.training.records import read_jsonl
from tryon.data.keypoint_formats import write_openpose_json
from tryon.data.lip import LEFT_ARM, PALETTE, RIGHT_ARM, UPPER_CLOTHES, flip_parse
from tryon.errors import InvalidInputError
from tryon.preprocess.parse_data import ParseDataset, list_samples, read_parse
from tryon.preprocess.parser import HumanParser, ParserConfig, garment_region, parse_image

TINY = ParserConfig(encoder="mobilenet_v2", decoder_channels=(16, 8, 8, 8, 4), resolution=32)


def _write_viton_split(root, split: str, count: int, size=(64, 48), synth: bool = True) -> None:
    """A VITON-HD-shaped split: a 'person' whose torso is upper clothes, arms left/right.

    ``synth``: inside ``viton/`` as `tryon data synth` writes it, else at the root as in a
    VITON-HD download."""
    folder = (root / "viton" if synth else root) / split
    for sub in ("image", "image-parse-v3", "openpose_json"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split))
    for index in range(count):
        parse = np.zeros(size, np.uint8)
        top = 10 + index
        parse[top : top + 30, 14:34] = UPPER_CLOTHES
        parse[top : top + 20, 8:14] = RIGHT_ARM  # the person's right arm: image left
        parse[top : top + 20, 34:40] = LEFT_ARM
        colours = rng.integers(0, 256, (20, 3), dtype=np.uint8)
        photo = colours[parse]
        name = f"p{index:03d}"
        Image.fromarray(photo).save(folder / "image" / f"{name}.png")
        palette_image = Image.fromarray(parse, mode="P")
        palette_image.putpalette(PALETTE.reshape(-1).tolist())
        palette_image.save(folder / "image-parse-v3" / f"{name}.png")
        keypoints = np.full((18, 2), np.nan, np.float32)
        keypoints[[2, 5, 8, 11]] = [(16, top + 2), (32, top + 2), (18, top + 28), (30, top + 28)]
        write_openpose_json(folder / "openpose_json" / f"{name}_keypoints.json", keypoints)


@pytest.fixture()
def tiny_data(tmp_path):
    _write_viton_split(tmp_path, "train", 4)
    _write_viton_split(tmp_path, "test", 2)
    return tmp_path


class TestParserContract(ModelContract):
    """The shared contract on a tiny MobileNetV2 U-Net (its ONNX export is not in deploy)."""

    model_type = "human_parser"

    def make_config(self) -> ParserConfig:
        return TINY

    def make_inputs(self, model: HumanParser, batch: int = 2) -> dict[str, torch.Tensor]:
        # 64 px: at 32 the deepest features are 1x1, where a bias followed by BatchNorm gets
        # exactly zero gradient (normalisation removes a constant shift).
        generator = torch.Generator().manual_seed(0)
        return {"images": torch.rand(batch, 3, 64, 64, generator=generator) * 2 - 1}


def test_forward_shapes_on_a_non_square_input():
    model = HumanParser(TINY)
    logits = model(torch.randn(2, 3, 64, 96))
    assert logits.shape == (2, 20, 64, 96)


def test_input_checks_say_how_to_fix():
    model = HumanParser(TINY)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.randn(1, 3, 50, 64))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match="try 128"):
        ParserConfig(resolution=130)


def test_parse_image_is_aligned_with_any_photo_size():
    model = HumanParser(TINY).eval()
    photo = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    parse = parse_image(model, photo)
    assert parse.shape == (45, 70) and parse.dtype == np.uint8 and parse.max() < 20
    assert garment_region(np.array([[5, 6, 7, 4]])).tolist() == [[True, True, True, False]]


def test_dataset_reads_the_viton_layout_and_flips_labels(tiny_data):
    samples = list_samples(tiny_data, "train")
    assert [s.name for s in samples] == ["p000", "p001", "p002", "p003"]
    assert samples[0].keypoints is not None
    dataset = ParseDataset(tiny_data, "train", resolution=32, flip=True)
    assert len(dataset) == 8
    image, labels = dataset[0]
    assert image.shape == (3, 32, 32) and labels.shape == (32, 32) and labels.dtype == torch.int64
    assert image.min() >= -1.0 and image.max() <= 1.0
    # 64x48 letterboxed into 32x32: 32x24 photo with 4 columns of padding each side.
    assert (labels[:, :4] == 0).all() and (labels[:, -4:] == 0).all()
    assert (image[:, :, :4] == -1).all()
    _, mirrored = dataset[4]
    torch.testing.assert_close(
        mirrored, torch.from_numpy(flip_parse(labels.numpy().astype(np.uint8))).long()
    )
    assert (labels == RIGHT_ARM).any() and (mirrored == LEFT_ARM).any()


def test_dataset_reads_a_viton_hd_download_root(tmp_path):
    _write_viton_split(tmp_path, "test", 3, size=(64, 48), synth=False)
    assert len(ParseDataset(tmp_path, "test", resolution=64)) == 3


def test_dataset_errors_name_the_problem(tmp_path):
    with pytest.raises(InvalidInputError, match="no train split with image/ and image-parse-v3/"):
        list_samples(tmp_path, "train")
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (4, 4)).save(rgb)
    with pytest.raises(InvalidInputError, match="palette or greyscale PNG"):
        read_parse(rgb)
    bad = tmp_path / "bad.png"
    Image.fromarray(np.full((4, 4), 40, np.uint8)).save(bad)
    with pytest.raises(InvalidInputError, match="holds id 40"):
        read_parse(bad)


def _train(data, out, **overrides):
    from tryon.preprocess.parser_training import ParserTrainOptions, train_parser

    settings = dict(steps=4, batch_size=2, checkpoint_every=2)
    settings.update(overrides)
    options = ParserTrainOptions(**settings)
    return train_parser(data, out, TINY, options, device="cpu", show_progress=False)


def test_training_steps_log_and_resume_bit_for_bit(tiny_data, tmp_path):
    straight = _train(tiny_data, tmp_path / "straight").final_dir
    # The same run cut after its first step (a wall-clock budget of 0), then resumed.
    resumed_run = tmp_path / "resumed"
    cut = _train(tiny_data, resumed_run, max_minutes=0.0)
    assert (cut.step, cut.finished, cut.final_dir) == (1, False, None)
    first = read_jsonl(resumed_run / "log.jsonl")
    assert [r["step"] for r in first] == [1]
    resumed = _train(tiny_data, resumed_run).final_dir

    log = read_jsonl(resumed_run / "log.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert log[0]["loss"] > 0 and 0 <= log[-1]["pixel_accuracy"] <= 1
    a, b = HumanParser.from_pretrained(straight), HumanParser.from_pretrained(resumed)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)
    assert (resumed_run / "samples").is_dir() and (resumed_run / "options.json").is_file()
    with pytest.raises(CheckpointError, match="other options"):
        _train(tiny_data, resumed_run, steps=6)


def test_evaluation_scores_parser_and_fallback(tiny_data):
    from tryon.preprocess.parser_eval import evaluate_parser

    report = evaluate_parser(HumanParser(TINY), tiny_data, "test", show_progress=False)
    assert report.photos == 2 and report.fallback_without_keypoints == 0
    # The fallback's torso quadrilateral from perfect keypoints overlaps the true torso well.
    assert report.fallback_iou_mean > 0.5
    assert 0.0 <= report.parser_iou_mean <= 1.0 and report.parse_seconds_median > 0
    assert {"background", "upper_clothes", "left_arm", "right_arm"} <= set(report.parser_class_iou)


def test_cli_parse_and_eval_parser(tiny_data, tmp_path, capsys):
    from tryon.cli import main

    model_dir = HumanParser(TINY).save_pretrained(tmp_path / "model")
    photo = tiny_data / "viton" / "test" / "image" / "p000.png"
    out, mask = tmp_path / "parse.png", tmp_path / "garment.png"
    main(["parse", str(photo), "--model", str(model_dir), "--out", str(out),
          "--garment-mask", str(mask)])  # fmt: skip
    parse_png = Image.open(out)
    assert parse_png.mode == "P" and parse_png.size == (48, 64)
    assert np.asarray(parse_png).max() < 20 and Image.open(mask).size == (48, 64)

    report_path = tmp_path / "report.json"
    main(["eval", "parser", "--model", str(model_dir), "--data", str(tiny_data),
          "--json", str(report_path)])  # fmt: skip
    report = json.loads(report_path.read_text())
    assert report["photos"] == 2 and report["fallback_iou_mean"] > 0.5
    assert "keypoint-geometry fallback" in capsys.readouterr().out


def test_median_seconds_counts_warmup_and_runs():
    from tryon.preprocess.latency import median_seconds

    calls = []
    assert median_seconds(lambda: calls.append(1), runs=5, warmup=2) >= 0
    assert len(calls) == 7
    with pytest.raises(ValueError, match="at least 1"):
        median_seconds(lambda: None, runs=0)


def test_pose_pck_by_hand():
    from tryon.preprocess.pose_eval import pose_pck

    reference = np.full((18, 2), np.nan, np.float32)
    reference[[0, 2, 5, 8]] = [(50, 10), (40, 30), (60, 30), (45, 60)]  # shoulder width 20
    estimate = reference.copy()
    estimate[0] += (0, 9)  # 0.45 widths off: correct
    estimate[2] += (11, 0)  # 0.55 widths off: wrong
    estimate[8] = np.nan  # missed: wrong
    correct = pose_pck(estimate, reference, threshold=0.5)
    assert correct[[0, 2, 5, 8]].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert np.isnan(correct[1])  # the reference has no neck: not scored
    with pytest.raises(ValueError, match="both shoulders"):
        pose_pck(estimate, np.full((18, 2), np.nan, np.float32), 0.5)


def test_evaluate_pose_with_the_reference_keypoints_scores_one(tiny_data):
    from tryon.preprocess import PrecomputedPoseEstimator
    from tryon.preprocess.pose_eval import evaluate_pose

    keypoints = tiny_data / "viton" / "test" / "openpose_json" / "p000_keypoints.json"
    estimator = PrecomputedPoseEstimator.from_openpose_json(keypoints)
    report = evaluate_pose(estimator, tiny_data, "test", limit=1, show_progress=False)
    assert (report.photos, report.found, report.pck) == (1, 1, 1.0)
