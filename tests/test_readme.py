"""README.md stays a short front page (issue 81): at most :data:`MAX_LINES` lines, the two
commands a user starts with, and the motion capture's licence. Detail lives under docs/, linked
from it; the board block between its markers is checked by tests/report/test_board.py."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The README's length limit, in lines.
MAX_LINES = 150


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def test_readme_is_short():
    lines = _readme().splitlines()
    assert len(lines) <= MAX_LINES, (
        f"README.md has {len(lines)} lines, more than {MAX_LINES}: move detail to the docs/ page that "
        "holds it and link that page")


def test_readme_keeps_what_a_user_needs():
    text = _readme()
    assert re.search(r"^make repro\b", text, re.M) and re.search(r"^make test\b", text, re.M)
    assert "Bandai Namco Research Motion datasets (CC BY-NC 4.0" in text


def test_readme_links_resolve():
    """Every relative link of the README names a file of the repository (anchors not checked)."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _readme())
    missing = [t for t in targets if not t.startswith(("http://", "https://")) and not (ROOT / t).exists()]
    assert missing == []
