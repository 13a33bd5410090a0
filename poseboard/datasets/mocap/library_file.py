"""The motion library's file (issue 68; built by :mod:`.library`, ``poseboard motion library``):
one ``.npz`` readable with ``allow_pickle=False``, byte-deterministic (fixed zip dates, stored
uncompressed, fixed order). Reading it needs nothing of the BVH importer, so the synthetic world
(:mod:`poseboard.datasets.synthetic.real_motion`) depends on this module only.

``poses``       (F, 17, 3) int16 millimetres, H36M17 order, Z up, floor at z = 0;
``clip_start``  (C + 1,) int64: clip ``i`` is ``poses[clip_start[i]:clip_start[i + 1]]``;
``clip``        (C,) str: the trial, with ``.k`` for the k-th kept piece of a split trial;
``trial``       (C,) str: the CMU trial (``"01_03"``);
``subject``     (C,) str: the CMU subject (``"01"``);
``category``    (C,) str: from the ``--categories`` CSV, else ``"unlabelled"``;
``fps``         () float64.

Format 2 (the Bandai Namco Research Motion datasets, :mod:`.bandai`) adds four (C,) str keys:
``dataset`` (``"1"``/``"2"``), ``style``, ``take`` (``"001"``) and ``role`` (``train``,
``test-take``, ``novel-content``, ``novel-style``: :mod:`.bandai_split`); its ``trial`` is the
file's stem, ``category`` the content and ``subject`` ``"bandai-<N>"`` (the actors are not
identified per file). A format-1 (CMU) library reads with ``role`` ``train`` for every clip.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseboard.errors import InputError


def resample(poses: np.ndarray, frame_time: float, fps: float = 50.0) -> np.ndarray:
    """(F, J, 3) at ``1 / frame_time`` → (M, J, 3) at ``fps`` (default: the world's 50), by linear
    interpolation; the times are k / fps for every k with k / fps ≤ (F − 1) · frame_time. Here,
    beside the file format, because both the importer (:mod:`.convert`, :mod:`.library`) and the synthetic world
    (:mod:`poseboard.datasets.synthetic.real_motion`) resample motion at their own rates."""
    F = poses.shape[0]
    span = (F - 1) * frame_time
    times = np.arange(math.floor(span * fps + 1e-3) + 1) / fps  # printed frame times fall short
    pos = np.clip(times / frame_time, 0, F - 1)
    lo = np.minimum(np.floor(pos).astype(int), F - 1)
    hi = np.minimum(lo + 1, F - 1)
    w = (pos - lo)[:, None, None]
    return poses[lo] * (1 - w) + poses[hi] * w


#: CMU subjects kept out of the library: the held-out check uses them.
RESERVED_CMU_SUBJECTS = (2, 5, 6, 7)
#: the keys of the library ``.npz``, in the order they are written
LIBRARY_KEYS = ("poses", "clip_start", "clip", "trial", "subject", "category", "fps")
#: the per-clip labels format 2 adds (after :data:`LIBRARY_KEYS`, in this order)
LABEL_KEYS = ("dataset", "style", "take", "role")
#: the roles a format-2 clip may have (:mod:`poseboard.datasets.mocap.bandai_split`)
CLIP_ROLES = ("train", "test-take", "novel-content", "novel-style")
#: the zip entries' date: fixed, so the same library gives the same bytes
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FORMAT = "poseboard motion library 1"
FORMAT_2 = "poseboard motion library 2"


def library_npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The ``.npz`` bytes of the library arrays: :data:`LIBRARY_KEYS` in that order, stored
    (no compression), every zip entry dated :data:`ZIP_DATE_TIME`: the same arrays give the same
    bytes on every machine (``np.savez`` stamps the current time). Arrays holding
    :data:`LABEL_KEYS` too are written as format 2 (those keys last)."""
    keys = LIBRARY_KEYS + (LABEL_KEYS if "role" in arrays else ())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in keys:
            data = io.BytesIO()
            np.lib.format.write_array(data, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE_TIME)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data.getvalue())
    return buf.getvalue()


