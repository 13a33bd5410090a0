"""The RANSAC baseline: the reference's crop-pixel half-distance threshold and the original-pixel
rule the committed presets keep, detections, save/load, determinism."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.errors import CapabilityError
from poseboard.geometry import project_points
from poseboard.methods.nets.multiview import (
    crop_scale,
    crop_to_original,
    original_projection,
    read_batch,
    undistort_pixels,
)
from poseboard.methods.ransac import RansacConfig, RansacMethod
from poseboard.methods.registry import get_method
from poseboard.protocols.registry import get_protocol


@pytest.fixture(scope="module")
def ransac() -> RansacMethod:
    cfg = RansacConfig.preset("smoke").model_copy(update={"backbone_checkpoint": str(F.backbone_dir())})
    method = RansacMethod(cfg)
    method.fit(F.h36m("train"), None)
    return method


def _gt_original(batch):
    """Ground-truth 2D joints undistorted and in original pixels, and the original projections."""
    vb = read_batch(batch)
    pts = undistort_pixels(batch["joints_2d"].double(), vb.K[:, :, None], vb.dist[:, :, None])
    return crop_to_original(pts, vb.boxes[:, :, None], vb.size), original_projection(vb.proj, vb.boxes, vb.size)


def test_original_pixels_are_consistent_with_the_crop():
    batch = F.eval_batch(4)
    vb = read_batch(batch)
    X = batch["joints_3d"].double()
    crop_uv = project_points(vb.proj[:, :, None], X[:, None])  # (B, V, J, 2)
    orig_uv = project_points(original_projection(vb.proj, vb.boxes, vb.size)[:, :, None], X[:, None])
    torch.testing.assert_close(crop_to_original(crop_uv, vb.boxes[:, :, None], vb.size), orig_uv)


def test_threshold_is_in_original_pixels():
    """A view off by 20 original px is an inlier under a 30 px threshold and an outlier under
    10 px, whatever its crop scale (the crops here shrink 3-12×)."""
    batch = F.eval_batch(6)
    pts, proj = _gt_original(batch)
    scale = read_batch(batch).boxes[..., 2] - read_batch(batch).boxes[..., 0]
    assert float(scale.min()) > 64 * 2  # every crop is a real down-scaling
    pts = pts.clone()
    pts[:, 1, :, 0] += 20.0  # view 1 off by 20 original pixels
    for threshold, expect in ((30.0, True), (10.0, False)):
        method = RansacMethod(RansacConfig.preset("smoke").model_copy(update={"threshold_px": threshold,
                                                                                "refine": False}))
        _, inliers = method.triangulate(pts, proj)
        assert bool((inliers[..., 1] == expect).all())
        assert bool(inliers[..., [0, 2, 3]].all())


def _gt_crop(batch):
    """Ground-truth 2D joints undistorted in crop pixels, and the crop projections."""
    vb = read_batch(batch)
    return undistort_pixels(batch["joints_2d"].double(), vb.K[:, :, None], vb.dist[:, :, None]), vb.proj


def _reference_half_error(proj, points, X):
    """learnable triangulation's ``calc_reprojection_error_matrix`` for one point: HALF the
    Euclidean reprojection distance per view (``mvn/utils/multiview.py``), NumPy."""
    P, x = proj.numpy(), points.numpy()
    h = np.concatenate([X.numpy(), [1.0]]) @ np.swapaxes(P, -1, -2)  # (V, 3)
    return 0.5 * np.sqrt(((x - h[:, :2] / h[:, 2:]) ** 2).sum(-1))


def test_presets_keep_todays_rule_and_paper_takes_the_reference():
    for profile in ("smoke", "default", "gpu"):  # the committed results' rule
        cfg = RansacConfig.preset(profile)
        assert (cfg.threshold_rule, cfg.threshold_px) == ("original_full", 30.0)
    for cfg in (RansacConfig(), RansacConfig.preset("paper")):
        assert (cfg.threshold_rule, cfg.threshold_px, cfg.huber_px) == ("reference_crop_half", 15.0, 2.0)
        assert RansacMethod(cfg.model_copy(update={"backbone": RansacConfig.preset("smoke").backbone})
                            ).full_threshold_px() == 30.0


def test_reference_rule_thresholds_half_the_crop_distance():
    """Under the default rule a view is an inlier when HALF its reprojection distance in its
    crop's pixels is below ``threshold_px`` (the reference's ``reprojection_error_epsilon``):
    a view off by 20 crop pixels is in under 12 (half of 20 is 10; a full-distance rule
    would reject it) and out under 5, in every sample, although 20 crop pixels are over 40
    original ones here (the crops shrink the images 3-12×)."""
    batch = F.eval_batch(6)
    pts, proj = _gt_crop(batch)
    assert float(crop_scale(read_batch(batch).boxes, read_batch(batch).size).max()) < 0.5
    base = RansacConfig.preset("smoke").model_copy(update={"threshold_rule": "reference_crop_half", "refine": False})
    detected, detected_proj = RansacMethod(base).detect(batch)
    torch.testing.assert_close(detected_proj, proj)  # detect works in crop pixels under this rule
    assert detected.shape == pts.shape
    off = pts.clone()
    off[:, 1, :, 0] += 20.0  # view 1 off by 20 crop pixels
    for threshold, expect in ((12.0, True), (5.0, False)):
        method = RansacMethod(base.model_copy(update={"threshold_px": threshold}))
        joints, inliers = method.triangulate(off, proj)
        assert bool((inliers[..., 1] == expect).all())
        assert bool(inliers[..., [0, 2, 3]].all())
        if not expect:  # the winner is the DLT of the three exact views: the reference's error says the same
            for b, j in ((0, 0), (2, 5), (5, 16)):
                half = _reference_half_error(proj[b], off[b, :, j], joints[b, j])
                np.testing.assert_array_equal(half < threshold, inliers[b, j].numpy())
                assert half[1] == pytest.approx(10.0, abs=1e-3)


def test_recovers_ground_truth_with_an_outlier_view():
    batch = F.eval_batch(4)
    pts, proj = _gt_original(batch)
    pts[:, 2] += 400.0  # a gross outlier view
    joints, inliers = RansacMethod(RansacConfig.preset("smoke")).triangulate(pts, proj)
    assert F.mpjpe(joints, batch) < 0.5
    assert not bool(inliers[..., 2].any())


def test_pretrained_backbone_beats_random(ransac):
    untrained = RansacMethod(RansacConfig.preset("smoke"))
    assert F.eval_mpjpe(ransac) < 0.5 * F.eval_mpjpe(untrained)


def test_predict_is_deterministic_and_survives_save_load(ransac, tmp_path):
    batch = F.eval_batch(6)
    first = ransac.predict(batch).joints_3d
    assert torch.equal(first, ransac.predict(batch).joints_3d)
    ransac.save(tmp_path)
    again = get_method("ransac").load(tmp_path)
    assert torch.equal(first, again.predict(batch).joints_3d)


def test_invalid_views_are_never_inliers(ransac):
    batch = F.eval_batch(4)
    batch["view_valid"][:, 3] = False
    pts, proj = ransac.detect(batch)
    _, inliers = ransac.triangulate(pts, proj)
    assert not bool(inliers[..., 3].any())


def test_capabilities_refuse_a_single_view():
    with pytest.raises(CapabilityError, match=r"2\.\.any"):
        get_protocol("synth-h36m-single-view").check_method("ransac", RansacMethod.capabilities)
    assert get_protocol("synth-h36m-relative").check_method("ransac", RansacMethod.capabilities) == (4,)


def test_a_missing_view_is_left_out_not_propagated():
    """A zero box (a missing view, as S11 Directions-2 camera 54138969 on Human3.6M) must not
    turn the joints NaN: the sample is triangulated from its other views."""
    batch = F.eval_batch(4)
    pts, proj = _gt_original(batch)
    valid = torch.ones(pts.shape[:2], dtype=torch.bool)
    valid[1, 2] = False
    pts[1, 2] = float("nan")  # whatever the missing view holds
    proj = proj.clone()
    proj[1, 2] = 0.0  # a degenerate camera
    method = RansacMethod(RansacConfig.preset("smoke"))
    joints, inliers = method.triangulate(pts, proj, valid)
    assert bool(torch.isfinite(joints).all())
    assert F.mpjpe(joints, batch) < 0.5
    assert not bool(inliers[1, :, 2].any())
    valid[2, 1:] = False  # one view left: nothing to triangulate
    joints, _ = method.triangulate(pts, proj, valid)
    assert bool(torch.isnan(joints[2]).all()) and bool(torch.isfinite(joints[[0, 1, 3]]).all())
