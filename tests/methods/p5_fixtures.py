"""Shared fixtures of the probabilistic / epipolar / rootnet tests: a tiny synthetic world and
a briefly pre-trained smoke backbone, generated once per test session (cached on disk under
pytest's base temp folder, so the three test modules that import these share them).

Import from a test module with::

    sys.path.insert(0, str(Path(__file__).parent))
    from p5_fixtures import p5_backbone, p5_data  # noqa: F401  (pytest fixtures)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from poseboard.camera import Camera

TINY_WORLD = {
    "crop_size": 64,
    "h36m": {"train": {"samples": 96, "stride": 5}, "test": {"samples": 16, "stride": 16}, "area_radius_mm": 1500.0},
    "panoptic": {"train": {"samples": 0, "stride": 5}, "test": {"samples": 0, "stride": 16}, "area_radius_mm": 500.0},
    "mupots": {"train": {"images": 48, "scenes": 6, "stride": 10}, "test": {"images": 12, "scenes": 3, "stride": 25},
               "image_size": 128},
}


def _generate(root: Path) -> Path:
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets

    done = root / "data.done"
    if not done.exists():
        cfg = SynthConfig.preset("smoke", **TINY_WORLD)
        generate_datasets(["synth-h36m", "synth-mupots"], cfg, out=root / "data", seed=0, workers=1)
        done.write_text("ok")
    return root / "data"


def _pretrain(root: Path, data: Path) -> Path:
    from poseboard.methods.train.pretrain import PretrainConfig, pretrain_backbone

    out = root / "backbone"
    if not (out / "backbone.json").exists():
        cfg = PretrainConfig.preset("smoke")
        cfg.train.steps = 120
        pretrain_backbone(cfg, data / "synth-h36m" / "train", out, progress=False)
    return out


@pytest.fixture(scope="session")
def p5_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny world's data folder (``synth-h36m`` 96/16 samples at 64 px, ``synth-mupots``
    48/12 images at 128 px)."""
    root = tmp_path_factory.getbasetemp() / "p5"
    root.mkdir(exist_ok=True)
    return _generate(root)


@pytest.fixture(scope="session")
def p5_backbone(tmp_path_factory: pytest.TempPathFactory, p5_data: Path) -> Path:
    """A smoke backbone pre-trained for 120 steps on the tiny world's crops (~10 s)."""
    root = tmp_path_factory.getbasetemp() / "p5"
    return _pretrain(root, p5_data)


def look_at_rig(n: int = 4, radius: float = 4950.0, focal: float = 1145.0) -> list[Camera]:
    """``n`` cameras on a circle around the origin, 1.5 m high, looking at (0, 0, 0.9 m)."""
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n + np.pi / 4
        cams.append(Camera.look_at(eye=[radius * np.cos(a), radius * np.sin(a), 1500 + 100 * i],
                                   target=[0, 0, 900], focal=focal, image_size=(1000, 1000), name=f"cam{i}"))
    return cams


def body_like_points(n: int, seed: int = 0) -> np.ndarray:
    """(n, 17, 3) world mm: 17 points per frame spread like a standing person (a box of
    0.8 × 0.8 × 1.8 m) at random places of a 2 × 2 m area."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform([-1000, -1000, 0], [1000, 1000, 0], size=(n, 1, 3))
    return centre + rng.uniform([-400, -400, 0], [400, 400, 1800], size=(n, 17, 3))


def rig_tensors(cams: list[Camera]) -> dict[str, torch.Tensor]:
    return {
        "K": torch.tensor(np.stack([c.K for c in cams])),
        "R": torch.tensor(np.stack([c.R for c in cams])),
        "t": torch.tensor(np.stack([c.t for c in cams])),
        "P": torch.tensor(np.stack([c.projection_matrix for c in cams])),
    }
