"""Score an evaluation's saved predictions under another protocol with the same inputs.

Relative and absolute MPJPE, or AP_root at 10, 15, 20 and 25 cm, are different scorings
of the *same* predictions: the protocols hand the method the same frames, cameras and
extrinsics and differ only in alignment, metrics or thresholds. Running the method once per
protocol repeats minutes of inference for nothing, so such a protocol is scored from the
``.npz`` another protocol's run wrote (the ``score@<method>-<protocol>`` stages). The result
file is what running the method again would write, plus a note naming the predictions it
was scored from; :func:`input_differences` refuses a pair whose inputs differ.
"""

from __future__ import annotations

from pathlib import Path

from poseboard.datasets.sources import RealDataLike
from poseboard.errors import InputError, ResultFileError
from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.results import Result

#: Protocol fields that decide what a method is given (which frames, views, cameras and
#: boxes): two protocols whose fields agree here receive identical inputs.
INPUT_FIELDS: tuple[str, ...] = (
    "task", "dataset", "split", "cameras", "camera_sweep", "frame_stride", "skip_sequences",
    "provides_extrinsics", "calibration_noise", "calibration_sweep", "person_boxes",
)

#: The note a rescored result carries; :func:`rescored_from` reads it back.
NOTE_PREFIX = "scored from the predictions of "


def input_differences(source: ProtocolDef, target: ProtocolDef) -> list[str]:
    """The :data:`INPUT_FIELDS` on which two protocols differ, as ``field: a != b`` lines
    (empty: the target can be scored from the source's predictions)."""
    diffs = []
    for name in INPUT_FIELDS:
        a, b = getattr(source, name), getattr(target, name)
        if a != b:
            diffs.append(f"{name}: {a!r} != {b!r}")
    return diffs


def rescored_from(result: Result) -> str | None:
    """The protocol id whose predictions ``result`` was scored from (None: its own run)."""
    for note in result.notes:
        if note.startswith(NOTE_PREFIX):
            return note.removeprefix(NOTE_PREFIX).split(" ", 1)[0]
    return None


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
        poses = load_pose_predictions(predictions)
        metrics = score_pose(target, gt, poses, where=where)
        ids = poses.sample_ids
    seeds = dict(source.seeds) | {"bootstrap": target.bootstrap_seed}
    notes = [*source.notes, f"{NOTE_PREFIX}{source.protocol.id} (same frames, cameras and inputs)"]
    result = build_result(
        protocol=target, method=source.method,
        dataset=DatasetInfo(name=target.dataset, split=target.split, source=gt.source, data_hash=gt.data_hash),
        metrics=metrics, sample_ids=ids, seeds=seeds, speed=source.speed, notes=notes,
    )
    return result, write_result(result, result_path(results_dir, source.method.name, target.id))
