"""``poseboard report``: rebuild the leaderboard, the paper tables and the figures from ``results/``.

A plain function with typer annotations; the main CLI registers it
(``app.command("report")(report)``). matplotlib, seaborn and jinja2 are imported inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import PoseboardError


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
) -> None:
    """Build report/index.html (self-contained, offline), report/tables/*.md and report/figures/."""
    from poseboard.report.build import build_report

    try:
        summary = build_report(results, out, params_file if params_file.exists() else None,
                               speed if speed.exists() else None)
    except PoseboardError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    filled = sum(t.filled for t in summary.tables)
    typer.echo(
        f"{summary.num_results} result file(s), {len(summary.boards)} protocol board(s), "
        f"{filled}/{len(summary.tables)} paper table(s) with numbers, {len(summary.figures)} figure(s) "
        f"→ {summary.out / 'index.html'}"
    )
