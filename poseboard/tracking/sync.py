"""The ``track`` stage: make sure every result file is in MLflow, exactly once.

DVC's run cache can restore a stage's outputs without running its command (and any logging
in it), so logging results from inside ``predict`` is not enough. This stage always runs,
walks ``results/``, and logs each result file that the store does not have yet, keyed by the
SHA-256 of the file's bytes (tag ``poseboard.result_sha256``): running it twice logs nothing
the second time, and a changed result (a new hash) is logged as a new run while the older
runs of the same (method, protocol) are tagged ``poseboard.latest = false``.

One experiment per protocol family (``<prefix>/synth-h36m``, ``<prefix>/mupots``, …); one run
per (method, protocol) result with its metrics (overall, action-weighted, 95% CI, per action,
per subject, extras; a camera sweep also as the curve ``sweep.<metric>`` with the camera count
as the step, a calibration sweep as ``calibration.<metric>`` with the level's index as the step
and ``calibration.<level>.<metric>``), the result JSON as an artifact, and tags: git commit, params hash, data hash,
DVC stage, protocol, method.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poseboard.mappings import flatten
from poseboard.protocols.results import Result, is_result_file, read_result
from poseboard.tracking.client import client, ensure_experiment, log_batch, log_file
from poseboard.tracking.store import experiment_name, protocol_family, tracking_uri

HASH_TAG = "poseboard.result_sha256"


@dataclass
class TrackReport:
    uri: str
    logged: list[str]
    skipped: list[str]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def result_metrics(result: Result) -> list[tuple[str, float, int]]:
    """Every number of a result as ``(key, value, step)`` triples."""
    m = result.metrics
    out: list[tuple[str, float, int]] = [("headline." + m.headline, m.headline_value, 0)]
    main = m.main
    out += [(f"{k}", v, 0) for k, v in main.overall.items()]
    out += [(f"action_weighted.{k}", v, 0) for k, v in main.action_weighted.items()]
    for k, (lo, hi) in main.ci95.items():
        out += [(f"ci95_low.{k}", lo, 0), (f"ci95_high.{k}", hi, 0)]
    out += [(f"extra.{k}", v, 0) for k, v in main.extra.items()]
    for metric, groups in main.per_action.items():
        out += [(f"per_action.{metric}.{a}", g.value, 0) for a, g in groups.items()]
    for metric, groups in main.per_subject.items():
        out += [(f"per_subject.{metric}.{s}", g.value, 0) for s, g in groups.items()]
    out.append(("num_frames", float(main.num_frames), 0))
    for size, block in sorted((m.sweep or {}).items(), key=lambda kv: int(kv[0])):
        source = block.overall if m.weighting == "frame" else block.action_weighted
        out += [(f"sweep.{k}", v, int(size)) for k, v in source.items()]
    for level, (label, block) in enumerate((m.calibration or {}).items()):
        source = block.overall if m.weighting == "frame" else block.action_weighted
        out += [(f"calibration.{k}", v, level) for k, v in source.items()]
        out += [(f"calibration.{label}.{k}", v, 0) for k, v in source.items()]
    if result.speed.ms_per_sample is not None:
        out.append(("speed.ms_per_sample", result.speed.ms_per_sample, 0))
    if result.speed.samples_per_s is not None:
        out.append(("speed.samples_per_s", result.speed.samples_per_s, 0))
    return out


def result_tags(result: Result, sha: str, path: Path, params_hash: str | None) -> dict[str, Any]:
    from poseboard.protocols.rescore import rescored_from

    stage = "score" if rescored_from(result) else "predict"
    tags = {
        "poseboard.kind": "result",
        HASH_TAG: sha,
        "poseboard.latest": "true",
        "method": result.method.name,
        "protocol": result.protocol.id,
        "protocol_name": result.protocol.name,
        "protocol_version": result.protocol.version,
        "dataset": result.dataset.name,
        "data_source": result.dataset.source,
        "data_hash": result.dataset.data_hash or "unknown",
        "git_commit": result.git.get("commit") or "unknown",
        "git_dirty": result.git.get("dirty"),
        "params_hash": params_hash or "unknown",
        "dvc_stage": f"{stage}@{result.method.name}-{result.protocol.name}",
        "result_file": path.as_posix(),
        "sample_ids_hash": result.sample_ids_hash,
        "mlflow.runName": f"{result.method.name} @ {result.protocol.id}",
    }
    if result.method.checkpoint:
        tags["checkpoint"] = result.method.checkpoint
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


def _method_params_hash(params: Any, method: str) -> str | None:
    if params is None:
        return None
    if method == "backbone":
        return hashlib.sha256(json.dumps({"backbone": params.backbone.get(params.profile), "seed": params.seed},
                                         sort_keys=True).encode()).hexdigest()[:16]
    block = {"method": params.methods[method].model_dump() if method in params.methods else None,
             "profile": params.profile,
             "backbone": params.backbone.get(params.profile), "seed": params.seed}
    return hashlib.sha256(json.dumps(block, sort_keys=True, default=str).encode()).hexdigest()[:16]


def track_results(results_dir: str | Path = "results", params: Any = None, uri: str | None = None,
                  prefix: str | None = None) -> TrackReport:
    """Log every result file under ``results_dir`` not yet in the store; return what was done."""
    from mlflow.entities import ViewType

    uri = uri or tracking_uri()
    prefix = prefix or (params.tracking.experiment_prefix if params is not None else "poseboard")
    root = Path(results_dir)
    files = sorted(p for p in root.rglob("*@*.json") if is_result_file(p)) if root.exists() else []
    report = TrackReport(uri=uri, logged=[], skipped=[])
    if not files:
        return report
    cl = client(uri)
    known: dict[str, dict[str, list[Any]]] = {}  # experiment id → hash → runs
    for path in files:
        result = read_result(path)
        sha = file_sha256(path)
        exp_id = ensure_experiment(cl, experiment_name(prefix, protocol_family(result.protocol.name)), uri)
        if exp_id not in known:
            runs = cl.search_runs([exp_id], filter_string="tags.`poseboard.kind` = 'result'",
                                  run_view_type=ViewType.ACTIVE_ONLY, max_results=50000)
            index: dict[str, list[Any]] = {}
            for run in runs:
                index.setdefault(run.data.tags.get(HASH_TAG, ""), []).append(run)
                key = (run.data.tags.get("method"), run.data.tags.get("protocol"))
                index.setdefault(f"key:{key}", []).append(run)
            known[exp_id] = index
        index = known[exp_id]
        if sha in index:
            report.skipped.append(path.as_posix())
            continue
        key = f"key:{(result.method.name, result.protocol.id)}"
        for old in index.get(key, []):
            if old.data.tags.get("poseboard.latest") != "false":
                cl.set_tag(old.info.run_id, "poseboard.latest", "false")
        tags = result_tags(result, sha, path, _method_params_hash(params, result.method.name))
        run = cl.create_run(exp_id, run_name=tags["mlflow.runName"], tags={k: str(v) for k, v in tags.items()})
        run_id = run.info.run_id
        status = "FAILED"
        try:
            run_params = {"seed." + k: v for k, v in result.seeds.items()}
            run_params.update(flatten({"config": result.method.config}))
            run_params.update({"protocol": result.protocol.id, "num_samples": result.num_samples,
                               "weighting": result.metrics.weighting, "device": result.speed.device})
            log_batch(cl, run_id, metrics=result_metrics(result), params=run_params,
                      tags={f"hardware.{k}": v for k, v in result.hardware.items()})
            log_file(cl, run_id, path, "result")
            status = "FINISHED"
        finally:
            cl.set_terminated(run_id, status=status)
        index.setdefault(sha, []).append(run)
        report.logged.append(path.as_posix())
    return report


TRAINING_TAG = "poseboard.training_sha256"


def _training_logs(checkpoints: Path) -> list[tuple[str, Path, Path]]:
    """(name, metrics.jsonl, folder) of every training under ``checkpoints``: the backbone's
    pre-training and each method's ``<method>/work``."""
    found = []
    backbone = checkpoints / "backbone" / "metrics.jsonl"
    if backbone.exists():
        found.append(("backbone", backbone, backbone.parent))
    for log in sorted(checkpoints.glob("*/work/metrics.jsonl")):
        found.append((log.parent.parent.name, log, log.parent.parent))
    return found


