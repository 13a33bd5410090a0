"""soft_argmax_2d, hard_argmax_2d, soft_argmax_3d."""

from __future__ import annotations

import pytest
import torch

from poseboard.errors import ShapeError
from poseboard.geometry import hard_argmax_2d, soft_argmax_2d, soft_argmax_3d


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Two OpenMP threads on a busy 2-core machine stall small ops ~10 ms each (reference
    notes §6); one thread keeps these tests fast. (Belongs in tests/conftest.py.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gaussian_2d(h: int, w: int, cx: float, cy: float, sigma: float) -> torch.Tensor:
    rows = torch.arange(h, dtype=torch.float64)[:, None]
    cols = torch.arange(w, dtype=torch.float64)[None, :]
    return torch.exp(-((cols - cx) ** 2 + (rows - cy) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize(("cx", "cy"), [(40.3, 17.8), (8.5, 60.25), (70.0, 30.0)])
def test_soft_argmax_recovers_a_sub_cell_centre(cx: float, cy: float) -> None:
    """A heatmap whose softmax(100·h) is a sharp Gaussian (σ = 1.5 cells) centred between
    cells: the expectation is its centre (x = column, y = row)."""
    sigma, multiplier = 1.5, 100.0
    log_density = torch.log(gaussian_2d(96, 80, cx, cy, sigma))  # H = 96 rows, W = 80 columns
    got = soft_argmax_2d((log_density / multiplier)[None, None], multiplier=multiplier)
    assert got.shape == (1, 1, 2)
    want = torch.tensor([cx, cy], dtype=torch.float64)
    torch.testing.assert_close(got[0, 0], want, atol=1e-6, rtol=0)


def test_soft_argmax_on_a_gaussian_heatmap() -> None:
    """A backbone-like Gaussian heatmap (peak 1, σ = 2 cells) with the reference's
    multiplier 100: softmax sharpens it to ~0.2 cells, so the estimate stays within a
    fraction of a cell of the centre, pulled towards the nearest cell."""
    heat = gaussian_2d(96, 96, 40.3, 17.8, sigma=2.0)
    got = soft_argmax_2d(heat, multiplier=100.0)
    assert (got - torch.tensor([40.3, 17.8], dtype=torch.float64)).abs().max() < 0.3


def test_soft_argmax_multiplier_and_dtype() -> None:
    heat = gaussian_2d(32, 32, 10.0, 20.0, sigma=1.5).float()
    heat[0, 31] = 0.9  # a competing peak, suppressed by a large multiplier only
    sharp = soft_argmax_2d(heat, multiplier=100.0)
    soft = soft_argmax_2d(heat, multiplier=1.0)
    assert sharp.dtype == torch.float32
    torch.testing.assert_close(sharp, torch.tensor([10.0, 20.0]), atol=1e-3, rtol=0)
    assert (soft - torch.tensor([15.5, 15.5])).abs().max() < 3  # nearly uniform: the centre


def test_soft_argmax_gradients() -> None:
    heat = torch.rand(2, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h: soft_argmax_2d(h, multiplier=3.0), (heat,))


def test_hard_argmax_integer_cells_with_floor_division() -> None:
    heat = torch.zeros(2, 7, 5)  # H = 7 rows, W = 5 columns
    heat[0, 6, 4] = 1.0  # last cell: index 34 → (x=4, y=6); true division would give y=6.8
    heat[1, 3, 1] = 2.0
    got = hard_argmax_2d(heat)
    assert got.dtype == torch.int64
    assert got.tolist() == [[4, 6], [1, 3]]
    # agrees with the soft version on a sharp peak
    torch.testing.assert_close(soft_argmax_2d(heat * 100.0), got.float(), atol=1e-4, rtol=0)


def test_soft_argmax_3d_on_a_peaked_volume() -> None:
    d, h, w = 8, 6, 5
    axes = [torch.arange(n, dtype=torch.float64) for n in (d, h, w)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1) * 39.68 + torch.tensor(
        [-1250.0, 300.0, 0.0], dtype=torch.float64
    )  # (D, H, W, 3) world mm, the reference's 2500/63 mm spacing
    vol = torch.zeros(2, 3, d, h, w, dtype=torch.float64)
    vol[0, 1, 2, 4, 1] = 60.0
    vol[1, 2, 7, 0, 3] = 60.0
    out = soft_argmax_3d(vol, grid[None, None], multiplier=1.0)  # one grid for all
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out[0, 1], grid[2, 4, 1], atol=1e-9, rtol=0)
    torch.testing.assert_close(out[1, 2], grid[7, 0, 3], atol=1e-9, rtol=0)
    # a flat volume gives the mean coordinate; per-item grids broadcast the same
    torch.testing.assert_close(out[0, 0], grid.reshape(-1, 3).mean(0))
    per_item = soft_argmax_3d(vol, grid.expand(2, 1, d, h, w, 3))
    torch.testing.assert_close(per_item, out)


def test_soft_argmax_3d_between_voxels_and_gradients() -> None:
    grid = torch.stack(
        torch.meshgrid(*[torch.arange(4.0, dtype=torch.float64)] * 3, indexing="ij"), dim=-1
    )
    vol = torch.zeros(4, 4, 4, dtype=torch.float64)
    vol[1, 2, 2] = vol[2, 2, 2] = 50.0  # two equal peaks: the midpoint
    torch.testing.assert_close(soft_argmax_3d(vol, grid), torch.tensor([1.5, 2.0, 2.0], dtype=torch.float64))
    v = torch.rand(2, 2, 2, 3, dtype=torch.float64, requires_grad=True)
    c = torch.rand(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(soft_argmax_3d, (v, c))


def test_shape_errors() -> None:
    with pytest.raises(ShapeError, match="heatmaps"):
        soft_argmax_2d(torch.zeros(5))
    with pytest.raises(ShapeError, match="heatmaps"):
        hard_argmax_2d(torch.zeros(3))
    with pytest.raises(ShapeError, match="coords"):
        soft_argmax_3d(torch.zeros(2, 4, 4, 4), torch.zeros(4, 4, 5, 3))
    with pytest.raises(ShapeError, match="broadcast"):
        soft_argmax_3d(torch.zeros(2, 4, 4, 4), torch.zeros(3, 4, 4, 4, 3))
