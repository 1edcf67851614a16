"""Batch catalog try-on: every (person, garment) pair, resumable, with a JSONL manifest.

The engine-independent parts are pure and small so another engine (Ray Data) can reuse them:

- :func:`plan_pairs`: the list of :class:`Pair` to make (all pairs, or a pairs file).
- :class:`Manifest`: the append-only JSONL record of outcomes; a pair is *done* iff its
  latest record says ``ok`` AND its output file exists.
- :func:`process_pair`: one pair through a pipeline -> :class:`ManifestRecord` (never raises
  for a bad input: the error is recorded).
- :func:`run_local`: the local engine: a multiprocessing pool whose initializer builds one
  pipeline per worker, results appended to the manifest by the parent as they arrive.

Output layout under ``OUT``: ``results/<garment stem>/<person stem>.png`` (written
atomically: temp file then rename), ``manifest.jsonl``, ``contact_sheets/`` and
``index.html`` (:mod:`tryon.contact_sheet`).

A person photo may come with its keypoints: an OpenPose JSON ``<stem>_keypoints.json``
next to it is used instead of running the pose estimator.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.files import remove_stale_temporaries
from tryon.errors import InvalidInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MANIFEST_FILE = "manifest.jsonl"
RESULTS_DIR = "results"
SHEETS_DIR = "contact_sheets"
KEYPOINTS_SUFFIX = "_keypoints.json"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Pair:
    """One try-on to make: a person photo and a garment photo (absolute paths)."""

    person: Path
    garment: Path

    @property
    def key(self) -> str:
        """Unique name of the pair (``<person stem>__<garment stem>``)."""
        return f"{self.person.stem}__{self.garment.stem}"

    @property
    def output(self) -> Path:
        """Output path relative to the batch's out folder."""
        return Path(RESULTS_DIR) / self.garment.stem / f"{self.person.stem}.png"

    @property
    def keypoints_file(self) -> Path:
        return self.person.with_name(self.person.stem + KEYPOINTS_SUFFIX)


