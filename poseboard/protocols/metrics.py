"""Pose and root metrics: pure functions of arrays, with the alignment always explicit.

Every function takes NumPy arrays or torch tensors (converted with
``.detach().cpu().numpy()``), computes in float64 (errors of a few mm on
coordinates of several metres need it) and returns NumPy float64 arrays or
Python floats. Units are millimetres throughout; :func:`check_units_mm` is the
guard against poses in metres.

Names follow the literature:

================  ======================  ==================================================
metric            call                    alignment of the prediction before the error
================  ======================  ==================================================
absolute MPJPE    ``mpjpe(p, g)``         none (both in the same frame, e.g. world mm)
relative MPJPE    ``mpjpe(p, g, "root")`` root joint subtracted from both
N-MPJPE           :func:`n_mpjpe`         root-centred, then the optimal scale only
                                          (Rhodin et al. 2018; VideoPose3D ``n_mpjpe``)
PA-MPJPE          :func:`pa_mpjpe`        optimal similarity (rotation, scale,
(P-MPJPE)                                 translation) per frame, Procrustes
                                          (VideoPose3D ``p_mpjpe``, "protocol 2")
PCK3D / AUC       :func:`pck3d`,          error < threshold, as MPI-INF-3DHP
                  :func:`auc_pck`
MRPE (x, y, z)    :func:`mrpe`            none; camera-frame roots (RootNet)
AP_root           :func:`ap_root`         none; score-ranked greedy matching (RootNet)
================  ======================  ==================================================

(mmpose's docstrings swap the P- and N- names; here P/PA = Procrustes, N = scale only.)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

import numpy as np

from poseboard.errors import InputError, ShapeError, check_shape

__all__ = [
    "ALIGNMENTS",
    "APRootResult",
    "Aligned",
    "Alignment",
    "RootAnnotations",
    "RootDetections",
    "align",
    "ap_root",
    "auc_pck",
    "auc_pck_per_frame",
    "check_units_mm",
    "mpjpe",
    "mrpe",
    "mrpe_per_sample",
    "n_mpjpe",
    "pa_mpjpe",
    "pck3d",
    "per_joint_errors",
]

Alignment = Literal["none", "root", "scale", "procrustes"]
ALIGNMENTS: tuple[str, ...] = get_args(Alignment)

#: The MPI-INF-3DHP AUC thresholds (``mpii_compute_3d_pck.m``): 0, 5, ..., 150 mm.
AUC_THRESHOLDS_MM = np.linspace(0.0, 150.0, 31)


# ----------------------------------------------------------------------------- helpers
def _as_float64(x: Any, name: str) -> np.ndarray:
    """An array-like or torch tensor as a float64 NumPy array (no copy if already one; never modified)."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name}: cannot convert to a float array ({err})") from None


