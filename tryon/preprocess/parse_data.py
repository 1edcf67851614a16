"""Person photos with LIP parse maps, read from the VITON-HD layout, for the parser.

The same reader serves ``tryon data synth`` output (``ROOT/viton/{split}``) and a real
VITON-HD download (``ROOT/{split}``): ``image/<name>.jpg|png`` beside
``image-parse-v3/<name>.png`` (palette PNGs whose indices are LIP ids) and, when present,
``openpose_json/<name>_keypoints.json`` and ``person-mask/<name>.png`` (the parser's guides;
the keypoints also feed the keypoint-geometry baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from core.keypoints import NUM_KEYPOINTS, flip_keypoints
from tryon.data.keypoint_formats import read_openpose_json
from tryon.data.lip import NUM_LABELS, flip_parse
from tryon.errors import InvalidInputError
from tryon.imageio import load_image
from tryon.preprocess.parser_inputs import parser_inputs

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
    """(image, person mask, pose maps, parse) tensors, letterboxed as at inference.

    Items are :func:`~.parser_inputs.parser_inputs`' three tensors without the batch axis and
    the (R, R) int64 LIP ids. The person mask is the data set's ``person-mask/`` PNG, or the
    parse's non-background pixels; missing keypoints are NaN (zero maps).

    Args:
        root: data root (see module docstring).
        split: ``train`` or ``test``.
        resolution: the parser's input side.
        pose_sigma: pose-map sigma as a fraction of ``resolution``.
        flip: double the data set with mirrored copies (indices past the photos; left/right
            ids and joints swapped), so a seeded sampler decides reproducibly which copy it
            draws.
        augment: perturb the person mask (grown or shrunk) and the keypoints (moved, some
            dropped) the way BlazePose's differ from the truth, and the photo's colour
            (:func:`perturb_colour`); draws from torch's global RNG, which the training loop
            seeds and checkpoints.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        resolution: int,
        pose_sigma: float = 0.025,
        flip: bool = False,
        augment: bool = False,
    ) -> None:
        self.samples = list_samples(root, split)
        self.resolution = resolution
        self.pose_sigma = pose_sigma
        self.flip = flip
        self.augment = augment

    def __len__(self) -> int:
        return len(self.samples) * (2 if self.flip else 1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        sample = self.samples[index % len(self.samples)]
        image, parse, mask, keypoints = read_sample(sample)
        if index >= len(self.samples):
            width = image.shape[1]
            image, parse = np.ascontiguousarray(image[:, ::-1]), flip_parse(parse)
            mask, keypoints = np.ascontiguousarray(mask[:, ::-1]), flip_keypoints(keypoints, width)
        if self.augment:
            mask, keypoints = perturb_mask(mask), perturb_keypoints(keypoints, image.shape[:2])
            image = perturb_colour(image)
        inputs, box = parser_inputs(image, keypoints, mask, self.resolution, self.pose_sigma)
        labels = torch.zeros((self.resolution, self.resolution), dtype=torch.int64)
        resized = F.interpolate(
            torch.from_numpy(parse)[None, None].float(),
            size=(box.height, box.width),
            mode="nearest",
        )
        labels[box.top : box.top + box.height, box.left : box.left + box.width] = resized[
            0, 0
        ].long()
        return inputs["image"][0], inputs["person_mask"][0], inputs["pose_maps"][0], labels


def read_sample(sample: ParseSample) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Photo, parse ids, person mask (bool) and keypoints ((18, 2), NaN missing) of a sample."""
    image = load_image(sample.image)
    parse = read_parse(sample.parse)
    if parse.shape != image.shape[:2]:
        raise InvalidInputError(
            f"{sample.parse}: parse map is {parse.shape}, photo is {image.shape[:2]}"
        )
    mask_path = sample.parse.parent.parent / "person-mask" / sample.parse.name
    if mask_path.is_file():
        with Image.open(mask_path) as mask_image:
            mask = np.array(mask_image.convert("L")) > 127
    else:
        mask = parse != 0
    if sample.keypoints is None:
        keypoints = np.full((NUM_KEYPOINTS, 2), np.nan, np.float32)
    else:
        keypoints = read_openpose_json(sample.keypoints)
    return image, parse, mask, keypoints


def perturb_mask(mask: np.ndarray, reach: float = 0.015) -> np.ndarray:
    """The mask grown or shrunk by up to ``reach`` of its long side (a square kernel)."""
    radius = round(float(torch.empty(()).uniform_(-reach, reach)) * max(mask.shape))
    if radius == 0:
        return mask
    kernel = np.ones((2 * abs(radius) + 1, 2 * abs(radius) + 1), np.uint8)
    grow = cv2.dilate if radius > 0 else cv2.erode
    return grow(mask.astype(np.uint8), kernel) > 0


GREY_SHARE = 0.15  # of training photos turned greyscale (old photos, black-and-white filters)


def perturb_colour(image: np.ndarray, grey: float = GREY_SHARE) -> np.ndarray:
    """The photo greyscale (at ``grey``) or with a random colour cast, saturation and contrast.

    The renders' skin and garments differ in hue far more reliably than real photos' do; a
    parser trained on them alone calls a grey face a garment (scikit-image's cameraman). The
    cast (gains 0.8-1.2 per channel), saturation (0.4-1.4) and contrast (0.75-1.25) make
    colour a weaker cue than the person mask, the pose and the shapes.
    """
    pixels = image.astype(np.float32) / 255.0
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    if float(torch.rand(())) < grey:
        out = np.repeat(luma[..., None], 3, axis=-1)
    else:
        gains = torch.empty(3).uniform_(0.8, 1.2).numpy()
        saturation = float(torch.empty(()).uniform_(0.4, 1.4))
        out = luma[..., None] + saturation * (pixels - luma[..., None])
        out = out * gains
    contrast = float(torch.empty(()).uniform_(0.75, 1.25))
    out = (out - out.mean()) * contrast + out.mean()
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def perturb_keypoints(
    keypoints: np.ndarray, shape: tuple[int, int], spread: float = 0.012, drop: float = 0.08
) -> np.ndarray:
    """Keypoints moved by Gaussian noise (``spread`` of the long side), each dropped at ``drop``."""
    noise = torch.randn(NUM_KEYPOINTS, 2).numpy() * spread * max(shape)
    dropped = torch.rand(NUM_KEYPOINTS).numpy() < drop
    moved = (keypoints + noise).astype(np.float32)
    moved[dropped] = np.nan
    return moved
