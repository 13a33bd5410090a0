"""Re-measuring part of a board's seed spread: the protocols the new replicates do not hold are
kept from the earlier measurement, whole, and a protocol is never a mix of two measurements."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from poseboard.comparison.seed_spread import MethodSpread, SeedSpread, keep_unmeasured, read_seed_spread
from poseboard.errors import InputError


def _entry(*values: float) -> MethodSpread:
    return MethodSpread(seeds=list(range(len(values))), values=list(values), sd=1.0)


def _spread(note: str, spread: dict, profile: str = "default", backbone: str = "retrained") -> SeedSpread:
    return SeedSpread(profile=profile, backbone=backbone, note=note, spread=spread)


EARLIER = _spread("narrow world, 2026-11-23.", {
    "rel@2": {"a": _entry(1, 2, 3), "dome": _entry(4, 5, 6)},
    "root@2": {"r": _entry(7, 8, 9)},
})


def test_unmeasured_protocols_are_kept_whole_and_remeasured_ones_never_mixed():
    new = _spread("broad world, 2026-11-25.", {"rel@2": {"a": _entry(10, 11, 12)}, "motion@2": {"a": _entry(1, 1, 2)}})
    merged = keep_unmeasured(new, EARLIER)
    assert merged.spread["rel@2"] == {"a": _entry(10, 11, 12)}  # dome's earlier entry is not mixed in
    assert merged.spread["root@2"] == EARLIER.spread["root@2"] and merged.spread["motion@2"] == new.spread["motion@2"]
    assert merged.note == ("broad world, 2026-11-25. Kept from an earlier measurement, not re-measured here: root@2 "
                           "(its note: narrow world, 2026-11-23.) Dropped from the earlier measurement (their "
                           "protocols are re-measured here, without them): dome under rel@2.")
    assert keep_unmeasured(new, _spread("x", {})) == new


@pytest.mark.parametrize("other", [_spread("x", {}, profile="smoke"), _spread("x", {}, backbone="shared")])
def test_a_spread_of_another_profile_or_backbone_is_refused(other):
    with pytest.raises(InputError, match="same profile and backbone"):
        keep_unmeasured(_spread("n", {"rel@2": {"a": _entry(1, 2)}}), other)


def test_the_command_keeps_an_earlier_file_and_refuses_a_missing_one(tmp_path, monkeypatch):
    import poseboard.comparison.seed_spread as module
    from poseboard.cli import app

    earlier = tmp_path / "earlier.json"
    earlier.write_text(EARLIER.model_dump_json())
    measured = _spread("new.", {"rel@2": {"a": _entry(10, 11, 12)}})
    monkeypatch.setattr(module, "measure_seed_spread", lambda found, backbone, profile, note: measured)
    out = tmp_path / "seed_spread.json"
    res = CliRunner().invoke(app, ["seed-spread", str(tmp_path), "--results", str(tmp_path), "--keep", str(earlier),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    written = read_seed_spread(out)
    assert set(written.spread) == {"rel@2", "root@2"} and "Kept from an earlier measurement" in written.note
    res = CliRunner().invoke(app, ["seed-spread", str(tmp_path), "--results", str(tmp_path),
                                   "--keep", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.json")])
    assert res.exit_code != 0 and "missing.json does not exist" in res.output
    assert not (tmp_path / "x.json").exists()
    json.loads(out.read_text())  # the earlier output is intact
