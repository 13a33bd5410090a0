"""The command line: help everywhere, lists, and no heavy imports at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from poseboard.cli import app

runner = CliRunner()


def _commands():
    import typer.main

    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():
        sub = getattr(cmd, "commands", None)
        names += [[name, s] for s in sub] if sub else [[name]]
    return names


def test_top_level_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "methods" in result.output and "protocols" in result.output and "evaluate" in result.output


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c))
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_protocols_lists_builtin_protocols():
    result = runner.invoke(app, ["protocols"])
    assert result.exit_code == 0
    assert "synth-h36m-relative@3" in result.output
    assert "synth-mupots-root@2" in result.output


def test_methods_lists():
    result = runner.invoke(app, ["methods", "--verbose"])
    assert result.exit_code == 0


def test_unknown_protocol_is_a_clear_error(tmp_path):
    preds = tmp_path / "p.npz"
    preds.write_bytes(b"")
    result = runner.invoke(app, ["evaluate", "--predictions", str(preds), "--protocol", "synth-h36m-relativ"])
    assert result.exit_code == 2
    assert "did you mean" in result.output


def test_startup_does_not_import_torch_or_mlflow():
    code = "import sys, poseboard.cli; print('torch' in sys.modules, 'mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_one_way_to_fail():
    """A command raises its error and never prints or exits for it: every command group is an
    ``errors.command_app``, whose one handler turns a PoseboardError into ``error: …`` and exit 2
    (issue 67). The handler holds ``err=True``; no other module makes a typer app or writes it."""
    import typer.main

    from poseboard.errors import PoseboardError, command_app, exit_on_error

    root = Path(__file__).resolve().parents[1] / "poseboard"
    makers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                    if "typer.Typer(" in p.read_text() or "err=True" in p.read_text())
    assert makers == ["errors.py"]
    handled = exit_on_error(print).__code__
    for command in typer.main.get_command(app).commands.values():  # wrapped where it was mounted
        for leaf in getattr(command, "commands", {None: command}).values():  # typer's wrapper of ours
            assert leaf.callback.__wrapped__.__code__ is handled, leaf.name

    demo = command_app()

    @demo.command()
    def refuse() -> None:
        raise PoseboardError("no such thing")

    out = runner.invoke(demo, [])
    assert (out.exit_code, out.output.strip()) == (2, "error: no such thing")
    with pytest.raises(PoseboardError):  # the registered function itself stays plain
        refuse()
