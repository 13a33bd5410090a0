"""Paired bootstrap of the difference of two methods' headlines on the same test sequences.

Every method of a protocol is scored on the same frames, and a sequence that is hard for one
method is hard for the others: per-sequence errors are strongly correlated across methods.
Comparing two marginal intervals throws that correlation away; resampling the *same*
sequences for both methods keeps it, and decides far smaller differences.

The unit of resampling is the sequence (frames of one sequence are not independent), drawn
with replacement, stratified by action when the headline is action-weighted (as
:func:`poseboard.protocols.aggregate.bootstrap_ci`). Vectorised: one multinomial draw of
sequence counts per stratum, no loop over resamples.

When a method has several training-seed replicates its headline is their mean, and the
comparison tests the difference of the two seed means: the bootstrap resamples sequences of
the seed-averaged tables, and the seed variance of the mean difference is added with its own
degrees of freedom (:func:`seed_mean_noise`): ``var(d_k) / K`` with ``K − 1`` when both methods
were trained with the same K seeds (seed k's backbone feeds both, so the per-seed differences
``d_k`` pair), else ``s²_a / K_a + s²_b / K_b`` at its Welch–Satterthwaite degrees of freedom.
Resampling a handful of seeds with replacement instead would understate that variance by
``(K − 1) / K`` and take it as known: with three seeds its interval is about 2.6 times too
narrow in the seed part.

The p-value inverts the percentile interval: ``p = 2 · min(P*(d ≤ 0), P*(d ≥ 0))`` over the
bootstrap differences ``d`` (with the +1 correction, so never 0), so ``p < α`` exactly when
0 lies outside the ``1 − α`` percentile interval, up to the resampling's granularity.

A single-run board adds each pair's *measured* training-seed variance to the bootstrap's
(:meth:`PairedComparison.with_seed_variance`). That variance comes from a handful of seeds, so
it is itself uncertain: the combined test uses Student's t with the Welch–Satterthwaite degrees
of freedom of ``SE²_sequences + variance`` (:class:`SeedNoise`), not the normal quantile that
would treat a variance from two seeds as known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Literal, NamedTuple

import numpy as np
from scipy import stats

from poseboard.errors import InputError

__all__ = [
    "PairedComparison",
    "SeedNoise",
    "SequenceTable",
    "detectable_difference",
    "holm",
    "paired_bootstrap",
    "replicate_interval",
    "satterthwaite_df",
    "seed_mean_noise",
]

Weighting = Literal["frame", "action"]


@dataclass(frozen=True)
class SequenceTable:
    """One method's per-sequence sums of a metric under one protocol, one row per seed.

    Attributes:
        sequences: (Q,) ``subject/sequence`` labels, sorted and unique.
        strata: (Q,) the action of each sequence (the stratum of action weighting).
        sums: (K, Q) float64, the metric summed over each sequence's frames, for each of the
            method's K training-seed replicates (K = 1 for a single run).
        frames: (Q,) int64, frames scored in each sequence (the same for every seed).
        seeds: (K,) the training seed of each row (informative).
    """

    sequences: tuple[str, ...]
    strata: tuple[str, ...]
    sums: np.ndarray
    frames: np.ndarray
    seeds: tuple[int | None, ...] = (None,)

    def __post_init__(self) -> None:
        q = len(self.sequences)
        sums = np.atleast_2d(np.asarray(self.sums, dtype=np.float64))
        frames = np.asarray(self.frames, dtype=np.int64)
        object.__setattr__(self, "sums", sums)
        object.__setattr__(self, "frames", frames)
        if q == 0:
            raise InputError("a sequence table needs at least one sequence")
        if len(self.strata) != q or frames.shape != (q,) or sums.shape[1] != q:
            raise InputError(f"sequence table: {q} sequences but {len(self.strata)} strata, frames of shape "
                             f"{frames.shape}, sums of shape {sums.shape}")
        if len(set(self.sequences)) != q:
            raise InputError("sequence table: sequence labels must be unique")
        if (frames <= 0).any():
            raise InputError("sequence table: every sequence needs at least one frame")
        if not np.isfinite(sums).all():
            raise InputError("sequence table: sums must be finite")
        if len(self.seeds) != sums.shape[0]:
            raise InputError(f"sequence table: {sums.shape[0]} seed rows but {len(self.seeds)} seed labels")

    @property
    def num_seeds(self) -> int:
        return int(self.sums.shape[0])

    def headline(self, weighting: Weighting = "frame") -> np.ndarray:
        """(K,) the headline of each seed: total / frames, or the mean of per-action means."""
        strata = _strata(self.strata)
        return _statistic(self.sums, self.frames.astype(np.float64), strata, weighting)

    def same_units(self, other: SequenceTable) -> bool:
        """The same sequences, strata and frame counts: two methods scored on the same frames."""
        return self.same_sequences(other) and np.array_equal(self.frames, other.frames)

    def same_sequences(self, other: SequenceTable) -> bool:
        """The same sequences in the same strata, whatever frames of them each table scored
        (``synth-novel-rig`` films every other frame of the in-distribution test's sequences):
        a bootstrap that draws the same sequences for both is paired."""
        return self.sequences == other.sequences and self.strata == other.strata


class SeedNoise(NamedTuple):
    """The training-seed variance of one difference of headlines and how well it is known.

    Attributes:
        variance: (unit²) the variance another training seed gives the difference ``a − b``.
        df: its degrees of freedom: ``seeds − 1`` for a sample variance over seeds,
            ``math.inf`` for a variance taken as known.
    """

    variance: float
    df: float = math.inf


def satterthwaite_df(parts: Sequence[tuple[float, float]]) -> float:
    """Welch–Satterthwaite degrees of freedom of a sum of independent variance estimates
    ``[(variance, df), ...]``: ``(Σ v)² / Σ (v² / df)`` (a part with ``df = inf`` adds nothing to
    the denominator; ``inf`` when every part is known or the sum is 0).

    Example:
        >>> satterthwaite_df([(4.0, 1.0), (4.0, 1.0)])
        2.0
        >>> satterthwaite_df([(1.0, math.inf), (0.0, 2.0)])
        inf
    """
    total = sum(v for v, _ in parts)
    den = sum(v * v / df for v, df in parts if v > 0 and math.isfinite(df))
    if total <= 0 or den <= 0:
        return math.inf
    return float(total * total / den)


@dataclass(frozen=True)
class PairedComparison:
    """``a − b`` of two methods' headlines (mean over their seeds), paired over sequences."""

    difference: float
    ci95: tuple[float, float]
    p_value: float
    se: float
    num_sequences: int
    seeds: tuple[int, int]
    resamples: int
    weighting: str
    confidence: float = 0.95
    #: The training-seed variance added to the sequence bootstrap's (:meth:`with_seed_variance`);
    #: None: the interval and p-value cover the test sequences only.
    seed_variance: float | None = None
    #: Degrees of freedom of the interval and p-value with the seed variance added
    #: (Welch–Satterthwaite, :meth:`with_seed_variance`); None without it (the bootstrap's own).
    df: float | None = None
    #: Degrees of freedom of ``seed_variance`` alone (None without it).
    seed_df: float | None = None

    def significant(self, level: float = 0.05) -> bool:
        return self.p_value < level

    @property
    def test(self) -> str:
        """``"paired"``, or ``"paired + seed noise"`` with a training-seed variance added."""
        return "paired" if self.seed_variance is None else "paired + seed noise"

    def with_seed_variance(self, noise: SeedNoise | float, shared: bool = False) -> PairedComparison:
        """This comparison with the training-seed variance of the difference added,
        ``SE² = SE²_sequences + variance`` (the leaderboard's "paired + seed noise" verdicts), so
        that a difference another training seed could produce is not a finding.

        The interval and two-sided p-value are Student's t with the Welch–Satterthwaite degrees
        of freedom of that sum: the bootstrap's SE counts ``num_sequences − 1``, the seed
        variance ``noise.df`` (seeds − 1). A variance from two seeds (``df = 1``) widens the
        interval far more than the normal quantile would; a bare float, or ``df = inf``, takes
        the seed variance as known (then only the sequences' ``num_sequences − 1`` count, and
        the test is close to the normal approximation).

        A seed variance already in (a seed mean's) and ``noise`` add. As independent estimates
        their degrees of freedom combine by Welch–Satterthwaite; ``shared=True`` says ``noise``
        is estimated from the same seeds (a single run's variance taken from the seed mean's own
        seeds), so the sum keeps ``noise.df``.

        Example:
            >>> c = PairedComparison(3.0, (1.04, 4.96), 0.003, 1.0, 30, (1, 1), 1000, "frame")
            >>> w = c.with_seed_variance(3.0)
            >>> w.se, round(w.p_value, 4), w.test
            (2.0, 0.1343, 'paired + seed noise')
            >>> t = c.with_seed_variance(SeedNoise(3.0, df=2))
            >>> round(t.df, 2), round(t.p_value, 3), round(t.ci95[1], 2)
            (3.53, 0.217, 8.86)
        """
        noise = noise if isinstance(noise, SeedNoise) else SeedNoise(float(noise))
        if noise.variance < 0 or not noise.df > 0:
            raise ValueError(f"a seed variance is non-negative with positive degrees of freedom, got {noise}")
        sequences = max(self.se**2 - (self.seed_variance or 0.0), 0.0)  # the bootstrap's own part
        seed_parts = [(noise.variance, noise.df)]
        if self.seed_variance is not None and shared:  # one estimate: the variances add, its df stays
            seed_parts = [(noise.variance + self.seed_variance, noise.df)]
        elif self.seed_variance is not None:  # a seed variance already in (seed means): the two add
            seed_parts.append((self.seed_variance, self.seed_df if self.seed_df is not None else math.inf))
        variance = sum(v for v, _ in seed_parts)
        se = math.sqrt(sequences + variance)
        d = self.difference
        df = satterthwaite_df([(sequences, max(self.num_sequences - 1, 1)), *seed_parts])
        q = _quantile(1 - (1 - self.confidence) / 2, df)
        if math.isinf(df):
            p = 2 * (1 - NormalDist().cdf(abs(d) / se)) if se > 0 else float(d == 0)
        else:
            p = float(2 * stats.t.sf(abs(d) / se, df)) if se > 0 else float(d == 0)
        return replace(self, ci95=(d - q * se, d + q * se), p_value=p, se=se, seed_variance=variance, df=df,
                       seed_df=satterthwaite_df(seed_parts))


def _quantile(probability: float, df: float) -> float:
    """Student's t quantile at ``df`` degrees of freedom; the normal one at ``df = inf``."""
    return NormalDist().inv_cdf(probability) if math.isinf(df) else float(stats.t.ppf(probability, df))


def _strata(labels: Sequence[str]) -> list[np.ndarray]:
    names = sorted(set(labels))
    arr = np.asarray(labels, dtype=object)
    return [np.flatnonzero(arr == n) for n in names]


def _statistic(num: np.ndarray, den: np.ndarray, strata: list[np.ndarray], weighting: Weighting) -> np.ndarray:
    """Headline from per-sequence sums ``num`` (..., Q) and frames ``den`` (Q,)."""
    if weighting == "frame":
        return num.sum(axis=-1) / den.sum()
    return np.mean([num[..., idx].sum(axis=-1) / den[idx].sum() for idx in strata], axis=0)


def _draw_sequences(rng: np.random.Generator, strata: list[np.ndarray], q: int, b: int,
                    weighting: Weighting) -> list[np.ndarray]:
    """Per stratum, (B, k) multinomial counts of its sequences (frame weighting: one stratum)."""
    groups = [np.arange(q)] if weighting == "frame" else strata
    return [rng.multinomial(len(g), np.full(len(g), 1.0 / len(g)), size=b).astype(np.float64) for g in groups]


def _resampled_headlines(table: SequenceTable, counts: list[np.ndarray], groups: list[np.ndarray],
                         seed_weights: np.ndarray, weighting: Weighting) -> np.ndarray:
    """(B,) the seed-averaged headline of ``table`` under each draw."""
    den = table.frames.astype(np.float64)
    parts = []
    for c, g in zip(counts, groups, strict=True):
        parts.append((c @ table.sums[:, g].T, c @ den[g]))  # (B, K), (B,)
    if weighting == "frame":
        stat = sum(p[0] for p in parts) / sum(p[1] for p in parts)[:, None]
    else:
        stat = np.mean([p[0] / p[1][:, None] for p in parts], axis=0)
    return (stat * seed_weights).sum(axis=1)


def _mean_weights(table: SequenceTable, b: int) -> np.ndarray:
    """(B, K) equal weights: every draw averages all of the table's seeds."""
    return np.full((b, table.num_seeds), 1.0 / table.num_seeds)


def _seed_weights(rng: np.random.Generator, k: int, b: int) -> np.ndarray:
    """(B, K) weights of each seed in each draw: K seeds drawn with replacement, averaged."""
    if k == 1:
        return np.ones((b, 1))
    return rng.multinomial(k, np.full(k, 1.0 / k), size=b) / k


def _check_weighting(weighting: str) -> Weighting:
    if weighting not in ("frame", "action"):
        raise ValueError(f"weighting must be 'frame' or 'action', got {weighting!r}")
    return weighting  # type: ignore[return-value]


def paired_bootstrap(a: SequenceTable, b: SequenceTable, weighting: Weighting = "frame",
                     n_resamples: int = 10000, confidence: float = 0.95, seed: int = 0) -> PairedComparison:
    """The difference ``headline(a) − headline(b)`` with its paired-bootstrap interval and p-value.

    A table with several training seeds enters as its seed mean; the seed variance of the two
    means' difference (:func:`seed_mean_noise`) is then added to the bootstrap's, and the
    interval and p-value are Student's t at their Welch–Satterthwaite degrees of freedom
    (``test`` "paired + seed noise").

    Args:
        a, b: the two methods' tables; they must cover the same sequences with the same frame
            counts (results of the same protocol on the same sample ids).
        weighting: the protocol's headline weighting (``"action"``: stratified by action).
        n_resamples: bootstrap draws.
        confidence: coverage of the interval.
        seed: of ``np.random.default_rng``; equal inputs and seed give equal output.

    Example:
        >>> t = lambda s: SequenceTable(("a", "b", "c"), ("x", "x", "x"), [s], [1, 1, 1])
        >>> r = paired_bootstrap(t([10.0, 20.0, 30.0]), t([9.0, 19.0, 29.0]), n_resamples=200)
        >>> round(r.difference, 6), [round(x, 6) for x in r.ci95], r.p_value < 0.05
        (1.0, [1.0, 1.0], True)
    """
    weighting = _check_weighting(weighting)
    if not a.same_units(b):
        raise InputError("paired comparison: the two results were not scored on the same sequences and frames")
    if not 0 < confidence < 1 or int(n_resamples) < 1:
        raise ValueError("confidence must be in (0, 1) and n_resamples >= 1")
    rng = np.random.default_rng(seed)
    bsz = int(n_resamples)
    strata = _strata(a.strata)
    groups = [np.arange(len(a.sequences))] if weighting == "frame" else strata
    counts = _draw_sequences(rng, strata, len(a.sequences), bsz, weighting)
    diffs = (_resampled_headlines(a, counts, groups, _mean_weights(a, bsz), weighting)
             - _resampled_headlines(b, counts, groups, _mean_weights(b, bsz), weighting))
    point = float(a.headline(weighting).mean() - b.headline(weighting).mean())
    alpha = 1.0 - confidence
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    below, above = np.count_nonzero(diffs <= 0), np.count_nonzero(diffs >= 0)
    p = min(1.0, 2 * (min(below, above) + 1) / (bsz + 1))
    c = PairedComparison(difference=point, ci95=(float(lo), float(hi)), p_value=float(p),
                         se=float(diffs.std(ddof=1)) if bsz > 1 else 0.0, num_sequences=len(a.sequences),
                         seeds=(a.num_seeds, b.num_seeds), resamples=bsz, weighting=weighting, confidence=confidence)
    noise = seed_mean_noise(a, b, weighting)
    return c if noise is None else c.with_seed_variance(noise)


def seed_mean_noise(a: SequenceTable, b: SequenceTable, weighting: Weighting = "frame") -> SeedNoise | None:
    """The training-seed variance of ``mean_k a_k − mean_k b_k`` (the two seed-averaged
    headlines on the full test set) and its degrees of freedom; None when neither method has
    two seeds (a single run's seed noise is measured elsewhere: ``results/seed_spread.json``).

    With the same K seeds for both (each labelled, in the same order), the per-seed differences
    ``d_k = a_k − b_k`` pair, and their mean's variance is ``var(d) / K`` with ``K − 1`` degrees
    of freedom. Otherwise the two means are independent: ``s²_a / K_a + s²_b / K_b`` (a single
    run adds nothing), at the Welch–Satterthwaite degrees of freedom.

    Example:
        >>> t = lambda *seeds: SequenceTable(("q",), ("x",), [[v] for v in seeds], [1], tuple(range(len(seeds))))
        >>> seed_mean_noise(t(10.0, 12.0, 14.0), t(9.0, 12.0, 12.0))
        SeedNoise(variance=0.3333333333333333, df=2)
        >>> seed_mean_noise(t(10.0, 12.0, 14.0), t(9.0))
        SeedNoise(variance=1.3333333333333333, df=2.0)
    """
    ha, hb = a.headline(weighting), b.headline(weighting)
    k = a.num_seeds
    if k > 1 and a.seeds == b.seeds and None not in a.seeds:
        return SeedNoise(float(np.var(ha - hb, ddof=1)) / k, k - 1)
    parts = [(float(np.var(h, ddof=1)) / len(h), len(h) - 1) for h in (ha, hb) if len(h) > 1]
    if not parts:
        return None
    return SeedNoise(sum(v for v, _ in parts), satterthwaite_df(parts))


def single_run_variance(headlines: Sequence[float]) -> SeedNoise:
    """One training run's seed variance, estimated by K >= 2 seeds' headlines of the same method:
    their sample variance ``s²`` at ``K − 1`` degrees of freedom (what a single run carries that
    a seed mean of K carries only a K-th of).

    Example:
        >>> single_run_variance([10.0, 12.0, 14.0])
        SeedNoise(variance=4.0, df=2)
    """
    if len(headlines) < 2:
        raise ValueError("a seed variance needs two or more seeds' headlines")
    return SeedNoise(float(np.var(np.asarray(headlines, dtype=np.float64), ddof=1)), len(headlines) - 1)


def replicate_interval(table: SequenceTable, weighting: Weighting = "frame", n_resamples: int = 10000,
                       confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``(low, high, point)``: the interval of one method's seed-averaged headline (its own
    interval on a multi-seed board): ``point ± t · SE`` with ``SE² = SE²_sequences + s² / K``,
    the bootstrap's SE of the seed mean over resampled sequences plus the seeds' sample variance
    over their number, and t at the Welch–Satterthwaite degrees of freedom of the two (the
    sequences count ``Q − 1``, the seeds ``K − 1``)."""
    weighting = _check_weighting(weighting)
    rng = np.random.default_rng(seed)
    strata = _strata(table.strata)
    groups = [np.arange(len(table.sequences))] if weighting == "frame" else strata
    bsz = int(n_resamples)
    counts = _draw_sequences(rng, strata, len(table.sequences), bsz, weighting)
    draws = _resampled_headlines(table, counts, groups, _mean_weights(table, bsz), weighting)
    heads = table.headline(weighting)
    parts = [(float(draws.var(ddof=1)) if bsz > 1 else 0.0, max(len(table.sequences) - 1, 1))]
    if len(heads) > 1:
        parts.append((float(np.var(heads, ddof=1)) / len(heads), len(heads) - 1))
    se = math.sqrt(sum(v for v, _ in parts))
    df = satterthwaite_df(parts)
    q = _quantile(1 - (1 - confidence) / 2, df)
    point = float(heads.mean())
    return point - q * se, point + q * se, point


def seed_mean_interval(headlines: Sequence[float], test_ses: Sequence[float],
                       confidence: float = 0.95) -> tuple[float, float]:
    """The interval of a seed mean whose headline has no per-sequence errors to resample
    (AP_root), by :func:`replicate_interval`'s rule: ``SE² = SE²_test + s² / K``, the seeds'
    mean test-set SE (they are scored on the same frames, so it does not shrink with K; taken
    as known) plus the seeds' sample variance over their number (``K − 1`` degrees of freedom),
    and t at the Welch–Satterthwaite degrees of freedom of the two.

    Example (SE 1 each; s² / K = 1 at 1 df, so 4 df and t = 2.78):
        >>> lo, hi = seed_mean_interval([10.0, 12.0], [1.0, 1.0])
        >>> round(lo, 2), round(hi, 2)
        (7.07, 14.93)
    """
    seeds = single_run_variance(headlines)
    test_se = float(np.mean(test_ses))
    parts = [(test_se**2, math.inf), (seeds.variance / len(headlines), seeds.df)]
    se = math.sqrt(sum(v for v, _ in parts))
    q = _quantile(1 - (1 - confidence) / 2, satterthwaite_df(parts))
    point = float(np.mean(headlines))
    return point - q * se, point + q * se


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given): the family-wise error rate of
    "adjusted p < α" over the whole family is at most α.

    Sorted ascending, ``p_(i)`` becomes ``max_{j ≤ i} min(1, (m − j + 1) · p_(j))``.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
        raise ValueError(f"holm: p-values must be a list of numbers in [0, 1], got {list(p_values)}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [round(float(v), 12) for v in out]


def detectable_difference(se: float, level: float = 0.05, power: float = 0.8, df: float = math.inf) -> float:
    """The smallest true difference a two-sided test at ``level`` detects with probability
    ``power``, for an estimate with standard error ``se``: ``(z_{1−level/2} + z_{power}) · se``
    (2.80 · se at the defaults), or with Student's t quantiles at ``df`` degrees of freedom
    (a standard error that carries an estimated seed variance, :meth:`PairedComparison.with_seed_variance`).

    Example:
        >>> round(detectable_difference(1.0), 2), round(detectable_difference(1.0, df=2), 2)
        (2.8, 5.36)
    """
    if se < 0 or not 0 < level < 1 or not 0 < power < 1 or not df > 0:
        raise ValueError("detectable_difference: se >= 0, level and power in (0, 1), df > 0")
    return float((_quantile(1 - level / 2, df) + _quantile(power, df)) * se)
