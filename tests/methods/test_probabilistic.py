"""``probabilistic``: the camera-pose posterior (core operator), its distributions, the
extrinsics-free inference, save/load, determinism, and learning on a tiny world."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from poseboard.datasets.torch_dataset import MultiViewDataset, collate_multiview
from poseboard.geometry import project_points
from poseboard.methods.nets.pose_posterior import (
    AngularCentralGaussian,
    PosteriorConfig,
    StudentT,
    _levenberg_marquardt,
    _so3_exp,
    matrix_to_quaternion,
    monte_carlo_posterior,
    normalized_coordinates,
    pnp_dlt,
    quaternion_to_matrix,
    refine_relative_poses,
    relative_pose_two_views,
    rotation_angle_deg,
    triangulate_under_posterior,
)
from poseboard.methods.probabilistic import (
    ProbabilisticConfig,
    ProbabilisticMethod,
    bone_scale,
    reference_frame_joints,
)
from poseboard.protocols import metrics as M

# the shared fixtures module beside this file (pytest imports tests with --import-mode=importlib)
sys.path.insert(0, str(Path(__file__).parent))
import p5_fixtures
from p5_fixtures import body_like_points, look_at_rig, rig_tensors

p5_data = p5_fixtures.p5_data  # session fixtures, shared by the three modules
p5_backbone = p5_fixtures.p5_backbone


def _true_relative(cams_R: np.ndarray, cams_t: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Independent (NumPy) reference-relative poses in the gauge ‖t_1‖ = 1."""
    R_rel = np.stack([R @ cams_R[0].T for R in cams_R])
    t_rel = np.stack([t - R_rel[v] @ cams_t[0] for v, t in enumerate(cams_t)])
    base = float(np.linalg.norm(t_rel[1]))
    return R_rel, t_rel / base, base


# ------------------------------------------------------------------------------ rotations and distributions
def test_quaternions_match_scipy():
    rots = Rotation.random(50, random_state=0)
    q = torch.tensor(rots.as_quat(scalar_first=True))
    R = quaternion_to_matrix(q)
    assert torch.allclose(R, torch.tensor(rots.as_matrix()), atol=1e-12)
    back = matrix_to_quaternion(R)
    assert torch.allclose(back, q * torch.sign(q[:, :1]), atol=1e-9)


