"""The leaderboard's opening overview: one row per method, the headline of each protocol group.

Why: a reader's first question is "which method is better, and where?". The detailed page
has one section per protocol; the overview puts each method's headline of every protocol
group side by side (multi-view relative and absolute, camera sweep, calibration,
uncalibrated, generalization, root localisation), with its rank on that board and whether
the board *decides* its place (the paired, Holm-corrected comparison with the neighbour
above and the one below are both significant), each cell linking to the detailed section.
A method named as ``highlight`` (``poseboard method NAME``) and submitted rows stand out.

The detailed sections below follow the same groups (:func:`section_order`): the headline
protocol's board first, so a reader scrolling down meets the boards in the overview's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from poseboard.report.generalization import NOVEL_SPLITS
from poseboard.report.model import Board

#: Protocol groups: (column label, protocol names tried in order: the first board the method
#: has a row on is its cell). The generalization column is the split holding out every factor.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("multi-view relative", ("synth-h36m-relative", "human36m-relative")),
    ("multi-view absolute", ("synth-h36m-absolute", "human36m-absolute")),
    ("camera sweep", ("synth-panoptic-sweep", "panoptic-sweep")),
    ("calibration", ("synth-h36m-calibration",)),
    ("uncalibrated", ("synth-h36m-uncalibrated",)),
    ("generalization", ("synth-novel-all", "synth-novel-all-uncalibrated")),
    ("root localisation", ("synth-mupots-root", "mupots-root", "synth-h36m-root")),
)

#: Group label → further protocols whose detailed sections sit in that group (after the
#: group's own): the held-out splits the generalization table reads, in its column order.
KIN: dict[str, tuple[str, ...]] = {
    "generalization": tuple(pid.split("@")[0] for pid in NOVEL_SPLITS.values()),
}


@dataclass(frozen=True)
class Cell:
    """One method's headline on one protocol group's board."""

    board_id: str
    value: float
    unit: str
    rank: int
    of: int
    higher_is_better: bool
    #: "decided" (both neighbour comparisons significant), "partly" (one of two), "open" (none
    #: decided, or no comparison), "alone" (the only row)
    placed: str
    note: str


@dataclass
class OverviewRow:
    method: str
    cells: dict[str, Cell] = field(default_factory=dict)
    highlight: bool = False
    submitted: bool = False


@dataclass
class Overview:
    groups: list[str]
    #: the board each group's column reads (protocol id), where one exists
    columns: dict[str, str]
    rows: list[OverviewRow]


def _latest(boards: list[Board]) -> dict[str, Board]:
    """Protocol name → the board of its highest version."""
    out: dict[str, Board] = {}
    for b in boards:
        name = b.protocol.name
        if name not in out or b.protocol.version > out[name].protocol.version:
            out[name] = b
    return out


def _placed(board: Board, index: int) -> tuple[str, str]:
    rows = board.rows
    if len(rows) == 1:
        return "alone", "the only method on this board"
    checks = []
    if index > 0:
        checks.append(("above", rows[index - 1].method, rows[index - 1].differs_from_next))
    if index < len(rows) - 1:
        checks.append(("below", rows[index + 1].method, rows[index].differs_from_next))
    decided = [c for c in checks if c[2]]
    note = "; ".join(f"vs {m} ({where}): {'decided' if d else 'not decided'}" for where, m, d in checks)
    if len(decided) == len(checks):
        return "decided", note
    return ("partly" if decided else "open"), note


def build_overview(boards: list[Board], highlight: str | None = None) -> Overview:
    """The overview of ``boards``: one row per method (ordered by the first group's rank, then
    the next group's, then name), one column per protocol group with a board."""
    latest = _latest(boards)
    columns: dict[str, str] = {}
    rows: dict[str, OverviewRow] = {}
    for label, names in GROUPS:
        present = [latest[n] for n in names if n in latest]
        if not present:
            continue
        columns[label] = present[0].id
        for board in reversed(present):  # the first listed board wins
            for i, row in enumerate(board.rows):
                placed, note = _placed(board, i)
                entry = rows.setdefault(row.method, OverviewRow(row.method))
                entry.cells[label] = Cell(board.id, row.value, board.unit, row.rank, len(board.rows),
                                          board.higher_is_better, placed, note)
                entry.submitted = entry.submitted or row.result.submission is not None
    for b in boards:  # methods on no group's board still get a row
        for row in b.rows:
            rows.setdefault(row.method, OverviewRow(row.method))
    if highlight in rows:
        rows[highlight].highlight = True
    groups = list(columns)

    def key(r: OverviewRow) -> tuple:
        return (*((r.cells[g].rank if g in r.cells else 10**6) for g in groups), r.method)

    return Overview(groups, columns, sorted(rows.values(), key=key))


def section_order(boards: list[Board]) -> list[Board]:
    """``boards`` in the order of the page's detailed sections: the overview's groups in column
    order (the headline group first); within a group its protocols as listed (then its
    :data:`KIN`), each followed by its variants (protocols named ``<name>-…``, by id, e.g.
    ``synth-mupots-root-ap10`` after ``synth-mupots-root``); then every other board by protocol
    name. A protocol's versions stay together, in the order of their ids."""
    by_name: dict[str, list[Board]] = {}
    for b in sorted(boards, key=lambda b: b.id):
        by_name.setdefault(b.protocol.name, []).append(b)
    out: list[Board] = []

    def take(name: str) -> None:
        out.extend(by_name.pop(name, []))

    for label, names in GROUPS:
        for name in (*names, *KIN.get(label, ())):
            take(name)
            for variant in sorted(n for n in by_name if n.startswith(name + "-")):
                take(variant)
    for name in sorted(by_name):
        take(name)
    return out
