"""``upstream_stages`` reads DVC's own verdict per stage: an up-to-date stage is not counted as
changed. DVC's ``Stage.changed()`` asserts the repository lock is held; read without it, the
assertion was caught as "a dependency DVC cannot hash" and every stage counted as changed, so
``poseboard method`` took a pulled backbone on the board's own CPU kind for one whose data
differs and said so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from poseboard.workflows.method_run import MethodPlan, upstream_stages


def _dvc(repo: Path, *args: str) -> None:
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, check=True, capture_output=True, env=env)


def test_an_up_to_date_stage_is_not_counted_as_changed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # DVC addresses stages relative to the working directory, as `poseboard method` runs
    (tmp_path / "in.txt").write_text("a\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  first:\n    cmd: cp in.txt mid.txt\n    deps: [in.txt]\n    outs: [mid.txt]\n"
        "  second:\n    cmd: cp mid.txt out.txt\n    deps: [mid.txt]\n    outs: [out.txt]\n")
    _dvc(tmp_path, "init", "--no-scm")
    _dvc(tmp_path, "repro")
    plan = MethodPlan(name="x", datasets=[], targets=["second"])
    assert upstream_stages(tmp_path, plan) == {"first": False, "second": False}
    (tmp_path / "in.txt").write_text("b\n")
    assert upstream_stages(tmp_path, plan) == {"first": True, "second": False}
