"""CMU Panoptic Studio in the panoptic-toolbox layout, mapped to poseboard's 17 joints.

Per sequence ``<seq>/`` (see :data:`poseboard.datasets.real.config.EXPECTED_LAYOUT`):

* ``calibration_<seq>.json``: ``{"cameras": [{"name": "00_03", "type": "hd", "resolution":
  [1920, 1080], "K": 3×3, "distCoef": 5, "R": 3×3, "t": 3×1 (cm)}, ...]}`` — world → camera,
  OpenCV model (the toolbox's ``projectPoints``). ``t`` is converted to mm; only ``hd``
  cameras are used (``vga`` and ``kinect-color`` are ignored).
* ``hdPose3d_stage1_coco19/body3DScene_<frame:08d>.json``: ``{"bodies": [{"id": 0, "joints19":
  [x, y, z, confidence] × 19}]}`` in cm; converted to mm.
* ``hdImgs/<panel>_<node>/<panel>_<node>_<frame:08d>.jpg``.

**World up.** The Panoptic world is Y-down (the floor near y = 0, people at negative y).
poseboard's worlds are Z-up, so by default (``z_up=True``) every point is rotated by
:data:`PANOPTIC_TO_ZUP` (x, y, z) → (x, z, −y) and the cameras with it (``R ← R Wᵀ``); no
metric depends on this (MPJPE is invariant to a rotation of the world), but the volumetric
method's augmentation rotates about world z, which must then be "up".

**Joints (COCO19 → Human3.6M 17).** Exact where the two skeletons name the same joint:
ankles, knees, hips, wrists, elbows, shoulders; the pelvis is Panoptic's ``BodyCenter``.
Approximated (Panoptic has no such marker):

* ``Thorax`` ← ``Neck`` (Panoptic's neck sits between the shoulders, where Human3.6M's thorax is);
* ``Spine`` ← midpoint of ``BodyCenter`` and ``Neck``;
* ``Neck/Nose`` ← ``Nose``;
* ``Head`` (top) ← ``H + 0.75 (H − Neck)`` with H the midpoint of the ears (else of the eyes,
  else the nose) — the head top lies about three quarters of the neck-to-ear distance above
  the ears on an average adult.

A derived joint is as confident as the least confident joint it is made from. Joints with
confidence below ``min_confidence`` (0.1, the toolbox's own threshold; −1 marks a joint
that was not reconstructed) are not visible; by default (``complete_only=True``) frames with
any such joint are left out of the samples and of the ground truth, because the metrics
average all 17 joints.

**Sequences.** Protocols use single-person sequences: a sequence whose frames have two or
more bodies in more than 1 % of frames is treated as multi-person and skipped; in the others
the frames with exactly one body are used. ``ROOT/splits.json`` (``{"train": [...], "test":
[...]}``) assigns sequences to splits; without it every single-person sequence is ``test``
(learnable triangulation's Panoptic split is not in its repository).

**Cameras.** Camera index i of a protocol is the i-th HD camera in the order
:data:`PREFERRED_CAMERAS` (the five HD views VoxelPose and MvP use), then the remaining HD
cameras by name, so ``cameras: [0, 1, 2, 3]`` means 00_03, 00_06, 00_12, 00_13.

**Images and crops.** There are no ground-truth boxes: the crop is the square around the
projected joints, scaled by ``bbox_scale`` (1.2). HD images are distorted; with
``undistort=True`` (default) the crop is resampled through the lens model, so the sample
cameras are pinhole (``dist = 0``) like Human3.6M's; otherwise they keep ``dist`` and
``joints_2d`` include it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poseboard.camera import Camera, distort_normalized
from poseboard.datasets.real.config import (
    LayoutReport,
    as_array,
    crop_and_resize_image,
    ground_truth_root,
    hash_arrays,
    layout_error,
    load_rgb,
    median_pose_extent,
    read_json,
    require_keys,
    resolve_root,
    units_problem,
)
from poseboard.errors import InputError
from poseboard.samples import MultiViewSample, SampleMeta

NAME = "panoptic"
CM_TO_MM = 10.0
POSE_DIR = "hdPose3d_stage1_coco19"
IMAGE_DIR = "hdImgs"

#: panoptic-toolbox COCO19 joint order.
COCO19_NAMES: tuple[str, ...] = (
    "Neck", "Nose", "BodyCenter", "lShoulder", "lElbow", "lWrist", "lHip", "lKnee", "lAnkle",
    "rShoulder", "rElbow", "rWrist", "rHip", "rKnee", "rAnkle", "lEye", "lEar", "rEye", "rEar",
)

#: H36M17 index → COCO19 index for the joints taken as they are (Thorax and Neck/Nose are
#: approximations by nearby markers; Spine and Head are computed, see the module docstring).
COCO19_SOURCE: dict[int, int] = {
    0: 14, 1: 13, 2: 12, 3: 6, 4: 7, 5: 8, 6: 2, 8: 0, 10: 11, 11: 10, 12: 9, 13: 3, 14: 4, 15: 5, 16: 1,
}
#: H36M17 joints that are approximations, with how each is made (for docs and reports).
APPROXIMATED: dict[str, str] = {
    "Spine": "midpoint of BodyCenter and Neck",
    "Thorax": "Neck",
    "Head": "ears' midpoint (else eyes', else nose) + 0.75 × (that − Neck)",
    "Neck/Nose": "Nose",
}
HEAD_TOP_FACTOR = 0.75

#: Rotation taking the Y-down Panoptic world to a Z-up one: (x, y, z) → (x, z, −y).
PANOPTIC_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: The five HD cameras of VoxelPose / MvP's Panoptic protocol, first in the camera order.
PREFERRED_CAMERAS: tuple[str, ...] = ("00_03", "00_06", "00_12", "00_13", "00_23")
#: Toolbox's confidence threshold for a valid joint.
MIN_CONFIDENCE = 0.1
#: A sequence with more multi-body frames than this fraction is multi-person.
MULTI_PERSON_TOLERANCE = 0.01


def coco19_to_h36m17(joints19: np.ndarray, conf19: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map (..., 19, 3) COCO19 joints and (..., 19) confidences to the H36M17 order.

    Returns (..., 17, 3) joints (same units) and (..., 17) confidences; a derived joint's
    confidence is the minimum of its sources'.

    Example:
        >>> j, c = coco19_to_h36m17(np.zeros((19, 3)), np.ones(19))
        >>> j.shape, c.shape
        ((17, 3), (17,))
    """
    j = np.asarray(joints19, dtype=np.float64)
    c = np.asarray(conf19, dtype=np.float64)
    out = np.zeros((*j.shape[:-2], 17, 3))
    conf = np.zeros((*c.shape[:-1], 17))
    for dst, src in COCO19_SOURCE.items():
        out[..., dst, :] = j[..., src, :]
        conf[..., dst] = c[..., src]
    neck, centre = j[..., 0, :], j[..., 2, :]
    out[..., 7, :] = 0.5 * (neck + centre)
    conf[..., 7] = np.minimum(c[..., 0], c[..., 2])
    # head centre: ears, else eyes, else nose (per pose, by confidence)
    ears_ok = np.minimum(c[..., 16], c[..., 18])
    eyes_ok = np.minimum(c[..., 15], c[..., 17])
    ears = 0.5 * (j[..., 16, :] + j[..., 18, :])
    eyes = 0.5 * (j[..., 15, :] + j[..., 17, :])
    use_ears = ears_ok >= MIN_CONFIDENCE
    use_eyes = ~use_ears & (eyes_ok >= MIN_CONFIDENCE)
    head = np.where(use_ears[..., None], ears, np.where(use_eyes[..., None], eyes, j[..., 1, :]))
    head_conf = np.where(use_ears, ears_ok, np.where(use_eyes, eyes_ok, c[..., 1]))
    out[..., 9, :] = head + HEAD_TOP_FACTOR * (head - neck)
    conf[..., 9] = np.minimum(head_conf, c[..., 0])
    return out, conf


