"""Grouped averages of per-frame errors, and sequence-bootstrap confidence intervals.

Two averages are never mixed up here; each row of a summary says which it is:

* **frame-weighted** (``weighting="frame"``): total error / total frames. This is the
  headline number of learnable triangulation (its ``'Average'``), of VideoPose3D's
  evaluation loop and of RootNet's MRPE.
* **action-weighted** (``weighting="action"``): the mean of the per-action means, each
  action counting once however many frames it has (what "averaged across all actions"
  tables often mean).

Actions are grouped by their **exact** name. There is no prefix matching (VideoPose3D's
``startswith`` lets "Sitting" select "SittingDown"); trials are merged only when asked,
with ``merge_trials=True``, which strips one trailing ``-<digits>``
("Directions-2" → "Directions"), as the Human3.6M protocol (and learnable
triangulation's ``evaluate``) merges trials 1 and 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from poseboard.errors import InputError, ShapeError
from poseboard.protocols.metrics import _as_float64

__all__ = [
    "SUMMARY_COLUMNS",
    "WEIGHTINGS",
    "Weighting",
    "action_weighted_mean",
    "bootstrap_ci",
    "merge_trial_name",
    "summarize",
    "summary_to_dict",
]

Weighting = Literal["frame", "action"]
WEIGHTINGS: tuple[str, ...] = get_args(Weighting)

#: Columns of :func:`summarize`'s tidy table, in order.
SUMMARY_COLUMNS = [
    "metric",  # metric name, a key of the errors dict ("error" for a bare array)
    "level",  # "overall" | "action" | "subject"
    "group",  # "all" for overall rows, else the action / subject name (str)
    "weighting",  # "frame" | "action": how frames were averaged into ``value``
    "value",  # the mean, in the metric's units (mm for errors)
    "frames",  # number of frames in the group
    "sequences",  # number of distinct (subject, sequence) pairs in the group
    "ci_low",  # bootstrap interval (overall rows, when requested), else NaN
    "ci_high",
]

REQUIRED_COLUMNS = ("subject", "action", "sequence")
_TRIAL_SUFFIX = re.compile(r"-\d+$")


def merge_trial_name(action: str) -> str:
    """Strip one trailing ``-<digits>`` trial suffix: ``"Directions-2"`` → ``"Directions"``.

    Only that suffix: ``"SittingDown"`` stays ``"SittingDown"``, ``"Sitting"`` stays
    ``"Sitting"``, ``"WalkDog-1"`` → ``"WalkDog"``, ``"Pose 1"`` is unchanged.
    """
    return _TRIAL_SUFFIX.sub("", str(action))


def _errors_1d(errors: Any, name: str, n: int | None = None) -> np.ndarray:
    e = _as_float64(errors, name)
    if e.ndim != 1:
        raise ShapeError(f"{name}: expected per-frame errors of shape (N,), got {e.shape}")
    if n is not None and len(e) != n:
        raise ShapeError(f"{name}: {len(e)} values but {n} metadata rows")
    bad = np.flatnonzero(~np.isfinite(e))
    if bad.size:
        raise InputError(f"{name}: NaN or inf at frame(s) {bad[:20].tolist()}")
    return e


def _labels(values: Any, name: str, n: int) -> np.ndarray:
    """(N,) labels as a str object array (group names are strings in every output)."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    if arr.ndim != 1 or len(arr) != n:
        raise ShapeError(f"{name}: expected ({n},) labels, got shape {arr.shape}")
    if pd.isna(arr).any():
        raise InputError(f"{name}: missing values at row(s) {np.flatnonzero(pd.isna(arr))[:20]}")
    return np.array([str(v) for v in arr], dtype=object)


def _action_labels(actions: Any, n: int, merge_trials: bool) -> np.ndarray:
    labels = _labels(actions, "actions", n)
    if merge_trials:
        labels = np.array([merge_trial_name(a) for a in labels], dtype=object)
    return labels


