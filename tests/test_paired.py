"""Paired comparisons: the paired bootstrap, Holm's correction, seed-and-sequence resampling,
the detectable difference, and which results may be paired."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from poseboard.comparison.paired import (
    SeedNoise,
    SequenceTable,
    detectable_difference,
    holm,
    paired_bootstrap,
    replicate_interval,
)
from poseboard.errors import InputError


def _table(per_seq_means, frames=None, strata=None, seeds=None) -> SequenceTable:
    means = np.atleast_2d(np.asarray(per_seq_means, dtype=np.float64))
    q = means.shape[1]
    frames = np.full(q, 7) if frames is None else np.asarray(frames)
    strata = tuple(strata or ["Walk"] * q)
    return SequenceTable(tuple(f"S9/{i:03d}" for i in range(q)), strata, means * frames, frames,
                         tuple(seeds or range(means.shape[0])))


def test_constant_difference_on_every_sequence_is_significant():
    rng = np.random.default_rng(0)
    base = rng.uniform(50, 150, size=40)  # hard and easy sequences, shared by both methods
    r = paired_bootstrap(_table(base + 0.5), _table(base), n_resamples=2000)
    assert r.difference == pytest.approx(0.5)
    assert r.ci95 == pytest.approx((0.5, 0.5))
    assert r.p_value < 0.001 and r.significant()
    # the same difference, compared unpaired, is buried under the sequences' spread
    assert base.std() / np.sqrt(40) > 5 * 0.5


def test_identical_errors_are_not_significant():
    base = np.random.default_rng(1).uniform(50, 150, size=30)
    r = paired_bootstrap(_table(base), _table(base), n_resamples=500)
    assert r.difference == 0 and r.ci95 == (0.0, 0.0) and r.p_value == 1.0
    assert not r.significant()


def test_interval_matches_scipy_paired_bootstrap():
    """An independent computation: scipy.stats.bootstrap(paired=True) of the mean per-sequence
    difference (equal frames per sequence, so frame weighting is the mean over sequences)."""
    rng = np.random.default_rng(2)
    base = rng.uniform(60, 120, size=25)
    a, b = base + rng.normal(1.5, 2.0, size=25), base
    ours = paired_bootstrap(_table(a), _table(b), n_resamples=40000, seed=3)
    ref = stats.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), paired=True,
                          vectorized=True, n_resamples=40000, method="percentile",
                          random_state=np.random.default_rng(4)).confidence_interval
    width = ref.high - ref.low
    assert ours.ci95[0] == pytest.approx(ref.low, abs=0.03 * width)
    assert ours.ci95[1] == pytest.approx(ref.high, abs=0.03 * width)
    assert ours.difference == pytest.approx((a - b).mean())


def _sign_flip_p(d: np.ndarray) -> float:
    """Exact two-sided sign-flip permutation p-value of mean(d) (all 2^n flips)."""
    flips = np.array(list(itertools.product([-1.0, 1.0], repeat=len(d))))
    return float((np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12).mean())


def test_p_value_agrees_with_an_exact_sign_flip_test_on_a_small_case():
    """Ten sequences, per-sequence differences d: the exact sign-flip permutation test, an
    independent computation, and the bootstrap's p-value reach the same verdicts."""
    rng = np.random.default_rng(5)
    base = rng.uniform(60, 120, size=10)
    clear = 3.0 + rng.normal(0, 1.0, size=10)
    null = np.linspace(-1.0, 1.0, 10)  # mean exactly 0
    for d, decided in ((clear, True), (null, False)):
        r = paired_bootstrap(_table(base + d), _table(base), n_resamples=20000)
        assert (_sign_flip_p(d) < 0.05) is decided
        assert (r.p_value < 0.05) is decided
    assert _sign_flip_p(null) == 1.0 and paired_bootstrap(_table(base + null), _table(base)).p_value > 0.5


def test_action_weighting_is_stratified():
    """Action weighting: the point is the mean of per-action means, and every draw keeps every
    action (a single sequence per action adds no spread)."""
    a = _table([[10.0, 30.0]], frames=[1, 3], strata=["Sit", "Walk"])
    b = _table([[10.0, 20.0]], frames=[1, 3], strata=["Sit", "Walk"])
    r = paired_bootstrap(a, b, weighting="action", n_resamples=300)
    assert r.difference == pytest.approx(5.0)  # ((10 + 30) - (10 + 20)) / 2
    assert r.ci95 == pytest.approx((5.0, 5.0))
    frame = paired_bootstrap(a, b, weighting="frame", n_resamples=300)
    assert frame.difference == pytest.approx(7.5)  # (10 + 90 - 10 - 60) / 4


