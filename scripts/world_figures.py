"""Figures of the synthetic world's distributions, drawn from generated data (docs/synthetic_world.md).

Reads a data folder written by ``poseboard generate`` (the training split of ``synth-h36m`` and
the ``synth-novel-*`` test splits) and draws, with the train / novel boundaries:

* ``layouts.png``: camera distance, height, horizontal field of view, cameras per layout and
  image aspect ratio of the stored layouts (``layouts.csv``), training against novel-rig;
* ``motion.png``: root speed and the knee and hip flexion ranges per action, from the 3D poses;
* ``bodies.png``: body measurements (height, leg, arm, hip and shoulder width relative to
  height) of every body in the training split and the novel-body split, from the poses' bone lengths;
* with ``--coverage``: ``coverage_angles.png`` and ``coverage_distance.png``, the joint angles and
  the nearest-training-pose distances of test splits against training worlds
  (``poseboard.datasets.synthetic.coverage``).

Prints the numbers behind each figure (ranges, counts) so the document can quote them.

    python scripts/world_figures.py --data data --out docs/world
    python scripts/world_figures.py --coverage --out docs/world --train-split default=data/synth-h36m/train \
        --train-preset broad=broad --test-split test=data/synth-h36m/test \
        --test-split "novel motion=data/synth-novel-motion/test"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from poseboard.datasets.storage import MultiViewStore
from poseboard.datasets.synthetic.layouts import NOVEL_LAYOUTS, TRAIN_LAYOUTS
from poseboard.datasets.synthetic.motion import joint_angles_deg
from poseboard.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.joint_names)}


def _layouts(data: Path) -> pd.DataFrame:
    parts = []
    splits = (("train (synth-h36m)", data / "synth-h36m/train"), ("novel rig", data / "synth-novel-rig/test"))
    for label, path in splits:
        if (path / "layouts.csv").exists():
            table = pd.read_csv(path / "layouts.csv")
            parts.append(table.assign(split=label, aspect=table["image_width"] / table["image_height"]))
    if not parts:
        raise SystemExit(f"{data}: no layouts.csv (generate the default world first)")
    return pd.concat(parts, ignore_index=True)


def _shade(ax, intervals, axis: str = "x") -> None:
    for lo, hi in intervals:
        (ax.axvspan if axis == "x" else ax.axhspan)(lo, hi, color="0.85", zorder=0)


def draw_layouts(data: Path, out: Path) -> None:
    table = _layouts(data)
    fig, axes = plt.subplots(1, 5, figsize=(19, 3.6))
    panels = [("distance_mm", "distance to the area centre (mm)", TRAIN_LAYOUTS.distance_mm),
              ("height_mm", "camera height (mm)", TRAIN_LAYOUTS.height_mm),
              ("hfov_deg", "horizontal field of view (°)", TRAIN_LAYOUTS.hfov_deg)]
    for ax, (column, label, train_range) in zip(axes, panels, strict=False):
        _shade(ax, train_range)
        sns.histplot(table, x=column, hue="split", stat="density", common_norm=False, element="step", ax=ax, bins=30)
        ax.set_xlabel(label)
    counts = table.groupby(["split", "rig"])["layout_cameras"].first().reset_index()
    sns.countplot(counts, x="layout_cameras", hue="split", ax=axes[3])
    axes[3].set_xlabel("cameras per layout")
    sns.histplot(table, x="aspect", hue="split", stat="density", common_norm=False, element="step", ax=axes[4], bins=20)
    axes[4].set_xlabel("image aspect (w / h)")
    fig.suptitle("Camera layouts: training family (grey bands: its ranges) against the novel-rig split")
    fig.tight_layout()
    fig.savefig(out / "layouts.png", dpi=90)
    plt.close(fig)
    for split, rows in table.groupby("split"):
        per_rig = rows.groupby("rig")["layout_cameras"].first()
        print(f"layouts {split}: {per_rig.size} layouts, cameras {per_rig.min()}–{per_rig.max()}, "
              f"distance {rows.distance_mm.min():.0f}–{rows.distance_mm.max():.0f} mm, "
              f"height {rows.height_mm.min():.0f}–{rows.height_mm.max():.0f} mm, "
              f"hfov {rows.hfov_deg.min():.1f}–{rows.hfov_deg.max():.1f}°, "
              f"{rows[['image_width', 'image_height']].drop_duplicates().shape[0]} image sizes, "
              f"placements {dict(rows.groupby('rig')['placement'].first().value_counts())}")
    print(f"  training ranges: counts {TRAIN_LAYOUTS.camera_counts}, novel counts {NOVEL_LAYOUTS.camera_counts}")


def _sequences(store: MultiViewStore):
    table = store.table.assign(index=np.arange(len(store)))
    for (subject, action, sequence), rows in table.groupby(["subject", "action", "sequence"], sort=True):
        idx = rows["index"].to_numpy()
        frames = rows["frame"].astype(int).to_numpy()
        yield subject, action, sequence, store.joints_3d[idx], frames


def draw_motion(data: Path, out: Path) -> None:
    rows = []
    for label, path in (("train", data / "synth-h36m/train"), ("novel motion", data / "synth-novel-motion/test")):
        if not (path / "manifest.json").exists():
            continue
        store = MultiViewStore(path)
        for _, action, _, poses, frames in _sequences(store):
            angles = joint_angles_deg(poses)
            speed = np.full(len(poses), np.nan)
            if len(poses) > 1:
                dt = np.diff(frames) / 50.0
                v = np.linalg.norm(np.diff(poses[:, J["Pelvis"], :2], axis=0), axis=-1) / dt
                speed[1:] = v
            for k in range(len(poses)):
                rows.append({"split": label, "action": action, "root speed (m/s)": speed[k] / 1000.0,
                             "knee flexion (°)": angles["r_knee_flexion"][k],
                             "hip flexion (°)": angles["r_hip_flexion"][k],
                             "pelvis height (mm)": poses[k, J["Pelvis"], 2]})
    table = pd.DataFrame(rows)
    order = sorted(table["action"].unique(), key=lambda a: (table.loc[table.action == a, "split"].iloc[0], a))
    fig, axes = plt.subplots(1, 4, figsize=(19, 0.32 * len(order) + 1.6), sharey=True)
    for ax, column in zip(axes, ["root speed (m/s)", "knee flexion (°)", "hip flexion (°)", "pelvis height (mm)"],
                          strict=True):
        sns.boxplot(table, x=column, y="action", hue="split", order=order, ax=ax, fliersize=1, linewidth=0.6)
        if ax is not axes[0]:
            ax.get_legend().remove()
    fig.suptitle("Motion coverage per action (from the stored 3D poses; training actions and held-out actions)")
    fig.tight_layout()
    fig.savefig(out / "motion.png", dpi=90)
    plt.close(fig)
    summary = table.groupby(["split", "action"]).agg(
        frames=("action", "size"), speed_p90=("root speed (m/s)", lambda s: np.nanpercentile(s, 90)),
        knee_max=("knee flexion (°)", "max"), pelvis_min=("pelvis height (mm)", "min"))
    print(summary.round(2).to_string())


def _measurements(poses: np.ndarray) -> dict[str, float]:
    """Body measurements from one sequence's poses (bones are rigid: their median length)."""
    def bone(a: str, b: str) -> float:
        return float(np.median(np.linalg.norm(poses[:, J[a]] - poses[:, J[b]], axis=-1)))

    leg = bone("RHip", "RKnee") + bone("RKnee", "RAnkle")
    arm = bone("RShoulder", "RElbow") + bone("RElbow", "RWrist")
    spine = bone("Pelvis", "Spine") + bone("Spine", "Thorax") + bone("Thorax", "Neck") + bone("Neck", "Head")
    height = leg + spine  # a proxy of stature: leg and trunk-to-head-top lengths
    return {"stature proxy (mm)": height, "leg / proxy": leg / height, "arm / proxy": arm / height,
            "hip width / proxy": 2 * bone("Pelvis", "RHip") / height,
            "shoulder width / proxy": 2 * bone("Thorax", "RShoulder") / height}


