"""The report: boards, significance marks, paper tables, figures, escaping, determinism."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from poseboard.errors import ResultFileError
from poseboard.protocols.results import read_results
from poseboard.report.build import build_report
from poseboard.report.figures import pareto_front
from poseboard.report.model import build_boards, significant
from poseboard.report.tables import TABLES


@pytest.fixture(scope="module")
def built(results_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return build_report(results_dir, out, params_file=None), out


def test_boards_rank_and_ci(results_dir):
    boards = {b.id: b for b in build_boards(read_results(results_dir))}
    assert set(boards) == {"synth-h36m-relative@3", "synth-panoptic-sweep@2", "synth-mupots-root@2"}
    rel = boards["synth-h36m-relative@3"]
    assert [r.method for r in rel.rows] == ["noise-8mm", "noise-20mm", "noise-20.5mm"]
    assert all(r.ci95 is not None and r.ci95[0] <= r.value <= r.ci95[1] for r in rel.rows)
    # 8 mm vs 20 mm noise differ; 20 vs 20.5 mm do not
    assert rel.rows[0].differs_from_next is True
    assert rel.rows[1].differs_from_next is False
    assert rel.rows[2].differs_from_next is None
    root = boards["synth-mupots-root@2"]
    assert root.higher_is_better and root.rows[0].method == "noise-8mm"  # AP: higher first
    assert boards["synth-panoptic-sweep@2"].sweep_sizes == [1, 2, 3, 4, 6, 8, 12, 16]


def test_significance_and_pareto():
    assert significant(10.0, (9.0, 11.0), 20.0, (19.0, 21.0)) is True
    assert significant(10.0, (8.0, 12.0), 10.5, (8.5, 12.5)) is False
    assert significant(10.0, None, 20.0, (19.0, 21.0)) is None
    pts = [(1.0, 50.0, "fast"), (10.0, 20.0, "accurate"), (20.0, 30.0, "dominated"), (5.0, 60.0, "dominated2")]
    assert [p[2] for p in pareto_front(pts, higher_is_better=False)] == ["fast", "accurate"]


def test_html_is_self_contained_and_complete(built):
    summary, out = built
    html = (out / "index.html").read_text()
    assert html.count('class="sortable leaderboard"') == 3
    assert "≈ n.s." in html
    assert not re.search(r"""(src|href)=["']https?://""", html.split("<section id=\"methods\">")[0])
    assert "<link" not in html and "<script src" not in html and "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html
    assert html.count("data:image/png;base64,") == len(summary.figures) >= 3
    assert "Provenance" in html and "params hash" in html


def _sections(html: str) -> list[str]:
    """The detailed sections' ids (protocol anchors), in the page's order."""
    return re.findall(r'<section id="([^"]+)" class="board">', html)


def _overview_columns(html: str) -> list[str]:
    """The overview's column boards (their anchors), left to right."""
    head = html.split('<table class="overview-table">', 1)[1].split("</thead>", 1)[0]
    return re.findall(r'<th><a href="#([^"]+)">', head)


def test_detailed_sections_follow_the_overview(built):
    """Issue 81: below the overview the detailed sections run in the overview's group order (the
    headline protocol first), not alphabetically by protocol id (which put the root board before
    the camera sweep here, and the one-method extrapolated-rig board first on the committed page)."""
    _, out = built
    html = (out / "index.html").read_text()
    sections, columns = _sections(html), _overview_columns(html)
    assert columns == ["synth-h36m-relative-3", "synth-panoptic-sweep-2", "synth-mupots-root-2"]
    assert sections == columns
    assert sections != sorted(sections)  # alphabetically, synth-mupots-root would come second
    nav = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'<a href="#([^"]+)">[^<]*@', nav) == sections  # the header's links likewise


def test_committed_page_opens_on_the_headline_board():
    """The committed report/index.html (the committed results/, every protocol): the first detailed
    section is the headline protocol's, the overview's columns come in its order, a protocol's
    variants follow it and the held-out splits sit with the generalization group."""
    from poseboard.report.overview import GROUPS

    html = (Path(__file__).resolve().parents[2] / "report" / "index.html").read_text()
    sections, columns = _sections(html), _overview_columns(html)
    assert sections[0].rsplit("-", 1)[0] in GROUPS[0][1]
    assert [s for s in sections if s in columns] == columns
    at = {s.rsplit("-", 1)[0]: i for i, s in enumerate(sections)}
    if "synth-mupots-root-ap10" in at:
        assert at["synth-mupots-root-ap10"] == at["synth-mupots-root"] + 1
    if "synth-extrapolated-rig-uncalibrated" in at:
        assert at["synth-novel-all"] < at["synth-extrapolated-rig-uncalibrated"] < at["synth-mupots-root"]


