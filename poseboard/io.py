"""Atomic file writes (write to a temporary file in the same folder, fsync, then rename), and
the readers of binary files from elsewhere that must not trust what they read: ``torch.save``
weights (:func:`load_tensors`) and ``.npz`` archives (:func:`load_npz`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_with(path: str | Path, writer: Callable[[IO], None]) -> None:
    """Call ``writer(binary_handle)`` on a temporary file that then replaces ``path``
    (e.g. ``lambda f: np.savez(f, **arrays)``)."""
    with atomic_open(path, "wb") as handle:
        writer(handle)


def load_tensors(path: str | Path, what: str = "weights") -> Any:
    """A file written by ``torch.save`` of tensors, numbers and strings, read onto the CPU
    without unpickling code (``weights_only=True``).

    Raises:
        ResultFileError: the file is missing, truncated or not such a file (text, a pickle of
            objects, another format); the message names the file and what was expected, with
            the first line of torch's own reason.
    """
    import torch

    from poseboard.errors import ResultFileError

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ResultFileError(f"{path}: {what} file not found") from None
    except Exception as exc:  # truncated, text, a pickle of objects, another format
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ResultFileError(f"{path}: not a readable {what} file (expected torch.save of a state dict, read "
                              f"without pickle): {type(exc).__name__}: {reason}") from None


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """The SHA-256 (hex) of a file's bytes, read ``chunk`` bytes at a time (an 86 MB archive
    never sits in memory whole)."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


#: Unpacked size above which :func:`load_npz` refuses an archive before reading any member.
NPZ_MAX_BYTES = 1 << 30
#: Bytes read from an ``.npz`` member at a time.
_NPZ_CHUNK = 1 << 22


def load_npz(path: str | Path | IO[bytes], what: str = ".npz", max_bytes: int = NPZ_MAX_BYTES,
             too_large_hint: str = "") -> dict[str, Any]:
    """Every array of an ``.npz`` archive (``np.savez``), each member read inside the checks, so
    that a damaged or hostile file is refused rather than crashing or exhausting memory.

    Unlike ``np.load``: a member that is not a ``.npy`` array is refused (``np.load`` hands back
    its raw bytes), and a member's ``.npy`` header (shape, dtype) must account for exactly the
    bytes the member holds before anything is allocated, so a number in the file never sizes an
    allocation. Object arrays are refused (never unpickled).

    Args:
        path: the ``.npz`` file, or a binary file object holding one (its ``str()`` then
            stands for the file in messages).
        what: what the file is, for messages ("predictions file").
        max_bytes: the most the members may unpack to, together (the zip's own sizes, checked
            again against each member's header).
        too_large_hint: appended to the message of a file over ``max_bytes``.

    Returns:
        ``{name: array}`` with the names ``np.load`` gives (the member name without ``.npy``),
        in the archive's order.

    Raises:
        ResultFileError: naming the file (and the member): not found, not a zip archive, a
            damaged archive or member (bad header, bad CRC, truncated), over ``max_bytes``, a
            member that is not a ``.npy`` array, an object array, a header that disagrees with
            the member's size.

    Example:
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
        >>> np.savez(path, x=np.arange(3))
        >>> load_npz(path)["x"].tolist()
        [0, 1, 2]
    """
    import zipfile

    from poseboard.errors import ResultFileError

    if isinstance(path, str | os.PathLike):
        path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ResultFileError(f"{path}: {what} not found (no such file)") from None
    except zipfile.BadZipFile as exc:
        if _starts_with(path, b"\x93NUMPY"):  # np.save of one array where np.savez was meant
            raise ResultFileError(f"{path}: expected an .npz archive (np.savez), got a single .npy array") from None
        raise ResultFileError(f"{path}: not a readable .npz file (not a zip archive: {exc})") from None
    except _NPZ_ERRORS as exc:  # a damaged archive's directory, or the file cannot be read
        raise ResultFileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    with archive:
        infos = archive.infolist()
        unpacked = sum(info.file_size for info in infos)
        if unpacked > max_bytes:
            raise ResultFileError(f"{path}: its arrays unpack to {unpacked / 1e9:.1f} GB, more than the "
                                  f"{max_bytes >> 20} MiB a {what} may hold{too_large_hint}; nothing was read")
        arrays: dict[str, Any] = {}
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise ResultFileError(f"{path}: member {name!r} is not a .npy array (np.savez writes NAME.npy); "
                                      "write the file with np.savez")
            try:
                arrays[name.removesuffix(".npy")] = _npz_member(archive, info, max_bytes)
            except _NpzMemberError as exc:
                raise ResultFileError(f"{path}: member {name!r}: {exc}") from None
            except _NPZ_ERRORS as exc:
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                raise ResultFileError(f"{path}: member {name!r} cannot be read (a damaged .npz: "
                                      f"{type(exc).__name__}: {reason})") from None
    return arrays


def _starts_with(source: Path | IO[bytes], magic: bytes) -> bool:
    """Whether a file (or a seekable binary file object, rewound) begins with ``magic``."""
    try:
        if isinstance(source, Path):
            with source.open("rb") as handle:
                return handle.read(len(magic)) == magic
        source.seek(0)
        return source.read(len(magic)) == magic
    except (OSError, ValueError):
        return False


class _NpzMemberError(ValueError):
    """A member whose ``.npy`` content is refused (the message says why)."""


def _npz_errors() -> tuple[type[BaseException], ...]:
    import struct
    import tokenize
    import zipfile
    import zlib

    # What reading damaged bytes raises: zipfile (bad headers, CRC, sizes, an "encrypted" or
    # unknown compression flag: RuntimeError, NotImplementedError), zlib, and numpy's .npy
    # header parser (ValueError, SyntaxError, tokenize.TokenError, OverflowError, TypeError).
    return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, tokenize.TokenError, OSError,
            EOFError, ValueError, TypeError, SyntaxError, OverflowError, NotImplementedError, RuntimeError)


_NPZ_ERRORS = _npz_errors()


class _Counted:
    """A read-only stream that counts the bytes read from it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def _npz_member(archive: Any, info: Any, max_bytes: int) -> Any:
    """One ``.npy`` member: its header checked against the member's size, then its data."""
    import math

    import numpy as np

    fmt = np.lib.format
    with archive.open(info) as raw:
        stream = _Counted(raw)
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream)
        else:
            raise _NpzMemberError(f".npy format version {version} is not read here (np.savez writes 1.0)")
        if dtype.hasobject:
            raise _NpzMemberError(f"an object array ({dtype}) cannot be read without unpickling; store strings "
                                  "as fixed-width unicode arrays, e.g. np.array(ids, dtype=str)")
        if any(d < 0 for d in shape):
            raise _NpzMemberError(f"its header gives a negative shape {shape}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        held = info.file_size - stream.count
        if count > max_bytes or nbytes != held:
            raise _NpzMemberError(f"its header says shape {shape} of {dtype} ({nbytes} bytes) but the member holds "
                                  f"{held} bytes of data (a damaged or edited file)")
        array = np.empty(count, dtype=dtype)
        if nbytes:
            view = array.view(np.uint8)
            done = 0
            while done < nbytes:
                chunk = stream.read(min(_NPZ_CHUNK, nbytes - done))
                if not chunk:
                    raise _NpzMemberError(f"truncated: {done} of its {nbytes} bytes of data")
                view[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                done += len(chunk)
        if stream.read(1):  # also where zipfile checks the member's CRC
            raise _NpzMemberError("holds more bytes than its header says (a damaged or edited file)")
    return array.reshape(shape, order="F" if fortran else "C")
