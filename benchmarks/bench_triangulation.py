"""Speed of the batched triangulation kernels against straightforward per-point loops.

Each group pairs ``torch`` (the poseboard kernel, float32 in, float64 inside) with
``loop`` (a per-point NumPy/SciPy loop, float64) measured in the same run, on

* ``64x17x4``: 64 frames × 17 joints × 4 views, per-frame crop cameras (B, 1, V, 3, 4),
  the algebraic method's training batch;
* ``100kx4``: 100,000 points × 4 views, one shared rig (V, 3, 4).

Loops over 100k points would take minutes, so a loop times its first ``LOOP_POINTS``
points and the ratio compares points/s (``extra_info["points_per_s_median"]``). Run with
``pytest benchmarks/ --benchmark-only --benchmark-group-by=group`` (``make bench``; docs/pipeline.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares

from poseboard.camera import Camera
from poseboard.device import synchronized
from poseboard.geometry import triangulate_dlt, triangulate_ransac


# ---------------------------------------------------------------------------- workloads
def h36m_camera(index: int, crop_box: tuple[float, float, float, float] | None) -> Camera:
    """Camera ``index`` (0..3) of an H36M-like rig: ~5 m from the centre of the capture
    area, f = 1145 px, 1000×1000; with ``crop_box``, cropped and resized to 384×384."""
    sx, sy = [(1, 1), (-1, 1), (-1, -1), (1, -1)][index]
    cam = Camera.look_at(
        eye=[sx * 3500.0, sy * 3500.0, 1600.0], target=[0.0, 0.0, 1000.0], focal=1145.0,
        image_size=(1000, 1000), name=f"cam{index}",
    )
    return cam if crop_box is None else cam.crop_and_resize(crop_box, (384, 384))


@dataclass
class Views:
    """A workload: ``proj`` (..., V, 3, 4), ``points`` (..., V, 2) crop pixels, ``weights``
    (..., V), ground truth ``world`` (..., 3) mm and the gross-outlier mask (..., V)."""

    proj: torch.Tensor
    points: torch.Tensor
    weights: torch.Tensor
    world: np.ndarray
    outliers: np.ndarray

    @property
    def n_points(self) -> int:
        return int(np.prod(self.world.shape[:-1]))

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(N, V, 3, 4), (N, V, 2), (N, V), (N, 3) float64 NumPy, one row per point."""
        v = self.points.shape[-2]
        proj = self.proj.double().expand(*self.points.shape[:-2], v, 3, 4)
        return (
            proj.reshape(-1, v, 3, 4).numpy(),
            self.points.double().reshape(-1, v, 2).numpy(),
            self.weights.double().reshape(-1, v).numpy(),
            self.world.reshape(-1, 3),
        )


def make_views(
    shape: tuple[int, ...],
    per_frame_cameras: bool,
    noise_px: float = 2.0,
    outlier_frac: float = 0.0,
    seed: int = 0,
) -> Views:
    """Points of a person-sized volume seen by the 4-camera rig in 384×384 crops, float32.

    ``shape`` is (frames, joints) or (points,). With ``per_frame_cameras`` every frame has
    its own crop boxes (as in learnable triangulation, where the crop follows the person),
    so ``proj`` is (frames, 1, 4, 3, 4); otherwise one rig (4, 3, 4) serves all points.
    Gross outliers are uniform over the crop.
    """
    rng = np.random.default_rng(seed)
    world = rng.uniform([-800, -800, 0], [800, 800, 1900], (*shape, 3))
    n_rigs = shape[0] if per_frame_cameras else 1
    projs = []
    for _ in range(n_rigs):
        left, top = rng.uniform(250, 340, 2)
        size = rng.uniform(380, 440)
        box = (left, top, left + size, top + size)
        projs.append(np.stack([h36m_camera(i, box).projection_matrix for i in range(4)]))
    proj = np.stack(projs)  # (R, 4, 3, 4)
    flat_world = world.reshape(n_rigs, -1, 3)
    h = np.einsum("rvij,rnj->rnvi", proj[..., :3], flat_world) + proj[:, None, :, :, 3]
    uv = h[..., :2] / h[..., 2:]  # (R, n, 4, 2)
    uv = uv.reshape(*shape, 4, 2) + rng.normal(0, noise_px, (*shape, 4, 2))
    outliers = rng.random((*shape, 4)) < outlier_frac
    uv = np.where(outliers[..., None], rng.uniform(0, 384, uv.shape), uv)
    weights = rng.uniform(0.2, 1.0, (*shape, 4))
    proj_t = torch.tensor(proj[:, None] if per_frame_cameras else proj[0], dtype=torch.float32)
    return Views(
        proj=proj_t,
        points=torch.tensor(uv, dtype=torch.float32),
        weights=torch.tensor(weights / weights.sum(-1, keepdims=True) + 1e-5, dtype=torch.float32),
        world=world,
        outliers=outliers,
    )


