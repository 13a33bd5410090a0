"""Result files → paired comparisons: which results may be paired, and their sequence tables.

Two results are paired only when they were scored on the same frames of the same task: the
same protocol (``name@version``), the same hash of evaluated sample ids and the same task hash
(sample ids alone do not pin the data: another generation seed draws other poses under the same
ids). The task hash leaves out the image bytes, which another CPU renders a few pixels apart
(:mod:`poseboard.datasets.identity`); results that predate it are compared by the content hash
of the whole split. Seed replicates of one method are results of the same method and
protocol that differ in their training seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from poseboard.comparison.paired import PairedComparison, SequenceTable, paired_bootstrap
from poseboard.errors import InputError
from poseboard.mappings import flatten
from poseboard.protocols.results import MetricBlock, Result

__all__ = ["check_pairable", "check_same_training", "compare_results", "find_replicates", "point_block",
           "same_images", "sequence_table", "train_seed"]


def train_seed(result: Result) -> int | None:
    """The training seed a result records: ``seeds.train``, else its method config's ``seed``
    (a method with nothing to train, such as RANSAC, whose replicates differ in the seed of the
    backbone they were handed), else None."""
    if "train" in result.seeds:
        return int(result.seeds["train"])
    seed = result.method.config.get("seed")
    return int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else None


def point_block(result: Result, point: str | None = None) -> MetricBlock:
    """The metric block compared: the protocol's main one, or one point of a sweep (a number
    of cameras, or a calibration level's label)."""
    if point is None:
        return result.metrics.main
    for blocks in (result.metrics.sweep, result.metrics.calibration):
        if blocks and point in blocks:
            return blocks[point]
    known = sorted({*(result.metrics.sweep or {}), *(result.metrics.calibration or {})})
    raise InputError(f"{result.method.name} under {result.protocol.id}: no sweep point {point!r}"
                     + (f" (points: {', '.join(known)})" if known else " (the protocol has no sweep)"))


def same_images(a: Result, b: Result) -> bool | None:
    """Whether ``a`` and ``b`` were scored on the same image bytes: by their image hashes, else
    by their content hashes; None when neither pair is known."""
    if a.dataset.images_hash and b.dataset.images_hash:
        return a.dataset.images_hash == b.dataset.images_hash
    if a.dataset.data_hash and b.dataset.data_hash:
        return a.dataset.data_hash == b.dataset.data_hash
    return None


def check_pairable(a: Result, b: Result) -> None:
    """Raise :class:`InputError`, saying why, unless ``a`` and ``b`` were scored on the same frames
    of the same task: the same protocol and version, the same evaluated sample ids and the same
    task hash (:mod:`poseboard.datasets.identity`). Splits that hold the same task but were
    rendered a few pixels apart (another CPU) are paired; :func:`same_images` says whether they
    were. Results without a task hash fall back to the content hash of all the split's bytes."""
    who = f"{a.method.name} and {b.method.name}"
    if a.protocol.id != b.protocol.id:
        raise InputError(f"{who} were scored under different protocols ({a.protocol.id} vs {b.protocol.id}): "
                         "a paired comparison needs the same protocol and version")
    if a.sample_ids_hash != b.sample_ids_hash or a.num_samples != b.num_samples:
        raise InputError(f"{who} under {a.protocol.id} were scored on different sample sets "
                         f"({a.num_samples} samples, hash {a.sample_ids_hash[:12]} vs {b.num_samples}, "
                         f"{b.sample_ids_hash[:12]}): score both on the same test split")
    ta, tb = a.dataset.task_hash, b.dataset.task_hash
    if ta and tb:
        if ta != tb:
            raise InputError(f"{who} under {a.protocol.id} were scored on different tasks (task hash {ta[:12]} vs "
                             f"{tb[:12]}): their ground truth, cameras or frames differ, although their sample ids "
                             "match; regenerate both with the same seed and configuration "
                             "(`poseboard data check` says whether a split is the leaderboard's)")
        return
    if a.dataset.data_hash and b.dataset.data_hash and a.dataset.data_hash != b.dataset.data_hash:
        raise InputError(f"{who} under {a.protocol.id} were scored on different data (dataset hash "
                         f"{a.dataset.data_hash[:12]} vs {b.dataset.data_hash[:12]}), although their sample ids "
                         "match, and one of the result files carries no task hash to tell a different task from "
                         "the same task rendered on another CPU: score it again with this poseboard, or "
                         "regenerate both with the same seed and configuration")


