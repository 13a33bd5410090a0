"""``poseboard rig import``: a calibration file → a poseboard rig JSON and its picture.

The group is mounted in :mod:`poseboard.cli`; heavy modules (cv2, matplotlib) are imported
inside the command, so ``poseboard --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.datasets.axes import MM_PER_UNIT, UPS
from poseboard.datasets.calibration.rig_import import FORMATS
from poseboard.errors import InputError, command_app

rig_app = command_app(no_args_is_help=True)


@rig_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="calibration file (EasyMocap: intri.yml, extri.yml or their folder)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="rig JSON to write (its picture: the same name, .png)")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help=f"{', '.join(FORMATS)} (default: detected)")
    ] = None,
    units: Annotated[
        str | None, typer.Option("--units", help=f"the file's translation units: {', '.join(MM_PER_UNIT)} "
                                                 "(default: the format's, else detected from the rig's size)")
    ] = None,
    up: Annotated[
        str | None, typer.Option("--up", help=f"the file's world axis pointing up: {', '.join(UPS)} "
                                              "(default: the format's, else detected from the cameras)")
    ] = None,
    picture: Annotated[
        Path | None, typer.Option("--picture", help="where to write the PNG (default: OUT with .png)")
    ] = None,
) -> None:
    """Import a calibration as a poseboard rig (world mm, Z up, floor z = 0), with a picture of
    the cameras, their frusta and the volume they share (docs/studio_import.md).

    A file that is not a calibration (R not a rotation, a non-positive focal length, missing
    fields, NaN, cameras sharing no volume, metres read as millimetres, …) is refused with
    exit status 2 and nothing is written.
    """
    from poseboard.camera import save_rig
    from poseboard.datasets.calibration import import_rig
    from poseboard.datasets.calibration.picture import draw_rig

    png = picture or out.with_suffix(".png")
    if out.suffix.lower() != ".json":
        raise InputError(f"--out {out}: the rig file must end in .json")
    rig = import_rig(file, fmt=fmt, units=units, up=up)
    save_rig(rig.cameras, out)
    for note in rig.notes:
        typer.echo(f"  {note}")
    points = draw_rig(rig.cameras, rig.centre_mm, png,
                      title=f"{file.name} ({rig.format}, {rig.units}, up {rig.up}): {len(rig.cameras)} cameras")
    typer.echo(f"{len(rig.cameras)} cameras; shared point {[round(float(v)) for v in rig.centre_mm]} mm, seen by "
               f"{rig.seen_by}; shared volume {points} grid points (100 mm)")
    typer.echo(f"wrote {out}")
    typer.echo(f"wrote {png}")
