"""EfficientNet-Lite0 for the parser: legacy key map, first-conv widening, the fetched weights.

The last tests need ``tryon models fetch efficientnet-lite0`` (never downloaded by a test) and
skip without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon.preprocess.efficientnet_lite import (
    STEM_KEY,
    TIMM_NAME,
    legacy_to_timm,
    load_into_encoder,
    widen_first_conv,
)
from tryon.preprocess.parser import HumanParser, ParserConfig


def test_legacy_names_map_to_timm_stages_and_layers():
    legacy = {
        "_conv_stem.weight": 1,
        "_bn0.running_var": 2,
        "_blocks.0._project_conv.weight": 3,  # stage 0: depthwise-separable, no expansion
        "_blocks.1._expand_conv.weight": 4,  # first block of stage 1
        "_blocks.2._bn0.bias": 5,
        "_blocks.15._project_conv.weight": 6,  # the last block: stage 6
        "_blocks.14._bn2.num_batches_tracked": 7,  # fourth block of stage 5
        "_conv_head.weight": 8,
        "_bn1.weight": 9,
        "_fc.bias": 10,
    }
    renamed = legacy_to_timm(legacy)  # type: ignore[arg-type]
    assert renamed == {
        "conv_stem.weight": 1,
        "bn1.running_var": 2,
        "blocks.0.0.conv_pw.weight": 3,
        "blocks.1.0.conv_pw.weight": 4,
        "blocks.1.1.bn1.bias": 5,
        "blocks.6.0.conv_pwl.weight": 6,
        "blocks.5.3.bn3.num_batches_tracked": 7,
        "conv_head.weight": 8,
        "bn2.weight": 9,
        "classifier.bias": 10,
    }
    for stray in ("_blocks.16._bn0.weight", "_blocks.0._expand_conv.weight", "head.fc.weight"):
        with pytest.raises(ValueError, match="not a layer of EfficientNet-Lite0"):
            legacy_to_timm({stray: torch.zeros(1)})


def test_widening_copies_rgb_and_zeroes_the_guides():
    weight = torch.randn(4, 3, 3, 3)
    widened = widen_first_conv(weight, 22)
    assert widened.shape == (4, 22, 3, 3)
    assert torch.equal(widened[:, :3], weight) and widened[:, 3:].abs().sum() == 0
    with pytest.raises(ValueError, match="RGB filters"):
        widen_first_conv(torch.randn(4, 5, 3, 3), 22)


def test_encoder_load_refuses_weights_that_do_not_fit():
    parser = HumanParser(ParserConfig(decoder_channels=(16, 8, 8, 8, 4), resolution=64))
    encoder = parser.unet.encoder.model
    weights = {key: tensor.clone() for key, tensor in encoder.state_dict().items()}
    weights[STEM_KEY] = torch.randn(32, 3, 3, 3)
    load_into_encoder(encoder, weights)  # the RGB stem is widened to 22 channels
    assert torch.equal(encoder.conv_stem.weight[:, :3], weights[STEM_KEY])
    del weights["blocks.0.0.conv_dw.weight"]
    with pytest.raises(ValueError, match=r"missing \['blocks.0.0.conv_dw.weight'\]"):
        load_into_encoder(encoder, weights)
    mobile = HumanParser(ParserConfig(encoder="mobilenet_v2", resolution=64))
    with pytest.raises(ValueError, match="--encoder-weights none"):
        mobile.load_imagenet_encoder(weights)


def test_the_asset_conversion_reads_weights_only_and_writes_timm_names(tmp_path):
    from safetensors.torch import load_file

    from tryon.assets import _convert_efficientnet_lite0

    legacy = {"_conv_stem.weight": torch.randn(32, 3, 3, 3), "_fc.bias": torch.randn(1000)}
    torch.save(legacy, tmp_path / "efficientnet-lite0-57934424.pth")
    _convert_efficientnet_lite0(tmp_path)
    converted = load_file(tmp_path / "efficientnet_lite0.safetensors")
    assert set(converted) == {"conv_stem.weight", "classifier.bias"}
    assert torch.equal(converted["classifier.bias"], legacy["_fc.bias"])
    assert not (tmp_path / "efficientnet-lite0-57934424.pth").exists()


@pytest.fixture(scope="module")
def imagenet_weights() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    from tryon.assets import get_asset

    asset = get_asset("efficientnet-lite0")
    if not asset.is_present():
        pytest.skip("run `tryon models fetch efficientnet-lite0` for the ImageNet weights")
    return load_file(asset.path())


def test_the_fetched_weights_fill_timm_exactly_and_see_a_cat(imagenet_weights):
    import skimage.data
    import timm
    from PIL import Image

    model = timm.create_model(TIMM_NAME, pretrained=False).eval()
    own = model.state_dict()
    assert set(imagenet_weights) == set(own)
    assert all(imagenet_weights[key].shape == own[key].shape for key in own)
    model.load_state_dict(imagenet_weights)
    cat = np.array(Image.fromarray(skimage.data.chelsea()).resize((224, 224), Image.BICUBIC))
    batch = torch.from_numpy(cat).permute(2, 0, 1)[None].float() / 127.5 - 1.0  # TF-Lite's
    with torch.no_grad():
        probabilities = model(batch).softmax(1)[0]
    # ImageNet 281-285 are the domestic cats (tabby, tiger, Persian, Siamese, Egyptian).
    assert int(probabilities.argmax()) in range(281, 286) and probabilities.max() > 0.5


def test_the_parser_encoder_starts_as_the_imagenet_network(imagenet_weights):
    import timm

    torch.manual_seed(0)
    parser = HumanParser(ParserConfig(decoder_channels=(16, 8, 8, 8, 4), resolution=64)).eval()
    parser.load_imagenet_encoder(imagenet_weights)
    reference = timm.create_model(TIMM_NAME, pretrained=False, features_only=True).eval()
    reference.load_state_dict(
        {key: imagenet_weights[key] for key in reference.state_dict()}, strict=True
    )
    rgb = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    guides = torch.rand(1, 19, 64, 64)  # zero-initialised channels: ignored at the start
    with torch.no_grad():
        ours = parser.unet.encoder.model(torch.cat([rgb, guides], 1))
        theirs = reference(rgb)
    for mine, expected in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, expected, atol=1e-4, rtol=1e-4)  # summation order
