"""Where the capture area is: the point the cameras look at, on the floor.

The synthetic world performs its procedural motion around the world origin (the built-in
rigs look there). A user's rig looks wherever its studio is, so ``poseboard studio`` finds
the point nearest every camera's optical axis (least squares), drops it to the floor
(z = 0), and moves the world origin there: every camera keeps its pose relative to the
capture area, and relative MPJPE does not depend on where the origin is.

World frame of a rig: millimetres, z up, floor at z = 0 (poseboard's rig convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from poseboard.camera import Camera
from poseboard.errors import InputError

#: The height the check projects (world mm): about a standing person's hips, where the
#: built-in rigs aim (``poseboard.datasets.synthetic.rigs.RIG_TARGET_Z_MM``).
CHECK_HEIGHT_MM = 950.0
#: Working distance (mm) along the mean viewing direction that anchors the least-squares point
#: when the optical axes are nearly parallel (a stereo pair): they then do not meet anywhere.
PARALLEL_ANCHOR_MM = 3000.0
#: Relative weight of that anchor.
ANCHOR_WEIGHT = 1e-3
#: The axes count as nearly parallel when the normal matrix's smallest eigenvalue is below this
#: fraction of its largest (two axes 5° apart: 0.0038; 2.5°: 0.00095).
PARALLEL_RATIO = 1e-3


def optical_axes(cameras: Sequence[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) camera centres (world mm) and (V, 3) unit viewing directions (world), the
    camera's +z axis: the third row of ``R`` (``x_cam = R X + t``)."""
    if not cameras:
        raise InputError("the rig has no cameras")
    centres = np.stack([c.center for c in cameras])
    directions = np.stack([c.R[2] / np.linalg.norm(c.R[2]) for c in cameras])
    return centres, directions


def nearest_point_to_axes(cameras: Sequence[Camera]) -> np.ndarray:
    """(3,) world mm: the point minimising the summed squared distance to every optical axis,
    ``sum_i |(I - d_i d_iᵀ)(p - c_i)|²``, solved in float64 from its normal equations.

    With nearly parallel axes (one camera; a stereo pair looking straight ahead) the system is
    singular along the shared direction (smallest eigenvalue below :data:`PARALLEL_RATIO` of
    the largest); then only, a weak pull (weight :data:`ANCHOR_WEIGHT` of the axes') towards
    :data:`PARALLEL_ANCHOR_MM` in front of the cameras' mean centre decides it.

    Example:
        >>> a = Camera.look_at([4000, 0, 1500], [0, 0, 900], 1000, (1000, 1000), name="a")
        >>> b = Camera.look_at([0, 4000, 1500], [0, 0, 900], 1000, (1000, 1000), name="b")
        >>> nearest_point_to_axes([a, b]).round(3)
        array([  0.,   0., 900.])
    """
    centres, directions = optical_axes(cameras)
    eye = np.eye(3)
    projectors = eye[None] - directions[:, :, None] * directions[:, None, :]  # (V, 3, 3)
    a = projectors.sum(axis=0)
    b = np.einsum("vij,vj->i", projectors, centres)
    eig = np.linalg.eigvalsh(a)
    if eig[0] < PARALLEL_RATIO * eig[-1]:
        mean_dir = directions.mean(axis=0)
        norm = np.linalg.norm(mean_dir)
        if norm < 1e-9:
            raise InputError("the cameras look in opposite directions and their axes never meet: give the "
                             "capture area's centre with --centre X,Y (world mm)")
        anchor = centres.mean(axis=0) + PARALLEL_ANCHOR_MM * mean_dir / norm
        w = ANCHOR_WEIGHT * float(eig[-1])
        a = a + w * eye
        b = b + w * anchor
    return np.linalg.solve(a, b)


@dataclass(frozen=True)
class Placement:
    """Where the capture area is in the user's world and how it was found.

    Attributes:
        centre: (2,) floor point (world mm, the rig's own frame) that becomes the origin.
        how: ``"optical axes"`` (least squares) or ``"given"`` (``--centre``).
        axes_point: (3,) the least-squares point before it was dropped to the floor (None when given).
        axis_distances: per camera, the distance (mm) from its optical axis to ``axes_point``.
    """

    centre: np.ndarray
    how: str
    axes_point: np.ndarray | None
    axis_distances: dict[str, float]


def place(cameras: Sequence[Camera], centre: Sequence[float] | None = None) -> Placement:
    """The capture area's centre on the floor: ``centre`` (x, y world mm) when given, else the
    floor point under :func:`nearest_point_to_axes`."""
    if centre is not None:
        xy = np.asarray(centre, dtype=np.float64).reshape(-1)
        if xy.shape != (2,) or not np.isfinite(xy).all():
            raise InputError(f"--centre: expected two finite numbers X,Y (world mm), got {list(centre)}")
        return Placement(xy, "given", None, {})
    point = nearest_point_to_axes(cameras)
    centres, directions = optical_axes(cameras)
    offsets = point - centres
    along = np.einsum("vi,vi->v", offsets, directions)
    dist = np.linalg.norm(offsets - along[:, None] * directions, axis=1)
    return Placement(point[:2].copy(), "optical axes", point,
                     {c.name: float(d) for c, d in zip(cameras, dist, strict=True)})


def recentred(cameras: Sequence[Camera], centre_xy: Sequence[float]) -> list[Camera]:
    """The cameras in a world whose origin is the floor point ``centre_xy`` (the rig's mm):
    ``X_new = X_old - c`` with ``c = (x, y, 0)``, so ``t' = t + R c`` and ``R`` is unchanged."""
    c = np.array([float(centre_xy[0]), float(centre_xy[1]), 0.0])
    return [replace(cam, t=cam.t + cam.R @ c) for cam in cameras]


def check_view(cameras: Sequence[Camera], where: str, height_mm: float = CHECK_HEIGHT_MM) -> list[str]:
    """Refuse a rig in which some camera cannot see the capture area's centre: the point
    ``(0, 0, height_mm)`` of the recentred world must lie in front of every camera; returns
    one note per camera that sees it outside its image (the person is then often cut off in
    that view, which the page's visibility line shows)."""
    target = np.array([0.0, 0.0, height_mm])
    notes, behind = [], []
    for cam in cameras:
        z = float(cam.world_to_camera(target)[2])
        if z <= 0:
            behind.append(cam.name)
            continue
        u, v = cam.project(target[None])[0]
        w, h = cam.image_size
        if not (0 <= u < w and 0 <= v < h):
            notes.append(f"camera {cam.name!r} sees the capture centre outside its {w}×{h} image "
                         f"(at {u:.0f}, {v:.0f} px)")
    if behind:
        raise InputError(f"{where}: the capture area's centre (height {height_mm:.0f} mm) is behind camera(s) "
                         f"{behind}: check their R and t (world → camera, z forward), or give the centre with "
                         "--centre X,Y (world mm)")
    return notes