# ----------------------------------------------------------------------------- calibration
def load_calibration(path: Path, z_up: bool = True, types: Sequence[str] = ("hd",)) -> dict[str, Camera]:
    """Cameras of one ``calibration_<seq>.json`` (the given ``types``), world mm, by name."""
    data = read_json(path, NAME, "calibration")
    require_keys(data, ["cameras"], path, NAME)
    if not isinstance(data["cameras"], list):
        raise layout_error(NAME, path, "'cameras' must be a list")
    out: dict[str, Camera] = {}
    world = PANOPTIC_TO_ZUP if z_up else np.eye(3)
    for i, rec in enumerate(data["cameras"]):
        where = f"cameras[{i}]"
        require_keys(rec, ["name", "type", "resolution", "K", "distCoef", "R", "t"], path, NAME, where)
        if rec["type"] not in types:
            continue
        where = f"camera {rec['name']!r}"
        K = as_array(rec["K"], (3, 3), path, NAME, f"{where} K")
        R = as_array(rec["R"], (3, 3), path, NAME, f"{where} R")
        t_raw = rec["t"]
        if isinstance(t_raw, list) and len(t_raw) == 3 and all(isinstance(x, list) and len(x) == 1 for x in t_raw):
            t_raw = [x[0] for x in t_raw]  # the toolbox writes t as a 3 x 1 column
        t = as_array(t_raw, (3,), path, NAME, f"{where} t (3 x 1, cm)")
        dist = as_array(rec["distCoef"], (-1,), path, NAME, f"{where} distCoef")
        if len(dist) not in (4, 5):
            raise layout_error(NAME, path, f"{where} distCoef: expected 5 values (k1, k2, p1, p2, k3), got {len(dist)}")
        res = as_array(rec["resolution"], (2,), path, NAME, f"{where} resolution")
        try:
            cam = Camera(K=K, R=R @ world.T, t=t.reshape(3) * CM_TO_MM, dist=dist,
                         image_size=(int(res[0]), int(res[1])), name=str(rec["name"]))
        except InputError as exc:
            raise layout_error(NAME, path, f"{where}: {exc}") from None
        out[cam.name] = cam
    if not out:
        raise layout_error(NAME, path, f"no camera of type {list(types)}")
    centres = np.array([c.center for c in out.values()]) / CM_TO_MM
    distance = float(np.median(np.linalg.norm(centres, axis=-1)))
    if not 30.0 <= distance <= 3000.0:
        raise layout_error(NAME, path, f"camera t: the cameras are a median {distance:.3g} units from the origin; "
                                       "the toolbox calibration is in centimetres (a dome of ~250 cm radius)")
    return out


