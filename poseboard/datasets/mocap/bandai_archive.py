"""The Bandai Namco archive the ``motion_library`` stage reads (issue 79): its SHA-256 checked,
unpacked inside the stage's own output folder (and removed once read), built into the library.

The archive (``params.yaml``: ``motion_library.archive``, default
``../shared/motion/bandai-namco-research-motiondataset-74ead3b.tar.xz``) holds the upstream
repository's ``dataset/`` folder unchanged. A missing or altered archive stops the stage
(:class:`~poseboard.errors.InputError`: exit 2) naming the file, the SHA-256 it must have and
where to get it; nothing is written. Only regular files under ``dataset/`` are unpacked,
through :mod:`tarfile`'s ``data`` filter (no links, devices, absolute paths or ``..``).
"""

from __future__ import annotations

import lzma
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from poseboard.datasets.mocap import bandai, bandai_split
from poseboard.errors import InputError
from poseboard.io import sha256_file

ARCHIVE_NAME = "bandai-namco-research-motiondataset-74ead3b.tar.xz"
ARCHIVE_SHA256 = "45a24758045a5d0bca12be5b4af660340a22eba492a4eadc46bd85bb5318d4aa"
DEFAULT_ARCHIVE = Path("../shared/motion") / ARCHIVE_NAME
#: the library's file name inside the stage's output folder
LIBRARY_FILE = "bandai.npz"
#: the temporary folder the archive is unpacked into, inside the output folder
UNPACKED = ".unpacked"
HOW_TO_GET = (f"get it from {bandai.UPSTREAM_URL} at commit {bandai.UPSTREAM_COMMIT} (its dataset/ folder, packed "
              f"with `tar --sort=name --mtime=2022-01-01 --owner=0 --group=0 -cf - dataset | xz -6`), or set "
              f"motion_library.archive in params.yaml to where your copy is")


def check_archive(path: str | Path, sha256: str = ARCHIVE_SHA256) -> Path:
    """The archive's path once its SHA-256 is ``sha256``.

    Raises:
        InputError: naming the file, the expected SHA-256 and where to get it, when the file is
            missing, unreadable or altered.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: the Bandai Namco motion archive is missing (expected SHA-256 {sha256}); "
                         f"{HOW_TO_GET}")
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise InputError(f"{path}: the Bandai Namco motion archive cannot be read ({exc}); {HOW_TO_GET}") from None
    if actual != sha256:
        raise InputError(f"{path}: SHA-256 {actual}, expected {sha256}: the Bandai Namco motion archive is altered or "
                         f"another file; {HOW_TO_GET}")
    return path


def unpack(archive: Path, dest: Path) -> list[Path]:
    """Unpack the archive's regular files under ``dataset/`` into ``dest``; the BVH files, sorted.

    Raises:
        InputError: naming the archive, when it is not a readable tar.xz or holds no Bandai BVH.
    """
    try:  # one streaming pass: listing the members first and then extracting decompresses twice
        with tarfile.open(archive, "r|xz") as tar:
            for member in tar:
                if member.isfile() and PurePosixPath(member.name).parts[:1] == ("dataset",):
                    tar.extract(member, dest, filter="data")
    except (tarfile.TarError, lzma.LZMAError, OSError, EOFError) as exc:
        raise InputError(f"{archive}: not a readable tar.xz archive ({exc}); {HOW_TO_GET}") from None
    files = sorted((p for p in dest.rglob("*.bvh") if p.parent.name == "data"), key=lambda p: p.name)
    if not files:
        raise InputError(f"{archive}: holds no dataset/*/data/*.bvh; {HOW_TO_GET}")
    return files


def handful(files: list[Path], per_role: int) -> list[Path]:
    """``per_role`` clips of each held-out role (:mod:`.bandai_split`), evenly spaced over each
    role's clips in name order: the smoke profile's library, with something in every split."""
    clips = {bandai.parse_name(p): p for p in files}
    role_of = bandai_split.roles(clips)
    chosen: list[Path] = []
    for role in bandai_split.ROLES:
        mine = sorted((p for c, p in clips.items() if role_of[c] == role), key=lambda p: p.name)
        if mine and per_role > 0:
            picks = np.unique(np.linspace(0, len(mine) - 1, min(per_role, len(mine))).round().astype(int))
            chosen += [mine[i] for i in picks]
    return sorted(chosen, key=lambda p: p.name)


def build_from_archive(archive: str | Path, out_dir: str | Path, *, sha256: str = ARCHIVE_SHA256,
                       clips_per_role: int | None = None, fps: float | None = None) -> dict[str, Any]:
    """Check, unpack and build the library into ``out_dir`` (``bandai.npz`` and its manifest);
    the unpacked files are removed, whatever happens. Returns the manifest written.

    Args:
        archive: the tar.xz.
        out_dir: the stage's output folder (created; removed again when the build fails).
        sha256: what the archive's SHA-256 must be.
        clips_per_role: build from this many clips of each role only (:func:`handful`); None: all.
        fps: the stored rate (default: the library's 25).

    Raises:
        InputError: a missing or altered archive (nothing written), or the builder's refusals.
    """
    from poseboard.datasets.mocap.bandai_library import build_bandai_library
    from poseboard.datasets.mocap.library import DEFAULT_FPS, write_library

    archive = check_archive(archive, sha256)
    out_dir = Path(out_dir)
    existed = out_dir.exists()
    unpacked = out_dir / UNPACKED
    try:
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir(parents=True)
        files = unpack(archive, unpacked)
        chosen = files if clips_per_role is None else handful(files, clips_per_role)
        source = f"{archive.name} (sha256 {sha256}) = {bandai.UPSTREAM_REPOSITORY}@{bandai.UPSTREAM_COMMIT} dataset/"
        arrays, manifest = build_bandai_library(chosen, fps=fps or DEFAULT_FPS, root=unpacked, source=source,
                                                split_names=files)
        manifest = {**manifest, "selection": "all clips" if clips_per_role is None
                    else f"{clips_per_role} clips per role, evenly spaced in name order (smoke)"}
        written = write_library(out_dir / LIBRARY_FILE, arrays, manifest)
    except BaseException:
        shutil.rmtree(unpacked, ignore_errors=True)
        if not existed:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(unpacked, ignore_errors=True)
    return written
