"""The try-on pipeline: load the models once, then person photo + garment photo -> result.

Three views of one try-on (``PipelineConfig.view``):

- ``own`` (the default for shoppers): the garment is fitted onto the shopper in their own
  pose and composited into their own photo at its own resolution; face, hair, hands, arms in
  front, trousers and background keep their pixels (:mod:`tryon.pipeline.own_view`).
- ``catalog`` (retailers): the shopper is moved into the canonical frontal pose by moving
  pixels (:mod:`hpn.repose`: part warp, fill, studio backdrop), then dressed the same way.
- ``paper``: the paper's route (:mod:`tryon.pipeline.paper_route`), HPN regenerating a
  frontal frame; the baseline the other two replace.

Stages of the own view, each timed and announced to ``progress``: ``pose`` (BlazePose
keypoints and person mask, unless keypoints are given), ``parse`` (the old garment's region:
the parser's, checked for plausibility, else the classical region), ``garment_mask``,
``fit`` (the part warp of the product photo onto the pose), ``composite``. The catalog view
adds ``repose`` before ``fit``.

Models come from one directory with a ``model_index.json`` manifest naming its components
and the canonical pose the models were trained towards (:mod:`tryon.pipeline.manifest`;
:meth:`TryOnPipeline.save_pretrained` writes one). Every component is optional for the own
view: ``parser/`` (the garment region; else the classical one), ``hpn/`` and ``flow/`` (the
paper route, through :func:`deploy.load_backend`: torch, ONNX Runtime or TensorRT).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from core.keypoints import DEFAULT_CANONICAL_POSE, KEYPOINT_NAMES, NUM_KEYPOINTS, CanonicalPose
from hpn.body_parts import ARM_PARTS, complete_arms
from hpn.part_warp import PartWarpConfig, source_labels
from hpn.repose import studio_backdrop
from tryon.errors import InvalidInputError, NoPersonFound
from tryon.pipeline.garment_fit import FittedGarment, carry_fit, fit_garment, refine_fit
from tryon.pipeline.own_view import OwnViewConfig, compose_own_view
from tryon.pipeline.paper_route import PaperRoute, PaperRouteConfig
from tryon.pipeline.result import TryOnResult

View = Literal["own", "catalog", "paper"]
RegionSource = Literal["auto", "parser", "classical"]
OwnRoute = Literal["direct", "canonical"]
VIEWS: tuple[str, ...] = ("own", "catalog", "paper")
MIN_IMAGE_SIDE = 32
GARMENT_PLAIN_BORDER = 0.6
"""The least share of a product photo's border that must be its plain background colour."""
KEYPOINT_MARGIN = 0.02
"""How far (a fraction of the photo's longer side) a given keypoint may lie outside it."""
GARMENT_CACHE_SIZE = 64


def bundled_models_dir() -> Path:
    """The demo models shipped inside the package (``tryon/demo/models``)."""
    return Path(__file__).resolve().parent.parent / "demo" / "models"


@dataclass(frozen=True)
class PipelineConfig:
    """How the pipeline runs (not which weights it uses).

    Attributes:
        view: "own", "catalog" or "paper" (see the module docstring).
        region_source: "auto" (the parser's region when it is plausible, else the classical
            one), "parser" (error without a parser model) or "classical".
        own_view: how the garment is composited.
        part_warp: part sizes and reach of the part warp.
        paper: the paper route's frame and feathering.
        own_route: how the own view fits the garment: "direct" (onto the shopper's own
            keypoints; the default) or "canonical" (fitted in the canonical pose, then carried
            back to the photo's pose by the part warp). Measured on the synthetic test split
            (docs/pipeline.md) the two tie on quality, and the direct route is about twice
            as fast.
        refine: run the models folder's warp-and-refine HPN on the canonical view (catalog
            view, ``tryon repose``, video). Off by default: trained on renders only, it beats
            the part warp alone on the synthetic test split but paints backdrop between arms
            and torso on real photos (round trip SSIM on Obama 0.934 alone, 0.763 refined;
            docs/hpn.md), and real photos come first.
    """

    view: View = "own"
    region_source: RegionSource = "auto"
    own_view: OwnViewConfig = field(default_factory=OwnViewConfig)
    part_warp: PartWarpConfig = field(default_factory=PartWarpConfig)
    paper: PaperRouteConfig = field(default_factory=PaperRouteConfig)
    own_route: OwnRoute = "direct"
    refine: bool = False

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {self.view!r}")
        if self.own_route not in ("direct", "canonical"):
            raise ValueError(f"own_route must be 'direct' or 'canonical', got {self.own_route!r}")
        if self.region_source not in ("auto", "parser", "classical"):
            raise ValueError(
                f"region_source must be 'auto', 'parser' or 'classical', got {self.region_source!r}"
            )