def camera_order(names: Sequence[str]) -> list[str]:
    """HD camera names in protocol order: :data:`PREFERRED_CAMERAS` first, then by name."""
    first = [n for n in PREFERRED_CAMERAS if n in names]
    return first + sorted(n for n in names if n not in first)


# ----------------------------------------------------------------------------- sequences
@dataclass
class PanopticSequence:
    """One sequence folder, its cameras (protocol order) and its usable single-body frames."""

    name: str
    folder: Path
    calibration: Path
    cameras: dict[str, Camera] = field(default_factory=dict)
    camera_names: list[str] = field(default_factory=list)
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (F,)
    joints: np.ndarray = field(default_factory=lambda: np.zeros((0, 17, 3)))  # (F, 17, 3) world mm
    confidence: np.ndarray = field(default_factory=lambda: np.zeros((0, 17)))  # (F, 17)
    body_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    num_pose_files: int = 0
    num_multi_body: int = 0

    @property
    def multi_person(self) -> bool:
        return self.num_pose_files > 0 and self.num_multi_body > MULTI_PERSON_TOLERANCE * self.num_pose_files


def find_sequences(root: Path) -> list[Path]:
    """Sequence folders under ``root`` (or ``root`` itself when it holds a calibration file)."""
    if list(root.glob("calibration_*.json")):
        return [root]
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and ((p / f"calibration_{p.name}.json").exists() or (p / POSE_DIR).is_dir()))


