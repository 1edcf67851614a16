"""``tryon data synth``: render a synthetic data set and write it in both published layouts.

Per identity: K posed photos and one canonical frontal photo of the same outfit, the upper
garment as a flat product photo with its mask, and (test split) the exact ground truth of an
unpaired try-on with another test identity's garment, for both views: the same person in
the canonical pose wearing it (``tryon-gt``: the catalog view's truth) and the same person in
each of their own poses, same background and light, wearing it (``tryon-gt-own``: the own
view's truth). The published sets have paired truth only. Every image is written
once into the VITON-HD layout and hard-linked into the DeepFashion layout.

Determinism: identity i draws everything from ``SeedSequence([seed, i])``, so the output does
not depend on the number of worker processes or on the order they finish in. Resumability: an
identity is done once its record (``.synth-progress/<name>.json``) exists; records are written
last, so an interrupted run redoes at most the identities in flight. The pair and annotation
files are rebuilt from the records at the end of every run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import resource
import shutil
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.files import write_text_atomic
from tryon.data import lip
from tryon.data.keypoint_formats import (
    write_deepfashion_annotations,
    write_openpose_json,
    write_pairs_csv,
)
from tryon.data.synthetic.params import (
    CANONICAL_POSE,
    GarmentParams,
    IdentityParams,
    Pose,
    sample_garment,
    sample_identity,
    sample_pose,
)
from tryon.data.synthetic.render import render_person, render_product
from tryon.data.synthetic.skeleton import canonical_keypoints
from tryon.data.synthetic.style import (
    STYLES,
    PhotoStyle,
    Shot,
    sample_photo_style,
)
from tryon.errors import InvalidInputError

GENERATOR_VERSION = 4  # bump whenever the same settings would give other pixels
TEST_FRACTION = 0.2  # of identities, the last ones by index
MANIFEST = "synthetic.json"
PROGRESS_DIR = ".synth-progress"
PNG_LEVEL = 3  # zlib level: 2.2x faster to encode than 6 for ~10% more bytes (256px photos)
VITON_FOLDERS = ("image", "cloth", "cloth-mask", "image-parse-v3", "openpose_json", "person-mask")
TARGET_BACKDROPS: tuple[str, ...] = ("scene", "studio")
STUDIO_FOLDER = "studio"  # deepfashion/studio/<split>/: the person photos on the studio backdrop


@dataclasses.dataclass(frozen=True)
class SynthSettings:
    """What a synthetic data set is made from; the same settings give the same bytes.

    ``style`` "flat" renders plain backdrops and flat colours (the original generator);
    "photo" adds the photographic style (:mod:`tryon.data.synthetic.style`): backdrops from
    bundled photos and walls, light, camera noise, blur and JPEG, shoppers' framings,
    occluders and garment folds.

    ``target_backdrop`` "studio" also renders every person photo a second time on the studio
    backdrop of the canonical view (:func:`hpn.repose.studio_backdrop`; same person, pose,
    framing, light and camera, no occluder) into ``deepfashion/studio/<split>/``: pose
    targets as the canonical view must draw them, whatever scene the source photo shows.
    """

    identities: int
    poses: int
    size: int
    seed: int = 0
    style: str = "flat"
    target_backdrop: str = "scene"

    def __post_init__(self) -> None:
        if self.identities < 1:
            raise ValueError(f"--identities must be at least 1, got {self.identities}")
        if self.poses < 1:
            raise ValueError(f"--poses must be at least 1, got {self.poses}")
        if not 64 <= self.size <= 1024:
            raise ValueError(f"--size must be between 64 and 1024 pixels, got {self.size}")
        if self.style not in STYLES:
            raise ValueError(f"--style must be one of {', '.join(STYLES)}, got {self.style!r}")
        if self.target_backdrop not in TARGET_BACKDROPS:
            raise ValueError(
                f"--target-backdrop must be one of {', '.join(TARGET_BACKDROPS)}, "
                f"got {self.target_backdrop!r}"
            )


@dataclasses.dataclass(frozen=True)
class SyntheticIdentity:
    """One identity's random draw: the person, their upper garment, their K poses and (photo
    style) how each photo was taken."""

    identity: IdentityParams
    garment: GarmentParams
    poses: tuple[Pose, ...]
    photo: PhotoStyle | None = None

    def shots(self) -> tuple[Shot | None, ...]:
        """The shot of each posed photo, then of the frontal one (all None in the flat style)."""
        if self.photo is None:
            return (None,) * (len(self.poses) + 1)
        return (*self.photo.posed, self.photo.frontal)


def identity_name(index: int) -> str:
    return f"id{index:05d}"


def test_identity_count(identities: int) -> int:
    """How many identities go to the test split: 20%, at least one when there are two."""
    return 0 if identities < 2 else max(1, round(identities * TEST_FRACTION))


def split_of(index: int, identities: int) -> str:
    return "test" if index >= identities - test_identity_count(identities) else "train"


def draw_identity(seed: int, index: int, poses: int, style: str = "flat") -> SyntheticIdentity:
    """Identity ``index`` of the data set made with ``seed`` (independent of everything else).

    The photo style draws the same person, garment and poses as the flat style (those draws
    come first) and continues the same random stream for its shots.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    identity, garment = sample_identity(rng), sample_garment(rng)
    drawn_poses = tuple(sample_pose(rng) for _ in range(poses))
    if style == "flat":
        return SyntheticIdentity(identity, garment, drawn_poses)
    return SyntheticIdentity(identity, garment, drawn_poses, sample_photo_style(rng, poses))


