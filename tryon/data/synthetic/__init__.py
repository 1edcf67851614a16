"""Procedural synthetic fashion data with exact ground truth (keypoints, parse, masks).

Python API::

    rng = numpy.random.default_rng(0)
    identity, garment = sample_identity(rng), sample_garment(rng)
    photo = render_person(identity, garment, sample_pose(rng), size=256)
    frontal = render_person(identity, garment, CANONICAL_POSE, size=256)
    product = render_product(garment, size=256)
    target_keypoints = canonical_keypoints(identity.body, size=256)

``CANONICAL_POSE`` is the frontal try-on pose (see params.py); ``synthesize`` writes a whole
data set (``tryon data synth``). The photographic style (style.py, photo.py) renders the same
people through a :class:`Shot`::

    drawn = draw_identity(seed=0, index=3, poses=2, style="photo")
    photo = render_person(drawn.identity, drawn.garment, drawn.poses[0], 256, drawn.photo.posed[0])
"""

from tryon.data.synthetic.dataset import SynthResult, SynthSettings, draw_identity, synthesize
from tryon.data.synthetic.params import (
    CANONICAL_POSE,
    MEAN_BODY,
    BodyShape,
    GarmentParams,
    IdentityParams,
    LimbPose,
    Pose,
    sample_garment,
    sample_identity,
    sample_pose,
)
from tryon.data.synthetic.render import (
    ProductPhoto,
    RenderedSample,
    product_keypoints,
    render_person,
    render_product,
)
from tryon.data.synthetic.skeleton import canonical_keypoints
from tryon.data.synthetic.style import STYLES, PhotoStyle, Shot

__all__ = [
    "CANONICAL_POSE",
    "MEAN_BODY",
    "STYLES",
    "BodyShape",
    "GarmentParams",
    "IdentityParams",
    "LimbPose",
    "PhotoStyle",
    "Pose",
    "ProductPhoto",
    "RenderedSample",
    "Shot",
    "SynthResult",
    "SynthSettings",
    "canonical_keypoints",
    "draw_identity",
    "product_keypoints",
    "render_person",
    "render_product",
    "sample_garment",
    "sample_identity",
    "sample_pose",
    "synthesize",
]
