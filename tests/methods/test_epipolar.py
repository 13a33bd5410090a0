"""``epipolar``: the epipolar sampler (core operator) against an independent fundamental
matrix, the attention and z-residual, peak decoding, and the method (save/load,
determinism, learning with and without the transformer)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from poseboard.camera import Camera
from poseboard.datasets.torch_dataset import MultiViewDataset, collate_multiview
from poseboard.methods.algebraic import evaluate_mpjpe
from poseboard.methods.epipolar import (
    EpipolarConfig,
    EpipolarMethod,
    local_soft_argmax,
    select_views,
)
from poseboard.methods.nets.epipolar_attention import (
    EpipolarAttention,
    _SpreadBack,
    cell_pixels,
    epipolar_sample_points,
    fundamental_ref_to_src,
    nearest_views,
)
from poseboard.methods.train.loop import history_losses

# the shared fixtures module beside this file (pytest imports tests with --import-mode=importlib)
sys.path.insert(0, str(Path(__file__).parent))
import p5_fixtures
from p5_fixtures import look_at_rig, rig_tensors

p5_data = p5_fixtures.p5_data  # session fixtures, shared by the three modules
p5_backbone = p5_fixtures.p5_backbone


def _independent_fundamental(P1: np.ndarray, P2: np.ndarray) -> np.ndarray:
    """F = [e']ₓ P' P⁺ (Hartley & Zisserman eq. 9.1), e' = P' C with C the null vector of P."""
    C = np.linalg.svd(P1)[2][-1]
    e = P2 @ C
    ex = np.array([[0, -e[2], e[1]], [e[2], 0, -e[0]], [-e[1], e[0], 0]])
    return ex @ P2 @ np.linalg.pinv(P1)


def _crop_rig(size: int = 128) -> list[Camera]:
    """The look-at rig cropped to a square around the capture area's centre in every view."""
    out = []
    for cam in look_at_rig():
        c = cam.project(np.array([[0.0, 0.0, 900.0]]))[0]
        box = np.array([c[0] - 300, c[1] - 300, c[0] + 300, c[1] + 300])
        out.append(cam.crop_and_resize(box, (size, size)))
    return out


# ------------------------------------------------------------------------------ the sampler (core operator)
@pytest.mark.parametrize(("ref", "src"), [(0, 1), (1, 2), (2, 0), (3, 1)])
def test_sampler_points_lie_on_the_true_epipolar_line(ref, src):
    cams = _crop_rig()
    P1, P2 = cams[ref].projection_matrix, cams[src].projection_matrix
    h = w = 32
    stride = 4.0
    fund = fundamental_ref_to_src(torch.tensor(P1)[None], torch.tensor(P2)[None])
    pts, valid = epipolar_sample_points(fund, h, w, stride, 64)
    assert pts.shape == (1, h * w, 64, 2) and valid.float().mean() > 0.3
    F_ind = _independent_fundamental(P1, P2)
    ref_px = cell_pixels(h, w, stride, torch.float64).numpy()
    lines = np.concatenate([ref_px, np.ones((h * w, 1))], 1) @ F_ind.T  # (HW, 3) in the source view
    lines /= np.hypot(lines[:, :1], lines[:, 1:2])
    p = pts[0].numpy()  # (HW, S, 2)
    dist = np.abs((p * lines[:, None, :2]).sum(-1) + lines[:, None, 2])
    assert dist[valid[0].numpy()].max() < 0.5  # pixels
    inside = p[valid[0].numpy()]
    assert inside.min() >= -1e-6 and inside.max() <= stride * (w - 1) + 1e-6
    # the samples span the clipped line: both ends on the border of the map
    ends = np.concatenate([p[valid[0].numpy()][:, 0], p[valid[0].numpy()][:, -1]])
    on_border = (np.abs(ends) < 1e-4) | (np.abs(ends - stride * (w - 1)) < 1e-4)
    assert on_border.any(-1).all()


def test_sampler_marks_lines_that_miss_the_map():
    # rectified stereo with a vertical offset larger than the map: every line misses
    K = np.array([[100.0, 0, 32], [0, 100, 32], [0, 0, 1]])
    P1 = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
    P2 = K @ np.hstack([np.eye(3), np.array([[-100.0], [0], [0]])])
    fund = fundamental_ref_to_src(torch.tensor(P1)[None], torch.tensor(P2)[None])
    pts, valid = epipolar_sample_points(fund, 8, 8, 4.0, 16)
    assert valid.all()  # horizontal lines y = const all cross the map
    assert torch.allclose(pts[0, :, :, 1], cell_pixels(8, 8, 4.0, torch.float64)[:, 1:2].expand(64, 16))
    P3 = K @ np.hstack([np.eye(3), np.array([[0.0], [-100], [0]])])  # vertical baseline
    fund = fundamental_ref_to_src(torch.tensor(P1)[None], torch.tensor(P3)[None])
    _, valid = epipolar_sample_points(fund, 8, 8, 4.0, 16)
    assert valid.all()


def test_nearest_views():
    rt = rig_tensors(look_at_rig())
    nn_idx = nearest_views(rt["P"])
    centres = np.stack([c.center for c in look_at_rig()])
    d = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(4) * 1e9
    assert nn_idx.tolist() == d.argmin(1).tolist()
    # an absent view (a rig with fewer cameras than slots) is nobody's neighbour, even at distance 0
    P = torch.cat([rt["P"], rt["P"][:2]])  # slots 4 and 5 repeat cameras 0 and 1, absent
    valid = torch.tensor([True, True, True, True, False, False])
    assert nearest_views(P, valid)[:4].tolist() == d.argmin(1).tolist()
    assert nearest_views(P)[:2].tolist() == [4, 5]  # without view_valid the copies win
    two = torch.tensor([True, False, True, False, False, False])
    assert nearest_views(P, two)[[0, 2]].tolist() == [2, 0] and nearest_views(P, ~valid & valid)[0] == 0


# ------------------------------------------------------------------------------ attention
def test_attention_matches_a_direct_computation_and_starts_as_plain_residual():
    torch.manual_seed(0)
    cams = _crop_rig(64)
    P = torch.tensor(np.stack([c.projection_matrix for c in cams]))
    fund = fundamental_ref_to_src(P[:1], P[1:2])
    att = EpipolarAttention(channels=6, num_samples=8).eval()
    f_ref, f_src = torch.randn(1, 6, 16, 16), torch.randn(1, 6, 16, 16)
    fused = att(f_ref, f_src, fund, 4.0)
    out, attn = att.attend(f_ref, f_src, fund, 4.0)
    assert torch.allclose(fused, f_ref + out, atol=1e-6)  # zero-initialised BN: z-branch is 0
    pts, valid = epipolar_sample_points(fund, 16, 16, 4.0, 8)
    cell = int(torch.nonzero(valid[0])[len(torch.nonzero(valid[0])) // 2])
    i, j = divmod(cell, 16)
    feats = []
    for s in range(8):  # bilinear interpolation by hand, cell coordinates = pixels / 4
        x, y = (pts[0, cell, s] / 4.0).tolist()
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        ax, ay = x - x0, y - y0
        x1, y1 = min(x0 + 1, 15), min(y0 + 1, 15)
        v = ((1 - ax) * (1 - ay) * f_src[0, :, y0, x0] + ax * (1 - ay) * f_src[0, :, y0, x1]
             + (1 - ax) * ay * f_src[0, :, y1, x0] + ax * ay * f_src[0, :, y1, x1])
        feats.append(v)
    feats = torch.stack(feats)  # (S, C)
    sim = feats @ f_ref[0, :, i, j] / np.sqrt(8)
    expected = torch.softmax(sim, 0) @ feats
    assert torch.allclose(out[0, :, i, j], expected, atol=1e-5)
    assert torch.allclose(attn[0, cell].sum(), torch.tensor(1.0))


def test_grid_sample_convention_reads_cell_values_exactly():
    f = torch.arange(16.0).reshape(1, 1, 4, 4)
    from poseboard.methods.nets.epipolar_attention import pixels_to_grid

    pix = torch.tensor([[[[8.0, 4.0]]]])  # stride 4: cell (x=2, y=1)
    grid = pixels_to_grid(pix, 4, 4, 4.0)
    assert float(F.grid_sample(f, grid, align_corners=True)) == 6.0


# ------------------------------------------------------------------------------ decoding
def test_local_soft_argmax_and_view_selection():
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    h = torch.exp(-((xs - 5.3) ** 2 + (ys - 9.6) ** 2) / (2 * 1.5**2))
    xy, score = local_soft_argmax(h[None], radius=3)
    assert torch.allclose(xy[0], torch.tensor([5.3, 9.6]), atol=0.08) and float(score) > 0.9
    s = torch.tensor([[0.9, 0.01, 0.5, 0.02], [0.01, 0.02, 0.03, 0.04]])
    assert select_views(s, 0.05).tolist() == [[1, 0, 1, 0], [0, 0, 1, 1]]


# ------------------------------------------------------------------------------ the method
def _config(backbone: Path | None, use_transformer: bool = True, steps: int = 0) -> EpipolarConfig:
    cfg = EpipolarConfig.preset("smoke")
    cfg.backbone_checkpoint = str(backbone) if backbone is not None else None
    cfg.use_transformer = use_transformer
    cfg.train.steps = steps
    cfg.train.batch_size = 8
    cfg.train.lr = 5e-4
    cfg.train.log_every = 5
    return cfg


def test_save_load_round_trip_and_determinism(tmp_path, p5_data):
    ds = MultiViewDataset(p5_data / "synth-h36m" / "test")
    batch = collate_multiview([ds[i] for i in range(2)])
    method = EpipolarMethod(_config(None))
    assert method.capabilities.needs_extrinsics and method.capabilities.output_frame == "world"
    with torch.no_grad():
        method.net.attention.bn_z.weight.fill_(0.5)  # a non-trivial z-branch
    method.save(tmp_path)
    loaded = EpipolarMethod.load(tmp_path)
    a, b = method.predict(batch), loaded.predict(batch)
    assert torch.equal(a.joints_3d, b.joints_3d) and torch.equal(a.joints_3d, method.predict(batch).joints_3d)
    ransac = EpipolarMethod(_config(None).model_copy(update={"triangulation": "ransac"}))
    ransac.load_state_dict(method.state_dict())
    assert torch.isfinite(ransac.predict(batch).joints_3d).all()


@pytest.mark.slow
@pytest.mark.parametrize("use_transformer", [True, False])
def test_learns_on_a_tiny_world(tmp_path, p5_data, p5_backbone, use_transformer):
    train = MultiViewDataset(p5_data / "synth-h36m" / "train")
    test = MultiViewDataset(p5_data / "synth-h36m" / "test")
    untrained = EpipolarMethod(_config(None, use_transformer))
    fixed = collate_multiview([train[i] for i in range(16)])

    def train_loss(m: EpipolarMethod) -> float:
        m.net.eval()
        pairs = m.training_pairs(fixed, torch.Generator().manual_seed(0))
        with torch.no_grad():
            heat = m.net.reference_heatmaps(pairs["images_ref"], pairs["images_src"], pairs["proj_ref"],
                                            pairs["proj_src"])
        return float(m.heatmap_loss(heat, pairs))

    start = EpipolarMethod(_config(p5_backbone, use_transformer, steps=0))
    start.progress = False
    start.fit(train, None)
    method = EpipolarMethod(_config(p5_backbone, use_transformer, steps=60))
    method.progress = False
    method.fit(train, None, workdir=tmp_path / "work")
    assert len(history_losses(method.last_summary)) == 12
    assert train_loss(method) < train_loss(start)
    before = evaluate_mpjpe(untrained, test, None)["mpjpe_abs"]
    after = evaluate_mpjpe(method, test, None)["mpjpe_abs"]
    assert after < 0.5 * before


@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_attention_lr_scale_gives_the_fusion_block_its_own_learning_rate(tmp_path, p5_data, monkeypatch, scale):
    captured = {}
    real_adam = torch.optim.Adam

    def spy(params, **kwargs):
        optimizer = real_adam(params, **kwargs)
        captured["optimizer"] = optimizer
        return optimizer

    monkeypatch.setattr(torch.optim, "Adam", spy)
    cfg = _config(None, steps=1).model_copy(update={"attention_lr_scale": scale})
    method = EpipolarMethod(cfg)
    method.progress = False
    method.fit(MultiViewDataset(p5_data / "synth-h36m" / "train"), None, workdir=tmp_path / "work")
    groups = captured["optimizer"].param_groups
    fusion = {id(p) for p in method.net.attention.parameters()}
    if scale == 1.0:  # the plain optimiser of earlier versions: one group, unchanged numbers
        assert len(groups) == 1
    else:
        assert [g["lr_scale"] for g in groups] == [1.0, scale]
        assert {id(p) for p in groups[1]["params"]} == fusion
        assert not fusion & {id(p) for p in groups[0]["params"]}
        assert groups[1]["lr"] == pytest.approx(scale * groups[0]["lr"])


@pytest.mark.parametrize("use_transformer", [True, False])
def test_input_size_resamples_the_crops_and_maps_cells_back_to_crop_pixels(p5_data, use_transformer):
    """He et al.'s R-50 rows read 256² from 384² crops: with ``input_size`` the backbone sees the
    resampled crops, the heatmaps are input_size / 4 cells wide, and detections, training
    targets and epipolar strides stay in the crop's pixels (crop side / heatmap side)."""
    ds = MultiViewDataset(p5_data / "synth-h36m" / "test")
    batch = collate_multiview([ds[i] for i in range(2)])
    crop = batch["images"].shape[-1]
    method = EpipolarMethod(_config(None, use_transformer).model_copy(update={"input_size": 32}))
    with torch.no_grad():
        heat = method.net.all_view_heatmaps(batch["images"], batch["proj_matrices"].float())
    assert crop == 64 and heat.shape[-2:] == (8, 8)
    pairs = method.training_pairs(batch, torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref_heat = method.net.reference_heatmaps(pairs["images_ref"], pairs["images_src"], pairs["proj_ref"],
                                                 pairs["proj_src"])
    assert ref_heat.shape[-2:] == (8, 8) and torch.isfinite(method.heatmap_loss(ref_heat, pairs))
    pts, _, _ = method.detect(batch)
    assert pts.shape[-1] == 2 and float(pts.amax()) < crop + 8  # crop pixels, not the 32² input's
    assert torch.isfinite(method.predict(batch).joints_3d).all()
    plain = EpipolarMethod(_config(None, use_transformer))
    assert plain.config.input_size is None
    x = torch.rand(2, 3, crop, crop)
    assert plain.net.network_input(x) is x  # None: the crops as they are
    assert method.net.network_input(x).shape == (2, 3, 32, 32)


def _attention_by_sampling(att: EpipolarAttention, f_ref: torch.Tensor, f_src: torch.Tensor,
                           fund: torch.Tensor, stride: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention as the reference writes it: the (B, C, H·W, S) source features sampled by
    ``grid_sample`` on the epipolar lines, dot products with the reference cell, softmax,
    weighted sum."""
    from poseboard.methods.nets.epipolar_attention import pixels_to_grid

    _, _, h, w = f_ref.shape
    pts, valid = epipolar_sample_points(fund.to(torch.float64), h, w, stride, att.num_samples)
    grid = pixels_to_grid(pts, h, w, stride).to(f_src.dtype)
    sampled = F.grid_sample(f_src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    sim = torch.einsum("bcn,bcns->bns", f_ref.flatten(2), sampled) * att.softmax_scale
    attn = torch.softmax(sim, dim=-1) * valid[..., None].to(sim.dtype)
    return torch.einsum("bns,bcns->bcn", attn, sampled).unflatten(-1, (h, w)), attn


def test_attention_equals_sampling_then_dot_products_with_gradients():
    """The matrix-product form of the attention gives the numbers and the gradients of the
    sample-then-dot form, on real crop geometry (lines crossing the map, lines ending at its
    last row and column) and on a source view whose lines miss the map (zero output)."""
    torch.manual_seed(0)
    cams = _crop_rig(64)
    P = torch.tensor(np.stack([c.projection_matrix for c in cams]))
    half = torch.tensor([[[0.0, 0, 0], [0, 0, 1], [-2, 0, 0]]], dtype=torch.float64)  # lines y = 2·x_ref
    fund = torch.cat([fundamental_ref_to_src(P[:1], P[1:2]), fundamental_ref_to_src(P[2:3], P[3:4]), half])
    att = EpipolarAttention(channels=5, num_samples=16).eval()
    f_ref = torch.randn(3, 5, 16, 16, dtype=torch.float64, requires_grad=True)
    f_src = torch.randn(3, 5, 16, 16, dtype=torch.float64, requires_grad=True)
    _, valid = epipolar_sample_points(fund, 16, 16, 4.0, 16)
    assert valid[:2].float().mean() > 0.5 and 0 < valid[2].sum() < 256  # half of the third's lines miss
    out, attn = att.attend(f_ref, f_src, fund, 4.0)
    ref_out, ref_attn = _attention_by_sampling(att, f_ref, f_src, fund, 4.0)
    assert torch.allclose(out, ref_out, atol=1e-10) and torch.allclose(attn, ref_attn, atol=1e-10)
    assert float(out.detach()[2].flatten(1)[:, ~valid[2]].abs().max()) == 0.0
    g = torch.randn_like(out)
    grads = torch.autograd.grad((out * g).sum(), (f_ref, f_src))
    ref_grads = torch.autograd.grad((ref_out * g).sum(), (f_ref, f_src))
    for a, b in zip(grads, ref_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def _graph_nodes(t: torch.Tensor) -> set[str]:
    """The names of every autograd node behind ``t``."""
    seen, todo, names = set(), [t.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        todo.extend(next_fn for next_fn, _ in node.next_functions)
    return names


def test_training_the_attention_differentiates_no_backward_kernel():
    """The attention's gradient is built from first derivatives only. Its adjoint sampling was
    once the vjp of ``grid_sample``, whose own derivative (the derivative of a backward kernel)
    torch 2.11 and cuDNN lack: every CUDA training step of the epipolar transformer failed."""
    torch.manual_seed(0)
    cams = _crop_rig(64)
    P = torch.tensor(np.stack([c.projection_matrix for c in cams]))
    fund = fundamental_ref_to_src(P[:1], P[1:2])
    att = EpipolarAttention(channels=4, num_samples=8).train()
    f_ref, f_src = (torch.randn(1, 4, 16, 16, requires_grad=True) for _ in range(2))
    out = att(f_ref, f_src, fund.float(), 4.0)
    names = _graph_nodes(out)
    assert any("GridSampler" in n for n in names)  # the sampling is in the graph …
    assert not [n for n in names if "BackwardBackward" in n]  # … and no derivative of a backward
    out.square().sum().backward()
    assert f_src.grad is not None and float(f_src.grad.abs().sum()) > 0


def test_the_adjoint_sampling_gradchecks():
    """:class:`_SpreadBack`'s gradient is right (the adjoint of the adjoint is the sampling)."""
    torch.manual_seed(0)
    values = torch.rand(4, 1, 1, 5, dtype=torch.float64, requires_grad=True)
    grid = torch.rand(4, 1, 5, 2, dtype=torch.float64) * 2.4 - 1.2  # some points off the map
    assert torch.autograd.gradcheck(lambda v: _SpreadBack.apply(v, grid, (3, 4)), (values,))


def test_the_adjoint_sampling_is_grid_samples_vjp_bit_for_bit():
    """:class:`_SpreadBack` gives the numbers ``torch.func.vjp`` of ``grid_sample`` gave (the
    committed epipolar results were computed with those), gradients included. The vjp can be
    differentiated only where torch has the derivative of ``grid_sampler_2d_backward`` (2.13
    has it, 2.11 does not): elsewhere there is nothing to compare with."""
    torch.manual_seed(0)
    rows, h, w, s = 24, 6, 7, 9
    maps = torch.randn(rows, 1, h, w)
    grid = torch.rand(rows, 1, s, 2) * 2.4 - 1.2  # some points off the map: zero padding
    logits = torch.randn(rows, s)

    def sample(m: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(m, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    def through_vjp(m, lg):
        sampled, spread_back = torch.func.vjp(sample, m)
        (cells,) = spread_back(torch.softmax(sampled.reshape(rows, s) + lg, -1).reshape(rows, 1, 1, s))
        return cells

    def through_spread(m, lg):
        values = torch.softmax(sample(m).reshape(rows, s) + lg, -1).reshape(rows, 1, 1, s)
        return _SpreadBack.apply(values, grid, (h, w))

    weights = torch.randn(rows, 1, h, w)
    results = []
    for fn in (through_vjp, through_spread):
        m, lg = maps.clone().requires_grad_(), logits.clone().requires_grad_()
        cells = fn(m, lg)
        try:
            (cells * weights).sum().backward()
        except RuntimeError as exc:
            if fn is through_vjp and "is not implemented" in str(exc):
                pytest.skip(f"torch {torch.__version__} cannot differentiate the vjp reference ({exc})")
            raise
        results.append((cells.detach(), m.grad, lg.grad))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
