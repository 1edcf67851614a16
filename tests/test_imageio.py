"""Safe image input: every bad file becomes an InvalidInputError naming the file and problem."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tryon.errors import InvalidInputError
from tryon.imageio import load_image, save_image


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _gradient(width: int = 40, height: int = 30) -> np.ndarray:
    """An RGB image whose every pixel is distinct enough to detect any rotation or flip."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 6, ys * 8, (xs + ys) * 3], axis=-1).astype(np.uint8)


def test_png_path_round_trip(tmp_path):
    pixels = _gradient()
    path = save_image(tmp_path / "sub" / "photo.png", pixels)
    loaded = load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (30, 40, 3)
    np.testing.assert_array_equal(loaded, pixels)


def test_bytes_and_file_like_sources(tmp_path):
    pixels = _gradient()
    data = _encode(Image.fromarray(pixels), "PNG")
    np.testing.assert_array_equal(load_image(data), pixels)
    np.testing.assert_array_equal(load_image(io.BytesIO(data)), pixels)


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (3, lambda a: a[::-1, ::-1]),  # rotated 180
        (6, lambda a: np.rot90(a, k=-1)),  # camera held rotated: display turns 90 clockwise
        (8, lambda a: np.rot90(a, k=1)),
        (2, lambda a: a[:, ::-1]),  # mirrored
    ],
)
def test_exif_orientation_is_applied(orientation, expected):
    pixels = _gradient()
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(Image.fromarray(pixels), "PNG", exif=exif)
    loaded = load_image(data)
    np.testing.assert_array_equal(loaded, expected(pixels))


def test_rgba_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    rgba[2, :, 3] = 128  # a half-transparent row
    loaded = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded[0, 0].tolist() == [200, 0, 0]
    assert loaded[3, 0].tolist() == [255, 255, 255]
    assert loaded[2, 0, 1] == pytest.approx(127, abs=1)  # green: white scaled by 1 - alpha


def test_palette_with_transparency_is_composited_on_white():
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    palette.info["transparency"] = 1
    loaded = load_image(_encode(palette, "PNG", transparency=1))
    assert loaded[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [("L", 77, [77, 77, 77]), ("1", 1, [255, 255, 255]), ("I;16", 65535, [255, 255, 255])],
)
def test_grey_binary_and_16_bit_become_rgb(mode, value, expected):
    image = Image.new(mode, (5, 3), value)
    loaded = load_image(_encode(image, "PNG"))
    assert loaded.shape == (3, 5, 3) and loaded.dtype == np.uint8
    assert loaded[1, 1].tolist() == expected


def test_16_bit_scales_mid_grey():
    image = Image.fromarray(np.full((3, 3), 32896, np.uint16))  # 128 * 257
    assert image.mode.startswith("I;16")
    assert load_image(_encode(image, "PNG"))[0, 0].tolist() == [128, 128, 128]


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    loaded = load_image(_encode(cmyk, "JPEG", quality=95))
    red, green, blue = loaded[4, 4].tolist()
    assert red > 230 and green < 30 and blue < 30


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match=r"nope\.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InvalidInputError, match=r"empty\.png: the file is empty"):
        load_image(path)


def test_file_too_large_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_encode(Image.fromarray(_gradient()), "PNG"))
    with pytest.raises(InvalidInputError, match=r"big\.png: file too large"):
        load_image(path, max_bytes=100)
    with pytest.raises(InvalidInputError, match="file too large"):
        load_image(io.BytesIO(path.read_bytes()), max_bytes=100)


def test_too_many_pixels_is_refused_from_the_header(tmp_path):
    # A 9000 x 9000 one-bit PNG is a few kB on disk and 81 megapixels decoded.
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 9000)).save(path)
    assert path.stat().st_size < 100_000
    with pytest.raises(InvalidInputError, match=r"bomb\.png: 9000x9000 = .* exceeds the limit"):
        load_image(path, max_pixels=10_000_000)


def test_pil_decompression_bomb_error_becomes_ours(tmp_path):
    # Our limit set above PIL's own (2 x 89.5 MP): PIL's DecompressionBombError must be wrapped.
    path = tmp_path / "huge.png"
    Image.new("1", (14000, 14000)).save(path)
    with pytest.raises(InvalidInputError, match=r"huge\.png: too many pixels"):
        load_image(path, max_pixels=10**12)


def test_truncated_file(tmp_path):
    data = _encode(Image.fromarray(_gradient(200, 200)), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError, match=r"cut\.jpg: corrupt or truncated"):
        load_image(path)


def test_corrupt_file_with_image_signature(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    with pytest.raises(InvalidInputError, match=r"broken\.png: (corrupt|unsupported)"):
        load_image(path)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF document"),
        (b"name,size\nshirt,M\n", "text file"),
    ],
)
def test_unsupported_formats(tmp_path, content, what):
    path = tmp_path / "upload.jpg"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=rf"upload\.jpg: unsupported format, .*{what}"):
        load_image(path)


def test_readable_but_unsupported_image_format(tmp_path):
    path = tmp_path / "icon.ico"
    Image.fromarray(_gradient(16, 16)).save(path, format="ICO")
    with pytest.raises(InvalidInputError, match=r"icon\.ico: unsupported image format ICO"):
        load_image(path)


def test_upload_named_in_errors():
    upload = io.BytesIO(b"hello")
    upload.name = "shopper.heic"
    with pytest.raises(InvalidInputError, match=r"shopper\.heic: unsupported format"):
        load_image(upload)


def test_save_image_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out.png"
    save_image(target, _gradient())
    save_image(target, np.zeros((3, 3, 3), np.uint8))  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert load_image(target).shape == (3, 3, 3)
    with pytest.raises(ValueError, match="uint8"):
        save_image(tmp_path / "bad.png", np.zeros((3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="suffix"):
        save_image(tmp_path / "bad.gif", _gradient())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_colour_becomes_8_bit_rgb(suffix):
    import cv2

    bgr = np.zeros((4, 4, 3), np.uint16)
    bgr[..., 2], bgr[..., 1] = 65535, 32896  # red full, green at half (128 * 257)
    ok, encoded = cv2.imencode(suffix, bgr)
    assert ok
    assert load_image(encoded.tobytes())[0, 0].tolist() == [255, 128, 0]


def test_text_mode_file_and_wrong_source_type(tmp_path):
    path = tmp_path / "photo.png"
    save_image(path, _gradient())
    with path.open("r", encoding="latin-1") as text, pytest.raises(InvalidInputError, match="'rb'"):
        load_image(text)
    with pytest.raises(TypeError, match="path, bytes or a binary file"):
        load_image(12345)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert load_image(buffer.getvalue())[0, 0].tolist() == [255, 0, 0]
