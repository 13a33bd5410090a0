"""``poseboard data …``: is a generated split the leaderboard's task, and how far are its images?

Mounted by the main CLI with ``app.add_typer(data_app, name="data")``::

    poseboard data check data/synth-h36m/test          # against results/tasks.json as committed at HEAD
    poseboard data identity data/synth-h36m/test       # its content, task and image hashes
    poseboard data diff data/synth-h36m/test other/synth-h36m/test   # fraction of pixels that differ
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from poseboard.errors import InputError, command_app

if TYPE_CHECKING:
    from poseboard.datasets.identity import TaskRecords

data_app = command_app(no_args_is_help=True,
                      help="Generated splits: task identity, the leaderboard's split, image differences.")


def committed_records(results: Path, ref: str) -> TaskRecords | None:
    """``results/tasks.json`` as committed at git ``ref`` (None when that commit has none)."""
    from poseboard.datasets.identity import TASKS_FILE, parse_task_records
    from poseboard.gitrepo import git_toplevel

    try:
        root, rel = git_toplevel(results / TASKS_FILE)
    except InputError as exc:
        raise InputError(f"{exc}; give --records") from None
    shown = subprocess.run(["git", "-C", str(root), "show", f"{ref}:{rel}"], capture_output=True)
    if shown.returncode != 0:
        return None
    return parse_task_records(shown.stdout, f"{ref}:{rel}")


@data_app.command("identity")
def identity_command(
    splits: Annotated[list[Path], typer.Argument(help="generated split folders (DATA/<dataset>/<split>)")],
) -> None:
    """Print each split's content hash (every byte), task hash (frames, ground truth, cameras;
    floats quantised) and image hash (image shards and visibility flags)."""
    from poseboard.datasets.identity import split_identity

    for split in splits:
        i = split_identity(split)
        typer.echo(f"{i.name}/{i.split}  {i.samples} samples  content {i.content_hash[:16]}  "
                   f"task {i.task_hash[:16]}  images {i.images_hash[:16]}  ({split})")


@data_app.command("check")
def check_command(
    splits: Annotated[list[Path], typer.Argument(help="generated split folders (DATA/<dataset>/<split>)")],
    results: Annotated[Path, typer.Option("--results", "-r", help="the results folder whose tasks.json is the "
                                                                  "reference")] = Path("results"),
    against: Annotated[str, typer.Option("--against", help="git ref of the committed leaderboard")] = "HEAD",
    records: Annotated[Path | None, typer.Option(
        "--records", help="a tasks.json to check against instead of the committed one")] = None,
) -> None:
    """Say, before scoring, whether each split is the committed leaderboard's: the same bytes,
    the same task with other image bytes (rendered on another CPU: results are compared, and
    flagged), or another task (results cannot be compared). Exits 1 on another task."""
    from poseboard.datasets.identity import match_split, read_task_records

    reference = read_task_records(records) if records is not None else committed_records(results, against)
    if reference is None:
        where = records if records is not None else f"{against}:{(results / 'tasks.json').as_posix()}"
        raise InputError(f"{where}: no task records (of this identity version) to check against")
    matches = [match_split(split, reference) for split in splits]
    for m in matches:
        typer.echo(m.sentence())
    if any(m.verdict == "other task" for m in matches):
        raise typer.Exit(code=1)


@data_app.command("diff")
def diff_command(
    first: Annotated[Path, typer.Argument(help="a generated split folder")],
    second: Annotated[Path, typer.Argument(help="another rendering of the same task")],
) -> None:
    """How far two renderings of one task are apart: the pixels that differ (any channel), their
    fraction and the largest difference in grey levels. Refused if the tasks differ."""
    from poseboard.datasets.identity import image_difference

    d = image_difference(first, second)
    typer.echo(f"{d.differing} of {d.pixels} pixels differ ({100 * d.fraction:.5f} %), "
               f"largest difference {d.max_abs} grey levels")
