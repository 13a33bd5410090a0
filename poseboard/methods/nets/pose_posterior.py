"""Monte-Carlo posterior over relative camera poses from 2D joints (Jiang et al., ICCV 2023).

The core operator of the ``probabilistic`` method: given the 2D joints of V views of one
instant and the views' intrinsics only, estimate a *distribution* over the pose of every
non-reference camera relative to the reference (first) view, and triangulate under it.

* **Parametrisation.** View 0 is the reference: ``R_0 = I``, ``t_0 = 0``. Every view passed
  in must be present (a missing view has no 2D evidence and, for a zero crop box, no
  intrinsics); :mod:`poseboard.methods.probabilistic` passes each frame's present views
  only, the first present camera first, which is the protocols' reference camera. View v ≥ 1 maps
  reference-camera coordinates to its own, ``x_v = R_v x_0 + t_v``. The gauge (global scale,
  which 2D evidence cannot see) is fixed as in the reference's V1 code: ``‖t_1‖ = 1``, so
  3D points come out in units of the view-0 → view-1 baseline until a metric prior rescales
  them (see :mod:`poseboard.methods.probabilistic`).
* **Distribution.** Per non-reference view, the rotation is a unit quaternion (real part
  first) under an **angular central Gaussian** ACG(Σ) on S³ (antipodally symmetric, so q and
  −q are the same rotation), the translation a **multivariate Student-t** (integer ``df``,
  3 by default, heavy-tailed). Each sample's translations are re-normalised to the gauge.
* **Initialisation** from 2D correspondences only: the essential matrix between views 0 and 1
  (confidence-weighted 8-point hypotheses scored by MSAC on the Sampson distance, the best
  few refined by Levenberg–Marquardt on the 5-dof relative pose), its decomposition with the
  cheirality test, two-view triangulation, a linear PnP (DLT on Hartley-normalised points,
  refined by LM) for views 2…V−1, then a joint LM refinement of all relative poses on the
  reprojection error of the DLT-triangulated joints (a bundle adjustment with the structure
  eliminated). ``init_starts`` two-view solutions are carried through and the one with the
  lowest reprojection error kept. No OpenCV.
* **Update** (``iterations`` times): draw ``samples`` pose sets (sample 0 is the current
  mode), triangulate every joint under each (confidence-weighted DLT), weight each sample by
  its reprojection likelihood ``log w = −ē / temperature_px`` with ē the confidence-weighted
  mean reprojection error (pixels, capped at ``error_cap_px``), keep the top
  ``elite_fraction`` and refit the ACG (weighted Tyler M-estimator — the ACG's maximum-
  likelihood fixed point — with an eigenvalue floor) and the Student-t (weighted mean and
  centred covariance with a floor, as the reference) to them.
* **Triangulation under the posterior**: ``X = Σ_m w̄_m DLT(P_m, x, c)`` over the final
  samples with their normalised likelihood weights. The sample weights and poses carry no
  gradient; the DLT does, so the loss reaches the 2D joints and their confidences.

Differences from the published V1 code (reference notes §A.1): intrinsics are used as given
(pixels of each view's image, not normalised K = I), the weights use pixel errors with a
stated temperature, the init adds the LM refinements and several starts (the linear
8-point alone is tens of degrees off on one frame's 17 joints under 1 px of noise), the ACG
is fitted by its M-estimator rather than by the uncentred moment
(whose Cholesky factor makes the sampled spread much wider than the elites'), the essential
matrix sees the two different views (the reference passes view 0 twice to ``recoverPose``),
and everything is batched torch on any device: tensors are created on the device of the
inputs and every random draw is made on the CPU from the caller's ``torch.Generator`` and
moved (so a seed gives the same draws on every device). Host round trips on a GPU: the
essential-matrix hypotheses read the confidences back (``torch.multinomial`` with a CPU
generator), and ``linalg.eigh``/``svd`` check their convergence on the host.

What the synthetic world shows (``docs/results_other_methods.md``): one frame's 17 joints
constrain the relative poses poorly — under 1 px of crop noise the maximum-likelihood poses
are often 5–30° from the truth, with a *lower* reprojection error than the true poses — so
per-frame accuracy is set by that ill-conditioning, and the Monte-Carlo iterations and
sample count hardly change it; pooling the frames of a static rig fixes it.

All functions take batches with a leading ``B`` (frames) and run in float64 internally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from poseboard.device import host_tensor, to_device
from poseboard.errors import ShapeError, check_shape
from poseboard.geometry import project_points, triangulate_dlt

__all__ = [
    "AngularCentralGaussian",
    "PosteriorConfig",
    "PosteriorResult",
    "StudentT",
    "decompose_essential",
    "essential_from_correspondences",
    "initial_relative_poses",
    "matrix_to_quaternion",
    "monte_carlo_posterior",
    "normalized_coordinates",
    "pnp_dlt",
    "quaternion_to_matrix",
    "refine_relative_poses",
    "relative_pose_from_extrinsics",
    "relative_pose_two_views",
    "rotation_angle_deg",
    "triangulate_under_posterior",
]

_DT = torch.float64  # the pose algebra is tiny; solve it in float64 throughout


#: How the init's Levenberg–Marquardt differentiates its residuals (:func:`_levenberg_marquardt`).
Jacobian = Literal["central", "forward"]


class PosteriorConfig(BaseModel):
    """Parameters of the Monte-Carlo camera-pose posterior."""

    model_config = ConfigDict(extra="forbid")

    samples: int = Field(64, ge=2, description="pose sets drawn per iteration (M)")
    iterations: int = Field(4, ge=0, description="Monte-Carlo update iterations (the reference: 4)")
    elite_fraction: float = Field(0.25, gt=0, le=1, description="share of samples the refit uses")
    temperature_px: float = Field(1.0, gt=0, description="log w = -mean reprojection error / temperature")
    error_cap_px: float = Field(30.0, gt=0, description="per-point reprojection error cap (robustness)")
    df: int = Field(3, ge=1, description="Student-t degrees of freedom of the translation")
    init_rotation_spread: float = Field(0.02, gt=0, description="initial ACG tangential std, quaternion units")
    init_translation_spread: float = Field(0.05, gt=0, description="initial Student-t scale, baseline units")
    min_rotation_spread: float = Field(1e-4, gt=0, description="eigenvalue floor of the refitted ACG")
    min_translation_spread: float = Field(1e-4, gt=0, description="std floor of the refitted Student-t")
    ransac_hypotheses: int = Field(64, ge=0, description="8-point hypotheses of the essential-matrix MSAC")
    refine_iterations: int = Field(15, ge=0, description="LM steps of the joint pose refinement after the init")
    init_starts: int = Field(4, ge=1, description="two-view solutions each carried through PnP and refinement")
    ransac_threshold_px: float = Field(4.0, gt=0, description="Sampson inlier threshold, pixels")
    min_confidence: float = Field(0.0, ge=0, description="joints below this confidence are not used in the init")
    jacobian: Jacobian = Field(
        "central", description="finite differences of the init's Levenberg–Marquardt Jacobians: central (2P residual "
                               "evaluations a step) or forward (P, the current residual reused: faster, but worse on "
                               "rigs of many cameras, docs/performance.md session 17)")
    seed: int = 0


# ------------------------------------------------------------------------------ rotations
def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Unit quaternions (..., 4), real part first → rotation matrices (..., 3, 3).

    The input is normalised first, so any non-zero 4-vector gives a rotation.
    """
    check_shape(q, ["*", 4], "quaternion_to_matrix: q")
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, dim=-1).unflatten(-1, (3, 3))


