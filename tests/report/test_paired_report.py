"""Paired comparisons on real result files: per-sequence errors round-trip, the leaderboard's
"vs next" verdicts, seed replicates, older result files, refused pairings, and
``poseboard compare-methods``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.comparison.results import compare_results, find_replicates, sequence_table
from poseboard.errors import InputError, ResultFileError
from poseboard.protocols.results import read_result, read_results, write_result
from poseboard.report.build import render_html
from poseboard.report.model import build_boards
from poseboard.report.tables import verdict_lines

PROTOCOL = "synth-h36m-relative@3"


@pytest.fixture
def results(results_dir, tmp_path) -> Path:
    """A private copy of the session's scored results (tests here edit files)."""
    out = tmp_path / "results"
    shutil.copytree(results_dir, out)
    return out


def _path(results: Path, method: str) -> Path:
    return results / method / f"{PROTOCOL}.json"


def test_per_sequence_errors_round_trip_and_add_up(results):
    r = read_result(_path(results, "noise-8mm"))
    seq = r.metrics.main.per_sequence
    assert seq is not None and seq.metric == "mpjpe"
    assert seq.sequences == sorted(seq.sequences) and len(set(seq.sequences)) == len(seq.sequences)
    # the smoke split: 2 test subjects × 9 actions × 2 sequences
    assert len(seq.sequences) == 36 and sum(seq.frames) == r.metrics.main.num_frames
    assert sum(seq.sums) / sum(seq.frames) == pytest.approx(r.metrics.headline_value, rel=1e-12)
    again = read_result(write_result(r, results / "copy" / f"{PROTOCOL}.json"))
    assert again.metrics.main.per_sequence == seq
    # each sequence lies within one action: its stratum is that action
    per_action = r.metrics.main.per_action["mpjpe"]
    assert set(seq.strata) == set(per_action)


def test_board_compares_neighbours_paired(results):
    board = next(b for b in build_boards(read_results(results)) if b.id == PROTOCOL)
    assert [row.method for row in board.rows] == ["noise-8mm", "noise-20mm", "noise-20.5mm"]
    first = board.rows[0]
    assert first.vs_next_test == "paired" and first.differs_from_next
    assert first.vs_next.difference == pytest.approx(first.value - board.rows[1].value)
    assert first.vs_next.ci95[1] < 0 and first.vs_next_p_holm < 0.05
    assert board.num_sequences == 36 and board.detectable is not None and board.detectable > 0
    assert board.rows[-1].vs_next is None
    assert board.all_pairs is not None and board.all_pairs[1] == 3 and board.all_pairs[0] >= 2
    lines = "\n".join(verdict_lines(board))
    assert "Neighbours decided:" in lines and "36 independent sequences" in lines and "p (Holm)" in lines


def test_older_result_files_load_and_show_the_paired_columns_as_unavailable(results):
    for method in ("noise-8mm", "noise-20mm", "noise-20.5mm"):
        path = _path(results, method)
        data = json.loads(path.read_text())
        del data["metrics"]["main"]["per_sequence"]
        path.write_text(json.dumps(data))
    board = next(b for b in build_boards(read_results(results)) if b.id == PROTOCOL)
    first = board.rows[0]
    assert first.vs_next is None and first.vs_next_test == "intervals"
    assert "no per-sequence errors" in first.vs_next_unavailable
    assert board.detectable is None
    assert "paired test unavailable" in "\n".join(verdict_lines(board))


