"""Where a method's 2D misses land: ``poseboard misses``.

The generalization view counts a method's gross 2D detections (beyond a tenth of the crop side,
:data:`~poseboard.protocols.failures.GROSS_2D_FRACTION`) and its left/right swaps in 3D. It does
not say *what kind* of miss sets a split's error, and the kinds call for different levers
(docs/findings/novelty-oracle.md, "What the oracle fixes in 2D"): on the held-out Kicking, hidden hands put on
the hip, which a training world that shows the action removes; on Dancing, wrists put on the
other wrist, which it does not. This runs a trained method on a protocol's frames and labels
every gross 2D miss by where it lands in the same view:

* **swapped**: on the ground truth of the mirror joint (the other wrist, the other knee);
* **on another joint**: on some other joint's ground truth (a hidden hand on its hip);
* **nowhere**: on no joint (within :data:`LANDING_FRACTION` of the crop side of none).

It counts every joint of every valid view whose ground truth lies inside the crop, hidden or
not (the generalization view's 2D error counts the visible ones only; a hidden joint still has
a place a method must put it), and says which share of the misses were hidden. Per joint, and
per action (or another column of the split's ``samples.csv``) with ``--by``.

Example (after ``dvc repro``)::

    poseboard misses ransac --protocol synth-novel-motion@2 --by action
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poseboard.errors import InputError, ShapeError
from poseboard.protocols.failures import GROSS_2D_FRACTION

#: A miss lands on a ground-truth joint of the same view within this fraction of the crop side.
LANDING_FRACTION = 0.05
#: Labels of :func:`miss_landings` besides a joint index (≥ 0: the joint it landed on).
NOT_COUNTED, NOT_A_MISS, NOWHERE = -3, -2, -1


def miss_landings(pred_2d: np.ndarray, gt_2d: np.ndarray, counted: np.ndarray, crop_px: int,
                  fraction: float = GROSS_2D_FRACTION, landing: float = LANDING_FRACTION) -> np.ndarray:
    """(..., J) int labels of 2D detections ``pred_2d`` (..., J, 2) against ``gt_2d`` (..., J, 2),
    both in crop px of the same views: :data:`NOT_COUNTED` where ``counted`` (..., J) is False,
    :data:`NOT_A_MISS` within ``fraction · crop_px`` of the joint's own ground truth (inclusive),
    else the index of the nearest ground-truth joint of the same view if it is within
    ``landing · crop_px``, else :data:`NOWHERE`. With ``landing < fraction`` a miss never lands
    on its own joint."""
    p, g = np.asarray(pred_2d, np.float64), np.asarray(gt_2d, np.float64)
    counted = np.asarray(counted, bool)
    if p.shape != g.shape or p.ndim < 2 or p.shape[-1] != 2 or counted.shape != p.shape[:-1]:
        raise ShapeError(f"pred_2d and gt_2d must be (..., J, 2) and counted (..., J); got {p.shape}, {g.shape}, "
                         f"{counted.shape}")
    if not 0 < landing < fraction:
        raise InputError(f"landing ({landing}) must lie between 0 and the miss fraction ({fraction})")
    own = np.linalg.norm(p - g, axis=-1)  # (..., J)
    to_all = np.linalg.norm(p[..., :, None, :] - g[..., None, :, :], axis=-1)  # (..., J, J): detection j → joint k
    nearest = to_all.argmin(-1)
    near = np.take_along_axis(to_all, nearest[..., None], -1)[..., 0] <= landing * crop_px
    labels = np.where(near, nearest, NOWHERE)
    labels = np.where(own <= fraction * crop_px, NOT_A_MISS, labels)
    return np.where(counted, labels, NOT_COUNTED).astype(np.int64)


def summarize_misses(labels: np.ndarray, hidden: np.ndarray, swap: Sequence[int],
                     joint_names: Sequence[str]) -> pd.DataFrame:
    """One row per joint of :func:`miss_landings` labels (..., J) and ``hidden`` (..., J):
    ``views`` counted, ``miss_pct`` (% of them missed) and, of the misses, ``swapped_pct`` (on
    the mirror joint, ``swap`` the skeleton's left/right permutation), ``other_joint_pct``,
    ``nowhere_pct``, ``hidden_pct`` (the joint hidden in that view) and ``top_landing`` (the
    other joint most landed on, with its share of the misses)."""
    lab = np.asarray(labels).reshape(-1, len(joint_names))
    hid = np.asarray(hidden, bool).reshape(lab.shape)
    rows = []
    for j, name in enumerate(joint_names):
        counted = lab[:, j] != NOT_COUNTED
        missed = counted & (lab[:, j] != NOT_A_MISS)
        landed, was_hidden = lab[missed, j], hid[missed, j]  # the misses only
        on_mirror, on_other = landed == int(swap[j]), (landed >= 0) & (landed != int(swap[j]))

        def pct(mask: np.ndarray, n: int = landed.size) -> float:
            return 100.0 * float(mask.sum()) / n if n else 0.0

        top = ""
        if on_other.any():
            k, c = np.unique(landed[on_other], return_counts=True)
            top = f"{joint_names[int(k[c.argmax()])]} ({pct(landed == k[c.argmax()]):.0f} %)"
        rows.append({"joint": name, "views": int(counted.sum()), "miss_pct": pct(missed, max(int(counted.sum()), 1)),
                     "swapped_pct": pct(on_mirror), "other_joint_pct": pct(on_other),
                     "nowhere_pct": pct(landed == NOWHERE), "hidden_pct": pct(was_hidden), "top_landing": top})
    return pd.DataFrame(rows)


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def load_trained(name: str, checkpoints: Path, warn: Callable[[str], None] = _warn) -> Any:
    """The trained method in ``checkpoints/name`` (a variant such as ``epipolar-baseline`` keeps
    its own name).

    A board checkpoint (``dvc.lock`` records it) that is missing is refused naming the two ways
    to get it (:func:`poseboard.checkpoint_origin.missing_checkpoint`); one whose DVC hash is not
    the board's is loaded (these misses describe the weights at hand, compared with nothing),
    and ``warn`` says they are another run's, not the board's method."""
    from poseboard.checkpoint_origin import checkpoint_stage, in_dvc_stage, missing_checkpoint, origin
    from poseboard.harness.run import saved_method
    from poseboard.methods.registry import get_method
    from poseboard.names import check_name

    check_name(name, "method")
    directory = Path(checkpoints) / name
    if not (directory / "config.json").exists():
        if checkpoint_stage(directory) is not None:
            raise missing_checkpoint(directory)
        raise InputError(f"{directory / 'config.json'}: no trained method here; train it first (dvc repro, or "
                         "`poseboard train`) or give --checkpoints")
    if not in_dvc_stage() and (o := origin(directory)) is not None and not o.is_boards:
        warn(f"warning: these misses are another run's weights, not the board's {name}: {o.not_the_boards()}")
    method = get_method(saved_method(directory)).load(directory)
    method.name = name
    return method


def measure_misses(method: Any, protocol_key: str, *, data_dir: Path, by: str | None = "action",
                   batch_size: int = 8, device: Any = None, precision: str | None = None) -> pd.DataFrame:
    """:func:`summarize_misses` of ``method`` on the frames ``protocol_key`` scores, with all the
    cameras its largest pass uses, once per value of the split's ``by`` column (and ``all``).
    The method sees what ``poseboard predict`` gives it (:func:`~poseboard.harness.predict.method_inputs`);
    the ground truth is compared after it returns."""
    import torch

    from poseboard.datasets.sources import locate_protocol
    from poseboard.datasets.torch_dataset import collate_multiview, present_views_first
    from poseboard.device import to_device
    from poseboard.harness.multiview_pose import camera_subsets, place_method
    from poseboard.harness.predict import _predict_batch, method_inputs
    from poseboard.protocols.evaluate import select_frames
    from poseboard.protocols.failures import visible_in_crop
    from poseboard.protocols.registry import get_protocol
    from poseboard.skeleton import H36M17

    protocol = get_protocol(protocol_key)
    if protocol.task != "multiview_pose":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol; misses reads multi-view 2D detections")
    sizes = protocol.check_method(method.name, method.capabilities)
    method = place_method(method, device, precision)
    data = locate_protocol(protocol, None, data_dir=data_dir)
    gt = data.ground_truth(protocol)
    indices = np.flatnonzero(select_frames(protocol, gt.meta))
    if by is not None and by not in gt.meta.columns:
        raise InputError(f"--by {by!r}: the split's samples.csv has no such column; it has {list(gt.meta.columns)}")
    rows = data.rows(gt, indices)
    dataset = data.with_cameras(max(camera_subsets(protocol, data.num_cameras, sizes), key=len))
    labels, hidden = [], []
    for start in range(0, len(rows), batch_size):
        batch = present_views_first(collate_multiview([dataset[int(i)] for i in rows[start:start + batch_size]]))
        with torch.inference_mode():
            _, _, joints_2d = _predict_batch(method, to_device(method_inputs(batch, method, protocol), method.device),
                                             protocol)
        if joints_2d is None:
            raise InputError(f"method {method.name} gives no 2D detections (a `joints_2d` extra): its misses cannot "
                             "be placed; the 2D-backbone methods (ransac, algebraic, epipolar, ...) give them")
        gt_2d = batch["joints_2d"].to(torch.float64).numpy()
        size = int(batch["images"].shape[-1])
        hidden_now = ~batch["visibility"].numpy()
        # every joint of a valid view inside the crop, hidden or not (visible_in_crop with all visible)
        counted = visible_in_crop(gt_2d, np.ones_like(hidden_now), batch["view_valid"].numpy(), size)
        pred_2d = torch.as_tensor(joints_2d).detach().cpu().to(torch.float64).numpy()
        labels.append(miss_landings(pred_2d, gt_2d, counted, size))
        hidden.append(hidden_now)
    lab, hid = np.concatenate(labels), np.concatenate(hidden)  # (N, V, J), frames in protocol order
    groups = [("all", np.ones(len(indices), bool))]
    if by is not None:
        values = gt.meta[by].to_numpy()[indices].astype(str)
        groups += [(v, values == v) for v in sorted(set(values))]
    tables = []
    for value, mask in groups:
        table = summarize_misses(lab[mask], hid[mask], H36M17.left_right_swap, H36M17.joint_names)
        tables.append(table.assign(**{by or "frames": value}))
    return pd.concat(tables, ignore_index=True)
