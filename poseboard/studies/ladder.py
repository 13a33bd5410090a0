"""Budget ladders: one comparison of two methods at 1×, 2×, 4× … the board's training budget.

A claim the board does not show may fail because the CPU board trains too little: the paper's
winner may need more steps (or a finer volume) than a laptop budget gives it. A ladder trains the
two methods again at ``k`` times the steps of their ``params.yaml`` blocks and asks of the paired
difference ``A − B`` whether it closes, holds or grows with compute.

A rung is a replicate (:func:`~poseboard.workflows.replicates.replicate_steps`) of the listed
methods with three changes: a derived params file (``<results>/params-<k>x.yaml``) in which they
and every method of their ``init`` chain train ``k ×`` their resolved ``train.steps`` (optionally
``volume_size`` set to ``--voxels`` where a config has one); the pipeline's own seed (and any
further seeds asked for, under ``seed-<s>/`` inside the rung); and the folders
``checkpoints/ladder-<k>x/`` and ``<results>/ladder-<k>x/``. Every rung copies the pipeline's
pre-trained backbone: its pre-training stays the board's at every rung (only the methods'
training is scaled), so a gap the backbone sets does not close on this ladder. The rung ``1×``
retrains at the board's budget on the ladder's machine, so that every rung pairs on the same
data, code and hardware. Only ``train.steps`` is scaled: the learning-rate schedules are
fractions of it (cosine, step milestones); warm-up and checkpoint intervals keep the board's
step counts.

The ladder's results do not go under the pipeline's ``results/``: the leaderboard reads that
folder recursively, and a rung's result of seed 0 beside the pipeline's own would be a second
file of one seed (an error) or a "replicate" trained with another budget. The default root is
``ladder/``.

The summary pairs ``A`` and ``B`` within each rung (:func:`~poseboard.comparison.results.
compare_results`: the same test sequences resampled for both, a rung's seeds averaged with
their seed variance added) and measures the change of the difference from the lowest rung,
``(A_k − B_k) − (A_1 − B_1)``, by the same paired bootstrap over the four results' shared
sequences: the tables ``A_k + B_1`` and ``B_k + A_1`` (per-sequence sums add, and the headline,
frame- or action-weighted, is linear in them). With one seed per rung the intervals cover the
test sequences only, not training-seed noise; ``--seed`` adds seeds to every rung.
"""

from __future__ import annotations

import filecmp
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from poseboard.comparison.paired import SequenceTable
from poseboard.errors import InputError
from poseboard.workflows.replicates import ReplicateStep, init_chain, replicate_steps

if TYPE_CHECKING:
    from poseboard.params import Params
    from poseboard.protocols.results import Result

__all__ = ["BudgetChange", "Rung", "format_ladder", "ladder_changes", "ladder_params", "ladder_steps",
           "ladder_summary", "rung_folder"]

#: Where the pipeline writes its results (dvc.yaml); a ladder's results root may not be inside it.
BOARD_RESULTS = Path("results")
#: The pre-trained backbone's weights in its checkpoint folder (replicates.py's copy step waits for it).
BACKBONE_FILE = "backbone.pt"


@dataclass(frozen=True)
class BudgetChange:
    """One field a rung's params file changes: ``methods.<method>.<profile>.<field>``."""

    method: str
    field: str
    board: Any
    rung: Any


@dataclass(frozen=True)
class Rung:
    """One rung of a ladder: its factor, params file, the fields it changes and its commands."""

    factor: float
    folder: str
    params_file: Path
    changes: tuple[BudgetChange, ...]
    steps: tuple[ReplicateStep, ...]


def rung_folder(factor: float) -> str:
    """``ladder-<k>x`` (``k`` as ``%g``: 1, 2, 0.5), the rung's folder under checkpoints and results."""
    return f"ladder-{factor:g}x"


