"""``poseboard datasets …`` commands for the real datasets (typer).

Mounted by the main CLI with ``app.add_typer(datasets_app, name="datasets")``; or, when
another ``datasets`` group exists already, ``register_commands(that_group)`` adds these
commands to it. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.datasets.real.config import DATASET_NAMES
from poseboard.errors import InputError, PoseboardError, command_app

DATASET_CHOICES = DATASET_NAMES


def check_command(
    name: Annotated[str, typer.Argument(help=", ".join(DATASET_CHOICES))],
    path: Annotated[
        Path | None, typer.Argument(help="dataset folder (default: $POSEBOARD_H36M_ROOT / _PANOPTIC_ / _MUPOTS_)")
    ] = None,
    trust_pickle: Annotated[
        bool, typer.Option("--trust-pickle", help="human36m: allow unpickling the label .npy (runs code from it)")
    ] = False,
    image_root: Annotated[
        Path | None, typer.Option("--image-root", help="human36m / mupots: folder holding the images")
    ] = None,
) -> None:
    """Check that a real dataset folder has the layout poseboard's loaders expect.

    Prints what was found, counts (frames per split, cameras, people) and every problem,
    each naming the file; exits 1 when the protocols cannot run on the folder.
    """
    from poseboard.datasets.real.config import check_layout

    if name not in DATASET_CHOICES:
        raise InputError(f"unknown dataset {name!r}; choose one of {list(DATASET_CHOICES)}")
    options: dict[str, object] = {}
    if name == "human36m":
        options = {"trust_pickle": trust_pickle, "image_root": image_root}
    elif name == "mupots":
        options = {"image_root": image_root}
    report = check_layout(name, path, **options)
    typer.echo(report.format())
    raise typer.Exit(code=0 if report.ok else 1)


def convert_h36m_command(
    labels: Annotated[Path, typer.Argument(help="human36m-multiview-labels-GTbboxes.npy")],
    trust_pickle: Annotated[
        bool,
        typer.Option("--trust-pickle", help="required: the .npy is a pickle, and reading it runs code from the file"),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="output folder (default: beside the .npy, without .npy)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing converted folder")] = False,
) -> None:
    """Convert the Human3.6M label file once into a pickle-free folder (.npy arrays + labels.json).

    The original file is a pickled NumPy object array: unpickling executes code stored in the
    file, so it must come from a source you trust, and you say so with --trust-pickle. The
    converted folder is read with allow_pickle=False and is preferred whenever it exists.
    """
    from poseboard.datasets.real.human36m import convert_labels

    if not trust_pickle:
        raise PoseboardError(
            f"{labels}: refusing to unpickle without --trust-pickle. The label file is a pickled NumPy object "
            "array and loading it runs code stored in the file; pass --trust-pickle if it comes from a source "
            "you trust (e.g. you generated it with learnable triangulation's scripts)."
        )
    target = convert_labels(labels, out, trust_pickle=True, overwrite=force)
    typer.echo(f"wrote {target} (pickle-free; used in place of {labels.name} from now on)")


def paths_command() -> None:
    """Show which real datasets are enabled by environment variables (else synthetic)."""
    from poseboard.datasets.real.config import RealDataConfig

    for line in RealDataConfig().describe():
        typer.echo(line)


def register_commands(group: typer.Typer) -> typer.Typer:
    """Add ``check``, ``convert-h36m`` and ``paths`` to a typer group; returns it."""
    group.command("check")(check_command)
    group.command("convert-h36m")(convert_h36m_command)
    group.command("paths")(paths_command)
    return group


datasets_app = register_commands(command_app(
    name="datasets",
    help="Real datasets: check a folder's layout, convert the Human3.6M labels, show configured paths.",
    no_args_is_help=True,
))

__all__ = ["check_command", "convert_h36m_command", "datasets_app", "paths_command", "register_commands"]
