"""Fuzzing the readers of users' files (issue 80): a seeded mutation engine and the verdict on
one mutant.

A file from someone else's disk or tool arrives truncated, with a flipped byte, a number turned
into ``nan`` or a line lost. Every reader that takes a user's file must then either refuse it
the poseboard way (a :class:`~poseboard.errors.PoseboardError` whose message names the file,
nothing written) or accept it with finite, validated output; never a traceback, never an
allocation sized by a number in the file. The readers under test and their real-shaped seed
files are :mod:`poseboard.workflows.fuzz_readers`; :mod:`poseboard.workflows.fuzz_run` runs
them, each in its own process under a memory limit, for ``poseboard fuzz`` (the maintainer
command) and ``tests/fuzz``.

**Mutations** (:func:`mutate`), one per mutant, chosen by a :class:`random.Random` seeded with
``"{seed}/{reader}/{index}"``, so that any mutant is rebuilt alone from its number:

* ``truncate``: cut the file at a random byte;
* ``bytes``: change one to three random bytes;
* ``numbers``: replace one to three numbers written in the file (ASCII, as in YAML, JSON, TOML,
  BVH and a ``.npy`` header) by ``nan``, ``inf``, ``-inf``, ``1e308``, ``-0``, nothing or a
  30-digit integer; each number on a line drawn among the lines holding one, so that a
  header's few numbers are hit as often as a line of data;
* ``delete-line`` / ``repeat-line``: drop a line, or write one twice.

A zip archive (``.npz``) is mutated as a whole half of the time (a flipped byte then usually
breaks a CRC or a header of the archive) and otherwise inside one member, re-packed with a valid
CRC, so that the ``.npy`` header and data behind the archive's checks are reached too.

**Verdicts** (:func:`verdict`): ``refused`` (a ``PoseboardError`` naming the file),
``accepted`` (the reader returned; its check of the output passed), ``crashed`` (any other
exception, a refusal that does not name the file, output that is not finite, a file written
beside the input; :mod:`~poseboard.workflows.fuzz_run` adds a ``MemoryError`` under its
limit, a hang and the process dying).
"""

from __future__ import annotations

import bisect
import io
import os
import random
import re
import traceback
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from poseboard.errors import PoseboardError

Verdict = Literal["refused", "accepted", "crashed"]

#: What a number in a text file is replaced by (``numbers``): the values a broken export writes.
REPLACEMENTS: tuple[bytes, ...] = (b"nan", b"inf", b"-inf", b"1e308", b"-0", b"", b"123456789012345678901234567890")
#: The mutation operators, in the order :func:`mutate` draws from.
OPERATIONS: tuple[str, ...] = ("truncate", "bytes", "numbers", "delete-line", "repeat-line")
#: A number as text: digits with an optional sign, point and exponent.
_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class Unsound(AssertionError):
    """A reader accepted a file but its output is wrong (NaN, inf, a wrong shape): raised by a
    reader's output check in :mod:`poseboard.workflows.fuzz_readers`, a crash verdict."""


@dataclass(frozen=True)
class Reader:
    """A reader under fuzz (the table: :data:`poseboard.workflows.fuzz_readers.READERS`).

    Attributes:
        name: its name in ``poseboard fuzz --reader``.
        what: the file and the command that reads it.
        write_seed: writes the real-shaped seed file(s) into a folder and returns them: the
            files a mutant may change, the one ``read`` is given first.
        read: reads the file it is given as the command does (in-process, without the
            command's write), checks what it accepted (:class:`Unsound` if not finite or of the
            wrong shape) and returns a one-line summary; refuses with a ``PoseboardError``.
    """

    name: str
    what: str
    write_seed: Callable[[Path], list[Path]]
    read: Callable[[Path], str]


@dataclass(frozen=True)
class Mutation:
    """One mutant file: its bytes and what was done (``operation``, ``detail``)."""

    data: bytes
    operation: str
    detail: str


@dataclass(frozen=True)
class Outcome:
    """The verdict on mutant ``index`` of ``reader``: which file was mutated and how, and the
    reader's message (the refusal, the accepted output's summary, or the crash)."""

    reader: str
    index: int
    verdict: Verdict
    file: str
    operation: str
    detail: str
    message: str


