"""What a generated test split *is*, apart from its image bytes: the task identity.

A split's ``content_hash`` (:mod:`poseboard.datasets.storage`) covers every byte, images
included. That is the right guard against scoring two methods on different data, but the
renderer's torch kernels take another vectorised path on another instruction set, so the
same split rendered on an AVX2 laptop, an AVX-512 server or an ARM machine differs in a few
silhouette pixels (and in the visibility flags decided from that depth buffer) while its
frames, poses and cameras are the same. Two hashes separate the two questions:

``task_hash``
    what a method is given besides the pixels and what the scorer reads: the manifest's
    name, split, kind, skeleton, counts, image size and camera names; the sample table
    (sample id, subject, action, sequence, frame, scene, rig); the ground-truth joints
    (world mm, quantised to :data:`QUANTA` ``["joints_3d"]``) and their projections; every
    rig's cameras (K, R, t, distortion, image size, name; quantised); the crop boxes and
    which views are valid. Floats are rounded to fixed quanta (a micrometre, a thousandth of
    a pixel...) before hashing, so a last-bit difference in numpy's projection does not count
    while any real change (a joint moved by 0.01 mm) does.
``images_hash``
    the image shards and the visibility flags: what the renderer decides. Visibility is a
    training label (the harness hands a method no visibility at test time and no protocol
    reads it) decided by a depth test at the silhouette, exactly where the instruction sets
    disagree, so it belongs with the pixels.

A protocol's frame selection is the result file's ``sample_ids_hash``; a result therefore
pins its task by (protocol id, sample ids hash, task hash). :func:`image_difference` measures
how far two renderings of one task are apart (the fraction of pixels that differ).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from poseboard.datasets.storage import Manifest, MultiViewStore, SingleViewStore, open_dataset
from poseboard.errors import InputError
from poseboard.protocols.tasks import (
    IDENTITY_VERSION,
    TASKS_FILE,
    SplitRecord,
    TaskRecords,
    parse_task_records,
    read_task_records,
    write_task_records,
)

__all__ = [
    "QUANTA", "TASKS_FILE", "ImageDifference", "SplitIdentity", "SplitMatch", "SplitRecord", "TaskRecords",
    "generated_splits", "image_difference", "match_split", "parse_task_records", "read_task_records",
    "split_identity", "task_records", "write_task_records",
]

#: Rounding quanta of the float arrays in the task hash (their units: mm, pixels, unitless).
QUANTA: dict[str, float] = {
    "joints_3d": 1e-3,  # mm: a micrometre
    "joints_2d": 1e-3,  # pixels
    "K": 1e-6,  # pixels
    "R": 1e-9,
    "t": 1e-6,  # mm
    "dist": 1e-9,
    "people_boxes": 1e-3,  # pixels
    "people_root_cam": 1e-3,  # mm
    "people_joints_cam": 1e-3,  # mm
    "people_joints_2d": 1e-3,  # pixels
}

_TABLE_COLUMNS = ("sample_id", "subject", "action", "sequence", "frame", "scene", "rig")


@dataclass(frozen=True)
class SplitIdentity:
    """The three hashes of a generated split (sha256, hex)."""

    name: str
    split: str
    samples: int
    content_hash: str
    """every file (the manifest's ``content_hash``; a result's ``data_hash``)"""
    task_hash: str
    """what defines the task, floats quantised (module docstring)"""
    images_hash: str
    """the image shards and visibility flags"""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _Hasher:
    def __init__(self) -> None:
        self._h = hashlib.sha256(f"poseboard-task-identity/{IDENTITY_VERSION}\n".encode())

    def text(self, label: str, value: object) -> None:
        self._h.update(f"{label}={json.dumps(value, sort_keys=True)}\n".encode())

    def array(self, label: str, values: np.ndarray, quantum: float | None = None) -> None:
        arr = np.asarray(values)
        if quantum is not None:
            arr = np.rint(np.asarray(arr, dtype=np.float64) / quantum).astype("<i8")
        elif arr.dtype == bool:
            arr = arr.astype(np.uint8)
        else:
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        self._h.update(f"{label}:{arr.dtype.str}:{list(arr.shape)}\n".encode())
        self._h.update(np.ascontiguousarray(arr).tobytes())
        self._h.update(b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def _manifest_fields(h: _Hasher, manifest: Manifest) -> None:
    counts = manifest.counts.model_dump()
    counts.pop("shards")  # how the images are cut into files, not what they are
    for label, value in (("name", manifest.name), ("split", manifest.split), ("kind", manifest.kind),
                         ("skeleton", manifest.skeleton), ("counts", counts),
                         ("image_size", list(manifest.image_size)), ("camera_names", manifest.camera_names)):
        h.text(label, value)


def _cameras(h: _Hasher, store: MultiViewStore | SingleViewStore) -> None:
    for k, rig in enumerate(store._rigs):
        for v, cam in enumerate(rig):
            where = f"rig{k}/cam{v}"
            h.text(f"{where}/name", cam.name)
            h.text(f"{where}/image_size", list(cam.image_size))
            for field in ("K", "R", "t", "dist"):
                h.array(f"{where}/{field}", getattr(cam, field), QUANTA[field])


def split_identity(path: str | Path) -> SplitIdentity:
    """The identity of the generated split at ``path`` (reads its arrays and rigs, and takes
    the image shards' sha256 from the manifest: no image is decoded)."""
    store = open_dataset(path)
    manifest = store.manifest
    task = _Hasher()
    _manifest_fields(task, manifest)
    table = store.table
    for column in _TABLE_COLUMNS:
        task.text(column, table[column].astype(str).tolist())
    _cameras(task, store)
    images = _Hasher()
    for rel in sorted(manifest.files):
        if rel.startswith("images/"):
            images.text(rel, manifest.files[rel].sha256)
    if isinstance(store, MultiViewStore):
        task.array("boxes", store.boxes)
        task.array("view_valid", store.view_valid)
        task.array("joints_3d", store.joints_3d, QUANTA["joints_3d"])
        task.array("joints_2d", store.joints_2d, QUANTA["joints_2d"])
        images.array("visibility", store.visibility)
    else:
        task.text("people", store.people_table.astype(str).to_dict(orient="list"))
        task.array("people_start", store._start)
        task.array("people_count", store._count)
        task.array("people_valid", store.people_valid)
        for name in ("people_boxes", "people_root_cam", "people_joints_cam", "people_joints_2d"):
            task.array(name, getattr(store, name), QUANTA[name])
        images.array("people_visibility", store.people_visibility)
    return SplitIdentity(name=manifest.name, split=manifest.split, samples=len(store),
                         content_hash=manifest.content_hash, task_hash=task.hexdigest(),
                         images_hash=images.hexdigest())


@dataclass(frozen=True)
class ImageDifference:
    """How far two renderings of one task are apart, pixel by pixel."""

    pixels: int
    """pixels compared (samples × views × height × width)"""
    differing: int
    """pixels where any colour channel differs"""
    max_abs: int
    """the largest difference of one channel (grey levels, 0–255)"""

    @property
    def fraction(self) -> float:
        return self.differing / self.pixels if self.pixels else 0.0


def image_difference(a: str | Path, b: str | Path, *, chunk: int = 256) -> ImageDifference:
    """Compare the images of two splits of the same task sample by sample (memory-mapped,
    ``chunk`` samples at a time). Raises :class:`InputError` unless they hold the same task."""
    ia, ib = split_identity(a), split_identity(b)
    if ia.task_hash != ib.task_hash:
        raise InputError(f"{a} and {b} are different tasks (task hash {ia.task_hash[:12]} vs {ib.task_hash[:12]}): "
                         "their images cannot be compared pixel by pixel")
    sa, sb = open_dataset(a), open_dataset(b)
    pixels = differing = max_abs = 0
    for start in range(0, len(sa), chunk):
        stop = min(start + chunk, len(sa))
        xa = np.stack([_image(sa, i) for i in range(start, stop)]).astype(np.int16)
        xb = np.stack([_image(sb, i) for i in range(start, stop)]).astype(np.int16)
        diff = np.abs(xa - xb)  # (n, [V,] 3, H, W)
        per_pixel = diff.max(axis=-3)
        pixels += per_pixel.size
        differing += int(np.count_nonzero(per_pixel))
        max_abs = max(max_abs, int(diff.max(initial=0)))
    return ImageDifference(pixels=pixels, differing=differing, max_abs=max_abs)


def _image(store: MultiViewStore | SingleViewStore, index: int) -> np.ndarray:
    """The stored image(s) of sample ``index``: (V, 3, H, W) or (3, H, W) uint8."""
    return np.asarray(store._shard(store._shard_of[index])[store._offset_of[index]])


# --------------------------------------------------------------------------- the committed record
def generated_splits(data_dir: str | Path) -> list[Path]:
    """Every generated split folder (``DATA/<dataset>/<split>/manifest.json``), sorted."""
    return sorted(p.parent for p in Path(data_dir).glob("*/*/manifest.json"))


def task_records(splits: list[Path]) -> TaskRecords:
    """The identities of ``splits``."""
    records = {}
    for folder in splits:
        identity = split_identity(folder)
        records[f"{identity.name}/{identity.split}"] = SplitRecord(
            samples=identity.samples, content_hash=identity.content_hash, task_hash=identity.task_hash,
            images_hash=identity.images_hash)
    return TaskRecords(splits=records)


@dataclass(frozen=True)
class SplitMatch:
    """A split held against the record of the same ``dataset/split``."""

    identity: SplitIdentity
    record: SplitRecord | None

    @property
    def verdict(self) -> str:
        """``same bytes``, ``same task, other images``, ``other task`` or ``not recorded``."""
        if self.record is None:
            return "not recorded"
        if self.record.task_hash != self.identity.task_hash:
            return "other task"
        record, identity = self.record, self.identity
        if record.images_hash != identity.images_hash or record.content_hash != identity.content_hash:
            return "same task, other images"
        return "same bytes"

    @property
    def comparable(self) -> bool:
        """Results scored on this split pair with results scored on the recorded one."""
        return self.verdict in ("same bytes", "same task, other images")

    def sentence(self) -> str:
        i = self.identity
        where = f"{i.name}/{i.split} (task {i.task_hash[:12]}, images {i.images_hash[:12]})"
        return {
            "same bytes": f"{where}: the leaderboard's split, byte for byte",
            "same task, other images": f"{where}: the leaderboard's task (same frames, ground truth and cameras) "
                                       "rendered with other image bytes (another CPU's kernels): results scored on "
                                       "it are compared with the leaderboard's, flagged; `poseboard data diff` "
                                       "measures how many pixels differ",
            "other task": f"{where}: NOT the leaderboard's task (recorded task {self.record.task_hash[:12]}"
                          if self.record else "",
            "not recorded": f"{where}: the leaderboard records no split of this name",
        }[self.verdict] + (": regenerate it with the committed params.yaml and seed, or `dvc pull` it"
                           if self.verdict == "other task" else "")


def match_split(path: str | Path, records: TaskRecords | None) -> SplitMatch:
    """The identity of the split at ``path`` and the record of the same name in ``records``."""
    identity = split_identity(path)
    record = records.find(identity.name, identity.split) if records is not None else None
    return SplitMatch(identity, record)
