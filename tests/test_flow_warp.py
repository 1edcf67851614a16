"""flow.warp: the flow convention, identity, known motions, gradients, input checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flow.warp import flow_from_pixel_coordinates, identity_grid, warp


def _pixel_shift_flow(dx: float, dy: float, height: int, width: int) -> torch.Tensor:
    """The flow whose output pixel (x, y) reads source pixel (x + dx, y + dy)."""
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    source = torch.stack((xs + dx, ys + dy))[None]
    return flow_from_pixel_coordinates(source, height, width).float()


@pytest.mark.parametrize("size", [(16, 16), (8, 32)])
def test_zero_flow_is_exactly_the_identity_for_power_of_two_sizes(size):
    image = torch.randn(2, 3, *size)
    assert torch.equal(warp(image, torch.zeros(2, 2, *size)), image)


def test_zero_flow_is_the_identity_to_rounding_for_other_sizes():
    image = torch.randn(1, 5, 15, 17)
    torch.testing.assert_close(warp(image, torch.zeros(1, 2, 15, 17)), image, atol=1e-5, rtol=0)


def test_identity_grid_holds_pixel_centres_x_then_y():
    grid = identity_grid(2, 4)
    assert grid.shape == (1, 2, 2, 4)
    torch.testing.assert_close(grid[0, 0, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    torch.testing.assert_close(grid[0, 1, :, 0], torch.tensor([-0.5, 0.5]))


def test_translation_moves_a_dot_where_expected():
    image = torch.zeros(1, 1, 16, 16)
    image[0, 0, 7, 5] = 1.0  # row 7, column 5
    # Each output pixel reads 3 pixels to its left and 2 below: content moves right 3, up 2.
    moved = warp(image, _pixel_shift_flow(-3.0, 2.0, 16, 16))
    expected = torch.zeros_like(image)
    expected[0, 0, 5, 8] = 1.0
    torch.testing.assert_close(moved, expected, atol=1e-5, rtol=0)


def test_scale_flow_zooms_about_the_centre():
    image = torch.randn(1, 3, 64, 64)
    zoom = -0.5 * identity_grid(64, 64)  # sample at half the normalised position: 2x zoom
    expected = F.interpolate(image[..., 16:48, 16:48], scale_factor=2, mode="bilinear")
    # The border ring differs only because interpolate clamps at the crop's edge.
    inner = (..., slice(1, -1), slice(1, -1))
    torch.testing.assert_close(warp(image, zoom)[inner], expected[inner], atol=1e-5, rtol=1e-5)


def test_sampling_outside_the_source_gives_zeros():
    image = torch.ones(1, 1, 8, 8)
    off_image = torch.full((1, 2, 8, 8), 4.0)  # two full widths to the right and down
    assert torch.equal(warp(image, off_image), torch.zeros(1, 1, 8, 8))


def test_output_takes_the_size_of_the_flow():
    image = torch.arange(64.0).view(1, 1, 8, 8)
    coarse = warp(image, torch.zeros(1, 2, 4, 4))
    torch.testing.assert_close(coarse, F.avg_pool2d(image, 2))


def test_pixel_coordinates_of_the_pixels_themselves_give_a_zero_flow():
    flow = _pixel_shift_flow(0.0, 0.0, 6, 10)
    torch.testing.assert_close(flow, torch.zeros(1, 2, 6, 10), atol=1e-6, rtol=0)


def test_gradcheck_in_float64():
    image = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    flow = (0.3 * torch.randn(1, 2, 4, 5, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(warp, (image, flow), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    ("image", "flow", "message"),
    [
        (torch.zeros(3, 8, 8), torch.zeros(1, 2, 8, 8), "image must be"),
        (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), "flow must be"),
        (torch.zeros(2, 3, 8, 8), torch.zeros(1, 2, 8, 8), "batch"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 2, 8, 8), "floating"),
    ],
)
def test_bad_inputs_raise_value_errors(image, flow, message):
    with pytest.raises(ValueError, match=message):
        warp(image, flow)