def test_seed_replicates_are_averaged_and_their_seed_variance_tested(results):
    """A second seed of noise-20mm (its per-sequence sums scaled by 1.1): the row averages the
    two seeds, reports their spread, and its comparisons add the variance of its seed mean at
    one degree of freedom (Student's t), in the board's verdicts too."""
    base = read_result(_path(results, "noise-20mm"))
    assert sequence_table([base]).num_seeds == 1
    rep = base.model_copy(deep=True)
    rep.seeds = {**rep.seeds, "train": 1}
    seq = rep.metrics.main.per_sequence
    seq.sums = [s * 1.1 for s in seq.sums]
    rep.metrics.headline_value *= 1.1
    rep.metrics.main.overall = {k: v * 1.1 for k, v in rep.metrics.main.overall.items()}
    base.seeds = {**base.seeds, "train": 0}
    write_result(base, _path(results, "noise-20mm"))
    write_result(rep, results / "seed-1" / "noise-20mm" / f"{PROTOCOL}.json")
    reps = find_replicates(results, "noise-20mm", "synth-h36m-relative")
    assert [r.seeds["train"] for r in reps] == [0, 1]
    board = next(b for b in build_boards(read_results(results)) if b.id == PROTOCOL)
    row = next(r for r in board.rows if r.method == "noise-20mm")
    assert row.value == pytest.approx(base.metrics.headline_value * 1.05)
    assert row.seed_sd == pytest.approx(np.std([base.metrics.headline_value, rep.metrics.headline_value], ddof=1))
    assert board.seeds == 2
    assert row.ci95[0] <= base.metrics.headline_value and row.ci95[1] >= rep.metrics.headline_value * 0.99
    c = compare_results(reps, find_replicates(results, "noise-8mm", PROTOCOL))
    assert c.seeds == (2, 1) and c.test == "paired + seed noise"
    spread = rep.metrics.headline_value - base.metrics.headline_value
    assert c.seed_variance == pytest.approx(spread**2 / 4) and c.seed_df == pytest.approx(1.0)  # s² / K, K − 1
    i = board.rows.index(row)  # the verdict that involves the two-seed row
    involved = board.rows[i] if i + 1 < len(board.rows) else board.rows[i - 1]
    assert involved.vs_next_test == "paired + seed noise" and involved.vs_next_ci_with_seeds is None
    # two results of one method with the same seed: the board refuses to guess
    write_result(rep, results / "seed-1-again" / "noise-20mm" / f"{PROTOCOL}.json")
    with pytest.raises(ResultFileError, match="same training seed"):
        build_boards(read_results(results))


def test_a_replicate_of_another_task_is_left_out_and_said(results):
    """Replicates committed for the default profile beside a pipeline re-run on other data (the
    smoke profile, a user's change) are not seeds of that run: the row keeps its own run, and the
    table says which replicate was left out and why, instead of failing to build."""
    base = read_result(_path(results, "noise-20mm"))
    base.seeds = {**base.seeds, "train": 0}
    write_result(base, _path(results, "noise-20mm"))
    other = base.model_copy(deep=True)
    other.seeds = {**other.seeds, "train": 1}
    other.sample_ids_hash = "e" * 64  # scored on other frames
    write_result(other, results / "seed-1" / "noise-20mm" / f"{PROTOCOL}.json")
    board = next(b for b in build_boards(read_results(results)) if b.id == PROTOCOL)
    row = next(r for r in board.rows if r.method == "noise-20mm")
    assert len(row.replicates) == 1 and row.value == pytest.approx(base.metrics.headline_value)
    assert len(row.replicates_left_out) == 1 and row.replicates_left_out[0].startswith("seed 1: ")
    assert "different sample sets" in row.replicates_left_out[0]
    assert "Seed replicates left out" in "\n".join(verdict_lines(board))
    html = render_html([board], read_results(results), [], [], [])
    assert "Seed replicates left out" in html and "noise-20mm seed 1: " in html


def test_a_replicate_trained_with_another_configuration_is_left_out_and_said(results):
    """A replicate trained before the method's config changed (a new field, another step count)
    is another board's run: the row keeps its own, and says why; seeds and checkpoint folders
    (``checkpoints/seed-<k>/…``) are what replicates may differ in, and stay in."""
    base = read_result(_path(results, "noise-20mm"))
    base.seeds = {**base.seeds, "train": 0}
    base.method.config = {"train": {"steps": 1000, "seed": 0}, "backbone": {"widths": [8, 16], "channels_last": True},
                          "backbone_checkpoint": "checkpoints/backbone"}
    write_result(base, _path(results, "noise-20mm"))
    same = base.model_copy(deep=True)
    same.seeds = {**same.seeds, "train": 1}
    same.method.config = {"train": {"steps": 1000, "seed": 1}, "backbone": {"widths": [8, 16], "channels_last": True},
                          "backbone_checkpoint": "checkpoints/seed-1/backbone"}
    write_result(same, results / "seed-1" / "noise-20mm" / f"{PROTOCOL}.json")
    older = base.model_copy(deep=True)
    older.seeds = {**older.seeds, "train": 2}
    older.method.config = {"train": {"steps": 900, "seed": 2}, "backbone": {"widths": [8, 16]},
                           "backbone_checkpoint": "checkpoints/seed-2/backbone"}
    write_result(older, results / "seed-2" / "noise-20mm" / f"{PROTOCOL}.json")
    board = next(b for b in build_boards(read_results(results)) if b.id == PROTOCOL)
    row = next(r for r in board.rows if r.method == "noise-20mm")
    assert [r.seeds["train"] for r in row.replicates] == [0, 1]
    assert len(row.replicates_left_out) == 1 and row.replicates_left_out[0].startswith("seed 2: ")
    reason = row.replicates_left_out[0]
    assert "another configuration" in reason and "backbone.channels_last: True vs '<absent>'" in reason
    assert "train.steps: 1000 vs 900" in reason


