"""`poseboard method NAME` (issue 39) on the smoke profile, end to end: a small committed board
(RANSAC trained, predicted and scored, every split identified, the report built), a fresh
clone of it (empty DVC cache), a scaffolded method ranked against it, a second run after a
code change, the task-identity refusal, and the built-in rows of the rebuilt leaderboard
against the committed one. What ran is read from DVC's own record: the ``Running stage``
lines of each ``dvc repro`` and the built-in stages' ``dvc.lock`` entries, which must be the
committed ones byte for byte.

Minutes (about 4 on a loaded 2-core machine): it runs when ``POSEBOARD_PIPELINE_TEST=1``
(``.ci/run`` sets it). The unit tests of its parts (plan, refusal of other stages, overview)
run always.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

slow = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("POSEBOARD_PIPELINE_TEST") != "1",
                                             reason="smoke dvc repro runs take minutes: set POSEBOARD_PIPELINE_TEST=1")]


def _poseboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "poseboard.cli", *args]


def _rows(html: str, methods: set[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(board, method) → (headline cell, interval cell) of every detailed board row of ``methods``."""
    out = {}
    for section in re.findall(r'<section id="[^"]+" class="board">(.*?)</section>', html, flags=re.S):
        board = re.search(r'data-protocol="([^"]+)"', section)
        if board is None:
            continue
        for method, body in re.findall(r'<tr data-method="([^"]+)"[^>]*>(.*?)</tr>', section, flags=re.S):
            if method in methods:
                head = re.search(r'class="num headline"[^>]*>([^<]*)<', body).group(1)
                ci = re.search(r'class="ci">([^<]*)<', body).group(1)
                out[(board.group(1), method)] = (head, ci)
    return out


def _code_changes(repo: Path, stage: str, run) -> list[str]:
    """The code dependencies (``poseboard/...``) `dvc status` reports changed for ``stage`` (``run``:
    conftest's :func:`run_checked`)."""
    status = json.loads(run([str(Path(sys.executable).with_name("dvc")), "status", stage, "--json"], repo).stdout)
    out = []
    for entry in status.get(stage, []):
        if isinstance(entry, dict):
            for kind, paths in entry.get("changed deps", {}).items():
                out += [p for p in (paths if isinstance(paths, list) else [paths]) if str(p).startswith("poseboard/")]
                out += [k for k in ([kind] if str(kind).startswith("poseboard/") else [])]
    return out


@pytest.fixture(scope="module")
def board(smoke_board) -> Path:
    """A committed smoke board: RANSAC's results, every split's task identity, its report
    (conftest.smoke_board, built once per session and shared with test_new_method_flow.py)."""
    return smoke_board


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("POSEBOARD_PIPELINE_TEST") != "1",
                    reason="smoke dvc repro runs take minutes: set POSEBOARD_PIPELINE_TEST=1")
