"""VITON-HD try-on pairs (person photo + product photo of a garment) as a torch Dataset.

Expected layout (``resolve_layout`` also accepts a synth root holding ``viton/``)::

    ROOT/{train,test}_pairs.txt                 ``person_file cloth_file`` per line
    ROOT/<split>/image/<person_file>            person photos (real: 1024x768 JPEG)
    ROOT/<split>/openpose_json/<stem>_keypoints.json
    ROOT/<split>/image-parse-v3/<stem>.png      palette PNG of LIP ids 0-19
    ROOT/<split>/cloth/<cloth_file>, cloth-mask/<cloth_file> (or <cloth stem>.png)
    ROOT/<split>/person-mask/<stem>.png         optional (synthetic)
    ROOT/<split>/tryon-gt/<stem>__<cloth stem>.png (+ tryon-gt-parse/) optional ground truth

The synthetic test split also has ``test_unpaired_pairs.txt`` (pass it as ``pairs_file``),
whose ground truth is the person in the canonical frontal pose wearing the other garment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from core.images import mask_to_tensor, uint8_to_tensor
from core.keypoints import flip_keypoints
from tryon.data import lip
from tryon.data.geometry import SquareFit, check_probability, flip_decision, mirror
from tryon.data.imageio import read_mask, read_parse, read_rgb
from tryon.data.keypoint_formats import read_openpose_json
from tryon.data.layouts import check_split, resolve_layout, viton_pairs_txt
from tryon.data.lip import flip_parse
from tryon.errors import InvalidInputError


def read_viton_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Read a VITON-HD pairs file: one ``person_file cloth_file`` per line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise InvalidInputError(f"cannot read pairs file {path}: {error}") from error
    pairs = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InvalidInputError(
                f"{path}:{number}: expected 'person_file cloth_file', got {line!r}"
            )
        pairs.append((fields[0], fields[1]))
    return pairs


def find_file(folder: Path, name: str) -> Path:
    """``folder/name``, else the same stem with .png / .jpg (VITON-HD masks vary by release)."""
    candidates = [folder / name] + [folder / f"{Path(name).stem}{ext}" for ext in (".png", ".jpg")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InvalidInputError(f"{folder / name}: missing (also tried .png and .jpg)")


class VitonPairs(Dataset):
    """Person photo + garment product photo pairs with keypoints, parse and masks.

    Args:
        root: a VITON-HD layout or a synth root.
        split: "train" or "test".
        resolution: side R of the square tensors returned.
        flip_probability: chance of mirroring a sample (every picture, keypoints with their
            left/right swap, parse ids with theirs).
        seed: makes the flips reproducible; :meth:`set_epoch` varies them per epoch.
        pairs_file: another pairs file, a path or a name inside ``root`` (e.g.
            "test_unpaired_pairs.txt"); default ``<split>_pairs.txt``.

    Items are dicts: ``person`` (3, R, R); ``person_keypoints`` (18, 2) float32 pixels;
    ``person_mask`` (1, R, R) (the person-mask folder, else parse != background); ``parse``
    (R, R) int64 LIP ids; ``garment_region`` (1, R, R) = parse in {5, 6, 7}; ``garment``
    (3, R, R) the product photo; ``garment_mask`` (1, R, R); ``person_name``,
    ``garment_name`` (str). When ``tryon-gt`` holds this pair: ``tryon_target`` (3, R, R) and
    ``tryon_target_parse`` (R, R) int64.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        resolution: int,
        flip_probability: float = 0.0,
        seed: int = 0,
        pairs_file: str | Path | None = None,
    ) -> None:
        self.root = resolve_layout(root, "viton")
        self.split = check_split(split)
        if resolution < 1:
            raise ValueError(f"resolution must be a positive number of pixels, got {resolution}")
        self.resolution, self.seed, self.epoch = resolution, seed, 0
        self.flip_probability = check_probability(flip_probability)
        if pairs_file is None:
            pairs_path = viton_pairs_txt(self.root, split)
        else:
            pairs_path = Path(pairs_file)
            if not pairs_path.is_file():
                pairs_path = self.root / pairs_file
        self.pairs = read_viton_pairs(pairs_path)
        self.split_dir = self.root / split
        if not (self.split_dir / "image").is_dir():
            raise InvalidInputError(
                f"{self.split_dir / 'image'}: missing; not a VITON-HD {split} split"
            )
        mask_dir = self.split_dir / "person-mask"
        self.person_mask_dir = mask_dir if mask_dir.is_dir() else None

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh set of flips for ``epoch`` (still reproducible)."""
        self.epoch = epoch

    def _read(
        self, person_name: str, garment_name: str
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The pair's pictures fitted to R x R (uint8 images, uint8 maps) and keypoints."""
        person_stem, garment_stem = Path(person_name).stem, Path(garment_name).stem
        folder = self.split_dir
        person = read_rgb(folder / "image" / person_name)
        keypoints = read_openpose_json(folder / "openpose_json" / f"{person_stem}_keypoints.json")
        parse = read_parse(find_file(folder / "image-parse-v3", f"{person_stem}.png"))
        if self.person_mask_dir is not None:
            person_mask = read_mask(find_file(self.person_mask_dir, f"{person_stem}.png"))
        else:
            person_mask = parse != lip.BACKGROUND
        garment = read_rgb(folder / "cloth" / garment_name)
        garment_mask = read_mask(find_file(folder / "cloth-mask", garment_name))
        truth = folder / "tryon-gt" / f"{person_stem}__{garment_stem}.png"
        fit = SquareFit(person.shape[0], person.shape[1], self.resolution)
        garment_fit = SquareFit(garment.shape[0], garment.shape[1], self.resolution)
        try:
            pictures = {
                "person": fit.image(person),
                "parse": fit.labels(parse),
                "person_mask": fit.labels(person_mask.view(np.uint8)),
                "garment": garment_fit.image(garment),
                "garment_mask": garment_fit.labels(garment_mask.view(np.uint8)),
            }
            if truth.is_file():
                target = read_rgb(truth)
                target_fit = SquareFit(target.shape[0], target.shape[1], self.resolution)
                pictures["tryon_target"] = target_fit.image(target)
                truth_parse = read_parse(folder / "tryon-gt-parse" / truth.name)
                pictures["tryon_target_parse"] = target_fit.labels(truth_parse)
        except InvalidInputError:
            raise
        except ValueError as error:  # pictures of one sample with different sizes
            raise InvalidInputError(
                f"{folder}: pair {person_name} {garment_name}: {error}"
            ) from error
        return pictures, fit.keypoints(keypoints)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        person_name, garment_name = self.pairs[index]
        pictures, keypoints = self._read(person_name, garment_name)
        if flip_decision(self.flip_probability, self.seed, self.epoch, index):
            keypoints = flip_keypoints(keypoints, self.resolution)
            pictures = {
                key: flip_parse(value) if key.endswith("parse") else mirror(value)
                for key, value in pictures.items()
            }
        parse_ids = pictures["parse"]
        item: dict[str, torch.Tensor | str] = {
            "person": uint8_to_tensor(pictures["person"]),
            "person_keypoints": torch.from_numpy(keypoints),
            "person_mask": mask_to_tensor(pictures["person_mask"]),
            "parse": torch.from_numpy(parse_ids.astype(np.int64)),
            "garment_region": mask_to_tensor(np.isin(parse_ids, lip.UPPER_GARMENT_IDS)),
            "garment": uint8_to_tensor(pictures["garment"]),
            "garment_mask": mask_to_tensor(pictures["garment_mask"]),
            "person_name": person_name,
            "garment_name": garment_name,
        }
        if "tryon_target" in pictures:
            item["tryon_target"] = uint8_to_tensor(pictures["tryon_target"])
            item["tryon_target_parse"] = torch.from_numpy(
                pictures["tryon_target_parse"].astype(np.int64)
            )
        return item
