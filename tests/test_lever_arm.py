"""scripts/lever_arm.py: an arm's paired differences and growths, against numbers worked by hand.

The result files are hand-made (per-sequence errors chosen here) and written by the project's own
builder and writer, as tests/report/test_generalization.py writes its held-out results.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from poseboard.protocols.registry import get_protocol
from poseboard.report.generalization import IN_DISTRIBUTION, NOVEL_SPLITS

sys.path.insert(0, str(Path(__file__).parent / "report"))  # the result writer (pytest --import-mode=importlib)
from result_writer import write_sequence_result

REPO = Path(__file__).resolve().parents[1]
LABELS = [f"S9/{action}-{k}" for action in ("Walking", "Eating") for k in range(6)]
FRAMES = 4


def _load():
    spec = importlib.util.spec_from_file_location("lever_arm", REPO / "scripts" / "lever_arm.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _write(results: Path, method: str, pid: str, means: np.ndarray) -> None:
    """One result file whose per-sequence mean errors are ``means`` (FRAMES frames each); a version
    the registry no longer defines (an older board's) is the current definition renumbered."""
    name, _, version = pid.partition("@")
    protocol = get_protocol(name)
    if protocol.version != int(version):
        protocol = protocol.model_copy(update={"version": int(version)})
    write_sequence_result(results, method, protocol, LABELS, means, FRAMES,
                          [lb.split("/")[1].split("-")[0] for lb in LABELS], protocol.split)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """Board and arm: in distribution the arm is 10 mm better on every sequence; on every held-out
    split the board grows by 50 % of its in-distribution error and the arm by 20 % of its own."""
    root = tmp_path_factory.mktemp("lever_arm")
    board, arm = root / "board", root / "arm"
    base = np.random.default_rng(0).uniform(80, 120, len(LABELS))
    _write(board, "m", IN_DISTRIBUTION, base)
    _write(arm, "m", IN_DISTRIBUTION, base - 10)
    for pid in NOVEL_SPLITS.values():
        _write(board, "m", pid, base * 1.5)
        _write(arm, "m", pid, (base - 10) * 1.2)
    return board, arm


def test_differences_and_growths_match_the_hand_computation(folders):
    board, arm = folders
    rows, left_out = _load().arm_rows(board, arm, ["m"], n_resamples=500)
    assert [r.split for r in rows] == ["in distribution", *NOVEL_SPLITS] and left_out == []
    base = np.random.default_rng(0).uniform(80, 120, len(LABELS)).mean()
    first = rows[0]
    assert first.board == pytest.approx(base) and first.arm == pytest.approx(base - 10)
    # a constant shift on every sequence: the difference exactly, a zero-width interval, decided
    assert first.difference == pytest.approx(-10.0)
    assert first.ci95 == pytest.approx((-10.0, -10.0))
    assert first.p_value < 0.01
    assert first.growth_board is None and first.growth_arm is None
    for r in rows[1:]:
        assert r.board == pytest.approx(1.5 * base) and r.arm == pytest.approx(1.2 * (base - 10))
        assert r.difference == pytest.approx(1.2 * (base - 10) - 1.5 * base)
        assert r.ci95[0] <= r.difference <= r.ci95[1] and r.ci95[1] < 0
        assert r.growth_board == pytest.approx(50.0) and r.growth_arm == pytest.approx(20.0)
    table = _load().markdown(rows)
    assert f"| m | novel rig (`{NOVEL_SPLITS['novel rig']}`) | {1.5 * base:.1f} | {1.2 * (base - 10):.1f} |" in table
    assert "| +50 % | +20 % |" in table


def test_a_missing_result_is_a_user_error_naming_it(folders, tmp_path):
    board, _ = folders
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "lever_arm.py"), "--board", str(board),
                          "--arm", str(tmp_path), "m"], capture_output=True, text=True)
    assert out.returncode == 2
    assert str(tmp_path) in out.stderr and "'m'" in out.stderr and IN_DISTRIBUTION in out.stderr


def test_an_older_board_is_compared_under_the_version_both_hold(tmp_path):
    """An arm scored on an older board's splits (novel rig at version 2, no extrapolation split):
    the novel rig is compared under version 2, the split neither folder shares is left out and named."""
    board, arm = tmp_path / "board", tmp_path / "arm"
    base = np.random.default_rng(1).uniform(80, 120, len(LABELS))
    for folder, shift in ((board, 0.0), (arm, -5.0)):
        _write(folder, "m", IN_DISTRIBUTION, base + shift)
        _write(folder, "m", "synth-novel-rig@2", base + shift + 20)
    _write(board, "m", NOVEL_SPLITS["novel rig"], base + 99)  # the newer version on one side only: not used
    rows, left_out = _load().arm_rows(board, arm, ["m"], n_resamples=200)
    rig = next(r for r in rows if r.split == "novel rig")
    assert rig.protocol == "synth-novel-rig@2" and rig.difference == pytest.approx(-5.0)
    assert [r.split for r in rows] == ["in distribution", "novel rig"]
    assert left_out == [f"m: {label} (`{pid}`)" for label, pid in NOVEL_SPLITS.items() if label != "novel rig"]


