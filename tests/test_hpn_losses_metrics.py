"""Local perceptual loss, the total pose-transfer loss, SSIM / local-SSIM (protocol B)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import structural_similarity

from core.images import tensor_to_uint8, uint8_to_tensor
from core.metrics import ssim
from core.perceptual import VGG16Features, feature_distance, feature_distance_per_sample
from hpn.local_descriptors import local_descriptor_centers, region_windows
from hpn.losses import LocalPerceptualLoss, PoseTransferLoss, ssim_map
from hpn.metrics import local_ssim, local_window_size


@pytest.fixture(scope="module")
def shallow_backbone(vgg16_path):
    """Two pretrained layers keep these tests fast and allow 2-pixel local crops."""
    return VGG16Features.from_file(vgg16_path, layers=("relu1_2", "relu2_2"))


def _images(seed: int, size: int = 32) -> torch.Tensor:
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _keypoints(size: int = 32) -> torch.Tensor:
    return torch.rand(2, 18, 2, generator=torch.Generator().manual_seed(7)) * (size - 1)


def test_per_sample_distance_averages_to_the_global_one():
    output = {"a": torch.randn(3, 4, 2, 2), "b": torch.randn(3, 8)}
    target = {"a": torch.randn(3, 4, 2, 2), "b": torch.randn(3, 8)}
    for criterion in ("l1", "l2"):
        per_sample = feature_distance_per_sample(output, target, criterion)
        assert per_sample.shape == (3,)
        assert per_sample.mean().item() == pytest.approx(
            feature_distance(output, target, criterion).item(), rel=1e-6
        )


def test_local_loss_sums_descriptors_and_ignores_missing_centres(shallow_backbone):
    loss = LocalPerceptualLoss(shallow_backbone)
    output, target = _images(1), _images(2)
    centers = torch.tensor([[[8.0, 8.0], [24.0, 24.0]], [[16.0, 16.0], [float("nan"), 0.0]]])
    value = loss(output, target, centers, "l2")
    single = [
        loss(output[i : i + 1], target[i : i + 1], centers[i : i + 1, j : j + 1], "l2")
        for i, j in ((0, 0), (0, 1), (1, 0))
    ]
    assert value.item() == pytest.approx(sum(s.item() for s in single) / 2, rel=1e-5)
    assert loss(target, target, centers, "l1").item() == 0.0


def test_local_loss_refuses_crops_too_small_for_the_backbone(vgg16_path):
    deep = VGG16Features.from_file(vgg16_path)  # relu4_3 needs 8-pixel crops, i.e. 64^2 images
    with pytest.raises(ValueError, match="resolution >= 64"):
        LocalPerceptualLoss(deep)(_images(1), _images(2), _keypoints(), "l1")


def test_total_loss_adds_the_weighted_local_term_with_the_count_of_the_level(shallow_backbone):
    output, target, keypoints = _images(3), _images(4), _keypoints()
    with_local = PoseTransferLoss(shallow_backbone, use_local=True, local_weight=0.5)
    terms = with_local(output, target, keypoints, "l1")
    centers = local_descriptor_centers(keypoints, 18)  # 32^2 <= 128^2: 18 descriptors
    expected_local = LocalPerceptualLoss(shallow_backbone)(output, target, centers, "l1")
    assert terms.local.item() == pytest.approx(expected_local.item(), rel=1e-6)
    assert terms.total.item() == pytest.approx(terms.global_.item() + 0.5 * terms.local.item())
    without = PoseTransferLoss(shallow_backbone, use_local=False)(output, target, keypoints, "l1")
    assert without.local.item() == 0.0 and without.total.item() == pytest.approx(
        terms.global_.item()
    )


def test_pixel_term_is_off_by_default_and_in_0_255_units(shallow_backbone):
    output, target, keypoints = _images(7), _images(8), _keypoints()
    paper = PoseTransferLoss(shallow_backbone, use_local=False)(output, target, keypoints, "l1")
    assert paper.pixel.item() == 0.0
    loss = PoseTransferLoss(shallow_backbone, use_local=False, pixel_weight=2.0)
    terms = loss(output, target, keypoints, "l1")
    expected = (output - target).abs().mean().item() * 127.5
    assert terms.pixel.item() == pytest.approx(expected, rel=1e-5)
    assert terms.total.item() == pytest.approx(terms.global_.item() + 2.0 * expected, rel=1e-5)


def test_loss_gradients_reach_the_output(shallow_backbone):
    output = _images(5).requires_grad_(True)
    terms = PoseTransferLoss(shallow_backbone)(output, _images(6), _keypoints(), "l2")
    terms.total.backward()
    assert output.grad is not None and output.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def photo_pair() -> tuple[np.ndarray, np.ndarray]:
    astronaut = data.astronaut()[::4, ::4].copy()  # 128 x 128 x 3
    noise = np.random.default_rng(0).integers(-40, 40, astronaut.shape)
    return astronaut, np.clip(astronaut.astype(int) + noise, 0, 255).astype(np.uint8)


def test_ssim_equals_scikit_image_protocol_b(photo_pair):
    a, b = photo_pair
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        channel_axis=-1, data_range=255,
    )  # fmt: skip
    assert ssim(a, b) == pytest.approx(expected, abs=1e-4)
    assert 0.2 < expected < 0.95
    assert ssim(a, a) == pytest.approx(1.0)


def _reference_ssim(a: np.ndarray, b: np.ndarray, win_size: int | None = None) -> float:
    return structural_similarity(
        a, b, win_size=win_size, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, channel_axis=-1, data_range=255,
    )  # fmt: skip


@pytest.mark.parametrize(("shape", "win_size"), [((37, 23, 3), None), ((8, 8, 3), 7)])
def test_ssim_matches_scikit_image_on_odd_and_tiny_images(shape, win_size):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-60, 60, shape), 0, 255).astype(np.uint8)
    assert ssim(a, b, win_size) == pytest.approx(_reference_ssim(a, b, win_size), abs=1e-10)


def test_local_ssim_equals_the_mean_of_per_region_scikit_image_calls(photo_pair):
    a, b = photo_pair
    keypoints = np.random.default_rng(2).uniform(-5, 130, (18, 2)).astype(np.float32)
    keypoints[4] = np.nan
    centers = torch.as_tensor(local_descriptor_centers(keypoints, 44))[None]
    left, top, valid = region_windows(centers, 16, 128, 128)
    expected = np.mean(
        [
            _reference_ssim(a[y : y + 16, x : x + 16], b[y : y + 16, x : x + 16], 11)
            for x, y, ok in zip(left[0].tolist(), top[0].tolist(), valid[0].tolist(), strict=True)
            if ok
        ]
    )
    assert valid.sum() < 44
    assert local_ssim(a, b, keypoints) == pytest.approx(expected, abs=1e-10)


def test_ssim_accepts_library_tensors_like_their_uint8(photo_pair):
    a, b = photo_pair
    tensor_a, tensor_b = uint8_to_tensor(a), uint8_to_tensor(b)
    assert ssim(tensor_a, tensor_b[None]) == pytest.approx(ssim(a, b), abs=1e-12)
    assert np.array_equal(tensor_to_uint8(tensor_a), a)
    with pytest.raises(ValueError, match="uint8"):
        ssim(a.astype(np.float32), b)


def test_local_ssim_scores_only_the_regions(photo_pair):
    a, b = photo_pair
    keypoints = np.random.default_rng(1).uniform(0, 127, (18, 2)).astype(np.float32)
    assert local_ssim(a, a, keypoints) == pytest.approx(1.0)
    assert 0.0 < local_ssim(b, a, keypoints) < 0.95
    # Damage outside every region leaves local-SSIM at 1 while SSIM drops.
    keypoints[:] = (20.0, 20.0)
    far = a.copy()
    far[80:, 80:] = 0
    assert local_ssim(far, a, keypoints) == pytest.approx(1.0)
    assert ssim(far, a) < 0.95
    keypoints[:] = np.nan
    assert np.isnan(local_ssim(a, b, keypoints))


def test_local_window_size_fits_small_regions():
    assert [local_window_size(side) for side in (8, 16, 32, 128)] == [7, 11, 11, 11]
    with pytest.raises(ValueError, match="too small"):
        local_window_size(2)


def test_the_differentiable_ssim_map_is_protocol_b() -> None:
    photo = data.astronaut()[::4, ::4]
    noisy = np.clip(photo.astype(int) + np.random.default_rng(0).integers(-40, 40, photo.shape),
                    0, 255).astype(np.uint8)  # fmt: skip
    first = uint8_to_tensor(photo)[None].double().requires_grad_()
    values = ssim_map(first, uint8_to_tensor(noisy)[None].double())
    assert values.shape == (1, 1, 128, 128)
    cropped = values[..., 5:-5, 5:-5].mean()  # protocol B leaves out the window's border
    assert cropped.item() == pytest.approx(ssim(photo, noisy), abs=1e-6)
    cropped.backward()
    assert first.grad is not None and first.grad.abs().sum() > 0
    same = ssim_map(first.detach(), first.detach())
    torch.testing.assert_close(same, torch.ones_like(same))
