"""Shared helpers of the pipeline, batch and video tests: tiny models and synthetic inputs.

Plain functions (not fixtures) so each test module builds what it needs in its own tmp dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

TINY_RESOLUTION = 64


def make_tiny_models(root: Path, seed: int = 0) -> Path:
    """Randomly initialised HPN (level 64) and flow net model directories under ``root``."""
    from flow import AppearanceFlowNet, FlowConfig
    from hpn import HPNConfig
    from hpn.model import HPN

    torch.manual_seed(seed)
    hpn_config = HPNConfig(
        bottleneck_size=16,
        bottleneck_channels=64,
        start_resolution=64,
        final_resolution=64,
        pose_sigma=1.6,
    )
    HPN(hpn_config).eval().save_pretrained(root / "hpn")
    AppearanceFlowNet(FlowConfig(channels=(4, 8, 8, 8))).eval().save_pretrained(root / "flow")
    return root


def synthetic_sample(seed: int, size: int = 128):
    """A rendered person in a random pose (image, keypoints, parse, person mask)."""
    from tryon.data.synthetic import render_person, sample_garment, sample_identity, sample_pose

    rng = np.random.default_rng(seed)
    identity, garment = sample_identity(rng), sample_garment(rng)
    return render_person(identity, garment, sample_pose(rng), size=size)


def synthetic_person(seed: int, size: int = 128):
    """A synthetic person photo in a random pose: (image uint8, keypoints (18, 2))."""
    sample = synthetic_sample(seed, size)
    return sample.image, sample.keypoints


def synthetic_garment(seed: int, size: int = 128) -> np.ndarray:
    """A synthetic product photo (garment flat on white)."""
    from tryon.data.synthetic import render_product, sample_garment

    return render_product(sample_garment(np.random.default_rng(seed)), size=size).image


def write_openpose_json(path: Path, keypoints: np.ndarray) -> None:
    """Keypoints as an OpenPose COCO-18 JSON file (confidence 0 for missing joints)."""
    values: list[float] = []
    for x, y in np.asarray(keypoints, dtype=float):
        missing = np.isnan(x) or np.isnan(y)
        values += [0.0, 0.0, 0.0] if missing else [float(x), float(y), 1.0]
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": values}]}))


def make_catalog(root: Path, people: int = 2, garments: int = 1, size: int = 96) -> Path:
    """``root/people`` (synthetic photos with ``<stem>_keypoints.json``), ``root/garments``
    and an empty ``root/models`` (the own view needs no model): a batch's inputs."""
    from tryon.imageio import save_image

    for index in range(people):
        image, keypoints = synthetic_person(seed=10 + index, size=size)
        save_image(root / "people" / f"person{index}.png", image)
        write_openpose_json(root / "people" / f"person{index}_keypoints.json", keypoints)
    for index in range(garments):
        save_image(
            root / "garments" / f"garment{index}.png", synthetic_garment(seed=20 + index, size=size)
        )
    (root / "models").mkdir(parents=True, exist_ok=True)
    return root


def batch_arguments(root: Path, out: Path, *extra: str) -> list[str]:
    """``tryon batch`` arguments for a :func:`make_catalog` folder."""
    return ["batch", "--people", str(root / "people"), "--garments", str(root / "garments"),
            "--models", str(root / "models"), "--out", str(out), *extra]  # fmt: skip
