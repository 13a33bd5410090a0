"""Real result files for the report and tracking tests.

Nothing here is a fake number: a smoke-sized synthetic test split is generated, the ground
truth is perturbed with known noise (``noise-<sigma>mm`` pseudo-methods), and the result files
come out of the real scorer (``poseboard.protocols.evaluate``), exactly as
``poseboard evaluate`` writes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

#: pseudo-method → per-joint noise sigma (mm). 20 and 20.5 are meant to be indistinguishable.
NOISE = {"noise-8mm": 8.0, "noise-20mm": 20.0, "noise-20.5mm": 20.5}


def make_results(root: Path) -> Path:
    """Generate smoke test splits under ``root/data`` and score noisy ground truth into ``root/results``."""
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets
    from poseboard.protocols.evaluate import build_result, score_pose, score_roots
    from poseboard.protocols.ground_truth import load_ground_truth
    from poseboard.protocols.predictions import PosePredictions, RootPredictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, result_path, write_result

    data, results = root / "data", root / "results"
    generate_datasets(["synth-h36m", "synth-panoptic", "synth-mupots"], SynthConfig.preset("smoke"), data,
                      seed=0, splits=("test",), workers=1)
    for k, (method, sigma) in enumerate(NOISE.items()):
        rng = np.random.default_rng(k)
        speed = SpeedInfo(samples_per_s=1000.0 / (5.0 * (k + 1)), ms_per_sample=5.0 * (k + 1), batch_size=8,
                          device="cpu (test)")
        for pid in ("synth-h36m-relative", "synth-panoptic-sweep", "synth-mupots-root"):
            protocol = get_protocol(pid)
            gt = load_ground_truth(protocol, data / protocol.dataset / protocol.split)
            if protocol.task == "root_localisation":
                people = gt.people.reset_index(drop=True)
                preds = RootPredictions(
                    sample_ids=people["sample_id"].astype(str).to_numpy(),
                    root=gt.roots + rng.normal(0, 10 * sigma, gt.roots.shape),
                    score=rng.uniform(0.5, 1.0, len(people)),
                    person_index=people["person_index"].astype(int).to_numpy(),
                )
                metrics = score_roots(protocol, gt, preds)
                ids = preds.sample_ids
            else:
                ids = gt.meta["sample_id"].astype(str).to_numpy()
                if protocol.camera_sweep is not None:
                    sizes = protocol.camera_sweep.sizes
                    rows = [(i, n) for n in sizes for i in range(len(ids))]
                    idx = np.array([r[0] for r in rows])
                    nv = np.array([r[1] for r in rows])
                    scale = (sigma * 2 / np.sqrt(nv))[:, None, None]
                    noise = rng.normal(0, 1, (len(rows), *gt.joints_3d.shape[1:])) * scale
                    preds = PosePredictions(sample_ids=ids[idx], joints_3d=gt.joints_3d[idx] + noise, num_views=nv)
                else:
                    noisy = gt.joints_3d + rng.normal(0, sigma, gt.joints_3d.shape)
                    preds = PosePredictions(sample_ids=ids, joints_3d=noisy)
                metrics = score_pose(protocol, gt, preds)
            result = build_result(
                protocol=protocol,
                method=MethodInfo(name=method, config={"sigma_mm": sigma}, capabilities=None),
                dataset=DatasetInfo(name=protocol.dataset, split=protocol.split, source=gt.source,
                                    data_hash=gt.data_hash),
                metrics=metrics, sample_ids=ids, seeds={"noise": k}, speed=speed,
            )
            write_result(result, result_path(results, method, protocol.id))
    return results


def shared_results(tmp_path_factory) -> Path:
    """The scored results of this test session (per xdist worker), made once for report and tracking tests."""
    root = tmp_path_factory.getbasetemp() / "poseboard-scored-results"
    done = root / "results" / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        make_results(root)
        done.write_text("ok\n")
    return root / "results"


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory) -> Path:
    return shared_results(tmp_path_factory)


def _with_profile(params_text: str, profile: str) -> str:
    import re

    return re.sub(r"(?m)^profile: \S+", f"profile: {profile}", params_text)


def make_checkout(root: Path, results_dir: Path, profile: str) -> Path:
    """A checkout where `dvc repro` ran under ``profile``: the repository's params.yaml with
    that profile active, and ``results_dir``'s result files as its results/."""
    repo = Path(__file__).resolve().parents[2]
    root.mkdir(parents=True)
    (root / "params.yaml").write_text(_with_profile((repo / "params.yaml").read_text(), profile))
    shutil.copytree(results_dir, root / "results", ignore=shutil.ignore_patterns(".complete"))
    return root


def write_params(root: Path, profile: str = "default") -> Path:
    """The repository's params.yaml with ``profile`` active, written to ``root/params.yaml``."""
    repo = Path(__file__).resolve().parents[2]
    path = root / "params.yaml"
    path.write_text(_with_profile((repo / "params.yaml").read_text(), profile))
    return path


@pytest.fixture(name="make_checkout")
def make_checkout_fixture():
    """:func:`make_checkout` for tests (conftest helpers are reached through fixtures)."""
    return make_checkout


@pytest.fixture(name="write_params")
def write_params_fixture():
    """:func:`write_params` for tests."""
    return write_params


@pytest.fixture
def published_gpu(tmp_path, results_dir) -> tuple[Path, Path]:
    """(params.yaml with profile default, published/ holding a `gpu` run of the same results)."""
    from poseboard.report.profiles import publish_profile

    published = tmp_path / "published"
    publish_profile(make_checkout(tmp_path / "gpu-clone", results_dir, "gpu"), published)
    return write_params(tmp_path), published