def _read_bodies(path: Path) -> list[tuple[int, np.ndarray]]:
    data = read_json(path, NAME, "pose file")
    require_keys(data, ["bodies"], path, NAME)
    if not isinstance(data["bodies"], list):
        raise layout_error(NAME, path, "'bodies' must be a list")
    bodies = []
    for i, body in enumerate(data["bodies"]):
        if isinstance(body, dict) and "joints19" not in body and any(k.startswith("joints") for k in body):
            raise layout_error(NAME, path, f"bodies[{i}] has {[k for k in body if k.startswith('joints')]} "
                                           f"but no 'joints19': poseboard reads {POSE_DIR} (COCO19) files")
        require_keys(body, ["id", "joints19"], path, NAME, f"bodies[{i}]")
        arr = as_array(body["joints19"], (-1,), path, NAME, f"bodies[{i}] joints19")
        if arr.size != 76:
            raise layout_error(NAME, path, f"bodies[{i}] joints19: expected 76 numbers (x, y, z, confidence) "
                                           f"x 19, got {arr.size}")
        bodies.append((int(body["id"]), arr.reshape(19, 4)))
    return bodies


def load_sequence(folder: Path, z_up: bool = True) -> PanopticSequence:
    """Read one sequence: calibration (required), every pose file, the single-body frames."""
    name = folder.name
    calib = folder / f"calibration_{name}.json"
    if not calib.exists():
        found = sorted(folder.glob("calibration_*.json"))
        if len(found) == 1:
            calib = found[0]
        else:
            raise layout_error(NAME, calib, "calibration file not found")
    cameras = load_calibration(calib, z_up=z_up)
    pose_dir = folder / POSE_DIR
    if not pose_dir.is_dir():
        raise layout_error(NAME, pose_dir, "pose folder not found")
    files = sorted(pose_dir.glob("body3DScene_*.json"))
    if not files:
        raise layout_error(NAME, pose_dir, "no body3DScene_<frame:08d>.json files")
    frames, joints, confs, ids = [], [], [], []
    multi = 0
    world = PANOPTIC_TO_ZUP if z_up else np.eye(3)
    for path in files:
        stem = path.stem.rpartition("_")[2]
        if not stem.isdigit():
            raise layout_error(NAME, path, "file name must be body3DScene_<frame:08d>.json")
        bodies = _read_bodies(path)
        if len(bodies) > 1:
            multi += 1
        if len(bodies) != 1:
            continue
        body_id, raw = bodies[0]
        frames.append(int(stem))
        ids.append(body_id)
        joints.append(raw[:, :3])
        confs.append(raw[:, 3])
    seq = PanopticSequence(name=name, folder=folder, calibration=calib, cameras=cameras,
                           camera_names=camera_order(list(cameras)), num_pose_files=len(files), num_multi_body=multi)
    if frames:
        raw_joints, raw_conf = np.stack(joints), np.stack(confs)
        why = units_problem(median_pose_extent(raw_joints, raw_conf >= MIN_CONFIDENCE), "cm")
        if why:
            raise layout_error(NAME, pose_dir, f"joints19: {why} (e.g. {files[0].name})")
        j17, c17 = coco19_to_h36m17(raw_joints, raw_conf)
        seq.frames = np.asarray(frames, dtype=np.int64)
        seq.joints = (j17 * CM_TO_MM) @ world.T
        seq.confidence = c17
        seq.body_ids = np.asarray(ids, dtype=np.int64)
    return seq


def _splits(root: Path) -> dict[str, list[str]] | None:
    path = root / "splits.json"
    if not path.exists():
        return None
    data = read_json(path, NAME, "split file")
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise layout_error(NAME, path, 'expected {"train": [sequences], "test": [sequences]}')
    return {str(k): [str(s) for s in v] for k, v in data.items()}


