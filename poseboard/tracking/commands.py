"""``poseboard track`` and ``poseboard ui``: MLflow on top of the files DVC tracks.

Plain functions with typer annotations; the main CLI registers them
(``app.command("track")(track)``, ``app.command("ui")(ui)``). mlflow is imported inside.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import PoseboardError


def track(
    results: Annotated[Path, typer.Option("--results", "-r", help="folder of result files")] = Path("results"),
    params_file: Annotated[
        Path, typer.Option("--params", help="params.yaml (experiment prefix, params hashes)")
    ] = Path("params.yaml"),
    checkpoints: Annotated[
        Path, typer.Option("--checkpoints", help="folder of trainings (their metrics.jsonl curves)")
    ] = Path("checkpoints"),
) -> None:
    """Log every result file and training not yet in MLflow (idempotent: one already logged is skipped).

    The store is $MLFLOW_TRACKING_URI, else SQLite at <repo>/mlflow.db (an absolute path).
    """
    from poseboard.tracking.sync import track_results, track_trainings

    params = None
    if params_file.exists():
        from poseboard.params import load_params

        params = load_params(params_file)
    report = track_results(results, params)
    trainings = track_trainings(checkpoints, params)
    typer.echo(f"MLflow {report.uri}: logged {len(report.logged)} new result(s), "
               f"{len(report.skipped)} already there; {len(trainings.logged)} new training(s), "
               f"{len(trainings.skipped)} already there")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_command(uri: str, host: str = "127.0.0.1", port: int = 5000) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and environment poseboard uses: one worker, no job
    execution (the defaults start ~15 processes and ~3 GB), bound to ``host``."""
    from poseboard.tracking.store import artifact_root, is_default_store

    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin) if mlflow_bin.exists() else "mlflow", "server",
           "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", "1"]
    if is_default_store(uri):
        cmd += ["--artifacts-destination", artifact_root().as_uri()]
    env = dict(os.environ)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return cmd, env


def start_server(uri: str, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 90.0,
                 log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``mlflow server`` in the background and wait until ``/health`` answers; returns the
    process and its URL. The caller stops it (``proc.terminate()``)."""
    import urllib.request

    port = port or _free_port(host)
    cmd, env = server_command(uri, host, port)
    out = open(log, "wb") if log else subprocess.DEVNULL  # closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PoseboardError(f"mlflow server exited with code {proc.returncode}" + (f"; see {log}" if log else ""))
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise PoseboardError(f"mlflow server did not answer on {url} within {timeout_s:.0f} s")


def ui(
    port: Annotated[int, typer.Option("--port", help="port on 127.0.0.1")] = 5000,
    host: Annotated[str, typer.Option("--host", help="interface (keep the loopback unless you mean it)")] = "127.0.0.1",
) -> None:
    """Start the MLflow UI over poseboard's store (one worker, no job execution) and print its URL."""
    from poseboard.tracking.store import tracking_uri

    uri = tracking_uri()
    cmd, env = server_command(uri, host, port)
    typer.echo(f"MLflow UI on http://{host}:{port} (store {uri}); Ctrl-C stops it")
    try:
        raise typer.Exit(code=subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(code=0) from None
