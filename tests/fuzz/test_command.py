"""``poseboard fuzz`` (the maintainer command of issue 80): its table, its exit status, a crash
printed with the command that rebuilds it, and one mutant rebuilt into a folder."""

from __future__ import annotations

from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.workflows.fuzz import Outcome, Report
from poseboard.workflows.fuzz_readers import READERS
from poseboard.workflows.fuzz_run import make_mutant

runner = CliRunner()


def test_list_names_every_reader():
    result = runner.invoke(app, ["fuzz", "--list"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == list(READERS)


def test_a_clean_reader_prints_its_row_and_exits_0():
    result = runner.invoke(app, ["fuzz", "--reader", "rig-json", "--mutants", "30", "--seed", "3"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| `rig-json`"))
    tried, refused, accepted, crashed = (int(v.strip(" *")) for v in row.split("|")[2:6])
    assert tried == 30 and refused + accepted == 30 and crashed == 0
    assert "30 mutants over 1 reader(s): 0 crash(es)" in result.output


def test_a_crashing_reader_exits_1_with_how_to_rebuild_each_kind(monkeypatch):
    """Crashes grouped by type and place, each kind with one mutant's rebuild command (the run
    itself replaced: no reader of this repository crashes on purpose)."""
    import poseboard.workflows.fuzz_run as fuzz_run

    def fake_run(name, seed, work, indices, **kw):
        crash = "KeyError: (0, 2) at easymocap.py:60 (read)"
        return Report(name, seed, [Outcome(name, 0, "refused", "intri.yml", "truncate", "cut at byte 9", "x"),
                                   Outcome(name, 1, "crashed", "intri.yml", "truncate", "cut at byte 7", crash),
                                   Outcome(name, 2, "crashed", "extri.yml", "bytes", "byte 3", crash),
                                   Outcome(name, 3, "crashed", "?", "?", "?", "the process died (exit -6): abort")])

    monkeypatch.setattr(fuzz_run, "run_isolated", fake_run)
    result = runner.invoke(app, ["fuzz", "--reader", "easymocap", "--mutants", "4", "--seed", "9"])
    assert result.exit_code == 1, result.output
    assert "| `easymocap` | 4 | 1 | 0 | **3** |" in result.output
    assert "CRASH easymocap: 2 mutant(s), e.g. mutant 1 (intri.yml: truncate: cut at byte 7); also 2" in result.output
    assert "CRASH easymocap: 1 mutant(s), e.g. mutant 3" in result.output
    assert "rebuild: poseboard fuzz --reader easymocap --seed 9 --mutant 1 --keep fuzz-mutants" in result.output
    assert "4 mutants over 1 reader(s): 3 crash(es)" in result.output


def test_one_mutant_is_rebuilt_into_a_folder(tmp_path):
    result = runner.invoke(app, ["fuzz", "--reader", "opencv-yaml", "--mutant", "5", "--keep", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "opencv-yaml mutant 5: " in result.output
    kept = tmp_path / "opencv-yaml-5"
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    files = {p.name: p.read_bytes() for p in READERS["opencv-yaml"].write_seed(seed_dir)}
    chosen, mutation = make_mutant("opencv-yaml", 80, 5, files)
    assert (kept / chosen).read_bytes() == mutation.data
    assert (kept / "MUTATION.txt").read_text().startswith(mutation.operation)


def test_an_unknown_reader_is_refused():
    result = runner.invoke(app, ["fuzz", "--reader", "opencv-yml"])
    assert result.exit_code == 2 and "did you mean 'opencv-yaml'" in result.output
