"""fundamental_from_projections, epipolar_lines, camera_centers (on the ``rig`` fixture of
tests/conftest.py: four H36M-like cameras)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseboard.camera import Camera
from poseboard.errors import ShapeError
from poseboard.geometry import (
    camera_centers,
    epipolar_lines,
    fundamental_from_projections,
    project_points,
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Two OpenMP threads on a busy 2-core machine stall small ops ~10 ms each (reference
    notes §6); one thread keeps these tests fast. (Belongs in tests/conftest.py.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def projs(cams: list[Camera], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(np.stack([c.projection_matrix for c in cams]), dtype=dtype)


def world(n: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.tensor(rng.uniform([-800, -800, 0], [800, 800, 1900], (n, 3)))


def homogeneous(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_epipolar_constraint_holds_for_projected_pairs(
    rig: list[Camera], dtype: torch.dtype
) -> None:
    P = projs(rig, dtype)
    i, j = torch.tensor([0, 0, 1, 2]), torch.tensor([1, 2, 3, 3])
    F = fundamental_from_projections(P[i], P[j])  # (4 pairs, 3, 3)
    assert F.shape == (4, 3, 3) and F.dtype == dtype
    torch.testing.assert_close(F.flatten(-2).norm(dim=-1), torch.ones(4, dtype=dtype))
    X = world(100).to(dtype)
    x1 = project_points(P[i][:, None], X)  # (4, N, 2)
    x2 = project_points(P[j][:, None], X)
    residual = torch.einsum("pni,pij,pnj->pn", homogeneous(x2), F, homogeneous(x1))
    assert residual.abs().max() < (1e-9 if dtype == torch.float64 else 1e-4)
    # the point lies on its epipolar line, and |a u + b v + c| is a pixel distance
    lines = epipolar_lines(F, x1)  # (4, N, 3) in image 2
    torch.testing.assert_close(lines[..., :2].norm(dim=-1), torch.ones(4, 100, dtype=dtype))
    dist = (homogeneous(x2) * lines).sum(-1)
    assert dist.abs().max() < (1e-6 if dtype == torch.float64 else 5e-3)
    moved = x2 + 7.0 * lines[..., :2]  # 7 px along the line's normal
    torch.testing.assert_close(
        (homogeneous(moved) * lines).sum(-1), torch.full((4, 100), 7.0, dtype=dtype),
        atol=1e-6 if dtype == torch.float64 else 5e-3, rtol=0,
    )


def test_swapping_the_cameras_transposes_f(rig: list[Camera]) -> None:
    P = projs(rig)
    F12 = fundamental_from_projections(P[0], P[1])
    F21 = fundamental_from_projections(P[1], P[0])
    sign = torch.sign((F12 * F21.T).sum())
    torch.testing.assert_close(F21, sign * F12.T)
    # lines in image 1 of pixels of image 2
    X = world(10)
    x1, x2 = project_points(P[0], X), project_points(P[1], X)
    back = epipolar_lines(F12.T, x2)
    assert (homogeneous(x1) * back).sum(-1).abs().max() < 1e-6


def test_f_is_invariant_to_the_scale_of_p_and_is_differentiable(rig: list[Camera]) -> None:
    P = projs(rig)
    F = fundamental_from_projections(P[0], P[2])
    F_scaled = fundamental_from_projections(P[0] * 1e-3, -5.0 * P[2])
    assert torch.allclose(F_scaled, F) or torch.allclose(F_scaled, -F)
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(2, 3, 4, dtype=torch.float64, generator=gen) for _ in range(2))
    assert torch.autograd.gradcheck(
        fundamental_from_projections, (a.requires_grad_(), b.requires_grad_())
    )


def test_camera_centers(rig: list[Camera]) -> None:
    got = camera_centers(projs(rig, torch.float32))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), np.stack([c.center for c in rig]), atol=1e-3)
    # the centre is P's null space
    P = projs(rig)
    torch.testing.assert_close(
        (P @ homogeneous(camera_centers(P))[..., None]).squeeze(-1),
        torch.zeros(4, 3, dtype=torch.float64), atol=1e-6, rtol=0,
    )


def test_shape_errors() -> None:
    with pytest.raises(ShapeError, match="P2"):
        fundamental_from_projections(torch.zeros(3, 4), torch.zeros(4, 4))
    with pytest.raises(ShapeError, match="broadcast"):
        fundamental_from_projections(torch.zeros(2, 3, 4), torch.zeros(3, 3, 4))
    with pytest.raises(ShapeError, match="points"):
        epipolar_lines(torch.zeros(3, 3), torch.zeros(5, 3))
    with pytest.raises(ShapeError, match="F"):
        epipolar_lines(torch.zeros(3, 4), torch.zeros(5, 2))
    with pytest.raises(ShapeError, match="proj"):
        camera_centers(torch.zeros(4, 4))
