"""``poseboard motion import``: BVH motion capture (or a poseboard motion ``.npz``) → a motion
``.npz`` for ``poseboard generate --motion`` / ``poseboard studio --motion``. Imported motion
is a test input, never training data. Heavy modules are imported inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.datasets.axes import MM_PER_UNIT
from poseboard.errors import InputError, command_app

motion_app = command_app(no_args_is_help=True)


@motion_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="a .bvh file, or a poseboard motion .npz to check")],
    out: Annotated[Path, typer.Option("--out", "-o", help="motion .npz to write")],
    units: Annotated[
        str | None, typer.Option("--units", help=f"BVH units: {', '.join(MM_PER_UNIT)} or millimetres per unit "
                                                 "(default: detected from the body height)")
    ] = None,
    up: Annotated[
        str | None, typer.Option("--up", help="the BVH world axis pointing up: +y (most exports), +z, … "
                                              "(default: detected from the body)")
    ] = None,
    joint_map: Annotated[
        Path | None, typer.Option("--joint-map", help="YAML/JSON {H36M17 joint: BVH joint} overriding the "
                                                      "default map (docs/studio_import.md)")
    ] = None,
    action: Annotated[str, typer.Option("--action", help="the action label stored with the frames")] = "Unknown",
) -> None:
    """Import motion capture as poseboard's motion .npz (H36M17 joints, mm, Z up, on the floor,
    50 fps). A malformed file is refused with exit status 2 and nothing is written."""
    from poseboard.datasets.mocap.convert import import_motion
    from poseboard.io import atomic_write_bytes

    if out.suffix.lower() != ".npz":
        raise InputError(f"--out {out}: the motion file must end in .npz")
    data, notes = import_motion(file, units=units, up=up, joint_map=joint_map, action=action)
    for note in notes:
        typer.echo(f"  {note}")
    atomic_write_bytes(out, data)
    typer.echo(f"wrote {out} (a test input: poseboard never trains on imported motion)")
