"""Where a volumetric training step of the default profile spends its time, part by part.

The two volumetric trainings are a quarter of the default run (docs/performance.md). This
builds the default profile's volumetric network (params.yaml's block merged over the preset by
``build_config``, as the train stage builds it; untrained weights: the cost does not depend on
them) and times, with the run's threads and allocator policy, each part of one training step
at the default batch (4 samples × 4 views, 128 px crops, 32³ volumes of 32 channels) forward
and backward, median of 5 after a warm-up:

    POSEBOARD_THREADS=2 python scripts/volumetric_step_parts.py

Compare the parts' sum with the step time the training prints (``s/step``); what is left is the
optimizer, the loss, the projection of the voxel grid and data loading.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F


def median_ms(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    from poseboard.allocator import keep_freed_memory
    from poseboard.harness.config import build_config
    from poseboard.methods.nets.multiview import run_backbone
    from poseboard.methods.volumetric import VolumetricConfig, VolumetricNet, aggregate

    keep_freed_memory()
    torch.set_num_threads(int(os.environ.get("POSEBOARD_THREADS", "2")))
    torch.manual_seed(0)
    cfg = build_config(VolumetricConfig, "default", Path("params.yaml"), "methods.volumetric.default")
    net = VolumetricNet(cfg)
    b, v, n, c = cfg.train.batch_size, 4, cfg.volume_size, cfg.volume_channels
    images = torch.randn(b, v, 3, 128, 128)
    volume = torch.randn(b, c, n, n, n, requires_grad=True)
    per_view = torch.randn(b, v, c, n**3, requires_grad=True)
    valid = torch.ones(b, v, dtype=torch.bool)
    features = torch.randn(b * v, c, 32, 32, requires_grad=True)
    grid = torch.rand(b * v, 1, n**3, 2) * 2 - 1

    def backbone() -> None:
        run_backbone(net.backbone, images).features.sum().backward()

    def v2v() -> None:
        net.v2v(volume).sum().backward()

    def unproject() -> None:
        F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=True).sum().backward()

    def softmax_aggregation() -> None:
        aggregate(per_view, valid, cfg.aggregation).sum().backward()

    print(f"volumetric, default profile: batch {b} × {v} views, {n}³ volume, {c} channels, "
          f"{torch.get_num_threads()} threads")
    for name, fn in (("backbone (16 crops)", backbone), ("V2V", v2v), ("unprojection (grid_sample)", unproject),
                     (f"aggregation ({cfg.aggregation})", softmax_aggregation)):
        print(f"  {name:28s} forward + backward {median_ms(fn):7.1f} ms")


if __name__ == "__main__":
    main()
