"""Where a pose error comes from: gross failures, left/right swaps, occluded joints, 2D misses.

The headline MPJPE is a mean; a few joints placed far off (a limb on the wrong side, a joint
hidden in most views) can set most of it. These are the diagnostics issue 38 asks for, pure
functions of arrays, in millimetres (3D) and crop pixels (2D), all in float64:

* **gross failures** (:func:`gross_mask`): joints whose 3D error, under the protocol's
  alignment (the same per-joint errors the MPJPE averages), exceeds :data:`GROSS_MM`
  (strictly greater: an error of exactly 150 mm is not gross);
* **left/right swaps** (:func:`swap_mask`): a (left, right) joint pair whose prediction
  matches the mirrored ground truth better than the true one;
* **occluded joints** (:func:`occluded_joints`): joints not visible in at least half of the
  views that see the frame, from the split's ``visibility.npy`` and ``view_valid.npy``;
* **2D detection errors** (:func:`summarize_detections` of :func:`detection_distances`): a
  method's 2D joints against the split's ground-truth 2D on the visible joints of the valid
  views, with the share beyond :data:`GROSS_2D_FRACTION` of the crop side.

:func:`pose_failures` and :func:`summarize_detections` return the flat ``{name: value}``
scalars a result file's ``MetricBlock.extra`` carries (keys :data:`FAILURE_KEYS` and
:data:`DETECTION_KEYS`); percentages are × 100.
"""

from __future__ import annotations

import numpy as np

from poseboard.errors import ShapeError
from poseboard.protocols import metrics as M

#: A joint whose 3D error exceeds this (mm, strictly) is a gross failure (docs/findings/paper-claims.md's 150 mm).
GROSS_MM = 150.0
#: A 2D detection farther than this fraction of the crop side from the ground truth is a gross 2D miss.
GROSS_2D_FRACTION = 0.10

#: The keys :func:`pose_failures` writes (the occlusion keys only with visibility at hand).
FAILURE_KEYS = ("gross_pct", "lr_swap_pct", "occluded_share_pct", "gross_occluded_pct", "gross_visible_pct")
#: The keys :func:`summarize_detections` writes.
DETECTION_KEYS = ("error_2d_median_px", "gross_2d_pct", "gross_2d_threshold_px", "joints_2d_count")


def lr_pairs(swap: tuple[int, ...] | list[int]) -> list[tuple[int, int]]:
    """The (i, j) pairs, i < j, a mirror permutation exchanges (``Skeleton.left_right_swap``);
    joints that map to themselves (pelvis, spine, ...) form no pair."""
    return [(i, int(j)) for i, j in enumerate(swap) if i < int(j)]


def gross_mask(errors: np.ndarray, threshold_mm: float = GROSS_MM) -> np.ndarray:
    """(..., J) per-joint errors (mm) → bool, True where the error exceeds ``threshold_mm``."""
    return np.asarray(errors, dtype=np.float64) > threshold_mm


def swap_mask(pred: np.ndarray, gt: np.ndarray, swap: tuple[int, ...] | list[int]) -> np.ndarray:
    """(N, P) bool: which left/right pairs of each frame are swapped.

    The rule: for a pair (i, j) of :func:`lr_pairs` (e.g. RKnee, LKnee), with predictions
    p and ground truth g already aligned as the metric aligns them, the pair is swapped when

        ‖p_i − g_j‖ + ‖p_j − g_i‖  <  ‖p_i − g_i‖ + ‖p_j − g_j‖

    (strictly: a tie, e.g. a prediction at the pair's midpoint, is not a swap): the
    prediction matches the mirrored ground truth better than the true one. Each pair is
    judged on its own, so a frame may have its knees swapped and its wrists not.

    Args:
        pred, gt: (N, J, 3) joints in the same frame (mm), after alignment.
        swap: the mirror permutation (``H36M17.left_right_swap``).
    """
    p, g = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if p.shape != g.shape or p.ndim != 3 or p.shape[-1] != 3:
        raise ShapeError(f"pred and gt must both be (N, J, 3), got {p.shape} and {g.shape}")
    pairs = lr_pairs(swap)
    if not pairs:
        return np.zeros((len(p), 0), dtype=bool)
    i, j = np.array(pairs).T
    true = np.linalg.norm(p[:, i] - g[:, i], axis=-1) + np.linalg.norm(p[:, j] - g[:, j], axis=-1)
    mirrored = np.linalg.norm(p[:, i] - g[:, j], axis=-1) + np.linalg.norm(p[:, j] - g[:, i], axis=-1)
    return mirrored < true


