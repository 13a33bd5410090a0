"""``poseboard compare``: byte-identical, inside and outside the reference's interval, missing
files, and the committed results read from a git ref."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.workflows.compare import committed_results, compare_results

ROOT = Path(__file__).resolve().parents[1]
RESULT = "ransac/synth-h36m-relative@3.json"


def _copy(results: Path, headline: float | None = None) -> None:
    src = ROOT / "results" / RESULT
    (results / "ransac").mkdir(parents=True, exist_ok=True)
    if headline is None:
        shutil.copyfile(src, results / RESULT)
        return
    data = json.loads(src.read_text())
    data["metrics"]["headline_value"] = headline
    (results / RESULT).write_text(json.dumps(data, indent=2) + "\n")


def test_verdicts(tmp_path):
    ref, ours = tmp_path / "ref", tmp_path / "ours"
    _copy(ref)
    lo, hi = json.loads((ref / RESULT).read_text())["metrics"]["main"]["ci95"]["mpjpe"]
    _copy(ours)
    (row,) = compare_results(ours, ref).rows
    assert row.identical and row.verdict == "identical" and row.delta == 0 and row.same_data
    _copy(ours, headline=(lo + hi) / 2)
    (row,) = compare_results(ours, ref).rows
    assert row.verdict == "inside CI" and not row.identical
    _copy(ours, headline=hi + 1.0)
    (row,) = compare_results(ours, ref).rows
    assert row.verdict == "outside CI" and row.delta > 0

    runner = CliRunner()
    out = runner.invoke(app, ["compare", str(ours), "--reference", str(ref)])
    assert out.exit_code == 1 and "1 outside CI" in out.output
    _copy(ours, headline=(lo + hi) / 2)
    assert runner.invoke(app, ["compare", str(ours), "--reference", str(ref)]).exit_code == 0
    assert runner.invoke(app, ["compare", str(ours), "--reference", str(ref), "--strict"]).exit_code == 1
    (ref / "ransac" / "other@1.json").write_text((ref / RESULT).read_text())
    report = compare_results(ours, ref)
    assert report.only_reference == ["ransac/other@1.json"] and report.only_ours == []


def test_against_a_git_ref(tmp_path):
    repo = tmp_path / "repo"
    _copy(repo / "results")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "results"], check=True)
    extracted = committed_results(repo / "results", "HEAD", tmp_path / "extracted")
    assert (extracted / RESULT).read_bytes() == (repo / "results" / RESULT).read_bytes()
    _copy(repo / "results", headline=1e6)
    out = CliRunner().invoke(app, ["compare", str(repo / "results")])
    assert out.exit_code == 1 and "outside CI" in out.output
    out = CliRunner().invoke(app, ["compare", str(repo / "results"), "--against", "no-such-ref"])
    assert out.exit_code == 2 and "no-such-ref" in out.output


def _with_identity(results: Path, task: str, images: str, data: str) -> None:
    data_ = json.loads((results / RESULT).read_text())
    data_["dataset"] |= {"task_hash": task, "images_hash": images, "data_hash": data}
    (results / RESULT).write_text(json.dumps(data_, indent=2) + "\n")


def test_task_and_image_identity(tmp_path):
    """A run on another CPU (same task, other image bytes) is the same benchmark: compared
    against the interval and shown as such; another task is a failure, whatever the number."""
    ref, ours = tmp_path / "ref", tmp_path / "ours"
    _copy(ref)
    _with_identity(ref, "t" * 64, "i" * 64, "d" * 64)
    _copy(ours)
    _with_identity(ours, "t" * 64, "j" * 64, "e" * 64)
    (row,) = compare_results(ours, ref).rows
    assert row.same_task is True and row.same_images is False and not row.same_data
    assert row.verdict == "inside CI"
    out = CliRunner().invoke(app, ["compare", str(ours), "--reference", str(ref)])
    assert out.exit_code == 0, out.output
    _with_identity(ours, "u" * 64, "i" * 64, "e" * 64)
    (row,) = compare_results(ours, ref).rows
    assert row.same_task is False and row.verdict == "other task"
    out = CliRunner().invoke(app, ["compare", str(ours), "--reference", str(ref)])
    assert out.exit_code == 1 and "1 other task" in out.output
