"""The try-on pipeline: load the models once, then person photo + garment photo -> result.

Stages (paper §4.4, plus two steps beyond it), each timed and announced to ``progress``:

1. ``pose``: COCO-18 keypoints of the shopper (BlazePose, unless given).
2. ``frame``: cut the photo to the R x R frame that puts the torso on the frontal
   template's torso (:mod:`tryon.pipeline.framing`); the inverse map is kept.
3. ``frontalize``: HPN moves the person to the template pose (no self-occlusion).
4. ``parse``: the upper-garment region on the frontal person from the human parser, or from
   the template keypoints (:func:`tryon.preprocess.upper_clothes_region`) when there is no
   parser model or its region disagrees with the template's (``min_parser_agreement``).
5. ``garment_mask``: the product photo's mask (:func:`tryon.preprocess.garment_mask`).
6. ``warp``: the appearance-flow net warps garment + mask into the region.
7. ``composite``: feathered alpha blend onto the frontal person.
8. ``repose`` (optional, beyond the paper): HPN moves the dressed person back to the
   shopper's own pose.
9. ``paste_back``: the frame goes back into the original photo, its border feathered.

Models come from one directory with ``hpn/``, ``flow/`` and optionally ``parser/`` model
directories and a ``model_index.json`` manifest recording the canonical pose HPN was trained
towards (:mod:`tryon.pipeline.manifest`); :meth:`TryOnPipeline.save_pretrained` writes one.
HPN and the flow net run through :func:`deploy.load_backend`, so torch, ONNX Runtime or
TensorRT is a loading-time choice. The parser runs in PyTorch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from core import registry
from core.images import mask_to_tensor, tensor_to_uint8, uint8_to_tensor
from core.keypoints import DEFAULT_CANONICAL_POSE, NUM_KEYPOINTS, CanonicalPose, scale_keypoints
from core.posemaps import pose_maps_batch
from tryon.errors import InvalidInputError, NoPersonFound
from tryon.pipeline.compositing import composite, feathered_alpha
from tryon.pipeline.framing import border_colour, edge_feather, frame_person, frontal_template
from tryon.pipeline.result import TryOnResult

RegionSource = Literal["auto", "parser", "keypoints"]
WarpMethod = Literal["flow", "bbox_resize"]
MIN_IMAGE_SIDE = 32
GARMENT_MASK_CACHE_SIZE = 64


def bundled_models_dir() -> Path:
    """The demo models shipped inside the package (``tryon/demo/models``)."""
    return Path(__file__).resolve().parent.parent / "demo" / "models"


@dataclass(frozen=True)
class PipelineConfig:
    """How the pipeline runs (not which weights it uses).

    Attributes:
        resolution: side R of the square frame (a multiple of 32).
        region_source: "auto" (parser if available, else keypoints), "parser" (error when no
            parser model) or "keypoints".
        warp: "flow" (the appearance-flow net) or "bbox_resize" (the trivial baseline: the
            garment's box resized onto the region's box).
        min_parser_agreement: with "auto", the parsed region is used only when its IoU with
            the template's keypoint region reaches this; otherwise (a frontal image the parser
            cannot read, e.g. from a weak HPN) the keypoint region is used, with a warning.
        feather_sigma: Gaussian feather of the compositing mask, in frame pixels.
        paste_feather: width of the blend at the frame's border when pasting back, in frame
            pixels.
    """

    resolution: int = 256
    region_source: RegionSource = "auto"
    warp: WarpMethod = "flow"
    min_parser_agreement: float = 0.3
    feather_sigma: float = 1.5
    paste_feather: int = 8

    def __post_init__(self) -> None:
        if self.resolution < 64 or self.resolution % 32:
            raise ValueError(
                f"resolution must be a multiple of 32 and at least 64, got {self.resolution}"
            )
        if self.region_source not in ("auto", "parser", "keypoints"):
            raise ValueError(
                f"region_source must be 'auto', 'parser' or 'keypoints', got {self.region_source!r}"
            )
        if self.warp not in ("flow", "bbox_resize"):
            raise ValueError(f"warp must be 'flow' or 'bbox_resize', got {self.warp!r}")
        if not 0 <= self.min_parser_agreement <= 1:
            raise ValueError(
                f"min_parser_agreement must be in [0, 1], got {self.min_parser_agreement}"
            )
        if self.feather_sigma < 0 or self.paste_feather < 0:
            raise ValueError("feather_sigma and paste_feather must be >= 0")


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


def mask_iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two bool masks (0 when both are empty)."""
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else 0.0


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


