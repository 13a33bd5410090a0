"""Pinhole cameras with OpenCV distortion, and the JSON rig format users hand in.

Convention (written once, here, and checked by ``tests/test_camera.py``):

* world → camera: ``x_cam = R @ X + t``, millimetres;
* OpenCV axes: x right, y down, z forward (points in front have z > 0);
* pixels: ``u = fx * x/z + cx``, ``v = fy * y/z + cy``, with the centre of the top-left
  pixel at (0, 0);
* distortion ``dist = (k1, k2, p1, p2, k3)`` in OpenCV's model (radial
  1 + k1 r² + k2 r⁴ + k3 r⁶; tangential 2 p1 x y + p2 (r² + 2 x²) and
  p1 (r² + 2 y²) + 2 p2 x y), applied to normalised coordinates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from poseboard.errors import InputError, ResultFileError, check_shape, validation_message
from poseboard.io import atomic_write_text

RIG_FORMAT_VERSION = 1


def distort_normalized(x: Any, y: Any, dist: Sequence[float]) -> tuple[Any, Any]:
    """Apply OpenCV's (k1, k2, p1, p2, k3) distortion to normalised coordinates.

    Works on NumPy arrays and torch tensors alike (plain arithmetic only), so the
    NumPy camera and the torch kernels share one definition of the model.
    """
    k1, k2, p1, p2, k3 = (float(d) for d in dist)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def undistort_normalized(
    xd: np.ndarray, yd: np.ndarray, dist: Sequence[float], iterations: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`distort_normalized` by fixed-point iteration (as ``cv2.undistortPoints``)."""
    k1, k2, p1, p2, k3 = (float(d) for d in dist)
    x, y = np.array(xd, dtype=np.float64), np.array(yd, dtype=np.float64)
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    return x, y


_EYE3 = np.eye(3)
#: What ``np.allclose(R @ R.T, np.eye(3), atol=1e-5)`` allows: atol + rtol·|I| with its rtol 1e-5.
_ROTATION_TOLERANCE = 1e-5 + 1e-5 * _EYE3


def _det3(m: np.ndarray) -> float:
    """Determinant of a 3×3 matrix by the rule of Sarrus (only its sign is used: a rotation's is ±1)."""
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


#: The widest image side a camera may have, pixels: no sensor comes near it, and a damaged file's
#: number of 30 digits would otherwise size the renders and pictures made from the camera.
MAX_IMAGE_SIDE = 100_000


def _check_image_size(size: Sequence[int], where: str) -> tuple[int, int]:
    """(width, height) as ints, an :class:`InputError` unless both are positive and at most
    :data:`MAX_IMAGE_SIDE`."""
    w, h = (int(s) for s in size)
    if w <= 0 or h <= 0 or w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
        raise InputError(f"{where}: image_size must be positive (width, height) of at most {MAX_IMAGE_SIDE} pixels, "
                         f"got {tuple(size)}")
    return w, h


def _resized_intrinsics(K: np.ndarray, size: Sequence[int], new_size: Sequence[int]
                        ) -> tuple[np.ndarray, tuple[int, int]]:
    """K of an image of ``size`` resized to ``new_size`` (both (width, height)): the first row
    scaled by the width ratio, the second by the height ratio (see :meth:`Camera.resize`)."""
    w, h = size
    nw, nh = (int(s) for s in new_size)
    K = K.copy()
    K[0, :] *= nw / w
    K[1, :] *= nh / h
    return K, (nw, nh)


