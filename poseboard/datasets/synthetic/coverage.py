"""Pose coverage: how far a test split's poses lie from everything a training world shows.

A method trained on scripted actions meets, on real motion capture, poses its training never
held (issue 38). Two measurements, both on the 3D poses a generated split stores:

* **joint angles** (:func:`~.motion.joint_angles_deg`: knee, elbow, hip flexion and abduction,
  shoulder elevation, trunk inclination and twist) as distributions, and for each test split the
  fraction of its values outside the training world's 1st–99th percentile range;
* **pose distance**: for each test pose, the MPJPE (mm) to its nearest training pose after both
  are put in a canonical frame (pelvis at the origin, hips along +x, so position and facing do
  not count; :func:`canonical_poses`). A test pose far from every training pose is one the world
  never showed, whatever the action is called;
* **arm distance**: the same for each arm alone (elbow and wrist from their shoulder, canonical
  frame; :func:`nearest_arm_distance`). The arms carry most of the held-out actions' extra error
  (docs/findings/novel-motion-error.md), and a whole pose can be far from every training pose while each arm is near
  one: the whole-pose distance then says "never shown" where each limb was.

Example:
    >>> import numpy as np
    >>> from poseboard.datasets.synthetic.body import SUBJECTS
    >>> rest = SUBJECTS["S1"].rest_pose()[None]
    >>> float(nearest_pose_distance(rest, np.concatenate([rest, rest + 5.0]))[0])
    0.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from poseboard.errors import InputError, check_shape
from poseboard.skeleton import H36M17

#: The angles compared (names of :func:`~.motion.joint_angles_deg`).
COVERAGE_ANGLES: tuple[str, ...] = (
    "r_knee_flexion", "l_knee_flexion", "r_hip_flexion", "l_hip_flexion", "r_hip_abduction", "l_hip_abduction",
    "r_shoulder_elevation", "l_shoulder_elevation", "r_elbow_flexion", "l_elbow_flexion", "trunk_inclination",
    "trunk_twist",
)  # fmt: skip
#: A test pose farther than this (mm, MPJPE) from every training pose counts as uncovered.
FAR_MM = 100.0
#: A test arm farther than this (mm, mean of elbow and wrist) from every training arm counts as uncovered.
ARM_FAR_MM = 50.0
_PELVIS, _RHIP, _LHIP = 6, 2, 3
#: (shoulder, elbow, wrist) joint indices of the right and the left arm (H36M17).
ARMS: tuple[tuple[int, int, int], ...] = tuple(
    (H36M17.index(f"{s}Shoulder"), H36M17.index(f"{s}Elbow"), H36M17.index(f"{s}Wrist")) for s in "RL")


def canonical_poses(poses: np.ndarray) -> np.ndarray:
    """(N, 17, 3) world mm (Z up) → (N, 17, 3) mm: pelvis at the origin, turned about Z so the
    line from the left to the right hip points along +x (facing +y)."""
    p = np.asarray(poses, dtype=np.float64)
    check_shape(p, ["N", 17, 3], "poses")
    p = p - p[:, _PELVIS : _PELVIS + 1]
    hips = p[:, _RHIP, :2] - p[:, _LHIP, :2]
    yaw = np.arctan2(hips[:, 1], hips[:, 0])
    c, s = np.cos(-yaw)[:, None], np.sin(-yaw)[:, None]
    out = p.copy()
    out[..., 0] = c * p[..., 0] - s * p[..., 1]
    out[..., 1] = s * p[..., 0] + c * p[..., 1]
    return out


def nearest_pose_distance(query: np.ndarray, reference: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(Q,) mm: for each query pose, the MPJPE to its nearest reference pose, both canonical
    (:func:`canonical_poses`). Exact (every pair), in float32 chunks of ``chunk`` queries."""
    if len(reference) == 0:
        raise InputError("nearest_pose_distance: no reference poses")
    return _nearest_mean_distance(canonical_poses(query), canonical_poses(reference), chunk)


def _nearest_mean_distance(query: np.ndarray, reference: np.ndarray, chunk: int) -> np.ndarray:
    """(Q,) mm: for each query point set (Q, K, 3), the mean over its K points of the distance to
    the same points of the nearest reference set (R, K, 3). Exact (every pair), in float32
    chunks of ``chunk`` queries, so memory stays at chunk × R × K."""
    q, r = query.astype(np.float32), reference.astype(np.float32)
    out = np.empty(len(q), dtype=np.float64)
    for start in range(0, len(q), chunk):
        block = q[start : start + chunk]  # (B, K, 3)
        out[start : start + chunk] = np.linalg.norm(block[:, None] - r[None], axis=-1).mean(-1).min(1)
    return out


