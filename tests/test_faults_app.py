"""Issue 15, item 13: the storefront binds to this machine, hides tracebacks from shoppers and
decodes uploads one heavy job at a time, together with the try-ons."""

from __future__ import annotations

import io
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

from tryon import storefront

REPO = Path(__file__).resolve().parents[1]


def test_a_bare_streamlit_run_listens_on_localhost_and_shows_no_tracebacks() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["client"]["showErrorDetails"] == "none"


def _png(side: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decoding_waits_for_a_running_try_on_and_says_so() -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_pipeline(person, garment, person_keypoints, view, progress):
        started.set()
        release.wait(timeout=10)
        order.append("try-on done")
        return person

    shared = storefront.SharedPipeline(slow_pipeline)
    try_on = threading.Thread(target=shared, args=("me", "shirt"))
    try_on.start()
    assert started.wait(timeout=10)
    announced: list[str] = []
    decoded: list[np.ndarray] = []

    def decode() -> None:
        decoded.append(storefront.decode_photo(_png(), progress=announced.append))
        order.append("decoded")

    upload = threading.Thread(target=decode)
    upload.start()
    deadline = time.monotonic() + 10
    while not announced and time.monotonic() < deadline:
        time.sleep(0.01)
    assert announced == [storefront.QUEUE_STAGE] and not decoded  # queued, not decoding
    release.set()
    try_on.join(timeout=10)
    upload.join(timeout=10)
    assert order == ["try-on done", "decoded"]
    assert decoded[0].shape == (64, 64, 3)
    assert not storefront.HEAVY_WORK.locked()


def test_decoding_keeps_the_upload_limits() -> None:
    import pytest

    from tryon.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="file too large"):
        storefront.decode_photo(b"\0" * (storefront.MAX_UPLOAD_BYTES + 1))
    assert not storefront.HEAVY_WORK.locked()  # released after a refusal too
