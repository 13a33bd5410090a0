"""project_points, project_points_with_distortion, point_depths (and the module's examples)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import poseboard.geometry as geometry
from poseboard.camera import Camera
from poseboard.errors import ShapeError
from poseboard.geometry import point_depths, project_points, project_points_with_distortion


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Two OpenMP threads on a busy 2-core machine stall small ops ~10 ms each (reference
    notes §6); one thread keeps these tests fast. (Belongs in tests/conftest.py.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

TOL_PX = {torch.float64: 1e-8, torch.float32: 2e-3}


def crops(cams: list[Camera]) -> list[Camera]:
    """The ``rig`` fixture's cameras (tests/conftest.py) adjusted to 384×384 crops."""
    return [c.crop_and_resize((295, 290, 705, 700), (384, 384)) for c in cams]


def points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform([-800, -800, 0], [800, 800, 1900], (n, 3))


def stacked(cams: list[Camera], dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    return {
        "proj": torch.tensor(np.stack([c.projection_matrix for c in cams]), dtype=dtype),
        "K": torch.tensor(np.stack([c.K for c in cams]), dtype=dtype),
        "R": torch.tensor(np.stack([c.R for c in cams]), dtype=dtype),
        "t": torch.tensor(np.stack([c.t for c in cams]), dtype=dtype),
        "dist": torch.tensor(np.stack([c.dist for c in cams]), dtype=dtype),
    }


def test_module_examples_run() -> None:
    result = doctest.testmod(geometry, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_project_points_matches_camera(rig: list[Camera], dtype: torch.dtype) -> None:
    cams = crops(rig)
    cam = stacked(cams, dtype)
    X = points(200)
    want = np.stack([c.project(X) for c in cams])  # (V, N, 2)
    got = project_points(cam["proj"][:, None], torch.tensor(X, dtype=dtype))
    assert got.shape == (4, 200, 2) and got.dtype == dtype
    np.testing.assert_allclose(got.double().numpy(), want, atol=TOL_PX[dtype], rtol=0)


def test_broadcasting_shapes(rig: list[Camera]) -> None:
    proj = stacked(rig)["proj"]
    X = torch.tensor(points(6)).reshape(2, 3, 3)
    assert project_points(proj[0], X).shape == (2, 3, 2)
    assert project_points(proj[:, None, None], X).shape == (4, 2, 3, 2)
    per_point = project_points(proj[:, None, None].expand(4, 2, 3, 3, 4), X)
    torch.testing.assert_close(per_point, project_points(proj[:, None, None], X))


def test_points_behind_the_camera() -> None:
    P = torch.tensor([[1000.0, 0, 500, 0], [0, 1000, 500, 0], [0, 0, 1, 0]])
    X = torch.tensor([[100.0, 50, 2000], [100, 50, -2000], [1, 1, 0]], requires_grad=True)
    uv = project_points(P, X)
    assert torch.isfinite(uv[0]).all() and torch.isnan(uv[1:]).all()
    uv[0].sum().backward()  # NaN rows give zero, finite gradients
    assert torch.isfinite(X.grad).all() and (X.grad[1:] == 0).all()
    # "keep" returns the algebra's mirrored pixel, as the reference does
    kept = project_points(P, X.detach(), behind="keep")
    torch.testing.assert_close(kept[1], torch.tensor([450.0, 475.0]))
    # a negatively scaled P is the same camera: the same points are behind it
    assert torch.isnan(project_points(-P, X.detach())[1]).all()
    with pytest.raises(ValueError, match=r"\['nan', 'keep'\]"):
        project_points(P, X, behind="drop")  # type: ignore[arg-type]


def test_point_depths_are_camera_z_for_any_scale_of_p(rig: list[Camera]) -> None:
    cams = crops(rig)
    proj = stacked(cams)["proj"]
    X = points(50)
    z = np.stack([c.world_to_camera(X)[:, 2] for c in cams])
    for scale in (1.0, -2.5, 1e-3):
        got = point_depths(proj[:, None] * scale, torch.tensor(X))
        np.testing.assert_allclose(got.numpy(), z, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_distortion_matches_camera_project(
    rig_distorted: list[Camera], dtype: torch.dtype
) -> None:
    cams = crops(rig_distorted)
    cam = stacked(cams, dtype)
    X = points(300, seed=1)
    want = np.stack([c.project(X) for c in cams])
    # batched cameras: one dist per view
    got = project_points_with_distortion(
        cam["K"][:, None], cam["R"][:, None], cam["t"][:, None], cam["dist"][:, None],
        torch.tensor(X, dtype=dtype),
    )
    np.testing.assert_allclose(got.double().numpy(), want, atol=TOL_PX[dtype], rtol=0)
    # one camera, dist as a plain (5,) tensor: poseboard.camera.distort_normalized directly
    one = project_points_with_distortion(
        cam["K"][1], cam["R"][1], cam["t"][1], cam["dist"][1], torch.tensor(X, dtype=dtype)
    )
    np.testing.assert_allclose(one.double().numpy(), want[1], atol=TOL_PX[dtype], rtol=0)
    # no distortion: the pinhole projection
    flat = project_points_with_distortion(
        cam["K"], cam["R"], cam["t"], torch.zeros(5, dtype=dtype), torch.tensor(X[:4], dtype=dtype)
    )
    torch.testing.assert_close(flat, project_points(cam["proj"], torch.tensor(X[:4], dtype=dtype)))


def test_distortion_gradients(rig_distorted: list[Camera]) -> None:
    cam = stacked(crops(rig_distorted))
    X = torch.tensor(points(3, seed=2), requires_grad=True)
    dist = cam["dist"][:2, None].clone().requires_grad_()
    K = cam["K"][:2, None].clone().requires_grad_()

    def f(X: torch.Tensor, dist: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        return project_points_with_distortion(K, cam["R"][:2, None], cam["t"][:2, None], dist, X)

    assert torch.autograd.gradcheck(f, (X, dist, K))


def test_distortion_behind_camera_is_nan() -> None:
    out = project_points_with_distortion(
        torch.eye(3), torch.eye(3), torch.zeros(3), torch.tensor([-0.2, 0.24, 0.001, 0, 0]),
        torch.tensor([[0.1, 0.1, 1.0], [0.1, 0.1, -1.0]]),
    )
    assert torch.isfinite(out[0]).all() and torch.isnan(out[1]).all()


def test_shape_errors() -> None:
    P = torch.zeros(3, 4)
    with pytest.raises(ShapeError, match=r"proj: expected shape \(\*, 3, 4\)"):
        project_points(torch.zeros(4, 4), torch.zeros(3))
    with pytest.raises(ShapeError, match="points"):
        project_points(P, torch.zeros(5, 2))
    with pytest.raises(ShapeError, match="broadcast"):
        project_points(torch.zeros(2, 3, 4), torch.zeros(5, 3))
    with pytest.raises(ShapeError, match="dist"):
        project_points_with_distortion(
            torch.eye(3), torch.eye(3), torch.zeros(3), torch.zeros(4), torch.zeros(3)
        )
    with pytest.raises(ShapeError, match="points"):
        point_depths(P, torch.zeros(4))
