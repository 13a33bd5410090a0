"""Shared, session-cached inputs of the method tests: a tiny synthetic world, a pre-trained
smoke backbone and a trained smoke algebraic method.

Test modules import this file through ``sys.path`` (pytest runs with
``--import-mode=importlib``) and wrap the helpers in their own fixtures; the helpers memoise
on the module, so the data are generated and the backbone trained once per test process
whichever modules ask for them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

_ROOT: Path | None = None
_CACHE: dict[str, Any] = {}

#: Sizes of the tiny world: enough frames for the methods to learn something in seconds.
TRAIN_SAMPLES = 96
TEST_SAMPLES = 24


def root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="poseboard-methods-"))
    return _ROOT


def data_dir() -> Path:
    """``<root>/data`` with ``synth-h36m/{train,test}`` (64-px crops, 4 views) and
    ``synth-panoptic/test`` (31 cameras)."""
    if "data" not in _CACHE:
        from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets

        cfg = SynthConfig.preset("smoke")
        cfg.h36m.train.samples = TRAIN_SAMPLES
        cfg.h36m.test.samples = TEST_SAMPLES
        # a few long test sequences (the version-1 design): the runner's frame-stride tests need
        # several frames per sequence
        cfg.h36m.test.sequences_per_action, cfg.h36m.test.stride = 1, 16
        cfg.panoptic.test.samples = 6
        out = root() / "data"
        generate_datasets(["synth-h36m"], cfg, out, seed=0, workers=1)
        generate_datasets(["synth-panoptic"], cfg, out, seed=0, splits=["test"], workers=1)
        _CACHE["data"] = out
    return _CACHE["data"]


def h36m(split: str, cameras: list[int] | None = None):
    from poseboard.datasets.torch_dataset import MultiViewDataset

    return MultiViewDataset(data_dir() / "synth-h36m" / split, cameras=cameras)


def backbone_dir() -> Path:
    """A smoke backbone pre-trained on the tiny train split (``<root>/checkpoints/backbone``)."""
    if "backbone" not in _CACHE:
        from poseboard.methods.train.pretrain import PretrainConfig, pretrain_backbone

        cfg = PretrainConfig.preset("smoke")
        out = root() / "checkpoints" / "backbone"
        pretrain_backbone(cfg, data_dir() / "synth-h36m" / "train", out, progress=False)
        _CACHE["backbone"] = out
    return _CACHE["backbone"]


def algebraic_dir() -> Path:
    """A smoke algebraic method trained from :func:`backbone_dir`, saved to
    ``<root>/checkpoints/algebraic``."""
    if "algebraic" not in _CACHE:
        from poseboard.methods.algebraic import AlgebraicConfig, AlgebraicMethod

        cfg = AlgebraicConfig.preset("smoke").model_copy(update={"backbone_checkpoint": str(backbone_dir())})
        method = AlgebraicMethod(cfg)
        method.progress = False
        method.fit(h36m("train"), None)
        out = root() / "checkpoints" / "algebraic"
        method.save(out)
        _CACHE["algebraic"] = out
    return _CACHE["algebraic"]


def checkpoints_copy(dst: Path) -> Path:
    """``dst`` as a checkpoints folder holding copies of :func:`backbone_dir` and
    :func:`algebraic_dir` (tests that write beside them do not touch the shared ones)."""
    import shutil

    shutil.copytree(backbone_dir(), dst / "backbone")
    shutil.copytree(algebraic_dir(), dst / "algebraic")
    return dst


def eval_batch(n: int = 8, cameras: list[int] | None = None, start: int = 0) -> dict[str, Any]:
    from poseboard.datasets.torch_dataset import collate_multiview

    ds = h36m("test", cameras)
    return collate_multiview([ds[i] for i in range(start, start + n)])


def train_batch(n: int = 16) -> dict[str, Any]:
    from poseboard.datasets.torch_dataset import collate_multiview

    ds = h36m("train")
    return collate_multiview([ds[i] for i in range(n)])


def mpjpe(pred: Any, batch: dict[str, Any], relative: bool = False) -> float:
    p = torch.as_tensor(pred, dtype=torch.float64)
    g = torch.as_tensor(batch["joints_3d"], dtype=torch.float64)
    if relative:
        p, g = p - p[:, 6:7], g - g[:, 6:7]
    return float((p - g).norm(dim=-1).mean())


def eval_mpjpe(method: Any, cameras: list[int] | None = None, relative: bool = False) -> float:
    """MPJPE (mm) of ``method`` over the whole tiny test split."""
    from poseboard.methods.algebraic import evaluate_mpjpe

    metrics = evaluate_mpjpe(method, h36m("test", cameras), None)
    return metrics["mpjpe_rel" if relative else "mpjpe_abs"]


class RaiseAfter:
    """A tracker that raises ``KeyboardInterrupt`` at the first log past ``step`` (a
    simulated interruption after the checkpoint of ``step`` was written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def log_params(self, params: dict[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if step is not None and step > self.step:
            raise KeyboardInterrupt(f"simulated interruption at step {step}")

    def log_artifact(self, path: Any) -> None:
        return None


# ---------------------------------------------------------------- untrained methods
def _tiny(config: Any, **update: Any) -> Any:
    return config.model_copy(update={"backbone_checkpoint": str(backbone_dir()), **update})


def _ransac() -> Any:
    from poseboard.methods.ransac import RansacConfig, RansacMethod

    return RansacMethod(_tiny(RansacConfig.preset("smoke")))


def _algebraic() -> Any:
    from poseboard.methods.algebraic import AlgebraicConfig, AlgebraicMethod

    return AlgebraicMethod(_tiny(AlgebraicConfig.preset("smoke")))


def _volumetric() -> Any:
    from poseboard.methods.algebraic import AlgebraicMethod
    from poseboard.methods.volumetric import VolumetricConfig, VolumetricMethod

    alg = AlgebraicMethod.load(algebraic_dir())
    method = VolumetricMethod(_tiny(VolumetricConfig.preset("smoke"), algebraic_checkpoint=str(algebraic_dir()),
                                    algebraic=alg.config))
    method.crop_extent_mm.fill_(2000.0)  # what fit measures from the training crops
    return method


def _epipolar(use_transformer: bool = True) -> Any:
    from poseboard.methods.epipolar import EpipolarConfig, EpipolarMethod

    return EpipolarMethod(_tiny(EpipolarConfig.preset("smoke"), use_transformer=use_transformer))


def _probabilistic() -> Any:
    from poseboard.methods.probabilistic import ProbabilisticConfig, ProbabilisticMethod

    cfg = ProbabilisticConfig.preset("smoke")
    post = cfg.posterior.model_copy(update={"samples": 8, "iterations": 1, "ransac_hypotheses": 8,
                                            "refine_iterations": 2, "init_starts": 2})
    return ProbabilisticMethod(_tiny(cfg, posterior=post))


def _seeded(build: Any) -> Any:
    """``build`` with its untrained heads drawn from torch seed 0, whatever ran before it in the
    process (the global generator's state depends on which tests ran first)."""

    def built() -> Any:
        backbone_dir(), algebraic_dir()  # trained first: their own draws do not move the seed below
        torch.manual_seed(0)
        return build()

    return built


#: Every multi-view method built untrained on the smoke backbone (volumetric with the trained
#: smoke algebraic pelvis), cheap enough to predict in a unit test; the same weights in every
#: test process.
UNTRAINED = {
    "ransac": _seeded(_ransac),
    "algebraic": _seeded(_algebraic),
    "volumetric": _seeded(_volumetric),
    "epipolar": _seeded(_epipolar),
    "epipolar-baseline": _seeded(lambda: _epipolar(use_transformer=False)),
    "probabilistic": _seeded(_probabilistic),
}
