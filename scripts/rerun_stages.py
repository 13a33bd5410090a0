"""Re-run the predict and score stages of ``params.yaml`` for some methods, in a checkout
whose ``data/`` and ``checkpoints/`` come from another run, to check that a code change left
every result byte-identical (issue 19: the harness move).

    python scripts/rerun_stages.py TREE METHOD [METHOD ...]
    cmp TREE/results/<method>/<protocol>.json  results/<method>/<protocol>.json

TREE: a ``git worktree`` of the new code with ``data`` and ``checkpoints`` linked to the
run being compared against. Runs each stage's command as ``dvc.yaml`` writes it (with
``TREE`` first on ``PYTHONPATH``) and prints its exit code and wall time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from poseboard.pipeline_env import pipeline_env


def main(tree: Path, methods: set[str]) -> int:
    params = yaml.safe_load((tree / "params.yaml").read_text())
    env = pipeline_env() | {"PYTHONPATH": str(tree)}
    failed = 0

    def run(cmd: list[str], label: str) -> None:
        nonlocal failed
        start = time.time()
        proc = subprocess.run([sys.executable, *cmd], cwd=tree, env=env, capture_output=True, text=True)
        failed += proc.returncode != 0
        tail = proc.stderr[-300:] if proc.returncode else ""
        print(f"{label}: rc={proc.returncode} {time.time() - start:.0f}s {tail}")

    for key, ev in params["evaluations"].items():
        if ev["method"] in methods:
            run(["-m", "poseboard.harness.commands", "predict", ev["method"], "--protocol",
                 f"{ev['protocol']}@{ev['version']}", "--data-dir", "data", "--checkpoints", "checkpoints",
                 "--results", "results", "--seed", str(params["seed"]), "--quiet", "--declared-dataset", ev["dataset"]],
                f"predict@{key}")
    for key, sc in params.get("scores", {}).items():
        if sc["method"] in methods:
            run(["-m", "poseboard.pipeline", "score", sc["method"], "--protocol", f"{sc['protocol']}@{sc['version']}",
                 "--predictions", sc["predictions"], "--data-dir", "data", "--results", "results",
                 "--declared-dataset", sc["dataset"]], f"score@{key}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1]).resolve(), set(sys.argv[2:])))
