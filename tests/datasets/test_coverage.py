"""Pose coverage (issue 38): canonical poses, nearest-pose distances against a naive loop, the
training world's poses as generated, and the coverage figures drawn from generated splits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.synthetic.config import SynthConfig
from poseboard.datasets.synthetic.coverage import (
    ARM_FAR_MM,
    FAR_MM,
    arm_configurations,
    canonical_poses,
    measure_coverage,
    nearest_arm_distance,
    nearest_pose_distance,
    split_poses,
    training_world_poses,
)
from poseboard.datasets.synthetic.generator import generate_datasets
from poseboard.datasets.synthetic.motion import generate_motion_set

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "world_figures.py"


def _turned(poses: np.ndarray, yaw_deg: float, shift) -> np.ndarray:
    a = np.radians(yaw_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return poses @ rz.T + np.asarray(shift, dtype=np.float64)


def test_canonical_poses_forget_place_and_facing():
    poses = np.concatenate([s.poses[::40] for s in generate_motion_set(["S1", "S9"], ["Walking", "FreeMotion"], 1,
                                                                         200, seed=2)])
    canon = canonical_poses(poses)
    np.testing.assert_allclose(canon[:, 6], 0.0, atol=1e-9)
    hips = canon[:, 2] - canon[:, 3]
    np.testing.assert_allclose(hips[:, 1], 0.0, atol=1e-9)
    assert (hips[:, 0] > 0).all()
    moved = _turned(poses, 123.0, [500.0, -2000.0, 0.0])
    np.testing.assert_allclose(canonical_poses(moved), canon, atol=1e-9)


def test_nearest_pose_distance_against_a_naive_loop():
    rng = np.random.default_rng(0)
    ref = np.concatenate([s.poses[::10] for s in generate_motion_set(["S5"], ["Boxing", "FreeMotion"], 1, 200,
                                                                       seed=1)])
    query = ref[rng.choice(len(ref), 7)] + rng.normal(0.0, 20.0, (7, 17, 3))
    cq, cr = canonical_poses(query), canonical_poses(ref)
    naive = np.array([min(np.linalg.norm(q - r, axis=-1).mean() for r in cr) for q in cq])
    np.testing.assert_allclose(nearest_pose_distance(query, ref, chunk=3), naive, rtol=1e-5)
    # a reference pose, moved and turned, is at distance 0; one joint 17 mm off is 1 mm off on average
    pose = ref[5:6]
    assert nearest_pose_distance(_turned(pose, -70.0, [10.0, 20.0, 0.0]), ref)[0] == pytest.approx(0.0, abs=1e-3)
    off = pose.copy()
    off[0, 15, 2] += 17.0  # a wrist
    assert nearest_pose_distance(off, pose)[0] == pytest.approx(1.0, abs=1e-3)


def test_nearest_arm_distance_against_a_naive_loop():
    """Per side, elbow and wrist from the shoulder: against a loop written from the joint names;
    a pose whose legs alone change is 0 mm from its arms, and a wrist 20 mm off is 10 mm off."""
    from poseboard.skeleton import H36M17

    rng = np.random.default_rng(3)
    ref = np.concatenate([s.poses[::10] for s in generate_motion_set(["S5"], ["Boxing", "FreeMotion"], 1, 200,
                                                                       seed=1)])
    query = ref[rng.choice(len(ref), 6)] + rng.normal(0.0, 25.0, (6, 17, 3))
    cq, cr = canonical_poses(query), canonical_poses(ref)
    naive = np.zeros((len(query), 2))
    for side, s in enumerate("RL"):
        sh, el, wr = (H36M17.index(f"{s}{j}") for j in ("Shoulder", "Elbow", "Wrist"))
        for i, q in enumerate(cq):
            naive[i, side] = min((np.linalg.norm(q[el] - q[sh] - (r[el] - r[sh]))
                                  + np.linalg.norm(q[wr] - q[sh] - (r[wr] - r[sh]))) / 2 for r in cr)
    np.testing.assert_allclose(nearest_arm_distance(query, ref, chunk=4), naive, rtol=1e-5)
    assert arm_configurations(query).shape == (6, 2, 2, 3)
    pose = ref[7:8].copy()
    legs = pose.copy()
    legs[0, [0, 1, 4, 5]] += [0.0, 80.0, 0.0]  # knees and ankles moved: another whole pose, the same arms
    assert nearest_pose_distance(legs, pose)[0] > 15.0
    np.testing.assert_allclose(nearest_arm_distance(_turned(legs, 40.0, [300.0, 0.0, 0.0]), pose), 0.0, atol=1e-3)
    off = pose.copy()
    off[0, H36M17.index("LWrist"), 2] += 20.0
    np.testing.assert_allclose(nearest_arm_distance(off, pose)[0], [0.0, 10.0], atol=1e-3)


def test_coverage_of_a_world_against_itself_and_a_far_split():
    poses = np.concatenate([s.poses[::10] for s in generate_motion_set(["S1"], ["Walking"], 2, 200, seed=0)])
    far = np.concatenate([s.poses[::10] for s in generate_motion_set(["S1"], ["Lying"], 1, 400, seed=0)])
    self_cov, far_cov = measure_coverage({"w": poses}, {"same": poses, "lying": far})
    assert self_cov.median_mm == 0.0 and self_cov.far_fraction == 0.0
    assert self_cov.arm_distances.shape == (len(poses), 2) and self_cov.arm_median_mm == 0.0
    assert far_cov.arm_median_mm > 0.0 and 0.0 <= far_cov.arm_far_fraction <= 1.0 and ARM_FAR_MM == 50.0
    assert far_cov.far_fraction > 0.5 and far_cov.median_mm > FAR_MM
    assert max(far_cov.outside.values()) > 0.5  # lying bends what walking never does
    assert max(self_cov.outside.values()) <= 2 / len(poses)  # the two tails of the 1st–99th percentiles


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coverage")
    generate_datasets(["synth-h36m", "synth-novel-motion"], SynthConfig.preset("smoke"), out, seed=0, workers=1)
    return out


def test_training_world_poses_are_the_generated_ones(smoke):
    np.testing.assert_array_equal(training_world_poses("smoke", seed=0), split_poses(smoke / "synth-h36m/train"))


def test_coverage_figures_are_drawn_from_generated_splits(smoke, tmp_path):
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--coverage", "--out", str(tmp_path),
         "--train-split", f"smoke={smoke / 'synth-h36m/train'}",
         "--test-split", f"test={smoke / 'synth-h36m/test'}",
         "--test-split", f"novel motion={smoke / 'synth-novel-motion/test'}"],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, run.stderr
    for name in ("coverage_angles.png", "coverage_distance.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = [line for line in run.stdout.splitlines() if "nearest pose" in line]
    assert len(lines) == 2 and "smoke → test" in lines[0] and "smoke → novel motion" in lines[1]
    assert all("nearest arm: median" in line for line in lines)
    bad = subprocess.run([sys.executable, str(SCRIPT), "--coverage", "--out", str(tmp_path), "--test-split", "x"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "LABEL=VALUE" in bad.stderr
