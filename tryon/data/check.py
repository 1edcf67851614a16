"""``tryon data check``: validate a data set in the DeepFashion and/or VITON-HD layout.

Every file a pairs or annotation file names must exist and decode; pictures of one sample must
share a size; keypoints must be 18 and lie inside their image; parse ids must be LIP ids
(0-19); masks must be binary. Each file is decoded once. Problems are collected, not raised,
so one run lists them all.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from tryon.data import lip
from tryon.data.keypoint_formats import (
    read_deepfashion_annotations,
    read_openpose_json,
    read_pairs_csv,
)
from tryon.data.layouts import (
    LAYOUT_KINDS,
    SPLITS,
    deepfashion_annotation_csv,
    deepfashion_pairs_csv,
    resolve_layout,
    viton_pairs_txt,
)
from tryon.data.viton import find_file, read_viton_pairs
from tryon.errors import InvalidInputError, TryOnError

MASK_TOLERANCE = 0.01  # share of grey pixels allowed in a mask (JPEG-compressed masks have some)


@dataclasses.dataclass
class CheckReport:
    """What was checked (summary lines) and what is wrong (problems)."""

    summary: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


class _Files:
    """Decodes each file once, remembering its size (None when it failed: a problem is logged)."""

    def __init__(self, report: CheckReport, progress: bool) -> None:
        self.report = report
        self.progress = progress
        self.sizes: dict[Path, tuple[int, int] | None] = {}
        self.keypoint_files: set[Path] = set()

    def _once(
        self, path: Path, check: Callable[[np.ndarray, Path], None] | None
    ) -> tuple[int, int] | None:
        if path in self.sizes:
            return self.sizes[path]
        size = None
        if not path.is_file():
            self.report.problems.append(f"{path}: missing")
        else:
            try:
                with Image.open(path) as image:
                    image.load()
                    array = np.asarray(image)
                size = (array.shape[0], array.shape[1])
                if check is not None:
                    check(array, path)
            except OSError as error:
                self.report.problems.append(f"{path}: does not decode ({error})")
        self.sizes[path] = size
        return size

    def track(self, items: Collection, description: str) -> Iterable:
        """``items`` with a progress bar (checking a large set takes minutes)."""
        from tqdm import tqdm

        return tqdm(items, desc=description, unit="item", leave=False, disable=not self.progress)

    def image(self, path: Path) -> tuple[int, int] | None:
        return self._once(path, None)

    def mask(self, path: Path) -> tuple[int, int] | None:
        def binary(array: np.ndarray, where: Path) -> None:
            grey = array if array.ndim == 2 else array[..., 0]
            share = float(np.mean((grey > 25) & (grey < 230)))
            if share > MASK_TOLERANCE:
                self.report.problems.append(
                    f"{where}: mask is not binary ({share:.1%} grey pixels)"
                )

        return self._once(path, binary)

    def parse(self, path: Path) -> tuple[int, int] | None:
        def ids(array: np.ndarray, where: Path) -> None:
            if array.ndim != 2:
                self.report.problems.append(
                    f"{where}: parse map must be a palette/greyscale PNG of ids"
                )
            elif array.max(initial=0) >= lip.NUM_LABELS:
                self.report.problems.append(
                    f"{where}: parse id {int(array.max())} is not a LIP id (0-19)"
                )

        return self._once(path, ids)


def _same_size(report: CheckReport, what: str, sizes: dict[str, tuple[int, int] | None]) -> None:
    known = {name: size for name, size in sizes.items() if size is not None}
    if len(set(known.values())) > 1:
        report.problems.append(f"{what}: sizes disagree {known}")


def _keypoints_inside(
    report: CheckReport, what: str, keypoints: np.ndarray, size: tuple[int, int] | None
) -> None:
    if size is None:
        return
    present = keypoints[~np.isnan(keypoints).any(axis=1)]
    height, width = size
    outside = (
        (present[:, 0] < -0.5)
        | (present[:, 0] > width - 0.5)
        | (present[:, 1] < -0.5)
        | (present[:, 1] > height - 0.5)
    )
    if outside.any():
        report.problems.append(
            f"{what}: {int(outside.sum())} keypoints outside the {height}x{width} image"
        )


def check_deepfashion(root: Path, report: CheckReport, files: _Files) -> None:
    for split in SPLITS:
        pairs_path, annotation_path = (
            deepfashion_pairs_csv(root, split),
            deepfashion_annotation_csv(root, split),
        )
        if not pairs_path.is_file():
            continue
        try:
            pairs = read_pairs_csv(pairs_path)
            annotations = read_deepfashion_annotations(annotation_path)
        except InvalidInputError as error:
            report.problems.append(str(error))
            continue
        named = {name for pair in pairs for name in pair}
        for name in sorted(named - set(annotations)):
            report.problems.append(
                f"{annotation_path}: no keypoints for {name} (named in {pairs_path.name})"
            )
        mask_dir = root / "person-mask" / split
        sizes = set()
        for name, keypoints in files.track(annotations.items(), f"deepfashion {split}"):
            size = files.image(root / split / name)
            sizes.add(size)
            _keypoints_inside(report, f"{annotation_path.name}: {name}", keypoints, size)
            if mask_dir.is_dir():
                mask_size = files.mask(mask_dir / f"{Path(name).stem}.png")
                _same_size(
                    report, f"deepfashion {split} {name}", {"image": size, "person-mask": mask_size}
                )
        sizes.discard(None)
        report.summary.append(
            f"deepfashion {split}: {len(annotations)} images, {len(pairs)} pairs, "
            f"image sizes {sorted(sizes)}" + (", person masks" if mask_dir.is_dir() else "")
        )


def _as_loaded(folder: Path, name: str) -> Path:
    """The file VitonPairs would read for ``name`` (same stem, .png or .jpg, accepted)."""
    try:
        return find_file(folder, name)
    except InvalidInputError:
        return folder / name  # reported as missing when checked


def _check_viton_pairs(
    root: Path,
    split: str,
    pairs: list[tuple[str, str]],
    report: CheckReport,
    files: _Files,
    truth: bool,
) -> None:
    folder = root / split
    has_person_masks = (folder / "person-mask").is_dir()
    for person, cloth in files.track(pairs, f"viton {split}"):
        stem, cloth_stem = Path(person).stem, Path(cloth).stem
        image_size = files.image(folder / "image" / person)
        sizes = {
            "image": image_size,
            "image-parse-v3": files.parse(_as_loaded(folder / "image-parse-v3", f"{stem}.png")),
        }
        if has_person_masks:
            sizes["person-mask"] = files.mask(_as_loaded(folder / "person-mask", f"{stem}.png"))
        _same_size(report, f"viton {split} {person}", sizes)
        json_path = folder / "openpose_json" / f"{stem}_keypoints.json"
        if json_path not in files.keypoint_files:
            files.keypoint_files.add(json_path)
            try:
                _keypoints_inside(report, str(json_path), read_openpose_json(json_path), image_size)
            except InvalidInputError as error:
                report.problems.append(str(error))
        cloth_sizes = {
            "cloth": files.image(folder / "cloth" / cloth),
            "cloth-mask": files.mask(_as_loaded(folder / "cloth-mask", cloth)),
        }
        _same_size(report, f"viton {split} {cloth}", cloth_sizes)
        if truth:
            name = f"{stem}__{cloth_stem}.png"
            truth_sizes = {
                "tryon-gt": files.image(folder / "tryon-gt" / name),
                "tryon-gt-parse": files.parse(folder / "tryon-gt-parse" / name),
            }
            if (folder / "tryon-gt-own").is_dir():  # the own view's truth (generator v3)
                truth_sizes["tryon-gt-own"] = files.image(folder / "tryon-gt-own" / name)
                truth_sizes["tryon-gt-own-parse"] = files.parse(
                    folder / "tryon-gt-own-parse" / name
                )
            _same_size(report, f"viton {split} try-on truth {name}", truth_sizes)


def check_viton(root: Path, report: CheckReport, files: _Files) -> None:
    for split in SPLITS:
        pairs_path = viton_pairs_txt(root, split)
        if not pairs_path.is_file():
            continue
        try:
            pairs = read_viton_pairs(pairs_path)
        except InvalidInputError as error:
            report.problems.append(str(error))
            continue
        _check_viton_pairs(root, split, pairs, report, files, truth=False)
        line = f"viton {split}: {len(pairs)} pairs, {len({p for p, _ in pairs})} person images"
        unpaired_path = root / f"{split}_unpaired_pairs.txt"
        if unpaired_path.is_file():
            try:
                unpaired = read_viton_pairs(unpaired_path)
            except InvalidInputError as error:
                report.problems.append(str(error))
            else:
                truth = (root / split / "tryon-gt").is_dir()
                _check_viton_pairs(root, split, unpaired, report, files, truth=truth)
                line += f", {len(unpaired)} unpaired pairs" + (
                    " with try-on ground truth" if truth else ""
                )
        report.summary.append(line)


def check_dataset(path: str | Path, progress: bool = False) -> CheckReport:
    """Validate every layout found at ``path`` (a layout root, or a synth root holding both).

    Args:
        path: the folder to check.
        progress: show a progress bar per layout and split.

    Returns:
        Summary lines and the problems found (``report.valid`` when there are none).

    Raises:
        InvalidInputError: ``path`` holds no layout at all.
    """
    root = Path(path)
    report = CheckReport()
    files = _Files(report, progress)
    found = []
    for kind in LAYOUT_KINDS:
        try:
            found.append((kind, resolve_layout(root, kind)))
        except TryOnError:
            continue
    if not found:
        raise InvalidInputError(
            f"{root} holds neither a DeepFashion layout (fasion-resize-pairs-*.csv) nor a VITON-HD "
            "layout ({train,test}_pairs.txt), nor a synth root with deepfashion/ or viton/"
        )
    manifest = root / "synthetic.json"
    if manifest.is_file() and not json.loads(manifest.read_text()).get("complete"):
        report.problems.append(
            f"{manifest}: the synthesis did not finish; run the same synth command again"
        )
    for kind, layout in found:
        (check_deepfashion if kind == "deepfashion" else check_viton)(layout, report, files)
    return report