def test_results_of_different_sample_sets_or_data_are_refused(results):
    a = read_result(_path(results, "noise-8mm"))
    b = read_result(_path(results, "noise-20mm"))
    other = b.model_copy(deep=True)
    other.sample_ids_hash = "0" * 64
    with pytest.raises(InputError, match="different sample sets"):
        compare_results([a], [other])
    other = b.model_copy(deep=True)
    other.dataset.data_hash = "f" * 64
    with pytest.raises(InputError, match="different data"):
        compare_results([a], [other])
    sweep = find_replicates(results, "noise-8mm", "synth-panoptic-sweep")
    with pytest.raises(InputError, match="different protocols"):
        compare_results([a], sweep)


def test_sweep_points_compare_paired(results):
    a = find_replicates(results, "noise-8mm", "synth-panoptic-sweep")
    b = find_replicates(results, "noise-20mm", "synth-panoptic-sweep")
    c = compare_results(a, b, point="2")
    assert c.difference < 0 and c.p_value < 0.05
    with pytest.raises(InputError, match="no sweep point '99'"):
        compare_results(a, b, point="99")


def test_compare_methods_command(results):
    runner = CliRunner()
    out = runner.invoke(app, ["compare-methods", "noise-8mm", "noise-20mm", "--protocol", "synth-h36m-relative",
                              "--results", str(results), "--resamples", "2000"])
    assert out.exit_code == 0, out.output
    assert "noise-8mm − noise-20mm = -" in out.output and "significant at α = 0.05" in out.output
    assert "36 sequences" in out.output
    # a result file from elsewhere, by path
    out = runner.invoke(app, ["compare-methods", str(_path(results, "noise-20.5mm")), "noise-20mm",
                              "--protocol", PROTOCOL, "--results", str(results), "--resamples", "2000"])
    assert out.exit_code == 0, out.output
    # different sample sets: refused, non-zero exit, the reason named
    path = _path(results, "noise-20.5mm")
    data = json.loads(path.read_text())
    data["sample_ids_hash"] = "0" * 64
    path.write_text(json.dumps(data))
    out = runner.invoke(app, ["compare-methods", "noise-20.5mm", "noise-20mm", "--protocol", PROTOCOL,
                              "--results", str(results)])
    assert out.exit_code == 2 and "different sample sets" in out.output
    out = runner.invoke(app, ["compare-methods", "nobody", "noise-20mm", "--protocol", PROTOCOL,
                              "--results", str(results)])
    assert out.exit_code == 2 and "no result of method 'nobody'" in out.output


def _replicate(results: Path, method: str, seed: int, scale: float, protocol: str = PROTOCOL) -> None:
    """A seed replicate of ``method``: its per-sequence sums and headline scaled by ``scale``."""
    rep = read_result(results / method / f"{protocol}.json").model_copy(deep=True)
    rep.seeds = {**rep.seeds, "train": seed}
    rep.metrics.main.per_sequence.sums = [s * scale for s in rep.metrics.main.per_sequence.sums]
    rep.metrics.headline_value *= scale
    write_result(rep, results.parent / "replicates" / f"seed-{seed}" / method / f"{protocol}.json")


