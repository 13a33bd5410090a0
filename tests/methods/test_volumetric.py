"""Volumetric learnable triangulation: unprojection, aggregation, learning, 1..N views,
determinism, save/load, resumption."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.methods.nets.multiview import read_batch
from poseboard.methods.registry import get_method
from poseboard.methods.volumetric import (
    VolumetricConfig,
    VolumetricMethod,
    aggregate,
    cuboid_coords,
    rotation_z,
    standardise_volume,
    unproject,
    voxel_cross_entropy,
)
from poseboard.protocols.registry import get_protocol


def _config(**train) -> VolumetricConfig:
    cfg = VolumetricConfig.preset("smoke")
    return cfg.model_copy(update={"backbone_checkpoint": str(F.backbone_dir()),
                                  "algebraic_checkpoint": str(F.algebraic_dir()),
                                  "train": cfg.train.model_copy(update=train)})


@pytest.fixture(scope="module")
def trained() -> VolumetricMethod:
    method = VolumetricMethod(_config())
    method.progress = False
    method.fit(F.h36m("train"), None)
    return method


# ---------------------------------------------------------------------------- geometry
def test_unprojection_samples_each_views_projection_exactly():
    """Features equal to the heatmap column/row index, sampled at a voxel, give the (lens
    distorted) projection of that voxel in cells: bilinear sampling of a linear map is exact."""
    batch = F.eval_batch(2)
    vb = read_batch(batch)
    h = w = 16
    cols = torch.arange(w, dtype=torch.float32).expand(h, w)
    feats = torch.stack([cols, cols.T])[None, None].expand(2, 4, 2, h, w)
    centre = batch["joints_3d"][:, 6].double()
    coords = cuboid_coords(centre, rotation_z(torch.zeros(2, dtype=torch.float64)), 5, (300.0, 300.0, 300.0))
    sampled, mask = unproject(feats, coords.flatten(1, 3), vb)
    stride = vb.size / w
    for b in range(2):
        for v in range(4):
            cam = batch["cameras"][b][v]
            uv = cam.project(coords[b].reshape(-1, 3).numpy(), distort=True) / stride
            inside = torch.from_numpy(((uv >= 0) & (uv <= w - 1)).all(-1))
            assert torch.equal(mask[b, v], inside)
            got = sampled[b, v].T[inside].double()
            torch.testing.assert_close(got, torch.from_numpy(uv)[inside], atol=1e-3, rtol=0)


def test_cuboid_grid_and_rotation():
    centre = torch.tensor([[100.0, -50.0, 900.0]], dtype=torch.float64)
    rot = rotation_z(torch.tensor([math.pi / 2], dtype=torch.float64))
    torch.testing.assert_close(rot[0] @ rot[0].T, torch.eye(3, dtype=torch.float64))
    coords = cuboid_coords(centre, rot, 5, (400.0, 800.0, 1200.0))
    torch.testing.assert_close(coords[0, 2, 2, 2], centre[0])  # odd size: a voxel at the centre
    # the x axis of the grid is rotated onto world y; z is untouched
    torch.testing.assert_close(coords[0, 4, 2, 2] - centre[0], torch.tensor([0.0, 200.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(coords[0, 2, 2, 4, 2] - centre[0, 2], torch.tensor(600.0, dtype=torch.float64))


def test_aggregation_rules():
    vol = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.5]]]])  # (B=1, V=2, C=1, N=2)
    mask = torch.tensor([[[True, True], [True, False]]])
    soft = aggregate(vol, mask, "softmax")
    w = torch.softmax(torch.tensor([1.0, 3.0]), 0)
    torch.testing.assert_close(soft[0, 0], torch.tensor([(w * torch.tensor([1.0, 3.0])).sum(), 2.0]))
    torch.testing.assert_close(aggregate(vol, mask, "sum")[0, 0], torch.tensor([4.0, 2.0]))
    conf = aggregate(vol, mask, "conf", torch.tensor([[[1.0], [3.0]]]))
    torch.testing.assert_close(conf[0, 0], torch.tensor([(1 + 9) / 4, 2.0]))
    single = aggregate(vol[:, :1], mask[:, :1], "softmax")
    torch.testing.assert_close(single, vol[:, 0])


def _view_mask(valid: torch.Tensor) -> torch.Tensor:
    """(B, V) or (B, V, N) ``valid`` → a bool mask broadcastable to (B, V, C, N) volumes."""
    return valid[:, :, None, None] if valid.ndim == 2 else valid[:, :, None]


def _softmax_aggregation_by_autograd(vol: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The formula written plainly, for autograd to differentiate (the reference)."""
    m = _view_mask(valid).to(vol.dtype)
    e = torch.exp(vol - vol.detach().amax(1, keepdim=True)) * m
    return (e * vol).sum(1) / e.sum(1).clamp_min(1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("per_voxel", [False, True])
def test_softmax_aggregation_without_gradient_is_the_same_bytes(dtype, per_voxel):
    """Prediction aggregates in place (no gradient): bit for bit the plain formula and training's
    forward, the input untouched, and a voxel no view sees still 0."""
    gen = torch.Generator().manual_seed(3)
    vol = (torch.randn(2, 4, 3, 50, generator=gen) * 4).to(dtype)
    valid = torch.rand(2, 4, 50, generator=gen) > 0.3 if per_voxel else torch.tensor([[1, 1, 0, 1], [1, 0, 0, 0]]) > 0
    if per_voxel:
        valid[0, :, 7] = False  # seen by no view
    kept = vol.clone()
    with torch.no_grad():
        fast = aggregate(vol, valid, "softmax")
    assert torch.equal(vol, kept)
    assert torch.equal(fast, _softmax_aggregation_by_autograd(vol, valid))
    leaf = vol.clone().requires_grad_(True)
    tracked = aggregate(leaf, valid, "softmax")  # the form training differentiates
    assert tracked.requires_grad and torch.equal(fast, tracked.detach())
    tracked.sum().backward()
    assert torch.isfinite(leaf.grad).all()
    if per_voxel:
        assert torch.equal(fast[0, :, 7], torch.zeros(3, dtype=dtype))


@pytest.mark.parametrize("per_voxel", [False, True])
def test_softmax_aggregation_gradient_is_the_formulas(per_voxel):
    """Training's aggregation has its gradient written out (s_v (1 + f_v − a)): it passes
    gradcheck in float64, equals autograd's gradient of the plain formula in float32, and a
    voxel no view sees, or an invalid view, gets no gradient."""
    gen = torch.Generator().manual_seed(5)
    vol = torch.randn(2, 4, 3, 40, generator=gen, dtype=torch.float64) * 3
    valid = torch.rand(2, 4, 40, generator=gen) > 0.3 if per_voxel else torch.tensor([[1, 1, 0, 1], [1, 0, 0, 0]]) > 0
    if per_voxel:
        valid[0, :, 7] = False
    leaf = vol.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: aggregate(v, valid, "softmax"), (leaf,))
    upstream = torch.randn(2, 3, 40, generator=gen)
    ours = vol.float().requires_grad_(True)
    plain = vol.float().requires_grad_(True)
    aggregate(ours, valid, "softmax").backward(upstream)
    _softmax_aggregation_by_autograd(plain, valid).backward(upstream)
    torch.testing.assert_close(ours.grad, plain.grad, rtol=1e-5, atol=1e-6)
    dead = ~_view_mask(valid).expand_as(vol)
    assert torch.equal(ours.grad[dead], torch.zeros_like(ours.grad[dead]))


