"""MLflow implementation of :class:`poseboard.methods.base.Tracker`, for ``Method.fit``.

One run per (method, training) in the experiment ``<prefix>/training``: params, the curves
``fit`` reports (buffered and sent with ``log_batch``, never one call per value), system info,
and artifacts (config, checkpoint reference, figures). Usage in a ``train`` command::

    from poseboard.tracking.tracker import training_run

    with training_run("algebraic", config=cfg_dict, profile="smoke", seed=0) as tracker:
        method.fit(train, val, tracker=tracker, workdir=ckpt_dir)
        tracker.log_artifact(ckpt_dir / "config.json")
        tracker.set_tags({"checkpoint": str(ckpt_dir)})

Set ``POSEBOARD_TRACKING=0`` to train without MLflow (a :class:`~poseboard.methods.base.NullTracker`
is yielded instead).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from poseboard.mappings import flatten
from poseboard.tracking.client import client, ensure_experiment, log_batch, log_file
from poseboard.tracking.store import tracking_uri


class MlflowTracker:
    """Buffers metrics and flushes them in batches (every ``flush_every`` values or ``flush_s`` seconds)."""

    def __init__(self, cl: Any, run_id: str, flush_every: int = 500, flush_s: float = 10.0) -> None:
        self.client = cl
        self.run_id = run_id
        self.flush_every = flush_every
        self.flush_s = flush_s
        self._buffer: list[tuple[str, float, int]] = []
        self._last_flush = time.monotonic()
        self._auto_step: dict[str, int] = {}

    def log_params(self, params: dict[str, Any]) -> None:
        log_batch(self.client, self.run_id, params=flatten(params))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            s = step if step is not None else self._auto_step.get(key, 0)
            self._auto_step[key] = s + 1
            self._buffer.append((key, float(value), int(s)))
        if len(self._buffer) >= self.flush_every or time.monotonic() - self._last_flush > self.flush_s:
            self.flush()

    def log_artifact(self, path: str | Path) -> None:
        log_file(self.client, self.run_id, path)

    def set_tags(self, tags: dict[str, Any]) -> None:
        log_batch(self.client, self.run_id, tags=tags)

    def flush(self) -> None:
        if self._buffer:
            log_batch(self.client, self.run_id, metrics=self._buffer)
            self._buffer = []
        self._last_flush = time.monotonic()


def system_info() -> dict[str, Any]:
    from poseboard.provenance import git_commit, hardware, package_versions

    info = {f"system.{k}": v for k, v in hardware().items()}
    info.update({f"version.{k}": v for k, v in package_versions().items()})
    commit = git_commit()
    info["git_commit"] = commit.get("commit") or "unknown"
    info["git_dirty"] = commit.get("dirty")
    return info


@contextmanager
def training_run(
    method: str,
    *,
    config: dict[str, Any],
    profile: str,
    seed: int,
    experiment_prefix: str = "poseboard",
    params_hash: str | None = None,
    extra_tags: dict[str, Any] | None = None,
    curves_file: str | Path | None = None,
) -> Iterator[Any]:
    """Open the MLflow run of one training; yields a tracker for ``fit`` and closes the run
    (FINISHED, or FAILED on an exception) after flushing the buffered curves.

    ``curves_file``: the training's ``metrics.jsonl`` (``<checkpoints>/<method>/work/``); its
    SHA-256 is tagged at the end so that the ``track`` stage does not log it a second time.
    """
    if os.environ.get("POSEBOARD_TRACKING", "1") == "0":
        from poseboard.methods.base import NullTracker

        yield NullTracker()
        return
    uri = tracking_uri()
    cl = client(uri)
    exp_id = ensure_experiment(cl, f"{experiment_prefix}/training", uri)
    tags = {
        "poseboard.kind": "training", "method": method, "profile": profile, "seed": seed,
        "dvc_stage": f"train@{method}", "params_hash": params_hash or "unknown",
        "mlflow.runName": f"train {method} ({profile})",
    }
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    sysinfo = system_info()
    tags["git_commit"] = sysinfo.pop("git_commit")
    tags.update(extra_tags or {})
    run = cl.create_run(exp_id, run_name=tags["mlflow.runName"], tags={k: str(v) for k, v in tags.items()})
    tracker = MlflowTracker(cl, run.info.run_id)
    tracker.log_params({"config": config, "profile": profile, "seed": seed, **sysinfo})
    status = "FAILED"
    try:
        yield tracker
        status = "FINISHED"
    finally:
        tracker.flush()
        if curves_file is not None and Path(curves_file).exists():
            from poseboard.tracking.sync import TRAINING_TAG, file_sha256

            tracker.set_tags({TRAINING_TAG: file_sha256(curves_file)})
        cl.set_terminated(run.info.run_id, status=status)
