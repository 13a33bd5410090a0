"""``poseboard board pull|push|ship``: the board's trained weights, the DVC way
(:mod:`poseboard.board.weights`). DVC is imported inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import command_app

board_app = command_app(no_args_is_help=True)

Stages = Annotated[list[str] | None, typer.Argument(
    help="weight stages (pretrain_backbone, no_init, train@<key>); default: all the board's")]
Root = Annotated[Path, typer.Option("--repo", help="the poseboard checkout")]


@board_app.command("pull")
def pull_command(
    stages: Stages = None,
    remote: Annotated[str | None, typer.Option(
        "--remote", help="the DVC remote to pull from (default: 'board', then the repository's shipped backbone)")
    ] = None,
    repo: Root = Path("."),
) -> None:
    """Fetch the board's checkpoints that dvc.lock names, each verified by hash, so its training
    stages are up to date: `dvc repro` renders their data and skips them. Exit 2, with the
    outputs that could not be had and how to train them, when one is missing or corrupted."""
    from poseboard.board.weights import pull

    report = pull(repo, stages or None, remote, say=typer.echo)
    typer.echo(f"{len(report.pulled)} pulled, {len(report.present)} already here: the board's training stages are "
               "up to date (`dvc status`)")


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
def ship_command(repo: Root = Path(".")) -> None:
    """(Maintainers) put the shared backbone into the repository's weights/ folder (a DVC
    remote), so a clone with no remote still pulls it; commit weights/ with dvc.lock."""
    from poseboard.board.weights import ship

    ship(repo, say=typer.echo)
