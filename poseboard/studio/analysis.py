"""The studio's numbers, from result files only: the methods ranked on the user's rig with every
pair compared paired, each method's change from the committed board, how the two rankings agree,
per-joint and per-camera-count breakdowns, and a plain recommendation with its uncertainty.

Every comparison is :mod:`poseboard.comparison`'s: a sequence-level paired bootstrap
(:func:`~poseboard.comparison.paired.paired_bootstrap`, Holm over each family), the change of a
headline with its interval (:func:`~poseboard.comparison.rank_agreement.headline_change`: paired
when the studio split holds the board's sequences, the default test design drawn with the board's
seed; two-sample otherwise, e.g. the user's own motion), Kendall's τ-b and the board's decided pairs
tested again (:func:`~poseboard.comparison.rank_agreement.pair_flips`). Pure functions of
:class:`~poseboard.protocols.results.Result` records (no I/O).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from poseboard.comparison.paired import PairedComparison, SequenceTable, holm
from poseboard.comparison.rank_agreement import (
    HeadlineChange,
    PairFlip,
    RankAgreement,
    SeedVariance,
    decided_pairs,
    headline_change,
    kendall_tau,
    pair_flips,
    paired_with_seed_noise,
)
from poseboard.comparison.results import sequence_table
from poseboard.comparison.seed_spread import SeedSpread
from poseboard.protocols.results import Result
from poseboard.report.model import Board, board_seed_variance, build_boards, single_run_seed_variance

#: Bootstrap draws of every interval and test (the leaderboard's).
N_RESAMPLES = 10000


@dataclass(frozen=True)
class MethodLine:
    """One method on the studio's board: its headline (mm) with the 95 % sequence-bootstrap
    interval, its speed, and its change from the board's headline (None: no board result)."""

    rank: int
    method: str
    value: float
    ci95: tuple[float, float] | None
    ms_per_frame: float | None
    frames: int
    board_value: float | None
    change: HeadlineChange | None
    per_joint: dict[str, float]


@dataclass(frozen=True)
class PairLine:
    """``a − b`` (a ranked above b), paired over the studio's sequences, Holm over the board's pairs."""

    a: str
    b: str
    comparison: PairedComparison
    p_holm: float
    level: float

    @property
    def decided(self) -> bool:
        return self.p_holm < self.level


@dataclass(frozen=True)
class SizeLine:
    """One subset size of a camera sweep: the methods ranked (method, value, ci95), the best
    method's paired comparisons with the others (Holm within the size), and, for the studio's
    recommended method, its change from all the rig's cameras (this size − all, paired over
    sequences: the sweep scores the main protocol's sequences, each size its own frames' mean)."""

    size: int
    ranked: list[tuple[str, float, tuple[float, float] | None]]
    pairs: list[PairLine]
    vs_all: HeadlineChange | None


@dataclass(frozen=True)
class StudioBoard:
    """One studio protocol (calibrated or uncalibrated): its ranking, all pairs, the board it is
    compared with, the agreement, the sweep and the recommendation."""

    protocol: str
    title: str
    board_protocol: str
    lines: list[MethodLine]
    pairs: list[PairLine]
    agreement: RankAgreement | None
    board_decided: tuple[int, int] | None
    flips: list[PairFlip]
    joints: list[str]
    sizes: list[SizeLine] = field(default_factory=list)
    sweep_protocol: str | None = None
    recommendation: str = ""
    enough_views: str | None = None
    #: Whether the pairs' tests add the board's measured training-seed variance of each pair
    #: (its in-distribution ``seed_spread.json``: a user's rig has no replicate of its own).
    seed_noise: bool = False

    def count(self, verdict: str) -> int:
        return sum(1 for f in self.flips if f.verdict == verdict)


def _tables(board: Board | None) -> dict[str, SequenceTable]:
    out: dict[str, SequenceTable] = {}
    for row in board.rows if board is not None else []:
        table = sequence_table(row.replicates or [row.result])
        if table is not None:
            out[row.method] = table
    return out


def all_pairs(order: Sequence[str], tables: dict[str, SequenceTable], level: float, seed: int,
              n_resamples: int = N_RESAMPLES, seed_variance: SeedVariance | None = None) -> list[PairLine]:
    """Every pair of ``order`` (ranked, best first) compared paired, ``a − b`` with ``a`` ranked
    above, Holm-corrected over the pairs (the leaderboard's "all pairs" family); with
    ``seed_variance``, a pair's training-seed variance is part of its test where it is known."""
    pairs = [(a, b, paired_with_seed_noise(tables[a], tables[b], (a, b), "frame", seed_variance,
                                           n_resamples=n_resamples, seed=seed))
             for a, b in itertools.combinations(order, 2)
             if a in tables and b in tables and tables[a].same_units(tables[b])]
    if not pairs:
        return []
    adjusted = holm([c.p_value for _, _, c in pairs])
    return [PairLine(a, b, c, p, level) for (a, b, c), p in zip(pairs, adjusted, strict=True)]


