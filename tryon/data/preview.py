"""``tryon data preview``: a contact sheet of samples with skeleton and parse overlays.

Samples are read through the loaders (so the sheet also shows what training sees): per sample
the photo with its COCO-18 skeleton, the photo under its LIP parse colours (or person mask),
and the garment product photo when the layout has one.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.images import tensor_to_uint8
from core.keypoints import LIMBS
from tryon.data import lip
from tryon.data.layouts import resolve_layout
from tryon.errors import TryOnError

# One colour per limb, OpenPose-style (rainbow around the body).
LIMB_COLOURS: tuple[tuple[int, int, int], ...] = tuple(
    tuple(
        int(c)
        for c in cv2.cvtColor(
            np.uint8([[[round(i * 180 / len(LIMBS)), 255, 255]]]), cv2.COLOR_HSV2RGB
        )[0, 0]
    )
    for i in range(len(LIMBS))
)


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """A copy of an HxWx3 uint8 RGB image with the COCO-18 skeleton drawn (NaN points skipped)."""
    canvas = np.ascontiguousarray(image).copy()
    thickness = max(1, round(canvas.shape[0] / 128))
    present = ~np.isnan(keypoints).any(axis=1)
    for (start, end), colour in zip(LIMBS, LIMB_COLOURS, strict=True):
        if present[start] and present[end]:
            a, b = (tuple(round(float(v)) for v in keypoints[i]) for i in (start, end))
            cv2.line(canvas, a, b, colour, thickness, cv2.LINE_AA)
    for point in keypoints[present]:
        centre = tuple(round(float(v)) for v in point)
        cv2.circle(canvas, centre, thickness, (255, 255, 255), -1, cv2.LINE_AA)
    return canvas


def overlay_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The image under the LIP palette colours of ``labels`` (background left as it is)."""
    colours = lip.colorize_parse(labels).astype(np.float32)
    inside = (labels > 0)[..., None]
    blended = image.astype(np.float32) * (1 - alpha) + colours * alpha
    return np.where(inside, blended, image).astype(np.uint8)


def _viton_tiles(root: Path, count: int, tile: int) -> list[list[np.ndarray]]:
    from tryon.data.viton import VitonPairs

    dataset = VitonPairs(root, "train" if (root / "train_pairs.txt").is_file() else "test", tile)
    rows = []
    for index in np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int):
        item = dataset[int(index)]
        person = tensor_to_uint8(item["person"])
        rows.append(
            [
                draw_skeleton(person, item["person_keypoints"].numpy()),
                overlay_labels(person, item["parse"].numpy()),
                tensor_to_uint8(item["garment"]),
            ]
        )
    return rows


def _deepfashion_tiles(root: Path, count: int, tile: int) -> list[list[np.ndarray]]:
    from tryon.data.deepfashion import DeepFashionPairs

    split = "train" if (root / "fasion-resize-pairs-train.csv").is_file() else "test"
    dataset = DeepFashionPairs(root, split, tile)
    rows = []
    for index in np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int):
        item = dataset[int(index)]
        reference, target = tensor_to_uint8(item["reference"]), tensor_to_uint8(item["target"])
        row = [
            draw_skeleton(reference, item["reference_keypoints"].numpy()),
            draw_skeleton(target, item["target_keypoints"].numpy()),
        ]
        if "target_person_mask" in item:
            mask = item["target_person_mask"][0].numpy().astype(np.uint8) * lip.FACE
            row.append(overlay_labels(target, mask))
        rows.append(row)
    return rows


def contact_sheet(
    path: str | Path, count: int = 8, tile: int = 192, columns: int = 2
) -> np.ndarray:
    """A contact sheet of ``count`` samples (VITON-HD layout preferred, else DeepFashion).

    Returns:
        HxWx3 uint8 RGB: ``columns`` samples per row, each sample a strip of tiles.
    """
    if count < 1 or tile < 16 or columns < 1:
        raise ValueError("count and columns must be positive and tile at least 16 pixels")
    try:
        rows = _viton_tiles(resolve_layout(path, "viton"), count, tile)
    except TryOnError:
        rows = _deepfashion_tiles(resolve_layout(path, "deepfashion"), count, tile)
    gap = max(tile // 32, 2)
    strips = [np.hstack(row) for row in rows]
    blank = np.full_like(strips[0], 255)
    strips += [blank] * (-len(strips) % columns)
    spacer = np.full((strips[0].shape[0], gap, 3), 255, np.uint8)
    lines = []
    for start in range(0, len(strips), columns):
        parts = []
        for strip in strips[start : start + columns]:
            parts += [strip, spacer]
        lines.append(np.hstack(parts[:-1]))
        lines.append(np.full((gap, lines[-1].shape[1], 3), 255, np.uint8))
    return np.vstack(lines[:-1])
