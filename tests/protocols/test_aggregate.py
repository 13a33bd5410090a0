"""Grouped averages (frame- vs action-weighted, exact action names) and the bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poseboard.errors import InputError, ShapeError
from poseboard.protocols.aggregate import (
    SUMMARY_COLUMNS,
    action_weighted_mean,
    bootstrap_ci,
    merge_trial_name,
    summarize,
    summary_to_dict,
)


def unbalanced() -> tuple[np.ndarray, pd.DataFrame]:
    """Walking: 3 frames of 10 mm (S9); Sitting: 1 frame of 40 mm (S11)."""
    errors = np.array([10.0, 10.0, 10.0, 40.0])
    meta = pd.DataFrame(
        {
            "subject": ["S9", "S9", "S9", "S11"],
            "action": ["Walking", "Walking", "Walking", "Sitting"],
            "sequence": ["Walking-1", "Walking-1", "Walking-1", "Sitting-1"],
            "sample_id": ["a", "b", "c", "d"],
        }
    )
    return errors, meta


def row(table: pd.DataFrame, level: str, group: str, weighting: str = "frame") -> pd.Series:
    hit = table[(table.level == level) & (table.group == group) & (table.weighting == weighting)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_frame_vs_action_weighted_by_hand():
    errors, meta = unbalanced()
    t = summarize(errors, meta)
    assert list(t.columns) == SUMMARY_COLUMNS
    assert row(t, "overall", "all", "frame").value == pytest.approx(70.0 / 4)  # 17.5
    assert row(t, "overall", "all", "action").value == pytest.approx((10.0 + 40.0) / 2)  # 25
    assert row(t, "action", "Walking").value == pytest.approx(10.0)
    assert row(t, "action", "Walking").frames == 3
    assert row(t, "action", "Sitting").frames == 1
    assert row(t, "subject", "S9").value == pytest.approx(10.0)
    assert row(t, "subject", "S11").value == pytest.approx(40.0)
    assert row(t, "overall", "all").sequences == 2
    assert t[t.level == "overall"].ci_low.isna().all()  # no bootstrap asked
    assert action_weighted_mean(errors, meta["action"]) == pytest.approx(25.0)


def test_action_names_are_exact_never_prefixes():
    errors = np.array([10.0, 30.0, 30.0])
    meta = pd.DataFrame(
        {
            "subject": ["S9"] * 3,
            "action": ["Sitting", "SittingDown", "SittingDown"],
            "sequence": ["Sitting-1", "SittingDown-1", "SittingDown-1"],
        }
    )
    t = summarize(errors, meta)
    assert row(t, "action", "Sitting").value == pytest.approx(10.0)  # not 70/3
    assert row(t, "action", "Sitting").frames == 1
    assert row(t, "action", "SittingDown").value == pytest.approx(30.0)
    # merging trials must not merge these either
    t = summarize(errors, meta, merge_trials=True)
    assert set(t[t.level == "action"].group) == {"Sitting", "SittingDown"}


def test_merge_trials():
    assert merge_trial_name("Directions-2") == "Directions"
    assert merge_trial_name("WalkDog-1") == "WalkDog"
    assert merge_trial_name("Pose-12") == "Pose"
    assert merge_trial_name("SittingDown") == "SittingDown"
    assert merge_trial_name("A-1-2") == "A-1"  # one suffix only
    assert merge_trial_name("Photo 1") == "Photo 1"  # only "-<digits>"
    errors = np.array([10.0, 10.0, 40.0])
    meta = pd.DataFrame(
        {
            "subject": ["S9"] * 3,
            "action": ["Directions-1", "Directions-1", "Directions-2"],
            "sequence": ["Directions-1", "Directions-1", "Directions-2"],
        }
    )
    exact = summarize(errors, meta)
    assert set(exact[exact.level == "action"].group) == {"Directions-1", "Directions-2"}
    assert row(exact, "overall", "all", "action").value == pytest.approx(25.0)
    merged = summarize(errors, meta, merge_trials=True)
    assert set(merged[merged.level == "action"].group) == {"Directions"}
    # merged trials are frame-weighted inside the action (errors and counts summed)
    assert row(merged, "action", "Directions").value == pytest.approx(20.0)
    assert row(merged, "action", "Directions").frames == 3
    assert row(merged, "action", "Directions").sequences == 2
    assert merged.attrs["merge_trials"] is True


def test_several_metrics_and_dict_form():
    errors, meta = unbalanced()
    t = summarize({"mpjpe": errors, "pa_mpjpe": errors / 2}, meta, n_resamples=200)
    assert list(t.metric.unique()) == ["mpjpe", "pa_mpjpe"]
    assert row(t[t.metric == "pa_mpjpe"], "overall", "all").value == pytest.approx(8.75)
    d = summary_to_dict(t)
    assert d["overall"] == pytest.approx({"mpjpe": 17.5, "pa_mpjpe": 8.75})
    assert d["action_weighted"] == pytest.approx({"mpjpe": 25.0, "pa_mpjpe": 12.5})
    assert d["per_action"]["mpjpe"]["Walking"] == {"value": 10.0, "count": 3}
    assert d["per_subject"]["pa_mpjpe"]["S11"] == {"value": 20.0, "count": 1}
    assert d["num_frames"] == 4
    lo, hi = d["ci95"]["mpjpe"]
    assert lo <= 17.5 <= hi


def test_summary_ci_contains_point():
    rng = np.random.default_rng(0)
    seqs = np.repeat([f"seq{i}" for i in range(20)], 30)
    actions = np.repeat([f"act{i % 5}" for i in range(20)], 30)
    errors = rng.gamma(4.0, 5.0, size=600) + np.repeat(rng.normal(0, 5, size=20), 30)
    meta = pd.DataFrame({"subject": "S1", "action": actions, "sequence": seqs})
    t = summarize(errors, meta, n_resamples=500, seed=3)
    for w in ("frame", "action"):
        r = row(t, "overall", "all", w)
        assert r.ci_low < r.value < r.ci_high


# ----------------------------------------------------------------------------- bootstrap
def two_sequences() -> tuple[np.ndarray, np.ndarray]:
    """Sequence A: 100 frames of 10 mm; B: 300 frames of 20 mm."""
    errors = np.concatenate([np.full(100, 10.0), np.full(300, 20.0)])
    seqs = np.array(["A"] * 100 + ["B"] * 300)
    return errors, seqs


def test_bootstrap_resamples_whole_sequences():
    errors, seqs = two_sequences()
    low, high, point = bootstrap_ci(errors, seqs, n_resamples=2000, seed=1)
    assert point == pytest.approx((1000.0 + 6000.0) / 400.0)  # 17.5, frame-weighted
    # Resamples of whole sequences can only be AA (10), AB (17.5) or BB (20), each of AA
    # and BB with probability 1/4: the 95% interval is exactly [10, 20]. A frame-level
    # bootstrap would give a narrow interval around 17.5 instead.
    assert (low, high) == (pytest.approx(10.0), pytest.approx(20.0))


def test_bootstrap_reproducible_with_seed():
    rng = np.random.default_rng(5)
    errors = rng.gamma(3.0, 10.0, size=500)
    seqs = rng.integers(0, 25, size=500)
    a = bootstrap_ci(errors, seqs, seed=7)
    b = bootstrap_ci(errors, seqs, seed=7)
    c = bootstrap_ci(errors, seqs, seed=8)
    assert a == b
    assert a[:2] != c[:2]
    assert a[0] <= a[2] <= a[1]
    assert a[2] == pytest.approx(errors.mean())


def test_bootstrap_action_weighted_is_stratified():
    # Walk: w1 (2 frames, 10), w2 (2 frames, 20); Sit: s1 (1 frame, 40).
    errors = np.array([10.0, 10.0, 20.0, 20.0, 40.0])
    seqs = np.array(["w1", "w1", "w2", "w2", "s1"])
    actions = np.array(["Walk"] * 4 + ["Sit"])
    low, high, point = bootstrap_ci(errors, seqs, "action", actions, n_resamples=2000)
    assert point == pytest.approx((15.0 + 40.0) / 2)
    # Walk's mean is 10, 15 or 20 (Sit always 40, never dropped): stats ∈ {25, 27.5, 30}
    assert (low, high) == (pytest.approx(25.0), pytest.approx(30.0))
    with pytest.raises(ValueError, match="actions"):
        bootstrap_ci(errors, seqs, "action")
    with pytest.raises(InputError, match="one action"):
        bootstrap_ci(errors, seqs, "action", np.array(["Walk"] * 3 + ["Sit"] * 2))
    with pytest.raises(ValueError, match="weighting"):
        bootstrap_ci(errors, seqs, "sequence")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- input checks
def test_bad_inputs():
    errors, meta = unbalanced()
    with pytest.raises(InputError, match="frame"):
        summarize(np.array([10.0, np.nan, 10.0, 40.0]), meta)
    with pytest.raises(InputError, match="sequence"):
        summarize(errors, meta.drop(columns="sequence"))
    with pytest.raises(ShapeError):
        summarize(errors[:3], meta)
    with pytest.raises(ShapeError):
        summarize({"a": errors, "b": errors[:3]}, meta)
    with pytest.raises(InputError, match="duplicate"):
        summarize(errors, meta.assign(sample_id=["a", "a", "b", "c"]))
    with pytest.raises(InputError, match="missing"):
        summarize(errors, meta.assign(action=["Walking", None, "Walking", "Sitting"]))
    with pytest.raises(ShapeError):
        bootstrap_ci(errors, ["A", "B"])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(errors, ["A"] * 4, confidence=95)
