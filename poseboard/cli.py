"""The ``poseboard`` command line (typer): it mounts the commands, each defined in its domain's
``commands`` module. Heavy imports (torch, mlflow) happen inside the commands, so
``poseboard --help`` starts in well under a second. A :class:`~poseboard.errors.PoseboardError`
ends any command the one way (:func:`poseboard.errors.command_app`): ``error: …``, exit 2."""

from __future__ import annotations

from poseboard.errors import command_app

app = command_app(
    name="poseboard",
    help="A reproducible benchmark suite and leaderboard for 3D human pose estimation.",
    no_args_is_help=True,
)


def _mount() -> None:
    """Each command under its name, in the order ``poseboard --help`` lists them."""
    from poseboard.board.commands import board_app
    from poseboard.comparison.commands import compare_methods, seed_spread
    from poseboard.datasets.calibration.commands import rig_app
    from poseboard.datasets.identity_commands import data_app
    from poseboard.datasets.mocap.commands import motion_app
    from poseboard.datasets.real.commands import datasets_app
    from poseboard.datasets.synthetic.commands import generate, show
    from poseboard.harness.commands import evaluate, predict, pretrain, submit, train
    from poseboard.methods.commands import methods
    from poseboard.pipeline import params_app
    from poseboard.protocols.commands import protocols
    from poseboard.report.commands import publish, report
    from poseboard.studies.commands import epipolar_attention, ladder, paper_conditions
    from poseboard.studio.commands import studio
    from poseboard.tracking.commands import track, ui
    from poseboard.workflows.commands import compare, method, misses, new_method, replicate
    from poseboard.workflows.fuzz_commands import fuzz

    for name, command in (
        ("methods", methods), ("protocols", protocols), ("evaluate", evaluate), ("submit", submit),
        ("compare", compare), ("compare-methods", compare_methods), ("replicate", replicate),
        ("seed-spread", seed_spread), ("generate", generate), ("show", show), ("pretrain", pretrain),
        ("train", train), ("predict", predict), ("report", report), ("publish", publish), ("track", track),
        ("ui", ui), ("new-method", new_method), ("method", method), ("studio", studio), ("misses", misses),
        ("paper-conditions", paper_conditions), ("epipolar-attention", epipolar_attention), ("ladder", ladder),
        ("fuzz", fuzz),
    ):
        app.command(name)(command)
    app.add_typer(params_app, name="params", help="Check params.yaml.")
    app.add_typer(board_app, name="board", help="The board's trained weights: pull them (verified by hash), "
                  "push or ship them (maintainers).")
    app.add_typer(rig_app, name="rig", help="Camera rigs: import a calibration (OpenCV, anipose, Panoptic, "
                                            "EasyMocap, Human3.6M).")
    app.add_typer(motion_app, name="motion",
                  help="Motion: import BVH motion capture (or check a motion .npz); build the real-motion library.")
    app.add_typer(datasets_app, name="datasets", help="Real datasets: check a layout, convert Human3.6M labels.")
    app.add_typer(data_app, name="data", help="Generated splits: task identity, the leaderboard's split, image "
                                              "differences.")


_mount()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
