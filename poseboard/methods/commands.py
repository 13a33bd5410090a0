"""``poseboard methods``: the registered methods (built-in and from the ``poseboard.methods``
entry points). A plain function with typer annotations; the main CLI registers it. The
registry is read inside, so importing this module imports no method."""

from __future__ import annotations

from typing import Annotated

import typer

from poseboard.errors import PoseboardError


def methods(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="import each method and show its capabilities")
    ] = False,
) -> None:
    """List the registered methods (built-in and from the ``poseboard.methods`` entry points)."""
    from rich.table import Table

    from poseboard.methods.registry import REGISTRY
    from poseboard.progress import wide_console

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
    wide_console().print(table)
    if not names:
        typer.echo("no methods registered yet")
