"""The environment every pipeline command runs in, the same wherever it is started from.

A training's floats depend on torch's CPU thread count (its reductions split by thread), so
one seed trained at 1 and at 2 threads are two different runs: pre-training with seed 2 on one
Zen 3 machine logs a step-25 loss of 5.424797 at 1 thread and 5.424740 at 2 (session 14).
Prediction was byte-identical at 1 and 2 threads in the cases measured; training is not.

``make repro`` exports ``POSEBOARD_THREADS=2`` for every DVC stage. A command poseboard starts
itself (the steps of ``poseboard replicate``, the DVC of ``poseboard method``) takes the same
default through :func:`pipeline_env`, so a replicate's seed trains as the board's stages would
and a second run of it gives the same numbers, whatever the calling shell set. An explicit
``POSEBOARD_THREADS`` still wins (a machine with more cores may choose more; its numbers are then
its own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["PIPELINE_THREADS", "THREADS_ENV", "pipeline_env"]

#: The variable the commands read their torch CPU thread count from
#: (``poseboard.methods.train.loop.env_threads``).
THREADS_ENV = "POSEBOARD_THREADS"
#: The thread count of the board's stages (the Makefile's ``POSEBOARD_THREADS ?= 2``).
PIPELINE_THREADS = 2


def pipeline_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default: this process's) for a pipeline command: DVC's analytics
    off, and ``POSEBOARD_THREADS`` the pipeline's unless already set."""
    env = dict(os.environ if environ is None else environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env.setdefault(THREADS_ENV, str(PIPELINE_THREADS))
    return env
