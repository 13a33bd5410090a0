"""The leaderboard as data: result files → one ranked board per protocol.

Pure functions over :class:`~poseboard.protocols.results.Result` records (no I/O, no
plotting), so the HTML page, the Markdown tables and the tests read the same numbers.

Significance between neighbours: every method is scored on the same frames, so two
neighbours are compared **paired** (:mod:`poseboard.comparison`): the difference of their
headlines with a bootstrap interval that resamples the same sequences for both (and each
method's training seeds, where it has several replicates), a p-value, and Holm's correction
over the board's family of neighbour comparisons. A result file without per-sequence errors
(written before they were recorded, or an AP_root headline) falls back to the conservative
unpaired rule on the two intervals, ``z = |a − b| / sqrt(se_a² + se_b²)`` with
``se = (hi − lo) / (2 · 1.96)``, and the row says which test decided it.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

from poseboard.comparison.paired import (
    PairedComparison,
    SeedNoise,
    detectable_difference,
    holm,
    replicate_interval,
    satterthwaite_df,
)
from poseboard.comparison.paired import (
    seed_mean_interval as paired_seed_mean_interval,
)
from poseboard.comparison.rank_agreement import SeedVariance
from poseboard.comparison.results import (
    check_pairable,
    check_same_training,
    compare_results,
    sequence_table,
    train_seed,
)
from poseboard.comparison.seed_spread import SeedSpread
from poseboard.errors import InputError, ResultFileError
from poseboard.protocols.protocol import PaperAnchor, ProtocolDef
from poseboard.protocols.results import MetricBlock, Result

#: How the report names a dataset (the data a number was measured on).
DATASET_LABELS: dict[str, str] = {
    "synth-h36m": "synthetic (Human3.6M-like 4-camera rig)",
    "synth-panoptic": "synthetic (Panoptic-like dome)",
    "synth-mupots": "synthetic (MuPoTS-like scenes)",
    "synth-novel-rig": "synthetic, held out: camera layouts never trained on",
    "synth-novel-motion": "synthetic, held out: actions never trained on",
    "synth-novel-body": "synthetic, held out: body proportions never trained on",
    "synth-novel-all": "synthetic, held out: layouts, actions and bodies",
    "synth-extrapolated-rig": "synthetic, held out: camera layouts beyond every training range",
    "synth-real-content": "real people, held out: Bandai Namco motion contents never trained on",
    "synth-real-style": "real people, held out: Bandai Namco motion styles never trained on",
    "synth-real-content-rig": "real people, held out: motion contents never trained on, held-out rigs",
    "synth-real-style-rig": "real people, held out: motion styles never trained on, held-out rigs",
    "human36m": "Human3.6M",
    "panoptic": "CMU Panoptic",
    "mupots": "MuPoTS-3D",
}

METRIC_LABELS: dict[str, str] = {
    "mpjpe": "MPJPE", "pa_mpjpe": "PA-MPJPE", "n_mpjpe": "N-MPJPE", "pck3d": "PCK3D",
    "auc_pck": "AUC", "mrpe": "MRPE", "ap_root": "AP_root@25",
    "mrpe_x": "MRPE x", "mrpe_y": "MRPE y", "mrpe_z": "MRPE z",
}


def dataset_label(name: str) -> str:
    return DATASET_LABELS.get(name, name)


def dataset_short(name: str) -> str:
    """``synthetic`` for the synthetic stand-ins, else the real dataset's name."""
    return "synthetic" if name.startswith("synth-") else DATASET_LABELS.get(name, name)


def metric_label(name: str, protocol: ProtocolDef | None = None) -> str:
    label = METRIC_LABELS.get(name, name)
    if name == "mpjpe" and protocol is not None:
        label += {"root": " (relative)", "none": " (absolute)"}.get(protocol.alignment, "")
    return label