def unpaired_partner(index: int, identities: int) -> int | None:
    """The test identity whose garment test identity ``index`` tries on (the next one)."""
    test_count = test_identity_count(identities)
    if split_of(index, identities) != "test" or test_count < 2:
        return None
    first = identities - test_count
    return first + (index - first + 1) % test_count


def _write_rgb(path: Path, image: np.ndarray) -> None:
    cv2.imwrite(
        str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL]
    )


def _write_mask(path: Path, mask: np.ndarray) -> None:
    cv2.imwrite(str(path), mask.astype(np.uint8) * 255, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])


def write_parse_png(path: str | Path, parse: np.ndarray) -> None:
    """Write LIP ids as a palette PNG (pixel values are the ids; the palette is for viewing)."""
    image = Image.fromarray(np.ascontiguousarray(parse, dtype=np.uint8))
    image.putpalette(lip.PALETTE.reshape(-1).tolist())
    image.save(path, compress_level=PNG_LEVEL)


def link_or_copy(source: Path, destination: Path) -> None:
    """Hard-link ``source`` to ``destination`` (replacing it); copy where links are refused."""
    destination.unlink(missing_ok=True)
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def _keypoints_json(keypoints: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(v) else round(float(v), 3) for v in point] for point in keypoints]


def _keypoints_from_json(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], np.float32)


def _make_folders(root: Path, studio: bool = False) -> None:
    for split in ("train", "test"):
        for folder in VITON_FOLDERS:
            (root / "viton" / split / folder).mkdir(parents=True, exist_ok=True)
        (root / "deepfashion" / split).mkdir(parents=True, exist_ok=True)
        (root / "deepfashion" / "person-mask" / split).mkdir(parents=True, exist_ok=True)
        if studio:
            (root / "viton" / split / "image-studio").mkdir(parents=True, exist_ok=True)
            (root / "deepfashion" / STUDIO_FOLDER / split).mkdir(parents=True, exist_ok=True)
    for folder in ("tryon-gt", "tryon-gt-parse", "tryon-gt-own", "tryon-gt-own-parse"):
        (root / "viton" / "test" / folder).mkdir(parents=True, exist_ok=True)
    (root / PROGRESS_DIR).mkdir(parents=True, exist_ok=True)