def _per_joint(result: Result) -> dict[str, float]:
    return {joint: float(stats["mean"]) for joint, stats in result.metrics.main.per_joint.items() if "mean" in stats}


def _sizes(sweep: Board | None, best: str | None, full: SequenceTable | None, num_cameras: int, level: float,
           seed: int, n_resamples: int, seed_variance: SeedVariance | None = None) -> list[SizeLine]:
    """The sweep's sizes; ``full``: the recommended method ``best`` with all ``num_cameras`` cameras
    (a size of all the cameras is that same pass: no change to compute)."""
    if sweep is None:
        return []
    curves = sweep.sweep()
    rows = {row.method: row.result for row in sweep.rows}
    out = []
    for size in sweep.sweep_sizes:
        ranked = sorted(((m, c[size][0], c[size][1]) for m, c in curves.items() if size in c),
                        key=lambda t: (t[1], t[0]))
        tables = {}
        for m, _, _ in ranked:
            t = sequence_table([rows[m]], point=str(size))
            if t is not None:
                tables[m] = t
        pairs = []
        if len(ranked) > 1:
            top = ranked[0][0]
            found = [(top, m, paired_with_seed_noise(tables[top], tables[m], (top, m), "frame", seed_variance,
                                                     n_resamples=n_resamples, seed=seed))
                     for m, _, _ in ranked[1:] if top in tables and m in tables and tables[top].same_units(tables[m])]
            if found:
                adjusted = holm([c.p_value for _, _, c in found])
                pairs = [PairLine(a, b, c, p, level) for (a, b, c), p in zip(found, adjusted, strict=True)]
        vs_all = None
        if (best is not None and full is not None and best in curves and size in curves[best]
                and size < num_cameras):
            tb = sequence_table([rows[best]], point=str(size))
            if tb is not None:
                vs_all = headline_change(full, tb, "frame", n_resamples=n_resamples, seed=seed)
        out.append(SizeLine(size, ranked, pairs, vs_all))
    return out


def _fmt_ci(c: PairedComparison | HeadlineChange) -> str:
    return f"{c.difference:+.1f} [{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}] mm"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def recommend(lines: list[MethodLine], pairs: list[PairLine], what: str) -> str:
    """The plain recommendation: the best-ranked method, and the methods it is not decided
    against (Holm-adjusted p at or above the level), each with its paired difference."""
    if not lines:
        return f"No {what} method was scored on this rig."
    best = lines[0]
    ci = f" [{best.ci95[0]:.1f}, {best.ci95[1]:.1f}]" if best.ci95 else ""
    head = f"{what.capitalize()}: **{best.method}** ({best.value:.1f}{ci} mm)"
    if len(lines) == 1:
        return head + f", the only {what} method scored here."
    mine = [p for p in pairs if p.a == best.method]
    open_ = [p for p in mine if not p.decided]
    if not mine:
        return head + "; no paired comparison could be made (no per-sequence errors)."
    if not open_:
        return head + f", ahead of every other {what} method, each decided (paired, Holm p < {mine[0].level:g})."
    others = "; ".join(f"{p.b} ({p.a} − {p.b} = {_fmt_ci(p.comparison)}, p (Holm) {_p(p.p_holm)})"
                       for p in open_)
    return head + f", but not decided against {others}."


def enough_views(sizes: list[SizeLine], method: str | None, num_cameras: int) -> str | None:
    """The smallest subset size at which ``method``'s error is not decided worse than with all
    ``num_cameras`` cameras (the paired interval of the difference reaches 0), as a sentence;
    None without a sweep."""
    if method is None or not sizes:
        return None
    scored = [line for line in sizes if line.vs_all is not None and line.size < num_cameras]
    for line in scored:
        c = line.vs_all
        assert c is not None
        if c.ci95[0] <= 0:
            return (f"With {method}, {line.size} of your {num_cameras} cameras are not decided worse than all "
                    f"{num_cameras}: {line.size} − {num_cameras} = {_fmt_ci(c)} (paired over sequences).")
    if not scored:
        return f"With {method}: no subset smaller than your {num_cameras} cameras was scored."
    last = scored[-1]
    assert last.vs_all is not None
    return (f"With {method}, every subset scored (up to {last.size} cameras) is decided worse than all "
            f"{num_cameras} ({last.size} − {num_cameras} = {_fmt_ci(last.vs_all)}).")


