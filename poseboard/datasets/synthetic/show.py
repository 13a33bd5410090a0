"""A picture of one generated sample: the views with 2D joints and boxes, and the 3D scene.

Example:
    >>> show_sample("data/synth-h36m/test", 0, "sample.png")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poseboard.camera import Camera
from poseboard.errors import InputError
from poseboard.io import atomic_write_bytes
from poseboard.skeleton import H36M17

_LEFT = {i for i, n in enumerate(H36M17.joint_names) if n.startswith("L")}
_RIGHT = {i for i, n in enumerate(H36M17.joint_names) if n.startswith("R")}


def _bone_color(parent: int, child: int) -> str:
    if child in _LEFT or parent in _LEFT:
        return "#1f77b4"  # left: blue
    if child in _RIGHT or parent in _RIGHT:
        return "#d62728"  # right: red
    return "#2ca02c"


def _draw_skeleton_2d(ax, uv: np.ndarray, visible: np.ndarray, lw: float = 1.2) -> None:
    for p, c in H36M17.bones:
        style = "-" if visible[p] and visible[c] else ":"
        ax.plot(uv[[p, c], 0], uv[[p, c], 1], style, color=_bone_color(p, c), lw=lw)
    ax.scatter(uv[visible, 0], uv[visible, 1], s=7, c="white", edgecolors="black", linewidths=0.4, zorder=3)
    ax.scatter(uv[~visible, 0], uv[~visible, 1], s=9, marker="x", c="yellow", linewidths=0.8, zorder=3)


def _draw_skeleton_3d(ax, joints: np.ndarray) -> None:
    for p, c in H36M17.bones:
        ax.plot(joints[[p, c], 0], joints[[p, c], 1], joints[[p, c], 2], color=_bone_color(p, c), lw=1.5)


def _draw_camera(ax, cam: Camera, size: float, label: str | None) -> None:
    c = cam.center
    axis = cam.R[2] * size
    ax.plot([c[0], c[0] + axis[0]], [c[1], c[1] + axis[1]], [c[2], c[2] + axis[2]], color="0.3", lw=0.8)
    ax.scatter([c[0]], [c[1]], [c[2]], s=10, c="black", marker="s")
    if label:
        ax.text(c[0], c[1], c[2] + size * 0.3, label, fontsize=5)


def show_sample(dataset_path: str | Path, index: int, out_png: str | Path, max_views: int = 8) -> Path:
    """Draw sample ``index`` of a generated dataset split into ``out_png`` and return the path.

    Multi-view: up to ``max_views`` crops (evenly chosen) with the ground-truth 2D skeleton
    (solid: both joints visible; dotted: occluded; ``x``: occluded joint) and, beside them, the
    3D skeleton among the cameras. Single-view: the image with each person's box and skeleton,
    and the people in camera coordinates.
    """
    import matplotlib

    matplotlib.use("Agg")
    import io as _io

    import matplotlib.pyplot as plt

    from poseboard.datasets.storage import MultiViewStore, SingleViewStore, open_dataset

    store = open_dataset(dataset_path)
    if not 0 <= index < len(store):
        raise InputError(f"{dataset_path}: sample {index} out of range 0..{len(store) - 1}")
    if isinstance(store, MultiViewStore):
        views = np.unique(np.round(np.linspace(0, store.num_views - 1, min(max_views, store.num_views))).astype(int))
        sample = store.sample(index, views=list(views))
        cols = 2 if len(views) <= 4 else 4
        rows = int(np.ceil(len(views) / cols))
        fig = plt.figure(figsize=(2.1 * cols + 2.1 * max(rows, 2), 2.1 * rows + 0.4), dpi=100)
        grid = fig.add_gridspec(rows, cols + 1, width_ratios=[1.0] * cols + [max(rows, 2) * 1.0])
        for k in range(len(views)):
            ax = fig.add_subplot(grid[k // cols, k % cols])
            ax.imshow(sample.images[k].transpose(1, 2, 0))
            _draw_skeleton_2d(ax, sample.joints_2d[k], sample.visibility[k])
            h, w = sample.images.shape[2:]
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            box = sample.boxes[k]
            ax.set_title(f"{sample.cameras[k].name}  box {int(box[2] - box[0])}px", fontsize=6)
            ax.axis("off")
        ax3 = fig.add_subplot(grid[:, cols], projection="3d")
        _draw_skeleton_3d(ax3, sample.joints_3d)
        all_cams = store.full_cameras(index)
        for k, cam in enumerate(all_cams):
            _draw_camera(ax3, cam, 500.0, cam.name if len(all_cams) <= 8 or k % 4 == 0 else None)
        centres = np.stack([c.center for c in all_cams] + [sample.joints_3d.mean(0)])
        _equal_3d(ax3, np.concatenate([centres, sample.joints_3d]))
        meta = sample.meta
        fig.suptitle(f"{store.manifest.name}/{store.manifest.split}  #{index}  {meta.sample_id}", fontsize=8)
    else:
        assert isinstance(store, SingleViewStore)
        scene = store.scene(index)
        fig = plt.figure(figsize=(7.0, 3.6), dpi=100)
        ax = fig.add_subplot(1, 2, 1)
        ax.imshow(scene.image.transpose(1, 2, 0))
        for person in scene.people:
            left, top, right, bottom = person.box
            ax.add_patch(plt.Rectangle((left, top), right - left, bottom - top, fill=False, color="cyan", lw=0.8))
            _draw_skeleton_2d(ax, person.joints_2d, person.visibility, lw=0.8)
            ax.text(left, top - 2, f"{person.root_cam[2] / 1000:.1f} m", color="cyan", fontsize=6)
        h, w = scene.image.shape[1:]
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.axis("off")
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        pts = [np.zeros((1, 3))]
        for person in scene.people:  # camera frame, drawn with y down → z up for reading
            joints = person.joints_cam[:, [0, 2, 1]] * np.array([1, 1, -1])
            _draw_skeleton_3d(ax3, joints)
            pts.append(joints)
        ax3.scatter([0], [0], [0], c="black", marker="s", s=12)
        _equal_3d(ax3, np.concatenate(pts))
        ax3.set_xlabel("x (mm)", fontsize=6)
        ax3.set_ylabel("depth (mm)", fontsize=6)
        fig.suptitle(f"{store.manifest.name}/{store.manifest.split}  #{index}  {scene.meta.sample_id}", fontsize=8)
    fig.tight_layout()
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    out = Path(out_png)
    atomic_write_bytes(out, _palette_png(buffer.getvalue()))
    return out


def _palette_png(png: bytes) -> bytes:
    """The PNG with an adaptive 256-colour palette: a third of the size, same look."""
    import io as _io

    from PIL import Image

    image = Image.open(_io.BytesIO(png)).convert("RGB")
    out = _io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, format="PNG",
                                                                                                 optimize=True)
    return out.getvalue()


def _equal_3d(ax, points: np.ndarray) -> None:
    lo, hi = points.min(0), points.max(0)
    mid, half = (lo + hi) / 2, (hi - lo).max() / 2 + 100.0
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(max(mid[2] - half, min(lo[2], 0.0)), mid[2] + half)
    ax.tick_params(labelsize=5)
