"""Person photos with LIP parse maps, read from the VITON-HD layout, for the parser.

The same reader serves ``tryon data synth`` output (``ROOT/viton/{split}``) and a real
VITON-HD download (``ROOT/{split}``): ``image/<name>.jpg|png`` beside
``image-parse-v3/<name>.png`` (palette PNGs whose indices are LIP ids) and, when present,
``openpose_json/<name>_keypoints.json`` (used by the keypoint-geometry baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from tryon.data.lip import NUM_LABELS, flip_parse
from tryon.errors import InvalidInputError
from tryon.imageio import load_image
from tryon.preprocess.parser import letterbox_tensor

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ParseSample:
    """Files of one person photo."""

    name: str
    image: Path
    parse: Path
    keypoints: Path | None


def find_split(root: str | Path, split: str) -> Path:
    """The folder holding ``image/`` and ``image-parse-v3/`` for ``split``."""
    root = Path(root)
    for candidate in (root / "viton" / split, root / split):
        if (candidate / "image-parse-v3").is_dir() and (candidate / "image").is_dir():
            return candidate
    raise InvalidInputError(
        f"{root}: no {split} split with image/ and image-parse-v3/ (expected "
        f"{root}/viton/{split}/ from `tryon data synth`, or {root}/{split}/ of VITON-HD)"
    )


def list_samples(root: str | Path, split: str) -> list[ParseSample]:
    """Every photo of ``split`` that has a parse map, sorted by name."""
    folder = find_split(root, split)
    samples = []
    for image in sorted((folder / "image").iterdir()):
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        parse = folder / "image-parse-v3" / f"{image.stem}.png"
        if not parse.is_file():
            continue
        keypoints = folder / "openpose_json" / f"{image.stem}_keypoints.json"
        samples.append(
            ParseSample(image.stem, image, parse, keypoints if keypoints.is_file() else None)
        )
    if not samples:
        raise InvalidInputError(f"{folder}: no photo in image/ has a parse map in image-parse-v3/")
    return samples


def read_parse(path: str | Path) -> np.ndarray:
    """HxW uint8 LIP ids of a parse PNG (palette indices, or greyscale values)."""
    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise InvalidInputError(
                f"{path}: a parse map must be a palette or greyscale PNG of LIP ids, "
                f"got mode {image.mode}"
            )
        ids = np.array(image, dtype=np.uint8)
    if ids.max(initial=0) >= NUM_LABELS:
        raise InvalidInputError(f"{path}: holds id {ids.max()}, LIP ids are 0-{NUM_LABELS - 1}")
    return ids


class ParseDataset(Dataset):
    """(image (3, R, R) in [-1, 1], parse (R, R) int64) pairs, letterboxed as at inference.

    Args:
        root: data root (see module docstring).
        split: ``train`` or ``test``.
        resolution: the parser's input side.
        flip: double the data set with mirrored copies (indices past the photos; left/right
            ids swapped), so a seeded sampler decides reproducibly which copy it draws.
    """

    def __init__(self, root: str | Path, split: str, resolution: int, flip: bool = False):
        self.samples = list_samples(root, split)
        self.resolution = resolution
        self.flip = flip

    def __len__(self) -> int:
        return len(self.samples) * (2 if self.flip else 1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.samples[index % len(self.samples)]
        image = load_image(sample.image)
        parse = read_parse(sample.parse)
        if parse.shape != image.shape[:2]:
            raise InvalidInputError(
                f"{sample.parse}: parse map is {parse.shape}, photo is {image.shape[:2]}"
            )
        if index >= len(self.samples):
            image, parse = np.ascontiguousarray(image[:, ::-1]), flip_parse(parse)
        tensor, (top, left, height, width) = letterbox_tensor(image, self.resolution)
        labels = torch.zeros((self.resolution, self.resolution), dtype=torch.int64)
        resized = F.interpolate(
            torch.from_numpy(parse)[None, None].float(), size=(height, width), mode="nearest"
        )
        labels[top : top + height, left : left + width] = resized[0, 0].long()
        return tensor[0], labels
