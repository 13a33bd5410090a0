"""How a test split's design decides what the leaderboard can resolve, at a fixed frame budget.

The sequence is the independent unit of every interval (frames of one sequence share the
subject's look, the room, the occluders and the motion), so at the same number of test frames
(the same inference time) a split of many short sequences resolves smaller differences than one
of a few long ones. This renders the synth-h36m test split in several designs, each with the
same frames, scores trained methods on every one of them, and prints per design: the sequences,
each method's relative MPJPE and the width of its 95 % sequence-bootstrap interval, and for each
pair of methods the width of the paired interval of their difference:

    python scripts/split_power.py --checkpoints checkpoints --out /tmp/split-power \
        --designs 1x16 2x25 4x25 8x25 16x25 --methods ransac algebraic

A design ``KxS`` is K sequences per subject and action, frames S apart (50 fps); ``1x16`` is
the version-1 split. The table in docs/statistics.md comes from this script.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

PROTOCOL = "synth-h36m-relative@2"


def _design(text: str) -> tuple[int, int]:
    k, _, stride = text.partition("x")
    return int(k), int(stride)


def main() -> None:
    from poseboard.comparison.paired import paired_bootstrap
    from poseboard.comparison.results import sequence_table
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets
    from poseboard.harness.run import run_protocol

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (data and results per design)")
    parser.add_argument("--designs", nargs="+", default=["1x16", "2x25", "4x25", "8x25", "16x25"])
    parser.add_argument("--methods", nargs="+", default=["ransac"])
    parser.add_argument("--frames", type=int, default=1000, help="test frames of every design")
    parser.add_argument("--seed", type=int, default=0, help="the data seed (the pipeline's)")
    args = parser.parse_args()

    rows = []
    for design in args.designs:
        k, stride = _design(design)
        base = SynthConfig.preset("default")
        h36m = base.h36m.model_copy(update={"test": base.h36m.test.model_copy(
            update={"samples": args.frames, "stride": stride, "sequences_per_action": k})})
        config = base.model_copy(update={"h36m": h36m})
        data = args.out / design / "data"
        seconds = float("nan")
        if not (data / "synth-h36m" / "test" / "manifest.json").exists():
            start = time.perf_counter()
            generate_datasets(["synth-h36m"], config, data, seed=args.seed, splits=("test",), workers=None)
            seconds = time.perf_counter() - start
        results = {}
        for method in args.methods:
            result, _ = run_protocol(method, PROTOCOL, data_dir=data, checkpoints=args.checkpoints,
                                     results_dir=args.out / design / "results")
            results[method] = result
        first = next(iter(results.values()))
        sequences = len(first.metrics.main.per_sequence.sequences)
        line = {"design": design, "sequences": sequences, "frames/seq": args.frames / sequences,
                "render s": seconds}
        for method, r in results.items():
            lo, hi = r.metrics.main.ci95["mpjpe"]
            line[f"{method} mm"] = r.metrics.headline_value
            line[f"{method} CI width"] = hi - lo
            line[f"{method} ms/frame"] = r.speed.ms_per_sample
        for a, b in itertools.combinations(args.methods, 2):
            c = paired_bootstrap(sequence_table([results[a]]), sequence_table([results[b]]), n_resamples=10000)
            line[f"{a}−{b}"] = c.difference
            line[f"{a}−{b} paired width"] = c.ci95[1] - c.ci95[0]
        rows.append(line)
        print(" | ".join(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in line.items()),
              flush=True)
    keys = list(rows[0])
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for line in rows:
        print("| " + " | ".join(f"{line[k]:.1f}" if isinstance(line[k], float) else str(line[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
