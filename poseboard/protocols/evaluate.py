"""Scoring: predictions + ground truth + a protocol → the metrics of a result file.

Every number on the leaderboard passes through here, so the evaluation choices are
explicit: the frame selection (skip list, stride), the coordinate frame, the alignment
of each metric, frame- versus action-weighted means, and sequence-bootstrap intervals.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poseboard.errors import InputError, ResultFileError, examples
from poseboard.protocols import metrics as M
from poseboard.protocols.aggregate import bootstrap_ci, merge_trial_name, summarize
from poseboard.protocols.predictions import (
    PoseGroundTruth,
    PosePredictions,
    RootGroundTruth,
    RootPredictions,
)
from poseboard.protocols.protocol import METRIC_ALIGNMENT, ProtocolDef
from poseboard.protocols.results import (
    DatasetInfo,
    GroupStats,
    MethodInfo,
    MetricBlock,
    Metrics,
    Result,
    SequenceErrors,
    SpeedInfo,
)
from poseboard.protocols.submission import Submission

#: Metrics reported as percentages (fractions × 100), as the papers' tables print them.
PERCENT_METRICS = {"pck3d", "auc_pck", "ap_root"}
HIGHER_IS_BETTER = {"mpjpe": False, "pa_mpjpe": False, "n_mpjpe": False, "pck3d": True,
                    "auc_pck": True, "mrpe": False, "ap_root": True}


def select_frames(protocol: ProtocolDef, meta: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``meta`` a protocol scores.

    Drops the sequences of the skip list (exact match on ``sequence`` or
    ``subject/sequence`` — never a prefix), then keeps every ``frame_stride``-th frame
    of each remaining sequence, in frame order. Rows that share a frame (the views of one
    multi-view frame, each scored alone by a root protocol) are kept or dropped together.
    """
    seq = meta["sequence"].astype(str)
    full = meta["subject"].astype(str) + "/" + seq
    skip = set(protocol.skip_sequences)
    keep = ~(seq.isin(skip) | full.isin(skip)).to_numpy()
    if protocol.frame_stride > 1:
        order = meta.assign(_full=full).sort_values(["_full", "frame"], kind="stable")
        # dense rank of the frame number: the cumulative count where frames are unique
        rank = order.groupby("_full", sort=False)["frame"].rank(method="dense").astype(np.int64) - 1
        strided = pd.Series(False, index=meta.index)
        strided.loc[order.index] = (rank % protocol.frame_stride == 0).to_numpy()
        keep &= strided.to_numpy()
    return keep


def _match_ids(pred_ids: np.ndarray, gt_ids: pd.Series, selected: np.ndarray, where: str) -> np.ndarray:
    """Row index into ground truth of each prediction; unknown ids and missing frames are errors."""
    index = pd.Index(gt_ids.astype(str))
    rows = index.get_indexer(pred_ids)
    unknown = pred_ids[rows < 0]
    if len(unknown):
        raise InputError(
            f"{where}: {len(unknown)} sample id(s) are not in the dataset, e.g. {examples(unknown)}"
        )
    wanted = set(np.flatnonzero(selected))
    missing = sorted(wanted - set(rows.tolist()))
    if missing:
        ids = gt_ids.iloc[missing[:3]].tolist()
        raise InputError(
            f"{where}: {len(missing)} of the protocol's {len(wanted)} frames have no prediction, e.g. {examples(ids)}"
        )
    return rows


