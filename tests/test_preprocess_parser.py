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
from tryon.data.lip import LEFT_ARM, NUM_LABELS, PALETTE, RIGHT_ARM, UPPER_CLOTHES, flip_parse
from tryon.errors import InvalidInputError
from tryon.preprocess.parse_data import ParseDataset, list_samples, read_parse
from tryon.preprocess.parser import (
    HumanParser,
    ParserConfig,
    garment_region,
    parse_image,
    upsample_labels,
)

TINY = ParserConfig(decoder_channels=(16, 8, 8, 8, 4), resolution=64)


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
        if index % 2:  # half the photos carry a person-mask PNG (a band on top of the
            # person, so it differs from the parse), the others derive it from the parse
            (folder / "person-mask").mkdir(exist_ok=True)
            stored = parse > 0
            stored[:8] = True
            Image.fromarray((stored * 255).astype(np.uint8)).save(
                folder / "person-mask" / f"{name}.png"
            )
        write_openpose_json(folder / "openpose_json" / f"{name}_keypoints.json", keypoints)


@pytest.fixture()
def tiny_data(tmp_path):
    _write_viton_split(tmp_path, "train", 4)
    _write_viton_split(tmp_path, "test", 2)
    return tmp_path


def _guided_inputs(batch: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random image and pose maps with a person mask covering the middle of the frame."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.zeros(batch, 1, size, size)
    mask[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    return {
        "image": torch.rand(batch, 3, size, size, generator=generator) * 2 - 1,
        "person_mask": mask,
        "pose_maps": torch.rand(batch, 18, size, size, generator=generator),
    }


class TestParserContract(ModelContract):
    """The shared contract on a tiny EfficientNet-Lite0 U-Net (the shipped encoder)."""

    model_type = "human_parser"

    def make_config(self) -> ParserConfig:
        return TINY

    def make_inputs(self, model: HumanParser, batch: int = 2) -> dict[str, torch.Tensor]:
        # 64 px: at 32 the deepest features are 1x1, where a bias followed by BatchNorm gets
        # exactly zero gradient (normalisation removes a constant shift).
        return _guided_inputs(batch, 64)


def test_forward_shapes_on_a_non_square_input():
    model = HumanParser(TINY)
    inputs = {name: tensor[..., :64, :] for name, tensor in _guided_inputs(2, 96).items()}
    assert model(**inputs).shape == (2, 20, 64, 96)


def test_input_checks_say_how_to_fix():
    model = HumanParser(TINY)
    inputs = _guided_inputs(1, 64)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(**{name: tensor[..., :50, :] for name, tensor in inputs.items()})
    with pytest.raises(ValueError, match=r"person_mask must be \(N, 1, H, W\)"):
        model(inputs["image"], inputs["pose_maps"], inputs["person_mask"])
    with pytest.raises(ValueError, match="batch and H, W must match"):
        model(inputs["image"], inputs["person_mask"][..., :32], inputs["pose_maps"])
    with pytest.raises(ValueError, match="try 128"):
        ParserConfig(resolution=130)


def test_no_person_label_outside_the_dilated_person_mask():
    """The hard gate, in the forward pass: whatever the weights, outside means background."""
    torch.manual_seed(0)
    model = HumanParser(TINY).eval()
    with torch.no_grad():  # a bias that makes every pixel "upper clothes" before the gate
        model.unet.segmentation_head[0].bias[UPPER_CLOTHES] = 100.0
        inputs = _guided_inputs(2, 64)
        labels = model(**inputs).argmax(1)
    radius = TINY.gate_radius
    inside = torch.zeros(64, 64, dtype=torch.bool)
    inside[16 - radius : 48 + radius, 16 - radius : 48 + radius] = True
    assert (labels[:, ~inside] == 0).all()
    assert (labels[:, inside] == UPPER_CLOTHES).all()


def test_parse_image_gates_at_the_photo_resolution_and_aligns_with_any_size():
    torch.manual_seed(0)
    model = HumanParser(TINY).eval()
    with torch.no_grad():
        model.unet.segmentation_head[0].bias[UPPER_CLOTHES] = 100.0
    photo = np.random.default_rng(0).integers(0, 256, (90, 140, 3), dtype=np.uint8)
    mask = np.zeros((90, 140), bool)
    mask[30:60, 50:70] = True
    keypoints = np.full((18, 2), np.nan, np.float32)
    parse = parse_image(model, photo, keypoints, mask)
    assert parse.shape == (90, 140) and parse.dtype == np.uint8 and parse.max() < 20
    radius = round(TINY.gate_dilation * 140)
    near = np.zeros_like(mask)
    near[30 - radius : 60 + radius, 50 - radius : 70 + radius] = True
    assert (parse[~near] == 0).all() and (parse[mask] == UPPER_CLOTHES).all()
    assert garment_region(np.array([[5, 6, 7, 4]])).tolist() == [[True, True, True, False]]


def test_labels_enlarge_with_smooth_borders_not_pixel_stairs():
    """A garment border at 30 degrees, parsed at 64 px and enlarged 8x: the labels' nearest
    neighbours draw 8-px teeth; read from the logits the border follows the line within a
    pixel."""
    rows, cols = np.mgrid[0:64, 0:64] + 0.5
    logits = np.zeros((NUM_LABELS, 64, 64), np.float32)
    logits[UPPER_CLOTHES] = rows - 20 - np.tan(np.radians(30)) * cols
    logits[LEFT_ARM] = -5.0  # a label that never wins is never drawn
    big = upsample_labels(logits, (512, 512))
    column = (np.arange(512) + 0.5) / 8
    truth = (20 + np.tan(np.radians(30)) * column) * 8 - 0.5  # first clothes row per column
    border = np.argmax(big == UPPER_CLOTHES, axis=0)
    assert np.abs(border - truth)[16:-16].max() < 1.0
    small = logits.argmax(axis=0).astype(np.uint8)
    nearest = np.argmax(np.kron(small, np.ones((8, 8), np.uint8)) == UPPER_CLOTHES, axis=0)
    assert np.abs(nearest - truth)[16:-16].max() > 3  # what it replaces
    assert set(np.unique(big)) == {0, UPPER_CLOTHES}
    assert (big[:100, 400:] == 0).all() and (big[480:] == UPPER_CLOTHES).all()
    assert np.array_equal(upsample_labels(logits, (64, 64)), small)


def test_parser_inputs_put_the_guides_in_the_photos_letterbox():
    from tryon.preprocess.parser_inputs import parser_inputs

    photo = np.zeros((100, 50, 3), np.uint8)
    mask = np.zeros((100, 50), bool)
    mask[:, :25] = True
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[2] = (24.5, 49.5)  # the photo's centre
    inputs, box = parser_inputs(photo, keypoints, mask, 64, pose_sigma=0.05)
    assert (box.top, box.left, box.height, box.width) == (0, 16, 64, 32)
    assert inputs["person_mask"].shape == (1, 1, 64, 64)
    assert inputs["person_mask"][0, 0, :, 16:32].min() == 1
    assert inputs["person_mask"][0, 0, :, 32:].max() == 0
    peak = divmod(int(inputs["pose_maps"][0, 2].argmax()), 64)
    assert peak in {(31, 31), (31, 32), (32, 31), (32, 32)}
    assert inputs["pose_maps"][0, 0].max() == 0  # a missing joint is an empty map
    with pytest.raises(ValueError, match="must match"):
        parser_inputs(photo, keypoints, mask[:50], 64, 0.05)


def test_dataset_reads_the_viton_layout_and_flips_labels(tiny_data):
    samples = list_samples(tiny_data, "train")
    assert [s.name for s in samples] == ["p000", "p001", "p002", "p003"]
    assert samples[0].keypoints is not None
    dataset = ParseDataset(tiny_data, "train", resolution=32, flip=True)
    assert len(dataset) == 8
    image, mask, maps, labels = dataset[0]
    assert image.shape == (3, 32, 32) and labels.shape == (32, 32) and labels.dtype == torch.int64
    assert mask.shape == (1, 32, 32) and maps.shape == (18, 32, 32)
    torch.testing.assert_close(mask[0], (labels > 0).float())  # derived from the parse
    assert maps[2].max() > 0.5 and maps[0].max() == 0
    assert image.min() >= -1.0 and image.max() <= 1.0
    # 64x48 letterboxed into 32x32: 32x24 photo with 4 columns of padding each side.
    assert (labels[:, :4] == 0).all() and (labels[:, -4:] == 0).all()
    assert (image[:, :, :4] == -1).all()
    *_, mirrored_maps, mirrored = dataset[4]
    torch.testing.assert_close(
        mirrored, torch.from_numpy(flip_parse(labels.numpy().astype(np.uint8))).long()
    )
    assert (labels == RIGHT_ARM).any() and (mirrored == LEFT_ARM).any()
    torch.testing.assert_close(mirrored_maps[5], maps[2].flip(-1))  # right shoulder -> left
    _, stored_mask, _, stored_labels = dataset[1]  # p001 has a person-mask PNG: it is read
    assert stored_mask[0, :4, 4:28].min() == 1 and stored_labels[:4].max() == 0


def test_augmentation_moves_the_guides_reproducibly(tiny_data):
    dataset = ParseDataset(tiny_data, "train", resolution=64, augment=True)
    plain = ParseDataset(tiny_data, "train", resolution=64)
    torch.manual_seed(3)
    first = dataset[0]
    torch.manual_seed(3)
    again = dataset[0]
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a, b)
    draws = [dataset[0] for _ in range(8)]
    assert any(not torch.equal(d[1], plain[0][1]) for d in draws)  # the mask grew or shrank
    assert any(not torch.equal(d[2], plain[0][2]) for d in draws)  # the joints moved
    assert any(not torch.equal(d[0], plain[0][0]) for d in draws)  # and the photo's colour
    assert all(torch.equal(d[3], plain[0][3]) for d in draws)  # the labels did not


def test_colour_perturbation_greys_or_casts_the_photo():
    from tryon.preprocess.parse_data import perturb_colour

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    torch.manual_seed(0)
    grey = perturb_colour(photo, grey=1.0)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    cast = perturb_colour(photo, grey=0.0)
    assert cast.shape == photo.shape and cast.dtype == np.uint8
    assert not np.array_equal(cast[..., 0], cast[..., 1]) and not np.array_equal(cast, photo)


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

    settings = dict(steps=4, batch_size=2, checkpoint_every=2, encoder_weights=None)
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


def test_training_can_start_from_a_trained_parser(tiny_data, tmp_path):
    import dataclasses

    from tryon.preprocess.parser_training import ParserTask, ParserTrainOptions

    first = _train(tiny_data, tmp_path / "first").final_dir
    options = ParserTrainOptions(steps=2, batch_size=2, encoder_weights=None, init=str(first))
    started = ParserTask(TINY, options).build_model()
    trained = HumanParser.from_pretrained(first)
    for (name, x), (_, y) in zip(
        started.state_dict().items(), trained.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)
    wider = dataclasses.replace(TINY, resolution=TINY.resolution * 2)
    with pytest.raises(CheckpointError, match="another ParserConfig"):
        ParserTask(wider, options).build_model()


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
    test_split = tiny_data / "viton" / "test"
    photo = test_split / "image" / "p001.png"
    guides = ["--keypoints", str(test_split / "openpose_json" / "p001_keypoints.json"),
              "--person-mask", str(test_split / "person-mask" / "p001.png")]  # fmt: skip
    out, mask = tmp_path / "parse.png", tmp_path / "garment.png"
    main(["parse", str(photo), "--model", str(model_dir), "--out", str(out),
          "--garment-mask", str(mask), *guides])  # fmt: skip
    parse_png = Image.open(out)
    assert parse_png.mode == "P" and parse_png.size == (48, 64)
    assert np.asarray(parse_png).max() < 20 and Image.open(mask).size == (48, 64)

    report_path = tmp_path / "report.json"
    main(["eval", "parser", "--model", str(model_dir), "--data", str(tiny_data),
          "--json", str(report_path)])  # fmt: skip
    report = json.loads(report_path.read_text())
    assert report["photos"] == 2 and report["fallback_iou_mean"] > 0.5
    assert 0 <= report["classical_iou_mean"] <= 1
    assert "classical region" in capsys.readouterr().out


def test_cli_parse_uses_the_bundled_parser_and_saves_its_guides(tmp_path, capsys):
    """No --model: the shipped parser; --save-intermediates: the mask and joints it used."""
    from tryon.cli import main
    from tryon.data.keypoint_formats import read_openpose_json
    from tryon.pipeline.pipeline import bundled_models_dir

    photo = np.full((96, 64, 3), 200, np.uint8)
    photo[20:80, 16:48] = (30, 60, 160)  # a blue "shirt" on a grey backdrop
    mask = np.zeros((96, 64), np.uint8)
    mask[10:90, 12:52] = 255
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[[0, 1, 2, 5, 8, 11]] = [(32, 12), (32, 22), (20, 22), (44, 22), (24, 70), (40, 70)]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    write_openpose_json(tmp_path / "pose.json", keypoints)
    out, saved = tmp_path / "parse.png", tmp_path / "guides"
    main(["parse", str(tmp_path / "photo.png"), "--out", str(out),
          "--keypoints", str(tmp_path / "pose.json"), "--person-mask", str(tmp_path / "mask.png"),
          "--save-intermediates", str(saved)])  # fmt: skip
    parse = np.asarray(Image.open(out))
    near = np.zeros((96, 64), bool)
    near[7:93, 9:55] = True  # the mask grown by the gate's 3 % of 96 px
    assert parse.shape == (96, 64) and (parse[~near] == 0).all()
    assert np.array_equal(np.asarray(Image.open(saved / "person_mask.png")) > 127, mask > 0)
    np.testing.assert_allclose(read_openpose_json(saved / "keypoints.json"), keypoints)
    bundled = HumanParser.from_pretrained(bundled_models_dir() / "parser")
    torch_parse = parse_image(bundled, photo, keypoints, mask > 0)
    assert np.array_equal(parse, torch_parse)  # the bundled model made it
    assert "person_mask.png" in capsys.readouterr().out


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


def test_onnxruntime_backend_parses_like_the_torch_model(tmp_path):
    """A serving process parses through ONNX Runtime: same labels, logits within 1e-3."""
    pytest.importorskip("onnxruntime")
    import deploy
    from deploy.onnx_export import export_model_dir

    torch.manual_seed(0)
    model = HumanParser(TINY).eval()
    directory = model.save_pretrained(tmp_path / "parser")
    export_model_dir(directory, directory / "model.onnx", check_batches=(1,))
    runtime = deploy.load_backend(directory, backend="onnxruntime", threads=1)
    assert runtime.input_names == ("image", "person_mask", "pose_maps")
    inputs = _guided_inputs(1, 64, seed=4)
    with torch.no_grad():
        expected = model(**inputs)
    torch.testing.assert_close(runtime(**inputs)["logits"], expected, atol=1e-3, rtol=0)
    photo = np.random.default_rng(2).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    mask = np.zeros((80, 60), bool)
    mask[10:70, 15:45] = True
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[[2, 5]] = [(20, 20), (40, 20)]
    from_torch = parse_image(model, photo, keypoints, mask)
    from_onnx = parse_image(runtime, photo, keypoints, mask)
    assert (from_torch == from_onnx).mean() > 0.99  # argmax ties aside, the same parse