def _check_factors(factors: Sequence[float]) -> list[float]:
    """``factors`` ascending; each positive and finite, no two with the same folder."""
    if not factors:
        raise InputError("a ladder needs at least one --factor")
    bad = [f for f in factors if not (math.isfinite(f) and f > 0)]
    if bad:
        raise InputError(f"--factor: a budget factor is a positive number, got {', '.join(map(str, bad))}")
    folders = [rung_folder(f) for f in factors]
    if len(set(folders)) != len(folders):
        raise InputError(f"--factor: each factor once, got {', '.join(f'{f:g}' for f in factors)}")
    return sorted(factors)


def _trained(params: Params, methods: Sequence[str]) -> list[str]:
    """``methods`` and every method of their ``init`` chains (``params.yaml`` keys), in the
    file's order."""
    unknown = [m for m in methods if m not in params.methods]
    if unknown:
        raise InputError(f"{', '.join(unknown)} not under `methods` in the params file "
                         f"(known: {', '.join(params.methods)})")
    needed = init_chain(params, methods)
    return [key for key in params.methods if key in needed]


def _resolved(params: Params, params_file: Path, key: str) -> dict[str, Any]:
    """The config ``train@<key>`` builds from ``params_file`` (the preset with its block merged in),
    as a mapping."""
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import get_method

    model = get_method(params.methods[key].method).config_model
    return build_config(model, params.profile, params_file, f"methods.{key}.{params.profile}").model_dump()


def ladder_changes(params_file: Path, methods: Sequence[str], factor: float,
                   voxels: int | None = None) -> list[BudgetChange]:
    """What the rung ``factor`` changes: ``train.steps`` of ``methods`` and their ``init`` chains
    (not the backbone's pre-training), ``factor ×`` the steps their training resolves (rounded,
    at least 1), and ``volume_size`` = ``voxels`` where given and a config has one. A method whose
    config has no ``train.steps`` (RANSAC learns nothing of its own) is left as the board's.

    Raises:
        InputError: an unknown method, a factor that is not positive, or ``voxels`` given when
            none of the trained methods' configs has a ``volume_size``.
    """
    from poseboard.params import load_params

    _check_factors([factor])
    params = load_params(params_file)
    trained = _trained(params, methods)
    changes, volumetric = [], []
    for key in trained:
        config = _resolved(params, params_file, key)
        train = config.get("train")
        if isinstance(train, dict) and isinstance(train.get("steps"), int) and train["steps"] > 0:
            changes.append(BudgetChange(key, "train.steps", train["steps"], max(1, round(factor * train["steps"]))))
        if "volume_size" in config:
            volumetric.append(key)
            if voxels is not None:
                changes.append(BudgetChange(key, "volume_size", config["volume_size"], int(voxels)))
    if voxels is not None and not volumetric:
        raise InputError(f"--voxels {voxels}: none of {', '.join(trained)} has a volume (no `volume_size` in its "
                         "config); it applies to volumetric methods only")
    return changes


