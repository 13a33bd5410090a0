"""The on-disk format of generated datasets (``poseboard-dataset``, version 1), writer and reader.

One folder per (dataset, split), e.g. ``data/synth-h36m/train/``::

    manifest.json          format, format_version, name, split, kind, config, seed, counts,
                           image_size, camera_names, files {path: {bytes, sha256}}, content_hash
    samples.csv            one row per sample: sample_id, subject, action, sequence, frame,
                           scene, shard, offset, rig (+ people_start, people_count: single-view)
    images/shard_00000.npy uint8, (n, V, 3, H, W) multi-view or (n, 3, H, W) single-view;
                           consecutive samples, ``samples.csv`` says which shard and offset
    rigs/rig_000.json      full-frame cameras in the rig JSON format (``poseboard.camera``)
    multi-view arrays      boxes.npy (N, V, 4) int32 crop boxes (left, top, right, bottom;
                           original pixels, right/bottom exclusive); joints_3d.npy (N, J, 3)
                           float64 world mm; joints_2d.npy (N, V, J, 2) float64 crop pixels;
                           visibility.npy (N, V, J) bool; view_valid.npy (N, V) bool
    single-view arrays     people.csv (image, subject, action, sequence); people_boxes.npy
                           (P, 4) float64 image pixels; people_root_cam.npy (P, 3) and
                           people_joints_cam.npy (P, J, 3) float64 camera mm;
                           people_joints_2d.npy (P, J, 2) float64 image pixels;
                           people_visibility.npy (P, J) bool; people_valid.npy (P,) bool

A multi-view sample's crop cameras are rebuilt as ``rig[v].crop_and_resize(boxes[i, v],
image_size)`` — the same call the generator rendered with. Single-view rigs hold one camera
at the stored image size. Every file is written atomically, into a hidden ``.<split>.partial-*``
folder that replaces the split folder only once the manifest is written, so a reader never
sees a half-written dataset. Readers memory-map the shards
(``np.load(..., mmap_mode="r", allow_pickle=False)``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from poseboard.camera import Camera, load_rig, save_rig
from poseboard.errors import ResultFileError, validation_message
from poseboard.io import atomic_write_text, atomic_write_with, sha256_file
from poseboard.samples import MultiViewSample, Person, SampleMeta, SingleViewScene

FORMAT_NAME = "poseboard-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SAMPLES_CSV = "samples.csv"
PEOPLE_CSV = "people.csv"

Kind = Literal["multiview", "singleview"]

MULTIVIEW_ARRAYS = ("boxes", "joints_3d", "joints_2d", "visibility", "view_valid")
SINGLEVIEW_ARRAYS = (
    "people_boxes", "people_root_cam", "people_joints_cam", "people_joints_2d", "people_visibility",
    "people_valid",
)  # fmt: skip
_SAMPLE_COLUMNS = ("sample_id", "subject", "action", "sequence", "frame", "scene", "shard", "offset", "rig")


# --------------------------------------------------------------------------- manifest
class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bytes: int
    sha256: str


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: int
    views: int  # cameras per sample (1 for single-view)
    joints: int
    shards: int
    rigs: int
    people: int | None  # single-view only


class Manifest(BaseModel):
    """``manifest.json`` of a dataset split."""

    model_config = ConfigDict(extra="forbid")

    format: str
    format_version: int
    name: str
    split: str
    kind: Kind
    skeleton: str
    seed: int | None
    config: dict[str, Any]
    counts: Counts
    image_size: tuple[int, int]  # (width, height) of the stored images
    camera_names: list[str]
    files: dict[str, FileEntry]
    content_hash: str
    generator: str
    stats: dict[str, float] = {}

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        if v != FORMAT_NAME:
            raise ValueError(f"must be {FORMAT_NAME!r}")
        return v

    @field_validator("format_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != FORMAT_VERSION:
            raise ValueError(
                f"unsupported dataset format version {v} (this poseboard reads {FORMAT_VERSION}); regenerate it"
            )
        return v


def content_hash(files: dict[str, FileEntry]) -> str:
    """sha256 over the sorted ``path  sha256`` lines of every file of a dataset."""
    lines = "".join(f"{path}  {files[path].sha256}\n" for path in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


# --------------------------------------------------------------------------- writer
class DatasetWriter:
    """Writes one dataset split: images shard by shard as they are rendered, then the tables
    and arrays, then the manifest, then moves the folder into place.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> w = DatasetWriter(root / "toy" / "test", kind="singleview", image_shape=(3, 4, 4))
        >>> w.add_images(np.zeros((2, 3, 4, 4), np.uint8)); w.num_images
        2
        >>> w.abort()
    """

    def __init__(self, path: str | Path, kind: Kind, image_shape: tuple[int, ...], shard_bytes: int = 64 << 20):
        self.path = Path(path)
        self.kind = kind
        self.image_shape = tuple(int(s) for s in image_shape)
        per_sample = int(np.prod(self.image_shape))
        self.shard_samples = max(1, shard_bytes // per_sample)
        self.tmp = self.path.parent / f".{self.path.name}.partial-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        (self.tmp / "images").mkdir(parents=True)
        (self.tmp / "rigs").mkdir()
        self._buffer = np.zeros((self.shard_samples, *self.image_shape), dtype=np.uint8)
        self._filled = 0
        self._shard = 0
        self.num_images = 0
        self.locations: list[tuple[int, int]] = []  # (shard, offset) of every sample
        self.num_rigs = 0

    def add_images(self, images: np.ndarray) -> None:
        """Append (n, *image_shape) uint8 images (the samples, in order)."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != self.image_shape:
            raise ValueError(f"images must be uint8 (n, {self.image_shape}), got {images.dtype} {images.shape}")
        start = 0
        while start < images.shape[0]:
            take = min(images.shape[0] - start, self.shard_samples - self._filled)
            self._buffer[self._filled : self._filled + take] = images[start : start + take]
            self.locations.extend((self._shard, self._filled + k) for k in range(take))
            self._filled += take
            start += take
            if self._filled == self.shard_samples:
                self._flush()
        self.num_images += images.shape[0]

    def _flush(self) -> None:
        if self._filled == 0:
            return
        data = self._buffer[: self._filled]
        atomic_write_with(self.tmp / "images" / f"shard_{self._shard:05d}.npy", lambda f: np.save(f, data))
        self._shard += 1
        self._filled = 0

    def add_rig(self, cameras: Sequence[Camera]) -> int:
        """Store a rig; returns its index (the ``rig`` column of ``samples.csv``)."""
        index = self.num_rigs
        save_rig(cameras, self.tmp / "rigs" / f"rig_{index:03d}.json")
        self.num_rigs += 1
        return index

    def write_array(self, name: str, array: np.ndarray) -> None:
        arr = np.ascontiguousarray(array)
        atomic_write_with(self.tmp / f"{name}.npy", lambda f: np.save(f, arr, allow_pickle=False))

    def write_table(self, name: str, table: pd.DataFrame) -> None:
        atomic_write_text(self.tmp / name, table.to_csv(index=False, lineterminator="\n"))

    def finish(self, *, name: str, split: str, seed: int | None, config: dict[str, Any], counts: dict[str, Any],
               image_size: tuple[int, int], camera_names: list[str], generator: str,
               stats: dict[str, float] | None = None) -> Manifest:
        """Flush the last shard, hash every file, write the manifest, move the folder into place."""
        self._flush()
        files = {}
        for file in sorted(p for p in self.tmp.rglob("*") if p.is_file()):
            rel = file.relative_to(self.tmp).as_posix()
            files[rel] = FileEntry(bytes=file.stat().st_size, sha256=sha256_file(file))
        counts = {**counts, "shards": self._shard, "rigs": self.num_rigs}
        manifest = Manifest(
            format=FORMAT_NAME, format_version=FORMAT_VERSION, name=name, split=split, kind=self.kind,
            skeleton="h36m17", seed=seed, config=config, counts=Counts(**counts), image_size=image_size,
            camera_names=camera_names, files=files, content_hash=content_hash(files), generator=generator,
            stats=stats or {},
        )
        text = json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        atomic_write_text(self.tmp / MANIFEST, text)
        old = None
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old)
        return manifest

    def abort(self) -> None:
        """Remove the partial folder (on error)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- reader
def read_manifest(path: str | Path) -> Manifest:
    """Read and validate ``<path>/manifest.json``; errors name the file and the bad field."""
    folder = Path(path)
    file = folder / MANIFEST
    if not folder.is_dir():
        raise ResultFileError(f"{folder}: dataset folder not found (generate it with `poseboard generate`)")
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ResultFileError(
            f"{file}: manifest missing — not a poseboard dataset, or its generation did not finish"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{file}: not valid JSON ({exc})") from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ResultFileError(f"{file}: {validation_message(exc)}") from None
    if manifest.content_hash != content_hash(manifest.files):
        raise ResultFileError(f"{file}: content_hash does not match the listed files (the manifest was edited)")
    return manifest


def verify_files(path: str | Path, manifest: Manifest | None = None, hashes: bool = True) -> None:
    """Check that every file the manifest lists exists with its size (and sha256 if ``hashes``)."""
    folder = Path(path)
    manifest = manifest or read_manifest(folder)
    for rel, entry in manifest.files.items():
        file = folder / rel
        if not file.is_file():
            raise ResultFileError(f"{file}: missing (listed in {folder / MANIFEST})")
        size = file.stat().st_size
        if size != entry.bytes:
            raise ResultFileError(f"{file}: {size} bytes, the manifest says {entry.bytes} (truncated or replaced)")
        if hashes and sha256_file(file) != entry.sha256:
            raise ResultFileError(f"{file}: sha256 does not match the manifest (corrupt or modified)")


def _load_npy(file: Path, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise ResultFileError(f"{file}: missing") from None
    except (ValueError, OSError, EOFError) as exc:
        raise ResultFileError(f"{file}: not a readable .npy array ({exc})") from None


def _read_csv(file: Path, columns: Sequence[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ResultFileError(f"{file}: missing") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{file}: not a readable CSV table ({exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ResultFileError(f"{file}: missing column(s) {missing}")
    return table


def _int_column(table: pd.DataFrame, column: str, file: Path) -> np.ndarray:
    try:
        return table[column].astype(np.int64).to_numpy()
    except ValueError:
        raise ResultFileError(f"{file}: column {column!r} must hold integers") from None


@dataclass
class _Common:
    path: Path
    manifest: Manifest
    table: pd.DataFrame
    shards: list[np.ndarray]
    rigs: list[list[Camera]]
    shard_of: np.ndarray
    offset_of: np.ndarray
    rig_of: np.ndarray


def _open_common(path: str | Path, kind: Kind, verify: bool) -> _Common:
    folder = Path(path)
    manifest = read_manifest(folder)
    if manifest.kind != kind:
        raise ResultFileError(f"{folder / MANIFEST}: a {manifest.kind} dataset, expected {kind}")
    verify_files(folder, manifest, hashes=verify)
    samples_file = folder / SAMPLES_CSV
    columns = _SAMPLE_COLUMNS + (("people_start", "people_count") if kind == "singleview" else ())
    table = _read_csv(samples_file, columns)
    n = manifest.counts.samples
    if len(table) != n:
        raise ResultFileError(f"{samples_file}: {len(table)} rows, the manifest says {n} samples")
    shards = []
    for k in range(manifest.counts.shards):
        file = folder / "images" / f"shard_{k:05d}.npy"
        arr = _load_npy(file, mmap=True)
        w, h = manifest.image_size
        per = (manifest.counts.views, 3, h, w) if kind == "multiview" else (3, h, w)
        if arr.dtype != np.uint8 or arr.shape[1:] != per:
            want = ", ".join(map(str, per))
            raise ResultFileError(f"{file}: expected uint8 (n, {want}), got {arr.dtype} {arr.shape}")
        shards.append(arr)
    rigs = []
    for k in range(manifest.counts.rigs):
        rigs.append(load_rig(folder / "rigs" / f"rig_{k:03d}.json"))
    shard_of = _int_column(table, "shard", samples_file)
    offset_of = _int_column(table, "offset", samples_file)
    rig_of = _int_column(table, "rig", samples_file)
    if n and (shard_of.min() < 0 or shard_of.max() >= len(shards)):
        raise ResultFileError(f"{samples_file}: shard index out of range 0..{len(shards) - 1}")
    if n and (np.any(offset_of < 0) or np.any(offset_of >= np.array([len(shards[s]) for s in shard_of]))):
        raise ResultFileError(f"{samples_file}: an offset points past the end of its shard")
    if n and (rig_of.min() < 0 or rig_of.max() >= len(rigs)):
        raise ResultFileError(f"{samples_file}: rig index out of range 0..{len(rigs) - 1}")
    views = manifest.counts.views
    for k, rig in enumerate(rigs):
        if len(rig) != views:
            raise ResultFileError(f"{folder / 'rigs' / f'rig_{k:03d}.json'}: {len(rig)} cameras, expected {views}")
    return _Common(folder, manifest, table, shards, rigs, shard_of, offset_of, rig_of)


def _check_array(folder: Path, name: str, arr: np.ndarray, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    file = folder / f"{name}.npy"
    if arr.shape != shape:
        raise ResultFileError(f"{file}: shape {arr.shape}, expected {shape}")
    if np.dtype(arr.dtype).kind != np.dtype(dtype).kind:
        raise ResultFileError(f"{file}: dtype {arr.dtype}, expected {dtype}")
    return arr


class _Store:
    """Shared by both kinds: memory-mapped shards, reopened after pickling (DataLoader workers
    get the file names, not copies of the images)."""

    path: Path
    manifest: Manifest
    _shards: list[np.ndarray] | None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shards"] = None
        return state

    def _shard(self, k: int) -> np.ndarray:
        if self._shards is None:
            self._shards = [
                _load_npy(self.path / "images" / f"shard_{i:05d}.npy", mmap=True)
                for i in range(self.manifest.counts.shards)
            ]
        return self._shards[k]


class MultiViewStore(_Store):
    """A multi-view dataset split on disk, read lazily (memory-mapped images).

    Example:
        >>> store = MultiViewStore("data/synth-h36m/test")  # doctest: +SKIP
        >>> sample = store.sample(0, views=[0, 2])  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, verify: bool = False):
        c = _open_common(path, "multiview", verify)
        self.path, self.manifest, self.table = c.path, c.manifest, c.table
        self._shards, self._rigs = c.shards, c.rigs
        self._shard_of, self._offset_of, self._rig_of = c.shard_of, c.offset_of, c.rig_of
        n, v, j = self.manifest.counts.samples, self.manifest.counts.views, self.manifest.counts.joints
        load = {name: _load_npy(self.path / f"{name}.npy") for name in MULTIVIEW_ARRAYS}
        self.boxes = _check_array(self.path, "boxes", load["boxes"], (n, v, 4), "int32")
        self.joints_3d = _check_array(self.path, "joints_3d", load["joints_3d"], (n, j, 3), "float64")
        self.joints_2d = _check_array(self.path, "joints_2d", load["joints_2d"], (n, v, j, 2), "float64")
        self.visibility = _check_array(self.path, "visibility", load["visibility"], (n, v, j), "bool")
        self.view_valid = _check_array(self.path, "view_valid", load["view_valid"], (n, v), "bool")
        self._meta = [
            SampleMeta(sample_id=r.sample_id, subject=r.subject, action=r.action, sequence=r.sequence,
                       frame=int(r.frame), scene=r.scene)
            for r in self.table.itertuples(index=False)
        ]

    def __len__(self) -> int:
        return self.manifest.counts.samples

    @property
    def num_views(self) -> int:
        return self.manifest.counts.views

    @property
    def camera_names(self) -> list[str]:
        return list(self.manifest.camera_names)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.manifest.image_size)  # type: ignore[return-value]

    def meta(self, index: int) -> SampleMeta:
        return self._meta[index]

    def full_cameras(self, index: int) -> list[Camera]:
        """The full-frame cameras of sample ``index`` (before cropping)."""
        return self._rigs[self._rig_of[index]]

    def _views(self, views: Sequence[int] | None) -> np.ndarray:
        if views is None:
            return np.arange(self.num_views)
        idx = np.asarray(list(views), dtype=np.int64)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.num_views:
            raise IndexError(f"{self.path}: view indices {list(views)} out of range 0..{self.num_views - 1}")
        return idx

    def sample(self, index: int, views: Sequence[int] | None = None) -> MultiViewSample:
        """Sample ``index`` seen by ``views`` (indices into ``camera_names``; None: all)."""
        if not 0 <= index < len(self):
            raise IndexError(f"{self.path}: sample {index} out of range 0..{len(self) - 1}")
        idx = self._views(views)
        images = np.asarray(self._shard(self._shard_of[index])[self._offset_of[index]][idx])
        rig = self._rigs[self._rig_of[index]]
        size = self.image_size
        cameras = [rig[v].crop_and_resize(self.boxes[index, v], size) for v in idx]
        return MultiViewSample(
            images=images, cameras=cameras, boxes=self.boxes[index, idx].astype(np.float64),
            joints_3d=self.joints_3d[index].copy(), joints_2d=self.joints_2d[index, idx].copy(),
            visibility=self.visibility[index, idx].copy(), meta=self._meta[index],
            view_valid=self.view_valid[index, idx].copy(),
        )