def _check_finite(x: np.ndarray, name: str, joints: bool = True, unit: str = "frame") -> None:
    """Raise :class:`InputError` naming the frames (and joints) that hold NaN or inf.

    ``x`` is (..., J, 3) when ``joints`` (frames × joints), else (..., 3) points;
    ``unit`` names the leading index in the message ("frame", "person").
    """
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    where = np.argwhere(bad.any(axis=-1))  # rows: (frame indices..., [joint])
    lead = where.shape[1] - 1 if joints else where.shape[1]

    def frame(row: np.ndarray) -> str:
        idx = tuple(int(i) for i in row[:lead])
        return str(idx[0]) if len(idx) == 1 else str(idx)

    frames = list(dict.fromkeys(frame(r) for r in where))
    listed = ", ".join(frames[:20]) + (" ..." if len(frames) > 20 else "")
    if joints and not lead:  # a single (J, 3) pose
        raise InputError(f"{name}: NaN or inf at joint(s) {[int(r[-1]) for r in where[:20]]}")
    if joints:
        first = "; ".join(f"{unit} {frame(r)} joint {int(r[-1])}" for r in where[:5])
        raise InputError(
            f"{name}: {len(where)} joint position(s) contain NaN or inf, in {unit}(s) [{listed}] (first: {first})"
        )
    raise InputError(f"{name}: NaN or inf in {unit}(s) [{listed}]")


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _pose_pair(pred: Any, gt: Any, root: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (..., J, 3) prediction and ground truth of the same shape; float64."""
    p = _as_float64(pred, "pred")
    g = _as_float64(gt, "gt")
    check_shape(p, ["*", "J", 3], "pred (..., J, 3) mm")
    check_shape(g, ["*", "J", 3], "gt (..., J, 3) mm")
    if p.shape != g.shape:
        raise ShapeError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    _check_finite(p, "pred")
    _check_finite(g, "gt")
    n_joints = p.shape[-2]
    if root is not None and not 0 <= root < n_joints:
        raise InputError(f"root index {root} is outside 0..{n_joints - 1}")
    return p, g


# ----------------------------------------------------------------------------- alignment
class Aligned(NamedTuple):
    """Prediction and ground truth after :func:`align`, in the frame the error is taken in."""

    pred: np.ndarray
    gt: np.ndarray


def _procrustes(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Optimal similarity ``s R p + t`` of p onto g per frame (Umeyama 1991), batched.

    Minimises Σ_j ‖s R p_j + t − g_j‖² over rotations R (det +1: a reflection is
    never allowed, the sign of the last singular direction is flipped instead),
    s ≥ 0 and t. A prediction with all joints at one point gets s = 0 (it maps to
    the ground-truth centroid).
    """
    mu_p = p.mean(axis=-2, keepdims=True)
    mu_g = g.mean(axis=-2, keepdims=True)
    p0, g0 = p - mu_p, g - mu_g
    cov = np.einsum("...ji,...jk->...ik", g0, p0)  # Σ_j g0_j p0_jᵀ, (..., 3, 3)
    u, sing, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u = u.copy()
    u[..., :, 2] *= d[..., None]  # U diag(1, 1, d)
    rot = u @ vt  # R = U diag(1, 1, d) Vᵀ, det R = +1
    trace = sing[..., 0] + sing[..., 1] + d * sing[..., 2]
    var_p = np.sum(p0 * p0, axis=(-2, -1))
    scale = np.divide(trace, var_p, out=np.zeros_like(trace), where=var_p > 0)
    return scale[..., None, None] * np.einsum("...ij,...kj->...ki", rot, p0) + mu_g


def align(pred: Any, gt: Any, alignment: Alignment = "none", root: int = 6) -> Aligned:
    """Align a prediction to the ground truth as a metric prescribes; never in place.

    Args:
        pred: (..., J, 3) predicted joints, mm.
        gt: (..., J, 3) ground-truth joints, mm, same frame as ``pred``.
        alignment: ``"none"``: both unchanged (absolute error);
            ``"root"``: joint ``root`` subtracted from both (relative error; the
            root's own error becomes 0);
            ``"scale"``: both root-centred, then the prediction multiplied per frame by
            the least-squares scale s = ⟨p, g⟩ / ⟨p, p⟩ (N-MPJPE; s = 0 for an
            all-zero centred prediction);
            ``"procrustes"``: the prediction mapped by the optimal rotation (det +1,
            no reflection), scale and translation per frame (PA-MPJPE); gt unchanged.
        root: index of the root joint (6 = pelvis in the canonical H36M17 order);
            used by ``"root"`` and ``"scale"``.

    Returns:
        ``Aligned(pred, gt)``: both (..., J, 3) float64, new arrays. The ground truth
        is returned because ``"root"`` and ``"scale"`` root-centre it too.

    Example:
        >>> g = np.zeros((1, 17, 3)); g[0, :, 0] = np.arange(17)
        >>> a = align(g + 100.0, g, "root")
        >>> float(np.abs(a.pred - a.gt).max())
        0.0
    """
    _check_choice(alignment, ALIGNMENTS, "alignment")
    p, g = _pose_pair(pred, gt, root if alignment in ("root", "scale") else None)
    if alignment == "none":
        return Aligned(p.copy(), g.copy())
    if alignment == "procrustes":
        return Aligned(_procrustes(p, g), g.copy())
    p = p - p[..., root : root + 1, :]
    g = g - g[..., root : root + 1, :]
    if alignment == "root":
        return Aligned(p, g)
    num = np.sum(p * g, axis=(-2, -1))
    den = np.sum(p * p, axis=(-2, -1))
    scale = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return Aligned(scale[..., None, None] * p, g)


# ----------------------------------------------------------------------------- MPJPE family
def per_joint_errors(pred: Any, gt: Any, alignment: Alignment = "none", root: int = 6) -> np.ndarray:
    """Euclidean error of every joint after ``alignment`` (see :func:`align`).

    Args:
        pred, gt: (..., J, 3) joints, mm.

    Returns:
        (..., J) float64 errors in mm.
    """
    a = align(pred, gt, alignment, root)
    return np.linalg.norm(a.pred - a.gt, axis=-1)


def mpjpe(
    pred: Any,
    gt: Any,
    alignment: Alignment = "none",
    root: int = 6,
    clip_mm: float | None = None,
) -> np.ndarray:
    """Mean per-joint position error of each frame (MPJPE), mm.

    The mean is over **all** J joints. With ``alignment="root"`` (relative MPJPE)
    that includes the root joint, whose error is 0 by construction, exactly as
    learnable triangulation's ``evaluate`` (and most H36M code) averages 17 joints.

    Args:
        pred, gt: (..., J, 3) joints, mm.
        alignment: see :func:`align`; ``"none"`` = absolute MPJPE.
        root: root joint index for ``"root"`` / ``"scale"``.
        clip_mm: if set, each joint error is capped at this value before averaging
            (Epipolar Transformers' ``EPEmean``, 150 mm). ``None`` (default): no cap.

    Returns:
        (...,) float64 per-frame MPJPE in mm; the headline number is its mean
        (frame-weighted), see :mod:`poseboard.protocols.aggregate`.

    Example:
        >>> g = np.zeros((2, 17, 3)); p = g.copy(); p[1, :, 2] = 10.0
        >>> mpjpe(p, g).tolist(), mpjpe(p, g, "root").tolist()
        ([0.0, 10.0], [0.0, 0.0])
    """
    err = per_joint_errors(pred, gt, alignment, root)
    if clip_mm is not None:
        if not clip_mm > 0:
            raise InputError(f"clip_mm must be positive, got {clip_mm}")
        err = np.minimum(err, float(clip_mm))
    return err.mean(axis=-1)


def pa_mpjpe(pred: Any, gt: Any) -> np.ndarray:
    """PA-MPJPE (a.k.a. P-MPJPE, "protocol 2"): MPJPE after per-frame Procrustes, (...,) mm."""
    return mpjpe(pred, gt, "procrustes")


def n_mpjpe(pred: Any, gt: Any, root: int = 6) -> np.ndarray:
    """N-MPJPE: MPJPE after root-centring and the optimal per-frame scale, (...,) mm."""
    return mpjpe(pred, gt, "scale", root)


# ----------------------------------------------------------------------------- PCK / AUC
def pck3d(
    pred: Any,
    gt: Any,
    threshold_mm: float = 150.0,
    alignment: Alignment = "none",
    root: int = 6,
) -> np.ndarray:
    """3D PCK of each frame: the fraction of joints with error **strictly below** the threshold.

    Strict ``<`` as MPI-INF-3DHP's ``mpii_compute_3d_pck.m`` (so PCK at 0 mm is 0).

    Args:
        pred, gt: (..., J, 3) joints, mm.
        threshold_mm: distance threshold in mm (150 for MPI-INF-3DHP).
        alignment: see :func:`align` (MPI-INF-3DHP papers usually use ``"root"``).

    Returns:
        (...,) float64 fractions in [0, 1].
    """
    err = per_joint_errors(pred, gt, alignment, root)
    return (err < float(threshold_mm)).mean(axis=-1)


def auc_pck_per_frame(
    pred: Any,
    gt: Any,
    thresholds: Any = AUC_THRESHOLDS_MM,
    alignment: Alignment = "none",
    root: int = 6,
) -> np.ndarray:
    """Per-frame AUC: the mean of :func:`pck3d` over ``thresholds`` (mm), (...,) in [0, 1]."""
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thr.size == 0 or not np.all(np.isfinite(thr)):
        raise InputError("thresholds must be a non-empty list of finite distances (mm)")
    err = per_joint_errors(pred, gt, alignment, root)
    below = err[..., None] < thr  # (..., J, T)
    return below.mean(axis=(-2, -1))


def auc_pck(
    pred: Any,
    gt: Any,
    thresholds: Any = AUC_THRESHOLDS_MM,
    alignment: Alignment = "none",
    root: int = 6,
) -> float:
    """AUC of the 3D PCK curve as MPI-INF-3DHP: mean PCK over ``thresholds`` (default
    0, 5, ..., 150 mm, 31 values), over all frames and joints. A fraction in [0, 1].
    """
    per_frame = auc_pck_per_frame(pred, gt, thresholds, alignment, root)
    if per_frame.size == 0:
        raise InputError("auc_pck: no frames")
    return float(per_frame.mean())


# ----------------------------------------------------------------------------- MRPE
def mrpe_per_sample(pred_root: Any, gt_root: Any) -> dict[str, np.ndarray]:
    """Root position errors of each sample (RootNet's MRPE before the mean).

    Args:
        pred_root: (..., 3) predicted root, camera coordinates, mm.
        gt_root: (..., 3) ground-truth root, same frame and units.

    Returns:
        ``{"mrpe": ‖Δ‖₂, "mrpe_x": |Δx|, "mrpe_y": |Δy|, "mrpe_z": |Δz|}``, each (...,)
        float64 mm, ready for :func:`poseboard.protocols.aggregate.summarize`.
    """
    p = _as_float64(pred_root, "pred_root")
    g = _as_float64(gt_root, "gt_root")
    check_shape(p, ["*", 3], "pred_root (..., 3) mm")
    check_shape(g, ["*", 3], "gt_root (..., 3) mm")
    if p.shape != g.shape:
        raise ShapeError(f"pred_root and gt_root must match, got {p.shape} and {g.shape}")
    _check_finite(p, "pred_root", joints=False)
    _check_finite(g, "gt_root", joints=False)
    d = p - g
    return {
        "mrpe": np.linalg.norm(d, axis=-1),
        "mrpe_x": np.abs(d[..., 0]),
        "mrpe_y": np.abs(d[..., 1]),
        "mrpe_z": np.abs(d[..., 2]),
    }


def mrpe(pred_root: Any, gt_root: Any) -> dict[str, float]:
    """Mean root position error (RootNet, Human3.6M), mm.

    ``mrpe`` is the mean Euclidean distance; ``mrpe_x``/``_y``/``_z`` are the
    per-axis **mean absolute** errors (means of |Δx| etc., not components of
    ``mrpe``: they do not combine into it). Inputs as :func:`mrpe_per_sample`.

    Example:
        >>> mrpe([[3.0, 4.0, 0.0]], [[0.0, 0.0, 0.0]])
        {'mrpe': 5.0, 'mrpe_x': 3.0, 'mrpe_y': 4.0, 'mrpe_z': 0.0}
    """
    per = mrpe_per_sample(pred_root, gt_root)
    if per["mrpe"].size == 0:
        raise InputError("mrpe: no samples")
    return {k: float(v.mean()) for k, v in per.items()}


# ----------------------------------------------------------------------------- AP_root
@dataclass(frozen=True, eq=False)
class RootDetections:
    """The roots a method predicts in one image.

    Attributes:
        image_id: the image, as in :class:`RootAnnotations`.
        roots: (K, 3) predicted roots, camera coordinates, mm.
        scores: (K,) detection scores (higher = more confident); ranking only.
    """

    image_id: Hashable
    roots: Any
    scores: Any

    def __post_init__(self) -> None:
        where = f"detections of image {self.image_id!r}"
        roots = _as_float64(self.roots, f"{where}: roots")
        scores = _as_float64(self.scores, f"{where}: scores")
        k = check_shape(roots, ["K", 3], f"{where}: roots (K, 3) mm")["K"]
        check_shape(scores, [k], f"{where}: scores (K,)")
        _check_finite(roots, f"{where}: roots", joints=False, unit="person")
        if not np.all(np.isfinite(scores)):
            raise InputError(f"{where}: scores contain NaN or inf")
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "scores", scores)


