"""Inference speed of every method in ``params.yaml``, at the active profile's sizes: the
leaderboard's speed column.

The ``speed`` stage of ``dvc.yaml`` runs this suite and writes ``speed/benchmarks.json``
(pytest-benchmark's JSON, which names the machine); ``poseboard report`` takes each row's
speed from it, so the number on the leaderboard is the number this benchmark measures.

One case per block under ``methods`` (variants included, e.g. ``epipolar-baseline``): the
method built from ``preset(profile)`` merged with the block's overrides, random weights
(speed does not depend on them), timed on ``predict`` of a batch of 8 real frames of the
generated test split (4 views of the Human3.6M-like rig; for root methods 8 images of the
multi-person scenes with their ground-truth boxes, or, for a root method trained on the rig
(``rootnet-h36m``), 8 of its views alone), median of 5 rounds after a warm-up,
reported per frame (``extra_info``: ``method``, ``ms_per_frame``, ``frames_per_s``, and
``device``, e.g. ``cpu (1 torch thread)``).

Where: ``--device`` and ``--precision`` (``benchmarks/conftest.py``: the option, else
``POSEBOARD_DEVICE``, else the profile's ``device`` and ``precision``, else ``auto``). The
method and the batch are moved there once, before timing; each round is ``predict`` under the
precision's autocast followed by a device synchronisation (on CUDA a round would otherwise
time the kernel launches only).

    POSEBOARD_PARAMS=params.yaml POSEBOARD_DATA=data \\
        pytest benchmarks/bench_speed.py --benchmark-only --benchmark-json speed/benchmarks.json

Without generated data (``POSEBOARD_DATA`` unset or missing) the frames are generated here.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch

FRAMES = 8
ROUNDS = 5
ROOT = Path(__file__).resolve().parents[1]


@cache
def _params() -> Any:
    from poseboard.params import load_params

    return load_params(Path(os.environ.get("POSEBOARD_PARAMS", ROOT / "params.yaml")))


@cache
def _data_dir() -> Path:
    given = os.environ.get("POSEBOARD_DATA")
    if given and Path(given).exists():
        return Path(given)
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets

    params = _params()
    cfg = SynthConfig.preset(params.active.data.preset)
    cfg.crop_size = params.active.data.crop_size
    out = Path(tempfile.mkdtemp(prefix="poseboard-speed-"))
    generate_datasets(["synth-h36m", "synth-mupots"], cfg, out, seed=0, splits=["test"], workers=1)
    return out


def _batch(dataset: str, roots: bool = False) -> dict[str, Any]:
    from poseboard.harness.run import open_split

    data = open_split(_data_dir() / dataset / "test")
    if roots and dataset != "synth-mupots":  # a root method on the rig: every view alone
        from poseboard.datasets.people import ViewScenes

        data = ViewScenes(data)
    items = [data[i % len(data)] for i in range(FRAMES)]
    if roots or dataset == "synth-mupots":
        from poseboard.datasets.torch_dataset import collate_scenes

        batch = collate_scenes(items)
        batch["box_source"] = "gt"
        return batch
    from poseboard.datasets.torch_dataset import collate_multiview

    return collate_multiview(items)


def _method(key: str, device: torch.device, precision: str) -> Any:
    from poseboard.harness.config import deep_merge
    from poseboard.methods.registry import get_method

    params = _params()
    block = params.methods[key]
    cls = get_method(block.method)
    base = cls.config_model.preset(params.profile).model_dump()
    method = cls(cls.config_model.model_validate(deep_merge(base, params.method_block(key))))
    method.progress = False
    if block.method == "volumetric":  # set by fit from the training set
        method.crop_extent_mm = torch.tensor(2100.0, dtype=torch.float64)
    return method.to(device, precision)


def _keys() -> list[str]:
    try:
        return list(_params().methods)
    except Exception:
        return []


@pytest.mark.parametrize("key", _keys())
def test_inference(benchmark, run_device, key):
    from poseboard.device import autocast, describe_device, synchronize, to_device

    block = _params().methods[key]
    dataset = "synth-mupots" if block.dataset == "synth-mupots" else "synth-h36m"
    device, precision = run_device
    method = _method(key, device, precision)
    batch = to_device(_batch(dataset, roots="root" in method.capabilities.outputs), device)
    benchmark.group = f"inference, profile {_params().profile} ({FRAMES} frames per call)"

    def predict() -> Any:
        with autocast(device, precision):
            out = method.predict(batch)
        synchronize(device)  # the round ends when the device has finished, not when it was asked
        return out

    with torch.no_grad():
        benchmark.pedantic(predict, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({"method": key, "registered": block.method, "profile": _params().profile,
                                 "frames_per_call": FRAMES, "ms_per_frame": 1000 * median / FRAMES,
                                 "frames_per_s": FRAMES / median, "torch_threads": torch.get_num_threads(),
                                 "device": describe_device(device, precision)})
