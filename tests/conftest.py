"""Shared fixtures: an H36M-like rig of four cameras and a set of points in its capture area."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseboard.camera import Camera

# One torch thread: with two on this 2-core class of machine, small ops stall under load
# (the reference notes measured ~40 ms per call), and tests run in parallel processes anyway.
torch.set_num_threads(1)


def h36m_like_rig(distortion: bool = False) -> list[Camera]:
    """Four cameras at the corners of a 4×4 m area, ~5 m out, 1.5 m high, looking inwards."""
    cams = []
    for i, (x, y) in enumerate([(3500, 3500), (-3500, 3500), (-3500, -3500), (3500, -3500)]):
        dist = [-0.2, 0.24, 0.001, -0.001, -0.02] if distortion else [0.0] * 5
        cams.append(
            Camera.look_at(eye=[x, y, 1500 + 100 * i], target=[0, 0, 900], focal=1145,
                           image_size=(1000, 1000), dist=dist, name=f"cam{i}")
        )
    return cams


@pytest.fixture
def rig() -> list[Camera]:
    return h36m_like_rig()


@pytest.fixture
def rig_distorted() -> list[Camera]:
    return h36m_like_rig(distortion=True)


@pytest.fixture
def body_points() -> np.ndarray:
    """(64, 17, 3) world mm points in a 2×2 m area, 0–1.9 m high."""
    rng = np.random.default_rng(0)
    centre = rng.uniform([-1000, -1000, 0], [1000, 1000, 0], size=(64, 1, 3))
    return centre + rng.uniform([-400, -400, 0], [400, 400, 1900], size=(64, 17, 3))
