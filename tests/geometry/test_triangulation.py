"""triangulate_dlt and triangulate_ransac: round trips, weights, gradients, robustness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import poseboard.geometry as geometry
from poseboard.camera import Camera
from poseboard.errors import ShapeError
from poseboard.geometry import project_points, triangulate_dlt, triangulate_ransac


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Two OpenMP threads on a busy 2-core machine stall small ops ~10 ms each (reference
    notes §6); one thread keeps these tests fast. (Belongs in tests/conftest.py.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

# An H36M-like rig: 4 cameras ~5 m from the centre of the capture area, f = 1145 px,
# 1000×1000 images; and the same cameras adjusted to 410-px boxes resized to 384×384.
H36M_DIST = (-0.207, 0.247, -0.0009, -0.0012, -0.0031)
# dtype-keyed tolerances, mm: float64 is the solver's own precision, float32 is bounded by
# float32 inputs (pixels, P entries up to ~5e6) and the output rounding.
TOL_MM = {torch.float64: 1e-6, torch.float32: 0.5}


def h36m_rig(crop: bool, dist: tuple[float, ...] = (0.0,) * 5) -> list[Camera]:
    cameras = []
    for i, (sx, sy) in enumerate([(1, 1), (-1, 1), (-1, -1), (1, -1)]):
        cam = Camera.look_at(
            eye=[sx * 3500.0, sy * 3500.0, 1600.0], target=[0.0, 0.0, 1000.0], focal=1145.0,
            image_size=(1000, 1000), dist=dist, name=f"cam{i}",
        )
        if crop:
            left, top = 290 + 10 * i, 280 - 5 * i
            cam = cam.crop_and_resize((left, top, left + 410, top + 410), (384, 384))
        cameras.append(cam)
    return cameras


def proj_of(cameras: list[Camera], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(np.stack([c.projection_matrix for c in cameras]), dtype=dtype)


def body_points(n: int, seed: int = 0) -> np.ndarray:
    """Points where a person stands in the capture area, world mm."""
    rng = np.random.default_rng(seed)
    return rng.uniform([-800.0, -800.0, 0.0], [800.0, 800.0, 1900.0], size=(n, 3))


def svd_dlt(proj: np.ndarray, pts: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """The reference's homogeneous DLT (one np.linalg.svd per point)."""
    w = np.ones(len(proj)) if w is None else w
    a = np.concatenate(
        [(pts[:, :1] * proj[:, 2] - proj[:, 0]) * w[:, None],
         (pts[:, 1:] * proj[:, 2] - proj[:, 1]) * w[:, None]]
    )
    h = np.linalg.svd(a)[2][-1]
    return h[:3] / h[3]


