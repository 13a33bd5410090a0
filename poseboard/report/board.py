"""The board in brief: ``report/board.md``, the headline protocol's ranking as one small Markdown table.

One row per method on the headline board (the overview's first column: ``synth-h36m-relative``,
or ``human36m-relative`` with the real data), in the leaderboard's order, with the headline, its
95 % interval, the training seeds it averages and the paired comparison with the next one down,
as the leaderboard tests it (:mod:`poseboard.report.model`). The ``report`` stage writes it
beside ``index.html``.

README.md embeds the same text between :data:`BEGIN` and :data:`END`. The stage writes
``board.md`` only, never README.md: DVC deletes a stage's outputs before it runs them and owns
them, and README.md is hand-written around the block. ``python -m poseboard.report.board``
copies ``report/board.md`` into README.md's block, and ``tests/report/test_board.py`` checks that
the block, ``report/board.md`` and what this module renders from the committed ``results/`` agree.

Example:
    >>> splice("intro\\n<!-- board:begin -->\\nold\\n<!-- board:end -->\\nrest\\n", "new\\n")
    'intro\\n<!-- board:begin -->\\nnew\\n<!-- board:end -->\\nrest\\n'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from poseboard.errors import InputError
from poseboard.report.model import Board, metric_label
from poseboard.report.overview import GROUPS
from poseboard.report.tables import _p, latest_boards

#: The file the report writes beside ``index.html``.
BOARD_FILE = "board.md"
#: The markers of the block README.md embeds.
BEGIN, END = "<!-- board:begin -->", "<!-- board:end -->"


def headline_board(boards: list[Board]) -> Board | None:
    """The board the overview ranks first (its first protocol group's first protocol with
    results, at its latest version); None when no result is under any of them."""
    latest = latest_boards(boards)
    return next((latest[name] for name in GROUPS[0][1] if name in latest), None)


def _interval(ci: tuple[float, float] | None, signed: bool = False) -> str:
    if ci is None:
        return ""
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def render_board(boards: list[Board], profile: str) -> str:
    """The Markdown of ``report/board.md`` for the boards of one profile's page."""
    board = headline_board(boards)
    if board is None:
        return (f"No results yet under the headline protocol ({', '.join(f'`{n}`' for n in GROUPS[0][1])}), "
                f"profile `{profile}`: run `make repro`.\n")
    unit, label = board.unit, metric_label(board.protocol.headline, board.protocol)
    rows = []
    for row in board.rows:
        if row is board.rows[-1]:
            vs_next, p, verdict = "", "", ""
        elif row.vs_next is not None:
            ci = row.vs_next_ci_with_seeds or row.vs_next.ci95
            vs_next = f"{row.vs_next.difference:+.1f}{_interval(ci, signed=True)}"
            p, verdict = _p(row.vs_next_p_holm), "yes" if row.differs_from_next else "no"
        else:
            vs_next, p = "no paired test", "—"
            verdict = {True: "yes (intervals)", False: "no (intervals)", None: "—"}[row.differs_from_next]
        rows.append(f"| {row.rank} | `{row.method}` | {row.value:.1f}{_interval(row.ci95)} | "
                    f"{len(row.replicates) or 1} | {vs_next} | {p} | {verdict} |")
    decided, pairs = board.decided
    order = "higher" if board.higher_is_better else "lower"
    seeds = ("training-seed noise included" if any(r.averaged or r.seed_floor_sd is not None for r in board.rows)
             else "one training seed, whose noise is not included")
    lines = [
        f"`{board.id}` ({label}, {unit}; {order} is better), profile `{profile}`: the leaderboard's ranking, "
        f"each value with its 95 % interval, each method against the next one down (paired on the same "
        f"test sequences, {seeds}, Holm-corrected at α = {board.level:g}).",
        "",
        f"| # | method | {label}, {unit} [95 % CI] | seeds | vs next: Δ (this − next) [95 % CI] | p (Holm) | decided |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Neighbours decided: {decided} of {pairs}"
        + (f"; all pairs: {board.all_pairs[0]} of {board.all_pairs[1]}." if board.all_pairs else ".")
        + " Written by the `report` stage from `results/` (`report/board.md`); every other board, the "
        "held-out splits and the paper tables: `report/index.html`.",
    ]
    return "\n".join(lines) + "\n"


def splice(readme: str, board: str) -> str:
    """``readme`` with the text between :data:`BEGIN` and :data:`END` replaced by ``board``."""
    block = block_of(readme)
    start = readme.index(BEGIN) + len(BEGIN) + 1
    return readme[:start] + board + readme[start + len(block):]


def block_of(readme: str) -> str:
    """The text between the markers (each on its own line), newline-terminated lines."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise InputError(f"expected one {BEGIN} line followed by one {END} line")
    start = readme.index(BEGIN) + len(BEGIN)
    if readme[start:start + 1] != "\n":
        raise InputError(f"{BEGIN} must end its line")
    return readme[start + 1:readme.index(END)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Copy report/board.md into README.md's board block.")
    parser.add_argument("readme", nargs="?", type=Path, default=Path("README.md"))
    parser.add_argument("--board", type=Path, default=Path("report") / BOARD_FILE)
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    new = splice(text, args.board.read_text())
    if new != text:
        args.readme.write_text(new)
    print(f"{args.readme}: board block {'updated' if new != text else 'already current'}")


if __name__ == "__main__":
    main()