def badges(result: Result) -> list[str]:
    """Capability badges: calibrated / uncalibrated, single-view / multi-view, multi-person;
    "submitted" for a result from ``poseboard submit`` (its card says the rest)."""
    caps = result.method.capabilities
    if result.submission is not None:
        return ["submitted"]
    if caps is None:
        return ["external predictions"]
    out = ["calibrated" if caps.needs_extrinsics else "uncalibrated"]
    if caps.multi_view and (caps.max_views is None or caps.max_views > 1):
        out.append("multi-view")
    if caps.min_views <= 1:
        out.append("single-view")
    if caps.multi_person:
        out.append("multi-person")
    return out


def paper_anchor(protocol: ProtocolDef, method: str) -> PaperAnchor | None:
    for anchor in protocol.paper:
        if anchor.method == method:
            return anchor
    return None


def headline_ci(result: Result) -> tuple[float, float] | None:
    ci = result.metrics.main.ci95.get(result.metrics.headline)
    return (float(ci[0]), float(ci[1])) if ci is not None else None


def _se(ci: tuple[float, float] | None) -> float | None:
    if ci is None:
        return None
    return max(ci[1] - ci[0], 0.0) / (2 * 1.959963984540054)


def seed_mean_interval(values: list[float], cis: list[tuple[float, float] | None]) -> tuple[float, float] | None:
    """95 % interval of a seed mean from each seed's own 95 % interval (a headline with no
    per-sequence errors, AP_root): :func:`~poseboard.comparison.paired.seed_mean_interval`;
    None without an interval for every seed or with fewer than two seeds."""
    ses = [_se(ci) for ci in cis]
    if len(values) < 2 or any(se is None for se in ses):
        return None
    return paired_seed_mean_interval(values, ses)  # type: ignore[arg-type]


def significant(a: float, ci_a: tuple[float, float] | None, b: float, ci_b: tuple[float, float] | None,
                level: float = 0.05) -> bool | None:
    """Whether ``a`` and ``b`` differ at ``level`` (two-sided) by their bootstrap intervals;
    ``None`` when an interval is missing."""
    se_a, se_b = _se(ci_a), _se(ci_b)
    if se_a is None or se_b is None:
        return None
    se = math.hypot(se_a, se_b)
    if se == 0:
        return a != b
    return abs(a - b) / se > NormalDist().inv_cdf(1 - level / 2)


@dataclass
class Row:
    """One method on one protocol's board."""

    rank: int
    method: str
    value: float
    ci95: tuple[float, float] | None
    metrics: dict[str, float]
    paper: PaperAnchor | None
    dataset: str
    dataset_long: str
    source: str
    ms_per_sample: float | None
    device: str | None
    badges: list[str]
    num_frames: int
    result: Result
    #: False when this row and the next (one rank down) do not differ significantly.
    differs_from_next: bool | None = None
    #: The seed replicates this row averages (``result`` is the first); one for a single run.
    replicates: list[Result] = field(default_factory=list)
    #: Seed replicates of this method left out because they were not scored on the first's task
    #: (``"seed K: reason"``): replicates kept from another profile or data, say.
    replicates_left_out: list[str] = field(default_factory=list)
    #: The headline of each replicate, in the order of ``replicates``.
    seed_values: list[float] = field(default_factory=list)
    #: Paired comparison with the next row (this − next), None where it cannot be made.
    vs_next: PairedComparison | None = None
    #: Holm-adjusted p-value of ``vs_next`` within the board's neighbour comparisons.
    vs_next_p_holm: float | None = None
    #: Which test decided ``differs_from_next``: "paired", "intervals" (no per-sequence errors), or None.
    vs_next_test: str | None = None
    #: Why no paired comparison could be made, when none was.
    vs_next_unavailable: str | None = None
    #: The method's training-seed SD measured once (results/seed_spread.json), for single-run rows.
    seed_floor_sd: float | None = None
    #: The same measurement's headline per replicate seed (seed → value): two methods' seed
    #: noise is largely shared (one backbone per seed), so a pair's floor is the spread of their
    #: per-seed *difference* where they have two or more seeds in common.
    seed_floor_values: dict[int, float] | None = None
    #: ``vs_next``'s 95 % interval widened by both methods' measured seed variance (None without it).
    vs_next_ci_with_seeds: tuple[float, float] | None = None

    @property
    def averaged(self) -> bool:
        """The row is a mean over training-seed replicates: its paired tests carry the seed
        variance of that mean (:func:`~poseboard.comparison.paired.seed_mean_noise`)."""
        return len(self.replicates) > 1

    @property
    def seed_sd(self) -> float | None:
        """Standard deviation of the headline over the training seeds (None with one seed)."""
        if len(self.seed_values) < 2:
            return None
        mean = sum(self.seed_values) / len(self.seed_values)
        return math.sqrt(sum((v - mean) ** 2 for v in self.seed_values) / (len(self.seed_values) - 1))


