"""Human3.6M as prepared for learnable triangulation (Iskakov et al. 2019).

Files (see :data:`poseboard.datasets.real.config.EXPECTED_LAYOUT`):

* ``extra/human36m-multiview-labels-GTbboxes.npy`` — a dict saved with ``np.save``:
  ``subject_names`` (7), ``camera_names`` (4), ``action_names`` (30, ``'<Action>-<trial>'``),
  ``cameras`` a structured (subject, camera) array with ``R`` (3, 3), ``t`` (3, 1) mm
  (world → camera), ``K`` (3, 3), ``dist`` (5,), and ``table`` with one row per multi-view
  frame: ``subject_idx``, ``action_idx``, ``frame_idx`` (0-based), ``keypoints`` (17, 3)
  world mm in the 17-joint order (pelvis = 6), ``bbox_by_camera_tlbr`` (4, 4) as
  (top, left, bottom, right) pixels, bottom/right exclusive, ``(0, 0, 0, 0)`` = missing view.
* ``processed/<S>/<Action-trial>/imageSequence-undistorted/<camera>/img_%06d.jpg``,
  numbered ``frame_idx + 1``.

**The label file is a pickle.** ``np.load(..., allow_pickle=True)`` runs whatever code the
file contains, so :func:`load_labels` refuses it unless ``trust_pickle=True``. Convert it once
with :func:`convert_labels` (``poseboard datasets convert-h36m``) to a folder of plain
``.npy`` arrays plus ``labels.json``, read with ``allow_pickle=False``; that copy is used
whenever it exists.

**Crops** follow the reference pipeline: the ground-truth box (already squared in the file)
TLBR → LTRB, scaled about its integer centre (``bbox_scale``, 1.0 in the shipped configs),
cropped with zero padding outside the image, resized to ``image_size`` (area averaging); the
camera follows through :meth:`Camera.crop_and_resize`. **Projection ignores distortion**: the
undistorted images were made with Human3.6M's own lens model, so the sample cameras carry
``dist = 0``. When only ``imageSequence/`` (distorted) exists it is used instead, the sample
cameras keep the calibration's ``dist`` and ``joints_2d`` include it (OpenCV's model, which
differs slightly from Human3.6M's in the tangential terms) — a warning says so.

Samples are RGB (the reference reads BGR with ``cv2.imread``; a port that wants its exact
input flips the channels). Sample ids look like ``S9/Greeting-2/000123``; ``sequence`` is
``Action-trial``, so the skip list entry ``S9/Greeting-2`` matches exactly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from poseboard.camera import Camera
from poseboard.datasets.real.config import (
    DatasetLayoutError,
    LayoutReport,
    PickleNotTrustedError,
    crop_and_resize_image,
    ground_truth_root,
    hash_arrays,
    image_size_of,
    layout_error,
    load_rgb,
    median_pose_extent,
    resolve_root,
    units_problem,
)
from poseboard.errors import InputError
from poseboard.samples import MultiViewSample, SampleMeta

NAME = "human36m"
LABELS_FILE = "human36m-multiview-labels-GTbboxes.npy"
#: The pickle-free copy written by :func:`convert_labels` (a folder beside the .npy).
CONVERTED_DIR = "human36m-multiview-labels-GTbboxes"
CONVERTED_FORMAT = "poseboard-h36m-labels"
CONVERTED_VERSION = 1

TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
#: S9 scenes with invalid ground truth (learnable triangulation ``with_damaged_actions=False``).
DAMAGED_SEQUENCES: tuple[str, ...] = ("S9/Greeting-2", "S9/SittingDown-2", "S9/Waiting-1")
CAMERA_NAMES: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
#: Nominal (width, height) of the Human3.6M cameras, used only when no image is at hand.
NOMINAL_IMAGE_SIZE: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002),
}
UNDISTORTED = "imageSequence-undistorted"
DISTORTED = "imageSequence"

_TABLE_FIELDS = ("subject_idx", "action_idx", "frame_idx", "keypoints", "bbox_by_camera_tlbr")
_CAMERA_FIELDS = ("R", "t", "K", "dist")
_NAME_KEYS = ("subject_names", "camera_names", "action_names")

Split = Literal["train", "test", "all"]


# ----------------------------------------------------------------------------- labels
@dataclass
class H36MLabels:
    """The label table, validated and as plain arrays (S subjects, C cameras, N rows).

    Attributes:
        R, K: (S, C, 3, 3); t: (S, C, 3) mm, world → camera; dist: (S, C, 5).
        subject_idx, action_idx, frame_idx: (N,) int; keypoints: (N, 17, 3) world mm;
        bbox_tlbr: (N, C, 4) int (top, left, bottom, right), zeros = missing view.
        path: the file or folder read; kind: ``"converted"`` or ``"pickle"``.
    """

    subject_names: list[str]
    camera_names: list[str]
    action_names: list[str]
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    dist: np.ndarray
    subject_idx: np.ndarray
    action_idx: np.ndarray
    frame_idx: np.ndarray
    keypoints: np.ndarray
    bbox_tlbr: np.ndarray
    path: Path
    kind: Literal["converted", "pickle"]

    def camera(self, subject: int, camera: int, image_size: tuple[int, int] | None = None) -> Camera:
        """The full-frame camera ``camera`` of subject index ``subject`` (with its distortion)."""
        name = self.camera_names[camera]
        size = image_size or NOMINAL_IMAGE_SIZE.get(name, (1000, 1000))
        try:
            return Camera(K=self.K[subject, camera], R=self.R[subject, camera], t=self.t[subject, camera],
                          dist=self.dist[subject, camera], image_size=size, name=name)
        except InputError as exc:
            raise layout_error(NAME, self.path, f"cameras[{self.subject_names[subject]}, {name}]: {exc}") from None

    def meta(self) -> pd.DataFrame:
        """One row per table row: sample_id, subject, action, sequence, frame, row."""
        subjects = np.asarray(self.subject_names, dtype=object)[self.subject_idx]
        actions = np.asarray(self.action_names, dtype=object)[self.action_idx]
        frames = self.frame_idx.astype(np.int64)
        ids = [f"{s}/{a}/{f:06d}" for s, a, f in zip(subjects, actions, frames, strict=True)]
        return pd.DataFrame({"sample_id": ids, "subject": subjects.astype(str), "action": actions.astype(str),
                             "sequence": actions.astype(str), "frame": frames, "row": np.arange(len(frames))})

    def content_hash(self, rows: np.ndarray | None = None) -> str:
        sel = slice(None) if rows is None else rows
        return hash_arrays(self.subject_idx[sel], self.action_idx[sel], self.frame_idx[sel], self.keypoints[sel],
                           self.bbox_tlbr[sel], self.R, self.t, self.K, "|".join(self.subject_names),
                           "|".join(self.camera_names), "|".join(self.action_names))


def find_labels(root: Path) -> tuple[Path | None, Path | None]:
    """(pickle-free folder, pickled .npy) found under ``root`` (``extra/`` or ``root`` itself)."""
    converted = next((d / CONVERTED_DIR for d in (root / "extra", root) if (d / CONVERTED_DIR).is_dir()), None)
    pickled = next((d / LABELS_FILE for d in (root / "extra", root) if (d / LABELS_FILE).is_file()), None)
    return converted, pickled


def _pickle_message(path: Path) -> str:
    return (
        f"{path}: this label file is a pickled NumPy object array; loading it executes whatever code the "
        "file contains, so poseboard only loads it when you say you trust the file (trust_pickle=True, "
        "--trust-pickle). Better: convert it once with `poseboard datasets convert-h36m "
        f"{path} --trust-pickle`, which writes a pickle-free copy ({CONVERTED_DIR}/) that is used from then on."
    )


def load_labels(root: str | Path | None = None, *, labels_path: str | Path | None = None,
                trust_pickle: bool = False) -> H36MLabels:
    """Read and validate the label table, preferring the pickle-free copy.

    Args:
        root: the dataset folder (default ``$POSEBOARD_H36M_ROOT``); ignored when ``labels_path``.
        labels_path: an explicit ``.npy`` file or converted folder.
        trust_pickle: allow ``np.load(..., allow_pickle=True)`` of the original ``.npy``
            (unpickling runs code from the file).

    Raises:
        PickleNotTrustedError: only the pickled file exists and ``trust_pickle`` is False.
        DatasetLayoutError: the file is missing, truncated or has wrong/missing fields or units.
    """
    if labels_path is not None:
        path = Path(labels_path)
        if path.is_dir():
            return _load_converted(path)
        if not path.exists():
            raise layout_error(NAME, path, "label file not found")
        return _load_pickled(path, trust_pickle)
    base = resolve_root(NAME, root)
    converted, pickled = find_labels(base)
    if converted is not None:
        return _load_converted(converted)
    if pickled is not None:
        return _load_pickled(pickled, trust_pickle)
    raise layout_error(NAME, base / "extra" / LABELS_FILE,
                       f"label file not found (nor its pickle-free copy {CONVERTED_DIR}/)")


def _load_pickled(path: Path, trust_pickle: bool) -> H36MLabels:
    if not trust_pickle:
        raise PickleNotTrustedError(_pickle_message(path))
    try:
        obj = np.load(path, allow_pickle=True)
        data = obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj
    except (OSError, ValueError, EOFError) as exc:
        raise layout_error(NAME, path, f"cannot read the label file (truncated or not a .npy file: {exc})") from None
    except Exception as exc:  # unpickling can raise anything (missing module, bad opcode, ...)
        raise layout_error(NAME, path, f"cannot unpickle the label file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise layout_error(NAME, path, f"expected a dict saved with np.save, got {type(data).__name__}")
    missing = [k for k in (*_NAME_KEYS, "cameras", "table") if k not in data]
    if missing:
        raise layout_error(NAME, path, f"label dict lacks key(s) {missing} (present: {sorted(map(str, data))})")
    cams, table = data["cameras"], data["table"]
    for label, arr, fields in (("cameras", cams, _CAMERA_FIELDS), ("table", table, _TABLE_FIELDS)):
        names = getattr(getattr(arr, "dtype", None), "names", None)
        if names is None:
            raise layout_error(NAME, path, f"{label!r} must be a structured array with fields {list(fields)}")
        absent = [f for f in fields if f not in names]
        if absent:
            raise layout_error(NAME, path, f"{label!r} lacks field(s) {absent} (has {list(names)})")
    arrays = {f"cameras_{f}": np.asarray(cams[f]) for f in _CAMERA_FIELDS}
    arrays.update({f"table_{f}": np.asarray(table[f]) for f in _TABLE_FIELDS})
    names = {k: [str(x) for x in data[k]] for k in _NAME_KEYS}
    return _validate(names, arrays, path, "pickle")


def _load_converted(folder: Path) -> H36MLabels:
    meta_path = folder / "labels.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise layout_error(NAME, meta_path, "labels.json of the converted label folder not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise layout_error(NAME, meta_path, f"truncated or not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CONVERTED_FORMAT:
        raise layout_error(NAME, meta_path, f"not a {CONVERTED_FORMAT!r} file")
    if meta.get("version") != CONVERTED_VERSION:
        raise layout_error(NAME, meta_path, f"unsupported version {meta.get('version')} (reads {CONVERTED_VERSION})")
    missing = [k for k in _NAME_KEYS if not isinstance(meta.get(k), list)]
    if missing:
        raise layout_error(NAME, meta_path, f"missing list field(s) {missing}")
    arrays = {}
    for key in [f"cameras_{f}" for f in _CAMERA_FIELDS] + [f"table_{f}" for f in _TABLE_FIELDS]:
        p = folder / f"{key}.npy"
        try:
            arrays[key] = np.load(p, allow_pickle=False)
        except FileNotFoundError:
            raise layout_error(NAME, p, "array of the converted label folder not found") from None
        except (OSError, ValueError, EOFError) as exc:
            raise layout_error(NAME, p, f"truncated or not a plain .npy array ({exc})") from None
    return _validate({k: [str(x) for x in meta[k]] for k in _NAME_KEYS}, arrays, folder, "converted")


def _validate(names: dict[str, list[str]], a: dict[str, np.ndarray], path: Path,
              kind: Literal["converted", "pickle"]) -> H36MLabels:
    """Check shapes, index ranges, finiteness and units; the error names ``path`` and the field."""
    S, C = len(names["subject_names"]), len(names["camera_names"])
    n_actions = len(names["action_names"])
    if S == 0 or C == 0 or n_actions == 0:
        raise layout_error(NAME, path, "subject_names, camera_names and action_names must not be empty")
    expect = {"cameras_R": (S, C, 3, 3), "cameras_K": (S, C, 3, 3), "cameras_dist": (S, C, 5)}
    for key, shape in expect.items():
        if a[key].shape != shape:
            raise layout_error(NAME, path, f"cameras field {key[8:]!r}: expected shape {shape}, got {a[key].shape}")
    t = a["cameras_t"]
    if t.shape not in ((S, C, 3, 1), (S, C, 3)):
        raise layout_error(NAME, path, f"cameras field 't': expected shape {(S, C, 3, 1)}, got {t.shape}")
    n = a["table_keypoints"].shape[0] if a["table_keypoints"].ndim else -1
    if a["table_keypoints"].shape != (n, 17, 3) or n < 0:
        raise layout_error(NAME, path, f"table field 'keypoints': expected shape (N, 17, 3), "
                                       f"got {a['table_keypoints'].shape}")
    if a["table_bbox_by_camera_tlbr"].shape != (n, C, 4):
        raise layout_error(NAME, path, f"table field 'bbox_by_camera_tlbr': expected shape {(n, C, 4)}, "
                                       f"got {a['table_bbox_by_camera_tlbr'].shape}")
    for key, limit in (("table_subject_idx", S), ("table_action_idx", n_actions), ("table_frame_idx", None)):
        arr = a[key]
        if arr.shape != (n,) or arr.dtype.kind not in "iu":
            raise layout_error(NAME, path, f"table field {key[6:]!r}: expected ({n},) integers, "
                                           f"got {arr.dtype} {arr.shape}")
        if n and (arr.min() < 0 or (limit is not None and arr.max() >= limit)):
            raise layout_error(NAME, path, f"table field {key[6:]!r}: values outside 0..{(limit or 0) - 1}")
    for key in ("cameras_R", "cameras_t", "cameras_K", "cameras_dist", "table_keypoints"):
        if a[key].dtype.kind not in "fiu" or not np.all(np.isfinite(a[key])):
            raise layout_error(NAME, path, f"field {key.replace('_', ' ', 1)!r} is not finite numbers")
    keypoints = a["table_keypoints"].astype(np.float32)
    if n:
        sample = keypoints[:: max(1, n // 2000)]
        why = units_problem(median_pose_extent(sample), "mm")
        if why:
            raise layout_error(NAME, path, f"table field 'keypoints': {why}")
    t3 = t.reshape(S, C, 3).astype(np.float64)
    centres = -np.einsum("scji,scj->sci", a["cameras_R"].astype(np.float64), t3)
    distance = float(np.median(np.linalg.norm(centres, axis=-1)))
    if not 300.0 <= distance <= 100000.0:
        raise layout_error(NAME, path, f"cameras field 't': cameras are a median {distance:.3g} units from the "
                                       "origin; expected millimetres (a few thousand)")
    return H36MLabels(
        subject_names=names["subject_names"], camera_names=names["camera_names"],
        action_names=names["action_names"], R=a["cameras_R"].astype(np.float64), t=t3,
        K=a["cameras_K"].astype(np.float64), dist=a["cameras_dist"].astype(np.float64),
        subject_idx=a["table_subject_idx"].astype(np.int64), action_idx=a["table_action_idx"].astype(np.int64),
        frame_idx=a["table_frame_idx"].astype(np.int64), keypoints=keypoints,
        bbox_tlbr=a["table_bbox_by_camera_tlbr"].astype(np.int64), path=path, kind=kind,
    )


def convert_labels(source: str | Path, out: str | Path | None = None, *, trust_pickle: bool = False,
                   overwrite: bool = False) -> Path:
    """Convert the pickled label ``.npy`` once into a pickle-free folder and return its path.

    The folder (default: ``human36m-multiview-labels-GTbboxes/`` beside ``source``) holds
    ``labels.json`` (names, format, version, source file) and one plain ``.npy`` per field,
    all readable with ``allow_pickle=False``. It is written to a temporary folder and moved
    into place only when complete. ``trust_pickle`` must be True: converting reads the pickle.
    """
    source = Path(source)
    if not source.is_file():
        raise layout_error(NAME, source, "label file not found")
    labels = _load_pickled(source, trust_pickle)
    target = Path(out) if out is not None else source.parent / CONVERTED_DIR
    if target.exists() and not overwrite:
        raise InputError(f"{target}: already exists; pass overwrite=True (--force) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        meta = {"format": CONVERTED_FORMAT, "version": CONVERTED_VERSION, "source_file": source.name,
                "subject_names": labels.subject_names, "camera_names": labels.camera_names,
                "action_names": labels.action_names, "units": "mm",
                "note": "converted from the learnable-triangulation label file; read with allow_pickle=False"}
        arrays = {
            "cameras_R": labels.R.astype(np.float32), "cameras_t": labels.t[..., None].astype(np.float32),
            "cameras_K": labels.K.astype(np.float32), "cameras_dist": labels.dist.astype(np.float32),
            "table_subject_idx": labels.subject_idx.astype(np.int8),
            "table_action_idx": labels.action_idx.astype(np.int8),
            "table_frame_idx": labels.frame_idx.astype(np.int32),
            "table_keypoints": labels.keypoints.astype(np.float32),
            "table_bbox_by_camera_tlbr": labels.bbox_tlbr.astype(np.int16),
        }
        for key, arr in arrays.items():
            np.save(tmp / f"{key}.npy", arr, allow_pickle=False)
        (tmp / "labels.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _load_converted(tmp)  # refuse to leave behind what we could not read back
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# ----------------------------------------------------------------------------- boxes
def tlbr_to_ltrb(box: Sequence[int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) → (left, top, right, bottom)."""
    top, left, bottom, right = (int(b) for b in box)
    return left, top, right, bottom