def matrix_to_quaternion(R: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) → unit quaternions (..., 4), real part first, w ≥ 0.

    The quaternion is the principal eigenvector of Bar-Itzhack's symmetric 4×4 matrix, which
    is robust for every angle (no branch on the largest diagonal entry) and gives the
    nearest rotation's quaternion for a slightly non-orthogonal input.
    """
    check_shape(R, ["*", 3, 3], "matrix_to_quaternion: R")
    m = R
    k = torch.stack(
        [
            m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 1, 0] + m[..., 0, 1],
            m[..., 2, 0] + m[..., 0, 2], m[..., 2, 1] - m[..., 1, 2],
            m[..., 1, 0] + m[..., 0, 1], m[..., 1, 1] - m[..., 0, 0] - m[..., 2, 2],
            m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
            m[..., 2, 0] + m[..., 0, 2], m[..., 2, 1] + m[..., 1, 2],
            m[..., 2, 2] - m[..., 0, 0] - m[..., 1, 1], m[..., 1, 0] - m[..., 0, 1],
            m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
            m[..., 1, 0] - m[..., 0, 1], m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2],
        ],
        dim=-1,
    ).unflatten(-1, (4, 4)) / 3.0  # fmt: skip
    _, vecs = torch.linalg.eigh(k)
    v = vecs[..., -1]  # (x, y, z, w)
    q = torch.cat([v[..., 3:], v[..., :3]], dim=-1)
    return q * torch.where(q[..., :1] < 0, -1.0, 1.0)


def rotation_angle_deg(R1: Tensor, R2: Tensor) -> Tensor:
    """Geodesic angle between rotations (..., 3, 3), degrees."""
    rel = R1.transpose(-1, -2) @ R2
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def _skew(v: Tensor) -> Tensor:
    z = torch.zeros_like(v[..., 0])
    x, y, w = v.unbind(-1)
    return torch.stack([z, -w, y, w, z, -x, -y, x, z], dim=-1).unflatten(-1, (3, 3))


# ------------------------------------------------------------------------------ distributions
class AngularCentralGaussian:
    """ACG(Σ) on the unit 3-sphere, batched: ``sigma`` (..., 4, 4) symmetric positive definite.

    A draw is ``x / ‖x‖`` with ``x ~ N(0, Σ)``; the density is
    ``p(q) = (qᵀ Σ⁻¹ q)^(−2) |Σ|^(−1/2) / (2π²)`` (invariant to the scale of Σ and to the
    sign of q). Its mode is Σ's principal eigenvector.
    """

    def __init__(self, sigma: Tensor) -> None:
        check_shape(sigma, ["*", 4, 4], "AngularCentralGaussian: sigma")
        self.sigma = sigma

    @classmethod
    def concentrated(cls, mode: Tensor, spread: float) -> AngularCentralGaussian:
        """Σ = q qᵀ + spread² (I − q qᵀ): mode ``q`` (..., 4), tangential std ≈ ``spread``
        (a Cauchy-like scale: the ACG has heavy angular tails)."""
        q = mode / mode.norm(dim=-1, keepdim=True)
        outer = q[..., :, None] * q[..., None, :]
        eye = torch.eye(4, dtype=q.dtype, device=q.device)
        return cls(outer + spread**2 * (eye - outer))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(..., n, 4) unit quaternions on Σ's device (the normal draws are made on the CPU,
        from ``generator`` or torch's global CPU generator, and moved)."""
        chol = _safe_cholesky(self.sigma)
        z = torch.randn((*self.sigma.shape[:-2], n, 4), generator=generator, dtype=self.sigma.dtype,
                        device="cpu")
        z = to_device(z, self.sigma.device)
        x = z @ chol.transpose(-1, -2)
        return x / x.norm(dim=-1, keepdim=True)

    def log_prob(self, q: Tensor) -> Tensor:
        """log density of unit quaternions q (..., n, 4) (batch dims of Σ before n)."""
        inv = torch.linalg.inv(self.sigma)[..., None, :, :]  # (not used by the posterior: a user's Σ is checked)
        quad = (q[..., None, :] @ inv @ q[..., :, None])[..., 0, 0]
        logdet = torch.logdet(self.sigma)[..., None]
        return -2.0 * torch.log(quad) - 0.5 * logdet - math.log(2 * math.pi**2)

    @property
    def mode(self) -> Tensor:
        """(..., 4) principal eigenvector, real part ≥ 0."""
        _, vecs = torch.linalg.eigh(self.sigma)
        q = vecs[..., -1]
        return q * torch.where(q[..., :1] < 0, -1.0, 1.0)

    @property
    def spread(self) -> Tensor:
        """(...,) sqrt(λ₂/λ₁): the largest tangential scale relative to the mode's."""
        vals = torch.linalg.eigvalsh(self.sigma)
        return (vals[..., -2] / vals[..., -1]).clamp_min(0).sqrt()

    @classmethod
    def fit(cls, q: Tensor, weights: Tensor, floor: float, iterations: int = 10) -> AngularCentralGaussian:
        """Weighted maximum likelihood (Tyler's fixed point ``Σ ← 4 Σᵢ wᵢ qᵢqᵢᵀ / (qᵢᵀΣ⁻¹qᵢ) / Σw``,
        trace-normalised), started from the uncentred second moment, with the eigenvalues
        floored at ``floor² · λ_max`` so that a handful of elites cannot collapse it.

        Args:
            q: (..., n, 4) unit quaternions; weights: (..., n) ≥ 0, not all zero.
        """
        w = _normalized_weights(weights)
        q = torch.nan_to_num(q)
        outer = q[..., :, None] * q[..., None, :]  # (..., n, 4, 4)
        sigma = (w[..., None, None] * outer).sum(-3)
        sigma = _floor_eigenvalues(sigma, floor)
        for _ in range(iterations):
            inv = _inverse(sigma)[..., None, :, :]
            quad = (q[..., None, :] @ inv @ q[..., :, None])[..., 0, 0].clamp_min(1e-12)
            sigma = 4.0 * (w[..., None, None] * outer / quad[..., None, None]).sum(-3)
            sigma = _floor_eigenvalues(sigma, floor)
        return cls(sigma)


def _inverse(m: Tensor) -> Tensor:
    """Inverse of (..., d, d) matrices that are invertible by construction (floored covariances,
    intrinsics): ``inv_ex``, the same LU solve as ``linalg.inv`` without its error check,
    which on a GPU would wait for the result."""
    return torch.linalg.inv_ex(m)[0]


