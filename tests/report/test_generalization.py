"""The generalization table: Kendall's τ, each method's change of headline (paired or
two-sample), reversed pairs, and the view over result files (Markdown, HTML, missing splits)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from poseboard.comparison.paired import PairedComparison, SeedNoise, SequenceTable
from poseboard.comparison.rank_agreement import decided_pairs, headline_change, kendall_tau, pair_flips
from poseboard.comparison.seed_spread import MethodSpread, SeedSpread
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import (
    read_result,
    read_results,
    result_path,
    write_result,
)
from poseboard.report.build import build_report, render_html
from poseboard.report.generalization import (
    IN_DISTRIBUTION,
    NOVEL_SPLITS,
    UNCALIBRATED_IN_DISTRIBUTION,
    Generalization,
    MethodLine,
    SplitSummary,
    _split_seed_variance,
    build_generalization,
    ranking_verdict,
    render_generalization,
)
from poseboard.report.model import build_boards

sys.path.insert(0, str(Path(__file__).parent))  # the result writer beside this file (pytest --import-mode=importlib)
from result_writer import write_sequence_result

# --------------------------------------------------------------------------- Kendall's τ


def _ranks(*order: str) -> dict[str, int]:
    return {m: i for i, m in enumerate(order, start=1)}


def test_tau_identical_rankings_is_one():
    r = kendall_tau(_ranks("a", "b", "c", "d"), _ranks("a", "b", "c", "d"))
    assert r.tau == pytest.approx(1.0) and r.num_methods == 4 and r.reason is None


def test_tau_reversed_ranking_is_minus_one():
    assert kendall_tau(_ranks("a", "b", "c", "d"), _ranks("d", "c", "b", "a")).tau == pytest.approx(-1.0)


def test_tau_one_swap_among_four_is_two_thirds():
    # 6 pairs, 5 concordant, 1 discordant: (5 − 1) / 6
    assert kendall_tau(_ranks("a", "b", "c", "d"), _ranks("b", "a", "c", "d")).tau == pytest.approx(2 / 3)


def test_tau_mixed_case_by_hand():
    # x: a < b < c < d < e; y ranks them 3, 1, 2, 5, 4. Discordant pairs: (a, b), (a, c), (d, e);
    # the other 7 of the 10 concordant: τ = (7 − 3) / 10.
    x = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    y = {"a": 3, "b": 1, "c": 2, "d": 5, "e": 4}
    assert kendall_tau(x, y).tau == pytest.approx(0.4)
    # headlines instead of ranks: only the order counts
    assert kendall_tau({k: 10.0 * v + 0.5 for k, v in x.items()}, y).tau == pytest.approx(0.4)


def test_tau_with_ties_is_tau_b():
    # y ties a and b: 5 concordant pairs, 0 discordant, 1 tied in y only:
    # τ_b = 5 / sqrt((6 − 0) · (6 − 1))
    r = kendall_tau({"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1, "b": 1, "c": 2, "d": 3})
    assert r.tau == pytest.approx(5 / np.sqrt(30))


def test_tau_only_over_shared_methods_and_undefined_cases():
    r = kendall_tau({"a": 1, "b": 2, "c": 3}, {"a": 1, "c": 2, "z": 0})
    assert r.num_methods == 2 and r.methods == ("a", "c") and r.tau == pytest.approx(1.0)
    one = kendall_tau({"a": 1, "b": 2}, {"a": 1})
    assert one.tau is None and one.num_methods == 1 and "at least 2" in one.reason
    assert kendall_tau({}, {}).tau is None
    tied = kendall_tau({"a": 1, "b": 2}, {"a": 5, "b": 5})
    assert tied.tau is None and tied.num_methods == 2 and "tied" in tied.reason


# --------------------------------------------------------------------------- change of headline


def _table(per_seq_means, frames=None, strata=None, prefix="S9/", seeds=None) -> SequenceTable:
    means = np.atleast_2d(np.asarray(per_seq_means, dtype=np.float64))
    q = means.shape[1]
    frames = np.full(q, 7) if frames is None else np.asarray(frames)
    strata = tuple(strata or ["Walk"] * q)
    return SequenceTable(tuple(f"{prefix}{i:03d}" for i in range(q)), strata, means * frames, frames,
                         tuple(seeds or [None] * means.shape[0]))


def test_constant_shift_gives_its_size_with_a_zero_width_paired_interval():
    rng = np.random.default_rng(0)
    base = rng.uniform(60, 140, size=40)
    frames = rng.integers(3, 9, size=40)
    c = headline_change(_table(base, frames), _table(base + 10.0, frames), n_resamples=2000)
    assert c.paired and c.test == "paired"
    assert c.difference == pytest.approx(10.0)
    assert c.ci95 == pytest.approx((10.0, 10.0))
    h = float((base * frames).sum() / frames.sum())
    assert c.in_distribution == pytest.approx(h) and c.novel == pytest.approx(h + 10)
    assert c.percent == pytest.approx(1000.0 / h)
    assert c.ci95_percent[0] <= c.percent <= c.ci95_percent[1]


def test_constant_shift_action_weighted_is_stratified_and_exact():
    rng = np.random.default_rng(1)
    base = rng.uniform(60, 140, size=36)
    strata = [f"act{i % 4}" for i in range(36)]
    a, b = _table(base, strata=strata), _table(base + 10.0, strata=strata)
    c = headline_change(a, b, "action", n_resamples=1000)
    assert c.paired and c.difference == pytest.approx(10.0) and c.ci95 == pytest.approx((10.0, 10.0))
    assert c.in_distribution == pytest.approx(float(a.headline("action")[0]))


def test_other_sequences_give_a_two_sample_interval_around_the_true_difference():
    rng = np.random.default_rng(2)
    before = rng.normal(100.0, 12.0, size=150)
    after = rng.normal(115.0, 12.0, size=120)  # true difference 15 mm
    ind, novel = _table(before), _table(after, prefix="S9/novel-")
    c = headline_change(ind, novel, n_resamples=20000, seed=5)
    assert not c.paired and c.test == "two-sample"
    assert c.difference == pytest.approx(after.mean() - before.mean())
    assert c.ci95[0] < 15.0 < c.ci95[1]
    # an independent computation: scipy's two-sample bootstrap (equal frames: the mean per sequence)
    ref = stats.bootstrap((before, after), lambda x, y, axis: y.mean(axis) - x.mean(axis), paired=False,
                          vectorized=True, n_resamples=20000, method="percentile",
                          random_state=np.random.default_rng(6)).confidence_interval
    width = ref.high - ref.low
    assert c.ci95[0] == pytest.approx(ref.low, abs=0.05 * width)
    assert c.ci95[1] == pytest.approx(ref.high, abs=0.05 * width)


def test_seed_means_change_with_the_seeds_variance_and_student_t():
    """Three seeds, each scored on both splits, whose change varies by seed only (every sequence
    alike): the interval is the one-sample t interval of the per-seed
    changes (scipy), not a resampling of three seeds; unlabelled seeds do not pair."""
    base = np.full(30, 100.0)  # every sequence alike: the sequences add nothing, the seeds everything
    offsets, changes = np.array([0.0, 3.0, -2.0]), np.array([9.0, 12.5, 10.0])
    ind = _table(np.stack([base + o for o in offsets]), seeds=[0, 1, 2])
    novel = _table(np.stack([base + o + c for o, c in zip(offsets, changes, strict=True)]), seeds=[0, 1, 2])
    c = headline_change(ind, novel, n_resamples=2000)
    assert c.test == "paired + seed noise" and c.df == pytest.approx(2.0)
    assert c.difference == pytest.approx(changes.mean())
    ref = stats.t.interval(0.95, 2, loc=changes.mean(), scale=stats.sem(changes))
    assert c.ci95 == pytest.approx(ref)
    assert c.seed_variance == pytest.approx(changes.var(ddof=1) / 3)
    lo, hi = c.ci95_percent
    assert lo < c.percent < hi and (hi - lo) == pytest.approx((ref[1] - ref[0]) * 100 / c.in_distribution)
    unlabelled = headline_change(_table(np.stack([base + o for o in offsets])), novel, n_resamples=2000)
    assert unlabelled.seed_variance == pytest.approx((offsets.var(ddof=1) + (offsets + changes).var(ddof=1)) / 3)
    assert unlabelled.ci95[1] - unlabelled.ci95[0] > c.ci95[1] - c.ci95[0]
    # one run scored elsewhere (a studio) against the three seeds: its own seed variance, estimated
    # by those seeds, adds to their mean's: s² (1 + 1/3) at 2 degrees of freedom
    single = headline_change(ind, _table(base + 12.0), n_resamples=2000)
    s2 = offsets.var(ddof=1)
    assert single.seed_variance == pytest.approx(s2 * (1 + 1 / 3)) and single.df == pytest.approx(2.0)
    assert single.ci95 == pytest.approx(stats.t.interval(0.95, 2, loc=single.difference,
                                                         scale=np.sqrt(s2 * (1 + 1 / 3))))


def test_fewer_frames_of_the_same_sequences_stay_paired():
    """synth-novel-rig films every other frame of the in-distribution sequences: the same
    sequences drawn for both splits, each headline over its own frames."""
    rng = np.random.default_rng(7)
    base = rng.normal(100.0, 20.0, size=144)  # sequences differ far more than the change's noise
    frames = rng.integers(5, 9, size=144)
    thinned = (frames + 1) // 2
    novel = base + 10.0 + rng.normal(0.0, 1.0, size=144)
    c = headline_change(_table(base, frames), _table(novel, thinned), n_resamples=4000, seed=1)
    assert c.paired
    assert c.novel == pytest.approx(float((novel * thinned).sum() / thinned.sum()))
    assert c.ci95[0] < c.difference < c.ci95[1] and c.ci95[0] < 10.0 < c.ci95[1]
    unpaired = headline_change(_table(base, frames), _table(novel, thinned, prefix="S9/novel-"),
                               n_resamples=4000, seed=1)
    assert not unpaired.paired
    assert c.ci95[1] - c.ci95[0] < (unpaired.ci95[1] - unpaired.ci95[0]) / 4


def test_change_is_seeded():
    rng = np.random.default_rng(3)
    a, b = _table(rng.uniform(50, 90, 30)), _table(rng.uniform(50, 90, 25), prefix="S11/")
    assert headline_change(a, b, seed=4, n_resamples=500) == headline_change(a, b, seed=4, n_resamples=500)
    assert headline_change(a, b, seed=4, n_resamples=500) != headline_change(a, b, seed=5, n_resamples=500)
    with pytest.raises(ValueError, match="weighting"):
        headline_change(a, b, "sequence")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- reversed pairs


def _methods(base, offsets, noise, rng, prefix="S9/") -> dict[str, SequenceTable]:
    return {m: _table(base + off + rng.normal(0, noise, base.shape), prefix=prefix) for m, off in offsets.items()}


def test_a_decided_pair_that_flips_is_reversed():
    rng = np.random.default_rng(4)
    base = rng.uniform(60, 140, size=40)
    ind = _methods(base, {"a": 0.0, "b": 10.0, "c": 20.0}, 1.0, rng)
    decided, family = decided_pairs(ind, n_resamples=2000)
    assert family == 3 and {(d.better, d.worse) for d in decided} == {("a", "b"), ("a", "c"), ("b", "c")}
    assert all(d.comparison.difference < 0 and d.p_holm < 0.05 for d in decided)
    other = rng.uniform(60, 140, size=30)  # another split: other sequences, a and b swap places
    novel = _methods(other, {"a": 12.0, "b": 0.0, "c": 25.0}, 1.0, rng, prefix="S9/m")
    flips = {(f.better, f.worse): f for f in pair_flips(decided, novel, n_resamples=2000)}
    assert flips[("a", "b")].verdict == "reversed" and flips[("a", "b")].novel.difference > 0
    assert flips[("a", "c")].verdict == "confirmed" and flips[("b", "c")].verdict == "confirmed"
    # a pair that merely leans the other way, and one the split lacks
    lean = _methods(other, {"a": 0.4, "b": 0.0}, 6.0, rng, prefix="S9/m")
    flips = {(f.better, f.worse): f for f in pair_flips(decided, lean, n_resamples=2000)}
    assert flips[("a", "b")].verdict == "leans the other way"
    assert flips[("a", "b")].p_holm_novel >= 0.05 and flips[("a", "b")].novel.difference > 0
    assert flips[("a", "c")].verdict == "not run" and flips[("a", "c")].novel is None


def test_higher_is_better_orients_the_pairs():
    rng = np.random.default_rng(5)
    base = rng.uniform(60, 140, size=30)
    ind = _methods(base, {"a": 0.0, "b": 10.0}, 1.0, rng)
    (d,), _ = decided_pairs(ind, higher_is_better=True, n_resamples=1000)
    assert (d.better, d.worse) == ("b", "a") and d.comparison.difference > 0
    (f,) = pair_flips([d], _methods(base, {"a": 10.0, "b": 0.0}, 1.0, rng), higher_is_better=True,
                      n_resamples=1000)
    assert f.verdict == "reversed"


def test_a_pair_another_training_seed_could_produce_is_not_decided():
    """With a pair's seed variance known, its test adds it to the bootstrap's (Student's t at the
    Welch–Satterthwaite degrees of freedom, checked against scipy): a 10 mm lead is decided on
    the test sequences alone and not when another seed moves the difference by 15 mm (SD)."""
    rng = np.random.default_rng(8)
    base = rng.uniform(60, 140, size=40)
    ind = _methods(base, {"a": 0.0, "b": 10.0, "c": 20.0}, 1.0, rng)
    noisy = {("a", "b"): SeedNoise(225.0, 2), ("b", "c"): SeedNoise(1.0, 2)}
    decided, family = decided_pairs(ind, n_resamples=2000, seed_variance=lambda a, b: noisy.get((a, b)))
    assert family == 3 and {(d.better, d.worse) for d in decided} == {("a", "c"), ("b", "c")}
    by_pair = {(d.better, d.worse): d.comparison for d in decided}
    assert by_pair[("a", "c")].test == "paired" and by_pair[("a", "c")].seed_variance is None
    bc = by_pair[("b", "c")]
    assert bc.test == "paired + seed noise" and bc.seed_variance == 1.0
    alone = {(d.better, d.worse): d.comparison for d in decided_pairs(ind, n_resamples=2000)[0]}
    se_seq = alone[("b", "c")].se
    se = np.sqrt(se_seq**2 + 1.0)
    df = (se_seq**2 + 1.0) ** 2 / (se_seq**4 / (40 - 1) + 1.0**2 / 2)
    assert bc.se == pytest.approx(se) and bc.difference == alone[("b", "c")].difference
    assert bc.df == pytest.approx(df)
    assert bc.p_value == pytest.approx(2 * stats.t.sf(abs(bc.difference) / se, df))
    assert bc.ci95 == pytest.approx((bc.difference - stats.t.ppf(0.975, df) * se,
                                     bc.difference + stats.t.ppf(0.975, df) * se))
    # on a split, a swap by 12 mm is reversed on sequences alone, undecided under a seed SD of 15 mm
    novel = _methods(base, {"a": 12.0, "b": 0.0, "c": 30.0}, 1.0, rng)
    (ac, bc_flip) = sorted(pair_flips(decided, novel, n_resamples=2000), key=lambda f: f.better)
    assert ac.verdict == "confirmed" and bc_flip.verdict == "confirmed"
    (ab,) = decided_pairs({k: ind[k] for k in "ab"}, n_resamples=2000)[0]
    assert pair_flips([ab], novel, n_resamples=2000)[0].verdict == "reversed"
    flip = pair_flips([ab], novel, n_resamples=2000, seed_variance=lambda a, b: SeedNoise(225.0, 2))[0]
    assert flip.verdict == "leans the other way" and flip.novel.test == "paired + seed noise"
    with pytest.raises(ValueError, match="non-negative"):
        ab.comparison.with_seed_variance(-1.0)
    with pytest.raises(ValueError, match="degrees of freedom"):
        ab.comparison.with_seed_variance(SeedNoise(1.0, 0))


def test_a_seed_variance_from_two_seeds_is_not_taken_as_known():
    """One difference between two seeds estimates the seed variance with one degree of freedom:
    a 10 mm lead with SE 1 mm over sequences and a seed variance of 9 mm² is decided if that
    variance were known (close to normal, p 0.0016) and not at its Satterthwaite degrees of freedom
    (about 1.2); a third seed (df 2) narrows the interval, a known variance narrows it most."""
    c = PairedComparison(10.0, (8.0, 12.0), 1e-4, 1.0, 30, (0, 0), 1000, "frame")
    known, two, three = (c.with_seed_variance(SeedNoise(9.0, df)) for df in (math.inf, 1, 2))
    assert known.df == pytest.approx(10.0**2 * 29)  # only the 30 sequences' SE is estimated
    assert known.p_value == pytest.approx(2 * stats.t.sf(10 / math.sqrt(10), 2900))
    assert known.p_value == pytest.approx(2 * stats.norm.sf(10 / math.sqrt(10)), rel=0.02)
    assert known.p_value < 0.05 < two.p_value
    assert two.df == pytest.approx(100 / (1 / 29 + 81 / 1))
    width = {k: v.ci95[1] - v.ci95[0] for k, v in (("known", known), ("two", two), ("three", three))}
    assert width["known"] < width["three"] < width["two"]


# --------------------------------------------------------------------------- the view over result files


ACTIONS = ("Walk", "Sit", "Wave")
IN_LABELS = tuple(f"S9/{a}-{k}" for a in ACTIONS for k in range(4))  # the in-distribution sequences
MOTION_LABELS = tuple(f"S9/novel-{a}-{k}" for a in ACTIONS for k in range(4))
ALL_LABELS = tuple(f"S11/all-{a}-{k}" for a in ACTIONS for k in range(3))


def _protocol(pid: str):
    """The registered protocol, or a held-out one as a copy of its in-distribution definition
    (the held-out definitions are not in the registry yet; a result embeds its protocol)."""
    name, version = pid.split("@")
    try:
        return get_protocol(pid)
    except LookupError:
        base = get_protocol(UNCALIBRATED_IN_DISTRIBUTION if "uncalibrated" in name else IN_DISTRIBUTION)
        return base.model_copy(update={"name": name, "version": int(version), "title": f"Held out: {name}",
                                       "description": "A hand-made stand-in of a held-out split.", "paper": ()})


def _write(results: Path, method: str, pid: str, means, labels, extra: dict[str, float] | None = None) -> None:
    """One result file, written by the project's own builder and writer, whose per-sequence
    mean errors are ``means`` (5 frames per sequence, the action the label's middle part) and
    whose main block carries ``extra``."""
    protocol = _protocol(pid)
    write_sequence_result(results, method, protocol, labels, means, 5,
                          [lb.split("/")[1].split("-")[-2] for lb in labels], protocol.name, extra)


def _novel_results(root: Path) -> Path:
    """Three calibrated methods alpha < beta < gamma in distribution (all three pairs decided);
    the novel rig re-films the same sequences and keeps the order (+5 mm each); novel motion
    swaps alpha and beta; all three holds alpha and gamma only (within noise of each other);
    no result under novel body; an uncalibrated method in distribution only."""
    rng = np.random.default_rng(0)
    results = root / "results"
    base, motion, every = (np.round(rng.uniform(60, 140, len(x)), 1) for x in (IN_LABELS, MOTION_LABELS, ALL_LABELS))
    noise = lambda n, sd=1.0: np.round(rng.normal(0, sd, n), 1)  # noqa: E731
    for method, shift in (("alpha", 0.0), ("beta", 10.0), ("gamma", 20.0)):
        _write(results, method, IN_DISTRIBUTION, base + shift + noise(len(base)), IN_LABELS)
        _write(results, method, NOVEL_SPLITS["novel rig"], base + shift + 5 + noise(len(base)), IN_LABELS)
    for method, shift in (("alpha", 30.0), ("beta", 10.0), ("gamma", 40.0)):
        _write(results, method, NOVEL_SPLITS["novel motion"], motion + shift + noise(len(motion)), MOTION_LABELS)
    for method, shift in (("alpha", 50.0), ("gamma", 50.5)):
        _write(results, method, NOVEL_SPLITS["all three"], every + shift + noise(len(every), 5.0), ALL_LABELS)
    _write(results, "uncal", UNCALIBRATED_IN_DISTRIBUTION, base + 30 + noise(len(base)), IN_LABELS)
    return results


@pytest.fixture(scope="module")
def novel(tmp_path_factory) -> Path:
    return _novel_results(tmp_path_factory.mktemp("generalization"))


def _cells(markdown: str, first: str) -> list[str]:
    line = next(ln for ln in markdown.splitlines() if ln.startswith(f"| {first} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_markdown_from_result_files(novel):
    boards = build_boards(read_results(novel))
    view = build_generalization(boards)
    md = render_generalization(view)
    header = _cells(md, "method")
    assert header == ["method", "in distribution (mm)",
                      "novel rig (mm)", "novel rig: Δ mm [95% CI] (%), test",
                      "novel motion (mm)", "novel motion: Δ mm [95% CI] (%), test",
                      "all three (mm)", "all three: Δ mm [95% CI] (%), test"]
    alpha, beta = _cells(md, "`alpha`"), _cells(md, "`beta`")
    assert alpha[3].endswith(", paired") and alpha[5].endswith(", two-sample") and alpha[7].endswith(", two-sample")
    assert beta[6:] == ["—", "—"]  # beta has no result under all three
    rig = next(line for line in view.rows if line.method == "alpha").change["novel rig"]
    assert rig.paired and rig.ci95[0] < rig.difference < rig.ci95[1] and 3 < rig.difference < 7
    tau = _cells(md, "**Kendall's τ with the in-distribution ranking**")
    # all three: gamma is 1.4 mm ahead of alpha, within the noise: τ = −1 over 2 methods, but undecided
    assert tau[2] == "1.00 (3 methods)" and tau[4] == "0.33 (3 methods)" and tau[6] == "-1.00 (2 methods)"
    pairs = _cells(md, "**reversed decided pairs**")
    assert pairs[1] == "3 of 3 pairs decided"
    assert pairs[2:] == ["0 of 3 (0 undecided)", "", "1 of 3 (0 undecided)", "", "0 of 3 (1 undecided, 2 untested)", ""]
    # each split's own order, tested like the board's: all three's two methods sit within its noise
    own = _cells(md, "**pairs the split decides itself**")
    assert own[1:] == ["3 of 3", "3 of 3", "", "3 of 3", "", "0 of 1", ""]
    # the board's own "all pairs" line decides the same pairs
    board = next(b for b in boards if b.id == IN_DISTRIBUTION)
    assert view.decided == board.all_pairs == (3, 3)
    assert ("- novel rig (`synth-novel-rig@4`): the in-distribution ranking survives — τ = 1.00 over 3 methods; of "
            "the 3 pairs the in-distribution board decides, none is reversed, none is undecided here, 3 are "
            "confirmed. The split itself decides 3 of its 3 pairs.") in md
    assert "here). The split itself decides 0 of its 1 pairs." in md  # all three
    assert ("- novel motion (`synth-novel-motion@2`): the in-distribution ranking does not survive — τ = 0.33 over "
            "3 methods; of the 3 pairs the in-distribution board decides, 1 is reversed") in md
    assert ("- all three (`synth-novel-all@3`): the in-distribution ranking does not survive — τ = -1.00 over 2 "
            "methods (τ below 0.5: the order is reshuffled though no decided pair is reversed); of the 3 pairs the "
            "in-distribution board decides, none is reversed, 1 is undecided here (1 leaning the "
            "other way), none is confirmed, 2 cannot be tested (a method lacks a result, or per-sequence errors, "
            "here).") in md
    assert "- novel body (`synth-novel-body@2`): no result yet." in md
    assert "- novel motion: `alpha` ahead of `beta` in distribution" in md and "**reversed**" in md
    assert "- all three: `alpha` ahead of `gamma` in distribution" in md and "**leans the other way**" in md
    assert "Left out of all three's τ and pairs (no result under both protocols): `beta`." in md
    assert ("No result yet under `synth-novel-body@2` (novel body), `synth-extrapolated-rig@2` (beyond the rigs), "
            "`synth-real-content@1` (real contents), `synth-real-style@1` (real styles), `synth-real-content-rig@1` "
            "(real contents, novel rig), `synth-real-style-rig@1` (real styles, novel rig): their columns are left "
            "out.") in md
    assert "Uncalibrated methods left out: `uncal`" in md
    assert "**paired** where the split scored the same sequences" in md
    assert render_generalization(build_generalization(boards)) == md  # seeded: the same bytes again


def _spread(values: dict[str, dict[str, list[float]]]) -> SeedSpread:
    """A measured seed spread: protocol id → method → its headline at seeds 0, 1 and 2."""
    return SeedSpread(profile="default", backbone="retrained", spread={
        pid: {m: MethodSpread(seeds=[0, 1, 2], values=v, sd=float(np.std(v, ddof=1))) for m, v in methods.items()}
        for pid, methods in values.items()})


def test_the_table_tests_pairs_with_the_measured_seed_noise(novel):
    """alpha, beta and gamma are 10 mm apart in distribution, decided on the sequences alone;
    with a seed spread in which beta moves by ±15 mm against the others (the per-seed
    differences), only alpha–gamma stays decided, the board's "all pairs" line agrees, and the
    notes say whose seed noise each split's tests add."""
    spread = _spread({IN_DISTRIBUTION: {"alpha": [100.0, 100.0, 100.0], "beta": [110.0, 95.0, 125.0],
                                        "gamma": [120.0, 120.0, 120.0]}})
    boards = build_boards(read_results(novel), seed_spread=spread)
    view = build_generalization(boards)
    board = next(b for b in boards if b.id == IN_DISTRIBUTION)
    assert view.decided == board.all_pairs == (1, 3) and view.seed_noise
    md = render_generalization(view)
    assert _cells(md, "**reversed decided pairs**")[1] == "1 of 3 pairs decided"
    # novel motion swapped alpha and beta: no longer a decided pair to reverse; alpha–gamma holds
    motion = next(s for s in view.splits if s.label == "novel motion")
    assert [(f.better, f.worse, f.verdict) for f in motion.flips] == [("alpha", "gamma", "confirmed")]
    assert motion.seed_noise == "in distribution"
    assert ("Not measured on novel rig, novel motion, all three: those splits' tests add the same pair's "
            "in-distribution seed variance") in md
    assert view.seed_unmeasured == () and "No seed spread measured for" not in md
    partial = build_generalization(build_boards(read_results(novel), seed_spread=_spread(
        {IN_DISTRIBUTION: {"alpha": [100.0] * 3, "beta": [110.0] * 3}})))
    assert partial.seed_unmeasured == ("gamma",)
    assert "No seed spread measured for `gamma`: its pairs are tested on the test sequences alone" in \
        render_generalization(partial)
    # measured on novel motion too, where alpha and gamma trade places from seed to seed
    # (in distribution no seed moves the order: every pair decided again)
    spread = _spread({IN_DISTRIBUTION: {"alpha": [100.0] * 3, "beta": [110.0] * 3, "gamma": [120.0] * 3},
                      NOVEL_SPLITS["novel motion"]: {"alpha": [130.0, 150.0, 110.0], "beta": [110.0] * 3,
                                                     "gamma": [140.0, 120.0, 160.0]}})
    view = build_generalization(build_boards(read_results(novel), seed_spread=spread))
    assert view.decided == (3, 3)
    motion = next(s for s in view.splits if s.label == "novel motion")
    verdicts = {(f.better, f.worse): f.verdict for f in motion.flips}
    assert verdicts == {("alpha", "beta"): "leans the other way", ("alpha", "gamma"): "agrees, undecided",
                        ("beta", "gamma"): "agrees, undecided"}
    assert motion.seed_noise == "split"
    md = render_generalization(view)
    assert "Measured on the split itself: novel motion." in md
    assert "Not measured on novel rig, all three:" in md
    # every pair within another seed's reach: no decided order, and the sentence says what τ then means
    spread = _spread({IN_DISTRIBUTION: {"alpha": [100.0, 80.0, 120.0], "beta": [110.0, 130.0, 90.0],
                                        "gamma": [120.0, 90.0, 110.0]}})
    view = build_generalization(build_boards(read_results(novel), seed_spread=spread))
    assert view.decided == (0, 3)
    md = render_generalization(view)
    assert ("- novel motion (`synth-novel-motion@2`): there is no decided in-distribution order to survive — the "
            "in-distribution board decides none of its 3 pairs once each pair's training-seed noise is counted, so "
            "no pair can be reversed, and τ = 0.33 over 3 methods compares two orders that another training seed "
            "or other test sequences could reshuffle.") in md
    # without a spread the notes say the intervals cover the test sequences only
    plain = render_generalization(build_generalization(build_boards(read_results(novel))))
    assert "Seed noise: none measured for these methods" in plain


@pytest.mark.parametrize(("reversed_pairs", "tau", "verdict"), [
    (0, 1.0, "survives"), (0, 0.8, "survives"), (0, 0.87, "survives"), (0, None, "survives"),
    (0, 0.79, "holds only in part"), (0, 0.5, "holds only in part"), (0, 0.47, "does not survive"),
    (0, 0.20, "does not survive"), (0, -1.0, "does not survive"),
    (1, 1.0, "does not survive"), (2, 0.9, "does not survive"), (1, None, "does not survive"),
])
def test_verdict_weighs_tau_and_reversals(reversed_pairs, tau, verdict):
    """Hand-made outcomes: a reversed decided pair or τ < 0.5 sinks the ranking, τ in [0.5, 0.8)
    with no reversal keeps it only in part (the session-5 board's novel motion, τ = 0.20 with no
    reversal, does not survive)."""
    assert ranking_verdict(reversed_pairs, tau) == f"the in-distribution ranking {verdict}"


def test_report_stage_writes_the_table_and_the_html_section(novel, tmp_path):
    summary = build_report(novel, tmp_path / "report", params_file=None)
    md = (tmp_path / "report" / "tables" / "generalization.md").read_text()
    assert md == render_generalization(summary.generalization)
    html = (tmp_path / "report" / "index.html").read_text()
    section = html.split('<section id="generalization">')[1].split("</section>")[0]
    assert 'class="generalization"' in section and 'data-method="alpha"' in section
    assert "novel motion (synth-novel-motion@2): the in-distribution ranking does not survive" in section
    assert "`" not in section and "**" not in section  # Markdown marks stripped
    assert 'href="#generalization"' in html


def test_missing_protocols_are_named_in_the_table_and_the_page(novel, tmp_path):
    only = tmp_path / "results"
    for r in read_results(novel):
        if r.protocol.id in (IN_DISTRIBUTION, UNCALIBRATED_IN_DISTRIBUTION):
            write_result(r, result_path(only, r.method.name, r.protocol.id))
    summary = build_report(only, tmp_path / "report", params_file=None)
    assert summary.generalization.present == ()
    md = (tmp_path / "report" / "tables" / "generalization.md").read_text()
    assert "No result under any held-out split yet:" in md and "|" not in md
    for pid in NOVEL_SPLITS.values():
        assert f"`{pid}`" in md
    html = (tmp_path / "report" / "index.html").read_text()
    missing = html.split('id="no-generalization">')[1].split("</p>")[0]
    assert "No result under any held-out split yet" in missing
    assert all(pid in missing for pid in NOVEL_SPLITS.values())
    # no result at all: still written, still says so
    empty = build_report(tmp_path / "nothing", tmp_path / "empty", params_file=None)
    assert empty.generalization.rows == ()
    assert "No result under any held-out split yet" in (tmp_path / "empty" / "tables" / "generalization.md").read_text()


def test_uncalibrated_row_appears_with_a_held_out_uncalibrated_result(novel, tmp_path):
    results = tmp_path / "results"
    for r in read_results(novel):
        write_result(r, result_path(results, r.method.name, r.protocol.id))
    rng = np.random.default_rng(9)
    uncal = next(r for r in read_results(novel) if r.method.name == "uncal")
    base = np.asarray(uncal.metrics.main.per_sequence.sums) / 5  # its per-sequence means in distribution
    _write(results, "uncal", "synth-novel-rig-uncalibrated@4", base + 12 + rng.normal(0, 1, len(base)), IN_LABELS)
    view = build_generalization(build_boards(read_results(results)))
    (line,) = [line for line in view.rows if line.uncalibrated]
    assert line.method == "uncal" and line.change["novel rig"].paired
    assert line.novel["novel motion"] is None and line.change["novel motion"] is None
    assert view.uncalibrated_left_out == ()
    rig = next(s for s in view.splits if s.label == "novel rig")
    assert rig.agreement.num_methods == 3  # kept out of τ
    md = render_generalization(view)
    assert "| `uncal` (uncalibrated) |" in md and "kept out of τ and of the pairs" in md


def test_held_out_results_without_an_in_distribution_board():
    view = build_generalization([])
    assert view.present == () and "No result under any held-out split" in render_generalization(view)


def test_method_names_are_escaped_in_the_html():
    name = '<script>alert("x")</script>'
    view = Generalization(
        in_distribution=IN_DISTRIBUTION,
        splits=tuple(SplitSummary(label, pid, label == "novel rig") for label, pid in NOVEL_SPLITS.items()),
        rows=(MethodLine(name, False, 100.0, {"novel rig": 110.0}, {"novel rig": None}),),
        unit="mm", headline="MPJPE (relative)", level=0.05, decided=None, uncalibrated_left_out=(name,),
        n_resamples=100)
    html = render_html([], [], [], [], [], generalization=view)
    section = html.split('<section id="generalization">')[1].split("</section>")[0]
    assert "<script>alert" not in section
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in section


def test_results_without_per_sequence_errors_or_without_an_in_distribution_board(novel, tmp_path):
    import json

    results = tmp_path / "results"
    for r in read_results(novel):
        write_result(r, result_path(results, r.method.name, r.protocol.id))
    for path in results.rglob(f"{NOVEL_SPLITS['novel rig']}.json"):  # written before per-sequence errors existed
        data = json.loads(path.read_text())
        del data["metrics"]["main"]["per_sequence"]
        path.write_text(json.dumps(data))
    md = render_generalization(build_generalization(build_boards(read_results(results))))
    assert _cells(md, "`alpha`")[3] == "+5.0 (no interval: no per-sequence errors)"
    assert _cells(md, "**reversed decided pairs**")[2] == "0 of 3 (0 undecided, 3 untested)"
    assert "- novel rig (`synth-novel-rig@4`): its decided pairs cannot be tested here" in md
    held_out = [r for r in read_results(novel) if r.protocol.id in NOVEL_SPLITS.values()]
    md = render_generalization(build_generalization(build_boards(held_out)))
    assert _cells(md, "`alpha`")[1:4] == ["—", "107.6", "—"]
    assert "no result under `synth-h36m-relative@3`, so there is no decided order to reverse" in md


# --------------------------------------------------------------------------- where the error comes from

FAILURES = {"gross_pct": 19.5, "lr_swap_pct": 6.25, "occluded_share_pct": 27.7, "gross_occluded_pct": 30.1,
            "gross_visible_pct": 15.4}
DETECTIONS = {"error_2d_median_px": 2.34, "gross_2d_pct": 6.9, "gross_2d_threshold_px": 12.8, "joints_2d_count": 5e4}


def _with_ransac_in_distribution(novel: Path, tmp_path: Path, seed: int) -> tuple[Path, np.ndarray]:
    """A copy of the ``novel`` results plus ransac in distribution carrying every failure metric;
    the folder and ransac's per-sequence base (30 mm below its errors)."""
    results = tmp_path / "results"
    for r in read_results(novel):
        write_result(r, result_path(results, r.method.name, r.protocol.id))
    base = np.round(np.random.default_rng(seed).uniform(60, 140, len(IN_LABELS)), 1)
    _write(results, "ransac", IN_DISTRIBUTION, base + 30, IN_LABELS, FAILURES | DETECTIONS)
    return results, base


def test_failure_table_from_result_files_with_and_without_the_metrics(novel, tmp_path):
    """Results carrying the failure metrics fill the table (ransac's 2D is the backbone's own);
    older result files without them are named as missing, and the report still builds."""
    results, base = _with_ransac_in_distribution(novel, tmp_path, seed=4)
    _write(results, "ransac", NOVEL_SPLITS["novel rig"], base + 40, IN_LABELS,
           FAILURES | DETECTIONS | {"error_2d_median_px": 3.0, "gross_2d_pct": 11.0})
    _write(results, "gamma", NOVEL_SPLITS["novel motion"], base + 50, MOTION_LABELS, FAILURES)  # no 2D: replaced
    view = build_generalization(build_boards(read_results(results)))
    md = render_generalization(view)
    assert "## Where the error comes from: gross failures, swaps, occlusion, 2D" in md
    head = _cells(md, "split")
    assert head == ["split", "method", "seeds", "gross failures (% of joints > 150 mm)",
                    "left/right swaps (% of pairs)", "occluded joints (%)", "gross on occluded (%)",
                    "gross on visible (%)", "2D median (crop px)", "2D gross (%)"]
    rows = [[c.strip() for c in ln.strip("|").split(" | ")] for ln in md.splitlines()
            if ln.startswith(("| in distribution |", "| novel ", "| all three |"))]
    assert ["in distribution", "`ransac`", "1", "19.5", "6.25", "27.7", "30.1", "15.4", "2.3", "6.9"] in rows
    assert ["novel rig", "`ransac`", "1", "19.5", "6.25", "27.7", "30.1", "15.4", "3.0", "11.0"] in rows
    assert ["in distribution", "`alpha`", "1", *["—"] * 7] in rows  # an older result file: every cell missing
    assert ["novel motion", "`gamma`", "1", "19.5", "6.25", "27.7", "30.1", "15.4", "—", "—"] in rows
    assert len(rows) == len(view.failures) == 4 + 4 + 3 + 2  # every split's calibrated rows, uncalibrated none
    assert ("The shared backbone (`checkpoints/backbone`, pre-trained; `ransac`'s detector unchanged, hard "
            "argmax): its own 2D error per split, in distribution median 2.3 px, 6.9 % gross; novel rig median "
            "3.0 px, 11.0 % gross.") in md
    assert "beyond 12.8 crop px" in md
    missing = next(ln for ln in md.splitlines() if ln.startswith("- Missing"))
    assert "every metric under `synth-h36m-relative@3` (`alpha`, `beta`, `gamma`); `synth-novel-rig@4`" in missing
    assert "; and 2D median, 2D gross under `synth-novel-motion@2` (`gamma`)." in missing
    assert "`ransac`" not in missing
    summary = build_report(results, tmp_path / "report", params_file=None)
    assert (tmp_path / "report" / "tables" / "generalization.md").read_text() == render_generalization(
        summary.generalization)
    html = (tmp_path / "report" / "index.html").read_text()
    section = html.split('<section id="generalization">')[1].split("</section>")[0]
    assert 'class="generalization-failures"' in section
    assert 'data-split="synth-novel-rig@4" data-method="ransac"' in section
    assert "detector unchanged, hard argmax" in section and "`" not in section


def test_failure_lines_of_a_seed_averaged_row_are_the_seeds_means(novel, tmp_path):
    """A row averaging two seed replicates shows each failure metric's mean over the seeds that
    carry it (as its headline is their mean), says how many seeds, and says so in the notes."""
    results, base = _with_ransac_in_distribution(novel, tmp_path, seed=5)
    first = read_results(results / "ransac")[0]
    first.seeds = {**first.seeds, "train": 0}
    write_result(first, result_path(results, "ransac", IN_DISTRIBUTION))
    second = first.model_copy(deep=True)
    second.seeds = {**second.seeds, "train": 1}
    extra = dict(second.metrics.main.extra)
    extra.update(gross_pct=25.5, error_2d_median_px=2.66)
    del extra["lr_swap_pct"]  # a metric only the first seed carries: its value alone
    second.metrics.main.extra = extra
    write_result(second, results / "seed-1" / "ransac" / f"{IN_DISTRIBUTION}.json")
    rig = NOVEL_SPLITS["novel rig"]
    _write(results, "ransac", rig, base + 40, IN_LABELS, FAILURES)
    for seed, shift in ((0, 0.0), (1, 3.0)):
        r = read_result(result_path(results, "ransac", rig))
        r.seeds = {**r.seeds, "train": seed}
        r.metrics.main.per_sequence.sums = [v + shift * f for v, f in zip(
            r.metrics.main.per_sequence.sums, r.metrics.main.per_sequence.frames, strict=True)]
        r.metrics.headline_value += shift
        write_result(r, result_path(results / f"seed-{seed}" if seed else results, "ransac", rig))
    view = build_generalization(build_boards(read_results(results)))
    change = next(ln for ln in view.rows if ln.method == "ransac").change["novel rig"]
    assert change.test == "paired + seed noise" and change.df is not None
    assert "the seeds' variance of that change is added" in render_generalization(view)
    line = next(ln for ln in view.failures if ln.method == "ransac" and ln.protocol == IN_DISTRIBUTION)
    assert line.seeds == 2
    assert line.values["gross_pct"] == pytest.approx((19.5 + 25.5) / 2)
    assert line.values["error_2d_median_px"] == pytest.approx((2.34 + 2.66) / 2)
    assert line.values["lr_swap_pct"] == pytest.approx(6.25)
    assert line.values["occluded_share_pct"] == pytest.approx(27.7)
    md = render_generalization(view)
    assert ["in distribution", "`ransac`", "2", "22.5", "6.25", "27.7", "30.1", "15.4", "2.5", "6.9"] in [
        [c.strip() for c in ln.strip("|").split(" | ")] for ln in md.splitlines()]
    assert "in distribution median 2.5 px, 6.9 % gross (mean of 2 seeds' backbones)" in md
    assert "- Seeds: a row that averages training-seed replicates" in md
    assert all(ln.seeds == 1 for ln in view.failures if ln.method != "ransac")


def test_failure_section_says_the_metrics_are_missing_in_older_result_files(novel, tmp_path):
    md = render_generalization(build_generalization(build_boards(read_results(novel))))
    section = md.split("## Where the error comes from")[1]
    assert "No result file carries these metrics yet." in section and "|" not in section
    assert "no `ransac` result with 2D detections" in section
    assert "every metric under `synth-h36m-relative@3` (`alpha`, `beta`, `gamma`)" in section
    assert "Re-run `poseboard predict" in section
    summary = build_report(novel, tmp_path / "report", params_file=None)
    html = (tmp_path / "report" / "index.html").read_text()
    section = html.split('<section id="generalization">')[1].split("</section>")[0]
    assert "generalization-failures" not in section.split("<h3")[0] and "No result file" not in section
    assert "Missing (result files written before these metrics existed" in section
    assert summary.generalization.failures and not any(line.complete for line in summary.generalization.failures)
    empty = render_generalization(build_generalization([]))
    assert "no failure breakdown" in empty


def test_a_split_borrows_in_distribution_seed_noise_only_for_two_single_runs():
    """Rows averaged over seed replicates carry their seed variance into the paired test: a
    held-out split adds nothing more for them, while two single runs without a spread of their
    own on the split borrow the pair's single-run variance in distribution."""
    own = {("a", "c"): SeedNoise(1.0, 2)}
    variance = _split_seed_variance(lambda a, b: own.get((a, b)), lambda a, b: SeedNoise(9.0, 2), {"m", "n"})
    assert variance("a", "c") == SeedNoise(1.0, 2)  # measured on the split
    assert variance("a", "b") == SeedNoise(9.0, 2)  # borrowed
    assert variance("m", "n") is None and variance("m", "b") is None  # held by the replicates
