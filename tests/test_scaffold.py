"""`poseboard new-method`: the module, test, params block and registry entry it writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from poseboard.errors import InputError
from poseboard.params import load_params
from poseboard.workflows.scaffold import scaffold_method

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of what the scaffold reads and writes (the package, tests/methods, params.yaml)."""
    shutil.copytree(ROOT / "poseboard", tmp_path / "poseboard", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tests" / "methods").mkdir(parents=True)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_scaffold_writes_everything(repo):
    before = load_params(repo / "params.yaml")
    rep = scaffold_method("my-baseline", repo)
    assert rep.module == repo / "poseboard" / "methods" / "my_baseline.py"
    assert rep.test.exists() and rep.module.exists()
    params = load_params(repo / "params.yaml")
    assert "my-baseline" in params.methods and set(params.methods) - {"my-baseline"} == set(before.methods)
    assert params.methods["my-baseline"].init == "backbone"
    assert set(params.methods["my-baseline"].profiles) == set(params.profiles)
    ev = params.evaluations["my-baseline-synth-h36m-relative"]
    assert (ev.method, ev.protocol_id) == ("my-baseline", "synth-h36m-relative@3")
    assert '"my-baseline": "poseboard.methods.my_baseline:MyBaselineMethod"' in rep.registry.read_text()
    # comments of params.yaml survive
    assert "# Which method is scored under which protocol" in (repo / "params.yaml").read_text()
    with pytest.raises(InputError, match="already exists"):
        scaffold_method("my-baseline", repo)
    with pytest.raises(InputError, match="lower-case"):
        scaffold_method("My Method", repo)


def test_generated_method_passes_its_test_and_lint(repo):
    rep = scaffold_method("tiny", repo, protocol="synth-h36m-absolute")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(repo),
                           str(rep.test)], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4 passed" in proc.stdout
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        lint = subprocess.run([ruff, "check", str(rep.module), str(rep.test)], cwd=repo, capture_output=True,
                              text=True)
        assert lint.returncode == 0, lint.stdout


def test_scaffold_root_localisation_writes_everything(repo):
    """`--task root_localisation`: a root method trained on synth-mupots, evaluated under
    synth-mupots-root (the harness RootNet runs through), registered; the default is unchanged."""
    before = load_params(repo / "params.yaml")
    rep = scaffold_method("my-roots", repo, task="root_localisation")
    assert rep.task == "root_localisation" and rep.evaluation == "my-roots-synth-mupots-root"
    params = load_params(repo / "params.yaml")
    assert set(params.methods) - {"my-roots"} == set(before.methods)
    block = params.methods["my-roots"]
    assert (block.method, block.init, block.dataset) == ("my-roots", "backbone", "synth-mupots")
    assert set(block.profiles) == set(params.profiles)
    ev = params.evaluations["my-roots-synth-mupots-root"]
    assert (ev.method, ev.protocol_id, ev.dataset) == ("my-roots", "synth-mupots-root@2", "synth-mupots")
    assert '"my-roots": "poseboard.methods.my_roots:MyRootsMethod"' in rep.registry.read_text()
    text = rep.module.read_text()
    assert 'outputs=("root",)' in text and 'output_frame="camera"' in text and "person_boxes" in text
    # a protocol of the other task, or an unknown task, is refused before anything is written
    with pytest.raises(InputError, match="is a multiview_pose protocol"):
        scaffold_method("other-roots", repo, protocol="synth-h36m-relative", task="root_localisation")
    with pytest.raises(InputError, match="is a root_localisation protocol"):
        scaffold_method("other-pose", repo, protocol="synth-mupots-root")
    with pytest.raises(InputError, match="not one of"):
        scaffold_method("other-task", repo, task="segmentation")  # type: ignore[arg-type]
    assert not any((repo / "poseboard" / "methods").glob("other_*.py"))
    assert set(load_params(repo / "params.yaml").methods) == set(params.methods)


def test_generated_root_method_passes_its_test_lint_and_capability_check(repo):
    rep = scaffold_method("tiny-root", repo, protocol="synth-mupots-root-detected", task="root_localisation")
    assert rep.evaluation == "tiny-root-synth-mupots-root-detected"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    check = ("from poseboard.methods.registry import get_method; from poseboard.protocols.registry import "
             "get_protocol; cls = get_method('tiny-root'); "
             "[get_protocol(p).check_method(cls.name, cls.capabilities) for p in "
             "('synth-mupots-root@2', 'synth-mupots-root-detected@2', 'synth-h36m-root@3')]")
    proc = subprocess.run([sys.executable, "-c", check], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(repo),
                           str(rep.test)], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4 passed" in proc.stdout
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        lint = subprocess.run([ruff, "check", str(rep.module), str(rep.test)], cwd=repo, capture_output=True,
                              text=True)
        assert lint.returncode == 0, lint.stdout


def test_new_method_command_task_option(repo):
    from typer.testing import CliRunner

    from poseboard.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["new-method", "cli-roots", "--task", "root_localisation", "--root", str(repo)])
    assert result.exit_code == 0, result.output
    assert "evaluations.cli-roots-synth-mupots-root" in result.output
    result = runner.invoke(app, ["new-method", "cli-pose", "--root", str(repo)])  # default: multiview_pose
    assert result.exit_code == 0, result.output
    assert "evaluations.cli-pose-synth-h36m-relative" in result.output
    result = runner.invoke(app, ["new-method", "cli-bad", "--task", "roots", "--root", str(repo)])
    assert result.exit_code == 2 and "not one of" in result.output
    assert not (repo / "poseboard" / "methods" / "cli_bad.py").exists()


@pytest.mark.parametrize("bad", ["../../escaped", "/tmp/x", "a/b", "<img src=x>", "my-method\n", "x", "Caps",
                                 "tab\tname", "a" * 42])
def test_new_method_refuses_names_that_would_choose_a_path(repo, bad):
    """Issue 21: the name becomes a module file, a params key and a registry entry: a bad one
    is refused with the rule, and nothing in the tree changes."""
    def tree() -> dict[str, bytes]:
        return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}

    before = tree()
    with pytest.raises(InputError, match="lower-case letters") as err:
        scaffold_method(bad, repo)
    assert repr(bad) in str(err.value)
    assert tree() == before
    assert not (repo.parent / "escaped.py").exists()
