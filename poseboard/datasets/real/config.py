"""Real datasets: where they live, what layout they must have, and the helpers their loaders share.

Each real dataset is enabled by a path: an argument (``--ground-truth``, ``check NAME PATH``),
a :class:`RealDataConfig` block embedded in ``params.yaml``, or an environment variable:

=============  ==========================  ===============================================
name           environment variable        loader
=============  ==========================  ===============================================
``human36m``   ``POSEBOARD_H36M_ROOT``     :mod:`poseboard.datasets.real.human36m`
``panoptic``   ``POSEBOARD_PANOPTIC_ROOT`` :mod:`poseboard.datasets.real.panoptic`
``mupots``     ``POSEBOARD_MUPOTS_ROOT``   :mod:`poseboard.datasets.real.mupots`
=============  ==========================  ===============================================

When no path is set the pipeline uses the synthetic world (and its report says so). When a
path is set but wrong, every error names the missing or broken file and prints the layout
the loader expects (:data:`EXPECTED_LAYOUT`). ``check_layout(name, path)`` inspects a folder
without raising and returns a :class:`LayoutReport` (the ``poseboard datasets check`` command).

This module imports no heavy library (no torch, no PIL at import time).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from poseboard.errors import InputError

DatasetName = Literal["human36m", "panoptic", "mupots"]
DATASET_NAMES: tuple[str, ...] = ("human36m", "panoptic", "mupots")

#: Environment variable naming each dataset's root folder.
ENV_VARS: dict[str, str] = {
    "human36m": "POSEBOARD_H36M_ROOT",
    "panoptic": "POSEBOARD_PANOPTIC_ROOT",
    "mupots": "POSEBOARD_MUPOTS_ROOT",
}

#: The generated dataset each real one replaces (``real_data`` swaps it in for its protocols).
STAND_INS: dict[str, str] = {
    "human36m": "synth-h36m",
    "panoptic": "synth-panoptic",
    "mupots": "synth-mupots",
}

#: The folder layout each loader expects (printed in every layout error).
EXPECTED_LAYOUT: dict[str, str] = {
    "human36m": """\
  ROOT/                                   (POSEBOARD_H36M_ROOT; learnable triangulation's data/human36m)
    extra/human36m-multiview-labels-GTbboxes.npy      label file (pickled: needs --trust-pickle), or
    extra/human36m-multiview-labels-GTbboxes/         its pickle-free copy (poseboard datasets convert-h36m):
        labels.json, cameras_{R,t,K,dist}.npy,
        table_{subject_idx,action_idx,frame_idx,keypoints,bbox_by_camera_tlbr}.npy
    processed/<S>/<Action-trial>/imageSequence-undistorted/<camera>/img_%06d.jpg   (frame_idx + 1;
        imageSequence/ is accepted when the undistorted folder is absent)""",
    "panoptic": """\
  ROOT/                                   (POSEBOARD_PANOPTIC_ROOT; one folder per panoptic-toolbox sequence)
    <sequence>/calibration_<sequence>.json                 cameras: name, type, resolution, K, distCoef, R, t (cm)
    <sequence>/hdPose3d_stage1_coco19/body3DScene_<frame:08d>.json   bodies: id, joints19 (x, y, z, conf) x 19, cm
    <sequence>/hdImgs/<panel>_<node>/<panel>_<node>_<frame:08d>.jpg
    splits.json                           optional: {"train": [sequences], "test": [sequences]}
  (ROOT may also be a single sequence folder)""",
    "mupots": """\
  ROOT/                                   (POSEBOARD_MUPOTS_ROOT; RootNet's data/MuPoTS/data)
    MuPoTS-3D.json                        COCO-style: images (id, file_name, width, height, intrinsic
                                          [fx, fy, cx, cy]); annotations (image_id, bbox [x, y, w, h],
                                          keypoints_cam (17, 3) mm pelvis = 14, keypoints_img, keypoints_vis, is_valid)
    MultiPersonTestSet/TS<k>/img_%06d.jpg images, named by file_name
    bbox_mupots_output.json               optional detections [{image_id, bbox, score}] (also ../bbox/)""",
}

#: Where each dataset comes from (and its terms); printed by ``poseboard datasets check``.
SOURCES: dict[str, str] = {
    "human36m": "http://vision.imar.ro/human3.6m (registration; academic, non-commercial licence); labels "
                "prepared with learnable-triangulation-pytorch's human36m_preprocessing scripts",
    "panoptic": "http://domedb.perception.cs.cmu.edu with github.com/CMU-Perceptual-Computing-Lab/panoptic-toolbox "
                "(research use, non-commercial; see the site's terms)",
    "mupots": "https://vcai.mpi-inf.mpg.de/projects/SingleShotMultiPerson (MuPoTS-3D, research licence) "
              "with MuPoTS-3D.json and DetectNet boxes from github.com/mks0601/3DMPPE_ROOTNET_RELEASE",
}


class DatasetLayoutError(InputError):
    """A real dataset folder lacks a file, or holds one that does not parse or validate."""


class PickleNotTrustedError(DatasetLayoutError):
    """A pickled file would have to be loaded, and the user has not said they trust it."""


def layout_error(name: str, path: str | Path, problem: str) -> DatasetLayoutError:
    """An error naming the file (or folder), the problem, and the layout ``name`` expects."""
    return DatasetLayoutError(f"{path}: {problem}\nexpected {name} layout:\n{EXPECTED_LAYOUT[name]}")


# ----------------------------------------------------------------------------- configuration
class RealDataConfig(BaseModel):
    """The real-data block of ``params.yaml``: a path enables a dataset; ``None`` leaves the
    synthetic world in its place (unless the dataset's environment variable is set).

    Example:
        >>> cfg = RealDataConfig(human36m="/data/human36m")
        >>> cfg.path("human36m").as_posix(), cfg.source("mupots") in ("real", "synthetic")
        ('/data/human36m', True)
    """

    model_config = ConfigDict(extra="forbid")

    human36m: Path | None = Field(default=None, description="learnable triangulation's data/human36m folder")
    panoptic: Path | None = Field(default=None, description="folder of panoptic-toolbox sequences")
    mupots: Path | None = Field(default=None, description="RootNet's data/MuPoTS/data folder")
    trust_pickle: bool = Field(
        default=False,
        description="allow unpickling the Human3.6M label .npy (runs code from the file); prefer convert-h36m",
    )
    h36m_image_root: Path | None = Field(default=None, description="image folder, default ROOT/processed")
    mupots_detections: Path | None = Field(default=None, description="DetectNet boxes, default found under ROOT")
    use_env: bool = Field(default=True, description="fall back to POSEBOARD_*_ROOT when a path is not set")

    def path(self, name: str) -> Path | None:
        """The root of dataset ``name``: the configured path, else its environment variable, else None."""
        _check_name(name)
        configured = getattr(self, name)
        if configured is not None:
            return Path(configured).expanduser()
        if self.use_env:
            env = os.environ.get(ENV_VARS[name], "").strip()
            if env:
                return Path(env).expanduser()
        return None

    def source(self, name: str) -> Literal["real", "synthetic"]:
        """``"real"`` when a path is set for ``name``; ``"synthetic"`` otherwise."""
        return "real" if self.path(name) is not None else "synthetic"

    def describe(self) -> list[str]:
        """One line per dataset for a report: which data the pipeline uses, and from where."""
        lines = []
        for name in DATASET_NAMES:
            p = self.path(name)
            if p is None:
                lines.append(f"{name}: no path set ({ENV_VARS[name]} unset); the synthetic world stands in")
            else:
                lines.append(f"{name}: real data at {p}")
        return lines


def _check_name(name: str) -> None:
    if name not in DATASET_NAMES:
        raise InputError(f"unknown real dataset {name!r}; choose one of {list(DATASET_NAMES)}")


def resolve_root(name: str, path: str | Path | None = None) -> Path:
    """The root folder of dataset ``name``: ``path`` if given, else ``$POSEBOARD_*_ROOT``.

    Raises :class:`DatasetLayoutError` when neither is set or the folder does not exist,
    naming the folder and the expected layout.
    """
    _check_name(name)
    if path is None:
        env = os.environ.get(ENV_VARS[name], "").strip()
        if not env:
            raise DatasetLayoutError(
                f"no {name} folder given and {ENV_VARS[name]} is not set; pass the path or set the variable.\n"
                f"expected {name} layout:\n{EXPECTED_LAYOUT[name]}"
            )
        path = env
    root = Path(path).expanduser()
    if not root.exists():
        raise layout_error(name, root, "folder not found")
    if not root.is_dir():
        raise layout_error(name, root, "is a file, not the dataset folder")
    return root


def ground_truth_root(name: str, path: str | Path | None) -> Path:
    """The folder a ground-truth loader reads: ``path`` when it exists, else ``$POSEBOARD_*_ROOT``.

    ``poseboard evaluate`` hands ``DATA_DIR/DATASET/SPLIT`` when ``--ground-truth`` is not
    given; for a real dataset that default rarely exists, so the environment variable is
    used instead. A path that exists is always used as given (and must then be right).
    """
    if path is not None and Path(path).exists():
        return resolve_root(name, path)
    env = os.environ.get(ENV_VARS[name], "").strip()
    if env:
        return resolve_root(name, env)
    if path is None:
        return resolve_root(name, None)
    raise layout_error(name, path, f"folder not found (and {ENV_VARS[name]} is not set)")


# ----------------------------------------------------------------------------- layout reports
@dataclass
class LayoutReport:
    """What ``check_layout`` found in a dataset folder (never raises for a bad layout)."""

    name: str
    root: Path | None
    ok: bool = True
    found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)

    def format(self) -> str:
        lines = [f"{self.name}: {self.root if self.root is not None else '(no folder)'}",
                 f"  status: {'OK' if self.ok else 'PROBLEMS'}"]
        lines += [f"  found: {f}" for f in self.found]
        lines += [f"  {k}: {v}" for k, v in self.counts.items()]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  problem: {p}" for p in self.problems]
        if not self.ok:
            lines.append(f"expected {self.name} layout:\n{EXPECTED_LAYOUT[self.name]}")
        lines.append(f"source: {SOURCES[self.name]}")
        return "\n".join(lines)


_CHECKERS = {
    "human36m": "poseboard.datasets.real.human36m:check_layout",
    "panoptic": "poseboard.datasets.real.panoptic:check_layout",
    "mupots": "poseboard.datasets.real.mupots:check_layout",
}


def check_layout(name: str, path: str | Path | None = None, **options: Any) -> LayoutReport:
    """Inspect the folder of dataset ``name`` (``path``, else its environment variable).

    ``options`` go to the dataset's own checker (e.g. ``trust_pickle``, ``image_root``).
    Problems are collected in the report rather than raised; ``report.ok`` says whether
    the protocols can run on the folder.
    """
    _check_name(name)
    try:
        root = resolve_root(name, path)
    except DatasetLayoutError as exc:
        report = LayoutReport(name=name, root=Path(path) if path is not None else None)
        report.problem(str(exc).split("\nexpected", 1)[0])
        return report
    module_name, _, attr = _CHECKERS[name].partition(":")
    checker = getattr(importlib.import_module(module_name), attr)
    report = LayoutReport(name=name, root=root)
    try:
        checker(root, report, **options)
    except DatasetLayoutError as exc:
        report.problem(str(exc).split("\nexpected", 1)[0])
    return report


# ----------------------------------------------------------------------------- shared helpers
def read_json(path: Path, name: str, what: str = "file") -> Any:
    """Parse a JSON file; a missing, truncated or invalid file raises a layout error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise layout_error(name, path, f"{what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise layout_error(name, path, f"cannot read {what} ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "truncated" if exc.pos >= len(text.rstrip()) - 1 else "not valid JSON"
        raise layout_error(name, path, f"{what} is {hint} ({exc.msg} at line {exc.lineno}, column {exc.colno})") \
            from None


def require_keys(obj: Any, keys: Iterable[str], path: Path, name: str, where: str = "") -> None:
    """Raise a layout error naming the file and the missing keys of the JSON object ``obj``."""
    label = f"{where}: " if where else ""
    if not isinstance(obj, dict):
        raise layout_error(name, path, f"{label}expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise layout_error(name, path, f"{label}missing field(s) {missing} (present: {sorted(obj)})")


def as_array(value: Any, shape: tuple[int, ...], path: Path, name: str, where: str) -> np.ndarray:
    """``np.asarray(value, float64)`` checked against ``shape`` (-1 = any size), or a layout error."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise layout_error(name, path, f"{where}: not a numeric array") from None
    if arr.ndim != len(shape) or any(s != -1 and s != a for s, a in zip(shape, arr.shape, strict=True)):
        want = "(" + ", ".join("N" if s == -1 else str(s) for s in shape) + ")"
        raise layout_error(name, path, f"{where}: expected shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise layout_error(name, path, f"{where}: contains NaN or inf")
    return arr


def median_pose_extent(joints: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Median over poses of the diagonal of each pose's joint bounding box (the file's units).

    ``joints``: (P, J, 3); ``valid``: optional (P, J) mask of the joints to use. About 1700
    for a standing adult in mm, 170 in cm, 1.7 in metres.
    """
    x = np.asarray(joints, dtype=np.float64)
    mask = np.isfinite(x).all(-1) if valid is None else (np.asarray(valid, bool) & np.isfinite(x).all(-1))
    usable = mask.sum(-1) >= 2
    if not usable.any():
        return float("nan")
    lo = np.where(mask[..., None], x, np.inf).min(-2)[usable]
    hi = np.where(mask[..., None], x, -np.inf).max(-2)[usable]
    return float(np.median(np.linalg.norm(hi - lo, axis=-1)))


def units_problem(extent: float, expected: Literal["mm", "cm"]) -> str | None:
    """Why a median pose extent does not fit the ``expected`` unit, or None when it does."""
    if not np.isfinite(extent):
        return "no pose with two or more valid joints to judge the units"
    scale = {"mm": 1.0, "cm": 10.0}[expected]
    mm = extent * scale
    if 300.0 <= mm <= 4000.0:
        return None
    for unit, factor in (("metres", 1000.0), ("cm", 10.0), ("mm", 1.0)):
        if 300.0 <= extent * factor <= 4000.0 and unit != expected:
            return (f"keypoints look like {unit}, not {expected}: the median pose extent is {extent:.3g} "
                    f"(a person is about {1700 / scale:g} {expected})")
    return f"implausible keypoint scale for {expected}: the median pose extent is {extent:.3g}"


def hash_arrays(*parts: Any) -> str:
    """A short sha256 content hash of arrays and strings (the ``data_hash`` of a ground truth)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.dtype).encode())
            h.update(str(part.shape).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(str(part).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def load_rgb(path: Path, name: str) -> Any:
    """Open an image as an RGB ``PIL.Image``; a missing or unreadable one names the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise layout_error(name, path, "image not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise layout_error(name, path, f"unreadable image ({exc})") from None


def image_size_of(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image file from its header, or None when it is missing/unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return int(img.width), int(img.height)
    except (OSError, UnidentifiedImageError):
        return None


def crop_and_resize_image(image: Any, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Crop a PIL image by ``box = (left, top, right, bottom)`` (zero padding outside the image,
    as PIL's crop) and resize to ``size = (width, height)``; returns (3, H, W) uint8.

    Area averaging (PIL ``BOX``) when shrinking, as learnable triangulation's
    ``cv2.resize(..., INTER_AREA)``; bilinear when enlarging.
    """
    from PIL import Image

    crop = image.crop(tuple(int(b) for b in box))
    shrinking = size[0] < crop.width or size[1] < crop.height
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    out = crop.resize((int(size[0]), int(size[1])), resample)
    return np.ascontiguousarray(np.asarray(out, dtype=np.uint8).transpose(2, 0, 1))
