"""Every malformed input of scripts/bad_inputs.py (53 across the CLI and every file format)
is refused cleanly: exit code 2, a message that says what is wrong and names the file or
option, and nothing written to the folders the command would write (issue 21)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bad_inputs.py"


@pytest.fixture(scope="module")
def bad_inputs():
    spec = importlib.util.spec_from_file_location("bad_inputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_inputs"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def world(bad_inputs, tmp_path_factory):
    return bad_inputs.World(tmp_path_factory.mktemp("world"))


def test_there_are_at_least_forty_cases(bad_inputs, world):
    cases = bad_inputs.cases(world)
    assert len(cases) >= 40
    assert len({c.name for c in cases}) == len(cases)
    assert {"predictions", "motion", "rig", "checkpoint", "method card", "protocol YAML", "params.yaml",
            "result JSON", "CLI option", "method name"} <= {c.kind for c in cases}


def test_every_case_is_refused_cleanly(bad_inputs, world, tmp_path):
    rows = [bad_inputs.run_case(c, tmp_path) for c in bad_inputs.cases(world)]
    failed = [(r["case"], r["exit"], r["message"][:200], "wrote" if r["wrote"] else "")
              for r in rows if not r["ok"]]
    assert failed == []