def test_paper_tables(built):
    _, out = built
    files = sorted(p.stem for p in (out / "tables").glob("*.md"))
    assert set(files) == {t.name for t in TABLES} | {"README", "generalization"}
    rel = (out / "tables" / "iskakov2019_relative_mpjpe.md").read_text()
    assert "| method | paper | paper's dataset | source | poseboard `synth-h36m-relative@3` |" in rel
    assert "27.4" in rel and "not run" in rel  # the paper's RANSAC number, and no invented poseboard row
    assert "the data differ" in rel
    missing = (out / "tables" / "poseboard_calibration_robustness.md").read_text()
    assert "Not reproduced yet" in missing  # no result under the robustness protocols
    transfer = (out / "tables" / "iskakov2019_transfer_panoptic_to_h36m.md").read_text()
    assert "`algebraic-dome`" in transfer and "not run" in transfer
    sweep = (out / "tables" / "iskakov2019_mpjpe_vs_cameras.md").read_text()
    assert "| method | 1 cam | 2 cam | 3 cam | 4 cam | 6 cam | 8 cam | 12 cam | 16 cam |" in sweep


def test_figures_written(built):
    summary, _ = built
    names = {f.name for f in summary.figures}
    assert {"mpjpe_vs_cameras_synth-panoptic-sweep", "per_action_synth-h36m-relative",
            "accuracy_vs_speed_synth-h36m-relative", "per_joint_synth-h36m-relative",
            "depth_vs_distance_synth-mupots-root"} <= names
    for f in summary.figures:
        assert f.png.stat().st_size > 1000 and f.svg.stat().st_size > 1000
    missing = {m.name for m in summary.missing_figures}
    assert "calibration_robustness" in missing and "per_joint_errors" not in missing


def test_deterministic_tables_and_figures(results_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build_report(results_dir, a, params_file=None)
    build_report(results_dir, b, params_file=None)
    for sub in ("tables", "figures"):
        for p in sorted((a / sub).iterdir()):
            assert p.read_bytes() == (b / sub / p.name).read_bytes(), p.name


def test_user_strings_are_escaped(results_dir, tmp_path):
    res = tmp_path / "results"
    shutil.copytree(results_dir, res)
    path = res / "noise-8mm" / "synth-h36m-relative@3.json"
    data = json.loads(path.read_text())
    data["method"]["name"] = "evil"
    data["method"]["config"] = {"note": "<img src=x onerror=alert(1)>", "other": "<script>alert('x')</script>"}
    evil = res / "evil" / "synth-h36m-relative@3.json"
    evil.parent.mkdir()
    evil.write_text(json.dumps(data))
    build_report(res, tmp_path / "report", params_file=None)
    html = (tmp_path / "report" / "index.html").read_text()
    assert "<script>alert('x')</script>" not in html
    assert "&lt;script&gt;alert(" in html
    assert "<img src=x" not in html
    # a method *name* is a folder and an HTML id: one that is not a plain slug is refused, naming the file
    data["method"]["name"] = "<script>alert('x')</script>"
    evil.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=r"evil/synth-h36m-relative@3.json.*not a valid method name"):
        build_report(res, tmp_path / "report2", params_file=None)
    assert not (tmp_path / "report2" / "index.html").exists()


def test_empty_results(tmp_path):
    summary = build_report(tmp_path / "no-results", tmp_path / "report", params_file=None)
    html = (tmp_path / "report" / "index.html").read_text()
    assert summary.num_results == 0 and 'id="no-results"' in html
    assert all(not t.filled for t in summary.tables)
    assert (tmp_path / "report" / "figures").is_dir()


def test_report_reads_params(results_dir, tmp_path):
    repo_params = Path(__file__).resolve().parents[2] / "params.yaml"
    summary = build_report(results_dir, tmp_path / "report", params_file=repo_params)
    html = (tmp_path / "report" / "index.html").read_text()
    assert "Profile <code>" in html and summary.num_results == 9


def test_speed_column_comes_from_the_benchmark_suite(results_dir, tmp_path):
    """The `speed` stage's pytest-benchmark JSON replaces the run's own timing of a method."""
    speed = tmp_path / "benchmarks.json"
    speed.write_text(json.dumps({
        "machine_info": {"cpu": {"brand_raw": "Test CPU 9000"}},
        "benchmarks": [{"stats": {"rounds": 5}, "extra_info": {"method": "noise-8mm", "ms_per_frame": 123.25,
                                                                "frames_per_call": 8, "torch_threads": 1}}],
    }))
    summary = build_report(results_dir, tmp_path / "out", params_file=None, speed_file=speed)
    rows = {r.method: r for r in next(b for b in summary.boards if b.protocol.name == "synth-h36m-relative").rows}
    assert rows["noise-8mm"].ms_per_sample == 123.25 and "Test CPU 9000" in rows["noise-8mm"].device
    assert rows["noise-20mm"].ms_per_sample == 10.0  # no benchmark: the result's own timing stays
    assert "Test CPU 9000" in (tmp_path / "out" / "index.html").read_text()
