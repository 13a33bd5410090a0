"""The claims' measured causes (poseboard/report/causes.py, issue 69 item 4): the file parses,
each entry names a claim the report tests and evidence that exists, and the report prints a
cause only for the verdict it was measured for."""

from __future__ import annotations

from pathlib import Path

import pytest

from poseboard.errors import InputError
from poseboard.report.causes import board_causes, cause_text, missing_evidence, parse_causes
from poseboard.report.tables import TABLES, ClaimVerdict

ROOT = Path(__file__).resolve().parents[2]
ENTRY = """
- claim: "volumetric < algebraic"
  measured_for: reversed
  cause: the budget
  evidence: [docs/findings/paper-claims.md]
"""


def _heads() -> set[str]:
    return {ClaimVerdict(claim, "", "", "").head for table in TABLES for claim in table.claims}


def test_the_boards_causes_name_tested_claims_and_existing_evidence():
    causes = board_causes()
    assert causes, "the causes file is empty"
    assert set(causes) <= _heads(), f"entries for claims no table tests: {set(causes) - _heads()}"
    assert missing_evidence(causes, ROOT) == []


def test_a_cause_is_printed_only_for_its_verdict():
    causes = parse_causes(ENTRY, "test.yaml")
    text = cause_text("volumetric < algebraic", "reversed", causes)
    assert text.startswith("cause, as measured: the budget") and "docs/findings/paper-claims.md" in text
    changed = cause_text("volumetric < algebraic", "not shown: no significant difference", causes)
    assert "measure it again" in changed and "reversed" in changed
    assert cause_text("volumetric < algebraic", "holds", causes) == ""
    assert cause_text("epipolar < epipolar-baseline", "not shown: no significant difference", causes) == (
        "cause not measured")


@pytest.mark.parametrize("text, message", [
    (ENTRY + ENTRY, "two entries"),
    ("- claim: x\n  cause: y\n", "measured_for"),
    ("claim: x", "expected a list"),
    ("- [unclosed", "test.yaml"),
])
def test_bad_causes_files_name_the_file_and_the_fix(text, message):
    with pytest.raises(InputError, match=message):
        parse_causes(text, "test.yaml")


def test_missing_evidence_is_named():
    causes = parse_causes(ENTRY.replace("paper-claims.md", "no-such-study.md"), "test.yaml")
    assert missing_evidence(causes, ROOT) == ["volumetric < algebraic: docs/findings/no-such-study.md"]