# ------------------------------------------------------------------ DLT round trips
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("crop", [False, True])
def test_round_trip_without_distortion(dtype: torch.dtype, crop: bool) -> None:
    cams = h36m_rig(crop)
    X = body_points(2000)
    uv = np.stack([c.project(X) for c in cams], axis=1)  # (N, V, 2)
    out = triangulate_dlt(proj_of(cams, dtype), torch.tensor(uv, dtype=dtype))
    assert out.dtype == dtype and out.shape == (2000, 3)
    err = np.linalg.norm(out.double().numpy() - X, axis=-1)
    assert err.max() < TOL_MM[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("crop", [False, True])
def test_round_trip_with_distortion(dtype: torch.dtype, crop: bool) -> None:
    """Distorted pixels (Camera.project) → Camera.undistort_pixels → DLT → the point."""
    cams = h36m_rig(crop, dist=H36M_DIST)
    X = body_points(500, seed=1)
    uv = np.stack([c.undistort_pixels(c.project(X)) for c in cams], axis=1)
    raw = np.stack([c.project(X) for c in cams], axis=1)
    assert np.abs(raw - uv).max() > 1.0  # the distortion is really there
    out = triangulate_dlt(proj_of(cams, dtype), torch.tensor(uv, dtype=dtype))
    err = np.linalg.norm(out.double().numpy() - X, axis=-1)
    assert err.max() < TOL_MM[dtype]


def test_project_then_triangulate_in_torch() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    X = torch.tensor(body_points(100, seed=2))
    uv = project_points(proj[:, None], X).transpose(0, 1)  # (V, N, 2) → (N, V, 2)
    torch.testing.assert_close(triangulate_dlt(proj, uv), X, atol=1e-6, rtol=0)


def test_matches_the_reference_svd_on_exact_and_noisy_data() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    X = body_points(50, seed=3)
    uv = np.stack([c.project(X) for c in cams], axis=1)
    noisy = uv + np.random.default_rng(0).normal(0, 2.0, uv.shape)
    ref_exact = np.stack([svd_dlt(proj.numpy(), p) for p in uv])
    np.testing.assert_allclose(triangulate_dlt(proj, torch.tensor(uv)).numpy(), ref_exact, atol=1e-6)
    # on noisy data the inhomogeneous and homogeneous algebraic solutions differ a little
    ours = triangulate_dlt(proj, torch.tensor(noisy)).numpy()
    ref = np.stack([svd_dlt(proj.numpy(), p) for p in noisy])
    assert np.abs(ours - ref).max() < 3.0
    assert abs(np.linalg.norm(ours - X, axis=1).mean() - np.linalg.norm(ref - X, axis=1).mean()) < 0.5


def test_far_from_the_world_origin() -> None:
    """World normalisation: a rig 1000 km from the origin triangulates as well."""
    offset = np.array([1e9, -2e9, 5e8])
    cams = [
        Camera(K=c.K, R=c.R, t=c.t - c.R @ offset, image_size=c.image_size) for c in h36m_rig(True)
    ]
    X = body_points(100) + offset
    uv = np.stack([c.project(X) for c in cams], axis=1)
    out = triangulate_dlt(proj_of(cams), torch.tensor(uv)).numpy()
    assert np.abs(out - X).max() < 1e-3


def test_projective_scale_of_p_does_not_matter() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    scaled = proj * torch.tensor([1.0, -3.0, 0.01, 250.0])[:, None, None]
    X = body_points(20, seed=4)
    noisy = np.stack([c.project(X) for c in cams], axis=1) + np.random.default_rng(1).normal(
        0, 3.0, (20, 4, 2)
    )
    torch.testing.assert_close(
        triangulate_dlt(scaled, torch.tensor(noisy)), triangulate_dlt(proj, torch.tensor(noisy))
    )


# ------------------------------------------------------------------ weights
def test_equal_weights_equal_unweighted() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    X = body_points(64, seed=5)
    noisy = np.stack([c.project(X) for c in cams], axis=1)
    noisy = torch.tensor(noisy + np.random.default_rng(2).normal(0, 2.0, noisy.shape))
    plain = triangulate_dlt(proj, noisy)
    for c in (1.0, 0.25, 7.0, -2.0):
        weighted = triangulate_dlt(proj, noisy, torch.full((64, 4), c, dtype=torch.float64))
        torch.testing.assert_close(weighted, plain, atol=1e-9, rtol=0)


def test_weights_match_the_reference_weighted_svd() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    X = body_points(30, seed=6)
    rng = np.random.default_rng(3)
    noisy = np.stack([c.project(X) for c in cams], axis=1) + rng.normal(0, 1.0, (30, 4, 2))
    w = rng.uniform(0.05, 1.0, (30, 4))
    ours = triangulate_dlt(proj, torch.tensor(noisy), torch.tensor(w)).numpy()
    ref = np.stack([svd_dlt(proj.numpy(), p, wi) for p, wi in zip(noisy, w, strict=True)])
    assert np.abs(ours - ref).max() < 1.5  # algebraic variants, 1 px noise


def test_zero_weight_view_is_ignored_exactly() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    X = body_points(10, seed=7)
    uv = torch.tensor(np.stack([c.project(X) for c in cams], axis=1))
    bad = uv.clone()
    bad[:, 2] += torch.tensor([400.0, -250.0], dtype=torch.float64)  # a gross outlier
    w = torch.tensor([0.9, 0.4, 0.0, 0.7], dtype=torch.float64).expand(10, 4)
    out = triangulate_dlt(proj, bad, w)
    torch.testing.assert_close(out, torch.tensor(X), atol=1e-6, rtol=0)
    # exactly the 3-view solution, and NaN/inf pixels in an ignored view change nothing
    three = triangulate_dlt(proj[[0, 1, 3]], bad[:, [0, 1, 3]], w[:, [0, 1, 3]])
    torch.testing.assert_close(out, three, atol=1e-9, rtol=0)
    bad[:5, 2] = torch.nan
    bad[5:, 2] = torch.inf
    torch.testing.assert_close(triangulate_dlt(proj, bad, w), out, atol=1e-9, rtol=0)


def test_fewer_than_two_weighted_views_give_nan_with_finite_gradients() -> None:
    cams = h36m_rig(crop=True)
    proj = proj_of(cams).requires_grad_()
    X = body_points(3, seed=8)
    uv = torch.tensor(np.stack([c.project(X) for c in cams], axis=1), requires_grad=True)
    w = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0], [0.5, 0, 0.5, 0]], requires_grad=True)
    out = triangulate_dlt(proj, uv, w)
    assert torch.isnan(out[:2]).all() and torch.isfinite(out[2]).all()
    out[2].sum().backward()
    for t in (proj, uv, w):
        assert torch.isfinite(t.grad).all()
    assert (uv.grad[:2] == 0).all() and (w.grad[:2] == 0).all()


