"""Where do methods' errors come from? Per-joint errors, the tail, and the regime where every
method's joint is roughly right, from the predictions a pose protocol's run wrote.

A mean MPJPE mixes two regimes: joints every method localises (where a better triangulation
shows up) and gross failures (a wrist taken for the other wrist, an occluded elbow) where the
view-selection rule decides. This splits them:

    python scripts/error_breakdown.py --results results --data data \
        --protocol synth-h36m-relative@2 ransac algebraic volumetric

prints, per method, the mean / median / 90th percentile of the per-frame error, the share of
joints over ``--gross`` mm, the mean over the joints that *every* listed method gets within
``--gross`` mm (the same joints for all), the per-joint means, and how often each method's
frame error is below the first method's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from poseboard.protocols.evaluate import select_frames
from poseboard.protocols.ground_truth import load_ground_truth
from poseboard.protocols.metrics import per_joint_errors
from poseboard.protocols.predictions import load_pose_predictions
from poseboard.protocols.registry import get_protocol
from poseboard.skeleton import H36M17


def joint_errors(results: Path, data: Path, protocol_id: str, methods: list[str]) -> dict[str, np.ndarray]:
    """Method → (N, J) joint errors (mm) under the protocol's alignment, rows in the ground
    truth's order of the protocol's frames (every method must cover the same frames)."""
    protocol = get_protocol(protocol_id)
    if protocol.task != "multiview_pose" or protocol.camera_sweep is not None:
        raise SystemExit(f"{protocol.id}: a fixed-camera pose protocol is needed")
    gt = load_ground_truth(protocol, data / protocol.dataset / protocol.split)
    frames = np.flatnonzero(select_frames(protocol, gt.meta))
    row_of = {sid: i for i, sid in enumerate(gt.meta["sample_id"].astype(str))}
    out = {}
    for method in methods:
        preds = load_pose_predictions(results / method / f"{protocol.id}.npz")
        if preds.frame != "world" or protocol.evaluation_frame != "world":
            raise SystemExit(f"{method}: world-frame predictions and protocol needed, got {preds.frame}")
        order = {row_of[sid]: k for k, sid in enumerate(preds.sample_ids)}
        missing = [r for r in frames if r not in order]
        if missing:
            raise SystemExit(f"{method}: {len(missing)} of the protocol's frames have no prediction")
        pick = np.array([order[r] for r in frames])
        out[method] = per_joint_errors(preds.joints_3d[pick], gt.joints_3d[frames], protocol.alignment,
                                       protocol.root_index)
    return out


def breakdown(errors: dict[str, np.ndarray], gross_mm: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary per method, per-joint means per method)."""
    methods = list(errors)
    first = errors[methods[0]].mean(1)
    all_good = np.logical_and.reduce([e < gross_mm for e in errors.values()])
    rows = []
    for m, e in errors.items():
        frame = e.mean(1)
        rows.append({
            "method": m, "mean": frame.mean(), "median": np.median(frame), "p90": np.quantile(frame, 0.9),
            f"joints > {gross_mm:g} mm (%)": 100 * (e >= gross_mm).mean(),
            f"mean where all < {gross_mm:g} mm": e[all_good].mean(),
            f"frames better than {methods[0]} (%)": 100 * (frame < first).mean(),
        })
    summary = pd.DataFrame(rows).set_index("method")
    joints = pd.DataFrame({m: e.mean(0) for m, e in errors.items()}, index=list(H36M17.joint_names))
    return summary, joints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("methods", nargs="+", help="methods under RESULTS (the first is the reference)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--protocol", default="synth-h36m-relative@2")
    parser.add_argument("--gross", type=float, default=150.0, help="a joint error this large (mm) is a failure")
    args = parser.parse_args()
    summary, joints = breakdown(joint_errors(args.results, args.data, args.protocol, args.methods), args.gross)
    pd.set_option("display.width", 160)
    print(f"{args.protocol}: {len(joints)} joints\n")
    print(summary.round(1).to_string(), "\n")
    print(joints.round(1).to_string())


if __name__ == "__main__":
    main()
