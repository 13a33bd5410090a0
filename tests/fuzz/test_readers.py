"""The fixed-seed fuzz run (issue 80): every reader of a user's file, its generated seed file
mutated a fixed number of times under seed 80, each reader in its own process under a 1 GiB
memory limit (poseboard.workflows.fuzz_run). Every mutant is refused (a PoseboardError naming
the file, nothing written) or accepted with finite output; none crashes. About a minute in all
on 2 cores; ``poseboard fuzz --mutants N --seed S`` runs longer ones."""

from __future__ import annotations

import pytest

from poseboard.workflows.fuzz import table_row
from poseboard.workflows.fuzz_readers import READERS
from poseboard.workflows.fuzz_run import run_isolated

SEED = 80
#: mutants per reader: sized so that each takes a few seconds (params.yaml is 27 kB of YAML)
MUTANTS = {
    "predictions": 800, "root-predictions": 1500, "method-card": 1000, "submitted-result": 1000,
    "opencv-yaml": 1800, "opencv-xml": 1500, "easymocap": 1500, "anipose": 1000, "panoptic": 1200,
    "human36m": 1500, "rig-json": 1500, "bvh": 1000, "motion-npz": 400, "motion-library": 400,
    "joint-map": 800, "categories": 800, "params": 150, "protocol": 800,
}
def test_every_reader_is_fuzzed():
    assert set(MUTANTS) == set(READERS)


@pytest.mark.parametrize("name", list(READERS))
def test_fixed_seed_fuzz(name, tmp_path):
    report = run_isolated(name, SEED, tmp_path, range(MUTANTS[name]))
    assert report.seed_error is None, f"the seed file itself is not accepted: {report.seed_error}"
    assert len(report.outcomes) == MUTANTS[name]
    crashes = "\n".join(f"mutant {o.index} ({o.operation}: {o.detail[:120]}): {o.message[:300]}"
                        for o in report.crashes[:10])
    assert report.crashes == [], (f"{table_row(report)}\n{crashes}\nrebuild one: poseboard fuzz --reader {name} "
                                  f"--seed {SEED} --mutant K --keep fuzz-mutants")
    assert report.count("refused") > 0
