"""The predictions file (``.npz``) that ``poseboard evaluate`` scores, and ground truth.

Pose predictions (``multiview_pose`` protocols)::

    sample_ids  (N,)        str    ids of the evaluated samples (as in the dataset's metadata)
    joints_3d   (N, 17, 3)  float  millimetres, 17-joint Human3.6M order (pelvis = 6)
    frame       ()          str    optional: "world" (default) or "reference_camera"
    num_views   (N,)        int    camera-sweep protocols only: how many cameras the row used;
                                   the same sample id may then appear once per subset
    calibration_level (N,)  int    calibration-sweep protocols only: the index of the row's
                                   calibration error in the protocol's levels (an id once per level)

Root predictions (``root_localisation`` protocols), one row per detected person::

    sample_ids   (N,)    str    image id
    root         (N, 3)  float  root (pelvis) in camera millimetres
    score        (N,)    float  detection score, ranks predictions for AP_root
    person_index (N,)    int    optional: index of the ground-truth person whose box was used
                                (-1: a detection with no ground-truth box); MRPE uses rows >= 0

Files are read with ``allow_pickle=False``: string arrays must be fixed-width unicode
(``np.array(ids, dtype=str)``), never object arrays.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from poseboard.errors import InputError, ResultFileError
from poseboard.io import atomic_write_with


@dataclass
class PosePredictions:
    sample_ids: np.ndarray  # (N,) str
    joints_3d: np.ndarray  # (N, J, 3) mm
    frame: str = "world"
    num_views: np.ndarray | None = None  # (N,) int
    calibration_level: np.ndarray | None = None  # (N,) int


@dataclass
class RootPredictions:
    sample_ids: np.ndarray  # (N,) str, image ids
    root: np.ndarray  # (N, 3) camera mm
    score: np.ndarray  # (N,)
    person_index: np.ndarray  # (N,) int, -1 = no GT box


@dataclass
class PoseGroundTruth:
    """Ground truth of a pose protocol's frames (one row per sample)."""

    meta: pd.DataFrame  # sample_id, subject, action, sequence, frame (one row per sample)
    joints_3d: np.ndarray  # (N, J, 3) world mm
    reference_R: np.ndarray | None = None  # (N, 3, 3) first camera of the protocol's subset
    reference_t: np.ndarray | None = None  # (N, 3)
    source: str = "synthetic"
    data_hash: str | None = None
    task_hash: str | None = None  # poseboard.datasets.identity: the split without its image bytes
    images_hash: str | None = None
    #: (N, J) bool: joints occluded in at least half of the protocol's views that see the frame
    #: (poseboard.protocols.failures.occluded_joints); None where the split has no visibility flags.
    occluded: np.ndarray | None = None


@dataclass
class RootGroundTruth:
    """Ground truth of a root protocol: one row per annotated person."""

    people: pd.DataFrame  # sample_id (image), person_index, subject, action, sequence, valid
    roots: np.ndarray  # (P, 3) camera mm
    source: str = "synthetic"
    data_hash: str | None = None
    images: pd.DataFrame = field(default_factory=pd.DataFrame)
    task_hash: str | None = None  # poseboard.datasets.identity: the split without its image bytes
    images_hash: str | None = None  # sample_id, subject, action, sequence


#: Uncompressed size above which a predictions file is refused before it is read: Human3.6M's
#: whole test set (~540,000 frames × 17 joints × 3 float64) is ~220 MB; a compressed member
#: that unpacks to gigabytes (a zip bomb) would exhaust memory instead of failing clearly.
MAX_UNCOMPRESSED_BYTES = 1 << 30


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if path.exists() and not zipfile.is_zipfile(path):
        raise ResultFileError(f"{path}: not a readable .npz file (not a zip archive)")
    if path.exists():
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNCOMPRESSED_BYTES:
            raise ResultFileError(
                f"{path}: its arrays unpack to {unpacked / 1e9:.1f} GB, more than the "
                f"{MAX_UNCOMPRESSED_BYTES >> 20} MiB a predictions file may hold (a whole Human3.6M test set "
                "is ~220 MB); nothing was read"
            )
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ResultFileError(f"{path}: predictions file not found") from None
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise ResultFileError(
            f"{path}: cannot be read without unpickling ({exc}); store strings as fixed-width "
            "unicode arrays, e.g. np.array(ids, dtype=str)"
        ) from None
    except (OSError, EOFError) as exc:
        raise ResultFileError(f"{path}: not a readable .npz file ({exc})") from None


