"""Real photos in: pose estimation, person and garment masks, human parsing, framing.

Light names are imported here; the torch-based parser lives in
:mod:`tryon.preprocess.parser` and is imported only by whoever needs it.
"""

from tryon.preprocess.blazepose import BlazePoseConfig, BlazePoseEstimator
from tryon.preprocess.body_geometry import GarmentGeometry, upper_clothes_region
from tryon.preprocess.framing import Framing
from tryon.preprocess.garment_mask import GarmentMaskConfig, garment_mask
from tryon.preprocess.keypoint_files import PrecomputedPoseEstimator
from tryon.preprocess.person_mask import SelfieSegmenter, person_mask
from tryon.preprocess.pose import PoseEstimator, PoseResult

__all__ = [
    "BlazePoseConfig",
    "BlazePoseEstimator",
    "Framing",
    "GarmentGeometry",
    "GarmentMaskConfig",
    "PoseEstimator",
    "PoseResult",
    "PrecomputedPoseEstimator",
    "SelfieSegmenter",
    "garment_mask",
    "person_mask",
    "upper_clothes_region",
]