def _derived_text(params_file: Path, changes: Sequence[BudgetChange], factor: float) -> str:
    """``params_file`` with ``changes`` written into the active profile's method blocks."""
    import yaml

    data = yaml.safe_load(params_file.read_text())
    profile = data["profile"]
    for c in changes:
        block = data["methods"][c.method].get(profile) or {}
        data["methods"][c.method][profile] = block
        *parents, leaf = c.field.split(".")
        for part in parents:
            block = block.setdefault(part, {})
        block[leaf] = c.rung
    what = "; ".join(f"{c.method} {c.field} {c.board} -> {c.rung}" for c in changes) or "nothing"
    header = (f"# A budget ladder's rung {factor:g}x (poseboard ladder), derived from {params_file}: {what}.\n"
              "# The backbone's pre-training is the board's (each rung copies checkpoints/backbone).\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def _training_record(params_file: Path, keys: Sequence[str]) -> dict[str, Any] | None:
    """What decides the trained weights of ``keys`` under ``params_file`` (each block's method,
    init and dataset and the config its training builds); None when the file does not read."""
    from poseboard.errors import PoseboardError
    from poseboard.params import load_params

    try:
        params = load_params(params_file)
        return {key: (params.methods[key].method, params.methods[key].init, params.methods[key].dataset,
                      _resolved(params, params_file, key)) for key in keys}
    except (PoseboardError, KeyError):
        return None


def ladder_params(params_file: Path, methods: Sequence[str], factor: float, out_dir: Path,
                  voxels: int | None = None) -> Path:
    """Write ``out_dir/params-<factor>x.yaml``: ``params_file`` with :func:`ladder_changes` applied
    (its comments are not kept; a header says what changed), validated by
    :func:`~poseboard.params.load_params` and by building each changed method's config, written
    atomically. The path written.

    Raises:
        InputError: as :func:`ladder_changes`, or the derived file does not validate (e.g. a
            ``voxels`` its config refuses); nothing is left behind then.
    """
    return _write_rung(params_file, ladder_changes(params_file, methods, factor, voxels), factor, out_dir)


def _write_rung(params_file: Path, changes: Sequence[BudgetChange], factor: float, out_dir: Path) -> Path:
    """:func:`ladder_params` with its changes known."""
    from poseboard.errors import PoseboardError
    from poseboard.io import atomic_write_text
    from poseboard.params import load_params

    out = out_dir / f"params-{factor:g}x.yaml"
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, _derived_text(params_file, changes, factor))
    try:
        params = load_params(out)
        for c in changes:
            value = _resolved(params, out, c.method)
            for part in c.field.split("."):
                value = value[part]
            if value != c.rung:
                raise InputError(f"{out}: methods.{c.method} {c.field} resolves to {value}, not {c.rung}")
    except PoseboardError as exc:
        out.unlink(missing_ok=True)
        raise InputError(f"the ladder's rung {factor:g}x: {exc}") from None
    return out


def _check_evaluated(params: Params, methods: Sequence[str], protocols: Sequence[str]) -> None:
    """Every method is evaluated (or scored) under every protocol in ``params``: the summary
    pairs them there, after the training."""
    done = {(ev.method, ev.protocol) for ev in params.evaluations.values()}
    done |= {(sc.method, sc.protocol) for sc in params.scores.values()}
    missing = [f"{m} under {p}" for m in methods for p in protocols if (m, p) not in done]
    if missing:
        raise InputError(f"no evaluation of {', '.join(missing)} in the params file (`evaluations` / `scores`): the "
                         "ladder compares the two methods under protocols both are scored under")