def write_identity(root: Path, settings: SynthSettings, index: int) -> dict:
    """Render and write identity ``index`` in both layouts; returns (and stores) its record."""
    name, split = identity_name(index), split_of(index, settings.identities)
    drawn = draw_identity(settings.seed, index, settings.poses, settings.style)
    viton, deepfashion = root / "viton" / split, root / "deepfashion"
    stems = [f"{name}_pose{k:02d}" for k in range(settings.poses)] + [f"{name}_frontal"]
    poses, shots = [*drawn.poses, CANONICAL_POSE], drawn.shots()
    keypoints = {}
    studio = None
    if settings.target_backdrop == "studio":
        from hpn.repose import studio_backdrop

        ramp = studio_backdrop((settings.size, settings.size))
        studio = np.clip(np.round(ramp), 0, 255).astype(np.uint8)
    for stem, pose, shot in zip(stems, poses, shots, strict=True):
        sample = render_person(drawn.identity, drawn.garment, pose, settings.size, shot)
        file = f"{stem}.png"
        if studio is not None:
            target = render_person(
                drawn.identity, drawn.garment, pose, settings.size, shot, backdrop=studio
            )
            _write_rgb(viton / "image-studio" / file, target.image)
            link_or_copy(viton / "image-studio" / file, deepfashion / STUDIO_FOLDER / split / file)
        _write_rgb(viton / "image" / file, sample.image)
        write_parse_png(viton / "image-parse-v3" / file, sample.parse)
        _write_mask(viton / "person-mask" / file, sample.person_mask)
        write_openpose_json(viton / "openpose_json" / f"{stem}_keypoints.json", sample.keypoints)
        link_or_copy(viton / "image" / file, deepfashion / split / file)
        link_or_copy(viton / "person-mask" / file, deepfashion / "person-mask" / split / file)
        keypoints[file] = _keypoints_json(sample.keypoints)
    cloth = f"{name}_cloth.png"
    gains = None if drawn.photo is None else drawn.photo.product_gains
    product = render_product(drawn.garment, settings.size, gains)
    _write_rgb(viton / "cloth" / cloth, product.image)
    _write_mask(viton / "cloth-mask" / cloth, product.mask)
    unpaired = []
    partner = unpaired_partner(index, settings.identities)
    if partner is not None:
        partner_garment = draw_identity(
            settings.seed, partner, settings.poses, settings.style
        ).garment
        partner_cloth = f"{identity_name(partner)}_cloth.png"
        truth = render_person(
            drawn.identity, partner_garment, CANONICAL_POSE, settings.size, shots[-1]
        )
        gt_files = [f"{stem}__{identity_name(partner)}_cloth.png" for stem in stems[:-1]]
        _write_rgb(viton / "tryon-gt" / gt_files[0], truth.image)
        write_parse_png(viton / "tryon-gt-parse" / gt_files[0], truth.parse)
        for gt_file in gt_files[1:]:
            link_or_copy(viton / "tryon-gt" / gt_files[0], viton / "tryon-gt" / gt_file)
            link_or_copy(viton / "tryon-gt-parse" / gt_files[0], viton / "tryon-gt-parse" / gt_file)
        for pose, shot, gt_file in zip(poses, shots, gt_files, strict=False):  # the posed ones
            own = render_person(drawn.identity, partner_garment, pose, settings.size, shot)
            _write_rgb(viton / "tryon-gt-own" / gt_file, own.image)
            write_parse_png(viton / "tryon-gt-own-parse" / gt_file, own.parse)
        unpaired = [[f"{stem}.png", partner_cloth] for stem in stems[:-1]]
    record = {
        "name": name,
        "split": split,
        "images": list(keypoints),
        "frontal": f"{name}_frontal.png",
        "cloth": cloth,
        "keypoints": keypoints,
        "unpaired": unpaired,
        "garment": dataclasses.asdict(drawn.garment),
        "hair_style": drawn.identity.hair_style,
        "bottom": drawn.identity.bottom.kind,
    }
    if drawn.photo is not None:
        record["shots"] = {
            file: shot.summary() for file, shot in zip(keypoints, shots, strict=True)
        }
    progress = root / PROGRESS_DIR / f"{name}.json"
    write_text_atomic(progress, json.dumps(record))
    return record


def _settings_dict(settings: SynthSettings) -> dict:
    """The manifest's settings; the default flat style and scene targets are left out, so
    data sets made without them keep the manifest (and resume) they had before they existed
    (their pixels are unchanged: the studio targets are extra files)."""
    values = dataclasses.asdict(settings)
    if values["style"] == "flat":
        del values["style"]
    if values["target_backdrop"] == "scene":
        del values["target_backdrop"]
    return {"generator_version": GENERATOR_VERSION, **values}


def _claim_folder(root: Path, settings: SynthSettings) -> None:
    """Start or resume a data set in ``root``; refuse a folder made with other settings."""
    manifest = root / MANIFEST
    if manifest.exists():
        existing = json.loads(manifest.read_text()).get("settings")
        if existing != _settings_dict(settings):
            raise InvalidInputError(
                f"{root} already holds a synthetic data set made with other settings "
                f"({existing}); choose another --out or delete that folder"
            )
    elif root.exists() and any(root.iterdir()):
        raise InvalidInputError(
            f"{root} is not empty and is not a synthetic data set; choose another --out"
        )
    root.mkdir(parents=True, exist_ok=True)
    _make_folders(root, settings.target_backdrop == "studio")
    if not manifest.exists():
        manifest.write_text(
            json.dumps({"settings": _settings_dict(settings), "complete": False}, indent=1)
        )


def _init_worker() -> None:
    cv2.setNumThreads(1)  # parallelism comes from processes


def _run(root: Path, settings: SynthSettings, todo: list[int], workers: int) -> Iterator[dict]:
    job = partial(write_identity, root, settings)
    if workers <= 1 or len(todo) <= 1:
        _init_worker()
        yield from map(job, todo)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with context.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(job, todo)


def _load_records(root: Path, settings: SynthSettings) -> list[dict]:
    return [
        json.loads((root / PROGRESS_DIR / f"{identity_name(index)}.json").read_text())
        for index in range(settings.identities)
    ]


