"""The command line: help everywhere, lists, and no heavy imports at start-up."""

from __future__ import annotations

import subprocess
import sys

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
    assert "synth-h36m-relative@2" in result.output
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
