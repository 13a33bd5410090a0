"""The real-motion library built from the Bandai Namco Research Motion datasets (issue 79):
every clip through :func:`~poseboard.datasets.mocap.bandai.bandai_poses` (poseboard's own BVH
importer with Bandai's joint map), cleaned by the library's rules
(:func:`~poseboard.datasets.mocap.library.clean_clip`), placed and resampled
(:func:`~poseboard.datasets.mocap.library.finish_piece`), labelled with its dataset, content,
style, take and held-out role (:mod:`.bandai_split`), and stored as a format-2 library
(:mod:`.library_file`). Byte-deterministic: the same files and options give the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.datasets.mocap import bandai, bandai_split
from poseboard.datasets.mocap.bvh import BvhError
from poseboard.datasets.mocap.library import DEFAULT_FPS, MIN_SECONDS, cleaning_constants, kept_pieces
from poseboard.datasets.mocap.library_file import FORMAT_2, LABEL_KEYS, LIBRARY_KEYS
from poseboard.errors import InputError
from poseboard.io import sha256_file


def build_bandai_library(files: Sequence[str | Path], fps: float = DEFAULT_FPS, min_seconds: float = MIN_SECONDS,
                         root: str | Path | None = None, source: str = "",
                         split_names: Sequence[str | Path] | None = None,
                         ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The format-2 library arrays (:data:`LIBRARY_KEYS` + :data:`LABEL_KEYS`) and manifest from
    Bandai BVH files, in sorted name order. Every name is checked before any file is read.

    Args:
        files: Bandai BVH files (``dataset-<N>_<content>_<style>_<take>.bvh``).
        fps: the stored rate, at most the files' 30.
        min_seconds: the ``too_short`` bound.
        root: the folder the manifest's file names are relative to (default: the bare names).
        source: where the files came from (the archive's name and SHA-256, the upstream commit).
        split_names: every clip name the held-out split is decided over (default: ``files``):
            the whole dataset's names when only a handful of its clips is built (smoke).

    Raises:
        InputError: a name that is not Bandai's, a clip twice, a label file that disagrees with
            its name, a bad fps or min_seconds, a file not in Bandai's skeleton, nothing left.
    """
    if not files:
        raise InputError("no Bandai BVH files given")
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps {fps}: the stored rate must be a positive number of frames per second")
    if not (np.isfinite(min_seconds) and min_seconds >= 0):
        raise InputError(f"min_seconds {min_seconds}: must be a number of seconds ≥ 0")
    paths = sorted((Path(f) for f in files), key=lambda p: p.name)
    names = [bandai.parse_name(p) for p in paths]
    seen: dict[bandai.BandaiClip, Path] = {}
    for p, clip in zip(paths, names, strict=True):
        if clip in seen:
            raise InputError(f"{p}: clip {clip.stem} is also {seen[clip]}; keep one of them")
        seen[clip] = p
    everyone = names if split_names is None else [bandai.parse_name(p) for p in split_names]
    missing = sorted(set(names) - set(everyone))
    if missing:
        raise InputError(f"{seen[missing[0]]}: not among the names the split is decided over")
    role_of = bandai_split.roles(everyone)
    root_path = Path(root) if root is not None else None

    def rel(p: Path) -> str:
        return p.relative_to(root_path).as_posix() if root_path is not None else p.name

    chunks: list[np.ndarray] = []
    clips: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    for path, clip in zip(paths, names, strict=True):
        bandai.check_labels(path, clip)
        entry: dict[str, Any] = {"file": rel(path), "sha256": sha256_file(path), "dataset": clip.dataset,
                                 "content": clip.content, "style": clip.style, "take": clip.take,
                                 "role": role_of[clip]}
        listed.append(entry)
        try:
            poses, frame_time, height = bandai.bandai_poses(path)
        except BvhError as exc:
            dropped.append({"trial": clip.stem, "rule": "unreadable", "source_frames": None, "seconds": None,
                            "reason": str(exc).replace(str(path), rel(path))})
            continue
        if fps > 1 / frame_time * (1 + 1e-3):
            raise InputError(f"{path}: fps {fps:g} is above the file's own rate ({1 / frame_time:.4g} fps)")
        entry.update(source_frames=len(poses), source_fps=round(1 / frame_time, 3), body_height_mm=round(height, 1))
        pieces, drops = kept_pieces(poses, frame_time, height, fps, min_seconds)
        dropped.extend({"trial": clip.stem, **d} for d in drops)
        for k, (a, b, out) in enumerate(pieces, start=1):
            clips.append({"clip": clip.stem if len(pieces) == 1 else f"{clip.stem}.{k}", "trial": clip.stem,
                          "subject": clip.subject, "category": clip.content, "dataset": clip.dataset,
                          "style": clip.style, "take": clip.take, "role": role_of[clip], "frames": len(out),
                          "seconds": round(len(out) / fps, 3), "source_frames": [a, b]})
            chunks.append(np.rint(out).astype(np.int16))
    if not clips:
        why = Counter(d["rule"] for d in dropped)
        raise InputError(f"no clip survived cleaning ({dict(sorted(why.items()))} dropped); nothing to write")
    sizes = np.array([len(c) for c in chunks], dtype=np.int64)
    text_keys = ("clip", "trial", "subject", "category") + LABEL_KEYS
    arrays = {
        "poses": np.concatenate(chunks),
        "clip_start": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        **{key: np.array([c[key] for c in clips], dtype=str) for key in text_keys},
        "fps": np.array(float(fps)),
    }
    assert set(arrays) == set(LIBRARY_KEYS + LABEL_KEYS)
    frames = int(sizes.sum())
    by_role = {role: {"clips": sum(c["role"] == role for c in clips),
                      "seconds": round(sum(c["seconds"] for c in clips if c["role"] == role), 3)}
               for role in bandai_split.ROLES}
    manifest: dict[str, Any] = {
        "format": FORMAT_2,
        "source": source or f"{bandai.UPSTREAM_REPOSITORY}@{bandai.UPSTREAM_COMMIT}",
        "database": {"name": "Bandai Namco Research Motion datasets 1 and 2", "url": bandai.UPSTREAM_URL,
                     "commit": bandai.UPSTREAM_COMMIT, "licence": bandai.LICENCE, "attribution": bandai.ATTRIBUTION},
        "cmu_motion": "none: the CMU database is kept for a held-out check",
        "source_units": {"mm_per_unit": bandai.MM_PER_UNIT, "up": bandai.UP},
        "joint_map": dict(bandai.JOINT_MAP),
        "face_points": {"frame": f"the {bandai.HEAD_JOINT} joint's (+x up the neck, +y forward), cm",
                        "Neck/Nose": list(bandai.NOSE_CM), "Head (top)": list(bandai.HEAD_TOP_CM)},
        "split": bandai_split.split_table(),
        "fps": float(fps),
        "cleaning": cleaning_constants(min_seconds),
        "files": listed,
        "clips": clips,
        "dropped": dropped,
        "totals": {"files": len(listed), "clips_kept": len(clips), "frames": frames,
                   "seconds": round(frames / fps, 3), "hours": round(frames / fps / 3600, 4),
                   "by_role": by_role,
                   "dropped_by_rule": dict(sorted(Counter(d["rule"] for d in dropped).items()))},
    }
    return arrays, manifest
