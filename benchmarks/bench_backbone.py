"""Speed of the default profile's shared 2D backbone by memory layout and precision, in the
same run: a pre-training step (forward, backward and AdamW on 16 crops of 128 px, the default's
batch) and a forward pass without gradients (32 crops, as prediction feeds it), with the network
and its input in PyTorch's default contiguous (NCHW) layout, in channels-last (NHWC), and,
for the step, under bf16 autocast. The backbone runs channels-last since session 23
(``BackboneConfig.channels_last``, the default); the contiguous layout is the baseline it
replaced, kept here as the ratio's denominator (docs/findings/performance-history-2026-11-26.md, sessions 22 and 23).
Random weights and crops: speed does not depend on them.

    pytest benchmarks/bench_backbone.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import math

import pytest
import torch

from poseboard.methods.nets.backbone import Backbone
from poseboard.methods.train.pretrain import PretrainConfig

LAYOUTS = ("contiguous", "channels_last")


def _net_and_crops(layout: str, crops: int) -> tuple[Backbone, torch.Tensor]:
    torch.manual_seed(0)
    config = PretrainConfig.preset("default").backbone
    net = Backbone(config.model_copy(update={"channels_last": layout == "channels_last"}))
    images = torch.randn(crops, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    if layout == "channels_last":
        images = images.contiguous(memory_format=torch.channels_last)
    return net, images


@pytest.mark.benchmark(group="backbone pre-training step, 16 crops")
@pytest.mark.parametrize(("layout", "precision"), [("contiguous", "fp32"), ("channels_last", "fp32"),
                                                   ("contiguous", "bf16")])
def test_pretraining_step(benchmark, layout, precision):
    net, images = _net_and_crops(layout, 16)
    target = torch.rand(16, 17, 32, 32, generator=torch.Generator().manual_seed(2))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            heatmaps = net(images).heatmaps
        loss = (heatmaps.float() - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    loss = benchmark.pedantic(step, rounds=10, iterations=1, warmup_rounds=2)
    assert math.isfinite(loss) and loss > 0
    if benchmark.stats is not None:  # None under --benchmark-disable (one plain call)
        benchmark.extra_info["crops_per_s"] = 16 / benchmark.stats.stats.median


@pytest.mark.benchmark(group="backbone forward, 32 crops, no gradient")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_forward(benchmark, layout):
    net, images = _net_and_crops(layout, 32)
    net.eval()

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return net(images).heatmaps

    heatmaps = benchmark.pedantic(forward, rounds=10, iterations=1, warmup_rounds=2)
    assert heatmaps.shape == (32, 17, 32, 32)
    if benchmark.stats is not None:  # None under --benchmark-disable (one plain call)
        benchmark.extra_info["crops_per_s"] = 32 / benchmark.stats.stats.median


def test_layouts_compute_the_same_function():
    """The layouts differ in speed, not in what they compute (to fp32 rounding)."""
    torch.manual_seed(3)
    (a, x), (b, y) = _net_and_crops("contiguous", 4), _net_and_crops("channels_last", 4)
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x).heatmaps, b(y).heatmaps, rtol=1e-4, atol=1e-5)
