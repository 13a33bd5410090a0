"""What one of issue 38's levers buys, paired: a retrained arm against the board, split by split.

An arm is some of the board's methods trained again on another training world (a data preset
such as ``coverage``, ``frames`` or ``broad``) and scored on the board's own test splits, the same
frames (``predict --data-dir`` of the board's data). Per method and split (in distribution, then
the held-out splits of the generalization table): the board's headline, the arm's, their paired
difference (arm − board) with its 95 % interval over sequences and its p-value (the
leaderboard's paired bootstrap, poseboard.comparison), and each side's growth from the
in-distribution headline to that split's (%).

    python scripts/lever_arm.py --board results --arm /work/arm_broad/results-arm ransac algebraic

A side with training-seed replicates (``results/seed-<k>/``, as the committed board has) enters as
its seed mean, and the test adds the seeds' variance of that mean (Student's t,
poseboard.comparison.paired.seed_mean_noise). A single-run side against a seed mean adds its own
seed noise too: one run's variance, estimated by the other side's seeds (the same method trained
again; ``test`` "paired + seed noise"). Two single runs are tested on the sequences alone, so the
interval says nothing about training noise, unless ``--seed-noise FOLDER`` names a results folder
with seed replicates (the committed board): each run then carries one run's variance estimated
by that folder's seeds of the same method and protocol, twice in all (two independent runs).

    python scripts/lever_arm.py --board ARM_A/results --arm ARM_B/results --seed-noise results \
        volumetric volumetric-norm

With three or more methods it also prints, per split, Kendall's τ between the board's order
and the arm's; with two, τ is ±1 and says only whether the one pair swapped, so it is left out.

Both sides must be scored on the same frames, so each split is compared under the version of its
protocol the generalization table names when both folders hold it, else under the newest version
both hold (an arm scored on an older board's splits: ``synth-novel-rig@2`` before issue 38's wide
layouts); a held-out split neither version of which both hold is left out and named.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArmRow:
    """One (method, split): headlines (mm), arm − board with its interval, growths (%, None in distribution)."""

    method: str
    split: str
    protocol: str
    board: float
    arm: float
    difference: float
    ci95: tuple[float, float]
    p_value: float
    growth_board: float | None
    growth_arm: float | None
    #: How the difference was tested: "paired" (sequences only) or "paired + seed noise".
    test: str = "paired"
    #: Training seeds averaged on each side (board, arm).
    seeds: tuple[int, int] = (1, 1)


def shared_protocol(board: list, arm: list, method: str, pid: str) -> str | None:
    """``pid`` (``name@version``) when both result lists hold ``method`` under it, else the newest
    version of that protocol both hold, else None."""
    name = pid.partition("@")[0]

    def versions(results: list) -> set[str]:
        return {r.protocol.id for r in results if r.method.name == method and r.protocol.name == name}

    both = versions(board) & versions(arm)
    if pid in both:
        return pid
    return max(both, key=lambda p: int(p.partition("@")[2]), default=None)


def arm_rows(board: Path, arm: Path, methods: list[str], n_resamples: int = 10000,
             seed_noise: Path | None = None) -> tuple[list[ArmRow], list[str]]:
    """The paired comparison of ``arm`` against ``board`` for every method and split, in the
    generalization table's order (poseboard.report.generalization), and the ``method: split``
    pairs left out because the two folders share no version of a held-out split's protocol. A
    missing in-distribution result is an error naming the folder, the method and the protocol
    (find_replicates). ``seed_noise``: a results folder with seed replicates whose seeds give the
    training noise of two single runs (:func:`two_run_noise`)."""
    from poseboard.comparison.results import compare_results, find_replicates
    from poseboard.protocols.results import read_results
    from poseboard.report.generalization import IN_DISTRIBUTION, NOVEL_SPLITS

    board_results, arm_results = read_results(board), read_results(arm)
    noise_results = read_results(seed_noise) if seed_noise is not None else None
    rows: list[ArmRow] = []
    left_out: list[str] = []
    for method in methods:
        base: tuple[float, float] | None = None
        for label, wanted in {"in distribution": IN_DISTRIBUTION, **NOVEL_SPLITS}.items():
            pid = shared_protocol(board_results, arm_results, method, wanted)
            if pid is None and base is not None:
                left_out.append(f"{method}: {label} (`{wanted}`)")
                continue
            pid = pid or wanted  # in distribution: find_replicates names what is missing
            ours = find_replicates(arm, method, pid, results=arm_results)
            theirs = find_replicates(board, method, pid, results=board_results)
            c = single_run_noise(compare_results(ours, theirs, n_resamples=n_resamples), ours, theirs)
            if seed_noise is not None and len(ours) == len(theirs) == 1:
                c = two_run_noise(c, find_replicates(seed_noise, method, pid, results=noise_results))
            b, a = (sum(r.metrics.headline_value for r in side) / len(side) for side in (theirs, ours))
            if base is None:
                base = (b, a)
                growth: tuple[float | None, float | None] = (None, None)
            else:
                growth = (100.0 * (b / base[0] - 1.0), 100.0 * (a / base[1] - 1.0))
            rows.append(ArmRow(method, label, pid, b, a, c.difference, c.ci95, c.p_value, *growth, test=c.test,
                               seeds=(len(theirs), len(ours))))
    return rows, left_out


def single_run_noise(c, ours: list, theirs: list):
    """``c`` with a single run's seed variance added where one side is one run and the other a
    mean over K >= 2 seeds: the sample variance of those seeds' headlines, K − 1 degrees of
    freedom (the single run's own training noise, which the seed mean's variance leaves out). Both
    variances come from the same seeds, so their sum keeps those K − 1 degrees of freedom."""
    from poseboard.comparison.paired import single_run_variance

    single, many = (ours, theirs) if len(ours) == 1 else (theirs, ours)
    if len(single) != 1 or len(many) < 2:
        return c
    noise = single_run_variance([r.metrics.headline_value for r in many])
    return c.with_seed_variance(noise, shared=True)  # the mean's s²/K comes from the same seeds


def two_run_noise(c, seeds: list):
    """``c``, a difference of two single runs, with both runs' training noise added: twice one
    run's seed variance, estimated by ``seeds`` (the same method and protocol trained with K >= 2
    seeds, another folder's replicates, as find_replicates returns them: never empty) at K − 1
    degrees of freedom. One seed is an error naming what is missing: without a second the
    training noise cannot be estimated."""
    from poseboard.comparison.paired import SeedNoise, single_run_variance
    from poseboard.errors import InputError

    if len(seeds) < 2:
        raise InputError(f"--seed-noise: one seed of {seeds[0].method.name} under {seeds[0].protocol.id}; the "
                         "training noise needs two or more (results/seed-<k>/ replicates, `poseboard replicate`)")
    one = single_run_variance([r.metrics.headline_value for r in seeds])
    return c.with_seed_variance(SeedNoise(2.0 * one.variance, one.df))


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:+.0f} %"


def markdown(rows: list[ArmRow]) -> str:
    """The rows as a Markdown table (mm to 0.1, growth to whole per cent)."""
    lines = ["| method | split | board (mm) | arm (mm) | arm − board, 95 % interval | p | test | growth, board | "
             "growth, arm |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        seeds = "" if r.seeds == (1, 1) else f" ({r.seeds[0]} vs {r.seeds[1]} seeds)"
        lines.append(f"| {r.method} | {r.split} (`{r.protocol}`) | {r.board:.1f} | {r.arm:.1f} | {r.difference:+.1f} "
                     f"[{r.ci95[0]:+.1f}, {r.ci95[1]:+.1f}] | {r.p_value:.4f} | {r.test}{seeds} | "
                     f"{_pct(r.growth_board)} | {_pct(r.growth_arm)} |")
    return "\n".join(lines)


def training_noise_note(rows: list[ArmRow]) -> str | None:
    """A warning when some rows compare two single runs on the sequences alone (no seed noise):
    their intervals cover the test frames, not training, and a change of rounding alone moved a
    volumetric run by 0.4–6.3 mm, "decided" on five splits (docs/findings.md, session 19)."""
    bare = sum(r.seeds == (1, 1) and r.test == "paired" for r in rows)
    if not bare:
        return None
    return (f"\nWarning: {bare} row(s) compare two single runs on the sequences alone: the interval covers "
            "the test frames, not training. A change of rounding alone moved a volumetric run by 0.4-6.3 mm, "
            "'decided' on five of six splits (docs/findings.md, session 19); pass --seed-noise FOLDER to add "
            "two runs' training noise.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("methods", nargs="+", help="the methods (result folders) to compare")
    parser.add_argument("--board", type=Path, required=True, help="the board's results folder")
    parser.add_argument("--arm", type=Path, required=True, help="the retrained arm's results folder")
    parser.add_argument("--resamples", type=int, default=10000, help="bootstrap draws (default 10000)")
    parser.add_argument("--seed-noise", type=Path, default=None,
                        help="a results folder with seed replicates: its seeds' variance is the training noise of "
                             "two single runs (twice one run's)")
    args = parser.parse_args()

    from poseboard.comparison.rank_agreement import kendall_tau
    from poseboard.errors import PoseboardError

    try:
        rows, left_out = arm_rows(args.board, args.arm, args.methods, args.resamples, args.seed_noise)
    except PoseboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(markdown(rows))
    note = training_noise_note(rows)
    if note:
        print(note)
    if left_out:
        print("\nLeft out (no version of the protocol scored in both folders): " + "; ".join(left_out))
    if len(args.methods) < 3:
        print(f"\n{len(args.methods)} method(s): Kendall's tau between the orders is not meaningful (one pair at most)")
        return
    for split in dict.fromkeys(r.split for r in rows):
        tau = kendall_tau({r.method: r.board for r in rows if r.split == split},
                          {r.method: r.arm for r in rows if r.split == split})
        print(f"{split}: Kendall's tau, board's order vs the arm's, {tau.tau:.2f} over {tau.num_methods} methods")


if __name__ == "__main__":
    main()