class SingleViewStore(_Store):
    """A single-view multi-person dataset split on disk (MuPoTS-like), read lazily."""

    def __init__(self, path: str | Path, verify: bool = False):
        c = _open_common(path, "singleview", verify)
        self.path, self.manifest, self.table = c.path, c.manifest, c.table
        self._shards, self._rigs = c.shards, c.rigs
        self._shard_of, self._offset_of, self._rig_of = c.shard_of, c.offset_of, c.rig_of
        j = self.manifest.counts.joints
        p = self.manifest.counts.people or 0
        people_file = self.path / PEOPLE_CSV
        self.people_table = _read_csv(people_file, ("image", "subject", "action", "sequence"))
        if len(self.people_table) != p:
            raise ResultFileError(f"{people_file}: {len(self.people_table)} rows, the manifest says {p} people")
        load = {name: _load_npy(self.path / f"{name}.npy") for name in SINGLEVIEW_ARRAYS}
        self.people_boxes = _check_array(self.path, "people_boxes", load["people_boxes"], (p, 4), "float64")
        self.people_root_cam = _check_array(self.path, "people_root_cam", load["people_root_cam"], (p, 3), "float64")
        self.people_joints_cam = _check_array(
            self.path, "people_joints_cam", load["people_joints_cam"], (p, j, 3), "float64")
        self.people_joints_2d = _check_array(
            self.path, "people_joints_2d", load["people_joints_2d"], (p, j, 2), "float64")
        self.people_visibility = _check_array(
            self.path, "people_visibility", load["people_visibility"], (p, j), "bool")
        self.people_valid = _check_array(self.path, "people_valid", load["people_valid"], (p,), "bool")
        samples_file = self.path / SAMPLES_CSV
        self._start = _int_column(self.table, "people_start", samples_file)
        self._count = _int_column(self.table, "people_count", samples_file)
        if np.any(self._start < 0) or np.any(self._count < 0) or np.any(self._start + self._count > p):
            raise ResultFileError(f"{samples_file}: people_start/people_count point outside {people_file}")
        self._meta = [
            SampleMeta(sample_id=r.sample_id, subject=r.subject, action=r.action, sequence=r.sequence,
                       frame=int(r.frame), scene=r.scene)
            for r in self.table.itertuples(index=False)
        ]

    def __len__(self) -> int:
        return self.manifest.counts.samples

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.manifest.image_size)  # type: ignore[return-value]

    def meta(self, index: int) -> SampleMeta:
        return self._meta[index]

    def scene(self, index: int) -> SingleViewScene:
        if not 0 <= index < len(self):
            raise IndexError(f"{self.path}: scene {index} out of range 0..{len(self) - 1}")
        image = np.asarray(self._shard(self._shard_of[index])[self._offset_of[index]])
        camera = self._rigs[self._rig_of[index]][0]
        people = []
        for k in range(self._start[index], self._start[index] + self._count[index]):
            people.append(Person(
                box=self.people_boxes[k].copy(), root_cam=self.people_root_cam[k].copy(),
                joints_cam=self.people_joints_cam[k].copy(), joints_2d=self.people_joints_2d[k].copy(),
                visibility=self.people_visibility[k].copy(), valid=bool(self.people_valid[k]),
            ))
        return SingleViewScene(image=image, camera=camera, people=people, meta=self._meta[index])


def open_dataset(path: str | Path, verify: bool = False) -> MultiViewStore | SingleViewStore:
    """Open a dataset split of either kind (``verify``: also check every file's sha256)."""
    manifest = read_manifest(path)
    return MultiViewStore(path, verify) if manifest.kind == "multiview" else SingleViewStore(path, verify)