@dataclass
class Report:
    """Every outcome of one reader's run (``seed_error``: the seed file itself was not accepted)."""

    reader: str
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)
    seed_error: str | None = None
    seconds: float = 0.0

    def count(self, verdict: Verdict) -> int:
        return sum(o.verdict == verdict for o in self.outcomes)

    @property
    def crashes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "crashed"]


# ------------------------------------------------------------------------ mutations
def mutant_rng(seed: int, reader: str, index: int) -> random.Random:
    """The generator of mutant ``index`` of ``reader`` under ``seed`` (string-seeded: the same on
    every machine and Python run, independent of the other mutants)."""
    return random.Random(f"{seed}/{reader}/{index}")


def mutate(data: bytes, rng: random.Random, operation: str | None = None) -> Mutation:
    """``data`` mutated once (see the module docstring); ``operation`` None draws one of
    :data:`OPERATIONS`. A zip archive is mutated inside a member half of the time
    (:func:`mutate_member`).

    Example:
        >>> m = mutate(b"a: 1.5\\nb: 2\\n", random.Random(0), "numbers")
        >>> m.operation, m.data != b"a: 1.5\\nb: 2\\n"
        ('numbers', True)
    """
    if data[:4] == b"PK\x03\x04" and rng.random() < 0.5:
        try:
            return mutate_member(data, rng, operation)
        except (zipfile.BadZipFile, ValueError, KeyError):
            pass  # not an archive we can re-pack: mutate its bytes
    return _mutate_bytes(data, rng, operation or rng.choice(OPERATIONS))


def _mutate_bytes(data: bytes, rng: random.Random, operation: str) -> Mutation:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown mutation {operation!r}; choose one of {list(OPERATIONS)}")
    if not data:
        return Mutation(b"\n", operation, "an empty file given one newline")
    if operation == "truncate":
        at = rng.randrange(len(data))
        return Mutation(data[:at], operation, f"cut at byte {at} of {len(data)}")
    if operation == "numbers":
        found = list(_NUMBER.finditer(data))
        if found:
            chosen = sorted(_pick_numbers(data, found, rng), key=lambda m: m.start())
            out, last, said = bytearray(), 0, []
            for match in chosen:
                new = rng.choice(REPLACEMENTS)
                out += data[last:match.start()] + new
                last = match.end()
                said.append(f"{match.group().decode()!r} at byte {match.start()} -> {new.decode()!r}")
            return Mutation(bytes(out + data[last:]), operation, "; ".join(said))
        operation = "bytes"  # no number to replace
    if operation == "bytes":
        out = bytearray(data)
        said = []
        for at in sorted(rng.sample(range(len(data)), min(len(data), rng.randint(1, 3)))):
            new = rng.choice([b for b in range(256) if b != out[at]])
            said.append(f"byte {at}: {out[at]:#04x} -> {new:#04x}")
            out[at] = new
        return Mutation(bytes(out), operation, "; ".join(said))
    lines = data.splitlines(keepends=True)
    at = rng.randrange(len(lines))
    if operation == "delete-line":
        return Mutation(b"".join(lines[:at] + lines[at + 1:]), operation, f"line {at + 1} of {len(lines)} deleted")
    repeated = lines[at] if lines[at].endswith(b"\n") else lines[at] + b"\n"
    return Mutation(b"".join([*lines[:at], repeated, *lines[at:]]), operation,
                    f"line {at + 1} of {len(lines)} written twice")


def _pick_numbers(data: bytes, found: list[re.Match[bytes]], rng: random.Random) -> list[re.Match[bytes]]:
    """One to three distinct numbers of ``found``: each on a line drawn among the lines that hold
    a number, then within the line, so that the few numbers of a header (``Frame Time: 0.0083``,
    ``rows: 3``, an ``.npy`` header's shape) are drawn as often as the lines of data."""
    newlines = [m.start() for m in re.finditer(b"\n", data)]
    by_line: dict[int, list[re.Match[bytes]]] = {}
    for match in found:
        by_line.setdefault(bisect.bisect_left(newlines, match.start()), []).append(match)
    lines = list(by_line.values())
    chosen: dict[int, re.Match[bytes]] = {}
    for _ in range(rng.randint(1, 3)):
        match = rng.choice(rng.choice(lines))
        chosen[match.start()] = match
    return list(chosen.values())


