"""The perceptual backbone: a frozen VGG-16 with named layers, its loss, and its loader.

Every network's perceptual term reads it (HPN's global and local losses, the flow net's), so it
lives in the base layer. :func:`load_backbone` is the one way to load it from a file together
with the record a trained model's metadata keeps (name, SHA-256, convention, layers; never
the file's path).

The paper uses "a pretrained VGG-16" without naming layers; we read relu1_2, relu2_2,
relu3_3 and relu4_3 by default (the usual choice since Johnson et al.). Weights come from a
file, never from a download here:

- ``caffe_bgr`` convention: HED's VGG-16 (converted by ``tryon models fetch vgg16-hed``),
  input BGR on 0-255 minus the Caffe mean;
- ``torchvision`` convention: torchvision's ImageNet ``vgg16`` state dict (a ``.pth`` from
  its cache, read with ``weights_only=True``), input RGB in [0, 1] normalised by ImageNet
  mean / std.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from core.files import file_sha256
from core.modelio import backbone_record

# Index of each conv inside torchvision's ``vgg16().features``.
VGG16_CONV_INDICES: tuple[int, ...] = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_CHANNELS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)

# Name of each ReLU output -> its index in ``features`` (the layer whose output is read).
LAYER_INDEX: dict[str, int] = {
    "relu1_1": 1, "relu1_2": 3, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11, "relu3_2": 13,
    "relu3_3": 15, "relu4_1": 18, "relu4_2": 20, "relu4_3": 22, "relu5_1": 25, "relu5_2": 27,
    "relu5_3": 29,
}  # fmt: skip
DEFAULT_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

Convention = Literal["caffe_bgr", "torchvision"]
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _build_features(depth: int) -> nn.Sequential:
    """torchvision's VGG-16 ``features`` layout, cut after index ``depth``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for spec in _CHANNELS:
        if spec == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, int(spec), 3, padding=1), nn.ReLU(inplace=False)]
            in_channels = int(spec)
    return nn.Sequential(*layers[: depth + 1])


class VGG16Features(nn.Module):
    """Frozen VGG-16 returning the named ReLU outputs for images in [-1, 1] RGB.

    Shapes: input (N, 3, H, W) in [-1, 1]; output dict layer name -> (N, C_l, H_l, W_l).
    """

    def __init__(
        self, layers: tuple[str, ...] = DEFAULT_LAYERS, convention: Convention = "caffe_bgr"
    ) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in LAYER_INDEX]
        if unknown or not layers:
            raise ValueError(f"unknown VGG-16 layer(s) {unknown}; choose from {list(LAYER_INDEX)}")
        if convention not in ("caffe_bgr", "torchvision"):
            raise ValueError(f"convention must be 'caffe_bgr' or 'torchvision', got {convention!r}")
        self.layers = tuple(sorted(layers, key=LAYER_INDEX.__getitem__))
        self.convention = convention
        self.features = _build_features(max(LAYER_INDEX[name] for name in layers))
        if convention == "caffe_bgr":
            mean = torch.tensor(_CAFFE_MEAN_BGR[::-1]) / 255.0  # in RGB order, 0-1 units
            std = torch.full((3,), 1.0 / 255.0)
        else:
            mean, std = torch.tensor(_IMAGENET_MEAN), torch.tensor(_IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:
        """Always stays in eval mode: the backbone is a fixed measuring instrument."""
        return super().train(False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """[-1, 1] RGB -> the backbone's input convention."""
        normalized = ((image + 1.0) * 0.5 - self.mean) / self.std
        return normalized.flip(1) if self.convention == "caffe_bgr" else normalized

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) RGB in [-1, 1], got {tuple(image.shape)}")
        wanted = {LAYER_INDEX[name]: name for name in self.layers}
        outputs: dict[str, torch.Tensor] = {}
        hidden = self.normalize(image)
        for index, layer in enumerate(self.features):
            hidden = layer(hidden)
            if index in wanted:
                outputs[wanted[index]] = hidden
        return outputs

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        layers: tuple[str, ...] = DEFAULT_LAYERS,
        convention: Convention = "caffe_bgr",
    ) -> VGG16Features:
        """Load ``features.N.weight/bias`` from a ``.safetensors`` or torchvision ``.pth`` file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"VGG-16 weights not found: {path}")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        model = cls(layers, convention)
        wanted = {key for key in model.state_dict()}
        available = {key for key in state if key.startswith("features.")}
        missing = sorted(wanted - available)
        if missing:
            raise ValueError(f"{path} is not a VGG-16 state dict: missing {missing[:3]}...")
        model.load_state_dict({key: state[key] for key in wanted})
        return model


Criterion = Literal["l1", "l2"]


def feature_distance(
    output: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    criterion: Criterion,
    weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Sum over layers of the mean L1 / L2 distance between two feature dicts (same keys)."""
    return feature_distance_per_sample(output, target, criterion, weights).mean()


