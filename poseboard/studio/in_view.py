"""The frames every camera sees whole, and the methods scored on them alone.

A frame of the studio's split is *in view* when every joint of its person projects inside the
full image of every camera that films it (``view_valid``), through the very cameras the split
was rendered with (its stored full-frame rigs; pixels as the generator counts them, the image
spanning ``[-0.5, w - 0.5)``). A joint outside a frame leaves a method only a guess for it, and
the methods guess differently: ranking on the in-view frames as well as on all of them separates
"worse on these cameras" from "worse at guessing what no camera sees".

The in-view result of a method is its studio predictions scored again (no new inference) on the
in-view frames only, under a copy of the protocol (:func:`poseboard.studio.protocols.in_view`)
written beside its result, ``<results>/<method>/<protocol>-in-view@<v>.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.results import Result


@dataclass(frozen=True)
class InView:
    """Which frames of a split every camera sees whole.

    Attributes:
        sample_ids: (N,) every frame's id, in the split's order.
        in_view: (N,) bool, the frame's every joint inside every valid view's image.
        outside_fraction: the share of (frame, valid view, joint) outside the image (the
            generator's ``outside_fraction``, computed again here from the cameras).
    """

    sample_ids: np.ndarray
    in_view: np.ndarray
    outside_fraction: float

    @property
    def count(self) -> int:
        return int(self.in_view.sum())

    @property
    def fraction(self) -> float:
        return float(self.in_view.mean()) if len(self.in_view) else 0.0


def frames_in_view(split: str | Path) -> InView:
    """:class:`InView` of the multi-view split folder ``split`` (its joints projected through its
    stored full-frame cameras, lens distortion included)."""
    from poseboard.datasets.storage import MultiViewStore

    store = MultiViewStore(split)
    joints = np.asarray(store.joints_3d, dtype=np.float64)  # (N, J, 3) world mm
    valid = np.asarray(store.view_valid, dtype=bool)  # (N, V)
    inside = np.ones((len(store), store.num_views, joints.shape[1]), dtype=bool)
    rigs: dict[int, list[int]] = {}
    for i in range(len(store)):  # samples filmed by one rig are projected together
        rigs.setdefault(id(store.full_cameras(i)), []).append(i)
    for rows in rigs.values():
        idx = np.asarray(rows)
        for v, cam in enumerate(store.full_cameras(rows[0])):
            uv = cam.project(joints[idx])
            w, h = cam.image_size
            with np.errstate(invalid="ignore"):  # NaN behind the camera: outside
                inside[idx, v] = ((uv[..., 0] >= -0.5) & (uv[..., 0] < w - 0.5)
                                  & (uv[..., 1] >= -0.5) & (uv[..., 1] < h - 0.5))
    counted = np.broadcast_to(valid[..., None], inside.shape)
    in_view = (inside | ~counted).all(axis=(1, 2))
    outside = float((~inside & counted).sum() / max(int(counted.sum()), 1))
    return InView(store.table["sample_id"].astype(str).to_numpy(), in_view, outside)


def score_in_view(source: str | Path, target: ProtocolDef, frames: InView, *, data_dir: str | Path,
                  results_dir: str | Path) -> tuple[Result, Path] | None:
    """The predictions beside the result file ``source`` scored under ``target`` (the in-view copy
    of its protocol) on the in-view frames of ``frames`` only; the result and where it is written
    (``<results_dir>/<method>/<target id>.json``), or None when no frame is in view.

    The method's record, seeds and speed are the source run's, the metrics and the bootstrap
    seed the target's, as :func:`poseboard.harness.rescore.rescore` does for a whole protocol."""
    from poseboard.datasets.sources import locate_protocol
    from poseboard.protocols.evaluate import build_result, score_pose
    from poseboard.protocols.predictions import load_pose_predictions
    from poseboard.protocols.results import DatasetInfo, read_result, result_path, write_result

    keep = set(frames.sample_ids[frames.in_view].tolist())
    if not keep:
        return None
    source = Path(source)
    original = read_result(source)
    gt = locate_protocol(target, None, data_dir=data_dir).ground_truth(target)
    rows = gt.meta["sample_id"].astype(str).isin(keep).to_numpy()
    gt = replace(gt, meta=gt.meta[rows].reset_index(drop=True), joints_3d=gt.joints_3d[rows],
                 reference_R=None if gt.reference_R is None else gt.reference_R[rows],
                 reference_t=None if gt.reference_t is None else gt.reference_t[rows],
                 occluded=None if gt.occluded is None else gt.occluded[rows])
    predictions = source.with_suffix(".npz")
    preds = load_pose_predictions(predictions)
    mine = np.isin(preds.sample_ids.astype(str), list(keep))
    preds = replace(preds, sample_ids=preds.sample_ids[mine], joints_3d=preds.joints_3d[mine],
                    num_views=None if preds.num_views is None else preds.num_views[mine],
                    calibration_level=None if preds.calibration_level is None else preds.calibration_level[mine])
    metrics = score_pose(target, gt, preds, where=f"{predictions} (scored as {target.id})")
    note = (f"scored on the {len(keep)} of {len(frames.in_view)} frames in which every joint projects inside every "
            f"camera's image, from the predictions of {original.protocol.id}")
    result = build_result(protocol=target, method=original.method, dataset=DatasetInfo.of(target.dataset, target.split,
                                                                                          gt),
                          metrics=metrics, sample_ids=preds.sample_ids, seeds=dict(original.seeds)
                          | {"bootstrap": target.bootstrap_seed}, speed=original.speed,
                          notes=[*original.notes, note])
    return result, write_result(result, result_path(results_dir, original.method.name, target.id))