def check_photo(image: Any, name: str) -> np.ndarray:
    """``image`` as an HxWx3 uint8 array, or InvalidInputError saying how to get one."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise InvalidInputError(
            f"the {name} image must be HxWx3 uint8 RGB (load it with tryon.imageio.load_image); "
            f"got {array.dtype} of shape {array.shape}"
        )
    if min(array.shape[:2]) < MIN_IMAGE_SIDE:
        raise InvalidInputError(
            f"the {name} image is {array.shape[1]}x{array.shape[0]} px; at least "
            f"{MIN_IMAGE_SIDE} px per side is needed"
        )
    return array


def check_keypoints(
    keypoints: Any, size: tuple[int, int], source: str = "person_keypoints"
) -> np.ndarray:
    """Given keypoints as (18, 2) float32 pixel (x, y) on a photo of ``size`` = (height, width).

    A point is missing when x or y is NaN; every other point must be a finite number within
    :data:`KEYPOINT_MARGIN` of the photo (keypoints computed on a resized copy, or in another
    unit, would otherwise dress nobody and report success).

    Raises:
        InvalidInputError: not 18 pairs of numbers, a point at infinity, or outside the photo.
        NoPersonFound: every point is missing.
    """
    try:
        array = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{source}: keypoints must be numbers ({error})") from error
    if array.shape != (NUM_KEYPOINTS, 2):
        raise InvalidInputError(
            f"{source} must be (18, 2) COCO-18 pixel (x, y), got shape {array.shape}"
        )
    present = ~np.isnan(array).any(axis=1)
    if not present.any():
        raise NoPersonFound(f"{source}: every keypoint is missing: there is no person")
    height, width = size
    margin = KEYPOINT_MARGIN * max(height, width)
    x, y = array[:, 0], array[:, 1]
    inside = (x >= -margin) & (x <= width - 1 + margin)
    inside &= (y >= -margin) & (y <= height - 1 + margin)
    for index in np.flatnonzero(present & ~inside):
        where = f"({x[index]:.6g}, {y[index]:.6g})"
        problem = (
            "is not a finite number"
            if not np.isfinite(array[index]).all()
            else f"lies outside the {width}x{height} photo"
        )
        raise InvalidInputError(
            f"{source}: keypoint {index} ({KEYPOINT_NAMES[index]}) at {where} {problem}; "
            "keypoints must be pixels of this photo (were they computed on a resized copy?)"
        )
    return array.astype(np.float32)


def check_garment_photo(garment: np.ndarray) -> None:
    """Refuse a product photo whose garment fills the frame, before its mask is guessed.

    The garment mask takes the photo's border as the background; where the garment covers
    most of the border (a close crop without margin), the "background" is the garment and
    the mask finds scraps of real background instead, so the try-on would silently dress
    nobody. The border must be mostly one plain colour: within the mask's colour distance of
    its median for at least :data:`GARMENT_PLAIN_BORDER` of its pixels.

    Raises:
        InvalidInputError: too little of the border is plain background.
    """
    import cv2

    from tryon.preprocess.garment_mask import GarmentMaskConfig

    config = GarmentMaskConfig()
    height, width = garment.shape[:2]
    scale = min(1.0, config.working_size / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(garment, size, interpolation=cv2.INTER_AREA)
    band = max(2, round(config.border_fraction * max(small.shape[:2])))
    ring = np.ones(small.shape[:2], bool)
    ring[band:-band, band:-band] = False
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)[ring]
    plain = np.linalg.norm(lab - np.median(lab, axis=0), axis=1) <= config.colour_distance
    if plain.mean() < GARMENT_PLAIN_BORDER:
        raise InvalidInputError(
            f"the garment photo has no plain background around the garment (only "
            f"{plain.mean():.0%} of its border is one background colour): it looks cropped "
            "to the garment or shot on a busy background. Use a product photo of the whole "
            "garment on a plain background with a margin around it"
        )


class _StageClock:
    """Times stages and announces each one as it starts."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.progress is not None:
            self.progress(name)
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start


