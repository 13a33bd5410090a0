"""MLflow tracking: store location, idempotent result sync, batched training curves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from poseboard.tracking.store import default_tracking_uri, protocol_family, repo_root, tracking_uri


def test_store_location(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    exp = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc" / "sub"
    exp.mkdir(parents=True)
    (exp.parent / "dvc.yaml").write_text("stages: {}\n")
    assert repo_root(exp) == tmp_path  # a queued experiment logs to the main repository
    monkeypatch.chdir(exp)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == f"sqlite:///{tmp_path.as_posix()}/mlflow.db"
    assert default_tracking_uri().startswith("sqlite:////")  # absolute
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5555")
    assert tracking_uri() == "http://127.0.0.1:5555"


def test_protocol_family():
    assert protocol_family("synth-h36m-relative") == "synth-h36m"
    assert protocol_family("synth-panoptic-sweep") == "synth-panoptic"
    assert protocol_family("human36m-uncalibrated") == "human36m"
    assert protocol_family("mupots-root") == "mupots"


def test_track_is_idempotent(results_dir, store, tmp_path):
    from mlflow import MlflowClient

    from poseboard.tracking.sync import HASH_TAG, track_results

    res = tmp_path / "results"
    shutil.copytree(results_dir, res)
    first = track_results(res)
    assert len(first.logged) == 9 and not first.skipped
    second = track_results(res)
    assert not second.logged and len(second.skipped) == 9

    cl = MlflowClient(store)
    names = sorted(e.name for e in cl.search_experiments())
    assert {"poseboard/synth-h36m", "poseboard/synth-panoptic", "poseboard/synth-mupots"} <= set(names)
    exp = cl.get_experiment_by_name("poseboard/synth-h36m")
    runs = cl.search_runs([exp.experiment_id])
    assert len(runs) == 3
    run = next(r for r in runs if r.data.tags["method"] == "noise-8mm")
    assert run.data.tags["protocol"] == "synth-h36m-relative@3"
    assert run.data.tags["dvc_stage"] == "predict@noise-8mm-synth-h36m-relative"
    for tag in ("git_commit", "params_hash", "data_hash", HASH_TAG):
        assert tag in run.data.tags
    result = json.loads((res / "noise-8mm" / "synth-h36m-relative@3.json").read_text())
    assert abs(run.data.metrics["mpjpe"] - result["metrics"]["main"]["overall"]["mpjpe"]) < 1e-6
    assert "ci95_low.mpjpe" in run.data.metrics and "per_action.mpjpe.Walking" in run.data.metrics
    arts = [a.path for a in cl.list_artifacts(run.info.run_id, "result")]
    assert arts == ["result/synth-h36m-relative@3.json"]
    sweep = cl.get_metric_history(
        next(r for r in cl.search_runs([cl.get_experiment_by_name("poseboard/synth-panoptic").experiment_id])
             if r.data.tags["method"] == "noise-8mm").info.run_id, "sweep.mpjpe")
    assert sorted(m.step for m in sweep) == [1, 2, 3, 4, 6, 8, 12, 16]

    # a changed result is logged anew; the older run is marked superseded
    path = res / "noise-8mm" / "synth-h36m-relative@3.json"
    data = json.loads(path.read_text())
    data["notes"] = ["re-run"]
    path.write_text(json.dumps(data))
    third = track_results(res)
    assert third.logged == [path.as_posix()]
    runs = cl.search_runs([exp.experiment_id], filter_string="tags.method = 'noise-8mm'")
    assert sorted(r.data.tags["poseboard.latest"] for r in runs) == ["false", "true"]


def test_training_tracker_batches(store, monkeypatch):
    from mlflow import MlflowClient

    from poseboard.tracking import client as client_mod
    from poseboard.tracking.tracker import training_run

    calls = []
    original = client_mod.log_batch

    def counting(cl, run_id, metrics=(), params=None, tags=None):
        calls.append(len(metrics))
        return original(cl, run_id, metrics, params, tags)

    monkeypatch.setattr("poseboard.tracking.tracker.log_batch", counting)
    with training_run("algebraic", config={"train": {"steps": 300, "lr": 1e-3}}, profile="smoke", seed=0) as tr:
        for step in range(300):
            tr.log_metrics({"loss": 1.0 / (step + 1), "mpjpe": 100.0 - step * 0.1}, step=step)
        Path("config.json").write_text("{}")
        tr.log_artifact("config.json")
    cl = MlflowClient(store)
    run = cl.search_runs([cl.get_experiment_by_name("poseboard/training").experiment_id])[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["config.train.steps"] == "300" and run.data.params["profile"] == "smoke"
    assert "system.cpu" in run.data.params
    assert len(cl.get_metric_history(run.info.run_id, "loss")) == 300
    assert len([c for c in calls if c]) <= 3  # 600 values in a couple of batches, not 600 calls


def test_track_trainings_from_curves(store, tmp_path):
    from mlflow import MlflowClient

    from poseboard.methods.train.loop import JsonlTracker
    from poseboard.tracking.sync import track_trainings

    ckpt = tmp_path / "checkpoints"
    log = JsonlTracker(ckpt / "algebraic" / "work" / "metrics.jsonl")
    log.log_params({"method": "algebraic", "config": {"train": {"steps": 20}}})
    for step in range(0, 20, 5):
        log.log_metrics({"algebraic/loss": 10.0 - step}, step=step)
    (ckpt / "algebraic" / "config.json").write_text("{}")
    pre = JsonlTracker(ckpt / "backbone" / "metrics.jsonl")
    pre.log_metrics({"pretrain/loss": 1.0}, step=0)

    first = track_trainings(ckpt)
    assert len(first.logged) == 2
    assert not track_trainings(ckpt).logged  # idempotent
    cl = MlflowClient(store)
    exp = cl.get_experiment_by_name("poseboard/training")
    run = next(r for r in cl.search_runs([exp.experiment_id]) if r.data.tags["method"] == "algebraic")
    assert run.data.tags["dvc_stage"] == "train@algebraic"
    assert run.data.params["config.train.steps"] == "20"
    assert [m.step for m in cl.get_metric_history(run.info.run_id, "algebraic/loss")] == [0, 5, 10, 15]
    log.log_metrics({"algebraic/loss": 1.0}, step=20)  # training resumed: new curves, a new run
    assert len(track_trainings(ckpt).logged) == 1