def test_acg_density_integrates_to_one_and_fit_finds_the_mode():
    mode = torch.tensor([0.5, 0.5, -0.5, 0.5], dtype=torch.float64)
    acg = AngularCentralGaussian.concentrated(mode, 0.3)
    # Monte Carlo over the uniform distribution on S³: E[p] · area(S³) = 1
    u = torch.randn(200_000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u = u / u.norm(dim=-1, keepdim=True)
    integral = acg.log_prob(u).exp().mean() * 2 * np.pi**2
    assert abs(float(integral) - 1.0) < 0.03
    draws = acg.sample(4000, torch.Generator().manual_seed(1))
    fitted = AngularCentralGaussian.fit(draws, torch.ones(4000, dtype=torch.float64), floor=1e-4)
    assert float(torch.abs(fitted.mode @ mode)) > 0.999
    assert abs(float(fitted.spread) - 0.3) < 0.05  # the M-estimator recovers the spread


def test_student_t_moments():
    loc = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    L = torch.tensor([[0.3, 0, 0], [0.1, 0.2, 0], [0, 0.05, 0.1]], dtype=torch.float64)
    x = StudentT(loc, L, df=6).sample(100_000, torch.Generator().manual_seed(0))
    assert torch.allclose(x.mean(0), loc, atol=0.01)
    cov = torch.cov(x.T)
    assert torch.allclose(cov, (L @ L.T) * 6 / 4, atol=0.01)  # Σ · df / (df − 2)


# ------------------------------------------------------------------------------ two-view geometry
def test_relative_pose_and_pnp_are_exact_without_noise():
    cams = look_at_rig()
    rt = rig_tensors(cams)
    X = torch.tensor(body_like_points(3, seed=1))  # (3, 17, 3)
    uv = project_points(rt["P"][:, None, None], X[None])  # (V, 3, 17, 2)
    xn = normalized_coordinates(uv.permute(1, 0, 2, 3), rt["K"][None])  # (3, V, 17, 2)
    R_rel, t_rel, base = _true_relative(rt["R"].numpy(), rt["t"].numpy())
    w = torch.ones(3, 17, dtype=torch.float64)
    R1, t1 = relative_pose_two_views(xn[:, 0], xn[:, 1], w, torch.full((3,), 1145.0, dtype=torch.float64),
                                     PosteriorConfig())
    assert rotation_angle_deg(R1, torch.tensor(R_rel[1])).max() < 1e-4
    assert (t1 - torch.tensor(t_rel[1])).norm(dim=-1).max() < 1e-6
    X0 = X @ rt["R"][0].T + rt["t"][0]  # reference-camera frame
    R2, t2 = pnp_dlt(X0, xn[:, 2], w)
    assert rotation_angle_deg(R2, torch.tensor(R_rel[2])).max() < 1e-4
    assert (t2 - torch.tensor(t_rel[2] * base)).norm(dim=-1).max() < 1e-3  # mm


@pytest.mark.parametrize("jacobian", ["central", "forward"])
def test_lm_finds_a_known_minimum_with_either_difference_and_forward_probes_half(jacobian):
    """A least-squares problem with a known solution (an exponential fit, no noise): both
    finite-difference Jacobians reach it; the forward one probes P points a step, not 2P."""
    x = torch.linspace(0, 2, 25, dtype=torch.float64)
    truth = torch.tensor([1.5, -0.8, 0.3], dtype=torch.float64)
    y = truth[0] * torch.exp(truth[1] * x) + truth[2]
    probes = []

    def residual(p):  # (..., n, 3) -> (..., n, 25)
        probes.append(p.shape[-2])
        return p[..., 0:1] * torch.exp(p[..., 1:2] * x) + p[..., 2:3] - y

    p = _levenberg_marquardt(residual, torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), 40, jacobian=jacobian)
    assert torch.allclose(p[0], truth, atol=1e-7)
    assert max(probes) == (6 if jacobian == "central" else 3)
    with pytest.raises(ValueError, match="central"):
        _levenberg_marquardt(residual, p, 1, jacobian="backward")