def arm_configurations(poses: np.ndarray) -> np.ndarray:
    """(N, 17, 3) world mm → (N, 2, 2, 3) mm: per arm (right, left), the elbow and the wrist from
    their shoulder in the canonical frame (:func:`canonical_poses`: facing removed, so an arm
    raised forward and one raised sideways differ)."""
    p = canonical_poses(poses)
    return np.stack([p[:, [elbow, wrist]] - p[:, shoulder, None] for shoulder, elbow, wrist in ARMS], axis=1)


def nearest_arm_distance(query: np.ndarray, reference: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(Q, 2) mm: for each query pose's right and left arm, the mean distance of its elbow and wrist
    (:func:`arm_configurations`) to those of the nearest reference arm on the same side. Exact
    (every pair), float32 chunks of ``chunk`` queries."""
    if len(reference) == 0:
        raise InputError("nearest_arm_distance: no reference poses")
    q, r = arm_configurations(query), arm_configurations(reference)
    return np.stack([_nearest_mean_distance(q[:, side], r[:, side], chunk) for side in range(len(ARMS))], axis=1)


def split_poses(path: str | Path) -> np.ndarray:
    """(N, 17, 3) world mm: the ground-truth poses a generated split stores (``joints_3d.npy``)."""
    from poseboard.datasets.storage import MultiViewStore

    return np.asarray(MultiViewStore(path).joints_3d, dtype=np.float64)


def angle_table(poses: np.ndarray, label: str) -> pd.DataFrame:
    """One row per pose: its :data:`COVERAGE_ANGLES` (degrees) and ``split`` = ``label``."""
    from poseboard.datasets.synthetic.motion import joint_angles_deg

    angles = joint_angles_deg(poses)
    return pd.DataFrame({name: angles[name] for name in COVERAGE_ANGLES}).assign(split=label)


@dataclass(frozen=True)
class Coverage:
    """How a training world covers one test split's poses."""

    train: str
    test: str
    #: (Q,) mm: each test pose's distance to its nearest training pose.
    distances: np.ndarray
    #: Per angle: the fraction of the test split's values outside the training 1st–99th percentiles.
    outside: dict[str, float]
    #: (Q, 2) mm: each test pose's right and left arm's distance to the nearest training arm.
    arm_distances: np.ndarray

    @property
    def median_mm(self) -> float:
        return float(np.median(self.distances))

    @property
    def p90_mm(self) -> float:
        return float(np.percentile(self.distances, 90))

    @property
    def far_fraction(self) -> float:
        """Fraction of the test poses farther than :data:`FAR_MM` from every training pose."""
        return float(np.mean(self.distances > FAR_MM))

    @property
    def arm_median_mm(self) -> float:
        return float(np.median(self.arm_distances))

    @property
    def arm_far_fraction(self) -> float:
        """Fraction of the test arms farther than :data:`ARM_FAR_MM` from every training arm."""
        return float(np.mean(self.arm_distances > ARM_FAR_MM))


def measure_coverage(train: Mapping[str, np.ndarray], tests: Mapping[str, np.ndarray]) -> list[Coverage]:
    """Every (training world, test split) pair: nearest-pose and nearest-arm distances and the
    angles outside the training world's 1st–99th percentile range."""
    out = []
    for train_label, train_poses in train.items():
        ref = angle_table(train_poses, train_label)
        lo, hi = ref[list(COVERAGE_ANGLES)].quantile(0.01), ref[list(COVERAGE_ANGLES)].quantile(0.99)
        for test_label, test_poses in tests.items():
            table = angle_table(test_poses, test_label)
            outside = {a: float(((table[a] < lo[a]) | (table[a] > hi[a])).mean()) for a in COVERAGE_ANGLES}
            out.append(Coverage(train_label, test_label, nearest_pose_distance(test_poses, train_poses), outside,
                                nearest_arm_distance(test_poses, train_poses)))
    return out


def training_world_poses(preset: str, seed: int = 0) -> np.ndarray:
    """(N, 17, 3) world mm: the poses of ``synth-h36m``'s training split of a preset, at the
    frames the split keeps, straight from its cast (the motion the generator renders, without
    rendering it: the same poses ``joints_3d.npy`` stores)."""
    from poseboard.datasets.synthetic.casting import training_world_cast
    from poseboard.datasets.synthetic.config import SynthConfig

    config = SynthConfig.preset(preset)
    spec = config.h36m
    if spec.train.world is None:
        raise InputError(f"preset {preset!r}: synth-h36m's training split has no training world")
    cast = training_world_cast("synth-h36m", "train", spec.train, spec.area_radius_mm, config.fps, seed)
    return np.concatenate([s.poses[s.frames] for s in cast.sequences])
