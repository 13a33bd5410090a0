"""MuPoTS-3D as used by RootNet (Moon et al. 2019): ``MuPoTS-3D.json`` and DetectNet boxes.

``ROOT/MuPoTS-3D.json`` is COCO-style:

* ``images``: ``id``, ``file_name`` (``TS1/img_000000.jpg``), ``width``, ``height``,
  ``intrinsic`` ``[fx, fy, cx, cy]`` (pixels);
* ``annotations``: ``image_id``, ``bbox`` ``[x, y, w, h]``, ``keypoints_cam`` (17, 3) camera mm
  in the MuPoTS order (pelvis = 14), ``keypoints_img`` (17, 2), ``keypoints_vis`` (17),
  ``is_valid`` (0 = annotated but not scored).

Images live under ``ROOT/MultiPersonTestSet/<file_name>`` (RootNet's ``img_dir``), or
``ROOT/<file_name>``. The optional detections file (``bbox_mupots_output.json``: a list of
``{image_id, bbox [x, y, w, h], score}``) is RootNet's DetectNet output; use the
*non-extended* boxes for AP_root (its README warns the other file gives ≈ 15 AP).

Sample ids are the file name without extension (``TS1/img_000000``); ``subject``,
``sequence`` and ``action`` are the sequence folder (``TS1``), ``frame`` the image number.
Cameras are the image's pinhole (``R = I``, ``t = 0``: camera coordinates are the world).
Joints in :class:`~poseboard.samples.Person` are converted to poseboard's 17-joint order
(pelvis = 6; MuPoTS' head top → ``Head``, its head → ``Neck/Nose``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poseboard.camera import Camera
from poseboard.datasets.real.config import (
    LayoutReport,
    as_array,
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
from poseboard.samples import Person, SampleMeta, SingleViewScene
from poseboard.skeleton import MUPOTS, convert_joints

NAME = "mupots"
ANNOTATION_FILE = "MuPoTS-3D.json"
IMAGE_DIR = "MultiPersonTestSet"
DETECTIONS_FILE = "bbox_mupots_output.json"
PELVIS = MUPOTS.root  # 14

_IMAGE_KEYS = ("id", "file_name", "width", "height", "intrinsic")
_ANN_KEYS = ("image_id", "bbox", "keypoints_cam", "keypoints_img", "keypoints_vis", "is_valid")


@dataclass
class MuPoTSAnnotations:
    """The validated annotation file.

    Attributes:
        images: one row per image: image_id, sample_id, file_name, subject, action, sequence,
            frame, width, height, fx, fy, cx, cy.
        people: one row per annotation, sorted by (image, annotation id): image_id, sample_id,
            person_index (order within the image), subject, action, sequence, frame, valid,
            left, top, right, bottom.
        keypoints_cam: (P, 17, 3) camera mm, MuPoTS order; keypoints_img: (P, 17, 2) pixels;
        keypoints_vis: (P, 17) bool.
    """

    images: pd.DataFrame
    people: pd.DataFrame
    keypoints_cam: np.ndarray
    keypoints_img: np.ndarray
    keypoints_vis: np.ndarray
    path: Path

    def camera(self, image_row: int) -> Camera:
        r = self.images.iloc[image_row]
        K = np.array([[r.fx, 0.0, r.cx], [0.0, r.fy, r.cy], [0.0, 0.0, 1.0]])
        try:
            return Camera(K=K, R=np.eye(3), t=np.zeros(3), image_size=(int(r.width), int(r.height)),
                          name=str(r.sequence))
        except InputError as exc:
            raise layout_error(NAME, self.path, f"image {r.image_id} intrinsic: {exc}") from None

    @property
    def roots(self) -> np.ndarray:
        """(P, 3) pelvis (index 14) of every annotation, camera mm."""
        return self.keypoints_cam[:, PELVIS]


def _sample_id(file_name: str) -> tuple[str, str, int]:
    """``TS1/img_000000.jpg`` → (``TS1/img_000000``, ``TS1``, 0)."""
    stem = str(Path(file_name).with_suffix("")).replace("\\", "/")
    parts = stem.split("/")
    sequence = parts[0] if len(parts) > 1 else "MuPoTS"
    digits = re.findall(r"\d+", parts[-1])
    return stem, sequence, int(digits[-1]) if digits else 0


def _visibility(value: Any, path: Path, where: str) -> np.ndarray:
    """``keypoints_vis`` as (17,) bool; the file may hold 17 numbers or 17 one-element lists."""
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise layout_error(NAME, path, f"{where} keypoints_vis: not a numeric array") from None
    if arr.shape != (17,):
        raise layout_error(NAME, path, f"{where} keypoints_vis: expected 17 values, got {arr.size}")
    return arr > 0


def load_annotations(root: str | Path | None = None, *, annotation_path: str | Path | None = None,
                     check_units: bool = True) -> MuPoTSAnnotations:
    """Read and validate ``MuPoTS-3D.json`` (fields, shapes, units, joint order)."""
    path = Path(annotation_path) if annotation_path is not None else resolve_root(NAME, root) / ANNOTATION_FILE
    data = read_json(path, NAME, "annotation file")
    require_keys(data, ["images", "annotations"], path, NAME)
    if not isinstance(data["images"], list) or not isinstance(data["annotations"], list):
        raise layout_error(NAME, path, "'images' and 'annotations' must be lists")
    rows = []
    for i, img in enumerate(data["images"]):
        require_keys(img, _IMAGE_KEYS, path, NAME, f"images[{i}]")
        intr = as_array(img["intrinsic"], (4,), path, NAME, f"images[{i}] intrinsic [fx, fy, cx, cy]")
        if intr[0] <= 0 or intr[1] <= 0:
            raise layout_error(NAME, path, f"images[{i}] intrinsic: focal lengths must be positive, got {intr[:2]}")
        sid, seq, frame = _sample_id(img["file_name"])
        rows.append((int(img["id"]), sid, str(img["file_name"]), seq, seq, seq, frame, int(img["width"]),
                     int(img["height"]), *intr))
    images = pd.DataFrame(rows, columns=["image_id", "sample_id", "file_name", "subject", "action", "sequence",
                                         "frame", "width", "height", "fx", "fy", "cx", "cy"])
    if images["image_id"].duplicated().any():
        raise layout_error(NAME, path, f"duplicate image id {images.image_id[images.image_id.duplicated()].iloc[0]}")
    if images["sample_id"].duplicated().any():
        raise layout_error(NAME, path, f"duplicate file_name {images.file_name[images.sample_id.duplicated()].iloc[0]}")
    by_id = images.set_index("image_id")
    anns, kc, ki, kv = [], [], [], []
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        require_keys(ann, _ANN_KEYS, path, NAME, where)
        image_id = int(ann["image_id"])
        if image_id not in by_id.index:
            raise layout_error(NAME, path, f"{where}: image_id {image_id} is not among the images")
        box = as_array(ann["bbox"], (4,), path, NAME, f"{where} bbox [x, y, w, h]")
        kc.append(as_array(ann["keypoints_cam"], (17, 3), path, NAME, f"{where} keypoints_cam"))
        ki.append(as_array(ann["keypoints_img"], (17, -1), path, NAME, f"{where} keypoints_img")[:, :2])
        kv.append(_visibility(ann["keypoints_vis"], path, where))
        anns.append((image_id, int(ann.get("id", i)), bool(ann["is_valid"]),
                     box[0], box[1], box[0] + box[2], box[1] + box[3]))
    people = pd.DataFrame(anns, columns=["image_id", "ann_id", "valid", "left", "top", "right", "bottom"])
    order = np.lexsort((people["ann_id"].to_numpy(), people["image_id"].to_numpy())) if len(people) else np.zeros(
        0, dtype=int)
    people = people.iloc[order].reset_index(drop=True)
    keypoints_cam = np.stack(kc)[order] if kc else np.zeros((0, 17, 3))
    keypoints_img = np.stack(ki)[order] if ki else np.zeros((0, 17, 2))
    keypoints_vis = np.stack(kv)[order] if kv else np.zeros((0, 17), dtype=bool)
    info = by_id.loc[people["image_id"], ["sample_id", "subject", "action", "sequence", "frame"]].reset_index(drop=True)
    people = pd.concat([people, info], axis=1)
    people["person_index"] = people.groupby("image_id").cumcount()
    if check_units and len(people):
        why = units_problem(median_pose_extent(keypoints_cam), "mm")
        if why:
            raise layout_error(NAME, path, f"keypoints_cam: {why}")
        hips = 0.5 * (keypoints_cam[:, 8] + keypoints_cam[:, 11])
        off = float(np.median(np.linalg.norm(keypoints_cam[:, PELVIS] - hips, axis=-1)))
        if off > 150.0:
            raise layout_error(NAME, path, f"keypoints_cam: joint {PELVIS} is a median {off:.0f} mm from the hips' "
                                           "midpoint; expected the MuPoTS order with the pelvis at index 14")
        if np.median(keypoints_cam[:, PELVIS, 2]) <= 0:
            raise layout_error(NAME, path, "keypoints_cam: people are behind the camera (z <= 0); expected camera "
                                           "coordinates, z forward")
    return MuPoTSAnnotations(images=images, people=people, keypoints_cam=keypoints_cam, keypoints_img=keypoints_img,
                             keypoints_vis=keypoints_vis, path=path)


def find_detections(root: Path) -> Path | None:
    """RootNet's detections file under ``root`` or ``root/../bbox`` (its repository layout)."""
    for p in (root / DETECTIONS_FILE, root / "bbox" / DETECTIONS_FILE, root.parent / "bbox" / DETECTIONS_FILE):
        if p.is_file():
            return p
    return None


