"""DeepFashion In-shop pose-transfer pairs (the PATN protocol's files) as a torch Dataset.

Expected layout (``resolve_layout`` also accepts a synth root holding ``deepfashion/``)::

    ROOT/fasion-resize-pairs-{train,test}.csv       header ``from,to``: reference, then target
    ROOT/fasion-resize-annotation-{train,test}.csv  ``name:keypoints_y:keypoints_x`` (y first)
    ROOT/{train,test}/<name>                        the images (real ones are 256x176 JPEGs)
    ROOT/person-mask/{train,test}/<stem>.png        optional: binary person masks (synthetic)

Keypoints in the annotation file are pixels of the stored image; they are moved with the image
through the square padding and resize of :class:`tryon.data.geometry.SquareFit`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from core.images import mask_to_tensor, uint8_to_tensor
from core.keypoints import flip_keypoints
from tryon.data.geometry import SquareFit, check_probability, flip_decision, mirror
from tryon.data.imageio import read_mask, read_rgb
from tryon.data.keypoint_formats import read_deepfashion_annotations, read_pairs_csv
from tryon.data.layouts import (
    check_split,
    deepfashion_annotation_csv,
    deepfashion_pairs_csv,
    resolve_layout,
)
from tryon.errors import InvalidInputError


class DeepFashionPairs(Dataset):
    """(reference, target) photos of one person in two poses, with keypoints.

    Args:
        root: a DeepFashion pose-transfer layout or a synth root.
        split: "train" or "test".
        resolution: side R of the square tensors returned.
        flip_probability: chance of mirroring a pair (both images and keypoints together).
        seed: makes the flips reproducible; :meth:`set_epoch` varies them per epoch.
        targets: read the target photos from ``<layout>/<targets>/<split>/`` instead of the
            split's folder (``"studio"``: the studio-backdrop renders of ``tryon data synth
            --target-backdrop studio``); keypoints and person masks stay the split's.

    Items are dicts: ``reference`` / ``target`` (3, R, R) float in [-1, 1];
    ``reference_keypoints`` / ``target_keypoints`` (18, 2) float32 pixels of the R x R image,
    NaN missing; ``reference_name`` / ``target_name`` (str); and ``reference_person_mask`` /
    ``target_person_mask`` (1, R, R) float {0, 1} when the layout has a person-mask folder.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        resolution: int,
        flip_probability: float = 0.0,
        seed: int = 0,
        targets: str | None = None,
    ) -> None:
        self.root = resolve_layout(root, "deepfashion")
        self.split = check_split(split)
        if resolution < 1:
            raise ValueError(f"resolution must be a positive number of pixels, got {resolution}")
        self.resolution, self.seed, self.epoch = resolution, seed, 0
        self.flip_probability = check_probability(flip_probability)
        self.pairs = read_pairs_csv(deepfashion_pairs_csv(self.root, split))
        self.keypoints = read_deepfashion_annotations(deepfashion_annotation_csv(self.root, split))
        unannotated = sorted({name for pair in self.pairs for name in pair} - set(self.keypoints))
        if unannotated:
            raise InvalidInputError(
                f"{deepfashion_annotation_csv(self.root, split)} has no keypoints for "
                f"{len(unannotated)} images of the pairs file, e.g. {unannotated[0]}"
            )
        self.image_dir = self.root / split
        self.target_dir = self.image_dir if targets is None else self.root / targets / split
        if not self.target_dir.is_dir():
            raise InvalidInputError(
                f"{self.target_dir} does not exist (targets={targets!r}; `tryon data synth "
                "--target-backdrop studio` writes studio/<split>/)"
            )
        mask_dir = self.root / "person-mask" / split
        self.mask_dir = mask_dir if mask_dir.is_dir() else None

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh set of flips for ``epoch`` (still reproducible)."""
        self.epoch = epoch

    def _load(
        self, name: str, flip: bool, folder: Path | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        image = read_rgb((folder or self.image_dir) / name)
        fit = SquareFit(image.shape[0], image.shape[1], self.resolution)
        pixels, keypoints = fit.image(image), fit.keypoints(self.keypoints[name])
        mask = None
        if self.mask_dir is not None:
            mask_path = self.mask_dir / f"{Path(name).stem}.png"
            try:
                mask = fit.labels(read_mask(mask_path).view(np.uint8))
            except InvalidInputError:
                raise
            except ValueError as error:  # a mask of another size than its image
                raise InvalidInputError(f"{mask_path}: {error}") from error
        if flip:
            pixels, keypoints = mirror(pixels), flip_keypoints(keypoints, self.resolution)
            mask = None if mask is None else mirror(mask)
        return pixels, keypoints, mask

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        reference_name, target_name = self.pairs[index]
        flip = flip_decision(self.flip_probability, self.seed, self.epoch, index)
        reference, reference_keypoints, reference_mask = self._load(reference_name, flip)
        target, target_keypoints, target_mask = self._load(target_name, flip, self.target_dir)
        item: dict[str, torch.Tensor | str] = {
            "reference": uint8_to_tensor(reference),
            "target": uint8_to_tensor(target),
            "reference_keypoints": torch.from_numpy(reference_keypoints),
            "target_keypoints": torch.from_numpy(target_keypoints),
            "reference_name": reference_name,
            "target_name": target_name,
        }
        if target_mask is not None and reference_mask is not None:
            item["reference_person_mask"] = mask_to_tensor(reference_mask)
            item["target_person_mask"] = mask_to_tensor(target_mask)
        return item
