"""Data order that resumes: an endless seeded index stream, and its share per rank.

:class:`ResumableSampler` is an endless stream of dataset indices (one seeded permutation per
epoch, epochs concatenated). Its only state is the number of samples already consumed, so a
trainer stores ``samples_seen`` and resumes exactly where it stopped, whatever the batch size
was. :class:`ShardedResumableSampler` gives each ``torchrun`` rank its slice of the same
stream. The loaders never touch the global torch RNG.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from core.training.distributed import DistributedContext


def epoch_permutation(dataset_size: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch ``epoch`` visits a dataset: a permutation seeded by both."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(dataset_size, generator=generator)


class ResumableSampler(Sampler[int]):
    """Endless, deterministic stream of dataset indices that resumes from a sample count.

    The stream is the concatenation of :func:`epoch_permutation` for epochs 0, 1, 2, ...;
    ``start`` skips the first ``start`` indices of it. A trainer records how many samples it
    has consumed (``samples_seen``, the sum of its batch sizes) and passes that back as
    ``start`` on resume: the data order then continues exactly, even if batch sizes changed
    between levels. DataLoader workers prefetching ahead does not matter, because the state
    is the trainer's count, not the sampler's position.

    Args:
        dataset_size: number of items in the dataset (> 0).
        seed: seed of the permutations.
        start: number of stream entries already consumed.
    """

    def __init__(self, dataset_size: int, seed: int, start: int = 0) -> None:
        if dataset_size <= 0:
            raise ValueError(
                f"dataset_size must be positive, got {dataset_size}: the data is empty"
            )
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.dataset_size = dataset_size
        self.seed = seed
        self.start = start

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.dataset_size)
        while True:
            order = epoch_permutation(self.dataset_size, self.seed, epoch)
            yield from order[offset:].tolist()
            epoch, offset = epoch + 1, 0


def resumable_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    samples_seen: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """An endless DataLoader over :class:`ResumableSampler`, independent of the global RNG.

    The loader gets its own seeded ``torch.Generator`` (for worker seeds), so creating it does
    not advance the global torch RNG: a run resumed mid-way and an uninterrupted run see the
    same global RNG sequence. Iterate it with ``next()`` / ``for``: it never ends.

    Args:
        dataset: a map-style dataset with ``__len__``.
        batch_size: items per batch (the last batch of an epoch borrows from the next epoch).
        seed: seed of the data order.
        samples_seen: how many items earlier steps consumed (sum of their batch sizes).
        num_workers: DataLoader worker processes (0 = load in the main process).
        pin_memory: pin batches for faster host-to-GPU copies.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    sampler = ResumableSampler(len(dataset), seed, start=samples_seen)  # type: ignore[arg-type]
    return loader_over(dataset, sampler, batch_size, seed, num_workers, pin_memory)


def loader_over(
    dataset: Dataset,
    sampler: Sampler[int],
    batch_size: int,
    generator_seed: int,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """The DataLoader every resumable stream uses: the order is the sampler's alone.

    Its own seeded ``torch.Generator`` keeps worker seeds off the global RNG (see
    :func:`resumable_loader`); the distributed loader passes a per-rank seed.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(generator_seed),
        persistent_workers=False,
    )


class ShardedResumableSampler(Sampler[int]):
    """This rank's share of :class:`ResumableSampler`'s endless stream.

    The global stream is cut into global batches of ``batch_size * world_size`` items; rank r
    yields items ``[r * batch_size, (r + 1) * batch_size)`` of each. Ranks therefore see
    disjoint shards and together exactly the single-process stream, and ``start`` (the
    GLOBAL number of samples consumed) resumes them all.

    Args:
        dataset_size: items in the data set.
        seed: seed of the data order (same on all ranks).
        batch_size: per-rank batch size.
        context: this rank.
        start: global samples already consumed (a multiple of the global batch when resuming
            a run with this world size).
    """

    def __init__(
        self,
        dataset_size: int,
        seed: int,
        batch_size: int,
        context: DistributedContext,
        start: int = 0,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.stream = ResumableSampler(dataset_size, seed, start)
        self.batch_size = batch_size
        self.context = context

    def __iter__(self) -> Iterator[int]:
        global_batch = self.batch_size * self.context.world_size
        first = self.context.rank * self.batch_size
        for position, index in enumerate(self.stream):
            if first <= position % global_batch < first + self.batch_size:
                yield index


def sharded_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    context: DistributedContext,
    samples_seen: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """:func:`resumable_loader` for one rank: endless, resumable, sharded.

    Args:
        dataset: a map-style dataset with ``__len__``.
        batch_size: per-rank batch size (global batch = ``batch_size * world_size``).
        seed: seed of the data order.
        context: this rank.
        samples_seen: GLOBAL items earlier steps consumed.
        num_workers: DataLoader worker processes.
        pin_memory: pin batches for host-to-GPU copies.
    """
    sampler = ShardedResumableSampler(
        len(dataset),  # type: ignore[arg-type]
        seed,
        batch_size,
        context,
        start=samples_seen,
    )
    return loader_over(dataset, sampler, batch_size, seed + context.rank, num_workers, pin_memory)
