"""Camera rigs shaped like the real capture setups: Human3.6M, the CMU Panoptic dome, MuPoTS-3D.

The layouts are *like* the published ones (number of cameras, image size, focal length,
distance to the subject, height, lens distortion), not copies of their calibrations.
World frame: millimetres, Z up, the floor at z = 0, the capture area centred on the origin.

``build_rig(name, seed)`` jitters each camera slightly (position, orientation, focal length,
principal point, distortion), so rigs built from different seeds — e.g. for the train and
test splits, or per subject as Human3.6M calibrates per subject — are never identical.
``jitter=False`` gives the nominal rig, independent of the seed.

Example:
    >>> cams = build_rig("h36m", 0)
    >>> len(cams), cams[0].image_size
    (4, (1000, 1000))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from poseboard.camera import Camera, load_rig, rotation_about_axis
from poseboard.errors import InputError

RigName = Literal["h36m", "panoptic", "mupots"]
RIG_NAMES: tuple[str, ...] = ("h36m", "panoptic", "mupots")

#: Where each rig's cameras look (world mm): about the height of a standing person's hips.
RIG_TARGET_Z_MM = 950.0


@dataclass(frozen=True)
class _Nominal:
    """One camera before jitter: where it is, where it looks, its lens."""

    name: str
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    focal: float
    image_size: tuple[int, int]
    dist: tuple[float, float, float, float, float]
    principal_offset: tuple[float, float] = (0.0, 0.0)
    aspect: float = 1.0  # fy / fx


@dataclass(frozen=True)
class _Jitter:
    """Standard deviations of the per-camera perturbation."""

    position_mm: float
    rotation_deg: float
    focal_rel: float
    principal_px: float
    dist_rel: float


_JITTER: dict[str, _Jitter] = {
    "h36m": _Jitter(position_mm=60.0, rotation_deg=0.6, focal_rel=0.006, principal_px=3.0, dist_rel=0.08),
    "panoptic": _Jitter(position_mm=40.0, rotation_deg=0.5, focal_rel=0.01, principal_px=4.0, dist_rel=0.1),
    "mupots": _Jitter(position_mm=0.0, rotation_deg=0.0, focal_rel=0.02, principal_px=6.0, dist_rel=0.1),
}


def _h36m_nominal() -> list[_Nominal]:
    # Four cameras near the corners of a ~4 x 4 m area, 4.5–6 m from its centre, 1.2–1.8 m
    # high, looking inwards and slightly down; 1000 x 1000 px, f ≈ 1145 px (as Human3.6M).
    layout = [  # azimuth deg, distance mm, height mm, focal px, k1, k2, p1, p2
        (47.0, 5250.0, 1560.0, 1145.0, -0.205, 0.245, -0.0009, -0.0011),
        (136.0, 4700.0, 1290.0, 1149.7, -0.195, 0.242, -0.0016, -0.0007),
        (222.0, 5800.0, 1740.0, 1149.1, -0.203, 0.240, 0.0014, -0.0012),
        (313.0, 4950.0, 1420.0, 1145.5, -0.199, 0.221, -0.0006, -0.0019),
    ]
    out = []
    for i, (az, dist_mm, height, focal, k1, k2, p1, p2) in enumerate(layout):
        a = math.radians(az)
        eye = (dist_mm * math.cos(a), dist_mm * math.sin(a), height)
        out.append(_Nominal(
            name=f"h36m_{i}", eye=eye, target=(0.0, 0.0, RIG_TARGET_Z_MM), focal=focal,
            image_size=(1000, 1000), dist=(k1, k2, p1, p2, -0.003),
            principal_offset=(8.0 - 4.0 * i, 3.0 * (i % 2) - 1.0), aspect=0.9985,
        ))
    return out


def _panoptic_nominal() -> list[_Nominal]:
    # 31 HD-like cameras (1920 x 1080, f 1400–1700 px) on a dome of ~5.5 m diameter, in three
    # rings at different heights, all looking at the centre of the floor area.
    rings = [(12, 1000.0, 0.0), (12, 1900.0, 15.0), (7, 2800.0, 8.0)]  # count, height mm, azimuth offset
    dome_radius, dome_centre_z = 2900.0, 400.0
    out, k = [], 0
    for ring, (count, height, offset) in enumerate(rings):
        rho = math.sqrt(dome_radius**2 - (height - dome_centre_z) ** 2)
        for j in range(count):
            a = math.radians(offset + 360.0 * j / count)
            eye = (rho * math.cos(a), rho * math.sin(a), height)
            focal = 1550.0 + 140.0 * math.sin(2.3 * k + 0.4)  # spread over ~1410–1690 px
            k1 = -0.06 - 0.02 * math.cos(1.7 * k)
            out.append(_Nominal(
                name=f"hd_{ring:02d}_{j:02d}", eye=eye, target=(0.0, 0.0, RIG_TARGET_Z_MM - 50.0),
                focal=focal, image_size=(1920, 1080), dist=(k1, 0.04, 0.0004, -0.0003, 0.0),
                principal_offset=(6.0 * math.sin(k), 4.0 * math.cos(k)),
            ))
            k += 1
    return out


def _mupots_nominal() -> list[_Nominal]:
    # One camera at chest height looking horizontally (slightly down) over a scene in which
    # people stand 1.5–7.5 m away; 2048 x 2048 px, f ≈ 1500 px.
    return [_Nominal(
        name="mupots_0", eye=(0.0, 0.0, 1500.0), target=(0.0, 5000.0, 1500.0 - 5000.0 * math.tan(math.radians(5))),
        focal=1500.0, image_size=(2048, 2048), dist=(-0.03, 0.01, 0.0, 0.0, 0.0),
    )]


_NOMINAL = {"h36m": _h36m_nominal, "panoptic": _panoptic_nominal, "mupots": _mupots_nominal}


def as_generator(rng_or_seed: int | np.random.Generator | np.random.SeedSequence) -> np.random.Generator:
    """A NumPy generator from a seed, a ``SeedSequence`` or a generator (returned as is)."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if isinstance(rng_or_seed, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng_or_seed)
    raise InputError(f"expected a seed (int), a SeedSequence or a numpy Generator, got {type(rng_or_seed).__name__}")


