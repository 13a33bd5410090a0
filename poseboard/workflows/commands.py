"""The commands of the orchestration modules (:mod:`poseboard.workflows`): ``poseboard method``,
``new-method``, ``misses``, ``compare`` and ``replicate`` (the studies' commands are in
:mod:`poseboard.studies.commands`).

Plain functions with typer annotations; the main CLI registers them
(``app.command("method")(method)`` …). Each body imports its module, so importing this one is
cheap (``poseboard --help`` imports neither torch nor mlflow).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError, PoseboardError
from poseboard.harness.commands import CheckpointsOpt, DataDirOpt, DeviceOpt, PrecisionOpt, ThreadsOpt
from poseboard.progress import wide_console


def method(
    name: Annotated[str, typer.Argument(help="its block in params.yaml (`poseboard new-method NAME` writes one)")],
    repo: Annotated[Path, typer.Option("--repo", help="repository root")] = Path("."),
) -> None:
    """Rank one method against the committed board without re-training the built-in ones: render
    the datasets it reads, check they are the board's task, `dvc repro` its own stages, rebuild
    the leaderboard with it (report/method/index.html) and print its verdicts."""
    from poseboard.workflows.method_run import run_method

    t0 = time.perf_counter()
    run = run_method(name, repo)
    typer.echo(run.verdict)
    typer.echo(f"\nstages run: {', '.join(run.ran) or 'none (all up to date)'}")
    typer.echo(f"leaderboard with {name}: {run.report}  (the committed board: report/index.html)")
    typer.echo("times: " + ", ".join(f"{k} {v:.0f} s" for k, v in run.seconds.items())
               + f"; total {time.perf_counter() - t0:.0f} s")


def new_method(
    name: Annotated[str, typer.Argument(help="registry name, lower-case (e.g. my-triangulator)")],
    task: Annotated[
        str, typer.Option("--task", help="multiview_pose (views → 3D joints) or root_localisation (an image and "
                                         "its person boxes → roots in camera mm, RootNet's setting)")
    ] = "multiview_pose",
    protocol: Annotated[
        str | None, typer.Option("--protocol", help="the protocol its first evaluation runs under (default: "
                                                    "synth-h36m-relative; synth-mupots-root for root_localisation)")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="human-readable title for the method card")] = None,
    init: Annotated[str, typer.Option("--init", help="what its training starts from: backbone (the pre-trained 2D "
                                                     "backbone) or none (nothing is pre-trained for it)")] = "backbone",
    root: Annotated[Path, typer.Option("--root", help="repository root")] = Path("."),
) -> None:
    """Write a working method skeleton, its test and its params.yaml block; then `dvc repro`."""
    from poseboard.workflows.scaffold import TASKS, scaffold_method

    if task not in TASKS:
        raise InputError(f"--task {task!r} is not one of {list(TASKS)}")
    rep = scaffold_method(name, root, protocol, title, task, init)  # type: ignore[arg-type]
    typer.echo(f"wrote {rep.module}\nwrote {rep.test}\nadded methods.{name} and evaluations.{rep.evaluation} "
               f"to {rep.params}\nregistered {name!r} in {rep.registry}\n"
               f"next: edit {rep.module}, run `pytest {rep.test}`, then `make method NAME={name}` "
               "(its stages only, ranked against the committed board)")


def misses(
    method: Annotated[str, typer.Argument(help="a trained method (CHECKPOINTS/METHOD, a variant's name too)")],
    protocol: Annotated[str, typer.Option("--protocol", help="a multi-view protocol, name or name@version")],
    data_dir: DataDirOpt = Path("data"),
    checkpoints: CheckpointsOpt = Path("checkpoints"),
    by: Annotated[str, typer.Option("--by", help="a column of the split's samples.csv to break down by, or "
                                                 "'none'")] = "action",
    out: Annotated[Path | None, typer.Option("--out", help="also write the table as JSON records here")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="samples per forward pass")] = 8,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
) -> None:
    """Where METHOD's gross 2D misses land on PROTOCOL's frames: per joint, the share missed
    (beyond a tenth of the crop side) and, of those, swapped onto the mirror joint, put on
    another joint (named: a hidden hand on its hip), or on none, and how many were hidden;
    per value of --by (the split's action by default)."""
    from rich.console import Console
    from rich.table import Table

    from poseboard.harness.commands import _threads, resolve_run
    from poseboard.io import atomic_write_text
    from poseboard.workflows.misses import load_trained, measure_misses

    on, prec = resolve_run(device, precision)
    _threads(threads, on)
    table = measure_misses(load_trained(method, checkpoints), protocol, data_dir=data_dir,
                           by=None if by == "none" else by, batch_size=batch_size, device=on, precision=prec)
    key = by if by != "none" else "frames"
    console = Console(width=160)
    for value, part in table.groupby(key, sort=False):
        shown = Table(title=f"{method} on {protocol}: {key} = {value}", title_justify="left")
        for column in ("joint", "views", "missed %", "swapped %", "other joint %", "nowhere %", "hidden %",
                       "most landed on"):
            shown.add_column(column, justify="left" if column in ("joint", "most landed on") else "right")
        for r in part.itertuples():
            shown.add_row(r.joint, str(r.views), f"{r.miss_pct:.1f}", f"{r.swapped_pct:.0f}",
                          f"{r.other_joint_pct:.0f}", f"{r.nowhere_pct:.0f}", f"{r.hidden_pct:.0f}", r.top_landing)
        console.print(shown)
    if out is not None:
        atomic_write_text(out, json.dumps({"method": method, "protocol": protocol, "by": key,
                                           "rows": table.to_dict(orient="records")}, indent=1) + "\n")
        typer.echo(f"→ {out}")


def compare(
    results: Annotated[Path, typer.Argument(help="the results folder to check")] = Path("results"),
    against: Annotated[str, typer.Option(
        "--against", help="git ref whose committed results are the reference")] = "HEAD",
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="a results folder to compare with instead of a git ref")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="fail unless every file is byte-identical")] = False,
) -> None:
    """Compare RESULTS with the committed leaderboard (or --reference): per result file, the
    headline metric, its change, whether it was scored on the same task and the same image
    bytes (task and image hashes: another CPU may render a few pixels apart), and whether it is
    byte-identical, inside the reference's 95 % interval or outside it. Exits 1 on a change
    outside the interval (any change with --strict), another task, or a result missing on
    either side."""
    import tempfile

    from rich.table import Table

    from poseboard.workflows.compare import committed_results, compare_results

    with tempfile.TemporaryDirectory() as tmp:
        ref_dir = reference if reference is not None else committed_results(results, against, tmp)
        report = compare_results(results, ref_dir)
    label = str(reference) if reference is not None else f"{against}:{results.as_posix()}"
    table = Table(title=f"{results} against {label}")
    for col in ("result", "metric", "reference", "ours", "change", "reference 95% CI", "task", "images", "verdict"):
        table.add_column(col, justify="right" if col in ("reference", "ours", "change") else "left")
    for r in report.rows:
        ci = f"[{r.ci95[0]:.1f}, {r.ci95[1]:.1f}]" if r.ci95 else "-"
        table.add_row(r.path, r.metric, f"{r.reference:.2f}", f"{r.ours:.2f}", f"{r.delta:+.2f}", ci,
                      _same(r.same_task), _same(r.same_images), r.verdict)
    wide_console().print(table)
    for name, missing in (("only in the results checked", report.only_ours),
                          ("only in the reference", report.only_reference)):
        if missing:
            typer.echo(f"{name}: {', '.join(missing)}")
    counts = {v: report.count(v) for v in ("identical", "inside CI", "outside CI", "no interval", "other task")}
    typer.echo(f"{len(report.rows)} results: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    bad = counts["outside CI"] or counts["other task"] or report.only_ours or report.only_reference
    if bad or (strict and counts["identical"] < len(report.rows)):
        raise typer.Exit(code=1)


def _same(flag: bool | None) -> str:
    return {True: "same", False: "other", None: "unknown"}[flag]


def replicate(
    seed: Annotated[int | None, typer.Option("--seed", help="the training seed of this replicate")] = None,
    params_file: Annotated[Path, typer.Option("--params", help="the parameters file")] = Path("params.yaml"),
    data_dir: Annotated[Path, typer.Option("--data-dir", help="the pipeline's generated datasets")] = Path("data"),
    checkpoints: Annotated[Path, typer.Option("--checkpoints", help="checkpoints root")] = Path("checkpoints"),
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands, run nothing")] = False,
    reuse_backbone: Annotated[bool, typer.Option(
        "--reuse-backbone", help="copy the pipeline's pre-trained backbone instead of training it again (the "
                                 "methods' own training noise only: cheaper, a lower bound)")] = False,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="replicate only these methods (params.yaml keys; the ones they start from come along)")] = None,
    protocols: Annotated[list[str] | None, typer.Option(
        "--protocol", help="score only under these protocols (names; repeatable)")] = None,
    device: Annotated[str | None, typer.Option(
        "--device", help="passed to pretrain, train and predict: auto, cpu, cuda or cuda:N (default: each resolves "
                         "its own: POSEBOARD_DEVICE, else the profile's `device`, else auto)")] = None,
    precision: Annotated[str | None, typer.Option(
        "--precision",
        help="passed to pretrain, train and predict: fp32, bf16 or auto (default: each resolves its own, as "
             "its DVC stage does: the backbone block's or the profile's `train_precision` first, then the "
             "profile's `precision`)")] = None,
) -> None:
    """Train and score every method again with another training seed, on the pipeline's data
    (after `dvc repro`): checkpoints/seed-K/, results/seed-K/. Without --seed, every seed of the
    active profile's `seeds` list after the first. The leaderboard then averages each method over
    its seeds and resamples seeds with sequences in its paired comparisons."""
    from poseboard.params import load_params
    from poseboard.workflows.replicates import check_run_options, replicate_steps, run_replicate, unseeded_methods

    device = check_run_options(device, precision, params_file, dry_run)
    params = load_params(params_file)
    seeds = [seed] if seed is not None else params.active.seeds[1:]
    if not seeds:
        raise PoseboardError(f"{params_file}: the active profile lists one seed; give --seed K or add seeds "
                             "to its `seeds` list")
    plans = [(s, replicate_steps(params_file, s, data_dir, checkpoints, results, reuse_backbone, only,
                                 protocols, device=device, precision=precision))
             for s in seeds]
    unseeded = [] if only else unseeded_methods(params_file, params)
    if unseeded:
        typer.echo(f"left out: {', '.join(unseeded)} (no training seed: a replicate would repeat seed "
                   f"{params.seed}'s results)")
    for s, steps in plans:
        typer.echo(f"replicate seed {s}: {len(steps)} steps")
        if dry_run:
            for step in steps:
                typer.echo(f"{step.name}: {step.command}")
            continue
        code = run_replicate(steps, echo=typer.echo)
        if code:
            raise typer.Exit(code=code)