def test_voxel_cross_entropy_is_low_at_the_ground_truth_voxel():
    centre = torch.zeros(1, 3, dtype=torch.float64)
    rot = rotation_z(torch.zeros(1, dtype=torch.float64))
    coords = cuboid_coords(centre, rot, 4, (300.0, 300.0, 300.0))
    gt = torch.tensor([[[140.0, -140.0, 140.0]]])  # nearest voxel (3, 0, 3)
    vol = torch.zeros(1, 1, 4, 4, 4)
    vol[0, 0, 3, 0, 3] = 20.0
    assert float(voxel_cross_entropy(vol, coords, centre, rot, gt, (300.0, 300.0, 300.0), 1.0)) < 1e-6 + 1e-5
    vol2 = torch.zeros(1, 1, 4, 4, 4)
    vol2[0, 0, 0, 0, 0] = 20.0
    assert float(voxel_cross_entropy(vol2, coords, centre, rot, gt, (300.0, 300.0, 300.0), 1.0)) > 10


# ---------------------------------------------------------------------------- learning
@torch.no_grad()
def _train_loss(method: VolumetricMethod) -> float:
    method.net.eval()
    batch = F.train_batch(8)
    vb = read_batch(batch)
    centre = batch["joints_3d"][:, 6].double()
    rot = rotation_z(torch.zeros(8, dtype=torch.float64))
    return float(method.loss(method.net(vb, centre, rot), batch["joints_3d"], centre, rot, 4)["loss"])