@dataclass
class Board:
    """One protocol's leaderboard (results of one ``name@version`` only)."""

    protocol: ProtocolDef
    rows: list[Row]
    higher_is_better: bool
    unit: str
    metric_names: list[str]
    sweep_sizes: list[int] = field(default_factory=list)
    #: The smallest difference the board detects at 80 % power and its significance level:
    #: the median over its paired neighbour comparisons (None: no paired comparison).
    detectable: float | None = None
    #: Independent test sequences the paired comparisons resample (None: not recorded).
    num_sequences: int | None = None
    #: Significance level of the verdicts (after Holm's correction).
    level: float = 0.05
    #: (pairs decided, pairs compared) over *all* pairs of rows, paired and Holm-corrected over
    #: that family: a board whose neighbours are close may still separate into tiers.
    all_pairs: tuple[int, int] | None = None
    #: Where the rows' noise floor was measured when it was carried over from an earlier board
    #: (``seed_spread.json``'s ``carried_over``: that board's protocol id), else None.
    seed_floor_from: str | None = None

    @property
    def seeds(self) -> int:
        """The most training-seed replicates any row averages."""
        return max((len(r.replicates) for r in self.rows), default=1)

    @property
    def decided(self) -> tuple[int, int]:
        """(neighbour pairs decided significant, neighbour pairs)."""
        pairs = self.rows[:-1]
        return sum(1 for r in pairs if r.differs_from_next), len(pairs)

    @property
    def id(self) -> str:
        return self.protocol.id

    @property
    def plain(self) -> bool:
        """One condition per method: no camera or calibration sweep, exact extrinsics."""
        p = self.protocol
        return not self.sweep_sizes and p.calibration_noise is None and p.calibration_sweep is None

    @property
    def headline_label(self) -> str:
        return metric_label(self.protocol.headline, self.protocol)

    def per_action(self, metric: str | None = None) -> tuple[list[str], dict[str, dict[str, float]]]:
        """(actions, method → action → value) of ``metric`` (default: the headline)."""
        metric = metric or self.protocol.headline
        table: dict[str, dict[str, float]] = {}
        actions: set[str] = set()
        for row in self.rows:
            per = row.result.metrics.main.per_action.get(metric, {})
            table[row.method] = {a: g.value for a, g in per.items()}
            actions |= set(per)
        return sorted(actions), table

    def sweep(self, metric: str | None = None) -> dict[str, dict[int, tuple[float, tuple[float, float] | None]]]:
        """method → number of cameras → (value, ci95) for camera-sweep protocols."""
        metric = metric or self.protocol.headline
        out: dict[str, dict[int, tuple[float, tuple[float, float] | None]]] = {}
        for row in self.rows:
            blocks = row.result.metrics.sweep or {}
            curve = {}
            for size, block in blocks.items():
                value = _block_value(block, metric, row.result.metrics.weighting)
                if value is not None:
                    ci = block.ci95.get(metric)
                    curve[int(size)] = (value, (float(ci[0]), float(ci[1])) if ci else None)
            if curve:
                out[row.method] = dict(sorted(curve.items()))
        return out


CalibrationCurves = dict[str, list[tuple[float, float, float, tuple[float, float] | None]]]


