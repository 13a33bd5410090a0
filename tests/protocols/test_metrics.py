"""Metrics: hand-computed cases, invariances and the textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize, minimize_scalar
from scipy.spatial.transform import Rotation

from poseboard.errors import InputError, ShapeError
from poseboard.protocols.metrics import (
    ALIGNMENTS,
    RootAnnotations,
    RootDetections,
    align,
    ap_root,
    auc_pck,
    auc_pck_per_frame,
    check_units_mm,
    mpjpe,
    mrpe,
    mrpe_per_sample,
    n_mpjpe,
    pa_mpjpe,
    pck3d,
    per_joint_errors,
)
from poseboard.skeleton import H36M17


def random_poses(rng: np.random.Generator, n: int = 4, j: int = 17) -> np.ndarray:
    """Non-planar, asymmetric point sets of human size (mm)."""
    return rng.normal(scale=400.0, size=(n, j, 3)) + np.array([0.0, 0.0, 900.0])


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


# ----------------------------------------------------------------------------- MPJPE by hand
def hand_case() -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[0, 0] = [3.0, 4.0, 0.0]  # frame 0: one joint off by 5 mm
    pred[1] += [0.0, 0.0, 2.0]  # frame 1: everything translated by 2 mm
    return pred, gt


def test_mpjpe_absolute_by_hand():
    pred, gt = hand_case()
    np.testing.assert_allclose(mpjpe(pred, gt), [5.0 / 3.0, 2.0])
    np.testing.assert_allclose(mpjpe(pred, gt, "none", root=0), [5.0 / 3.0, 2.0])


def test_mpjpe_relative_by_hand_includes_root():
    pred, gt = hand_case()
    # root = joint 0: frame 0's root error moves every other joint by 5 mm; the root's
    # own error (0) is averaged in: (0 + 5 + 5) / 3. Frame 1: a pure translation → 0.
    np.testing.assert_allclose(mpjpe(pred, gt, "root", root=0), [10.0 / 3.0, 0.0])
    errs = per_joint_errors(pred, gt, "root", root=0)
    assert errs.shape == (2, 3)
    np.testing.assert_allclose(errs, [[0.0, 5.0, 5.0], [0.0, 0.0, 0.0]])


def test_per_joint_errors_by_hand():
    gt = np.zeros((1, 4, 3))
    pred = np.array([[[1.0, 0, 0], [0, 2.0, 0], [0, 0, -3.0], [1.0, 2.0, 2.0]]])
    np.testing.assert_allclose(per_joint_errors(pred, gt), [[1.0, 2.0, 3.0, 3.0]])
    assert per_joint_errors(pred, gt).dtype == np.float64


def test_mpjpe_clip_as_epipolar_transformers():
    gt = np.zeros((1, 2, 3))
    pred = np.array([[[0.0, 0.0, 400.0], [0.0, 0.0, 50.0]]])
    np.testing.assert_allclose(mpjpe(pred, gt, clip_mm=150.0), [(150.0 + 50.0) / 2])
    with pytest.raises(InputError):
        mpjpe(pred, gt, clip_mm=0.0)


def test_align_does_not_modify_inputs_and_returns_gt():
    rng = np.random.default_rng(0)
    gt, pred = random_poses(rng), random_poses(rng)
    gt0, pred0 = gt.copy(), pred.copy()
    for alignment in ALIGNMENTS:
        out = align(pred, gt, alignment)
        assert out.pred.shape == out.gt.shape == gt.shape
        assert out.pred is not pred and out.gt is not gt
    np.testing.assert_array_equal(gt, gt0)
    np.testing.assert_array_equal(pred, pred0)
    root_aligned = align(pred, gt, "root")
    np.testing.assert_allclose(root_aligned.gt, gt - gt[:, 6:7])  # gt root-subtracted too
    np.testing.assert_array_equal(align(pred, gt, "procrustes").gt, gt)  # gt untouched


@settings(max_examples=50, deadline=None)
@given(
    t=st.lists(st.floats(-1e4, 1e4), min_size=3, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_root_alignment_removes_any_translation(t, seed):
    rng = np.random.default_rng(seed)
    gt = random_poses(rng)
    shifted = gt + np.asarray(t)
    np.testing.assert_allclose(mpjpe(shifted, gt, "root"), 0.0, atol=1e-8)
    # and for the relative error of a noisy pose, a shift changes nothing
    noisy = gt + rng.normal(scale=20.0, size=gt.shape)
    np.testing.assert_allclose(mpjpe(noisy + np.asarray(t), gt, "root"), mpjpe(noisy, gt, "root"), atol=1e-8)


# ----------------------------------------------------------------------------- N-MPJPE
def test_scale_alignment_by_hand():
    gt = np.array([[[0.0, 0, 0], [10.0, 0, 0]]])
    pred = np.array([[[0.0, 0, 0], [20.0, 10.0, 0]]])
    # s = <p, g> / <p, p> = 200 / 500 = 0.4 → s p = (8, 4, 0); error √20 on joint 1.
    out = align(pred, gt, "scale", root=0)
    np.testing.assert_allclose(out.pred[0, 1], [8.0, 4.0, 0.0])
    np.testing.assert_allclose(n_mpjpe(pred, gt, root=0), [np.sqrt(20.0) / 2])
    # a pure scaling of the root-centred pose is removed entirely
    np.testing.assert_allclose(n_mpjpe(3.0 * gt, gt, root=0), [0.0], atol=1e-12)


def test_scale_alignment_is_the_least_squares_scale():
    rng = np.random.default_rng(1)
    gt = random_poses(rng, n=1)
    pred = 1.3 * gt + rng.normal(scale=50.0, size=gt.shape)
    p, g = pred[0] - pred[0, 6], gt[0] - gt[0, 6]
    best = minimize_scalar(lambda s: np.sum((s * p - g) ** 2)).x
    np.testing.assert_allclose(align(pred, gt, "scale").pred[0], best * p, rtol=1e-6)
    assert n_mpjpe(pred, gt)[0] <= mpjpe(pred, gt, "root")[0] + 1e-9


def test_scale_alignment_degenerate_prediction():
    gt = random_poses(np.random.default_rng(2), n=1)
    pred = np.zeros_like(gt)  # every joint at the root: s = 0, no division by zero
    out = align(pred, gt, "scale")
    assert np.all(np.isfinite(out.pred))
    np.testing.assert_allclose(n_mpjpe(pred, gt), mpjpe(out.pred, out.gt))


# ----------------------------------------------------------------------------- PA-MPJPE
@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    scale=st.floats(0.05, 20.0),
    t=st.lists(st.floats(-5e3, 5e3), min_size=3, max_size=3),
)
def test_procrustes_removes_any_similarity(seed, scale, t):
    rng = np.random.default_rng(seed)
    gt = random_poses(rng, n=3)
    rot = np.stack([random_rotation(rng) for _ in range(3)])
    pred = scale * np.einsum("nij,nkj->nki", rot, gt) + np.asarray(t)
    np.testing.assert_allclose(pa_mpjpe(pred, gt), 0.0, atol=1e-6)
    np.testing.assert_allclose(align(pred, gt, "procrustes").pred, gt, atol=1e-6)


def test_procrustes_never_reflects():
    rng = np.random.default_rng(3)
    gt = random_poses(rng, n=2)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a reflection, not reachable by a rotation
    rot = random_rotation(rng)
    pred = 0.7 * mirrored @ rot.T + 100.0
    err = pa_mpjpe(pred, gt)
    assert np.all(err > 10.0)  # an unconstrained orthogonal fit would give 0
    aligned = align(pred, gt, "procrustes").pred
    # the fitted map is a proper similarity: the aligned pose is not mirrored
    p0 = pred[0] - pred[0].mean(0)
    a0 = aligned[0] - aligned[0].mean(0)
    m, *_ = np.linalg.lstsq(p0, a0, rcond=None)
    assert np.linalg.det(m) > 0


def textbook_pa(pred: np.ndarray, gt: np.ndarray) -> float:
    """min over rotation, scale, translation of Σ‖s R p + t − g‖², then the mean error."""

    def cost(x: np.ndarray) -> float:
        r = Rotation.from_rotvec(x[:3]).as_matrix()
        moved = np.exp(x[3]) * pred @ r.T + x[4:]
        return float(np.sum((moved - gt) ** 2))

    best = None
    for start in Rotation.random(8, random_state=0).as_rotvec():
        x0 = np.concatenate([start, [0.0], gt.mean(0) - pred.mean(0)])
        res = minimize(cost, x0, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
        if best is None or res.fun < best.fun:
            best = res
    r = Rotation.from_rotvec(best.x[:3]).as_matrix()
    moved = np.exp(best.x[3]) * pred @ r.T + best.x[4:]
    return float(np.linalg.norm(moved - gt, axis=-1).mean())


@pytest.mark.parametrize("mirror", [False, True])
def test_procrustes_matches_textbook_optimum(mirror):
    rng = np.random.default_rng(4)
    gt = random_poses(rng, n=1, j=8)[0] / 100.0  # metre-ish scale keeps BFGS well conditioned
    pred = 1.5 * gt @ random_rotation(rng).T + 2.0 + rng.normal(scale=0.3, size=gt.shape)
    if mirror:
        pred = pred * np.array([1.0, -1.0, 1.0])
    ours = pa_mpjpe(pred[None], gt[None])[0]
    np.testing.assert_allclose(ours, textbook_pa(pred, gt), rtol=1e-4)


# ----------------------------------------------------------------------------- PCK / AUC
def pck_case() -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((1, 4, 3))
    pred = np.zeros((1, 4, 3))
    pred[0, :, 0] = [0.0, 100.0, 150.0, 200.0]  # joint errors 0, 100, 150, 200 mm
    return pred, gt


def test_pck3d_by_hand_strict_threshold():
    pred, gt = pck_case()
    np.testing.assert_allclose(pck3d(pred, gt, 150.0), [0.5])  # 150 is not < 150
    np.testing.assert_allclose(pck3d(pred, gt, 150.1), [0.75])
    np.testing.assert_allclose(pck3d(pred, gt, 0.0), [0.0])


def test_auc_by_hand_and_by_definition():
    pred, gt = pck_case()
    # thresholds 0, 50, 150, 250 → PCK 0, 1/4, 2/4, 4/4 → mean 0.4375
    assert auc_pck(pred, gt, thresholds=[0.0, 50.0, 150.0, 250.0]) == pytest.approx(0.4375)
    rng = np.random.default_rng(5)
    gt = random_poses(rng, n=6)
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    curve = [pck3d(pred, gt, t, "root").mean() for t in np.linspace(0, 150, 31)]
    assert auc_pck(pred, gt, alignment="root") == pytest.approx(np.mean(curve))
    assert auc_pck_per_frame(pred, gt, alignment="root").shape == (6,)


# ----------------------------------------------------------------------------- MRPE
def test_mrpe_components_by_hand():
    pred = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -12.0]])
    gt = np.zeros((2, 3))
    out = mrpe(pred, gt)
    assert out == pytest.approx({"mrpe": 8.5, "mrpe_x": 1.5, "mrpe_y": 2.0, "mrpe_z": 6.0})
    per = mrpe_per_sample(pred, gt)
    np.testing.assert_allclose(per["mrpe"], [5.0, 12.0])
    np.testing.assert_allclose(per["mrpe_z"], [0.0, 12.0])
    with pytest.raises(ShapeError):
        mrpe(pred[:, :2], gt[:, :2])
    bad = pred.copy()
    bad[1, 2] = np.nan
    with pytest.raises(InputError, match=r"frame\(s\) \[1\]"):
        mrpe(bad, gt)


# ----------------------------------------------------------------------------- AP_root
def ap_case() -> tuple[list[RootDetections], list[RootAnnotations]]:
    gt = [
        RootAnnotations("A", [[0.0, 0, 3000], [300.0, 0, 3000]]),
        RootAnnotations("B", [[0.0, 0, 5000], [500.0, 0, 5000]], valid=[True, False]),
        RootAnnotations("C", [[np.nan, np.nan, np.nan]], valid=[False]),  # only invalid GT
        RootAnnotations("D", np.zeros((0, 3))),  # nobody annotated
    ]
    preds = [
        RootDetections(
            "A",
            [[10.0, 0, 3000], [100.0, 0, 3000], [300.0, 0, 3240]],
            [0.9, 0.8, 0.6],
        ),
        RootDetections("B", [[0.0, 0, 5100], [500.0, 0, 5000]], [0.95, 0.5]),
        RootDetections("C", [[0.0, 0, 4000]], [0.99]),
        RootDetections("D", [[0.0, 0, 4000]], [0.7]),
    ]
    return preds, gt


def test_ap_root_by_hand():
    preds, gt = ap_case()
    res = ap_root(preds, gt, threshold_mm=250.0)
    # Ranked counted predictions (C and D have no valid GT: ignored):
    #   B0 .95 TP | A0 .9 TP | A1 .8 FP (nearest A-GT 0 already matched; no fall-back to
    #   A-GT 1 at 200 mm) | A2 .6 TP (240 mm) | B1 .5 FP (the invalid GT at 0 mm is not
    #   a candidate; nearest valid is 500 mm away).
    np.testing.assert_array_equal(res.is_tp, [True, True, False, True, False])
    np.testing.assert_allclose(res.precision, [1, 1, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(res.recall, [1 / 3, 2 / 3, 2 / 3, 1, 1])
    # AP = 1·1/3 + 1·1/3 + 2/3·0 + 3/4·1/3 + 3/5·0, the first recall step included
    assert res.ap == pytest.approx(11 / 12)
    assert res.ap_rootnet_script == pytest.approx(11 / 12 - 1 / 3)
    assert (res.tp, res.fp, res.num_gt, res.num_ignored) == (3, 2, 3, 2)
    assert res.to_dict()["ap"] == pytest.approx(11 / 12)


def test_ap_root_threshold_is_strict():
    gt = [RootAnnotations(0, [[0.0, 0, 3000]])]
    preds = [RootDetections(0, [[250.0, 0, 3000]], [1.0])]
    assert ap_root(preds, gt, 250.0).tp == 0
    assert ap_root(preds, gt, 250.001).tp == 1


def test_ap_root_duplicates_and_stable_ties():
    gt = [RootAnnotations(0, [[0.0, 0, 3000]])]
    dup = [RootDetections(0, [[5.0, 0, 3000], [5.0, 0, 3000]], [0.5, 0.5])]
    res = ap_root(dup, gt)
    np.testing.assert_array_equal(res.is_tp, [True, False])  # the duplicate is an FP
    assert res.ap == pytest.approx(1.0)
    assert res.ap_rootnet_script == pytest.approx(0.0)
    # equal scores keep the input order: a far prediction first is ranked first
    far_first = [RootDetections(0, [[900.0, 0, 3000], [5.0, 0, 3000]], [0.5, 0.5])]
    res = ap_root(far_first, gt)
    np.testing.assert_array_equal(res.is_tp, [False, True])
    assert res.ap == pytest.approx(0.5)  # 0·0 + 1/2·1
    assert res.ap_rootnet_script == pytest.approx(res.ap)  # top-ranked FP: no lost step


def reference_ap(preds, gt, thr):
    """A literal transcription of the published algorithm, one prediction at a time."""
    pooled = [(s, d.image_id, r) for d in preds for r, s in zip(d.roots, d.scores, strict=True)]
    pooled.sort(key=lambda x: x[0], reverse=True)  # Python's sort is stable
    anns = {a.image_id: a for a in gt}
    gt_num = sum(int(a.valid.sum()) for a in gt)
    tp = fp = 0
    precision, recall, matched = [], [], {}
    for _, image_id, root in pooled:
        a = anns[image_id]
        if a.valid.sum() == 0:
            continue
        matched.setdefault(image_id, [0] * len(a.roots))
        min_dist, save = 9999.0, -1
        for k, (g, ok) in enumerate(zip(a.roots, a.valid, strict=True)):
            if ok:
                dist = float(np.sqrt(np.sum((root - g) ** 2)))
                if min_dist > dist:
                    min_dist, save = dist, k
        if save != -1 and min_dist < thr and matched[image_id][save] == 0:
            matched[image_id][save] = 1
            tp += 1
        else:
            fp += 1
        precision.append(tp / (tp + fp))
        recall.append(tp / gt_num)
    script = sum(precision[n + 1] * (recall[n + 1] - recall[n]) for n in range(len(precision) - 1))
    full = script + (precision[0] * recall[0] if precision else 0.0)
    return full, script


@pytest.mark.parametrize("seed", range(5))
def test_ap_root_matches_reference_transcription(seed):
    rng = np.random.default_rng(seed)
    gt, preds = [], []
    for i in range(12):
        m = int(rng.integers(0, 4))
        roots = rng.uniform([-1500, -500, 2000], [1500, 500, 7000], size=(m, 3))
        valid = rng.random(m) < 0.8
        gt.append(RootAnnotations(i, roots, valid))
        k = int(rng.integers(0, 5))
        base = roots[rng.integers(0, m, size=k)] if m else np.full((k, 3), 4000.0)
        guess = base + rng.normal(scale=200.0, size=(k, 3))
        preds.append(RootDetections(i, guess, rng.integers(0, 4, size=k) / 4.0))  # many ties
    if not any(a.valid.any() for a in gt):
        pytest.skip("no valid ground truth drawn")
    res = ap_root(preds, gt, 250.0)
    full, script = reference_ap(preds, gt, 250.0)
    assert res.ap == pytest.approx(full)
    assert res.ap_rootnet_script == pytest.approx(script)


def test_ap_root_errors():
    preds, gt = ap_case()
    with pytest.raises(InputError, match="no annotation"):
        ap_root([RootDetections("Z", [[0.0, 0, 1]], [1.0])], gt)
    with pytest.raises(InputError, match="twice"):
        ap_root(preds, [*gt, RootAnnotations("A", [[0.0, 0, 1]])])
    with pytest.raises(InputError, match="no valid ground-truth"):
        ap_root([], [RootAnnotations("C", [[0.0, 0, 1]], valid=[False])])
    with pytest.raises(ShapeError):
        RootDetections("A", [[0.0, 0, 1]], [1.0, 2.0])
    with pytest.raises(InputError, match=r"person\(s\) \[1\]"):
        RootDetections("A", [[0.0, 0, 1], [np.nan, 0, 1]], [1.0, 2.0])
    with pytest.raises(InputError):
        RootAnnotations("A", [[np.nan, 0, 1]], valid=[True])
    assert ap_root([], gt).ap == 0.0


# ----------------------------------------------------------------------------- input checks
def test_nan_prediction_names_frame_and_joint():
    rng = np.random.default_rng(6)
    gt = random_poses(rng, n=5)
    pred = gt.copy()
    pred[3, 5, 1] = np.nan
    with pytest.raises(InputError, match=r"pred: .*frame\(s\) \[3\].*frame 3 joint 5"):
        mpjpe(pred, gt)
    pred[3, 5, 1] = np.inf
    with pytest.raises(InputError, match="frame 3 joint 5"):
        pa_mpjpe(pred, gt)


@pytest.mark.parametrize(
    ("pred_shape", "gt_shape"),
    [((4, 17, 2), (4, 17, 2)), ((4, 17, 3), (4, 16, 3)), ((4, 17, 3), (5, 17, 3)), ((3,), (3,))],
)
def test_wrong_shape_is_shape_error(pred_shape, gt_shape):
    with pytest.raises(ShapeError):
        mpjpe(np.zeros(pred_shape), np.zeros(gt_shape))


def test_bad_options():
    gt = np.zeros((1, 17, 3))
    with pytest.raises(ValueError, match="procrustes"):
        mpjpe(gt, gt, alignment="rigid")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="root index"):
        mpjpe(gt, gt, "root", root=17)


def test_torch_input_float64_numpy_output():
    rng = np.random.default_rng(7)
    gt = random_poses(rng, n=3)
    pred = gt + rng.normal(scale=30.0, size=gt.shape)
    tp = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
    out = mpjpe(tp, torch.tensor(gt), "root")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, mpjpe(pred, gt, "root"), atol=1e-3)


def test_batch_agnostic_leading_dims():
    rng = np.random.default_rng(8)
    gt = random_poses(rng, n=6).reshape(2, 3, 17, 3)
    pred = gt + rng.normal(scale=30.0, size=gt.shape)
    for alignment in ALIGNMENTS:
        out = mpjpe(pred, gt, alignment)
        assert out.shape == (2, 3)
        flat = mpjpe(pred.reshape(6, 17, 3), gt.reshape(6, 17, 3), alignment)
        np.testing.assert_allclose(out.reshape(-1), flat)


def test_check_units_mm():
    rng = np.random.default_rng(9)
    poses_mm = random_poses(rng, n=10)
    check_units_mm(poses_mm, "gt")  # passes
    with pytest.raises(InputError, match="metres"):
        check_units_mm(poses_mm / 1000.0, "gt")
    with_nan = poses_mm.copy()
    with_nan[0, :3] = np.nan  # invalid joints are ignored, not fatal
    check_units_mm(with_nan)
    with pytest.raises(ShapeError):
        check_units_mm(np.zeros((10, 1, 3)))  # a single joint has no extent


def test_h36m17_root_is_the_default():
    assert H36M17.root == 6
    rng = np.random.default_rng(10)
    gt = random_poses(rng)
    pred = gt + rng.normal(scale=20.0, size=gt.shape)
    np.testing.assert_allclose(mpjpe(pred, gt, "root"), mpjpe(pred, gt, "root", root=H36M17.root))
    assert np.all(per_joint_errors(pred, gt, "root")[:, 6] == 0.0)


def test_ap_root_bootstrap_reproduces_ap_and_brackets_it():
    """Resampling every group exactly once gives back ``ap``; the interval holds it."""
    from poseboard.protocols.metrics import RootAnnotations, RootDetections, ap_root, ap_root_bootstrap_ci

    rng = np.random.default_rng(0)
    anns, dets = [], []
    for i in range(40):
        gts = rng.uniform(-2000, 2000, (3, 3)) + [0, 0, 5000]
        anns.append(RootAnnotations(f"img{i}", gts, np.array([True, True, i % 5 != 0])))
        noise = rng.normal(0, 200, gts.shape)
        dets.append(RootDetections(f"img{i}", gts + noise, rng.uniform(0, 1, 3)))
    res = ap_root(dets, anns, 250.0)
    groups = np.array([f"seq{i // 4}" for i in range(40)])
    # one draw of each group once is the data itself: recompute through the bootstrap path
    lo, hi = ap_root_bootstrap_ci(res, groups, n_resamples=400, seed=1)
    assert 0 <= lo <= res.ap <= hi <= 1
    assert ap_root_bootstrap_ci(res, groups, n_resamples=400, seed=1) == (lo, hi)
    ones = np.ones(len(res.image_ids), dtype=np.int64)
    rep = np.repeat(np.arange(len(res.is_tp)), ones[res.image_of])
    tp = res.is_tp[rep]
    precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    assert float(precision[tp].sum() / res.gt_per_image.sum()) == pytest.approx(res.ap)
