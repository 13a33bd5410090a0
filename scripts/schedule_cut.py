"""What a shorter training schedule does to the in-distribution board, paired.

Compares two results folders scored under one protocol, the board's (``--full``) and a run
with shorter schedules (``--short``: the same data, backbone and seed, only ``train.steps``
changed), method by method: each method's paired change (short − full) with its 95 %
interval over sequences, the two orders and their Kendall's τ, and which of the pairs the
full board decides (paired bootstrap, Holm over all pairs, as the leaderboard) the short run
decides the other way, or no longer decides.

    python scripts/schedule_cut.py --full /work/board5/results --short /work/half/results \\
        --protocol synth-h36m-relative@2 ransac algebraic epipolar-baseline epipolar volumetric volumetric-norm
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("methods", nargs="+", help="the methods (result folders) to compare")
    parser.add_argument("--full", type=Path, required=True, help="the board's results folder")
    parser.add_argument("--short", type=Path, required=True, help="the shorter schedules' results folder")
    parser.add_argument("--protocol", required=True, help="name@version")
    args = parser.parse_args()

    from poseboard.comparison.rank_agreement import decided_pairs, kendall_tau, pair_flips
    from poseboard.comparison.results import compare_results, find_replicates, sequence_table

    full = {m: find_replicates(args.full, m, args.protocol) for m in args.methods}
    short = {m: find_replicates(args.short, m, args.protocol) for m in args.methods}
    head = {k: {m: r[0].metrics.headline_value for m, r in side.items()} for k, side in (("full", full),
                                                                                          ("short", short))}
    print(f"| {args.protocol} | full schedules | shorter | change (short − full), 95 % interval |")
    print("|---|---|---|---|")
    for m in sorted(args.methods, key=head["full"].get):
        c = compare_results(short[m], full[m])
        print(f"| {m} | {head['full'][m]:.1f} | {head['short'][m]:.1f} | {c.difference:+.1f} "
              f"[{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}] |")
    tau = kendall_tau(head["full"], head["short"])
    print(f"\norder, full: {' < '.join(sorted(args.methods, key=head['full'].get))}")
    print(f"order, short: {' < '.join(sorted(args.methods, key=head['short'].get))}")
    print(f"Kendall's tau {tau.tau:.2f} over {tau.num_methods} methods")
    tables_full = {m: sequence_table(r) for m, r in full.items()}
    tables_short = {m: sequence_table(r) for m, r in short.items()}
    decided, family = decided_pairs(tables_full)
    print(f"\nthe full board decides {len(decided)} of {family} pairs; on the shorter schedules:")
    for flip in pair_flips(decided, tables_short):
        d = flip.pair
        print(f"  {d.better} < {d.worse} ({d.comparison.difference:+.1f} mm): {flip.verdict}")


if __name__ == "__main__":
    main()