def ladder_steps(params_file: Path, methods: Sequence[str], factors: Sequence[float], protocols: Sequence[str],
                 data_dir: Path = Path("data"), checkpoints: Path = Path("checkpoints"),
                 results: Path = Path("ladder"), seeds: Sequence[int] | None = None, voxels: int | None = None,
                 device: str | None = None, precision: str | None = None) -> list[Rung]:
    """Every rung of the ladder, lowest first, its params file written (:func:`ladder_params`).

    Each rung's steps are :func:`~poseboard.workflows.replicates.replicate_steps` of its params
    file with the pipeline's backbone copied (``reuse_backbone``), only ``methods`` (and what they
    start from) trained and only ``protocols`` (names) scored, into ``<checkpoints>/ladder-<k>x/``
    and ``<results>/ladder-<k>x/``; ``seeds`` (default: the pipeline's own) beyond the pipeline's
    go to ``seed-<s>/`` inside those.

    Raises:
        InputError: a bad factor, method, seed or protocol; a results root inside the
            pipeline's ``results/``; a rung already begun under another training of the methods
            (another params file or ``voxels``) or on a backbone the pipeline has since replaced
            (its checkpoints or results would be mixed with the new ones: remove them, or ask for
            the rung as before).
    """
    from poseboard.params import load_params

    if not methods:
        raise InputError("a ladder needs the methods it compares")
    if not protocols:
        raise InputError("a ladder needs at least one --protocol to score the methods under")
    inside = results.resolve()
    if inside.is_relative_to(BOARD_RESULTS.resolve()):
        raise InputError(f"--results {results}: inside the pipeline's {BOARD_RESULTS}/, which the leaderboard reads "
                         "recursively (a rung's seed-0 results would clash with the board's); give another folder")
    params = load_params(params_file)
    _check_evaluated(params, methods, protocols)
    seeds = list(seeds) if seeds else [params.seed]
    if len(set(seeds)) != len(seeds):
        raise InputError(f"--seed: each seed once, got {seeds}")
    trained = _trained(params, methods)
    rungs = []
    for factor in _check_factors(factors):
        folder = rung_folder(factor)
        wheres = [folder if seed == params.seed else f"{folder}/seed-{seed}" for seed in seeds]
        derived = results / f"params-{factor:g}x.yaml"
        changes = ladder_changes(params_file, methods, factor, voxels)
        begun = [p for where in wheres for root in (checkpoints, results) for key in trained
                 if (p := root / where / key).exists()]
        if begun:
            with tempfile.TemporaryDirectory() as tmp:
                now = _training_record(_write_rung(params_file, changes, factor, Path(tmp)), trained)
            if _training_record(derived, trained) != now:
                raise InputError(f"rung {factor:g}x was begun ({begun[0]} exists) under another training of "
                                 f"{', '.join(trained)} than this one ({derived} says which, or is missing): remove "
                                 f"{checkpoints / folder} and {results / folder} to run it again, or ask for the "
                                 "rung as before")
        board_backbone = checkpoints / "backbone" / BACKBONE_FILE
        for where in wheres:
            copied = checkpoints / where / "backbone" / BACKBONE_FILE
            if copied.exists() and board_backbone.exists() and not filecmp.cmp(copied, board_backbone, shallow=False):
                raise InputError(f"{copied} is not the pipeline's backbone ({board_backbone}) any more: the board was "
                                 f"pre-trained again since rung {factor:g}x began; remove {checkpoints / folder} and "
                                 f"{results / folder} to run the rung on the new backbone, as the other rungs")
        derived = _write_rung(params_file, changes, factor, results)
        steps = [step for seed, where in zip(seeds, wheres, strict=True)
                 for step in replicate_steps(derived, seed, data_dir, checkpoints, results, reuse_backbone=True,
                                             only=list(methods), protocols=list(protocols), device=device,
                                             precision=precision, folder=where)]
        rungs.append(Rung(factor, folder, derived, tuple(changes), tuple(steps)))
    return rungs


def _summed(x: SequenceTable, y: SequenceTable) -> SequenceTable | None:
    """The table of ``x + y`` per sequence (its headline is the sum of theirs), or None when their
    seeds differ (a rung with other seeds than the lowest: nothing pairs seed by seed)."""
    if not x.same_units(y) or x.seeds != y.seeds:
        return None
    return SequenceTable(x.sequences, x.strata, x.sums + y.sums, x.frames, x.seeds)


def _steps(replicates: Sequence[Result]) -> int | None:
    """The ``train.steps`` the first result's method config records (None: none recorded)."""
    train = replicates[0].method.config.get("train")
    steps = train.get("steps") if isinstance(train, dict) else None
    return steps if isinstance(steps, int) else None