def load_detections(path: str | Path, annotations: MuPoTSAnnotations | None = None) -> pd.DataFrame:
    """Detections ``[{image_id, bbox [x, y, w, h], score}]`` as a DataFrame: image_id, (sample_id,)
    left, top, right, bottom, score — sorted by image, then descending score."""
    path = Path(path)
    data = read_json(path, NAME, "detections file")
    if not isinstance(data, list):
        raise layout_error(NAME, path, "expected a list of {image_id, bbox, score}")
    rows = []
    for i, det in enumerate(data):
        require_keys(det, ["image_id", "bbox", "score"], path, NAME, f"[{i}]")
        box = as_array(det["bbox"], (4,), path, NAME, f"[{i}] bbox [x, y, w, h]")
        rows.append((int(det["image_id"]), box[0], box[1], box[0] + box[2], box[1] + box[3], float(det["score"])))
    out = pd.DataFrame(rows, columns=["image_id", "left", "top", "right", "bottom", "score"])
    if annotations is not None:
        ids = annotations.images.set_index("image_id")["sample_id"]
        unknown = sorted(set(out["image_id"]) - set(ids.index))
        if unknown:
            raise layout_error(NAME, path, f"{len(unknown)} detection(s) name unknown image ids, e.g. {unknown[:3]}")
        out.insert(1, "sample_id", ids.loc[out["image_id"]].to_numpy())
    return out.sort_values(["image_id", "score"], ascending=[True, False], kind="stable").reset_index(drop=True)


