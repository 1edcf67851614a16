"""The storefront's decisions, kept out of the UI: catalog, settings on offer, result views.

``app.py`` only lays out widgets; everything it shows or chooses comes from here, so the
same rules are unit-tested without a browser: where the catalog lives (the bundled demo or
``$TRYON_CATALOG``), which backends and devices this machine can offer, how each pipeline
stage is announced, which intermediates are shown and how a result is downloaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

from core.errors import CoreError
from deploy.errors import DeployError
from tryon.batch import KEYPOINTS_SUFFIX, read_keypoints_file
from tryon.errors import InvalidInputError, NoPersonFound, TryOnError

if TYPE_CHECKING:
    from tryon.pipeline import TryOnResult

CATALOG_ENV = "TRYON_CATALOG"
"""Environment variable naming a catalog folder (``people/`` and ``garments/`` inside)."""
MODELS_ENV = "TRYON_MODELS"
"""Environment variable naming a models folder for the pipeline (default: the bundled demo)."""

UPLOAD_TYPES: tuple[str, ...] = ("jpg", "jpeg", "png", "webp")
CATALOG_SUFFIXES = frozenset(f".{suffix}" for suffix in UPLOAD_TYPES)
MAX_UPLOAD_MB = 20
"""Upload cap in MB; ``.streamlit/config.toml``'s ``server.maxUploadSize`` says the same."""
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000

RESOLUTIONS: tuple[int, ...] = (128, 256, 384, 512)
DEFAULT_RESOLUTION = 256
VIEW_LABELS: Mapping[str, str] = {
    "own": "My photo",
    "catalog": "Catalog pose",
    "paper": "Paper (HPN)",
}
"""The views a shopper can pick, by ``PipelineConfig.view`` name."""

QUEUE_STAGE = "queue"
"""Announced instead of a pipeline stage while another session's try-on holds the models."""

STAGE_LABELS: Mapping[str, str] = {
    QUEUE_STAGE: "Waiting for another shopper's try-on to finish",
    "pose": "Finding your pose",
    "garment_mask": "Cutting out the garment",
    "parse": "Finding the garment you wear",
    "repose": "Turning you to face the camera",
    "fit": "Fitting the garment to your body",
    "composite": "Dressing you",
    "frame": "Framing the photo",
    "frontalize": "Turning you to face the camera (HPN)",
    "warp": "Warping the garment",
    "paste_back": "Placing you back in your photo",
}

INTERMEDIATE_LABELS: Mapping[str, str] = {
    "pose": "Keypoints found",
    "person_mask": "You (person mask)",
    "parts": "Body parts",
    "garment_region": "The garment you wear",
    "garment_mask": "Garment mask",
    "canonical": "You, facing the camera",
    "fitted_garment": "Garment fitted to your pose",
    "alpha": "Where the garment goes",
    "uncovered": "Re-drawn (old garment left bare)",
    "frontal": "You, frontal (HPN, paper view)",
    "warped_garment": "Warped garment (paper view)",
    "flow": "Appearance flow (paper view)",
}
"""The intermediates the storefront shows, in order, by ``TryOnResult.intermediates()`` name."""


@dataclass(frozen=True)
class CatalogItem:
    """One photo of the catalog: a garment product shot or a sample model.

    Attributes:
        key: the file stem, unique within its folder.
        label: what the shopper reads.
        path: the photo.
        keypoints_file: a sample model's OpenPose JSON ``<stem>_keypoints.json`` when one sits
            beside the photo (the same convention as ``tryon batch``), else None.
    """

    key: str
    label: str
    path: Path
    keypoints_file: Path | None = None

    def keypoints(self) -> np.ndarray | None:
        """The (18, 2) keypoints of ``keypoints_file``'s first person; None without a file.

        Raises:
            InvalidInputError: the file is unreadable or lists nobody.
        """
        if self.keypoints_file is None:
            return None
        return read_keypoints_file(self.keypoints_file)


@dataclass(frozen=True)
class Catalog:
    """The garments on sale and the sample model photos a shopper may start from."""

    root: Path
    garments: tuple[CatalogItem, ...]
    people: tuple[CatalogItem, ...]

    def garment(self, key: str) -> CatalogItem:
        """The garment called ``key``; raises ``KeyError`` naming the ones there are."""
        return _by_key(self.garments, key, "garment")

    def person(self, key: str) -> CatalogItem:
        """The sample model called ``key``; raises ``KeyError`` naming the ones there are."""
        return _by_key(self.people, key, "sample model")


@dataclass(frozen=True)
class PipelineSettings:
    """What the sidebar chooses; one loaded pipeline per distinct value (``st.cache_resource``)."""

    backend: str = "torch"
    device: str = "cpu"
    resolution: int = 256
    models_dir: str | None = None


