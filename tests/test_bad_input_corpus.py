"""The bad-input corpus of issue 15: every case through the real CLI, in this process.

Each case builds a bad image, keypoint file, model directory, option, manifest or batch
folder, runs ``tryon ...`` through :func:`tryon.cli.main` and checks three things: the exit
status, a single line that names the problem (``error: ...`` last on stderr, or for a fault
the command survives, its note on stdout) and no traceback anywhere. Cases reach at most
the tiny models built here, so the whole corpus runs in seconds.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from tryon_samples import batch_arguments, make_catalog, make_tiny_models

from tryon.batch import MANIFEST_FILE, batch_lock
from tryon.cli import main
from tryon.imageio import load_image


@dataclass
class World:
    """The good inputs every case spoils one thing of, and the case's own folder."""

    catalog: Path  # people/person0.png (+ _keypoints.json), person1..., garments/garment0.png
    tiny: Path  # a models folder with tiny hpn/ and flow/
    tmp: Path
    release: threading.Event | None = None  # set by a case that holds a lock in a thread

    @property
    def person(self) -> Path:
        return self.catalog / "people" / "person0.png"

    @property
    def keypoints(self) -> Path:
        return self.catalog / "people" / "person0_keypoints.json"

    @property
    def garment(self) -> Path:
        return self.catalog / "garments" / "garment0.png"

    @property
    def no_models(self) -> Path:
        return self.catalog / "models"  # empty: the own view needs none

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def run(self, *, person=None, garment=None, keypoints=None, out=None, models=None, extra=()):
        """``tryon run`` arguments with one input (or option) replaced."""
        return ["run", "--person", str(person or self.person),
                "--garment", str(garment or self.garment),
                "--keypoints", str(keypoints or self.keypoints),
                "--out", str(out or self.tmp / "result.png"),
                "--models", str(models or self.no_models), *extra]  # fmt: skip

    def batch(self, people: Path | None = None) -> list[str]:
        """``tryon batch`` of ``people`` (default: the catalog's) and the catalog's garments."""
        return ["batch", "--people", str(people or self.catalog / "people"),
                "--garments", str(self.catalog / "garments"),
                "--models", str(self.no_models), "--out", str(self.tmp / "out")]  # fmt: skip

    def models(self, edit: Callable[[Path], object]) -> Path:
        """A copy of the tiny models folder, spoiled by ``edit``."""
        folder = self.tmp / "models"
        shutil.copytree(self.tiny, folder)
        edit(folder)
        return folder

    def catalog_copy(self) -> Path:
        folder = self.tmp / "catalog"
        shutil.copytree(self.catalog, folder)
        return folder


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments it makes, the exit status and the problem's name."""

    name: str
    arguments: Callable[[World], list[str]]
    status: int
    needle: str
    survives: bool = False  # a fault the command handles: exit 0 and a note on stdout


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _keypoints(world: World, change: Callable[[np.ndarray], object]) -> Path:
    """The person's keypoint file with its (18, 3) x, y, confidence rows changed."""
    document = json.loads(world.keypoints.read_text())
    values = np.array(document["people"][0]["pose_keypoints_2d"], np.float64).reshape(18, 3)
    change(values)
    document["people"][0]["pose_keypoints_2d"] = values.reshape(-1).tolist()
    return world.file("keypoints.json", json.dumps(document))