def calibration_curves(boards: dict[str, Board]) -> tuple[list[tuple[float, float]], CalibrationCurves]:
    """The calibration-sweep protocol's levels ``[(rotation_deg, translation_mm), ...]`` and
    method → ``[(rotation_deg, translation_mm, headline value, ci95)]`` from the boards keyed
    by protocol name (the first calibration-sweep protocol by name; none: empty)."""
    sweeps = sorted((b for b in boards.values() if b.protocol.calibration_sweep is not None),
                    key=lambda b: b.protocol.name)
    if not sweeps:
        return [], {}
    board = sweeps[0]
    cal = board.protocol.calibration_sweep
    assert cal is not None
    metric = board.protocol.headline
    curves: CalibrationCurves = {}
    for row in board.rows:
        blocks = row.result.metrics.calibration or {}
        points = []
        for lv in cal.levels:
            block = blocks.get(lv.label)
            value = None if block is None else _block_value(block, metric, row.result.metrics.weighting)
            if block is not None and value is not None:
                ci = block.ci95.get(metric)
                points.append((lv.rotation_deg, lv.translation_mm, value, (float(ci[0]), float(ci[1])) if ci else None))
        if points:
            curves[row.method] = points
    return [(lv.rotation_deg, lv.translation_mm) for lv in cal.levels], curves


def read_speed_benchmarks(path: str | Path | None) -> dict[str, tuple[float, str]]:
    """Method → ``(ms per frame, how and where measured)`` from the ``speed`` stage's
    pytest-benchmark JSON (``benchmarks/bench_speed.py``); empty when there is none."""
    import json

    if path is None or not Path(path).exists():
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    machine = data.get("machine_info", {}) if isinstance(data, dict) else {}
    cpu = (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "unknown CPU"
    out: dict[str, tuple[float, str]] = {}
    for bench in data.get("benchmarks", []) if isinstance(data, dict) else []:
        info = bench.get("extra_info", {})
        if "method" in info and "ms_per_frame" in info:
            device = str(info.get("device", "cpu"))
            if device.startswith("cpu"):  # the CPU's brand and its threads (unchanged wording)
                where = f"{cpu}, {info.get('torch_threads', '?')} torch thread(s)"
            else:  # the GPU's model, CUDA version and precision (poseboard.device.describe_device)
                where = f"{device}, host {cpu}"
            out[str(info["method"])] = (
                float(info["ms_per_frame"]),
                f"{where}: median of {bench.get('stats', {}).get('rounds', '?')} rounds of "
                f"{info.get('frames_per_call', '?')} frames (benchmarks/bench_speed.py)",
            )
    return out


def apply_speed(boards: list[Board], speed: dict[str, tuple[float, str]]) -> None:
    """Give every row the benchmark suite's speed of its method (the leaderboard's speed
    column is measured once, by the benchmark); rows without one keep the run's own timing."""
    for board in boards:
        for row in board.rows:
            if row.method in speed:
                row.ms_per_sample, row.device = speed[row.method]


def _block_value(block: MetricBlock, metric: str, weighting: str) -> float | None:
    source = block.overall if weighting == "frame" else block.action_weighted
    value = source.get(metric)
    return None if value is None else float(value)


def _pairable_replicates(reps: list[Result]) -> tuple[list[Result], list[str]]:
    """``reps`` (the pipeline's own run first) split into those scored on the first's task and
    trained with its configuration but for the seed, which the row averages, and the reasons the
    others are left out: a replicate of the default profile beside a pipeline re-run on another
    profile or data, or one trained before a change of the method's config, is not a seed of
    that run."""
    kept, left_out = reps[:1], []
    for r in reps[1:]:
        try:
            check_pairable(reps[0], r)
            check_same_training(reps[0], r)
        except InputError as exc:
            left_out.append(f"seed {train_seed(r)}: {exc}")
        else:
            kept.append(r)
    return kept, left_out


def _replicates(group: list[Result]) -> dict[str, list[Result]]:
    """Method → its results on one protocol, the seed replicates ordered by training seed (a
    result without a recorded seed first). Two results of one method with the same seed are an
    error: the board could not tell which one to show."""
    by_method: dict[str, list[Result]] = defaultdict(list)
    for r in group:
        by_method[r.method.name].append(r)
    out = {}
    for name, rs in by_method.items():
        rs = sorted(rs, key=lambda r: (train_seed(r) is not None, train_seed(r) or 0))
        seeds = [train_seed(r) for r in rs]
        if len(set(seeds)) != len(seeds):
            raise ResultFileError(f"{name} under {rs[0].protocol.id}: {len(rs)} result files with the same training "
                                  f"seed(s) {seeds}; keep one per seed (replicates go under results/seed-<k>/)")
        out[name] = rs
    return out


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values))


