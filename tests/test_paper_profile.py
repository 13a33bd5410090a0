"""The `paper` profile's epipolar rows are the reference configurations printed beside them.

He et al.'s table prints 45.3 / 33.1 mm, both a ResNet-50 at 256² (epipolar-transformers
README), so `epipolar-baseline` and `epipolar` train that network at that input, with the
reference's heatmap σ and peak radius and its schedules counted in epochs of the Human3.6M
training set; the synthetic presets keep the values the committed results were trained with.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from poseboard.harness.config import build_config
from poseboard.methods.epipolar import H36M_TRAIN_FRAMES_ALL, H36M_TRAIN_FRAMES_STRIDE5, EpipolarConfig
from poseboard.methods.nets.backbone import BackboneConfig
from poseboard.report.tables import TABLES

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _paper(key: str) -> EpipolarConfig:
    return build_config(EpipolarConfig, "paper", PARAMS, f"methods.{key}.paper")


def test_training_set_sizes():
    # learnable triangulation's label table: 159,181 training frames at every 5th video frame
    assert H36M_TRAIN_FRAMES_STRIDE5 == 159_181
    assert H36M_TRAIN_FRAMES_ALL == 5 * H36M_TRAIN_FRAMES_STRIDE5 == 795_905


@pytest.mark.parametrize(("key", "epochs", "frames", "batch", "milestones"), [
    # keypoint_h36m_zresidual_fixed.yaml: every frame, 4 epochs, batch 16, lr ÷ 10 after epochs 2, 3
    ("epipolar", 4, H36M_TRAIN_FRAMES_ALL, 16, (2 / 4, 3 / 4)),
    # benchmark/keypoint_h36m.yaml: every 5th frame, 30 epochs, batch 8, lr ÷ 10 after epochs 20, 25
    ("epipolar-baseline", 30, H36M_TRAIN_FRAMES_STRIDE5, 8, (20 / 30, 25 / 30)),
])
def test_paper_rows_mirror_the_reference_configs(key, epochs, frames, batch, milestones):
    cfg = _paper(key)
    assert cfg.backbone == BackboneConfig.preset("resnet50")
    assert cfg.input_size == 256 and cfg.sigma == 2.0 and cfg.peak_radius == 8
    assert cfg.use_transformer is (key == "epipolar")
    assert cfg.train.batch_size == batch and cfg.train.lr == 1e-3 and cfg.train.schedule == "step"
    assert abs(cfg.train.steps - epochs * frames / batch) < 1
    assert cfg.train.step_milestones == pytest.approx(milestones, abs=1e-5)
    # an ImageNet ResNet-50 written for these rows, not the shared ResNet-152
    assert cfg.backbone_checkpoint == "checkpoints/he2020-resnet50/backbone"


def test_the_preset_is_the_transformer_row():
    preset = EpipolarConfig.preset("paper")
    row = _paper("epipolar")
    assert (preset.backbone, preset.input_size, preset.sigma, preset.peak_radius) == (
        row.backbone, row.input_size, row.sigma, row.peak_radius)
    assert preset.train.steps == row.train.steps == math.floor(4 * H36M_TRAIN_FRAMES_ALL / 16)


@pytest.mark.parametrize("profile", ["smoke", "default", "gpu"])
@pytest.mark.parametrize("key", ["epipolar", "epipolar-baseline"])
def test_synthetic_profiles_keep_the_committed_heatmap_settings(profile, key):
    cfg = build_config(EpipolarConfig, profile, PARAMS, f"methods.{key}.{profile}")
    assert (cfg.sigma, cfg.peak_radius, cfg.input_size) == (1.5, 2, None)


def test_the_table_prints_the_numbers_of_the_configuration_it_trains():
    he = next(t for t in TABLES if t.name == "he2020_epipolar_transformer")
    rows = {r.method: r for r in he.rows}
    for key, value in (("epipolar-baseline", 45.3), ("epipolar", 33.1)):
        pub = rows[key].published
        assert pub is not None and pub.value == value and "ResNet-50 at 256²" in pub.setting
        assert _paper(key).backbone == BackboneConfig.preset("resnet50")
    others = {p.value: p.setting for p in rows["epipolar"].also}
    assert "ResNet-152 at 384²" in others[19.0] and set(others) == {30.4, 19.0, 26.9}