def list_images(folder: str | Path, skipped: list[str] | None = None) -> list[Path]:
    """Image files of a folder (not recursive), sorted by name, as absolute paths.

    Links are kept as they are named (not resolved), so two links to one photo are two
    people with their own results. An entry with an image suffix that is not a readable file
    (a symlink loop, a broken link, a folder) is left out and described in ``skipped``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a folder of images")
    images = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.is_file():
            images.append(_absolute(path))
        elif skipped is not None:
            skipped.append(f"{path}: not a readable file (a folder, a broken link or a link loop)")
    return images


def _absolute(path: Path) -> Path:
    """``path`` made absolute and normalised without following links (unlike ``resolve``)."""
    return Path(os.path.abspath(path))


def plan_pairs(
    people_dir: str | Path,
    garments_dir: str | Path,
    pairs_file: str | Path | None = None,
    skipped: list[str] | None = None,
) -> list[Pair]:
    """The pairs of a batch: every person x every garment, or the lines of ``pairs_file``.

    Args:
        people_dir: folder of person photos.
        garments_dir: folder of garment product photos.
        pairs_file: optional text file, one ``person_file garment_file`` per line (the
            VITON-HD pairs format; names relative to the two folders; ``#`` comments).
        skipped: collects a line per folder entry left out (see :func:`list_images`).

    Returns:
        Pairs in a stable order (persons, then garments, sorted; or the file's order), without
        duplicates.

    Raises:
        InvalidInputError: a folder is missing or empty, or the pairs file names a missing
            file or is malformed.
    """
    people_dir, garments_dir = Path(people_dir), Path(garments_dir)
    if pairs_file is None:
        people = list_images(people_dir, skipped)
        garments = list_images(garments_dir, skipped)
        if not people or not garments:
            raise InvalidInputError(
                f"no images found in {people_dir if not people else garments_dir} "
                f"(looked for {', '.join(IMAGE_SUFFIXES)})"
            )
        pairs = [Pair(p, g) for g in garments for p in people]
    else:
        pairs = list(_read_pairs_file(Path(pairs_file), people_dir, garments_dir))
    unique = list(dict.fromkeys(pairs))
    keys = [pair.key for pair in unique]
    if len(set(keys)) != len(keys):
        raise InvalidInputError(
            "two pairs share a person and garment file stem (e.g. a.png and a.jpg); rename one"
        )
    return unique


def _read_pairs_file(path: Path, people_dir: Path, garments_dir: Path) -> Iterator[Pair]:
    if not path.is_file():
        raise InvalidInputError(f"pairs file {path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"pairs file {path} cannot be read as text ({error})") from error
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        names = text.split()
        if len(names) != 2:
            raise InvalidInputError(
                f"{path}:{number}: expected 'person_file garment_file', got {line!r}"
            )
        person, garment = people_dir / names[0], garments_dir / names[1]
        for file in (person, garment):
            if not file.is_file():
                raise InvalidInputError(f"{path}:{number}: {file} does not exist")
        yield Pair(_absolute(person), _absolute(garment))


@dataclass(frozen=True)
class ManifestRecord:
    """One outcome of one pair, one JSON line of the manifest.

    Attributes:
        key: :attr:`Pair.key`.
        person, garment: input paths.
        status: "ok" or "error".
        output: output path relative to the out folder ("" on error).
        timings: pipeline stage -> seconds (plus "load" and "save").
        error: ``ErrorType: message`` on error, else "".
        seconds: wall time of the pair.
        worker: process id that made it.
        finished: wall-clock time (``time.time()``) the pair ended; steady-state throughput
            is read from these (0 in manifests written before it existed).
    """

    key: str
    person: str
    garment: str
    status: str
    output: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    worker: int = 0
    finished: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Manifest:
    """Append-only JSONL manifest of a batch; the latest record of a key wins.

    Lines are appended with a flush and fsync each, so a kill loses at most the line being
    written. Reading survives what a kill or a stray edit leaves: a line that is not a whole
    record (torn, not UTF-8, not JSON, a field of the wrong type) is skipped and its number
    kept in :attr:`skipped`, so its pair is simply made again; an append after a torn last
    line starts on a fresh line, so the new record is not glued onto the fragment.

    Attributes:
        path: the JSONL file.
        records: key -> latest :class:`ManifestRecord`.
        skipped: 1-based numbers of the lines that could not be read.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, ManifestRecord] = {}
        self.skipped: list[int] = []
        if not self.path.exists():
            return
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise InvalidInputError(
                f"{self.path}: the manifest cannot be read ({error.strerror or error})"
            ) from error
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line.strip():
                continue
            record = _parse_record(line)
            if record is None:
                self.skipped.append(number)
            else:
                self.records[record.key] = record

    def output_path(self, record: ManifestRecord, out_dir: str | Path) -> Path | None:
        """Where ``record``'s output is, or None unless it is a file inside ``out_dir``.

        A manifest is data, not instructions: a record naming a file outside the folder
        (an absolute path, ``..``, a link out of it) never counts and is never shown.
        """
        if not record.ok or not record.output:
            return None
        root = Path(out_dir).resolve()
        path = (root / record.output).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def is_done(self, pair: Pair, out_dir: str | Path) -> bool:
        """True iff the latest record of ``pair`` is ok and names the pair's own output file,
        which exists inside ``out_dir``."""
        record = self.records.get(pair.key)
        return (
            record is not None
            and record.output == pair.output.as_posix()
            and self.output_path(record, out_dir) is not None
        )

    def append(self, record: ManifestRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(record)).encode("utf-8") + b"\n"
        with self.path.open("a+b") as stream:
            if stream.seek(0, os.SEEK_END) > 0:
                stream.seek(-1, os.SEEK_END)
                if stream.read(1) != b"\n":  # a torn last line: start a fresh one
                    line = b"\n" + line
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())
        self.records[record.key] = record


_RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "person": str,
    "garment": str,
    "status": str,
    "output": str,
    "timings": dict,
    "error": str,
    "seconds": (int, float),
    "worker": int,
    "finished": (int, float),
}


def _parse_record(line: bytes) -> ManifestRecord | None:
    """One manifest line as a record; None for anything that is not a whole, typed record."""
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) - set(_RECORD_TYPES):
        return None
    for name, kind in _RECORD_TYPES.items():
        if name in data and (not isinstance(data[name], kind) or isinstance(data[name], bool)):
            return None
    if data.get("status") not in ("ok", "error") or not data.get("key"):
        return None
    try:
        return ManifestRecord(**data)
    except TypeError:  # a required field is missing
        return None


