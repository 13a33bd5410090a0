"""The studio's sentences and pair families on hand-made per-sequence tables."""

from __future__ import annotations

import numpy as np
import pytest

from poseboard.comparison.paired import SequenceTable, holm, paired_bootstrap
from poseboard.comparison.rank_agreement import headline_change
from poseboard.studio.analysis import MethodLine, SizeLine, all_pairs, enough_views, recommend, unpaired

RNG = np.random.default_rng(0)
BASE = RNG.uniform(60, 120, 40)  # per-sequence errors, one frame each


def _table(sums: np.ndarray) -> SequenceTable:
    return SequenceTable(tuple(f"S9/q{i:02d}" for i in range(len(sums))), ("A",) * len(sums), [sums],
                         [1] * len(sums))


def _line(rank: int, method: str, value: float) -> MethodLine:
    return MethodLine(rank, method, value, (value - 1, value + 1), None, 40, None, None, {})


def test_pairs_are_holm_corrected_and_the_recommendation_names_the_undecided():
    tables = {"best": _table(BASE), "close": _table(BASE + 0.1 + np.tile([6.0, -6.0], 20)),
              "far": _table(BASE + 15.0 + RNG.normal(0, 1.0, 40))}
    order = ["best", "close", "far"]
    pairs = all_pairs(order, tables, level=0.05, seed=0, n_resamples=2000)
    raw = [paired_bootstrap(tables[a], tables[b], n_resamples=2000, seed=0)
           for a, b in (("best", "close"), ("best", "far"), ("close", "far"))]
    assert [p.p_holm for p in pairs] == holm([c.p_value for c in raw])
    assert [(p.a, p.b) for p in pairs] == [("best", "close"), ("best", "far"), ("close", "far")]
    by = {(p.a, p.b): p for p in pairs}
    assert not by[("best", "close")].decided and by[("best", "far")].decided
    lines = [_line(i + 1, m, float(tables[m].headline()[0])) for i, m in enumerate(order)]
    text = recommend(lines, pairs, "calibrated")
    assert text.startswith("Calibrated: **best**") and "not decided against close" in text and "far" not in text


def test_enough_views_is_the_smallest_size_not_decided_worse():
    full = _table(BASE)
    sizes = [SizeLine(k, [], [], headline_change(full, _table(BASE + shift + RNG.normal(0, 1, 40)),
                                                 n_resamples=2000))
             for k, shift in ((2, 25.0), (3, 0.0))]
    assert enough_views(sizes, "m", 4).startswith("With m, 3 of your 4 cameras are not decided worse")
    worse = [SizeLine(2, [], [], sizes[0].vs_all)]
    assert "decided worse than all 4" in enough_views(worse, "m", 4)
    assert enough_views([], "m", 4) is None


def test_unpaired_tables_give_a_two_sample_change():
    a, b = _table(BASE), _table(BASE + 5.0)
    assert headline_change(a, b, n_resamples=500).paired
    two = headline_change(a, unpaired(b), n_resamples=500)
    assert not two.paired and two.difference == headline_change(a, b, n_resamples=500).difference


def test_the_boards_seed_noise_undecides_a_pair_another_seed_could_produce():
    """A 15 mm lead on the rig is decided over its sequences alone; with the board's measured
    seed variance of that pair (SD 12 mm) it is not, and the page says whose noise it added."""
    from poseboard.studio.page import notes

    tables = {"a": _table(BASE), "b": _table(BASE + 15.0 + RNG.normal(0, 1.0, 40))}
    (plain,) = all_pairs(["a", "b"], tables, level=0.05, seed=0, n_resamples=2000)
    assert plain.decided and plain.comparison.test == "paired"
    (noisy,) = all_pairs(["a", "b"], tables, level=0.05, seed=0, n_resamples=2000,
                         seed_variance=lambda a, b: 144.0 if (a, b) == ("a", "b") else None)
    assert not noisy.decided and noisy.comparison.test == "paired + seed noise"
    assert noisy.comparison.difference == plain.comparison.difference
    assert noisy.comparison.se == pytest.approx(np.hypot(plain.comparison.se, 12.0))
    assert any("measured on the board" in n for n in notes(seed_noise=True))
    assert any("no measured seed spread" in n for n in notes())