def _normalized_weights(weights: Tensor) -> Tensor:
    """Weights (..., n) summing to 1; non-finite ones count as 0, all-zero rows become uniform."""
    w = torch.where(torch.isfinite(weights), weights, 0.0).clamp_min(0)
    total = w.sum(-1, keepdim=True)
    return torch.where(total > 0, w / total.clamp_min(1e-300), torch.full_like(w, 1.0 / w.shape[-1]))


def _safe_cholesky(cov: Tensor) -> Tensor:
    """Cholesky factor of (..., d, d), the identity where the matrix is not finite / not
    positive definite (the reference's ``cholesky_wrapper`` fall-back)."""
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    cov = torch.where(torch.isfinite(cov).all(-1, keepdim=True).all(-2, keepdim=True), cov, eye)
    chol, info = torch.linalg.cholesky_ex(cov)
    return torch.where((info == 0)[..., None, None], chol, eye)


def _floor_eigenvalues(sigma: Tensor, floor: float) -> Tensor:
    eye = torch.eye(sigma.shape[-1], dtype=sigma.dtype, device=sigma.device)
    sigma = torch.where(torch.isfinite(sigma).all(-1, keepdim=True).all(-2, keepdim=True), sigma, eye)
    sigma = 0.5 * (sigma + sigma.transpose(-1, -2))
    vals, vecs = torch.linalg.eigh(sigma)
    top = vals[..., -1:].clamp_min(1e-300)
    vals = torch.maximum(vals, top * floor**2) / top  # largest eigenvalue 1
    return (vecs * vals[..., None, :]) @ vecs.transpose(-1, -2)


class StudentT:
    """Multivariate Student-t with integer ``df``: ``loc`` (..., d), ``scale_tril`` (..., d, d).

    A draw is ``loc + L z · sqrt(df / u)`` with ``z ~ N(0, I)`` and ``u ~ χ²_df`` (the sum of
    ``df`` squared normals, so every draw comes from one seeded ``torch.Generator``).
    """

    def __init__(self, loc: Tensor, scale_tril: Tensor, df: int) -> None:
        self.loc, self.scale_tril, self.df = loc, scale_tril, int(df)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(..., n, d) on ``loc``'s device (the normal draws are made on the CPU, from
        ``generator`` or torch's global CPU generator, and moved)."""
        d = self.loc.shape[-1]
        batch = self.loc.shape[:-1]
        z = to_device(torch.randn((*batch, n, d), generator=generator, dtype=self.loc.dtype, device="cpu"),
                      self.loc.device)
        chi = to_device(torch.randn((*batch, n, self.df), generator=generator, dtype=self.loc.dtype, device="cpu"),
                        self.loc.device)
        u = chi.square().sum(-1, keepdim=True)
        return self.loc[..., None, :] + (z @ self.scale_tril.transpose(-1, -2)) * torch.sqrt(self.df / u)

    @classmethod
    def fit(cls, x: Tensor, weights: Tensor, df: int, floor: float) -> StudentT:
        """Weighted mean and weighted centred covariance (+ ``floor²`` I), as the reference's
        ``update_paramater_with_weights``. x: (..., n, d), weights (..., n)."""
        w = _normalized_weights(weights)
        x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        loc = (w[..., None] * x).sum(-2)
        d = x - loc[..., None, :]
        cov = (w[..., None, None] * d[..., :, None] * d[..., None, :]).sum(-3)
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        return cls(loc, _safe_cholesky(cov + floor**2 * eye), df)

    @property
    def spread(self) -> Tensor:
        """(...,) sqrt of the largest eigenvalue of the scale matrix."""
        cov = self.scale_tril @ self.scale_tril.transpose(-1, -2)
        return torch.linalg.eigvalsh(cov)[..., -1].clamp_min(0).sqrt()


# ------------------------------------------------------------------------------ two-view geometry
def normalized_coordinates(points: Tensor, K: Tensor) -> Tensor:
    """Pixels (..., N, 2) → normalised camera coordinates (..., N, 2) with K (..., 3, 3)."""
    Kinv = _inverse(K.to(_DT))
    h = torch.cat([points.to(_DT), torch.ones_like(points[..., :1], dtype=_DT)], dim=-1)
    n = h @ Kinv.transpose(-1, -2)
    return n[..., :2] / n[..., 2:]


def _eight_point(x0: Tensor, x1: Tensor, w: Tensor) -> Tensor:
    """Weighted linear essential matrix (..., 3, 3) from normalised (..., N, 2) points
    (x1ᵀ E x0 = 0), projected onto the essential manifold (singular values 1, 1, 0).

    Rows of the system are scaled by the weights; Hartley normalisation of each view's
    points (centre, isotropic scale) conditions the solve and is undone afterwards.
    """
    def hartley(x: Tensor) -> tuple[Tensor, Tensor]:
        ws = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
        c = (ws[..., None] * x).sum(-2)
        d = ((x - c[..., None, :]).norm(dim=-1) * ws).sum(-1).clamp_min(1e-12)
        s = math.sqrt(2) / d
        T = torch.zeros((*x.shape[:-2], 3, 3), dtype=x.dtype, device=x.device)
        T[..., 0, 0] = s
        T[..., 1, 1] = s
        T[..., :2, 2] = -s[..., None] * c
        T[..., 2, 2] = 1
        h = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1) @ T.transpose(-1, -2)
        return h, T

    h0, T0 = hartley(x0)
    h1, T1 = hartley(x1)
    A = (h1[..., :, :, None] * h0[..., :, None, :]).flatten(-2) * w[..., None]  # (..., N, 9)
    _, _, Vh = torch.linalg.svd(A.transpose(-1, -2) @ A)
    F = Vh[..., -1, :].unflatten(-1, (3, 3))
    E = T1.transpose(-1, -2) @ F @ T0
    U, _, Vh = torch.linalg.svd(E)
    diag = host_tensor([1.0, 1.0, 0.0], E.dtype, E.device)
    return (U * diag) @ Vh


def _sampson(E: Tensor, x0: Tensor, x1: Tensor) -> Tensor:
    """Sampson distances (..., N) of normalised correspondences under E (..., 3, 3)."""
    h0 = torch.cat([x0, torch.ones_like(x0[..., :1])], dim=-1)
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], dim=-1)
    Ex0 = h0 @ E.transpose(-1, -2)
    Etx1 = h1 @ E
    num = (h1 * Ex0).sum(-1)
    den = Ex0[..., 0] ** 2 + Ex0[..., 1] ** 2 + Etx1[..., 0] ** 2 + Etx1[..., 1] ** 2
    return num.abs() / den.clamp_min(1e-30).sqrt()


