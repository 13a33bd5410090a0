"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename."""

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
