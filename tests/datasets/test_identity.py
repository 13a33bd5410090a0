"""Task identity (poseboard.datasets.identity): the same task rendered on another CPU is the
same task, a moved joint is not, and comparisons, ``poseboard data`` and the leaderboard follow.

The splits are real: rendered by ``poseboard generate`` in subprocesses under two of torch's CPU
kernel capabilities (``ATEN_CPU_CAPABILITY``: the machine's best, and the portable build with
numpy's SIMD paths off too), the way an AVX-512 server and an older laptop would render them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.comparison.results import check_pairable, compare_results, same_images
from poseboard.datasets.identity import (
    TASKS_FILE,
    image_difference,
    match_split,
    read_task_records,
    split_identity,
    task_records,
    write_task_records,
)
from poseboard.errors import InputError

TEST_SAMPLES = 12


def _generate(out: Path, capability: str | None) -> Path:
    """Render the smoke test split in a fresh process; ``capability``: torch's CPU kernels
    (``default`` is the portable build, without SIMD) with numpy's dispatched SIMD paths off."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES")}
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
        env["NPY_DISABLE_CPU_FEATURES"] = "AVX512F AVX512_SKX AVX2 FMA3"
    cmd = [sys.executable, "-m", "poseboard.cli", "generate", "synth-h36m", "--preset", "smoke", "--split", "test",
           "--test-samples", str(TEST_SAMPLES), "--workers", "1", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "synth-h36m" / "test"


@pytest.fixture(scope="module")
def renderings(tmp_path_factory) -> dict[str, Path]:
    """The same smoke test split rendered with torch's automatic kernels and its portable ones."""
    root = tmp_path_factory.mktemp("identity")
    return {"auto": _generate(root / "auto", None), "default": _generate(root / "default", "default")}


def _copy(split: Path, to: Path) -> Path:
    target = to / "synth-h36m" / "test"
    shutil.copytree(split, target)
    return target


def _rewrite(split: Path, rel: str, array: np.ndarray) -> None:
    """Replace one array file and update the manifest's file hashes and content hash, as a
    split generated with that array would have them."""
    from poseboard.datasets.storage import MANIFEST, FileEntry, content_hash
    from poseboard.io import sha256_file

    np.save(split / rel, array)
    manifest = json.loads((split / MANIFEST).read_text())
    manifest["files"][rel] = {"bytes": (split / rel).stat().st_size, "sha256": sha256_file(split / rel)}
    manifest["content_hash"] = content_hash({k: FileEntry(**v) for k, v in manifest["files"].items()})
    (split / MANIFEST).write_text(json.dumps(manifest))


def _move_joint(split: Path, mm: float) -> None:
    """Move sample 0's first joint by ``mm`` along x."""
    joints = np.load(split / "joints_3d.npy")
    joints[0, 0, 0] += mm
    _rewrite(split, "joints_3d.npy", joints)


def _flip_pixel(split: Path) -> None:
    images = np.load(split / "images" / "shard_00000.npy")
    images[0, 0, 0, 0, 0] ^= 0xFF
    _rewrite(split, "images/shard_00000.npy", images)


def test_other_cpu_capability_renders_the_same_bytes(renderings):
    """The renderer uses no kernel whose SIMD builds round differently (render.py): the portable
    build gives the bytes the machine's best one gives, so the task and the images agree."""
    auto, default = split_identity(renderings["auto"]), split_identity(renderings["default"])
    assert auto.task_hash == default.task_hash
    assert auto.samples == default.samples == TEST_SAMPLES
    assert auto.images_hash == default.images_hash
    assert auto.content_hash == default.content_hash
    assert image_difference(renderings["auto"], renderings["default"]).differing == 0


def test_a_joint_moved_one_mm_is_another_task(renderings, tmp_path):
    moved = _copy(renderings["auto"], tmp_path)
    _move_joint(moved, 1.0)
    assert split_identity(moved).task_hash != split_identity(renderings["auto"]).task_hash
    with pytest.raises(InputError, match="different tasks"):
        image_difference(renderings["auto"], moved)


def test_last_bit_float_noise_keeps_the_task(renderings, tmp_path):
    nudged = _copy(renderings["auto"], tmp_path)
    joints = np.load(nudged / "joints_3d.npy")
    _rewrite(nudged, "joints_3d.npy", np.nextafter(joints, np.inf))
    assert split_identity(nudged).task_hash == split_identity(renderings["auto"]).task_hash
    assert split_identity(nudged).content_hash != split_identity(renderings["auto"]).content_hash


def test_image_difference_counts_pixels(renderings, tmp_path):
    flipped = _copy(renderings["auto"], tmp_path)
    _flip_pixel(flipped)
    d = image_difference(renderings["auto"], flipped)
    assert d.differing == 1 and d.max_abs > 0 and d.pixels == TEST_SAMPLES * 4 * 64 * 64
    identity = split_identity(flipped)
    assert identity.task_hash == split_identity(renderings["auto"]).task_hash
    assert identity.images_hash != split_identity(renderings["auto"]).images_hash


# --------------------------------------------------------------------------- scoring and comparing
def _score(split: Path, results: Path, method: str, sigma: float, seed: int, submit_card: Path | None = None):
    """Ground truth plus known noise, scored by the real scorer (a submission with a card)."""
    from poseboard.protocols.evaluate import evaluate_predictions_file, submit_predictions_file
    from poseboard.protocols.ground_truth import load_ground_truth
    from poseboard.protocols.predictions import PosePredictions, save_pose_predictions
    from poseboard.protocols.registry import get_protocol

    protocol = get_protocol("synth-h36m-relative")
    gt = load_ground_truth(protocol, split)
    rng = np.random.default_rng(seed)
    preds = PosePredictions(sample_ids=gt.meta["sample_id"].astype(str).to_numpy(),
                            joints_3d=gt.joints_3d + rng.normal(0, sigma, gt.joints_3d.shape))
    file = results.parent / f"{method}.npz"
    save_pose_predictions(file, preds)
    if submit_card is not None:
        return submit_predictions_file(file, protocol.id, method=method, card=submit_card, ground_truth=split,
                                       results_dir=results)[0]
    return evaluate_predictions_file(file, protocol.id, method=method, ground_truth=split, results_dir=results)[0]


@pytest.fixture
def card(tmp_path) -> Path:
    file = tmp_path / "card.yaml"
    file.write_text("title: Noisy truth\npaper: unpublished\ntrained_on: nothing (ground truth plus noise)\n"
                    "machine: an AVX2 laptop\n")
    return file


def test_same_task_other_images_is_compared_and_flagged(renderings, tmp_path, card):
    from poseboard.report.model import OTHER_IMAGES, build_boards

    flipped = _copy(renderings["auto"], tmp_path / "elsewhere")
    _flip_pixel(flipped)
    results = tmp_path / "results"
    board = _score(renderings["auto"], results, "noise-10mm", 10.0, 0)
    submitted = _score(flipped, results, "outside", 30.0, 1, submit_card=card)
    assert board.dataset.task_hash == submitted.dataset.task_hash
    assert board.dataset.data_hash != submitted.dataset.data_hash
    assert same_images(board, submitted) is False
    check_pairable(board, submitted)  # no error: the same task
    c = compare_results([submitted], [board])
    assert c.difference > 0 and c.ci95[0] > 0  # 30 mm noise is worse than 10 mm, decided
    assert submitted.submission.card.machine == "an AVX2 laptop"
    assert set(submitted.submission.scored_on) == {"platform", "cpu", "torch_cpu_capability"}
    (board_view,) = build_boards([board, submitted])
    rows = {row.method: row for row in board_view.rows}
    assert OTHER_IMAGES in rows["outside"].badges and OTHER_IMAGES not in rows["noise-10mm"].badges
    assert rows["noise-10mm"].vs_next is not None  # the paired test ran between the two


def test_other_task_is_refused(renderings, tmp_path):
    moved = _copy(renderings["auto"], tmp_path / "moved")
    _move_joint(moved, 1.0)
    results = tmp_path / "results"
    a = _score(renderings["auto"], results, "noise-10mm", 10.0, 0)
    b = _score(moved, tmp_path / "results-moved", "noise-20mm", 20.0, 1)
    with pytest.raises(InputError, match="different tasks"):
        check_pairable(a, b)
    result = CliRunner().invoke(app, ["compare-methods", str(results / "noise-10mm" / "synth-h36m-relative@3.json"),
                                      str(tmp_path / "results-moved" / "noise-20mm" / "synth-h36m-relative@3.json"),
                                      "--protocol", "synth-h36m-relative", "--resamples", "200"])
    assert result.exit_code == 2 and "different tasks" in result.output


def test_older_result_file_loads_and_is_resolved_by_the_task_records(renderings, tmp_path):
    from poseboard.protocols.results import read_result, read_results

    results = tmp_path / "results"
    scored = _score(renderings["auto"], results, "noise-10mm", 10.0, 0)
    path = results / "noise-10mm" / "synth-h36m-relative@3.json"
    data = json.loads(path.read_text())
    for key in ("task_hash", "images_hash"):
        data["dataset"].pop(key)
    path.write_text(json.dumps(data))
    old = read_result(path)
    assert old.dataset.task_hash is None and old.dataset.data_hash == scored.dataset.data_hash
    write_task_records(task_records([renderings["auto"]]), results / TASKS_FILE)
    (resolved,) = read_results(results)
    assert resolved.dataset.task_hash == scored.dataset.task_hash
    assert resolved.dataset.images_hash == scored.dataset.images_hash


def test_data_check_says_whether_a_split_is_the_boards(renderings, tmp_path):
    records = tmp_path / TASKS_FILE
    write_task_records(task_records([renderings["auto"]]), records)
    assert read_task_records(records).find("synth-h36m", "test") is not None
    run = CliRunner().invoke
    same = run(app, ["data", "check", str(renderings["auto"]), "--records", str(records)])
    assert same.exit_code == 0 and "byte for byte" in same.output
    flipped = _copy(renderings["auto"], tmp_path / "flipped")
    _flip_pixel(flipped)
    other_images = run(app, ["data", "check", str(flipped), "--records", str(records)])
    assert other_images.exit_code == 0 and "other image bytes" in other_images.output
    assert match_split(flipped, read_task_records(records)).comparable
    moved = _copy(renderings["auto"], tmp_path / "moved")
    _move_joint(moved, 1.0)
    other_task = run(app, ["data", "check", str(moved), "--records", str(records)])
    assert other_task.exit_code == 1 and "NOT the leaderboard's task" in other_task.output
    diff = run(app, ["data", "diff", str(renderings["auto"]), str(flipped)])
    assert diff.exit_code == 0 and diff.output.startswith("1 of ")


def test_task_records_file_errors_name_the_file(tmp_path):
    bad = tmp_path / TASKS_FILE
    bad.write_text('{"format": "poseboard-tasks", "identity_version": 1, "splits": {"a/test": {"samples": 1}}}')
    with pytest.raises(Exception, match=str(bad)):
        read_task_records(bad)
    bad.write_text('{"identity_version": 999, "splits": {}}')
    assert read_task_records(bad) is None  # another identity version: not comparable, not an error


# --------------------------------------------------------------------------- a DVC remote
def test_dvc_remote_round_trip_gives_the_boards_split(renderings, tmp_path):
    """The way a team shares the exact test bytes: `dvc push` to a remote (here a local folder),
    `git clone` + `dvc pull` elsewhere, then `poseboard data check` against the committed task
    records says the pulled split is the leaderboard's, byte for byte."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GIT_"))}
    env |= {"DVC_NO_ANALYTICS": "1", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def run(cmd: list[str], cwd: Path) -> str:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        return proc.stdout

    origin, clone, remote = tmp_path / "origin", tmp_path / "clone", tmp_path / "remote"
    origin.mkdir()
    run(["git", "init", "-q"], origin)
    run([dvc, "init", "-q"], origin)
    shutil.copytree(renderings["auto"], origin / "data" / "synth-h36m" / "test")
    run([dvc, "add", "-q", "data/synth-h36m"], origin)
    write_task_records(task_records([origin / "data" / "synth-h36m" / "test"]), origin / "results" / TASKS_FILE)
    run([dvc, "remote", "add", "-d", "shared", str(remote)], origin)
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-qm", "the board's test split"], origin)
    run([dvc, "push", "-q"], origin)

    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / "data" / "synth-h36m").exists()
    run([dvc, "pull", "-q"], clone)
    pulled = clone / "data" / "synth-h36m" / "test"
    assert split_identity(pulled) == split_identity(renderings["auto"])
    proc = subprocess.run([sys.executable, "-m", "poseboard.cli", "data", "check", str(pulled)], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "byte for byte" in proc.stdout, proc.stdout + proc.stderr
