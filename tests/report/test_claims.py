"""Paper tables: every published number with its source, and per-claim verdicts from the data.

The verdicts are computed from result files the real scorer wrote (conftest: ground truth
with known noise), renamed to the methods a claim names, so the same claim holds, reverses or
stays unresolved as the data say.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from poseboard.protocols.results import read_results
from poseboard.report.build import build_report
from poseboard.report.causes import cause_text
from poseboard.report.model import build_boards
from poseboard.report.tables import TABLES, latest_boards, published_lines, render_table

RELATIVE = next(t for t in TABLES if t.name == "iskakov2019_relative_mpjpe")


def _as_methods(results_dir: Path, out: Path, mapping: dict[str, str]) -> Path:
    """Copy the noise pseudo-methods' ``synth-h36m-relative@3`` results as ``mapping`` (method →
    noise pseudo-method), the method name inside each file changed too."""
    for method, source in mapping.items():
        data = json.loads((results_dir / source / "synth-h36m-relative@3.json").read_text())
        data["method"]["name"] = method
        path = out / method / "synth-h36m-relative@3.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(data))
    return out


def _relative(results: Path):
    return render_table(RELATIVE, latest_boards(build_boards(read_results(results))))


@pytest.mark.parametrize(("mapping", "expected"), [
    # algebraic 8 mm < RANSAC 20 mm: the paper's order; volumetric 20.5 mm > algebraic: reversed
    ({"algebraic": "noise-8mm", "ransac": "noise-20mm", "volumetric": "noise-20.5mm"},
     ["holds", "reversed"]),
    # swapped data, swapped verdicts
    ({"algebraic": "noise-20mm", "ransac": "noise-8mm", "volumetric": "noise-8mm"},
     ["reversed", "holds"]),
])
def test_claim_verdicts_come_from_the_results(results_dir, tmp_path, mapping, expected):
    table = _relative(_as_methods(results_dir, tmp_path / "results", mapping))
    assert [v.verdict for v in table.claims] == expected
    assert all(v.where == "synth-h36m-relative@3" for v in table.claims)
    heads = ("algebraic < ransac", "volumetric < algebraic")
    parts = [f"{h}: {v} (synth-h36m-relative@3)" + (f"; {c}" if (c := cause_text(h, v)) else "")
             for h, v in zip(heads, expected, strict=True)]
    assert table.status == "; ".join(parts)
    assert all(v.cause == cause_text(v.head, v.verdict) for v in table.claims)  # the measured causes, by verdict
    assert "cause" in parts[expected.index("reversed")]  # a failing claim says its cause (or that none is measured)
    assert "## Claims" in table.markdown and "Holm" in table.markdown


def test_an_unresolved_difference_is_not_a_verdict_either_way(results_dir, tmp_path):
    # 20 and 20.5 mm of noise are meant to be indistinguishable (conftest)
    table = _relative(_as_methods(results_dir, tmp_path / "results",
                                  {"algebraic": "noise-20.5mm", "ransac": "noise-20mm", "volumetric": "noise-8mm"}))
    assert table.claims[0].verdict == "not shown: no significant difference"
    assert table.claims[1].verdict == "holds"


def test_a_claim_without_its_rows_is_not_run(results_dir, tmp_path):
    results = _as_methods(results_dir, tmp_path / "results", {"algebraic": "noise-8mm", "ransac": "noise-20mm"})
    table = _relative(results)
    assert [v.verdict for v in table.claims] == ["holds", "not run"]
    assert "(not run: volumetric)" in table.status


def test_the_index_says_per_claim_whether_it_holds(results_dir, tmp_path):
    results = _as_methods(results_dir, tmp_path / "results",
                          {"algebraic": "noise-8mm", "ransac": "noise-20mm", "volumetric": "noise-20.5mm"})
    summary = build_report(results, tmp_path / "report", params_file=None)
    index = (tmp_path / "report" / "tables" / "README.md").read_text()
    assert "| algebraic < ransac: holds (synth-h36m-relative@3); volumetric < algebraic: reversed" in index
    assert "| reproduced" not in index  # results existing is not a claim holding
    by_name = {t.name: t for t in summary.tables}
    assert by_name["iskakov2019_absolute_mpjpe"].status == "not yet (no results)"
    assert by_name["poseboard_calibration_robustness"].claims == []
    html = (tmp_path / "report" / "index.html").read_text()
    assert "algebraic &lt; ransac: holds" in html


def test_every_published_number_has_a_source_and_an_origin():
    for spec in TABLES:
        numbers = [p for r in spec.rows for p in ([r.published] if r.published else []) + list(r.also)]
        numbers += [p for peer in spec.peers for p in peer.numbers]
        for pub in numbers:
            assert pub.source and pub.origin in {"paper", "code README"}, (spec.name, pub)


def test_every_claim_names_rows_of_its_table():
    for spec in TABLES:
        methods = {r.method for r in spec.rows}
        for claim in spec.claims:
            named = [claim.method] if claim.kind == "dominant" else [claim.better, claim.worse]
            assert set(filter(None, named)) <= methods, (spec.name, claim)
        assert spec.claims or spec.no_claim, spec.name  # a table either tests claims or says why not


@pytest.mark.parametrize(("table", "numbers"), [
    ("iskakov2019_relative_mpjpe", ["| 22.4 |", "| 22.5 |", "| 20.5 |", "| 20.4 |", "model zoo", "results table"]),
    ("he2020_epipolar_transformer", ["| 45.3 |", "| 33.1 |", "| 30.4 |", "| 19.0 |", "| 26.9 |",
                                     "He et al. 2020, paper (abstract)"]),
    ("iskakov2019_transfer_panoptic_to_h36m", ["| 36 |", "| 34 |", "elbows, wrists and knees"]),
    ("jiang2023_uncalibrated", ["| 26.10 |", "the V2 code", "does not re-centre", "randomly augmented",
                                "| 29.1 |", "| 25.6 |", "| 31.0 |", "| 22.6 |", "| 20.8 |", "| 27.4 |",
                                "CMU Panoptic table, not transcribed here"]),
])
def test_tables_carry_every_published_number(table, numbers):
    spec = next(t for t in TABLES if t.name == table)
    text = "\n".join(published_lines(spec, []))
    for number in numbers:
        assert number in text, number
    assert "| paper |" in text or "| code README |" in text


def test_committed_index_matches_the_committed_results(board_results, tmp_path):
    """The committed report/tables/ regenerate from the committed results/ (the claims included):
    the files git tracks, so a method added to this checkout (results/<its name>/, untracked)
    is not on the committed board (conftest.board_files)."""
    root = Path(__file__).resolve().parents[2]
    if not any(board_results.rglob("*.json")):
        pytest.skip("no committed results")
    speed = root / "speed" / "benchmarks.json"
    build_report(board_results, tmp_path / "report", root / "params.yaml", speed if speed.exists() else None)
    for md in sorted((root / "report" / "tables").glob("*.md")):
        assert (tmp_path / "report" / "tables" / md.name).read_text() == md.read_text(), md.name