def ladder_summary(results: Path, methods: tuple[str, str], factors: Sequence[float], protocol: str,
                   n_resamples: int = 10000) -> pd.DataFrame:
    """Per rung (lowest first): each method's headline (the mean over the rung's seeds), the paired
    difference ``A − B`` with its 95 % interval and p-value (:func:`~poseboard.comparison.results.
    compare_results`, as ``poseboard compare``), and the change of that difference from the
    lowest rung with its own paired interval and p-value (the lowest rung's change is 0, without
    an interval; NaN where the two rungs' seeds differ).

    ``results``: the ladder's results root (``<results>/ladder-<k>x/``); ``protocol``: a name
    (its newest version there) or ``name@version``. Columns: ``factor``, ``steps_a``, ``steps_b``
    (the ``train.steps`` the result files record), ``a``, ``b``, ``difference``, ``ci_low``,
    ``ci_high``, ``p_value``, ``seeds``, ``sequences``, ``change``, ``change_low``, ``change_high``,
    ``change_p``; ``attrs``: ``methods``, ``protocol`` (its id), ``metric``, ``unit``, ``test``.

    Raises:
        InputError: a rung without a result of either method under ``protocol``, or results that
            do not pair (other test frames or task; per-sequence errors missing).
    """
    from poseboard.comparison.paired import paired_bootstrap
    from poseboard.comparison.results import check_pairable, compare_results, find_replicates, sequence_table

    first, second = methods
    rows, base = [], None
    for factor in _check_factors(factors):
        where = results / rung_folder(factor)
        a, b = find_replicates(where, first, protocol), find_replicates(where, second, protocol)
        seed = a[0].protocol.bootstrap_seed
        c = compare_results(a, b, n_resamples=n_resamples, seed=seed)
        weighting = a[0].metrics.weighting
        ta, tb = sequence_table(a), sequence_table(b)
        assert ta is not None and tb is not None  # compare_results refuses results without them
        change, low, high, p = 0.0, math.nan, math.nan, math.nan
        if base is None:
            base = (a, ta, tb)
        else:
            check_pairable(base[0][0], a[0])  # every rung on the lowest's test frames
            up, down = _summed(ta, base[2]), _summed(tb, base[1])  # A_k + B_1, B_k + A_1
            if up is None or down is None:
                change = c.difference - rows[0]["difference"]
            else:
                d = paired_bootstrap(up, down, weighting, n_resamples=n_resamples, seed=seed)
                change, (low, high), p = d.difference, d.ci95, d.p_value
        rows.append({"factor": factor, "steps_a": _steps(a), "steps_b": _steps(b),
                     "a": float(ta.headline(weighting).mean()), "b": float(tb.headline(weighting).mean()),
                     "difference": c.difference, "ci_low": c.ci95[0], "ci_high": c.ci95[1], "p_value": c.p_value,
                     "seeds": ta.num_seeds, "sequences": c.num_sequences, "test": c.test, "change": change,
                     "change_low": low, "change_high": high, "change_p": p})
    assert base is not None
    m = base[0][0].metrics
    frame = pd.DataFrame(rows)
    frame.attrs.update(methods=(first, second), protocol=base[0][0].protocol.id, metric=m.headline,
                       unit=m.units.get(m.headline, ""))
    return frame


def format_ladder(summary: pd.DataFrame) -> str:
    """:func:`ladder_summary` as a markdown table, one row per rung."""
    a, b = summary.attrs["methods"]
    unit = summary.attrs["unit"]
    u = f" ({unit})" if unit else ""

    def steps(value: Any) -> str:
        return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value)}"

    lines = [f"{summary.attrs['protocol']}, {summary.attrs['metric']}{u}: {a} − {b} per training budget",
             "",
             f"| budget | steps {a} / {b} | seeds | {a} | {b} | {a} − {b} [95 % CI] | p | change from "
             f"{summary['factor'].iloc[0]:g}× [95 % CI] | p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for i, r in summary.iterrows():
        if i == 0:
            change, cp = "0 (base)", ""
        elif math.isnan(r["change_low"]):
            change, cp = f"{r['change']:+.2f} (seeds differ: no interval)", ""
        else:
            change, cp = f"{r['change']:+.2f} [{r['change_low']:+.2f}, {r['change_high']:+.2f}]", f"{r['change_p']:.3g}"
        lines.append(f"| {r['factor']:g}× | {steps(r['steps_a'])} / {steps(r['steps_b'])} | {r['seeds']} | "
                     f"{r['a']:.2f} | {r['b']:.2f} | {r['difference']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] "
                     f"| {r['p_value']:.3g} | {change} | {cp} |")
    covers = ("the test sequences only, not training-seed noise (one seed per rung)" if summary["seeds"].max() == 1
              else "the test sequences and the rung's training seeds")
    lines += ["", f"Paired over the same {int(summary['sequences'].iloc[0])} test sequences at every rung; the "
              f"intervals cover {covers}. The backbone's pre-training is the board's at every rung."]
    return "\n".join(lines)