def read_keypoints_file(path: str | Path) -> np.ndarray:
    """The first person's (18, 2) keypoints of an OpenPose JSON file (CLI, batch and app).

    Raises:
        InvalidInputError: unreadable, not OpenPose JSON (of any shape), or lists nobody.
    """
    from tryon.preprocess import PrecomputedPoseEstimator

    try:
        people = PrecomputedPoseEstimator.from_openpose_json(path).people
    except (TypeError, KeyError, IndexError) as error:  # JSON of another shape
        raise InvalidInputError(
            f"{path}: not a readable OpenPose JSON file ({type(error).__name__}: {error})"
        ) from error
    if not people:
        raise InvalidInputError(f"{path} lists no person")
    return people[0]


def _person_keypoints(pair: Pair) -> np.ndarray | None:
    return read_keypoints_file(pair.keypoints_file) if pair.keypoints_file.is_file() else None


MIN_DRESSED_FRACTION = 0.01
"""The least share of the person a try-on's garment must cover to count as done."""


def check_dressed(result: Any, person: np.ndarray) -> None:
    """Refuse to report success for a try-on that changed nothing.

    Args:
        result: a :class:`tryon.pipeline.TryOnResult`.
        person: the photo it dressed.

    Raises:
        InvalidInputError: the output is the photo unchanged, or (own and catalog views) the
            fitted garment covers less than :data:`MIN_DRESSED_FRACTION` of the person.
    """
    if result.image.shape == person.shape and np.array_equal(result.image, person):
        raise InvalidInputError("the try-on changed nothing in the photo; nothing was written")
    alpha = result.layers.get("alpha")
    if alpha is None:  # the paper view regenerates the frame: nothing to measure
        return
    covered = float((np.asarray(alpha) >= 128).sum()) / max(1, int(result.person_mask.sum()))
    if covered < MIN_DRESSED_FRACTION:
        raise InvalidInputError(
            f"the garment was not applied: it covers {covered:.1%} of the person; check that "
            "the garment photo shows the whole garment on a plain background and that the "
            "person faces the camera"
        )