def sequences_of_split(root: Path, split: str) -> list[Path]:
    """Sequence folders of ``split`` (``splits.json`` if present, else all are ``test``/``all``)."""
    folders = find_sequences(root)
    if not folders:
        raise layout_error(NAME, root, "no sequence folder (<sequence>/calibration_<sequence>.json)")
    splits = _splits(root) if folders != [root] else None
    if splits is None:
        if split in ("test", "all"):
            return folders
        raise layout_error(NAME, root / "splits.json",
                           f"split {split!r} needs a split file listing its sequences (without one, every "
                           "sequence is in 'test')")
    if split == "all":
        wanted = {s for v in splits.values() for s in v}
    elif split in splits:
        wanted = set(splits[split])
    else:
        raise layout_error(NAME, root / "splits.json", f"no split {split!r} (has {sorted(splits)})")
    by_name = {f.name: f for f in folders}
    absent = sorted(wanted - set(by_name))
    if absent:
        raise layout_error(NAME, root / "splits.json", f"sequence folder(s) {absent} of split {split!r} not found")
    return [by_name[n] for n in sorted(wanted)]


@dataclass
class PanopticFrames:
    """The usable frames of a split: one row per (sequence, frame) with one complete body."""

    meta: pd.DataFrame  # sample_id, subject, action, sequence, frame, seq_index, frame_index
    joints: np.ndarray  # (N, 17, 3) world mm
    confidence: np.ndarray  # (N, 17)
    sequences: list[PanopticSequence]
    skipped: dict[str, str]  # sequence → why it is not used


def load_frames(root: str | Path | None, split: str = "test", *, z_up: bool = True,
                min_confidence: float = MIN_CONFIDENCE, complete_only: bool = True) -> PanopticFrames:
    """Index a split's single-person frames (sample ids ``<sequence>/<frame:08d>``)."""
    base = resolve_root(NAME, root)
    sequences, skipped, rows, joints, confs = [], {}, [], [], []
    for folder in sequences_of_split(base, split):
        seq = load_sequence(folder, z_up=z_up)
        if seq.multi_person:
            skipped[seq.name] = f"multi-person ({seq.num_multi_body} of {seq.num_pose_files} frames have 2+ bodies)"
            continue
        keep = np.ones(len(seq.frames), dtype=bool)
        if complete_only:
            keep = (seq.confidence >= min_confidence).all(-1)
        if not keep.any():
            skipped[seq.name] = "no frame with one fully reconstructed body"
            continue
        k = len(sequences)
        sequences.append(seq)
        for i in np.flatnonzero(keep):
            f = int(seq.frames[i])
            rows.append((f"{seq.name}/{f:08d}", seq.name, seq.name, seq.name, f, k, int(i)))
        joints.append(seq.joints[keep])
        confs.append(seq.confidence[keep])
    if not rows:
        raise layout_error(NAME, base, f"no usable single-person frame in split {split!r} "
                                       f"(skipped: {skipped or 'none'})")
    meta = pd.DataFrame(rows, columns=["sample_id", "subject", "action", "sequence", "frame", "seq_index",
                                       "frame_index"])
    return PanopticFrames(meta=meta, joints=np.concatenate(joints), confidence=np.concatenate(confs),
                          sequences=sequences, skipped=skipped)


# ----------------------------------------------------------------------------- images
def square_box_around(points: np.ndarray, scale: float) -> tuple[int, int, int, int]:
    """Integer LTRB square around (P, 2) pixel points, its side ``scale`` × the larger extent."""
    lo, hi = points.min(0), points.max(0)
    centre = 0.5 * (lo + hi)
    side = max(float((hi - lo).max()) * scale, 8.0)
    left, top = math.floor(centre[0] - side / 2), math.floor(centre[1] - side / 2)
    s = math.ceil(side)
    return left, top, left + s, top + s


