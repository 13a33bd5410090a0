"""The board in brief (``report/board.md``) and README.md's copy of it.

The committed copies are checked against what :mod:`poseboard.report.board` renders from the
committed ``results/`` (the files git tracks, tests/conftest.py's ``board_results``): a method a
user adds (``make method``, issue 71) leaves these tests green.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from poseboard.errors import InputError
from poseboard.protocols.results import read_results
from poseboard.report.board import BEGIN, BOARD_FILE, END, block_of, main, render_board, splice
from poseboard.report.build import build_report, page_boards
from poseboard.report.model import build_boards
from poseboard.report.overview import GROUPS

ROOT = Path(__file__).resolve().parents[2]


def test_the_board_is_the_headline_ranking(results_dir):
    text = render_board(build_boards(read_results(results_dir)), "smoke")
    assert text.startswith("`synth-h36m-relative@3` (MPJPE (relative), mm; lower is better), profile `smoke`")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert [r.split(" | ")[1] for r in rows] == ["`noise-8mm`", "`noise-20mm`", "`noise-20.5mm`"]
    # 8 mm of noise against 20 mm is decided, 20 against 20.5 is not (conftest); the last row has no next
    assert [r.rstrip(" |").rsplit(" | ", 1)[-1] for r in rows[:2]] == ["yes", "no"]
    assert rows[2].endswith("| 1 |  |  |  |")
    assert "one training seed, whose noise is not included" in text
    assert "Neighbours decided: 1 of 2; all pairs: 2 of 3." in text


def test_no_headline_results_says_so(results_dir):
    others = [r for r in read_results(results_dir) if r.protocol.name not in GROUPS[0][1]]
    assert render_board(build_boards(others), "default").startswith("No results yet under the headline protocol")


def test_the_report_writes_the_board(results_dir, tmp_path):
    build_report(results_dir, tmp_path / "report", params_file=None)
    expected = render_board(build_boards(read_results(results_dir)), "unknown")
    assert (tmp_path / "report" / BOARD_FILE).read_text() == expected


def test_splice_replaces_only_the_block(tmp_path):
    readme = f"# title\n\n{BEGIN}\nold\nlines\n{END}\n\nrest\n"
    assert splice(readme, "new\n") == f"# title\n\n{BEGIN}\nnew\n{END}\n\nrest\n"
    assert block_of(splice(readme, "")) == ""
    for broken in ("no markers\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n", f"{BEGIN} x\n{END}\n"):
        with pytest.raises(InputError):
            block_of(broken)
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "board.md").write_text("board\n")
    main([str(tmp_path / "README.md"), "--board", str(tmp_path / "board.md")])
    assert block_of((tmp_path / "README.md").read_text()) == "board\n"


def test_readme_embeds_the_report_board():
    """README.md's board block is report/board.md (refresh it: `python -m poseboard.report.board`)."""
    board = ROOT / "report" / BOARD_FILE
    if not board.is_file():
        pytest.skip("no report/board.md")
    assert block_of((ROOT / "README.md").read_text()) == board.read_text(), (
        "README.md's board block differs from report/board.md: run `.venv/bin/python -m poseboard.report.board`")


def test_committed_board_matches_the_committed_results(board_results):
    """report/board.md is what the report renders from the committed results/ (``board_results``:
    the files git tracks, so a method added to this checkout is not on it). The headline board is
    built from its protocols' results alone, as every board is built from its own."""
    from poseboard.params import load_params

    board = ROOT / "report" / BOARD_FILE
    if not board.is_file():
        pytest.skip("no report/board.md")
    params = load_params(ROOT / "params.yaml")
    results = [r for r in read_results(board_results) if r.protocol.name in GROUPS[0][1]]
    boards, _ = page_boards(results, board_results, params.profile, params.report.significance)
    assert board.read_text() == render_board(boards, params.profile)
