"""What every calibration reader shares: the error it raises, the cameras it returns (in the
file's own units and world axes), and the checks on one field of one camera.

A reader's job ends at :class:`SourceRig`: intrinsics as the file gives them, ``x_cam = R X + t``
in the file's world and units, and what the format itself says about units, up axis and floor.
Converting to poseboard's world (mm, Z up, floor z = 0) and judging the rig as a whole
(scale, shared volume) is :mod:`poseboard.datasets.calibration.rig_import`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.camera import MAX_IMAGE_SIDE
from poseboard.datasets.axes import Units, Up
from poseboard.errors import InputError

#: R must be orthonormal to this (what poseboard.camera.Camera accepts)
ROTATION_TOLERANCE = 1e-5
#: The largest |entry| of K (pixels) and |t| (the file's units: 10 km in mm) a camera may have: a
#: damaged number (1e308, thirty digits) is refused here rather than overflowing the geometry.
MAX_INTRINSIC_PX = 1e6
MAX_TRANSLATION = 1e7


class CalibrationError(InputError):
    """A calibration file cannot be imported: unreadable, an unknown format, a missing or
    malformed field, or cameras that do not form a rig. The message names the file, the camera
    (where there is one) and the fix; the CLI exits with status 2 and writes nothing."""


def fail(path: str | Path, camera: str | None, problem: str, fix: str = "") -> CalibrationError:
    """A :class:`CalibrationError` reading ``FILE: camera 'NAME': PROBLEM; FIX``."""
    where = f"{path}: camera {camera!r}: " if camera is not None else f"{path}: "
    return CalibrationError(where + problem + (f"; {fix}" if fix else ""))


def read_json(path: Path) -> Any:
    """The JSON a calibration file holds, or a :class:`CalibrationError` naming why it is not."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(path, None, f"cannot read the file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise fail(path, None, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                   "is the file complete?") from None


@dataclass(frozen=True)
class SourceCamera:
    """One camera as the file gives it: ``K`` (3, 3) pixels, ``dist`` (5,) OpenCV
    (k1, k2, p1, p2, k3), world → camera ``x_cam = R X + t`` with ``t`` (3,) in the file's
    units and world axes, ``image_size`` (width, height) pixels."""

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]


@dataclass
class SourceRig:
    """A reader's result: the cameras, and what the format states (None: not stated)."""

    format: str
    path: Path
    cameras: list[SourceCamera]
    units: Units | None = None
    up: Up | None = None
    floor_at_zero: bool = False
    notes: list[str] = field(default_factory=list)


