"""Data-parallel training helpers for ``torchrun``: process group, sharded data, DDP wrapping.

``torchrun --nproc_per_node N`` starts N copies of the training command with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set;
:func:`init_from_env` turns those into a :class:`DistributedContext` (a plain single-process
context when they are absent, so the same trainer code runs both ways).

Equivalence with one process: every rank reads its slice of the SAME global index stream as
:class:`core.training.data.ResumableSampler` (global batch = per-rank batch x world size, rank r
takes items [r*b, (r+1)*b) of each global batch), and DDP averages gradients over ranks, so
with equal per-rank batches the update equals a single-process step on the global batch up to
float summation order. BatchNorm is the exception: each rank normalises with its own batch's
statistics unless the model is converted to SyncBatchNorm (``sync_batchnorm=True``), which
PyTorch supports on CUDA only; on CPU (gloo) a BatchNorm model trains with per-rank
statistics, a slightly different (and equally valid) estimator than one process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclasses.dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in a data-parallel run.

    Attributes:
        rank: global rank (0 .. world_size - 1).
        world_size: number of processes.
        local_rank: rank within this node (picks the GPU).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(
                f"rank {self.rank} is not within world size {self.world_size}; "
                "check the RANK and WORLD_SIZE environment variables"
            )

    @property
    def is_main(self) -> bool:
        """True on the one process that logs, shows progress and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def device(self, requested: torch.device) -> torch.device:
        """This rank's device: ``cuda:<local_rank>`` when training on CUDA, else as requested."""
        if requested.type == "cuda" and self.distributed:
            return torch.device("cuda", self.local_rank)
        return requested


def init_from_env(backend: str | None = None) -> DistributedContext:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Args:
        backend: "gloo" (CPU) or "nccl" (GPU); None picks nccl when CUDA is available.

    Returns:
        The context; single-process (no process group) when ``WORLD_SIZE`` is unset or 1.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext()
    context = DistributedContext(
        rank=int(os.environ["RANK"]),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(context.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return context


def shutdown(context: DistributedContext) -> None:
    """Leave the process group (no-op for a single process)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def process_group(context: DistributedContext) -> Iterator[DistributedContext]:
    """Run a job inside the process group, then leave it.

    On success every rank meets at a barrier before leaving: rank 0 hosts the rendezvous
    store, and a rank still tearing down its gloo threads when rank 0 exits aborts
    ("terminate called without an active exception"). On an error the rank leaves at once
    (the others may never reach a barrier).
    """
    try:
        yield context
        barrier(context)
    finally:
        shutdown(context)


def barrier(context: DistributedContext) -> None:
    """Wait for every rank (e.g. until rank 0 has written a checkpoint)."""
    if context.distributed:
        dist.barrier()


class MethodAsForward(nn.Module):
    """Exposes another method of a module as ``forward``, for DDP to wrap.

    DDP synchronises gradients only for what runs through its own ``forward``; a model
    trained through another method (``AppearanceFlowNet.forward_flows``) is wrapped in this.
    """

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module = module
        self.method = method

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.module, self.method)(*args, **kwargs)


def wrap_model(model: nn.Module, context: DistributedContext, sync_batchnorm: bool) -> nn.Module:
    """The model to train: DDP over the process group, optionally with SyncBatchNorm.

    Single-process runs get the model back unchanged (``sync_batchnorm`` is then moot).
    Save ``unwrap(model)``, never the wrapper, so checkpoints load without DDP.

    Args:
        model: on this rank's device already.
        context: from :func:`init_from_env`.
        sync_batchnorm: convert BatchNorm layers to SyncBatchNorm (statistics over the
            global batch, identical to a single process; costs one all-reduce per BN layer).
            CUDA only.

    Raises:
        ValueError: ``sync_batchnorm`` on a CPU model in a distributed run.
    """
    if not context.distributed:
        return model
    device = next(model.parameters()).device
    if sync_batchnorm:
        if device.type != "cuda":
            raise ValueError(
                "SyncBatchNorm needs CUDA (PyTorch's DDP supports it only for GPU modules); "
                "on CPU leave --sync-bn off: each rank then normalises with its own batch"
            )
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP and :class:`MethodAsForward` wrappers (or the module)."""
    while isinstance(model, nn.parallel.DistributedDataParallel | MethodAsForward):
        model = model.module
    return model


def all_reduce_means(
    values: dict[str, torch.Tensor], context: DistributedContext
) -> dict[str, torch.Tensor]:
    """:func:`all_reduce_mean` of several scalars in one collective (per-step loss logging)."""
    if not context.distributed:
        return {name: value.detach() for name, value in values.items()}
    stacked = all_reduce_mean(
        torch.stack([value.detach().float() for value in values.values()]), context
    )
    return dict(zip(values, stacked, strict=True))


def all_reduce_mean(value: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Mean of a tensor over ranks (a copy; for logging losses of the global batch)."""
    if not context.distributed:
        return value.detach().clone()
    reduced = value.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / context.world_size


def all_ranks_true(flag: bool, context: DistributedContext) -> bool:
    """Whether ``flag`` holds on every rank (one small collective; the NaN guard's vote).

    Every rank gets the same answer, so all of them stop together instead of leaving the
    others waiting in the next gradient all-reduce.
    """
    if not context.distributed:
        return flag
    vote = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        vote = vote.cuda()
    dist.all_reduce(vote, op=dist.ReduceOp.MIN)
    return bool(vote.item() == 1.0)