def process_pair(pipeline: Callable[..., Any], pair: Pair, out_dir: str | Path) -> ManifestRecord:
    """Run one pair and write its output atomically; errors become an "error" record.

    Args:
        pipeline: a :class:`tryon.pipeline.TryOnPipeline` (or anything called the same way).
        pair: the pair.
        out_dir: the batch's out folder.

    Returns:
        The :class:`ManifestRecord` (not yet appended to any manifest).
    """
    from tryon.imageio import load_image, save_image
    from tryon.pipeline.pipeline import check_keypoints, check_photo

    start = time.perf_counter()
    base = {"key": pair.key, "person": str(pair.person), "garment": str(pair.garment)}
    try:
        target = Path(out_dir) / pair.output
        inputs = (pair.person, pair.garment)
        if target.exists() and any(os.path.samefile(target, source) for source in inputs):
            raise InvalidInputError(f"{target} is one of the pair's inputs; not overwritten")
        person = check_photo(load_image(pair.person), "person")
        garment = load_image(pair.garment)
        keypoints = _person_keypoints(pair)
        if keypoints is not None:
            keypoints = check_keypoints(keypoints, person.shape[:2], str(pair.keypoints_file))
        loaded = time.perf_counter()
        result = pipeline(person, garment, person_keypoints=keypoints)
        check_dressed(result, person)
        saving = time.perf_counter()
        save_image(target, result.image)
        timings = {"load": loaded - start, **result.timings, "save": time.perf_counter() - saving}
    except Exception as error:  # a bad pair is recorded and the batch goes on
        return ManifestRecord(
            **base,
            status="error",
            error=f"{type(error).__name__}: {error}",
            seconds=time.perf_counter() - start,
            worker=os.getpid(),
            finished=time.time(),
        )
    return ManifestRecord(
        **base,
        status="ok",
        output=pair.output.as_posix(),
        timings={name: round(value, 6) for name, value in timings.items()},
        seconds=time.perf_counter() - start,
        worker=os.getpid(),
        finished=time.time(),
    )


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did: counts, wall time and throughput of the pairs it ran."""

    planned: int
    already_done: int
    ok: int
    failed: int
    seconds: float
    workers: int
    failures: tuple[str, ...] = ()
    """``key: error`` of each pair that failed in this run."""
    unreadable_lines: tuple[int, ...] = ()
    """Manifest lines that could not be read (skipped; their pairs were made again)."""
    stale_temporaries: int = 0
    """Temporaries of writers killed in an earlier run, removed at the start."""

    @property
    def pairs_per_second(self) -> float:
        ran = self.ok + self.failed
        return ran / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        text = (
            f"{self.planned} pairs: {self.already_done} already done, {self.ok} made, "
            f"{self.failed} failed in {self.seconds:.1f} s "
            f"({self.pairs_per_second:.3f} pairs/s with {self.workers} worker(s))"
        )
        if self.unreadable_lines:
            lines = ", ".join(map(str, self.unreadable_lines[:10]))
            more = ", ..." if len(self.unreadable_lines) > 10 else ""
            text += (
                f"; {len(self.unreadable_lines)} unreadable manifest line(s) skipped "
                f"({lines}{more})"
            )
        if self.stale_temporaries:
            text += f"; {self.stale_temporaries} temporary file(s) of a killed run removed"
        return text


LOCK_FILE = ".batch.lock"
_HELD_LOCKS: set[tuple[Path, int]] = set()


@contextlib.contextmanager
def batch_lock(out_dir: str | Path) -> Iterator[Path]:
    """Hold ``OUT``'s lock: one batch at a time writes a folder (re-entrant in one thread).

    The lock is an ``flock`` on ``OUT/.batch.lock``, released by the kernel when its holder
    exits, however it exits (SIGKILL included), so a crashed batch never blocks the next one.

    Raises:
        InvalidInputError: another process (or thread) holds it.
    """
    folder = Path(out_dir).resolve()
    token = (folder, threading.get_ident())
    if token in _HELD_LOCKS:
        yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise InvalidInputError(
                f"{folder} is in use by another tryon batch ({owner}); wait for it to finish, "
                "or give another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        _HELD_LOCKS.add(token)
        try:
            yield folder
        finally:
            _HELD_LOCKS.discard(token)


def remove_stale_outputs(out_dir: Path) -> int:
    """Delete the temporaries killed writers left in a batch folder (hold its lock first)."""
    removed = remove_stale_temporaries(out_dir, recursive=False)
    for folder in (out_dir / RESULTS_DIR, out_dir / SHEETS_DIR):
        if folder.is_dir():
            removed += remove_stale_temporaries(folder)
    return len(removed)


# One pipeline per worker process, built by the pool initializer.
_WORKER_PIPELINE: Any = None


_WORKER_LOAD_ERROR = ""


_WORKER_PARENT = 0


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the batch process dies (Linux ``prctl``).

    Without it, a batch killed with SIGKILL leaves its workers finishing their pairs and
    writing outputs that no manifest records, after the folder's lock has gone.
    """
    global _WORKER_PARENT
    _WORKER_PARENT = parent
    with contextlib.suppress(OSError, AttributeError):  # not Linux: _work checks instead
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def worker_threads(workers: int) -> int:
    """Threads per worker when the workers share this machine's cores evenly (at least 1)."""
    return max(1, (os.cpu_count() or 1) // workers)


def limit_threads(threads: int) -> None:
    """Cap every thread pool a worker's try-on uses, not only torch's intra-op one.

    Workers share the machine's cores: with torch capped but OpenCV's pool and torch's
    inter-op pool left at one thread per core, two workers on two cores can run more busy
    threads than there are cores. ``set_num_interop_threads`` works only before the first
    parallel torch op, so a process that already ran one keeps its inter-op pool.
    """
    import cv2
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(threads)
    cv2.setNumThreads(threads)


def _init_worker(make_pipeline: Callable[[], Any], threads: int, parent: int = 0) -> None:
    """Build this worker's pipeline; a failure is kept and reported per pair (a raising
    initializer would make the pool respawn workers forever).

    Ctrl-C is for the batch process (it stops the pool, whose SIGTERM ends the workers at
    once); a worker ignores SIGINT and dies with the batch process. A temporary a worker
    leaves that way is removed by the batch (:func:`remove_stale_outputs`).
    """
    global _WORKER_PIPELINE, _WORKER_LOAD_ERROR
    if parent:
        _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    try:
        _WORKER_PIPELINE = make_pipeline()
    except Exception as error:  # reported in every record of this worker
        _WORKER_LOAD_ERROR = f"{type(error).__name__}: {error}"


def _work(task: tuple[Pair, str]) -> ManifestRecord:
    pair, out_dir = task
    if _WORKER_PARENT and os.getppid() != _WORKER_PARENT:  # orphaned: nobody would record it
        os._exit(1)
    if _WORKER_LOAD_ERROR:
        return load_failure_record(pair, _WORKER_LOAD_ERROR)
    return process_pair(_WORKER_PIPELINE, pair, out_dir)


def load_failure_record(pair: Pair, error: str) -> ManifestRecord:
    """The record of a pair whose worker could not load the pipeline: the batch goes on."""
    return ManifestRecord(
        key=pair.key,
        person=str(pair.person),
        garment=str(pair.garment),
        status="error",
        error=f"the worker could not load the pipeline: {error}",
        worker=os.getpid(),
    )


def run_local(
    pairs: Sequence[Pair],
    out_dir: str | Path,
    make_pipeline: Callable[[], Any],
    workers: int = 1,
    show_progress: bool = True,
    threads: int | None = None,
) -> BatchSummary:
    """Make every pair not yet done, appending each outcome to ``OUT/manifest.jsonl``.

    Args:
        pairs: from :func:`plan_pairs`.
        out_dir: the out folder (created).
        make_pipeline: builds a pipeline; called once per worker (picklable when
            ``workers > 1``, e.g. ``functools.partial(TryOnPipeline.from_pretrained, ...)``).
        workers: 1 runs in this process; more start a process pool.
        show_progress: tqdm bar with ETA.
        threads: threads per worker in every pool (torch, OpenCV; :func:`limit_threads`);
            None: :func:`worker_threads` for pool workers, this process left as it is.

    Returns:
        The :class:`BatchSummary`.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return drive_batch(
        pairs,
        Path(out_dir),
        lambda todo, out: _records(todo, out, make_pipeline, workers, threads),
        workers=workers,
        description="try-on",
        show_progress=show_progress,
    )


def drive_batch(
    pairs: Sequence[Pair],
    out_dir: Path,
    make_records: Callable[[list[Pair], str], Iterable[ManifestRecord]],
    workers: int,
    description: str,
    show_progress: bool,
) -> BatchSummary:
    """What every engine shares: skip finished pairs, append each record as it arrives.

    ``make_records(todo, out_dir)`` is the engine (a local pool, Ray actors): it makes the
    pending pairs and yields their records in any order. The driver alone writes the
    manifest, so an interruption loses only the pairs in flight.
    """
    from tqdm import tqdm

    with batch_lock(out_dir):
        stale = remove_stale_outputs(out_dir)  # of a run killed before it could clean up
        manifest = Manifest(out_dir / MANIFEST_FILE)
        todo = [pair for pair in pairs if not manifest.is_done(pair, out_dir)]
        counts = {"ok": 0, "error": 0}
        failures = []
        start = time.perf_counter()
        records = make_records(todo, str(out_dir))
        try:
            with tqdm(
                total=len(pairs),
                initial=len(pairs) - len(todo),
                desc=description,
                unit="pair",
                disable=not show_progress,
            ) as bar:
                for record in records:
                    manifest.append(record)
                    counts[record.status] += 1
                    if not record.ok:
                        failures.append(f"{record.key}: {record.error}")
                    bar.set_postfix(failed=counts["error"], refresh=False)
                    bar.update()
        finally:  # interrupted too: stop the engine's workers, then drop what they left
            close = getattr(records, "close", None)
            if close is not None:
                close()
            remove_stale_outputs(out_dir)
    return BatchSummary(
        planned=len(pairs),
        already_done=len(pairs) - len(todo),
        ok=counts["ok"],
        failed=counts["error"],
        seconds=time.perf_counter() - start,
        workers=workers,
        failures=tuple(failures),
        unreadable_lines=tuple(manifest.skipped),
        stale_temporaries=stale,
    )


def _records(
    todo: list[Pair],
    out_dir: str,
    make_pipeline: Callable[[], Any],
    workers: int,
    threads: int | None,
) -> Iterable[ManifestRecord]:
    if not todo:
        return
    if workers == 1:
        if threads is not None:
            limit_threads(threads)
        pipeline = make_pipeline()
        for pair in todo:
            yield process_pair(pipeline, pair, out_dir)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    tasks = [(pair, out_dir) for pair in todo]
    initargs = (make_pipeline, threads or worker_threads(workers), os.getpid())
    with context.Pool(workers, initializer=_init_worker, initargs=initargs) as pool:
        yield from pool.imap_unordered(_work, tasks)
