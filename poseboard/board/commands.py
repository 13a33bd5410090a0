"""``poseboard board pull|push|ship``: the board's trained weights, the DVC way
(:mod:`poseboard.board.weights`, which imports DVC only inside its functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.board.weights import SHIP_BUDGET_BYTES
from poseboard.errors import command_app

board_app = command_app(no_args_is_help=True)

Stages = Annotated[list[str] | None, typer.Argument(
    help="weight stages (pretrain_backbone, no_init, train@<key>); default: all the board's")]
Root = Annotated[Path, typer.Option("--repo", help="the poseboard checkout")]


@board_app.command("pull")
def pull_command(
    stages: Stages = None,
    remote: Annotated[str | None, typer.Option(
        "--remote", help="the DVC remote to pull from (default: 'board', then the weights the repository ships "
        "in weights/)")
    ] = None,
    repo: Root = Path("."),
) -> None:
    """Fetch the board's checkpoints that dvc.lock names, each verified by hash, so its training
    stages are up to date: `dvc repro` renders their data and skips them. Without a 'board'
    remote the repository's weights/ serves: the checkpoints weights/shipped.json records as
    left out (over its size budget) are named as lacking, with why and how to get them, and
    exit 0. Exit 2, with the outputs that could not be had and how to train them, when any
    other is missing or corrupted, or when there is nothing to pull from."""
    from poseboard.board.weights import pull

    report = pull(repo, stages or None, remote, say=typer.echo)
    head = f"{len(report.pulled)} pulled, {len(report.present)} already here"
    if report.lacking:
        typer.echo(f"{head}, {len(report.lacking)} lacking (above): those stages are up to date (`dvc status`); "
                   "`dvc repro` trains the lacking ones")
    else:
        typer.echo(f"{head}: the board's training stages are up to date (`dvc status`)")


@board_app.command("push")
def push_command(
    remote: Annotated[str, typer.Option("--remote", help="a DVC remote the maintainers can write to")],
    stages: Stages = None,
    repo: Root = Path("."),
) -> None:
    """(Maintainers) publish the board's checkpoints: every one must be the output dvc.lock
    records. Users then pull them from the read-only 'board' remote (docs/pipeline.md)."""
    from poseboard.board.weights import push

    push(repo, remote, stages or None, say=typer.echo)


@board_app.command("ship")
def ship_command(
    budget_mb: Annotated[float, typer.Option(
        "--budget-mb", help="the most weights/ may hold, in MB (10^6 bytes)")] = SHIP_BUDGET_BYTES / 1e6,
    repo: Root = Path("."),
) -> None:
    """(Maintainers) put the board's weights into the repository's weights/ folder (a DVC
    remote), so a fresh clone with no remote pulls them: every weight output dvc.lock names
    (pretrain_backbone, no_init, every train@<key>: the seed-0 weights and their records, never
    the resumable state) within the budget. The backbone and no_init go first, then the methods
    in dvc.lock's order, each that still fits; the rest are left out, and weights/shipped.json
    records each output (path, MD5, bytes, shipped or left out and why). Objects of older boards
    are removed. Commit weights/ with dvc.lock."""
    from poseboard.board.weights import ship

    ship(repo, round(budget_mb * 1e6), say=typer.echo)
