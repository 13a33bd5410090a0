"""Shared fixtures: an H36M-like rig of four cameras and a set of points in its capture area, the
device the device-aware tests run on, and the committed board's files."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
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


# ---------------------------------------------------------------------------- the smoke board
#: The stages of the small board the slow workflow tests rank methods against (smoke profile).
SMOKE_BOARD_STAGES = ["train@ransac", "predict@ransac-synth-h36m-relative", "score@ransac-synth-h36m-absolute",
                      "identify"]


def motion_archive() -> Path:
    """The Bandai Namco archive: POSEBOARD_MOTION_ARCHIVE when set, else the one params.yaml names
    (``motion_library.archive``, relative to this checkout), absolute. A copy of the checkout
    elsewhere reads it through POSEBOARD_MOTION_ARCHIVE (:func:`user_env`)."""
    import yaml

    if os.environ.get("POSEBOARD_MOTION_ARCHIVE"):
        return Path(os.environ["POSEBOARD_MOTION_ARCHIVE"]).resolve()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    return (ROOT / params["motion_library"]["archive"]).resolve()


def user_env() -> dict[str, str]:
    """A user's shell for the commands the slow tests run, not this pytest's: no
    PYTEST_XDIST_WORKER (pytest-benchmark disables itself under xdist), no PYTHONPATH (the
    checkout's own package is imported), this venv's `dvc` and `poseboard` on the PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "PYTHONPATH") and not k.startswith("PYTEST_")}
    return env | {"DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                  "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                  "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "POSEBOARD_THREADS": "2",
                  "POSEBOARD_MOTION_ARCHIVE": str(motion_archive())}


def run_checked(cmd: list[str], cwd: Path, timeout: float = 900, ok: bool = True,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``cmd`` in ``cwd`` under :func:`user_env` (``env``'s variables over it); with ``ok``, its
    failure fails the test with its output."""
    proc = subprocess.run(cmd, cwd=cwd, env={**user_env(), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    if ok:
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-6000:]}"
    return proc


def copy_checkout(dst: Path) -> None:
    """This checkout's files (tracked, and untracked but not ignored) and its DVC config into ``dst``."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    shutil.copytree(ROOT / ".dvc", dst / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"), dirs_exist_ok=True)


def _build_smoke_board(repo: Path) -> None:
    import re

    repo.mkdir(parents=True)
    copy_checkout(repo)
    params = repo / "params.yaml"
    params.write_text(re.sub(r"^profile: \w+", "profile: smoke", params.read_text(), flags=re.MULTILINE))
    for d in (repo / "results").iterdir():  # the default board's files: another task
        if d.is_dir():
            shutil.rmtree(d)
    (repo / "results" / "seed_spread.json").unlink(missing_ok=True)
    run_checked(["git", "init", "-q"], repo)
    run_checked([str(Path(sys.executable).with_name("dvc")), "repro", "-q", *SMOKE_BOARD_STAGES], repo)
    run_checked([sys.executable, "-m", "poseboard.pipeline", "report", "--params", "params.yaml", "--results",
                 "results", "--out", "report"], repo)
    run_checked(["git", "add", "-A", "."], repo)
    run_checked(["git", "commit", "-q", "-m", "smoke board"], repo)


@pytest.fixture(scope="session")
def smoke_board(tmp_path_factory) -> Path:
    """A committed smoke board: a git repository of this checkout on the smoke profile whose
    results are RANSAC's (:data:`SMOKE_BOARD_STAGES`: trained, predicted and scored, every split
    identified) and its report; data/, checkpoints/ and DVC's cache beside them. Minutes: built
    once per session, shared by pytest-xdist's workers through a file lock; the tests using it
    read it (clone or copy it) and never write to it."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above each worker's own
    repo, built = base / "smoke-board" / "repo", base / "smoke-board" / "built"
    with FileLock(str(base / "smoke-board.lock")):
        if not built.exists():
            shutil.rmtree(repo, ignore_errors=True)  # a build that failed in another worker
            _build_smoke_board(repo)
            built.touch()
    return repo


@pytest.fixture
def run_as_user():
    """:func:`run_checked`: run a command as a user's shell would, failing the test with its output."""
    return run_checked


@pytest.fixture
def user_shell() -> dict[str, str]:
    """:func:`user_env`: the environment of a user's shell, for commands a test runs itself."""
    return user_env()


@pytest.fixture
def checkout_copy():
    """:func:`copy_checkout`: this checkout's files and DVC config copied into a folder."""
    return copy_checkout
