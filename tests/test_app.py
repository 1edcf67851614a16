"""The storefront: its decisions (tryon.storefront), `tryon app`, and app.py driven by AppTest.

AppTest runs app.py in this process against a small synthetic catalog and a tiny,
randomly initialised HPN + flow model pair (``$TRYON_MODELS``): the page, the real pipeline
and its error paths are exercised in seconds; what the trained demo models produce is the
browser test's and the pipeline tests' business.
"""

from __future__ import annotations

import io
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from tryon_samples import (
    make_tiny_models,
    synthetic_garment,
    synthetic_person,
    write_openpose_json,
)

from tryon import storefront
from tryon.errors import InvalidInputError, NoPersonFound, TryOnError

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
APP_TIMEOUT_S = 180
PHOTO_SIZE = 256


def _person(seed: int) -> np.ndarray:
    return synthetic_person(seed, size=PHOTO_SIZE)[0]


def _encoded(image: np.ndarray, image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sample models and three garments, rendered by the synthetic generator."""
    root = tmp_path_factory.mktemp("catalog")
    (root / "people").mkdir()
    (root / "garments").mkdir()
    for index in range(2):
        image, keypoints = synthetic_person(index, size=PHOTO_SIZE)
        Image.fromarray(image).save(root / "people" / f"model_{index}.png")
    write_openpose_json(root / "people" / "model_0_keypoints.json", keypoints)  # model_1's only
    for seed, name in enumerate(("red_shirt", "blue-top", "striped tee"), start=10):
        garment = synthetic_garment(seed, size=PHOTO_SIZE)
        Image.fromarray(garment).save(root / "garments" / f"{name}.png")
    (root / "garments" / "notes.txt").write_text("not a photo")
    return root


@pytest.fixture(scope="module")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hpn/ + flow/ model directories, tiny and untrained: the pipeline runs in ~1 s."""
    return make_tiny_models(tmp_path_factory.mktemp("models"))


def _open_page(catalog: Path, models: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The storefront on ``catalog`` with the models of ``models``, first run done."""
    monkeypatch.setenv(storefront.CATALOG_ENV, str(catalog))
    monkeypatch.setenv(storefront.MODELS_ENV, str(models))
    page = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    page.run()
    assert not page.exception
    return page


@pytest.fixture
def app(catalog_dir: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return _open_page(catalog_dir, tiny_models_dir, monkeypatch)


def _errors(page: AppTest) -> list[str]:
    return [element.value for element in page.error]


def _image_captions(page: AppTest) -> list[str]:
    return [caption for image in page.image for caption in image.captions]


def _upload(page: AppTest, name: str, content: bytes, mime: str = "image/png") -> None:
    page.file_uploader(key="upload").set_value((name, content, mime)).run()
    assert not page.exception


def _try_on(page: AppTest, garment: str) -> None:
    page.button(key=f"garment-{garment}").click().run()
    page.button(key="try_on").click().run()
    assert not page.exception


# ----------------------------------------------------------------- tryon.storefront


def test_load_catalog_lists_photos_sorted_and_labelled(catalog_dir: Path) -> None:
    catalog = storefront.load_catalog(catalog_dir)
    assert [item.key for item in catalog.garments] == ["blue-top", "red_shirt", "striped tee"]
    assert [item.label for item in catalog.garments] == ["Blue top", "Red shirt", "Striped tee"]
    assert [item.key for item in catalog.people] == ["model_0", "model_1"]
    assert catalog.garment("red_shirt").path == catalog_dir / "garments" / "red_shirt.png"
    with pytest.raises(KeyError, match="blue-top, red_shirt, striped tee"):
        catalog.garment("hat")


def test_sample_models_bring_their_keypoints_file(catalog_dir: Path, tmp_path: Path) -> None:
    catalog = storefront.load_catalog(catalog_dir)
    with_file, without = catalog.person("model_0"), catalog.person("model_1")
    assert with_file.keypoints_file == catalog_dir / "people" / "model_0_keypoints.json"
    expected = synthetic_person(1, size=PHOTO_SIZE)[1]
    np.testing.assert_allclose(with_file.keypoints(), expected, atol=1e-3)
    assert without.keypoints_file is None and without.keypoints() is None
    empty = tmp_path / "nobody_keypoints.json"
    empty.write_text('{"people": []}')
    broken = storefront.CatalogItem("nobody", "Nobody", tmp_path / "nobody.png", empty)
    with pytest.raises(InvalidInputError, match="lists no person"):
        broken.keypoints()


def test_load_catalog_people_are_optional_garments_are_not(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        storefront.load_catalog(tmp_path / "missing")
    (tmp_path / "garments").mkdir()
    with pytest.raises(InvalidInputError, match="no garment photos"):
        storefront.load_catalog(tmp_path)
    Image.new("RGB", (64, 64)).save(tmp_path / "garments" / "coat.WEBP")
    catalog = storefront.load_catalog(tmp_path)
    assert [item.key for item in catalog.garments] == ["coat"]
    assert catalog.people == ()


def test_catalog_and_models_folders_come_from_the_environment(tmp_path: Path) -> None:
    assert storefront.resolve_catalog_dir({}) == storefront.bundled_catalog_dir()
    assert storefront.resolve_catalog_dir({"TRYON_CATALOG": "  "}) == (
        storefront.bundled_catalog_dir()
    )
    assert storefront.resolve_catalog_dir({"TRYON_CATALOG": str(tmp_path)}) == tmp_path
    assert storefront.resolve_models_dir({}) is None
    assert storefront.resolve_models_dir({"TRYON_MODELS": str(tmp_path)}) == str(tmp_path)


def test_upload_cap_matches_streamlit_config() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == storefront.MAX_UPLOAD_MB
    assert config["browser"]["gatherUsageStats"] is False


def test_offered_backends_and_devices_are_usable_here() -> None:
    import torch

    backends = storefront.available_backends()
    assert backends[0] == "torch"
    assert set(backends) <= {"torch", "onnxruntime", "tensorrt"}
    assert ("tensorrt" in backends) <= torch.cuda.is_available()
    assert ("cuda" in storefront.available_devices()) == torch.cuda.is_available()
    assert storefront.DEFAULT_RESOLUTION in storefront.RESOLUTIONS
    assert all(size % 32 == 0 for size in storefront.RESOLUTIONS)


def test_failures_are_described_for_shoppers() -> None:
    from deploy.errors import BackendUnavailableError

    assert storefront.describe_failure(NoPersonFound("nobody")).startswith("No person found")
    assert storefront.describe_failure(InvalidInputError("x.png: corrupt")) == (
        "This photo cannot be used: x.png: corrupt"
    )
    message = storefront.describe_failure(BackendUnavailableError("run tryon export"))
    assert message == "The try-on could not run: run tryon export"
    assert "could not run" in storefront.describe_failure(TryOnError("bad models"))
    assert "unexpectedly (RuntimeError: boom)" in storefront.describe_failure(RuntimeError("boom"))


def test_choices_stages_names_and_png_download() -> None:
    assert storefront.missing_choices(False, False) == "Choose a photo and a garment to try on."
    assert storefront.missing_choices(True, False) == "Choose a garment to try on."
    assert storefront.missing_choices(True, True) is None
    assert storefront.stage_label("fit") == "Fitting the garment to your body"
    assert storefront.stage_label("new_stage") == "New stage"
    from tryon.pipeline import STAGES

    assert set(STAGES) <= set(storefront.STAGE_LABELS)  # every stage the pipeline announces
    garment = storefront.CatalogItem("red shirt/2", "Red shirt", Path("g.png"))
    assert storefront.result_file_name("../me.jpg", garment) == "tryon-me-red-shirt-2.png"
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(storefront.png_bytes(image))))
    np.testing.assert_array_equal(decoded, image)
    assert storefront.timing_summary({"pose": 0.5, "warp": 0.25}) == (
        "0.75 s (pose 0.50 s, warp 0.25 s)"
    )


def test_intermediate_views_are_captioned_rgb_in_pipeline_order() -> None:
    from tryon.pipeline import TryOnResult

    size = 32
    rgb = np.full((size, size, 3), 128, np.uint8)
    region = np.zeros((size, size), bool)
    region[8:24, 8:24] = True
    keypoints = np.full((18, 2), np.nan, np.float32)
    keypoints[[1, 2, 5]] = [[16, 8], [10, 10], [22, 10]]
    layers = {"parts": rgb, "canonical": rgb, "fitted_garment": rgb}
    layers["alpha"] = layers["uncovered"] = region.astype(np.uint8) * 255
    result = TryOnResult(
        image=rgb,
        photo=rgb,
        view="catalog",
        keypoints=keypoints,
        person_mask=region,
        garment_region=region,
        region_source="classical",
        garment_mask=region,
        garment_keypoints=keypoints,
        layers=layers,
        timings={},
    )
    views = dict(storefront.intermediate_views(result))
    paper_only = {"frontal", "warped_garment", "flow"}
    expected = [
        label for name, label in storefront.INTERMEDIATE_LABELS.items() if name not in paper_only
    ]
    assert list(views) == expected
    assert all(
        image.shape == (size, size, 3) and image.dtype == np.uint8 for image in views.values()
    )
    mask_view = views["The garment you wear"]
    assert mask_view[16, 16].tolist() == [255, 255, 255] and mask_view[0, 0].tolist() == [0, 0, 0]


def test_shared_pipeline_runs_one_try_on_at_a_time_and_says_so() -> None:
    import threading

    running, most_at_once = [], []
    first_started, release_first = threading.Event(), threading.Event()

    def pipeline(person, garment, person_keypoints, view, progress):
        running.append(garment)
        most_at_once.append(len(running))
        progress("pose")
        if garment == "first":
            first_started.set()
            release_first.wait(timeout=10)
        running.remove(garment)
        return (person, garment, person_keypoints, view)

    shared = storefront.SharedPipeline(pipeline)
    announced: dict[str, list[str]] = {"first": [], "second": []}
    results = {}

    def shopper(garment: str) -> None:
        results[garment] = shared("me", garment, view="catalog", progress=announced[garment].append)

    first = threading.Thread(target=shopper, args=("first",))
    first.start()
    assert first_started.wait(timeout=10)
    second = threading.Thread(target=shopper, args=("second",))
    second.start()
    deadline = time.monotonic() + 10
    while not announced["second"] and time.monotonic() < deadline:
        time.sleep(0.01)
    release_first.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert max(most_at_once) == 1
    assert announced == {"first": ["pose"], "second": [storefront.QUEUE_STAGE, "pose"]}
    assert results["second"] == ("me", "second", None, "catalog")
    assert storefront.stage_label(storefront.QUEUE_STAGE).startswith("Waiting for another")


# ----------------------------------------------------------------- tryon app


def test_tryon_app_dry_run_prints_the_streamlit_command(
    catalog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tryon.cli import main

    main(["app", "--dry-run", "--headless", "--port", "8765", "--catalog", str(catalog_dir)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"TRYON_CATALOG={catalog_dir}"
    assert lines[1].startswith(f"cd {REPO} && ")
    assert f"-m streamlit run {APP} --server.port 8765" in lines[1]
    assert "--server.headless true --browser.gatherUsageStats false" in lines[1]


def test_tryon_app_refuses_a_catalog_without_garments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tryon.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["app", "--dry-run", "--catalog", str(tmp_path)])
    assert exit_info.value.code == 1
    assert "has no garment photos" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["app", "--dry-run", "--models", str(tmp_path / "nowhere")])
    assert f"models folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------- app.py (AppTest)


def test_page_structure(app: AppTest, catalog_dir: Path) -> None:
    assert [title.value for title in app.title] == ["Virtual fitting room"]
    assert [header.value for header in app.subheader] == [
        "1. Your photo",
        "2. Pick a garment",
        "3. Try it on",
    ]
    uploader = app.file_uploader(key="upload")
    assert sorted(uploader.allowed_type) == [".jpeg", ".jpg", ".png", ".webp"]
    assert not app.camera_input  # only after asking for it
    sidebar = {box.label: box for box in app.sidebar.selectbox}
    assert list(sidebar) == ["Backend", "Resolution (paper view)", "Device"]
    assert list(sidebar["Backend"].options) == list(storefront.available_backends())
    assert sidebar["Resolution (paper view)"].value == storefront.DEFAULT_RESOLUTION
    (view,) = app.sidebar.radio
    assert view.label == "View" and list(view.options) == [
        "My photo",
        "Catalog pose",
        "Paper (HPN)",
    ]
    assert view.value == "own"  # the shopper's own photo by default
    assert list(sidebar["Device"].options) == list(storefront.available_devices())
    garments = [b.label for b in app.button if b.key.startswith("garment-")]
    assert garments == ["Blue top", "Red shirt", "Striped tee"]
    assert [b.key for b in app.button if b.label == "Use"] == ["sample-model_0", "sample-model_1"]
    assert {"Model 0", "Model 1"} <= set(_image_captions(app))
    assert app.button(key="try_on").disabled
    assert "Choose a photo and a garment to try on." in [c.value for c in app.caption]
    assert str(catalog_dir) in " ".join(c.value for c in app.sidebar.caption)
    assert not app.error and not app.download_button


def test_garment_selection_moves_the_check_mark(app: AppTest) -> None:
    app.button(key="garment-red_shirt").click().run()
    assert app.button(key="garment-red_shirt").label == "✓ Red shirt"
    assert app.session_state.garment == "red_shirt"
    app.button(key="garment-blue-top").click().run()
    assert app.button(key="garment-blue-top").label == "✓ Blue top"
    assert app.button(key="garment-red_shirt").label == "Red shirt"
    assert app.button(key="try_on").disabled  # still no photo
    assert "Choose a photo to try on." in [c.value for c in app.caption]


def test_camera_photo_becomes_the_photo(app: AppTest) -> None:
    app.toggle(key="use_camera").set_value(True).run()
    shot = _encoded(_person(3), "JPEG")
    app.camera_input(key="camera").set_value(("shot.jpg", shot, "image/jpeg"))
    app.run()
    assert not app.exception and not app.error
    name, image, keypoints = app.session_state.photo
    assert name == "shot.jpg" and image.shape == (PHOTO_SIZE, PHOTO_SIZE, 3)
    assert keypoints is None  # the pipeline estimates them


def test_corrupt_upload_is_a_message_and_the_app_keeps_working(app: AppTest) -> None:
    _upload(app, "holiday.png", b"\x89PNG\r\n\x1a\n but the rest is garbage")
    (message,) = _errors(app)
    assert message.startswith("This photo cannot be used: holiday.png:")
    assert app.session_state.photo is None and app.button(key="try_on").disabled
    app.button(key="sample-model_1").click().run()
    assert not app.error
    assert app.session_state.photo[0] == "model_1.png"


def test_oversized_upload_is_refused_in_memory(app: AppTest) -> None:
    _upload(app, "huge.jpg", b"\xff\xd8" + bytes(storefront.MAX_UPLOAD_BYTES), "image/jpeg")
    (message,) = _errors(app)
    assert "huge.jpg: file too large" in message


def test_photo_without_a_person_reports_no_person_found(app: AppTest) -> None:
    empty_room = np.full((PHOTO_SIZE, PHOTO_SIZE, 3), 200, np.uint8)
    empty_room[180:, :] = 90  # a floor, nobody standing on it
    _upload(app, "empty_room.png", _encoded(empty_room))
    _try_on(app, "red_shirt")
    (message,) = _errors(app)
    assert message.startswith("No person found in your photo")
    assert app.status[0].state == "error"
    assert not app.download_button
    # The page still works: a photo with a person goes through.
    app.button(key="sample-model_0").click().run()
    assert app.session_state.photo[2].shape == (18, 2)  # its shipped keypoints go along
    app.button(key="try_on").click().run()
    assert not app.exception and not app.error
    assert app.status[0].state == "complete"


def test_several_garments_in_a_row_without_reuploading(app: AppTest) -> None:
    person = _person(7)
    _upload(app, "me.webp", _encoded(person, "WEBP", lossless=True), "image/webp")
    _try_on(app, "red_shirt")
    assert not app.error
    status = app.status[0]
    assert status.state == "complete" and status.label.startswith("Done in ")
    for stage in ("pose", "parse", "fit", "composite"):
        assert f"{stage} " in status.label
    assert [m.value for m in status.markdown][:2] == [
        "Finding your pose",
        "Cutting out the garment",
    ]
    download = app.download_button(key="download")
    assert download.proto.label == "Download (PNG)"
    assert app.session_state.latest[0] == "me.webp"
    result = app.session_state.latest[2]
    assert result.image.shape == person.shape and result.view == "own"

    shown = _image_captions(app)
    assert shown[-2:] == ["Your photo", "Wearing: Red shirt"]  # side by side, last on the page
    app.toggle(key="show_intermediates").set_value(True).run()
    shown = _image_captions(app)
    for label in ("Keypoints found", "The garment you wear", "Garment fitted to your pose"):
        assert label in shown
    assert "You, facing the camera" not in shown  # the catalog view is off
    assert any(c.value.startswith("Timings: ") for c in app.caption)

    _try_on(app, "blue-top")  # the uploaded photo is kept: no new upload
    assert not app.error
    assert app.session_state.latest[0] == "me.webp"
    assert app.session_state.latest[1].key == "blue-top"
    assert [label for label, _ in app.session_state.fitting_room] == ["Blue top", "Red shirt"]
    assert "Tried on before" in [header.value for header in app.subheader]


def test_backend_without_its_export_is_a_message(app: AppTest) -> None:
    if "onnxruntime" not in storefront.available_backends():
        pytest.skip("onnxruntime is not installed (pip install -e '.[deploy]')")
    app.sidebar.selectbox(key="backend").select("onnxruntime").run()
    app.button(key="sample-model_0").click().run()
    _try_on(app, "red_shirt")
    (message,) = _errors(app)
    assert message.startswith("The try-on could not run: ")
    assert "has no model.onnx; make it with `tryon export --model" in message
    app.sidebar.selectbox(key="backend").select("torch").run()
    app.button(key="try_on").click().run()
    assert not app.error and app.status[0].state == "complete"


def test_unusable_catalog_is_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(storefront.CATALOG_ENV, str(tmp_path))
    page = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    page.run()
    assert not page.exception
    (message,) = _errors(page)
    assert message.startswith("The catalog cannot be shown: catalog ")
    assert "has no garment photos" in message


def test_the_view_switch_shows_the_catalog_pose(app: AppTest) -> None:
    app.button(key="sample-model_0").click().run()
    app.sidebar.radio(key="view").set_value("catalog").run()
    _try_on(app, "red_shirt")
    assert not app.error
    result = app.session_state.latest[2]
    assert result.view == "catalog" and result.layers["canonical"].shape == result.image.shape
    assert "repose " in app.status[0].label
    app.toggle(key="show_intermediates").set_value(True).run()
    assert "You, facing the camera" in _image_captions(app)


def test_an_engineers_note_stays_with_the_intermediates(
    catalog_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untrained parser's region is implausible and the classical one is used: that is a
    note for engineers, shown with the intermediates, never a message to the shopper."""
    from tryon.preprocess.parser import HumanParser, ParserConfig

    models = make_tiny_models(tmp_path / "models")
    parser = HumanParser(ParserConfig(decoder_channels=(16, 16, 8, 8, 8), resolution=64))
    parser.save_pretrained(models / "parser")
    page = _open_page(catalog_dir, models, monkeypatch)
    _upload(page, "me.png", _encoded(_person(7)))
    _try_on(page, "red_shirt")
    assert not page.error and page.session_state.latest[2].notes
    assert not any("implausible" in info.value for info in page.info)
    notes = [c.value for c in page.caption if c.value.startswith("Note: ")]
    assert not notes
    page.toggle(key="show_intermediates").set_value(True).run()
    notes = [c.value for c in page.caption if c.value.startswith("Note: ")]
    assert notes and "implausible" in notes[0]