def mutate_member(data: bytes, rng: random.Random, operation: str | None = None) -> Mutation:
    """A zip archive with one member mutated (:func:`mutate` on its bytes) and the archive
    re-packed around it, with valid CRCs and sizes: the damage the archive's checks cannot see."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    if not members:
        raise ValueError("an empty archive")
    at = rng.randrange(len(members))
    inner = _mutate_bytes(members[at][1], rng, operation or rng.choice(OPERATIONS))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i, (info, payload) in enumerate(members):
            archive.writestr(info, inner.data if i == at else payload)
    return Mutation(buf.getvalue(), inner.operation, f"member {members[at][0].filename}: {inner.detail} "
                                                     "(re-packed, CRC valid)")


# ------------------------------------------------------------------------ one mutant
def verdict(read: Callable[[Path], str], target: Path, names: Sequence[str]) -> tuple[Verdict, str]:
    """Call ``read(target)`` and judge it: ``("refused", message)`` for a
    :class:`~poseboard.errors.PoseboardError` whose message names one of ``names`` (the files a
    mutant may change), ``("accepted", summary)`` when it returns, else ``("crashed", why)``
    with the exception and where it was raised. A file written beside the input is a crash."""
    folder = target if target.is_dir() else target.parent
    before = _listing(folder)
    try:
        summary = read(target)
    except PoseboardError as exc:
        message = str(exc)
        result: tuple[Verdict, str] = ("refused", message) if any(n in message for n in names) else (
            "crashed", f"refused, but the message names none of {list(names)}: {message}")
    except Unsound as exc:
        result = ("crashed", f"accepted unsound output: {exc}")
    except Exception as exc:  # a crash is what this looks for: keep its type and place
        result = ("crashed", _describe(exc))
    else:
        result = ("accepted", summary)
    try:
        result[1].encode("utf-8")  # what the command prints must be printable
    except UnicodeEncodeError as exc:
        result = ("crashed", f"{result[0]}, but its message cannot be printed ({exc})")
    after = _listing(folder)
    if after != before:
        return "crashed", f"wrote beside the input: {sorted(set(after) ^ set(before))} ({result[0]}: {result[1]})"
    return result


def _describe(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame of the package outside the fuzz machinery (else
    the innermost frame outside it)."""
    machinery = f"{os.sep}workflows{os.sep}fuzz"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if machinery not in f.filename]
    ours = [f for f in frames if f"{os.sep}poseboard{os.sep}" in f.filename]
    where = (ours or frames)[-1] if frames else None
    place = f" at {Path(where.filename).name}:{where.lineno} ({where.name})" if where else ""
    return f"{type(exc).__name__}: {str(exc).strip()[:300]}{place}"


def signature(message: str) -> str:
    """What tells crashes apart: the exception's type and where it was raised, without the
    numbers and quoted values that differ from mutant to mutant."""
    kind = message.split(":", 1)[0]
    place = message.rsplit(" at ", 1)[1] if " at " in message else ""
    return re.sub(r"\d+", "N", f"{kind} at {place}" if place else re.sub(r"'[^']*'", "'…'", message[:120]))


def _listing(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.iterdir()} if folder.is_dir() else {}


# ------------------------------------------------------------------------ the table
#: The header of :func:`table` (then one :func:`table_row` per reader).
TABLE_HEADER = ("| reader | mutants | refused | accepted | crashed | seconds |\n"
                "|---|---:|---:|---:|---:|---:|")


def table_row(report: Report) -> str:
    """One reader's row: mutants tried, refused, accepted, crashed, and the seconds it took."""
    if report.seed_error:
        return f"| `{report.reader}` | seed file not accepted: {report.seed_error[:160]} | | | | |"
    return (f"| `{report.reader}` | {len(report.outcomes)} | {report.count('refused')} | {report.count('accepted')} | "
            f"**{report.count('crashed')}** | {report.seconds:.1f} |")


def table(reports: Sequence[Report]) -> str:
    """A Markdown table: per reader, mutants tried, refused, accepted, crashed, and seconds."""
    return "\n".join([TABLE_HEADER, *(table_row(r) for r in reports)])