def _write_index_files(root: Path, settings: SynthSettings, records: list[dict]) -> dict:
    """Pairs, annotations and the manifest, rebuilt from the identity records."""
    counts = {}
    for split in ("train", "test"):
        mine = [record for record in records if record["split"] == split]
        annotations, pairs, viton_pairs, unpaired = {}, [], [], []
        for record in mine:
            posed = [image for image in record["images"] if image != record["frontal"]]
            annotations.update(
                {image: _keypoints_from_json(kp) for image, kp in record["keypoints"].items()}
            )
            pairs += [(a, b) for a in posed for b in posed if a != b]
            pairs += [(a, record["frontal"]) for a in posed]
            viton_pairs += [f"{image} {record['cloth']}" for image in record["images"]]
            unpaired += [f"{person} {cloth}" for person, cloth in record["unpaired"]]
        deepfashion = root / "deepfashion"
        write_deepfashion_annotations(
            deepfashion / f"fasion-resize-annotation-{split}.csv", annotations
        )
        write_pairs_csv(deepfashion / f"fasion-resize-pairs-{split}.csv", pairs)
        (root / "viton" / f"{split}_pairs.txt").write_text(
            "".join(f"{line}\n" for line in viton_pairs)
        )
        if split == "test":
            (root / "viton" / "test_unpaired_pairs.txt").write_text(
                "".join(f"{line}\n" for line in unpaired)
            )
        counts[split] = {
            "identities": len(mine),
            "images": len(annotations),
            "deepfashion_pairs": len(pairs),
            "viton_pairs": len(viton_pairs),
            "unpaired_pairs": len(unpaired),
        }
    manifest = {
        "settings": _settings_dict(settings),
        "complete": True,
        "test_fraction": TEST_FRACTION,
        "split": {
            split: [record["name"] for record in records if record["split"] == split]
            for split in ("train", "test")
        },
        "counts": counts,
        "canonical_pose": {
            "pose": dataclasses.asdict(CANONICAL_POSE),
            "mean_body_keypoints": _keypoints_json(canonical_keypoints(size=settings.size)),
            "note": "frontal images use this pose scaled to each identity's proportions",
        },
        "identities": {
            record["name"]: {
                "split": record["split"],
                "garment": record["garment"],
                "hair_style": record["hair_style"],
                "bottom": record["bottom"],
                **({"shots": record["shots"]} if "shots" in record else {}),
            }
            for record in records
        },
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return counts


@dataclasses.dataclass(frozen=True)
class SynthResult:
    """What a ``synthesize`` call produced.

    Attributes:
        counts: per split: identities, person images and pairs of the whole data set.
        rendered_identities: identities rendered by this call (the others were resumed).
        rendered_images: person photos rendered by this call (product photos and try-on
            ground truth not counted).
        seconds: wall-clock time spent rendering and writing in this call.
        cpu_seconds: CPU time of this process and its workers over the same span (a speed
            measure that does not depend on what else the machine is running).
    """

    counts: dict
    rendered_identities: int
    rendered_images: int
    seconds: float
    cpu_seconds: float

    @property
    def images_per_second(self) -> float:
        return self.rendered_images / self.seconds if self.seconds > 0 else 0.0

    @property
    def images_per_cpu_second(self) -> float:
        return self.rendered_images / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def _cpu_time() -> float:
    """CPU seconds used by this process plus its finished (joined) child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def synthesize(
    out: str | Path, settings: SynthSettings, workers: int = 1, progress: bool = True
) -> SynthResult:
    """Write (or finish) the synthetic data set ``settings`` describes into ``out``.

    Args:
        out: the data-set root; created, or resumed when it holds the same settings.
        settings: identities, poses per identity, image size and seed.
        workers: processes to render with (1 renders in this process).
        progress: show a tqdm progress bar over identities.

    Returns:
        Counts of the data set and the speed of this call.
    """
    from tqdm import tqdm

    root = Path(out)
    _claim_folder(root, settings)
    done = {path.stem for path in (root / PROGRESS_DIR).glob("*.json")}
    todo = [index for index in range(settings.identities) if identity_name(index) not in done]
    bar = tqdm(
        total=settings.identities,
        initial=settings.identities - len(todo),
        unit="identity",
        disable=not progress,
    )
    started, cpu_started = time.perf_counter(), _cpu_time()
    with bar:
        for _ in _run(root, settings, todo, workers):
            bar.update(1)
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_time() - cpu_started
    counts = _write_index_files(root, settings, _load_records(root, settings))
    images = len(todo) * (settings.poses + 1)
    return SynthResult(counts, len(todo), images, seconds, cpu_seconds)
