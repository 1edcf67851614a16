"""core: the base layer that no model owns.

Plumbing every network and the application share, and nothing about any one network:
model directories and their format (:mod:`core.modelio`), the model registry
(:mod:`core.registry`), errors, atomic writes and hashing (:mod:`core.files`), devices and
autocast (:mod:`core.devices`), the image and keypoint conventions (:mod:`core.images`,
:mod:`core.keypoints`, :mod:`core.posemaps`, :mod:`core.skeleton`), the perceptual backbone
(:mod:`core.perceptual`), metrics (:mod:`core.metrics`) and the one training loop
(:mod:`core.training`).

``core`` imports no project package (``tests/test_layering.py`` enforces it); the registry
names model classes as import paths and imports them only when asked. Submodules are imported
on their own (``from core.keypoints import NUM_KEYPOINTS``); importing ``core`` itself, or its
light modules (errors, registry, keypoints), does not import torch.
"""
