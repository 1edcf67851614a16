"""Warp-and-refine HPN: the paper's progressive network refining a part warp, not redrawing.

The part warp (:mod:`hpn.part_warp`) already moves every visible pixel of the source person
to the target pose; the scene around them stays where it is (the prior reads the source's
own pixel there). This network reads that prior image with two validity maps, the person
coverage and where the prior reads real background (not the person who has moved away),
plus, at the bottleneck, the target pose maps as the paper's HPN does, and predicts, at its
working resolution,

- a residual flow (normalised units, bounded by ``max_residual`` through a tanh) that
  corrects the part warp where rigid parts are wrong (cloth folding at a joint, a turned
  torso);
- a visibility mask m in [0, 1]: where to trust the warped source;
- RGB for what no source pixel shows (a dis-occluded torso behind a lowered arm, the
  background where the person stood).

Output = m * warp(source, prior + residual) + (1 - m) * generated. The flow and the mask are
predicted at the working size and applied to the source at its own resolution
(:func:`compose`), so a canonical view keeps the photo's detail; only the generated fill is
upsampled. Everything else is the paper's network (:class:`hpn.model.HPN`: the progressive
encoder-decoder with U-Net skips, pose maps at the bottleneck, growth without fade-in) with 4
input channels (prior RGB, person coverage, background validity) and 6 raw outputs. The
catalog view runs it on the photo with its background replaced by the studio backdrop.

At initialisation the residual and the generated colours start at zero and the mask at
``initial_visibility`` (its output bias), so a fresh network already returns the part warp
where it covers; training spends its steps on what the warp gets wrong.

``WarpRefineConfig.fill`` says what the colour head predicts. ``"generated"`` (the first
design): the colours themselves. ``"inpainted"``: a correction added to the part warp alone
(the prior with its invalid pixels inpainted, :func:`inpainted_prior`), so a fresh network
returns exactly the part warp alone, and a mask below 1 on the person blends the warped
pixels with (nearly) themselves instead of with drawn colours. Why: on the synthetic test
split the first design's whole gain over the part warp lies off the person (the scene it
draws where the person stood); on the person it is worse than the part warp alone
(docs/hpn.md), and the person is all a canonical view shows.

``WarpRefineConfig.reach`` bounds where the network may change the part warp: within that
distance (a fraction of the side) of a hole, a pixel neither validity vouches for. Farther
away the residual is zero and the mask one, so the warped pixels pass through untouched.
Why: on real photos every refiner that could move any pixel lost to the part warp alone,
most of all on the round trip, whose way back cannot undo a correction made on the way out;
a hole and its rim are where the part warp is wrong (a dis-occluded torso, a crack between
two parts), so that is where the network works.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Self

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.modelio import PretrainedMixin
from hpn.model import HPN, HPNConfig
from hpn.part_warp import sample

INPUT_CHANNELS = 5  # prior RGB + person coverage + background validity
OUTPUT_CHANNELS = 6  # residual flow (2), visibility logit (1), RGB (3)


@dataclasses.dataclass(frozen=True)
class WarpRefineConfig:
    """Shape of a :class:`WarpRefineHPN`.

    Attributes:
        backbone: the progressive U-Net (its image and output channels are set here).
        max_residual: bound of the residual flow, in normalised units (0.1 = 5 % of the side).
        initial_visibility: the mask's value where the network starts (trust the warp).
        fill: "generated" (the colour head draws the colours) or "inpainted" (it corrects
            the part warp alone; module docstring).
        reach: how far from a hole (fraction of the side) the network may change the part
            warp; None: everywhere (module docstring).
    """

    backbone: HPNConfig = dataclasses.field(default_factory=HPNConfig.small)
    max_residual: float = 0.1
    initial_visibility: float = 0.9
    fill: Literal["generated", "inpainted"] = "generated"
    reach: float | None = None

    def __post_init__(self) -> None:
        if self.reach is not None and not 0 < self.reach <= 1:
            raise ValueError(f"reach must be None or in (0, 1], got {self.reach}")
        if self.fill not in ("generated", "inpainted"):
            raise ValueError(f"fill must be 'generated' or 'inpainted', got {self.fill!r}")
        if not 0 < self.max_residual <= 1:
            raise ValueError(f"max_residual must be in (0, 1], got {self.max_residual}")
        if not 0 < self.initial_visibility < 1:
            raise ValueError(f"initial_visibility must be in (0, 1), got {self.initial_visibility}")

    @classmethod
    def small(cls) -> WarpRefineConfig:
        """The CPU preset: HPN's small backbone (64 -> 256, bottleneck 256 x 16 x 16)."""
        return cls(backbone=HPNConfig.small())

    @classmethod
    def tiny(cls) -> WarpRefineConfig:
        """For tests: HPN's tiny backbone (32 -> 128)."""
        return cls(backbone=HPNConfig.tiny())

    def network_config(self) -> HPNConfig:
        """The backbone with 5 input and 6 raw output channels."""
        return dataclasses.replace(
            self.backbone,
            image_channels=INPUT_CHANNELS,
            output_channels=OUTPUT_CHANNELS,
            output_activation="none",
            image_skip=False,
        )


