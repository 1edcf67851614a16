"""What deploy knows about each model type: its named inputs and outputs and their shapes.

deploy sees a network only as a ``torch.nn.Module`` plus its config. A :class:`ModelIO` per
``model_type`` (the string a model directory's ``config.json`` records) says how to load the
module, which tensors go in and come out, and which axes may vary. Export, parity, the backends
and the benchmarks all read the same :class:`IOSignature`, so an ONNX file, an engine and the
eager model take the same named inputs.

A model type is first a :mod:`core.registry` entry (class, presets); an exportable one also
gets a :class:`ModelIO` here. Test stand-ins join with :func:`register`.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from core import registry
from core.keypoints import NUM_KEYPOINTS
from core.modelio import config_from_dict, read_config_json
from deploy.errors import DeployError

TensorKind = Literal["image", "mask", "pose_maps", "flow", "logits"]
BATCH_AXIS = "batch"
HEIGHT_AXIS = "height"
WIDTH_AXIS = "width"


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of a signature, batch axis excluded.

    Attributes:
        name: the keyword the model's ``forward`` takes (inputs) or the output's name.
        channels: C of the (N, C, H, W) tensor.
        kind: what it holds; decides how example inputs are drawn (images in [-1, 1],
            masks in {0, 1}, pose maps in [0, 1]).
        height: H at the signature's resolution.
        width: W at the signature's resolution.
    """

    name: str
    channels: int
    kind: TensorKind
    height: int
    width: int

    def shape(self, batch: int) -> tuple[int, int, int, int]:
        """The full NCHW shape for a batch size."""
        return (batch, self.channels, self.height, self.width)


@dataclass(frozen=True)
class IOSignature:
    """The named inputs and outputs of one model at one resolution.

    Attributes:
        model_type: the registry key.
        inputs: inputs in ``forward``'s positional order.
        outputs: outputs in the order ``forward`` returns them.
        dynamic_spatial: True when every tensor's H, W follow the input size (the flow net),
            False when they are fixed by the architecture (HPN: one resolution per level).
        size_multiple: with ``dynamic_spatial``, H and W must be multiples of this.
    """

    model_type: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    dynamic_spatial: bool
    size_multiple: int = 1

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.outputs)

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """Axis index -> symbolic name for every tensor: batch always, H and W when dynamic."""
        axes: dict[int, str] = {0: BATCH_AXIS}
        if self.dynamic_spatial:
            axes |= {2: HEIGHT_AXIS, 3: WIDTH_AXIS}
        return {spec.name: dict(axes) for spec in (*self.inputs, *self.outputs)}

    def input_shapes(self, batch: int) -> dict[str, tuple[int, int, int, int]]:
        """NCHW shape of every input for a batch size."""
        return {spec.name: spec.shape(batch) for spec in self.inputs}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (written into export sidecars)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IOSignature:
        """Inverse of :meth:`to_dict`."""
        return cls(
            model_type=data["model_type"],
            inputs=tuple(TensorSpec(**spec) for spec in data["inputs"]),
            outputs=tuple(TensorSpec(**spec) for spec in data["outputs"]),
            dynamic_spatial=bool(data["dynamic_spatial"]),
            size_multiple=int(data.get("size_multiple", 1)),
        )


class NamedGraph(nn.Module):
    """Positional tensors in, a flat tuple out: the form ONNX export and every backend share.

    The wrapped model is called with keyword arguments named by the signature, so the graph's
    input names are the model's own argument names; a tuple (or NamedTuple) result is passed
    through and a single tensor becomes a 1-tuple.
    """

    def __init__(self, model: nn.Module, signature: IOSignature) -> None:
        super().__init__()
        self.model = model
        self.input_names = signature.input_names
        self.output_count = len(signature.outputs)

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        result = self.model(**dict(zip(self.input_names, tensors, strict=True)))
        outputs = tuple(result) if isinstance(result, tuple) else (result,)
        if len(outputs) != self.output_count:
            raise DeployError(
                f"the model returned {len(outputs)} outputs but its signature names "
                f"{self.output_count}; update its ModelIO in deploy/registry.py"
            )
        return outputs


