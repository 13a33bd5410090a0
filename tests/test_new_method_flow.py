"""The README's add-a-method flow on the smoke profile, then the suite's checks of the committed
board in that checkout (issue 71): `poseboard new-method` with ``--init none`` and with
``--init backbone``, `poseboard method` for each (its own stages only), then, run by pytest
inside the checkout as `make test` runs them there, the tests that rebuild the committed board
(report/tables/, report/board.md) from the committed results/, walk the
pipeline's stages (replicates) or validate params.yaml, and the two methods' generated tests.
A method a user adds (its params.yaml block, its module, its untracked results/<name>/ and
dvc.lock entries) must leave them green.

Minutes (two smoke trainings and a pytest run, on the committed smoke board that
``conftest.smoke_board`` builds once and test_method_run.py shares): it runs when
``POSEBOARD_PIPELINE_TEST=1`` (``.ci/run`` sets it) and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("POSEBOARD_PIPELINE_TEST") != "1",
                       reason="smoke dvc repro runs take minutes: set POSEBOARD_PIPELINE_TEST=1"),
]

#: The added methods: name → ``--init``.
METHODS = {"from-scratch": "none", "from-backbone": "backbone"}

#: The suite's checks of the committed board and of the files a method adds to, run in the checkout.
CHECKS = [
    "tests/report/test_claims.py::test_committed_index_matches_the_committed_results",
    "tests/report/test_board.py::test_committed_board_matches_the_committed_results",
    "tests/test_replicates.py",
    "tests/test_params.py",
]


def _poseboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "poseboard.cli", *args]


def test_added_methods_leave_the_board_checks_green(smoke_board, run_as_user, tmp_path):
    # a checkout where the board's data and checkpoints are present, as after `make repro`
    repo = tmp_path / "checkout"
    shutil.copytree(smoke_board, repo, symlinks=True,
                    ignore=lambda folder, names: ["tmp"] if Path(folder) == smoke_board / ".dvc" else [])
    for name, init in METHODS.items():
        run_as_user(_poseboard("new-method", name, "--init", init), repo)
    for name, init in METHODS.items():
        out = run_as_user(_poseboard("method", name), repo, timeout=1500).stdout
        ran = set(re.findall(r"^Running stage '([^']+)'", out, flags=re.MULTILINE))
        # its own stages only: `init: none` waits for the no_init marker, not for pre-training
        assert ran == {f"train@{name}", f"predict@{name}-synth-h36m-relative"} | (
            {"no_init"} if init == "none" else set()), ran
        result = json.loads((repo / "results" / name / "synth-h36m-relative@3.json").read_text())
        assert result["method"]["name"] == name
        assert re.search(rf"synth-h36m-relative@3: {name} MPJPE[^\n]* = [\d.]+ mm", out), out[-3000:]
    # what the checks must not count as the committed board: the methods' untracked results
    untracked = run_as_user(["git", "status", "--porcelain", "--untracked-files=all", "results"], repo).stdout
    assert all(f"?? results/{name}/synth-h36m-relative@3.json" in untracked for name in METHODS), untracked

    generated = [f"tests/methods/test_{name.replace('-', '_')}.py" for name in METHODS]
    checks = run_as_user([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CHECKS, *generated],
                         repo, timeout=1500, ok=False)
    output = checks.stdout + checks.stderr
    assert checks.returncode == 0, output[-8000:]
    assert " failed" not in output and " passed" in output, output[-3000:]
