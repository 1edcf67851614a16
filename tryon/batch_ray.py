"""Batch catalog try-on on Ray Data: the local engine's manifest, resume and outputs, at scale.

The pairs not yet done (:meth:`tryon.batch.Manifest.is_done`) become a Ray dataset; an actor
class builds the pipeline ONCE per actor and runs :func:`tryon.batch.process_pair` on each
batch (outputs written atomically by it, into the shared out folder). The driver appends each
record to the manifest as rows stream back, so an interruption loses nothing finished and a
re-run resumes exactly like the local engine.

On a cluster the people, garments, models and out folder must be on storage every node sees
at the same path (NFS, a mounted bucket): workers read inputs and write outputs there; only
the small manifest records travel back to the driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tryon.batch import (
    BatchSummary,
    ManifestRecord,
    Pair,
    drive_batch,
    limit_threads,
    load_failure_record,
    process_pair,
)


@dataclass(frozen=True)
class RayOptions:
    """How the Ray engine runs.

    Attributes:
        address: a running cluster (``ray://host:10001`` or ``auto``); None starts a local
            Ray for this batch and shuts it down afterwards.
        workers: number of actors (each loads its own pipeline).
        gpus_per_actor: GPUs reserved per actor (fractions share a GPU, e.g. 0.5).
        batch_size: pairs handed to an actor per call.
        cpus_per_actor: CPUs reserved per actor (each actor's torch uses this many threads).
    """

    address: str | None = None
    workers: int = 2
    gpus_per_actor: float = 0.0
    batch_size: int = 4
    cpus_per_actor: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.gpus_per_actor < 0:
            raise ValueError(f"gpus_per_actor must be >= 0, got {self.gpus_per_actor}")
        if self.cpus_per_actor < 1:
            raise ValueError(f"cpus_per_actor must be >= 1, got {self.cpus_per_actor}")


class PairActor:
    """A Ray Data actor: loads the pipeline once, then makes the pairs of each batch.

    A pipeline that cannot be loaded becomes an error record per pair (like the local
    engine's workers) instead of an actor that Ray restarts over and over.
    """

    def __init__(
        self,
        make_pipeline: Callable[[], Any],
        out_dir: str,
        threads: int,
    ) -> None:
        limit_threads(threads)
        self.out_dir = out_dir
        self.load_error = ""
        try:
            self.pipeline = make_pipeline()
        except Exception as error:  # reported in every record of this actor
            self.load_error = f"{type(error).__name__}: {error}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        records = []
        for person, garment in zip(batch["person"], batch["garment"], strict=True):
            pair = Pair(Path(person), Path(garment))
            records.append(asdict(self._record(pair)))
        return {"record": [json.dumps(record) for record in records]}

    def _record(self, pair: Pair) -> ManifestRecord:
        if self.load_error:
            return load_failure_record(pair, self.load_error)
        return process_pair(self.pipeline, pair, self.out_dir)


def run_ray(
    pairs: Sequence[Pair],
    out_dir: str | Path,
    make_pipeline: Callable[[], Any],
    options: RayOptions = RayOptions(),
    show_progress: bool = True,
) -> BatchSummary:
    """Make every pair not yet done with Ray Data, appending each outcome to the manifest.

    Args:
        pairs: from :func:`tryon.batch.plan_pairs`.
        out_dir: the out folder (created); on a cluster, a path every node shares.
        make_pipeline: builds a pipeline, called once per actor (pickled to the actors, e.g.
            ``functools.partial(TryOnPipeline.from_pretrained, ...)``).
        options: :class:`RayOptions`.
        show_progress: tqdm bar with ETA (Ray's own progress bars stay off).

    Returns:
        The :class:`tryon.batch.BatchSummary` (``seconds`` includes Ray start-up).
    """
    return drive_batch(
        pairs,
        Path(out_dir).resolve(),
        lambda todo, out: _ray_records(todo, out, make_pipeline, options),
        workers=options.workers,
        description="try-on (ray)",
        show_progress=show_progress,
    )


def _ray_records(
    todo: list[Pair],
    out_dir: str,
    make_pipeline: Callable[[], Any],
    options: RayOptions,
) -> Iterator[ManifestRecord]:
    if not todo:
        return
    import logging

    import ray

    started_here = not ray.is_initialized()
    if started_here:
        _start_ray(options)
    try:
        context = ray.data.DataContext.get_current()  # imports ray.data: its logging config
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines
        context.enable_progress_bars = False
        context.execution_options.verbose_progress = False
        items = [{"person": str(pair.person), "garment": str(pair.garment)} for pair in todo]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            PairActor,
            fn_constructor_args=(make_pipeline, out_dir, options.cpus_per_actor),
            batch_size=options.batch_size,
            compute=ray.data.ActorPoolStrategy(size=options.workers),
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
        )
        for row in dataset.iter_rows():
            yield ManifestRecord(**json.loads(row["record"]))
    finally:
        if started_here:
            ray.shutdown()


def _start_ray(options: RayOptions) -> None:
    import logging

    import ray

    if options.address is not None:
        ray.init(address=options.address, logging_level=logging.WARNING, log_to_driver=False)
        return
    ray.init(
        num_cpus=options.workers * options.cpus_per_actor,
        num_gpus=None if options.gpus_per_actor else 0,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        configure_logging=True,
    )
