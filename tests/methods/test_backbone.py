"""The shared 2D backbone, its pre-training stage and the training machinery."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.errors import InputError, ResultFileError, ShapeError
from poseboard.geometry import hard_argmax_2d, soft_argmax_2d
from poseboard.methods.nets.backbone import (
    Backbone,
    BackboneConfig,
    count_parameters,
    load_backbone,
    save_backbone,
)
from poseboard.methods.train.loop import (
    StepBatchSampler,
    TrainConfig,
    learning_rate,
    load_checkpoint,
    save_checkpoint,
    step_generator,
    train_loop,
)
from poseboard.methods.train.pretrain import (
    CropDataset,
    PretrainConfig,
    augment_batch,
    evaluate_2d,
    flip_batch,
    gaussian_heatmaps,
    joint_weights,
)
from poseboard.skeleton import H36M17


# ---------------------------------------------------------------------------- architecture
@pytest.mark.parametrize("preset", ["smoke", "default"])
def test_output_shapes(preset):
    cfg = BackboneConfig.preset(preset)
    net = Backbone(cfg).eval()
    out = net(torch.zeros(2, 3, 128, 128))
    assert out.heatmaps.shape == (2, 17, 32, 32)
    assert out.features.shape == (2, cfg.feature_channels, 32, 32)
    assert out.bottleneck.shape == (2, cfg.bottleneck_channels, 4, 4)
    assert cfg.heatmap_stride == 4


def test_paper_preset_has_poseresnet152_size():
    # PoseResNet-152 (learnable triangulation's backbone) has 68.6 M parameters (reference notes §2).
    n = count_parameters(Backbone(BackboneConfig.preset("paper")))
    assert abs(n - 68.6e6) / 68.6e6 < 0.02


def test_bad_input_size_and_shape():
    net = Backbone(BackboneConfig.preset("smoke"))
    with pytest.raises(InputError, match="multiple of 32"):
        net(torch.zeros(1, 3, 48, 48))
    with pytest.raises(ShapeError):
        net(torch.zeros(3, 64, 64))
    with pytest.raises(InputError, match="unknown backbone preset"):
        BackboneConfig.preset("huge")


def test_save_load_round_trip(tmp_path):
    net = Backbone(BackboneConfig.preset("smoke")).eval()
    save_backbone(tmp_path, net, {"steps": 3})
    again = load_backbone(tmp_path, expect=net.config).eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(net(x).heatmaps, again(x).heatmaps)
    with pytest.raises(ResultFileError, match="configured"):
        load_backbone(tmp_path, expect=BackboneConfig.preset("default"))
    with pytest.raises(ResultFileError, match="pretrain"):
        load_backbone(tmp_path / "missing")


# ---------------------------------------------------------------------------- targets
def test_gaussian_target_peaks_where_the_soft_argmax_reads():
    pts = torch.tensor([[[3.0, 7.0], [10.25, 2.5]]])
    hm = gaussian_heatmaps(pts, (16, 16), sigma=1.5)
    assert hm.shape == (1, 2, 16, 16)
    assert torch.equal(hard_argmax_2d(hm)[0, 0], torch.tensor([3, 7]))
    torch.testing.assert_close(soft_argmax_2d(hm, multiplier=20.0), pts, atol=0.2, rtol=0)


def test_flip_mirrors_pixels_and_swaps_sides():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    gen = torch.Generator().manual_seed(0)
    joints = torch.rand(2, 17, 2, generator=gen) * 3
    vis = torch.rand(2, 17, generator=gen) > 0.5
    mask = torch.tensor([True, False])
    fi, fj, fv = flip_batch(images, joints, vis, mask)
    perm = list(H36M17.left_right_swap)
    assert torch.equal(fi[0], images[0].flip(-1)) and torch.equal(fi[1], images[1])
    assert torch.allclose(fj[0, :, 0], 3 - joints[0, perm, 0]) and torch.equal(fj[1], joints[1])
    assert torch.equal(fv[0], vis[0, perm])
    bi, bj, bv = flip_batch(fi, fj, fv, mask)
    assert torch.equal(bi, images) and torch.equal(bv, vis)
    # x → 3 - x → 3 - (3 - x) rounds at float32's spacing near 3 (2.4e-7): an absolute tolerance,
    # since a relative one fails for x near 0 (it did, unseeded, once in CI).
    torch.testing.assert_close(bj, joints, atol=1e-6, rtol=0)


def test_augmentation_moves_the_joints_with_the_image():
    """A Gaussian blob drawn at each joint, one joint per channel: after a random zoom and
    rotation the blob's centre of mass is where ``augment_batch`` moved the joint (an
    independent read of the image: where the pixels went, not the map that moved them)."""
    size = 64
    joints = torch.tensor([[10.0, 20.0], [40.0, 15.0], [30.0, 50.0]]).expand(4, 3, 2).clone()
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    images = torch.exp(-((xx - joints[..., 0, None, None]) ** 2 + (yy - joints[..., 1, None, None]) ** 2) / 4.5)
    config = PretrainConfig(augment_scale=0.25, augment_rotation_deg=30.0)
    out, moved = augment_batch(images, joints, config, torch.Generator().manual_seed(1))
    weights = out / out.sum(dim=(-1, -2), keepdim=True)
    centre = torch.stack([(weights * xx).sum(dim=(-1, -2)), (weights * yy).sum(dim=(-1, -2))], -1)
    assert (moved - joints).abs().amax() > 2.0  # the draw moved them
    assert torch.allclose(centre, moved, atol=0.05)


def test_joint_weights():
    joints = torch.tensor([[[5.0, 5.0], [5.0, 5.0], [-1.0, 5.0]]])
    vis = torch.tensor([[True, False, True]])
    assert joint_weights(joints, vis, 64, 0.5).tolist() == [[1.0, 0.5, 0.0]]


# ---------------------------------------------------------------------------- training machinery
def test_learning_rate_schedules():
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, schedule="cosine", min_lr_ratio=0.0)
    assert learning_rate(cfg, 0) == pytest.approx(0.1)
    assert learning_rate(cfg, 10) == pytest.approx(1.0)
    assert learning_rate(cfg, 100) == pytest.approx(0.0, abs=1e-9)
    step = TrainConfig(steps=100, lr=1.0, schedule="step", step_milestones=(0.5,))
    assert learning_rate(step, 49) == 1.0 and learning_rate(step, 50) == pytest.approx(0.1)


def test_batches_do_not_depend_on_the_start_step():
    full = list(StepBatchSampler(10, 3, seed=4, start_step=0, stop_step=12))
    tail = list(StepBatchSampler(10, 3, seed=4, start_step=5, stop_step=12))
    assert full[5:] == tail
    first_epoch = [i for batch in full[:3] for i in batch]
    assert sorted(first_epoch) == sorted(set(first_epoch))  # an epoch has no repeats
    assert full[:3] != full[3:6]  # epochs are reshuffled
    with pytest.raises(InputError):
        StepBatchSampler(2, 3, 0, 0, 1)
    a = torch.rand(3, generator=step_generator(1, 7))
    assert torch.equal(a, torch.rand(3, generator=step_generator(1, 7)))


def test_checkpoint_file_is_weights_only(tmp_path):
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.pt", step=5, modules={"m": model}, optimizer=opt, extra={"note": "x"})
    state = load_checkpoint(tmp_path / "c.pt")  # weights_only=True inside
    assert state["step"] == 5 and state["extra"]["note"] == "x"
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ResultFileError):
        load_checkpoint(tmp_path / "bad.pt")


class _Points(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(40, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def _fit_linear(workdir, steps, tracker=None):
    torch.manual_seed(123)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    cfg = TrainConfig(steps=steps, batch_size=8, lr=0.05, checkpoint_every=3, log_every=1, schedule="cosine")

    def step_fn(batch, step, gen):
        x, y = batch
        x = x + 0.01 * torch.randn(x.shape, generator=gen)  # step-seeded "augmentation"
        return {"loss": (model(x)[:, 0] - y).square().mean()}

    def collate(items):
        return tuple(torch.stack(t) for t in zip(*items, strict=True))

    summary = train_loop(name="lin", config=cfg, modules={"m": model}, optimizer=opt, step_fn=step_fn,
                         dataset=_Points(), collate=collate,
                         workdir=workdir, tracker=tracker, progress=False)
    return model, summary


def test_train_loop_resumes_exactly(tmp_path):
    straight, summary = _fit_linear(tmp_path / "a", 12)
    losses = [h["loss"] for h in summary.history if "loss" in h]
    assert losses[-1] < losses[0]
    with pytest.raises(KeyboardInterrupt):
        _fit_linear(tmp_path / "b", 12, tracker=F.RaiseAfter(6))
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 6
    resumed, rsummary = _fit_linear(tmp_path / "b", 12)
    assert rsummary.resumed and rsummary.start_step == 6 and rsummary.end_step == 12
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    _, again = _fit_linear(tmp_path / "b", 12)  # finished: nothing left to do
    assert again.start_step == again.end_step == 12


# ---------------------------------------------------------------------------- pre-training
def test_pretraining_learns_2d_joints():
    directory = F.backbone_dir()
    record = load_backbone(directory)
    info = (directory / "backbone.json").read_text()
    assert '"stage": "pretrain"' in info
    test = CropDataset(F.data_dir() / "synth-h36m" / "test")
    trained = evaluate_2d(record, test, None)
    untrained = evaluate_2d(Backbone(record.config), test, None)
    assert trained["px_hard"] < 0.5 * untrained["px_hard"]
    assert trained["px_soft"] < 8.0  # crop pixels of a 64-px crop


def test_pretrain_config_presets():
    assert PretrainConfig.preset("default").backbone == BackboneConfig.preset("default")
    with pytest.raises(InputError):
        PretrainConfig.preset("nope")


def test_the_layouts_compute_the_same_function_and_share_checkpoints(tmp_path):
    """Channels-last (the default) and contiguous backbones with the same weights give the same
    outputs and gradients to fp32 rounding; the outputs are contiguous either way, and a
    checkpoint saved from one layout loads into the other (the layout is not architecture)."""
    config = BackboneConfig.preset("smoke")
    torch.manual_seed(0)
    fast = Backbone(config)
    plain = Backbone(config.model_copy(update={"channels_last": False}))
    plain.load_state_dict(fast.state_dict())
    assert fast.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert plain.stem[0].weight.is_contiguous()
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    outputs, grads = [], []
    for net in (fast, plain):
        out = net(images)
        assert all(t.is_contiguous() for t in out)
        out.heatmaps.square().mean().backward()
        outputs.append(out)
        grads.append(net.stem[0].weight.grad)
    for a, b in zip(*outputs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-6)
    assert not torch.equal(grads[0], torch.zeros_like(grads[0]))

    save_backbone(tmp_path / "fast", fast)
    loaded = load_backbone(tmp_path / "fast", expect=plain.config)
    assert not loaded.config.channels_last and loaded.stem[0].weight.is_contiguous()
    fast.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(images).heatmaps, fast(images).heatmaps, rtol=1e-4, atol=1e-5)


def test_the_strided_pointwise_convolution_is_torch_s_and_survives_few_channels():
    """The downsample's 1×1 convolution (stride by subsampling) gives the strided convolution's
    output and both gradients (to fp32 summation order) on the default backbone's shapes,
    channels-last; and
    its backward runs at 8 input channels and 64² (where PyTorch 2.13's strided channels-last
    kernel corrupts the heap: this test would kill its worker)."""
    from poseboard.methods.nets.backbone import SubsampledPointwiseConv2d

    gen = torch.Generator().manual_seed(0)
    for cin, cout, side in [(32, 64, 32), (64, 128, 16), (8, 16, 64)]:
        ours = SubsampledPointwiseConv2d(cin, cout, 2).to(memory_format=torch.channels_last)
        x = torch.randn(4, cin, side, side, generator=gen).contiguous(memory_format=torch.channels_last)
        grad = torch.randn(4, cout, side // 2, side // 2, generator=gen).contiguous(memory_format=torch.channels_last)
        xi = x.clone().requires_grad_(True)
        y = ours(xi)
        y.backward(grad)
        assert y.shape == (4, cout, side // 2, side // 2)
        if cin < 16:
            continue  # the crash's shape: no strided reference to run
        plain = nn.Conv2d(cin, cout, 1, 2, bias=False).to(memory_format=torch.channels_last)
        plain.load_state_dict(ours.state_dict())
        xp = x.clone().requires_grad_(True)
        yp = plain(xp)
        yp.backward(grad)
        torch.testing.assert_close(y, yp, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(xi.grad, xp.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)  # sums of 4·side²/4 terms


def test_the_smoke_backbone_trains_a_step_at_256_px():
    """The shape that crashed the channels-last smoke backbone (its 8-channel downsample at 64²)."""
    net = Backbone(BackboneConfig.preset("smoke"))
    out = net(torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(0)))
    (out.heatmaps.square().mean() + out.bottleneck.mean()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)
