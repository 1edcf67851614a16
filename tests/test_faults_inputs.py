"""Issue 15, wrong results reported as success (items 1 and 2): inputs refused, not ignored.

Keypoints off the photo and a garment photo without a background margin used to give an
undressed person and "wrote ..." with exit status 0; now the pipeline (API), ``tryon run``
and ``tryon batch`` refuse them with a message that names the problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from tryon_samples import synthetic_garment, synthetic_sample, write_openpose_json

from tryon.batch import Manifest, Pair, check_dressed, process_pair
from tryon.cli import main
from tryon.errors import InvalidInputError
from tryon.imageio import load_image, save_image
from tryon.pipeline import TryOnPipeline

CATALOG = Path(__file__).resolve().parents[1] / "tryon" / "demo" / "catalog"


@pytest.fixture(scope="module")
def pipeline() -> TryOnPipeline:
    return TryOnPipeline()  # the own view needs no model


@pytest.fixture(scope="module")
def sample():
    return synthetic_sample(seed=3, size=192)


def _spoil(keypoints: np.ndarray, how: str) -> np.ndarray:
    spoiled = np.array(keypoints, np.float64)
    if how == "negative":
        spoiled[:, 0] = -np.abs(spoiled[:, 0]) - 50
    elif how == "times 1e30":
        spoiled[:, 0] *= 1e30
    elif how == "inf":
        spoiled[4] = (np.inf, spoiled[4, 1])
    elif how == "1e6":
        spoiled[4] = (1e6, spoiled[4, 1])
    return spoiled


SPOILS = ("negative", "times 1e30", "inf", "1e6")


@pytest.mark.parametrize("how", SPOILS)
def test_the_api_refuses_keypoints_off_the_photo(pipeline, sample, how) -> None:
    garment = synthetic_garment(seed=4, size=160)
    with pytest.raises(InvalidInputError, match=r"keypoint .* (outside the 192x192 photo|finite)"):
        pipeline(
            sample.image,
            garment,
            person_keypoints=_spoil(sample.keypoints, how),
            person_mask=sample.person_mask,
        )


@pytest.mark.parametrize("how", SPOILS)
def test_tryon_run_refuses_a_keypoints_file_off_the_photo(tmp_path, capsys, how) -> None:
    person = CATALOG / "people" / "id00163_pose00.png"
    keypoints = tmp_path / "keypoints.json"
    good = json.loads(person.with_name("id00163_pose00_keypoints.json").read_text())
    values = np.array(good["people"][0]["pose_keypoints_2d"], np.float64).reshape(18, 3)
    values[:, :2] = _spoil(values[:, :2], how)
    good["people"][0]["pose_keypoints_2d"] = values.reshape(-1).tolist()
    keypoints.write_text(json.dumps(good))  # inf is written as Infinity, which json reads back
    out = tmp_path / "result.png"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--person", str(person), "--garment",
              str(CATALOG / "garments" / "id00166_cloth.png"),
              "--keypoints", str(keypoints), "--out", str(out)])  # fmt: skip
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error
    assert re.search(r"keypoints\.json: keypoint (0|4) ", error), error
    assert not out.exists()


def test_batch_records_a_sidecar_off_the_photo_as_a_failure(pipeline, sample, tmp_path) -> None:
    person = save_image(tmp_path / "people" / "p.png", sample.image)
    write_openpose_json(tmp_path / "people" / "p_keypoints.json", _spoil(sample.keypoints, "1e6"))
    garment = save_image(tmp_path / "garments" / "g.png", synthetic_garment(seed=4, size=160))
    record = process_pair(pipeline, Pair(person, garment), tmp_path / "out")
    assert record.status == "error" and "p_keypoints.json: keypoint 4" in record.error
    assert not (tmp_path / "out" / "results").exists()
    assert not Manifest(tmp_path / "out" / "manifest.jsonl").records


def full_frame_garment(zoom: float = 3.0) -> np.ndarray:
    """The demo catalog's first garment magnified until it fills the frame (no margin)."""
    garment = load_image(CATALOG / "garments" / "id00166_cloth.png")
    side = round(garment.shape[0] * zoom)
    big = cv2.resize(garment, (side, side), interpolation=cv2.INTER_CUBIC)
    start = (side - garment.shape[0]) // 2
    return big[start : start + garment.shape[0], start : start + garment.shape[1]]


@pytest.mark.parametrize("zoom", [2.5, 3.0])
def test_a_garment_photo_without_margin_is_refused_not_silently_skipped(
    pipeline, sample, zoom
) -> None:
    with pytest.raises(InvalidInputError, match="no plain background around the garment"):
        pipeline(
            sample.image,
            full_frame_garment(zoom),
            person_keypoints=sample.keypoints,
            person_mask=sample.person_mask,
        )


def test_a_tight_crop_of_a_garment_is_still_dressed(pipeline, sample) -> None:
    from tryon.preprocess import garment_mask

    garment = load_image(CATALOG / "garments" / "id00166_cloth.png")
    rows, columns = np.nonzero(garment_mask(garment))
    crop = garment[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    result = pipeline(
        sample.image, crop, person_keypoints=sample.keypoints, person_mask=sample.person_mask
    )
    check_dressed(result, sample.image)  # the garment covers the person: a real try-on


def test_a_result_that_changed_nothing_is_not_a_success(pipeline, sample) -> None:
    result = pipeline(
        sample.image,
        synthetic_garment(seed=4, size=160),
        person_keypoints=sample.keypoints,
        person_mask=sample.person_mask,
    )
    undressed = result.layers | {"alpha": np.zeros_like(result.layers["alpha"])}
    with pytest.raises(InvalidInputError, match="garment was not applied"):
        check_dressed(_replace(result, layers=undressed), sample.image)
    with pytest.raises(InvalidInputError, match="changed nothing"):
        check_dressed(_replace(result, image=sample.image.copy()), sample.image)


def _replace(result, **changes):
    import dataclasses

    return dataclasses.replace(result, **changes)
