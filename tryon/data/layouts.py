"""Where the published layouts keep their files, and finding a layout from a user's path."""

from __future__ import annotations

from pathlib import Path

from tryon.errors import InvalidInputError

LAYOUT_KINDS: tuple[str, ...] = ("deepfashion", "viton")
SPLITS: tuple[str, ...] = ("train", "test")


def deepfashion_pairs_csv(root: Path, split: str) -> Path:
    return root / f"fasion-resize-pairs-{split}.csv"  # the misspelling is the published one


def deepfashion_annotation_csv(root: Path, split: str) -> Path:
    return root / f"fasion-resize-annotation-{split}.csv"


def viton_pairs_txt(root: Path, split: str) -> Path:
    return root / f"{split}_pairs.txt"


def _is_layout(path: Path, kind: str) -> bool:
    if kind == "deepfashion":
        return any(deepfashion_pairs_csv(path, split).is_file() for split in SPLITS)
    return any(viton_pairs_txt(path, split).is_file() for split in SPLITS)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def resolve_layout(path: str | Path, kind: str) -> Path:
    """The root of the ``kind`` layout at ``path``: the layout itself or a synth root above it.

    Args:
        path: a DeepFashion / VITON-HD layout root, or a ``tryon data synth`` output folder
            (which holds ``deepfashion/`` and ``viton/``).
        kind: "deepfashion" or "viton".

    Returns:
        The folder holding the layout's pairs files.
    """
    if kind not in LAYOUT_KINDS:
        raise ValueError(f"kind must be one of {LAYOUT_KINDS}, got {kind!r}")
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: no such data-set folder")
    for candidate in (root / kind, root):
        if candidate.is_dir() and _is_layout(candidate, kind):
            return candidate
    expected = (
        "fasion-resize-pairs-{train,test}.csv"
        if kind == "deepfashion"
        else "{train,test}_pairs.txt"
    )
    raise InvalidInputError(
        f"{root} is not a {kind} data set: expected {expected} in it or in {root / kind} "
        "(make one with `tryon data synth --out DIR`)"
    )