@dataclass(frozen=True)
class Camera:
    """A calibrated camera: intrinsics ``K``, extrinsics ``R``, ``t`` (world → camera, mm).

    Arrays are stored as float64. ``image_size`` is ``(width, height)`` in pixels.
    Crop and resize return new cameras; a ``Camera`` is never mutated.

    Example:
        >>> cam = Camera.look_at(eye=[0, -5000, 1500], target=[0, 0, 1000], focal=1145,
        ...                      image_size=(1000, 1000))
        >>> cam.project(np.array([[0.0, 0.0, 1000.0]])).round(1)
        array([[500., 500.]])
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    image_size: tuple[int, int] = (1000, 1000)
    name: str = "camera"

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        dist = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        where = f"camera {self.name!r}"
        if dist.shape[0] < 5:  # OpenCV allows 4 coefficients; k3 then is 0
            dist = np.concatenate([dist, np.zeros(5 - dist.shape[0])])
        # the checks run for every crop camera a dataset builds, so they are written for speed: plain
        # shape comparisons (check_shape words the error), one finiteness test for all arrays
        for label, arr, want in (("K", K, (3, 3)), ("R", R, (3, 3)), ("t", t, (3,)),
                                 ("dist (k1, k2, p1, p2, k3)", dist, (5,))):
            if arr.shape != want:
                check_shape(arr, list(want), f"{where}: {label}")
        if not np.isfinite(np.concatenate([K.ravel(), R.ravel(), t, dist])).all():
            for label, arr in (("K", K), ("R", R), ("t", t), ("dist", dist)):
                if not np.all(np.isfinite(arr)):
                    raise InputError(f"{where}: {label} contains NaN or inf")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1 or K[2, 0] != 0 or K[2, 1] != 0:
            raise InputError(
                f"{where}: K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0; "
                f"got {K.tolist()}"
            )
        # np.allclose(R Rᵀ, I, atol=1e-5) (its rtol 1e-5 adds to the diagonal's tolerance) and det R ≥ 0
        if not (np.abs(R @ R.T - _EYE3) <= _ROTATION_TOLERANCE).all() or _det3(R) < 0:
            raise InputError(f"{where}: R is not a rotation (RᵀR ≠ I or det R < 0)")
        w, h = _check_image_size(self.image_size, where)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "image_size", (w, h))

    # ------------------------------------------------------------------ construction
    @classmethod
    def look_at(
        cls,
        eye: Sequence[float],
        target: Sequence[float],
        focal: float,
        image_size: tuple[int, int],
        up: Sequence[float] = (0.0, 0.0, 1.0),
        dist: Sequence[float] = (0.0, 0.0, 0.0, 0.0, 0.0),
        name: str = "camera",
    ) -> Camera:
        """A camera at ``eye`` (world mm) looking at ``target``, world ``up`` mapping to image up."""
        eye_v, target_v, up_v = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
        forward = target_v - eye_v
        if np.linalg.norm(forward) < 1e-9:
            raise InputError(f"camera {name!r}: eye and target coincide")
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up_v)
        if np.linalg.norm(right) < 1e-9:
            raise InputError(f"camera {name!r}: viewing direction is parallel to 'up'")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])
        w, h = image_size
        K = np.array([[focal, 0, (w - 1) / 2], [0, focal, (h - 1) / 2], [0, 0, 1.0]])
        return cls(K=K, R=R, t=-R @ eye_v, dist=np.asarray(dist), image_size=(w, h), name=name)

    # ------------------------------------------------------------------ geometry
    @property
    def projection_matrix(self) -> np.ndarray:
        """P = K [R | t], (3, 4): world mm → homogeneous pixels (distortion not included)."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world mm, (3,): C = -Rᵀ t."""
        return -self.R.T @ self.t

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.dist != 0))

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world mm → (..., 3) camera mm."""
        check_shape(points, ["*", 3], "points")
        return np.asarray(points, dtype=np.float64) @ self.R.T + self.t

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera mm → (..., 3) world mm."""
        check_shape(points, ["*", 3], "points")
        return (np.asarray(points, dtype=np.float64) - self.t) @ self.R

    def project(self, points: np.ndarray, distort: bool = True) -> np.ndarray:
        """Project (..., 3) world mm to (..., 2) pixels, with the lens distortion if ``distort``.

        Points behind the camera (z ≤ 0) project to NaN rather than to a mirrored pixel.
        """
        cam = self.world_to_camera(points)
        z = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(z > 0, cam[..., 0] / z, np.nan)
            y = np.where(z > 0, cam[..., 1] / z, np.nan)
        if distort and self.has_distortion:
            x, y = distort_normalized(x, y, self.dist)
        fx, s, cx = self.K[0]
        fy, cy = self.K[1, 1], self.K[1, 2]
        return np.stack([fx * x + s * y + cx, fy * y + cy], axis=-1)

    def undistort_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Map distorted (..., 2) pixels to the pixels an ideal pinhole camera would see."""
        check_shape(pixels, ["*", 2], "pixels")
        if not self.has_distortion:
            return np.asarray(pixels, dtype=np.float64).copy()
        fx, s, cx = self.K[0]
        fy, cy = self.K[1, 1], self.K[1, 2]
        yd = (pixels[..., 1] - cy) / fy
        xd = (pixels[..., 0] - cx - s * yd) / fx
        x, y = undistort_normalized(xd, yd, self.dist)
        return np.stack([fx * x + s * y + cx, fy * y + cy], axis=-1)

    # ------------------------------------------------------------------ crops
    def crop(self, box: Sequence[float]) -> Camera:
        """The camera of the sub-image ``box = (left, top, right, bottom)`` (pixels, right/bottom
        exclusive): the principal point shifts by (left, top); the size becomes the box's."""
        K, size = self._cropped_intrinsics(box)
        return Camera(K=K, R=self.R, t=self.t, dist=self.dist, image_size=size, name=self.name)

    def resize(self, new_size: tuple[int, int]) -> Camera:
        """The camera after resizing its image to ``new_size = (width, height)``.

        Scales fx, skew, cx by the width ratio and fy, cy by the height ratio (the
        corner-aligned convention of learnable triangulation's ``update_after_resize``).
        """
        K, size = _resized_intrinsics(self.K, self.image_size, new_size)
        return Camera(K=K, R=self.R, t=self.t, dist=self.dist, image_size=size, name=self.name)

    def crop_and_resize(self, box: Sequence[float], size: tuple[int, int]) -> Camera:
        """``crop(box)`` then ``resize(size)``: the camera of a network input crop, the same
        arithmetic without building (and checking) the intermediate crop's camera; every view
        of every frame a dataset reads comes through here."""
        K, cropped = self._cropped_intrinsics(box)
        _check_image_size(cropped, f"camera {self.name!r}")
        K, size = _resized_intrinsics(K, cropped, size)
        return Camera(K=K, R=self.R, t=self.t, dist=self.dist, image_size=size, name=self.name)

    def _cropped_intrinsics(self, box: Sequence[float]) -> tuple[np.ndarray, tuple[int, int]]:
        """K and (width, height) of the sub-image ``box`` (see :meth:`crop`)."""
        left, top, right, bottom = (float(b) for b in box)
        if right <= left or bottom <= top:
            raise InputError(f"camera {self.name!r}: empty crop box {tuple(box)}")
        K = self.K.copy()
        K[0, 2] -= left
        K[1, 2] -= top
        return K, (round(right - left), round(bottom - top))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image_size": list(self.image_size),
            "K": self.K.tolist(),
            "R": self.R.tolist(),
            "t": self.t.tolist(),
            "dist": self.dist.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "camera") -> Camera:
        try:
            record = CameraRecord.model_validate(data)
        except ValidationError as exc:
            raise ResultFileError(f"{where}: {validation_message(exc)}") from None
        return record.to_camera()


