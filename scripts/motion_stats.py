"""Statistics of the synthetic subjects and their procedural motion.

Prints the bone-length spread across subjects (per bone min/max/std in mm and as a fraction of
stature, and the height range), the time ``generate_motion_set`` takes, and per action the
range (min–max) of the main joint angles measured from the joints, with the pelvis height,
the fastest joint and how high the lowest foot gets.

    .venv/bin/python scripts/motion_stats.py [--sequences 2] [--frames 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from poseboard.datasets.synthetic.body import BONE_NAMES, SUBJECTS, TEST_SUBJECTS, TRAIN_SUBJECTS
from poseboard.datasets.synthetic.motion import ACTIONS, generate_motion_set, joint_angles_deg
from poseboard.skeleton import H36M17

ANGLES = (  # (label, measured names pooled over sides)
    ("knee", ("r_knee_flexion", "l_knee_flexion")),
    ("hip flex", ("r_hip_flexion", "l_hip_flexion")),
    ("hip abd", ("r_hip_abduction", "l_hip_abduction")),
    ("elbow", ("r_elbow_flexion", "l_elbow_flexion")),
    ("shoulder elev", ("r_shoulder_elevation", "l_shoulder_elevation")),
    ("trunk incl", ("trunk_inclination",)),
    ("trunk twist", ("trunk_twist",)),
)


def subject_table() -> None:
    names = list(SUBJECTS)
    heights = np.array([SUBJECTS[n].height_mm for n in names])
    lengths = np.stack([SUBJECTS[n].bone_lengths for n in names])
    ratios = lengths / heights[:, None]
    print("Subjects")
    for n in names:
        split = "train" if n in TRAIN_SUBJECTS else "test" if n in TEST_SUBJECTS else "-"
        b = SUBJECTS[n]
        print(f"  {n:<4} {split:<5} height {b.height_mm:6.0f} mm  ankle {b.ankle_height_mm:4.0f} mm"
              f"  head radius {b.head_radius_mm:4.0f} mm")
    print(f"  height range {heights.min():.0f}–{heights.max():.0f} mm "
          f"(train {min(SUBJECTS[n].height_mm for n in TRAIN_SUBJECTS):.0f}–"
          f"{max(SUBJECTS[n].height_mm for n in TRAIN_SUBJECTS):.0f}, test "
          f"{min(SUBJECTS[n].height_mm for n in TEST_SUBJECTS):.0f}–"
          f"{max(SUBJECTS[n].height_mm for n in TEST_SUBJECTS):.0f})")
    print()
    print("Bone lengths across subjects")
    print(f"  {'bone':<22}{'min':>7}{'max':>7}{'std':>6}   {'/H min':>7}{'/H max':>7}{'/H cv%':>7}")
    for i, name in enumerate(BONE_NAMES):
        col, r = lengths[:, i], ratios[:, i]
        print(f"  {name:<22}{col.min():7.0f}{col.max():7.0f}{col.std():6.1f}   "
              f"{r.min():7.3f}{r.max():7.3f}{100 * r.std() / r.mean():7.1f}")
    print()


def action_table(sequences: int, frames: int, seed: int) -> None:
    start = time.perf_counter()
    motion = generate_motion_set(list(SUBJECTS), ACTIONS, sequences, frames, seed)
    elapsed = time.perf_counter() - start
    total = sum(s.num_frames for s in motion)
    print(f"generate_motion_set: {len(SUBJECTS)} subjects × {len(ACTIONS)} actions × {sequences} "
          f"sequences × {frames} frames = {len(motion)} sequences, {total} frames in "
          f"{elapsed:.2f} s ({1e3 * elapsed / len(motion):.1f} ms per sequence)")
    print()
    print("Per action, range (min–max) over all subjects and sequences; angles in degrees")
    header = "".join(f"{label:>15}" for label, _ in ANGLES)
    print(f"  {'action':<12}{header}{'pelvis z mm':>14}{'v max m/s':>10}{'foot up mm':>11}")
    ankle = [H36M17.index("RAnkle"), H36M17.index("LAnkle")]
    for action in ACTIONS:
        seqs = [s for s in motion if s.action == action]
        poses = np.concatenate([s.poses for s in seqs])
        a = joint_angles_deg(poses)
        cells = []
        for _, keys in ANGLES:
            v = np.concatenate([a[k] for k in keys])
            cells.append(f"{f'{v.min():.0f}–{v.max():.0f}':>15}")
        pelvis = poses[:, H36M17.root, 2]
        speed = max(float((np.linalg.norm(np.diff(s.poses, axis=0), axis=-1) * s.fps).max())
                    for s in seqs)
        lift = max(float((s.poses[:, ankle, 2].min(1) - SUBJECTS[s.subject].ankle_height_mm).max())
                   for s in seqs)
        print(f"  {action:<12}{''.join(cells)}{f'{pelvis.min():.0f}–{pelvis.max():.0f}':>14}"
              f"{speed / 1000:10.1f}{lift:11.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=2)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    subject_table()
    action_table(args.sequences, args.frames, args.seed)


if __name__ == "__main__":
    main()
