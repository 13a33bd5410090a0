"""Where the error comes from (poseboard.protocols.failures): gross failures, left/right swaps,
occluded joints and 2D detection errors on hand-made poses, checked against independent
computations; and score_pose writing them into the result's metrics."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from poseboard.harness.predict import Detections2D, _batch_detections
from poseboard.protocols.evaluate import score_pose
from poseboard.protocols.failures import (
    GROSS_MM,
    detection_distances,
    lr_pairs,
    occluded_joints,
    pose_failures,
    summarize_detections,
    swap_mask,
    visible_in_crop,
)
from poseboard.protocols.predictions import PoseGroundTruth, PosePredictions
from poseboard.protocols.registry import get_protocol
from poseboard.skeleton import H36M17

SWAP = H36M17.left_right_swap
PAIRS = lr_pairs(SWAP)
J = H36M17.index


def _pose(n: int = 1) -> np.ndarray:
    """A standing body (mm, pelvis at the origin): right joints at x < 0, left at x > 0."""
    p = np.zeros((17, 3))
    for name, xyz in {"Pelvis": (0, 0, 0), "Spine": (0, 0, 250), "Thorax": (0, 0, 500), "Neck": (0, 0, 600),
                      "Head": (0, 0, 750), "RHip": (-120, 0, 0), "LHip": (120, 0, 0), "RKnee": (-130, 20, -450),
                      "LKnee": (130, 20, -450), "RAnkle": (-130, 0, -880), "LAnkle": (130, 0, -880),
                      "RShoulder": (-200, 0, 480), "LShoulder": (200, 0, 480), "RElbow": (-260, 0, 220),
                      "LElbow": (260, 0, 220), "RWrist": (-280, 60, -20), "LWrist": (280, 60, -20)}.items():
        p[J(name)] = xyz
    return np.repeat(p[None], n, axis=0)


def test_the_six_h36m_pairs():
    names = {(H36M17.joint_names[i], H36M17.joint_names[j]) for i, j in PAIRS}
    assert names == {("RAnkle", "LAnkle"), ("RKnee", "LKnee"), ("RHip", "LHip"), ("RWrist", "LWrist"),
                     ("RElbow", "LElbow"), ("RShoulder", "LShoulder")}


def test_a_swapped_pair_is_counted_an_unswapped_one_not():
    gt = _pose(3)
    pred = gt.copy()
    pred[0, [J("RKnee"), J("LKnee")]] = gt[0, [J("LKnee"), J("RKnee")]]  # frame 0: knees exchanged
    pred[1] += np.random.default_rng(0).normal(0, 20, pred[1].shape)  # frame 1: noisy, nothing swapped
    pred[2, J("RWrist")] = gt[2, J("LWrist")] + (0, 0, 10)  # frame 2: both wrists at the left one
    pred[2, J("LWrist")] = gt[2, J("LWrist")]
    mask = swap_mask(pred, gt, SWAP)
    knees = PAIRS.index((J("RKnee"), J("LKnee")))
    expected = np.zeros((3, 6), dtype=bool)
    expected[0, knees] = True
    np.testing.assert_array_equal(mask, expected)  # frame 2: the left wrist stays right, no swap
    out = pose_failures(pred, gt, "root", 6, SWAP)
    assert out["lr_swap_pct"] == pytest.approx(100 / 18)


def test_a_tie_is_not_a_swap():
    gt = _pose()
    pred = gt.copy()
    mid = (gt[0, J("RElbow")] + gt[0, J("LElbow")]) / 2
    pred[0, [J("RElbow"), J("LElbow")]] = mid  # equally near both: not a swap
    assert not swap_mask(pred, gt, SWAP).any()


def test_swap_is_judged_after_the_alignment():
    """A prediction translated by 2 m along x with its ankles exchanged (260 mm apart): root-
    aligned, the ankles are a swap and the only gross joints; without alignment every joint is
    far, and the pair is a tie (4000 mm either way), not a swap."""
    gt = _pose()
    pred = gt.copy()
    pred[0, [J("RAnkle"), J("LAnkle")]] = gt[0, [J("LAnkle"), J("RAnkle")]]
    pred = pred + (2000.0, 0, 0)
    aligned = pose_failures(pred, gt, "root", 6, SWAP)
    assert aligned["lr_swap_pct"] == pytest.approx(100 / 6) and aligned["gross_pct"] == pytest.approx(100 * 2 / 17)
    raw = pose_failures(pred, gt, "none", 6, SWAP)
    assert raw["gross_pct"] == pytest.approx(100.0) and raw["lr_swap_pct"] == 0.0


def test_gross_threshold_boundary():
    """Exactly 150 mm is not gross; just beyond it is (strictly greater)."""
    gt = _pose(2)
    pred = gt.copy()
    pred[0, J("Head"), 0] += GROSS_MM  # exactly 150 mm
    pred[1, J("Head"), 0] += np.nextafter(GROSS_MM, np.inf)
    out = pose_failures(pred, gt, "root", 6, SWAP)
    assert out["gross_pct"] == pytest.approx(100 * 1 / 34)
    pred[0, J("Head"), 0] -= 1e-6
    pred[0, J("RWrist"), 1] += 151.0
    assert pose_failures(pred, gt, "root", 6, SWAP)["gross_pct"] == pytest.approx(100 * 2 / 34)


def test_occluded_is_hidden_in_at_least_half_the_views_that_see_the_frame():
    vis = np.ones((4, 4, 17), dtype=bool)
    valid = np.ones((4, 4), dtype=bool)
    vis[0, :2, 0] = False  # 2 of 4 hidden: occluded
    vis[0, :1, 1] = False  # 1 of 4: not
    vis[1, :3, 2] = False  # 3 of 4: occluded
    valid[2, 2:] = False  # frame 2 seen by 2 views
    vis[2, 0, 3] = False  # 1 of its 2: occluded
    vis[2, 2:, 4] = False  # hidden only where no view sees it: not occluded
    valid[3] = False  # frame 3 seen by no view: every joint occluded
    occ = occluded_joints(vis, valid)
    expected = np.zeros((4, 17), dtype=bool)
    expected[0, 0] = expected[1, 2] = expected[2, 3] = True
    expected[3] = True
    np.testing.assert_array_equal(occ, expected)


def test_gross_rates_on_occluded_and_visible_joints():
    gt = _pose(2)
    pred = gt.copy()
    occ = np.zeros((2, 17), dtype=bool)
    occ[0, [0, 1, 2, 3]] = True  # 4 occluded joints, 2 of them gross
    pred[0, [0, 1], 2] += 300.0
    pred[1, 9, 2] += 300.0  # 1 gross visible joint among 30
    out = pose_failures(pred, gt, "root", 6, SWAP, occ)
    assert out["occluded_share_pct"] == pytest.approx(100 * 4 / 34)
    assert out["gross_occluded_pct"] == pytest.approx(50.0)
    assert out["gross_visible_pct"] == pytest.approx(100 / 30)
    assert out["gross_pct"] == pytest.approx(100 * 3 / 34)
    none = pose_failures(pred, gt, "root", 6, SWAP, np.zeros((2, 17), dtype=bool))
    assert "gross_occluded_pct" not in none and none["occluded_share_pct"] == 0.0
    assert set(pose_failures(pred, gt, "root", 6, SWAP)) == {"gross_pct", "lr_swap_pct"}


def test_2d_errors_against_an_independent_computation():
    rng = np.random.default_rng(3)
    gt = rng.uniform(0, 128, (5, 4, 17, 2))
    pred = gt + rng.normal(0, 6, gt.shape)
    pred[0, 0, :5] += 40.0  # a few gross misses
    vis = rng.random((5, 4, 17)) > 0.3
    out = summarize_detections(detection_distances(pred, gt, vis), crop_px=128)
    dists = [math.hypot(*(pred[i, v, j] - gt[i, v, j])) for i in range(5) for v in range(4) for j in range(17)
             if vis[i, v, j]]
    assert out["error_2d_median_px"] == pytest.approx(statistics.median(dists), abs=1e-12)
    assert out["gross_2d_pct"] == pytest.approx(100 * sum(d > 12.8 for d in dists) / len(dists))
    assert out["gross_2d_threshold_px"] == pytest.approx(12.8) and out["joints_2d_count"] == len(dists)
    assert summarize_detections(np.zeros(0), 128) == {}
    assert summarize_detections(np.array([12.8, 12.9]), 128)["gross_2d_pct"] == 50.0  # strictly beyond


def test_visible_in_crop_leaves_out_occluded_invalid_and_outside():
    gt = np.full((1, 2, 3, 2), 10.0)
    gt[0, 0, 1] = (-1.0, 10.0)  # outside the crop
    vis = np.ones((1, 2, 3), dtype=bool)
    vis[0, 0, 2] = False  # occluded
    valid = np.array([[True, False]])  # view 1 absent
    np.testing.assert_array_equal(visible_in_crop(gt, vis, valid, 64), [[[True, False, False], [False] * 3]])


def test_harness_compares_a_batchs_detections_in_its_view_order():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    gt = rng.uniform(5, 60, (2, 3, 17, 2))
    batch = {"joints_2d": torch.as_tensor(gt, dtype=torch.float32), "images": torch.zeros(2, 3, 3, 64, 64),
             "visibility": torch.ones(2, 3, 17, dtype=torch.bool),
             "view_valid": torch.tensor([[1, 1, 0], [1, 1, 1]]).bool()}
    pred = torch.as_tensor(gt, dtype=torch.float32) + 3.0
    d = _batch_detections(batch, pred)
    assert d.shape == (5 * 17,) and np.allclose(d, 3 * np.sqrt(2), atol=1e-4)
    assert _batch_detections(batch, None) is None
    assert _batch_detections(batch, pred[:, :1]) is None  # a reference view only: not comparable
    joined = Detections2D.join([Detections2D(np.array([1.0]), 64), Detections2D(np.array([2.0, 3.0]), 64)])
    assert joined is not None and joined.distances_px.tolist() == [1.0, 2.0, 3.0]
    assert Detections2D.join([Detections2D(np.array([1.0]), 64), None]) is None


def test_score_pose_writes_the_failure_metrics():
    protocol = get_protocol("synth-h36m-relative@3")
    n = 4
    gt = _pose(n) + np.array([1000.0, 2000.0, 900.0])
    meta = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "subject": "S9", "action": "Walk",
                         "sequence": [f"Walk-{i}" for i in range(n)], "frame": np.arange(n)})
    occ = np.zeros((n, 17), dtype=bool)
    occ[:, J("LWrist")] = True
    pred = gt.copy()
    pred[0, J("LWrist"), 2] += 400.0
    pred[1, [J("RHip"), J("LHip")]] = gt[1, [J("LHip"), J("RHip")]]
    metrics = score_pose(protocol, PoseGroundTruth(meta=meta, joints_3d=gt, occluded=occ),
                         PosePredictions(sample_ids=meta["sample_id"].to_numpy(), joints_3d=pred))
    extra = metrics.main.extra
    assert extra["gross_pct"] == pytest.approx(100 * 3 / 68)  # the wrist, and both hips (240 mm apart)
    assert extra["lr_swap_pct"] == pytest.approx(100 / 24)
    assert extra["occluded_share_pct"] == pytest.approx(100 / 17)
    assert extra["gross_occluded_pct"] == pytest.approx(25.0)
    assert extra["gross_visible_pct"] == pytest.approx(100 * 2 / 64)
    bare = score_pose(protocol, PoseGroundTruth(meta=meta, joints_3d=gt),
                      PosePredictions(sample_ids=meta["sample_id"].to_numpy(), joints_3d=pred)).main.extra
    assert set(bare) == {"gross_pct", "lr_swap_pct"}