def test_measured_seed_spread_is_the_noise_floor_of_single_run_tables(results):
    from poseboard.comparison.seed_spread import (
        SEED_SPREAD_FILE,
        measure_seed_spread,
        read_seed_spread,
        write_seed_spread,
    )
    from poseboard.report.build import build_report

    for method in ("noise-8mm", "noise-20mm"):
        base = read_result(_path(results, method))
        base.seeds = {**base.seeds, "train": 0}
        write_result(base, _path(results, method))
        for seed, scale in ((1, 1.5), (2, 0.6)):  # a huge seed spread: ±45 % of the headline
            _replicate(results, method, seed, scale)
    found = read_results(results) + read_results(results.parent / "replicates")
    spread = measure_seed_spread(found, "shared", "unknown", note="test")
    entry = spread.spread[PROTOCOL]["noise-8mm"]
    h = read_result(_path(results, "noise-8mm")).metrics.headline_value
    assert entry.seeds == [0, 1, 2] and entry.values == pytest.approx([h, 1.5 * h, 0.6 * h])
    assert entry.sd == pytest.approx(np.std([h, 1.5 * h, 0.6 * h], ddof=1))
    assert "noise-20.5mm" not in spread.spread[PROTOCOL]  # one seed: no spread
    path = write_seed_spread(spread, results / SEED_SPREAD_FILE)
    assert read_seed_spread(path) == spread

    plain = next(b for b in build_boards(read_results(results)) if b.id == PROTOCOL)
    floored = next(b for b in build_boards(read_results(results), seed_spread=spread) if b.id == PROTOCOL)
    assert plain.rows[0].differs_from_next and plain.rows[0].vs_next_test == "paired"
    first = floored.rows[0]
    assert first.seed_floor_sd == pytest.approx(entry.sd)
    assert first.vs_next_test == "paired + seed noise" and not first.differs_from_next  # within seed noise
    lo, hi = first.vs_next_ci_with_seeds
    assert lo < first.vs_next.ci95[0] and hi > first.vs_next.ci95[1]
    assert floored.detectable > plain.detectable

    summary = build_report(results, results.parent / "report", params_file=None)  # profile "unknown"
    page = (results.parent / "report" / "index.html").read_text()
    assert "Noise floor" in page and "with seed noise" in page
    table = next(t for t in summary.tables if t.name == "iskakov2019_relative_mpjpe")
    assert "with seed noise" in table.markdown and "Noise floor" in table.markdown

    # measured on another profile: not this board's noise floor
    write_seed_spread(spread.model_copy(update={"profile": "default"}), results / SEED_SPREAD_FILE)
    build_report(results, results.parent / "report2", params_file=None)
    assert "Noise floor" not in (results.parent / "report2" / "index.html").read_text()

    (results / SEED_SPREAD_FILE).write_text('{"format": "poseboard-seed-spread", "version": 1, "profile": "x"}')
    with pytest.raises(ResultFileError, match=r"seed_spread\.json: field 'backbone'"):
        read_seed_spread(results / SEED_SPREAD_FILE)


def test_seed_spread_command(results):
    base = read_result(_path(results, "noise-8mm"))
    base.seeds = {**base.seeds, "train": 0}
    write_result(base, _path(results, "noise-8mm"))
    _replicate(results, "noise-8mm", 1, 1.1)
    runner = CliRunner()
    out = runner.invoke(app, ["seed-spread", str(results.parent / "replicates"), "--results", str(results),
                              "--backbone", "shared", "--profile", "smoke"])
    assert out.exit_code == 0, out.output
    assert f"{PROTOCOL}  noise-8mm:" in out.output and (results / "seed_spread.json").exists()
    # a replicate under the pipeline's folder (results/seed-1, where `replicate` writes) is read once
    shutil.copytree(results.parent / "replicates", results / "seed-1")
    out = runner.invoke(app, ["seed-spread", str(results / "seed-1"), "--results", str(results),
                              "--backbone", "shared", "--profile", "smoke"])
    assert out.exit_code == 0, out.output
    assert "(seeds [0, 1])" in out.output
    out = runner.invoke(app, ["seed-spread", str(results.parent / "nothing"), "--results", str(results.parent / "x")])
    assert out.exit_code == 2 and "two or more training seeds" in out.output
