"""``poseboard ladder``: a comparison of two methods at several training budgets
(:mod:`poseboard.workflows.ladder`).

A plain function with typer annotations, registered by the main CLI
(``app.command("ladder")(ladder)``); its body imports the module, so importing this one is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError, PoseboardError


def ladder(
    first: Annotated[str, typer.Argument(help="method A (a params.yaml key), e.g. volumetric")],
    second: Annotated[str, typer.Argument(help="method B it is compared with (A − B), e.g. algebraic")],
    factors: Annotated[list[float] | None, typer.Option(
        "--factor", help="a rung: this many times the board's training steps (repeatable; default 1, 2 and 4; "
                         "1 retrains at the board's budget on this machine, so every rung pairs)")] = None,
    protocols: Annotated[list[str] | None, typer.Option(
        "--protocol", help="protocol name both methods are scored under (repeatable; one summary each)")] = None,
    voxels: Annotated[int | None, typer.Option(
        "--voxels", min=2, help="volume_size (voxels per side) of every trained method with a volume, at every "
                                "rung; refused when none has one")] = None,
    seed: Annotated[list[int] | None, typer.Option(
        "--seed", help="training seeds of every rung (repeatable; default the pipeline's own; others go to "
                       "ladder-<k>x/seed-<s>/)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="write the rungs' params files and print the commands; train nothing")] = False,
    device: Annotated[str | None, typer.Option(
        "--device", help="passed to train and predict: auto, cpu, cuda or cuda:N (default: each resolves its "
                         "own: POSEBOARD_DEVICE, else the profile's `device`, else auto)")] = None,
    precision: Annotated[str | None, typer.Option(
        "--precision", help="passed to train and predict: fp32, bf16 or auto (default: the profile's "
                            "`train_precision` for training, then its `precision`)")] = None,
    params_file: Annotated[Path, typer.Option("--params", help="the pipeline's parameters file")] = Path("params.yaml"),
    data_dir: Annotated[Path, typer.Option("--data-dir", help="the pipeline's generated datasets")] = Path("data"),
    checkpoints: Annotated[Path, typer.Option(
        "--checkpoints", help="checkpoints root: the pipeline's backbone/ is copied from it, rungs go to "
                              "ladder-<k>x/")] = Path("checkpoints"),
    results: Annotated[Path, typer.Option(
        "--results", "-r", help="the ladder's results root: params-<k>x.yaml and ladder-<k>x/ (not inside the "
                                "pipeline's results/, which the leaderboard reads)")] = Path("ladder"),
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="bootstrap draws")] = 10000,
) -> None:
    """Train A and B (and what they start from) at k× the board's training steps for each
    --factor, on the pipeline's data and backbone (after `dvc repro`; the backbone's
    pre-training is not scaled), then print per rung the paired difference A − B with its 95 %
    interval and its change from the lowest rung: does the gap close, hold or grow with compute?
    Resumable: a step whose output exists is skipped."""
    from poseboard.workflows.ladder import format_ladder, ladder_steps, ladder_summary
    from poseboard.workflows.replicates import check_run_options, run_replicate

    if not protocols:
        raise InputError("give --protocol (e.g. synth-h36m-relative): the protocol both methods are compared under")
    device = check_run_options(device, precision, params_file, dry_run)
    rungs = ladder_steps(params_file, [first, second], factors or [1.0, 2.0, 4.0], protocols, data_dir, checkpoints,
                         results, seed, voxels, device, precision)
    backbone = checkpoints / "backbone" / "backbone.pt"
    typer.echo(f"ladder {first} − {second}: {len(rungs)} rungs; every rung copies the pipeline's backbone "
               f"({backbone}), whose pre-training is not scaled")
    for rung in rungs:
        changed = "; ".join(f"{c.method} {c.field} {c.board} → {c.rung}" for c in rung.changes) or "nothing"
        typer.echo(f"rung {rung.factor:g}×: {rung.params_file} ({changed}); {checkpoints / rung.folder}, "
                   f"{results / rung.folder}; {len(rung.steps)} steps")
        if dry_run:
            for step in rung.steps:
                typer.echo(f"  {step.name}: {step.command}")
    if dry_run:
        return
    if not backbone.exists() and any(not s.done_when.exists() for r in rungs for s in r.steps
                                     if s.name == "copy the pipeline's backbone"):
        raise PoseboardError(f"{backbone}: the pipeline's pre-trained backbone is missing; `dvc repro "
                             "pretrain_backbone` (or `dvc pull`) first")
    for rung in rungs:
        typer.echo(f"rung {rung.factor:g}×")
        code = run_replicate(list(rung.steps), echo=typer.echo)
        if code:
            raise typer.Exit(code=code)
    for protocol in protocols:
        summary = ladder_summary(results, (first, second), [r.factor for r in rungs], protocol, resamples)
        typer.echo("\n" + format_ladder(summary))
