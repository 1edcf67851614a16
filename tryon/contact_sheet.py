"""Contact sheets of a batch run: one PNG per garment and an HTML index of them all.

A garment's sheet is two rows: the garment photo then each person's photo on top, and under
each person the try-on result (or a grey tile marked with a cross when the pair failed).
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from core.files import write_text_atomic
from tryon.batch import SHEETS_DIR, Manifest, ManifestRecord

INDEX_FILE = "index.html"


def _tile(path: str | Path | None, size: int) -> np.ndarray:
    """An image fitted (aspect kept, white padding) into a size x size tile."""
    from tryon.imageio import load_image

    tile = np.full((size, size, 3), 255, np.uint8)
    if path is None:
        tile[:] = 200
        cv2.line(tile, (0, 0), (size - 1, size - 1), (160, 0, 0), 2)
        cv2.line(tile, (0, size - 1), (size - 1, 0), (160, 0, 0), 2)
        return tile
    try:
        image = load_image(path)
    except Exception:  # a photo gone or unreadable since: a tile never stops the sheet
        return _tile(None, size)
    scale = size / max(image.shape[:2])
    height, width = (max(1, round(side * scale)) for side in image.shape[:2])
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    top, left = (size - height) // 2, (size - width) // 2
    tile[top : top + height, left : left + width] = small
    return tile


def garment_sheet(
    records: list[ManifestRecord], out_dir: Path, tile: int, manifest: Manifest | None = None
) -> np.ndarray:
    """The sheet of one garment's records (all share the garment).

    A result is shown only when it is a file inside ``out_dir`` (:meth:`Manifest.output_path`).
    """
    if manifest is None:
        manifest = Manifest(out_dir / "manifest.jsonl")
    top = [_tile(records[0].garment, tile)] + [_tile(r.person, tile) for r in records]
    blank = np.full((tile, tile, 3), 255, np.uint8)
    bottom = [blank] + [_tile(manifest.output_path(r, out_dir), tile) for r in records]
    return np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)


def write_contact_sheets(out_dir: str | Path, tile: int = 160) -> Path:
    """Write ``contact_sheets/<garment>.png`` and ``index.html`` for a batch folder.

    Returns:
        The path of ``index.html``.
    """
    from tryon.imageio import save_image

    out_dir = Path(out_dir)
    manifest = Manifest(out_dir / "manifest.jsonl")
    by_garment: dict[str, list[ManifestRecord]] = defaultdict(list)
    for record in sorted(manifest.records.values(), key=lambda r: r.key):
        by_garment[Path(record.garment).stem].append(record)
    sections = []
    for garment, records in sorted(by_garment.items()):
        sheet_path = out_dir / SHEETS_DIR / f"{garment}.png"
        try:
            save_image(sheet_path, garment_sheet(records, out_dir, tile, manifest))
            picture = (
                f'<img src="{SHEETS_DIR}/{html.escape(garment)}.png" alt="{html.escape(garment)}">'
            )
        except OSError as error:  # a full disk: the page still lists the pairs
            picture = f"<p>The sheet could not be written: {html.escape(str(error))}</p>"
        failures = "".join(
            f"<li>{html.escape(r.key)}: {html.escape(r.error)}</li>" for r in records if not r.ok
        )
        sections.append(
            f"<h2>{html.escape(garment)}</h2>"
            + picture
            + (f"<ul>{failures}</ul>" if failures else "")
        )
    ok = sum(
        manifest.output_path(record, out_dir) is not None for record in manifest.records.values()
    )
    page = (
        "<!doctype html><meta charset='utf-8'><title>try-on batch</title>"
        f"<h1>Try-on batch: {ok} of {len(manifest.records)} pairs ok</h1>"
        "<p>Each sheet: the garment, then the people (top row) and their results (bottom "
        "row; a crossed tile is a failed pair, listed below the sheet).</p>" + "".join(sections)
    )
    index = out_dir / INDEX_FILE
    write_text_atomic(index, page)
    return index
