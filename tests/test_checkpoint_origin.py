"""Where a checkpoint comes from (issue 70, item 3), on a tiny DVC repository the test makes (git
init, dvc init, a backbone stage and a ``train@algebraic`` stage writing folders, dvc repro): a
missing board checkpoint's error names both ways to get it (``poseboard board pull <stage>``,
``dvc repro <stage>``) with the size from ``dvc.lock`` and the time from ``make repro``'s record;
the hash check agrees with ``dvc status`` (tampered → not the board's, untouched → the board's,
``.dvcignore``'s resumable state ignored); and each command that needs weights (predict, misses,
studio, make method) says so through its own entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from poseboard import checkpoint_origin as co
from poseboard.errors import InputError

DVC = str(Path(sys.executable).with_name("dvc"))
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
ENV.pop(co.DVC_STAGE_ENV, None)

MAKE = """\
import json, sys
from pathlib import Path
key = sys.argv[1]
out = Path("checkpoints") / key
out.mkdir(parents=True, exist_ok=True)
if key == "backbone":
    (out / "backbone.json").write_text("{}")
    (out / "backbone.pt").write_bytes(b"b" * 3_000_000)
else:
    (out / "config.json").write_text(json.dumps({"method": key, "config": {}}))
    (out / "weights.pt").write_bytes(bytes(range(256)) * 20_000)
(out / "checkpoint.pt").write_bytes(b"resumable state")  # kept out of the output by .dvcignore
"""

DVC_YAML = {"stages": {
    "pretrain_backbone": {"cmd": "python make.py backbone", "deps": ["make.py"], "outs": ["checkpoints/backbone"]},
    "train": {"foreach": ["algebraic"], "do": {"cmd": "python make.py ${item}",
                                                "deps": ["make.py", "checkpoints/backbone"],
                                                "outs": ["checkpoints/${item}"]}},
}}


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A tiny board: its two weight stages reproduced, dvc.lock written by DVC."""
    root = tmp_path_factory.mktemp("board")
    _run(["git", "init", "-q"], root)
    _run([DVC, "init", "-q"], root)
    (root / "make.py").write_text(MAKE)
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML))
    (root / ".dvcignore").write_text("checkpoints/*/checkpoint.pt\n")
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{ENV['PATH']}"
    proc = subprocess.run([DVC, "repro", "-q"], cwd=root, env={**ENV, "PATH": env_path}, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture
def board(made, tmp_path) -> Path:
    """A copy of the tiny board each test may change."""
    root = tmp_path / "board"
    shutil.copytree(made, root, symlinks=True)
    return root


def _times(root: Path, stages: dict) -> None:
    path = root / co.STAGE_TIMES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"steps": [], "stages": stages}))


def _status(root: Path, stage: str) -> dict:
    return json.loads(_run([DVC, "status", "--json", stage], root) or "{}")


def test_the_lock_is_read_as_dvc_wrote_it(board):
    lock = yaml.safe_load((board / "dvc.lock").read_text())["stages"]
    found = co.checkpoint_stage(board / "checkpoints" / "algebraic")
    assert found is not None and found.stage == "train@algebraic" and found.root == board
    assert (found.md5, found.size) == (lock["train@algebraic"]["outs"][0]["md5"],
                                       lock["train@algebraic"]["outs"][0]["size"])
    # the resumable state is not in the output: dvc.lock's size is the two files' only
    assert found.size == len(json.dumps({"method": "algebraic", "config": {}})) + 256 * 20_000
    assert co.checkpoint_stage(board / "checkpoints" / "backbone").stage == "pretrain_backbone"
    assert co.checkpoint_stage(board / "checkpoints" / "mine") is None
    assert co.checkpoint_stage(board.parent / "elsewhere" / "algebraic") is None  # in no DVC repository
    assert [c.stage for c in co.checkpoints_under(board / "checkpoints")] == ["pretrain_backbone", "train@algebraic"]


def test_the_missing_error_names_both_ways_with_size_and_time(board):
    shutil.rmtree(board / "checkpoints" / "algebraic")
    _times(board, {"train@algebraic": {"seconds": 754.4}, "pretrain_backbone": {"seconds": 2.0, "cached": True}})
    msg = str(co.missing_checkpoint(board / "checkpoints" / "algebraic"))
    assert "`poseboard board pull train@algebraic`" in msg and "`dvc repro train@algebraic`" in msg
    assert "5.1 MB" in msg  # 5,120,047 bytes, dvc.lock's size
    assert "12:34 on this machine" in msg and str(co.STAGE_TIMES) in msg
    # restored from the run cache: that time is a copy's, not the training's
    msg = str(co.missing_checkpoint(board / "checkpoints" / "backbone"))
    assert "`poseboard board pull pretrain_backbone`" in msg and "`dvc repro pretrain_backbone`" in msg
    assert "3.0 MB" in msg and "unknown on this machine" in msg and co.PERFORMANCE_DOC in msg