def _essential_candidates(
    x0: Tensor, x1: Tensor, weights: Tensor, hypotheses: int, generator: torch.Generator | None
) -> Tensor:
    """(B, H+1, 3, 3): the all-points weighted 8-point solution and H minimal 8-point
    hypotheses drawn (confidence-proportional, without replacement) from ``generator``."""
    B, N = weights.shape
    cands = [_eight_point(x0, x1, weights)[:, None]]
    if hypotheses > 0 and N >= 8:
        probs = weights.clamp_min(0) + 1e-9
        # drawn on the CPU from the CPU generator (the same draws on every device): the one
        # place the posterior reads data back to the host
        idx = torch.multinomial(probs.repeat_interleave(hypotheses, 0).cpu(), 8, replacement=False,
                                generator=generator)
        idx = to_device(idx, x0.device).view(B, hypotheses, 8)
        bidx = torch.arange(B, device=x0.device)[:, None, None]
        cands.append(_eight_point(x0[bidx, idx], x1[bidx, idx], torch.ones_like(idx, dtype=_DT)))
    return torch.cat(cands, dim=1)


def _msac_cost(E: Tensor, x0: Tensor, x1: Tensor, weights: Tensor, thr: Tensor) -> Tensor:
    """Σ w·min(d², thr²) of Sampson distances d; E (B, H, 3, 3), points (B, N, 2), thr (B,)."""
    d = _sampson(E, x0[:, None], x1[:, None])  # (B, H, N)
    cost = (weights[:, None] * torch.minimum(d.square(), thr[:, None, None] ** 2)).sum(-1)
    return torch.where(torch.isfinite(cost), cost, math.inf)


