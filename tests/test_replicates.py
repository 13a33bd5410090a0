"""Training-seed replicates: the `seeds` list of a profile, the replicate's commands (the DVC
stages' own, with the seed and folders changed), and resuming."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.errors import InputError
from poseboard.methods.registry import is_builtin
from poseboard.params import ParamsError, load_params
from poseboard.workflows.replicates import ReplicateStep, replicate_steps, run_replicate, unseeded_methods

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def params_file(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text())
    return path


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_default_profile_runs_one_seed(params_file):
    params = load_params(params_file)
    assert params.active.seeds == [params.seed]


def test_seeds_are_validated(params_file, tmp_path):
    data = yaml.safe_load(params_file.read_text())
    active = data["profile"]  # default, or smoke in the smoke board's checkout (test_new_method_flow.py)
    bad = copy.deepcopy(data)
    bad["profiles"][active]["seeds"] = [1, 2]
    with pytest.raises(ParamsError, match="first seed is the pipeline's own run"):
        load_params(_write(tmp_path / "a.yaml", bad))
    bad["profiles"][active]["seeds"] = [0, 1, 1]
    with pytest.raises(ParamsError, match="distinct"):
        load_params(_write(tmp_path / "b.yaml", bad))
    good = copy.deepcopy(data)
    good["profiles"][active]["seeds"] = [0, 1, 2]
    assert load_params(_write(tmp_path / "c.yaml", good)).active.seeds == [0, 1, 2]


def test_replicate_runs_the_stage_commands_with_its_seed(params_file):
    params = load_params(params_file)
    steps = replicate_steps(params_file, 3, Path("data"), Path("ck"), Path("res"))
    names = [s.name for s in steps]
    assert names[0] == "pretrain_backbone"
    # rootnet-k-only depends on no training seed: a replicate of it would repeat seed 0's results
    # (of the built-in blocks, the only one; a method added to this checkout may be another)
    left_out = set(unseeded_methods(params_file))
    built_in = {key for key, block in params.methods.items() if is_builtin(block.method)}
    assert left_out & built_in == {"rootnet-k-only"}
    assert len(steps) == (1 + len(params.methods) - len(left_out)
                          + sum(ev.method not in left_out for ev in params.evaluations.values())
                          + sum(sc.method not in left_out for sc in params.scores.values()))
    assert not any("rootnet-k-only" in s.name for s in steps)
    assert not {f"train@{key}" for key in left_out} & set(names)
    # every seeded block trains, after the checkpoint it starts from: the pre-trained backbone,
    # nothing (`init: none`) or another block's
    for key, block in params.methods.items():
        if key in left_out:
            continue
        start = {"backbone": "pretrain_backbone", "none": None}.get(block.init, f"train@{block.init}")
        if start is not None:
            assert names.index(start) < names.index(f"train@{key}")
        assert f"train@{key}" in names
    # every training and inference step takes the replicate's seed and folders; the data stay
    for step in steps:
        argv = list(step.argv)
        if "--seed" in argv:
            assert argv[argv.index("--seed") + 1] == "3"
        if "--checkpoints" in argv:
            assert argv[argv.index("--checkpoints") + 1] == str(Path("ck") / "seed-3")
        if "--results" in argv:
            assert argv[argv.index("--results") + 1] == str(Path("res") / "seed-3")
        assert argv[argv.index("--data-dir") + 1] == "data"
    predict = next(s for s in steps if s.name == "predict@ransac-synth-h36m-relative")
    assert predict.done_when == Path("res") / "seed-3" / "ransac" / "synth-h36m-relative@3.json"


def test_a_method_without_init_is_replicated_without_the_backbone(params_file):
    """`init: none` (`poseboard new-method --init none`): its training starts from nothing, so no
    backbone is pre-trained or copied for it, as in dvc.yaml."""
    data = yaml.safe_load(params_file.read_text())
    data["methods"]["ransac-scratch"] = data["methods"]["ransac"] | {"init": "none"}
    _write(params_file, data)
    for reuse in (False, True):
        (step,) = replicate_steps(params_file, 2, reuse_backbone=reuse, only=["ransac-scratch"])
        assert step.name == "train@ransac-scratch" and step.argv[step.argv.index("--init") + 1] == "none"


def test_the_pipelines_own_seed_is_not_a_replicate(params_file):
    with pytest.raises(InputError, match="pipeline's own run"):
        replicate_steps(params_file, 0)


def test_run_replicate_resumes_and_stops_at_a_failure(tmp_path):
    done = tmp_path / "done"
    done.write_text("x")
    marker = tmp_path / "ran"
    steps = [
        ReplicateStep("finished", (sys.executable, "-c", "raise SystemExit(9)"), done),
        ReplicateStep("runs", (sys.executable, "-c", f"open({str(marker)!r}, 'w').write('y')"), marker),
        ReplicateStep("fails", (sys.executable, "-c", "raise SystemExit(3)"), tmp_path / "never"),
        ReplicateStep("not reached", (sys.executable, "-c", "raise SystemExit(4)"), tmp_path / "never2"),
    ]
    lines: list[str] = []
    assert run_replicate(steps, echo=lines.append) == 3
    assert marker.exists()
    assert lines[1].startswith("finished: done") and any("fails failed (exit 3)" in line for line in lines)
    assert not any(line.startswith("not reached") for line in lines)


def test_a_replicate_trains_at_the_pipelines_thread_count(tmp_path, monkeypatch):
    """A seed trained at 1 and 2 torch threads gives other floats: without POSEBOARD_THREADS in the
    calling shell, each step gets make repro's 2; an explicit value is kept."""
    out = tmp_path / "threads"
    step = ReplicateStep("reads", (sys.executable, "-c", "import os; open(" + repr(str(out)) + ", 'w')"
                                   ".write(os.environ['POSEBOARD_THREADS'] + os.environ['DVC_NO_ANALYTICS'])"), out)
    monkeypatch.delenv("POSEBOARD_THREADS", raising=False)
    lines: list[str] = []
    assert run_replicate([step], echo=lines.append) == 0
    assert out.read_text() == "21" and lines[0] == "torch threads per step: 2 (POSEBOARD_THREADS)"
    out.unlink()
    monkeypatch.setenv("POSEBOARD_THREADS", "1")
    assert run_replicate([step], echo=lambda _: None) == 0
    assert out.read_text() == "11"