@dataclasses.dataclass(frozen=True)
class Refinement:
    """What the network predicts at its working resolution R.

    Attributes:
        residual: (N, 2, R, R) flow correction in normalised units (x, y).
        visibility: (N, 1, R, R) in [0, 1], how much of the warped source to keep.
        generated: (N, 3, R, R) in [-1, 1], colours for what the source does not show
            (with ``fill="inpainted"``: a correction added to the inpainted prior).
    """

    residual: torch.Tensor
    visibility: torch.Tensor
    generated: torch.Tensor


class WarpRefineHPN(PretrainedMixin, nn.Module):
    """``forward(prior, validity, pose_maps) -> (residual, visibility, generated)``.

    Shapes:
        prior: (N, 3, R, R) the source read through the prior grid, in [-1, 1]; validity:
        (N, 2, R, R) in [0, 1], the person coverage and the background validity of the prior;
        pose_maps: (N, 18, B, B) of the target pose; outputs as :class:`Refinement`.
    """

    model_type = "hpn_warp_refine"
    config_class = WarpRefineConfig

    def __init__(self, config: WarpRefineConfig) -> None:
        super().__init__()
        self.config = config
        self.network = HPN(config.network_config())
        self._initialise_head()

    def _initialise_head(self) -> None:
        """Zero residual and colours, the visibility logit at ``initial_visibility``."""
        head = self.network.to_rgb
        nn.init.zeros_(head.weight)
        with torch.no_grad():
            head.bias.zero_()
            p = self.config.initial_visibility
            head.bias[2] = math.log(p / (1 - p))

    @property
    def resolution(self) -> int:
        return self.network.resolution

    @property
    def pose_map_size(self) -> int:
        return self.network.pose_map_size

    def refill(self, fill: Literal["generated", "inpainted"]) -> None:
        """Give the colour head another meaning (``WarpRefineConfig.fill``) and restart the
        head at zero: a trained backbone (e.g. the shipped one) starts a run of the other
        design as the part warp (alone, for "inpainted")."""
        self.config = dataclasses.replace(self.config, fill=fill)
        self._initialise_head()

    def limit_reach(self, reach: float | None) -> None:
        """Let the network change the part warp only within ``reach`` of a hole
        (``WarpRefineConfig.reach``); the weights stay as they are."""
        self.config = dataclasses.replace(self.config, reach=reach)

    def grow(self) -> None:
        """The backbone's next level (new blocks, a fresh zero-initialised head)."""
        self.network.grow()
        self._initialise_head()

    def grow_to(self, resolution: int) -> None:
        while self.resolution < resolution:
            self.grow()
        if self.resolution != resolution:
            raise ValueError(f"cannot reach resolution {resolution} from {self.resolution}")

    def architecture_state(self) -> dict[str, Any]:
        return self.network.architecture_state()

    @classmethod
    def from_architecture_state(cls, config: WarpRefineConfig, state: dict[str, Any]) -> Self:
        model = cls(config)
        model.grow_to(int(state.get("resolution", config.backbone.start_resolution)))
        return model

    def forward(
        self, prior: torch.Tensor, validity: torch.Tensor, pose_maps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if validity.shape[1] != 2 or validity.shape[-2:] != prior.shape[-2:]:
            raise ValueError(
                f"validity must be (N, 2, H, W) like the prior {tuple(prior.shape)} (person "
                f"coverage, background validity), got {tuple(validity.shape)}"
            )
        raw = self.network(torch.cat([prior, validity * 2 - 1], dim=1), pose_maps)
        residual = self.config.max_residual * torch.tanh(raw[:, :2])
        visibility = torch.sigmoid(raw[:, 2:3])
        generated = torch.tanh(raw[:, 3:])
        if self.config.reach is not None:
            near = near_holes(validity, self.config.reach, self.resolution)
            residual = residual * near
            visibility = 1 - near * (1 - visibility)
        return residual, visibility, generated

    def refine(
        self, prior: torch.Tensor, validity: torch.Tensor, pose_maps: torch.Tensor
    ) -> Refinement:
        """:meth:`forward` as a :class:`Refinement`."""
        return Refinement(*self(prior, validity, pose_maps))


def near_holes(validity: torch.Tensor, reach: float, side: int) -> torch.Tensor:
    """(N, 1, H, W) in {0, 1}: within ``reach`` x ``side`` pixels (at least one) of a hole, a
    pixel whose validities sum below one half (as :func:`inpainted_prior` counts them).
    ``side`` is a plain int (the working resolution), so an exported graph keeps the radius."""
    holes = (validity.sum(dim=1, keepdim=True) < 0.5).to(validity.dtype)
    radius = max(1, round(reach * side))
    return F.max_pool2d(holes, kernel_size=2 * radius + 1, stride=1, padding=radius)


def prior_image(
    source: torch.Tensor,
    prior_grid: torch.Tensor,
    validity: torch.Tensor,
    backdrop: torch.Tensor | None = None,
) -> torch.Tensor:
    """The prior the network reads: the source through the grid; with a ``backdrop`` (the
    canonical view's studio backdrop, (N, 3, H, W)) that backdrop off the person, blended by
    the person coverage as :func:`hpn.repose.repose` draws its canvas."""
    prior = sample(source, prior_grid)
    if backdrop is None:
        return prior
    coverage = validity[:, :1]
    return coverage * prior + (1 - coverage) * backdrop


def inpainted_prior(prior: torch.Tensor, validity: torch.Tensor) -> torch.Tensor:
    """The part warp alone: ``prior`` with the pixels neither validity vouches for filled by
    OpenCV's Telea inpainting (the base a ``fill="inpainted"`` network corrects).

    Shapes: prior (N, 3, H, W) in [-1, 1], validity (N, 2, H, W); returns (N, 3, H, W).
    """
    images = ((prior.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    images = images.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    holes = (validity.detach().float().cpu().sum(dim=1) < 0.5).numpy().astype(np.uint8)
    filled = [
        cv2.inpaint(np.ascontiguousarray(image), hole, 3, cv2.INPAINT_TELEA) if hole.any()
        else image
        for image, hole in zip(images, holes, strict=True)
    ]  # fmt: skip
    stacked = torch.from_numpy(np.stack(filled)).permute(0, 3, 1, 2).to(prior.device)
    return stacked.to(prior.dtype) / 127.5 - 1


def compose(
    source: torch.Tensor,
    prior_grid: torch.Tensor,
    validity: torch.Tensor,
    refinement: Refinement,
    backdrop: torch.Tensor | None = None,
    base: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The refined image at the grid's resolution, and where it comes from the source.

    The refinement (predicted at R) is upsampled to the grid's size; the source is sampled at
    ``prior_grid + residual`` at its own resolution. The visibility is cut to where the
    prior is valid (person coverage or real background): nothing is copied from a place the
    prior knows to be wrong. With a ``backdrop`` (N, 3, H, W), the valid background is that
    backdrop, not the source's scene: the canonical view's composition
    (:func:`hpn.repose.repose` with a refiner). With a ``base`` (N, 3, H, W), the inpainted
    prior of a ``fill="inpainted"`` network, the generated colours are ``base`` plus the
    network's correction.

    Shapes:
        source: (N, 3, Hs, Ws) in [-1, 1]; prior_grid: (N, H, W, 2) normalised; validity:
        (N, 2, H, W); returns the image (N, 3, H, W) in [-1, 1] and the final mask
        (N, 1, H, W).
    """
    size = prior_grid.shape[1:3]

    def up(tensor: torch.Tensor) -> torch.Tensor:
        if tuple(tensor.shape[-2:]) == tuple(size):
            return tensor
        return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)

    residual, visibility, generated = (
        up(refinement.residual),
        up(refinement.visibility),
        up(refinement.generated),
    )
    if base is not None:
        generated = (base + generated).clamp(-1, 1)
    warped = sample(source, prior_grid, residual)
    if backdrop is not None:
        warped = torch.where(validity[:, :1] > 0, warped, backdrop)
    mask = visibility * validity.sum(dim=1, keepdim=True).clamp(0, 1)
    return mask * warped + (1 - mask) * generated, mask


@dataclasses.dataclass(frozen=True)
class CanvasRefinement:
    """A refinement brought to a canvas of any size (what :func:`hpn.repose.repose` uses).

    Attributes:
        residual: (H, W, 2) float32 flow correction in canvas pixels (x, y).
        visibility: (H, W) float32 in [0, 1].
        generated: (H, W, 3) float32 colours in 0-255; with ``fill="inpainted"`` a
            correction in the same units, to add to the inpainted canvas.
    """

    residual: Any
    visibility: Any
    generated: Any


@torch.inference_mode()
def refine_canvas(
    model: WarpRefineHPN,
    prior: Any,
    validity: Any,
    target_keypoints: Any,
    backdrop: tuple[float, float, float],
) -> CanvasRefinement:
    """Run the network on an H x W canvas: letterboxed into its square, cropped back.

    Args:
        model: the trained network (eval mode; its device is used).
        prior: (H, W, 3) uint8, the canvas's prior image (warped person on the backdrop).
        validity: (2, H, W) float32, person coverage and background validity.
        target_keypoints: (18, 2) the target pose in canvas pixels.
        backdrop: the colour the letterbox border is filled with (it counts as background).
    """
    from core.images import tensor_to_uint8, uint8_to_tensor
    from core.posemaps import pose_maps_batch

    height, width = prior.shape[:2]
    side, size = max(height, width), model.resolution
    top, left = (side - height) // 2, (side - width) // 2
    square = np.empty((side, side, 3), np.uint8)
    square[:] = np.round(np.asarray(backdrop)).astype(np.uint8)
    square[top : top + height, left : left + width] = prior
    valid = np.zeros((2, side, side), np.float32)
    valid[1] = 1.0
    valid[:, top : top + height, left : left + width] = validity
    device = next(model.parameters()).device
    image = F.interpolate(uint8_to_tensor(square)[None], size=(size, size), mode="area")
    valid_small = F.interpolate(torch.from_numpy(valid)[None], size=(size, size), mode="area")
    points = (np.asarray(target_keypoints, np.float32) + [left, top] + 0.5) * size / side - 0.5
    maps = pose_maps_batch(
        torch.from_numpy(points)[None], model.pose_map_size, model.config.backbone.pose_sigma,
        (size, size),
    )  # fmt: skip
    residual, visibility, generated = model(
        image.to(device), valid_small.to(device), maps.to(device)
    )

    def back(tensor: torch.Tensor) -> torch.Tensor:
        full = F.interpolate(tensor.float().cpu(), size=(side, side), mode="bilinear")
        return full[0, :, top : top + height, left : left + width]

    return CanvasRefinement(
        residual=(back(residual) * side / 2).permute(1, 2, 0).numpy().astype(np.float32),
        visibility=back(visibility)[0].numpy().astype(np.float32),
        generated=(
            tensor_to_uint8(back(generated)).astype(np.float32)
            if model.config.fill == "generated"
            else (back(generated) * 127.5).permute(1, 2, 0).numpy().astype(np.float32)
        ),
    )