def unpaired(table: SequenceTable) -> SequenceTable:
    """``table`` with its sequences relabelled (``studio:<label>``), so that a change from the
    board is bootstrapped two-sample: for a split whose sequences share the board's labels but
    not its motion (another number of frames draws other motion under the same labels)."""
    return SequenceTable(tuple(f"studio:{q}" for q in table.sequences), table.strata, table.sums, table.frames,
                         table.seeds)


def analyse(studio: list[Result], board: list[Result], protocols: dict[str, str], sweeps: dict[str, str],
            level: float = 0.05, n_resamples: int = N_RESAMPLES, paired_with_board: bool = True,
            seed_spread: SeedSpread | None = None) -> list[StudioBoard]:
    """The studio boards, one per studio protocol with a result.

    Args:
        studio: the studio's result files (main protocols and sweeps).
        board: the committed board's result files (any protocols; only ``protocols``' values are read).
        protocols: studio protocol id → the board's protocol id it is compared with.
        sweeps: studio protocol id → its camera-sweep protocol id (absent: no sweep).
        level: family-wise significance level of every Holm family.
        paired_with_board: the studio split holds the board's test sequences (the profile's own
            test design and seed, procedural motion): the change from the board is paired by
            sequence; False: two-sample.
        seed_spread: the board's measured training-seed spread (its ``seed_spread.json``): each
            pair's seed variance on the board's protocol is added to its tests, on the board and
            on the rig (where no replicate was scored: a training seed moves a method on any rig).
    """
    studio_boards = {b.id: b for b in build_boards(studio, level)}
    board_boards = {b.id: b for b in build_boards([r for r in board if r.protocol.id in protocols.values()], level,
                                                  seed_spread=seed_spread)}
    out = []
    for pid, board_pid in protocols.items():
        sb = studio_boards.get(pid)
        if sb is None:
            continue
        seed = sb.protocol.bootstrap_seed
        bb = board_boards.get(board_pid)
        s_tables, b_tables = _tables(sb), _tables(bb)
        b_values = {row.method: row.value for row in bb.rows} if bb is not None else {}
        board_noise = board_seed_variance(bb)  # for the board's own rows (seed means carry their own)
        noise = single_run_seed_variance(bb)  # for the studio's results, one run of each method
        seed_noise = any(noise(a, b) is not None for a, b in itertools.combinations(b_values, 2))
        lines = []
        for row in sb.rows:
            change = None
            if row.method in s_tables and row.method in b_tables:
                mine = s_tables[row.method] if paired_with_board else unpaired(s_tables[row.method])
                change = headline_change(b_tables[row.method], mine, "frame",
                                         n_resamples=n_resamples, seed=seed)
            lines.append(MethodLine(row.rank, row.method, row.value, row.ci95, row.ms_per_sample, row.num_frames,
                                    b_values.get(row.method), change, _per_joint(row.result)))
        order = [line.method for line in lines]
        pairs = all_pairs(order, s_tables, level, seed, n_resamples, seed_variance=noise)
        agreement, decided, flips = None, None, []
        if bb is not None:
            agreement = kendall_tau(b_values, {line.method: line.value for line in lines})
            found, family = decided_pairs({m: t for m, t in b_tables.items() if m in s_tables}, "frame", level=level,
                                          n_resamples=n_resamples, seed=bb.protocol.bootstrap_seed,
                                          seed_variance=board_noise)
            decided = (len(found), family) if family else None
            flips = pair_flips(found, s_tables, "frame", level=level, n_resamples=n_resamples, seed=seed,
                               seed_variance=noise)
        joints = list(lines[0].per_joint) if lines else []
        sweep_pid = sweeps.get(pid)
        what = "calibrated" if sb.protocol.provides_extrinsics else "uncalibrated (no extrinsics)"
        best = lines[0].method if lines else None
        cams = len(sb.protocol.cameras or ())
        sizes = _sizes(studio_boards.get(sweep_pid) if sweep_pid else None, best,
                       s_tables.get(best) if best else None, cams, level, seed, n_resamples, seed_variance=noise)
        out.append(StudioBoard(pid, sb.protocol.title, board_pid, lines, pairs, agreement, decided, flips, joints,
                               sizes, sweep_pid if sizes else None, recommend(lines, pairs, what),
                               enough_views(sizes, best, cams), seed_noise))
    return out

