"""The trained epipolar transformer on occluded joints: ``poseboard epipolar-attention``.

He et al. (CVPR 2020) credit the transformer's gain to joints self-occluded in a view and seen
by its neighbour. With ideal features (:mod:`poseboard.studies.epipolar_conditions`,
docs/findings/epipolar-conditions.md) the fusion gives that gain when an occluded view keeps
half its peak and leaves transformer and baseline level when it keeps 0.3, as the board finds
them. What trained weights keep was the open question; this reads it from a trained
``epipolar`` (with the transformer) and its ``epipolar-baseline`` (without) on a protocol's
frames, with every camera its largest pass uses:

* **kept**: each network's own heatmap, before any fusion (the backbone's heatmap head on the
  view's features: the evidence the attention's query is made from), read at each joint's true
  cell (the largest value within one cell of it). Per sequence, the mean over joints hidden in
  the view (the renderer's visibility flag) divided by the mean over visible ones: the quantity
  the ideal-feature study sets to 0.3 or 0.5. **distractor**: the same heatmap channel read at
  the left/right partner's true cell (limb joints whose partner lies over three cells away),
  over the mean at visible joints' own cells: the study's distractor, 0.6 for a hidden joint.
* **attention**: at each joint's true cell in a view, the strongest of the 64 samples on its
  epipolar line in the nearest view, against the joint's true projection there (crop px): the
  share within one feature cell, for joints visible in both views and for the paper's case
  (hidden in the view, visible next door). **chance** is the share of the line's own samples
  within a cell of the truth: what a peak anywhere on the line would reach.
* **errors**: root-relative MPJPE (mm) of both methods' predictions on all joints and on the
  paper's case (a joint hidden in some view whose nearest view sees it), per sequence, and the
  paired difference transformer − baseline with a 95 % bootstrap interval over sequences.

Only joints whose true projection lies inside the crop (and, for the attention, inside the
neighbour's crop too) of a valid view count. The methods see what ``poseboard predict`` gives
them; the ground truth is read after they return.

Example (after ``dvc repro``, or in a ladder's checkpoints)::

    poseboard epipolar-attention --protocol synth-h36m-relative@3
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poseboard.errors import InputError

#: the per-sequence columns :func:`summarise` reports (mean over sequences, 95 % interval)
RATIOS = ("kept_epipolar", "kept_baseline", "distractor_hidden_baseline", "distractor_visible_baseline",
          "attention_within_cell_visible", "attention_within_cell_case", "attention_chance_visible",
          "attention_chance_case")
#: a partner joint counts for the distractor when it lies over this many feature cells away
PARTNER_CELLS = 3.0
ERRORS = ("mpjpe", "paper_case")


def true_cell_peaks(heatmaps: Any, uv: Any, stride: float) -> np.ndarray:
    """The largest heatmap value within one cell of each joint's true cell: ``heatmaps``
    (..., J, h, w), ``uv`` (..., J, 2) crop px (cell i is crop pixel ``stride · i``) →
    (..., J) float64. Joints outside the map read the nearest border cells (callers mask them)."""
    import torch

    heat = torch.as_tensor(heatmaps).to(torch.float64)
    h, w = heat.shape[-2:]
    padded = torch.nn.functional.max_pool2d(heat.flatten(0, -3)[:, None], 3, stride=1, padding=1)[:, 0]
    padded = padded.unflatten(0, heat.shape[:-2])  # (..., J, h, w): each cell's 3 × 3 maximum
    cell = np.clip(np.rint(np.asarray(uv, np.float64) / stride), 0, [w - 1, h - 1]).astype(np.int64)
    index = torch.as_tensor(cell[..., 1] * w + cell[..., 0])
    return padded.flatten(-2).gather(-1, index[..., None])[..., 0].numpy()


def attention_peaks(attention: Any, points: Any, line_valid: Any, uv_ref: Any, uv_src: Any, stride: float,
                    size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For each joint's true reference cell: the distance (crop px) from the attention's
    strongest sample to the joint's true projection in the source view, and the share of that
    line's samples within ``stride`` of it (chance).

    Args:
        attention: (N, h·w, S) weights over each reference cell's samples.
        points: (N, h·w, S, 2) the samples, source crop px.
        line_valid: (N, h·w) bool, False where the line misses the source map.
        uv_ref, uv_src: (N, J, 2) the joints' true projections in the reference and source crops.
        size: (h, w) of the feature map.

    Returns:
        distance (N, J) and chance (N, J), NaN where the joint's line misses the map.
    """
    import torch

    h, w = size
    attn, pts = torch.as_tensor(attention), torch.as_tensor(points)
    n, _, s = attn.shape
    j = np.asarray(uv_ref).shape[1]
    cell = np.clip(np.rint(np.asarray(uv_ref, np.float64) / stride), 0, [w - 1, h - 1]).astype(np.int64)
    index = torch.as_tensor(cell[..., 1] * w + cell[..., 0])  # (N, J)
    rows = attn.gather(1, index[..., None].expand(n, j, s))  # (N, J, S)
    line = pts.gather(1, index[..., None, None].expand(n, j, s, 2)).to(torch.float64).numpy()  # (N, J, S, 2)
    best = rows.argmax(-1).numpy()  # (N, J)
    peak = np.take_along_axis(line, best[..., None, None], axis=2)[:, :, 0]  # (N, J, 2)
    target = np.asarray(uv_src, np.float64)
    distance = np.linalg.norm(peak - target, axis=-1)
    chance = (np.linalg.norm(line - target[:, :, None], axis=-1) <= stride).mean(-1)
    valid = torch.as_tensor(line_valid).gather(1, index).numpy()
    return np.where(valid, distance, np.nan), np.where(valid, chance, np.nan)