def read_training_log(path: Path) -> tuple[dict[str, Any], list[tuple[str, float, int]]]:
    """Params and ``(key, value, step)`` curve points of a ``JsonlTracker`` file."""
    params: dict[str, Any] = {}
    points: list[tuple[str, float, int]] = []
    counters: dict[str, int] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash
        if "params" in record and isinstance(record["params"], dict):
            params.update(flatten(record["params"]))
            continue
        step = record.get("step")
        for key, value in record.items():
            if key in ("step", "time") or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            s = int(step) if isinstance(step, int | float) else counters.get(key, 0)
            counters[key] = s + 1
            points.append((key, float(value), s))
    return params, points


def track_trainings(checkpoints_dir: str | Path = "checkpoints", params: Any = None, uri: str | None = None,
                    prefix: str | None = None) -> TrackReport:
    """Log every training under ``checkpoints_dir`` (its curves file) not yet in the store: one
    run per training in ``<prefix>/training``, keyed by the SHA-256 of its ``metrics.jsonl``
    (a live :func:`~poseboard.tracking.tracker.training_run` tags the same key, so a training
    logged while it ran is not logged again)."""
    from mlflow.entities import ViewType

    uri = uri or tracking_uri()
    prefix = prefix or (params.tracking.experiment_prefix if params is not None else "poseboard")
    logs = _training_logs(Path(checkpoints_dir)) if Path(checkpoints_dir).exists() else []
    report = TrackReport(uri=uri, logged=[], skipped=[])
    if not logs:
        return report
    cl = client(uri)
    exp_id = ensure_experiment(cl, f"{prefix}/training", uri)
    seen = {r.data.tags.get(TRAINING_TAG) for r in cl.search_runs(
        [exp_id], filter_string="tags.`poseboard.kind` = 'training'", run_view_type=ViewType.ACTIVE_ONLY,
        max_results=50000)}
    from poseboard.provenance import git_commit

    commit = git_commit().get("commit") or "unknown"
    for name, log, folder in logs:
        sha = file_sha256(log)
        if sha in seen:
            report.skipped.append(log.as_posix())
            continue
        run_params, points = read_training_log(log)
        stage = "pretrain_backbone" if name == "backbone" else f"train@{name}"
        tags = {"poseboard.kind": "training", TRAINING_TAG: sha, "method": name, "dvc_stage": stage,
                "checkpoint": folder.as_posix(), "git_commit": commit,
                "params_hash": _method_params_hash(params, name) or "unknown",
                "mlflow.runName": f"train {name}" + (f" ({params.profile})" if params is not None else ""),
                "logged_by": "track (after the fact)"}
        if params is not None:
            tags["profile"] = params.profile
        run = cl.create_run(exp_id, run_name=tags["mlflow.runName"], tags=tags)
        status = "FAILED"
        try:
            log_batch(cl, run.info.run_id, metrics=points, params=run_params)
            for extra in ("config.json", "train_summary.json", "backbone.json"):
                if (folder / extra).exists():
                    log_file(cl, run.info.run_id, folder / extra, "checkpoint")
            log_file(cl, run.info.run_id, log, "curves")
            status = "FINISHED"
        finally:
            cl.set_terminated(run.info.run_id, status=status)
        seen.add(sha)
        report.logged.append(log.as_posix())
    return report
