"""Keep freed memory in the process: the allocator policy of poseboard's commands.

glibc serves every allocation above 32 MB with its own ``mmap`` and returns it to the kernel
on ``free``. A volumetric batch allocates tensors of 10⁸ bytes dozens of times per forward
pass, so each one is faulted in page by page again: on 2 CPU cores the volumetric ``predict``
spent 85 of its 151 s in the kernel. With large blocks served from the heap and kept after
``free`` (:func:`keep_freed_memory`), the same run spends 2 s there and the predictions are
byte-identical (the policy changes where memory comes from, never a computed value); the
price is that a process keeps its peak memory until it exits (+0.2 GB for volumetric training).

A spawned process starts with glibc's default, so the predict and render workers are handed
their parent's :func:`policy_in_force` and follow it: before they were, the two predict
workers of a volumetric stage spent 45 of their 57 s in the kernel (issue 38).

Set ``POSEBOARD_KEEP_FREED_MEMORY=0`` to keep glibc's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt(3) parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

#: Free memory at the top of the heap that is kept rather than trimmed (bytes; an int).
TRIM_THRESHOLD = 2**31 - 1
#: Extra bytes requested from the kernel whenever the heap grows.
TOP_PAD = 256 * 2**20

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory (glibc ``mallopt``); once per
    process. Returns whether the policy is in force (False off glibc, or when
    ``POSEBOARD_KEEP_FREED_MEMORY=0``)."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("POSEBOARD_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
                    and mallopt(_M_TOP_PAD, TOP_PAD))
    return _applied


def policy_in_force() -> bool:
    """Whether :func:`keep_freed_memory` put the policy in force in this process (it changes
    nothing; a spawned worker, which starts with glibc's default, is handed this to follow its
    parent)."""
    return bool(_applied)
