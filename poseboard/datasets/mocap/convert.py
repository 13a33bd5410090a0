"""BVH → poseboard's motion ``.npz`` (the layout of
:mod:`poseboard.datasets.synthetic.user_motion`): H36M17 joints, millimetres, Z up, on the floor,
50 fps. Imported motion is a **test input** (``poseboard generate --motion``, ``poseboard
studio --motion``), never training data.

Steps (:func:`bvh_to_poses`), each stated in the returned notes:

1. parse and forward kinematics (:mod:`.bvh`), the H36M17 joints picked by the joint map
   (:mod:`.joint_map`);
2. **up**: ``up``, else the axis the pelvis → head-top direction points along (median over
   frames; refused when it is more than 45° from every axis);
3. **units**: ``units`` (mm, cm, m, in, or millimetres per unit), else the one that makes
   the body's height (shank + thigh + pelvis → thorax → neck → head top, median over frames)
   0.9–2.6 m; a declared unit must give 0.5–3 m;
4. rotated to Z up, scaled to mm, the lowest ankle of the motion at ankle height (3.9 % of
   the body's height, as poseboard's synthetic bodies);
5. resampled to 50 fps by linear interpolation of the joint positions (times k / 50 s within
   the file's span), and the mean pelvis over x, y moved to the origin.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from poseboard.datasets.axes import MM_PER_UNIT, Up, dominant_axis, parse_units, parse_up, up_to_z
from poseboard.datasets.mocap.bvh import BvhError, forward_kinematics, parse_bvh
from poseboard.datasets.mocap.joint_map import map_joints, read_joint_map
from poseboard.datasets.mocap.library_file import resample
from poseboard.errors import InputError

TARGET_FPS = 50.0
#: body height range (mm) a detected unit must give, and a declared one
DETECT_HEIGHT_MM = (900.0, 2600.0)
DECLARED_HEIGHT_MM = (500.0, 3000.0)
#: ankle height as a share of the body's height (poseboard.datasets.synthetic.body)
ANKLE_SHARE = 0.039
UP_COSINE = math.cos(math.radians(45))


def body_height(poses: np.ndarray) -> float:
    """Median over frames of shank + thigh (mean of both legs) + pelvis → thorax → neck → head top,
    in the poses' units; (F, 17, 3) H36M17 order."""
    def seg(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(poses[:, a] - poses[:, b], axis=-1)

    legs = 0.5 * (seg(0, 1) + seg(1, 2) + seg(5, 4) + seg(4, 3))
    return float(np.median(legs + seg(6, 8) + seg(8, 16) + seg(16, 9)))


def _mm_per_unit(units: str | None) -> float | None:
    """``--units``: a unit name (mm, cm, m, in) or a positive number of millimetres per unit."""
    if units is None:
        return None
    try:
        value = float(units)
    except ValueError:
        return MM_PER_UNIT[parse_units(units)]  # type: ignore[index]
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"--units {units}: millimetres per unit must be a positive number")
    return value