def scale_bbox(box: Sequence[int], scale: float) -> tuple[int, int, int, int]:
    """Learnable triangulation's ``scale_bbox``: scale an LTRB box about its integer centre."""
    left, top, right, bottom = (int(b) for b in box)
    width, height = right - left, bottom - top
    x_center, y_center = (right + left) // 2, (bottom + top) // 2
    new_width, new_height = int(scale * width), int(scale * height)
    new_left = x_center - new_width // 2
    new_top = y_center - new_height // 2
    return new_left, new_top, new_left + new_width, new_top + new_height


def subjects_of_split(split: str) -> tuple[str, ...]:
    """``train`` → S1 S5 S6 S7 S8; ``test`` → S9 S11; ``all``; or explicit names ``"S9+S11"``."""
    if split == "train":
        return TRAIN_SUBJECTS
    if split == "test":
        return TEST_SUBJECTS
    if split == "all":
        return TRAIN_SUBJECTS + TEST_SUBJECTS
    names = tuple(s for s in split.replace(",", "+").split("+") if s)
    if not names or not all(s.startswith("S") and s[1:].isdigit() for s in names):
        raise InputError(f"unknown Human3.6M split {split!r}; use train, test, all or subjects like 'S9+S11'")
    return names


def _select(meta: pd.DataFrame, subjects: Sequence[str], skip: Sequence[str], stride: int) -> np.ndarray:
    """Row mask: the split's subjects, minus skipped sequences (exact ``seq`` or ``S/seq``), strided."""
    keep = meta["subject"].isin(list(subjects)).to_numpy().copy()
    if skip:
        full = meta["subject"] + "/" + meta["sequence"]
        keep &= ~(meta["sequence"].isin(list(skip)) | full.isin(list(skip))).to_numpy()
    if stride > 1:
        rank = meta[keep].sort_values(["subject", "sequence", "frame"], kind="stable").groupby(
            ["subject", "sequence"], sort=False).cumcount()
        strided = np.zeros(len(meta), dtype=bool)
        strided[rank.index.to_numpy()] = (rank.to_numpy() % stride) == 0
        keep &= strided
    return keep


