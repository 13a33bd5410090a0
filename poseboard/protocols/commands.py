"""``poseboard protocols``: the evaluation protocols. A plain function with typer annotations;
the main CLI registers it. (Scoring a predictions file under a protocol, ``poseboard evaluate``
and ``submit``, is the harness's: :mod:`poseboard.harness.commands`.)"""

from __future__ import annotations

from typing import Annotated

import typer


def protocols(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show each protocol's description")] = False,
) -> None:
    """List the evaluation protocols (``name@version``), their dataset, cameras and metrics."""
    from rich.table import Table

    from poseboard.progress import wide_console
    from poseboard.protocols.registry import all_protocols

    found = all_protocols()
    table = Table(title="protocols")
    for col in ("protocol", "task", "dataset", "cameras", "metrics", "headline"):
        table.add_column(col)
    for key, p in sorted(found.items()):
        if p.camera_sweep is not None:
            cams = "sweep " + ",".join(map(str, p.camera_sweep.sizes))
        else:
            cams = "all" if p.cameras is None else ",".join(map(str, p.cameras))
        headline = f"{p.headline} ({p.alignment}, {p.weighting}-weighted)"
        table.add_row(key, p.task, f"{p.dataset}/{p.split}", cams, ", ".join(p.metrics), headline)
        if verbose:
            table.add_row("", f"[dim]{p.description}[/dim]", "", "", "", "")
    wide_console().print(table)