def undistorted_crop(image: Any, full: Camera, crop_cam: Camera) -> np.ndarray:
    """Resample ``image`` (seen by ``full``, with distortion) into the pinhole camera ``crop_cam``
    (same pose, ``dist = 0``); bilinear, zeros outside the image. Returns (3, H, W) uint8."""
    from scipy.ndimage import map_coordinates

    w, h = crop_cam.image_size
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    K = crop_cam.K
    y = (v - K[1, 2]) / K[1, 1]
    x = (u - K[0, 2] - K[0, 1] * y) / K[0, 0]
    xd, yd = distort_normalized(x, y, full.dist)
    Kf = full.K
    src_u = Kf[0, 0] * xd + Kf[0, 1] * yd + Kf[0, 2]
    src_v = Kf[1, 1] * yd + Kf[1, 2]
    # read only the part of the image the crop samples (a 1920×1080 frame is 25 MB as float)
    u0, v0 = max(int(np.floor(src_u.min())) - 1, 0), max(int(np.floor(src_v.min())) - 1, 0)
    u1, v1 = min(int(np.ceil(src_u.max())) + 2, image.width), min(int(np.ceil(src_v.max())) + 2, image.height)
    if u1 <= u0 or v1 <= v0:
        return np.zeros((3, h, w), dtype=np.uint8)
    arr = np.asarray(image.crop((u0, v0, u1, v1)), dtype=np.float32)
    # points outside the image read zeros, as PIL's crop pads
    outside = (src_u < -0.5) | (src_u > image.width - 0.5) | (src_v < -0.5) | (src_v > image.height - 0.5)
    out = np.stack([map_coordinates(arr[..., ch], [src_v - v0, src_u - u0], order=1, mode="nearest")
                    for ch in range(3)])
    out[:, outside] = 0.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class PanopticMultiView:
    """Multi-view samples of single-person Panoptic sequences (map-style: ``len`` and ``[i]``).

    Args:
        root: folder of sequences (default ``$POSEBOARD_PANOPTIC_ROOT``).
        split: ``test`` / ``train`` (``splits.json``) or ``all``.
        cameras: camera indices in protocol order (:func:`camera_order`) or names; None = all HD.
        image_size: (width, height) of the crops.
        bbox_scale: square box around the projected joints, scaled by this.
        min_confidence: joints below it are not visible (and their frames dropped if ``complete_only``).
        complete_only: keep only frames whose 17 mapped joints are all confident (as the ground truth).
        undistort: resample crops through the lens model (pinhole sample cameras).
        z_up: rotate the Y-down Panoptic world to Z-up.
        load_images: False gives zero images (fast; cameras and joints only).
        frame_stride: keep every n-th usable frame of each sequence.
        skip_sequences: sequence names to leave out (exact names).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "test",
        *,
        cameras: Sequence[int | str] | None = None,
        image_size: tuple[int, int] = (384, 384),
        bbox_scale: float = 1.2,
        min_confidence: float = MIN_CONFIDENCE,
        complete_only: bool = True,
        undistort: bool = True,
        z_up: bool = True,
        load_images: bool = True,
        frame_stride: int = 1,
        skip_sequences: Sequence[str] = (),
    ) -> None:
        if frame_stride < 1 or bbox_scale <= 0:
            raise ValueError("frame_stride must be >= 1 and bbox_scale > 0")
        self.frames = load_frames(root, split, z_up=z_up, min_confidence=min_confidence, complete_only=complete_only)
        self.cameras = list(cameras) if cameras is not None else None
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.bbox_scale = float(bbox_scale)
        self.min_confidence = float(min_confidence)
        self.undistort = undistort
        self.load_images = load_images
        meta = self.frames.meta
        if skip_sequences:
            meta = meta[~meta["sequence"].isin(list(skip_sequences))]
        if frame_stride > 1:
            meta = meta[meta.groupby("sequence").cumcount() % frame_stride == 0]
        self.meta = meta.reset_index(drop=True)
        self.split = split

    @classmethod
    def from_protocol(cls, protocol: Any, root: str | Path | None = None, **kwargs: Any) -> PanopticMultiView:
        cams = None if protocol.camera_sweep is not None else protocol.cameras
        return cls(root, protocol.split, cameras=cams, frame_stride=protocol.frame_stride,
                   skip_sequences=protocol.skip_sequences, **kwargs)

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def joints_3d(self) -> np.ndarray:
        """(N, 17, 3) float64 ground truth of every sample, in dataset order, world mm (H36M17
        joints mapped from COCO19; what ``[i].joints_3d`` holds, without loading images).
        Joints the toolbox reconstructed with low confidence are in :attr:`joints_valid`."""
        seqs, idx = self.meta["seq_index"].to_numpy(), self.meta["frame_index"].to_numpy()
        if not len(idx):
            return np.zeros((0, 17, 3))
        return np.stack([self.frames.sequences[s].joints[i] for s, i in zip(seqs, idx, strict=True)]).astype(np.float64)

    @property
    def joints_valid(self) -> np.ndarray:
        """(N, 17) bool: the joints reconstructed with at least ``min_confidence`` (the others
        are not ground truth to measure anything on)."""
        seqs, idx = self.meta["seq_index"].to_numpy(), self.meta["frame_index"].to_numpy()
        if not len(idx):
            return np.zeros((0, 17), dtype=bool)
        conf = np.stack([self.frames.sequences[s].confidence[i] for s, i in zip(seqs, idx, strict=True)])
        return conf >= self.min_confidence

    def camera_names(self, seq: PanopticSequence) -> list[str]:
        if self.cameras is None:
            return list(seq.camera_names)
        names = []
        for c in self.cameras:
            if isinstance(c, str):
                if c not in seq.cameras:
                    raise layout_error(NAME, seq.calibration, f"no HD camera {c!r} (has {seq.camera_names})")
                names.append(c)
            else:
                if not 0 <= int(c) < len(seq.camera_names):
                    raise layout_error(NAME, seq.calibration, f"camera index {c} out of range: the sequence has "
                                                              f"{len(seq.camera_names)} HD cameras")
                names.append(seq.camera_names[int(c)])
        return names

    @staticmethod
    def image_path(seq: PanopticSequence, camera: str, frame: int) -> Path:
        return seq.folder / IMAGE_DIR / camera / f"{camera}_{int(frame):08d}.jpg"

    def __getitem__(self, index: int) -> MultiViewSample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        row = self.meta.iloc[index]
        seq = self.frames.sequences[int(row["seq_index"])]
        i = int(row["frame_index"])
        joints, conf = seq.joints[i], seq.confidence[i]
        confident = conf >= self.min_confidence
        w, h = self.image_size
        images, cams, boxes, j2d, vis = [], [], [], [], []
        for name in self.camera_names(seq):
            full = seq.cameras[name]
            uv_full = full.project(joints, distort=True)
            usable = confident & np.isfinite(uv_full).all(-1)
            pts = uv_full[usable] if usable.sum() >= 2 else np.nan_to_num(uv_full)
            box = square_box_around(pts, self.bbox_scale)
            image = load_rgb(self.image_path(seq, name, int(row["frame"])), NAME) if self.load_images else None
            if image is not None and (image.width, image.height) != full.image_size:
                full = replace(full, image_size=(image.width, image.height))
            if self.undistort:
                cam = replace(full, dist=np.zeros(5)).crop_and_resize(box, self.image_size)
                pixels = undistorted_crop(image, full, cam) if image is not None else None
                uv = cam.project(joints, distort=False)
            else:
                cam = full.crop_and_resize(box, self.image_size)
                pixels = crop_and_resize_image(image, box, self.image_size) if image is not None else None
                uv = cam.project(joints, distort=True)
            inside = np.isfinite(uv).all(-1) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
            images.append(pixels if pixels is not None else np.zeros((3, h, w), dtype=np.uint8))
            cams.append(cam)
            boxes.append(box)
            j2d.append(uv)
            vis.append(inside & confident)
        meta = SampleMeta(sample_id=str(row["sample_id"]), subject=str(row["subject"]), action=str(row["action"]),
                          sequence=str(row["sequence"]), frame=int(row["frame"]), scene=seq.name)
        return MultiViewSample(images=np.stack(images), cameras=cams, boxes=np.asarray(boxes, dtype=np.float64),
                               joints_3d=joints.copy(), joints_2d=np.stack(j2d), visibility=np.stack(vis),
                               meta=meta, view_valid=np.ones(len(cams), dtype=bool))


# ----------------------------------------------------------------------------- ground truth
def load_ground_truth(path: str | Path | None, protocol: Any, *, z_up: bool = True):
    """Ground truth of a ``panoptic`` protocol (:class:`PoseGroundTruth`): every usable frame of
    the split (single person, all 17 mapped joints confident), world mm; the reference camera
    is the protocol's first camera (camera 0 for a sweep) of each sequence."""
    from poseboard.protocols.predictions import PoseGroundTruth

    root = ground_truth_root(NAME, path)
    frames = load_frames(root, protocol.split, z_up=z_up)
    ref = 0 if not protocol.cameras else int(protocol.cameras[0])
    Rs, ts = [], []
    for seq in frames.sequences:
        if ref >= len(seq.camera_names):
            raise layout_error(NAME, seq.calibration, f"protocol {protocol.id} needs HD camera index {ref}; the "
                                                      f"sequence has {len(seq.camera_names)}")
        cam = seq.cameras[seq.camera_names[ref]]
        Rs.append(cam.R)
        ts.append(cam.t)
    k = frames.meta["seq_index"].to_numpy()
    meta = frames.meta.drop(columns=["seq_index", "frame_index"])
    return PoseGroundTruth(meta=meta, joints_3d=frames.joints, reference_R=np.stack(Rs)[k],
                           reference_t=np.stack(ts)[k], source="real",
                           data_hash=hash_arrays(meta["sample_id"].to_numpy().astype(str), frames.joints))