# ----------------------------------------------------------------------------- dataset
class Human36MMultiView:
    """Multi-view samples of Human3.6M (a map-style dataset: ``len`` and ``[i]``).

    Each item is a :class:`~poseboard.samples.MultiViewSample` with the crops of the chosen
    cameras, so a ``torch.utils.data.DataLoader`` with poseboard's collate function serves it
    like the synthetic datasets.

    Args:
        root: dataset folder (default ``$POSEBOARD_H36M_ROOT``).
        split: ``train`` (S1 S5 S6 S7 S8), ``test`` (S9 S11), ``all`` or ``"S9+S11"``.
        labels_path: explicit label file or converted folder.
        image_root: folder holding ``<S>/<Action-trial>/...`` (default ``ROOT/processed``).
        trust_pickle: allow unpickling the original label file.
        image_size: (width, height) of the crops (learnable triangulation: 384 × 384).
        bbox_scale: box scale about its centre (1.0 as the shipped configs).
        cameras: camera indices (label-file order) to return; None = all.
        frame_stride: keep every n-th frame of each sequence.
        skip_sequences: sequences to drop (``"Greeting-2"`` or ``"S9/Greeting-2"``, exact).
        image_folder: ``"auto"`` (undistorted, else distorted with a warning) or a folder name.
        load_images: False gives zero images (cameras and joints only; fast).
        missing_views: ``"mark"`` keeps a zero-box view with ``view_valid=False`` and a zero
            image; ``"drop"`` returns only the valid views (S11 Directions-2 then has 3).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "test",
        *,
        labels_path: str | Path | None = None,
        image_root: str | Path | None = None,
        trust_pickle: bool = False,
        image_size: tuple[int, int] = (384, 384),
        bbox_scale: float = 1.0,
        cameras: Sequence[int] | None = None,
        frame_stride: int = 1,
        skip_sequences: Sequence[str] = (),
        image_folder: Literal["auto", "imageSequence-undistorted", "imageSequence"] = "auto",
        load_images: bool = True,
        missing_views: Literal["mark", "drop"] = "mark",
    ) -> None:
        if missing_views not in ("mark", "drop"):
            raise ValueError(f"missing_views must be 'mark' or 'drop', got {missing_views!r}")
        if image_folder not in ("auto", UNDISTORTED, DISTORTED):
            raise ValueError(f"image_folder must be 'auto', {UNDISTORTED!r} or {DISTORTED!r}, got {image_folder!r}")
        if frame_stride < 1 or bbox_scale <= 0:
            raise ValueError("frame_stride must be >= 1 and bbox_scale > 0")
        self.labels = load_labels(root, labels_path=labels_path, trust_pickle=trust_pickle)
        base = Path(root) if root is not None else (
            self.labels.path.parent.parent if self.labels.path.parent.name == "extra" else self.labels.path.parent)
        self.image_root = Path(image_root) if image_root is not None else base / "processed"
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.bbox_scale = float(bbox_scale)
        n_cams = len(self.labels.camera_names)
        self.camera_indices = list(range(n_cams)) if cameras is None else [int(c) for c in cameras]
        if not self.camera_indices or min(self.camera_indices) < 0 or max(self.camera_indices) >= n_cams:
            raise InputError(f"cameras {cameras} out of range 0..{n_cams - 1} ({self.labels.camera_names})")
        self.image_folder = image_folder
        self.load_images = load_images
        self.missing_views = missing_views
        full = self.labels.meta()
        known = set(self.labels.subject_names)
        self.subjects = tuple(s for s in subjects_of_split(split) if s in known)
        self.split = split
        self.meta = full[_select(full, self.subjects, skip_sequences, frame_stride)].reset_index(drop=True)
        self._folder_cache: dict[tuple[str, str], str] = {}
        self._size_cache: dict[tuple[str, str, str], tuple[int, int]] = {}
        self.notes: list[str] = []

    @classmethod
    def from_protocol(cls, protocol: Any, root: str | Path | None = None, **kwargs: Any) -> Human36MMultiView:
        """The samples a protocol scores: its split, cameras (all for a sweep), stride and skip list."""
        cams = None if protocol.camera_sweep is not None else protocol.cameras
        return cls(root, protocol.split, cameras=cams, frame_stride=protocol.frame_stride,
                   skip_sequences=protocol.skip_sequences, **kwargs)

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def joints_3d(self) -> np.ndarray:
        """(N, 17, 3) float64 ground truth of every sample, in dataset order, world mm
        (H36M17 joints; what ``[i].joints_3d`` holds, read from the label table without
        loading any image)."""
        return self.labels.keypoints[self.meta["row"].to_numpy()].astype(np.float64)

    # -- paths
    def _folder(self, subject: str, sequence: str) -> str:
        key = (subject, sequence)
        if key in self._folder_cache:
            return self._folder_cache[key]
        if self.image_folder != "auto":
            chosen = self.image_folder
        elif (self.image_root / subject / sequence / UNDISTORTED).is_dir():
            chosen = UNDISTORTED
        elif (self.image_root / subject / sequence / DISTORTED).is_dir():
            chosen = DISTORTED
            note = (f"{self.image_root / subject / sequence}: {UNDISTORTED}/ is absent, using the distorted "
                    f"{DISTORTED}/ images; their cameras keep the lens distortion")
            self.notes.append(note)
            warnings.warn(note, stacklevel=3)
        else:
            raise layout_error(NAME, self.image_root / subject / sequence / UNDISTORTED,
                               f"image folder not found (nor {DISTORTED}/); set image_root if the images "
                               "live elsewhere")
        self._folder_cache[key] = chosen
        return chosen

    def image_path(self, subject: str, sequence: str, camera: str, frame_idx: int) -> Path:
        """``<image_root>/<S>/<Action-trial>/<folder>/<camera>/img_%06d.jpg`` (frame_idx + 1)."""
        folder = self._folder(subject, sequence)
        return self.image_root / subject / sequence / folder / camera / f"img_{int(frame_idx) + 1:06d}.jpg"

    # -- samples
    def __getitem__(self, index: int) -> MultiViewSample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        row = self.meta.iloc[index]
        r = int(row["row"])
        lab = self.labels
        s = int(lab.subject_idx[r])
        subject, sequence, frame = str(row["subject"]), str(row["sequence"]), int(row["frame"])
        joints = lab.keypoints[r].astype(np.float64)
        out_w, out_h = self.image_size
        images, cams, boxes, j2d, vis, valid = [], [], [], [], [], []
        distorted = self.load_images and self._folder(subject, sequence) == DISTORTED
        for c in self.camera_indices:
            cam_name = lab.camera_names[c]
            tlbr = lab.bbox_tlbr[r, c]
            missing = not np.any(tlbr)
            if missing and self.missing_views == "drop":
                continue
            image = None
            size = None
            if self.load_images and not missing:
                path = self.image_path(subject, sequence, cam_name, frame)
                image = load_rgb(path, NAME)
                size = (image.width, image.height)
            full = lab.camera(s, c, size or self._nominal_size(subject, sequence, cam_name, frame))
            if not distorted:
                full = replace(full, dist=np.zeros(5))  # images are pre-undistorted: pinhole projection
            if missing:
                box = (0, 0, 0, 0)
                cam = full.resize(self.image_size)
                pixels = np.zeros((3, out_h, out_w), dtype=np.uint8)
            else:
                box = scale_bbox(tlbr_to_ltrb(tlbr), self.bbox_scale)
                if box[2] <= box[0] or box[3] <= box[1]:
                    raise layout_error(NAME, lab.path, f"row {r} ({row['sample_id']}), camera {cam_name}: "
                                                       f"degenerate box {tuple(int(b) for b in tlbr)} (TLBR)")
                cam = full.crop_and_resize(box, self.image_size)
                pixels = (crop_and_resize_image(image, box, self.image_size) if image is not None
                          else np.zeros((3, out_h, out_w), dtype=np.uint8))
            uv = cam.project(joints, distort=distorted)
            inside = (np.isfinite(uv).all(-1) & (uv[:, 0] >= 0) & (uv[:, 0] < out_w)
                      & (uv[:, 1] >= 0) & (uv[:, 1] < out_h))
            images.append(pixels)
            cams.append(cam)
            boxes.append(box)
            j2d.append(uv)
            vis.append(inside & (not missing))
            valid.append(not missing)
        if not cams:
            raise InputError(f"sample {row['sample_id']}: every chosen view is missing")
        meta = SampleMeta(sample_id=str(row["sample_id"]), subject=subject, action=str(row["action"]),
                          sequence=sequence, frame=frame, scene=f"{subject}/{sequence}")
        return MultiViewSample(images=np.stack(images), cameras=cams, boxes=np.asarray(boxes, dtype=np.float64),
                               joints_3d=joints, joints_2d=np.stack(j2d), visibility=np.stack(vis), meta=meta,
                               view_valid=np.asarray(valid, dtype=bool))

    def _nominal_size(self, subject: str, sequence: str, camera: str, frame: int) -> tuple[int, int]:
        key = (subject, sequence, camera)
        if key not in self._size_cache:
            size = None
            folder = self.image_root / subject / sequence
            for name in (UNDISTORTED, DISTORTED):
                size = image_size_of(folder / name / camera / f"img_{frame + 1:06d}.jpg")
                if size:
                    break
            self._size_cache[key] = size or NOMINAL_IMAGE_SIZE.get(camera, (1000, 1000))
        return self._size_cache[key]


# ----------------------------------------------------------------------------- ground truth
def reference_cameras(labels: H36MLabels, rows: np.ndarray, cameras: Sequence[int] | None) -> np.ndarray:
    """(N,) index of each row's reference camera: the first of ``cameras`` (all when None)
    whose view is present (non-zero box) — 54138969 except where it has no video (S11
    Directions-2), as learnable triangulation's collate keeps the first present views."""
    order = list(range(len(labels.camera_names))) if not cameras else [int(c) for c in cameras]
    if min(order) < 0 or max(order) >= len(labels.camera_names):
        raise InputError(f"cameras {order} out of range for {labels.camera_names}")
    present = labels.bbox_tlbr[rows][:, order].any(-1)  # (N, V)
    first = np.where(present.any(-1), present.argmax(-1), 0)
    return np.asarray(order)[first]