def draw_bodies(data: Path, out: Path) -> None:
    rows = []
    for label, path in (("train", data / "synth-h36m/train"), ("in-distribution test", data / "synth-h36m/test"),
                        ("novel body", data / "synth-novel-body/test")):
        if not (path / "manifest.json").exists():
            continue
        store = MultiViewStore(path)
        seen = set()
        for subject, _, _, poses, _ in _sequences(store):
            if subject not in seen:
                seen.add(subject)
                rows.append({"split": label, "subject": subject} | _measurements(poses))
    table = pd.DataFrame(rows)
    columns = [c for c in table.columns if c not in ("split", "subject")]
    fig, axes = plt.subplots(1, len(columns) - 1, figsize=(16, 3.6))
    for ax, column in zip(axes, columns[1:], strict=True):
        sns.scatterplot(table, x=columns[0], y=column, hue="split", style="split", ax=ax, s=40)
        if ax is not axes[0]:
            ax.get_legend().remove()
    fig.suptitle("Bodies: measurements from the stored poses (every body of each split)")
    fig.tight_layout()
    fig.savefig(out / "bodies.png", dpi=90)
    plt.close(fig)
    print(table.groupby("split")[columns].agg(["min", "max", "count"]).round(3).T.to_string())


_SHOWN_ANGLES = (("r_knee_flexion", "knee flexion (°)"), ("r_hip_flexion", "hip flexion (°)"),
                 ("r_hip_abduction", "hip abduction (°)"), ("r_shoulder_elevation", "shoulder elevation (°)"),
                 ("trunk_inclination", "trunk inclination (°)"), ("trunk_twist", "trunk twist (°)"))