def _row(rank: int, protocol: ProtocolDef, reps: list[Result]) -> Row:
    r = reps[0]
    collected: dict[str, list[float]] = defaultdict(list)  # metric → its value for each seed
    for rep in reps:
        main = rep.metrics.main
        source = main.overall if rep.metrics.weighting == "frame" else main.action_weighted
        for k, v in [*source.items(), *((k, v) for k, v in main.extra.items() if k.startswith("mrpe_"))]:
            collected[k].append(float(v))
    values = [float(rep.metrics.headline_value) for rep in reps]
    ci = headline_ci(r)
    if len(reps) > 1:
        table = sequence_table(reps)
        if table is None:  # no per-sequence errors (AP_root): the seeds' own intervals and spread
            ci = seed_mean_interval(values, [headline_ci(rep) for rep in reps])
        else:
            lo, hi, _ = replicate_interval(table, r.metrics.weighting, seed=r.protocol.bootstrap_seed)
            ci = (lo, hi)
    return Row(
        rank=rank, method=r.method.name, value=_mean(values), ci95=ci,
        metrics={k: _mean(v) for k, v in collected.items()},
        paper=paper_anchor(protocol, r.method.name),
        dataset=dataset_short(r.dataset.name), dataset_long=dataset_label(r.dataset.name), source=r.dataset.source,
        ms_per_sample=r.speed.ms_per_sample, device=r.speed.device, badges=badges(r),
        num_frames=r.metrics.main.num_frames, result=r, replicates=list(reps), seed_values=values,
    )


def pair_seed_variance(a: Row, b: Row) -> SeedNoise | None:
    """The training-seed variance of ``a − b``'s headline difference that the paired test does
    not already hold, and its degrees of freedom, for two single-run rows: the sample variance
    of their per-seed differences over the replicate seeds both were measured with (two or
    more; ``seeds − 1`` degrees of freedom); else, if both have a measured SD, ``SD²_a + SD²_b``
    (independent seeds, an upper bound: one seed's backbone moves every method it feeds the
    same way) with its Welch–Satterthwaite degrees of freedom; else None.

    A row that is a mean over seed replicates carries its own seed variance into the paired
    test (:func:`~poseboard.comparison.paired.seed_mean_noise`); against a single-run row, only
    the single run's measured ``SD²`` is added here (None if it was not measured)."""
    if a.averaged or b.averaged:
        single = None if a.averaged and b.averaged else (b if a.averaged else a)
        if single is None or single.seed_floor_sd is None:
            return None
        return SeedNoise(single.seed_floor_sd**2, max(len(single.seed_floor_values or {}) - 1, 1))
    return _single_run_pair_noise(a.seed_floor_values, a.seed_floor_sd, b.seed_floor_values, b.seed_floor_sd)


def _single_run_pair_noise(va: dict[int, float] | None, sd_a: float | None, vb: dict[int, float] | None,
                           sd_b: float | None) -> SeedNoise | None:
    """The seed variance of one run's difference ``a − b`` from each method's per-seed values
    (``va``, ``vb``: seed → headline) and SDs: per-seed differences over two or more common seeds,
    else ``SD²_a + SD²_b`` at its Welch–Satterthwaite degrees of freedom, else None."""
    va, vb = va or {}, vb or {}
    common = sorted(set(va) & set(vb))
    if len(common) >= 2:
        return SeedNoise(statistics.variance([va[s] - vb[s] for s in common]), len(common) - 1)
    if sd_a is not None and sd_b is not None:
        parts = [(sd_a**2, max(len(va) - 1, 1)), (sd_b**2, max(len(vb) - 1, 1))]
        return SeedNoise(parts[0][0] + parts[1][0], satterthwaite_df(parts))
    return None


