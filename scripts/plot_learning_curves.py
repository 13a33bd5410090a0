"""Draw the validation curves in ``docs/learning_curves/``, one panel per method.

The JSON records were written by ``scripts/learning_curves.py``, a one-off study that lived there
until commit a3dea29 (``git show a3dea29:scripts/learning_curves.py``; docs/findings/training-length.md).

    python scripts/plot_learning_curves.py docs/learning_curves/*.json --out docs/learning_curves/curves.png

Each panel shows the record's validation metric against the training step (root-relative
MPJPE in mm; the pre-training's 2D error in px, a record with ``metric``), and a band of ±1 mm
(±0.1 px) around the final value: where a curve enters the band and stays, more steps of the
same schedule no longer moved the error by more than that.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("curves", type=Path, nargs="+", help="JSON curve records (docs/learning_curves/*.json)")
    parser.add_argument("--out", type=Path, required=True, help="the figure (.png or .svg)")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(path.read_text()) for path in args.curves]
    fig, axes = plt.subplots(1, len(records), figsize=(3.6 * len(records), 3.0), squeeze=False)
    for ax, rec in zip(axes[0], records, strict=True):
        metric = rec.get("metric", "mpjpe_rel")
        steps = [p["step"] for p in rec["curve"]]
        values = [p[metric] for p in rec["curve"]]
        band = 0.1 if metric.startswith("px") else 1.0
        ax.axhspan(values[-1] - band, values[-1] + band, color="0.88", lw=0)
        ax.plot(steps, values, marker="o", ms=3, color="C0")
        ax.set_title(f"{rec['method']} ({rec['steps']} steps, batch {rec['batch_size']})", fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"val {'2D error (px)' if metric.startswith('px') else 'MPJPE rel. (mm)'}, "
                      f"{rec['val_frames']} {'crops' if metric.startswith('px') else 'frames'}", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