def _config(component: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / component / "config.json"
        document = json.loads(path.read_text())
        replaced = change(document)
        path.write_text(json.dumps(document if replaced is None else replaced))

    return edit


def _zoomed_garment(world: World) -> Path:
    garment = load_image(world.garment)
    side = garment.shape[0] * 3
    big = cv2.resize(garment, (side, side), interpolation=cv2.INTER_CUBIC)
    start = garment.shape[0]
    return world.file("zoomed.png", _png(big[start : start * 2, start : start * 2]))


def _manifest(world: World, content: bytes) -> list[str]:
    """A batch of the catalog into a folder whose manifest holds ``content``."""
    out = world.tmp / "out"
    world.file("out/" + MANIFEST_FILE, content)
    return batch_arguments(world.catalog, out)


def _batch_with(world: World, name: str, content: bytes) -> list[str]:
    catalog = world.catalog_copy()
    (catalog / "people" / name).write_bytes(content)
    return batch_arguments(catalog, world.tmp / "out")


def _pairs(world: World, content: bytes) -> list[str]:
    pairs = world.file("pairs.txt", content)
    return batch_arguments(world.catalog, world.tmp / "out", "--pairs", str(pairs))


def _read_only_out(world: World) -> list[str]:
    return world.run(out=Path("/proc") / "hpn-tryon" / "x.png")


def _locked(world: World) -> list[str]:
    out = world.tmp / "out"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with batch_lock(out):
            held.set()
            release.wait(30)

    threading.Thread(target=hold, daemon=True).start()
    held.wait(30)
    world.release = release  # the test lets it go
    return batch_arguments(world.catalog, out)


def _stale_record(world: World) -> list[str]:
    secret = world.file("secret.png", world.person.read_bytes())
    record = {"key": "person0__garment0", "person": str(world.person),
              "garment": str(world.garment), "status": "ok", "output": str(secret)}  # fmt: skip
    return _manifest(world, (json.dumps(record) + "\n").encode())


def _people_loop(world: World) -> list[str]:
    people = world.tmp / "people"
    people.mkdir()
    (people / "loop.png").symlink_to(people / "loop.png")
    return world.batch(people)


def _stem_clash(world: World) -> list[str]:
    catalog = world.catalog_copy()
    image = Image.open(catalog / "people" / "person0.png").convert("RGB")
    image.save(catalog / "people" / "person0.jpg")
    return batch_arguments(catalog, world.tmp / "out")


CASES: list[Case] = [
    # ------------------------------------------------------------------ images
    Case("person-empty", lambda w: w.run(person=w.file("p.png", b"")), 1, "the file is empty"),
    Case(
        "person-truncated-png",
        lambda w: w.run(person=w.file("p.png", w.person.read_bytes()[:200])),
        1,
        "corrupt or truncated",
    ),
    Case(
        "person-text-as-jpg",
        lambda w: w.run(person=w.file("p.jpg", "name,size\n")),
        1,
        "it is a text file",
    ),
    Case(
        "person-pdf",
        lambda w: w.run(person=w.file("p.jpg", b"%PDF-1.4\n1 0 obj\n")),
        1,
        "PDF document",
    ),
    Case(
        "person-zip",
        lambda w: w.run(person=w.file("p.png", b"PK\x03\x04" + b"\0" * 40)),
        1,
        "ZIP archive",
    ),
    Case(
        "person-binary-noise",
        lambda w: w.run(person=w.file("p.png", bytes(range(256)) * 4)),
        1,
        "unsupported format",
    ),
    Case(
        "person-bomb-header",
        lambda w: w.run(person=w.file("p.png", _png_header(100_000, 100_000))),
        1,
        "decompression bomb",
    ),
    Case(
        "person-60-megapixels",
        lambda w: w.run(person=w.file("p.png", _png_header(10_000, 6_000))),
        1,
        "exceeds the limit of 50,000,000",
    ),
    Case(
        "person-1x1",
        lambda w: w.run(person=w.file("p.png", _png(np.zeros((1, 1, 3), np.uint8)))),
        1,
        "at least 32 px",
    ),
    Case(
        "person-sliver",
        lambda w: w.run(person=w.file("p.png", _png(np.zeros((2000, 8, 3), np.uint8)))),
        1,
        "at least 32 px",
    ),
    Case(
        "person-float-tiff",
        lambda w: w.run(person=w.file("p.tif", _tiff_float())),
        1,
        "32-bit float",
    ),
    Case(
        "person-icon",
        lambda w: w.run(person=w.file("p.ico", _icon())),
        1,
        "unsupported image format ICO",
    ),
    Case("person-is-a-folder", lambda w: w.run(person=w.tmp), 2, "is a directory"),
    Case("person-missing", lambda w: w.run(person=w.tmp / "nobody.png"), 2, "does not exist"),
    Case(
        "garment-blank",
        lambda w: w.run(garment=w.file("g.png", _png(np.full((96, 96, 3), 255, np.uint8)))),
        1,
        "no garment found",
    ),
    Case(
        "garment-fills-the-frame",
        lambda w: w.run(garment=_zoomed_garment(w)),
        1,
        "no plain background around the garment",
    ),
    Case(
        "garment-noise",
        lambda w: w.run(
            garment=w.file(
                "g.png",
                _png(np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)),
            )
        ),
        1,
        "no plain background",
    ),
    # ------------------------------------------------------------------ keypoint files
    Case(
        "keypoints-not-json",
        lambda w: w.run(keypoints=w.file("k.json", "{oops")),
        1,
        "not a readable OpenPose JSON",
    ),
    Case(
        "keypoints-not-utf8",
        lambda w: w.run(keypoints=w.file("k.json", b"\xff\xfe{}")),
        1,
        "not a readable OpenPose JSON",
    ),
    Case(
        "keypoints-a-list",
        lambda w: w.run(keypoints=w.file("k.json", "[1, 2]")),
        1,
        "not a readable OpenPose JSON",
    ),
    Case(
        "keypoints-person-a-number",
        lambda w: w.run(keypoints=w.file("k.json", '{"people": [5]}')),
        1,
        "not a readable OpenPose JSON",
    ),
    Case(
        "keypoints-no-people",
        lambda w: w.run(keypoints=w.file("k.json", '{"people": []}')),
        1,
        "lists no person",
    ),
    Case(
        "keypoints-17-points",
        lambda w: w.run(
            keypoints=w.file("k.json", json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 51}]}))
        ),
        1,
        "54 (COCO-18) or 75",
    ),
    Case(
        "keypoints-strings",
        lambda w: w.run(
            keypoints=w.file("k.json", json.dumps({"people": [{"pose_keypoints_2d": ["a"] * 54}]}))
        ),
        1,
        "could not convert string",
    ),
    Case(
        "keypoints-all-missing",
        lambda w: w.run(keypoints=_keypoints(w, lambda v: v.__setitem__(slice(None), 0.0))),
        1,
        "every keypoint is missing",
    ),
    Case(
        "keypoints-x-negative",
        lambda w: w.run(
            keypoints=_keypoints(w, lambda v: v.__setitem__((slice(None), 0), -abs(v[:, 0]) - 50))
        ),
        1,
        "outside the 96x96 photo",
    ),
    Case(
        "keypoints-x-1e30",
        lambda w: w.run(
            keypoints=_keypoints(w, lambda v: v.__setitem__((slice(None), 0), v[:, 0] * 1e30))
        ),
        1,
        "outside the 96x96 photo",
    ),
    Case(
        "keypoints-one-inf",
        lambda w: w.run(keypoints=_keypoints(w, lambda v: v.__setitem__((4, 0), np.inf))),
        1,
        "keypoint 4 (right_wrist) at (inf",
    ),
    Case(
        "keypoints-one-1e6",
        lambda w: w.run(keypoints=_keypoints(w, lambda v: v.__setitem__((4, 0), 1e6))),
        1,
        "keypoint 4 (right_wrist) at (1e+06",
    ),
    Case(
        "keypoints-no-shoulders",
        lambda w: w.run(keypoints=_keypoints(w, lambda v: v.__setitem__([2, 5], 0.0))),
        1,
        "both shoulders must be visible",
    ),
    # ------------------------------------------------------------------ model directories
    Case(
        "models-config-a-list",
        lambda w: w.run(models=w.models(_config("hpn", lambda d: [d]))),
        1,
        "must hold a JSON object, got a list",
    ),
    Case(
        "models-config-string-for-int",
        lambda w: w.run(
            models=w.models(_config("hpn", lambda d: d["config"].update(bottleneck_channels="64")))
        ),
        1,
        "config.bottleneck_channels must be an integer",
    ),
    Case(
        "models-200000-channels",
        lambda w: w.run(
            models=w.models(
                _config("flow", lambda d: d["config"].update(channels=[4, 8, 200_000, 200_000]))
            )
        ),
        1,
        "do not fit the config",
    ),
    Case(
        "models-negative-width",
        lambda w: w.run(
            models=w.models(_config("hpn", lambda d: d["config"].update(bottleneck_channels=-3)))
        ),
        1,
        "hpn",
    ),
    Case(
        "models-unknown-key",
        lambda w: w.run(
            models=w.models(_config("flow", lambda d: d["config"].update(colour="red")))
        ),
        1,
        "has no field(s) colour",
    ),
    Case(
        "models-newer-format",
        lambda w: w.run(models=w.models(_config("flow", lambda d: d.update(format_version=99)))),
        1,
        "upgrade hpn-tryon",
    ),
    Case(
        "models-truncated-weights",
        lambda w: w.run(
            models=w.models(
                lambda m: (m / "hpn" / "model.safetensors").write_bytes(b"\x08\0\0\0\0\0\0\0{}")
            )
        ),
        1,
        "truncated or corrupt",
    ),
    Case(
        "models-no-weights",
        lambda w: w.run(models=w.models(lambda m: (m / "flow" / "model.safetensors").unlink())),
        1,
        "no model.safetensors",
    ),
    Case(
        "models-another-type",
        lambda w: w.run(
            models=w.models(
                lambda m: (shutil.rmtree(m / "hpn"), shutil.copytree(m / "flow", m / "hpn"))
            )
        ),
        1,
        "got model type 'appearance_flow'",
    ),
    Case(
        "models-index-a-list",
        lambda w: w.run(models=w.models(lambda m: (m / "model_index.json").write_text("[1]"))),
        1,
        "model_index.json",
    ),
    Case(
        "models-index-not-json",
        lambda w: w.run(models=w.models(lambda m: (m / "model_index.json").write_text("{oops"))),
        1,
        "model_index.json: invalid JSON",
    ),
    Case("models-is-a-file", lambda w: w.run(models=w.person), 2, "is a file"),
    # ------------------------------------------------------------------ options and outputs
    Case(
        "device-banana",
        lambda w: w.run(extra=["--device", "banana"]),
        2,
        "'banana' is not a device",
    ),
    Case("device-mps", lambda w: w.run(extra=["--device", "mps"]), 2, "'mps' is not a device"),
    Case(
        "resolution-1000000", lambda w: w.run(extra=["--resolution", "1000000"]), 2, "--resolution"
    ),
    Case(
        "resolution-not-32",
        lambda w: w.run(extra=["--resolution", "100"]),
        2,
        "not a multiple of 32",
    ),
    Case("view-unknown", lambda w: w.run(extra=["--view", "side"]), 2, "'side' is not one of"),
    Case("backend-unknown", lambda w: w.run(extra=["--backend", "tpu"]), 2, "'tpu' is not one of"),
    Case(
        "paper-view-without-models", lambda w: w.run(extra=["--view", "paper"]), 1, "view='paper'"
    ),
    Case("out-gif", lambda w: w.run(out=w.tmp / "x.gif"), 1, "suffix '.gif'"),
    Case("out-no-suffix", lambda w: w.run(out=w.tmp / "result"), 1, "no suffix"),
    Case(
        "out-under-a-file",
        lambda w: w.run(out=w.file("afile", "x") / "x.png"),
        1,
        "is a file, not a folder",
    ),
    Case("out-unwritable-folder", _read_only_out, 1, "not a folder this program can write into"),
    Case(
        "out-is-the-person",
        lambda w: w.run(person=w.file("me.png", w.person.read_bytes()), out=w.tmp / "me.png"),
        1,
        "is also an input",
    ),
    Case("out-is-a-folder", lambda w: w.run(out=w.tmp), 2, "is a directory"),
    Case(
        "batch-workers-0",
        lambda w: batch_arguments(w.catalog, w.tmp / "out", "--workers", "0"),
        2,
        "--workers",
    ),
    Case(
        "batch-address-without-ray",
        lambda w: batch_arguments(w.catalog, w.tmp / "out", "--address", "auto"),
        1,
        "need --engine ray",
    ),
    Case(
        "batch-out-is-a-file",
        lambda w: batch_arguments(w.catalog, w.file("out", "x")),
        2,
        "is a file",
    ),
    # ------------------------------------------------------------------ manifests
    Case(
        "manifest-torn-last-line",
        lambda w: _manifest(w, b'{"key": "person0__garment0", "sta'),
        0,
        "1 unreadable manifest line(s) skipped (1)",
        survives=True,
    ),
    Case(
        "manifest-not-utf8",
        lambda w: _manifest(w, b"\xff\xfe\x00\n"),
        0,
        "1 unreadable manifest line(s) skipped (1)",
        survives=True,
    ),
    Case(
        "manifest-wrong-types",
        lambda w: _manifest(w, b'{"key": 3, "person": "a", "garment": "b", "status": "ok"}\n'),
        0,
        "unreadable manifest line(s) skipped (1)",
        survives=True,
    ),
    Case("manifest-output-outside", _stale_record, 0, "0 already done, 2 made", survives=True),
    Case(
        "manifest-is-a-folder",
        lambda w: (
            (w.tmp / "out" / MANIFEST_FILE).mkdir(parents=True)
            or batch_arguments(w.catalog, w.tmp / "out")
        ),
        1,
        "the manifest cannot be read",
    ),
    # ------------------------------------------------------------------ batch folders
    Case(
        "batch-empty-people",
        lambda w: (w.tmp / "people").mkdir() or w.batch(w.tmp / "people"),
        1,
        "no images found",
    ),
    Case("batch-people-missing", lambda w: w.batch(w.tmp / "none"), 2, "does not exist"),
    Case("batch-only-a-link-loop", _people_loop, 1, "no images found"),
    Case(
        "batch-corrupt-person",
        lambda w: _batch_with(w, "broken.png", b"\x89PNG\r\n\x1a\n nope"),
        1,
        "1 of 3 pairs failed",
    ),
    Case(
        "batch-empty-person", lambda w: _batch_with(w, "empty.jpg", b""), 1, "1 of 3 pairs failed"
    ),
    Case("batch-stem-clash", _stem_clash, 1, "share a person and garment file stem"),
    Case(
        "batch-pairs-three-names",
        lambda w: _pairs(w, b"person0.png garment0.png extra\n"),
        1,
        "expected 'person_file garment_file'",
    ),
    Case(
        "batch-pairs-missing-person",
        lambda w: _pairs(w, b"nobody.png garment0.png\n"),
        1,
        "nobody.png does not exist",
    ),
    Case(
        "batch-pairs-not-utf8",
        lambda w: _pairs(w, b"\xff\xfe person0.png\n"),
        1,
        "cannot be read as text",
    ),
    Case("batch-folder-locked", _locked, 1, "is in use by another tryon batch"),
]


def _tiff_float() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((40, 40), np.float32), mode="F").save(buffer, format="TIFF")
    return buffer.getvalue()


def _icon() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48)).save(buffer, format="ICO")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def world_parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("corpus")
    catalog = make_catalog(root / "catalog", people=2, garments=1, size=96)
    return catalog, make_tiny_models(root / "tiny")


def test_the_corpus_is_large_and_named_uniquely() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, world_parts, tmp_path, capsys) -> None:
    catalog, tiny = world_parts
    world = World(catalog, tiny, tmp_path)
    arguments = case.arguments(world)
    try:
        main(arguments)
        status = 0
    except SystemExit as exit_info:
        status = int(exit_info.code or 0)
    finally:
        if world.release is not None:
            world.release.set()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out, captured.err
    assert status == case.status, captured.err
    if case.survives:
        noted = [line for line in captured.out.splitlines() if case.needle in line]
        assert noted, captured.out
        return
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("error: "), captured.err
    assert case.needle in last, last
    if status == 1 and arguments[0] == "run":
        assert not (tmp_path / "result.png").exists()
