"""Where every camera of a rig sees a whole standing person: the floor region and the disc
``poseboard studio`` confines its test people's pelvis paths to.

A floor point ``(x, y)`` is *seen* when the vertical segment above it, from the floor to
:data:`PERSON_HEIGHT_MM`, lies in front of every camera and projects inside every image, at least
a margin (:data:`MARGIN_FRACTION` of the image's shorter side) from each edge; it is checked at
:data:`HEIGHT_SAMPLES` heights on a square floor grid around the origin. A body is not a segment:
its joints reach up to about :data:`BODY_RADIUS_MM` horizontally from its pelvis, so a pelvis path
must keep that far from the region's border. The disc is the largest one inside the region (the
grid's Euclidean distance transform; of equal discs, the one nearest the origin), shrunk by the
body's reach: its centre and radius become the generator's
:class:`~poseboard.datasets.synthetic.config.CaptureArea`.

World frame: the recentred rig's (:func:`poseboard.studio.placement.recentred`): millimetres,
z up, floor at z = 0, the origin at the capture area's centre. Pixels: the generator's
convention, a pixel's centre at integer coordinates, so the image spans ``[-0.5, w - 0.5)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from poseboard.camera import Camera

#: Height of the standing person every camera must see whole (mm): above the raised head of most
#: test frames (their highest joint: median 1.73 m, 99th percentile 1.96 m in the default test design).
PERSON_HEIGHT_MM = 1900.0
#: How far a body reaches horizontally from its pelvis (mm): the farthest joint of a test frame is
#: 386 mm from the pelvis in the median frame of the default test design, 737 mm in the 95th
#: percentile (arms out, lying down); the margin in pixels covers part of the rest.
BODY_RADIUS_MM = 400.0
#: The margin kept from every image edge, as a fraction of the image's shorter side.
MARGIN_FRACTION = 0.02
#: Heights sampled on each vertical segment (floor to :data:`PERSON_HEIGHT_MM`, evenly): a
#: segment's image is a segment for a pinhole camera, so its ends decide; the samples between
#: them catch a lens's distortion.
HEIGHT_SAMPLES = 5
#: A disc this wide is enough (mm): of the discs at least this wide, the one nearest the origin (where
#: the cameras look) is taken, not the widest, which can lie far from the cameras (a stereo pair's
#: shared volume widens with distance). Three quarters of the default test design's sequences
#: keep their pelvis within 168 mm of their path's centre, the farthest within 1264 mm.
ENOUGH_MM = 1000.0
#: Grid cells from the origin to the grid's edge, along x and along y.
GRID_HALF_CELLS = 100
#: The grid reaches at least this far from the origin (mm), and beyond the farthest camera by a quarter.
MIN_EXTENT_MM = 4000.0


def inside_every_image(cameras: Sequence[Camera], points: np.ndarray, margin_px: float | Sequence[float] = 0.0
                       ) -> np.ndarray:
    """``(...)`` bool: each world point of ``points`` ``(..., 3)`` (mm) lies in front of every
    camera and projects (with its lens distortion) at least ``margin_px`` (one for all, or one per
    camera) inside its image ``[-0.5, w - 0.5) × [-0.5, h - 0.5)``."""
    points = np.asarray(points, dtype=np.float64)
    margins = np.broadcast_to(np.asarray(margin_px, dtype=np.float64), (len(cameras),))
    ok = np.ones(points.shape[:-1], dtype=bool)
    for cam, m in zip(cameras, margins, strict=True):
        uv = cam.project(points)  # NaN behind the camera: every comparison below is False
        w, h = cam.image_size
        with np.errstate(invalid="ignore"):
            ok &= ((uv[..., 0] >= m - 0.5) & (uv[..., 0] < w - 0.5 - m)
                   & (uv[..., 1] >= m - 0.5) & (uv[..., 1] < h - 0.5 - m))
    return ok


def margins(cameras: Sequence[Camera], fraction: float = MARGIN_FRACTION) -> list[float]:
    """Each camera's margin in pixels: ``fraction`` of its image's shorter side."""
    return [fraction * min(c.image_size) for c in cameras]


def seen_share(cameras: Sequence[Camera], xs: np.ndarray, ys: np.ndarray, height_mm: float = PERSON_HEIGHT_MM,
               margin_px: float | Sequence[float] = 0.0, samples: int = HEIGHT_SAMPLES) -> np.ndarray:
    """``(len(ys), len(xs))`` in [0, 1]: the share of the (camera, height) pairs that see the
    point ``(x, y, z)`` inside the image with ``margin_px``, over every camera and ``samples``
    heights ``z`` from the floor to ``height_mm`` (1: every camera sees the whole vertical segment)."""
    gx, gy = np.meshgrid(np.asarray(xs, np.float64), np.asarray(ys, np.float64))  # (ny, nx)
    zs = np.linspace(0.0, float(height_mm), int(samples))
    points = np.stack(np.broadcast_arrays(gx[..., None], gy[..., None], zs), axis=-1)  # (ny, nx, S, 3)
    per_camera = np.broadcast_to(np.asarray(margin_px, dtype=np.float64), (len(cameras),))
    seen = sum(inside_every_image([c], points, m).sum(axis=-1) for c, m in zip(cameras, per_camera, strict=True))
    return np.asarray(seen, dtype=np.float64) / (len(cameras) * int(samples))


@dataclass(frozen=True)
class SharedArea:
    """The floor every camera sees a standing person on, and the disc the pelvis paths keep to.

    Attributes:
        centre: (2,) the disc's centre (world mm, the recentred rig's frame).
        radius_mm: the disc's radius (0: a point; every path is then shrunk to it).
        seen: the share of (camera, height) pairs that see the worst-seen segment within the
            body's reach of any point of the disc (1: every camera sees every body in it whole,
            with the margin; below 1 where no floor point is seen whole by every camera).
        floor_m2: the area (m²) of the floor points every camera sees a whole standing person on
            with the margin (the region before the body's reach is taken off).
        body_radius_mm, height_mm, margins_px, step_mm: what was checked (``margins_px`` per camera)
            and the grid's spacing.
    """

    centre: np.ndarray
    radius_mm: float
    seen: float
    floor_m2: float
    body_radius_mm: float
    height_mm: float
    margins_px: tuple[float, ...]
    step_mm: float

    @property
    def fits(self) -> bool:
        """Whether every camera sees a whole body anywhere on the disc (with the margin)."""
        return self.seen >= 1.0


def floor_grid(cameras: Sequence[Camera], half_cells: int = GRID_HALF_CELLS) -> np.ndarray:
    """The grid's coordinates along x (and y): ``2 half_cells + 1`` points from ``-extent`` to
    ``extent`` mm, ``extent`` the larger of :data:`MIN_EXTENT_MM` and 1.25 × the farthest camera's
    horizontal distance from the origin."""
    far = max(float(np.hypot(*c.center[:2])) for c in cameras)
    extent = max(MIN_EXTENT_MM, 1.25 * far)
    return np.linspace(-extent, extent, 2 * int(half_cells) + 1)


def shared_area(cameras: Sequence[Camera], *, height_mm: float = PERSON_HEIGHT_MM,
                body_radius_mm: float = BODY_RADIUS_MM, margin_fraction: float = MARGIN_FRACTION,
                half_cells: int = GRID_HALF_CELLS, enough_mm: float = ENOUGH_MM) -> SharedArea:
    """The :class:`SharedArea` of ``cameras`` (in the recentred world).

    On :func:`floor_grid`: :func:`seen_share` at every grid point, then its minimum over the
    body's reach (a disc of ``body_radius_mm``; off the grid counts as unseen): how well the
    worst-seen part of a body whose pelvis stands there is seen. The pelvis region is where that
    is largest (1 wherever every camera sees a whole body); the disc is the largest inside it: its
    clearance is the Euclidean distance transform (to the nearest grid point outside the region)
    less half a cell (the border lies between cells); the centre is the grid point of largest
    clearance, of those within half a cell of it the one nearest the origin.
    """
    axis = floor_grid(cameras, half_cells)
    step = float(axis[1] - axis[0])
    margin = margins(cameras, margin_fraction)
    share = seen_share(cameras, axis, axis, height_mm, margin)
    reach = int(np.floor(body_radius_mm / step))
    offsets = np.arange(-reach, reach + 1) * step
    footprint = np.hypot(*np.meshgrid(offsets, offsets)) <= body_radius_mm
    body = ndimage.minimum_filter(share, footprint=footprint, mode="constant", cval=0.0)
    seen = float(body.max())
    region = body >= seen - 1e-9
    padded = np.pad(region, 1, constant_values=False)
    clearance = np.maximum(ndimage.distance_transform_edt(padded, sampling=step)[1:-1, 1:-1] - step / 2, 0.0)
    clearance[~region] = -1.0
    best = min(float(clearance.max()), float(enough_mm))
    gx, gy = np.meshgrid(axis, axis)
    flat = np.flatnonzero((clearance >= best - step / 2).ravel())
    k = int(flat[np.argmin(np.hypot(gx, gy).ravel()[flat])])
    return SharedArea(centre=np.array([gx.ravel()[k], gy.ravel()[k]]), radius_mm=best, seen=seen,
                      floor_m2=float((share >= 1.0).sum()) * step * step / 1e6, body_radius_mm=float(body_radius_mm),
                      height_mm=float(height_mm), margins_px=tuple(float(m) for m in margin), step_mm=step)


def render_cameras(cameras: Sequence[Camera], undistort: bool) -> list[Camera]:
    """The cameras the generator renders through: pinhole (no lens distortion) where the
    configuration stores undistorted images (``SynthConfig.undistort``), else as given."""
    if not undistort:
        return list(cameras)
    return [replace(c, dist=np.zeros(5)) for c in cameras]