def measure_batch(transformer: Any, baseline: Any, batch: dict[str, Any], inputs_for: Any) -> dict[str, np.ndarray]:
    """Every per-joint measure of one collated batch (ground truth included): ``inputs_for(batch,
    method)`` gives what the method may see, on its device. Returns (B, V, J) arrays (heatmap
    peaks of both networks, the attention's peak distance and chance, hidden, counted,
    paper's case per view, the heatmaps at the left/right partner's cell and where that counts) and
    (B, J) per-joint errors of both methods' predictions."""
    import torch

    from poseboard.device import autocast
    from poseboard.methods.nets.epipolar_attention import (
        epipolar_sample_points,
        fundamental_ref_to_src,
        nearest_views,
    )
    from poseboard.methods.nets.multiview import read_batch, run_backbone
    from poseboard.protocols.failures import visible_in_crop
    from poseboard.protocols.metrics import per_joint_errors
    from poseboard.skeleton import H36M17

    swap = np.array(H36M17.left_right_swap)
    gt_2d = batch["joints_2d"].to(torch.float64).numpy()  # (B, V, J, 2) crop px
    hidden = ~batch["visibility"].numpy()
    view_valid = batch["view_valid"].numpy()
    size = int(batch["images"].shape[-1])
    counted = visible_in_crop(gt_2d, np.ones_like(hidden), view_valid, size)  # (B, V, J): in a valid view's crop
    out: dict[str, np.ndarray] = {"hidden": hidden, "counted": counted}
    with torch.inference_mode():
        for name, method in (("epipolar", transformer), ("baseline", baseline)):
            inputs = inputs_for(batch, method)
            vb = read_batch(inputs)
            net = method.net
            with autocast(method.device, method.precision):
                features = run_backbone(net.backbone, net.network_input(vb.images))
                pred = method.predict(inputs)
            stride = size / features.heatmaps.shape[-1]
            partner_far = np.linalg.norm(gt_2d - gt_2d[..., swap, :], axis=-1) > PARTNER_CELLS * stride
            out["partner_counted"] = counted & counted[..., swap] & partner_far & (swap != np.arange(len(swap)))
            out[f"peak_{name}"] = true_cell_peaks(features.heatmaps.float().cpu(), gt_2d, stride)
            out[f"at_partner_{name}"] = true_cell_peaks(features.heatmaps.float().cpu(), gt_2d[..., swap, :], stride)
            joints = torch.as_tensor(pred.joints_3d).to(torch.float64).cpu().numpy()
            out[f"error_{name}"] = per_joint_errors(joints, batch["joints_3d"].to(torch.float64).numpy(), "root")
            if name != "epipolar":
                continue
            b, v = vb.images.shape[:2]
            neighbour = nearest_views(vb.proj, vb.view_valid)  # (B, V)
            bi = torch.arange(b, device=neighbour.device)[:, None].expand(b, v)
            fundamental = fundamental_ref_to_src(vb.proj.flatten(0, 1), vb.proj[bi, neighbour].flatten(0, 1))
            h, w = features.features.shape[-2:]
            _, attn = net.attention.attend(features.features.flatten(0, 1).float(),
                                           features.features[bi, neighbour].flatten(0, 1).float(), fundamental, stride)
            points, line_valid = epipolar_sample_points(fundamental, h, w, stride, net.attention.num_samples)
            nb = neighbour.cpu().numpy()
            uv_src = np.take_along_axis(gt_2d, nb[:, :, None, None], axis=1)  # (B, V, J, 2): the joint next door
            distance, chance = attention_peaks(attn.float().cpu(), points.cpu(), line_valid.cpu(),
                                               gt_2d.reshape(b * v, -1, 2), uv_src.reshape(b * v, -1, 2), stride,
                                               (h, w))
            out["attention_distance"] = distance.reshape(b, v, -1)
            out["attention_chance"] = chance.reshape(b, v, -1)
            out["stride"] = np.full((b, v, 1), stride)
            src_hidden = np.take_along_axis(hidden, nb[:, :, None], axis=1)
            src_counted = np.take_along_axis(counted, nb[:, :, None], axis=1)
            out["case"] = counted & hidden & src_counted & ~src_hidden  # hidden here, seen next door
            out["both_visible"] = counted & ~hidden & src_counted & ~src_hidden
    return out


