"""A models folder's manifest, ``model_index.json`` (as diffusers' ``model_index.json``).

A models folder holds one model directory per pipeline component and a manifest that names
them and records what they belong together with: the canonical pose the HPN was trained to
move people into. The pipeline reads the pose from here rather than recomputing it from the
data generator, so a shipped folder keeps doing what it was trained for. ::

    {
      "format_version": 1,
      "library_version": "0.1.0",
      "pipeline": "TryOnPipeline",
      "components": {"hpn": "hpn", "flow": "appearance_flow", "parser": "human_parser"},
      "canonical_pose": {"frame": 256, "keypoints": [[x, y], ... 18 rows], "source": "..."}
    }

``components`` maps each component's folder to its ``model_type`` (:mod:`core.registry`);
every one is optional (the own view needs none; the paper view needs ``hpn`` and ``flow``;
``hpn_refine``, the warp-and-refine HPN, improves the catalog view and video;
``garment_flow``, a flow net trained on keypoint fits, corrects every garment fit).
A folder without a manifest (made before manifests existed, or by hand) still loads: its
components are found by folder name and the canonical pose is
:data:`core.keypoints.DEFAULT_CANONICAL_POSE`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import registry
from core.errors import CheckpointError
from core.files import write_json_atomic
from core.keypoints import DEFAULT_CANONICAL_POSE, CanonicalPose
from core.modelio import CONFIG_FILE, library_version, read_config_json
from tryon.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

    from tryon.pipeline.pipeline import TryOnPipeline

MANIFEST_FILE = "model_index.json"
MANIFEST_VERSION = 1
COMPONENT_TYPES: dict[str, str] = {
    "hpn": registry.HPN.model_type,
    "hpn_refine": registry.HPN_WARP_REFINE.model_type,
    "garment_flow": registry.APPEARANCE_FLOW.model_type,
    "flow": registry.APPEARANCE_FLOW.model_type,
    "parser": registry.HUMAN_PARSER.model_type,
}


@dataclass(frozen=True)
class ModelsManifest:
    """What a models folder holds.

    Attributes:
        components: component folder -> model type.
        canonical_pose: the pose the HPN was trained to move people into.
        recorded: False when the folder had no manifest (components found by name).
    """

    components: Mapping[str, str]
    canonical_pose: CanonicalPose
    recorded: bool = field(default=True, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": MANIFEST_VERSION,
            "library_version": library_version(),
            "pipeline": "TryOnPipeline",
            "components": dict(self.components),
            "canonical_pose": self.canonical_pose.to_dict(),
        }


def read_manifest(models_dir: str | Path) -> ModelsManifest:
    """The manifest of a models folder (derived from its folders when it has none).

    Raises:
        InvalidInputError: a component the manifest names is missing or of another model
            type than it says, or the manifest is newer than this library.
    """
    root = Path(models_dir)
    path = root / MANIFEST_FILE
    if not path.is_file():
        found = {
            name: model_type
            for name, model_type in COMPONENT_TYPES.items()
            if (root / name / CONFIG_FILE).is_file()
        }
        return ModelsManifest(found, DEFAULT_CANONICAL_POSE, recorded=False)
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path}: invalid JSON ({error})") from error
    if not isinstance(document, dict):
        raise InvalidInputError(f"{path} must hold a JSON object, not {type(document).__name__}")
    version = document.get("format_version")
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        raise InvalidInputError(
            f"{path} has format_version {version!r}; this hpn-tryon reads up to "
            f"{MANIFEST_VERSION}: upgrade hpn-tryon"
        )
    components = document.get("components", {})
    if not isinstance(components, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in components.items()
    ):
        raise InvalidInputError(f"{path}: components must map folder names to model types")
    for name, model_type in components.items():
        try:
            stored = read_config_json(root / name)["model_type"]
        except CheckpointError as error:
            raise InvalidInputError(f"{path} names component {name!r}: {error}") from error
        if registry.canonical_model_type(model_type) != stored:
            raise InvalidInputError(
                f"{path} says {name}/ holds a {model_type!r} model, but it holds {stored!r}"
            )
    try:
        pose = CanonicalPose.from_dict(document["canonical_pose"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(f"{path}: unusable canonical_pose ({error})") from error
    return ModelsManifest(components, pose)


def write_manifest(models_dir: str | Path, manifest: ModelsManifest) -> Path:
    """Write ``model_index.json`` into a models folder (atomically)."""
    return write_json_atomic(Path(models_dir) / MANIFEST_FILE, manifest.to_dict())


def save_pipeline(
    pipeline: TryOnPipeline, directory: str | Path, dtype: torch.dtype | None = None
) -> Path:
    """Write a pipeline's models and manifest as a models folder (see the module docstring).

    Args:
        pipeline: a pipeline whose HPN and flow net (if any) run on the torch backend (the
            other backends hold compiled artefacts, not the weights).
        directory: the models folder to write.
        dtype: cast the weights (``torch.float16`` to ship); None keeps float32.

    Returns:
        ``directory``, which :meth:`TryOnPipeline.from_pretrained` loads back.
    """
    directory = Path(directory)
    components: dict[str, str] = {}
    route = pipeline.paper_route
    modules = {
        "hpn": route.hpn if route is not None else None,
        "flow": route.flow if route is not None else None,
        "parser": pipeline.parser,
        "hpn_refine": pipeline.refiner,
        "garment_flow": pipeline.garment_flow,
    }
    for name, component in modules.items():
        if component is None:
            continue
        model = getattr(component, "model", component)  # a torch Backend, or the module
        if not hasattr(model, "save_pretrained"):
            raise InvalidInputError(
                f"save_pretrained needs the torch backend: the {name} component runs on "
                f"{getattr(component, 'name', type(component).__name__)}"
            )
        model.save_pretrained(directory / name, dtype=dtype)
        components[name] = model.model_type
    write_manifest(directory, ModelsManifest(components, pipeline.canonical_pose))
    return directory
