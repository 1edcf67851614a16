"""The human parser: a U-Net over the 20 LIP ids, guided by the person mask and the pose.

Model = ``segmentation_models_pytorch.Unet`` on timm's ``tf_efficientnet_lite0`` encoder,
whose first conv takes RGB + person mask + 18 pose maps (:mod:`.parser_inputs`); it starts
from ImageNet weights (:mod:`.efficientnet_lite`) when trained, and is saved as a model
directory (``config.json`` + ``model.safetensors``); building it downloads nothing.

Hard gate: no pixel outside the person mask dilated by ``gate_dilation`` of the input side
gets a person label. :meth:`HumanParser.forward` forces those logits to background, and
:func:`parse_image` applies the same rule again at the photo's own resolution, so a real
photo's background can never be called clothing, whatever the network learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.keypoints import NUM_KEYPOINTS
from core.modelio import PretrainedMixin
from tryon.data.lip import BACKGROUND, NUM_LABELS, UPPER_GARMENT_IDS
from tryon.preprocess.parser_inputs import parser_inputs

_DOWNSAMPLING = 32  # a depth-5 U-Net halves the input five times
GUIDE_CHANNELS = 1 + NUM_KEYPOINTS  # person mask + pose maps, after RGB
GATE_LOGIT = -1e4  # a person label's logit outside the gate: never the argmax, finite in fp16


@dataclass(frozen=True)
class ParserConfig:
    """Architecture of :class:`HumanParser` (the constructor arguments, saved as config.json).

    Attributes:
        encoder: an smp encoder name; ``tu-tf_efficientnet_lite0`` takes the ImageNet weights.
        decoder_channels: U-Net decoder widths, deepest first (one per encoder stage).
        num_classes: 20 LIP ids.
        resolution: side of the square input the model is trained and run at (multiple of 32).
        pose_sigma: pose-map Gaussian sigma, as a fraction of ``resolution``.
        gate_dilation: the person mask is grown by this fraction of the side before gating.
    """

    encoder: str = "tu-tf_efficientnet_lite0"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    num_classes: int = NUM_LABELS
    resolution: int = 128
    pose_sigma: float = 0.025
    gate_dilation: float = 0.03

    def __post_init__(self) -> None:
        if self.resolution % _DOWNSAMPLING or self.resolution < _DOWNSAMPLING:
            raise ValueError(
                f"resolution must be a positive multiple of {_DOWNSAMPLING}, got "
                f"{self.resolution}; try {max(1, round(self.resolution / 32)) * 32}"
            )
        if len(self.decoder_channels) != 5:
            raise ValueError(
                f"decoder_channels needs one width per encoder stage (5), got "
                f"{self.decoder_channels}"
            )
        if self.pose_sigma <= 0 or not 0 <= self.gate_dilation < 0.5:
            raise ValueError(
                f"pose_sigma must be positive and gate_dilation in [0, 0.5), got "
                f"{self.pose_sigma} and {self.gate_dilation}"
            )

    @property
    def gate_radius(self) -> int:
        """The gate's dilation in input cells."""
        return round(self.gate_dilation * self.resolution)

    @classmethod
    def small(cls) -> ParserConfig:
        """EfficientNet-Lite0 encoder, narrow decoder, 128 px input: the shipped parser."""
        return cls()

    @classmethod
    def mobile(cls) -> ParserConfig:
        """MobileNetV2 encoder (no pretrained weights ship for it): a from-scratch baseline."""
        return cls(encoder="mobilenet_v2")


