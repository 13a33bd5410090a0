"""The ``poseboard`` command line (typer). Heavy imports (torch, mlflow) happen inside
commands, so ``poseboard --help`` starts in well under a second."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import PoseboardError

app = typer.Typer(
    name="poseboard",
    help="A reproducible benchmark suite and leaderboard for 3D human pose estimation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console():
    """A rich console at least 140 columns wide, so tables stay readable in logs and pipes."""
    import shutil

    from rich.console import Console

    return Console(width=max(shutil.get_terminal_size((140, 24)).columns, 140))


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


@app.command("methods")
def methods_command(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="import each method and show its capabilities")
    ] = False,
) -> None:
    """List the registered methods (built-in and from the ``poseboard.methods`` entry points)."""
    from rich.table import Table

    from poseboard.methods.registry import REGISTRY

    table = Table(title="methods")
    table.add_column("name")
    table.add_column("implementation")
    if verbose:
        table.add_column("paper")
        table.add_column("capabilities")
    names = REGISTRY.names()
    for name in names:
        row = [name, REGISTRY.target(name)]
        if verbose:
            try:
                cls = REGISTRY.get(name)
                caps = cls.capabilities
                row += [
                    cls.card.paper or "-",
                    f"views {caps.min_views}..{caps.max_views or 'N'}, "
                    f"{'calibrated' if caps.needs_extrinsics else 'uncalibrated'}, out: {caps.output_frame}",
                ]
            except PoseboardError as exc:
                row += ["-", f"[red]{exc}[/red]"]
        table.add_row(*row)
    _console().print(table)
    if not names:
        typer.echo("no methods registered yet")


@app.command("protocols")
def protocols_command(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show each protocol's description")] = False,
) -> None:
    """List the evaluation protocols (``name@version``), their dataset, cameras and metrics."""
    from rich.table import Table

    from poseboard.protocols.registry import all_protocols

    try:
        protocols = all_protocols()
    except PoseboardError as exc:
        raise _fail(exc) from None
    table = Table(title="protocols")
    for col in ("protocol", "task", "dataset", "cameras", "metrics", "headline"):
        table.add_column(col)
    for key, p in sorted(protocols.items()):
        if p.camera_sweep is not None:
            cams = "sweep " + ",".join(map(str, p.camera_sweep.sizes))
        else:
            cams = "all" if p.cameras is None else ",".join(map(str, p.cameras))
        headline = f"{p.headline} ({p.alignment}, {p.weighting}-weighted)"
        table.add_row(key, p.task, f"{p.dataset}/{p.split}", cams, ", ".join(p.metrics), headline)
        if verbose:
            table.add_row("", f"[dim]{p.description}[/dim]", "", "", "", "")
    _console().print(table)


@app.command("evaluate")
def evaluate_command(
    predictions: Annotated[
        Path, typer.Option("--predictions", "-p", help="predictions .npz (format: poseboard.protocols.predictions)")
    ],
    protocol: Annotated[str, typer.Option("--protocol", help="protocol name or name@version")],
    method: Annotated[str, typer.Option("--method", "-m", help="name to file the result under")] = "external",
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder holding the datasets")] = Path("data"),
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="dataset split folder (default: DATA_DIR/DATASET/SPLIT)")
    ] = None,
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
    former_out: Annotated[
        Path | None, typer.Option("--out", "-o", hidden=True, help="the former spelling of --results")
    ] = None,
) -> None:
    """Score a predictions file against a protocol and write the result JSON.

    The file is validated first (shapes, sample ids, finiteness, millimetres); the result
    lands in ``RESULTS/METHOD/PROTOCOL@VERSION.json``. METHOD is 1 to 64 characters of a-z,
    0-9, '.', '_' and '-', starting with a letter or a digit.
    """
    from poseboard.protocols.evaluate import evaluate_predictions_file

    try:
        result, path = evaluate_predictions_file(
            predictions, protocol, method=method, data_dir=data_dir, ground_truth=ground_truth,
            results_dir=_results_folder(results, former_out),
        )
    except PoseboardError as exc:
        raise _fail(exc) from None
    m = result.metrics
    unit = m.units.get(m.headline, "")
    typer.echo(f"{result.protocol.id}  {method}: {m.headline} = {m.headline_value:.2f} {unit} "
               f"over {m.main.num_frames} frames")
    typer.echo(f"wrote {path}")


def _results_folder(results: Path, former_out: Path | None) -> Path:
    """``--results``, or the hidden former spelling ``--out`` when only it was given."""
    if former_out is not None and results != Path("results") and former_out != results:
        raise _fail(ValueError(f"--results {results} and --out {former_out} (its former spelling) disagree"))
    return former_out if former_out is not None else results


@app.command("submit")
def submit_command(
    predictions: Annotated[
        Path, typer.Argument(help="predictions .npz (format: poseboard.protocols.predictions)")
    ],
    protocol: Annotated[str, typer.Option("--protocol", help="protocol name or name@version")],
    method: Annotated[str, typer.Option("--method", "-m", help="your method's name (a new one, not a registered "
                                                                "method)")],
    card: Annotated[Path, typer.Option("--card", help="method card YAML: title, paper, code_url, trained_on "
                                                      "(docs/submitting.md)")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder holding the datasets")] = Path("data"),
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="dataset split folder (default: DATA_DIR/DATASET/SPLIT)")
    ] = None,
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
) -> None:
    """Submit a result from outside: validate PREDICTIONS and the method card, score them as
    ``evaluate`` does, and write one self-contained result file carrying the card, shown on
    the leaderboard with a "submitted" badge."""
    from poseboard.methods.registry import REGISTRY
    from poseboard.protocols.evaluate import submit_predictions_file

    try:
        match = _board_match(protocol, data_dir, ground_truth, results)
        if match is not None:
            typer.echo(match.sentence())
        result, path = submit_predictions_file(
            predictions, protocol, method=method, card=card, data_dir=data_dir, ground_truth=ground_truth,
            results_dir=results, reserved=REGISTRY.names(),
        )
    except PoseboardError as exc:
        raise _fail(exc) from None
    m = result.metrics
    typer.echo(f"{result.protocol.id}  {method} (submitted): {m.headline} = {m.headline_value:.2f} "
               f"{m.units.get(m.headline, '')} over {m.main.num_frames} frames")
    typer.echo(f"wrote {path}")


def _board_match(protocol: str, data_dir: Path, ground_truth: Path | None, results: Path):  # -> SplitMatch | None
    """The split a protocol will be scored on, held against the task records of the committed
    leaderboard (``results/tasks.json`` at ``HEAD``, else the working tree's); None when the
    split is not a generated one or nothing is recorded."""
    from poseboard.datasets.identity import TASKS_FILE, match_split, read_task_records
    from poseboard.datasets.identity_commands import committed_records
    from poseboard.protocols.registry import get_protocol

    definition = get_protocol(protocol)
    split = ground_truth or data_dir / definition.dataset / definition.split
    if not (Path(split) / "manifest.json").is_file():
        return None
    try:
        records = committed_records(results, "HEAD")
    except PoseboardError:
        records = None
    records = records or read_task_records(results / TASKS_FILE)
    return match_split(split, records) if records is not None else None


@app.command("compare")
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

    from poseboard.compare import committed_results, compare_results

    try:
        with tempfile.TemporaryDirectory() as tmp:
            ref_dir = reference if reference is not None else committed_results(results, against, tmp)
            report = compare_results(results, ref_dir)
    except PoseboardError as exc:
        raise _fail(exc) from None
    label = str(reference) if reference is not None else f"{against}:{results.as_posix()}"
    table = Table(title=f"{results} against {label}")
    for col in ("result", "metric", "reference", "ours", "change", "reference 95% CI", "task", "images", "verdict"):
        table.add_column(col, justify="right" if col in ("reference", "ours", "change") else "left")
    for r in report.rows:
        ci = f"[{r.ci95[0]:.1f}, {r.ci95[1]:.1f}]" if r.ci95 else "-"
        table.add_row(r.path, r.metric, f"{r.reference:.2f}", f"{r.ours:.2f}", f"{r.delta:+.2f}", ci,
                      _same(r.same_task), _same(r.same_images), r.verdict)
    _console().print(table)
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


@app.command("compare-methods")
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

    try:
        a = find_replicates(results, first, protocol)
        b = find_replicates(results, second, protocol)
        c = compare_results(a, b, point=point, n_resamples=resamples, seed=a[0].protocol.bootstrap_seed)
    except PoseboardError as exc:
        raise _fail(exc) from None
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


@app.command("replicate")
def replicate_command(
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
    from poseboard.replicates import replicate_steps, run_replicate, unseeded_methods

    try:
        if dry_run:  # the spelling only: the commands may be meant for another machine
            from poseboard.device import PRECISION_SPELLINGS, check_device_spelling

            if device is not None:
                device = check_device_spelling(device)
            if precision is not None and precision not in PRECISION_SPELLINGS:
                raise PoseboardError(f"--precision: {precision!r} is not one of {', '.join(PRECISION_SPELLINGS)}")
        else:  # the device the commands will run on: refused here, before the first step writes
            from poseboard.harness.commands import resolve_run

            for training in (False, True):  # pretrain and predict, then train@ (the profile's train_precision)
                resolve_run(device, precision, params_file=params_file, training=training)
        params = load_params(params_file)
        seeds = [seed] if seed is not None else params.active.seeds[1:]
        if not seeds:
            raise PoseboardError(f"{params_file}: the active profile lists one seed; give --seed K or add seeds "
                                 "to its `seeds` list")
        plans = [(s, replicate_steps(params_file, s, data_dir, checkpoints, results, reuse_backbone, only,
                                     protocols, device=device, precision=precision))
                 for s in seeds]
        unseeded = [] if only else unseeded_methods(params_file, params)
    except (PoseboardError, ValueError) as exc:
        raise _fail(exc) from None
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


@app.command("seed-spread")
def seed_spread_command(
    replicates: Annotated[list[Path], typer.Argument(
        help="folders of replicate results (replicate --results); those under --results are read with it")],
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
) -> None:
    """Measure each method's training-seed spread from replicates and write the noise floor
    the leaderboard adds to single-run comparisons (results/seed_spread.json)."""
    from poseboard.comparison.seed_spread import (
        SEED_SPREAD_FILE,
        keep_unmeasured,
        measure_seed_spread,
        read_seed_spread,
        write_seed_spread,
    )
    from poseboard.protocols.results import read_results

    if backbone not in ("shared", "retrained"):
        raise _fail(PoseboardError(f"--backbone: 'shared' or 'retrained', got {backbone!r}"))
    try:
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
    except PoseboardError as exc:
        raise _fail(exc) from None
    for pid, methods in spread.spread.items():
        for method, m in methods.items():
            typer.echo(f"{pid}  {method}: " + ", ".join(f"{v:.1f}" for v in m.values) + f" (seeds {m.seeds}) "
                       f"→ SD {m.sd:.2f}")
    typer.echo(f"wrote {path}")


def _mount_subcommands() -> None:
    """Command groups defined next to the code they drive (their bodies import lazily)."""
    from poseboard.datasets.calibration.commands import rig_app
    from poseboard.datasets.identity_commands import data_app
    from poseboard.datasets.mocap.commands import motion_app
    from poseboard.datasets.real.commands import datasets_app
    from poseboard.datasets.synthetic.commands import generate, show
    from poseboard.harness.commands import predict, pretrain, train
    from poseboard.method_run import method
    from poseboard.misses import misses
    from poseboard.params import params_app
    from poseboard.report.commands import publish, report
    from poseboard.scaffold import new_method
    from poseboard.studio.commands import studio
    from poseboard.tracking.commands import track, ui

    app.command("generate")(generate)
    app.command("show")(show)
    app.command("pretrain")(pretrain)
    app.command("train")(train)
    app.command("predict")(predict)
    app.command("report")(report)
    app.command("publish")(publish)
    app.command("track")(track)
    app.command("ui")(ui)
    app.command("new-method")(new_method)
    app.command("method")(method)
    app.command("studio")(studio)
    app.command("misses")(misses)
    app.add_typer(params_app, name="params", help="Check params.yaml.")
    app.add_typer(rig_app, name="rig", help="Camera rigs: import a calibration (OpenCV, anipose, Panoptic, "
                                            "EasyMocap, Human3.6M).")
    app.add_typer(motion_app, name="motion", help="Motion: import BVH motion capture (or check a motion .npz).")
    app.add_typer(datasets_app, name="datasets", help="Real datasets: check a layout, convert Human3.6M labels.")
    app.add_typer(data_app, name="data", help="Generated splits: task identity, the leaderboard's split, image "
                                              "differences.")


_mount_subcommands()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
