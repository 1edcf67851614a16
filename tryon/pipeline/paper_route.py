"""The paper's try-on route (§4.4), kept as ``view="paper"`` and as the baseline it is.

HPN, the pure encoder-decoder, regenerates the shopper in a frontal template pose inside a
square frame; the human parser (or the template's keypoint region) says where the garment
goes; the appearance-flow net warps the product photo into that region; the result is
composited onto the regenerated person and pasted back into the photo. On real photos it
regenerates every pixel of the frame (faces and backgrounds blur), which is why the own and
catalog views move pixels instead; ``tryon eval tryon`` keeps it beside them.

Stages: ``frame``, ``frontalize``, ``parse``, ``warp``, ``composite``, ``paste_back``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core import registry
from core.images import mask_to_tensor, tensor_to_uint8, uint8_to_tensor
from core.keypoints import CanonicalPose, scale_keypoints
from core.posemaps import pose_maps_batch
from tryon.pipeline.compositing import composite, feathered_alpha
from tryon.pipeline.framing import border_colour, edge_feather, frame_person, frontal_template

Stage = Callable[[str], AbstractContextManager[None]]


@dataclass(frozen=True)
class PaperRouteConfig:
    """Knobs of the paper's route.

    Attributes:
        resolution: side R of the square frame (a multiple of 32).
        min_parser_agreement: the parsed frontal region is used only when its IoU with the
            template's keypoint region reaches this; otherwise the keypoint region is used.
        feather_sigma: Gaussian feather of the compositing mask, in frame pixels.
        paste_feather: width of the blend at the frame's border when pasting back.
    """

    resolution: int = 256
    min_parser_agreement: float = 0.3
    feather_sigma: float = 1.5
    paste_feather: int = 8

    def __post_init__(self) -> None:
        if self.resolution < 64 or self.resolution % 32:
            raise ValueError(
                f"resolution must be a multiple of 32 and at least 64, got {self.resolution}"
            )
        if not 0 <= self.min_parser_agreement <= 1:
            raise ValueError(
                f"min_parser_agreement must be in [0, 1], got {self.min_parser_agreement}"
            )
        if self.feather_sigma < 0 or self.paste_feather < 0:
            raise ValueError("feather_sigma and paste_feather must be >= 0")


def mask_iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two bool masks (0 when both are empty)."""
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else 0.0


class PaperRoute:
    """The paper's route with loaded HPN and flow backends (and optionally the parser)."""

    def __init__(
        self,
        hpn: Any,
        flow: Any,
        parser: Any | None,
        config: PaperRouteConfig,
        canonical_pose: CanonicalPose | None = None,
    ) -> None:
        if hpn.model_type != registry.HPN.model_type:
            raise ValueError(f"hpn must be an HPN backend, got model type {hpn.model_type!r}")
        if flow.model_type != registry.APPEARANCE_FLOW.model_type:
            raise ValueError(f"flow must be a flow backend, got model type {flow.model_type!r}")
        if flow.config.pose_channels:
            raise ValueError("the paper route's flow net takes no pose maps")
        if config.resolution % flow.config.coarsest_stride:
            raise ValueError(
                f"resolution {config.resolution} is not a multiple of the flow net's "
                f"coarsest stride {flow.config.coarsest_stride}"
            )
        self.hpn, self.flow, self.parser, self.config = hpn, flow, parser, config
        self.template = frontal_template(config.resolution, canonical_pose)
        self.hpn_resolution = int(hpn.signature.inputs[0].height)

    def __call__(
        self,
        person: np.ndarray,
        keypoints: np.ndarray,
        garment: np.ndarray,
        garment_mask: np.ndarray,
        stage: Stage,
        notes: list[str],
    ) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
        """The try-on image, its intermediates and where the region came from."""
        size = self.config.resolution
        with stage("frame"):
            frame = frame_person(keypoints, person.shape[:2], size, self.template)
            person_frame = frame.crop(person, fill=border_colour(person))
        with stage("frontalize"):
            frontal = self.transfer(person_frame, self.template)
        with stage("parse"):
            region, source = self._garment_region(frontal, notes)
        with stage("warp"):
            flow, warped, warped_mask = self._warp(garment, garment_mask, region)
        with stage("composite"):
            alpha = feathered_alpha(region, warped_mask, self.config.feather_sigma)
            dressed = composite(frontal, warped, alpha)
        with stage("paste_back"):
            feather = edge_feather(size, self.config.paste_feather)
            image = frame.paste_back(dressed, person, feather)
        from flow.visualize import flow_to_rgb

        layers = {
            "person_frame": person_frame,
            "frontal": frontal,
            "frame_garment_region": region.astype(np.uint8) * 255,
            "warped_garment": warped,
            "flow": tensor_to_uint8(flow_to_rgb(flow)),
            "composite": dressed,
        }
        return image, layers, source

    def transfer(self, image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """HPN: the person of an RxR frame image moved to ``keypoints`` (pixels of the frame).

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

    def _garment_region(self, frontal: np.ndarray, notes: list[str]) -> tuple[np.ndarray, str]:
        from tryon.preprocess import upper_clothes_region

        size = self.config.resolution
        template_region = upper_clothes_region(self.template, (size, size))
        if self.parser is None:
            return template_region, "keypoints"
        from tryon.preprocess.parser import garment_region, parse_image

        # HPN's frontal comes with no person mask: the whole frame passes the parser's gate,
        # and the agreement with the template's region below guards this route instead.
        everywhere = np.ones((size, size), bool)
        region = garment_region(parse_image(self.parser, frontal, self.template, everywhere))
        agreement = mask_iou(region, template_region)
        if agreement >= self.config.min_parser_agreement:
            return region, "parser"
        notes.append(
            f"the parsed garment overlaps the template's garment region by IoU {agreement:.2f} "
            f"< {self.config.min_parser_agreement}; used the keypoint template instead"
        )
        return template_region, "keypoints"

    def _warp(
        self, garment: np.ndarray, garment_mask: np.ndarray, region: np.ndarray
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Flow, warped garment (RxRx3 uint8) and warped mask (RxR float) in the frame."""
        from tryon.data.geometry import SquareFit

        size = self.config.resolution
        fit = SquareFit(garment.shape[0], garment.shape[1], size)
        outputs = self.flow(
            garment=uint8_to_tensor(fit.image(garment))[None],
            garment_mask=mask_to_tensor(fit.labels(garment_mask.astype(np.uint8)))[None],
            target_mask=mask_to_tensor(region)[None],
        )
        flow = outputs["flow"].float().cpu()
        warped, warped_mask = outputs["warped_garment"].cpu(), outputs["warped_mask"].cpu()
        return flow, tensor_to_uint8(warped.float()), warped_mask[0, 0].float().numpy()
