"""Mutants through the commands a user runs (issue 80): ``rig import``, ``evaluate``, ``submit``,
``motion import`` and ``params check`` either refuse a mutant with exit 2, ``error:`` naming
the file and nothing written, or accept it and write finite output; never a traceback. One
refusal runs in a real process, to see its stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.workflows.fuzz_readers import READERS
from poseboard.workflows.fuzz_run import make_mutant, write_mutant

runner = CliRunner()
SEED = 80
#: a mutated number (1e308, thirty digits) overflows arithmetic on its way to the refusal
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def mutants(tmp_path: Path, name: str, count: int):
    """``count`` mutants of reader ``name`` (seed :data:`SEED`), each in its own folder: (the
    file the command is given, the mutated file's name)."""
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir(exist_ok=True)
    seeds = READERS[name].write_seed(seed_dir)
    files = {p.name: p.read_bytes() for p in seeds}
    for index in range(count):
        chosen, mutation = make_mutant(name, SEED, index, files)
        folder = tmp_path / f"{name}-{index}"
        write_mutant(folder, files, chosen, mutation)
        yield folder / seeds[0].name, chosen


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def check(result, names: list[str], outputs: list[Path]) -> str:
    """Exit 2 with ``error:`` naming one of ``names`` and none of ``outputs`` written, or exit 0
    with every output written; "refused" or "accepted"."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "error:" in result.output and any(n in result.output for n in names), result.output
        assert not any(p.exists() for p in outputs), result.output
        return "refused"
    assert all(p.exists() for p in outputs), result.output
    return "accepted"


@pytest.mark.parametrize("name", ["opencv-yaml", "easymocap", "panoptic"])
def test_rig_import_of_mutants(tmp_path, name):
    seen = set()
    for target, chosen in mutants(tmp_path, name, 12):
        out = tmp_path / "out" / f"{target.parent.name}.json"
        result = runner.invoke(app, ["rig", "import", str(target), "--out", str(out)])
        seen.add(check(result, [chosen, target.name], [out, out.with_suffix(".png")]))
        if result.exit_code == 0:
            data = json.loads(out.read_text())
            assert all(np.isfinite(np.asarray(c[k], dtype=float)).all()
                       for c in data["cameras"] for k in ("K", "R", "t"))
    assert "refused" in seen


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny rendered test split and its predictions (the bad_inputs world's size: 8 samples)."""
    from poseboard.datasets.storage import open_dataset
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_dataset
    from poseboard.protocols.predictions import PosePredictions, save_pose_predictions

    base = tmp_path_factory.mktemp("world")
    config = SynthConfig.preset("smoke").with_split_sizes("test", samples=8, stride=16)
    generate_dataset("synth-h36m", config, base / "data", seed=1, splits=("test",))
    store = open_dataset(base / "data" / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    joints = store.joints_3d + np.random.default_rng(0).normal(scale=10.0, size=store.joints_3d.shape)
    preds = base / "predictions.npz"
    save_pose_predictions(preds, PosePredictions(sample_ids=ids, joints_3d=joints))
    return base, preds


def _predictions_mutants(tmp_path: Path, preds: Path, count: int):
    from poseboard.workflows.fuzz import mutant_rng, mutate

    data = preds.read_bytes()
    for index in range(count):
        path = tmp_path / f"mutant-{index}" / "predictions.npz"
        path.parent.mkdir()
        path.write_bytes(mutate(data, mutant_rng(SEED, "cli-predictions", index)).data)
        yield path


def test_evaluate_and_submit_of_mutants(tmp_path, world):
    base, preds = world
    card = tmp_path / "card.yaml"
    READERS["method-card"].write_seed(tmp_path)
    seen = []
    for i, path in enumerate(_predictions_mutants(tmp_path, preds, 10)):
        results = tmp_path / f"results-{i}"
        command = ["evaluate", "-p", str(path), "--protocol", "synth-h36m-relative", "--method", "mine"] \
            if i % 2 else ["submit", str(path), "--protocol", "synth-h36m-relative", "--method", "mine",
                           "--card", str(card)]
        result = runner.invoke(app, [*command, "--data-dir", str(base / "data"), "--results", str(results)])
        seen.append(check(result, ["predictions.npz"], [results]))
        if result.exit_code == 0:
            (written,) = results.rglob("*.json")
            assert "NaN" not in written.read_text() and "Infinity" not in written.read_text()
    assert "refused" in seen


def test_a_damaged_member_is_named_by_evaluate(tmp_path, world):
    """The issue's traceback: Bad CRC-32 for file 'joints_3d.npy', raised after the open succeeded."""
    import zipfile

    base, preds = world
    raw = bytearray(preds.read_bytes())
    with zipfile.ZipFile(preds) as z:
        info = z.getinfo("joints_3d.npy")
    raw[info.header_offset + 30 + len(info.filename) + 400] ^= 0x55
    bad = tmp_path / "predictions.npz"
    bad.write_bytes(bytes(raw))
    result = runner.invoke(app, ["evaluate", "-p", str(bad), "--protocol", "synth-h36m-relative", "--data-dir",
                                 str(base / "data"), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "predictions.npz: member 'joints_3d.npy'" in result.output
    assert "CRC" in result.output and files_under(tmp_path / "results") == []


def test_submit_of_mutated_cards(tmp_path, world):
    base, preds = world
    seen = []
    for card, chosen in mutants(tmp_path, "method-card", 8):
        results = tmp_path / f"results-{card.parent.name}"
        result = runner.invoke(app, ["submit", str(preds), "--protocol", "synth-h36m-relative", "--method", "mine",
                                     "--card", str(card), "--data-dir", str(base / "data"),
                                     "--results", str(results)])
        seen.append(check(result, [chosen], [results]))
    assert "refused" in seen


def test_motion_import_of_mutated_bvh(tmp_path):
    seen = []
    for bvh, chosen in mutants(tmp_path, "bvh", 12):
        out = tmp_path / "out" / f"{bvh.parent.name}.npz"
        result = runner.invoke(app, ["motion", "import", str(bvh), "--out", str(out)])
        seen.append(check(result, [chosen], [out]))
        if result.exit_code == 0:
            with np.load(out) as data:
                assert np.isfinite(data["poses"]).all()
    assert "refused" in seen


def test_params_check_of_mutants(tmp_path):
    seen = []
    for params, chosen in mutants(tmp_path, "params", 6):
        result = runner.invoke(app, ["params", "check", "--shallow", "--params", str(params)])
        seen.append(check(result, [chosen], []))
        assert files_under(params.parent) == [chosen]
    assert "refused" in seen


def test_a_refusal_in_a_real_process_prints_no_traceback(tmp_path):
    """``Failed to allocate 720000000000 bytes`` from ``rows: 300000``, now ``error:`` and exit 2."""
    (path,) = READERS["opencv-yaml"].write_seed(tmp_path)
    text = path.read_text().replace("rows: 3\n   cols: 3", "rows: 300000\n   cols: 300000", 1)
    path.write_text(text)
    out = tmp_path / "rig.json"
    proc = subprocess.run([sys.executable, "-m", "poseboard.cli", "rig", "import", str(path), "--out", str(out)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "s9_cameras.yml" in proc.stderr and "K_54138969" in proc.stderr
    assert not out.exists() and not out.with_suffix(".png").exists()