def load_ground_truth(path: str | Path | None, protocol: Any, *, trust_pickle: bool = False):
    """Ground truth of a ``human36m`` protocol (:class:`PoseGroundTruth`): the protocol split's
    rows of the label table, world mm, with the reference camera (the first of the protocol's
    cameras, per subject) for uncalibrated protocols. Skip list and stride are applied by the
    scorer (``select_frames``), not here, so every table row of the split is present. A root
    protocol (``human36m-root``) gets :func:`view_root_ground_truth` instead."""
    from poseboard.protocols.predictions import PoseGroundTruth

    root = ground_truth_root(NAME, path)
    labels = load_labels(root, trust_pickle=trust_pickle)
    full = labels.meta()
    known = set(labels.subject_names)
    subjects = [s for s in subjects_of_split(protocol.split) if s in known]
    if not subjects:
        raise layout_error(NAME, labels.path, f"no subject of split {protocol.split!r} in the label table "
                                              f"(subjects: {labels.subject_names})")
    meta = full[full["subject"].isin(subjects)].reset_index(drop=True)
    rows = meta["row"].to_numpy()
    if protocol.task == "root_localisation":
        return view_root_ground_truth(labels, meta, protocol.cameras)
    s_idx = labels.subject_idx[rows]
    ref = reference_cameras(labels, rows, protocol.cameras)
    return PoseGroundTruth(
        meta=meta.drop(columns=["row"]), joints_3d=labels.keypoints[rows].astype(np.float64),
        reference_R=labels.R[s_idx, ref], reference_t=labels.t[s_idx, ref],
        source="real", data_hash=labels.content_hash(rows),
    )


