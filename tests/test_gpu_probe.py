"""scripts/gpu_probe.py: the short run's parameters are the profile's with short schedules, a
method's init trains before it, and the projection is the rate times the full schedule.

The run itself is a profile for a GPU session, not a test: docs/devices.md gives its numbers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("gpu_probe", REPO / "scripts" / "gpu_probe.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_the_short_params_are_the_profiles_blocks_with_short_schedules(tmp_path, probe):
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import REGISTRY
    from poseboard.methods.train.pretrain import PretrainConfig
    from poseboard.params import load_params

    full = probe.full_schedules(REPO / "params.yaml", "gpu")
    assert full["pretrain_backbone"] == (5000, 128) and full["train@volumetric"] == (3000, 8)
    assert "train@ransac" not in full and "train@rootnet-k-only" not in full
    params = probe.short_params(yaml.safe_load((REPO / "params.yaml").read_text()), "gpu", "cpu", "smoke-broad",
                                11, 7, full)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    loaded = load_params(path)  # a valid params.yaml
    assert loaded.profile == "gpu" and loaded.active.device == "cpu"
    assert loaded.active.data.preset == "smoke-broad" and loaded.active.data.crop_size == 128
    backbone = build_config(PretrainConfig, "gpu", path, "backbone.gpu")
    committed = build_config(PretrainConfig, "gpu", REPO / "params.yaml", "backbone.gpu")
    assert backbone.train.steps == 11 and backbone.train.batch_size == committed.train.batch_size
    assert backbone.model_dump(exclude={"train"}) == committed.model_dump(exclude={"train"})
    for key, block in loaded.methods.items():
        if f"train@{key}" not in full:
            continue
        model = REGISTRY.get(block.method).config_model
        cfg = build_config(model, "gpu", path, f"methods.{key}.gpu")
        gpu = build_config(model, "gpu", REPO / "params.yaml", f"methods.{key}.gpu")
        assert (cfg.train.steps, cfg.train.batch_size) == (7, gpu.train.batch_size), key
        assert cfg.model_dump(exclude={"train"}) == gpu.model_dump(exclude={"train"}), key


def test_a_methods_init_trains_before_it_once(probe):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert probe.with_inits(["volumetric", "volumetric-norm", "rootnet"], params) == [
        "algebraic", "volumetric", "volumetric-norm", "rootnet"]
    with pytest.raises(SystemExit, match="no method 'nope'"):
        probe.with_inits(["nope"], params)


def test_the_projection_is_the_rate_times_the_full_schedule(probe):
    summaries = {"train@volumetric": {"steps": 100, "seconds": 22.0, "device": "cuda:0", "precision": "fp32"},
                 "train@volumetric-bf16": {"steps": 100, "seconds": 16.0, "device": "cuda:0", "precision": "bf16"},
                 "train@ransac": {"steps": 0, "seconds": 0.1, "device": "cuda:0", "precision": "fp32"}}
    rows = probe.projection_rows(summaries, {"train@volumetric": (3000, 8)})
    assert [r["stage"] for r in rows] == ["train@volumetric", "train@volumetric-bf16"]  # nothing trained: no row
    assert rows[0]["seconds_per_1000_steps"] == 220.0 and rows[0]["projected_minutes"] == 11.0
    assert rows[1]["projected_minutes"] == 8.0 and rows[1]["precision"] == "bf16"


def test_two_weights_files_are_compared_tensor_by_tensor(tmp_path, probe):
    a = {"net": {"w": torch.ones(3), "b": torch.zeros(2)}}
    b = {"net": {"w": torch.ones(3), "b": torch.tensor([0.0, 0.25])}}
    torch.save(a, tmp_path / "a.pt")
    torch.save(b, tmp_path / "b.pt")
    assert probe.compare_weights(tmp_path / "a.pt", tmp_path / "b.pt") == {
        "tensors": 2, "compared": 2, "identical": 1, "max_abs_diff": 0.25}
    assert probe.compare_weights(tmp_path / "a.pt", tmp_path / "a.pt")["identical"] == 2


def test_the_paper_profiles_epipolar_rows_get_he_et_als_resnet50_written_first(tmp_path, probe):
    """`--profile paper` trained epipolar from checkpoints/he2020-resnet50, which nothing wrote
    (the H200 session of 2026-11-26: "no pre-trained backbone here"); the probe now writes it."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert probe.needs_he_resnet50(params, "paper", ["algebraic", "epipolar"])
    assert probe.needs_he_resnet50(params, "paper", ["epipolar-baseline"])
    assert not probe.needs_he_resnet50(params, "paper", ["algebraic", "volumetric", "rootnet"])
    assert not probe.needs_he_resnet50(params, "gpu", list(params["methods"]))
    args = probe.he_resnet50_args(tmp_path, "paper", "cuda")
    assert args[:2] == ["poseboard.harness.commands", "pretrain"]
    assert args[args.index("--checkpoints") + 1] == "checkpoints/he2020-resnet50"
    assert args[args.index("--profile") + 1] == "paper" and args[args.index("--device") + 1] == "cuda"
    config = yaml.safe_load((tmp_path / args[args.index("--config") + 1]).read_text())
    assert config == {"backbone": {"backbone": {"depths": [3, 4, 6, 3]}, "train": {"steps": 0}}}
    epipolar = params["methods"]["epipolar"]["paper"]
    assert epipolar["backbone_checkpoint"] == "checkpoints/he2020-resnet50/backbone"


def test_a_workdir_that_holds_a_run_is_refused(tmp_path, probe, capsys):
    """A second probe into the same folder would resume its checkpoints (0 new steps) and read
    the first run's summaries from the log: refused before anything runs, naming the folder."""
    (tmp_path / "gpu_probe.log").write_text("== pretrain_backbone: exit 0, 9.2 s\n")
    with pytest.raises(SystemExit) as stop:
        probe.main([str(tmp_path), "--methods", "algebraic"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "not empty" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu_probe.log"]  # nothing written