def single_run_seed_variance(board: Board | None) -> SeedVariance:
    """``(a, b)`` → the training-seed variance of the difference of *single runs* of ``a`` and
    ``b`` (one seed each), from ``board``'s rows: their seed replicates' per-seed headlines where
    a row averages several, else its measured seed floor. For tests of single-run results
    scored elsewhere (a studio's, a held-out split without replicates), where
    :func:`board_seed_variance` is for the board's own rows."""
    known: dict[str, tuple[dict[int, float] | None, float | None]] = {}
    for row in board.rows if board is not None else []:
        if row.averaged:
            seeds = [train_seed(r) for r in row.replicates]
            values = dict(zip(seeds, row.seed_values, strict=True)) if None not in seeds else None
            known[row.method] = (values, row.seed_sd)
        else:
            known[row.method] = (row.seed_floor_values, row.seed_floor_sd)

    def variance(a: str, b: str) -> SeedNoise | None:
        if a not in known or b not in known:
            return None
        return _single_run_pair_noise(*known[a], *known[b])

    return variance


def board_seed_variance(board: Board | None) -> SeedVariance:
    """``(a, b)`` → the training-seed variance of ``a − b`` on ``board`` and its degrees of
    freedom (its rows' measured seed floor, :func:`pair_seed_variance`), None where it was not
    measured: what the generalization table and the studio add to their pair tests."""
    rows = {row.method: row for row in board.rows} if board is not None else {}

    def variance(a: str, b: str) -> SeedNoise | None:
        ra, rb = rows.get(a), rows.get(b)
        return None if ra is None or rb is None else pair_seed_variance(ra, rb)

    return variance


@dataclass(frozen=True)
class RowComparison:
    """``a − b`` of two rows' headlines (or of one sweep point), as the board's verdicts test it."""

    difference: float
    ci95: tuple[float, float]
    p_value: float  # two-sided, uncorrected
    test: str  # "paired", "paired + seed noise" or "intervals" (unpaired, from the two 95 % intervals)


def compare_rows(a: Row, b: Row, point: str | None = None) -> RowComparison | None:
    """``a − b`` under one protocol, tested as the board tests neighbours: paired over the same
    resampled sequences (plus the pair's measured seed variance, :func:`pair_seed_variance`,
    for the headline), else from the two 95 % intervals, unpaired; ``point`` compares one sweep
    point (a number of cameras) instead of the headline. None when neither test can be made."""
    try:
        c = compare_results(a.replicates, b.replicates, point=point, seed=a.result.protocol.bootstrap_seed)
    except InputError:
        c = None
    if c is not None:
        seed_var = pair_seed_variance(a, b) if point is None else None
        if seed_var is not None:
            c = c.with_seed_variance(seed_var)
        return RowComparison(c.difference, c.ci95, c.p_value, c.test)
    if point is None:
        va, ca, vb, cb = a.value, a.ci95, b.value, b.ci95
    else:
        block_a, block_b = a.result.metrics.sweep or {}, b.result.metrics.sweep or {}
        if point not in block_a or point not in block_b:
            return None
        metric = a.result.protocol.headline
        va = _block_value(block_a[point], metric, a.result.metrics.weighting)
        vb = _block_value(block_b[point], metric, b.result.metrics.weighting)
        ra, rb = block_a[point].ci95.get(metric), block_b[point].ci95.get(metric)
        ca = (float(ra[0]), float(ra[1])) if ra else None
        cb = (float(rb[0]), float(rb[1])) if rb else None
        if va is None or vb is None:
            return None
    return interval_comparison(va, ca, vb, cb)


