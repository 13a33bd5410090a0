"""``poseboard report`` and ``poseboard publish``: the leaderboard pages.

``report`` rebuilds the leaderboard, its headline board in brief (``board.md``), the paper tables
and the figures from ``results/`` (and one page per profile published under ``published/``);
``publish`` copies another profile's run
(a clone where ``dvc repro`` ran with, say, ``profile: gpu``) into ``published/<profile>/``.
Plain functions with typer annotations; the main CLI registers them
(``app.command("report")(report)``). matplotlib, seaborn and jinja2 are imported inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    results: Annotated[Path, typer.Option("--results", "-r", help="folder of result files")] = Path("results"),
    out: Annotated[Path, typer.Option("--out", "-o", help="report folder (index.html, tables/, figures/)")] = Path(
        "report"
    ),
    params_file: Annotated[
        Path, typer.Option("--params", help="params.yaml (profile, title, significance level); skipped if absent")
    ] = Path("params.yaml"),
    speed: Annotated[
        Path, typer.Option("--speed", help="the speed stage's benchmark JSON (the speed column); skipped if absent")
    ] = Path("speed/benchmarks.json"),
    published: Annotated[
        Path, typer.Option("--published", help="other profiles' published runs (`poseboard publish`): one page "
                                               "each under OUT/profiles/<profile>/; skipped if absent")
    ] = Path("published"),
) -> None:
    """Build report/index.html (self-contained, offline), report/board.md (the headline board as one
    Markdown table), report/tables/*.md and report/figures/, and a page per published profile with
    a switch between them."""
    from poseboard.report.build import build_report

    summary = build_report(results, out, params_file if params_file.exists() else None,
                           speed if speed.exists() else None, published if published.exists() else None)
    filled = sum(t.filled for t in summary.tables)
    typer.echo(
        f"{summary.num_results} result file(s), {len(summary.boards)} protocol board(s), "
        f"{filled}/{len(summary.tables)} paper table(s) with numbers, {len(summary.figures)} figure(s) "
        f"→ {summary.out / 'index.html'}"
    )
    for page in summary.pages[1:]:
        typer.echo(f"  and {page.num_results} result file(s), {len(page.boards)} board(s) → {page.out / 'index.html'}")


def publish(
    source: Annotated[Path, typer.Argument(help="the checkout where the other profile's `dvc repro` ran")],
    profile: Annotated[
        str | None, typer.Option("--profile", help="the profile it ran (checked against its params.yaml)")
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="folder of published profiles")] = Path("published"),
    params_file: Annotated[
        Path, typer.Option("--params", help="this checkout's params.yaml (its active profile cannot be published)")
    ] = Path("params.yaml"),
) -> None:
    """Copy another profile's leaderboard (result files, run sidecars, seed spread, speed suite;
    no predictions) into TO/<profile>/, so that `report` shows it beside this profile's."""
    from poseboard.report.profiles import publish_profile

    active = None
    if params_file.exists():
        from poseboard.params import load_params

        active = load_params(params_file).profile
    meta, dest = publish_profile(source, to, profile=profile, active_profile=active)
    typer.echo(f"published profile {meta.profile}: {meta.num_results} result file(s) on "
               f"{'; '.join(meta.hardware) or 'unrecorded hardware'} → {dest}")