def feature_distance_per_sample(
    output: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    criterion: Criterion,
    weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Like :func:`feature_distance` but one value per sample: shape (N,) for (N, ...) features.

    Its mean over samples equals :func:`feature_distance` (every sample has the same size).
    """
    if criterion not in ("l1", "l2"):
        raise ValueError(f"criterion must be 'l1' or 'l2', got {criterion!r}")
    first = next(iter(output.values()))
    total = torch.zeros(first.shape[0], device=first.device, dtype=torch.float32)
    for name, features in output.items():
        weight = 1.0 if weights is None else weights[name]
        difference = (features - target[name].detach()).float().flatten(1)
        distance = difference.abs() if criterion == "l1" else difference.square()
        total = total + weight * distance.mean(dim=1)
    return total


class PerceptualLoss(nn.Module):
    """VGG-16 perceptual loss between an output image and its ground truth.

    Shapes: ``output`` and ``target`` (N, 3, H, W) in [-1, 1]; returns a scalar.
    The backbone is frozen; gradients flow only into ``output``.
    """

    def __init__(
        self, backbone: VGG16Features, layer_weights: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        if layer_weights is not None and set(layer_weights) != set(backbone.layers):
            raise ValueError(
                f"layer_weights keys {sorted(layer_weights)} must equal the backbone's "
                f"layers {list(backbone.layers)}"
            )
        self.layer_weights = dict(layer_weights) if layer_weights is not None else None

    def forward(
        self, output: torch.Tensor, target: torch.Tensor, criterion: Criterion = "l1"
    ) -> torch.Tensor:
        if output.shape != target.shape:
            raise ValueError(
                f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape"
            )
        with torch.no_grad():
            target_features = self.backbone(target)
        return feature_distance(
            self.backbone(output), target_features, criterion, self.layer_weights
        )


def convention_for(path: str | Path) -> Convention:
    """The input convention a weights file implies: HED safetensors are Caffe BGR."""
    return "caffe_bgr" if Path(path).suffix == ".safetensors" else "torchvision"


def load_backbone(
    path: str | Path, name: str | None = None, layers: tuple[str, ...] = DEFAULT_LAYERS
) -> tuple[VGG16Features, dict[str, Any]]:
    """The frozen VGG-16 of a weights file and its metadata record.

    Args:
        path: a ``.safetensors`` (HED, Caffe BGR convention) or torchvision ``.pth`` file.
        name: what the record calls it (default: the file's name), e.g. "vgg16-hed".
        layers: the ReLU outputs the perceptual losses read.

    Returns:
        The backbone and ``{"name", "sha256", "convention", "layers"}``.

    Raises:
        FileNotFoundError: no such file; ValueError: not a VGG-16 state dict.
    """
    convention = convention_for(path)
    backbone = VGG16Features.from_file(path, layers=layers, convention=convention)
    record = backbone_record(name or Path(path).name, file_sha256(path), convention, layers)
    return backbone, record