def _seeded_board(folder: Path, base: np.ndarray, shifts: list[float]) -> None:
    """``folder`` holds seed 0 (``base``) and seeds 1… (``base`` + each shift), in distribution."""
    from poseboard.protocols.results import read_result, result_path, write_result

    for seed, shift in enumerate([0.0, *shifts]):
        where = folder if seed == 0 else folder / f"seed-{seed}"
        _write(where, "m", IN_DISTRIBUTION, base + shift)
        path = result_path(where, "m", IN_DISTRIBUTION)
        r = read_result(path)
        r.seeds = {**r.seeds, "train": seed}
        write_result(r, path)


def test_a_single_run_against_a_seed_mean_adds_both_seed_variances(tmp_path):
    """A board averaged over two seeds (seed 1 is 4 mm worse on every sequence) against a single-run
    arm: the difference is from the seed mean, and the test adds the mean's seed variance (s²/2)
    and the arm's single run's (s², estimated by the same seeds), Student's t at those seeds' one
    degree of freedom; the sequences add nothing (constant shifts)."""
    from scipy import stats

    board, arm = tmp_path / "board", tmp_path / "arm"
    base = np.random.default_rng(2).uniform(80, 120, len(LABELS))
    _seeded_board(board, base, [4.0])
    _write(arm, "m", IN_DISTRIBUTION, base - 10)
    (row,), _ = _load().arm_rows(board, arm, ["m"], n_resamples=500)
    assert row.seeds == (2, 1) and row.test == "paired + seed noise"
    assert row.board == pytest.approx(base.mean() + 2) and row.difference == pytest.approx(-12.0)
    s2 = np.var([0.0, 4.0], ddof=1)
    half = stats.t.ppf(0.975, 1) * np.sqrt(s2 / 2 + s2)  # one estimate from two seeds: 1 degree of freedom
    assert row.ci95 == pytest.approx((-12.0 - half, -12.0 + half), rel=1e-6)
    assert "| paired + seed noise (2 vs 1 seeds) |" in _load().markdown([row])


def test_two_single_runs_take_their_training_noise_from_another_folders_seeds(tmp_path):
    """Two single runs (the arm 3 mm better on every sequence) with --seed-noise naming a board of
    three seeds (0, +4, +2 mm): each run carries one run's variance s² of those seeds, so the
    difference's is 2 s² at their two degrees of freedom; without the option the test is the
    sequences' alone (constant shifts: an interval of zero width)."""
    from scipy import stats

    base = np.random.default_rng(3).uniform(80, 120, len(LABELS))
    board, arm, seeds = tmp_path / "board", tmp_path / "arm", tmp_path / "seeds"
    _write(board, "m", IN_DISTRIBUTION, base)
    _write(arm, "m", IN_DISTRIBUTION, base - 3)
    _seeded_board(seeds, base + 20, [4.0, 2.0])
    module = _load()
    (plain,), _ = module.arm_rows(board, arm, ["m"], n_resamples=500)
    assert plain.test == "paired" and plain.ci95 == pytest.approx((-3.0, -3.0))
    (row,), _ = module.arm_rows(board, arm, ["m"], n_resamples=500, seed_noise=seeds)
    assert row.seeds == (1, 1) and row.test == "paired + seed noise"
    assert row.difference == pytest.approx(-3.0) and row.board == pytest.approx(base.mean())
    half = stats.t.ppf(0.975, 2) * np.sqrt(2 * np.var([0.0, 4.0, 2.0], ddof=1))
    assert row.ci95 == pytest.approx((-3.0 - half, -3.0 + half), rel=1e-6)
    # two single runs on the sequences alone are flagged; with the seeds' noise they are not
    assert "two single runs" in module.training_noise_note([plain])
    assert module.training_noise_note([row]) is None


def test_seed_noise_from_a_single_seed_is_a_user_error(tmp_path):
    from poseboard.errors import InputError

    base = np.random.default_rng(4).uniform(80, 120, len(LABELS))
    board, arm, seeds = tmp_path / "board", tmp_path / "arm", tmp_path / "seeds"
    _write(board, "m", IN_DISTRIBUTION, base)
    _write(arm, "m", IN_DISTRIBUTION, base - 3)
    _seeded_board(seeds, base, [])
    with pytest.raises(InputError, match=r"--seed-noise: one seed of m under .*two or more"):
        _load().arm_rows(board, arm, ["m"], n_resamples=200, seed_noise=seeds)