@dataclass(frozen=True, eq=False)
class RootAnnotations:
    """The ground-truth roots of one image.

    Attributes:
        image_id: the image (any hashable, unique among the annotations).
        roots: (M, 3) ground-truth roots, camera coordinates, mm (MuPoTS: the pelvis,
            index 14 of ``keypoints_cam``). Invalid rows may hold NaN.
        valid: (M,) bool, MuPoTS' ``is_valid``; ``None`` means all valid. Invalid
            people are never matched and do not count in the number of GT.
    """

    image_id: Hashable
    roots: Any
    valid: Any = None

    def __post_init__(self) -> None:
        where = f"annotations of image {self.image_id!r}"
        roots = _as_float64(self.roots, f"{where}: roots")
        if roots.size == 0:
            roots = roots.reshape(0, 3)
        m = check_shape(roots, ["M", 3], f"{where}: roots (M, 3) mm")["M"]
        if self.valid is None:
            valid = np.ones(m, dtype=bool)
        else:
            v = self.valid.detach().cpu().numpy() if hasattr(self.valid, "detach") else self.valid
            valid = np.asarray(v).astype(bool).reshape(-1)
            check_shape(valid, [m], f"{where}: valid (M,)")
        checked = np.where(valid[:, None], roots, 0.0)  # invalid people may hold NaN
        _check_finite(checked, f"{where}: valid roots", joints=False, unit="person")
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "valid", valid)