@dataclass(frozen=True)
class _Garment:
    """A product photo prepared once: its mask and the joints its garment is laid on."""

    mask: np.ndarray
    keypoints: np.ndarray


class TryOnPipeline:
    """Person photo + garment product photo -> :class:`TryOnResult` (see the module docstring).

    Build it once (:meth:`from_pretrained`) and call it for every pair; it is not thread safe
    (give each worker process its own).

    Args:
        parser: a :class:`tryon.preprocess.parser.HumanParser` in eval mode or a deploy
            backend of one (what :meth:`from_pretrained` loads), or None.
        config: view, region source, compositing.
        pose_estimator: anything with ``estimate(image) -> PoseResult``; default: BlazePose,
            created on the first call that needs it.
        paper_route: the paper's HPN + flow route, needed by ``view="paper"``.
        canonical_pose: the frontal pose of the catalog view and the paper route (default:
            the shipped models' :data:`core.keypoints.DEFAULT_CANONICAL_POSE`).
        refiner: the warp-and-refine HPN (:class:`hpn.warp_refine.WarpRefineHPN`) that
            corrects the part warp and fills what the photo does not show, in the catalog
            view and video; None: the part warp alone, holes inpainted.
        garment_flow: an appearance-flow net trained on keypoint fits that corrects every
            garment fit (:func:`tryon.pipeline.garment_fit.refine_fit`); None: the fit alone.
    """

    def __init__(
        self,
        parser: Any | None = None,
        config: PipelineConfig | None = None,
        pose_estimator: Any | None = None,
        paper_route: PaperRoute | None = None,
        canonical_pose: CanonicalPose | None = None,
        refiner: torch.nn.Module | None = None,
        garment_flow: torch.nn.Module | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        if self.config.region_source == "parser" and parser is None:
            raise ValueError("region_source='parser' needs a parser model (models_dir/parser)")
        if self.config.view == "paper" and paper_route is None:
            raise ValueError("view='paper' needs the HPN and flow models (models_dir/hpn, flow)")
        self.parser, self.paper_route = parser, paper_route
        self.canonical_pose = canonical_pose or DEFAULT_CANONICAL_POSE
        self.refiner, self.garment_flow = refiner, garment_flow
        self._pose_estimator = pose_estimator
        self._segmenter: Any | None = None
        self._garments: dict[str, _Garment] = {}

    @classmethod
    def from_pretrained(
        cls,
        models_dir: str | Path | None = None,
        backend: str = "torch",
        device: str = "cpu",
        config: PipelineConfig | None = None,
        pose_estimator: Any | None = None,
    ) -> TryOnPipeline:
        """Load the models of ``models_dir`` and its manifest (None: the bundled demo models).

        Args:
            models_dir: folder of model directories: ``parser/``, ``hpn/`` and ``flow/``
                (each optional; the paper view needs the last two).
            backend: "torch", "onnxruntime" or "tensorrt" for the parser, HPN and the flow net.
            device: "cpu", "cuda", "cuda:N" or "auto".
            config: pipeline options.
            pose_estimator: override the BlazePose default.

        Raises:
            InvalidInputError: the folder does not exist.
        """
        from core.devices import resolve_device
        from tryon.pipeline.manifest import read_manifest

        root = Path(models_dir) if models_dir is not None else bundled_models_dir()
        if not root.is_dir():
            raise InvalidInputError(f"{root} is not a folder of model directories")
        manifest = read_manifest(root)
        config = config or PipelineConfig()
        device = str(resolve_device(device))
        parser = None
        from deploy import load_backend

        if "parser" in manifest.components:
            parser = load_backend(root / "parser", backend=backend, device=device)
        paper_route = None
        if {"hpn", "flow"} <= set(manifest.components):
            hpn = load_backend(root / "hpn", backend=backend, device=device)
            flow = load_backend(root / "flow", backend=backend, device=device)
            paper_route = PaperRoute(hpn, flow, parser, config.paper, manifest.canonical_pose)
        elif config.view == "paper":
            raise InvalidInputError(
                f"{root} has no hpn/ and flow/ model directories, which view='paper' needs"
            )
        refiner = None
        if "hpn_refine" in manifest.components:
            from hpn.warp_refine import WarpRefineHPN

            refiner = WarpRefineHPN.from_pretrained(root / "hpn_refine").to(device).eval()
        garment_flow = None
        if "garment_flow" in manifest.components:
            from flow.model import AppearanceFlowNet

            garment_flow = AppearanceFlowNet.from_pretrained(root / "garment_flow").to(device)
            garment_flow.eval()
        return cls(
            parser, config, pose_estimator, paper_route, manifest.canonical_pose, refiner,
            garment_flow,
        )  # fmt: skip

    def save_pretrained(self, directory: str | Path, dtype: torch.dtype | None = None) -> Path:
        """Write the models and a manifest that :meth:`from_pretrained` loads back.

        Needs the torch backend; ``dtype=torch.float16`` writes shippable weights.
        """
        from tryon.pipeline.manifest import save_pipeline

        return save_pipeline(self, directory, dtype)

    def with_config(self, **changes: Any) -> TryOnPipeline:
        """A pipeline sharing these loaded models, with some :class:`PipelineConfig` changed."""
        config = dataclasses.replace(self.config, **changes)
        route = self.paper_route
        if route is not None and config.paper != route.config:
            route = PaperRoute(
                route.hpn, route.flow, route.parser, config.paper, self.canonical_pose
            )
        return TryOnPipeline(
            self.parser, config, self._pose_estimator, route, self.canonical_pose, self.refiner,
            self.garment_flow,
        )  # fmt: skip

    def clear_caches(self) -> None:
        """Forget prepared garments (benchmarks time the uncached path with this)."""
        self._garments.clear()

    @property
    def pose_estimator(self) -> Any:
        if self._pose_estimator is None:
            from tryon.preprocess import BlazePoseEstimator

            self._pose_estimator = BlazePoseEstimator()
        return self._pose_estimator

    @property
    def segmenter(self) -> Any:
        """Selfie segmentation, for person masks when the keypoints come from a file."""
        if self._segmenter is None:
            from tryon.preprocess import SelfieSegmenter

            self._segmenter = SelfieSegmenter()
        return self._segmenter

    def __call__(
        self,
        person: np.ndarray,
        garment: np.ndarray,
        person_keypoints: np.ndarray | None = None,
        view: View | None = None,
        progress: Callable[[str], None] | None = None,
        person_mask: np.ndarray | None = None,
        catalog_pose: tuple[np.ndarray, tuple[int, int]] | None = None,
    ) -> TryOnResult:
        """Dress ``person`` in ``garment``.

        Args:
            person: HxWx3 uint8 RGB photo of the shopper.
            garment: HxWx3 uint8 RGB product photo on a plain background.
            person_keypoints: (18, 2) pixel (x, y) of ``person``, NaN missing; None: estimate.
            view: "own", "catalog" or "paper" for this call (default: the config's).
            progress: called with each stage's name as it starts.
            person_mask: HxW bool mask of the person, when known (a data set's); None:
                BlazePose's (or selfie segmentation's when the keypoints are given).
            catalog_pose: (keypoints, (height, width)) of the catalog view's canvas; None:
                the person's own canonical pose (:func:`hpn.repose.canonical_target`). An
                evaluation against a rendered truth passes the truth's pose.

        Returns:
            :class:`TryOnResult`.

        Raises:
            InvalidInputError: an image or the keypoints are unusable.
            NoPersonFound: nobody in the person photo.
        """
        person = check_photo(person, "person")
        garment = check_photo(garment, "garment")
        check_garment_photo(garment)
        view = view or self.config.view
        if view not in VIEWS:
            raise InvalidInputError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
        clock = _StageClock(progress)
        warnings: list[str] = []
        notes: list[str] = []
        with torch.inference_mode():
            with clock.stage("pose"):
                keypoints, person_mask = self._pose(person, person_keypoints, person_mask, warnings)
            with clock.stage("garment_mask"):
                prepared = self._garment(garment)
            if view == "paper":
                if self.paper_route is None:
                    raise InvalidInputError("the paper view needs the hpn/ and flow/ models")
                image, layers, source = self.paper_route(
                    person, keypoints, garment, prepared.mask, clock.stage, notes
                )
                region = np.zeros(person.shape[:2], bool)
            else:
                with clock.stage("parse"):
                    region, source = self._old_garment(person, keypoints, person_mask, notes)
                image, layers = self._dress(
                    view, person, keypoints, person_mask, region, garment, prepared, clock,
                    catalog_pose,
                )  # fmt: skip
        return TryOnResult(
            image=image,
            photo=person,
            view=view,
            keypoints=keypoints,
            person_mask=person_mask,
            garment_region=region,
            region_source=source,
            garment_mask=prepared.mask,
            garment_keypoints=prepared.keypoints,
            layers=layers,
            timings=clock.timings,
            warnings=tuple(warnings),
            notes=tuple(notes),
        )

    # ------------------------------------------------------------------ stages

    def person_pose(
        self, person: np.ndarray, keypoints: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The keypoints (given or estimated) and person mask of a photo, checked."""
        return self._pose(check_photo(person, "person"), keypoints, None, [])

    def _pose(
        self,
        person: np.ndarray,
        given: np.ndarray | None,
        given_mask: np.ndarray | None,
        warnings: list[str],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (given or estimated) and the person mask (given, BlazePose's or selfie)."""
        if given is None:
            result = self.pose_estimator.estimate(person)
            warnings.extend(result.warnings)
            keypoints = np.asarray(result.keypoints, dtype=np.float32)
        else:
            keypoints = check_keypoints(given, person.shape[:2])
            result = None
        if np.isnan(keypoints[[2, 5]]).any():
            raise InvalidInputError(
                "both shoulders must be visible to fit a garment; use a photo that shows the "
                "upper body from the front"
            )
        if given_mask is not None:
            mask = np.asarray(given_mask, bool)
            if mask.shape != person.shape[:2]:
                raise InvalidInputError(
                    f"person_mask is {mask.shape}, the photo {person.shape[:2]}: they must match"
                )
        elif result is not None and result.person_mask is not None:
            mask = np.asarray(result.person_mask, bool)
        else:
            mask = self.segmenter.mask(person)
        if not mask.any():
            raise NoPersonFound("the person mask is empty: nobody to dress in this photo")
        return keypoints, mask

    def _garment(self, garment: np.ndarray) -> _Garment:
        """Mask and joints of a product photo, cached by content (a catalog reuses garments)."""
        from tryon.preprocess import garment_mask
        from tryon.preprocess.garment_landmarks import garment_landmarks

        key = hashlib.blake2b(garment.tobytes(), digest_size=16).hexdigest() + str(garment.shape)
        if key not in self._garments:
            if len(self._garments) >= GARMENT_CACHE_SIZE:
                self._garments.pop(next(iter(self._garments)))
            mask = garment_mask(garment)
            self._garments[key] = _Garment(mask, garment_landmarks(mask))
        return self._garments[key]

    def _old_garment(
        self,
        person: np.ndarray,
        keypoints: np.ndarray,
        person_mask: np.ndarray,
        notes: list[str],
    ) -> tuple[np.ndarray, str]:
        """The region of the garment being replaced: the parser's if plausible, else classical.

        Either way without the face box: the try-on never edits the face (a collar reaching
        into the box stays as it is, see :mod:`tryon.pipeline.own_view`), so the region it
        reports is the one it replaces. The parser's plausibility is judged before that cut,
        so a parser that labels the face still fails it.
        """
        from tryon.preprocess.body_boxes import face_mask
        from tryon.preprocess.garment_region import (
            classical_garment_region,
            close_garment_holes,
            region_plausibility,
        )

        source = self.config.region_source
        editable = person_mask & ~face_mask(keypoints, person_mask.shape)
        if self.parser is not None and source in ("auto", "parser"):
            from tryon.preprocess.parser import garment_region, parse_image

            parse = parse_image(self.parser, person, keypoints, person_mask)
            region = close_garment_holes(garment_region(parse) & person_mask, person)
            if source == "parser":
                return region & editable, "parser"
            scores = region_plausibility(region, keypoints, person_mask)
            if scores.plausible():
                return region & editable, "parser"
            notes.append(
                f"the parser's garment region is implausible (on the person "
                f"{scores.on_person:.0%}, torso covered {scores.torso_covered:.0%}, face covered "
                f"{scores.face_covered:.0%}); used the classical region instead"
            )
        region = classical_garment_region(person, keypoints, person_mask)
        return region & editable, "classical"

    def _dress(
        self,
        view: str,
        person: np.ndarray,
        keypoints: np.ndarray,
        person_mask: np.ndarray,
        region: np.ndarray,
        garment: np.ndarray,
        prepared: _Garment,
        clock: _StageClock,
        catalog_pose: tuple[np.ndarray, tuple[int, int]] | None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fit and composite the garment in the own or the catalog view."""
        layers: dict[str, np.ndarray] = {}
        # Arms the photo does not show are completed for the garment's sleeves to hang on,
        # but only the arms it shows are body parts that may stand in front of the garment.
        body = complete_arms(keypoints)
        labels = source_labels(keypoints, person_mask, self.config.part_warp)
        canvas, mask, old = person, person_mask, region
        if view == "catalog":
            with clock.stage("repose"):
                reposed = self.canonical_view(person, keypoints, person_mask, labels, catalog_pose)
                canvas, mask, labels = reposed.image, reposed.person_mask, reposed.labels
                body = reposed.keypoints
                old = reposed.warp.apply(region.astype(np.float32)) > 0.5
                old |= reposed.filled & _grow(old, 0.03 * max(canvas.shape[:2]))
                layers["canonical"] = canvas
                layers["canonical_garment_region"] = old.astype(np.uint8) * 255
        # Everything happens near the person: the work is cut to the person's box (grown by
        # a margin wider than any spill), and the rest of the canvas is never touched.
        crop, shift = _work_box(mask, WORK_MARGIN)
        local = body - shift
        size = (crop[0].stop - crop[0].start, crop[1].stop - crop[1].start)
        if view == "own" and self.config.own_route == "canonical":
            with clock.stage("repose"):
                reposed = self.canonical_view(person, keypoints, person_mask, labels)
            with clock.stage("fit"):
                dressed = self._fit(
                    garment, prepared, reposed.keypoints, reposed.person_mask, reposed.labels
                )
                fitted = carry_fit(dressed, reposed.keypoints, local, size, self.config.part_warp)
        else:
            with clock.stage("fit"):
                fitted = self._fit(garment, prepared, local, mask[crop], labels[crop])
        with clock.stage("composite"):
            own = compose_own_view(
                canvas[crop], local, mask[crop], labels[crop], old[crop], fitted,
                self.config.own_view, long_side=max(canvas.shape[:2]),
                backdrop=None if view == "own" else studio_backdrop(canvas.shape[:2])[crop],
            )  # fmt: skip
            image = canvas.copy()
            image[crop] = own.image
        shape = canvas.shape[:2]
        layers.update(
            parts=_part_colours(labels),
            fitted_garment=_uncrop(fitted.image, crop, shape),
            alpha=_uncrop(np.round(own.alpha * 255).astype(np.uint8), crop, shape),
            uncovered=_uncrop(own.uncovered.astype(np.uint8) * 255, crop, shape),
        )
        return image, layers

    def _fit(
        self,
        garment: np.ndarray,
        prepared: _Garment,
        keypoints: np.ndarray,
        person_mask: np.ndarray,
        labels: np.ndarray,
    ) -> FittedGarment:
        """The garment fitted onto a pose (part warp, then the flow net's correction if any).

        It is sized on the body without its arms (``labels``): an arm along the side joins
        the torso in the person mask and would widen the chest the garment is sized to.
        """
        body = person_mask & ~np.isin(labels, ARM_PARTS)
        fitted = fit_garment(
            garment, prepared.mask, prepared.keypoints, keypoints, person_mask.shape,
            self.config.part_warp, person_mask=body,
        )  # fmt: skip
        if self.garment_flow is not None:
            fitted = refine_fit(
                self.garment_flow, fitted, garment, prepared.mask, person_mask, keypoints
            )
        return fitted

    @property
    def canonical_refiner(self) -> torch.nn.Module | None:
        """The warp-and-refine HPN when the config asks for it (see ``PipelineConfig.refine``)."""
        return self.refiner if self.config.refine else None

    def canonical_view(
        self,
        person: np.ndarray,
        keypoints: np.ndarray,
        person_mask: np.ndarray,
        labels: np.ndarray | None = None,
        pose: tuple[np.ndarray, tuple[int, int]] | None = None,
    ) -> Any:
        """The person moved to their canonical frontal pose (:class:`hpn.repose.Reposed`).

        ``pose`` = (keypoints, (height, width)) gives the target pose and canvas instead.
        """
        from hpn.repose import canonical_target, repose
        from tryon.pipeline.framing import frontal_template

        config = self.config.part_warp
        if labels is None:
            labels = source_labels(keypoints, person_mask, config)
        if pose is None:
            template = frontal_template(256, self.canonical_pose)
            target, size = canonical_target(keypoints, person_mask, labels, template)
        else:
            target, size = np.asarray(pose[0], np.float32), pose[1]
        return repose(
            person, keypoints, person_mask, target, size, labels, config=config,
            refiner=self.canonical_refiner,
        )  # fmt: skip


WORK_MARGIN = 0.06  # of the canvas's long side around the person: more than any spill


def _work_box(mask: np.ndarray, margin: float) -> tuple[tuple[slice, slice], np.ndarray]:
    """The person's box grown by ``margin`` of the long side: (row, column) slices and the
    (x, y) offset of its corner."""
    from tryon.preprocess.pose import mask_bbox

    height, width = mask.shape
    box = mask_bbox(mask)
    pad = round(margin * max(height, width))
    x0, y0, x1, y1 = (0, 0, width - 1, height - 1) if box is None else box
    left, top = max(0, int(x0) - pad), max(0, int(y0) - pad)
    right, bottom = min(width, int(x1) + pad + 1), min(height, int(y1) + pad + 1)
    return (slice(top, bottom), slice(left, right)), np.array([left, top], np.float32)


def _uncrop(array: np.ndarray, crop: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """``array`` (a crop of a canvas of ``shape``) back in the whole canvas, zero elsewhere."""
    full = np.zeros((*shape, *array.shape[2:]), array.dtype)
    full[crop] = array
    return full


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    from tryon.preprocess.garment_region import dilate

    return dilate(mask, max(1, round(radius)))


def _part_colours(labels: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 picture of the part labels (one colour per body part, black off the person)."""
    from hpn.body_parts import PART_NAMES

    palette = np.array(
        [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
         (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (170, 110, 40),
         (0, 0, 0)],
        np.uint8,
    )  # fmt: skip
    return palette[np.where(labels >= 0, labels, len(PART_NAMES))]