class CameraRecord(BaseModel):
    """One camera in a rig JSON file (units mm and pixels; ``t`` maps world → camera)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    image_size: tuple[int, int] = Field(description="(width, height) in pixels")
    K: list[list[float]]
    R: list[list[float]]
    t: list[float]
    dist: list[float] = Field(default_factory=lambda: [0.0] * 5)

    @field_validator("K", "R")
    @classmethod
    def _three_by_three(cls, v: list[list[float]]) -> list[list[float]]:
        if len(v) != 3 or any(len(row) != 3 for row in v):
            raise ValueError("must be a 3×3 matrix")
        return v

    @field_validator("t")
    @classmethod
    def _three(cls, v: list[float]) -> list[float]:
        if len(v) != 3:
            raise ValueError("must have 3 entries (mm)")
        return v

    @field_validator("dist")
    @classmethod
    def _five(cls, v: list[float]) -> list[float]:
        if len(v) not in (4, 5):
            raise ValueError("must be (k1, k2, p1, p2[, k3])")
        return v

    def to_camera(self) -> Camera:
        return Camera(
            K=np.array(self.K), R=np.array(self.R), t=np.array(self.t),
            dist=np.array(self.dist), image_size=self.image_size, name=self.name,
        )


class RigRecord(BaseModel):
    """The rig JSON file: ``{"format": "poseboard-rig", "version": 1, "units": "mm", "cameras": [...]}``."""

    model_config = ConfigDict(extra="forbid")

    format: str = "poseboard-rig"
    version: int = RIG_FORMAT_VERSION
    units: str = "mm"
    cameras: list[CameraRecord]

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        if v != "poseboard-rig":
            raise ValueError("must be 'poseboard-rig'")
        return v

    @field_validator("units")
    @classmethod
    def _units(cls, v: str) -> str:
        if v != "mm":
            raise ValueError("only 'mm' is supported: convert translations to millimetres")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != RIG_FORMAT_VERSION:
            raise ValueError(f"unsupported rig format version {v} (this poseboard reads {RIG_FORMAT_VERSION})")
        return v


def save_rig(cameras: Sequence[Camera], path: str | Path) -> None:
    """Write cameras as a rig JSON file (atomically)."""
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise InputError(f"rig: camera names must be unique, got {names}")
    payload = {
        "format": "poseboard-rig",
        "version": RIG_FORMAT_VERSION,
        "units": "mm",
        "cameras": [c.to_dict() for c in cameras],
    }
    atomic_write_text(Path(path), json.dumps(payload, indent=2))


def load_rig(path: str | Path) -> list[Camera]:
    """Read a rig JSON file, with an error naming the file and the bad field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultFileError(f"{path}: rig file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read the rig file as text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    try:
        rig = RigRecord.model_validate(data)
    except ValidationError as exc:
        raise ResultFileError(f"{path}: {validation_message(exc)}") from None
    cameras = []
    for i, record in enumerate(rig.cameras):
        try:
            cameras.append(record.to_camera())
        except (InputError, ValueError) as exc:
            raise ResultFileError(f"{path}: cameras[{i}]: {exc}") from None
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ResultFileError(f"{path}: camera names must be unique; repeated: {repeated} (cameras[*].name)")
    scale = rig_extent_mm(cameras)
    if 0.0 < scale < METRES_SUSPECT_MM:
        raise ResultFileError(
            f"{path}: the cameras lie within {scale:.3g} of the world origin and of each other, which looks like "
            f"metres; 'units' is 'mm', so each camera's t must be in millimetres (multiply every t by 1000)"
        )
    return cameras


#: A rig smaller than this (camera centres from the origin and from each other, mm) is in metres:
#: 20 mm is no capture rig's size, 20 m is a large one.
METRES_SUSPECT_MM = 20.0


def rig_extent_mm(cameras: Sequence[Camera]) -> float:
    """The rig's size: the largest distance of a camera centre from the world origin or from
    another camera centre (world units, mm for a valid rig). 0 for one camera at the origin
    (a world that is that camera's frame, as MuPoTS-3D's)."""
    centres = np.stack([c.center for c in cameras])  # (V, 3)
    spread = np.linalg.norm(centres[:, None] - centres[None], axis=-1).max()
    return float(max(np.linalg.norm(centres, axis=-1).max(), spread))


def rotation_about_axis(axis: Sequence[float], angle: float) -> np.ndarray:
    """Rodrigues' formula: the (3, 3) rotation by ``angle`` radians about ``axis``."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    x = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * x + (1 - math.cos(angle)) * (x @ x)