# ------------------------------------------------------------------ gradients
def test_gradcheck_points_weights_proj() -> None:
    cams = h36m_rig(crop=True)
    X = body_points(3, seed=9)
    rng = np.random.default_rng(4)
    uv = np.stack([c.project(X) for c in cams], axis=1) + rng.normal(0, 3.0, (3, 4, 2))
    proj = proj_of(cams).requires_grad_()
    pts = torch.tensor(uv, requires_grad=True)
    w = torch.tensor(rng.uniform(0.2, 1.0, (3, 4)), requires_grad=True)
    assert torch.autograd.gradcheck(triangulate_dlt, (proj, pts, w))
    assert torch.autograd.gradcheck(lambda p, x: triangulate_dlt(p, x), (proj, pts))


def test_gradient_wrt_a_zero_weight() -> None:
    """d/dw at w = 0 is 0 (rows are scaled by w, the normal equations by w²)."""
    cams = h36m_rig(crop=True)
    uv = torch.tensor(np.stack([c.project(body_points(2)) for c in cams], axis=1))
    w = torch.tensor([[1.0, 1.0, 0.0, 1.0]] * 2, dtype=torch.float64, requires_grad=True)
    triangulate_dlt(proj_of(cams), uv + 1.0, w).sum().backward()
    assert (w.grad[:, 2] == 0).all() and (w.grad[:, [0, 1, 3]] != 0).any()


# ------------------------------------------------------------------ batching
def test_broadcasting_per_frame_cameras() -> None:
    """proj (B, 1, V, 3, 4) against points (B, J, V, 2) equals per-frame calls."""
    rigs = [h36m_rig(crop=True), h36m_rig(crop=False)]
    proj = torch.stack([proj_of(r) for r in rigs])[:, None]  # (2, 1, 4, 3, 4)
    X = body_points(34, seed=10).reshape(2, 17, 3)
    uv = np.stack(
        [np.stack([c.project(X[b]) for c in rigs[b]], axis=1) for b in range(2)]
    ) + np.random.default_rng(5).normal(0, 1.0, (2, 17, 4, 2))
    uv = torch.tensor(uv)
    w = torch.rand(2, 17, 4, dtype=torch.float64) + 0.1
    out = triangulate_dlt(proj, uv, w)
    assert out.shape == (2, 17, 3)
    for b in range(2):
        torch.testing.assert_close(out[b], triangulate_dlt(proj[b, 0], uv[b], w[b]))