def interval_comparison(a: float, ci_a: tuple[float, float] | None, b: float,
                        ci_b: tuple[float, float] | None) -> RowComparison | None:
    """``a − b`` from two independent 95 % intervals (``se = width / (2 · 1.96)``), unpaired;
    None without both intervals."""
    se_a, se_b = _se(ci_a), _se(ci_b)
    if se_a is None or se_b is None:
        return None
    se = math.hypot(se_a, se_b)
    d = a - b
    z = NormalDist().inv_cdf(1 - 0.05 / 2)
    p = 2 * (1 - NormalDist().cdf(abs(d) / se)) if se > 0 else float(d == 0)
    return RowComparison(d, (d - z * se, d + z * se), p, "intervals")


def _compare_neighbours(rows: list[Row], level: float) -> tuple[float | None, int | None]:
    """Fill each row's comparison with the next one down; returns the board's detectable
    difference and its number of sequences.

    Where both rows are single runs whose seed spread was measured, the seed variance of
    their difference is added to the paired one, ``SE² = SE²_paired + SD²_seed(a − b)``
    (:func:`pair_seed_variance`), and the p-value comes from Student's t at the sum's
    Welch–Satterthwaite degrees of freedom (:meth:`PairedComparison.with_seed_variance`): a
    difference another seed could produce is not a finding. The detectable difference is the
    median pair's, at its degrees of freedom."""
    ses: list[tuple[float, float]] = []  # (SE, degrees of freedom) of each neighbour test
    sequences, p_values = None, {}
    for a, b in itertools.pairwise(rows):
        try:
            a.vs_next = compare_results(a.replicates, b.replicates, seed=a.result.protocol.bootstrap_seed)
        except InputError as exc:
            a.vs_next_unavailable = str(exc)
        if a.vs_next is None:
            continue
        se, p, df = a.vs_next.se, a.vs_next.p_value, math.inf
        seed_var = pair_seed_variance(a, b)
        if seed_var is not None:
            with_seeds = a.vs_next.with_seed_variance(seed_var)
            se, p, a.vs_next_ci_with_seeds = with_seeds.se, with_seeds.p_value, with_seeds.ci95
            df = with_seeds.df if with_seeds.df is not None else math.inf
        p_values[id(a)] = p
        ses.append((se, df))
        sequences = a.vs_next.num_sequences
    paired = [a for a in rows[:-1] if a.vs_next is not None]
    for a, p in zip(paired, holm([p_values[id(a)] for a in paired]), strict=True):
        a.vs_next_p_holm = p
        a.differs_from_next = p < level
        a.vs_next_test = "paired + seed noise" if a.vs_next_ci_with_seeds is not None else a.vs_next.test
    for a, b in itertools.pairwise(rows):
        if a.vs_next is None:
            a.differs_from_next = significant(a.value, a.ci95, b.value, b.ci95, level)
            a.vs_next_test = None if a.differs_from_next is None else "intervals"
    detectable = None
    if ses:
        median_se, median_df = sorted(ses)[len(ses) // 2]
        detectable = detectable_difference(median_se, level, df=median_df)
    return detectable, sequences


def _all_pairs(rows: list[Row], level: float) -> tuple[int, int] | None:
    """How many of all row pairs a paired test decides, Holm-corrected over all of them (pairs
    without per-sequence errors are left out; a pair's measured seed variance,
    :func:`pair_seed_variance`, is part of its test, as in the neighbours' verdicts); None when
    no pair can be compared."""
    p_values = []
    for a, b in itertools.combinations(rows, 2):
        try:
            c = compare_results(a.replicates, b.replicates, seed=a.result.protocol.bootstrap_seed)
        except InputError:
            continue
        seed_var = pair_seed_variance(a, b)
        p_values.append((c if seed_var is None else c.with_seed_variance(seed_var)).p_value)
    if not p_values:
        return None
    return sum(p < level for p in holm(p_values)), len(p_values)


OTHER_IMAGES = "other image bytes"
"""The badge of a row scored on the board's task rendered with other image bytes (another
CPU's kernels): it is compared paired like every row, and the badge says so."""


def _flag_other_images(rows: list[Row]) -> None:
    """Badge the rows whose image hash differs from the one most of the board's pipeline rows
    were scored on (their task is the same, or :func:`compare_results` would not pair them)."""
    hashes = Counter(row.result.dataset.images_hash for row in rows
                     if row.result.submission is None and row.result.dataset.images_hash)
    if not hashes:
        return
    board_images = hashes.most_common(1)[0][0]
    for row in rows:
        images = row.result.dataset.images_hash
        if images and images != board_images and OTHER_IMAGES not in row.badges:
            row.badges.append(OTHER_IMAGES)


def build_boards(results: list[Result], level: float = 0.05, seed_spread: SeedSpread | None = None) -> list[Board]:
    """Group results by protocol id (versions never mixed) and method (seed replicates averaged),
    rank by the headline, and compare each row with the next one down (paired, Holm-corrected
    over the board at ``level``; with ``seed_spread``, single-run rows' measured seed variance
    is part of each comparison)."""
    by_protocol: dict[str, list[Result]] = defaultdict(list)
    protocols: dict[str, ProtocolDef] = {}
    for r in results:
        by_protocol[r.protocol.id].append(r)
        protocols.setdefault(r.protocol.id, r.protocol)
    boards = []
    for pid in sorted(by_protocol):
        protocol = protocols[pid]
        group = by_protocol[pid]
        m0 = group[0].metrics
        hib = bool(m0.higher_is_better.get(m0.headline, False))
        rows = []
        for reps in _replicates(group).values():
            kept, left_out = _pairable_replicates(reps)
            rows.append(_row(0, protocol, kept))
            rows[-1].replicates_left_out = left_out
        rows.sort(key=lambda row: (-row.value if hib else row.value, row.method))
        for i, row in enumerate(rows, start=1):
            row.rank = i
            if seed_spread is not None and len(row.replicates) == 1:
                row.seed_floor_sd = seed_spread.sd(pid, row.method)
                entry = seed_spread.spread.get(pid, {}).get(row.method)
                if entry is not None:
                    row.seed_floor_values = dict(zip(entry.seeds, entry.values, strict=True))
        _flag_other_images(rows)
        detectable, sequences = _compare_neighbours(rows, level)
        all_pairs = _all_pairs(rows, level) if len(rows) > 2 else None
        names = list(protocol.metrics)
        if any(k.startswith("mrpe_") for row in rows for k in row.metrics):
            names += [k for k in ("mrpe_x", "mrpe_y", "mrpe_z") if any(k in row.metrics for row in rows)]
        sizes = sorted({int(s) for r in group for s in (r.metrics.sweep or {})})
        boards.append(Board(protocol=protocol, rows=rows, higher_is_better=hib,
                            unit=m0.units.get(m0.headline, ""), metric_names=names, sweep_sizes=sizes,
                            detectable=detectable, num_sequences=sequences, level=level, all_pairs=all_pairs,
                            seed_floor_from=seed_spread.carried_over.get(pid) if seed_spread is not None else None))
    return boards


def provenance(results: list[Result]) -> dict[str, Any]:
    """What the footer says about where the numbers came from (commits, machines, versions)."""
    commits = sorted({(r.git.get("commit") or "unknown")[:12] + (" (dirty)" if r.git.get("dirty") else "")
                      for r in results})
    machines = sorted({str(r.hardware.get("cpu") or "unknown") + (
        f", {r.hardware['accelerator']}" if r.hardware.get("accelerator") else "") for r in results})
    versions: dict[str, set[str]] = defaultdict(set)
    for r in results:
        for k, v in r.versions.items():
            versions[k].add(v)
    return {
        "commits": commits,
        "machines": machines,
        "versions": {k: ", ".join(sorted(v)) for k, v in sorted(versions.items())},
        "data_hashes": sorted({f"{r.dataset.name}: {(r.dataset.data_hash or 'unknown')[:12]}" for r in results}),
    }
