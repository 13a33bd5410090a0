"""The user's files: a rig (poseboard's rig JSON, or a calibration in another format through
the calibration importer) and an optional motion ``.npz``, each checked and rewritten into
the studio's output folder in the recentred world (:mod:`poseboard.studio.placement`).

Nothing here is ever unpickled: rig JSON is parsed as JSON, motion with ``allow_pickle=False``
(:func:`poseboard.datasets.synthetic.user_motion.load_user_motion`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from poseboard.camera import Camera, load_rig
from poseboard.errors import InputError
from poseboard.io import atomic_write_with


def is_poseboard_rig(path: Path) -> bool:
    """Whether ``path`` is a poseboard rig JSON (``"format": "poseboard-rig"``), read as JSON
    only when it ends in ``.json``."""
    if path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == "poseboard-rig"


def read_rig(path: str | Path, fmt: str | None = None, units: str | None = None,
             up: str | None = None) -> tuple[list[Camera], list[str]]:
    """The cameras of ``path`` in poseboard's convention (world mm, z up, OpenCV axes), and the
    importer's notes (format, units, up axis and floor, stated or detected; none for a rig JSON).

    A poseboard rig JSON is read by :func:`poseboard.camera.load_rig` (``fmt`` None or
    ``"poseboard"``; ``units``/``up`` must then be left out: the format fixes them); anything
    else (a file, or EasyMocap's folder of ``intri.yml`` and ``extri.yml``) goes through the
    calibration importer (``poseboard.datasets.calibration.import_rig(path, fmt, units, up)``),
    imported here, on use.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: rig file not found (give a poseboard rig JSON or a calibration file)")
    if fmt in (None, "poseboard") and path.is_file() and is_poseboard_rig(path):
        if units is not None or up is not None:
            raise InputError(f"{path}: a poseboard rig JSON is in millimetres with z up; leave out --units and --up")
        return load_rig(path), []
    if fmt == "poseboard":
        raise InputError(f"{path}: not a poseboard rig JSON (no \"format\": \"poseboard-rig\" at the top level); "
                         "drop --format poseboard to import it as a calibration")
    try:
        from poseboard.datasets.calibration import import_rig
    except ImportError:
        raise InputError(f"{path}: not a poseboard rig JSON, and this poseboard has no calibration importer "
                         "(poseboard.datasets.calibration): convert it to a poseboard rig JSON "
                         "(docs/synthetic_world.md, 'A user's rig')") from None
    rig = import_rig(path, fmt=fmt, units=units, up=up)
    cameras = list(rig.cameras)
    if not cameras:
        raise InputError(f"{path}: the calibration holds no camera")
    return cameras, [str(n) for n in getattr(rig, "notes", [])]


def write_motion(source: str | Path, out: Path, centre_xy: np.ndarray, in_place: bool) -> list[str]:
    """Rewrite the user's motion ``source`` into ``out`` in the studio's world and return its
    subjects (every one of them is test data here: the studio never trains).

    ``in_place`` False (the default): each sequence is moved so that its mean pelvis (x, y) is
    the capture area's centre, the new origin (as the generator does for built-in rigs). True:
    the motion stays where it was recorded relative to the cameras (the rig's frame), moved with
    the world by ``-centre_xy``."""
    from poseboard.datasets.synthetic.user_motion import load_user_motion

    sequences = load_user_motion(source)
    if not sequences:
        raise InputError(f"{source}: the motion holds no frame")
    fps = {m.fps for m in sequences}
    poses, names, actions, subjects = [], [], [], []
    for m in sequences:
        p = np.asarray(m.poses, dtype=np.float64).copy()
        if in_place:
            p[..., :2] -= np.asarray(centre_xy, dtype=np.float64)
        else:
            p[..., :2] -= p[:, 6, :2].mean(axis=0)
        poses.append(p)
        names += [m.sequence] * len(p)
        actions += [m.action] * len(p)
        subjects += [m.subject] * len(p)
    arrays = {"poses": np.concatenate(poses), "sequence": np.array(names), "action": np.array(actions),
              "subject": np.array(subjects), "fps": np.array(float(next(iter(fps))))}
    atomic_write_with(out, lambda f: np.savez(f, **arrays))
    return sorted(set(subjects))