def essential_from_correspondences(
    x0: Tensor, x1: Tensor, weights: Tensor, hypotheses: int, threshold: float | Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Essential matrices (B, 3, 3) by MSAC over weighted 8-point hypotheses (linear only;
    :func:`relative_pose_two_views` refines the best few nonlinearly).

    Args:
        x0, x1: (B, N, 2) normalised coordinates of N correspondences in the two views.
        weights: (B, N) ≥ 0 confidences (a zero weight leaves a point out).
        hypotheses: minimal 8-point hypotheses per frame, drawn (confidence-proportional,
            without replacement) from ``generator``; the all-points weighted solution is
            always a hypothesis too.
        threshold: Sampson inlier threshold in normalised units (pixels / focal): a number
            or a (B,) tensor.
    """
    B = weights.shape[0]
    x0, x1, weights = x0.to(_DT), x1.to(_DT), weights.to(_DT)
    E = _essential_candidates(x0, x1, weights, hypotheses, generator)
    thr = torch.as_tensor(threshold, dtype=_DT, device=x0.device).expand(B)
    best = _msac_cost(E, x0, x1, weights, thr).argmin(-1)
    return E[torch.arange(B, device=E.device), best]


def _so3_exp(w: Tensor) -> Tensor:
    """Rodrigues: axis-angle (..., 3) → rotation (..., 3, 3)."""
    theta = w.norm(dim=-1, keepdim=True)[..., None]
    K = _skew(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    small = theta < 1e-8
    t = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 1 - theta**2 / 6, torch.sin(t) / t)
    b = torch.where(small, 0.5 - theta**2 / 24, (1 - torch.cos(t)) / t**2)
    return eye + a * K + b * (K @ K)


def _tangent_basis(t: Tensor) -> tuple[Tensor, Tensor]:
    """Two unit vectors (..., 3) orthogonal to the unit vector t and to each other."""
    x_axis, y_axis = host_tensor([1.0, 0, 0], t.dtype, t.device), host_tensor([0.0, 1, 0], t.dtype, t.device)
    helper = torch.where(t[..., :1].abs() < 0.9, x_axis, y_axis)
    b1 = torch.linalg.cross(t, helper)
    b1 = b1 / b1.norm(dim=-1, keepdim=True)
    return b1, torch.linalg.cross(t, b1)


def _levenberg_marquardt(residual, p: Tensor, iterations: int, eps: float = 1e-6,
                         jacobian: Jacobian = "central") -> Tensor:
    """Batched Levenberg–Marquardt on parameters p (..., P).

    ``residual`` maps (..., n, P) → (..., n, R): n parameter vectors per batch element at
    once, so the finite-difference Jacobian is one call: ``jacobian="central"`` evaluates
    p ± eps·e_k (2P evaluations, error O(eps²)), ``"forward"`` p + eps·e_k only and reuses the
    residual at p (P evaluations, error O(eps), about 1e-6 of the curvature here: far below
    what moves an LM step). Each batch element has its own damping and accepts only steps
    that lower its cost.
    """
    if jacobian not in ("central", "forward"):
        raise ValueError(f"jacobian must be 'central' or 'forward', got {jacobian!r}")
    P = p.shape[-1]
    eye = torch.eye(P, dtype=p.dtype, device=p.device)
    probes = (torch.cat([eye, -eye]) if jacobian == "central" else eye) * eps  # (2P or P, P)
    r = residual(p[..., None, :])[..., 0, :]
    cost = r.square().sum(-1)
    lam = torch.full_like(cost, 1e-3)
    for _ in range(iterations):
        rr = residual(p[..., None, :] + probes)  # (..., 2P or P, R)
        if jacobian == "central":
            J = ((rr[..., :P, :] - rr[..., P:, :]) / (2 * eps)).transpose(-1, -2)  # (..., R, P)
        else:
            J = ((rr - r[..., None, :]) / eps).transpose(-1, -2)
        J = torch.where(torch.isfinite(J), J, 0.0)
        H = J.transpose(-1, -2) @ J
        g = (J.transpose(-1, -2) @ r[..., None])[..., 0]
        damp = lam[..., None, None] * (H.diagonal(dim1=-2, dim2=-1)[..., None, :] * eye + 1e-9 * eye)
        step = -torch.linalg.solve_ex(H + damp, g[..., None])[0][..., 0]
        step = torch.where(torch.isfinite(step), step, 0.0)
        p_new = p + step
        r_new = residual(p_new[..., None, :])[..., 0, :]
        cost_new = r_new.square().sum(-1)
        better = cost_new < cost
        p = torch.where(better[..., None], p_new, p)
        r = torch.where(better[..., None], r_new, r)
        cost = torch.where(better, cost_new, cost)
        lam = torch.where(better, lam / 3, lam * 4).clamp(1e-9, 1e9)
    return p


def _robust(d: Tensor, scale: Tensor) -> Tensor:
    """A smooth redescending-free robustifier: ``scale · tanh(d / scale)`` (≈ d for small d)."""
    return scale * torch.tanh(d / scale)


def _refine_two_view(R: Tensor, t: Tensor, x0: Tensor, x1: Tensor, weights: Tensor, focal: Tensor,
                     cap_px: float, iterations: int, jacobian: Jacobian = "central"
                     ) -> tuple[Tensor, Tensor, Tensor]:
    """LM on the 5-dof relative pose (R (..., 3, 3), unit t (..., 3)) minimising robustified
    signed Sampson distances in pixels. Points (..., N, 2); weights (..., N); focal (...).
    Returns R, t, final cost (...)."""
    b1, b2 = _tangent_basis(t)
    sw = weights.clamp_min(0).sqrt()
    h0 = torch.cat([x0, torch.ones_like(x0[..., :1])], dim=-1)
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], dim=-1)

    def pose(p: Tensor) -> tuple[Tensor, Tensor]:  # p (..., n, 5)
        Rp = _so3_exp(p[..., :3]) @ R[..., None, :, :]
        tp = t[..., None, :] + p[..., 3:4] * b1[..., None, :] + p[..., 4:5] * b2[..., None, :]
        return Rp, tp / tp.norm(dim=-1, keepdim=True)

    def residual(p: Tensor) -> Tensor:  # (..., n, 5) -> (..., n, N)
        Rp, tp = pose(p)
        E = _skew(tp) @ Rp  # (..., n, 3, 3)
        Ex0 = h0[..., None, :, :] @ E.transpose(-1, -2)  # (..., n, N, 3)
        Etx1 = h1[..., None, :, :] @ E
        num = (h1[..., None, :, :] * Ex0).sum(-1)
        den = (Ex0[..., 0] ** 2 + Ex0[..., 1] ** 2 + Etx1[..., 0] ** 2 + Etx1[..., 1] ** 2).clamp_min(1e-30)
        d = num / den.sqrt() * focal[..., None, None]
        return sw[..., None, :] * _robust(d, torch.full((), cap_px, dtype=d.dtype, device=d.device))

    p = _levenberg_marquardt(residual, torch.zeros(*R.shape[:-2], 5, dtype=R.dtype, device=R.device), iterations,
                             jacobian=jacobian)
    Rp, tp = pose(p[..., None, :])
    return Rp[..., 0, :, :], tp[..., 0, :], residual(p[..., None, :])[..., 0, :].square().sum(-1)


def relative_pose_two_views(
    x0: Tensor, x1: Tensor, weights: Tensor, focal: Tensor, config: PosteriorConfig,
    generator: torch.Generator | None = None, starts: int = 8, iterations: int = 15, keep: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Relative pose of view 1 from view 0, ‖t‖ = 1, from normalised correspondences.

    Linear 8-point hypotheses (:func:`essential_from_correspondences`'s candidates), the
    ``starts`` best by MSAC cost each decomposed (cheirality) and refined by LM on the
    robustified Sampson distance; the lowest final cost wins, and is decomposed once more
    so that the points lie in front of both cameras. The linear 8-point alone is fragile on
    a person's 17 joints (a shallow, nearly affine structure: 0.3 px of noise in a 64 px crop
    moves it by tens of degrees), the refinement is what makes the init usable.

    Args:
        x0, x1: (B, N, 2) normalised coordinates; weights (B, N); focal (B,) pixels.

        keep: None: return the best solution, R (B, 3, 3), t (B, 3); an int: the ``keep``
            best refined solutions, best first, R (B, keep, 3, 3), t (B, keep, 3).

    Returns:
        R, t (see ``keep``).
    """
    B = weights.shape[0]
    squeeze = keep is None
    keep = 1 if keep is None else keep
    E = _essential_candidates(x0, x1, weights, config.ransac_hypotheses, generator)  # (B, H, 3, 3)
    thr = config.ransac_threshold_px / focal
    cost = _msac_cost(E, x0, x1, weights, thr)
    k = min(starts, E.shape[1])
    top = cost.topk(k, dim=-1, largest=False).indices  # (B, k)
    b = torch.arange(B, device=E.device)[:, None]
    Ek = E[b, top]  # (B, k, 3, 3)
    R, t = decompose_essential(Ek.flatten(0, 1), x0.repeat_interleave(k, 0), x1.repeat_interleave(k, 0),
                               weights.repeat_interleave(k, 0))
    R, t = R.unflatten(0, (B, k)), t.unflatten(0, (B, k))
    R, t, final = _refine_two_view(R, t, x0[:, None], x1[:, None], weights[:, None], focal[:, None],
                                   4 * config.ransac_threshold_px, iterations, config.jacobian)
    order = torch.where(torch.isfinite(final), final, math.inf).argsort(-1)[:, :keep]  # (B, keep)
    bb = torch.arange(B, device=E.device)[:, None]
    R, t = R[bb, order].flatten(0, 1), t[bb, order].flatten(0, 1)
    rep = order.shape[1]
    R, t = decompose_essential(_skew(t) @ R, x0.repeat_interleave(rep, 0), x1.repeat_interleave(rep, 0),
                               weights.repeat_interleave(rep, 0))
    R, t = R.unflatten(0, (B, rep)), t.unflatten(0, (B, rep))
    return (R[:, 0], t[:, 0]) if squeeze else (R, t)


def _triangulate_normalized(R: Tensor, t: Tensor, x0: Tensor, x1: Tensor) -> Tensor:
    """Two-view midpoint-free linear triangulation in normalised coordinates.

    R, t: (..., 3, 3), (..., 3) view 1 from view 0; x0, x1: (..., N, 2). Returns (..., N, 3)
    in view 0's frame."""
    eye = torch.eye(3, 4, dtype=R.dtype, device=R.device).expand(*R.shape[:-2], 3, 4)
    P1 = torch.cat([R, t[..., None]], dim=-1)
    P = torch.stack([eye, P1], dim=-3)[..., None, :, :, :]  # (..., 1, 2, 3, 4)
    pts = torch.stack([x0, x1], dim=-2)  # (..., N, 2, 2)
    return triangulate_dlt(P, pts)


def decompose_essential(E: Tensor, x0: Tensor, x1: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """The (R, t) of view 1 relative to view 0 among E's four decompositions that puts the
    most (confidence-weighted) points in front of both cameras; ‖t‖ = 1.

    E: (B, 3, 3); x0, x1: (B, N, 2) normalised; weights (B, N). Returns R (B, 3, 3), t (B, 3).
    """
    U, _, Vh = torch.linalg.svd(E)
    U = U * torch.sign(torch.linalg.det(U))[..., None, None]
    Vh = Vh * torch.sign(torch.linalg.det(Vh))[..., None, None]
    W = host_tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], E.dtype, E.device)
    Ra, Rb = U @ W @ Vh, U @ W.T @ Vh
    u3 = U[..., :, 2]
    Rs = torch.stack([Ra, Ra, Rb, Rb], dim=1)  # (B, 4, 3, 3)
    ts = torch.stack([u3, -u3, u3, -u3], dim=1)  # (B, 4, 3)
    X = _triangulate_normalized(Rs, ts, x0[:, None], x1[:, None])  # (B, 4, N, 3)
    z0 = X[..., 2]
    z1 = (X @ Rs.transpose(-1, -2) + ts[..., None, :])[..., 2]
    front = ((z0 > 0) & (z1 > 0)).to(E.dtype)
    score = (front * weights[:, None]).sum(-1) + 1e-6 * front.sum(-1)
    best = score.argmax(-1)
    b = torch.arange(E.shape[0], device=E.device)
    return Rs[b, best], ts[b, best]


