"""Training the warp-and-refine HPN: the paper's schedule and losses plus two terms.

:class:`WarpRefineTask` is :class:`hpn.trainer.HPNTask` (levels, growth without fade-in, Adam,
the L2-then-L1 perceptual criterion, local descriptors) with the warp-and-refine forward:
each step reads the batch's part-warp prior (:mod:`tryon.data.prior_pairs` makes it), asks
the network for a residual flow, a visibility mask and colours, composes the output with
:func:`hpn.warp_refine.compose` from the full-resolution reference, and adds to the paper's
loss

- ``visibility_weight`` x mean((1 - m) x validity): a reward for using the warped pixels
  where the prior is valid (PF-AFN / GFLA style), so the network does not learn to redraw
  what it can copy;
- ``smoothness_weight`` x total variation of the residual flow: corrections are smooth;
- optionally ``ssim_weight`` x (1 - mean SSIM map) over the scored region
  (:func:`hpn.losses.ssim_map`): the measure the fill is judged by.

``loss_region="person"`` scores the output on the target person only (their mask dilated by
``PERSON_LOSS_MARGIN`` of the side; the target stands in everywhere else): the canonical
view shows the person on a studio backdrop, so the scene behind the target is no part of
its task, and on the whole image the scene is where the first design's gain came from.
A ``fill="inpainted"`` network gets its base, the inpainted prior, here too.

Batches carry ``reference``, ``target`` (3, R, R), ``target_keypoints`` (18, 2),
``prior_grid`` (R, R, 2) and ``validity`` (2, R, R) at the data's resolution R, and
optionally ``backdrop`` (3, R, R): the canonical view's studio backdrop, which then stands
off the person in the prior and the composition (``PriorPairs(studio=True)``); a level
below R resizes the prior (it is in normalised units, so resizing keeps its meaning), the
backdrop and the target, and always samples the reference at R.

``init`` starts from a trained model directory (e.g. the shipped one) instead of a fresh
network: the first level must not be below its level.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CheckpointError
from core.perceptual import VGG16Features
from core.posemaps import pose_maps_batch
from core.skeleton import draw_skeleton
from core.training.loop import StepResult
from hpn.losses import PoseTransferLoss, criterion_for_step, ssim_map
from hpn.trainer import HPNTask, Phase, TrainConfig
from hpn.warp_refine import (
    Refinement,
    WarpRefineConfig,
    WarpRefineHPN,
    compose,
    inpainted_prior,
    prior_image,
)

PERSON_LOSS_MARGIN = 0.03  # of the side: the person region's dilation for loss_region="person"


@dataclasses.dataclass(frozen=True)
class WarpRefineTrainConfig(TrainConfig):
    """:class:`hpn.trainer.TrainConfig` plus the two warp-and-refine terms.

    Attributes:
        visibility_weight: weight of the reward for using warped pixels (0-255 units of
            the perceptual loss are not involved: the term is a mean in [0, 1]).
        smoothness_weight: weight of the residual flow's total variation.
        loss_region: "image" (the whole target) or "person" (module docstring).
        ssim_weight: weight of 1 - SSIM over the scored region (0: off).
    """

    visibility_weight: float = 0.5
    smoothness_weight: float = 1.0
    loss_region: Literal["image", "person"] = "image"
    ssim_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.visibility_weight, self.smoothness_weight, self.ssim_weight) < 0:
            raise ValueError("visibility_weight, smoothness_weight and ssim_weight must be >= 0")
        if self.loss_region not in ("image", "person"):
            raise ValueError(f"loss_region must be 'image' or 'person', got {self.loss_region!r}")


@dataclasses.dataclass(frozen=True)
class LevelInputs:
    """A batch brought to one level: what the network reads and what it is scored against."""

    reference: torch.Tensor
    prior_grid: torch.Tensor
    validity: torch.Tensor
    prior: torch.Tensor
    pose_maps: torch.Tensor
    target: torch.Tensor
    target_keypoints: torch.Tensor
    backdrop: torch.Tensor | None = None
    base: torch.Tensor | None = None
    target_mask: torch.Tensor | None = None


def level_inputs(
    batch: Mapping[str, Any],
    resolution: int,
    model: WarpRefineHPN,
    device: torch.device,
    inpaint: bool = True,
) -> LevelInputs:
    """The batch at ``resolution``: prior and target resized, the reference kept at R; the
    inpainted prior for a ``fill="inpainted"`` model (unless ``inpaint`` is False: a caller
    that composes at another resolution inpaints there), the target's person mask if any."""
    reference = batch["reference"].to(device, torch.float32)
    target = batch["target"].to(device, torch.float32)
    grid = batch["prior_grid"].to(device, torch.float32)
    validity = batch["validity"].to(device, torch.float32)
    keypoints = batch["target_keypoints"].to(device, torch.float32)
    backdrop = batch.get("backdrop")
    backdrop = None if backdrop is None else backdrop.to(device, torch.float32)
    target_mask = batch.get("target_person_mask")
    target_mask = None if target_mask is None else target_mask.to(device, torch.float32)
    source = reference.shape[-1]
    if source != resolution:
        size = (resolution, resolution)
        grid = F.interpolate(grid.permute(0, 3, 1, 2), size=size, mode="bilinear")
        grid = grid.permute(0, 2, 3, 1)
        validity = F.interpolate(validity, size=size, mode="bilinear")
        target = F.interpolate(target, size=size, mode="bilinear", antialias=True)
        if backdrop is not None:
            backdrop = F.interpolate(backdrop, size=size, mode="bilinear", antialias=True)
        if target_mask is not None:
            target_mask = F.interpolate(target_mask, size=size, mode="area")
        keypoints = (keypoints + 0.5) * (resolution / source) - 0.5
    maps = pose_maps_batch(
        keypoints, model.pose_map_size, model.config.backbone.pose_sigma, (resolution, resolution)
    )
    prior = prior_image(reference, grid, validity, backdrop)
    wanted = inpaint and model.config.fill == "inpainted"
    base = inpainted_prior(prior, validity) if wanted else None
    return LevelInputs(
        reference, grid, validity, prior, maps, target, keypoints, backdrop, base, target_mask
    )