# ------------------------------------------------------------------------ reading it back
@dataclass(frozen=True)
class MotionLibrary:
    """A validated library: ``poses`` (F, 17, 3) int16 mm; ``clip_start`` (C + 1,) int64;
    ``clip``, ``trial``, ``subject``, ``category`` (C,) str; ``fps``; format 2's ``dataset``,
    ``style``, ``take``, ``role`` (C,) str (format 1: empty labels, every role ``train``)."""

    poses: np.ndarray
    clip_start: np.ndarray
    clip: np.ndarray
    trial: np.ndarray
    subject: np.ndarray
    category: np.ndarray
    fps: float
    dataset: np.ndarray | None = None
    style: np.ndarray | None = None
    take: np.ndarray | None = None
    role: np.ndarray | None = None

    def label(self, key: str, i: int) -> str:
        """Clip ``i``'s format-2 label ``key`` (``dataset``, ``style``, ``take``, ``role``); a
        format-1 library's: ``""``, and ``"train"`` for the role."""
        values = getattr(self, key)
        return str(values[i]) if values is not None else ("train" if key == "role" else "")

    def __len__(self) -> int:
        return len(self.clip)

    def clip_poses(self, i: int) -> np.ndarray:
        """(n, 17, 3) float64 mm of clip ``i``."""
        return self.poses[self.clip_start[i]: self.clip_start[i + 1]].astype(np.float64)


def load_library(path: str | Path) -> MotionLibrary:
    """Read and validate a library ``.npz`` (never unpickling).

    Raises:
        InputError: naming the file and the field: not an npz, missing or unknown keys, pickled
            arrays, wrong dtypes or shapes, offsets that do not start at 0, end at F and rise,
            clip names twice, a reserved subject, a bad fps.
    """
    where = str(path)
    fix = "rebuild it with `poseboard motion library`"
    from poseboard.errors import ResultFileError
    from poseboard.io import load_npz

    try:  # every member read inside the checks: damaged, non-array or object members are refused
        data = load_npz(path, what="motion library")
    except ResultFileError as exc:
        raise InputError(f"{exc}; {fix}") from None
    version_2 = sorted(data) == sorted(LIBRARY_KEYS + LABEL_KEYS)
    if sorted(data) != sorted(LIBRARY_KEYS) and not version_2:
        raise InputError(f"{where}: keys {sorted(data)}, expected {list(LIBRARY_KEYS)} (format 1) or "
                         f"those and {list(LABEL_KEYS)} (format 2); {fix}")
    poses, starts = data["poses"], data["clip_start"]
    if poses.dtype != np.int16 or poses.ndim != 3 or poses.shape[1:] != (17, 3) or len(poses) == 0:
        raise InputError(f"{where}: 'poses' must be (F, 17, 3) int16 mm with F ≥ 1, got {poses.shape} {poses.dtype}; "
                         f"{fix}")
    C = len(data["clip"])
    if starts.dtype != np.int64 or starts.shape != (C + 1,):
        raise InputError(f"{where}: 'clip_start' must be ({C + 1},) int64 (one offset per clip and the end), got "
                         f"{starts.shape} {starts.dtype}; {fix}")
    if C == 0 or starts[0] != 0 or starts[-1] != len(poses) or not np.all(np.diff(starts) > 0):
        bad = np.flatnonzero(np.diff(starts) <= 0)
        raise InputError(f"{where}: 'clip_start' must start at 0, rise strictly and end at the {len(poses)} frames; "
                         f"got first {starts[:1].tolist()}, last {starts[-1:].tolist()}"
                         + (f", not rising at clip {int(bad[0])}" if len(bad) else "") + f"; {fix}")
    for key in ("clip", "trial", "subject", "category") + (LABEL_KEYS if version_2 else ()):
        if data[key].dtype.kind != "U" or data[key].shape != (C,):
            raise InputError(f"{where}: {key!r} must be ({C},) unicode strings, got {data[key].shape} "
                             f"{data[key].dtype}; {fix}")
    if len(np.unique(data["clip"])) != C:
        raise InputError(f"{where}: 'clip' names a clip twice; {fix}")
    for subject in np.unique(data["subject"]).tolist():
        if not subject.isdigit() and not (version_2 and subject):
            raise InputError(f"{where}: 'subject' {subject!r} is not a CMU subject number; {fix}")
        if subject.isdigit() and int(subject) in RESERVED_CMU_SUBJECTS:
            raise InputError(f"{where}: 'subject' {subject} is reserved for the held-out check and may not be in the "
                             f"library; {fix} from a source without it")
    fps = data["fps"]
    if fps.shape != () or fps.dtype.kind != "f" or not (np.isfinite(fps) and float(fps) > 0):
        raise InputError(f"{where}: 'fps' must be one positive float, got {fps!r}; {fix}")
    if version_2:
        bad_roles = sorted(set(np.unique(data["role"]).tolist()) - set(CLIP_ROLES))
        if bad_roles:
            raise InputError(f"{where}: 'role' {bad_roles[0]!r} is not one of {list(CLIP_ROLES)}; {fix}")
    labels = {key: data[key] for key in LABEL_KEYS} if version_2 else {}
    return MotionLibrary(poses=poses, clip_start=starts, clip=data["clip"], trial=data["trial"],
                         subject=data["subject"], category=data["category"], fps=float(fps), **labels)