def test_fit_lowers_the_loss_and_the_test_error(trained):
    untrained = VolumetricMethod(_config())
    untrained.attach_algebraic(F.algebraic_dir())
    untrained.crop_extent_mm = trained.crop_extent_mm
    assert _train_loss(trained) < 0.8 * _train_loss(untrained)
    assert F.eval_mpjpe(trained, relative=True) < 0.7 * F.eval_mpjpe(untrained, relative=True)


@pytest.mark.parametrize("cameras", [[2], [0, 3], [0, 1, 2, 3]])
def test_runs_with_any_number_of_views(trained, cameras):
    batch = F.eval_batch(3, cameras=cameras)
    pred = trained.predict(batch)
    assert pred.joints_3d.shape == (3, 17, 3) and bool(torch.isfinite(pred.joints_3d).all())
    rel = F.mpjpe(pred.joints_3d, batch, relative=True)
    assert rel < 400.0  # mm; an unusable model puts every joint at the cuboid centre (~450 mm)


def test_single_view_centre_uses_the_crop_scale_prior(trained):
    assert 1000.0 < float(trained.crop_extent_mm) < 4000.0
    batch = F.eval_batch(4, cameras=[1])
    centre = trained.estimate_pelvis(batch, read_batch(batch))
    err = (centre - batch["joints_3d"][:, 6].double()).norm(dim=-1)
    assert float(err.max()) < 800.0  # within the cuboid's reach


def test_predict_is_deterministic_and_survives_save_load(trained, tmp_path):
    batch = F.eval_batch(4)
    first = trained.predict(batch).joints_3d
    assert torch.equal(first, trained.predict(batch).joints_3d)
    trained.save(tmp_path)
    again = get_method("volumetric").load(tmp_path)
    assert torch.equal(first, again.predict(batch).joints_3d)


def test_interrupted_fit_resumes_to_the_same_weights(tmp_path):
    def run(workdir, tracker=None):
        method = VolumetricMethod(_config(steps=4, batch_size=2, checkpoint_every=2, log_every=1))
        method.progress = False
        method.fit(F.h36m("train"), None, tracker=tracker, workdir=workdir)
        return method

    straight = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", F.RaiseAfter(2))
    resumed = run(tmp_path / "b")
    assert resumed.last_summary.start_step == 2
    for p, q in zip(straight.state_dict()["net"].values(), resumed.state_dict()["net"].values(), strict=True):
        assert torch.equal(p, q)


def test_single_view_protocol_is_accepted():
    assert get_protocol("synth-h36m-single-view").check_method("volumetric", VolumetricMethod.capabilities) == (1,)


def test_standardised_volume_has_zero_mean_and_unit_variance_per_sample():
    gen = torch.Generator().manual_seed(0)
    volume = torch.randn(3, 4, 50, generator=gen) * torch.tensor([0.2, 1.0, 5.0])[:, None, None] + 2.0
    out = standardise_volume(volume)
    assert torch.allclose(out.mean(dim=(1, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.var(dim=(1, 2), unbiased=False), torch.ones(3), atol=1e-3)
    # invariant to the scale and offset a changing view count gives the aggregated volume
    assert torch.allclose(standardise_volume(0.3 * volume - 1.0), out, atol=5e-3)  # up to eps


def test_volume_norm_is_off_by_default_and_left_out_of_the_records():
    assert VolumetricConfig().volume_norm == "none"
    assert "volume_norm" not in VolumetricConfig().model_dump()
    assert VolumetricConfig(volume_norm="standardise").model_dump()["volume_norm"] == "standardise"