# ----------------------------------------------------------------------------- layout check
def check_layout(root: Path, report: LayoutReport) -> None:
    """Fill ``report``: sequences, calibration, pose files, single-person status, protocol images."""
    folders = find_sequences(root)
    if not folders:
        report.problem(f"{root}: no sequence folder (<sequence>/calibration_<sequence>.json)")
        return
    usable = 0
    camera_names: set[str] = set()
    for folder in folders:
        try:
            seq = load_sequence(folder)
        except InputError as exc:
            report.problem(str(exc).split("\nexpected", 1)[0])
            continue
        complete = int((seq.confidence >= MIN_CONFIDENCE).all(-1).sum())
        line = (f"sequence {seq.name}: {len(seq.cameras)} HD cameras, {seq.num_pose_files} pose files, "
                f"{len(seq.frames)} single-body frames, {complete} with all 17 joints confident")
        if seq.multi_person:
            report.notes.append(line + " — multi-person, not used by the protocols")
            continue
        report.found.append(line)
        usable += complete
        camera_names.update(seq.camera_names)
        for name in seq.camera_names[:4]:
            if len(seq.frames) and not PanopticMultiView.image_path(seq, name, int(seq.frames[0])).is_file():
                report.problem(f"{PanopticMultiView.image_path(seq, name, int(seq.frames[0]))}: image not found")
    missing_pref = [n for n in PREFERRED_CAMERAS[:4] if camera_names and n not in camera_names]
    if missing_pref:
        report.notes.append(f"preferred protocol cameras absent: {missing_pref} (other HD cameras take their places)")
    report.counts["usable frames"] = usable
    report.notes.append("approximated joints: " + "; ".join(f"{k} = {v}" for k, v in APPROXIMATED.items()))
    if usable == 0 and report.ok:
        report.problem("no usable single-person frame")
    try:
        splits = _splits(root)
        if splits is not None:
            report.found.append(f"splits.json: { {k: len(v) for k, v in splits.items()} }")
    except InputError as exc:
        report.problem(str(exc).split("\nexpected", 1)[0])


__all__ = [
    "APPROXIMATED", "COCO19_NAMES", "PANOPTIC_TO_ZUP", "PREFERRED_CAMERAS", "PanopticFrames", "PanopticMultiView",
    "PanopticSequence", "camera_order", "check_layout", "coco19_to_h36m17", "load_calibration", "load_frames",
    "load_ground_truth", "load_sequence", "sequences_of_split",
]
