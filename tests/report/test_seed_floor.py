"""The noise floor of a paired comparison is the seed spread of the *difference*: one seed's
backbone moves every method it feeds the same way, so marginal spreads overstate it."""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest

from poseboard.report.model import pair_seed_variance


def _row(values=None, sd=None):
    return SimpleNamespace(seed_floor_values=values, seed_floor_sd=sd)


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