def pnp_dlt(X: Tensor, x: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Linear PnP: the pose (R, t) with ``x ~ R X + t`` from 3D points and their normalised
    2D projections, by a weighted DLT of the 3×4 matrix on Hartley-normalised 3D points,
    with its left 3×3 block projected onto the rotations (SVD) and the sign fixed so that
    the points lie in front.

    Args:
        X: (B, N, 3) points (any consistent units); x: (B, N, 2) normalised coordinates;
            weights: (B, N) ≥ 0 (needs ≥ 6 non-zero, non-coplanar points).

    Returns:
        R (B, 3, 3), t (B, 3) in X's units.
    """
    X, x, weights = X.to(_DT), x.to(_DT), weights.to(_DT)
    ws = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)
    c = (ws[..., None] * X).sum(-2)
    s = ((X - c[:, None]).norm(dim=-1) * ws).sum(-1).clamp_min(1e-12) / math.sqrt(3)
    Xn = (X - c[:, None]) / s[:, None, None]
    Xh = torch.cat([Xn, torch.ones_like(Xn[..., :1])], dim=-1)  # (B, N, 4)
    zero = torch.zeros_like(Xh)
    u, v = x[..., 0:1], x[..., 1:2]
    r1 = torch.cat([Xh, zero, -u * Xh], dim=-1)
    r2 = torch.cat([zero, Xh, -v * Xh], dim=-1)
    A = torch.cat([r1, r2], dim=-2) * torch.cat([weights, weights], dim=-1)[..., None]
    _, _, Vh = torch.linalg.svd(A.transpose(-1, -2) @ A)
    P = Vh[..., -1, :].unflatten(-1, (3, 4))
    depth = (Xh @ P[..., 2, :, None])[..., 0]  # (B, N)
    sign = torch.where((depth * weights).sum(-1) < 0, -1.0, 1.0).to(_DT)
    P = P * sign[:, None, None]
    U, S, Vh = torch.linalg.svd(P[..., :3])
    D = torch.ones_like(S)
    D[..., 2] = torch.sign(torch.linalg.det(U @ Vh))
    R = (U * D[..., None, :]) @ Vh
    t_n = P[..., 3] / S.mean(-1, keepdim=True)
    t = s[:, None] * t_n - (R @ c[..., None])[..., 0]
    return R, t


def _refine_pnp(R: Tensor, t: Tensor, X: Tensor, x: Tensor, weights: Tensor, focal: Tensor,
                cap_px: float, iterations: int, jacobian: Jacobian = "central") -> tuple[Tensor, Tensor]:
    """LM on a 6-dof pose minimising robustified reprojection errors (pixels) of X (B, N, 3)
    against normalised x (B, N, 2)."""
    sw = weights.clamp_min(0).sqrt()[..., None]
    depth_scale = X.norm(dim=-1).mean(-1, keepdim=True).clamp_min(1e-9)  # (B, 1)

    def pose(p: Tensor) -> tuple[Tensor, Tensor]:  # p (B, n, 6)
        return _so3_exp(p[..., :3]) @ R[:, None], t[:, None] + p[..., 3:]

    def residual(p: Tensor) -> Tensor:  # (B, n, 6) -> (B, n, 2N)
        Rp, tp = pose(p)
        cam = X[:, None] @ Rp.transpose(-1, -2) + tp[..., None, :]  # (B, n, N, 3)
        z = cam[..., 2:].clamp_min(1e-3 * depth_scale[:, None, None])
        d = (cam[..., :2] / z - x[:, None]) * focal[:, None, None, None]
        return (sw[:, None] * _robust(d, torch.full((), cap_px, dtype=d.dtype, device=d.device))).flatten(-2)

    p = _levenberg_marquardt(residual, torch.zeros(R.shape[0], 6, dtype=R.dtype, device=R.device), iterations,
                             jacobian=jacobian)
    Rp, tp = pose(p[:, None])
    return Rp[:, 0], tp[:, 0]


def refine_relative_poses(
    points: Tensor, conf: Tensor, K: Tensor, R: Tensor, t: Tensor, iterations: int, cap_px: float = 30.0,
    jacobian: Jacobian = "central",
) -> tuple[Tensor, Tensor]:
    """Joint LM over all relative poses (views 1…V−1, 6 dof each) minimising the robustified
    confidence-weighted reprojection error of the joints triangulated (DLT) under them: a
    bundle adjustment with the structure eliminated by the triangulation.

    Args:
        points (B, V, J, 2) pixels; conf (B, V, J); K (B, V, 3, 3); R (B, V, 3, 3), t (B, V, 3)
        with view 0 the identity. ``jacobian``: the finite differences of the LM
        (:func:`_levenberg_marquardt`: ``"central"`` or ``"forward"``).

    Returns:
        R, t refined, gauge ‖t_1‖ = 1.
    """
    B, V = points.shape[:2]
    pts = points.permute(0, 2, 1, 3)  # (B, J, V, 2)
    w = conf.permute(0, 2, 1)  # (B, J, V)
    sw = w.clamp_min(0).sqrt()[..., None]
    cap = torch.full((), cap_px, dtype=_DT, device=points.device)

    def pose(p: Tensor) -> tuple[Tensor, Tensor]:  # p (B, n, 6(V-1)) -> (B, n, V, ...)
        p = p.unflatten(-1, (V - 1, 6))
        n = p.shape[1]
        Rv = _so3_exp(p[..., :3]) @ R[:, None, 1:]
        tv = t[:, None, 1:] + p[..., 3:]
        Rs = torch.cat([R[:, None, :1].expand(B, n, 1, 3, 3), Rv], dim=2)
        ts = _gauge(torch.cat([t[:, None, :1].expand(B, n, 1, 3), tv], dim=2))
        return Rs, ts

    def residual(p: Tensor) -> Tensor:  # (B, n, P) -> (B, n, 2JV)
        Rs, ts = pose(p)
        P = _projections(K[:, None], Rs, ts)[:, :, None]  # (B, n, 1, V, 3, 4)
        X = triangulate_dlt(P, pts[:, None], w[:, None])  # (B, n, J, 3)
        uv = project_points(P, X[..., None, :])  # (B, n, J, V, 2), NaN behind a camera
        d = uv - pts[:, None]
        # a point behind a camera costs the robust maximum, so that the refinement cannot
        # slide into the mirrored (all points behind) configuration the algebra also fits
        d = torch.where(torch.isfinite(d), _robust(d, cap), cap)
        return (sw[:, None] * d).flatten(2)

    p = _levenberg_marquardt(residual, torch.zeros(B, 6 * (V - 1), dtype=_DT, device=points.device), iterations,
                             jacobian=jacobian)
    Rs, ts = pose(p[:, None])
    return Rs[:, 0], ts[:, 0]


# ------------------------------------------------------------------------------ initialisation
def _projections(K: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """K (..., V, 3, 3), R (..., V, 3, 3), t (..., V, 3) → P = K [R | t] (..., V, 3, 4)."""
    return K @ torch.cat([R, t[..., None]], dim=-1)


def initial_relative_poses(
    points: Tensor, conf: Tensor, K: Tensor, config: PosteriorConfig,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Relative poses from 2D correspondences alone: E between views 0 and 1, then PnP.

    Args:
        points: (B, V, J, 2) pixels of each view's image; conf: (B, V, J) ≥ 0; K (B, V, 3, 3).

    Returns:
        R (B, V, 3, 3), t (B, V, 3), view 0 the identity, ‖t_1‖ = 1.

    Steps: relative pose of views 0, 1 (:func:`relative_pose_two_views`), two-view
    triangulation, linear PnP refined by LM for every other view, then
    ``config.refine_iterations`` steps of the joint refinement over all views
    (:func:`refine_relative_poses`). The two-view step alone is poorly conditioned on one
    frame's 17 joints; the joint refinement over all views is what brings the init near the
    optimum.
    """
    B, V, _J, _ = points.shape
    conf = conf.to(_DT).clamp_min(0) * (conf.to(_DT) >= config.min_confidence)
    xn = normalized_coordinates(points, K)  # (B, V, J, 2)
    w01 = conf[:, 0] * conf[:, 1]
    focal = K.diagonal(dim1=-2, dim2=-1)[..., :2].to(_DT).mean(dim=-1)  # (B, V) pixels per normalised unit
    S = max(1, min(config.init_starts, config.ransac_hypotheses + 1))
    R1, t1 = relative_pose_two_views(xn[:, 0], xn[:, 1], w01, focal[:, :2].mean(-1), config, generator,
                                     starts=max(8, S), keep=S)  # (B, S, ...)
    # every start continues as a frame of its own: (B, S) flattened to B·S
    R1, t1 = R1.flatten(0, 1), t1.flatten(0, 1)
    rep = lambda x: x.repeat_interleave(S, 0)  # noqa: E731
    points_s, conf_s, K_s, xn, w01, focal = rep(points), rep(conf), rep(K), rep(xn), rep(w01), rep(focal)
    n = B * S
    Rs = [torch.eye(3, dtype=_DT, device=points.device).expand(n, 3, 3), R1]
    ts = [torch.zeros(n, 3, dtype=_DT, device=points.device), t1]
    if V > 2:
        X = _triangulate_normalized(R1, t1, xn[:, 0], xn[:, 1])  # (B, J, 3)
        ok = torch.isfinite(X).all(-1) & (X[..., 2] > 0)
        X = torch.where(ok[..., None], X, 0.0)
        for v in range(2, V):
            wv = w01 * conf_s[:, v] * ok
            Rv, tv = pnp_dlt(X, xn[:, v], wv)
            Rv, tv = _refine_pnp(Rv, tv, X, xn[:, v], wv, focal[:, v], 4 * config.ransac_threshold_px, 15,
                                 config.jacobian)
            Rs.append(Rv)
            ts.append(tv)
    R, t = _sanitize_poses(torch.stack(Rs, dim=1), torch.stack(ts, dim=1))
    if config.refine_iterations > 0 and V > 2:
        R, t = refine_relative_poses(points_s.to(_DT), conf_s, K_s.to(_DT), R, t, config.refine_iterations,
                                     config.error_cap_px, config.jacobian)
    if S > 1:
        err = _sample_weights(points_s, conf_s, K_s, R[:, None], t[:, None], config)[1][:, 0].view(B, S)
        best = torch.where(torch.isfinite(err), err, math.inf).argmin(-1)
        b = torch.arange(B, device=points.device)
        R, t = R.view(B, S, V, 3, 3)[b, best], t.view(B, S, V, 3)[b, best]
    return R, t


# ------------------------------------------------------------------------------ Monte Carlo
@dataclass
class PosteriorResult:
    """The camera-pose posterior of a batch of B frames (V views, M final samples).

    Attributes:
        rotations: (B, V, 3, 3) posterior mode (view 0 the identity), reference → view v.
        translations: (B, V, 3) posterior mean, baseline units (‖t_1‖ = 1).
        sample_rotations: (B, M, V, 3, 3), sample_translations: (B, M, V, 3): the final draw.
        log_weights: (B, M) normalised log likelihood weights of the final draw.
        mean_error_px: (B, iterations + 1) weighted mean reprojection error after the init
            and after each iteration (diagnostics).
        rotation_spread: (B, V-1) final ACG tangential scale (quaternion units).
        translation_spread: (B, V-1) final Student-t scale (baseline units).
    """

    rotations: Tensor
    translations: Tensor
    sample_rotations: Tensor
    sample_translations: Tensor
    log_weights: Tensor
    mean_error_px: Tensor
    rotation_spread: Tensor
    translation_spread: Tensor


def _sample_weights(points: Tensor, conf: Tensor, K: Tensor, R: Tensor, t: Tensor,
                    config: PosteriorConfig) -> tuple[Tensor, Tensor]:
    """Triangulate under each sample and score it.

    points (B, V, J, 2), conf (B, V, J), K (B, V, 3, 3), R (B, M, V, 3, 3), t (B, M, V, 3).
    Returns X (B, M, J, 3) and the mean reprojection error ē (B, M) in pixels.
    """
    P = _projections(K[:, None].to(_DT), R, t)  # (B, M, V, 3, 4)
    pts = points.to(_DT).permute(0, 2, 1, 3)[:, None]  # (B, 1, J, V, 2)
    w = conf.to(_DT).permute(0, 2, 1)[:, None]  # (B, 1, J, V)
    X = triangulate_dlt(P[:, :, None], pts, w)  # (B, M, J, 3)
    uv = project_points(P[:, :, None], X[..., None, :])  # (B, M, J, V, 2)
    err = (uv - pts).norm(dim=-1)
    err = torch.where(torch.isfinite(err), err, config.error_cap_px).clamp_max(config.error_cap_px)
    mean_err = (err * w).sum((-1, -2)) / w.sum((-1, -2)).clamp_min(1e-12)
    return X, mean_err


def _sanitize_poses(R: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Replace a frame's non-finite or degenerate (zero baseline) init by a placeholder
    (identity rotations, unit x translations) that the sampling can move away from."""
    bad = ~(torch.isfinite(R).flatten(1).all(-1) & torch.isfinite(t).flatten(1).all(-1))
    bad = bad | (t[:, 1].norm(dim=-1) < 1e-9)
    eye = torch.eye(3, dtype=R.dtype, device=R.device).expand_as(R)
    unit = torch.zeros_like(t)
    unit[:, 1:, 0] = 1.0
    R = torch.where(bad[:, None, None, None], eye, R)
    t = torch.where(bad[:, None, None], unit, t)
    return R, _gauge(t)


def _gauge(t: Tensor) -> Tensor:
    """Scale every sample's translations so that ‖t_1‖ = 1 (t: (..., V, 3), view 0 zero)."""
    return t / t[..., 1:2, :].norm(dim=-1, keepdim=True).clamp_min(1e-9)


def monte_carlo_posterior(
    points: Tensor, conf: Tensor, K: Tensor, config: PosteriorConfig | None = None,
    generator: torch.Generator | None = None, init: tuple[Tensor, Tensor] | None = None,
) -> PosteriorResult:
    """The camera-pose posterior of each frame from its 2D joints (no extrinsics).

    Args:
        points: (B, V, J, 2) 2D joints, pixels of each view's image (e.g. the crop).
        conf: (B, V, J) ≥ 0 confidences (used by the init, the triangulation and the weights).
        K: (B, V, 3, 3) intrinsics of each view's image.
        config: sample count, iterations, spreads (defaults: :class:`PosteriorConfig`).
        generator: the source of every random draw (default: seeded with ``config.seed``).
        init: optional (R (B, V, 3, 3), t (B, V, 3)) replacing the correspondence init.

    Returns:
        :class:`PosteriorResult`; nothing in it carries gradient.
    """
    config = config or PosteriorConfig()
    dims = check_shape(points, ["B", "V", "J", 2], "monte_carlo_posterior: points")
    check_shape(conf, [dims["B"], dims["V"], dims["J"]], "monte_carlo_posterior: conf")
    check_shape(K, [dims["B"], dims["V"], 3, 3], "monte_carlo_posterior: K")
    B, V = dims["B"], dims["V"]
    if V < 2:
        raise ShapeError(f"monte_carlo_posterior: needs at least 2 views, got V={V}")
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        points, conf, K = points.detach().to(_DT), conf.detach().to(_DT).clamp_min(0), K.detach().to(_DT)
        finite = torch.isfinite(points).all(-1) & torch.isfinite(conf)
        points = torch.where(finite[..., None], points, 0.0)
        conf = torch.where(finite, conf, 0.0)
        R0, t0 = init if init is not None else initial_relative_poses(points, conf, K, config, generator)
        R0, t0 = _sanitize_poses(R0.to(_DT), t0.to(_DT))
        q_mode = matrix_to_quaternion(R0[:, 1:])  # (B, V-1, 4)
        acg = AngularCentralGaussian.concentrated(q_mode, config.init_rotation_spread)
        eye = torch.eye(3, dtype=_DT, device=points.device)
        student = StudentT(t0[:, 1:], config.init_translation_spread * eye.expand(B, V - 1, 3, 3), config.df)
        M = config.samples
        n_elite = max(2, math.ceil(config.elite_fraction * M))
        errors = [_sample_weights(points, conf, K, R0[:, None], t0[:, None], config)[1][:, 0]]
        mode_q, mode_t = q_mode, t0[:, 1:]
        R, t, log_w = R0[:, None], t0[:, None], torch.zeros(B, 1, dtype=_DT, device=points.device)
        for it in range(config.iterations + 1):
            q = acg.sample(M, generator)  # (B, V-1, M, 4)
            tt = student.sample(M, generator)  # (B, V-1, M, 3)
            q[:, :, 0] = mode_q  # sample 0: the current mode, unperturbed
            tt[:, :, 0] = mode_t
            Rs = torch.cat([eye.expand(B, M, 1, 3, 3), quaternion_to_matrix(q).transpose(1, 2)], dim=2)
            ts = _gauge(torch.cat([torch.zeros(B, M, 1, 3, dtype=_DT, device=points.device),
                                   tt.transpose(1, 2)], dim=2))
            _, err = _sample_weights(points, conf, K, Rs, ts, config)  # (B, M)
            log_w = -err / config.temperature_px
            log_w = torch.where(torch.isfinite(log_w), log_w, -math.inf)
            R, t = Rs, ts
            if it == config.iterations:
                break  # the last draw is the posterior's sample set
            elite = log_w.topk(n_elite, dim=-1).indices  # (B, n_elite)
            b = torch.arange(B, device=points.device)[:, None]
            ew = torch.softmax(log_w[b, elite], dim=-1)  # (B, n_elite)
            eq = q.transpose(1, 2)[b, elite].transpose(1, 2)  # (B, V-1, n_elite, 4)
            et = ts[b, elite][:, :, 1:].transpose(1, 2)  # (B, V-1, n_elite, 3)
            ew_v = ew[:, None].expand(B, V - 1, n_elite)
            acg = AngularCentralGaussian.fit(eq, ew_v, config.min_rotation_spread)
            student = StudentT.fit(et, ew_v, config.df, config.min_translation_spread)
            mode_q = acg.mode
            mode_t = student.loc
            errors.append((ew * err[b, elite]).sum(-1))
        # the posterior's sample set: the final draw's elites (the reference triangulates under
        # its elite buffer); the rest get weight 0, so a wild draw cannot pull the mean
        keep = torch.zeros_like(log_w, dtype=torch.bool)
        keep.scatter_(-1, log_w.topk(n_elite, dim=-1).indices, True)
        log_w = torch.where(keep, log_w, -math.inf)
        w = torch.softmax(log_w, dim=-1)
        # posterior summary: ACG mode of the weighted final draw, weighted mean translation
        q_all = matrix_to_quaternion(R[:, :, 1:]).transpose(1, 2)  # (B, V-1, M, 4)
        w_v = w[:, None].expand(B, V - 1, M)
        mode = AngularCentralGaussian.fit(q_all, w_v, config.min_rotation_spread, iterations=0).mode
        R_post = torch.cat([eye.expand(B, 1, 3, 3), quaternion_to_matrix(mode)], dim=1)
        t_post = _gauge((w[..., None, None] * t).sum(1))
        return PosteriorResult(
            rotations=R_post, translations=t_post, sample_rotations=R, sample_translations=t,
            log_weights=torch.log_softmax(log_w, dim=-1), mean_error_px=torch.stack(errors, dim=-1),
            rotation_spread=acg.spread, translation_spread=student.spread,
        )


def triangulate_under_posterior(points: Tensor, conf: Tensor, K: Tensor, posterior: PosteriorResult) -> Tensor:
    """Confidence-weighted DLT of every joint under each posterior sample, averaged with the
    samples' weights: (B, J, 3) in the reference camera's frame, baseline units.

    Differentiable with respect to ``points`` (B, V, J, 2) and ``conf`` (B, V, J) (the
    posterior itself is a constant); computed in float64 and returned in ``points``' dtype.
    """
    P = _projections(K[:, None].to(_DT), posterior.sample_rotations, posterior.sample_translations)
    pts = points.to(_DT).permute(0, 2, 1, 3)[:, None]
    w = conf.to(_DT).permute(0, 2, 1)[:, None]
    X = triangulate_dlt(P[:, :, None], pts, w)  # (B, M, J, 3)
    weights = posterior.log_weights.exp()
    X = torch.where(torch.isfinite(X), X, 0.0)
    return (weights[..., None, None] * X).sum(1).to(points.dtype)


def relative_pose_from_extrinsics(R: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Ground-truth relative poses for tests and diagnostics: world extrinsics R (..., V, 3, 3),
    t (..., V, 3) → reference-relative (R_v R_0ᵀ, t_v − R_v R_0ᵀ t_0) in the gauge ‖t_1‖ = 1,
    plus the gauge scale (..., ) (the true baseline ‖t_1‖, mm)."""
    Rrel = R @ R[..., :1, :, :].transpose(-1, -2)
    trel = t - (Rrel @ t[..., :1, :, None])[..., 0]
    scale = trel[..., 1, :].norm(dim=-1)
    return Rrel, trel / scale[..., None, None], scale