class ModelIO(ABC):
    """How deploy loads one model type and describes its inputs and outputs."""

    model_type: ClassVar[str]

    def model_class(self) -> type[nn.Module]:
        """The network class, from :mod:`core.registry` (imported lazily)."""
        return registry.model_class(self.model_type)

    @abstractmethod
    def signature(self, model: nn.Module, resolution: int | None = None) -> IOSignature:
        """The model's inputs and outputs at ``resolution`` (None: the model's default).

        Raises:
            DeployError: the model cannot run at that resolution; the message says which work.
        """

    def load(self, directory: str | Path) -> nn.Module:
        """The model of a model directory, float32, eval mode."""
        return self.model_class().from_pretrained(directory)  # type: ignore[attr-defined]

    def config_from_dict(self, data: dict[str, Any]) -> Any:
        """Rebuild the frozen config dataclass from its JSON form (an export sidecar's)."""
        return config_from_dict(self.model_class().config_class, data)  # type: ignore[attr-defined]


class AppearanceFlowIO(ModelIO):
    """The flow net: garment, garment mask, target mask [, pose maps] -> flow, warped pair.

    Fully convolutional with a grid built from the input's H, W, so the spatial axes stay
    dynamic; H and W must be multiples of the config's coarsest stride. The default example
    size is 256 x 256.
    """

    model_type = registry.APPEARANCE_FLOW.model_type
    default_resolution = 256

    def signature(self, model: nn.Module, resolution: int | None = None) -> IOSignature:
        config = model.config
        size = self.default_resolution if resolution is None else resolution
        stride = config.coarsest_stride
        if size <= 0 or size % stride:
            raise DeployError(
                f"the flow net needs a resolution that is a positive multiple of {stride} "
                f"(its coarsest stride), got {size}"
            )
        inputs = [
            TensorSpec("garment", 3, "image", size, size),
            TensorSpec("garment_mask", 1, "mask", size, size),
            TensorSpec("target_mask", 1, "mask", size, size),
        ]
        if config.pose_channels:
            inputs.append(TensorSpec("pose_maps", config.pose_channels, "pose_maps", size, size))
        outputs = (
            TensorSpec("flow", 2, "flow", size, size),
            TensorSpec("warped_garment", 3, "image", size, size),
            TensorSpec("warped_mask", 1, "mask", size, size),
        )
        return IOSignature(self.model_type, tuple(inputs), outputs, True, stride)


def _fixed_size(size: int, resolution: int | None, what: str, needs: str) -> int:
    """``size``, or DeployError when an export at another ``resolution`` is asked of a network
    whose graph exists at one size only (a progressive level, a fixed-size parser)."""
    if resolution is not None and resolution != size:
        raise DeployError(
            f"{what} {size}x{size}; a {resolution} export needs {needs}, or omit the resolution"
        )
    return size


class HPNIO(ModelIO):
    """HPN: image (N, 3, R, R) + pose maps (N, 18, B, B) -> generated image (N, 3, R, R).

    The spatial size is fixed per progressive level (R = ``model.resolution``, B = the
    config's bottleneck size): a level's layers exist only for its own resolution, so the
    exported graph has a dynamic batch axis only.
    """

    model_type = registry.HPN.model_type

    def signature(self, model: nn.Module, resolution: int | None = None) -> IOSignature:
        size = _fixed_size(
            int(model.resolution), resolution, "this HPN is at level",
            "a model trained to that level (HPN's size is fixed per level)",
        )  # fmt: skip
        channels, bottleneck = model.config.image_channels, model.config.bottleneck_size
        return IOSignature(
            self.model_type,
            inputs=(
                TensorSpec("image", channels, "image", size, size),
                TensorSpec("pose_maps", NUM_KEYPOINTS, "pose_maps", bottleneck, bottleneck),
            ),
            outputs=(TensorSpec("generated", channels, "image", size, size),),
            dynamic_spatial=False,
        )