def view_root_ground_truth(labels: H36MLabels, meta: pd.DataFrame, cameras: Sequence[int] | None):
    """Root ground truth (:class:`RootGroundTruth`) of Human3.6M with every view alone
    (RootNet's Human3.6M test): one single-person image per present view (non-zero box) of
    ``cameras`` (label-file indices; None: all) of every row of ``meta`` (rows of
    :meth:`H36MLabels.meta`), frame by frame, cameras in the given order. Its id is
    ``<frame id>/view<camera index>``
    (:func:`~poseboard.datasets.ground_truth.view_sample_id`), its one person
    (``person_index`` 0) has the pelvis (joint 6) in that camera's frame, ``R X + t`` (3,) mm.
    S11 Directions-2 has no video from 54138969: that view is not an image here."""
    from poseboard.datasets.ground_truth import view_sample_id
    from poseboard.protocols.predictions import RootGroundTruth

    order = list(range(len(labels.camera_names))) if cameras is None else [int(c) for c in cameras]
    if not order or min(order) < 0 or max(order) >= len(labels.camera_names):
        raise InputError(f"cameras {list(order)} out of range for {labels.camera_names}")
    rows = meta["row"].to_numpy(dtype=np.int64)
    present = labels.bbox_tlbr[rows][:, order].any(-1) if len(rows) else np.zeros((0, len(order)), bool)
    index, which = np.nonzero(present)  # row-major: frame by frame, cameras in the given order
    cams = np.asarray(order, dtype=np.int64)[which]
    r, s = rows[index], labels.subject_idx[rows[index]]
    pelvis = labels.keypoints[r, 6].astype(np.float64)  # (P, 3) world mm
    # float64: the calibration is stored as float32; x_cam = R X + t
    roots = np.einsum("pij,pj->pi", labels.R[s, cams].astype(np.float64), pelvis) + labels.t[s, cams]
    sub = meta.iloc[index].reset_index(drop=True)
    people = pd.DataFrame({
        "sample_id": [view_sample_id(i, c) for i, c in zip(sub["sample_id"], cams, strict=True)],
        "person_index": np.zeros(len(sub), dtype=np.int64), "subject": sub["subject"].astype(str),
        "action": sub["action"].astype(str), "sequence": sub["sequence"].astype(str),
        "frame": sub["frame"].astype(np.int64), "valid": np.ones(len(sub), dtype=bool)})
    return RootGroundTruth(
        people=people, roots=roots.reshape(-1, 3).astype(np.float64), source="real",
        data_hash=labels.content_hash(rows),
        images=people[["sample_id", "subject", "action", "sequence", "frame"]].copy(),
    )