def bundled_catalog_dir() -> Path:
    """The demo catalog shipped as package data."""
    return Path(__file__).resolve().parent / "demo" / "catalog"


def resolve_catalog_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$TRYON_CATALOG`` when set (and not empty), else the bundled demo catalog."""
    configured = (os.environ if environ is None else environ).get(CATALOG_ENV, "").strip()
    return Path(configured).expanduser() if configured else bundled_catalog_dir()


def resolve_models_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """``$TRYON_MODELS`` when set (and not empty), else None: the pipeline's bundled models."""
    configured = (os.environ if environ is None else environ).get(MODELS_ENV, "").strip()
    return str(Path(configured).expanduser()) if configured else None


def load_catalog(root: str | os.PathLike[str]) -> Catalog:
    """List a catalog folder: ``garments/`` (required, not empty) and ``people/`` (optional).

    Args:
        root: folder holding ``garments/`` and optionally ``people/``, each with .jpg, .jpeg,
            .png or .webp photos; a file's stem names the item ("red_shirt.png" -> "Red shirt").

    Returns:
        The catalog, items sorted by file name.

    Raises:
        InvalidInputError: the folder or its ``garments/`` is missing or holds no photos.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InvalidInputError(
            f"catalog folder {folder} does not exist; point {CATALOG_ENV} at a folder holding "
            "garments/ (and optionally people/)"
        )
    garments = _list_items(folder / "garments")
    if not garments:
        raise InvalidInputError(
            f"catalog {folder} has no garment photos; put .jpg/.png/.webp product photos in "
            f"{folder / 'garments'}"
        )
    return Catalog(root=folder, garments=garments, people=_list_items(folder / "people"))


def available_backends() -> tuple[str, ...]:
    """The runtime backends this process can offer: torch always, the others when usable.

    onnxruntime needs its package; TensorRT needs its package and a CUDA GPU.
    """
    import torch

    backends = ["torch"]
    if _importable("onnxruntime"):
        backends.append("onnxruntime")
    if _importable("tensorrt") and torch.cuda.is_available():
        backends.append("tensorrt")
    return tuple(backends)


def available_devices() -> tuple[str, ...]:
    """ "cpu", plus "cuda" first when a CUDA GPU is visible (the better default)."""
    import torch

    return ("cuda", "cpu") if torch.cuda.is_available() else ("cpu",)


HEAVY_WORK = threading.Lock()
"""Held by every try-on and every photo decode of this server process: one at a time.

