"""`poseboard ui`'s server: started on the loopback over a store with results, the runs and
their metrics are found through MLflow's REST API."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest

from poseboard.tracking.commands import server_command, start_server


def test_server_command_is_light(monkeypatch):
    cmd, env = server_command("sqlite:////tmp/x/mlflow.db", "127.0.0.1", 5123)
    assert cmd[1] == "server" and cmd[cmd.index("--workers") + 1] == "1"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_server_serves_runs_and_metrics(results_dir, store, tmp_path):
    from poseboard.tracking.sync import track_results

    res = tmp_path / "results"
    shutil.copytree(results_dir, res)
    track_results(res)
    proc, url = start_server(store, log=tmp_path / "server.log")
    try:
        assert url.startswith("http://127.0.0.1:")
        exps = _post(f"{url}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]
        by_name = {e["name"]: e["experiment_id"] for e in exps}
        assert "poseboard/synth-h36m" in by_name
        runs = _post(f"{url}/api/2.0/mlflow/runs/search",
                     {"experiment_ids": [by_name["poseboard/synth-h36m"]],
                      "filter": "tags.method = 'noise-8mm'"})["runs"]
        assert len(runs) == 1
        metrics = {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]}
        assert 10 < metrics["mpjpe"] < 30
        tags = {t["key"]: t["value"] for t in runs[0]["data"]["tags"]}
        assert tags["protocol"] == "synth-h36m-relative@3"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
