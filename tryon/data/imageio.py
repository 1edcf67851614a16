"""Reading the picture files of a data set at the edge: uint8 RGB, binary masks, parse ids."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from tryon.errors import InvalidInputError


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file (PNG, JPEG, ...) as HxWx3 uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidInputError(f"{path}: missing or not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask file as HxW bool; grey values above 127 are inside (JPEG masks are not binary)."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise InvalidInputError(f"{path}: missing or not a readable mask image")
    return mask > 127


def read_parse(path: str | Path) -> np.ndarray:
    """A parse map as HxW uint8 LIP ids: a palette PNG's indices or a greyscale PNG's values."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise InvalidInputError(
                    f"{path}: a parse map must be a palette or greyscale PNG holding LIP ids, "
                    f"got mode {image.mode} (colour-coded maps are not supported)"
                )
            return np.array(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as error:
        raise InvalidInputError(f"{path}: missing or not a readable parse map ({error})") from error