def action_weighted_mean(errors: Any, actions: Any, merge_trials: bool = False) -> float:
    """Mean of the per-action (frame-weighted) means; actions by exact name.

    Args:
        errors: (N,) per-frame errors.
        actions: (N,) action name of each frame.
        merge_trials: merge "Name-<digits>" trials into "Name" first.

    Example:
        >>> action_weighted_mean([10, 10, 10, 40], ["Walk", "Walk", "Walk", "Sit"])
        25.0
    """
    e = _errors_1d(errors, "errors")
    labels = _action_labels(actions, len(e), merge_trials)
    if len(e) == 0:
        raise InputError("action_weighted_mean: no frames")
    return float(pd.Series(e).groupby(labels, sort=True).mean().mean())


# ----------------------------------------------------------------------------- bootstrap
def bootstrap_ci(
    errors: Any,
    sequences: Any,
    weighting: Weighting = "frame",
    actions: Any = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of a mean error, resampling **whole sequences**.

    Frames of one sequence are strongly correlated, so the resampling unit is the
    sequence: each resample draws as many sequences as there are, with replacement,
    and takes all their frames. With ``actions`` the draw is stratified: each
    action's sequences are resampled among themselves, so every resample keeps every
    action (required for ``weighting="action"``). Vectorised: one multinomial
    draw of sequence counts per stratum, no loop over resamples.

    Args:
        errors: (N,) per-frame errors (mm).
        sequences: (N,) sequence label of each frame. Labels must be unique across
            the data set (e.g. ``"S9/Directions-1"``, not ``"Directions-1"``).
        weighting: ``"frame"`` (total / frames) or ``"action"`` (mean of action means).
        actions: (N,) action of each frame (exact names; merge trials beforehand if
            wanted). Each sequence must lie within one action.
        n_resamples: number of bootstrap resamples.
        confidence: coverage of the interval, in (0, 1).
        seed: seed of ``np.random.default_rng``; equal inputs and seed, equal output.

    Returns:
        ``(low, high, point)``: the percentile interval and the estimate on the data.

    Example:
        >>> bootstrap_ci([1.0, 1.0, 3.0, 3.0], ["a", "a", "b", "b"], n_resamples=200)
        (1.0, 3.0, 2.0)
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}, got {weighting!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    e = _errors_1d(errors, "errors")
    n = len(e)
    if n == 0:
        raise InputError("bootstrap_ci: no frames")
    seq_codes, _ = pd.factorize(_labels(sequences, "sequences", n), sort=True)
    num_seq = int(seq_codes.max()) + 1
    seq_sum = np.bincount(seq_codes, weights=e, minlength=num_seq)
    seq_frames = np.bincount(seq_codes, minlength=num_seq).astype(np.float64)

    if actions is None:
        if weighting == "action":
            raise ValueError("weighting='action' needs the action of each frame (actions=...)")
        strata = [np.arange(num_seq)]
    else:
        act_codes, act_names = pd.factorize(_labels(actions, "actions", n), sort=True)
        seq_action = np.full(num_seq, -1)
        seq_action[seq_codes] = act_codes
        mixed = np.flatnonzero(seq_action[seq_codes] != act_codes)
        if mixed.size:
            raise InputError(
                f"bootstrap_ci: sequences must lie within one action; frame {int(mixed[0])} "
                f"(action {act_names[act_codes[mixed[0]]]!r}) shares its sequence with "
                "frames of another action"
            )
        strata = [np.flatnonzero(seq_action == a) for a in range(len(act_names))]

    rng = np.random.default_rng(seed)
    b = int(n_resamples)
    nums, dens, points = [], [], []
    for idx in strata:  # a loop over strata (actions), not over resamples
        k = len(idx)
        counts = rng.multinomial(k, np.full(k, 1.0 / k), size=b).astype(np.float64)  # (B, k)
        nums.append(counts @ seq_sum[idx])
        dens.append(counts @ seq_frames[idx])
        points.append((seq_sum[idx].sum(), seq_frames[idx].sum()))
    num, den = np.stack(nums), np.stack(dens)  # (strata, B); every den > 0
    if weighting == "frame":
        stats = num.sum(axis=0) / den.sum(axis=0)
        point = sum(p[0] for p in points) / sum(p[1] for p in points)
    else:
        stats = (num / den).mean(axis=0)
        point = float(np.mean([p[0] / p[1] for p in points]))
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), float(point)


