"""Calibration errors for the robustness protocols: the extrinsics a method is handed are
perturbed, the ground truth is not.

Each camera (view position ``v`` of the protocol's camera list) gets one fixed error drawn
from ``np.random.default_rng([seed, v])``: a rotation by exactly ``rotation_deg`` about a
uniformly random axis, applied about the camera centre (``R' = ΔR · R``), and a move of the
centre by exactly ``translation_mm`` in a uniformly random direction (``C' = C + Δc``,
``t' = −R'·C'``). The error is systematic — the same for every frame and every method — as a
miscalibrated rig's is. The projection matrices are rebuilt from the (crop) intrinsics and
the perturbed extrinsics, so every representation a method may read agrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from poseboard.protocols.protocol import CalibrationNoise


def axis_angle_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation matrix (3, 3) of ``angle_rad`` about the unit vector ``axis`` (Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle_rad) * kx + (1.0 - np.cos(angle_rad)) * (kx @ kx)


def camera_error(noise: CalibrationNoise, view: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ΔR (3, 3), Δc (3,) mm)`` of view position ``view`` under ``noise``."""
    rng = np.random.default_rng([noise.seed, view])
    axis = rng.normal(size=3)
    direction = rng.normal(size=3)
    d_rot = axis_angle_matrix(axis, np.deg2rad(noise.rotation_deg))
    d_centre = noise.translation_mm * direction / np.linalg.norm(direction)
    return d_rot, d_centre


def perturb_extrinsics(inputs: dict[str, Any], noise: CalibrationNoise) -> dict[str, Any]:
    """A copy of a collated batch's method inputs with ``R``, ``t`` and ``proj_matrices``
    (whichever are present; shapes (B, V, 3, 3), (B, V, 3), (B, V, 3, 4)) perturbed by
    ``noise``. ``K`` must be present when ``proj_matrices`` is."""
    import torch

    if "R" not in inputs and "proj_matrices" not in inputs:
        return inputs  # the method is not handed extrinsics: nothing to perturb
    if "R" not in inputs or "t" not in inputs:
        raise ValueError("perturb_extrinsics: the batch has projection matrices but no R/t to perturb")
    R = torch.as_tensor(inputs["R"]).double().numpy()
    t = torch.as_tensor(inputs["t"]).double().numpy()
    views = R.shape[1]
    errors = [camera_error(noise, v) for v in range(views)]
    d_rot = np.stack([e[0] for e in errors])  # (V, 3, 3)
    d_centre = np.stack([e[1] for e in errors])  # (V, 3)
    centres = -np.einsum("bvji,bvj->bvi", R, t)  # C = −Rᵀt
    R_new = np.einsum("vij,bvjk->bvik", d_rot, R)
    t_new = -np.einsum("bvij,bvj->bvi", R_new, centres + d_centre[None])
    out = dict(inputs)
    out["R"] = torch.from_numpy(R_new).to(torch.as_tensor(inputs["R"]).dtype)
    out["t"] = torch.from_numpy(t_new).to(torch.as_tensor(inputs["t"]).dtype)
    if "proj_matrices" in inputs:
        K = torch.as_tensor(inputs["K"]).double().numpy()
        proj = K @ np.concatenate([R_new, t_new[..., None]], axis=-1)
        out["proj_matrices"] = torch.from_numpy(proj).to(torch.as_tensor(inputs["proj_matrices"]).dtype)
    return out
