"""Issue 39's promise (a method ranked by ``make method`` in at most 15 minutes on two cores)
is recorded for the committed default profile, and a change of that profile is seen
(:mod:`poseboard.workflows.method_budget`)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from poseboard.params import load_params
from poseboard.workflows.method_budget import PROMISED_MINUTES, MethodTime, problems, profile_digest, recorded

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"


def test_the_default_profile_time_is_measured_and_within_the_promise():
    assert problems(load_params(ROOT / "params.yaml"), DOC) == []
    rec = recorded(DOC, "default")
    assert rec is not None and rec.minutes <= PROMISED_MINUTES and "family" in rec.cpu


def test_a_changed_default_profile_asks_for_a_new_measurement(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy2(ROOT / "params.yaml", params)
    before = profile_digest(load_params(params), "default")
    text = params.read_text()
    block = re.search(r"^backbone:\n(?:  .*\n|\s*#.*\n)*", text, flags=re.MULTILINE)
    assert block is not None and "  default:" in block.group(0)
    steps = re.search(r"(  default: \{[^\n]*steps: )(\d+)", block.group(0))
    assert steps is not None, block.group(0)
    params.write_text(text.replace(steps.group(0), steps.group(1) + str(int(steps.group(2)) * 2), 1))
    changed = load_params(params)
    assert profile_digest(changed, "default") != before
    assert profile_digest(changed, "smoke") == profile_digest(load_params(ROOT / "params.yaml"), "smoke")
    found = problems(changed, DOC)
    assert len(found) == 1 and "changed since make method's time was measured" in found[0]
    assert "scripts/time_method.py" in found[0]


def test_a_time_over_the_promise_and_a_missing_marker_are_reported(tmp_path):
    params = load_params(ROOT / "params.yaml")
    doc = tmp_path / "performance.md"
    slow = MethodTime("default", profile_digest(params, "default"), PROMISED_MINUTES + 1, "test CPU, family 25")
    doc.write_text(f"# times\n{slow.marker()}\n")
    assert recorded(doc, "default") == MethodTime(slow.profile, slow.digest, round(slow.minutes, 1), slow.cpu)
    found = problems(params, doc)
    assert len(found) == 1 and "over the 15 promised" in found[0]
    doc.write_text("# no marker\n")
    assert "no `method-time` marker" in problems(params, doc)[0]