class WarpRefineIO(ModelIO):
    """Warp-and-refine HPN: prior (N, 3, R, R) + validity (N, 2, R, R) + pose maps
    (N, 18, B, B) -> residual flow (N, 2, R, R), visibility (N, 1, R, R), fill (N, 3, R, R).

    Fixed spatial size per level, like HPN.
    """

    model_type = registry.HPN_WARP_REFINE.model_type

    def signature(self, model: nn.Module, resolution: int | None = None) -> IOSignature:
        size = _fixed_size(
            int(model.resolution), resolution, "this warp-and-refine HPN is at level",
            "a model trained to that level",
        )  # fmt: skip
        bottleneck = model.pose_map_size
        return IOSignature(
            self.model_type,
            inputs=(
                TensorSpec("prior", 3, "image", size, size),
                TensorSpec("validity", 2, "mask", size, size),
                TensorSpec("pose_maps", NUM_KEYPOINTS, "pose_maps", bottleneck, bottleneck),
            ),
            outputs=(
                TensorSpec("residual", 2, "flow", size, size),
                TensorSpec("visibility", 1, "mask", size, size),
                TensorSpec("generated", 3, "image", size, size),
            ),
            dynamic_spatial=False,
        )


class HumanParserIO(ModelIO):
    """The parser: image (N, 3, R, R) + person mask (N, 1, R, R) + pose maps (N, 18, R, R)
    -> gated LIP logits (N, 20, R, R).

    Fixed spatial size: the parser is trained and run at its config's resolution (a photo is
    letterboxed into it), and its encoder's TF "same" padding is exported for that size.
    """

    model_type = registry.HUMAN_PARSER.model_type

    def signature(self, model: nn.Module, resolution: int | None = None) -> IOSignature:
        config = model.config
        size = _fixed_size(
            config.resolution, resolution, "this parser runs at",
            "a parser trained at that resolution (its config's)",
        )  # fmt: skip
        return IOSignature(
            self.model_type,
            inputs=(
                TensorSpec("image", 3, "image", size, size),
                TensorSpec("person_mask", 1, "mask", size, size),
                TensorSpec("pose_maps", NUM_KEYPOINTS, "pose_maps", size, size),
            ),
            outputs=(TensorSpec("logits", config.num_classes, "logits", size, size),),
            dynamic_spatial=False,
        )


_REGISTRY: dict[str, ModelIO] = {}


def register(model_io: ModelIO) -> ModelIO:
    """Make a model type known to export, the backends and the benchmarks."""
    _REGISTRY[model_io.model_type] = model_io
    return model_io


def model_io_for(model_type: str) -> ModelIO:
    """The :class:`ModelIO` of a model type, with the known types listed when it is unknown."""
    try:
        return _REGISTRY[model_type]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise DeployError(
            f"deploy does not know model type {model_type!r} (known: {known}); "
            "register a ModelIO for it in deploy/registry.py"
        ) from None


def model_io_of(model: nn.Module) -> ModelIO:
    """The :class:`ModelIO` of a loaded network (by its class's ``model_type``)."""
    model_type = getattr(model, "model_type", None)
    if model_type is None:
        raise DeployError(
            f"{type(model).__name__} has no model_type; deploy handles PretrainedMixin models"
        )
    return model_io_for(model_type)


def load_model(directory: str | Path) -> tuple[nn.Module, ModelIO]:
    """Load a model directory of any registered type, in eval mode."""
    document = read_config_json(directory)
    model_io = model_io_for(str(document.get("model_type")))
    return model_io.load(directory).eval(), model_io


register(AppearanceFlowIO())
register(HPNIO())
register(WarpRefineIO())
register(HumanParserIO())