def test_clean_clone_to_ranked_row(board, tmp_path, run_as_user):
    clone = tmp_path / "clone"
    run_as_user(["git", "clone", "-q", str(board), str(clone)], tmp_path)
    committed_lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    run_as_user(_poseboard("new-method", "my-method"), clone)
    # adding the method leaves every built-in stage's code deps as recorded
    assert _code_changes(clone, "train@ransac", run_as_user) == []

    first = run_as_user(_poseboard("method", "my-method"), clone)
    out = first.stdout
    ran = re.findall(r"^Running stage '([^']+)'", out, flags=re.MULTILINE)
    assert set(ran) == {"motion_library", "generate@synth-h36m", "pretrain_backbone", "train@my-method",
                        "predict@my-method-synth-h36m-relative"}, ran
    # DVC's own record: every built-in entry of dvc.lock is the committed one
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    for name, entry in committed_lock.items():
        if not name.startswith(("generate@", "pretrain_backbone", "motion_library")):
            assert lock[name] == entry, f"{name} changed in dvc.lock"
    assert set(lock) - set(committed_lock) == {"train@my-method", "predict@my-method-synth-h36m-relative"}
    # the verdict: its row and the paired comparison with RANSAC
    assert re.search(r"synth-h36m-relative@3: my-method MPJPE[^\n]* = [\d.]+ mm \[[\d.]+, [\d.]+\], rank \d of 2", out)
    assert re.search(r"^  ransac\s+[+-][\d.]+  \[[+-][\d.]+, [+-][\d.]+\]\s+[\d.e-]+  (my-method (better|worse)|not "
                     r"decided)", out, flags=re.MULTILINE), out[-3000:]
    assert "report/method/index.html" in out
    html = (clone / "report" / "method" / "index.html").read_text()
    assert 'data-overview-method="my-method" class="highlight"' in html
    committed = (clone / "report" / "index.html").read_text()
    built_in = {"ransac"}
    before, after = _rows(committed, built_in), _rows(html, built_in)
    assert before and after == before  # the built-in rows: same headlines and intervals
    # dvc status: its stages up to date; the built-in ones' code deps unchanged
    status = json.loads(run_as_user([str(Path(sys.executable).with_name("dvc")), "status", "--json"], clone).stdout)
    assert "train@my-method" not in status and "predict@my-method-synth-h36m-relative" not in status
    for stage in ("train@ransac", "predict@ransac-synth-h36m-relative"):  # outputs not here; code as recorded
        assert _code_changes(clone, stage, run_as_user) == []

    # iterating: a code change re-runs its stages only
    module = clone / "poseboard" / "methods" / "my_method.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    second = run_as_user(_poseboard("method", "my-method"), clone).stdout
    ran = re.findall(r"^Running stage '([^']+)'", second, flags=re.MULTILINE)
    assert set(ran) == {"train@my-method", "predict@my-method-synth-h36m-relative"}, ran

    # another task (the profile renders other test frames): refused, naming both hashes, nothing ranked
    params = clone / "params.yaml"
    text = params.read_text()
    smoke = "data: {preset: smoke-broad, crop_size: 64, real_motion: 0.3, real_test: 0.25}"
    assert smoke in text
    params.write_text(text.replace(smoke, smoke[:-1] + ", test_samples: 40}"))
    mtime = (clone / "report" / "method" / "index.html").stat().st_mtime_ns
    refused = run_as_user(_poseboard("method", "my-method"), clone, ok=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    err = refused.stderr
    assert "not the board's task" in err and "nothing is ranked" in err
    assert len(re.findall(r"\b[0-9a-f]{64}\b", err)) >= 2, err
    assert "Running stage 'train@my-method'" not in refused.stdout
    assert (clone / "report" / "method" / "index.html").stat().st_mtime_ns == mtime


def test_plan_and_refusal():
    """The plan from the committed params.yaml: a block's own stages and datasets; any other
    method's stage is refused by name."""
    from poseboard.errors import InputError
    from poseboard.params import load_params
    from poseboard.workflows.method_run import check_only_allowed, plan_method

    params = load_params(ROOT / "params.yaml")
    plan = plan_method(params, "volumetric")
    assert plan.targets[0] == "train@volumetric" and "predict@volumetric-synth-novel-rig" in plan.targets
    assert "train@algebraic" not in plan.allowed  # a built-in init is never trained by it
    assert {"synth-h36m", "synth-panoptic", "synth-novel-rig"} <= set(plan.datasets)
    with pytest.raises(InputError, match="would also run train@algebraic"):
        check_only_allowed(["generate@synth-h36m", "train@algebraic", "train@volumetric"], plan)
    with pytest.raises(InputError, match=r"no block methods\.volumetrik.*did you mean volumetric"):
        plan_method(params, "volumetrik")
    ransac = plan_method(params, "ransac")
    assert "pretrain_backbone" in ransac.allowed and "no_init" not in ransac.allowed


def test_overview_marks_and_groups():
    """The overview's cells come from the boards' rows (values, ranks), its decided mark from
    the neighbour comparisons, and the highlighted method is flagged."""
    from poseboard.protocols.results import read_results
    from poseboard.report.model import build_boards
    from poseboard.report.overview import build_overview

    results = [r for r in read_results(ROOT / "results") if r.protocol.name in ("synth-h36m-relative",
                                                                                 "synth-mupots-root")]
    boards = build_boards(results)
    ov = build_overview(boards, highlight="ransac")
    assert ov.groups == ["multi-view relative", "root localisation"]
    rel = next(b for b in boards if b.protocol.name == "synth-h36m-relative")
    by = {r.method: r for r in ov.rows}
    for i, row in enumerate(rel.rows):
        cell = by[row.method].cells["multi-view relative"]
        assert (cell.value, cell.rank, cell.of) == (row.value, row.rank, len(rel.rows))
        above = rel.rows[i - 1].differs_from_next if i > 0 else True
        below = row.differs_from_next if i < len(rel.rows) - 1 else True
        assert (cell.placed == "decided") == bool(above and below)
    assert by["ransac"].highlight and not by["algebraic"].highlight
    assert "multi-view relative" not in by["rootnet"].cells
