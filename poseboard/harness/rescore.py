"""``score@<method>-<protocol>``: an evaluation's saved predictions scored under another
protocol with the same inputs (:mod:`poseboard.protocols.rescore` says which pairs qualify),
instead of running the method again."""

from __future__ import annotations

from pathlib import Path

from poseboard.datasets.sources import RealDataLike
from poseboard.errors import InputError, ResultFileError
from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.rescore import NOTE_PREFIX, input_differences
from poseboard.protocols.results import Result


def rescore(
    source_result: str | Path,
    target: ProtocolDef | str,
    *,
    data_dir: str | Path = "data",
    results_dir: str | Path = "results",
    real_data: RealDataLike = None,
    declared_dataset: str | None = None,
) -> tuple[Result, Path]:
    """Score the predictions next to ``source_result`` (``<dir>/<method>/<protocol>@<v>.json``
    and its ``.npz``) under ``target``; write ``<results_dir>/<method>/<target>.json``.

    The method's record (config, capabilities, checkpoint), its seeds and its speed are the
    source run's; the bootstrap seed, the dataset record and the metrics are the target's.
    Raises :class:`InputError` when the two protocols' inputs differ or the pipeline stage's
    ``declared_dataset`` is not the target's, and :class:`ResultFileError` when the source
    files are missing or malformed.
    """
    from poseboard.datasets.sources import check_declared_dataset, locate_protocol
    from poseboard.protocols.evaluate import build_result, score_pose, score_roots
    from poseboard.protocols.predictions import load_pose_predictions, load_root_predictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import DatasetInfo, read_result, result_path, write_result

    source_result = Path(source_result)
    if isinstance(target, str):
        target = get_protocol(target)
    check_declared_dataset(target, declared_dataset)
    source = read_result(source_result)
    predictions = source_result.with_suffix(".npz")
    if not predictions.exists():
        raise ResultFileError(f"{predictions}: the predictions of {source_result} are missing")
    diffs = input_differences(source.protocol, target)
    if diffs:
        raise InputError(
            f"{target.id} cannot be scored from the predictions of {source.protocol.id} "
            f"({source_result}): their inputs differ ({'; '.join(diffs)})"
        )
    gt = locate_protocol(target, real_data, data_dir=data_dir).ground_truth(target)
    where = f"{predictions} (scored as {target.id})"
    if target.task == "root_localisation":
        roots = load_root_predictions(predictions)
        metrics = score_roots(target, gt, roots, where=where)
        ids = roots.sample_ids
    else:
        from poseboard.protocols.failures import DETECTION_KEYS

        poses = load_pose_predictions(predictions)
        metrics = score_pose(target, gt, poses, where=where)
        ids = poses.sample_ids
        # the 2D detections are measured while predicting (the .npz holds 3D only); the same
        # inputs give the same detections, so the source run's measurement is this one's
        source_extra = source.metrics.main.extra
        metrics.main.extra.update({k: source_extra[k] for k in DETECTION_KEYS if k in source_extra})
    seeds = dict(source.seeds) | {"bootstrap": target.bootstrap_seed}
    notes = [*source.notes, f"{NOTE_PREFIX}{source.protocol.id} (same frames, cameras and inputs)"]
    result = build_result(
        protocol=target, method=source.method,
        dataset=DatasetInfo.of(target.dataset, target.split, gt),
        metrics=metrics, sample_ids=ids, seeds=seeds, speed=source.speed, notes=notes,
    )
    return result, write_result(result, result_path(results_dir, source.method.name, target.id))
