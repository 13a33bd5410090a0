"""The noise floor of a paired comparison is the seed spread of the *difference*: one seed's
backbone moves every method it feeds the same way, so marginal spreads overstate it."""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest

from poseboard.report.model import pair_seed_variance, single_run_seed_variance


def _row(values=None, sd=None, replicates=1):
    return SimpleNamespace(seed_floor_values=values, seed_floor_sd=sd, replicates=[object()] * replicates,
                           averaged=replicates > 1)


def test_shared_seed_noise_cancels_in_the_difference():
    a, b = _row({1: 101.8, 2: 108.0}, 4.4), _row({1: 109.7, 2: 115.1}, 3.8)  # both move up by ~6 mm
    noise = pair_seed_variance(a, b)
    assert noise.variance == pytest.approx(statistics.variance([101.8 - 109.7, 108.0 - 115.1]))
    assert noise.variance < 0.5 < 4.4**2 + 3.8**2
    assert noise.df == 1  # one difference between two seeds


def test_without_two_common_seeds_the_independent_bound_or_nothing():
    bound = pair_seed_variance(_row({1: 1.0, 3: 2.0, 4: 4.0}, 2.0), _row({2: 3.0, 5: 2.0}, 1.0))
    assert bound.variance == pytest.approx(5.0)
    assert bound.df == pytest.approx(5.0**2 / (4.0**2 / 2 + 1.0**2 / 1))  # Welch–Satterthwaite
    assert pair_seed_variance(_row(None, 2.0), _row(None, None)) is None
    assert pair_seed_variance(_row(), _row()) is None


def test_a_seed_mean_row_adds_only_the_single_runs_floor():
    """A row averaged over seeds carries its own seed variance into the paired test; against it
    a single run's measured SD² is added (n − 1 degrees of freedom), and nothing between two
    seed-mean rows or against a single run with no measured spread."""
    mean, single = _row(replicates=4), _row({0: 80.0, 1: 82.0, 2: 84.0}, 2.0)
    assert pair_seed_variance(mean, single) == pair_seed_variance(single, mean) == (4.0, 2)
    assert pair_seed_variance(mean, _row(replicates=3)) is None
    assert pair_seed_variance(mean, _row()) is None


def test_single_runs_scored_elsewhere_take_the_replicates_per_seed_differences():
    """A studio tests one run of each method: the seed variance of that difference comes from
    the board's replicates (per-seed differences over common seeds, not divided by their number),
    or from a single-run row's measured floor."""
    def rep(k):
        return SimpleNamespace(seeds={"train": k}, method=SimpleNamespace(config={}))

    a = SimpleNamespace(method="a", replicates=[rep(0), rep(1), rep(2)], seed_values=[80.0, 84.0, 82.0],
                        seed_sd=2.0, seed_floor_values=None, seed_floor_sd=None, averaged=True)
    b = SimpleNamespace(method="b", replicates=[rep(0), rep(1), rep(2)], seed_values=[81.0, 86.0, 82.5],
                        seed_sd=statistics.stdev([81.0, 86.0, 82.5]), seed_floor_values=None, seed_floor_sd=None,
                        averaged=True)
    c = SimpleNamespace(method="c", replicates=[rep(0)], seed_values=[90.0], seed_sd=None,
                        seed_floor_values={5: 1.0, 6: 3.0}, seed_floor_sd=1.5, averaged=False)
    variance = single_run_seed_variance(SimpleNamespace(rows=[a, b, c]))
    assert variance("a", "b") == (statistics.variance([-1.0, -2.0, -0.5]), 2)
    assert variance("a", "c").variance == pytest.approx(2.0**2 + 1.5**2)  # no common seed: both SDs
    assert variance("a", "d") is None and single_run_seed_variance(None)("a", "b") is None