WORKLOADS = {"64x17x4": ((64, 17), True), "100kx4": ((100_000,), False)}
LOOP_POINTS = {"dlt": 5000, "ransac": 300}  # loop subsample (points) per workload
ROUNDS = {"64x17x4": 30, "100kx4": 7}
OUTLIER_FRAC = 0.1  # RANSAC data: 10% of the views are gross outliers (uniform over the crop)


@cache
def views(workload: str, outliers: bool, device: str = "cpu") -> Views:
    """The workload's tensors on ``device`` (drawn on the CPU, so every device sees the same)."""
    shape, per_frame = WORKLOADS[workload]
    data = make_views(shape, per_frame, outlier_frac=OUTLIER_FRAC if outliers else 0.0, seed=1)
    if device == "cpu":
        return data
    return Views(proj=data.proj.to(device), points=data.points.to(device), weights=data.weights.to(device),
                 world=data.world, outliers=data.outliers)


#: The kernels run on every device this machine has (the loops stay on the CPU): the CPU
#: always, CUDA when it is there, so a GPU machine reports both in one run (issue 20).
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def impl_name(device: str) -> str:
    """``torch`` on the CPU (the name the committed numbers use), ``torch-cuda`` on a GPU."""
    return "torch" if device == "cpu" else f"torch-{device}"


def run(
    benchmark: Any, throughput: Any, group: str, impl: str, fn: Callable[[], Any],
    n_points: int, rounds: int, **extra: Any,
) -> Any:
    benchmark.group = group
    result = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    throughput.record(benchmark, impl, n_points, **extra)
    return result


