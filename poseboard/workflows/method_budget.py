"""Issue 39's promise as a check: a new method (``init: backbone``) ranked against the board by
``make method`` in at most :data:`PROMISED_MINUTES` minutes on two cores, the backbone not
re-trained (pulled, or shipped in ``weights/``).

The figure for the default profile is measured by ``scripts/time_method.py`` (a fresh clone,
a scaffolded method, ``poseboard method``) and recorded in docs/performance.md as a marker
line, together with the digest of what the time depends on (:func:`profile_digest`: the
profile's data, its backbone block, the seed). ``tests/test_method_budget.py`` fails when the
default profile changes and the marker was not measured again, or when the recorded time
breaks the promise: a board change that breaks it is seen.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from poseboard.errors import InputError
from poseboard.params import REAL_DATASETS, Params

#: Issue 39: a method ranked in at most this many minutes of wall time on two cores.
PROMISED_MINUTES = 15.0
#: The record in docs/performance.md (one line, an HTML comment: not shown on the page).
MARKER = re.compile(r"<!-- method-time: profile=(?P<profile>\S+) digest=(?P<digest>[0-9a-f]{16}) "
                    r"minutes=(?P<minutes>[\d.]+) cpu=\"(?P<cpu>[^\"]+)\" -->")


def profile_digest(params: Params, profile: str) -> str:
    """16 hex digits of the SHA-256 of what ``make method``'s time depends on in ``profile``:
    its data block (what is rendered), its backbone block (what a missing backbone costs) and
    the seed."""
    if profile not in params.profiles:
        raise InputError(f"params.yaml: no profile {profile!r}; profiles: {sorted(params.profiles)}")
    data = params.profiles[profile].data.model_dump(mode="json")
    for share in ("real_motion", "real_test"):  # at 0 the rendered data is what it was before the shares existed
        if not data.get(share):
            data.pop(share, None)
    # the real-people splits are generalization tests a new method is not scored on by `make method`
    # (it renders the datasets its own evaluations read): listing them costs its time nothing
    data["datasets"] = [d for d in data["datasets"] if d not in REAL_DATASETS]
    parts = {"data": data,
             "backbone": params.backbone.get(profile, {}), "seed": params.seed}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MethodTime:
    """One recorded measurement: the profile, its digest, the wall minutes and the CPU."""

    profile: str
    digest: str
    minutes: float
    cpu: str

    def marker(self) -> str:
        return (f'<!-- method-time: profile={self.profile} digest={self.digest} minutes={self.minutes:.1f} '
                f'cpu="{self.cpu}" -->')


def recorded(doc: Path, profile: str) -> MethodTime | None:
    """The marker of ``profile`` in ``doc`` (docs/performance.md), or None."""
    for m in MARKER.finditer(doc.read_text()):
        if m["profile"] == profile:
            return MethodTime(m["profile"], m["digest"], float(m["minutes"]), m["cpu"])
    return None


def problems(params: Params, doc: Path, profile: str = "default") -> list[str]:
    """What keeps the promise from being checked for ``profile``: no record, a record of
    another profile version, or a recorded time over :data:`PROMISED_MINUTES`."""
    rec = recorded(doc, profile)
    fix = f"measure it again: `python scripts/time_method.py` on the {profile} profile, and replace the marker"
    if rec is None:
        return [f"{doc}: no `method-time` marker for profile {profile}; {fix}"]
    out = []
    digest = profile_digest(params, profile)
    if rec.digest != digest:
        out.append(f"{doc}: the {profile} profile changed since make method's time was measured (digest "
                   f"{rec.digest} recorded, {digest} now); {fix}")
    if rec.minutes > PROMISED_MINUTES:
        out.append(f"{doc}: make method took {rec.minutes:.1f} min on the {profile} profile ({rec.cpu}), over the "
                   f"{PROMISED_MINUTES:.0f} promised (issue 39)")
    return out