class MuPoTSScenes:
    """Single-view multi-person scenes (map-style: ``len`` and ``[i]`` → :class:`SingleViewScene`).

    Args:
        root: RootNet's ``data/MuPoTS/data`` (default ``$POSEBOARD_MUPOTS_ROOT``).
        image_root: folder the ``file_name``s are relative to (default ``ROOT/MultiPersonTestSet``,
            else ``ROOT``).
        load_images: False gives a zero image of the right size (fast).
        sequences: keep only these sequences (``"TS1"``, ...).
    """

    def __init__(self, root: str | Path | None = None, *, image_root: str | Path | None = None,
                 load_images: bool = True, sequences: list[str] | None = None) -> None:
        base = resolve_root(NAME, root)
        self.root = base
        self.annotations = load_annotations(base)
        if image_root is not None:
            self.image_root = Path(image_root)
        else:
            self.image_root = base / IMAGE_DIR if (base / IMAGE_DIR).is_dir() else base
        self.load_images = load_images
        images = self.annotations.images
        if sequences is not None:
            images = images[images["sequence"].isin(sequences)]
        self.meta = images.reset_index().rename(columns={"index": "image_row"})
        self._people = {k: v.index.to_numpy() for k, v in self.annotations.people.groupby("image_id")}

    def __len__(self) -> int:
        return len(self.meta)

    def image_path(self, file_name: str) -> Path:
        return self.image_root / file_name

    def __getitem__(self, index: int) -> SingleViewScene:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        row = self.meta.iloc[index]
        ann = self.annotations
        camera = ann.camera(int(row["image_row"]))
        if self.load_images:
            img = load_rgb(self.image_path(str(row["file_name"])), NAME)
            pixels = np.ascontiguousarray(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
            if (img.width, img.height) != camera.image_size:
                camera = Camera(K=camera.K, R=camera.R, t=camera.t, image_size=(img.width, img.height),
                                name=camera.name)
        else:
            w, h = camera.image_size
            pixels = np.zeros((3, h, w), dtype=np.uint8)
        people = []
        for p in self._people.get(int(row["image_id"]), []):
            rec = ann.people.iloc[p]
            people.append(Person(
                box=np.array([rec.left, rec.top, rec.right, rec.bottom], dtype=np.float64),
                root_cam=ann.keypoints_cam[p, PELVIS].copy(),
                joints_cam=convert_joints(ann.keypoints_cam[p], "mupots", "h36m17"),
                joints_2d=convert_joints(ann.keypoints_img[p], "mupots", "h36m17"),
                visibility=convert_joints(ann.keypoints_vis[p][:, None], "mupots", "h36m17")[:, 0],
                valid=bool(rec.valid),
            ))
        meta = SampleMeta(sample_id=str(row["sample_id"]), subject=str(row["subject"]), action=str(row["action"]),
                          sequence=str(row["sequence"]), frame=int(row["frame"]), scene=str(row["sequence"]))
        return SingleViewScene(image=pixels, camera=camera, people=people, meta=meta)


def load_ground_truth(path: str | Path | None, protocol: Any):
    """Ground truth of a ``mupots`` root protocol (:class:`RootGroundTruth`): one row per
    annotated person, root = pelvis (index 14) of ``keypoints_cam`` in camera mm,
    ``valid = is_valid``. MuPoTS-3D is a test set: every split name reads all 20 sequences
    except an explicit ``"TS1+TS2"`` list."""
    from poseboard.protocols.predictions import RootGroundTruth

    root = ground_truth_root(NAME, path)
    ann = load_annotations(root)
    people, images = ann.people, ann.images
    if protocol.split not in ("test", "all"):
        wanted = [s for s in protocol.split.replace(",", "+").split("+") if s]
        unknown = sorted(set(wanted) - set(images["sequence"]))
        if unknown:
            raise InputError(f"protocol {protocol.id}: split {protocol.split!r} names unknown MuPoTS sequences "
                             f"{unknown}; use 'test' or sequences like 'TS1+TS2'")
        people = people[people["sequence"].isin(wanted)]
        images = images[images["sequence"].isin(wanted)]
    rows = people.index.to_numpy()
    cols = ["sample_id", "person_index", "subject", "action", "sequence", "frame", "valid", "image_id"]
    return RootGroundTruth(
        people=people[cols].reset_index(drop=True), roots=ann.roots[rows].astype(np.float64), source="real",
        data_hash=hash_arrays(people["sample_id"].to_numpy().astype(str), ann.keypoints_cam[rows],
                              people["valid"].to_numpy()),
        images=images[["sample_id", "subject", "action", "sequence", "image_id"]].reset_index(drop=True),
    )


def check_layout(root: Path, report: LayoutReport, *, image_root: str | Path | None = None,
                 detections: str | Path | None = None) -> None:
    """Fill ``report``: annotation file, units, projections, images, detections."""
    ann = load_annotations(root)
    report.found.append(f"annotations {ann.path}")
    report.counts["images"] = len(ann.images)
    report.counts["sequences"] = int(ann.images["sequence"].nunique())
    report.counts["people"] = len(ann.people)
    report.counts["valid people"] = int(ann.people["valid"].sum())
    if len(ann.people):
        cam = ann.images.set_index("image_id").loc[ann.people["image_id"], ["fx", "fy", "cx", "cy"]].to_numpy()
        kc = ann.keypoints_cam
        z = np.where(kc[..., 2] > 0, kc[..., 2], np.nan)
        u = cam[:, None, 0] * kc[..., 0] / z + cam[:, None, 2]
        v = cam[:, None, 1] * kc[..., 1] / z + cam[:, None, 3]
        err = float(np.nanmedian(np.hypot(u - ann.keypoints_img[..., 0], v - ann.keypoints_img[..., 1])))
        report.counts["median reprojection error (px)"] = round(err)
        if err > 50:
            report.problem(f"{ann.path}: keypoints_cam projected with intrinsic [fx, fy, cx, cy] miss keypoints_img "
                           f"by a median {err:.0f} px (intrinsic order or units?)")
    img_root = Path(image_root) if image_root is not None else (
        root / IMAGE_DIR if (root / IMAGE_DIR).is_dir() else root)
    first = ann.images.groupby("sequence").first()
    missing = [str(img_root / f) for f in first["file_name"] if not (img_root / f).is_file()]
    if missing:
        report.problem(f"{len(missing)} sequence(s) lack their first image, e.g. {missing[:3]} "
                       f"(images under {img_root})")
    else:
        report.found.append(f"images under {img_root}")
    det = Path(detections) if detections is not None else find_detections(root)
    if det is None:
        report.notes.append(f"no {DETECTIONS_FILE}: AP_root needs detector boxes (RootNet's DetectNet output)")
    else:
        boxes = load_detections(det, ann)
        report.found.append(f"detections {det} ({len(boxes)} boxes)")


__all__ = [
    "ANNOTATION_FILE", "MuPoTSAnnotations", "MuPoTSScenes", "check_layout", "find_detections", "load_annotations",
    "load_detections", "load_ground_truth",
]
