"""``poseboard compare-methods`` and ``poseboard seed-spread``: paired comparisons and the
training-seed noise floor on the command line.

Plain functions with typer annotations; the main CLI registers them
(``app.command("compare-methods")(compare_methods)`` …). The statistics are imported inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError, PoseboardError


def compare_methods(
    first: Annotated[str, typer.Argument(help="a method filed under RESULTS, or the path of a result file")],
    second: Annotated[str, typer.Argument(help="the method (or result file) it is compared with")],
    protocol: Annotated[str, typer.Option("--protocol", help="protocol name (newest version) or name@version")],
    results: Annotated[
        Path, typer.Option("--results", "-r", help="results folder (seed replicates under seed-<k>/)")
    ] = Path("results"),
    point: Annotated[str | None, typer.Option(
        "--point", help="a sweep point instead of the headline: a number of cameras, or a calibration level")] = None,
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="bootstrap draws")] = 10000,
    level: Annotated[float, typer.Option("--level", min=0.0001, max=0.5, help="two-sided significance level")] = 0.05,
) -> None:
    """Paired comparison of two methods scored on the same test frames: the difference of their
    headlines (FIRST − SECOND), its bootstrap interval resampling the same sequences for both
    (and each method's training seeds where it has several) and a p-value. Results scored on
    different sample sets or data are refused. Exits 0 whatever the verdict."""
    from poseboard.comparison.paired import detectable_difference
    from poseboard.comparison.results import compare_results, find_replicates, same_images

    a = find_replicates(results, first, protocol)
    b = find_replicates(results, second, protocol)
    c = compare_results(a, b, point=point, n_resamples=resamples, seed=a[0].protocol.bootstrap_seed)
    m = a[0].metrics
    unit = m.units.get(m.headline, "")
    where = f"{a[0].protocol.id}" + (f" at {point}" if point else "")
    verdict = "significant" if c.p_value < level else "not significant"
    typer.echo(f"{where}, {m.headline} ({m.weighting}-weighted), {c.num_sequences} sequences, "
               f"seeds {c.seeds[0]} vs {c.seeds[1]}, {c.resamples} paired bootstrap draws")
    typer.echo(f"{a[0].method.name} − {b[0].method.name} = {c.difference:+.2f} {unit}, "
               f"{c.confidence:.0%} CI [{c.ci95[0]:+.2f}, {c.ci95[1]:+.2f}], p = {c.p_value:.4g}: {verdict} "
               f"at α = {level:g}")
    typer.echo(f"smallest difference detectable at 80% power: {detectable_difference(c.se, level):.2f} {unit}")
    if same_images(a[0], b[0]) is False:
        typer.echo("note: the same task (frames, ground truth, cameras) rendered with other image bytes (another "
                   "CPU's kernels); `poseboard data diff` measures how many pixels differ")


def seed_spread(
    replicates: Annotated[list[Path] | None, typer.Argument(
        help="folders of replicate results (replicate --results); those under --results are read with it")] = None,
    results: Annotated[
        Path, typer.Option("--results", "-r", help="the pipeline's results (its own seed)")
    ] = Path("results"),
    backbone: Annotated[str, typer.Option(
        "--backbone", help="'shared' if the replicates reused the pipeline's backbone (--reuse-backbone), "
                           "else 'retrained'")] = "retrained",
    note: Annotated[str, typer.Option("--note", help="how and where it was measured")] = "",
    profile: Annotated[str, typer.Option("--profile", help="the profile the replicates ran")] = "default",
    out: Annotated[Path | None, typer.Option("--out", help="default: RESULTS/seed_spread.json")] = None,
    keep: Annotated[Path | None, typer.Option(
        "--keep", help="an earlier seed_spread.json: its protocols these replicates do not measure are kept "
                       "(replicates of some methods or protocols only); the note says which")] = None,
    carry: Annotated[Path | None, typer.Option(
        "--carry-over", help="an earlier board's seed_spread.json, re-keyed to today's protocol versions and "
                             "written as this board's floor until its replicates run (no replicates read); "
                             "--note says why")] = None,
) -> None:
    """Measure each method's training-seed spread from replicates and write the noise floor
    the leaderboard adds to single-run comparisons (results/seed_spread.json)."""
    from poseboard.comparison.seed_spread import (
        SEED_SPREAD_FILE,
        carry_over,
        keep_unmeasured,
        measure_seed_spread,
        read_seed_spread,
        write_seed_spread,
    )
    from poseboard.protocols.results import read_results

    if backbone not in ("shared", "retrained"):
        raise InputError(f"--backbone: 'shared' or 'retrained', got {backbone!r}")
    if carry is not None:
        if replicates or keep is not None:
            raise InputError("--carry-over reads no replicates: give it alone (with --note), or measure instead")
        from poseboard.protocols.registry import all_protocols

        earlier_board = read_seed_spread(carry)
        if earlier_board is None:
            raise PoseboardError(f"--carry-over: {carry} does not exist (give the earlier board's seed_spread.json)")
        versions: dict[str, int] = {}
        for proto in all_protocols().values():
            versions[proto.name] = max(versions.get(proto.name, 0), proto.version)
        carried = carry_over(earlier_board, versions, note)
        path = write_seed_spread(carried, out or results / SEED_SPREAD_FILE)
        for now, old in sorted(carried.carried_over.items()):
            typer.echo(f"{old} → {now}: {len(carried.spread[now])} methods")
        typer.echo(f"wrote {path}")
        return
    if not replicates:
        raise InputError("give the replicates' result folders (or --carry-over an earlier board's spread)")
    earlier = None
    if keep is not None:
        earlier = read_seed_spread(keep)
        if earlier is None:
            raise PoseboardError(f"--keep: {keep} does not exist (give an earlier seed_spread.json, or leave "
                                 "--keep out)")
    # the pipeline's folder is read recursively: replicates under it (results/seed-K, where
    # `poseboard replicate` writes them) are read once, not again as a named folder
    inside = results.resolve()
    apart = [f for f in replicates if not f.resolve().is_relative_to(inside)]
    found = [r for folder in [results, *apart] for r in read_results(folder)]
    spread = measure_seed_spread(found, backbone, profile, note)  # type: ignore[arg-type]
    if earlier is not None:
        spread = keep_unmeasured(spread, earlier)
    path = write_seed_spread(spread, out or results / SEED_SPREAD_FILE)
    for pid, methods in spread.spread.items():
        for method, m in methods.items():
            typer.echo(f"{pid}  {method}: " + ", ".join(f"{v:.1f}" for v in m.values) + f" (seeds {m.seeds}) "
                       f"→ SD {m.sd:.2f}")
    typer.echo(f"wrote {path}")
