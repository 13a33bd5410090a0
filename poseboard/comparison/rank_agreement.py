"""Does a ranking survive a change of test split? Kendall's τ, each method's change, reversed pairs.

Three questions about one set of methods scored on an in-distribution test split and on a
held-out one (a novel rig, novel motions, novel bodies):

- :func:`kendall_tau`: how well the two orderings agree (τ-b, so ties count as ties);
- :func:`headline_change`: how much each method's headline moves (held-out − in-distribution),
  with a sequence-bootstrap interval. The interval is **paired** when the two splits were
  scored on the same sequences (identical labels, strata and frame counts: a split that
  re-films the same motions with other cameras) and **two-sample** otherwise, each split's
  sequences resampled independently;
- :func:`decided_pairs` and :func:`pair_flips`: of the pairs of methods the in-distribution
  board decides (paired bootstrap, Holm over all its pairs, as the leaderboard's "all pairs"
  line), which the held-out split decides the other way, merely leans the other way, or
  agrees with.

Pure functions over :class:`~poseboard.comparison.paired.SequenceTable` (no I/O). Resampling
follows :mod:`poseboard.comparison.paired`: whole sequences with replacement, stratified by
action when the headline is action-weighted, each method's training seeds resampled with them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from poseboard.comparison.paired import (
    PairedComparison,
    SeedNoise,
    SequenceTable,
    Weighting,
    _check_weighting,
    _draw_sequences,
    _mean_weights,
    _quantile,
    _resampled_headlines,
    _strata,
    holm,
    paired_bootstrap,
    satterthwaite_df,
    seed_mean_noise,
    single_run_variance,
)

__all__ = [
    "DecidedPair",
    "HeadlineChange",
    "PairFlip",
    "RankAgreement",
    "SeedVariance",
    "Verdict",
    "decided_pairs",
    "headline_change",
    "kendall_tau",
    "pair_flips",
    "paired_with_seed_noise",
]

#: What a held-out split says about a pair the in-distribution board decides.
Verdict = Literal["reversed", "leans the other way", "agrees, undecided", "confirmed", "not run"]


@dataclass(frozen=True)
class RankAgreement:
    """Kendall's τ-b between two rankings of the same methods.

    Attributes:
        tau: in [−1, 1]; None when it is undefined (fewer than two methods, or every method
            tied in one of the rankings), ``reason`` then says which.
        num_methods: the methods both rankings hold (the only ones compared).
        methods: those methods, sorted.
        reason: why ``tau`` is None (None when it is not).
    """

    tau: float | None
    num_methods: int
    methods: tuple[str, ...]
    reason: str | None = None


def kendall_tau(a: Mapping[str, float], b: Mapping[str, float]) -> RankAgreement:
    """Kendall's τ-b (``scipy.stats.kendalltau``) between two rankings given as method → score
    (a headline or a rank; only the order matters), over the methods both hold.

    Ties are ties (τ-b's correction); a method missing from either mapping is left out.

    Example:
        >>> r = kendall_tau({"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 2, "b": 1, "c": 3, "d": 4})
        >>> round(r.tau, 6), r.num_methods
        (0.666667, 4)
    """
    from scipy.stats import kendalltau

    methods = tuple(sorted(set(a) & set(b)))
    if len(methods) < 2:
        return RankAgreement(None, len(methods), methods, f"{len(methods)} method(s) in both rankings: "
                             "τ needs at least 2")
    x = np.array([float(a[m]) for m in methods])
    y = np.array([float(b[m]) for m in methods])
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("kendall_tau: scores must be finite")
    if len(set(x)) == 1 or len(set(y)) == 1:
        return RankAgreement(None, len(methods), methods, "every method is tied in one ranking: τ is undefined")
    tau = kendalltau(x, y, variant="b").statistic
    return RankAgreement(float(tau), len(methods), methods)


@dataclass(frozen=True)
class HeadlineChange:
    """``novel − in-distribution`` of one method's (seed-averaged) headline.

    Attributes:
        in_distribution, novel: the two headlines.
        difference: ``novel − in_distribution`` (the headline's units, mm for MPJPE).
        percent: ``100 · difference / in_distribution`` (None when ``in_distribution`` is 0).
        ci95: the interval of ``difference``: the percentile interval over the bootstrap draws
            of the test sequences; with several training seeds, ``difference ± t · SE`` with the
            seeds' variance of the mean added (``seed_variance``; Student's t at ``df``).
        ci95_percent: the same for ``percent`` (None with ``percent``).
        paired: the two splits were scored on the same sequences and resampled together;
            False: each split's sequences resampled independently (a two-sample bootstrap).
        resamples, weighting, confidence: as drawn.
        seed_variance, df: the training-seed variance of ``difference`` and the interval's
            Welch–Satterthwaite degrees of freedom (None with one seed per split).
    """

    in_distribution: float
    novel: float
    difference: float
    percent: float | None
    ci95: tuple[float, float]
    ci95_percent: tuple[float, float] | None
    paired: bool
    resamples: int
    weighting: str
    confidence: float = 0.95
    seed_variance: float | None = None
    df: float | None = None

    @property
    def test(self) -> str:
        return ("paired" if self.paired else "two-sample") + (" + seed noise" if self.seed_variance is not None else "")


def headline_change(in_distribution: SequenceTable, novel: SequenceTable, weighting: Weighting = "frame",
                    n_resamples: int = 10000, confidence: float = 0.95, seed: int = 0) -> HeadlineChange:
    """One method's change of headline from ``in_distribution`` to ``novel``, with its interval.

    Paired when both tables have the same sequence labels and strata
    (:meth:`SequenceTable.same_sequences`; the frames scored of each may differ, each split's
    headline is its own frames' mean): each draw resamples the same sequences for both
    splits. Otherwise a two-sample bootstrap: each split's sequences are drawn independently.

    A table with several training seeds enters as its seed mean, as in
    :func:`~poseboard.comparison.paired.paired_bootstrap`: the seed variance of the change
    (:func:`~poseboard.comparison.paired.seed_mean_noise`, per-seed changes paired when both
    splits list the same seeds: seed k's checkpoint is scored on both; a single run against
    K seeds adds its own seed variance too, estimated by those seeds) is added to the
    bootstrap's, and the intervals are ``± t · SE`` at the Welch–Satterthwaite degrees of
    freedom (the sequences count ``Q − 1``, the fewer of the two splits' in a two-sample test).

    Args:
        in_distribution, novel: the method's per-sequence sums on the two splits.
        weighting: the headline's weighting (``"action"``: resampled within each action).
        n_resamples: bootstrap draws.
        confidence: coverage of the intervals.
        seed: of ``np.random.default_rng``; equal inputs and seed give equal output.

    Example:
        >>> t = lambda s: SequenceTable(("a", "b", "c"), ("x", "x", "x"), [s], [1, 1, 1])
        >>> c = headline_change(t([10.0, 20.0, 30.0]), t([20.0, 30.0, 40.0]), n_resamples=200)
        >>> c.difference, c.percent, [round(x, 6) for x in c.ci95], c.paired
        (10.0, 50.0, [10.0, 10.0], True)
    """
    weighting = _check_weighting(weighting)
    if not 0 < confidence < 1 or int(n_resamples) < 1:
        raise ValueError("confidence must be in (0, 1) and n_resamples >= 1")
    rng = np.random.default_rng(seed)
    bsz = int(n_resamples)
    paired = in_distribution.same_sequences(novel)

    def draw(table: SequenceTable) -> tuple[list[np.ndarray], list[np.ndarray]]:
        strata = _strata(table.strata)
        groups = [np.arange(len(table.sequences))] if weighting == "frame" else strata
        return _draw_sequences(rng, strata, len(table.sequences), bsz, weighting), groups

    counts_in, groups_in = draw(in_distribution)
    counts_novel, groups_novel = (counts_in, groups_in) if paired else draw(novel)
    base = _resampled_headlines(in_distribution, counts_in, groups_in, _mean_weights(in_distribution, bsz),
                                weighting)
    moved = _resampled_headlines(novel, counts_novel, groups_novel, _mean_weights(novel, bsz), weighting)
    h_in = float(in_distribution.headline(weighting).mean())
    h_novel = float(novel.headline(weighting).mean())
    diffs = moved - base
    relative = 100.0 * diffs / base if h_in != 0 and (base != 0).all() else None
    percent = 100.0 * (h_novel - h_in) / h_in if relative is not None else None
    noise = _change_seed_noise(in_distribution, novel, weighting)
    alpha = 1.0 - confidence
    if noise is None:
        def percentiles(draws: np.ndarray) -> tuple[float, float]:
            lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
            return float(lo), float(hi)

        return HeadlineChange(in_distribution=h_in, novel=h_novel, difference=h_novel - h_in, percent=percent,
                              ci95=percentiles(diffs), ci95_percent=None if relative is None else percentiles(relative),
                              paired=paired, resamples=bsz, weighting=weighting, confidence=confidence)
    sequences_df = max(min(len(in_distribution.sequences), len(novel.sequences)) - 1, 1)

    def interval(point: float, draws: np.ndarray, seed_var: float) -> tuple[tuple[float, float], float]:
        parts = [(float(draws.var(ddof=1)) if bsz > 1 else 0.0, sequences_df), (seed_var, noise.df)]
        df = satterthwaite_df(parts)
        half = _quantile(1 - alpha / 2, df) * float(np.sqrt(sum(v for v, _ in parts)))
        return (point - half, point + half), df

    ci, df = interval(h_novel - h_in, diffs, noise.variance)
    ci_pct = None
    if relative is not None and percent is not None:
        ci_pct = interval(percent, relative, noise.variance * (100.0 / h_in) ** 2)[0]
    return HeadlineChange(in_distribution=h_in, novel=h_novel, difference=h_novel - h_in, percent=percent,
                          ci95=ci, ci95_percent=ci_pct, paired=paired, resamples=bsz, weighting=weighting,
                          confidence=confidence, seed_variance=noise.variance, df=df)


def _change_seed_noise(in_distribution: SequenceTable, novel: SequenceTable, weighting: Weighting
                       ) -> SeedNoise | None:
    """The training-seed variance of a change of headline: the seed means' (per-seed changes
    paired when both splits list the same seeds, :func:`seed_mean_noise`); where one split holds
    a single run and the other K seeds, that run's own variance too, estimated by the K seeds
    (one estimate, ``s² (1 + 1/K)`` at ``K − 1`` degrees of freedom)."""
    noise = seed_mean_noise(novel, in_distribution, weighting)
    ks = (in_distribution.num_seeds, novel.num_seeds)
    if noise is None or min(ks) > 1:
        return noise
    single = single_run_variance((in_distribution if ks[0] > 1 else novel).headline(weighting))
    return SeedNoise(noise.variance + single.variance, single.df)  # s²/K + s²: one estimate


@dataclass(frozen=True)
class DecidedPair:
    """A pair the in-distribution board decides: ``better − worse``, paired, and its p-value
    Holm-corrected over all the board's pairs."""

    better: str
    worse: str
    comparison: PairedComparison
    p_holm: float


@dataclass(frozen=True)
class PairFlip:
    """One pair the in-distribution board decides, seen on a held-out split.

    Attributes:
        pair: the in-distribution verdict (``pair.better`` has the better headline there).
        novel: ``better − worse`` on the held-out split, paired (None: a method lacks it, or the
            two were not scored on the same sequences).
        p_holm_novel: its p-value, Holm-corrected over the decided pairs the split holds.
        verdict: ``reversed`` (the split decides the other order), ``leans the other way``
            (the other order, not decided), ``agrees, undecided`` (the same order or a tie, not
            decided), ``confirmed`` (the same order, decided) or ``not run``.
    """

    pair: DecidedPair
    novel: PairedComparison | None
    p_holm_novel: float | None
    verdict: Verdict

    @property
    def better(self) -> str:
        return self.pair.better

    @property
    def worse(self) -> str:
        return self.pair.worse


def _flip(c: PairedComparison) -> PairedComparison:
    """``b − a`` from ``a − b`` (the same draws, negated)."""
    return replace(c, difference=-c.difference, ci95=(-c.ci95[1], -c.ci95[0]), seeds=(c.seeds[1], c.seeds[0]))


#: ``(a, b)`` → the training-seed variance of ``a − b``'s headline difference and its degrees
#: of freedom, or None where it was not measured (:func:`poseboard.report.model.pair_seed_variance`
#: on a board's rows).
SeedVariance = Callable[[str, str], SeedNoise | None]


def paired_with_seed_noise(a: SequenceTable, b: SequenceTable, names: tuple[str, str], weighting: Weighting = "frame",
                           seed_variance: SeedVariance | None = None, *, n_resamples: int = 10000,
                           seed: int = 0) -> PairedComparison:
    """``a − b`` paired over sequences (:func:`paired_bootstrap`), with the training-seed
    variance of the pair ``names`` added where ``seed_variance`` knows it
    (:meth:`PairedComparison.with_seed_variance`)."""
    c = paired_bootstrap(a, b, weighting, n_resamples=n_resamples, seed=seed)
    var = None if seed_variance is None else seed_variance(*names)
    return c if var is None else c.with_seed_variance(var)


def decided_pairs(tables: Mapping[str, SequenceTable], weighting: Weighting = "frame", *, level: float = 0.05,
                  higher_is_better: bool = False, n_resamples: int = 10000, seed: int = 0,
                  seed_variance: SeedVariance | None = None) -> tuple[list[DecidedPair], int]:
    """The pairs of ``tables`` a paired bootstrap decides at ``level``, Holm-corrected over all
    pairs: ``(decided pairs, number of pairs compared)``.

    The leaderboard's "all pairs" family (:func:`poseboard.report.model._all_pairs`): every pair
    with the same seed, so the same draws and p-values. A pair whose tables do not cover the
    same sequences and frames cannot be paired and is left out of the family. With
    ``seed_variance``, a pair whose training-seed variance is known is tested with it added
    (:meth:`PairedComparison.with_seed_variance`), as the leaderboard tests it: a difference
    another training seed could produce is not a decided pair.
    """
    names = list(tables)
    pairs = [(a, b, paired_with_seed_noise(tables[a], tables[b], (a, b), weighting, seed_variance,
                                           n_resamples=n_resamples, seed=seed))
             for a, b in itertools.combinations(names, 2) if tables[a].same_units(tables[b])]
    if not pairs:
        return [], 0
    out = []
    for (a, b, c), p in zip(pairs, holm([c.p_value for _, _, c in pairs]), strict=True):
        if p >= level:
            continue
        a_better = (c.difference > 0) if higher_is_better else (c.difference < 0)
        out.append(DecidedPair(a, b, c, p) if a_better else DecidedPair(b, a, _flip(c), p))
    return out, len(pairs)


def pair_flips(decided: list[DecidedPair], novel: Mapping[str, SequenceTable], weighting: Weighting = "frame", *,
               level: float = 0.05, higher_is_better: bool = False, n_resamples: int = 10000,
               seed: int = 0, seed_variance: SeedVariance | None = None) -> list[PairFlip]:
    """Each pair the in-distribution board decides (:func:`decided_pairs`), tested again on a
    held-out split.

    Each decided pair whose two methods ``novel`` holds (scored on the same sequences: results
    of one protocol) is compared paired, and that family is Holm-corrected at ``level``.

    Args:
        decided: the in-distribution board's decided pairs.
        novel: method → per-sequence sums on the held-out split.
        weighting: the held-out split's headline weighting.
        level: the family-wise significance level (``report.significance``).
        higher_is_better: the headline's direction (False for errors).
        n_resamples, seed: of every bootstrap.
        seed_variance: the training-seed variance of ``better − worse`` on the held-out split,
            added to the pair's test where it is known (as in :func:`decided_pairs`).

    Example:
        >>> t = lambda s: SequenceTable(("a", "b", "c"), ("x", "x", "x"), [s], [1, 1, 1])
        >>> ind = {"p": t([10.0, 20.0, 30.0]), "q": t([12.0, 22.0, 32.0])}
        >>> pairs, family = decided_pairs(ind, n_resamples=200)
        >>> flips = pair_flips(pairs, {"p": t([13.0, 23.0, 33.0]), "q": t([11.0, 21.0, 31.0])}, n_resamples=200)
        >>> (pairs[0].better, pairs[0].worse, family), flips[0].verdict
        (('p', 'q', 1), 'reversed')
    """
    again = {(d.better, d.worse): paired_with_seed_noise(novel[d.better], novel[d.worse], (d.better, d.worse),
                                                         weighting, seed_variance, n_resamples=n_resamples, seed=seed)
             for d in decided if d.better in novel and d.worse in novel
             and novel[d.better].same_units(novel[d.worse])}
    adjusted = dict(zip(again, holm([c.p_value for c in again.values()]), strict=True)) if again else {}
    flips = []
    for d in decided:
        c = again.get((d.better, d.worse))
        if c is None:
            flips.append(PairFlip(d, None, None, "not run"))
            continue
        p = adjusted[(d.better, d.worse)]
        other_way = (c.difference < 0) if higher_is_better else (c.difference > 0)
        verdict: Verdict
        if p < level:
            verdict = "reversed" if other_way else "confirmed"
        else:
            verdict = "leans the other way" if other_way else "agrees, undecided"
        flips.append(PairFlip(d, c, p, verdict))
    return flips
