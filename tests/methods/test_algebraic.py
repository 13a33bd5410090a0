"""Algebraic learnable triangulation: loss, learning, determinism, save/load, resumption."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.methods.algebraic import AlgebraicConfig, AlgebraicMethod, mse_smooth_loss
from poseboard.methods.nets.backbone import init_from_pretrained
from poseboard.methods.registry import get_method
from poseboard.methods.train.loop import TrainConfig


@pytest.fixture(scope="module")
def trained() -> AlgebraicMethod:
    method = get_method("algebraic").load(F.algebraic_dir())
    assert isinstance(method, AlgebraicMethod)
    return method


def _config(**train) -> AlgebraicConfig:
    cfg = AlgebraicConfig.preset("smoke")
    return cfg.model_copy(update={"backbone_checkpoint": str(F.backbone_dir()),
                                  "train": cfg.train.model_copy(update=train)})


def test_mse_smooth_loss_known_values():
    pred = torch.tensor([[[0.0, 0.0, 0.0], [30.0, 0.0, 0.0]]])
    gt = torch.zeros(1, 2, 3)
    # coordinates below the threshold count d², the one at 30 (900 > 400) d²^0.1 · 400^0.9
    expected = (900.0**0.1 * 400.0**0.9) / 6
    assert float(mse_smooth_loss(pred, gt, 400.0)) == pytest.approx(expected)
    small = torch.tensor([[[1.0, 2.0, 0.0]]])
    assert float(mse_smooth_loss(small, torch.zeros(1, 1, 3))) == pytest.approx(5.0 / 3)
    p = pred.clone().requires_grad_()
    mse_smooth_loss(p, gt).backward()
    assert torch.isfinite(p.grad).all() and p.grad[0, 1, 0] > 0


@torch.no_grad()
def _train_loss(method: AlgebraicMethod) -> float:
    method.net.eval()
    batch = F.train_batch(16)
    return float(method.loss(method.net(batch), batch))


def test_fit_lowers_the_loss_and_the_test_error(trained):
    pretrained_only = AlgebraicMethod(_config())
    init_from_pretrained(pretrained_only.net.backbone, F.backbone_dir())
    assert _train_loss(trained) < _train_loss(pretrained_only)
    err = F.eval_mpjpe(trained)
    assert err < 0.5 * F.eval_mpjpe(AlgebraicMethod(_config()))  # the untrained (random) model
    assert err < 1.05 * F.eval_mpjpe(pretrained_only)  # and no worse than its starting point


def test_predict_is_deterministic_and_survives_save_load(trained, tmp_path):
    batch = F.eval_batch(6)
    first = trained.predict(batch)
    assert torch.equal(first.joints_3d, trained.predict(batch).joints_3d)
    assert first.joints_3d.shape == (6, 17, 3) and first.confidence.shape == (6, 17)
    trained.save(tmp_path)
    assert torch.equal(first.joints_3d, get_method("algebraic").load(tmp_path).predict(batch).joints_3d)


def test_confidences_are_normalised_and_invalid_views_ignored(trained):
    batch = F.eval_batch(4)
    out = trained.net(batch)
    torch.testing.assert_close(out["weights"].sum(1), torch.ones(4, 17) + 4e-5, rtol=0, atol=1e-5)
    batch["view_valid"][:, 0] = False
    batch["images"][:, 0] = 100.0  # garbage in the invalid view changes nothing
    dropped = trained.net(batch)
    three = F.eval_batch(4, cameras=[1, 2, 3])
    torch.testing.assert_close(dropped["joints_3d"], trained.net(three)["joints_3d"], atol=1e-3, rtol=0)
    assert bool((dropped["weights"][:, 0] == 0).all())


def test_interrupted_fit_resumes_to_the_same_weights(tmp_path):
    def run(workdir, tracker=None):
        method = AlgebraicMethod(_config(steps=6, batch_size=2, checkpoint_every=3, log_every=1))
        method.progress = False
        method.fit(F.h36m("train"), None, tracker=tracker, workdir=workdir)
        return method

    straight = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", F.RaiseAfter(3))
    resumed = run(tmp_path / "b")
    assert resumed.last_summary.start_step == 3
    for p, q in zip(straight.state_dict()["net"].values(), resumed.state_dict()["net"].values(), strict=True):
        assert torch.equal(p, q)


def test_config_presets_and_validation():
    assert AlgebraicConfig.preset("paper").heatmap_multiplier == 100.0
    assert AlgebraicConfig.preset("paper").train.lr == 1e-5
    with pytest.raises(ValueError):
        AlgebraicConfig(train=TrainConfig(steps=-1))
    with pytest.raises(ValueError):
        AlgebraicConfig(nonsense=1)
