"""The measured cause of each paper claim the board does not show (issue 69 item 4).

A claim's verdict ("reversed", "not shown", "does not hold") is computed from the results at
every ``make repro``; *why* it fails is a study's finding (docs/findings/), measured once. This
module joins the two: ``poseboard/report/claim_causes.yaml`` records, per claim, the cause a
study measured, the verdict it was measured for and the files that hold the evidence, and the
report prints it beside the verdict, on the leaderboard and in ``report/tables/README.md``.

The cause is bound to its verdict: when a later board changes the verdict (the claim now holds,
or fails another way), the report says the cause was measured for the earlier verdict and asks
for it to be measured again, instead of repeating a stale explanation. A failing claim with no
entry reads "cause not measured".
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from poseboard.errors import InputError

CAUSES_FILE = "claim_causes.yaml"


class ClaimCause(BaseModel):
    """One claim's measured cause."""

    model_config = ConfigDict(extra="forbid")

    claim: str = Field(description="the claim as the tables' index writes it, e.g. 'volumetric < algebraic'")
    measured_for: str = Field(description="the verdict the cause explains: reversed, not shown or does not hold")
    cause: str = Field(min_length=1, description="what was measured, in one or two sentences")
    evidence: list[str] = Field(min_length=1, description="repository paths (docs/findings/…) that hold the numbers")


def parse_causes(text: str, source: str) -> dict[str, ClaimCause]:
    """The causes of a YAML list (see ``claim_causes.yaml``), keyed by claim; ``source`` names
    the file in errors."""
    try:
        raw = yaml.safe_load(text) or []
        if not isinstance(raw, list):
            raise InputError(f"{source}: expected a list of causes, found {type(raw).__name__}")
        causes = [ClaimCause.model_validate(entry) for entry in raw]
    except (yaml.YAMLError, ValidationError) as exc:
        raise InputError(f"{source}: {exc}; each entry needs claim, measured_for, cause and evidence") from None
    keyed: dict[str, ClaimCause] = {}
    for c in causes:
        if c.claim in keyed:
            raise InputError(f"{source}: claim {c.claim!r} has two entries; keep one")
        keyed[c.claim] = c
    return keyed


@cache
def board_causes() -> dict[str, ClaimCause]:
    """The causes the report prints (``poseboard/report/claim_causes.yaml``)."""
    resource = files("poseboard.report").joinpath(CAUSES_FILE)
    return parse_causes(resource.read_text(encoding="utf-8"), f"poseboard/report/{CAUSES_FILE}")


def missing_evidence(causes: dict[str, ClaimCause], root: Path) -> list[str]:
    """Evidence paths (``#anchor`` stripped) that do not exist under the repository ``root``."""
    return [f"{c.claim}: {path}" for c in causes.values() for path in c.evidence
            if not (root / path.split("#", 1)[0]).exists()]


def cause_text(head: str, verdict: str, causes: dict[str, ClaimCause] | None = None) -> str:
    """What the report prints after a claim's verdict: "" where the claim holds (or was not
    run), else its measured cause with its evidence, a request to measure it again when it was
    measured for another verdict, or "cause not measured"."""
    if verdict.startswith(("holds", "not run", "not tested")):
        return ""
    cause = (board_causes() if causes is None else causes).get(head)
    if cause is None:
        return "cause not measured"
    where = ", ".join(cause.evidence)
    if not verdict.startswith(cause.measured_for):
        return (f"cause measured when the verdict was \"{cause.measured_for}\" ({where}); "
                "the verdict has changed: measure it again")
    return f"cause, as measured: {cause.cause} ({where})"
