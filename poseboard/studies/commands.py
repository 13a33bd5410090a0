"""The studies' commands (:mod:`poseboard.studies`): ``poseboard paper-conditions`` (a paper's
claim under its paper's conditions), ``epipolar-attention`` (the trained epipolar transformer on
occluded joints) and ``ladder`` (two methods at several training budgets).

Plain functions with typer annotations, registered by the main CLI
(``app.command("ladder")(ladder)`` …); each body imports its module, so importing this one is
cheap (``poseboard --help`` imports neither torch nor mlflow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError, PoseboardError
from poseboard.harness.commands import CheckpointsOpt, DataDirOpt, DeviceOpt, PrecisionOpt, ThreadsOpt


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
    from poseboard.studies.ladder import format_ladder, ladder_steps, ladder_summary
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


def epipolar_attention(
    transformer: Annotated[str, typer.Argument(help="a trained epipolar transformer (CHECKPOINTS/NAME)")] = "epipolar",
    baseline: Annotated[str, typer.Argument(help="its baseline without the transformer")] = "epipolar-baseline",
    protocol: Annotated[str, typer.Option("--protocol", help="a multi-view protocol, name or name@version")
                        ] = "synth-h36m-relative@3",
    data_dir: DataDirOpt = Path("data"),
    checkpoints: CheckpointsOpt = Path("checkpoints"),
    frames: Annotated[int | None, typer.Option("--frames", min=1, help="only the protocol's first N frames")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="also write the per-sequence rows as CSV here")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="samples per forward pass")] = 8,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
) -> None:
    """The trained epipolar transformer on occluded joints (issue 69): on PROTOCOL's frames, what
    each network's own heatmap keeps of a joint hidden in a view (against a visible one: the
    ideal-feature study's "kept"), whether the attention's strongest sample on the epipolar line
    lies within a cell of the joint next door (visible joints, and the paper's case: hidden here,
    seen there; against chance), and both methods' errors on all joints and on the paper's case,
    paired over sequences."""
    from poseboard.harness.commands import _threads, resolve_run
    from poseboard.io import atomic_write_text
    from poseboard.studies.epipolar_trained import format_summary, measure, summarise
    from poseboard.workflows.misses import load_trained

    on, prec = resolve_run(device, precision)
    _threads(threads, on)
    table = measure(load_trained(transformer, checkpoints), load_trained(baseline, checkpoints), protocol,
                    data_dir=data_dir, batch_size=batch_size, frames=frames, device=on, precision=prec)
    if out is not None:
        atomic_write_text(out, table.to_csv(index=False))
    typer.echo(f"{transformer} against {baseline} ({checkpoints}) on {protocol}: {int(table['frames'].sum())} frames; "
               f"{table['hidden_share'].mean():.0%} of in-crop joints hidden in their view, "
               f"{table['paper_case_share'].mean():.0%} of joints in the paper's case")
    typer.echo(format_summary(summarise(table), len(table)))
    if out is not None:
        typer.echo(f"→ {out}")


def paper_conditions(
    claim: Annotated[str, typer.Option(
        "--claim", help="probabilistic (uncalibrated ≈ calibrated), volumetric (volumetric < algebraic: the read-out "
                        "at the board's and the paper's voxel size) or epipolar (the transformer < triangulation "
                        "in the occlusion regime)")] = "probabilistic",
    noise: Annotated[list[float] | None, typer.Option(
        "--noise", min=0.0, help="probabilistic: 2D noise, full-image pixels per coordinate (repeatable; default 2 "
                                 "and 5)")] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="noise and sampling seeds 0 … N-1")] = 3,
    out: Annotated[Path | None, typer.Option(
        "--out", help="write every (setting, seed, sequence, arm) row as CSV")] = None,
    scale: Annotated[str, typer.Option(
        "--scale", help="probabilistic: the uncalibrated arms' metric scale: prior (fitted to the training "
                        "subjects' mean bones, as the method), subject (to the test subject's own: an oracle) or "
                        "baseline (the test rig's true view-0 → view-1 baseline: the paper's own units)")
    ] = "prior",
) -> None:
    """A paper's claim under its paper's conditions (issue 69), on the board's in-distribution
    test sequences with the detector replaced by 2D evidence of known error, every arm on the
    same evidence (paired over sequences), per seed. probabilistic: ground-truth 2D joints plus
    noise, triangulated with the true cameras and by the uncalibrated method as the board runs
    it, with the reference code's temperature, with the training rig as its prior (Human3.6M's
    condition) and per sequence. volumetric: heatmaps with the board's measured 2D error (and its
    left/right swaps) read out by the DLT and by the volumetric operators at the board's, finer
    and the paper's voxel sizes. epipolar: per-joint features with self-occlusions, triangulated
    alone and after the epipolar transformer's fusion with the nearest view."""
    from poseboard.io import atomic_write_text

    if claim not in ("probabilistic", "volumetric", "epipolar"):
        raise InputError(f"--claim {claim!r}: probabilistic, volumetric or epipolar")
    if claim != "probabilistic":
        if noise or scale != "prior":
            raise InputError(f"--noise and --scale belong to --claim probabilistic, not {claim}")
        if claim == "volumetric":
            from poseboard.studies import volumetric_conditions as study
        else:
            from poseboard.studies import epipolar_conditions as study  # type: ignore[no-redef]
        table = study.run_study(seeds=tuple(range(seeds)), progress=True)
        if out is not None:
            atomic_write_text(out, table.to_csv(index=False))
        typer.echo(study.format_summary(study.summarise(table)))
        return
    import numpy as np

    from poseboard.studies.paper_conditions import SCALES, run_study, summarise

    if scale not in SCALES:
        raise InputError(f"--scale {scale!r}: {', '.join(SCALES)}")
    table = run_study(tuple(noise or (2.0, 5.0)), tuple(range(seeds)), scale=scale)  # type: ignore[arg-type]
    if out is not None:
        atomic_write_text(out, table.to_csv(index=False))
    summary = summarise(table)
    typer.echo("root-relative MPJPE (mm) over the 18 sequences of the in-distribution test; ratio to calibrated, "
               f"95 % paired bootstrap interval over sequences; uncalibrated scale from "
               f"{'the true baseline' if scale == 'baseline' else f'the {scale} bones'}")
    for (noise_px, arm), part in summary.groupby(["noise_px", "arm"], sort=False):
        cells = "; ".join(f"seed {int(r.seed)}: {r.mpjpe:.1f} mm, {r.ratio:.2f}× "
                          f"[{r.ratio_low:.2f}, {r.ratio_high:.2f}]"
                          + ("" if np.isnan(r.rotation_deg) else
                             f", cameras {r.rotation_deg:.2f}° / {r.translation_mm:.0f} mm off")
                          for r in part.itertuples())
        typer.echo(f"noise {noise_px:g} px  {arm:<24} {cells}")