def test_replicate_command_dry_run(params_file):
    runner = CliRunner()
    out = runner.invoke(app, ["replicate", "--seed", "1", "--params", str(params_file), "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "pretrain_backbone:" in out.output and "--checkpoints checkpoints/seed-1" in out.output
    assert "left out: rootnet-k-only (no training seed" in out.output
    assert "train@rootnet-k-only" not in out.output and "train@rootnet:" in out.output
    out = runner.invoke(app, ["replicate", "--params", str(params_file), "--dry-run"])
    assert out.exit_code == 2 and "lists one seed" in out.output


def test_a_replicate_can_be_limited_and_reuse_the_backbone(params_file, tmp_path):
    steps = replicate_steps(params_file, 2, Path("data"), tmp_path / "ck", Path("res"), reuse_backbone=True,
                            only=["volumetric"], protocols=["synth-h36m-relative"])
    # volumetric starts from algebraic: both train; only volumetric's relative protocol is scored
    assert [s.name for s in steps] == ["copy the pipeline's backbone", "train@algebraic", "train@volumetric",
                                       "predict@volumetric-synth-h36m-relative"]
    source = tmp_path / "ck" / "backbone"
    source.mkdir(parents=True)
    (source / "backbone.pt").write_bytes(b"weights")
    assert run_replicate(steps[:1], echo=lambda _: None) == 0
    assert (tmp_path / "ck" / "seed-2" / "backbone" / "backbone.pt").read_bytes() == b"weights"
    with pytest.raises(InputError, match="volumetrc not under `methods`"):
        replicate_steps(params_file, 2, only=["volumetrc"])
    with pytest.raises(InputError, match="rootnet-k-only depends on no training seed"):
        replicate_steps(params_file, 2, only=["rootnet", "rootnet-k-only"])
