"""scripts/paper_short.py and scripts/timed_repro.py: the short `paper` run's parameters are a
valid pipeline, its summaries and stage times are read correctly.

The run itself (minutes to hours) is a profile, not a test: docs/devices.md gives its numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def paper_short():
    return _load("paper_short")


def test_the_short_params_are_the_paper_blocks_with_short_schedules(tmp_path, paper_short):
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import REGISTRY
    from poseboard.methods.train.pretrain import PretrainConfig
    from poseboard.params import load_params

    full = paper_short.full_schedules(REPO / "params.yaml", "paper")
    # the full schedules as committed: learnable triangulation's backbone and its methods
    assert full["pretrain_backbone"] == (140_000, 32)
    assert full["train@algebraic"] == (112_500, 8) and full["train@volumetric"] == (120_000, 5)
    assert "train@ransac" not in full and "train@rootnet-k-only" not in full  # nothing to train
    args = argparse.Namespace(steps=7, batch=2, device="cpu", data="smoke", train_samples=40, test_samples=12,
                              workers=0)
    params = paper_short._short_params(yaml.safe_load((REPO / "params.yaml").read_text()), args, full)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    loaded = load_params(path)  # a valid params.yaml
    assert loaded.profile == "paper" and loaded.active.device == "cpu"
    assert loaded.active.data.crop_size == 384 and loaded.active.data.test_samples == 12
    backbone = build_config(PretrainConfig, "paper", path, "backbone.paper")
    assert (backbone.train.steps, backbone.train.batch_size) == (7, 2)
    assert backbone.backbone.depths == PretrainConfig.preset("paper").backbone.depths  # still ResNet-152
    for key, block in loaded.methods.items():
        if f"train@{key}" not in full:
            continue
        cfg = build_config(REGISTRY.get(block.method).config_model, "paper", path, f"methods.{key}.paper")
        paper = build_config(REGISTRY.get(block.method).config_model, "paper", REPO / "params.yaml",
                             f"methods.{key}.paper")
        assert (cfg.train.steps, cfg.train.batch_size, cfg.train.num_workers) == (7, 2, 0), key
        # only the schedule changed: the architecture and resolution are the paper's
        assert cfg.model_dump(exclude={"train"}) == paper.model_dump(exclude={"train"}), key
        assert cfg.train.lr == paper.train.lr and cfg.train.schedule == paper.train.schedule, key


def test_summaries_are_read_from_the_stage_output(paper_short):
    log = "\n".join([
        "Running stage 'pretrain_backbone':",
        "> python -m poseboard.harness.commands pretrain ...",
        "pretrain on cuda:0 (fp32): steps 0→300 in 41 s; val {\"px\": 3.1} → checkpoints/backbone",
        "pretrain on cuda:0 (fp32): steps 0→0 in 0 s; val {} → checkpoints/he2020-resnet50/backbone",
        "train volumetric on cuda:0 (bf16): " + json.dumps({"method": "volumetric", "seconds": 12.5, "steps": 300,
                                                             "resumed_from": 0}) + " → checkpoints/volumetric",
        "train algebraic on cpu (fp32): " + json.dumps({"method": "algebraic", "seconds": 80.0, "steps": 310,
                                                        "resumed_from": 10}) + " → checkpoints/algebraic",
    ])
    found = paper_short._stage_summaries(log)
    assert found["pretrain_backbone"] == {"steps": 300, "seconds": 41.0, "device": "cuda:0", "precision": "fp32"}
    assert found["train@volumetric"] == {"steps": 300, "seconds": 12.5, "device": "cuda:0", "precision": "bf16"}
    assert found["train@algebraic"]["steps"] == 300  # a resumed run counts the steps it made


def test_timed_repro_attributes_time_to_stages_and_merges_runs(tmp_path, monkeypatch):
    timed = _load("timed_repro")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dvc"  # DVC's output format, without DVC
    fake.write_text("#!/bin/sh\necho \"Running stage 'generate':\"\nsleep 0.3\necho \"Running stage 'train@a':\"\n"
                    "sleep 0.2\necho done\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))  # its folder goes first on PATH
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}" + "/usr/bin:/bin")
    out = tmp_path / "times.json"
    assert timed.run(["generate"], out, tmp_path) == 3  # DVC's exit code
    first = json.loads(out.read_text())
    assert list(first["stages"]) == ["generate", "train@a"]
    assert first["stages"]["generate"]["seconds"] >= 0.3 - 0.05
    if shutil.which("nvidia-smi") is None:
        assert first["stages"]["generate"]["gpu_utilisation_mean_pct"] is None
    fake.write_text("#!/bin/sh\necho \"Running stage 'report':\"\nexit 0\n")
    assert timed.run([], out, tmp_path) == 0
    merged = json.loads(out.read_text())
    assert list(merged["stages"]) == ["generate", "train@a", "report"]
    assert [s["exit_code"] for s in merged["steps"]] == [3, 0]


def test_the_generate_stage_takes_split_sizes_from_the_profile(tmp_path):
    """profiles.<p>.data.train_samples / test_samples resize the rendered splits (the short paper
    run's small 384 px world); left out, the preset's sizes (the committed data) are unchanged."""
    from typer.testing import CliRunner

    from poseboard.datasets.synthetic.generator import SynthConfig
    from poseboard.pipeline import app

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "smoke"
    params["profiles"]["smoke"]["data"] = {"preset": "smoke", "crop_size": 64, "datasets": ["synth-h36m"],
                                           "train_samples": 0, "test_samples": 3}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = CliRunner().invoke(app, ["generate", "--params", str(path), "--out", str(tmp_path / "data"),
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "data" / "synth-h36m" / "test" / "manifest.json").read_text())
    assert manifest["counts"]["samples"] == 3
    assert not (tmp_path / "data" / "synth-h36m" / "train").exists()  # 0 skips the split
    preset = SynthConfig.preset("smoke")
    assert preset.with_split_sizes("train", samples=None).with_split_sizes("test", samples=None) == preset