def sequence_rows(measures: dict[str, np.ndarray], sequences: np.ndarray) -> pd.DataFrame:
    """One row per sequence from the concatenated :func:`measure_batch` arrays (frames in the
    order of ``sequences``)."""
    rows = []
    stride = float(measures["stride"].flat[0])
    for sequence in pd.unique(sequences):
        m = {k: a[sequences == sequence] for k, a in measures.items()}
        visible, hid = m["counted"] & ~m["hidden"], m["counted"] & m["hidden"]
        case_frames = m["case"].any(1)  # (F, J): hidden in some view whose neighbour sees it
        row: dict[str, Any] = {"sequence": sequence, "frames": len(m["hidden"]),
                               "hidden_share": float(hid.sum() / max(m["counted"].sum(), 1)),
                               "paper_case_share": float(case_frames.mean())}
        for arm in ("epipolar", "baseline"):
            peak = m[f"peak_{arm}"]
            row[f"kept_{arm}"] = float(peak[hid].mean() / peak[visible].mean()) if hid.any() else np.nan
            partner = m[f"at_partner_{arm}"]
            for name, mask in (("hidden", hid), ("visible", visible)):
                mask = mask & m["partner_counted"]
                row[f"distractor_{name}_{arm}"] = (float(partner[mask].mean() / peak[visible].mean())
                                                   if mask.any() else np.nan)
            row[f"{arm}_mpjpe"] = float(m[f"error_{arm}"].mean())
            row[f"{arm}_paper_case"] = float(m[f"error_{arm}"][case_frames].mean()) if case_frames.any() else np.nan
        for name, mask in (("visible", m["both_visible"]), ("case", m["case"])):
            d, c = m["attention_distance"][mask], m["attention_chance"][mask]
            keep = ~np.isnan(d)
            row[f"attention_within_cell_{name}"] = float((d[keep] <= stride).mean()) if keep.any() else np.nan
            row[f"attention_chance_{name}"] = float(c[keep].mean()) if keep.any() else np.nan
            row[f"attention_median_px_{name}"] = float(np.median(d[keep])) if keep.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def measure(transformer: Any, baseline: Any, protocol_key: str, *, data_dir: Path, batch_size: int = 8,
            frames: int | None = None, device: Any = None, precision: str | None = None) -> pd.DataFrame:
    """:func:`sequence_rows` of the trained ``transformer`` (an ``epipolar`` method with its
    attention) and ``baseline`` (one without) on the frames ``protocol_key`` scores (the first
    ``frames`` of them if given), with all the cameras its largest pass uses."""
    import torch

    from poseboard.datasets.sources import locate_protocol
    from poseboard.datasets.torch_dataset import collate_multiview, present_views_first
    from poseboard.device import to_device
    from poseboard.harness.multiview_pose import camera_subsets, place_method
    from poseboard.harness.predict import method_inputs
    from poseboard.protocols.evaluate import select_frames
    from poseboard.protocols.registry import get_protocol

    if getattr(getattr(transformer, "net", None), "attention", None) is None:
        raise InputError(f"{transformer.name}: not an epipolar transformer (no attention); give a method trained with "
                         "use_transformer: true, e.g. epipolar")
    if getattr(getattr(baseline, "net", None), "backbone", None) is None:
        raise InputError(f"{baseline.name}: not an epipolar method; give its baseline, e.g. epipolar-baseline")
    protocol = get_protocol(protocol_key)
    if protocol.task != "multiview_pose":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol; this reads multi-view frames")
    sizes = protocol.check_method(transformer.name, transformer.capabilities)
    transformer, baseline = (place_method(m, device, precision) for m in (transformer, baseline))
    data = locate_protocol(protocol, None, data_dir=data_dir)
    gt = data.ground_truth(protocol)
    indices = np.flatnonzero(select_frames(protocol, gt.meta))[:frames]
    rows = data.rows(gt, indices)
    dataset = data.with_cameras(max(camera_subsets(protocol, data.num_cameras, sizes), key=len))

    def inputs_for(batch: dict[str, Any], method: Any) -> dict[str, Any]:
        return to_device(method_inputs(batch, method, protocol), method.device)

    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(rows), batch_size):
        batch = present_views_first(collate_multiview([dataset[int(i)] for i in rows[start:start + batch_size]]))
        with torch.inference_mode():
            parts.append(measure_batch(transformer, baseline, batch, inputs_for))
    measures = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return sequence_rows(measures, gt.meta["sequence"].to_numpy()[indices].astype(str))