def as_matrix(value: Any, shape: tuple[int, ...], path: Path, camera: str | None, name: str) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (a (3, 1) or (1, 3) given for (3,) is flattened),
    finite; else a :class:`CalibrationError` naming the file, the camera and the field."""
    if value is None:
        raise fail(path, camera, f"missing field {name!r}", f"add it (expected shape {shape})")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(path, camera, f"field {name!r} is not a numeric array: {str(value)[:80]}") from None
    if len(shape) == 1 and arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.shape != shape:
        raise fail(path, camera, f"field {name!r} has shape {arr.shape}, expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise fail(path, camera, f"field {name!r} contains NaN or inf", "re-export the calibration")
    return arr


def as_dist(value: Any, path: Path, camera: str, name: str) -> np.ndarray:
    """OpenCV distortion (k1, k2, p1, p2[, k3[, …]]) → (5,): 4 or 5 coefficients, or more
    when those past k3 are zero (the rational and thin-prism terms poseboard does not model)."""
    if value is None:
        raise fail(path, camera, f"missing field {name!r}", "add the distortion (k1, k2, p1, p2, k3), zeros if none")
    arr = as_matrix(value, (int(np.size(value)),), path, camera, name) if np.size(value) else np.zeros(0)
    if arr.size in (4, 5):
        return np.concatenate([arr, np.zeros(5 - arr.size)])
    if arr.size in (8, 12, 14) and not np.any(arr[5:]):
        return arr[:5].copy()
    if arr.size in (8, 12, 14):
        raise fail(path, camera, f"field {name!r} uses OpenCV's rational/thin-prism model ({arr.size} "
                                 f"coefficients, non-zero past k3), which poseboard does not model",
                   "recalibrate with the 5-coefficient model (k1, k2, p1, p2, k3)")
    raise fail(path, camera, f"field {name!r} has {arr.size} coefficients, expected 4 or 5 (k1, k2, p1, p2[, k3])")


def check_intrinsics(K: np.ndarray, path: Path, camera: str, name: str = "K") -> None:
    """K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, every entry within
    :data:`MAX_INTRINSIC_PX`."""
    if np.abs(K).max() > MAX_INTRINSIC_PX:
        raise fail(path, camera, f"{name} holds {np.abs(K).max():.3g}, beyond the {MAX_INTRINSIC_PX:g} pixels of any "
                                 f"camera's focal length or principal point", "is the file damaged?")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise fail(path, camera, f"{name}: focal length fx = {K[0, 0]:g}, fy = {K[1, 1]:g} must be positive",
                   "check the intrinsic matrix (a negative focal length usually means a flipped axis; "
                   "a zero one, a missing value)")
    if K[2, 0] != 0 or K[2, 1] != 0 or K[2, 2] != 1 or K[1, 0] != 0:
        raise fail(path, camera, f"{name} is not [[fx, s, cx], [0, fy, cy], [0, 0, 1]]: {K.tolist()}",
                   "is it transposed?" if K[2, 0] or K[2, 1] else "normalise it so K[2, 2] = 1")


def check_rotation(R: np.ndarray, path: Path, camera: str, name: str = "R") -> None:
    """R orthonormal with det +1 (to :data:`ROTATION_TOLERANCE`), every entry finite."""
    if not np.all(np.isfinite(R)):  # NaN would pass the comparisons below
        raise fail(path, camera, f"{name} is not a rotation: it holds NaN or inf",
                   "give the 3×3 world → camera rotation (or a Rodrigues vector of a few radians)")
    err = float(np.abs(R @ R.T - np.eye(3)).max())
    if err > ROTATION_TOLERANCE:
        raise fail(path, camera, f"{name} is not a rotation: RRᵀ differs from I by {err:.3g}",
                   "give the 3×3 world → camera rotation (or a Rodrigues vector)")
    if np.linalg.det(R) < 0:
        raise fail(path, camera, f"{name} is a reflection (det R = {np.linalg.det(R):.3f}), not a rotation",
                   "the world or camera axes are left-handed: flip one axis of the world")


def check_size(size: Any, path: Path, camera: str, name: str) -> tuple[int, int]:
    """(width, height) positive integers, at most :data:`poseboard.camera.MAX_IMAGE_SIDE`."""
    arr = as_matrix(size, (2,), path, camera, name)
    if np.any(arr <= 0) or np.any(arr != np.round(arr)) or np.any(arr > MAX_IMAGE_SIDE):
        raise fail(path, camera, f"{name} must be two positive integers (width, height) of at most "
                                 f"{MAX_IMAGE_SIDE} pixels, got {arr.tolist()}")
    return int(arr[0]), int(arr[1])


def rodrigues(rvec: np.ndarray) -> np.ndarray:
    """(3,) Rodrigues vector (axis × angle in radians) → (3, 3) rotation, as ``cv2.Rodrigues``."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rvec, dtype=np.float64)).as_matrix()


def source_camera(path: Path, name: str, K: Any, dist: Any, R: Any, t: Any, size: Any, *,
                  rvec: bool = False, k_name: str = "K", dist_name: str = "dist", r_name: str = "R",
                  t_name: str = "t", size_name: str = "image_size") -> SourceCamera:
    """Check one camera's fields (named as the format names them) and build a :class:`SourceCamera`."""
    Km = as_matrix(K, (3, 3), path, name, k_name)
    check_intrinsics(Km, path, name, k_name)
    d = as_dist(dist, path, name, dist_name)
    if rvec:
        Rm = rodrigues(as_matrix(R, (3,), path, name, r_name))
        check_rotation(Rm, path, name, r_name)  # an angle of 1e308 rad gives NaN
    else:
        Rm = as_matrix(R, (3, 3), path, name, r_name)
        check_rotation(Rm, path, name, r_name)
    tv = as_matrix(t, (3,), path, name, t_name)
    if np.abs(tv).max() > MAX_TRANSLATION:
        raise fail(path, name, f"field {t_name!r} holds {np.abs(tv).max():.3g}, beyond {MAX_TRANSLATION:g} in any "
                               "unit (10 km in mm)", "is the file damaged?")
    return SourceCamera(name=str(name), K=Km, dist=d, R=Rm, t=tv, image_size=check_size(size, path, name, size_name))