def _labelled(pairs: list[str], flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        label, sep, value = pair.partition("=")
        if not sep or not label or not value:
            raise SystemExit(f"{flag} {pair!r}: expected LABEL=VALUE")
        out[label] = value
    return out


def draw_coverage(train: dict[str, np.ndarray], tests: dict[str, np.ndarray], out: Path) -> list:
    """``coverage_angles.png`` (joint-angle distributions of each training world and test split)
    and ``coverage_distance.png`` (each test pose's distance to its nearest training pose, per
    training world); returns the :class:`~poseboard.datasets.synthetic.coverage.Coverage` records."""
    from poseboard.datasets.synthetic.coverage import ARM_FAR_MM, FAR_MM, angle_table, measure_coverage

    tables = [angle_table(p, f"train: {k}") for k, p in train.items()] + [angle_table(p, k) for k, p in tests.items()]
    table = pd.concat(tables, ignore_index=True)
    fig, axes = plt.subplots(1, len(_SHOWN_ANGLES), figsize=(21, 3.6))
    for ax, (name, label) in zip(axes, _SHOWN_ANGLES, strict=True):
        sns.histplot(table, x=name, hue="split", stat="density", common_norm=False, element="step", fill=False,
                     bins=40, ax=ax)
        ax.set_xlabel(label)
        if ax is not axes[0]:
            ax.get_legend().remove()
    fig.suptitle("Joint angles: each training world against each test split (density within each)")
    fig.tight_layout()
    fig.savefig(out / "coverage_angles.png", dpi=90)
    plt.close(fig)

    records = measure_coverage(train, tests)
    fig, axes = plt.subplots(1, len(tests), figsize=(6 * len(tests), 3.8), squeeze=False)
    for ax, test in zip(axes[0], tests, strict=True):
        for r in (r for r in records if r.test == test):
            d = np.sort(r.distances)
            ax.plot(d, np.arange(1, len(d) + 1) / len(d), label=f"{r.train} (median {r.median_mm:.0f} mm)")
        ax.axvline(FAR_MM, color="0.5", ls=":")
        ax.set_xlabel(f"{test}: MPJPE to the nearest training pose (mm, canonical)")
        ax.set_ylabel("fraction of test poses")
        ax.legend(fontsize=8)
    fig.suptitle("Pose coverage: how far each test pose lies from every pose the training world shows")
    fig.tight_layout()
    fig.savefig(out / "coverage_distance.png", dpi=90)
    plt.close(fig)
    for r in records:
        outside = np.mean(list(r.outside.values()))
        print(f"{r.train:>12} → {r.test:<14} nearest pose: median {r.median_mm:5.1f} mm, 90th percentile "
              f"{r.p90_mm:5.1f} mm, beyond {FAR_MM:.0f} mm {100 * r.far_fraction:4.1f} %; "
              f"angle values outside the training 1–99 % range {100 * outside:4.1f} % (mean over angles); "
              f"nearest arm: median {r.arm_median_mm:5.1f} mm, beyond {ARM_FAR_MM:.0f} mm "
              f"{100 * r.arm_far_fraction:4.1f} %")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=Path("docs/world"))
    parser.add_argument("--coverage", action="store_true",
                        help="only the pose-coverage figures: --train-split / --train-preset against --test-split")
    parser.add_argument("--train-split", action="append", default=[], metavar="LABEL=PATH",
                        help="a generated training split folder (repeatable)")
    parser.add_argument("--train-preset", action="append", default=[], metavar="LABEL=PRESET",
                        help="a preset's synth-h36m training poses, from its cast (the poses it renders)")
    parser.add_argument("--test-split", action="append", default=[], metavar="LABEL=PATH",
                        help="a generated test split folder (repeatable)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.coverage:
        from poseboard.datasets.synthetic.coverage import split_poses, training_world_poses

        train = {k: split_poses(v) for k, v in _labelled(args.train_split, "--train-split").items()}
        train |= {k: training_world_poses(v) for k, v in _labelled(args.train_preset, "--train-preset").items()}
        tests = {k: split_poses(v) for k, v in _labelled(args.test_split, "--test-split").items()}
        if not train or not tests:
            raise SystemExit("--coverage needs at least one training world and one --test-split")
        draw_coverage(train, tests, args.out)
        return
    draw_layouts(args.data, args.out)
    draw_motion(args.data, args.out)
    draw_bodies(args.data, args.out)


if __name__ == "__main__":
    main()