def bvh_to_poses(path: str | Path, units: str | None = None, up: str | None = None,
                 joint_map: str | Path | None = None) -> tuple[np.ndarray, list[str]]:
    """(M, 17, 3) world mm poses at 50 fps (Z up, on the floor) from a BVH file, and notes.

    Raises:
        BvhError: naming the file and the joint (malformed file, joint missing from the map,
            units or up axis that cannot be told or do not fit a body).
    """
    path = Path(path)
    try:
        mm_per_unit = _mm_per_unit(units)
        up_v: Up | None = parse_up(up)
    except InputError as exc:
        raise BvhError(f"{path}: {exc}") from None
    overrides = read_joint_map(joint_map) if joint_map is not None else None
    bvh = parse_bvh(path)
    index = map_joints(bvh, overrides, Path(joint_map) if joint_map else None)
    raw = forward_kinematics(bvh)[:, index]  # (F, 17, 3) file units and axes
    notes = [f"{bvh.values.shape[0]} frames at {1 / bvh.frame_time:.4g} fps; joints: " + ", ".join(
        f"{h}←{bvh.names[i]}" for h, i in zip(("Pelvis", "Thorax", "Neck", "Head"), (index[6], index[8], index[16],
                                                                                   index[9]), strict=True))]
    torso = raw[:, 9] - raw[:, 6]
    length = np.linalg.norm(torso, axis=-1, keepdims=True)
    if not np.any(length > 0):
        raise BvhError(f"{path}: the pelvis ({bvh.names[index[6]]!r}) and head top ({bvh.names[index[9]]!r}) "
                       f"coincide in every frame; check the joint map")
    direction = np.median(torso / np.where(length > 0, length, 1.0), axis=0)
    if up_v is None:
        up_v, cosine = dominant_axis(direction)
        if cosine < UP_COSINE:
            raise BvhError(f"{path}: cannot tell the up axis: the pelvis → head direction (median) is "
                           f"{np.round(direction, 2).tolist()}; pass --up (+y for most BVH exports)")
        notes.append(f"up axis detected: {up_v} (the body's pelvis → head direction)")
    W = up_to_z(up_v)
    height = body_height(raw)
    if height <= 0:
        raise BvhError(f"{path}: the mapped joints have zero extent; check the joint map")
    if mm_per_unit is None:
        fits = [u for u, f in MM_PER_UNIT.items() if DETECT_HEIGHT_MM[0] <= height * f <= DETECT_HEIGHT_MM[1]]
        if not fits:
            raise BvhError(f"{path}: the body is {height:.4g} units tall, a person in none of {list(MM_PER_UNIT)}; "
                           f"pass --units (one of those, or millimetres per unit: --units {1700 / height:.4g} makes "
                           f"the body 1.7 m tall)")
        mm_per_unit = MM_PER_UNIT[fits[0]]
        notes.append(f"units detected: {fits[0]} (the body is {height * mm_per_unit / 1000:.2f} m tall)")
    height_mm = height * mm_per_unit
    if not DECLARED_HEIGHT_MM[0] <= height_mm <= DECLARED_HEIGHT_MM[1]:
        guess = [u for u, f in MM_PER_UNIT.items() if DETECT_HEIGHT_MM[0] <= height * f <= DETECT_HEIGHT_MM[1]]
        raise BvhError(f"{path}: with --units {units} the body would be {height_mm / 1000:.3g} m tall"
                       + (f"; pass --units {guess[0]}" if guess else "; check --units"))
    poses = raw @ W.T * mm_per_unit
    if np.median((poses[:, 9] - poses[:, 6])[:, 2]) <= 0:
        raise BvhError(f"{path}: with --up {up_v} the body stands on its head; pass the axis the body's head points "
                       f"along (detected from the file: {dominant_axis(direction)[0]})")
    floor = float(poses[:, [0, 5], 2].min()) - ANKLE_SHARE * height_mm
    out = resample(poses, bvh.frame_time, TARGET_FPS)
    centre = out[:, 6, :2].mean(axis=0)
    out = out - np.array([centre[0], centre[1], floor])
    notes.append(f"lowest ankle put at {ANKLE_SHARE * height_mm:.0f} mm above the floor; mean pelvis at x = y = 0")
    notes.append(f"resampled to {TARGET_FPS:g} fps: {len(out)} frames")
    return out, notes


def motion_npz_bytes(poses: np.ndarray, action: str) -> bytes:
    """The ``.npz`` bytes of poseboard's motion layout: poses (M, 17, 3) mm, fps, action."""
    buf = io.BytesIO()
    np.savez(buf, poses=poses.astype(np.float64), fps=np.array(TARGET_FPS),
             action=np.array([action] * len(poses)))
    return buf.getvalue()


def check_motion_bytes(data: bytes, where: str) -> int:
    """Validate ``.npz`` bytes with poseboard's motion loader; the number of sequences."""
    from poseboard.datasets.synthetic.user_motion import load_user_motion

    buf = io.BytesIO(data)
    try:
        return len(load_user_motion(buf))  # type: ignore[arg-type]
    except InputError as exc:
        raise BvhError(str(exc).replace(str(buf), where)) from None


def import_motion(path: str | Path, units: str | None = None, up: str | None = None,
                  joint_map: str | Path | None = None, action: str = "Unknown") -> tuple[bytes, list[str]]:
    """The motion ``.npz`` bytes for a BVH file, or a poseboard motion ``.npz`` checked and
    passed through unchanged; and notes. Nothing is written here."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if units or up or joint_map:
            raise BvhError(f"{path}: a poseboard motion .npz is already mm, Z up, H36M17: "
                           f"--units/--up/--joint-map do not apply")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BvhError(f"{path}: cannot read it ({exc})") from None
        n = check_motion_bytes(data, str(path))
        return data, [f"a poseboard motion .npz with {n} sequence(s): checked and passed through"]
    if path.suffix.lower() != ".bvh":
        raise BvhError(f"{path}: not a .bvh or .npz file; motion import reads BVH motion capture and poseboard's "
                       f"motion .npz")
    poses, notes = bvh_to_poses(path, units, up, joint_map)
    data = motion_npz_bytes(poses, action)
    check_motion_bytes(data, f"{path} (converted)")
    return data, notes