@dataclass(frozen=True, eq=False)
class APRootResult:
    """The outcome of :func:`ap_root`. AP values are fractions (RootNet prints 0.310 = 31.0).

    Attributes:
        ap: Σ_n precision_n (recall_n − recall_{n−1}) with recall_0 = 0.
        ap_rootnet_script: the same sum without its first term (RootNet's script).
        precision, recall: (P,) cumulative values over the P counted predictions, in
            rank order.
        is_tp: (P,) bool, whether each counted prediction (rank order) is a TP.
        tp, fp: totals. ``num_gt``: valid ground-truth roots. ``num_ignored``:
            predictions in images without valid ground truth (neither TP nor FP).
    """

    ap: float
    ap_rootnet_script: float
    precision: np.ndarray
    recall: np.ndarray
    is_tp: np.ndarray
    tp: int
    fp: int
    num_gt: int
    num_ignored: int
    threshold_mm: float
    #: (P,) rank order: the slot (position in ``image_ids``) of each counted prediction's image.
    image_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: image ids of the ground truth, in the given order, and their valid ground-truth roots.
    image_ids: tuple[Hashable, ...] = ()
    gt_per_image: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        """Scalars only, JSON-ready (the curves stay in the object)."""
        return {
            "ap": self.ap,
            "ap_rootnet_script": self.ap_rootnet_script,
            "tp": self.tp,
            "fp": self.fp,
            "num_gt": self.num_gt,
            "num_ignored": self.num_ignored,
            "threshold_mm": self.threshold_mm,
        }


