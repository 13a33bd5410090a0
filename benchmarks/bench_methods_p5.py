"""Speed (and, for the posterior, accuracy) of the core operators of ``probabilistic``,
``epipolar`` and ``rootnet``.

* ``posterior M=… it=…``: the Monte-Carlo camera-pose posterior
  (:func:`~poseboard.methods.nets.pose_posterior.monte_carlo_posterior`) and the triangulation
  under it, on 8 frames of a walking subject seen by an H36M-like rig of 4 cameras (1000×1000,
  f = 1145 px) with σ = 4 px Gaussian noise on the 2D joints (≈ 1 px of a 128 px crop, the
  error of a good 2D backbone). ``extra_info`` records, beside the time, the median rotation
  error of the posterior mode (degrees), the root-relative MPJPE after the bone-length scale
  and the PA-MPJPE (mm), so the table of accuracy and time versus sample count and
  iterations comes from one run. ``sequence`` pools the 8 frames into one posterior (the
  ``pose_sharing="sequence"`` option).
* ``epipolar-attention``: the sampler + attention + z-residual on a batch of 8 reference /
  source feature maps of 64 channels at 32×32 (a 128 px crop), 64 samples per line,
  forward and forward+backward.
* ``rootnet``: crops, the default backbone and both heads for 16 person boxes.

The posterior runs on every device the machine has (``[cpu]``, and ``[cuda]`` with a GPU:
the same frames and noise, moved; the clock read after the GPU has finished).

Run with ``.venv/bin/pytest benchmarks/bench_methods_p5.py --benchmark-only
--benchmark-group-by=group`` (about a minute on a 2-core CPU).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from poseboard.camera import Camera
from poseboard.device import synchronized
from poseboard.methods.nets.pose_posterior import (
    PosteriorConfig,
    monte_carlo_posterior,
    rotation_angle_deg,
    triangulate_under_posterior,
)
from poseboard.protocols import metrics as M

NOISE_PX = 4.0
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def _on(data: dict[str, torch.Tensor], device: str) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in data.items()}


@cache
def _frames() -> dict[str, torch.Tensor]:
    from poseboard.datasets.synthetic.body import SUBJECTS
    from poseboard.datasets.synthetic.motion import generate_sequence
    from poseboard.geometry import project_points

    seq = generate_sequence(SUBJECTS["S9"], "Walking", 80, np.random.default_rng(0), area_radius_mm=1500.0)
    X = torch.tensor(seq.poses[::10])  # (8, 17, 3) world mm
    cams = []
    for i, (sx, sy) in enumerate([(1, 1), (-1, 1), (-1, -1), (1, -1)]):
        cams.append(Camera.look_at(eye=[sx * 3500.0, sy * 3500.0, 1500.0 + 100 * i], target=[0.0, 0.0, 900.0],
                                   focal=1145.0, image_size=(1000, 1000), name=f"cam{i}"))
    P = torch.tensor(np.stack([c.projection_matrix for c in cams]))
    uv = project_points(P[:, None, None], X[None]).permute(1, 0, 2, 3)  # (B, V, J, 2)
    uv = uv + NOISE_PX * torch.randn(uv.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    R = torch.tensor(np.stack([c.R for c in cams]))
    t = torch.tensor(np.stack([c.t for c in cams]))
    R_rel = R @ R[:1].transpose(-1, -2)
    t_rel = t - (R_rel @ t[0])
    t_rel = t_rel / t_rel[1].norm()
    gt_ref = X @ R[0].T + t[0]
    return {"uv": uv, "K": torch.tensor(np.stack([c.K for c in cams])).expand(len(X), -1, -1, -1),
            "R_rel": R_rel, "t_rel": t_rel, "gt_ref": gt_ref}


def _accuracy(post, uv: torch.Tensor, K: torch.Tensor, data: dict[str, torch.Tensor]) -> dict[str, float]:
    from poseboard.methods.probabilistic import bone_scale, default_bone_prior

    conf = torch.ones(uv.shape[:-1], dtype=torch.float64, device=uv.device)
    X = triangulate_under_posterior(uv, conf, K, post)
    X = X * bone_scale(X, torch.as_tensor(default_bone_prior(), device=X.device))[:, None, None]
    pred, gt = X.cpu().numpy(), data["gt_ref"].cpu().numpy()
    return {
        "rotation_error_deg_median": float(rotation_angle_deg(post.rotations, data["R_rel"])[:, 1:].median()),
        "mpjpe_root_mm": float(M.mpjpe(pred, gt, "root", 6).mean()),
        "pa_mpjpe_mm": float(M.mpjpe(pred, gt, "procrustes", 6).mean()),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("samples", "iterations", "refine"), [
    (64, 0, 0), (64, 4, 0), (64, 8, 0), (256, 8, 0),
    (16, 0, 15), (16, 4, 15), (64, 0, 15), (64, 2, 15), (64, 4, 15), (64, 8, 15), (256, 4, 15),
])
def test_posterior(benchmark, samples, iterations, refine, device):
    """``refine``: LM steps of the joint refinement after the essential-matrix/PnP init (0: the
    Monte-Carlo iterations alone move the init, as in the reference's V1)."""
    data = _on(_frames(), device)
    uv, K = data["uv"], data["K"]
    conf = torch.ones(uv.shape[:-1], dtype=torch.float64, device=device)
    cfg = PosteriorConfig(samples=samples, iterations=iterations, refine_iterations=refine, temperature_px=2.0,
                          error_cap_px=60.0, ransac_threshold_px=15.0)
    benchmark.group = f"posterior on {device} (8 frames, 4 views)"
    post = benchmark(synchronized(monte_carlo_posterior, device), uv, conf, K, cfg)
    benchmark.extra_info.update({"samples": samples, "iterations": iterations, "refine_iterations": refine,
                                 "frames": 8, "device": device, **_accuracy(post, uv, K, data)})


@pytest.mark.parametrize("device", DEVICES)
def test_posterior_sequence(benchmark, device):
    from poseboard.methods.probabilistic import _shared_posterior

    data = _on(_frames(), device)
    uv, K = data["uv"], data["K"]
    conf = torch.ones(uv.shape[:-1], dtype=torch.float64, device=device)
    cfg = PosteriorConfig(samples=64, iterations=4, temperature_px=2.0, error_cap_px=60.0, ransac_threshold_px=15.0)
    benchmark.group = f"posterior on {device} (8 frames, 4 views)"
    post = benchmark(synchronized(lambda: _shared_posterior(uv, conf, K, cfg, torch.Generator().manual_seed(0),
                                                       [list(range(8))]), device))
    benchmark.extra_info.update({"samples": 64, "iterations": 4, "frames": 8, "pose_sharing": "sequence",
                                 "device": device, **_accuracy(post, uv, K, data)})


def test_posterior_ill_conditioning(benchmark):
    """The per-frame problem itself: the joint refinement started *at the true poses* lands on
    poses that fit the noisy 2D better than the truth does, degrees away from it.
    ``extra_info``: reprojection error (px) at the truth and at that optimum, and the
    optimum's rotation error (degrees) per frame."""
    from poseboard.methods.nets.pose_posterior import _sample_weights, refine_relative_poses

    data = _frames()
    uv, K = data["uv"], data["K"]
    b = uv.shape[0]
    conf = torch.ones(uv.shape[:-1], dtype=torch.float64)
    R_true = data["R_rel"].expand(b, -1, -1, -1)
    t_true = data["t_rel"].expand(b, -1, -1)
    benchmark.group = "posterior (8 frames, 4 views)"
    R_opt, t_opt = benchmark(refine_relative_poses, uv, conf, K, R_true, t_true, 30, 60.0)
    cfg = PosteriorConfig()
    err_true = _sample_weights(uv, conf, K, R_true[:, None], t_true[:, None], cfg)[1][:, 0]
    err_opt = _sample_weights(uv, conf, K, R_opt[:, None], t_opt[:, None], cfg)[1][:, 0]
    benchmark.extra_info.update({
        "reprojection_px_at_truth": [round(float(e), 2) for e in err_true],
        "reprojection_px_at_optimum": [round(float(e), 2) for e in err_opt],
        "optimum_rotation_error_deg": [round(float(a), 1) for a in rotation_angle_deg(R_opt, R_true)[:, 1:].amax(-1)],
    })


@pytest.mark.parametrize("backward", [False, True])
def test_epipolar_attention(benchmark, backward):
    from poseboard.methods.nets.epipolar_attention import EpipolarAttention, fundamental_ref_to_src

    torch.manual_seed(0)
    cams = [Camera.look_at(eye=[sx * 3500.0, sy * 3500.0, 1500.0], target=[0.0, 0.0, 900.0], focal=1145.0,
                           image_size=(1000, 1000)) for sx, sy in [(1, 1), (-1, 1)]]
    crops = [c.crop_and_resize(np.array([250.0, 250.0, 750.0, 750.0]), (128, 128)) for c in cams]
    P = torch.tensor(np.stack([c.projection_matrix for c in crops]))
    fund = fundamental_ref_to_src(P[:1], P[1:]).expand(8, 3, 3)
    att = EpipolarAttention(64, 64)
    f_ref = torch.randn(8, 64, 32, 32, requires_grad=backward)
    f_src = torch.randn(8, 64, 32, 32, requires_grad=backward)

    def run() -> None:
        out = att(f_ref, f_src, fund, 4.0)
        if backward:
            out.square().mean().backward()

    benchmark.group = "epipolar-attention (8 × 64 ch × 32², S=64)"
    benchmark.extra_info["pass"] = "forward+backward" if backward else "forward"
    if backward:
        benchmark(run)
    else:
        with torch.no_grad():
            benchmark(run)


def test_rootnet_localise(benchmark):
    from poseboard.methods.rootnet import RootNetConfig, RootNetNet

    net = RootNetNet(RootNetConfig.preset("default")).eval()
    images = torch.randn(4, 3, 256, 256)
    boxes = torch.tensor([[60.0, 40.0, 100.0, 160.0]]).repeat(16, 1) + torch.arange(16.0)[:, None]
    K = torch.tensor([[190.0, 0, 128], [0, 190, 128], [0, 0, 1]], dtype=torch.float64).expand(16, 3, 3)
    benchmark.group = "rootnet (16 boxes, 128² crops)"
    with torch.no_grad():
        benchmark(net.localise, images, torch.arange(16) % 4, boxes, K, (256, 256))