def _require(data: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    if key not in data:
        raise ResultFileError(f"{path}: missing array {key!r} (arrays present: {sorted(data)})")
    return data[key]


def _ids(data: dict[str, np.ndarray], path: Path) -> np.ndarray:
    ids = _require(data, "sample_ids", path)
    if ids.ndim != 1 or ids.dtype.kind not in "US":
        raise ResultFileError(f"{path}: 'sample_ids' must be a 1-D string array, got {ids.dtype} {ids.shape}")
    return ids.astype(str)


def _finite(name: str, values: np.ndarray, ids: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{ids[r]!s}" for r in rows[:5])
        raise InputError(f"{path}: {name} has NaN or inf in {bad.sum()} row(s), e.g. samples {shown}")


def load_pose_predictions(path: str | Path, num_joints: int = 17) -> PosePredictions:
    """Read and validate a pose predictions file (shape, dtype, finiteness)."""
    path = Path(path)
    data = _load_npz(path)
    ids = _ids(data, path)
    joints = _require(data, "joints_3d", path)
    if joints.shape != (len(ids), num_joints, 3):
        raise ResultFileError(
            f"{path}: 'joints_3d' must have shape ({len(ids)}, {num_joints}, 3) to match "
            f"{len(ids)} sample_ids, got {joints.shape}"
        )
    if joints.dtype.kind not in "fiu":
        raise ResultFileError(f"{path}: 'joints_3d' must be numeric, got {joints.dtype}")
    joints = joints.astype(np.float64)
    _finite("'joints_3d'", joints, ids, path)
    frame = str(data["frame"]) if "frame" in data else "world"
    if frame not in ("world", "reference_camera", "camera"):
        raise ResultFileError(f"{path}: 'frame' must be world, reference_camera or camera, got {frame!r}")
    groups: dict[str, np.ndarray | None] = {"num_views": None, "calibration_level": None}
    for key in groups:
        if key in data:
            groups[key] = data[key]
            if groups[key].shape != (len(ids),) or groups[key].dtype.kind not in "iu":
                raise ResultFileError(f"{path}: '{key}' must be an int array of shape ({len(ids)},)")
    if groups["num_views"] is None and groups["calibration_level"] is None:
        dup = pd.Series(ids).duplicated()
        if dup.any():
            raise ResultFileError(f"{path}: sample id {str(ids[dup.to_numpy()][0])!r} appears more than once")
    return PosePredictions(sample_ids=ids, joints_3d=joints, frame=frame, num_views=groups["num_views"],
                           calibration_level=groups["calibration_level"])


def save_pose_predictions(path: str | Path, preds: PosePredictions) -> None:
    arrays = {"sample_ids": np.asarray(preds.sample_ids, dtype=str), "joints_3d": preds.joints_3d,
              "frame": np.array(preds.frame)}
    if preds.num_views is not None:
        arrays["num_views"] = np.asarray(preds.num_views, dtype=np.int64)
    if preds.calibration_level is not None:
        arrays["calibration_level"] = np.asarray(preds.calibration_level, dtype=np.int64)
    atomic_write_with(path, lambda f: np.savez(f, **arrays))


def load_root_predictions(path: str | Path) -> RootPredictions:
    """Read and validate a root predictions file."""
    path = Path(path)
    data = _load_npz(path)
    ids = _ids(data, path)
    root = _require(data, "root", path).astype(np.float64)
    score = _require(data, "score", path).astype(np.float64)
    if root.shape != (len(ids), 3):
        raise ResultFileError(f"{path}: 'root' must have shape ({len(ids)}, 3), got {root.shape}")
    if score.shape != (len(ids),):
        raise ResultFileError(f"{path}: 'score' must have shape ({len(ids)},), got {score.shape}")
    _finite("'root'", root, ids, path)
    _finite("'score'", score, ids, path)
    person = data.get("person_index", np.full(len(ids), -1))
    if person.shape != (len(ids),) or person.dtype.kind not in "iu":
        raise ResultFileError(f"{path}: 'person_index' must be an int array of shape ({len(ids)},)")
    return RootPredictions(sample_ids=ids, root=root, score=score, person_index=person.astype(np.int64))


def save_root_predictions(path: str | Path, preds: RootPredictions) -> None:
    arrays = {"sample_ids": np.asarray(preds.sample_ids, dtype=str), "root": preds.root,
              "score": preds.score, "person_index": np.asarray(preds.person_index, dtype=np.int64)}
    atomic_write_with(path, lambda f: np.savez(f, **arrays))