def _block(values: dict[str, np.ndarray], meta: pd.DataFrame, protocol: ProtocolDef,
           extra: dict[str, float] | None = None) -> MetricBlock:
    """Summarise per-frame values into a :class:`MetricBlock` (percent metrics scaled ×100)."""
    scaled = {k: v * 100.0 if k in PERCENT_METRICS else v for k, v in values.items()}
    table = summarize(scaled, meta[["subject", "action", "sequence"]].reset_index(drop=True),
                      merge_trials=protocol.merge_trials)
    overall: dict[str, float] = {}
    action_weighted: dict[str, float] = {}
    per_action: dict[str, dict[str, GroupStats]] = {}
    per_subject: dict[str, dict[str, GroupStats]] = {}
    for r in table.itertuples(index=False):
        if r.level == "overall":
            (overall if r.weighting == "frame" else action_weighted)[r.metric] = float(r.value)
        else:
            target = per_action if r.level == "action" else per_subject
            target.setdefault(r.metric, {})[r.group] = GroupStats(value=float(r.value), count=int(r.frames))
    ci: dict[str, tuple[float, float]] = {}
    if protocol.bootstrap_resamples > 0:
        seqs = (meta["subject"].astype(str) + "/" + meta["sequence"].astype(str)).to_numpy()
        actions = meta["action"].astype(str).map(merge_trial_name if protocol.merge_trials else str)
        for name, v in scaled.items():
            lo, hi, _ = bootstrap_ci(
                v, seqs, protocol.weighting, actions.to_numpy() if protocol.weighting == "action" else None,
                n_resamples=protocol.bootstrap_resamples, seed=protocol.bootstrap_seed,
            )
            ci[name] = (lo, hi)
    return MetricBlock(overall=overall, action_weighted=action_weighted, per_action=per_action,
                       per_subject=per_subject, ci95=ci, num_frames=len(meta), extra=extra or {},
                       per_sequence=sequence_errors(scaled, meta, protocol))


def sequence_errors(values: dict[str, np.ndarray], meta: pd.DataFrame, protocol: ProtocolDef) -> SequenceErrors | None:
    """The headline's per-frame values summed per sequence (``subject/sequence``, sorted), with
    each sequence's action as its stratum; None when the headline is not among ``values`` (it is
    not a mean of per-frame values, as AP_root)."""
    if protocol.headline not in values:
        return None
    seqs = (meta["subject"].astype(str) + "/" + meta["sequence"].astype(str)).to_numpy()
    actions = meta["action"].astype(str).map(merge_trial_name if protocol.merge_trials else str).to_numpy()
    table = pd.DataFrame({"seq": seqs, "action": actions, "v": np.asarray(values[protocol.headline], np.float64)})
    grouped = table.groupby("seq", sort=True)
    mixed = grouped["action"].nunique()
    if (mixed > 1).any():
        raise InputError(f"protocol {protocol.id}: sequence {mixed[mixed > 1].index[0]!r} spans several actions")
    agg = grouped.agg(action=("action", "first"), total=("v", "sum"), frames=("v", "size"))
    return SequenceErrors(metric=protocol.headline, sequences=[str(q) for q in agg.index],
                          strata=[str(a) for a in agg["action"]], sums=[float(x) for x in agg["total"]],
                          frames=[int(n) for n in agg["frames"]])