def _training_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as flat ``a.b`` keys, without what differs between seed replicates of one
    training: seeds (``seed``, ``train.seed``, …) and checkpoint folders (``*_checkpoint``:
    ``checkpoints/seed-<k>/…``)."""
    def varies(key: str) -> bool:
        return any(part == "seed" or part.endswith("_checkpoint") for part in key.split("."))

    return {k: v for k, v in flatten(config).items() if not varies(k)}


def check_same_training(a: Result, b: Result) -> None:
    """Raise :class:`InputError` unless ``b`` is a seed replicate of ``a``'s training: the same
    method and the same configuration but for seeds and checkpoint folders. A replicate trained
    before a change of ``params.yaml`` or of a config's fields (another step count, a new
    field) is another method's run, and averaging it into ``a``'s row would mix two boards.
    What a method's config does not record (the pre-trained backbone's own schedule) this
    cannot see."""
    if a.method.name != b.method.name:
        raise InputError(f"{a.method.name} and {b.method.name} are different methods, not seed replicates")
    sa, sb = _training_settings(a.method.config), _training_settings(b.method.config)
    differ = sorted(k for k in sa.keys() | sb.keys() if sa.get(k, "<absent>") != sb.get(k, "<absent>"))
    if differ:
        shown = "; ".join(f"{k}: {sa.get(k, '<absent>')!r} vs {sb.get(k, '<absent>')!r}" for k in differ[:3])
        more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
        raise InputError(f"{a.method.name} under {a.protocol.id}: trained with another configuration ({shown}{more}); "
                         "replicate it again on the current params.yaml (`poseboard replicate --seed K`) or remove "
                         "its results/seed-<k>/ files")


def sequence_table(replicates: Sequence[Result], point: str | None = None) -> SequenceTable | None:
    """The per-sequence sums of one method's seed replicates (first = the pipeline's own run),
    or None when any of them lacks them (a result file from before they were recorded, or a
    metric that is not a mean of per-frame values, such as AP_root)."""
    if not replicates:
        raise InputError("sequence_table: no results")
    first = replicates[0]
    blocks = [point_block(r, point) for r in replicates]
    if any(b.per_sequence is None for b in blocks):
        return None
    for r in replicates[1:]:
        check_pairable(first, r)
    ref = blocks[0].per_sequence
    assert ref is not None
    rows = []
    for r, block in zip(replicates, blocks, strict=True):
        seq = block.per_sequence
        assert seq is not None
        if (seq.sequences, seq.strata, seq.frames, seq.metric) != (ref.sequences, ref.strata, ref.frames, ref.metric):
            raise InputError(f"{r.method.name} under {r.protocol.id}: seed replicates were scored on different "
                             "sequences or frames")
        rows.append(seq.sums)
    return SequenceTable(tuple(ref.sequences), tuple(ref.strata), rows, ref.frames,
                         tuple(train_seed(r) for r in replicates))


def compare_results(a: Sequence[Result], b: Sequence[Result], point: str | None = None,
                    n_resamples: int = 10000, seed: int = 0) -> PairedComparison:
    """``a − b`` (each a method's seed replicates, or one result) under their shared protocol."""
    check_pairable(a[0], b[0])
    ta, tb = sequence_table(a, point), sequence_table(b, point)
    for name, table, res in (("first", ta, a[0]), ("second", tb, b[0])):
        if table is None:
            raise InputError(f"{res.method.name} under {res.protocol.id} ({name} result): the result file carries "
                             "no per-sequence errors (written before they were recorded, or a headline such as "
                             "AP_root that is not a mean of per-frame values): score it again to compare it paired")
    assert ta is not None and tb is not None
    return paired_bootstrap(ta, tb, a[0].metrics.weighting, n_resamples=n_resamples, seed=seed)


def find_replicates(results_dir: str | Path, method: str, protocol: str,
                    results: Sequence[Result] | None = None) -> list[Result]:
    """A method's results (its seed replicates, ordered by seed) under ``protocol`` (``name`` for
    the newest version present, or ``name@version``) anywhere under ``results_dir``; or, when
    ``method`` is the path of a result file, that file alone (a submission from elsewhere).
    ``results``: the folder's results already read (a caller that looks up many), else read here."""
    from poseboard.protocols.results import is_result_file, read_result, read_results

    if method.endswith(".json") and Path(method).is_file() and is_result_file(method):
        return [read_result(method)]
    candidates = [r for r in (read_results(results_dir) if results is None else results) if r.method.name == method
                  and (r.protocol.id == protocol or r.protocol.name == protocol)]
    if not candidates:
        raise InputError(f"{results_dir}: no result of method {method!r} under protocol {protocol!r} "
                         "(give a method name filed there, or the path of a result file)")
    newest = max(r.protocol.version for r in candidates)
    chosen = [r for r in candidates if r.protocol.version == newest]
    return sorted(chosen, key=lambda r: (train_seed(r) is not None, train_seed(r) or 0))