def test_no_recorded_time_points_at_the_performance_doc(board):
    msg = str(co.missing_checkpoint(board / "checkpoints" / "algebraic"))
    assert "unknown on this machine" in msg and co.PERFORMANCE_DOC in msg
    assert "board pull" not in str(co.missing_checkpoint(board / "checkpoints" / "mine"))  # not the board's


def test_the_hash_check_agrees_with_dvc_status(board):
    algebraic = board / "checkpoints" / "algebraic"
    assert co.board_hash_matches(algebraic) is True and _status(board, "train@algebraic") == {}
    (algebraic / "checkpoint.pt").write_bytes(b"another resumable state")  # .dvcignore: not the output
    assert co.board_hash_matches(algebraic) is True and _status(board, "train@algebraic") == {}
    data = bytearray((algebraic / "weights.pt").read_bytes())
    data[1000] ^= 1
    (algebraic / "weights.pt").write_bytes(bytes(data))
    o = co.origin(algebraic)
    assert o is not None and o.present and not o.is_boards and co.board_hash_matches(algebraic) is False
    assert _status(board, "train@algebraic") != {}
    assert o.checkpoint.md5 in o.not_the_boards() and o.workspace_md5 in o.not_the_boards()
    assert "`poseboard board pull train@algebraic`" in o.not_the_boards()
    assert co.board_hash_matches(board / "checkpoints" / "mine") is None
    shutil.rmtree(algebraic)
    assert co.board_hash_matches(algebraic) is False


def test_predict_names_the_ways_and_refuses_another_runs_weights_into_the_boards_results(board, tmp_path):
    from poseboard.harness.commands import _standalone_app

    runner = CliRunner()
    ck = board / "checkpoints"
    args = ["--protocol", "synth-h36m-relative", "--checkpoints", str(ck), "--device", "cpu"]
    shutil.move(ck / "algebraic", tmp_path / "kept")
    out = runner.invoke(_standalone_app(), ["predict", "algebraic", *args, "--results", str(tmp_path / "r")])
    assert out.exit_code == 2, out.output
    assert "poseboard board pull train@algebraic" in out.output and "dvc repro train@algebraic" in out.output
    shutil.move(tmp_path / "kept", ck / "algebraic")
    (ck / "algebraic" / "weights.pt").write_bytes(b"other weights")
    out = runner.invoke(_standalone_app(), ["predict", "algebraic", *args, "--results", str(board / "results")])
    assert out.exit_code == 2 and "not the board's checkpoint" in out.output, out.output
    assert not (board / "results").exists()


def test_misses_names_the_ways(board):
    from poseboard.workflows.misses import load_trained

    shutil.rmtree(board / "checkpoints" / "algebraic")
    with pytest.raises(InputError) as err:
        load_trained("algebraic", board / "checkpoints")
    assert "poseboard board pull train@algebraic" in str(err.value) and "dvc repro train@algebraic" in str(err.value)


def test_studio_names_the_ways_and_badges_another_runs_weights(board):
    from poseboard.studio.scoring import ANOTHER_RUN, find_trained

    found, notes = find_trained(board / "checkpoints")
    assert [m.name for m in found] == ["algebraic"] and notes == []
    (board / "checkpoints" / "algebraic" / "weights.pt").write_bytes(b"other weights")
    found, notes = find_trained(board / "checkpoints")
    assert [m.name for m in found] == ["algebraic" + ANOTHER_RUN] and found[0].registered == "algebraic"
    assert any("not the board's checkpoint" in n for n in notes), notes
    shutil.rmtree(board / "checkpoints")
    with pytest.raises(InputError) as err:
        find_trained(board / "checkpoints")
    assert "poseboard board pull train@algebraic" in str(err.value) and "dvc repro train@algebraic" in str(err.value)


def test_make_method_names_the_ways(board):
    from poseboard.workflows.method_run import MethodPlan, check_only_allowed, weight_notes

    plan = MethodPlan("mine", ["synth-h36m"], ["train@mine"], {"train@mine", "pretrain_backbone"})
    assert weight_notes(board, ["pretrain_backbone", "train@mine"], plan) == []  # the board's: DVC skips it
    shutil.rmtree(board / "checkpoints" / "algebraic")
    shutil.rmtree(board / "checkpoints" / "backbone")
    with pytest.raises(InputError) as err:  # an init on a built-in method whose checkpoint is not here
        check_only_allowed(["train@mine", "train@algebraic"], plan, board)
    assert "poseboard board pull train@algebraic" in str(err.value) and "dvc repro train@algebraic" in str(err.value)
    notes = weight_notes(board, ["pretrain_backbone", "train@mine"], plan)
    assert len(notes) == 1 and "poseboard board pull pretrain_backbone" in notes[0] and "3.0 MB" in notes[0]


def test_the_cli_does_not_import_dvc():
    code = "import sys, poseboard.cli, poseboard.checkpoint_origin; print('dvc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]
