"""Training depends on the configured seed only: two ``fit`` (or backbone pre-training) calls that start from different
global RNG states (as two processes of ``poseboard train`` do) give identical weights.

A regression test: the heads of ``rootnet``, ``epipolar`` and ``probabilistic``, and the
pre-trained backbone itself, used to be initialised from the global generator, which torch
seeds at random in every new process, so the same DVC stage trained different networks run
to run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from poseboard.datasets.torch_dataset import MultiViewDataset
from poseboard.harness.run import open_split
from poseboard.methods.algebraic import AlgebraicConfig, AlgebraicMethod
from poseboard.methods.epipolar import EpipolarConfig, EpipolarMethod
from poseboard.methods.probabilistic import ProbabilisticConfig, ProbabilisticMethod
from poseboard.methods.rootnet import RootNetConfig, RootNetMethod

sys.path.insert(0, str(Path(__file__).parent))
import p5_fixtures

p5_data = p5_fixtures.p5_data  # session fixtures, shared with the method modules
p5_backbone = p5_fixtures.p5_backbone

METHODS = {
    "algebraic": (AlgebraicMethod, AlgebraicConfig, "synth-h36m"),
    "epipolar": (EpipolarMethod, EpipolarConfig, "synth-h36m"),
    "probabilistic": (ProbabilisticMethod, ProbabilisticConfig, "synth-h36m"),
    "rootnet": (RootNetMethod, RootNetConfig, "synth-mupots"),
}


def _fit(name: str, data: Path, backbone: Path, global_seed: int, workdir: Path) -> dict[str, torch.Tensor]:
    cls, config_model, dataset = METHODS[name]
    cfg = config_model.preset("smoke")
    cfg.backbone_checkpoint = str(backbone)
    cfg.train.steps = 2
    cfg.train.batch_size = 2
    torch.manual_seed(global_seed)  # whatever state the caller left behind
    method = cls(cfg)
    method.progress = False
    train = open_split(data / dataset / "train") if name == "rootnet" else MultiViewDataset(data / dataset / "train")
    method.fit(train, None, workdir=workdir)
    return {k: v.detach().clone() for k, v in method.net.state_dict().items()}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_fit_depends_on_the_configured_seed_only(tmp_path, p5_data, p5_backbone, name):
    a = _fit(name, p5_data, p5_backbone, 1, tmp_path / "a")
    b = _fit(name, p5_data, p5_backbone, 2, tmp_path / "b")
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert different == [], f"{name}: weights depend on the global RNG: {different[:5]}"


def test_pretraining_depends_on_the_configured_seed_only(tmp_path, p5_data):
    from poseboard.methods.train.pretrain import PretrainConfig, pretrain_backbone

    weights = []
    for global_seed in (1, 2):
        cfg = PretrainConfig.preset("smoke")
        cfg.train.steps = 2
        torch.manual_seed(global_seed)
        net, _ = pretrain_backbone(cfg, p5_data / "synth-h36m" / "train", tmp_path / str(global_seed), progress=False)
        weights.append({k: v.detach().clone() for k, v in net.state_dict().items()})
    different = [k for k in weights[0] if not torch.equal(weights[0][k], weights[1][k])]
    assert different == [], f"pre-trained weights depend on the global RNG: {different[:5]}"
