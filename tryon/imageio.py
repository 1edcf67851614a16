"""Safe image input and atomic image output: the one door photos come in through.

The CLI, the batch runner and the app all call :func:`load_image`, so every upload gets the
same checks: a size limit before reading, a pixel limit read from the header before decoding
(decompression bombs), EXIF orientation applied (keypoints are then in the frame the user
sees), and every colour mode turned into 8-bit RGB (transparency composited on white).
Anything unusable is an :class:`~tryon.errors.InvalidInputError` naming the file and the
problem.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.files import atomic_open
from tryon.errors import InvalidInputError

DEFAULT_MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo fits
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF", "AVIF"})
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

ImageSource = str | os.PathLike[str] | bytes | BinaryIO


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Decode a photo into HxWx3 uint8 RGB, upright as its EXIF orientation says.

    Args:
        source: a path, the file's bytes, or a binary file-like object (an upload); file-likes
            with a ``name`` attribute are named by it in errors.
        max_pixels: largest width x height accepted, checked from the header before decoding.
        max_bytes: largest file size accepted, checked before reading the whole file.

    Returns:
        HxWx3 uint8 RGB array (H, W as the user sees the photo, after EXIF rotation).

    Raises:
        InvalidInputError: missing, empty, too large, corrupt, truncated, unsupported format or
            colour mode; the message starts with the file's name.
    """
    name, data = _read_bytes(source, max_bytes)
    if not data:
        raise InvalidInputError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_header(name, image, max_pixels)
            image.load()
            image = ImageOps.exif_transpose(image)
    except InvalidInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidInputError(
            f"{name}: too many pixels, refused as a possible decompression bomb ({error})"
        ) from error
    except UnidentifiedImageError as error:
        raise InvalidInputError(
            f"{name}: unsupported format, {_describe_non_image(data)}; use a JPEG, PNG or "
            "WebP photo"
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidInputError(
            f"{name}: corrupt or truncated image file, it cannot be decoded ({error})"
        ) from error
    return _to_rgb(name, image)


def save_image(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write an HxWx3 (or HxW) uint8 image atomically: a temp file in the folder, then rename.

    A reader (or a resumed batch run) never sees a half-written file. The format follows the
    suffix: .png, .jpg/.jpeg or .webp.

    Returns:
        The written path.
    """
    target = Path(path)
    image_format = save_format(target)
    array = np.asarray(image)
    if array.dtype != np.uint8 or not (
        array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)
    ):
        raise ValueError(
            f"save_image expects HxWx3 or HxW uint8, got {array.dtype} of shape {array.shape}; "
            "convert tensors with core.images.tensor_to_uint8 first"
        )
    with atomic_open(target) as stream:
        Image.fromarray(array).save(stream, format=image_format)
    return target


def save_format(path: str | os.PathLike[str]) -> str:
    """The PIL format :func:`save_image` writes ``path`` in, from its suffix.

    Raises:
        InvalidInputError: the suffix is missing or not one of :data:`SAVE_FORMATS`.
    """
    suffix = Path(path).suffix.lower()
    image_format = SAVE_FORMATS.get(suffix)
    if image_format is None:
        found = f"suffix {suffix!r}" if suffix else "no suffix"
        raise InvalidInputError(
            f"{path}: cannot tell the image format ({found}); end the name with one of "
            f"{', '.join(SAVE_FORMATS)}"
        )
    return image_format


def _read_bytes(source: ImageSource, max_bytes: int) -> tuple[str, bytes]:
    """(name for messages, file contents), refusing more than ``max_bytes``."""
    if isinstance(source, bytes | bytearray | memoryview):
        name, data = "<image bytes>", bytes(source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise InvalidInputError(f"{name}: no such file")
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise InvalidInputError(f"{name}: {_too_big(size, max_bytes)}")
            data = path.read_bytes()
        except OSError as error:  # no permission, an I/O error, a file gone meanwhile
            raise InvalidInputError(
                f"{name}: the file cannot be read ({error.strerror or error})"
            ) from error
    elif hasattr(source, "read"):
        name = str(getattr(source, "name", "<uploaded image>"))
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes):
            raise InvalidInputError(f"{name}: the file was opened in text mode; open it as 'rb'")
    else:
        raise TypeError(
            f"load_image takes a path, bytes or a binary file object, got {type(source).__name__}"
        )
    if len(data) > max_bytes:
        raise InvalidInputError(f"{name}: {_too_big(len(data), max_bytes)}")
    return name, data


def _too_big(size: int, max_bytes: int) -> str:
    return (
        f"file too large ({size / 2**20:.1f} MiB > {max_bytes / 2**20:.1f} MiB limit); "
        "downscale or re-encode it"
    )


def _check_header(name: str, image: Image.Image, max_pixels: int) -> None:
    """Format and size checks that need only the header, before any pixel is decoded."""
    if image.format not in SUPPORTED_FORMATS:
        raise InvalidInputError(
            f"{name}: unsupported image format {image.format}; use a JPEG, PNG or WebP photo"
        )
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidInputError(f"{name}: the image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise InvalidInputError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{max_pixels:,} (refused before decoding, as a possible decompression bomb); "
            "downscale the photo"
        )


def _to_rgb(name: str, image: Image.Image) -> np.ndarray:
    """Any supported PIL mode -> HxWx3 uint8 RGB; transparency is composited on white."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale (PNG, TIFF): scale 0..65535 onto 0..255.
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        raise InvalidInputError(
            f"{name}: 32-bit float images are not supported; save it as an 8- or 16-bit image"
        )
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    try:
        rgb = image.convert("RGB")
    except (ValueError, OSError) as error:
        raise InvalidInputError(
            f"{name}: unsupported colour mode {mode}; save it as RGB ({error})"
        ) from error
    return np.array(rgb, dtype=np.uint8)  # a writable copy: callers may draw on it


def _describe_non_image(data: bytes) -> str:
    """A short guess of what a non-image file is, for the error message."""
    head = data[:1024]
    if head.startswith(b"%PDF"):
        return "it is a PDF document, not an image"
    if head.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive (or an office document), not an image"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not an image format this program can read"
    return "it is a text file, not an image"