def summarise(table: pd.DataFrame, resamples: int = 2000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Mean over sequences with a 95 % bootstrap interval of each :data:`RATIOS` column, each
    method's errors, and the paired differences transformer − baseline (``difference_mpjpe``,
    ``difference_paper_case``): name → (mean, low, high)."""
    from scipy.stats import bootstrap

    columns = {c: table[c].to_numpy(np.float64) for c in RATIOS}
    for what in ERRORS:
        columns[f"epipolar_{what}"] = table[f"epipolar_{what}"].to_numpy(np.float64)
        columns[f"baseline_{what}"] = table[f"baseline_{what}"].to_numpy(np.float64)
        columns[f"difference_{what}"] = columns[f"epipolar_{what}"] - columns[f"baseline_{what}"]
    out = {}
    for name, values in columns.items():
        values = values[~np.isnan(values)]
        if values.size == 0:
            out[name] = (np.nan, np.nan, np.nan)
            continue
        mean = float(values.mean())
        if values.size >= 2 and np.ptp(values) > 0:
            ci = bootstrap((values,), np.mean, vectorized=True, n_resamples=resamples, method="percentile",
                           random_state=np.random.default_rng([seed, 69])).confidence_interval
            out[name] = (mean, float(ci.low), float(ci.high))
        else:
            out[name] = (mean, mean, mean)
    return out


def format_summary(summary: dict[str, tuple[float, float, float]], sequences: int) -> str:
    """A markdown table of :func:`summarise`'s figures."""
    def ci(name: str, fmt: str) -> str:
        mean, low, high = summary[name]
        return "—" if np.isnan(mean) else f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"

    lines = [f"| measure ({sequences} sequences; mean [95 % interval]) | value |", "|---|---|",
             f"| kept: heatmap at hidden / visible joints, epipolar's own | {ci('kept_epipolar', '.2f')} |",
             f"| kept: the same, epipolar-baseline | {ci('kept_baseline', '.2f')} |",
             f"| distractor: heatmap at the left/right partner / at visible joints, hidden joints (visible "
             f"ones), epipolar-baseline | {ci('distractor_hidden_baseline', '.2f')} "
             f"({ci('distractor_visible_baseline', '.2f')}) |",
             f"| attention peak within a cell: joints visible in both views (chance) | "
             f"{ci('attention_within_cell_visible', '.0%')} ({ci('attention_chance_visible', '.0%')}) |",
             f"| attention peak within a cell: hidden, seen next door (chance) | "
             f"{ci('attention_within_cell_case', '.0%')} ({ci('attention_chance_case', '.0%')}) |"]
    for what, label in (("mpjpe", "all joints"), ("paper_case", "the paper's case")):
        lines.append(f"| MPJPE (mm), {label}: epipolar / baseline | {ci(f'epipolar_{what}', '.1f')} / "
                     f"{ci(f'baseline_{what}', '.1f')} |")
        lines.append(f"| epipolar − baseline (mm), {label}, paired | {ci(f'difference_{what}', '+.1f')} |")
    return "\n".join(lines)
