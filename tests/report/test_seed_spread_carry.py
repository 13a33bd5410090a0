"""A new board's noise floor before its replicates run: the earlier board's measured seed spread,
re-keyed to today's protocol versions, marked as carried over on the file and on the tables."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from poseboard.comparison.seed_spread import MethodSpread, SeedSpread, carry_over, read_seed_spread
from poseboard.errors import InputError


def _entry(*values: float) -> MethodSpread:
    return MethodSpread(seeds=list(range(len(values))), values=list(values), sd=1.0)


EARLIER = SeedSpread(profile="default", backbone="retrained", note="exercise world.", spread={
    "rel@2": {"a": _entry(1, 2, 3)}, "sweep@1": {"a": _entry(4, 5, 6)}, "gone@3": {"a": _entry(7, 8, 9)}})


def test_entries_move_to_todays_versions_and_say_where_they_were_measured():
    carried = carry_over(EARLIER, {"rel": 3, "sweep": 1}, "Real-motion board, replicates to run.")
    assert set(carried.spread) == {"rel@3", "sweep@1"}  # a protocol that no longer exists is dropped
    assert carried.spread["rel@3"] == EARLIER.spread["rel@2"]
    assert carried.carried_over == {"rel@3": "rel@2", "sweep@1": "sweep@1"}
    assert carried.note == ("Real-motion board, replicates to run. Carried over from an earlier board, not measured "
                            "on this one (re-keyed: rel@2 → rel@3). Its note: exercise world.")
    assert carried.sd("rel@3", "a") == 1.0 and carried.sd("rel@2", "a") is None
    # carried twice, the origin stays the board that measured it
    again = carry_over(carried, {"rel": 4, "sweep": 1}, "Again.")
    assert again.carried_over == {"rel@4": "rel@2", "sweep@1": "sweep@1"}


def test_nothing_left_to_carry_is_refused():
    with pytest.raises(InputError, match="none of the earlier spread's protocols exists"):
        carry_over(EARLIER, {"other": 1}, "n")


def test_the_tables_name_the_board_the_floor_was_measured_on(results_dir):
    from poseboard.protocols.results import read_results
    from poseboard.report.model import build_boards
    from poseboard.report.tables import verdict_lines

    found = read_results(results_dir)
    pid = "synth-h36m-relative@3"
    methods = sorted({r.method.name for r in found if r.protocol.id == pid})
    measured = SeedSpread(profile="default", backbone="retrained", note="n",
                          spread={"synth-h36m-relative@2": {m: _entry(1, 2, 4) for m in methods}})
    carried = carry_over(measured, {"synth-h36m-relative": 3}, "new board.")
    for spread, said in ((measured.model_copy(update={"spread": {pid: measured.spread["synth-h36m-relative@2"]}}),
                          False), (carried, True)):
        board = next(b for b in build_boards(found, seed_spread=spread) if b.id == pid)
        text = "\n".join(verdict_lines(board))
        assert "Noise floor, the training-seed SD measured once" in text
        assert ("on an earlier board (`synth-h36m-relative@2`" in text) is said


def test_the_command_carries_an_earlier_file_alone(tmp_path):
    from poseboard.cli import app
    from poseboard.protocols.registry import all_protocols

    newest = max(p.version for p in all_protocols().values() if p.name == "synth-h36m-relative")
    earlier = tmp_path / "earlier.json"
    earlier.write_text(SeedSpread(profile="default", backbone="retrained", note="old.", spread={
        "synth-h36m-relative@1": {"a": _entry(1, 2)}}).model_dump_json())
    out = tmp_path / "seed_spread.json"
    res = CliRunner().invoke(app, ["seed-spread", "--carry-over", str(earlier), "--note", "new board.",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    written = read_seed_spread(out)
    assert written.carried_over == {f"synth-h36m-relative@{newest}": "synth-h36m-relative@1"}
    res = CliRunner().invoke(app, ["seed-spread", str(tmp_path), "--carry-over", str(earlier), "--out", str(out)])
    assert res.exit_code != 0 and "reads no replicates" in res.output
    res = CliRunner().invoke(app, ["seed-spread", "--out", str(tmp_path / "x.json")])
    assert res.exit_code != 0 and "--carry-over" in res.output and not (tmp_path / "x.json").exists()
