"""Speed of the learnable-triangulation methods: inference per multi-view frame and one
training step, at the ``smoke`` (64-px crops) and ``default`` (128-px crops) sizes on the CPU,
and on a CUDA device when the machine has one at ``default`` and ``gpu`` sizes too (the
``gpu`` profile's ResNet-50-class backbone and 64³ volumes). Each benchmark's name carries its
device (``[cpu-…]`` / ``[cuda-…]``) and ``extra_info["device"]`` names the hardware; on CUDA
the clock is read after the GPU has finished (``poseboard.device.synchronize``).

Weights are random (speed does not depend on them); the inputs are real synthetic frames
(4 views of the Human3.6M-like rig) generated once per session. Inference is timed per
batch of 8 frames and reported per frame (``extra_info["ms_per_frame"]``,
``["frames_per_s"]``); a training step is one optimiser step on the method's preset
batch size. Run with ``pytest benchmarks/bench_methods.py --benchmark-only
--benchmark-group-by=group``.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch

from poseboard.datasets.torch_dataset import MultiViewDataset, collate_multiview
from poseboard.device import synchronized

FRAMES = 8
#: (device, profile) pairs: the CPU at the sizes it trains, a GPU at the default's and its own.
CASES = [("cpu", "smoke"), ("cpu", "default"),
         *([("cuda", "default"), ("cuda", "gpu")] if torch.cuda.is_available() else [])]


@cache
def _data(profile: str) -> Path:
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets

    cfg = SynthConfig.preset(profile)
    cfg.h36m.train.samples = FRAMES
    cfg.h36m.test.samples = 0
    out = Path(tempfile.mkdtemp(prefix=f"poseboard-bench-{profile}-"))
    generate_datasets(["synth-h36m"], cfg, out, seed=0, splits=["train"], workers=1)
    return out / "synth-h36m" / "train"


def _data_preset(profile: str) -> str:
    return "default" if profile == "gpu" else profile  # the gpu profile's crops are the default's


def _batch(profile: str, n: int, views: list[int] | None = None, device: str = "cpu") -> dict[str, Any]:
    from poseboard.device import to_device

    ds = MultiViewDataset(_data(_data_preset(profile)), cameras=views)
    return to_device(collate_multiview([ds[i % len(ds)] for i in range(n)]), device)


def _method(name: str, profile: str, device: str = "cpu"):
    from poseboard.methods.registry import get_method

    cls = get_method(name)
    method = cls(cls.config_model.preset(profile))
    method.progress = False
    if name == "volumetric":
        method.crop_extent_mm = torch.tensor(2100.0, dtype=torch.float64)
    return method.to(device)


def _label(benchmark: Any, device: str) -> None:
    from poseboard.device import describe_device

    benchmark.extra_info["device"] = describe_device(device)


def _per_frame(benchmark: Any, frames: int) -> None:
    stats = benchmark.stats.stats
    benchmark.extra_info.update({"frames_per_call": frames, "ms_per_frame": 1000 * stats.median / frames,
                                 "frames_per_s": frames / stats.median})


@pytest.mark.parametrize(("device", "profile"), CASES)
@pytest.mark.parametrize("name", ["ransac", "algebraic", "volumetric"])
def test_inference(benchmark, name, device, profile):
    benchmark.group = f"inference {profile} on {device} (8 frames x 4 views)"
    method = _method(name, profile, device)
    batch = _batch(profile, FRAMES, device=device)
    benchmark.pedantic(synchronized(method.predict, device), args=(batch,), rounds=3, iterations=1, warmup_rounds=1)
    _per_frame(benchmark, FRAMES)
    _label(benchmark, device)


@pytest.mark.parametrize(("device", "profile"), CASES)
def test_inference_volumetric_single_view(benchmark, device, profile):
    benchmark.group = f"inference {profile} on {device} (8 frames x 4 views)"
    method = _method("volumetric", profile, device)
    batch = _batch(profile, FRAMES, views=[0], device=device)
    benchmark.pedantic(synchronized(method.predict, device), args=(batch,), rounds=3, iterations=1, warmup_rounds=1)
    _per_frame(benchmark, FRAMES)
    _label(benchmark, device)


def _algebraic_step(profile: str, device: str):
    method = _method("algebraic", profile, device)
    cfg = method.config
    net = method.net.train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
    batch = _batch(profile, cfg.train.batch_size, device=device)

    def step() -> None:
        loss = method.loss(net(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, cfg.train.batch_size


def _volumetric_step(profile: str, device: str):
    from poseboard.methods.nets.multiview import read_batch
    from poseboard.methods.volumetric import rotation_z

    method = _method("volumetric", profile, device)
    cfg = method.config
    net = method.net.train()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=cfg.train.lr)
    batch = _batch(profile, cfg.train.batch_size, device=device)
    vb = read_batch(batch)
    centre = batch["joints_3d"][:, 6].double()
    rot = rotation_z(torch.rand(centre.shape[0], dtype=torch.float64) * 6.28).to(device)

    def step() -> None:
        loss = method.loss(net(vb, centre, rot), batch["joints_3d"], centre, rot, 4)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, cfg.train.batch_size


def _pretrain_step(profile: str, device: str):
    from poseboard.methods.nets.backbone import Backbone
    from poseboard.methods.train.pretrain import PretrainConfig, gaussian_heatmaps, heatmap_loss

    cfg = PretrainConfig.preset(profile)
    net = Backbone(cfg.backbone).train().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.train.lr)
    batch = _batch(profile, max(1, cfg.train.batch_size // 4), device=device)
    images = batch["images"].flatten(0, 1)
    joints = batch["joints_2d"].flatten(0, 1)
    size = images.shape[-1]
    stride = cfg.backbone.heatmap_stride
    target = gaussian_heatmaps(joints / stride, (size // stride, size // stride), cfg.sigma)

    def step() -> None:
        loss = heatmap_loss(net(images).heatmaps, target, torch.ones(joints.shape[:2], device=images.device))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, images.shape[0]


@pytest.mark.parametrize(("device", "profile"), CASES)
@pytest.mark.parametrize("stage", ["pretrain", "algebraic", "volumetric"])
def test_training_step(benchmark, stage, device, profile):
    benchmark.group = f"training step {profile} on {device}"
    step, batch = {"pretrain": _pretrain_step, "algebraic": _algebraic_step,
                   "volumetric": _volumetric_step}[stage](profile, device)
    benchmark.pedantic(synchronized(step, device), rounds=3, iterations=1, warmup_rounds=1)
    _label(benchmark, device)
    stats = benchmark.stats.stats
    unit = "crops" if stage == "pretrain" else "samples"
    benchmark.extra_info.update({f"{unit}_per_step": batch, f"{unit}_per_s": batch / stats.median})