def gate_mask(person_mask: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, 1, H, W) person mask -> bool, grown by ``radius`` cells (a square max-pool)."""
    if radius <= 0:
        return person_mask > 0.5
    return F.max_pool2d(person_mask, 2 * radius + 1, stride=1, padding=radius) > 0.5


class HumanParser(nn.Module, PretrainedMixin):
    """Guided U-Net parser: image, person mask and pose maps -> (N, 20, R, R) LIP logits."""

    model_type = "human_parser"
    config_class = ParserConfig

    def __init__(self, config: ParserConfig) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        self.config = config
        self.unet = smp.Unet(
            encoder_name=config.encoder,
            encoder_weights=None,
            in_channels=3 + GUIDE_CHANNELS,
            decoder_channels=config.decoder_channels,
            classes=config.num_classes,
        )

    def load_imagenet_encoder(self, weights: dict[str, torch.Tensor]) -> None:
        """Start the encoder from timm-named EfficientNet-Lite0 weights (first conv widened)."""
        from tryon.preprocess.efficientnet_lite import TIMM_NAME, load_into_encoder

        if self.config.encoder != f"tu-{TIMM_NAME}":
            raise ValueError(
                f"ImageNet weights exist for the tu-{TIMM_NAME} encoder only, this parser has "
                f"{self.config.encoder}; train it with --encoder-weights none"
            )
        load_into_encoder(self.unet.encoder.model, weights)

    def forward(
        self, image: torch.Tensor, person_mask: torch.Tensor, pose_maps: torch.Tensor
    ) -> torch.Tensor:
        """Gated LIP logits per pixel.

        Shapes:
            image: (N, 3, H, W) in [-1, 1]; person_mask: (N, 1, H, W) in {0, 1};
            pose_maps: (N, 18, H, W) in [0, 1]; H, W multiples of 32. Returns (N, 20, H, W).
        """
        expected = {"image": 3, "person_mask": 1, "pose_maps": NUM_KEYPOINTS}
        given = {"image": image, "person_mask": person_mask, "pose_maps": pose_maps}
        for name, tensor in given.items():
            if tensor.ndim != 4 or tensor.shape[1] != expected[name]:
                raise ValueError(
                    f"{name} must be (N, {expected[name]}, H, W), got {tuple(tensor.shape)}; "
                    "parser_inputs() builds all three from a photo"
                )
            if tensor.shape[0] != image.shape[0] or tensor.shape[-2:] != image.shape[-2:]:
                raise ValueError(
                    f"{name} is {tuple(tensor.shape)}, image is {tuple(image.shape)}: the batch "
                    "and H, W must match"
                )
        height, width = image.shape[-2:]
        if height % _DOWNSAMPLING or width % _DOWNSAMPLING:
            raise ValueError(
                f"image sides must be multiples of {_DOWNSAMPLING}, got {height}x{width}; "
                "use parse_image(), which letterboxes any photo"
            )
        logits = self.unet(torch.cat([image, person_mask, pose_maps], dim=1))
        outside = ~gate_mask(person_mask, self.config.gate_radius)
        person_label = torch.arange(logits.shape[1], device=logits.device).view(1, -1, 1, 1)
        return logits.masked_fill(outside & (person_label != BACKGROUND), GATE_LOGIT)


def _logits(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits from a :class:`HumanParser` or a deploy backend of one (which returns a dict)."""
    if isinstance(model, nn.Module):
        device = next(model.parameters()).device
        return model(**{name: tensor.to(device) for name, tensor in inputs.items()})
    return model(**inputs)["logits"]


@torch.inference_mode()
def parse_image(
    model: Any, image: np.ndarray, keypoints: np.ndarray, person_mask: np.ndarray
) -> np.ndarray:
    """LIP id of every pixel of a photo, background outside the dilated person mask.

    Args:
        model: a trained :class:`HumanParser` (in eval mode) or a deploy backend of one.
        image: HxWx3 uint8 RGB photo of any size.
        keypoints: (18, 2) pixel (x, y) of the person (BlazePose's), NaN for missing.
        person_mask: HxW bool person mask (BlazePose's) of the same photo.

    Returns:
        HxW uint8 LIP ids, aligned with ``image``.
    """
    height, width = image.shape[:2]
    config = model.config
    size = config.resolution
    inputs, box = parser_inputs(image, keypoints, person_mask, size, config.pose_sigma)
    logits = _logits(model, inputs)
    logits = logits[:, :, box.top : box.top + box.height, box.left : box.left + box.width]
    # Labels are decided at up to twice the model's resolution, then enlarged with smooth
    # borders (upsample_labels): bilinear logits of a 12-megapixel photo cost seconds.
    scale = min(1.0, 2 * size / max(height, width))
    work = (max(1, round(height * scale)), max(1, round(width * scale)))
    logits = F.interpolate(logits.float(), size=work, mode="bilinear")
    labels = upsample_labels(logits[0].cpu().numpy(), (height, width))
    radius = max(1, round(config.gate_dilation * max(height, width)))
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    labels[cv2.dilate(person_mask.astype(np.uint8), kernel) == 0] = BACKGROUND
    return labels


def upsample_labels(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The labels of ``logits`` (C x h x w float32) at ``size``, with smooth borders.

    Nearest neighbours would enlarge every pixel step of a diagonal border into a tooth (8 px
    on a 2000-px photo parsed at 256), and the garment region's outline is an edge of the
    try-on. Away from borders every pixel takes its nearest work pixel's label; on them (a
    work pixel with another label beside it) the competing labels' logits are read
    bilinearly at the pixel and the highest wins, so the border follows the smooth logit
    fields, at a cost that grows with the borders' length, not the photo's area.
    """
    height, width = size
    labels = logits.argmax(axis=0).astype(np.uint8)
    if labels.shape == (height, width):
        return labels
    full = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    kernel = np.ones((3, 3), np.uint8)
    border = cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)
    band = cv2.resize(border.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    rows, cols = np.nonzero(band)
    if rows.size == 0:
        return full
    from scipy.ndimage import map_coordinates

    small_height, small_width = labels.shape
    at = np.stack(
        [(rows + 0.5) * small_height / height - 0.5, (cols + 0.5) * small_width / width - 0.5]
    )
    best = np.full(rows.size, -np.inf, np.float32)
    chosen = full[rows, cols].copy()
    for value in np.unique(labels[border]):
        vote = map_coordinates(logits[value], at, order=1, mode="nearest")
        wins = vote > best
        best[wins], chosen[wins] = vote[wins], value
    full[rows, cols] = chosen
    return full


def garment_region(parse: np.ndarray) -> np.ndarray:
    """HxW bool: pixels of an upper garment (LIP upper clothes, dress or coat)."""
    return np.isin(parse, UPPER_GARMENT_IDS)
