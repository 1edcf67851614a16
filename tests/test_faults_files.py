"""Issue 15, data lost (item 5): atomic writes respect the umask and can be cleaned up."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from core.files import remove_stale_temporaries, write_text_atomic
from tryon.imageio import save_image


@pytest.fixture
def umask():
    """Set a umask for one test and restore the old one."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_images_and_files_respect_the_umask(tmp_path, umask, mask, expected) -> None:
    umask(mask)
    image = save_image(tmp_path / "catalog" / "a.png", np.zeros((4, 4, 3), np.uint8))
    text = write_text_atomic(tmp_path / "index.html", "<p>")
    for path in (image, text):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert not list(tmp_path.rglob(".*partial*"))


def test_replacing_a_file_gives_it_the_umask_mode_too(tmp_path, umask) -> None:
    umask(0o022)
    target = tmp_path / "a.png"
    save_image(target, np.zeros((4, 4, 3), np.uint8))
    target.chmod(0o600)  # written by an older version (mkstemp's mode)
    save_image(target, np.ones((4, 4, 3), np.uint8))
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_stale_temporaries_of_killed_writers_are_found_and_removed(tmp_path) -> None:
    (tmp_path / "results" / "g").mkdir(parents=True)
    stale = tmp_path / "results" / "g" / ".p.1a2b3c4d.partial.png"
    stale.write_bytes(b"")
    keep = tmp_path / "results" / "g" / "p.png"
    keep.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert keep.is_file() and not stale.exists()
