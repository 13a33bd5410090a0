"""Code fingerprints (poseboard/fingerprint.py): the stage that stands in dvc.lock for the code a
kind of stage runs must change exactly when that code changes, and dvc.yaml must route every
stage's code through one (the lock stays small: DVC rewrites it after every stage)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from poseboard.errors import InputError
from poseboard.fingerprint import OWN_PATH, STAGES, fingerprint, stage_deps

ROOT = Path(__file__).resolve().parents[1]


def _tree(root: Path) -> None:
    (root / "poseboard" / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "poseboard" / "a.py").write_text("A = 1\n")
    (root / "poseboard" / "b.py").write_text("B = 1\n")
    (root / "poseboard" / "pkg" / "m.py").write_text("M = 1\n")
    (root / "poseboard" / "pkg" / "table.yaml").write_text("k: v\n")
    (root / "poseboard" / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\x00compiled")
    (root / "poseboard" / "fingerprint.py").write_text("# the command itself\n")


def _dvc_yaml(root: Path, deps: list[str]) -> Path:
    path = root / "dvc.yaml"
    path.write_text(yaml.safe_dump({"stages": {"x_code": {
        "cmd": "python -m poseboard.fingerprint x_code --out fingerprints/x.json",
        "deps": deps, "outs": [{"fingerprints/x.json": {"cache": False}}]}}}))
    return path


def test_a_fingerprint_changes_exactly_when_a_listed_file_does(tmp_path):
    _tree(tmp_path)
    paths = [OWN_PATH, "poseboard/a.py", "poseboard/pkg"]
    first = fingerprint(tmp_path, paths)
    # a folder stands for its files, compiled ones left out; the command's own module is not code
    # the stages downstream run
    assert list(first) == ["poseboard/a.py", "poseboard/pkg/m.py", "poseboard/pkg/table.yaml"]
    assert first["poseboard/a.py"] == hashlib.sha256(b"A = 1\n").hexdigest()
    assert fingerprint(tmp_path, paths) == first  # the same files, the same fingerprint

    (tmp_path / "poseboard" / "b.py").write_text("B = 2\n")  # not listed
    (tmp_path / "poseboard" / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\x00other")
    (tmp_path / "poseboard" / "fingerprint.py").write_text("# reworded\n")
    assert fingerprint(tmp_path, paths) == first

    (tmp_path / "poseboard" / "pkg" / "m.py").write_text("M = 2\n")  # listed, through its folder
    changed = fingerprint(tmp_path, paths)
    assert {k for k in first if first[k] != changed[k]} == {"poseboard/pkg/m.py"}
    (tmp_path / "poseboard" / "pkg" / "new.py").write_text("N = 1\n")  # a new file in a listed folder
    assert "poseboard/pkg/new.py" in fingerprint(tmp_path, paths)


def test_a_missing_path_or_stage_is_named(tmp_path):
    _tree(tmp_path)
    with pytest.raises(InputError, match=r"poseboard/gone\.py: not found.*fix dvc\.yaml"):
        fingerprint(tmp_path, ["poseboard/a.py", "poseboard/gone.py"])
    dvc_yaml = _dvc_yaml(tmp_path, [OWN_PATH, "poseboard/a.py"])
    with pytest.raises(InputError, match=r"no stage 'y_code' \(its fingerprint stages: x_code\)"):
        stage_deps(dvc_yaml, "y_code")
    with pytest.raises(InputError, match=r"lists no code"):
        stage_deps(_dvc_yaml(tmp_path, [OWN_PATH]), "x_code")
    with pytest.raises(InputError, match=r"plain paths"):
        stage_deps(_dvc_yaml(tmp_path, [OWN_PATH, "poseboard/${item.code}"]), "x_code")


def test_the_command_writes_the_stage_deps_hashes(tmp_path):
    repo = tmp_path / "repo"  # not the working folder: `python -m` would import its fake package
    _tree(repo)
    _dvc_yaml(repo, [OWN_PATH, "poseboard/a.py", "poseboard/pkg"])
    out = repo / "fingerprints" / "x.json"

    def command(stage: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "poseboard.fingerprint", stage, "--dvc-yaml", "repo/dvc.yaml",
                               "--out", "repo/fingerprints/x.json"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    run = command("x_code")
    assert run.returncode == 0, run.stderr
    written = json.loads(out.read_text())
    assert written == {"stage": "x_code", "files": fingerprint(repo, ["poseboard/a.py", "poseboard/pkg"])}
    bad = command("nope")
    assert bad.returncode == 2 and "no stage 'nope'" in bad.stderr
    assert json.loads(out.read_text()) == written  # nothing lost


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_dvc_yaml_routes_each_kind_of_stage_through_its_fingerprint():
    """The fingerprint stages are :data:`STAGES`, each hashing its own deps into its own file, and
    the generate@/train@/predict@/score@ stages list no code of their own but a method's module
    (train@) and a protocol's definition (predict@, score@): code listed there would be repeated
    in dvc.lock once per stage again."""
    stages = _stages()
    fingerprinting = {name: body for name, body in stages.items() if "poseboard.fingerprint" in body.get("cmd", "")}
    assert tuple(fingerprinting) == STAGES
    for name, body in fingerprinting.items():
        kind = name.removesuffix("_code")
        assert body["cmd"] == f"python -m poseboard.fingerprint {name} --out fingerprints/{kind}.json"
        assert body["outs"] == [{f"fingerprints/{kind}.json": {"cache": False}}]
        assert OWN_PATH in body["deps"] and "poseboard/io.py" in body["deps"]  # what the command imports
        assert stage_deps(ROOT / "dvc.yaml", name) == body["deps"]
        assert all((ROOT / d).exists() for d in body["deps"]), name

        do = stages[kind]["do"]
        assert f"fingerprints/{kind}.json" in do["deps"]
        own = [d for d in do["deps"] if d.startswith("poseboard/")]
        assert set(own) <= {"${item.code}", "poseboard/protocols/definitions/${item.protocol}.yaml"}, (kind, own)
    assert set(stages["train"]["do"]["deps"]) >= {"${item.code}"}


def test_dvcignore_keeps_compiled_python_out_of_folder_hashes(tmp_path):
    """A folder dep (poseboard/harness) must not change when Python writes its ``__pycache__``."""
    dvc = Path(sys.executable).with_name("dvc")
    repo = tmp_path / "repo"
    (repo / "pkg" / "__pycache__").mkdir(parents=True)
    (repo / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\x00")
    (repo / "pkg" / "m.pyc").write_bytes(b"\x00")
    (repo / ".dvcignore").write_text((ROOT / ".dvcignore").read_text())
    env = {"DVC_NO_ANALYTICS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run([str(dvc), "init", "-q"], cwd=repo, check=True, env=env)
    run = subprocess.run([str(dvc), "check-ignore", "pkg/__pycache__/m.cpython-311.pyc", "pkg/m.pyc"],
                         cwd=repo, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and run.stdout.split() == ["pkg/__pycache__/m.cpython-311.pyc", "pkg/m.pyc"], run