def ap_root(
    predictions: Sequence[RootDetections],
    ground_truth: Sequence[RootAnnotations],
    threshold_mm: float = 250.0,
) -> APRootResult:
    """Average precision of 3D root localisation, AP^root (RootNet, MuPoTS-3D, 25 cm).

    Algorithm (RootNet's ``MuPoTS_eval.calculate_score``):

    1. Pool the predictions of all images and rank them by score, highest first;
       ties keep the input order (a stable sort: images in the given order, then
       people within an image).
    2. In turn, each prediction is matched to the **nearest valid** ground-truth root
       of its image (first one on a distance tie). It is a TP if that distance is
       ``< threshold_mm`` and that ground truth is not matched yet (it then is);
       otherwise an FP. There is no fall-back to the second-nearest root.
       Predictions in images without any valid ground truth count as neither and
       add no point to the curve.
    3. ``precision_n = TP_n / n``, ``recall_n = TP_n / num_gt`` (cumulative over the
       counted predictions), ``num_gt`` = all valid ground-truth roots.
    4. ``ap = Σ_{n≥1} precision_n (recall_n − recall_{n−1})`` with recall_0 = 0: the
       non-interpolated rectangle sum (no precision envelope; neither VOC 11-point
       nor COCO 101-point).

    ``ap_rootnet_script`` is what RootNet's script prints: the same sum started at
    the **second** prediction (``for n in range(len(precision) - 1): AP +=
    precision[n+1] * (recall[n+1] - recall[n])``), so the first recall step is lost.
    They differ by exactly ``precision_1 · recall_1``: 1/num_gt when the top-ranked
    prediction is a TP, 0 when it is an FP. Report ``ap``; ``ap_rootnet_script`` is
    there to compare with the published number (README AP_25 = 31.0).

    Args:
        predictions: one :class:`RootDetections` per image (images may be omitted;
            an image id may appear once).
        ground_truth: one :class:`RootAnnotations` per evaluated image, ids unique.
        threshold_mm: match distance in mm (250 = AP^root_25).

    Returns:
        :class:`APRootResult`.

    Raises:
        InputError: unknown or duplicate image ids, no valid ground truth at all,
            a non-positive threshold.
    """
    if not threshold_mm > 0:
        raise InputError(f"threshold_mm must be positive, got {threshold_mm}")
    gt_by_image: dict[Hashable, np.ndarray] = {}
    for ann in ground_truth:
        if ann.image_id in gt_by_image:
            raise InputError(f"ap_root: image {ann.image_id!r} annotated twice")
        gt_by_image[ann.image_id] = ann.roots[ann.valid]
    num_gt = sum(len(r) for r in gt_by_image.values())
    if num_gt == 0:
        raise InputError("ap_root: no valid ground-truth root; AP is undefined")

    # Per prediction, in pooled input order: score, image slot, nearest valid GT, distance.
    scores, slots, nearest, dists = [], [], [], []
    image_slot: dict[Hashable, int] = {}
    gt_slot = {image_id: k for k, image_id in enumerate(gt_by_image)}
    num_ignored = 0
    for det in predictions:
        if det.image_id not in gt_by_image:
            raise InputError(f"ap_root: predictions for image {det.image_id!r}, which has no annotation")
        if det.image_id in image_slot:
            raise InputError(f"ap_root: predictions for image {det.image_id!r} given twice")
        image_slot[det.image_id] = len(image_slot)
        slot = gt_slot[det.image_id]
        gts = gt_by_image[det.image_id]
        k = len(det.scores)
        if len(gts) == 0:
            num_ignored += k
            continue
        d = np.linalg.norm(det.roots[:, None, :] - gts[None, :, :], axis=-1)  # (K, M)
        idx = np.argmin(d, axis=1)  # first minimum on ties, as the reference's strict '>'
        scores.append(det.scores)
        slots.append(np.full(k, slot))
        nearest.append(idx)
        dists.append(d[np.arange(k), idx])

    if scores:
        score = np.concatenate(scores)
        slot_of = np.concatenate(slots)
        nearest_of = np.concatenate(nearest)
        dist_of = np.concatenate(dists)
    else:
        score = slot_of = nearest_of = dist_of = np.zeros(0)
    order = np.argsort(-score, kind="stable")

    matched: set[tuple[int, int]] = set()
    is_tp = np.zeros(len(order), dtype=bool)
    for rank, i in enumerate(order):
        if dist_of[i] < threshold_mm:
            key = (int(slot_of[i]), int(nearest_of[i]))
            if key not in matched:
                matched.add(key)
                is_tp[rank] = True

    tp_cum = np.cumsum(is_tp)
    n = np.arange(1, len(order) + 1)
    precision = tp_cum / n if len(order) else np.zeros(0)
    recall = tp_cum / num_gt if len(order) else np.zeros(0)
    steps = np.diff(np.concatenate([[0.0], recall]))
    terms = precision * steps
    return APRootResult(
        ap=float(terms.sum()),
        ap_rootnet_script=float(terms[1:].sum()),
        precision=precision,
        recall=recall,
        is_tp=is_tp,
        tp=int(is_tp.sum()),
        fp=int((~is_tp).sum()),
        num_gt=int(num_gt),
        num_ignored=int(num_ignored),
        threshold_mm=float(threshold_mm),
        image_of=slot_of[order].astype(np.int64),
        image_ids=tuple(gt_by_image),
        gt_per_image=np.array([len(r) for r in gt_by_image.values()], dtype=np.int64),
    )


