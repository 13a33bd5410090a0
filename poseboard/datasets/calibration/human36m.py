"""Human3.6M-style camera parameters: a JSON of R, t, f, c, k, p per camera.

Layout (the fields of Human3.6M's published ``cameras.h5`` / ``metadata.xml`` parameters)::

    {"cameras": {"54138969": {"R": 3×3, "t": [3], "f": [fx, fy], "c": [cx, cy],
                              "k": [k1, k2, k3], "p": [p1, p2], "image_size": [1000, 1002]}, …}}

(``"cameras"`` may also be a list of such objects, each with a ``"name"``.)

**t is the camera centre** in world millimetres, as Human3.6M publishes it:
``x_cam = R (X − t)``; poseboard's world → camera translation is ``−R t``. The world is
Human3.6M's: millimetres, **Z up, floor at z = 0**. ``image_size`` is required (Human3.6M's
cameras 54138969 and 60457274 are 1000×1002, 55011271 and 58860488 1000×1000).

**Distortion.** ``k`` is radial (1 + k1 r² + k2 r⁴ + k3 r⁶), as OpenCV's. Human3.6M's
tangential model (its ``ProjectPointRadial``: x_d = x (radial + p1 y + p2 x) + p2 r²,
y_d = y (radial + p1 y + p2 x) + p1 r²) is not OpenCV's, so OpenCV's (p1, p2) are fitted to it
by least squares over the image (:func:`fit_tangential`); the largest difference left, in
pixels, is reported in a note (0.22 px over a 1000×1002 image for tangential terms of the size
Human3.6M publishes, |p| ≈ 1e-3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from poseboard.datasets.calibration.common import SourceRig, as_matrix, fail, read_json, source_camera

REQUIRED = ("R", "t", "f", "c", "k", "p", "image_size")


def h36m_distort(x: np.ndarray, y: np.ndarray, k: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Human3.6M's distortion of normalised coordinates (its ``ProjectPointRadial``)."""
    r2 = x * x + y * y
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * y + p[1] * x
    return x * (radial + tan) + p[1] * r2, y * (radial + tan) + p[0] * r2


def fit_tangential(p: np.ndarray, K: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """OpenCV's (p1, p2) closest, in pixels over a 41×41 grid spanning the image, to Human3.6M's
    tangential terms ``p``; and the largest pixel difference left on that grid."""
    w, h = size
    u, v = np.meshgrid(np.linspace(0, w - 1, 41), np.linspace(0, h - 1, 41))
    x, y = ((u - K[0, 2]) / K[0, 0]).ravel(), ((v - K[1, 2]) / K[1, 1]).ravel()
    r2 = x * x + y * y
    tx = p[0] * x * y + p[1] * x * x + p[1] * r2  # Human3.6M's tangential displacement
    ty = p[0] * y * y + p[1] * x * y + p[0] * r2
    fx, fy = K[0, 0], K[1, 1]
    A = np.concatenate([np.stack([2 * x * y * fx, (r2 + 2 * x * x) * fx], 1),
                        np.stack([(r2 + 2 * y * y) * fy, 2 * x * y * fy], 1)])
    b = np.concatenate([tx * fx, ty * fy])
    sol, *_ = np.linalg.lstsq(A, b, rcond=None)
    resid = (A @ sol - b).reshape(2, -1)
    return sol, float(np.linalg.norm(resid, axis=0).max())


def _records(data: Any, path: Path) -> list[tuple[str, dict]]:
    cams = data.get("cameras") if isinstance(data, dict) else None
    if isinstance(cams, dict):
        return [(str(k), v) for k, v in cams.items()]
    if isinstance(cams, list):
        return [(str(v.get("name", f"cameras[{i}]")) if isinstance(v, dict) else f"cameras[{i}]", v)
                for i, v in enumerate(cams)]
    raise fail(path, None, "expected {\"cameras\": {NAME: {R, t, f, c, k, p, image_size}, …}}")


def read(path: Path) -> SourceRig:
    data = read_json(path)
    records = _records(data, path)
    if not records:
        raise fail(path, None, "'cameras' is empty")
    cams, notes, worst = [], [], 0.0
    for name, rec in records:
        if not isinstance(rec, dict):
            raise fail(path, name, "not a JSON object")
        missing = [f for f in REQUIRED if f not in rec]
        if missing:
            raise fail(path, name, f"missing field(s) {missing}", f"each camera needs {list(REQUIRED)} "
                                                                   "(t: the camera centre, world mm)")
        f = as_matrix(rec["f"], (2,), path, name, "f") if np.size(rec["f"]) == 2 else \
            np.repeat(as_matrix(rec["f"], (1,), path, name, "f"), 2)
        c = as_matrix(rec["c"], (2,), path, name, "c")
        k = as_matrix(rec["k"], (3,), path, name, "k")
        p = as_matrix(rec["p"], (2,), path, name, "p")
        if np.abs(p).max() > 1.0:  # a displacement of r² · p: beyond 1 no lens, and 1e308 overflows the fit
            raise fail(path, name, f"field 'p': tangential terms {p.tolist()} beyond ±1",
                       "Human3.6M's are of the order of 1e-3 (is the file damaged?)")
        R = as_matrix(rec["R"], (3, 3), path, name, "R")
        centre = as_matrix(rec["t"], (3,), path, name, "t")
        K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
        cam = source_camera(path, name, K, np.zeros(5), R, -R @ centre, rec["image_size"], k_name="f",
                            t_name="t (camera centre)")
        try:
            p_cv, err = fit_tangential(p, K, cam.image_size)
        except np.linalg.LinAlgError:
            p_cv, err = np.full(2, np.nan), np.nan
        if not np.all(np.isfinite(p_cv)) or not np.isfinite(err):
            raise fail(path, name, f"field 'p': Human3.6M's tangential terms {p.tolist()} cannot be fitted with "
                                   "OpenCV's (p1, p2)", "they are of the order of 1e-3 in Human3.6M's cameras")
        worst = max(worst, err)
        dist = np.array([k[0], k[1], p_cv[0], p_cv[1], k[2]])
        cams.append(type(cam)(name=cam.name, K=cam.K, dist=dist, R=cam.R, t=cam.t, image_size=cam.image_size))
    if any(np.any(c.dist[2:4]) for c in cams):
        notes.append(f"{path}: Human3.6M's tangential distortion fitted with OpenCV's (p1, p2): at most "
                     f"{worst:.3g} px apart over the images")
    return SourceRig("human36m", path, cams, units="mm", up="+z", floor_at_zero=True, notes=notes)
