"""The generalization table: does the in-distribution ranking survive held-out test splits?

A view over ordinary result files (the leaderboard's boards): each method's headline on the
in-distribution test (:data:`IN_DISTRIBUTION`) and on each held-out split of the synthetic
world (:data:`NOVEL_SPLITS`: cameras, motions or bodies never seen in training, and all three
together), the change of each headline with its sequence-bootstrap interval, and per split
Kendall's τ between the two rankings and how many of the pairs the in-distribution board
decides the split reverses (:mod:`poseboard.comparison.rank_agreement`).

Which protocols form the table is data (the two mappings below), not a list of methods: the
calibrated rows are every method with a result under the in-distribution protocol or a
held-out one; the uncalibrated rows (methods scored under :data:`UNCALIBRATED_IN_DISTRIBUTION`)
appear only where one has a result under an uncalibrated held-out protocol
(:data:`UNCALIBRATED_NOVEL_SPLITS`), and are kept out of τ and of the pairs (they are scored
under other protocols than the calibrated rows, so not paired with them).

Written to ``report/tables/generalization.md`` and shown as a section of the leaderboard; with
no held-out result at all both say which protocols are missing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

from poseboard.comparison.paired import SeedNoise, SequenceTable
from poseboard.comparison.rank_agreement import (
    HeadlineChange,
    PairFlip,
    RankAgreement,
    SeedVariance,
    decided_pairs,
    headline_change,
    kendall_tau,
    pair_flips,
)
from poseboard.comparison.results import sequence_table
from poseboard.report.model import Board, Row, board_seed_variance, single_run_seed_variance
from poseboard.report.tables import _table

__all__ = [
    "BACKBONE_METHOD",
    "FAILURE_COLUMNS",
    "GENERALIZATION_FILE",
    "IN_DISTRIBUTION",
    "NOVEL_SPLITS",
    "UNCALIBRATED_IN_DISTRIBUTION",
    "UNCALIBRATED_NOVEL_SPLITS",
    "FailureLine",
    "Generalization",
    "MethodLine",
    "SplitSummary",
    "build_generalization",
    "failure_notes",
    "missing_sentence",
    "notes",
    "render_generalization",
]

#: The in-distribution test the held-out splits are compared with (calibrated methods).
IN_DISTRIBUTION = "synth-h36m-relative@3"
#: Split label → its held-out protocol (``name@version``), in the table's column order.
NOVEL_SPLITS: dict[str, str] = {
    "novel rig": "synth-novel-rig@4",
    "novel motion": "synth-novel-motion@2",
    "novel body": "synth-novel-body@2",
    "all three": "synth-novel-all@3",
    "beyond the rigs": "synth-extrapolated-rig@2",
    # real people (issue 79): the motion library's held-out contents and styles, on the built-in rig
    # and on the held-out rigs of synth-novel-rig
    "real contents": "synth-real-content@1",
    "real styles": "synth-real-style@1",
    "real contents, novel rig": "synth-real-content-rig@1",
    "real styles, novel rig": "synth-real-style-rig@1",
}
#: The procedural held-out splits that have an uncalibrated protocol too.
_UNCALIBRATED_LABELS = ("novel rig", "novel motion", "novel body", "all three", "beyond the rigs")
#: The uncalibrated methods' in-distribution test (the same frames, extrinsics withheld).
UNCALIBRATED_IN_DISTRIBUTION = "synth-h36m-uncalibrated@3"
#: Split label → the held-out protocol an uncalibrated method is scored under.
UNCALIBRATED_NOVEL_SPLITS: dict[str, str] = {
    label: NOVEL_SPLITS[label].replace("@", "-uncalibrated@") for label in _UNCALIBRATED_LABELS
}
#: The Markdown file under ``report/tables/``.
GENERALIZATION_FILE = "generalization.md"

_DASH = "—"

#: Where a held-out split's pair tests take their training-seed variance from.
SeedNoiseSource = Literal["split", "in distribution"]


@dataclass(frozen=True)
class MethodLine:
    """One method's row: the in-distribution headline, and per present split its headline and
    its change (None: no result there)."""

    method: str
    uncalibrated: bool
    in_distribution: float | None
    novel: dict[str, float | None]
    change: dict[str, HeadlineChange | None]
    #: Why a split's change has no interval (a result without per-sequence errors), by label.
    no_interval: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SplitSummary:
    """One held-out split: its rank agreement with the in-distribution board and its verdicts
    on the pairs that board decides (``present`` False: no result under it yet)."""

    label: str
    protocol: str
    present: bool
    agreement: RankAgreement | None = None
    flips: tuple[PairFlip, ...] = ()
    #: Calibrated table methods without a result under this split (or without one in distribution).
    left_out: tuple[str, ...] = ()
    #: Whose training-seed variance the split's pair tests add: ``"split"`` (measured under this
    #: split's protocol), ``"in distribution"`` (not measured here: the in-distribution pair's),
    #: or None (no seed spread: the test sequences only).
    seed_noise: SeedNoiseSource | None = None
    #: (pairs decided, pairs compared) among the split's own results, tested as the in-distribution
    #: board's (paired, Holm over all pairs, each pair's seed variance as its flips'); None: no
    #: paired comparison. An order the split decides whatever the in-distribution board decides.
    own_decided: tuple[int, int] | None = None

    def count(self, verdict: str) -> int:
        return sum(1 for f in self.flips if f.verdict == verdict)


@dataclass(frozen=True)
class FailureLine:
    """Where one calibrated method's error comes from on one split: the scalars its result file
    carries in ``metrics.main.extra`` (:mod:`poseboard.protocols.failures`), those it lacks
    None (a result written before they existed, or scored from another protocol's predictions)."""

    split: str
    protocol: str
    method: str
    values: dict[str, float | None]
    #: How many training-seed replicates ``values`` average (each metric over those whose result
    #: file carries it): the row's own replicates, 1 for a single run.
    seeds: int = 1

    @property
    def complete(self) -> bool:
        return all(self.values.get(k) is not None for k in FAILURE_COLUMNS)


@dataclass(frozen=True)
class Generalization:
    """The generalization table as data (the Markdown file and the HTML section read it)."""

    in_distribution: str
    splits: tuple[SplitSummary, ...]
    rows: tuple[MethodLine, ...]
    unit: str
    headline: str
    level: float
    #: (pairs decided, pairs compared) on the in-distribution board; None: no paired comparison.
    decided: tuple[int, int] | None
    #: Uncalibrated methods with an in-distribution result but no held-out one (left out).
    uncalibrated_left_out: tuple[str, ...]
    n_resamples: int
    #: Methods with a result under the in-distribution protocol.
    num_in_distribution: int = 0
    #: Where the error comes from, per split (in distribution first) and calibrated method.
    failures: tuple[FailureLine, ...] = ()
    #: Whether the in-distribution decided pairs add the measured training-seed variance of
    #: each pair (the board's ``results/seed_spread.json``) to the paired bootstrap's.
    seed_noise: bool = False
    #: In-distribution methods without a measured seed spread: their pairs are tested on the
    #: test sequences alone.
    seed_unmeasured: tuple[str, ...] = ()

    @property
    def present(self) -> tuple[SplitSummary, ...]:
        return tuple(s for s in self.splits if s.present)

    @property
    def missing(self) -> tuple[SplitSummary, ...]:
        return tuple(s for s in self.splits if not s.present)

    def header(self) -> list[str]:
        out = ["method", f"in distribution ({self.unit})"]
        for s in self.present:
            out += [f"{s.label} ({self.unit})", f"{s.label}: Δ {self.unit} [95% CI] (%), test"]
        return out

    def body(self) -> list[list[str]]:
        """One list of cells per method, after the method's name."""
        out = []
        for line in self.rows:
            cells = [_value(line.in_distribution)]
            for s in self.present:
                cells += [_value(line.novel.get(s.label)), _change(line, s.label)]
            out.append(cells)
        return out

    def table_rows(self) -> list[tuple[MethodLine, list[str]]]:
        """Each method's line with its cells (the HTML section's rows)."""
        return list(zip(self.rows, self.body(), strict=True))

    def footer(self) -> list[list[str]]:
        """The summary rows: Kendall's τ, and the reversed decided pairs, per split."""
        tau = ["Kendall's τ with the in-distribution ranking", _DASH]
        pairs = ["reversed decided pairs", (f"{self.decided[0]} of {self.decided[1]} pairs decided"
                                            if self.decided is not None else "no paired comparison")]
        for s in self.present:
            a = s.agreement
            tau += [_DASH if a is None or a.tau is None else f"{a.tau:.2f} ({a.num_methods} methods)", ""]
            if self.decided is None or self.decided[0] == 0:
                pairs += ["no decided pair" if self.decided is not None else _DASH, ""]
            else:
                undecided = s.count("leans the other way") + s.count("agrees, undecided")
                untested = f", {s.count('not run')} untested" if s.count("not run") else ""
                pairs += [f"{s.count('reversed')} of {self.decided[0]} ({undecided} undecided{untested})", ""]
        own = ["pairs the split decides itself", (f"{self.decided[0]} of {self.decided[1]}"
                                                  if self.decided is not None else _DASH)]
        for s in self.present:
            own += [_DASH if s.own_decided is None else f"{s.own_decided[0]} of {s.own_decided[1]}", ""]
        return [tau, pairs, own]

    def sentences(self) -> list[str]:
        """One sentence per split: whether the in-distribution ranking survives it."""
        return [_sentence(self, s) for s in self.splits]

    def notes(self) -> list[str]:
        return notes(self)

    def failure_header(self) -> list[str]:
        return ["split", "method", "seeds", *FAILURE_COLUMNS.values()]

    def failure_body(self) -> list[list[str]]:
        """One list of cells per (split, method), after the split and the method: the number of
        seeds averaged, then the metrics."""
        return [[str(line.seeds), *(_failure_cell(line.values.get(k), k) for k in FAILURE_COLUMNS)]
                for line in self.failures]

    def failure_rows(self) -> list[tuple[FailureLine, list[str]]]:
        return list(zip(self.failures, self.failure_body(), strict=True))

    def failure_notes(self) -> list[str]:
        return failure_notes(self)

    def missing_sentence(self) -> str:
        return missing_sentence(self)


#: The failure table's columns: the result-file ``extra`` key → its header.
FAILURE_COLUMNS: dict[str, str] = {
    "gross_pct": "gross failures (% of joints > 150 mm)",
    "lr_swap_pct": "left/right swaps (% of pairs)",
    "occluded_share_pct": "occluded joints (%)",
    "gross_occluded_pct": "gross on occluded (%)",
    "gross_visible_pct": "gross on visible (%)",
    "error_2d_median_px": "2D median (crop px)",
    "gross_2d_pct": "2D gross (%)",
}
#: The method whose 2D detections are the shared pre-trained backbone's own: ``ransac`` trains
#: nothing (its ``fit`` copies ``checkpoints/backbone`` unchanged; on the board0 checkpoints
#: its 92 weight tensors equal ``backbone.pt``'s bit for bit) and detects by hard argmax of the
#: backbone's heatmaps, which it writes as its ``joints_2d`` before undistorting them.
BACKBONE_METHOD = "ransac"


def _failure_cell(v: float | None, key: str) -> str:
    if v is None:
        return _DASH
    return f"{v:.2f}" if key == "lr_swap_pct" else f"{v:.1f}"


def _failure_lines(label: str, board: Board | None) -> list[FailureLine]:
    """One line per row of ``board``: each metric the mean over the row's seed replicates that
    carry it (the row's headline is their mean too), None where none does."""
    out = []
    for row in board.rows if board is not None else []:
        results = row.replicates or [row.result]
        values: dict[str, float | None] = {}
        for k in (*FAILURE_COLUMNS, "gross_2d_threshold_px"):
            have = [float(r.metrics.main.extra[k]) for r in results if k in r.metrics.main.extra]
            values[k] = sum(have) / len(have) if have else None
        out.append(FailureLine(label, board.id, row.method, values, seeds=len(results)))  # type: ignore[union-attr]
    return out


def failure_notes(view: Generalization) -> list[str]:
    """What the failure table's numbers are, the backbone's own 2D error per split, and which
    result files lack the metrics."""
    if not view.failures:
        return [f"No result under `{view.in_distribution}` or a held-out split: no failure breakdown."]
    thresholds = sorted({line.values["gross_2d_threshold_px"] for line in view.failures
                         if line.values.get("gross_2d_threshold_px") is not None})  # type: ignore[type-var]
    gross_2d = (" and ".join(f"{t:g}" for t in thresholds) + " crop px (10 % of the crop side)") if thresholds \
        else "10 % of the crop side"
    out = ["Gross failures: joints whose 3D error, under the alignment the headline MPJPE uses (pelvis-relative "
           "here), exceeds 150 mm, as a share of all joints; on occluded and on visible joints apart. Left/right "
           "swaps: (left, right) joint pairs whose prediction, aligned likewise, is nearer the mirrored ground "
           "truth than the true one (‖p_L − g_R‖ + ‖p_R − g_L‖ < ‖p_L − g_L‖ + ‖p_R − g_R‖), as a share of the 6 "
           "pairs of every frame. Occluded: a joint not visible (hidden by the body or outside the image) in at "
           "least half of the protocol's cameras that see the frame (the split's `visibility.npy`, "
           "`view_valid.npy`).",
           "2D: each method's own 2D detections (its predictions' `joints_2d`, crop pixels, as the method writes "
           "them: soft argmax for algebraic, local soft argmax for epipolar, undistorted where the method undistorts, "
           "the identity on the synthetic world's cameras, which have no distortion) against the "
           "split's ground-truth 2D, on the joints visible in a valid view and inside the crop, every view of "
           f"every scored frame: the median distance and the share beyond {gross_2d}.",
           ]
    if any(line.seeds > 1 for line in view.failures):
        out.append("Seeds: a row that averages training-seed replicates (as its headline does) shows each metric's "
                   "mean over them, the 2D median as the mean of the seeds' medians; 1 is a single run.")
    backbone = [line for line in view.failures if line.method == BACKBONE_METHOD
                and line.values.get("error_2d_median_px") is not None]
    if backbone:
        out.append(f"The shared backbone (`checkpoints/backbone`, pre-trained; `{BACKBONE_METHOD}`'s detector "
                   "unchanged, hard argmax): its own 2D error per split, "
                   + "; ".join(f"{line.split} median {line.values['error_2d_median_px']:.1f} px, "
                               f"{line.values['gross_2d_pct']:.1f} % gross"
                               + (f" (mean of {line.seeds} seeds' backbones)" if line.seeds > 1 else "")
                               for line in backbone) + ".")
    else:
        out.append(f"The shared backbone's own 2D error: no `{BACKBONE_METHOD}` result with 2D detections "
                   "(its detector is the pre-trained backbone unchanged).")
    groups: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for line in view.failures:
        missing = tuple(FAILURE_COLUMNS[k].split(" (")[0] for k in FAILURE_COLUMNS if line.values.get(k) is None)
        if missing:
            groups.setdefault(missing, {}).setdefault(f"`{line.protocol}`", []).append(f"`{line.method}`")
    if groups:
        every = tuple(FAILURE_COLUMNS[k].split(" (")[0] for k in FAILURE_COLUMNS)
        parts = []
        for missing, where in groups.items():
            what = "every metric" if missing == every else ", ".join(missing)
            parts.append(f"{what} under " + "; ".join(f"{pid} ({', '.join(ms)})" for pid, ms in where.items()))
        out.append("Missing (result files written before these metrics existed or scored from another protocol's "
                   "predictions; 2D: a method that writes no 2D joints): " + "; and ".join(parts)
                   + ". Re-run `poseboard predict METHOD --protocol P` to add them.")
    return out


def _value(v: float | None) -> str:
    return _DASH if v is None else f"{v:.1f}"


def _change(line: MethodLine, label: str) -> str:
    c = line.change.get(label)
    if c is None:
        if line.in_distribution is not None and line.novel.get(label) is not None:
            d = line.novel[label] - line.in_distribution  # type: ignore[operator]
            return f"{d:+.1f} (no interval: {line.no_interval.get(label, 'no per-sequence errors')})"
        return _DASH
    pct = "" if c.percent is None else f" ({c.percent:+.1f}%)"
    return f"{c.difference:+.1f} [{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}]{pct}, {c.test}"


def _count(n: int, noun: str = "") -> str:
    return ("none" if n == 0 else str(n)) + (f" {noun}" if noun else "")


def _verb(n: int) -> str:
    return "is" if n <= 1 else "are"  # "none is", "1 is", "2 are"


#: Kendall's τ at or above which a split keeps the in-distribution order (with no decided pair
#: reversed): the ranking survives. Issue 38's goal on real rigs and motion.
TAU_SURVIVES = 0.8
#: Below this τ the order is reshuffled even where no decided pair is reversed (the novel-motion
#: split's τ = 0.20 on the session-5 board is not a ranking that survives).
TAU_HOLDS_IN_PART = 0.5


def ranking_verdict(reversed_pairs: int, tau: float | None) -> str:
    """What a held-out split does to the in-distribution ranking, weighing both the pairs the
    board decides and the whole order (Kendall's τ): a reversed decided pair, or τ below
    :data:`TAU_HOLDS_IN_PART`, means it does not survive; τ below :data:`TAU_SURVIVES` that it
    holds only in part (its decided pairs stand, the rest of the order moves); otherwise, or
    with τ undefined and no decided pair reversed, it survives.

    Example:
        >>> ranking_verdict(0, 0.2), ranking_verdict(0, 0.87)
        ('the in-distribution ranking does not survive', 'the in-distribution ranking survives')
    """
    if reversed_pairs or (tau is not None and tau < TAU_HOLDS_IN_PART):
        return "the in-distribution ranking does not survive"
    if tau is not None and tau < TAU_SURVIVES:
        return "the in-distribution ranking holds only in part"
    return "the in-distribution ranking survives"


def _sentence(view: Generalization, s: SplitSummary) -> str:
    """Whether the in-distribution ranking survives the split, and how much of its own order the
    split decides, from the numbers."""
    text = _survival_sentence(view, s)
    if s.present and s.own_decided is not None:
        k, m = s.own_decided
        text += f" The split itself decides {k} of its {m} pairs."
    return text


def _survival_sentence(view: Generalization, s: SplitSummary) -> str:
    """Whether the in-distribution ranking survives the split, from the numbers."""
    head = f"{s.label} (`{s.protocol}`)"
    if not s.present:
        return f"{head}: no result yet."
    a = s.agreement
    tau = (f"τ = {a.tau:.2f} over {a.num_methods} methods" if a is not None and a.tau is not None
           else f"τ undefined ({a.reason if a is not None else 'no in-distribution ranking'})")
    if view.decided is None or view.decided[0] == 0:
        why = (f"no result under `{view.in_distribution}`" if not view.num_in_distribution
               else "no paired comparison in distribution (no per-sequence errors)" if view.decided is None
               else f"the in-distribution board decides none of its {view.decided[1]} pairs"
               + (" once each pair's training-seed noise is counted" if view.seed_noise else ""))
        if view.decided is not None and view.num_in_distribution:
            return (f"{head}: there is no decided in-distribution order to survive — {why}, so no pair can be "
                    f"reversed, and {tau} compares two orders that another training seed or other test "
                    "sequences could reshuffle.")
        return f"{head}: {tau}; {why}, so there is no decided order to reverse."
    n = view.decided[0]
    rev, lean = s.count("reversed"), s.count("leans the other way")
    undecided = lean + s.count("agrees, undecided")
    confirmed, not_run = s.count("confirmed"), s.count("not run")
    verdict = ("its decided pairs cannot be tested here" if not_run == n and not rev
               else ranking_verdict(rev, None if a is None else a.tau))
    parts = [f"of the {n} pairs the in-distribution board decides, {_count(rev)} {_verb(rev)} reversed",
             f"{_count(undecided)} {_verb(undecided)} undecided here"
             + (f" ({lean} leaning the other way)" if lean else ""),
             f"{_count(confirmed)} {_verb(confirmed)} confirmed"]
    if not_run:
        parts.append(f"{not_run} cannot be tested (a method lacks a result, or per-sequence errors, here)")
    why = ""
    if not rev and a is not None and a.tau is not None and a.tau < TAU_SURVIVES:
        why = (f" (τ below {TAU_HOLDS_IN_PART:.1f}: the order is reshuffled though no decided pair is reversed)"
               if a.tau < TAU_HOLDS_IN_PART else
               f" (τ below {TAU_SURVIVES:.1f}: the decided pairs stand, the rest of the order moves)")
    return f"{head}: {verdict} — {tau}{why}; " + ", ".join(parts) + "."


def _tables(board: Board | None) -> dict[str, SequenceTable]:
    """Method → its per-sequence sums (seed replicates together), for rows that carry them."""
    out: dict[str, SequenceTable] = {}
    for row in board.rows if board is not None else []:
        table = sequence_table(row.replicates or [row.result])
        if table is not None:
            out[row.method] = table
    return out


def _rows(board: Board | None) -> dict[str, Row]:
    return {r.method: r for r in board.rows} if board is not None else {}


def _lines(methods: list[str], base: Board | None, novel: dict[str, Board | None], uncalibrated: bool,
           n_resamples: int) -> list[MethodLine]:
    base_rows, base_tables = _rows(base), _tables(base)
    novel_rows = {label: _rows(b) for label, b in novel.items()}
    novel_tables = {label: _tables(b) for label, b in novel.items()}
    out = []
    for m in methods:
        b = base_rows.get(m)
        values, changes, no_interval = {}, {}, {}
        for label in novel:
            r = novel_rows[label].get(m)
            values[label] = None if r is None else r.value
            changes[label] = None
            if b is None or r is None:
                continue
            ta, tb = base_tables.get(m), novel_tables[label].get(m)
            if ta is None or tb is None:
                no_interval[label] = "no per-sequence errors"
            elif b.result.metrics.weighting != r.result.metrics.weighting:
                no_interval[label] = "the two headlines are weighted differently"
            else:
                changes[label] = headline_change(ta, tb, b.result.metrics.weighting, n_resamples=n_resamples,
                                                 seed=b.result.protocol.bootstrap_seed)
        out.append(MethodLine(m, uncalibrated, None if b is None else b.value, values, changes, no_interval))
    return out


def build_generalization(boards: list[Board], level: float = 0.05, n_resamples: int = 10000) -> Generalization:
    """The generalization table from the leaderboard's boards (keyed by protocol id, so results
    of other protocol versions are never mixed in); ``level`` is the family-wise significance
    level of the pairs (``report.significance``)."""
    by_id = {b.id: b for b in boards}
    base = by_id.get(IN_DISTRIBUTION)
    splits = {label: by_id.get(pid) for label, pid in NOVEL_SPLITS.items()}
    present = {label: b for label, b in splits.items() if b is not None}
    methods = [r.method for r in base.rows] if base is not None else []
    methods += sorted({r.method for b in present.values() for r in b.rows} - set(methods))
    ref = base or next(iter(present.values()), None)
    unit = ref.unit if ref is not None else "mm"
    headline = ref.headline_label if ref is not None else "MPJPE (relative)"
    hib = ref.higher_is_better if ref is not None else False
    rows = _lines(methods, base, present, False, n_resamples) if present else []

    # Uncalibrated methods: their own in-distribution and held-out protocols.
    u_base = by_id.get(UNCALIBRATED_IN_DISTRIBUTION)
    u_novel = {label: by_id.get(pid) for label, pid in UNCALIBRATED_NOVEL_SPLITS.items()}
    u_present = {label: b for label, b in u_novel.items() if b is not None and label in present}
    u_methods = [r.method for r in u_base.rows] if u_base is not None else []
    u_methods += sorted({r.method for b in u_present.values() for r in b.rows} - set(u_methods))
    u_shown = [m for m in u_methods if any(m in _rows(b) for b in u_present.values())]
    if u_shown:
        for line in _lines(u_shown, u_base, u_present, True, n_resamples):
            rows.append(MethodLine(line.method, True, line.in_distribution,
                                   {label: line.novel.get(label) for label in present},
                                   {label: line.change.get(label) for label in present}, line.no_interval))
    u_left_out = tuple(m for m in u_methods if m not in u_shown)

    decided, family, seed = [], 0, 0
    base_tables = _tables(base)
    weighting = base.rows[0].result.metrics.weighting if base is not None and base.rows else "frame"
    base_noise = board_seed_variance(base)
    if base is not None and present:
        seed = base.protocol.bootstrap_seed
        decided, family = decided_pairs(base_tables, weighting, level=level, higher_is_better=hib,
                                        n_resamples=n_resamples, seed=seed, seed_variance=base_noise)
    base_measured = _seed_measured(base)
    measured_in_distribution = any(base_noise(a, b) is not None or {a, b} <= base_measured
                                   for a, b in itertools.combinations(base_tables, 2))
    summaries = []
    base_values = {r.method: r.value for r in base.rows} if base is not None else {}
    for label, pid in NOVEL_SPLITS.items():
        board = present.get(label)
        if board is None:
            summaries.append(SplitSummary(label, pid, False))
            continue
        values = {r.method: r.value for r in board.rows}
        left_out = tuple(m for m in methods if m not in values or m not in base_values)
        split_noise = board_seed_variance(board)
        split_measured = _seed_measured(board)
        noise = _split_seed_variance(split_noise, single_run_seed_variance(base), split_measured)
        split_tables = _tables(board)
        split_weighting = board.rows[0].result.metrics.weighting
        flips = pair_flips(decided, split_tables, split_weighting, level=level,
                           higher_is_better=hib, n_resamples=n_resamples, seed=seed,
                           seed_variance=noise) if decided else []
        calibrated = {m: t for m, t in split_tables.items() if m in methods}
        own, own_family = decided_pairs(calibrated, split_weighting, level=level, higher_is_better=hib,
                                        n_resamples=n_resamples, seed=board.protocol.bootstrap_seed,
                                        seed_variance=noise)
        sources: set[SeedNoiseSource | None] = {
            "split" if split_noise(f.better, f.worse) is not None or {f.better, f.worse} <= split_measured
            else "in distribution" if noise(f.better, f.worse) is not None else None
            for f in flips if f.novel is not None}
        seed_noise = ("in distribution" if "in distribution" in sources else "split" if "split" in sources
                      else None)
        summaries.append(SplitSummary(label, pid, True, kendall_tau(base_values, values), tuple(flips), left_out,
                                      seed_noise, (len(own), own_family) if own_family else None))
    failures = _failure_lines("in distribution", base) + [
        line for label, b in present.items() for line in _failure_lines(label, b)]
    return Generalization(
        in_distribution=IN_DISTRIBUTION, splits=tuple(summaries), rows=tuple(rows), unit=unit, headline=headline,
        level=level, decided=(len(decided), family) if family else None, uncalibrated_left_out=u_left_out,
        n_resamples=n_resamples, num_in_distribution=len(base_values), failures=tuple(failures),
        seed_noise=measured_in_distribution,
        seed_unmeasured=tuple(m for m in base_tables if m not in base_measured
                              and not any(base_noise(m, o) is not None for o in base_tables if o != m)),
    )


def _seed_measured(board: Board | None) -> set[str]:
    """The methods of ``board`` averaged over training-seed replicates: their pair tests carry
    the seed variance of the mean from the replicates themselves
    (:func:`~poseboard.comparison.paired.seed_mean_noise`), with no ``seed_spread.json``."""
    return {r.method for r in board.rows if r.averaged} if board is not None else set()


def _split_seed_variance(split: SeedVariance, in_distribution: SeedVariance, averaged: set[str]) -> SeedVariance:
    """The seed variance a held-out split's pair test adds: measured under the split where its
    rows hold it (``averaged``: rows that are means over seed replicates carry their own into the
    paired test), else, for two single runs, the same pair's single-run variance in distribution
    (a training seed moves a method on every split; how much more on a held-out one is not
    measured then, and the notes say so)."""

    def variance(a: str, b: str) -> SeedNoise | None:
        v = split(a, b)
        if v is not None or a in averaged or b in averaged:
            return v
        return in_distribution(a, b)

    return variance


def _pair_lines(view: Generalization) -> list[str]:
    """The pairs a split reverses or leans on, with both comparisons."""
    out = []
    for s in view.present:
        for f in s.flips:
            if f.verdict not in ("reversed", "leans the other way") or f.novel is None:
                continue
            d, c = f.pair.comparison, f.novel
            out.append(f"- {s.label}: `{f.better}` ahead of `{f.worse}` in distribution "
                       f"({f.better} − {f.worse} = {d.difference:+.1f} [{d.ci95[0]:+.1f}, {d.ci95[1]:+.1f}] "
                       f"{view.unit}, p (Holm) {_p(f.pair.p_holm)}); here {c.difference:+.1f} "
                       f"[{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}] {view.unit}, p (Holm) {_p(f.p_holm_novel)}: "
                       f"**{f.verdict}**.")
    return out


def _seed_noise_note(view: Generalization) -> str:
    """Whether the pairs' tests include training-seed noise, and whose."""
    if not view.seed_noise:
        return ("Seed noise: none measured for these methods (no `seed_spread.json` beside the results covers "
                f"`{view.in_distribution}`): the pairs' intervals cover the test sequences only, and a single "
                "training run's order can move by more than that (`poseboard replicate`, `poseboard seed-spread`).")
    measured = [s.label for s in view.present if s.seed_noise == "split"]
    borrowed = [s.label for s in view.present if s.seed_noise == "in distribution"]
    text = ("Seed noise: each pair's test adds the training-seed variance of its difference to the paired "
            "bootstrap's, with Student's t at the Welch–Satterthwaite degrees of freedom (a variance from n seeds "
            "has n − 1), as the leaderboard's \"paired + seed noise\" verdicts: a difference another training seed "
            "could produce is not decided. For methods averaged over seed replicates, the variance of the two "
            "means' difference from the replicates themselves (their per-seed differences' variance over their "
            "number where both have the same seeds); for single runs, `seed_spread.json`'s (the variance of the "
            "per-seed differences over the replicate seeds both methods have, else the sum of their SDs).")
    if measured:
        text += " Measured on the split itself: " + ", ".join(measured) + "."
    if borrowed:
        text += (" Not measured on " + ", ".join(borrowed) + ": those splits' tests add the same pair's "
                 "in-distribution seed variance (a held-out split may spread seeds further).")
    if view.seed_unmeasured:
        text += (" No seed spread measured for " + ", ".join(f"`{m}`" for m in view.seed_unmeasured)
                 + ": its pairs are tested on the test sequences alone, and a decided pair of it may be one "
                 "another training seed reverses.")
    return text


def _p(p: float | None) -> str:
    if p is None:
        return _DASH
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def notes(view: Generalization) -> list[str]:
    """What the table's numbers are and what was left out, as sentences (Markdown and HTML)."""
    out = [f"Δ = held-out − in-distribution headline ({view.headline}, {view.unit}) with its 95% "
           f"sequence-bootstrap interval ({view.n_resamples} draws): **paired** where the split scored the same "
           "sequences as the in-distribution test (identical `subject/sequence` labels: the novel rig re-films "
           "the same motions, every other frame of them; each headline is its own frames' mean), "
           "**two-sample** otherwise (each split's sequences resampled "
           "independently); resampled within each action where the headline is action-weighted."]
    if any(c is not None and c.seed_variance is not None for line in view.rows for c in line.change.values()):
        out[0] += (" A method averaged over training seeds changes by the change of its seed means: the seeds' "
                   "variance of that change is added (each seed's checkpoint scored on both splits, so its changes "
                   "pair), and the interval is ± t · SE at the Welch–Satterthwaite degrees of freedom "
                   "(test \"… + seed noise\").")
    if view.decided is not None:
        out.append(f"Decided pairs: every pair of the calibrated methods under `{view.in_distribution}` compared "
                   f"paired, Holm-corrected over all {view.decided[1]} pairs at α = {view.level:g} (the "
                   "leaderboard's \"all pairs\" family); each decided pair is compared again on the split, paired, "
                   "Holm-corrected over the decided pairs the split holds. Reversed: the split decides the other "
                   "order; undecided: it decides neither. Pairs the split decides itself: every pair of its own "
                   "calibrated results tested the same way (paired, Holm over all of them, each pair's seed "
                   "noise as above), whatever the in-distribution board decides: a split can hold an order "
                   "that another seed keeps where the in-distribution board does not.")
        out.append(_seed_noise_note(view))
    out.append("τ: Kendall's τ-b between the in-distribution ordering of the headline and the split's, over the "
               f"methods with a result under both; {_DASH}: no result under that protocol.")
    for s in view.present:
        if s.left_out:
            out.append(f"Left out of {s.label}'s τ and pairs (no result under both protocols): "
                       + ", ".join(f"`{m}`" for m in s.left_out) + ".")
    if any(line.uncalibrated for line in view.rows):
        out.append(f"Uncalibrated rows: in distribution `{UNCALIBRATED_IN_DISTRIBUTION}`, held out the "
                   "splits' uncalibrated protocols; scored under other protocols than the calibrated rows, so "
                   "kept out of τ and of the pairs.")
    if view.uncalibrated_left_out:
        out.append("Uncalibrated methods left out: " + ", ".join(f"`{m}`" for m in view.uncalibrated_left_out)
                   + " (no result under an uncalibrated held-out protocol: "
                   + ", ".join(f"`{p}`" for p in UNCALIBRATED_NOVEL_SPLITS.values()) + ").")
    missing = view.missing
    if missing and view.present:
        out.append("No result yet under " + ", ".join(f"`{s.protocol}` ({s.label})" for s in missing)
                   + (": their columns are left out." if len(missing) > 1 else ": its columns are left out."))
    return out


def missing_sentence(view: Generalization) -> str:
    """What the table says when no held-out split has a result."""
    names = ", ".join(f"`{s.protocol}` ({s.label})" for s in view.splits)
    return (f"No result under any held-out split yet: {names} are missing. The table compares them with "
            f"`{view.in_distribution}` once methods are scored under them (`poseboard predict METHOD --protocol "
            "P`, or an evaluation in params.yaml).")


def render_generalization(view: Generalization) -> str:
    """``report/tables/generalization.md``."""
    lines = ["# Generalization: does the in-distribution ranking survive held-out splits?", "",
             f"In distribution: `{view.in_distribution}`. Held out: "
             + ", ".join(f"{s.label} `{s.protocol}`" for s in view.splits) + ".", ""]
    if not view.present:
        lines += [missing_sentence(view), "", f"Methods with a result under `{view.in_distribution}`: "
                  f"{view.num_in_distribution}.", ""]
        if view.uncalibrated_left_out:
            lines += ["Uncalibrated methods left out: " + ", ".join(f"`{m}`" for m in view.uncalibrated_left_out)
                      + " (no result under an uncalibrated held-out protocol).", ""]
        lines += _failure_markdown(view)
        return "\n".join(lines).rstrip() + "\n"
    body = [[f"`{line.method}`" + (" (uncalibrated)" if line.uncalibrated else ""), *cells]
            for line, cells in view.table_rows()]
    footer = [[f"**{cells[0]}**", *cells[1:]] for cells in view.footer()]
    lines += _table(view.header(), body + footer)
    lines += ["", *[f"- {s}" for s in view.sentences()], ""]
    pair_lines = _pair_lines(view)
    if pair_lines:
        lines += ["Pairs a split reverses or leans the other way on:", "", *pair_lines, ""]
    for n in notes(view):
        lines += [f"Note: {n}", ""]
    lines += _failure_markdown(view)
    return "\n".join(lines).rstrip() + "\n"


def _failure_markdown(view: Generalization) -> list[str]:
    """The section on where the error comes from (a table when any result carries a metric)."""
    lines = ["## Where the error comes from: gross failures, swaps, occlusion, 2D", ""]
    if view.failures and any(v is not None for line in view.failures for k, v in line.values.items()):
        body = [[line.split, f"`{line.method}`", *cells] for line, cells in view.failure_rows()]
        lines += [*_table(view.failure_header(), body), ""]
    elif view.failures:
        lines += ["No result file carries these metrics yet.", ""]
    return lines + [f"- {n}" for n in failure_notes(view)] + [""]