def person_region(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) person mask dilated by :data:`PERSON_LOSS_MARGIN` of the side, in {0, 1}."""
    radius = max(1, round(PERSON_LOSS_MARGIN * mask.shape[-1]))
    grown = F.max_pool2d(mask, kernel_size=2 * radius + 1, stride=1, padding=radius)
    return (grown > 0.5).to(mask.dtype)


def total_variation(flow: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring flow vectors (N, 2, H, W)."""
    across = (flow[..., :, 1:] - flow[..., :, :-1]).abs().mean()
    down = (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean()
    return across + down


class WarpRefineTask(HPNTask):
    """The warp-and-refine HPN on the one loop (see the module docstring).

    Args:
        config: the network (:class:`hpn.warp_refine.WarpRefineConfig`).
        options: the schedule, the paper's loss switches and the two extra weights.
        backbone: the frozen VGG-16 of the perceptual losses.
    """

    name = "hpn_warp_refine"
    model_class = WarpRefineHPN

    def __init__(
        self,
        config: WarpRefineConfig,
        options: WarpRefineTrainConfig,
        backbone: VGG16Features,
        init: Path | None = None,
    ) -> None:
        options.check_against(config.backbone)
        super(HPNTask, self).__init__(config, options)
        self.loss = PoseTransferLoss(
            backbone, options.use_local, options.local_weight, options.pixel_weight
        )
        self.init = init

    def build_model(self) -> WarpRefineHPN:
        """A fresh network, or the ``init`` model at the first level: the same config but
        for ``fill``, whose change restarts the colour head (:meth:`WarpRefineHPN.refill`),
        and ``reach`` (:meth:`WarpRefineHPN.limit_reach`)."""
        first = self.options.phases()[0].resolution
        if self.init is None:
            model = WarpRefineHPN(self.config)
        else:
            model = self.model_class.from_pretrained(self.init).float().train()
            wanted = dataclasses.replace(self.config, fill=model.config.fill, reach=None)
            if dataclasses.replace(model.config, reach=None) != wanted:
                raise CheckpointError(
                    f"{self.init} was trained with another {type(self.config).__name__}"
                )
            if model.resolution > first:
                raise ValueError(
                    f"{self.init} is at level {model.resolution}; the first level to train, "
                    f"{first}, must not be below it"
                )
            if model.config.fill != self.config.fill:
                model.refill(self.config.fill)
            model.limit_reach(self.config.reach)
        model.grow_to(first)
        return model

    def step(
        self, network: nn.Module, batch: Mapping[str, Any], phase: Phase, step_in_phase: int
    ) -> StepResult:
        model = getattr(network, "module", network)
        inputs = level_inputs(batch, phase.resolution, model, self.device)
        refinement = Refinement(*network(inputs.prior, inputs.validity, inputs.pose_maps))
        output, _ = compose(
            inputs.reference, inputs.prior_grid, inputs.validity, refinement, inputs.backdrop,
            inputs.base,
        )  # fmt: skip
        region = torch.ones_like(output[:, :1])
        if self.options.loss_region == "person":
            if inputs.target_mask is None:
                raise ValueError('loss_region="person" needs target person masks in the batch')
            region = person_region(inputs.target_mask)
            output = region * output + (1 - region) * inputs.target
        criterion = criterion_for_step(step_in_phase, phase.steps)
        terms = self.loss(output, inputs.target, inputs.target_keypoints, criterion)
        valid = inputs.validity.sum(dim=1, keepdim=True).clamp(0, 1)
        unused = ((1 - refinement.visibility) * valid).mean()
        rough = total_variation(refinement.residual)
        similarity = (ssim_map(output, inputs.target) * region).sum() / region.sum().clamp(min=1)
        options = self.options
        total = terms.total + options.visibility_weight * unused + options.smoothness_weight * rough
        if options.ssim_weight > 0:
            total = total + options.ssim_weight * (1 - similarity)
        return StepResult(
            total,
            {
                "global": terms.global_, "local": terms.local, "pixel": terms.pixel,
                "unused_warp": unused, "flow_tv": rough, "ssim": similarity,
            },
            {"resolution": phase.resolution, "criterion": criterion},
        )  # fmt: skip

    def sample_rows(self, model: nn.Module, samples: Mapping[str, Any]) -> list[Any]:
        """Reference | prior | target pose | output | ground truth, at the model's level."""
        inputs = level_inputs(samples, model.resolution, model, next(model.parameters()).device)
        refinement = model.refine(inputs.prior, inputs.validity, inputs.pose_maps)
        output, _ = compose(
            inputs.reference, inputs.prior_grid, inputs.validity, refinement, inputs.backdrop,
            inputs.base,
        )  # fmt: skip
        size = model.resolution
        reference = F.interpolate(inputs.reference, size=(size, size), mode="bilinear")
        return [
            [
                reference[index].cpu(),
                inputs.prior[index].cpu(),
                draw_skeleton(inputs.target_keypoints[index].cpu(), size, size),
                output[index].cpu(),
                inputs.target[index].cpu(),
            ]
            for index in range(len(output))
        ]