# ----------------------------------------------------------------------------- summaries
def _check_meta(meta: Any, n: int) -> pd.DataFrame:
    if not isinstance(meta, pd.DataFrame):
        raise InputError(f"meta must be a pandas DataFrame, got {type(meta).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in meta.columns]
    if missing:
        raise InputError(f"meta lacks column(s) {missing}; needs {list(REQUIRED_COLUMNS)} (+ optional sample_id)")
    if len(meta) != n:
        raise ShapeError(f"meta has {len(meta)} rows but there are {n} per-frame errors")
    if "sample_id" in meta.columns:
        dup = meta["sample_id"][meta["sample_id"].duplicated()]
        if len(dup):
            raise InputError(f"meta: duplicate sample_id(s) {dup.head(5).tolist()}")
    return meta.reset_index(drop=True)


def summarize(
    errors: Any | Mapping[str, Any],
    meta: pd.DataFrame,
    *,
    merge_trials: bool = False,
    n_resamples: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Overall, per-action and per-subject means of per-frame metrics, as a tidy table.

    Args:
        errors: (N,) per-frame values (metric name ``"error"``), or a mapping
            ``{metric name: (N,) values}``, e.g. ``{"mpjpe": ..., "pa_mpjpe": ...}`` or
            :func:`~poseboard.protocols.metrics.mrpe_per_sample`'s output.
        meta: N rows, row i describing frame i (the index is ignored), with columns
            ``subject``, ``action``, ``sequence`` and optionally ``sample_id`` (then
            unique). A sequence is identified by (subject, sequence). Labels are
            compared as strings, exactly.
        merge_trials: group "Directions-1" and "Directions-2" as "Directions" (strip a
            trailing ``-<digits>``; see :func:`merge_trial_name`). Default: exact names.
        n_resamples: if > 0, add a sequence-bootstrap interval (:func:`bootstrap_ci`)
            to the two overall rows of each metric: frame-weighted resampling all
            sequences together, action-weighted stratified by action (an action with a
            single sequence then adds no spread: read such intervals with care).
        confidence, seed: of that interval.

    Returns:
        A DataFrame with :data:`SUMMARY_COLUMNS`; per metric, in order:

        * ``level="overall", weighting="frame"``: total / frames — **the headline**;
        * ``level="overall", weighting="action"``: mean of the per-action means;
        * ``level="action"``: one row per action (sorted), frame-weighted within it;
        * ``level="subject"``: one row per subject (sorted), frame-weighted.

        ``attrs`` records ``merge_trials``, ``n_resamples``, ``confidence``, ``seed``.

    Example:
        >>> meta = pd.DataFrame({"subject": ["S9"] * 4, "action": ["Walk"] * 3 + ["Sit"],
        ...                      "sequence": ["w", "w", "w", "s"]})
        >>> t = summarize([10.0, 10.0, 10.0, 40.0], meta)
        >>> t[t.level == "overall"][["weighting", "value"]].to_numpy().tolist()
        [['frame', 17.5], ['action', 25.0]]
    """
    metrics = dict(errors) if isinstance(errors, Mapping) else {"error": errors}
    if not metrics:
        raise InputError("summarize: no metrics given")
    first = next(iter(metrics))
    meta = _check_meta(meta, len(_errors_1d(metrics[first], f"errors[{first!r}]")))
    n = len(meta)
    if n == 0:
        raise InputError("summarize: no frames")
    subjects = _labels(meta["subject"], "meta.subject", n)
    actions = _action_labels(meta["action"], n, merge_trials)
    seqs = subjects + "/" + _labels(meta["sequence"], "meta.sequence", n)

    rows: list[dict[str, Any]] = []
    for name, values in metrics.items():
        e = _errors_1d(values, f"errors[{name!r}]", n)
        frame = pd.DataFrame({"e": e, "action": actions, "subject": subjects, "seq": seqs})
        by_action = frame.groupby("action", sort=True).agg(
            value=("e", "mean"), frames=("e", "size"), sequences=("seq", "nunique")
        )
        by_subject = frame.groupby("subject", sort=True).agg(
            value=("e", "mean"), frames=("e", "size"), sequences=("seq", "nunique")
        )
        overall = {"frames": n, "sequences": int(frame["seq"].nunique())}
        ci: dict[str, tuple[float, float]] = {}
        if n_resamples > 0:  # frame: all sequences pooled; action: stratified by action
            for w, strata in (("frame", None), ("action", actions)):
                lo, hi, _ = bootstrap_ci(e, seqs, w, strata, n_resamples, confidence, seed)
                ci[w] = (lo, hi)
        for w, value in (("frame", float(e.mean())), ("action", float(by_action["value"].mean()))):
            lo, hi = ci.get(w, (np.nan, np.nan))
            rows.append(
                {"metric": name, "level": "overall", "group": "all", "weighting": w,
                 "value": value, **overall, "ci_low": lo, "ci_high": hi}
            )  # fmt: skip
        for level, table in (("action", by_action), ("subject", by_subject)):
            for group, r in table.iterrows():
                rows.append(
                    {"metric": name, "level": level, "group": str(group), "weighting": "frame",
                     "value": float(r["value"]), "frames": int(r["frames"]),
                     "sequences": int(r["sequences"]), "ci_low": np.nan, "ci_high": np.nan}
                )  # fmt: skip
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out = out.astype({"frames": "int64", "sequences": "int64"})
    out.attrs = {
        "merge_trials": bool(merge_trials),
        "n_resamples": int(n_resamples),
        "confidence": float(confidence),
        "seed": int(seed),
    }
    return out


def summary_to_dict(summary: pd.DataFrame, ci_weighting: Weighting = "frame") -> dict[str, Any]:
    """:func:`summarize`'s table as nested, JSON-ready dicts, shaped like a result file's
    metric block (``poseboard.protocols.results.MetricBlock`` minus ``extra``).

    Args:
        summary: a :func:`summarize` table.
        ci_weighting: which overall row's interval goes into ``ci95`` (the protocol's
            headline weighting).

    Returns:
        ``{"overall": {metric: frame-weighted mean}, "action_weighted": {metric: mean of
        action means}, "per_action": {metric: {action: {"value", "count"}}},
        "per_subject": {metric: {subject: {"value", "count"}}}, "ci95": {metric: (lo,
        hi)} (empty without a bootstrap; the interval has the table's
        ``attrs["confidence"]``, 0.95 by default), "num_frames": n}``. Per-action and
        per-subject values are frame-weighted within the group.

    Example:
        >>> meta = pd.DataFrame({"subject": ["S9", "S9"], "action": ["Walk", "Sit"],
        ...                      "sequence": ["w", "s"]})
        >>> summary_to_dict(summarize({"mpjpe": [10.0, 20.0]}, meta))["per_action"]
        {'mpjpe': {'Sit': {'value': 20.0, 'count': 1}, 'Walk': {'value': 10.0, 'count': 1}}}
    """
    if ci_weighting not in WEIGHTINGS:
        raise ValueError(f"ci_weighting must be one of {list(WEIGHTINGS)}, got {ci_weighting!r}")
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise InputError(f"summary_to_dict: not a summarize() table (missing {missing})")
    out: dict[str, Any] = {
        "overall": {}, "action_weighted": {}, "per_action": {}, "per_subject": {},
        "ci95": {}, "num_frames": 0,
    }  # fmt: skip
    for r in summary.itertuples(index=False):
        metric = str(r.metric)
        if r.level == "overall":
            key = "overall" if r.weighting == "frame" else "action_weighted"
            out[key][metric] = float(r.value)
            out["num_frames"] = max(out["num_frames"], int(r.frames))
            if r.weighting == ci_weighting and not (np.isnan(r.ci_low) or np.isnan(r.ci_high)):
                out["ci95"][metric] = (float(r.ci_low), float(r.ci_high))
        else:
            stats = {"value": float(r.value), "count": int(r.frames)}
            out[f"per_{r.level}"].setdefault(metric, {})[str(r.group)] = stats
    return out