# ---------------------------------------------------------------------------- the loops
def dlt_loop(proj: np.ndarray, pts: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """The reference's linear triangulation, one ``np.linalg.svd`` per point, rows scaled by
    the weights (proj (N, V, 3, 4), pts (N, V, 2), w (N, V))."""
    out = np.empty((len(pts), 3))
    for i in range(len(pts)):
        P, x = proj[i], pts[i]
        wi = np.ones(len(P)) if w is None else w[i]
        a = np.concatenate(
            [wi[:, None] * (x[:, :1] * P[:, 2] - P[:, 0]), wi[:, None] * (x[:, 1:] * P[:, 2] - P[:, 1])]
        )
        h = np.linalg.svd(a, full_matrices=False)[2][-1]
        out[i] = h[:3] / h[3]
    return out


def _reprojection(P: np.ndarray, X: np.ndarray, x: np.ndarray) -> np.ndarray:
    h = P @ np.append(X, 1.0)
    return np.linalg.norm(h[:, :2] / h[:, 2:] - x, axis=-1)


def ransac_loop(proj: np.ndarray, pts: np.ndarray, threshold: float = 30.0):
    """The same algorithm per point: every pair's SVD DLT, inliers = views with a full pixel
    error below the threshold, largest set then smallest summed error (fewer than 2 → the
    pair), SVD DLT on the inliers, then scipy ``least_squares(loss="huber")`` on half
    distances with f_scale 1 (the reference's refinement; = Huber 2 px on full distances)."""
    n, v = pts.shape[:2]
    out, masks = np.empty((n, 3)), np.empty((n, v), dtype=bool)
    pairs = list(itertools.combinations(range(v), 2))
    for i in range(n):
        P, x = proj[i], pts[i]
        best: tuple[tuple[int, float], np.ndarray] | None = None
        for a, b in pairs:
            X = dlt_loop(P[None, [a, b]], x[None, [a, b]])[0]
            err = _reprojection(P, X, x)
            inl = err < threshold
            key = (int(inl.sum()), -float(err[inl].sum()))
            if best is None or key > best[0]:
                best = (key, inl if inl.sum() >= 2 else np.isin(np.arange(v), [a, b]))
        assert best is not None
        inl = best[1]
        X0 = dlt_loop(P[None, inl], x[None, inl])[0]
        res = least_squares(
            lambda X, P=P[inl], x=x[inl]: 0.5 * _reprojection(P, X, x), X0, loss="huber",
            method="trf",
        )
        out[i], masks[i] = res.x, inl
    return out, masks


# ---------------------------------------------------------------------------- DLT
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_dlt_forward_torch(benchmark: Any, throughput: Any, workload: str, device: str) -> None:
    data = views(workload, outliers=False, device=device)
    out = run(
        benchmark, throughput, f"dlt-forward {workload}", impl_name(device),
        synchronized(lambda: triangulate_dlt(data.proj, data.points, data.weights), device),
        data.n_points, ROUNDS[workload],
    )
    assert out.shape == (*data.world.shape[:-1], 3)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_dlt_forward_loop(benchmark: Any, throughput: Any, workload: str) -> None:
    proj, pts, w, world = views(workload, outliers=False).flat()
    n = min(len(pts), LOOP_POINTS["dlt"])
    out = run(
        benchmark, throughput, f"dlt-forward {workload}", "loop",
        lambda: dlt_loop(proj[:n], pts[:n], w[:n]), n, 3,
        note=f"per-point np.linalg.svd on the first {n} of {len(pts)} points",
    )
    # the homogeneous (SVD) and inhomogeneous algebraic estimates differ by a few mm on
    # single points under 2 px noise, but are equally accurate
    ours = triangulate_dlt(torch.tensor(proj[:n]), torch.tensor(pts[:n]), torch.tensor(w[:n]))
    err_loop = np.linalg.norm(out - world[:n], axis=-1).mean()
    err_ours = np.linalg.norm(ours.numpy() - world[:n], axis=-1).mean()
    assert abs(err_ours - err_loop) < 0.02 * err_loop


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_dlt_forward_backward_torch(benchmark: Any, throughput: Any, workload: str, device: str) -> None:
    data = views(workload, outliers=False, device=device)
    points = data.points.clone().requires_grad_()
    weights = data.weights.clone().requires_grad_()

    def step() -> None:
        points.grad = weights.grad = None
        triangulate_dlt(data.proj, points, weights).sum().backward()

    run(
        benchmark, throughput, f"dlt-forward+backward {workload}", impl_name(device), synchronized(step, device),
        data.n_points, ROUNDS[workload], note="gradients to points and weights",
    )
    assert points.grad is not None and torch.isfinite(points.grad).all()


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_dlt_forward_backward_loop(benchmark: Any, throughput: Any, workload: str) -> None:
    """The baseline has no backward pass: the same forward loop, so the ratio understates."""
    proj, pts, w, _ = views(workload, outliers=False).flat()
    n = min(len(pts), LOOP_POINTS["dlt"])
    run(
        benchmark, throughput, f"dlt-forward+backward {workload}", "loop",
        lambda: dlt_loop(proj[:n], pts[:n], w[:n]), n, 3,
        note=f"forward-only loop (no gradients) on the first {n} of {len(pts)} points",
    )


# ---------------------------------------------------------------------------- RANSAC
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_ransac_torch(benchmark: Any, throughput: Any, workload: str, device: str) -> None:
    data = views(workload, outliers=True, device=device)
    result = run(
        benchmark, throughput, f"ransac {workload}", impl_name(device),
        synchronized(lambda: triangulate_ransac(data.proj, data.points), device), data.n_points,
        max(3, ROUNDS[workload] // 3),
    )
    err = np.linalg.norm(result.points.double().cpu().numpy() - data.world, axis=-1)
    n = LOOP_POINTS["ransac"]
    throughput.record(
        benchmark, impl_name(device), data.n_points,
        mean_error_mm=round(float(err.reshape(-1)[:n].mean()), 3),
        median_error_mm=round(float(np.median(err.reshape(-1)[:n])), 3),
        mean_error_mm_all_points=round(float(err.mean()), 3),
    )


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_ransac_loop(benchmark: Any, throughput: Any, workload: str) -> None:
    data = views(workload, outliers=True)
    proj, pts, _, world = data.flat()
    n = LOOP_POINTS["ransac"]
    out, masks = run(
        benchmark, throughput, f"ransac {workload}", "loop",
        lambda: ransac_loop(proj[:n], pts[:n]), n, 2,
        note=f"per-point numpy pair DLTs + scipy least_squares on the first {n} of {len(pts)} points",
    )
    err = np.linalg.norm(out - world[:n], axis=-1)
    # the same points through the batched kernel: equal accuracy, the same inliers
    ours = triangulate_ransac(torch.tensor(proj[:n]), torch.tensor(pts[:n]))
    ours_err = np.linalg.norm(ours.points.numpy() - world[:n], axis=-1)
    throughput.record(
        benchmark, "loop", n,
        note=f"per-point numpy pair DLTs + scipy least_squares on the first {n} of {len(pts)} points",
        mean_error_mm=round(float(err.mean()), 3),
        median_error_mm=round(float(np.median(err)), 3),
        inlier_masks_equal=float((ours.inliers.numpy() == masks).all(-1).mean()),
    )
    assert ours_err.mean() <= err.mean() * 1.05 + 0.5
