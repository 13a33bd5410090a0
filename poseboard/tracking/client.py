"""A thin, batched layer over ``mlflow.MlflowClient`` (no global fluent state).

Each ``log_metric`` round-trip costs ~20 ms on SQLite, so everything goes through
``log_batch`` (at most 1000 metrics, 100 params and 100 tags per call, MLflow's limits).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from poseboard.tracking.store import artifact_root, is_default_store, tracking_uri

MAX_METRICS, MAX_PARAMS, MAX_TAGS = 1000, 100, 100
MAX_PARAM_LEN = 6000


def client(uri: str | None = None):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri or tracking_uri())


def ensure_experiment(cl, name: str, uri: str) -> str:
    """The id of experiment ``name``, created (artifacts under ``<repo>/mlruns`` on the default store)."""
    exp = cl.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            cl.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    location = None
    if is_default_store(uri):
        location = (artifact_root() / name.replace("/", "_")).as_uri()
    try:
        return cl.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by a parallel stage
        exp = cl.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def log_batch(cl, run_id: str, metrics: Mapping[str, float] | Iterable[tuple[str, float, int]] = (),
              params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None) -> None:
    """Log metrics (a mapping, or ``(key, value, step)`` triples), params and tags in batches."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    if isinstance(metrics, Mapping):
        triples = [(k, float(v), 0) for k, v in metrics.items()]
    else:
        triples = [(k, float(v), int(s)) for k, v, s in metrics]
    ms = [Metric(_key(k), v, now, s) for k, v, s in triples if v == v]  # drop NaN
    ps = [Param(_key(k), str(v)[:MAX_PARAM_LEN]) for k, v in (params or {}).items()]
    ts = [RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()]
    for chunk in _chunks(ms, MAX_METRICS):
        cl.log_batch(run_id, metrics=chunk)
    for chunk in _chunks(ps, MAX_PARAMS):
        cl.log_batch(run_id, params=chunk)
    for chunk in _chunks(ts, MAX_TAGS):
        cl.log_batch(run_id, tags=chunk)


def _key(key: str) -> str:
    """MLflow keys allow alphanumerics, ``_ - . space / :``; anything else becomes ``_``."""
    return "".join(c if c.isalnum() or c in "_-. /:" else "_" for c in key)[:250]


def log_file(cl, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
    cl.log_artifact(run_id, str(path), artifact_path)
