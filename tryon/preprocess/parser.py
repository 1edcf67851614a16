"""The human parser: a small U-Net over the 20 LIP ids, and its inference on a photo.

Model = ``segmentation_models_pytorch.Unet`` with an encoder trained from scratch
(``encoder_weights=None``: nothing is downloaded) and narrow decoder channels so it trains and
runs on a CPU. It is saved as a model directory (``config.json`` + ``model.safetensors``).

Inference letterboxes the photo into the model's square input (padding is background), and the
logits are cropped and resized back, so a parse map lines up with the photo pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.images import uint8_to_tensor
from core.modelio import PretrainedMixin
from tryon.data.lip import NUM_LABELS, UPPER_GARMENT_IDS

_DOWNSAMPLING = 32  # a depth-5 U-Net halves the input five times


@dataclass(frozen=True)
class ParserConfig:
    """Architecture of :class:`HumanParser` (the constructor arguments, saved as config.json).

    Attributes:
        encoder: an smp encoder name (``resnet18``, ``mobilenet_v2``, ``tu-<timm model>``).
        decoder_channels: U-Net decoder widths, deepest first (one per encoder stage).
        num_classes: 20 LIP ids.
        resolution: side of the square input the model is trained and run at (multiple of 32).
    """

    encoder: str = "resnet18"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    num_classes: int = NUM_LABELS
    resolution: int = 128

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

    @classmethod
    def small(cls) -> ParserConfig:
        """ResNet-18 encoder, narrow decoder, 128 px input (the trainer's default)."""
        return cls()

    @classmethod
    def mobile(cls) -> ParserConfig:
        """MobileNetV2 encoder (a third of the size in fp16): the shipped demo parser."""
        return cls(encoder="mobilenet_v2")


class HumanParser(nn.Module, PretrainedMixin):
    """U-Net human parser: (N, 3, R, R) images in [-1, 1] -> (N, 20, R, R) LIP logits."""

    model_type = "human_parser"
    config_class = ParserConfig

    def __init__(self, config: ParserConfig) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        self.config = config
        self.unet = smp.Unet(
            encoder_name=config.encoder,
            encoder_weights=None,
            decoder_channels=config.decoder_channels,
            classes=config.num_classes,
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """LIP logits per pixel.

        Shapes:
            images: (N, 3, H, W) in [-1, 1], H and W multiples of 32; returns (N, 20, H, W).
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"expected (N, 3, H, W) RGB images in [-1, 1], got {tuple(images.shape)}"
            )
        height, width = images.shape[-2:]
        if height % _DOWNSAMPLING or width % _DOWNSAMPLING:
            raise ValueError(
                f"image sides must be multiples of {_DOWNSAMPLING}, got {height}x{width}; "
                "use parse_image(), which letterboxes any photo"
            )
        return self.unet(images)


def letterbox_tensor(
    image: np.ndarray, size: int
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """An HxWx3 uint8 photo -> (1, 3, size, size) in [-1, 1], centred and padded with black.

    Returns:
        The tensor and (top, left, height, width) of the photo inside it (aspect kept).
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    tensor = uint8_to_tensor(image)[None]
    resized = F.interpolate(tensor, size=(new_h, new_w), mode="bilinear", antialias=True)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    padded = F.pad(resized, (left, size - new_w - left, top, size - new_h - top), value=-1.0)
    return padded, (top, left, new_h, new_w)


@torch.inference_mode()
def parse_image(model: HumanParser | Any, image: np.ndarray) -> np.ndarray:
    """LIP id of every pixel of a photo.

    Args:
        model: a trained parser (in eval mode), or a :class:`deploy.Backend` of one.
        image: HxWx3 uint8 RGB photo of any size.

    Returns:
        HxW uint8 LIP ids, aligned with ``image``.
    """
    height, width = image.shape[:2]
    size = model.config.resolution
    batch, (top, left, new_h, new_w) = letterbox_tensor(np.asarray(image, np.uint8), size)
    if isinstance(model, nn.Module):
        logits = model(batch.to(next(model.parameters()).device))
    else:  # a deploy Backend (onnxruntime, tensorrt): named inputs, named outputs
        logits = model(images=batch)["logits"]
    logits = logits[:, :, top : top + new_h, left : left + new_w]
    # Labels are decided at up to twice the model's resolution, then resized with nearest
    # neighbours: bilinear logits of a whole 12-megapixel photo cost seconds for no detail.
    scale = min(1.0, 2 * size / max(height, width))
    work = (max(1, round(height * scale)), max(1, round(width * scale)))
    logits = F.interpolate(logits.float(), size=work, mode="bilinear")
    labels = logits.argmax(dim=1)[0].to(torch.uint8).cpu().numpy()
    if work != (height, width):
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    return labels


def garment_region(parse: np.ndarray) -> np.ndarray:
    """HxW bool: pixels of an upper garment (LIP upper clothes, dress or coat)."""
    return np.isin(parse, UPPER_GARMENT_IDS)
