"""Paired comparisons: the paired bootstrap, Holm's correction, seed-and-sequence resampling,
the detectable difference, and which results may be paired."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from poseboard.comparison.paired import (
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


def test_two_seeds_are_resampled_with_the_sequences():
    """A hand-made two-seed case with no sequence noise: method A's seeds score 10 and 14 on
    every sequence, B's single seed 12. Sequences alone would say 'no spread'; resampling A's
    two seeds gives A's mean 10, 12 or 14 with probability 1/4, 1/2, 1/4."""
    a = _table([[10.0] * 20, [14.0] * 20], seeds=[0, 1])
    b = _table([[12.0] * 20])
    r = paired_bootstrap(a, b, n_resamples=20000, seed=0)
    assert r.difference == pytest.approx(0.0)
    assert r.ci95 == pytest.approx((-2.0, 2.0))
    assert r.seeds == (2, 1)
    assert not r.significant()
    assert r.se == pytest.approx(np.sqrt(2.0), rel=0.05)  # var = 1/4·4 + 1/4·4 = 2
    lo, hi, point = replicate_interval(a, n_resamples=20000)
    assert (lo, hi, point) == pytest.approx((10.0, 14.0, 12.0))


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
