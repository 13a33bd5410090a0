"""A picture of an imported rig: cameras, their frusta and the volume they share, from above
(x, y) and from the side ((x, z), or (y, z) when the cameras look along y), as a PNG
(matplotlib, Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from poseboard.camera import Camera
from poseboard.io import atomic_write_bytes

#: the shared volume is drawn as the grid points (100 mm apart, within this many mm of the
#: cameras' shared point, 0–2.2 m above the floor) that every camera, or at least this share of
#: them, sees
VOLUME_RADIUS_MM = 4000.0
VOLUME_SHARE = 0.75


def visible(cam: Camera, points: np.ndarray) -> np.ndarray:
    """(N,) True where the (N, 3) world mm points project inside ``cam``'s image (in front of it)."""
    uv = cam.project(points, distort=False)
    w, h = cam.image_size
    with np.errstate(invalid="ignore"):
        return (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)


def shared_volume(cameras: Sequence[Camera], centre: np.ndarray, step_mm: float = 100.0) -> tuple[np.ndarray, int]:
    """Grid points (world mm) seen by at least ``need`` cameras, and ``need``
    (all cameras, or ⌈0.75 V⌉ when fewer than 20 points are seen by all)."""
    xs = np.arange(centre[0] - VOLUME_RADIUS_MM, centre[0] + VOLUME_RADIUS_MM + 1, step_mm)
    ys = np.arange(centre[1] - VOLUME_RADIUS_MM, centre[1] + VOLUME_RADIUS_MM + 1, step_mm)
    zs = np.arange(0.0, 2201.0, 2 * step_mm)
    grid = np.stack(np.meshgrid(xs, ys, zs, indexing="ij"), -1).reshape(-1, 3)
    count = np.sum([visible(c, grid) for c in cameras], axis=0)
    need = len(cameras)
    if (count >= need).sum() < 20:
        need = max(1, int(np.ceil(VOLUME_SHARE * len(cameras))))
    return grid[count >= need], need


def frustum(cam: Camera, depth: float) -> np.ndarray:
    """(5, 3) world mm: the camera centre and the four image corners' rays at ``depth`` mm."""
    w, h = cam.image_size
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float64)
    K_inv = np.linalg.inv(cam.K)
    rays = (K_inv @ np.c_[corners, np.ones(4)].T).T * depth  # camera frame, z = depth
    return np.vstack([cam.center, cam.camera_to_world(rays)])


def draw_rig(cameras: Sequence[Camera], centre: np.ndarray, path: str | Path, title: str = "") -> int:
    """Write the rig's picture to ``path`` (PNG, atomically); returns how many grid points the
    shared volume holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    volume, need = shared_volume(cameras, centre)
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), dpi=90)
    depth = float(np.median([np.linalg.norm(c.center - centre) for c in cameras])) if len(cameras) else 3000.0
    # the side view looks across the cameras' main viewing direction (x, z), or (y, z) when they look along y
    look = centre - np.mean([c.center for c in cameras], axis=0) if len(cameras) else np.zeros(3)
    side = 1 if abs(look[1]) > abs(look[0]) else 0
    views = [(0, 1), (side, 2)]
    labels = ["from above (x, y)", f"from the side ({'xy'[side]}, z)"]
    for ax, (i, j), label in zip(axes, views, labels, strict=True):
        if len(volume):
            ax.scatter(volume[:, i] / 1000, volume[:, j] / 1000, s=2, c="tab:green", alpha=0.25,
                       label=f"seen by {'all' if need == len(cameras) else f'≥ {need}'} cameras")
        for cam in cameras:
            f = frustum(cam, 0.6 * depth) / 1000
            for k in range(1, 5):
                ax.plot([f[0, i], f[k, i]], [f[0, j], f[k, j]], color="tab:blue", lw=0.6)
            loop = f[[1, 2, 3, 4, 1]]
            ax.plot(loop[:, i], loop[:, j], color="tab:blue", lw=0.6)
            ax.plot(f[0, i], f[0, j], "o", color="tab:red", ms=4)
            ax.annotate(cam.name, (f[0, i], f[0, j]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.plot(centre[i] / 1000, centre[j] / 1000, "k+", ms=10, label="shared point")
        if j == 2:
            ax.axhline(0.0, color="0.4", lw=1, label="floor (z = 0)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(f"{'xyz'[i]} (m)")
        ax.set_ylabel(f"{'xyz'[j]} (m)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return len(volume)