class TryOnPipeline:
    """Person photo + garment product photo -> :class:`TryOnResult` (see the module docstring).

    Build it once (:meth:`from_pretrained`) and call it for every pair; it is not thread safe
    (give each worker process its own).

    Args:
        hpn: the HPN backend (:func:`deploy.load_backend` of an HPN model directory).
        flow: the appearance-flow backend.
        parser: a :class:`tryon.preprocess.parser.HumanParser` in eval mode, or None.
        config: resolution, region source, warp method, feathering.
        pose_estimator: anything with ``estimate(image) -> PoseResult``; default: BlazePose,
            created on the first call that needs it.
        canonical_pose: the frontal pose HPN moves people into (default: the shipped
            models' :data:`core.keypoints.DEFAULT_CANONICAL_POSE`).
    """

    def __init__(
        self,
        hpn: Any,
        flow: Any,
        parser: torch.nn.Module | None = None,
        config: PipelineConfig | None = None,
        pose_estimator: Any | None = None,
        canonical_pose: CanonicalPose | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        if hpn.model_type != registry.HPN.model_type:
            raise ValueError(f"hpn must be an HPN backend, got model type {hpn.model_type!r}")
        if flow.model_type != registry.APPEARANCE_FLOW.model_type:
            raise ValueError(f"flow must be a flow backend, got model type {flow.model_type!r}")
        if flow.config.pose_channels:
            raise ValueError("flow models with pose-map inputs are not supported by the pipeline")
        if self.config.resolution % flow.config.coarsest_stride:
            raise ValueError(
                f"resolution {self.config.resolution} is not a multiple of the flow net's "
                f"coarsest stride {flow.config.coarsest_stride}"
            )
        if self.config.region_source == "parser" and parser is None:
            raise ValueError("region_source='parser' needs a parser model (models_dir/parser)")
        self.hpn, self.flow, self.parser = hpn, flow, parser
        self._pose_estimator = pose_estimator
        self.canonical_pose = canonical_pose or DEFAULT_CANONICAL_POSE
        self.template = frontal_template(self.config.resolution, self.canonical_pose)
        self.hpn_resolution = int(hpn.signature.inputs[0].height)
        self._garment_masks: dict[str, np.ndarray] = {}

    @classmethod
    def from_pretrained(
        cls,
        models_dir: str | Path | None = None,
        backend: str = "torch",
        device: str = "cpu",
        resolution: int = 256,
        config: PipelineConfig | None = None,
        pose_estimator: Any | None = None,
    ) -> TryOnPipeline:
        """Load ``models_dir/{hpn,flow[,parser]}`` and its manifest (None: the bundled demo).

        Args:
            models_dir: folder of model directories.
            backend: "torch", "onnxruntime" or "tensorrt" for HPN and the flow net (the
                latter two need exported artefacts in the model directories: ``tryon export``).
            device: "cpu", "cuda", "cuda:N" or "auto"
            resolution: the frame side R (ignored when ``config`` is given).
            config: full pipeline options.
            pose_estimator: override the BlazePose default.

        Raises:
            InvalidInputError: a model directory is missing.
        """
        from deploy import load_backend
        from tryon.pipeline.manifest import read_manifest

        root = Path(models_dir) if models_dir is not None else bundled_models_dir()
        manifest = read_manifest(root)
        hpn = load_backend(root / "hpn", backend=backend, device=device)
        flow = load_backend(root / "flow", backend=backend, device=device)
        parser = None
        if "parser" in manifest.components:
            from tryon.preprocess.parser import HumanParser

            parser = HumanParser.from_pretrained(root / "parser").to(hpn.device).eval()
        config = config or PipelineConfig(resolution=resolution)
        return cls(hpn, flow, parser, config, pose_estimator, manifest.canonical_pose)

    def save_pretrained(self, directory: str | Path, dtype: torch.dtype | None = None) -> Path:
        """Write the models and a manifest that :meth:`from_pretrained` loads back.

        Needs the torch backend; ``dtype=torch.float16`` writes shippable weights.
        """
        from tryon.pipeline.manifest import save_pipeline

        return save_pipeline(self, directory, dtype)

    def with_config(self, **changes: Any) -> TryOnPipeline:
        """A pipeline sharing these loaded models, with some :class:`PipelineConfig` changed."""
        config = dataclasses.replace(self.config, **changes)
        return TryOnPipeline(
            self.hpn, self.flow, self.parser, config, self._pose_estimator, self.canonical_pose
        )

    def clear_caches(self) -> None:
        """Forget cached garment masks (benchmarks time the uncached path with this)."""
        self._garment_masks.clear()

    @property
    def pose_estimator(self) -> Any:
        if self._pose_estimator is None:
            from tryon.preprocess import BlazePoseEstimator

            self._pose_estimator = BlazePoseEstimator()
        return self._pose_estimator

    def __call__(
        self,
        person: np.ndarray,
        garment: np.ndarray,
        person_keypoints: np.ndarray | None = None,
        return_to_pose: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> TryOnResult:
        """Dress ``person`` in ``garment``.

        Args:
            person: HxWx3 uint8 RGB photo of the shopper.
            garment: HxWx3 uint8 RGB product photo on a plain background.
            person_keypoints: (18, 2) pixel (x, y) of ``person``, NaN missing; None: estimate.
            return_to_pose: move the dressed person back to the shopper's pose.
            progress: called with each stage's name as it starts.

        Returns:
            :class:`TryOnResult`.

        Raises:
            InvalidInputError: an image or the keypoints are unusable.
            NoPersonFound: nobody in the person photo.
        """
        person = check_photo(person, "person")
        garment = check_photo(garment, "garment")
        clock = _StageClock(progress)
        warnings: list[str] = []
        size = self.config.resolution
        with torch.inference_mode():
            with clock.stage("pose"):
                keypoints = self._keypoints(person, person_keypoints, warnings)
            with clock.stage("frame"):
                frame = frame_person(keypoints, person.shape[:2], size, self.template)
                person_frame = frame.crop(person, fill=border_colour(person))
                frame_keypoints = frame.to_frame(keypoints)
            with clock.stage("frontalize"):
                frontal = self.transfer(person_frame, self.template)
            with clock.stage("parse"):
                region, region_source = self._garment_region(frontal, warnings)
            with clock.stage("garment_mask"):
                garment_mask = self._garment_mask(garment)
            with clock.stage("warp"):
                flow, warped, warped_mask = self._warp(garment, garment_mask, region)
            with clock.stage("composite"):
                alpha = feathered_alpha(region, warped_mask, self.config.feather_sigma)
                dressed = composite(frontal, warped, alpha)
            reposed = None
            if return_to_pose:
                with clock.stage("repose"):
                    reposed = self.transfer(dressed, frame_keypoints)
            with clock.stage("paste_back"):
                final = reposed if reposed is not None else dressed
                feather = edge_feather(size, self.config.paste_feather)
                image = frame.paste_back(final, person, feather)
        return TryOnResult(
            image=image,
            frontal=frontal,
            keypoints=keypoints,
            garment_region=region,
            garment_mask=garment_mask,
            warped_garment=warped,
            flow_visualization=self._flow_picture(flow),
            composite=dressed,
            timings=clock.timings,
            person_frame=person_frame,
            frame_keypoints=frame_keypoints,
            frontal_keypoints=self.template.copy(),
            region_source=region_source,
            alpha=alpha,
            reposed=reposed,
            warnings=tuple(warnings),
        )

    # ------------------------------------------------------------------ stages

    def _keypoints(
        self, person: np.ndarray, given: np.ndarray | None, warnings: list[str]
    ) -> np.ndarray:
        if given is not None:
            keypoints = np.asarray(given, dtype=np.float32)
            if keypoints.shape != (NUM_KEYPOINTS, 2):
                raise InvalidInputError(
                    f"person_keypoints must be (18, 2) COCO-18 pixel (x, y), got {keypoints.shape}"
                )
            if np.isnan(keypoints).all():
                raise NoPersonFound("every given keypoint is missing: there is no person")
            return keypoints
        result = self.pose_estimator.estimate(person)
        warnings.extend(result.warnings)
        return np.asarray(result.keypoints, dtype=np.float32)

    def transfer(self, image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """HPN: the person of an RxR frame image moved to ``keypoints`` (pixels of the frame).

        The image is resized to HPN's level and the output back to R when they differ.

        Shapes:
            image: RxRx3 uint8; keypoints: (18, 2); returns RxRx3 uint8.
        """
        size, level = image.shape[0], self.hpn_resolution
        config = self.hpn.config
        batch = uint8_to_tensor(image)[None]
        if level != size:
            batch = F.interpolate(batch, size=(level, level), mode="bilinear", antialias=True)
        points = scale_keypoints(keypoints, (size, size), (level, level))
        maps = pose_maps_batch(
            torch.from_numpy(np.asarray(points, np.float32))[None],
            config.bottleneck_size,
            config.pose_sigma,
            image_size=(level, level),
        )
        generated = self.hpn(image=batch, pose_maps=maps)["generated"].float().cpu()
        if level != size:
            generated = F.interpolate(generated, size=(size, size), mode="bilinear")
        return tensor_to_uint8(generated)

    def _garment_region(self, frontal: np.ndarray, warnings: list[str]) -> tuple[np.ndarray, str]:
        from tryon.preprocess import upper_clothes_region

        size = self.config.resolution
        template_region = upper_clothes_region(self.template, (size, size))
        if self.parser is None or self.config.region_source == "keypoints":
            return template_region, "keypoints"
        from tryon.preprocess.parser import garment_region, parse_image

        region = garment_region(parse_image(self.parser, frontal))
        if self.config.region_source == "parser":
            return region, "parser"
        agreement = mask_iou(region, template_region)
        if agreement >= self.config.min_parser_agreement:
            return region, "parser"
        warnings.append(
            f"the parsed garment overlaps the template's garment region by IoU {agreement:.2f} "
            f"< {self.config.min_parser_agreement}; used the keypoint template instead"
        )
        return template_region, "keypoints"

    def _garment_mask(self, garment: np.ndarray) -> np.ndarray:
        """The product photo's mask, cached by content: a catalog reuses each garment often."""
        from tryon.preprocess import garment_mask

        key = hashlib.blake2b(garment.tobytes(), digest_size=16).hexdigest() + str(garment.shape)
        if key not in self._garment_masks:
            if len(self._garment_masks) >= GARMENT_MASK_CACHE_SIZE:
                self._garment_masks.pop(next(iter(self._garment_masks)))
            self._garment_masks[key] = garment_mask(garment)
        return self._garment_masks[key].copy()

    def _warp(
        self, garment: np.ndarray, garment_mask: np.ndarray, region: np.ndarray
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Flow, warped garment (RxRx3 uint8) and warped mask (RxR float) in the frame."""
        from tryon.data.geometry import SquareFit

        size = self.config.resolution
        fit = SquareFit(garment.shape[0], garment.shape[1], size)
        garment_tensor = uint8_to_tensor(fit.image(garment))[None]
        mask_tensor = mask_to_tensor(fit.labels(garment_mask.astype(np.uint8)))[None]
        region_tensor = mask_to_tensor(region)[None]
        if self.config.warp == "flow":
            outputs = self.flow(
                garment=garment_tensor, garment_mask=mask_tensor, target_mask=region_tensor
            )
            flow = outputs["flow"].float().cpu()
            warped, warped_mask = outputs["warped_garment"].cpu(), outputs["warped_mask"].cpu()
        else:
            from flow.baselines import baseline_flow
            from flow.warp import warp

            flow = baseline_flow(self.config.warp, mask_tensor, region_tensor)
            warped, warped_mask = warp(garment_tensor, flow), warp(mask_tensor, flow)
        return flow, tensor_to_uint8(warped.float()), warped_mask[0, 0].float().numpy()

    @staticmethod
    def _flow_picture(flow: torch.Tensor) -> np.ndarray:
        from flow.visualize import flow_to_rgb

        return tensor_to_uint8(flow_to_rgb(flow))