def test_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Splitting the points into blocks changes nothing beyond float64 rounding: the
    per-plane GEMMs of another width may round differently (last bits, ~1e-13 mm), so exact
    equality is not promised; the same call on the same input is bit-identical."""
    cams = h36m_rig(crop=True)
    proj = proj_of(cams)
    uv = torch.tensor(np.stack([c.project(body_points(1000)) for c in cams], axis=1)) + 0.7
    w = torch.rand(1000, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    full = triangulate_dlt(proj, uv, w)
    torch.testing.assert_close(triangulate_dlt(proj, uv, w), full, atol=0, rtol=0)
    monkeypatch.setattr(geometry, "_CPU_BLOCK", 97)
    torch.testing.assert_close(triangulate_dlt(proj, uv, w), full, atol=1e-9, rtol=1e-12)


def test_shape_errors() -> None:
    proj = torch.zeros(4, 3, 4)
    with pytest.raises(ShapeError, match="proj"):
        triangulate_dlt(torch.zeros(4, 4, 4), torch.zeros(4, 2))
    with pytest.raises(ShapeError, match="points"):
        triangulate_dlt(proj, torch.zeros(10, 3, 2))
    with pytest.raises(ShapeError, match="weights"):
        triangulate_dlt(proj, torch.zeros(10, 4, 2), torch.zeros(10, 3))
    with pytest.raises(ShapeError, match="broadcast"):
        triangulate_dlt(torch.zeros(2, 4, 3, 4), torch.zeros(3, 4, 2))
    with pytest.raises(ShapeError, match="at least 2 views"):
        triangulate_dlt(torch.zeros(1, 3, 4), torch.zeros(1, 2))
    with pytest.raises(ShapeError, match="at least 2 views"):
        triangulate_ransac(torch.zeros(1, 3, 4), torch.zeros(1, 2))


# ------------------------------------------------------------------ RANSAC
def noisy_views(n: int, seed: int, outlier_view: int | None = None, frac: float = 0.0):
    cams = h36m_rig(crop=True)
    X = body_points(n, seed=seed)
    rng = np.random.default_rng(seed)
    uv = np.stack([c.project(X) for c in cams], axis=1) + rng.normal(0, 1.0, (n, 4, 2))
    outliers = np.zeros((n, 4), dtype=bool)
    if outlier_view is not None:
        outliers[:, outlier_view] = True
    if frac:
        outliers |= rng.random((n, 4)) < frac
    # gross: at least 100 px from the truth, anywhere in the 384×384 crop
    shift = rng.uniform(100, 250, (n, 4, 1)) * np.exp(1j * rng.uniform(0, 2 * np.pi, (n, 4, 1)))
    bad = uv + np.concatenate([shift.real, shift.imag], axis=-1)
    return proj_of(cams), X, np.where(outliers[..., None], bad, uv), outliers


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ransac_rejects_a_gross_outlier_view(dtype: torch.dtype) -> None:
    proj, X, uv, _ = noisy_views(200, seed=11, outlier_view=2)
    points, inliers = triangulate_ransac(proj.to(dtype), torch.tensor(uv, dtype=dtype))
    assert points.dtype == dtype and inliers.dtype == torch.bool
    assert inliers.shape == (200, 4)
    assert (inliers == torch.tensor([True, True, False, True])).all()
    err = np.linalg.norm(points.double().numpy() - X, axis=-1)
    clean = triangulate_dlt(proj[[0, 1, 3]], torch.tensor(uv[:, [0, 1, 3]])).numpy()
    clean_err = np.linalg.norm(clean - X, axis=-1)
    assert err.mean() < 1.2 * clean_err.mean()  # noise level: as good as knowing the outlier
    assert err.max() < 25.0
    plain = np.linalg.norm(triangulate_dlt(proj, torch.tensor(uv)).numpy() - X, axis=-1)
    assert plain.mean() > 10 * err.mean()


def test_ransac_mask_and_error_under_random_outliers() -> None:
    proj, X, uv, outliers = noisy_views(300, seed=12, frac=0.1)
    one_or_none = outliers.sum(1) <= 1
    points, inliers = triangulate_ransac(proj, torch.tensor(uv))
    assert (inliers.numpy()[one_or_none] == ~outliers[one_or_none]).all()
    err = np.linalg.norm(points.numpy() - X, axis=-1)
    assert np.median(err) < 10.0 and err[one_or_none].max() < 30.0


def test_ransac_is_deterministic() -> None:
    proj, _, uv, _ = noisy_views(100, seed=13, frac=0.2)
    uv = torch.tensor(uv)
    a = triangulate_ransac(proj, uv, seed=3)
    b = triangulate_ransac(proj, uv, seed=3)
    assert torch.equal(a.points, b.points) and torch.equal(a.inliers, b.inliers)
    # random pairs: reproducible under the seed, different across seeds
    r1 = triangulate_ransac(proj, uv, pairs="random", n_iters=3, seed=1, refine=False)
    r2 = triangulate_ransac(proj, uv, pairs="random", n_iters=3, seed=1, refine=False)
    r3 = triangulate_ransac(proj, uv, pairs="random", n_iters=3, seed=2, refine=False)
    assert torch.equal(r1.points, r2.points) and torch.equal(r1.inliers, r2.inliers)
    assert not torch.equal(r1.points, r3.points)


def test_ransac_random_pairs_with_many_views() -> None:
    """A 12-camera dome: 66 pairs > n_iters, so "auto" draws random pairs."""
    cams = [
        Camera.look_at(
            eye=[5000 * np.cos(a), 5000 * np.sin(a), 1500.0], target=[0, 0, 1000], focal=1000,
            image_size=(1000, 1000),
        )
        for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ]
    proj = proj_of(cams)
    X = body_points(50, seed=14)
    uv = np.stack([c.project(X) for c in cams], axis=1)
    uv[:, [3, 7]] += 300.0
    points, inliers = triangulate_ransac(proj, torch.tensor(uv), n_iters=20)
    assert np.abs(points.numpy() - X).max() < 1e-6
    assert not inliers[:, [3, 7]].any() and inliers.sum(1).eq(10).all()


def test_ransac_refinement_does_not_hurt() -> None:
    proj, X, uv, _ = noisy_views(200, seed=15, outlier_view=0)
    refined = triangulate_ransac(proj, torch.tensor(uv)).points.numpy()
    linear = triangulate_ransac(proj, torch.tensor(uv), refine=False).points.numpy()
    e_ref = np.linalg.norm(refined - X, axis=1).mean()
    assert e_ref <= 1.05 * np.linalg.norm(linear - X, axis=1).mean()


def loop_ransac_masks(proj: torch.Tensor, uv: np.ndarray, threshold: float) -> np.ndarray:
    """The inlier rule written out per point in NumPy: every pair's (inhomogeneous) DLT,
    inliers = views whose full pixel distance is below the threshold, largest set then
    smallest summed error; fewer than 2 inliers → the pair."""
    P = proj.numpy()
    masks = []
    for pts in uv:
        best: tuple[int, float] | None = None
        for i, j in itertools.combinations(range(len(pts)), 2):
            a = np.concatenate([pts[[i, j], :1] * P[[i, j], 2] - P[[i, j], 0],
                                pts[[i, j], 1:] * P[[i, j], 2] - P[[i, j], 1]])
            X = np.linalg.solve(a[:, :3].T @ a[:, :3], -a[:, :3].T @ a[:, 3])
            h = P @ np.append(X, 1.0)
            err = np.linalg.norm(h[:, :2] / h[:, 2:] - pts, axis=-1)
            inl = err < threshold
            key = (int(inl.sum()), -float(err[inl].sum()))
            if best is None or key > best:
                best, mask = key, inl if inl.sum() >= 2 else np.isin(range(len(pts)), [i, j])
        masks.append(mask)
    return np.stack(masks)


@pytest.mark.parametrize("threshold", [15.0, 30.0])
def test_ransac_inliers_follow_the_full_pixel_distance_rule(threshold: float) -> None:
    proj, _, uv, _ = noisy_views(40, seed=17, frac=0.2)
    uv[:20, 0] += 20.0  # a 20 px error: in or out depending on the threshold
    got = triangulate_ransac(proj, torch.tensor(uv), threshold_px=threshold, refine=False)
    np.testing.assert_array_equal(got.inliers.numpy(), loop_ransac_masks(proj, uv, threshold))


def test_ransac_reference_pair_rule() -> None:
    """pair_inliers="always": a hypothesis's two views are inliers whatever their error."""
    proj, _, uv, _ = noisy_views(50, seed=18)
    uv[:, 1] += 500.0  # view 1 hopeless: only the pairs that hold it can include it
    res = triangulate_ransac(proj, torch.tensor(uv), pair_inliers="always", refine=False)
    assert not res.inliers[:, 1].any()  # a clean triple still wins on count
    res = triangulate_ransac(
        proj[:2], torch.tensor(uv[:, :2]), pair_inliers="always", refine=False
    )
    assert res.inliers.all()  # the only pair, kept whatever its error


