"""``poseboard studio``: a plain function with typer annotations, mounted by ``poseboard.cli``;
its body imports the work lazily (``poseboard --help`` imports neither torch nor mlflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError


def _centre(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"--centre {text!r}: give X,Y in the rig's world millimetres, "
                         "e.g. --centre 250,-400") from None


def studio(
    rig: Annotated[Path, typer.Argument(help="your cameras: a poseboard rig JSON, or a calibration file the "
                                             "importer reads (see --format)")],
    motion: Annotated[Path | None, typer.Option("--motion", help="your motion .npz (poseboard's motion format); "
                                                                 "default: the board's test people and motion")] = None,
    motion_in_place: Annotated[bool, typer.Option(
        "--motion-in-place", help="keep --motion where it was recorded relative to the cameras (default: each "
                                  "sequence centred on the capture area)")] = False,
    cameras: Annotated[int | None, typer.Option(
        "--cameras", min=1,
        help="also rank every subset size 1..K of your cameras (how many views are enough)")] = None,
    subsets: Annotated[int, typer.Option("--subsets", min=1, help="random camera subsets per size with --cameras")] = 3,
    paths: Annotated[str, typer.Option(
        "--paths", help="fit: the test people walk where every camera sees them whole (their paths centred there, "
                        "scaled down where they reach farther); as-rendered: the board's paths as drawn around the "
                        "capture centre")] = "fit",
    centre: Annotated[str | None, typer.Option(
        "--centre", help="X,Y (your world, mm): the capture area's centre; default: where the cameras look")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (page, summary, split, results)")] = Path(
        "studio"),
    checkpoints: Annotated[Path, typer.Option("--checkpoints", help="trained methods (one folder each)")] = Path(
        "checkpoints"),
    reference: Annotated[Path, typer.Option(
        "--reference", help="the results folder compared against: the committed board's")] = Path("results"),
    no_reference: Annotated[bool, typer.Option(
        "--no-reference", help="rank without the change from the board")] = False,
    params: Annotated[Path, typer.Option("--params", help="params.yaml: the profile's test design, crop size and "
                                                          "seed (the board's)")] = Path("params.yaml"),
    profile: Annotated[str | None, typer.Option("--profile", help="profile (default: the file's active one)")] = None,
    frames: Annotated[int | None, typer.Option("--frames", min=1, help="test frames (default: the profile's)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="calibration format for a non-poseboard RIG "
                                                             "(default: detected by the importer)")] = None,
    units: Annotated[str | None, typer.Option("--units", help="calibration units (importer)")] = None,
    up: Annotated[str | None, typer.Option("--up", help="calibration up axis (importer)")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="frames per predict call")] = 8,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:N or auto")] = "cpu",
    workers: Annotated[int, typer.Option("--workers", "-j", help="rendering processes (0: per core, ≤ 8)")] = 0,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="torch CPU threads per predicting process (default: POSEBOARD_THREADS, else 1, "
                                 "with a process per core)")] = None,
) -> None:
    """Render a test split with YOUR cameras and rank every trained method on it: the page
    (studio.html), its Markdown twin (studio.md) and a JSON summary in --out. See docs/studio.md."""
    from poseboard.studio.run import StudioRequest, run_studio

    try:  # a request that does not validate (a ValueError) is the user's input too
        request = StudioRequest(rig=rig, out=out, checkpoints=checkpoints, board=None if no_reference else reference,
                                params=params, motion=motion, motion_in_place=motion_in_place, cameras=cameras,
                                subsets=subsets, centre=_centre(centre), fmt=fmt, units=units, up=up,
                                profile=profile, frames=frames, batch_size=batch_size, device=device,
                                workers=workers, threads=threads, paths=paths)
        facts = run_studio(request)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for b in facts["boards"]:
        typer.echo(b.recommendation.replace("**", ""))
    typer.echo(f"page: {facts['written']['html']}")