@pytest.mark.parametrize("noise_px", [0.0, 0.5])
def test_forward_difference_refinement_lands_where_the_central_one_does(noise_px):
    """The joint refinement of four views' relative poses from a 3° / 5 % perturbed start:
    forward differences reach the central differences' optimum (the same poses to a
    thousandth of a degree), which without noise is the truth."""
    cams = look_at_rig()
    rt = rig_tensors(cams)
    X = torch.tensor(body_like_points(6, seed=3))  # (B, 17, 3)
    uv = project_points(rt["P"][:, None, None], X[None]).permute(1, 0, 2, 3)  # (B, V, 17, 2)
    uv = uv + noise_px * torch.randn(uv.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    conf = torch.ones(uv.shape[:-1], dtype=torch.float64)
    K = rt["K"].expand(6, -1, -1, -1)
    R_rel, t_rel, _ = _true_relative(rt["R"].numpy(), rt["t"].numpy())
    R_true, t_true = torch.tensor(R_rel), torch.tensor(t_rel)
    kick = torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    kick = kick / kick.norm(dim=-1, keepdim=True) * np.deg2rad(3.0)
    kick[:, 0] = 0.0  # the reference stays the identity
    R0 = _so3_exp(kick) @ R_true
    t0 = t_true * (1 + 0.05 * torch.randn(6, 4, 1, generator=torch.Generator().manual_seed(6), dtype=torch.float64))
    t0[:, 0] = 0.0
    poses = {j: refine_relative_poses(uv, conf, K, R0, t0, 30, jacobian=j) for j in ("central", "forward")}
    (Rc, tc), (Rf, tf) = poses["central"], poses["forward"]
    assert rotation_angle_deg(Rc, Rf).max() < 1e-3
    assert (tc - tf).norm(dim=-1).max() < 1e-5
    if noise_px == 0:
        assert rotation_angle_deg(Rf, R_true)[:, 1:].max() < 1e-3
        assert (tf - t_true).norm(dim=-1).max() < 1e-5


# ------------------------------------------------------------------------------ the core operator
def test_posterior_concentrates_on_the_true_relative_pose():
    """Noise-free 2D joints of 4 views, intrinsics only: the posterior's samples lie within a
    fraction of a degree of the true relative rotations and the triangulation under it
    reproduces the points (in the reference frame, at the true baseline scale)."""
    cams = look_at_rig()
    rt = rig_tensors(cams)
    X = torch.tensor(body_like_points(4, seed=2))  # (B, 17, 3) world mm
    uv = project_points(rt["P"][:, None, None], X[None]).permute(1, 0, 2, 3)  # (B, V, 17, 2)
    conf = torch.ones(uv.shape[:-1], dtype=torch.float64)
    K = rt["K"].expand(4, -1, -1, -1)
    post = monte_carlo_posterior(uv, conf, K, PosteriorConfig(samples=64, iterations=4))
    R_rel, t_rel, base = _true_relative(rt["R"].numpy(), rt["t"].numpy())
    R_true, t_true = torch.tensor(R_rel), torch.tensor(t_rel)
    w = post.log_weights.exp()  # (B, M)
    assert torch.allclose(w.sum(-1), torch.ones(4, dtype=torch.float64))
    angle = rotation_angle_deg(post.sample_rotations, R_true[None, None])[..., 1:].amax(-1)  # (B, M)
    assert float((w * angle).sum(-1).max()) < 0.5  # posterior-weighted rotation error, degrees
    t_err = (post.sample_translations - t_true).norm(dim=-1)[..., 1:].amax(-1)
    assert float((w * t_err).sum(-1).max()) < 0.01  # baseline units
    assert rotation_angle_deg(post.rotations, R_true).max() < 0.2
    assert float(post.rotation_spread.max()) < 0.01
    assert float(post.mean_error_px[:, -1].max()) < 0.5
    X_ref = triangulate_under_posterior(uv, conf, K, post) * base
    gt_ref = X @ rt["R"][0].T + rt["t"][0]
    assert (X_ref - gt_ref).norm(dim=-1).max() < 5.0  # mm


def test_posterior_is_deterministic_and_gradients_reach_the_2d_input():
    cams = look_at_rig()
    rt = rig_tensors(cams)
    X = torch.tensor(body_like_points(2, seed=3))
    uv = project_points(rt["P"][:, None, None], X[None]).permute(1, 0, 2, 3)
    uv = uv + torch.randn(uv.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    conf = torch.ones(uv.shape[:-1], dtype=torch.float64)
    K = rt["K"].expand(2, -1, -1, -1)
    cfg = PosteriorConfig(samples=16, iterations=2)
    a, b = monte_carlo_posterior(uv, conf, K, cfg), monte_carlo_posterior(uv, conf, K, cfg)
    assert torch.equal(a.sample_rotations, b.sample_rotations) and torch.equal(a.log_weights, b.log_weights)
    pts = uv.clone().requires_grad_(True)
    weights = conf.clone().requires_grad_(True)
    triangulate_under_posterior(pts, weights, K, a).sum().backward()
    assert pts.grad is not None and torch.isfinite(pts.grad).all() and pts.grad.abs().sum() > 0
    assert weights.grad is not None and weights.grad.abs().sum() > 0


def test_bone_scale_recovers_a_known_factor():
    X = torch.tensor(body_like_points(3, seed=4))
    from poseboard.skeleton import H36M17

    prior = torch.tensor(H36M17.bone_lengths(X.numpy()))[0]
    s = bone_scale(X[:1] / 7.0, prior)
    assert torch.allclose(s, torch.tensor([7.0], dtype=torch.float64))


# ------------------------------------------------------------------------------ the method
def _tiny_config(backbone: Path | None, steps: int = 0) -> ProbabilisticConfig:
    cfg = ProbabilisticConfig.preset("smoke")
    cfg.backbone_checkpoint = str(backbone) if backbone is not None else None
    cfg.posterior = PosteriorConfig(samples=16, iterations=1, ransac_hypotheses=16, refine_iterations=6,
                                    init_starts=2, temperature_px=2.0, error_cap_px=60.0, ransac_threshold_px=15.0)
    cfg.train.steps = steps
    cfg.train.batch_size = 4
    cfg.train.lr = 1e-3
    cfg.train.log_every = 5
    return cfg


def test_extrinsics_are_never_used(p5_data):
    ds = MultiViewDataset(p5_data / "synth-h36m" / "test")
    batch = collate_multiview([ds[i] for i in range(3)])
    method = ProbabilisticMethod(_tiny_config(None))
    assert not method.capabilities.needs_extrinsics
    assert method.capabilities.output_frame == "reference_camera"
    ref = method.predict(batch).joints_3d
    gen = torch.Generator().manual_seed(0)
    scrambled = dict(batch)
    scrambled["R"] = torch.linalg.qr(torch.randn(batch["R"].shape, generator=gen, dtype=torch.float64))[0]
    scrambled["t"] = torch.randn(batch["t"].shape, generator=gen, dtype=torch.float64) * 1e4
    scrambled["proj_matrices"] = torch.randn(batch["proj_matrices"].shape, generator=gen)
    scrambled["joints_3d"] = torch.zeros_like(batch["joints_3d"])
    assert torch.equal(method.predict(scrambled).joints_3d, ref)
    stripped = {k: v for k, v in batch.items() if k not in ("R", "t", "proj_matrices", "cameras", "joints_3d")}
    assert torch.equal(method.predict(stripped).joints_3d, ref)


def test_save_load_round_trip_and_determinism(tmp_path, p5_data):
    ds = MultiViewDataset(p5_data / "synth-h36m" / "test")
    batch = collate_multiview([ds[i] for i in range(2)])
    method = ProbabilisticMethod(_tiny_config(None))
    method.net.bone_prior.mul_(1.1)
    method.save(tmp_path)
    loaded = ProbabilisticMethod.load(tmp_path)
    a, b = method.predict(batch), loaded.predict(batch)
    assert torch.equal(a.joints_3d, b.joints_3d)
    assert torch.equal(a.joints_3d, method.predict(batch).joints_3d)
    assert torch.allclose(loaded.net.bone_prior, method.net.bone_prior)


@pytest.mark.slow
def test_learns_on_a_tiny_world(tmp_path, p5_data, p5_backbone):
    train = MultiViewDataset(p5_data / "synth-h36m" / "train")
    test = MultiViewDataset(p5_data / "synth-h36m" / "test")
    test_batch = collate_multiview([test[i] for i in range(len(test))])
    gt = reference_frame_joints(test_batch).numpy()

    def errors(m: ProbabilisticMethod) -> tuple[float, float]:
        torch.manual_seed(0)  # the posterior's draws: the same for both models, in any process
        pred = m.predict(test_batch).joints_3d.double().numpy()
        return float(M.mpjpe(pred, gt, "procrustes", 6).mean()), float(M.mpjpe(pred, gt, "root", 6).mean())

    from poseboard.methods.train.loop import seeded

    with seeded(0):  # the untrained reference must not depend on the process's random state
        untrained = ProbabilisticMethod(_tiny_config(None))
    method = ProbabilisticMethod(_tiny_config(p5_backbone, steps=20))
    method.progress = False
    method.fit(train, None, workdir=tmp_path / "work")
    assert (tmp_path / "work" / "checkpoint.pt").exists()
    pa_untrained, rel_untrained = errors(untrained)
    pa, rel = errors(method)
    # PA-MPJPE (shape, free of the metric-scale prior) is the learning signal on 20 steps of a tiny
    # set; root-relative MPJPE also carries the bone-length scale prior and did not improve
    # reliably there on a clean CI machine (470.9 vs 464.3 mm once), so it is reported, not asserted.
    # trained / untrained PA-MPJPE measured: 186.6 / 420.9 in one process, 263.0 / 427.2 under
    # `pytest -n 2` on a fresh CI clone (other thread counts, other float paths): 0.44 and 0.62
    assert pa < 0.7 * pa_untrained, (pa, pa_untrained, rel, rel_untrained)
    assert np.isfinite(rel) and np.isfinite(rel_untrained)
    # the bone prior comes from the training set's ground truth
    from poseboard.methods.probabilistic import training_bone_prior

    assert torch.allclose(method.net.bone_prior, torch.as_tensor(training_bone_prior(train)))
    # resuming a finished run does nothing more
    again = ProbabilisticMethod(_tiny_config(p5_backbone, steps=20))
    again.progress = False
    again.fit(train, None, workdir=tmp_path / "work")
    assert again.last_summary.start_step == 20 and again.last_summary.end_step == 20
    assert torch.equal(again.predict(test_batch).joints_3d, method.predict(test_batch).joints_3d)


@pytest.mark.slow
def test_loss_falls_end_to_end(p5_data, p5_backbone):
    """Gradients through the triangulation under the posterior lower the loss: a few steps on
    one batch of 4 frames (the posterior's draws fixed by its seed when the loss is read)."""
    from poseboard.methods.train.loop import seed_everything

    train = MultiViewDataset(p5_data / "synth-h36m" / "train")
    few = torch.utils.data.Subset(train, range(4))
    batch = collate_multiview([train[i] for i in range(4)])

    def loss(m: ProbabilisticMethod) -> float:
        seed_everything(0)  # the same Monte-Carlo draws for both, whatever ran before in this process
        with torch.no_grad():
            return float(m.loss(m.net(batch), batch)["loss"])

    prior = tuple(ProbabilisticMethod(_tiny_config(None)).net.bone_prior.tolist())
    start = ProbabilisticMethod(_tiny_config(p5_backbone, steps=0).model_copy(update={"bone_prior_mm": prior}))
    start.progress = False
    start.fit(few, None)
    method = ProbabilisticMethod(_tiny_config(p5_backbone, steps=120).model_copy(update={"bone_prior_mm": prior}))
    method.progress = False
    method.fit(few, None)
    after, before = loss(method), loss(start)
    assert after < 0.9 * before, (after, before)


# ------------------------------------------------------------------------------ real data (issue 22)
def _real_fixtures():
    """The miniature real datasets' writers (tests/datasets/real_fixtures.py)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "datasets"))
    import real_fixtures

    return real_fixtures


def _ground_truth_detect(net):
    """A stand-in for ``ProbabilisticNet.detect`` that returns the batch's exact 2D joints (in
    undistorted original-image pixels, as ``detect`` does) with confidence 1 on present views."""
    from poseboard.methods.nets.multiview import crop_to_original, read_batch, undistort_pixels
    from poseboard.methods.probabilistic import original_intrinsics

    def detect(batch):
        vb = read_batch(batch, need_extrinsics=False)
        crop = torch.as_tensor(batch["joints_2d"], dtype=torch.float64)
        pts = crop_to_original(undistort_pixels(crop, vb.K[:, :, None], vb.dist[:, :, None]),
                               vb.boxes[:, :, None], vb.size)
        pts = torch.where(vb.view_valid[:, :, None, None], pts, torch.zeros_like(pts))  # a zero box: no pixels
        w = vb.view_valid[:, :, None].to(torch.float64).expand(*pts.shape[:3]).contiguous()
        heat = torch.zeros(*pts.shape[:3], 4, 4)
        return pts, w, original_intrinsics(vb.K, vb.boxes, vb.size), crop.float(), heat

    return detect


def test_reference_view_order_and_supervision_frame():
    """A missing view 0: the reference is the first present view, for the posterior's order
    and for the supervision's ground truth alike; with every view present nothing moves."""
    from poseboard.methods.probabilistic import reference_first_order, reference_view

    valid = torch.tensor([[False, True, True, True], [True, True, True, True], [True, False, True, False]])
    assert reference_first_order(valid).tolist() == [[1, 2, 3, 0], [0, 1, 2, 3], [0, 2, 1, 3]]
    assert reference_view(valid).tolist() == [1, 0, 0]
    assert reference_first_order(torch.ones(2, 4, dtype=torch.bool)) is None
    gen = torch.Generator().manual_seed(0)
    R = torch.linalg.qr(torch.randn(3, 4, 3, 3, generator=gen, dtype=torch.float64))[0]
    t = torch.randn(3, 4, 3, generator=gen, dtype=torch.float64) * 1000
    X = torch.randn(3, 17, 3, generator=gen, dtype=torch.float64) * 500
    batch = {"R": R, "t": t, "joints_3d": X, "view_valid": valid}
    got = reference_frame_joints(batch)
    for b, v in enumerate([1, 0, 0]):
        torch.testing.assert_close(got[b], X[b] @ R[b, v].T + t[b, v])
    batch["view_valid"] = torch.ones(3, 4, dtype=torch.bool)
    torch.testing.assert_close(reference_frame_joints(batch), X @ R[:, 0].transpose(-1, -2) + t[:, 0, None])


@pytest.mark.parametrize("sharing", ["frame", "sequence"])
def test_missing_view_0_predicts_in_the_ground_truths_reference_camera(tmp_path, sharing):
    """Human3.6M's S11 Directions-2 has no camera 54138969 (view 0, ``missing_views="mark"``):
    the ground truth's reference is the next camera, and the prediction must be in that
    camera's frame too — also in a batch that mixes it with an S9 frame (every view present,
    reference view 0) and when frames of one sequence share a posterior."""
    from poseboard.datasets.real.human36m import Human36MMultiView, load_ground_truth
    from poseboard.methods.probabilistic import training_bone_prior
    from poseboard.protocols.registry import get_protocol

    fx = _real_fixtures()
    root = tmp_path / "h36m"
    labels = fx.h36m_labels()
    # the fixture's person is flat (y = 0), a degenerate scene for an essential matrix: give every
    # joint a fixed depth (the same in every frame, so the bone lengths stay one set)
    depth = np.random.default_rng(0).uniform(-250, 250, size=17).astype(np.float32)
    for row in labels["table"]:
        row["keypoints"][:, 1] += depth
    fx.write_h36m(root, labels=labels, images=False)
    protocol = get_protocol("human36m-uncalibrated")
    ds = Human36MMultiView.from_protocol(protocol, root, trust_pickle=True, load_images=False)
    ids = ds.meta["sample_id"].tolist()
    picks = ["S11/Directions-2/000000", "S9/Walking-1/000000", "S11/Directions-2/000064"]
    batch = collate_multiview([ds[ids.index(i)] for i in picks])
    assert batch["view_valid"].tolist() == [[False, True, True, True], [True] * 4, [False, True, True, True]]
    cfg = _tiny_config(None).model_copy(update={"pose_sharing": sharing})
    method = ProbabilisticMethod(cfg)
    method.net.bone_prior.copy_(torch.as_tensor(training_bone_prior(ds)))  # the fixture's own bones: exact scale
    method.net.detect = _ground_truth_detect(method.net)
    pred = method.predict(batch)
    assert pred.extras["reference_view"].tolist() == [1, 0, 1]
    assert torch.isfinite(pred.joints_3d).all()
    gt = load_ground_truth(root, protocol, trust_pickle=True)
    rows = [gt.meta["sample_id"].tolist().index(i) for i in picks]
    cam = fx.h36m_cameras(["S1", "S5", "S6", "S7", "S8", "S9", "S11"].index("S11"))
    np.testing.assert_allclose(gt.reference_R[rows[0]], cam[1].R, atol=1e-6)  # the ground truth's choice
    gt_ref = np.einsum("nij,nkj->nki", gt.reference_R[rows], gt.joints_3d[rows]) + gt.reference_t[rows][:, None]
    err = np.linalg.norm(pred.joints_3d.double().numpy() - gt_ref, axis=-1).mean(-1)  # (3,) mm, absolute
    # 64-px images at 5 m: a pixel is ~70 mm, so the posterior's ~1 px spread leaves tens of mm
    assert float(err.max()) < 100.0, err
    # the frame view 0 would have given (every camera looks at the person from ~5 m, 90° apart)
    in_view_0 = gt.joints_3d[rows[0]] @ cam[0].R.T + cam[0].t
    assert float(np.linalg.norm(in_view_0 - gt_ref[0], axis=-1).mean()) > 250.0
    # the relative poses come back in the batch's view order: the reference's is the identity
    rot = pred.extras["relative_rotations"]
    torch.testing.assert_close(rot[0, 1], torch.eye(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(rot[1, 0], torch.eye(3), atol=1e-5, rtol=0)


def test_bone_prior_comes_from_real_training_ground_truth(tmp_path):
    """The scale prior is measured on the real loaders' ground truth (Human3.6M's label table,
    Panoptic's confident joints), not silently left at the synthetic subjects' default, and
    ``fit`` records it (and where it came from) in the configuration the results carry."""
    from poseboard.datasets.real.human36m import Human36MMultiView
    from poseboard.datasets.real.panoptic import PanopticMultiView
    from poseboard.methods.probabilistic import default_bone_prior, ground_truth_joints, training_bone_prior
    from poseboard.skeleton import H36M17

    fx = _real_fixtures()
    fx.write_h36m(tmp_path / "h36m", labels=fx.h36m_labels(keypoint_scale=1.25), images=False)
    train = Human36MMultiView(tmp_path / "h36m", "train", trust_pickle=True, load_images=False)
    assert len(train) == 2  # S1's two frames
    np.testing.assert_array_equal(train.joints_3d, np.stack([train[i].joints_3d for i in range(len(train))]))
    truth = H36M17.bone_lengths(fx.TEMPLATE_H36M17 * 1.25)  # every fixture frame is the template, shifted
    prior = training_bone_prior(train)
    np.testing.assert_allclose(prior, truth, rtol=1e-6)
    assert not np.allclose(prior, default_bone_prior(), rtol=0.05)  # not the synthetic subjects' mean

    fx.write_panoptic(tmp_path / "panoptic")
    pan = PanopticMultiView(tmp_path / "panoptic", "all", load_images=False, complete_only=False)
    joints, valid = ground_truth_joints(pan)
    np.testing.assert_array_equal(joints, np.stack([pan[i].joints_3d for i in range(len(pan))]))
    assert valid is not None and not valid.all()  # the low-confidence left ankle
    lengths = H36M17.bone_lengths(joints)
    parent, child = np.array(H36M17.bones).T
    ok = valid[:, parent] & valid[:, child]
    np.testing.assert_allclose(training_bone_prior(pan), [lengths[ok[:, b], b].mean() for b in range(16)])

    method = ProbabilisticMethod(_tiny_config(None))
    method.progress = False
    method.fit(train, None)  # 0 steps: the prior alone
    np.testing.assert_allclose(method.net.bone_prior.numpy(), truth, rtol=1e-6)
    assert method.config.bone_prior_mm is not None
    np.testing.assert_allclose(method.config.bone_prior_mm, truth, rtol=1e-6)
    assert "Human36MMultiView train, 2 frames" in method.config.bone_prior_source
    method.save(tmp_path / "ckpt")
    loaded = ProbabilisticMethod.load(tmp_path / "ckpt")
    assert loaded.config.bone_prior_source == method.config.bone_prior_source  # what result files carry
    assert torch.equal(loaded.net.bone_prior, method.net.bone_prior)
    configured = ProbabilisticMethod(_tiny_config(None).model_copy(update={"bone_prior_mm": tuple(truth * 2)}))
    configured.progress = False
    configured.fit(train, None)
    assert configured.config.bone_prior_source == "configured"
    np.testing.assert_allclose(configured.net.bone_prior.numpy(), truth * 2)
