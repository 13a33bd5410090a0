"""A user's own motion: an ``.npz`` of 17-joint poses to render into the synthetic world.

The archive holds (read with ``allow_pickle=False``: nothing is ever unpickled):

``poses``      (N, 17, 3) float mm, world frame with Z up and the floor at z = 0, in the
               H36M17 order (0 RAnkle … 6 Pelvis … 9 Head top … 16 Neck/Nose). Required.
``sequence``   (N,) strings: the sequence of each frame. Optional; without it the frames are
               one sequence ``"user/000"`` (or, if ``action`` changes along the file, one
               sequence per run of equal action: ``"user/000"``, ``"user/001"``, …).
``action``     (N,) strings, constant within a sequence. Optional (``"Unknown"``).
``subject``    a string, or (N,) strings constant within a sequence. Optional (``"user"``).
``fps``        a positive scalar. Optional (50).

Strings must be stored as NumPy unicode or bytes arrays (``np.array(["a", "b"])``), not
object arrays. Example of writing one::

    np.savez("mine.npz", poses=poses_mm, action=np.array(["Walking"] * len(poses_mm)))
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.datasets.synthetic.motion import MotionSequence
from poseboard.errors import InputError
from poseboard.skeleton import H36M17

KEYS: tuple[str, ...] = ("poses", "sequence", "action", "subject", "fps")
DEFAULT_SEQUENCE = "user/000"
DEFAULT_ACTION = "Unknown"
DEFAULT_SUBJECT = "user"
DEFAULT_FPS = 50.0
#: the median lowest joint of a frame must be this close to z = 0, mm
FLOOR_TOLERANCE_MM = 300.0


def _strings(name: str, value: np.ndarray, n: int, where: str) -> np.ndarray:
    if value.dtype.kind not in "USiu":
        raise InputError(f"{where}: {name!r} must hold strings, got dtype {value.dtype}")
    if value.dtype.kind == "S":
        value = np.char.decode(value, "utf-8")
    if value.shape != (n,):
        raise InputError(
            f"{where}: {name!r} must have one entry per frame: expected shape ({n},), "
            f"got {value.shape}"
        )
    return value.astype(str)


def load_user_motion(path: str | Path) -> list[MotionSequence]:
    """Read and validate a user's motion ``.npz``; one :class:`MotionSequence` per sequence,
    in the order sequences first appear in the file.

    Raises:
        InputError: naming the file and the problem: unreadable or not an ``.npz``, pickled
            object arrays, unknown keys, missing ``poses``, wrong shape, NaN/inf (and where),
            units that look like metres or centimetres, a floor far from z = 0 (Y up?),
            ``sequence``/``action``/``subject`` of the wrong length or inconsistent within a
            sequence.
    """
    from poseboard.errors import ResultFileError
    from poseboard.io import load_npz

    where = str(path)
    try:  # every member read inside the checks: a damaged member is refused, never unpickled
        data: dict[str, Any] = load_npz(path, what="motion file")
    except ResultFileError as e:
        raise InputError(str(e)) from None
    keys = sorted(data)
    if "poses" not in keys:
        raise InputError(f"{where}: missing required key 'poses' ((N, 17, 3) mm); found {keys}")
    unknown = sorted(set(keys) - set(KEYS))
    if unknown:
        hints = [f"{k!r} → {m[0]!r}" for k in unknown
                 if (m := difflib.get_close_matches(k, KEYS, n=1))]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise InputError(
            f"{where}: unknown key(s) {unknown}{hint}; allowed keys are {list(KEYS)}"
        )
    poses = data["poses"]
    if poses.ndim != 3 or poses.shape[1:] != (17, 3) or poses.shape[0] == 0:
        raise InputError(
            f"{where}: 'poses' must have shape (N, 17, 3) with N ≥ 1 (joints in the H36M17 "
            f"order, xyz in mm), got {poses.shape}"
        )
    if poses.dtype.kind not in "fiu":
        raise InputError(f"{where}: 'poses' must be numbers, got dtype {poses.dtype}")
    poses = poses.astype(np.float64)  # float64 throughout, like the generated motion
    bad = ~np.isfinite(poses).all(axis=(1, 2))
    if bad.any():
        frames = np.flatnonzero(bad)
        listed = ", ".join(str(f) for f in frames[:10]) + (", …" if len(frames) > 10 else "")
        raise InputError(f"{where}: 'poses' has NaN or inf in {len(frames)} frame(s): {listed}")
    far = np.abs(poses).max(axis=(1, 2)) > MAX_COORDINATE_MM
    if far.any():  # finite but absurd: the geometry checks below would overflow
        frames = np.flatnonzero(far)
        raise InputError(f"{where}: 'poses' has a coordinate beyond {MAX_COORDINATE_MM / 1e6:g} km in {len(frames)} "
                         f"frame(s), first {int(frames[0])}; poses are world millimetres of one capture area")
    n = len(poses)
    median_bone = float(np.median(H36M17.bone_lengths(poses)))
    if median_bone == 0.0:
        raise InputError(f"{where}: every bone has zero length; are the poses all zeros?")
    if median_bone < 10.0:
        raise InputError(
            f"{where}: the median bone is {median_bone:.3g} long, which looks like metres; "
            f"poses must be in millimetres (multiply by 1000)"
        )
    if median_bone < 60.0:
        raise InputError(
            f"{where}: the median bone is {median_bone:.3g} long, which looks like "
            f"centimetres; poses must be in millimetres (multiply by 10)"
        )
    _check_up_axis(poses, where)
    floor = float(np.median(poses[..., 2].min(axis=1)))
    if abs(floor) > FLOOR_TOLERANCE_MM:
        raise InputError(
            f"{where}: the lowest joint is at z = {floor:.0f} mm (median over frames); the "
            f"world must have Z up with the floor at z = 0 (Y-up data must be rotated, and "
            f"the floor shifted to 0)"
        )
    fps = DEFAULT_FPS
    if "fps" in data:
        fps_arr = data["fps"]
        if fps_arr.shape != () or fps_arr.dtype.kind not in "fiu" or not float(fps_arr) > 0:
            raise InputError(f"{where}: 'fps' must be one positive number, got {fps_arr!r}")
        fps = float(fps_arr)
    action = (_strings("action", data["action"], n, where) if "action" in data
              else np.full(n, DEFAULT_ACTION))  # fmt: skip
    if "sequence" in data:
        sequence = _strings("sequence", data["sequence"], n, where)
    else:  # one sequence per run of equal action
        run = np.concatenate([[0], np.cumsum(action[1:] != action[:-1])])
        sequence = np.array([f"user/{r:03d}" for r in run])
    if "subject" in data and data["subject"].shape == ():
        subject = np.full(n, str(_strings("subject", data["subject"][None], 1, where)[0]))
    elif "subject" in data:
        subject = _strings("subject", data["subject"], n, where)
    else:
        subject = np.full(n, DEFAULT_SUBJECT)
    names, first = np.unique(sequence, return_index=True)
    out = []
    for name in names[np.argsort(first)]:
        idx = np.flatnonzero(sequence == name)
        for label, values in (("action", action), ("subject", subject)):
            distinct = np.unique(values[idx])
            if len(distinct) > 1:
                raise InputError(
                    f"{where}: sequence {name!r} has more than one {label}: "
                    f"{[str(v) for v in distinct[:5]]}"
                )
        out.append(MotionSequence(subject=str(subject[idx[0]]), action=str(action[idx[0]]),
                                  sequence=str(name), poses=poses[idx], fps=fps))
    return out


#: Below this median share of the pelvis → thorax vector along +Z the body is not upright in
#: a Z-up world: upright actions (standing, walking, sitting) give 0.9 and more.
MIN_UPRIGHT = 0.5


#: the largest coordinate a motion may hold, mm (1 km: as the predictions reader)
MAX_COORDINATE_MM = 1e6


def _check_up_axis(poses: np.ndarray, where: str) -> None:
    """Refuse motion whose bodies do not stand along +Z: the direction pelvis → thorax
    (H36M17 joints 6 → 8), unit length, median over frames, must point mostly up. A Y-up
    export (Y and Z swapped) lies along ±Y here and would render people lying on the floor.

    Args:
        poses: (N, 17, 3) world millimetres, H36M17 order.
        where: the file, for the message.
    """
    torso = poses[:, 8] - poses[:, 6]
    length = np.linalg.norm(torso, axis=-1, keepdims=True)
    direction = np.median(torso / np.where(length > 0, length, 1.0), axis=0)  # (3,)
    if direction[2] >= MIN_UPRIGHT:
        return
    axis = int(np.argmax(np.abs(direction)))
    label = ("-" if direction[axis] < 0 else "+") + "XYZ"[axis]
    fix = {"+Y": "(x, y, z) → (x, -z, y)", "-Y": "(x, y, z) → (x, z, -y)",
           "+X": "(x, y, z) → (-z, y, x)", "-X": "(x, y, z) → (z, y, -x)", "-Z": "(x, y, z) → (x, -y, -z)"}[label]
    raise InputError(
        f"{where}: the bodies point along {label}, not up: the pelvis → thorax direction (median over frames) "
        f"is ({direction[0]:.2f}, {direction[1]:.2f}, {direction[2]:.2f}); the world must have Z up with the "
        f"floor at z = 0. This looks like {label[1]}-up data: rotate every joint {fix}, then shift the floor "
        f"to z = 0"
    )