def _pose_values(protocol: ProtocolDef, pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    root = protocol.root_index
    for name in protocol.metrics:
        alignment = METRIC_ALIGNMENT.get(name, protocol.alignment)
        if name in ("mpjpe", "pa_mpjpe", "n_mpjpe"):
            values[name] = M.mpjpe(pred, gt, alignment, root)
        elif name == "pck3d":
            values[name] = M.pck3d(pred, gt, protocol.pck_threshold_mm, protocol.alignment, root)
        elif name == "auc_pck":
            values[name] = M.auc_pck_per_frame(pred, gt, alignment=protocol.alignment, root=root)
    return values


def _to_evaluation_frame(protocol: ProtocolDef, frame: str, joints: np.ndarray,
                         gt: PoseGroundTruth, rows: np.ndarray, what: str) -> np.ndarray:
    if frame == protocol.evaluation_frame:
        return joints
    if frame == "world" and protocol.evaluation_frame == "reference_camera":
        if gt.reference_R is None or gt.reference_t is None:
            raise InputError(f"{what}: the ground truth carries no reference cameras")
        R, t = gt.reference_R[rows], gt.reference_t[rows]
        return np.einsum("nij,nkj->nki", R, joints) + t[:, None, :]
    raise InputError(
        f"{what}: predictions in the {frame!r} frame cannot be scored in the "
        f"{protocol.evaluation_frame!r} frame of protocol {protocol.id}"
    )


def score_pose(protocol: ProtocolDef, gt: PoseGroundTruth, preds: PosePredictions,
               where: str = "predictions") -> Metrics:
    """Score pose predictions under a ``multiview_pose`` protocol."""
    if protocol.task != "multiview_pose":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol, not a pose protocol")
    if preds.frame not in protocol.accepted_output_frames:
        raise InputError(f"{where}: frame {preds.frame!r} is not accepted by {protocol.id} "
                         f"(accepts {list(protocol.accepted_output_frames)})")
    selected = select_frames(protocol, gt.meta)
    groups = _sweep_groups(protocol, preds, where)
    blocks: dict[int | None, MetricBlock] = {}
    for size, (idx, label) in groups.items():
        rows = _match_ids(preds.sample_ids[idx], gt.meta["sample_id"], selected, label)
        keep = selected[rows]  # frames outside the protocol's selection are ignored
        rows, idx = rows[keep], idx[keep]
        gt_joints = gt.joints_3d[rows]
        pred_joints = preds.joints_3d[idx]
        if protocol.evaluation_frame == "reference_camera":
            gt_joints = _to_evaluation_frame(protocol, "world", gt_joints, gt, rows, "ground truth")
        pred_joints = _to_evaluation_frame(protocol, preds.frame, pred_joints, gt, rows, label)
        values = _pose_values(protocol, pred_joints, gt_joints)
        blocks[size] = _block(values, gt.meta.iloc[rows], protocol)
        blocks[size].per_joint = per_joint_stats(pred_joints, gt_joints, protocol)
        blocks[size].extra.update(failure_stats(pred_joints, gt_joints, protocol,
                                                None if gt.occluded is None else gt.occluded[rows]))
    main = blocks[max(blocks, key=lambda s: -1 if s is None else s)]  # the most cameras / the largest error
    sweep = calibration = None
    cal = protocol.calibration_sweep
    if protocol.camera_sweep is not None:
        sweep = {str(size): block for size, block in sorted(blocks.items())}
    if cal is not None:
        calibration = {cal.levels[i].label: block for i, block in sorted(blocks.items())}
    return _metrics(protocol, main, sweep, calibration)


def _sweep_groups(protocol: ProtocolDef, preds: PosePredictions,
                  where: str) -> dict[int | None, tuple[np.ndarray, str]]:
    """The prediction rows of each sweep point, with the label an error about them names.

    A camera sweep groups rows by ``num_views`` (each a size of the sweep), a calibration sweep
    by ``calibration_level`` (every level present); any other protocol is one group, ``None``.
    """
    cameras, calibration = protocol.camera_sweep, protocol.calibration_sweep
    if cameras is not None:
        sweep, name, column = "camera", "num_views", preds.num_views
        labels = {n: f"{where} ({n} views)" for n in cameras.sizes}
        not_allowed = f"are not among the sweep sizes {cameras.sizes}"
    elif calibration is not None:
        sweep, name, column = "calibration", "calibration_level", preds.calibration_level
        labels = {i: f"{where} (calibration error {level.label})" for i, level in enumerate(calibration.levels)}
        not_allowed = f"are not indices of the protocol's {len(calibration.levels)} levels"
    else:
        return {None: (np.arange(len(preds.sample_ids)), where)}
    if column is None:
        raise InputError(f"{where}: protocol {protocol.id} is a {sweep} sweep; the file needs {name!r}")
    groups = {int(n): np.flatnonzero(column == n) for n in np.unique(column)}
    unknown = sorted(set(groups) - set(labels))
    if unknown:
        raise InputError(f"{where}: {name} {unknown} {not_allowed}")
    if sweep == "calibration" and len(groups) < len(labels):
        missing = [calibration.levels[i].label for i in labels if i not in groups]
        raise InputError(f"{where}: no predictions at calibration level(s) {missing}")
    return {key: (idx, labels[key]) for key, idx in groups.items()}

def score_roots(protocol: ProtocolDef, gt: RootGroundTruth, preds: RootPredictions,
                where: str = "predictions") -> Metrics:
    """Score root predictions under a ``root_localisation`` protocol (AP_root, MRPE)."""
    if protocol.task != "root_localisation":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol, not a root protocol")
    images = gt.people.drop_duplicates("sample_id").reset_index(drop=True)
    selected_images = images[select_frames(protocol, images)]
    known = set(images["sample_id"].astype(str))
    unknown = sorted(set(preds.sample_ids) - known)
    if unknown:
        raise InputError(f"{where}: {len(unknown)} image id(s) are not in the dataset, e.g. {examples(unknown)}")
    chosen = set(selected_images["sample_id"].astype(str))
    in_scope = np.isin(preds.sample_ids, list(chosen))
    people = gt.people.reset_index(drop=True)
    people_in = people["sample_id"].astype(str).isin(chosen).to_numpy()

    def ap_for(image_ids: set[str]) -> tuple[M.APRootResult, int]:
        annotations = []
        for image_id, part in people[people_in & people["sample_id"].astype(str).isin(image_ids)].groupby(
            "sample_id", sort=True
        ):
            annotations.append(M.RootAnnotations(image_id, gt.roots[part.index], part["valid"].to_numpy()))
        detections = []
        mask = in_scope & np.isin(preds.sample_ids, list(image_ids))
        for image_id in pd.unique(preds.sample_ids[mask]):
            rows = np.flatnonzero(mask & (preds.sample_ids == image_id))
            detections.append(M.RootDetections(image_id, preds.root[rows], preds.score[rows]))
        res = M.ap_root(detections, annotations, protocol.ap_threshold_mm)
        return res, res.num_gt

    extra: dict[str, float] = {}
    values: dict[str, np.ndarray] = {}
    meta_rows = people.iloc[0:0]
    if "mrpe" in protocol.metrics:
        with_box = in_scope & (preds.person_index >= 0)
        key = pd.MultiIndex.from_arrays([people["sample_id"].astype(str), people["person_index"].astype(int)])
        rows = key.get_indexer(pd.MultiIndex.from_arrays([preds.sample_ids[with_box], preds.person_index[with_box]]))
        if (rows < 0).any():
            raise InputError(
                f"{where}: {int((rows < 0).sum())} prediction(s) name a person_index the image does not have"
            )
        valid = people["valid"].to_numpy()[rows]
        rows = rows[valid]
        pred_roots = preds.root[with_box][valid]
        if len(rows) == 0:
            raise InputError(f"{where}: MRPE needs predictions with person_index >= 0 (ground-truth boxes)")
        per = M.mrpe_per_sample(pred_roots, gt.roots[rows])
        values["mrpe"] = per["mrpe"]
        meta_rows = people.iloc[rows]
        for axis in ("x", "y", "z"):
            extra[f"mrpe_{axis}"] = float(per[f"mrpe_{axis}"].mean())
        extra |= depth_error_by_distance(pred_roots, gt.roots[rows])
    if values:
        block = _block(values, meta_rows, protocol, extra)
    else:
        block = MetricBlock(overall={}, action_weighted={}, per_action={}, per_subject={}, ci95={},
                            num_frames=len(selected_images), extra=extra)
    if "ap_root" in protocol.metrics:
        overall, num_gt = ap_for(chosen)
        block.overall["ap_root"] = overall.ap * 100.0
        if protocol.bootstrap_resamples > 0:
            sequence_of = people.drop_duplicates("sample_id").set_index(
                people.drop_duplicates("sample_id")["sample_id"].astype(str))["sequence"].astype(str)
            lo, hi = M.ap_root_bootstrap_ci(
                overall, sequence_of.loc[[str(i) for i in overall.image_ids]].to_numpy(),
                n_resamples=protocol.bootstrap_resamples, seed=protocol.bootstrap_seed,
            )
            block.ci95["ap_root"] = (lo * 100.0, hi * 100.0)
        block.extra["ap_root_rootnet_script"] = overall.ap_rootnet_script * 100.0
        block.extra["ap_root_num_gt"] = float(num_gt)
        per_action: dict[str, GroupStats] = {}
        action_of = selected_images.set_index(selected_images["sample_id"].astype(str))["action"].astype(str)
        if protocol.merge_trials:
            action_of = action_of.map(merge_trial_name)
        for action, ids in action_of.groupby(action_of).groups.items():
            res, n = ap_for(set(ids))
            if n:
                per_action[str(action)] = GroupStats(value=res.ap * 100.0, count=n)
        block.per_action["ap_root"] = per_action
        if per_action:
            block.action_weighted["ap_root"] = float(np.mean([g.value for g in per_action.values()]))
        block.num_frames = len(selected_images)
    return _metrics(protocol, block, None)


def per_joint_stats(pred: np.ndarray, gt: np.ndarray, protocol: ProtocolDef) -> dict[str, dict[str, float]]:
    """Joint name → mean, median and 90th percentile of its error (mm) over the frames,
    under the protocol's ``alignment`` (the root joint of a root-aligned protocol is 0)."""
    from poseboard.skeleton import H36M17

    err = M.per_joint_errors(pred, gt, protocol.alignment, protocol.root_index)  # (N, J)
    names = H36M17.joint_names if err.shape[1] == len(H36M17.joint_names) else tuple(map(str, range(err.shape[1])))
    return {name: {"mean": float(e.mean()), "median": float(np.median(e)), "p90": float(np.quantile(e, 0.9))}
            for name, e in zip(names, err.T, strict=True)} if len(err) else {}


def failure_stats(pred: np.ndarray, gt: np.ndarray, protocol: ProtocolDef,
                  occluded: np.ndarray | None) -> dict[str, float]:
    """Where the error comes from (:func:`poseboard.protocols.failures.pose_failures`): the
    gross-failure rate (joints beyond 150 mm under the alignment the MPJPE uses), the
    left/right swap rate, and with ``occluded`` (N, J) the gross rate on occluded and visible
    joints; for 17-joint Human3.6M poses (the swap needs the skeleton), else nothing."""
    from poseboard.protocols.failures import pose_failures
    from poseboard.skeleton import H36M17

    if len(pred) == 0 or pred.shape[1] != H36M17.num_joints:
        return {}
    return pose_failures(pred, gt, METRIC_ALIGNMENT.get("mpjpe", protocol.alignment), protocol.root_index,
                         H36M17.left_right_swap, occluded)


#: Distance bins (camera z, metres) of RootNet's depth error versus distance.
DEPTH_BINS_M: tuple[float, ...] = (0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 100.0)


def depth_error_by_distance(pred_roots: np.ndarray, gt_roots: np.ndarray) -> dict[str, float]:
    """Mean |z error| (mm) and count of people per ground-truth distance bin
    (:data:`DEPTH_BINS_M`): ``depth_error_mm@<lo>-<hi>m`` and ``depth_people@<lo>-<hi>m``,
    for bins that hold anyone. Depth dominates a single image's root error, and grows with
    distance; this is the curve the report draws."""
    z_m = gt_roots[:, 2] / 1000.0
    err = np.abs(pred_roots[:, 2] - gt_roots[:, 2])
    out: dict[str, float] = {}
    for lo, hi in itertools.pairwise(DEPTH_BINS_M):
        inside = (z_m >= lo) & (z_m < hi)
        if inside.any():
            key = f"{lo:g}-{hi:g}m"
            out[f"depth_error_mm@{key}"] = float(err[inside].mean())
            out[f"depth_people@{key}"] = float(inside.sum())
    return out


def _metrics(protocol: ProtocolDef, main: MetricBlock, sweep: dict[str, MetricBlock] | None,
             calibration: dict[str, MetricBlock] | None = None) -> Metrics:
    source = main.overall if protocol.weighting == "frame" else main.action_weighted
    if protocol.headline not in source:
        raise InputError(f"protocol {protocol.id}: headline {protocol.headline!r} was not computed")
    names = list(protocol.metrics)
    return Metrics(
        headline=protocol.headline,
        headline_value=source[protocol.headline],
        weighting=protocol.weighting,
        units={n: "%" if n in PERCENT_METRICS else "mm" for n in names},
        higher_is_better={n: HIGHER_IS_BETTER[n] for n in names},
        main=main,
        sweep=sweep,
        calibration=calibration,
    )


def build_result(
    *,
    protocol: ProtocolDef,
    method: MethodInfo,
    dataset: DatasetInfo,
    metrics: Metrics,
    sample_ids: np.ndarray,
    seeds: dict[str, int],
    speed: SpeedInfo,
    notes: list[str] | None = None,
) -> Result:
    """Assemble a result record with its provenance (versions, commit, hardware, id hash)."""
    from poseboard.provenance import git_commit, hardware, hash_ids, package_versions

    return Result(
        protocol=protocol, method=method, dataset=dataset, seeds=seeds,
        versions=package_versions(), git=git_commit(), sample_ids_hash=hash_ids(set(map(str, sample_ids))),
        num_samples=len(set(map(str, sample_ids))), hardware=hardware(), speed=speed, metrics=metrics,
        notes=notes or [],
    )


def check_pose_millimetres(joints: np.ndarray, where: str | Path) -> None:
    """Refuse submitted poses (N, 17, 3) that are not in millimetres, judged from the data: a
    body's bones are 40–500 mm long, so a median bone under 5 with coordinates under 20 is
    metres (the usual slip), and one under 60 with coordinates under 300 centimetres; the
    message says what it found and how to convert."""
    from poseboard.errors import ResultFileError
    from poseboard.skeleton import H36M17

    if len(joints) == 0:
        return
    parents, children = zip(*H36M17.bones, strict=True)
    bones = np.linalg.norm(joints[:, list(children)] - joints[:, list(parents)], axis=-1)
    median_bone, median_coordinate = float(np.median(bones)), float(np.median(np.abs(joints)))
    if median_bone < 5.0 and median_coordinate < 20.0:
        raise ResultFileError(
            f"{where}: 'joints_3d' looks like metres, not millimetres: the median bone is {median_bone:.3g} long "
            f"(a body's are 40-500 mm) and the median coordinate {median_coordinate:.3g}; multiply the joints by 1000")
    if median_bone < 60.0 and median_coordinate < 300.0:
        raise ResultFileError(
            f"{where}: 'joints_3d' looks like centimetres, not millimetres: the median bone is {median_bone:.3g} long "
            f"(a body's are 40-500 mm) and the median coordinate {median_coordinate:.3g}; multiply the joints by 10 "
            "(if these are millimetres, the skeleton is smaller than any body)")


def check_root_millimetres(root: np.ndarray, where: str | Path) -> None:
    """Refuse submitted roots (N, 3, camera frame) that are not in millimetres: people stand
    0.5–30 m in front of the camera, so a median depth under 50 is metres and one under 400
    centimetres."""
    from poseboard.errors import ResultFileError

    if len(root) == 0:
        return
    depth = float(np.median(root[:, 2]))
    if 0.0 < depth < 50.0:
        raise ResultFileError(f"{where}: 'root' looks like metres, not millimetres: the median depth is {depth:.3g} "
                              "(people stand 500-30000 mm from the camera); multiply the roots by 1000")
    if 50.0 <= depth < 400.0:
        raise ResultFileError(f"{where}: 'root' looks like centimetres, not millimetres: the median depth is "
                              f"{depth:.3g} (people stand 500-30000 mm from the camera); multiply the roots by 10")


def evaluate_predictions_file(
    predictions: Path,
    protocol_key: str,
    *,
    method: str = "external",
    data_dir: Path = Path("data"),
    ground_truth: Path | None = None,
    results_dir: Path = Path("results"),
    method_config: dict[str, Any] | None = None,
    submission: Submission | None = None,
) -> tuple[Result, Path]:
    """The ``poseboard evaluate`` command: validate, score, and write a result file
    (``submission``: the card of ``poseboard submit``, carried in the file)."""
    from poseboard.names import check_name
    from poseboard.protocols.ground_truth import load_ground_truth
    from poseboard.protocols.predictions import load_pose_predictions, load_root_predictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import result_path, write_result

    check_name(method, "--method")
    protocol = get_protocol(protocol_key)
    if not Path(predictions).exists():
        raise ResultFileError(f"{predictions}: predictions file not found")
    gt_dir = ground_truth or Path(data_dir) / protocol.dataset / protocol.split
    gt = load_ground_truth(protocol, gt_dir)
    if protocol.task == "root_localisation":
        root_preds = load_root_predictions(predictions)
        check_root_millimetres(root_preds.root, predictions)
        metrics = score_roots(protocol, gt, root_preds, where=str(predictions))
        ids = root_preds.sample_ids
    else:
        pose_preds = load_pose_predictions(predictions)
        check_pose_millimetres(pose_preds.joints_3d, predictions)
        metrics = score_pose(protocol, gt, pose_preds, where=str(predictions))
        ids = pose_preds.sample_ids
    result = build_result(
        protocol=protocol,
        method=MethodInfo(name=method, config=method_config or {"predictions_file": str(predictions)},
                          capabilities=None),
        dataset=DatasetInfo.of(protocol.dataset, protocol.split, gt),
        metrics=metrics,
        sample_ids=ids,
        seeds={"bootstrap": protocol.bootstrap_seed},
        speed=SpeedInfo(samples_per_s=None, ms_per_sample=None, batch_size=None, device=None),
    )
    result.submission = submission
    path = write_result(result, result_path(results_dir, method, protocol.id))
    return result, path


def submit_predictions_file(
    predictions: Path,
    protocol_key: str,
    *,
    method: str,
    card: Path,
    data_dir: Path = Path("data"),
    ground_truth: Path | None = None,
    results_dir: Path = Path("results"),
    reserved: Collection[str] = (),
) -> tuple[Result, Path]:
    """The ``poseboard submit`` command: check the name and the card, then score exactly as
    ``evaluate`` does and write one self-contained result file carrying the card.

    A submission never replaces a result the pipeline made: the name may not be one of
    ``reserved`` (the registered methods: the command passes them, this layer does not import
    the methods), and an existing result file under it must itself be a submission.
    """
    from poseboard.names import check_name
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import read_result, result_path
    from poseboard.protocols.submission import file_sha256, load_card, this_machine

    check_name(method, "--method")
    if method in reserved:
        raise InputError(f"--method: {method!r} is a registered method, whose results the pipeline writes; "
                         "submit under a name of your own")
    method_card = load_card(card)
    protocol = get_protocol(protocol_key)
    target = result_path(results_dir, method, protocol.id)
    if target.exists() and read_result(target).submission is None:
        raise InputError(f"{target}: a result of {method!r} made by the pipeline already exists; "
                         "submit under another name")
    if not Path(predictions).is_file():
        raise ResultFileError(f"{predictions}: predictions file not found")
    submission = Submission(card=method_card, predictions_file=Path(predictions).name,
                            predictions_sha256=file_sha256(predictions), scored_on=this_machine())
    return evaluate_predictions_file(
        predictions, protocol_key, method=method, data_dir=data_dir, ground_truth=ground_truth,
        results_dir=results_dir, method_config={"predictions_file": Path(predictions).name},
        submission=submission,
    )
