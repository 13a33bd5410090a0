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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from poseboard.errors import InputError, ResultFileError
from poseboard.io import NPZ_MAX_BYTES, atomic_write_with, load_npz


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
MAX_UNCOMPRESSED_BYTES = NPZ_MAX_BYTES


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a predictions file, each member read inside the checks
    (:func:`poseboard.io.load_npz`): a damaged archive or member, an object array or a header
    that disagrees with its data is a :class:`ResultFileError` naming the file and the member."""
    return load_npz(path, what="predictions file", max_bytes=MAX_UNCOMPRESSED_BYTES,
                    too_large_hint=" (a whole Human3.6M test set is ~220 MB)")


def _require(data: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    if key not in data:
        raise ResultFileError(f"{path}: missing array {key!r} (arrays present: {sorted(data)})")
    return data[key]


def _ids(data: dict[str, np.ndarray], path: Path) -> np.ndarray:
    ids = _require(data, "sample_ids", path)
    if ids.ndim != 1 or ids.dtype.kind not in "US":
        raise ResultFileError(f"{path}: 'sample_ids' must be a 1-D string array, got {ids.dtype} {ids.shape}")
    try:
        ids = ids.astype(str)
    except UnicodeDecodeError:  # a byte-string array (dtype S) holding non-ASCII bytes
        raise ResultFileError(f"{path}: 'sample_ids' holds bytes that are not ASCII text; store the ids as "
                              "unicode, np.array(ids, dtype=str)") from None
    # each id's UTF-32 code points: a damaged file can hold numbers that are no character, which
    # crash where the id is printed or hashed
    codes = np.ascontiguousarray(ids).view(np.uint32).reshape(len(ids), -1) if ids.dtype.itemsize else \
        np.zeros((len(ids), 0), dtype=np.uint32)
    bad = ((codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ResultFileError(f"{path}: 'sample_ids' row {row} holds a code point that is not a character "
                              "(a damaged file?)")
    return ids


def _numeric(data: dict[str, np.ndarray], key: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    """Array ``key`` as float64, refused unless it is real numbers of ``shape``."""
    values = _require(data, key, path)
    if values.dtype.kind not in "fiu":
        raise ResultFileError(f"{path}: {key!r} must be numeric, got {values.dtype}")
    if values.shape != shape:
        raise ResultFileError(f"{path}: {key!r} must have shape {shape}, got {values.shape}")
    return values.astype(np.float64)


def _finite(name: str, values: np.ndarray, ids: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{ids[r]!s}" for r in rows[:5])
        raise InputError(f"{path}: {name} has NaN or inf in {bad.sum()} row(s), e.g. samples {shown}")


#: Coordinates further than this from the origin (10^12 mm: a million km) are refused, as their
#: squares would take the metrics towards overflow. A wild but real prediction stays a scored
#: error: an uncalibrated method under the calibration sweep's largest error predicts joints over
#: 1 km away (tests/methods/test_shared_views.py).
MAX_COORDINATE_MM = 1e12


def _bounded(name: str, values: np.ndarray, ids: np.ndarray, path: Path) -> None:
    far = (np.abs(values.reshape(len(values), -1)) > MAX_COORDINATE_MM).any(axis=1)
    if far.any():
        rows = np.flatnonzero(far)
        raise InputError(f"{path}: {name} lies more than {MAX_COORDINATE_MM / 1e6:.0e} km from the origin in "
                         f"{far.sum()} row(s), e.g. sample {ids[rows[0]]!s}: not millimetres of a capture volume")


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
    _bounded("'joints_3d'", joints, ids, path)
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
    root = _numeric(data, "root", (len(ids), 3), path)
    score = _numeric(data, "score", (len(ids),), path)
    _finite("'root'", root, ids, path)
    _finite("'score'", score, ids, path)
    _bounded("'root'", root, ids, path)
    person = data.get("person_index", np.full(len(ids), -1))
    if person.shape != (len(ids),) or person.dtype.kind not in "iu":
        raise ResultFileError(f"{path}: 'person_index' must be an int array of shape ({len(ids)},)")
    return RootPredictions(sample_ids=ids, root=root, score=score, person_index=person.astype(np.int64))


def save_root_predictions(path: str | Path, preds: RootPredictions) -> None:
    arrays = {"sample_ids": np.asarray(preds.sample_ids, dtype=str), "root": preds.root,
              "score": preds.score, "person_index": np.asarray(preds.person_index, dtype=np.int64)}
    atomic_write_with(path, lambda f: np.savez(f, **arrays))
