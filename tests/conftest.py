"""Shared fixtures: an H36M-like rig of four cameras and a set of points in its capture area, the
device the device-aware tests run on, and the committed board's files."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

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


# ---------------------------------------------------------------------------- devices
#: ``POSEBOARD_TEST_DEVICE=cuda`` (or ``cuda:N``) runs the device-aware torch tests on that GPU;
#: unset, they run on the CPU under :func:`device_guard`.
TEST_DEVICE_ENV = "POSEBOARD_TEST_DEVICE"


def selected_test_device() -> torch.device:
    """The device the device-aware tests run on (the CPU unless ``POSEBOARD_TEST_DEVICE``)."""
    from poseboard.device import resolve_device

    return resolve_device(os.environ.get(TEST_DEVICE_ENV, "cpu"), option=TEST_DEVICE_ENV)


@pytest.fixture
def device() -> torch.device:
    return selected_test_device()


@contextlib.contextmanager
def device_guard(device: torch.device):
    """On the CPU, make every tensor created *without* an explicit device land on the ``meta``
    device, so that mixing it with the real inputs fails ("Tensor on device meta is not on the
    expected device cpu"): the CPU test of "tensors are created on the device of their inputs",
    which a CUDA run would otherwise be the first to catch. On a GPU the run itself is the
    test, and this does nothing."""
    if device.type != "cpu":
        yield
        return
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(previous)


@pytest.fixture
def guard():
    return device_guard


# ---------------------------------------------------------------------------- the committed board
ROOT = Path(__file__).resolve().parents[1]


def board_files(folder: str, root: Path = ROOT) -> list[str]:
    """The committed board's files under ``folder`` (e.g. ``"results"``), relative to ``root``:
    those git tracks. A method added to this checkout (``poseboard new-method``, ``make method``)
    writes untracked ones (``results/<its name>/``), which the checks of the committed board must
    not see. Outside a git checkout of its own (an unpacked tarball), every file under ``folder``."""
    top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
        return sorted(p.relative_to(root).as_posix() for p in (root / folder).rglob("*") if p.is_file())
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", folder], capture_output=True,
                            check=True).stdout.decode().split("\0")
    return [rel for rel in listed if rel and (root / rel).is_file()]


@pytest.fixture
def board_results(tmp_path) -> Path:
    """A copy of the committed board's ``results/`` (:func:`board_files`) in ``tmp_path``."""
    for rel in board_files("results"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp_path / rel)
    return tmp_path / "results"
