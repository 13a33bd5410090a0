"""What thinning a held-out split's sequences costs in resolution, measured on a board's files.

The held-out splits (``synth-novel-*``) hold 144 sequences of about 7 frames, 0.5 s apart. The
sequence is the unit of every interval, and frames of one sequence share the subject, the room,
the occluders and the motion, so keeping every other frame should widen the paired intervals
between methods by far less than the √(1000 / 568) = 1.33 that independent frames would give.
This takes a board's predictions (``results/<method>/<split>@1.npz``) and ground truth
(``data/<split>/test``), computes each frame's root-relative MPJPE, and for every pair of
methods compares the paired sequence-bootstrap interval (:func:`paired_bootstrap`, the board's
own test) on all frames with the interval on each sequence's 1st, 3rd, 5th and 7th frame:

    python scripts/thinning_power.py --board /path/to/a/board/workspace

The table in docs/statistics.md ("Held-out splits") comes from this script, run on the
session-4 board (unthinned splits).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

SPLITS = ("synth-novel-rig", "synth-novel-motion", "synth-novel-body", "synth-novel-all")
METHODS = ("ransac", "algebraic", "volumetric", "volumetric-norm", "epipolar", "epipolar-baseline")


def frame_errors(board: Path, split: str, method: str) -> pd.DataFrame:
    """Per frame of ``split``: its sequence, its rank in the sequence and the root-relative MPJPE."""
    from poseboard.protocols.metrics import mpjpe
    from poseboard.protocols.predictions import load_pose_predictions
    from poseboard.skeleton import H36M17

    pred = load_pose_predictions(board / "results" / method / f"{split}@1.npz")
    table = pd.read_csv(board / "data" / split / "test" / "samples.csv", dtype={"frame": int})
    gt = np.load(board / "data" / split / "test" / "joints_3d.npy")
    row = pd.Series(np.arange(len(table)), index=table["sample_id"])[list(pred.sample_ids)].to_numpy()
    error = mpjpe(pred.joints_3d, gt[row], "root", root=H36M17.root)  # the protocols' relative MPJPE
    frames = table["frame"].to_numpy()[row]
    sequence = table["sequence"].to_numpy()[row]
    rank = pd.Series(frames).groupby(sequence).rank(method="first").to_numpy().astype(int) - 1
    return pd.DataFrame({"sequence": sequence, "rank": rank, "error": error})


def sequence_table(errors: pd.DataFrame, keep: np.ndarray):
    from poseboard.comparison.paired import SequenceTable

    kept = errors[keep].groupby("sequence", sort=True)["error"].agg(["sum", "count"])
    return SequenceTable(tuple(kept.index), tuple("all" for _ in kept.index), [kept["sum"].to_numpy()],
                         kept["count"].to_numpy())


def main() -> None:
    from poseboard.comparison.paired import paired_bootstrap

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", type=Path, required=True, help="a workspace with data/ and results/")
    parser.add_argument("--step", type=int, default=2, help="keep every STEP-th frame of each sequence")
    parser.add_argument("--resamples", type=int, default=10000)
    args = parser.parse_args()
    print("| split | frames kept | sequences | median width ratio | widths (thinned / all), mm |")
    print("|---|---|---|---|---|")
    for split in SPLITS:
        errors = {m: frame_errors(args.board, split, m) for m in METHODS}
        first = next(iter(errors.values()))
        keep = (first["rank"] % args.step == 0).to_numpy()
        ratios, widths = [], []
        for a, b in itertools.combinations(METHODS, 2):
            assert (errors[a]["sequence"] == errors[b]["sequence"]).all()
            w = []
            for mask in (np.ones(len(first), bool), keep):
                c = paired_bootstrap(sequence_table(errors[a], mask), sequence_table(errors[b], mask),
                                     n_resamples=args.resamples)
                w.append(c.ci95[1] - c.ci95[0])
            ratios.append(w[1] / w[0])
            widths.append(w)
        widths_arr = np.array(widths)
        print(f"| {split} | {keep.sum()} of {len(keep)} | {first['sequence'].nunique()} | "
              f"{np.median(ratios):.2f} (range {min(ratios):.2f}–{max(ratios):.2f}) | "
              f"mean {widths_arr[:, 1].mean():.1f} / {widths_arr[:, 0].mean():.1f} |")


if __name__ == "__main__":
    main()