def ap_root_bootstrap_ci(
    result: APRootResult,
    groups: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`ap_root`'s ``ap`` (a fraction), resampling
    whole groups of images (sequences: frames of one sequence are correlated).

    A prediction can only match the ground truth of its own image, so each prediction's
    TP/FP flag does not depend on the other images: a resample repeats each drawn
    image's predictions (in rank order) and ground truth as many times as its group was
    drawn, and the AP of the pooled, re-ranked list is recomputed exactly.

    Args:
        result: the :func:`ap_root` result on the full data.
        groups: (len(result.image_ids),) group label of each image, in ``image_ids`` order.
        n_resamples, confidence, seed: as :func:`poseboard.protocols.aggregate.bootstrap_ci`.
    """
    labels = np.asarray(groups)
    if labels.shape != (len(result.image_ids),):
        raise InputError(f"ap_root_bootstrap_ci: {labels.shape[0] if labels.ndim else 0} group labels for "
                         f"{len(result.image_ids)} images")
    names, group_of = np.unique(labels, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(names), np.full(len(names), 1.0 / len(names)), size=n_resamples)
    values = np.empty(n_resamples)
    for k, counts in enumerate(draws):
        weight = counts[group_of]  # per image
        num_gt = float((weight * result.gt_per_image).sum())
        if num_gt == 0:
            values[k] = np.nan
            continue
        rep = np.repeat(np.arange(len(result.is_tp)), weight[result.image_of])
        tp = result.is_tp[rep]
        precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
        values[k] = float(precision[tp].sum() / num_gt)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.nanquantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- units
def check_units_mm(joints: Any, name: str = "joints", min_extent_mm: float = 10.0) -> None:
    """Raise :class:`InputError` if poses look like metres rather than millimetres.

    The extent of a pose is the diagonal of its joints' bounding box (about 1700 mm
    for a standing adult, still several hundred mm when crouching); a median extent
    below ``min_extent_mm`` means metres (≈ 1.7) or a degenerate pose set. NaN
    joints (e.g. invalid people) are ignored.

    Args:
        joints: (..., J, 3) poses, J ≥ 2, expected in mm.
        name: what to call them in the message (e.g. ``"MuPoTS keypoints_cam"``).

    Example:
        >>> metres = np.random.default_rng(0).normal(size=(4, 17, 3)) * 0.5
        >>> check_units_mm(metres)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        poseboard.errors.InputError: joints look like metres, not millimetres: ...
    """
    x = _as_float64(joints, name)
    dims = check_shape(x, ["*", "J", 3], f"{name} (..., J, 3)")
    if dims["J"] < 2:
        raise ShapeError(f"{name}: need at least 2 joints per pose to judge units")
    x = x.reshape(-1, dims["J"], 3)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x).all(axis=-1)  # (P, J)
        lo = np.where(finite[..., None], x, np.inf).min(axis=-2)
        hi = np.where(finite[..., None], x, -np.inf).max(axis=-2)
    usable = finite.sum(axis=-1) >= 2
    if not usable.any():
        raise InputError(f"{name}: no pose with at least two finite joints")
    extent = np.linalg.norm(hi[usable] - lo[usable], axis=-1)
    median = float(np.median(extent))
    if median < min_extent_mm:
        raise InputError(
            f"{name} look like metres, not millimetres: the median pose extent is "
            f"{median:.3g} (< {min_extent_mm:g}); poseboard works in mm (multiply by 1000)"
        )