def test_seed_means_are_tested_with_the_seeds_variance_and_t():
    """A hand-made case with no sequence noise, so only the seeds vary: A's two seeds score 10
    and 14 on every sequence, B's single run 12. The difference of the seed means is 0 with
    SE² = s²_A / 2 = 4 at 1 degree of freedom (a one-sample t interval), not the 10–14 of
    resampling two seeds with replacement, which takes their spread as known."""
    a = _table([[10.0] * 20, [14.0] * 20], seeds=[0, 1])
    b = _table([[12.0] * 20])
    r = paired_bootstrap(a, b, n_resamples=2000, seed=0)
    q = stats.t.ppf(0.975, 1)
    assert r.difference == pytest.approx(0.0) and r.seeds == (2, 1) and not r.significant()
    assert (r.se, r.df, r.seed_variance, r.seed_df) == pytest.approx((2.0, 1.0, 4.0, 1.0))
    assert r.ci95 == pytest.approx((-2 * q, 2 * q)) and r.test == "paired + seed noise"
    lo, hi, point = replicate_interval(a, n_resamples=2000)
    assert (lo, hi, point) == pytest.approx(stats.t.interval(0.95, 1, loc=12.0, scale=2.0) + (12.0,))


def test_seed_means_pair_by_seed_and_match_a_one_sample_t_test():
    """Seed k's backbone feeds both methods, so their per-seed differences pair: A beats B by
    1.9–2.1 mm on each of three seeds that move both by ±6 mm. Without sequence noise the test is
    exactly scipy's one-sample t-test of the per-seed differences; taken unpaired, the seeds'
    spread would hide the difference."""
    shift = np.array([-6.0, 0.0, 6.0])
    d = np.array([1.9, 2.1, 2.0])
    a = _table([[50.0 + s + x] * 12 for s, x in zip(shift, d, strict=True)], seeds=[0, 1, 2])
    b = _table([[50.0 + s] * 12 for s in shift], seeds=[0, 1, 2])
    r = paired_bootstrap(a, b, n_resamples=2000, seed=1)
    ref = stats.ttest_1samp(d, 0.0)
    assert r.difference == pytest.approx(d.mean()) and r.df == pytest.approx(2.0)
    assert r.p_value == pytest.approx(ref.pvalue) and r.significant()
    assert r.ci95 == pytest.approx(tuple(ref.confidence_interval(0.95)))
    unpaired = paired_bootstrap(a, _table([[50.0 + s] * 12 for s in shift], seeds=[3, 4, 5]), n_resamples=2000)
    assert unpaired.difference == pytest.approx(d.mean()) and not unpaired.significant()


def test_seed_noise_added_to_a_seed_mean_comparison_adds_up():
    """A single run's measured seed variance added to a comparison that already holds the other
    method's seed-mean variance: the two variances add, and the degrees of freedom are the
    Welch–Satterthwaite of the three parts."""
    a = _table([[10.0] * 20, [14.0] * 20], seeds=[0, 1])
    r = paired_bootstrap(a, _table([[12.0] * 20]), n_resamples=500).with_seed_variance(SeedNoise(4.0, 2))
    assert (r.se, r.seed_variance) == pytest.approx((np.sqrt(8.0), 8.0))
    assert r.df == pytest.approx(64.0 / (16.0 / 1 + 16.0 / 2)) and r.seed_df == pytest.approx(r.df)
    # the same single run's variance estimated from a's own two seeds (s² = 8): one estimate, so
    # the sum s²/2 + s² keeps those seeds' single degree of freedom
    shared = paired_bootstrap(a, _table([[12.0] * 20]), n_resamples=500).with_seed_variance(SeedNoise(8.0, 1),
                                                                                             shared=True)
    assert (shared.seed_variance, shared.df, shared.seed_df) == pytest.approx((12.0, 1.0, 1.0))
    assert shared.ci95 == pytest.approx((0.0 - stats.t.ppf(0.975, 1) * np.sqrt(12.0),
                                         0.0 + stats.t.ppf(0.975, 1) * np.sqrt(12.0)))


def test_holm_on_a_hand_computed_family():
    # sorted 0.001, 0.01, 0.02, 0.04 (m = 4): 0.004, 0.03, 0.04, 0.04 (monotone)
    assert holm([0.04, 0.001, 0.02, 0.01]) == pytest.approx([0.04, 0.004, 0.04, 0.03])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([0.2, 1.5])


def test_detectable_difference():
    assert detectable_difference(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert detectable_difference(2.0, level=0.05, power=0.8) == pytest.approx(2 * 2.801585, abs=1e-5)


def test_tables_of_different_sequences_are_refused():
    with pytest.raises(InputError, match="same sequences"):
        paired_bootstrap(_table(np.ones(5)), _table(np.ones(6)))
    with pytest.raises(InputError, match="same sequences"):
        paired_bootstrap(_table(np.ones(5), frames=[7] * 5), _table(np.ones(5), frames=[7, 7, 7, 7, 6]))


def test_deterministic():
    base = np.random.default_rng(6).uniform(60, 120, size=30)
    a, b = _table(base + np.sin(base)), _table(base)
    assert paired_bootstrap(a, b, seed=1) == paired_bootstrap(a, b, seed=1)
