"""End to end: `streamlit run app.py` on a free port, driven by Debian's Chromium.

A shopper's whole path with the shipped demo models and catalog: upload a photo, pick a
garment, press "Try on", wait for the result image. Chromium comes from the Debian package
(`apt-get install -y chromium`, done by `make test`), driven through Playwright's Python
package with ``executable_path`` (Playwright's own browser download is never used).

Set ``TRYON_STOREFRONT_SCREENSHOT=docs/storefront.png`` to also write the README screenshot.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image
from tryon_samples import synthetic_person

from tryon import storefront
from tryon.cli.app_command import streamlit_command

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 120
STEP_TIMEOUT_S = 60
TRY_ON_TIMEOUT_S = 300
VIEWPORT = {"width": 1400, "height": 1000}
SCREENSHOT_ENV = "TRYON_STOREFRONT_SCREENSHOT"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit not healthy after {SERVER_START_TIMEOUT_S} s:\n{log.read_text()}")


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def storefront_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The storefront served headless from the repository root (its .streamlit/config.toml)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in (storefront.CATALOG_ENV, storefront.MODELS_ENV)
    }  # the shipped demo catalog and models, whatever the caller's shell says
    environment["OMP_NUM_THREADS"] = environment.get("OMP_NUM_THREADS", "2")
    command = streamlit_command(REPO / "app.py", port, "127.0.0.1", headless=True)
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            cwd=REPO,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: _stop kills every child
        )
    try:
        _wait_until_healthy(url, server, log)
        yield url
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium with "
            "`apt-get install -y chromium` (make test does this)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shopper_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic person photo, as a file on the shopper's disk."""
    photo, _ = synthetic_person(2024, size=384)
    path = tmp_path_factory.mktemp("shopper") / "my_photo.png"
    Image.fromarray(photo).save(path)
    return path


def _try_on(page: Page, garment: storefront.CatalogItem) -> tuple[Locator, float]:
    """Pick ``garment``, press "Try on", wait for its result; (result image, click-to-result s)."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=garment.label, exact=True).click()
    expect(page.get_by_role("button", name=f"✓ {garment.label}", exact=True)).to_be_visible()
    try_on = page.get_by_role("button", name="Try on", exact=True)
    expect(try_on).to_be_enabled()
    clicked = time.perf_counter()
    try_on.click()
    result = page.locator('[data-testid="stImage"]').filter(has_text=f"Wearing: {garment.label}")
    expect(result).to_be_visible(timeout=TRY_ON_TIMEOUT_S * 1000)
    seconds = time.perf_counter() - clicked
    # Visible can precede decoded: wait (bounded) until the browser has really loaded it.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=result.locator("img").element_handle(),
        timeout=30_000,
    )
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    return result, seconds


def _whole_page(page: Page, result: Locator, path: Path) -> bytes:
    """A screenshot of the whole page, the result in view (PNG bytes, also written to path)."""
    from playwright.sync_api import expect

    # Streamlit scrolls inside its main block, not the page: grow the viewport to show it all.
    height = max(
        page.locator('[data-testid="stMain"]').evaluate("main => main.scrollHeight"),
        VIEWPORT["height"],
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.mouse.move(0, 0)
    expect(result).to_be_in_viewport()
    screenshot = page.screenshot(path=path)
    assert Image.open(path).size == (VIEWPORT["width"], height)
    return screenshot


def test_upload_pick_try_on_and_see_the_result(
    storefront_url: str,
    browser: Browser,
    shopper_photo: Path,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    from playwright.sync_api import expect

    started = time.perf_counter()
    first, second = storefront.load_catalog(storefront.bundled_catalog_dir()).garments[:2]
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(STEP_TIMEOUT_S * 1000)
    expect.set_options(timeout=STEP_TIMEOUT_S * 1000)  # the first page run imports torch
    page.goto(storefront_url)

    # The upload cap of .streamlit/config.toml is in force (the server read it).
    dropzone = page.locator('[data-testid="stFileUploaderDropzone"]')
    expect(dropzone).to_contain_text(f"{storefront.MAX_UPLOAD_MB}MB per file")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(shopper_photo)
    expect(page.get_by_text(f"Dressing: {shopper_photo.name}")).to_be_visible()

    _, cold_s = _try_on(page, first)  # includes loading the models, once per server
    expect(page.get_by_role("button", name="Download (PNG)")).to_be_visible()
    result, warm_s = _try_on(page, second)  # same photo, no new upload
    expect(page.locator('[data-testid="stImage"]').filter(has_text=first.label)).to_be_visible()

    _whole_page(page, result, tmp_path / "storefront.png")
    page.close()

    body_s = time.perf_counter() - started
    for name, value in (("first_click_to_result_s", cold_s), ("click_to_result_s", warm_s)):
        record_property(name, round(value, 2))
    record_property("test_body_s", round(body_s, 2))
    print(
        f"\nstorefront: click to result {cold_s:.2f} s (first, loads the models), "
        f"{warm_s:.2f} s (second garment); test body {body_s:.2f} s"
    )


def test_a_sample_models_real_photo_comes_back_dressed_at_its_own_size(
    storefront_url: str, browser: Browser, tmp_path: Path
) -> None:
    """The astronaut sample (a real photo) through the default view, the shopper's own photo:
    the result is that photo dressed, at the photo's size. This is the README's screenshot."""
    from playwright.sync_api import expect

    catalog = storefront.load_catalog(storefront.bundled_catalog_dir())
    astronaut = catalog.person("astronaut")
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(STEP_TIMEOUT_S * 1000)
    expect.set_options(timeout=STEP_TIMEOUT_S * 1000)
    page.goto(storefront_url)
    page.locator(f".st-key-sample-{astronaut.key} button").click()
    expect(page.get_by_text(f"Dressing: {astronaut.path.name}")).to_be_visible()
    result, _ = _try_on(page, catalog.garments[1])
    natural = result.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == list(Image.open(astronaut.path).size)
    screenshot = _whole_page(page, result, tmp_path / "storefront.png")
    if target := os.environ.get(SCREENSHOT_ENV):
        (REPO / target).write_bytes(screenshot)
    page.close()
