"""A library of real human motion built from the CMU Graphics Lab motion capture database's BVH
conversions (files ``<subject>_<trial>.bvh``, 120 fps, the CMU skeleton, Y up), stored compactly
for the synthetic world (issue 68). ``poseboard motion library`` builds it
(docs/motion_library.md).

Each file goes through poseboard's own BVH importer (:mod:`.bvh`: the parser and forward
kinematics; :mod:`.joint_map`: the H36M17 joints; :mod:`.convert`: body height, ankle height,
resampling) at the file's own rate, then the cleaning rules below, each a named constant, every
dropped piece recorded in the manifest with its rule and reason:

* ``unreadable``: poseboard's parser refuses the file (NaN/inf values among them): the whole
  file is dropped, with the parser's message;
* ``non_finite``: frames whose joints are not finite are dropped and the clip split there;
* ``broken``: a joint moving faster than :data:`BROKEN_SPEED_MM_S` between consecutive frames
  (a marker swap, a glitch frame) splits the clip between those frames;
* ``too_short``: pieces shorter than ``min_seconds`` (:data:`MIN_SECONDS`);
* ``static``: pieces whose :data:`STATIC_PERCENTILE` th percentile joint speed (measured over
  :data:`STATIC_BASELINE_S`) is under :data:`STATIC_SPEED_MM_S`: nobody moves;
* ``off_floor``: pieces whose lowest ankle is more than :data:`FLOOR_TOLERANCE_MM` from its
  standing height above CMU's floor (y = 0) in more than :data:`OFF_FLOOR_SHARE` of the frames
  (climbing playground equipment, a wrong floor);
* ``out_of_range``: pieces that do not fit int16 millimetres (±:data:`INT16_LIMIT_MM`).

Each kept piece is then put on the floor as the importer does (its lowest ankle at
``ANKLE_SHARE`` of the body's height), resampled to ``fps`` (default 25: the world samples
every 0.5 s, the speed checks above need the source rate), and its mean pelvis moved to x = y = 0.

Storage: one byte-deterministic ``.npz`` whose layout :mod:`.library_file` documents
(:func:`~.library_file.library_npz_bytes`, :func:`~.library_file.load_library`).

CMU subjects :data:`RESERVED_CMU_SUBJECTS` are reserved for a held-out check and refused
(:func:`cmu_trial`). The board itself uses no CMU motion: its library is the Bandai Namco
Research Motion datasets' (:mod:`.bandai_library`); the whole CMU database is kept for a
held-out check.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.datasets.axes import up_to_z
from poseboard.datasets.mocap.bvh import BvhError, forward_kinematics, parse_bvh
from poseboard.datasets.mocap.convert import ANKLE_SHARE, DETECT_HEIGHT_MM, body_height
from poseboard.datasets.mocap.joint_map import map_joints
from poseboard.datasets.mocap.library_file import (  # noqa: F401 - the file format, re-exported
    FORMAT,
    LIBRARY_KEYS,
    RESERVED_CMU_SUBJECTS,
    ZIP_DATE_TIME,
    MotionLibrary,
    library_npz_bytes,
    load_library,
    resample,
)
from poseboard.errors import InputError
from poseboard.io import sha256_file
from poseboard.skeleton import H36M17

#: a CMU file name: ``<subject>_<trial>`` (``01_03.bvh``, ``143_12.bvh``)
CMU_NAME = re.compile(r"^(\d{1,3})_(\d{1,3})")
#: CMU's BVH conversions are in the ASF's length unit, 1/0.45 inch
CMU_MM_PER_UNIT = 25.4 / 0.45
#: CMU's BVH conversions have Y up and the floor at y = 0
CMU_UP = "+y"
#: joints only the CMU skeleton has: a file without them is not from CMU (or not in its units)
CMU_JOINTS = ("LHipJoint", "RHipJoint", "LowerBack", "Neck1")

DEFAULT_FPS = 25.0
#: pieces shorter than this (seconds, at the source rate) are dropped (``too_short``)
MIN_SECONDS = 2.0
#: a joint faster than this between consecutive source frames (mm/s; 15 m/s) is a broken frame
BROKEN_SPEED_MM_S = 15_000.0
#: the percentile of joint speed (all joints, all frames of a piece) the static rule looks at
STATIC_PERCENTILE = 95.0
#: ... measured as the displacement over this time (s), so marker jitter does not count as motion
STATIC_BASELINE_S = 0.2
#: a piece whose percentile speed is under this (mm/s) is static
STATIC_SPEED_MM_S = 50.0
#: how far (mm) the lowest ankle may be from its standing height above the floor
FLOOR_TOLERANCE_MM = 250.0
#: a piece with more than this share of its frames off the floor is dropped (``off_floor``)
OFF_FLOOR_SHARE = 0.5
#: int16 storage: every coordinate must be within ± this many mm
INT16_LIMIT_MM = 32767
UNLABELLED = "unlabelled"

CMU_URL = "http://mocap.cs.cmu.edu"
CMU_ACKNOWLEDGEMENT = ("The data used in this project was obtained from mocap.cs.cmu.edu. "
                       "The database was created with funding from NSF EIA-0196217.")
CMU_TERMS = ("The CMU Graphics Lab motion capture data is free for all uses, research and commercial, "
             "including in products; it may not be resold or redistributed as motion data in itself "
             "(a motion capture library for sale). Publications and products using it should acknowledge: "
             + CMU_ACKNOWLEDGEMENT)

#: rule → what it drops, for the manifest and the docs
RULES: dict[str, str] = {
    "unreadable": "poseboard's BVH parser refuses the file (NaN/inf values, truncation): the whole file is dropped",
    "non_finite": "frames with a non-finite joint are dropped; the clip is split there",
    "broken": f"a joint moves faster than {BROKEN_SPEED_MM_S / 1000:g} m/s between consecutive source frames: "
              f"the clip is split between them",
    "too_short": "a piece shorter than min_seconds",
    "static": f"the {STATIC_PERCENTILE:g}th percentile joint speed (over {STATIC_BASELINE_S:g} s) is under "
              f"{STATIC_SPEED_MM_S:g} mm/s",
    "off_floor": f"the lowest ankle is more than {FLOOR_TOLERANCE_MM:g} mm from its standing height above "
                 f"CMU's floor in more than {OFF_FLOOR_SHARE:.0%} of the frames",
    "out_of_range": f"a coordinate beyond ±{INT16_LIMIT_MM} mm after centring (int16 storage)",
}


# ------------------------------------------------------------------------ which files may enter
def cmu_trial(path: str | Path) -> tuple[str, str]:
    """(subject, trial) of a CMU file name: ``01_03.bvh`` → ``("01", "01_03")``.

    Raises:
        InputError: naming the file, when the name is not CMU's ``<subject>_<trial>`` (any
            other source), the subject is reserved, or its folder names another subject.
    """
    path = Path(path)
    match = CMU_NAME.match(path.name)
    if match is None:
        raise InputError(f"{path}: not a CMU motion capture file name '<subject>_<trial>.bvh' (e.g. 01_03.bvh); "
                         f"the CMU builder takes only the CMU database (a folder of Bandai Namco files "
                         f"dataset-<N>_... builds with their own importer, poseboard.datasets.mocap.bandai): "
                         f"remove or rename the file")
    subject, trial = match.group(1), match.group(0)
    if int(subject) in RESERVED_CMU_SUBJECTS:
        raise InputError(f"{path}: CMU subject {subject} is reserved for the held-out check (subjects "
                         f"{', '.join(f'{s:02d}' for s in RESERVED_CMU_SUBJECTS)} never enter the library); "
                         f"remove its files from the source folder")
    folder = path.parent.name
    if folder.isdigit() and int(folder) != int(subject):
        raise InputError(f"{path}: the file says subject {subject} but lies in folder {folder!r}; "
                         f"check where it came from")
    return subject, trial


def read_categories(path: str | Path) -> dict[str, str]:
    """``{trial: category}`` from a CSV with header ``clip,category`` (``01_03,walk``).

    Raises:
        InputError: naming the file and the row: unreadable, wrong header, empty cells, a clip
            listed twice with different categories.
    """
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise InputError(f"{path}: categories file not found") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc}); expected a header 'clip,category'") from None
    if list(table.columns) != ["clip", "category"]:
        raise InputError(f"{path}: the header must be 'clip,category', got {','.join(map(str, table.columns))!r}")
    out: dict[str, str] = {}
    for row, (clip, category) in enumerate(zip(table["clip"], table["category"], strict=True), start=2):
        clip, category = clip.strip(), category.strip()
        if not clip or not category:
            raise InputError(f"{path}: line {row}: an empty clip or category")
        if out.get(clip, category) != category:
            raise InputError(f"{path}: line {row}: clip {clip!r} is listed as {out[clip]!r} and as {category!r}")
        out[clip] = category
    return out


# ------------------------------------------------------------------------ one file, one clip
def source_poses(path: str | Path) -> tuple[np.ndarray, float, float]:
    """A CMU BVH file through poseboard's importer, at its own rate: ``(poses, frame_time,
    height_mm)`` with poses (F, 17, 3) H36M17 mm, Z up, CMU's floor (y = 0) at z = 0, not
    moved; ``height_mm`` the body height of :func:`.convert.body_height`.

    Raises:
        BvhError: the parser refuses the file (the caller drops it as ``unreadable``).
        InputError: the file is not in CMU's skeleton, units or up axis.
    """
    bvh = parse_bvh(path)
    missing = [j for j in CMU_JOINTS if j not in bvh.names]
    if missing:
        raise InputError(f"{path}: not the CMU skeleton (no joint {missing[0]!r}; its joints are {bvh.names[:8]}…); "
                         f"the library takes only the CMU database's BVH conversions")
    raw = forward_kinematics(bvh)[:, map_joints(bvh)]  # (F, 17, 3) CMU units, Y up
    poses = raw @ up_to_z(CMU_UP).T * CMU_MM_PER_UNIT
    height = checked_body_height(poses, path, f"CMU's unit ({CMU_MM_PER_UNIT:.4g} mm)", "CMU's axis",
                                 "a CMU conversion")
    return poses, bvh.frame_time, height


def checked_body_height(poses: np.ndarray, path: str | Path, unit: str, axis: str, source: str) -> float:
    """The body height (:func:`.convert.body_height`, mm) of a source's poses (F, 17, 3) mm, Z up,
    once it is a person's (0.9–2.6 m) standing on its feet.

    Raises:
        InputError: naming the file, the source's ``unit`` and ``axis``: not ``source``.
    """
    finite = np.isfinite(poses).all(axis=(1, 2))
    height = body_height(poses[finite]) if finite.any() else float("nan")
    if not DETECT_HEIGHT_MM[0] <= height <= DETECT_HEIGHT_MM[1]:
        raise InputError(f"{path}: in {unit} the body is {height / 1000:.3g} m tall, not "
                         f"{DETECT_HEIGHT_MM[0] / 1000:g}–{DETECT_HEIGHT_MM[1] / 1000:g} m: not {source}")
    if np.median((poses[finite, 9] - poses[finite, 6])[:, 2]) <= 0:
        raise InputError(f"{path}: with Y up ({axis}) the body stands on its head: not {source}")
    return height


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def clean_clip(poses: np.ndarray, frame_time: float, height_mm: float,
               min_seconds: float = MIN_SECONDS) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """The pieces of a clip the cleaning rules keep, and what they drop.

    Args:
        poses: (F, 17, 3) mm, Z up, the file's floor at z = 0, at the source rate.
        frame_time: seconds between frames.
        height_mm: the body's height (:func:`.convert.body_height`), for the ankle's standing height.
        min_seconds: the ``too_short`` bound.

    Returns:
        kept: [start, end) source frames of every kept piece, in order;
        dropped: one record per drop or split: ``rule``, ``source_frames`` [start, end)
        (for ``broken``, the two frames it splits between), ``seconds`` dropped, ``reason``.
    """
    F = len(poses)
    dropped: list[dict[str, Any]] = []

    def drop(rule: str, a: int, b: int, reason: str, seconds: float | None = None) -> None:
        dropped.append({"rule": rule, "source_frames": [a, b],
                        "seconds": round((b - a) * frame_time if seconds is None else seconds, 3), "reason": reason})

    finite = np.isfinite(poses).all(axis=(1, 2))
    for a, b in _runs(~finite):
        drop("non_finite", a, b, f"{b - a} frame(s) with NaN/inf joints from source frame {a}")
    with np.errstate(invalid="ignore"):
        step = np.linalg.norm(np.diff(poses, axis=0), axis=-1) / frame_time  # (F - 1, 17) mm/s
        step = np.where(np.isfinite(step), step, 0.0)
    fast = step.max(axis=1) > BROKEN_SPEED_MM_S  # (F - 1,) transition t → t + 1
    for t in np.flatnonzero(fast).tolist():
        j = int(np.argmax(step[t]))
        drop("broken", t, t + 1, f"{H36M17.joint_names[j]} moves {step[t, j] / 1000:.1f} m/s between source frames "
                                 f"{t} and {t + 1} (limit {BROKEN_SPEED_MM_S / 1000:g} m/s): split there", 0.0)
    # a piece starts at every finite frame after a cut (the first frame, a broken step, a non-finite frame)
    # and runs to the next cut
    cut = np.concatenate([[True], fast | ~finite[:-1] | ~finite[1:]])  # (F,): frame t starts a piece
    cuts = np.append(np.flatnonzero(cut), F)
    starts = np.flatnonzero(cut & finite)
    pieces = [(int(a), int(cuts[np.searchsorted(cuts, a, side="right")])) for a in starts]
    ankle_height = ANKLE_SHARE * height_mm
    lag = max(1, round(STATIC_BASELINE_S / frame_time))
    kept = []
    for a, b in pieces:
        seg = poses[a:b]
        duration = (b - a - 1) * frame_time
        if duration < min_seconds:
            drop("too_short", a, b, f"{duration:.2f} s, shorter than {min_seconds:g} s")
            continue
        k = min(lag, len(seg) - 1)
        speed = (np.linalg.norm(seg[k:] - seg[:-k], axis=-1) / (k * frame_time)) if k > 0 else np.zeros(1)
        typical = float(np.percentile(speed, STATIC_PERCENTILE))
        if typical < STATIC_SPEED_MM_S:
            drop("static", a, b, f"{STATIC_PERCENTILE:g}th percentile joint speed {typical:.0f} mm/s, under "
                                 f"{STATIC_SPEED_MM_S:g} mm/s")
            continue
        above = seg[:, [0, 5], 2].min(axis=1) - ankle_height  # lowest ankle above its standing height
        off = float(np.mean(np.abs(above) > FLOOR_TOLERANCE_MM))
        if off > OFF_FLOOR_SHARE:
            drop("off_floor", a, b, f"the lowest ankle is more than {FLOOR_TOLERANCE_MM:g} mm from its standing height "
                                    f"({ankle_height:.0f} mm) in {off:.0%} of the frames (median "
                                    f"{np.median(above):+.0f} mm)")
            continue
        kept.append((a, b))
    return kept, dropped


def finish_piece(poses: np.ndarray, frame_time: float, height_mm: float, fps: float) -> np.ndarray:
    """A kept piece as the importer leaves a motion: (F, 17, 3) source-rate mm → (M, 17, 3) mm at
    ``fps``, its lowest ankle at ``ANKLE_SHARE`` · height above z = 0 and its mean pelvis at x = y = 0."""
    floor = float(poses[:, [0, 5], 2].min()) - ANKLE_SHARE * height_mm
    out = resample(poses, frame_time, fps)
    centre = out[:, 6, :2].mean(axis=0)
    return out - np.array([centre[0], centre[1], floor])


def kept_pieces(poses: np.ndarray, frame_time: float, height_mm: float, fps: float, min_seconds: float = MIN_SECONDS,
                ) -> tuple[list[tuple[int, int, np.ndarray]], list[dict[str, Any]]]:
    """A clip through the cleaning rules (:func:`clean_clip`), each kept piece placed and
    resampled (:func:`finish_piece`) unless it breaks ``out_of_range``: ``[(start, end, (M, 17, 3)
    mm at fps)]`` in order, and the drops sorted by source frame and rule."""
    kept, drops = clean_clip(poses, frame_time, height_mm, min_seconds)
    pieces = []
    for a, b in kept:
        out = finish_piece(poses[a:b], frame_time, height_mm, fps)
        if np.abs(out).max() > INT16_LIMIT_MM:
            drops.append({"rule": "out_of_range", "source_frames": [a, b], "seconds": round((b - a) * frame_time, 3),
                          "reason": f"{np.abs(out).max() / 1000:.1f} m from the centre, beyond int16 mm"})
            continue
        pieces.append((a, b, out))
    return pieces, sorted(drops, key=lambda d: (d["source_frames"][0], d["rule"]))


# ------------------------------------------------------------------------ the library
def cleaning_constants(min_seconds: float) -> dict[str, Any]:
    return {"min_seconds": min_seconds, "broken_speed_mm_s": BROKEN_SPEED_MM_S,
            "static_percentile": STATIC_PERCENTILE, "static_baseline_s": STATIC_BASELINE_S,
            "static_speed_mm_s": STATIC_SPEED_MM_S, "floor_tolerance_mm": FLOOR_TOLERANCE_MM,
            "off_floor_share": OFF_FLOOR_SHARE, "ankle_share_of_height": ANKLE_SHARE,
            "int16_limit_mm": INT16_LIMIT_MM, "rules": RULES}


def build_library(files: Sequence[str | Path], fps: float = DEFAULT_FPS, categories: str | Path | None = None,
                  min_seconds: float = MIN_SECONDS, root: str | Path | None = None,
                  source: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The library arrays (:data:`LIBRARY_KEYS`) and its manifest from CMU BVH files, in the
    order given. Every name is checked (:func:`cmu_trial`) before any file is read.

    Args:
        files: CMU BVH files.
        fps: the stored rate; at most the source rate.
        categories: an optional CSV ``clip,category``.
        min_seconds: the ``too_short`` bound.
        root: the folder the manifest's file names are relative to (default: the bare names).
        source: where the files came from (``una-dinosauria/cmu-mocap@<commit>``).

    Raises:
        InputError: a refused name or subject, a trial twice, no files, a bad fps or
            min_seconds, a bad categories file, a file not from CMU, nothing left after cleaning.
    """
    if not files:
        raise InputError("no BVH files given: the source folder holds no *.bvh")
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"--fps {fps}: the stored rate must be a positive number of frames per second")
    if not (np.isfinite(min_seconds) and min_seconds >= 0):
        raise InputError(f"--min-seconds {min_seconds}: must be a number of seconds ≥ 0")
    paths = [Path(f) for f in files]
    names = [cmu_trial(p) for p in paths]
    seen: dict[str, Path] = {}
    for p, (_, trial) in zip(paths, names, strict=True):
        if trial in seen:
            raise InputError(f"{p}: trial {trial} is also {seen[trial]}; keep one of them")
        seen[trial] = p
    labels = read_categories(categories) if categories is not None else {}
    root_path = Path(root) if root is not None else None

    def rel(p: Path) -> str:
        return p.relative_to(root_path).as_posix() if root_path is not None else p.name

    chunks: list[np.ndarray] = []
    clips: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    for path, (subject, trial) in zip(paths, names, strict=True):
        category = labels.get(trial, UNLABELLED)
        entry: dict[str, Any] = {"file": rel(path), "sha256": sha256_file(path), "subject": subject, "trial": trial,
                                 "category": category}
        listed.append(entry)
        try:
            poses, frame_time, height = source_poses(path)
        except BvhError as exc:
            dropped.append({"trial": trial, "rule": "unreadable", "source_frames": None, "seconds": None,
                            "reason": str(exc).replace(str(path), rel(path))})  # no machine's paths
            continue
        if fps > 1 / frame_time * (1 + 1e-3):
            raise InputError(f"{path}: --fps {fps:g} is above the file's own rate ({1 / frame_time:.4g} fps)")
        entry.update(source_frames=len(poses), source_fps=round(1 / frame_time, 3),
                     body_height_mm=round(height, 1))
        pieces, drops = kept_pieces(poses, frame_time, height, fps, min_seconds)
        dropped.extend({"trial": trial, **d} for d in drops)
        for k, (a, b, out) in enumerate(pieces, start=1):
            clips.append({"clip": trial if len(pieces) == 1 else f"{trial}.{k}", "trial": trial, "subject": subject,
                          "category": category, "frames": len(out), "seconds": round(len(out) / fps, 3),
                          "source_frames": [a, b]})
            chunks.append(np.rint(out).astype(np.int16))
    if not clips:
        why = Counter(d["rule"] for d in dropped)
        raise InputError(f"no clip survived cleaning ({dict(sorted(why.items()))} dropped); nothing to write")
    sizes = np.array([len(c) for c in chunks], dtype=np.int64)
    arrays = {
        "poses": np.concatenate(chunks),
        "clip_start": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        **{key: np.array([c[key] for c in clips], dtype=str) for key in ("clip", "trial", "subject", "category")},
        "fps": np.array(float(fps)),
    }
    frames = int(sizes.sum())
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "source": source or "unstated (pass --source, e.g. una-dinosauria/cmu-mocap@<commit>)",
        "database": {"url": CMU_URL, "terms": CMU_TERMS, "acknowledgement": CMU_ACKNOWLEDGEMENT},
        "reserved_subjects_refused": [f"{s:02d}" for s in RESERVED_CMU_SUBJECTS],
        "source_units": {"mm_per_unit": CMU_MM_PER_UNIT, "up": CMU_UP},
        "fps": float(fps),
        "cleaning": cleaning_constants(min_seconds),
        "categories": None if categories is None else {"file": Path(categories).name,
                                                        "sha256": sha256_file(categories)},
        "files": listed,
        "clips": clips,
        "dropped": dropped,
        "totals": {"files": len(listed), "clips_kept": len(clips), "subjects": sorted(set(arrays["subject"].tolist())),
                   "dropped_by_rule": dict(sorted(Counter(d["rule"] for d in dropped).items())),
                   "frames": frames, "seconds": round(frames / fps, 3), "hours": round(frames / fps / 3600, 4)},
    }
    return arrays, manifest


def manifest_path(out: str | Path) -> Path:
    """The manifest beside a library: ``cmu.npz`` → ``cmu.manifest.json``."""
    out = Path(out)
    return out.with_name(out.stem + ".manifest.json")


def write_library(out: str | Path, arrays: dict[str, np.ndarray], manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the library ``.npz`` and its manifest (with the npz's bytes and SHA-256) atomically;
    returns the manifest written."""
    from poseboard.io import atomic_write_bytes, atomic_write_text

    out = Path(out)
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out {out}: the library file must end in .npz")
    data = library_npz_bytes(arrays)
    frames = len(arrays["poses"])
    manifest = {**manifest, "npz": {"file": out.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                    "bytes_per_frame": int(arrays["poses"][:1].nbytes),
                                    "mb_per_hour": round(arrays["poses"][:1].nbytes * float(arrays["fps"]) * 3600 / 1e6,
                                                         3), "frames": frames}}
    atomic_write_bytes(out, data)
    atomic_write_text(manifest_path(out), json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest
