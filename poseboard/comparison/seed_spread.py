"""The measured training-seed spread of each method: the noise floor of single-run tables.

A profile that trains each method once (the CPU `default`) has intervals that cover test-set
sampling only. Its seed spread is measured once, from replicates trained with other seeds on
the same data (``poseboard replicate``), and stored beside the results in
``results/seed_spread.json``. The leaderboard then adds each method's seed variance to its
paired comparisons (``SE² = SE²_sequences + SD²_seed(a − b)``, Student's t at the
Welch–Satterthwaite degrees of freedom: a variance from n seeds has n − 1) so that a difference
smaller than what another seed could produce is not called a finding, and prints the spread
under the tables it covers.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from poseboard.comparison.results import check_pairable, train_seed
from poseboard.errors import InputError, ResultFileError, validation_message
from poseboard.io import atomic_write_text
from poseboard.protocols.results import Result

__all__ = ["SEED_SPREAD_FILE", "MethodSpread", "SeedSpread", "carry_over", "keep_unmeasured",
           "measure_seed_spread", "read_seed_spread", "write_seed_spread"]

#: File name of the measured spread inside a results folder (not a ``name@version.json`` result).
SEED_SPREAD_FILE = "seed_spread.json"


class MethodSpread(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seeds: list[int] = Field(description="training seed of each value")
    values: list[float] = Field(description="the protocol's headline for each seed")
    sd: float = Field(ge=0, description="sample standard deviation of the values (n − 1)")


class SeedSpread(BaseModel):
    """``results/seed_spread.json``: per protocol id and method, the headline over seeds."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["poseboard-seed-spread"] = "poseboard-seed-spread"
    version: Literal[1] = 1
    profile: str = Field(description="the params.yaml profile the replicates ran (the floor applies to it only)")
    backbone: Literal["retrained", "shared"] = Field(
        description="whether each replicate pre-trained its own backbone ('shared': the methods' own training "
                    "noise only, a lower bound)")
    note: str = Field("", description="how and where it was measured")
    spread: dict[str, dict[str, MethodSpread]] = Field(description="protocol id → method → spread")
    carried_over: dict[str, str] = Field(
        default_factory=dict,
        description="protocol id → the id of the earlier board's protocol version whose spread stands in for it "
                    "(`poseboard seed-spread --carry-over`): measured on that board, not this one")

    def sd(self, protocol_id: str, method: str) -> float | None:
        entry = self.spread.get(protocol_id, {}).get(method)
        return None if entry is None else entry.sd


def measure_seed_spread(results: Sequence[Result], backbone: Literal["retrained", "shared"], profile: str,
                        note: str = "") -> SeedSpread:
    """Group ``results`` by protocol and method and take the spread of each group that has two
    or more training seeds scored on the same frames."""
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.protocol.id, r.method.name)].append(r)
    spread: dict[str, dict[str, MethodSpread]] = {}
    for (pid, method), rs in sorted(groups.items()):
        if len(rs) < 2:
            continue
        seeds = [train_seed(r) for r in rs]
        if None in seeds or len(set(seeds)) != len(seeds):
            raise InputError(f"{method} under {pid}: results with missing or repeated training seeds {seeds}")
        for r in rs[1:]:
            check_pairable(rs[0], r)
        order = sorted(range(len(rs)), key=lambda i: seeds[i])
        values = [float(rs[i].metrics.headline_value) for i in order]
        spread.setdefault(pid, {})[method] = MethodSpread(seeds=[int(seeds[i]) for i in order],  # type: ignore[arg-type]
                                                          values=values, sd=statistics.stdev(values))
    if not spread:
        raise InputError("no method has results of two or more training seeds: run `poseboard replicate` first")
    return SeedSpread(profile=profile, backbone=backbone, note=note, spread=spread)


def keep_unmeasured(measured: SeedSpread, earlier: SeedSpread) -> SeedSpread:
    """``measured`` plus the protocols of ``earlier`` it does not hold, for replicates that
    re-measured part of a board (``poseboard replicate --only/--protocol``).

    A protocol is taken whole from one measurement: per-seed differences of two methods are
    only meaningful between values of the same training runs, so an earlier entry under a
    protocol ``measured`` holds is dropped (and named in the note), never mixed in. The note
    says which protocols were kept from which measurement.

    Raises:
        InputError: the two were measured on other profiles, or one reused the pipeline's
            backbone and the other did not (the file has one ``backbone`` field).
    """
    if earlier.profile != measured.profile or earlier.backbone != measured.backbone:
        raise InputError(f"the earlier spread was measured on profile {earlier.profile!r} with a "
                         f"{earlier.backbone} backbone, these replicates on {measured.profile!r} with a "
                         f"{measured.backbone} one: keep only a spread of the same profile and backbone")
    kept = {pid: methods for pid, methods in earlier.spread.items() if pid not in measured.spread}
    dropped = sorted(f"{m} under {pid}" for pid, methods in earlier.spread.items() if pid in measured.spread
                     for m in methods if m not in measured.spread[pid])
    if not kept and not dropped:
        return measured
    note = measured.note
    if kept:
        note += (f" Kept from an earlier measurement, not re-measured here: {', '.join(sorted(kept))} "
                 f"(its note: {earlier.note})").rstrip()
    if dropped:
        note += (f" Dropped from the earlier measurement (their protocols are re-measured here, without "
                 f"them): {', '.join(dropped)}.")
    return measured.model_copy(update={"note": note.strip(), "spread": {**measured.spread, **kept}})


def carry_over(earlier: SeedSpread, current_versions: Mapping[str, int], note: str) -> SeedSpread:
    """``earlier``'s spread re-keyed to today's protocol versions, for a new board whose replicates
    have not run yet.

    Why: a new board (another training world, a protocol whose test frames changed and whose
    version was bumped) has one training run per method until ``poseboard replicate`` has trained
    the others. Without a floor its paired tests see test-set noise only, and call differences
    significant that another seed reverses. The earlier board's measured seed SD, the same methods
    and budgets on a nearby world, is the best estimate there is until then; this says it is one.

    Each ``name@v`` entry moves to ``name@<current version>`` (recorded in ``carried_over``);
    entries of protocols that no longer exist are dropped. ``note`` (why, and what differs) is put
    first; the earlier note follows.
    """
    spread: dict[str, dict[str, MethodSpread]] = {}
    carried: dict[str, str] = {}
    for pid, methods in earlier.spread.items():
        name = pid.partition("@")[0]
        if name not in current_versions:
            continue
        now = f"{name}@{current_versions[name]}"
        spread[now] = methods
        carried[now] = earlier.carried_over.get(pid, pid)
    if not spread:
        raise InputError("--carry-over: none of the earlier spread's protocols exists any more; measure the "
                         "spread with `poseboard replicate` and `poseboard seed-spread` instead")
    moved = sorted(f"{old} → {now}" for now, old in carried.items() if old != now)
    text = (f"{note.strip()} Carried over from an earlier board, not measured on this one"
            + (f" (re-keyed: {', '.join(moved)})" if moved else "") + f". Its note: {earlier.note}")
    return earlier.model_copy(update={"note": text.strip(), "spread": spread, "carried_over": carried})


def write_seed_spread(spread: SeedSpread, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, spread.model_dump_json(indent=2) + "\n")
    return path


def read_seed_spread(path: str | Path) -> SeedSpread | None:
    """The spread file, or None when there is none; a malformed file is an error naming it."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return SeedSpread.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        raise ResultFileError(f"{path}: {validation_message(exc)}") from None