A 40-megapixel upload takes over a gigabyte to decode, and a try-on about as much; a few
shoppers uploading at once must queue, not exhaust the server's memory.
"""


def decode_photo(
    source: bytes | BinaryIO, progress: Callable[[str], None] | None = None
) -> np.ndarray:
    """Decode a shopper's upload or camera shot in memory, one heavy job at a time.

    Args:
        source: the uploaded file (or its bytes).
        progress: told :data:`QUEUE_STAGE` when another try-on or decode must finish first.

    Returns:
        HxWx3 uint8 RGB.

    Raises:
        InvalidInputError: too large (:data:`MAX_UPLOAD_BYTES`, :data:`MAX_UPLOAD_PIXELS`),
            corrupt or not an image.
    """
    from tryon.imageio import load_image

    with _heavy_work(progress):
        return load_image(source, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_UPLOAD_PIXELS)


@contextlib.contextmanager
def _heavy_work(progress: Callable[[str], None] | None) -> Iterator[None]:
    if not HEAVY_WORK.acquire(blocking=False):
        if progress is not None:
            progress(QUEUE_STAGE)
        HEAVY_WORK.acquire()
    try:
        yield
    finally:
        HEAVY_WORK.release()


class SharedPipeline:
    """A try-on pipeline shared by every browser session of one server: one try-on at a time.

    Streamlit runs each session in its own thread and the app loads the models once per
    process, but :class:`~tryon.pipeline.TryOnPipeline` is not thread safe; a second shopper
    waits (and is told so through ``progress``) instead of corrupting the first one's run.
    The lock is :data:`HEAVY_WORK`, which photo decoding takes too.

    Args:
        pipeline: anything called like ``TryOnPipeline`` (the loaded pipeline).
    """

    def __init__(self, pipeline: Callable[..., TryOnResult]) -> None:
        self.pipeline = pipeline

    def __call__(
        self,
        person: np.ndarray,
        garment: np.ndarray,
        person_keypoints: np.ndarray | None = None,
        view: str = "own",
        progress: Callable[[str], None] | None = None,
    ) -> TryOnResult:
        """Run the pipeline once the models are free; see ``TryOnPipeline.__call__``."""
        with _heavy_work(progress):
            return self.pipeline(
                person,
                garment,
                person_keypoints=person_keypoints,
                view=view,
                progress=progress,
            )


def load_pipeline(settings: PipelineSettings) -> SharedPipeline:
    """Load the try-on models for ``settings`` (slow: call once per settings and cache)."""
    from tryon.pipeline import PipelineConfig, TryOnPipeline
    from tryon.pipeline.paper_route import PaperRouteConfig

    config = PipelineConfig(paper=PaperRouteConfig(resolution=settings.resolution))
    pipeline = TryOnPipeline.from_pretrained(
        models_dir=settings.models_dir,
        backend=settings.backend,
        device=settings.device,
        config=config,
    )
    return SharedPipeline(pipeline)


def missing_choices(has_photo: bool, has_garment: bool) -> str | None:
    """What the shopper still has to choose before a try-on can run; None when ready."""
    missing = [
        what for what, chosen in (("a photo", has_photo), ("a garment", has_garment)) if not chosen
    ]
    return f"Choose {' and '.join(missing)} to try on." if missing else None


def stage_label(stage: str) -> str:
    """What the shopper reads while ``stage`` runs (unknown stages fall back to their name)."""
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def intermediate_views(result: TryOnResult) -> list[tuple[str, np.ndarray]]:
    """The intermediates worth showing, captioned, in pipeline order.

    Returns:
        (caption, HxWx3 uint8 RGB) pairs for those of :data:`INTERMEDIATE_LABELS` the result
        holds (keypoints, body parts, garment region, fitted garment, ...).
    """
    images = result.intermediates()
    return [
        (label, _as_rgb(images[name]))
        for name, label in INTERMEDIATE_LABELS.items()
        if name in images
    ]


def describe_failure(error: Exception) -> str:
    """The message a shopper sees when a try-on (or reading their photo) fails.

    Known, fixable failures get their own message plus what to do; anything else is named
    as unexpected so it is reported rather than mistaken for a bad photo.
    """
    if isinstance(error, NoPersonFound):
        return (
            f"No person found in your photo ({error}). Use a photo of one person facing the "
            "camera with head, shoulders and hips visible."
        )
    if isinstance(error, InvalidInputError):
        return f"This photo cannot be used: {error}"
    if isinstance(error, TryOnError | DeployError | CoreError):
        return f"The try-on could not run: {error}"
    return f"The try-on failed unexpectedly ({type(error).__name__}: {error}). Please report it."


def timing_summary(timings: Mapping[str, float]) -> str:
    """One line: the total and each stage's seconds, e.g. "2.31 s (pose 0.40 s, ...)"."""
    total = sum(timings.values())
    stages = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings.items())
    return f"{total:.2f} s ({stages})" if stages else f"{total:.2f} s"


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an HxWx3 uint8 RGB image as PNG in memory (for the download button)."""
    buffer = io.BytesIO()
    Image.fromarray(_as_rgb(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def result_file_name(person: str, garment: CatalogItem) -> str:
    """Download name of a try-on: ``tryon-<person>-<garment>.png``, filesystem-safe."""
    stem = Path(person).stem or "photo"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{stem}-{garment.key}")
    return f"tryon-{safe}.png"


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """HxW or HxWx3 uint8 (or bool / [0, 1] float mask) -> HxWx3 uint8, for display."""
    array = np.asarray(image)
    if array.dtype == bool or (array.dtype.kind == "f" and array.max(initial=0) <= 1.0):
        array = np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)
    if array.dtype != np.uint8:
        raise ValueError(
            f"expected a uint8 image or a [0, 1] mask, got {array.dtype}; convert tensors with "
            "core.images.tensor_to_uint8 first"
        )
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected HxW or HxWx3, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _list_items(folder: Path) -> tuple[CatalogItem, ...]:
    if not folder.is_dir():
        return ()
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in CATALOG_SUFFIXES)
    return tuple(
        CatalogItem(key=p.stem, label=_label(p.stem), path=p, keypoints_file=_keypoints_file(p))
        for p in paths
    )


def _keypoints_file(photo: Path) -> Path | None:
    candidate = photo.with_name(photo.stem + KEYPOINTS_SUFFIX)
    return candidate if candidate.is_file() else None


def _label(stem: str) -> str:
    words = stem.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize()


def _by_key(items: tuple[CatalogItem, ...], key: str, kind: str) -> CatalogItem:
    for item in items:
        if item.key == key:
            return item
    known = ", ".join(item.key for item in items) or "none"
    raise KeyError(f"no {kind} called {key!r} in the catalog; there are: {known}")


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
