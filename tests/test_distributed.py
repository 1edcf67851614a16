"""Data-parallel helpers: sharded sampling, and 2 gloo ranks == 1 process on the global batch."""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import TensorDataset

from hpn.distributed import (
    DistributedContext,
    ShardedResumableSampler,
    all_reduce_mean,
    init_from_env,
    sharded_loader,
    shutdown,
    unwrap,
    wrap_model,
)
from hpn.training import ResumableSampler, resumable_loader

PER_RANK_BATCH, WORLD, STEPS, SEED = 2, 2, 4, 3
# float32 sums over ranks and over the batch happen in another order than in one process;
# after a few Adam steps that leaves differences of ~1e-7; 1e-5 is far below the ~1e-3 a
# different data order or per-rank BatchNorm statistics cause (asserted below: on CPU
# PyTorch has no SyncBatchNorm, so only a per-sample normalisation matches exactly).
TOLERANCE = 1e-5


def _dataset() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(12, 3, 8, 8, generator=generator)
    return TensorDataset(inputs, inputs.mean(dim=1, keepdim=True).tanh())


def _model(batchnorm: bool) -> nn.Module:
    """GroupNorm normalises each sample alone (rank-independent); BatchNorm uses the batch."""
    torch.manual_seed(SEED)
    norm = nn.BatchNorm2d(4) if batchnorm else nn.GroupNorm(2, 4)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), norm, nn.ReLU(), nn.Conv2d(4, 1, 1))


def _train(model: nn.Module, loader, steps: int) -> dict[str, torch.Tensor]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batches = iter(loader)
    for _ in range(steps):
        inputs, targets = next(batches)
        loss = nn.functional.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {key: value.detach().clone() for key, value in unwrap(model).state_dict().items()}


def _rank(rank: int, port: int, batchnorm: bool, out: Path) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    context = init_from_env("gloo")
    try:
        if batchnorm:  # SyncBatchNorm is CUDA-only in PyTorch: refused on CPU, clearly
            with pytest.raises(ValueError, match="SyncBatchNorm needs CUDA"):
                wrap_model(_model(batchnorm), context, sync_batchnorm=True)
        model = wrap_model(_model(batchnorm), context, sync_batchnorm=False)
        loader = sharded_loader(_dataset(), PER_RANK_BATCH, SEED, context)
        weights = _train(model, loader, STEPS)
        mean_rank = all_reduce_mean(torch.tensor(float(rank)), context)
        if context.is_main:
            torch.save({"weights": weights, "mean_rank": mean_rank}, out)
    finally:
        shutdown(context)


def _two_ranks(tmp_path: Path, batchnorm: bool) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / f"rank0-batchnorm{batchnorm}.pt"
    mp.spawn(_rank, args=(port, batchnorm, out), nprocs=WORLD, join=True)
    return torch.load(out)


def _max_difference(first: dict, second: dict) -> float:
    return max((first[key].float() - second[key].float()).abs().max().item() for key in first)


def test_shards_are_disjoint_and_together_the_single_process_stream() -> None:
    stream = list(itertools.islice(ResumableSampler(10, seed=5, start=4), 24))
    shards = [
        list(
            itertools.islice(
                ShardedResumableSampler(10, 5, 3, DistributedContext(rank, 2), start=4), 12
            )
        )
        for rank in range(2)
    ]
    for step in range(4):
        global_batch = stream[step * 6 : (step + 1) * 6]
        assert shards[0][step * 3 : step * 3 + 3] + shards[1][step * 3 : step * 3 + 3] == (
            global_batch
        )


def test_single_process_context_without_torchrun_env(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    context = init_from_env()
    assert (context.rank, context.world_size, context.is_main) == (0, 1, True)
    model = _model(batchnorm=True)
    assert wrap_model(model, context, sync_batchnorm=True) is model
    with pytest.raises(ValueError, match="RANK"):
        DistributedContext(rank=2, world_size=2)


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process_on_the_global_batch(tmp_path) -> None:
    torch.set_num_threads(1)
    for batchnorm in (False, True):
        single_loader = resumable_loader(_dataset(), PER_RANK_BATCH * WORLD, SEED)
        single = _train(_model(batchnorm), single_loader, STEPS)
        ranks = _two_ranks(tmp_path, batchnorm)
        assert ranks["mean_rank"].item() == pytest.approx(0.5)
        difference = _max_difference(ranks["weights"], single)
        if batchnorm:  # per-rank batch statistics: a different (valid) estimator
            assert difference > 100 * TOLERANCE
        else:
            assert difference < TOLERANCE