def occluded_joints(visibility: np.ndarray, view_valid: np.ndarray) -> np.ndarray:
    """(N, J) bool: the joints occluded in at least half of the views that see the frame.

    ``visibility`` (N, V, J) is the split's flag (True: the joint is seen in that view, not
    hidden by the body and inside the image); ``view_valid`` (N, V) says which views see the
    frame. A joint is occluded when it is not visible in ``2 · hidden ≥ valid`` of the valid
    views (2 of 4, 1 of 2, 2 of 3); a frame no view sees has every joint occluded.
    """
    vis = np.asarray(visibility, dtype=bool)
    valid = np.asarray(view_valid, dtype=bool)
    if vis.ndim != 3 or valid.shape != vis.shape[:2]:
        raise ShapeError(f"visibility must be (N, V, J) and view_valid (N, V), got {vis.shape} and {valid.shape}")
    hidden = (~vis & valid[:, :, None]).sum(axis=1)  # (N, J)
    seen_by = valid.sum(axis=1)[:, None]  # (N, 1)
    return 2 * hidden >= seen_by


def _pct(mask: np.ndarray) -> float:
    return float(100.0 * mask.mean()) if mask.size else float("nan")


def pose_failures(pred: np.ndarray, gt: np.ndarray, alignment: M.Alignment, root: int,
                  swap: tuple[int, ...] | list[int], occluded: np.ndarray | None = None,
                  threshold_mm: float = GROSS_MM) -> dict[str, float]:
    """The gross-failure, swap and occlusion scalars of (N, J, 3) predictions (mm).

    ``gross_pct``: % of all joints (N · J) beyond ``threshold_mm`` under ``alignment`` (the
    root of a root-aligned protocol has error 0 and counts as placed); ``lr_swap_pct``: % of
    the N · P left/right pairs :func:`swap_mask` calls swapped, on the aligned poses;
    with ``occluded`` (N, J) bool (:func:`occluded_joints`): ``occluded_share_pct``, % of
    joints occluded, and ``gross_occluded_pct`` / ``gross_visible_pct``, the gross rate
    among occluded and among the other joints (left out when that set is empty).
    """
    a = M.align(pred, gt, alignment, root)
    errors = np.linalg.norm(a.pred - a.gt, axis=-1)
    gross = gross_mask(errors, threshold_mm)
    out = {"gross_pct": _pct(gross), "lr_swap_pct": _pct(swap_mask(a.pred, a.gt, swap))}
    if occluded is not None:
        occ = np.asarray(occluded, dtype=bool)
        if occ.shape != gross.shape:
            raise ShapeError(f"occluded must be (N, J) = {gross.shape}, got {occ.shape}")
        out["occluded_share_pct"] = _pct(occ)
        if occ.any():
            out["gross_occluded_pct"] = _pct(gross[occ])
        if (~occ).any():
            out["gross_visible_pct"] = _pct(gross[~occ])
    return out


def detection_distances(pred_2d: np.ndarray, gt_2d: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(K,) Euclidean distances (crop px) of the detections ``visible`` (..., J) marks, from
    2D joints ``pred_2d`` and ``gt_2d`` (..., J, 2) in the same crop pixels."""
    p, g = np.asarray(pred_2d, np.float64), np.asarray(gt_2d, np.float64)
    vis = np.asarray(visible, dtype=bool)
    if p.shape != g.shape or p.shape[-1] != 2 or vis.shape != p.shape[:-1]:
        raise ShapeError(f"pred_2d and gt_2d must be (..., J, 2) and visible (..., J); got {p.shape}, {g.shape}, "
                         f"{vis.shape}")
    return np.linalg.norm(p - g, axis=-1)[vis]


def summarize_detections(distances: np.ndarray, crop_px: int, fraction: float = GROSS_2D_FRACTION
                         ) -> dict[str, float]:
    """``error_2d_median_px`` (the median of ``distances``, crop px), ``gross_2d_pct`` (% beyond
    ``fraction · crop_px``, strictly), ``gross_2d_threshold_px`` and ``joints_2d_count`` (how
    many detections counted); an empty dict when none did."""
    err = np.asarray(distances, np.float64).ravel()
    if not err.size:
        return {}
    threshold = fraction * crop_px
    return {"error_2d_median_px": float(np.median(err)), "gross_2d_pct": _pct(err > threshold),
            "gross_2d_threshold_px": float(threshold), "joints_2d_count": float(err.size)}


def visible_in_crop(gt_2d: np.ndarray, visibility: np.ndarray, view_valid: np.ndarray, crop_px: int) -> np.ndarray:
    """(..., V, J) bool: the joints whose 2D error counts: visible, in a valid view, and inside
    the crop (the backbone's pre-training measures its 2D error on the same joints:
    ``pretrain.joint_weights`` with weight 0 for occluded ones)."""
    g = np.asarray(gt_2d, np.float64)
    inside = ((g >= 0) & (g <= crop_px - 1)).all(axis=-1)
    return np.asarray(visibility, bool) & np.asarray(view_valid, bool)[..., None] & inside
