"""``poseboard motion import``: BVH motion capture (or a poseboard motion ``.npz``) → a motion
``.npz`` for ``poseboard generate --motion`` / ``poseboard studio --motion``. Imported motion
is a test input, never training data. `poseboard motion library`: the CMU real-motion library
(docs/motion_library.md). Heavy modules are imported inside the commands."""

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


@motion_app.command("library")
def library_command(
    src_dir: Annotated[Path, typer.Argument(help="folder of CMU BVH files <subject>_<trial>.bvh, or of Bandai Namco "
                                                 "ones dataset-<N>_<content>_<style>_<take>.bvh, walked recursively")],
    out: Annotated[Path, typer.Option("--out", "-o", help="library .npz to write (its manifest beside it: "
                                                          "<name>.manifest.json)")],
    categories: Annotated[
        Path | None, typer.Option("--categories", help="CSV 'clip,category' (e.g. 01_03,walk); else 'unlabelled'")
    ] = None,
    fps: Annotated[float, typer.Option("--fps", help="frames per second stored")] = 25.0,
    source: Annotated[str, typer.Option("--source", help="where the BVH files came from, recorded in the manifest "
                                                         "(e.g. una-dinosauria/cmu-mocap@<commit>)")] = "",
    min_seconds: Annotated[float, typer.Option("--min-seconds", help="drop pieces shorter than this (s)")] = 2.0,
) -> None:
    """Build the real-motion library from BVH files: the Bandai Namco Research Motion datasets'
    (the board's: every file named dataset-<N>_..., labelled with its held-out role; the pipeline's
    motion_library stage builds it from the archive) or the CMU database's. Cleaned, int16 mm at
    --fps, with a manifest of every file, clip and drop (docs/motion_library.md). CMU subjects
    02, 05, 06 and 07, reserved for the held-out check, are refused with exit status 2 and
    nothing is written."""
    from poseboard.datasets.mocap.bandai import NAME
    from poseboard.datasets.mocap.library import build_library, manifest_path, write_library

    if not src_dir.is_dir():
        raise InputError(f"{src_dir}: not a folder of BVH files")
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out {out}: the library file must end in .npz")
    files = sorted((p for p in src_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".bvh"),
                   key=lambda p: p.relative_to(src_dir).as_posix())
    bandai_files = [p for p in files if NAME.match(p.stem)]
    if bandai_files and len(bandai_files) != len(files):
        other = next(p for p in files if not NAME.match(p.stem))
        raise InputError(f"{other}: {src_dir} mixes Bandai Namco files (dataset-<N>_...) with others; build one "
                         f"source per library")
    if bandai_files:
        if categories is not None:
            raise InputError("--categories: the Bandai Namco files carry their own labels (content, style, take)")
        from poseboard.datasets.mocap.bandai_library import build_bandai_library

        arrays, manifest = build_bandai_library(files, fps=fps, min_seconds=min_seconds, root=src_dir, source=source)
    else:
        arrays, manifest = build_library(files, fps=fps, categories=categories, min_seconds=min_seconds,
                                         root=src_dir, source=source)
    written = write_library(out, arrays, manifest)
    totals = written["totals"]
    drops = ", ".join(f"{rule} {n}" for rule, n in totals["dropped_by_rule"].items()) or "none"
    typer.echo(f"{totals['files']} files: kept {totals['clips_kept']} clips, {totals['hours']:.3f} h "
               f"({totals['frames']} frames at {fps:g} fps); dropped/split: {drops}")
    typer.echo(f"wrote {out} ({written['npz']['bytes'] / 1e6:.2f} MB) and {manifest_path(out)}")
