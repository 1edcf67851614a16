"""The peers' generators, built from their published configurations with random weights.

Speed does not depend on the weights, so nothing is downloaded: every configuration is
written out here with the file it was copied from. Each peer is a list of :class:`Stage`:
a network call, its input shapes at the output size, and how many times one try-on runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# runwayml/stable-diffusion-inpainting, unet/config.json (SD 1.5 inpainting): the base of
# CatVTON (model/pipeline.py loads it as `base_ckpt`) and, with in_channels 8, of
# OOTDiffusion's denoising UNet (ootd/pipelines_ootd/unet_vton_2d_condition.py).
SD15_INPAINT_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 9,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
}

# diffusers/stable-diffusion-xl-1.0-inpainting-0.1, unet/config.json (SDXL inpainting): the
# base of IDM-VTON's TryonNet, whose conv_in takes 13 channels (noise 4 + mask 1 + masked
# person 4 + DensePose 4; yisol/IDM-VTON, src/unet_hacked_tryon.py).
SDXL_INPAINT_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "addition_embed_type": "text_time",
    "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 13,
    "layers_per_block": 2,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816,
    "sample_size": 128,
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "use_linear_projection": True,
}

# stabilityai/sd-vae-ft-mse, config.json: the VAE CatVTON loads; SD 1.5 and SDXL share
# this architecture (only the weights and the scaling factor differ).
SD_VAE: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}


@dataclass(frozen=True)
class Stage:
    """One network call of a peer's try-on and how often one image runs it.

    Attributes:
        name: what the call is ("denoising step, CFG batch 2").
        build: builds the module (random weights, eval mode).
        inputs: builds the call's arguments (random, at the output size).
        calls_per_image: how many times one try-on makes this call.
        quick: timed in ``--quick`` mode too (False: left out there, the total a lower bound).
    """

    name: str
    build: Callable[[], nn.Module]
    inputs: Callable[[], dict[str, Any]]
    calls_per_image: int
    quick: bool = True


@dataclass(frozen=True)
class Peer:
    """A published try-on system: its stages and where the configuration comes from."""

    name: str
    source: str
    stages: tuple[Stage, ...]


class SkipCrossAttention(nn.Module):
    """CatVTON's ``SkipAttnProcessor``: cross-attention is removed, its input passes through."""

    def __call__(self, attn: Any, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return hidden_states


class ReferenceSelfAttention(nn.Module):
    """Self-attention over the latent tokens concatenated with the garment net's tokens.

    OOTDiffusion's outfitting fusion and IDM-VTON's GarmentNet fusion both attend over
    ``cat([x, garment], tokens)`` and keep the first half; a copy of ``x`` stands in for the
    garment features (same shapes, same cost).
    """

    def __call__(self, attn: Any, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        from diffusers.models.attention_processor import AttnProcessor2_0

        tokens = hidden_states.shape[1]
        doubled = torch.cat([hidden_states, hidden_states], dim=1)
        return AttnProcessor2_0()(attn, doubled)[:, :tokens]


def _unet(config: dict[str, Any], self_attention: Any, cross_attention: Any) -> nn.Module:
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor2_0

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config).eval()
    processors = {
        name: (self_attention if name.endswith("attn1.processor") else cross_attention)
        for name in unet.attn_processors
    }
    unet.set_attn_processor({name: proc or AttnProcessor2_0() for name, proc in processors.items()})
    return unet


def _vae() -> nn.Module:
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(**SD_VAE).eval()


class _VaeEncode(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.vae = _vae()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(image).latent_dist.mode()


class _VaeDecode(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.vae = _vae()

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents).sample


def _unet_inputs(
    batch: int, channels: int, latent: tuple[int, int], context: tuple[int, int], sdxl: bool
) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        inputs: dict[str, Any] = {
            "sample": torch.randn(batch, channels, *latent),
            "timestep": torch.tensor(500),
            "encoder_hidden_states": torch.randn(batch, *context),
            "return_dict": False,
        }
        if sdxl:
            inputs["added_cond_kwargs"] = {
                "text_embeds": torch.randn(batch, 1280),
                "time_ids": torch.randn(batch, 6),
            }
        return inputs

    return make


def _vae_stages(height: int, width: int, encodes: int) -> tuple[Stage, ...]:
    latent = (height // 8, width // 8)
    return (
        Stage(
            f"VAE encode {height}x{width}",
            _VaeEncode,
            lambda: {"image": torch.randn(1, 3, height, width)},
            encodes,
            quick=False,
        ),
        Stage(
            f"VAE decode {height}x{width}",
            _VaeDecode,
            lambda: {"latents": torch.randn(1, 4, *latent)},
            1,
            quick=False,
        ),
    )


def catvton(height: int, width: int) -> Peer:
    """CatVTON: SD 1.5 inpainting UNet without cross-attention, person and garment latents
    concatenated along y, classifier-free guidance (batch 2), 50 DDIM steps."""
    latent = (2 * height // 8, width // 8)  # concat_dim = -2 in model/pipeline.py
    step = Stage(
        "denoising step, CFG batch 2, latents concatenated along y",
        lambda: _unet(SD15_INPAINT_UNET, None, SkipCrossAttention()),
        _unet_inputs(2, 9, latent, (1, 768), sdxl=False),
        calls_per_image=50,
    )
    return Peer(
        "CatVTON",
        "Zheng-Chong/CatVTON model/pipeline.py (num_inference_steps=50, guidance 2.5, y-concat, "
        "SkipAttnProcessor on cross-attention); UNet runwayml/stable-diffusion-inpainting "
        "unet/config.json; VAE stabilityai/sd-vae-ft-mse",
        (step, *_vae_stages(height, width, encodes=2)),
    )


def ootdiffusion(height: int, width: int) -> Peer:
    """OOTDiffusion: SD 1.5 denoising UNet (8 input channels) fused with an outfitting UNet
    that runs once; image guidance (batch 2), 20 steps."""
    latent = (height // 8, width // 8)
    config = {**SD15_INPAINT_UNET, "in_channels": 8}
    step = Stage(
        "denoising step, guidance batch 2, outfitting fusion in self-attention",
        lambda: _unet(config, ReferenceSelfAttention(), None),
        _unet_inputs(2, 8, latent, (77, 768), sdxl=False),
        calls_per_image=20,
    )
    garment = Stage(
        "outfitting UNet, once",
        lambda: _unet({**SD15_INPAINT_UNET, "in_channels": 4}, None, None),
        _unet_inputs(1, 4, latent, (77, 768), sdxl=False),
        calls_per_image=1,
        quick=False,
    )
    return Peer(
        "OOTDiffusion",
        "levihsu/OOTDiffusion run/run_ootd.py (--step 20, --scale 2.0), ootd/pipelines_ootd "
        "(8-channel vton UNet, outfitting UNet run once, spatial self-attention fusion); UNet "
        "config runwayml/stable-diffusion-inpainting unet/config.json",
        (step, garment, *_vae_stages(height, width, encodes=2)),
    )


def idm_vton(height: int, width: int) -> Peer:
    """IDM-VTON: SDXL inpainting TryonNet (13 input channels) fused with GarmentNet (once);
    classifier-free guidance (batch 2), 30 steps. IP-Adapter image tokens are left out."""
    latent = (height // 8, width // 8)
    step = Stage(
        "denoising step, CFG batch 2, GarmentNet fusion in self-attention",
        lambda: _unet(SDXL_INPAINT_UNET, ReferenceSelfAttention(), None),
        _unet_inputs(2, 13, latent, (77, 2048), sdxl=True),
        calls_per_image=30,
    )
    garment = Stage(
        "GarmentNet (SDXL UNet), once",
        lambda: _unet({**SDXL_INPAINT_UNET, "in_channels": 4}, None, None),
        _unet_inputs(1, 4, latent, (77, 2048), sdxl=True),
        calls_per_image=1,
        quick=False,
    )
    return Peer(
        "IDM-VTON",
        "yisol/IDM-VTON gradio_demo/app.py (denoise_steps 30, guidance_scale 2.0), "
        "src/unet_hacked_tryon.py (13-channel SDXL TryonNet, GarmentNet); UNet config "
        "diffusers/stable-diffusion-xl-1.0-inpainting-0.1 unet/config.json (IP-Adapter left out)",
        (step, garment, *_vae_stages(height, width, encodes=3)),
    )


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class _Pyramid(nn.Module):
    """PF-AFN's FeatureEncoder + RefinePyramid: 5 stride-2 levels (64..256 ch), FPN to 256."""

    def __init__(self, cin: int, chns: tuple[int, ...] = (64, 128, 256, 256, 256)) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        for cout in chns:
            self.down.append(
                nn.Sequential(_conv(cin, cout, 2), _conv(cout, cout), _conv(cout, cout))
            )
            cin = cout
        self.lateral = nn.ModuleList(nn.Conv2d(c, 256, 1) for c in chns)
        self.smooth = nn.ModuleList(nn.Conv2d(256, 256, 3, 1, 1) for _ in chns)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
        out, top = [], None
        for feature, lateral, smooth in zip(
            reversed(features), reversed(self.lateral), reversed(self.smooth), strict=True
        ):
            level = lateral(feature)
            if top is not None:
                level = level + F.interpolate(top, size=level.shape[-2:], mode="nearest")
            top = level
            out.append(smooth(level))
        return out  # coarse to fine


def _correlation(a: torch.Tensor, b: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Local cost volume, (2r+1)^2 displacements: the CUDA correlation op in plain torch."""
    padded = F.pad(b, [radius] * 4)
    height, width = a.shape[-2:]
    costs = [
        (a * padded[..., dy : dy + height, dx : dx + width]).mean(1, keepdim=True)
        for dy in range(2 * radius + 1)
        for dx in range(2 * radius + 1)
    ]
    return F.leaky_relu(torch.cat(costs, 1), 0.1)


def _flow_head(cin: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, 128, 3, 1, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(128, 64, 3, 1, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(64, 32, 3, 1, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(32, 2, 3, 1, 1),
    )  # fmt: skip


def _warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    batch, _, height, width = x.shape
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij"
    )
    grid = torch.stack([xs, ys], -1).expand(batch, -1, -1, -1) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(x, grid, align_corners=True)


class PFAFNWarper(nn.Module):
    """PF-AFN's student: AFWM (two pyramids, per-level correlation + flow refinement) then the
    ResUnet try-on generator, approximated as a 5-level U-Net of the same widths."""

    def __init__(self) -> None:
        super().__init__()
        self.person, self.garment = _Pyramid(3), _Pyramid(3)
        self.main = nn.ModuleList(_flow_head(49) for _ in range(5))
        self.refine = nn.ModuleList(_flow_head(512) for _ in range(5))
        widths = (64, 128, 256, 512, 512)
        self.encoder = nn.ModuleList()
        cin = 7
        for cout in widths:
            self.encoder.append(nn.Sequential(_conv(cin, cout, 2), _conv(cout, cout)))
            cin = cout
        self.decoder = nn.ModuleList()
        for skip, cout in zip(reversed(widths[:-1]), (512, 256, 128, 64), strict=True):
            self.decoder.append(nn.Sequential(_conv(cin + skip, cout), _conv(cout, cout)))
            cin = cout
        self.head = nn.Conv2d(cin, 4, 3, 1, 1)

    def forward(self, person: torch.Tensor, garment: torch.Tensor) -> torch.Tensor:
        flow = None
        for level, (p, g) in enumerate(
            zip(self.person(person), self.garment(garment), strict=True)
        ):
            if flow is not None:
                flow = F.interpolate(flow, size=p.shape[-2:], mode="bilinear")
                g = _warp(g, flow)
            delta = self.main[level](_correlation(p, g))
            flow = delta if flow is None else flow + delta
            flow = flow + self.refine[level](torch.cat([_warp(g, flow), p], 1))
        flow = F.interpolate(flow, size=person.shape[-2:], mode="bilinear")
        warped = _warp(garment, flow)
        x, skips = torch.cat([person, warped, warped[:, :1]], 1), []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.decoder, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], 1))
        return self.head(F.interpolate(x, size=person.shape[-2:], mode="nearest"))


def pf_afn(height: int, width: int) -> Peer:
    """PF-AFN (parser-free appearance flow): one forward of warper + generator per image."""
    forward = Stage(
        "AFWM warp + try-on generator, one forward",
        lambda: PFAFNWarper().eval(),
        lambda: {name: torch.randn(1, 3, height, width) for name in ("person", "garment")},
        calls_per_image=1,
    )
    return Peer(
        "PF-AFN",
        "geyuying/PF-AFN PF-AFN_test/models/afwm.py (FeatureEncoder chns 64,128,256,256,256, "
        "FPN 256, 5-level correlation radius 3 + netMain/netRefine 128-64-32-2) and "
        "networks.py ResUnetGenerator(7, 4, 5, ngf=64), rebuilt in plain torch (approximate)",
        (forward,),
    )


PEERS: dict[str, Callable[[int, int], Peer]] = {
    "CatVTON": catvton,
    "OOTDiffusion": ootdiffusion,
    "IDM-VTON": idm_vton,
    "PF-AFN": pf_afn,
}