def _camera(nom: _Nominal, rng: np.random.Generator | None, jit: _Jitter) -> Camera:
    eye = np.array(nom.eye, dtype=np.float64)
    target = np.array(nom.target, dtype=np.float64)
    focal, dist = nom.focal, np.array(nom.dist, dtype=np.float64)
    principal = np.array(nom.principal_offset, dtype=np.float64)
    extra_rotation = np.eye(3)
    if rng is not None:
        eye = eye + rng.normal(0.0, jit.position_mm, 3)
        focal = focal * (1.0 + rng.normal(0.0, jit.focal_rel))
        principal = principal + rng.normal(0.0, jit.principal_px, 2)
        dist = dist * (1.0 + rng.normal(0.0, jit.dist_rel, 5))
        axis = rng.normal(size=3)
        extra_rotation = rotation_about_axis(axis, math.radians(jit.rotation_deg) * rng.normal())
    cam = Camera.look_at(eye=eye, target=target, focal=focal, image_size=nom.image_size, dist=dist, name=nom.name)
    # Rotate about the camera centre (x_cam' = Q x_cam keeps the centre fixed: t' = Q t).
    R = extra_rotation @ cam.R
    R = _orthonormal(R)
    K = cam.K.copy()
    K[1, 1] = focal * nom.aspect
    K[0, 2] += principal[0]
    K[1, 2] += principal[1]
    return Camera(K=K, R=R, t=-R @ eye, dist=dist, image_size=nom.image_size, name=nom.name)


def _orthonormal(R: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(R)
    out = u @ vt
    if np.linalg.det(out) < 0:  # pragma: no cover - products of rotations stay proper
        u[:, -1] *= -1
        out = u @ vt
    return out


def build_rig(
    name: str,
    rng_or_seed: int | np.random.Generator | np.random.SeedSequence = 0,
    jitter: bool = True,
) -> list[Camera]:
    """The cameras of a built-in rig (world mm, Z up), jittered with ``rng_or_seed`` unless
    ``jitter`` is False.

    Args:
        name: ``"h36m"`` (4 cameras, 1000×1000), ``"panoptic"`` (31 cameras, 1920×1080) or
            ``"mupots"`` (1 camera, 2048×2048).
        rng_or_seed: seed, ``SeedSequence`` or generator for the jitter.
        jitter: perturb position, orientation, focal length, principal point and distortion.
    """
    if name not in _NOMINAL:
        raise InputError(f"unknown rig {name!r}; choose one of {list(RIG_NAMES)} or pass a rig JSON file")
    rng = as_generator(rng_or_seed) if jitter else None
    nominal = _NOMINAL[name]()
    if name == "mupots" and rng is not None:
        # Each MuPoTS-like scene has its own tripod: 1.2–1.8 m high, pitched 2–10° down.
        height = rng.uniform(1200.0, 1800.0)
        pitch, yaw = math.radians(rng.uniform(2.0, 10.0)), math.radians(rng.uniform(-4.0, 4.0))
        look = np.array([math.sin(yaw), math.cos(yaw), -math.tan(pitch)]) * 5000.0
        nominal = [replace(nominal[0], eye=(0.0, 0.0, height), target=tuple(np.array([0.0, 0.0, height]) + look))]
    return [_camera(nom, rng, _JITTER[name]) for nom in nominal]


def rig_from_file(path: str | Path) -> list[Camera]:
    """Cameras from a user's rig JSON file (the format of :func:`poseboard.camera.save_rig`).

    Raises ``ResultFileError`` naming the file and the bad field when it does not validate.
    """
    return load_rig(path)