# ----------------------------------------------------------------------------- layout check
def check_layout(root: Path, report: LayoutReport, *, trust_pickle: bool = False,
                 image_root: str | Path | None = None, labels_path: str | Path | None = None) -> None:
    """Fill ``report``: label file (converted or pickled), table, splits, image folders."""
    converted, pickled = (Path(labels_path), None) if labels_path else find_labels(root)
    if converted is not None and not converted.is_dir():
        converted, pickled = None, converted
    if converted is None and pickled is None:
        report.problem(f"{root / 'extra' / LABELS_FILE}: label file not found (nor {CONVERTED_DIR}/)")
        return
    if converted is not None:
        report.found.append(f"pickle-free labels {converted}")
        labels = _load_converted(converted)
    else:
        assert pickled is not None
        report.found.append(f"pickled labels {pickled}")
        if not trust_pickle:
            report.problem(_pickle_message(pickled))
            return
        report.notes.append(f"loaded the pickled labels (--trust-pickle); convert them once with "
                            f"`poseboard datasets convert-h36m {pickled} --trust-pickle`")
        labels = _load_pickled(pickled, True)
    meta = labels.meta()
    report.counts["rows"] = len(meta)
    for split in ("train", "test"):
        report.counts[f"{split} frames"] = int(meta["subject"].isin(subjects_of_split(split)).sum())
    report.counts["cameras"] = len(labels.camera_names)
    missing_views = np.argwhere(~labels.bbox_tlbr.any(-1))
    report.counts["missing views (zero boxes)"] = len(missing_views)
    for (r, c) in missing_views[:5]:
        report.notes.append(f"missing view: {meta.sample_id[r]} camera {labels.camera_names[c]}")
    damaged = sorted(set(DAMAGED_SEQUENCES) & set(meta["subject"] + "/" + meta["sequence"]))
    report.notes.append(f"damaged S9 scenes present (skipped by human36m-absolute): {damaged or 'none'}")
    absent = sorted(set(TRAIN_SUBJECTS + TEST_SUBJECTS) - set(meta["subject"]))
    if absent:
        report.notes.append(f"subjects without rows: {absent}")
    img_root = Path(image_root) if image_root is not None else root / "processed"
    if not img_root.is_dir():
        report.problem(f"{img_root}: image folder not found (expected processed/<S>/<Action-trial>/{UNDISTORTED}/)")
        return
    first = meta.groupby(["subject", "sequence"], sort=True).first()
    distorted_only, missing_images = [], []
    for (subject, sequence), row in first.iterrows():
        seq_dir = img_root / subject / sequence
        folder = UNDISTORTED if (seq_dir / UNDISTORTED).is_dir() else DISTORTED
        if folder == DISTORTED:
            distorted_only.append(f"{subject}/{sequence}")
        r = int(row["row"])
        for c, cam in enumerate(labels.camera_names):
            if not labels.bbox_tlbr[r, c].any():
                continue
            p = seq_dir / folder / cam / f"img_{int(row['frame']) + 1:06d}.jpg"
            if not p.is_file():
                missing_images.append(str(p))
    report.counts["sequences"] = len(first)
    if distorted_only:
        report.notes.append(f"{len(distorted_only)} sequence(s) have only distorted {DISTORTED}/ images, "
                            f"e.g. {distorted_only[:3]}")
    if missing_images:
        report.problem(f"{len(missing_images)} first-frame image(s) missing, e.g. {missing_images[:3]}")
    else:
        report.found.append(f"images under {img_root} (first frame of every sequence and camera)")


__all__ = [
    "CAMERA_NAMES", "DAMAGED_SEQUENCES", "TEST_SUBJECTS", "TRAIN_SUBJECTS", "DatasetLayoutError", "H36MLabels",
    "Human36MMultiView", "PickleNotTrustedError", "check_layout", "convert_labels", "load_ground_truth",
    "load_labels", "scale_bbox", "subjects_of_split", "tlbr_to_ltrb",
]