def test_ransac_refinement_reaches_the_scipy_huber_optimum() -> None:
    """The refinement minimises what the reference's ``least_squares(loss="huber")`` on
    half distances minimises: our Huber-2px cost is no worse than scipy's optimum."""
    from scipy.optimize import least_squares

    proj, _, uv, _ = noisy_views(20, seed=19, frac=0.1)
    uv = uv + np.random.default_rng(0).normal(0, 2.0, uv.shape)  # residuals beyond 2 px
    res = triangulate_ransac(proj, torch.tensor(uv))
    P = proj.numpy()

    def dist(X: np.ndarray, i: int, mask: np.ndarray) -> np.ndarray:
        h = P[mask] @ np.append(X, 1.0)
        return np.linalg.norm(h[:, :2] / h[:, 2:] - uv[i, mask], axis=-1)

    def huber(d: np.ndarray) -> float:
        return float(np.where(d <= 2, 0.5 * d * d, 2 * (d - 1)).sum())

    ours, theirs = [], []
    for i, (X, mask) in enumerate(zip(res.points.numpy(), res.inliers.numpy(), strict=True)):
        fit = least_squares(
            lambda X, i=i, mask=mask: 0.5 * dist(X, i, mask), X, loss="huber", method="trf"
        )
        ours.append(huber(dist(X, i, mask)))
        theirs.append(huber(dist(fit.x, i, mask)))
    assert np.mean(ours) <= np.mean(theirs) + 0.02


def test_ransac_options_are_checked() -> None:
    proj, _, uv, _ = noisy_views(2, seed=16)
    with pytest.raises(ValueError, match=r"\['auto', 'all', 'random'\]"):
        triangulate_ransac(proj, torch.tensor(uv), pairs="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pair_inliers"):
        triangulate_ransac(proj, torch.tensor(uv), pair_inliers="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold_px"):
        triangulate_ransac(proj, torch.tensor(uv), threshold_px=0.0)
    with pytest.raises(ValueError, match="n_iters"):
        triangulate_ransac(proj, torch.tensor(uv), n_iters=0)
