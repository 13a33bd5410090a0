"""The mutation engine (issue 80): each operation does what it says, a mutant is rebuilt alone from
(seed, reader, index), a member mutation leaves a valid archive, the verdict tells a clean
refusal from a crash, and the memory limit stops an allocation past it."""

from __future__ import annotations

import io
import itertools
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poseboard.errors import InputError
from poseboard.workflows.fuzz import (
    OPERATIONS,
    REPLACEMENTS,
    Unsound,
    mutant_rng,
    mutate,
    mutate_member,
    signature,
    verdict,
)
from poseboard.workflows.fuzz_run import make_mutant

TEXT = b"%YAML:1.0\n---\nK: [ 1145.5, 0., 512.25 ]\nwidth: 1000\nheight: 1002\nname: \"cam\"\n"


def test_a_mutant_is_rebuilt_alone_from_its_seed_reader_and_index():
    files = {"a.yml": TEXT}
    assert make_mutant("x", 80, 7, files) == make_mutant("x", 80, 7, files)
    assert {make_mutant("x", 80, i, files)[1].data for i in range(20)} != {TEXT}
    assert make_mutant("x", 80, 7, files) != make_mutant("x", 81, 7, files)
    assert mutant_rng(1, "a", 2).random() == random.Random("1/a/2").random()


def test_truncate_keeps_a_shorter_prefix():
    for i in range(20):
        m = mutate(TEXT, random.Random(i), "truncate")
        assert len(m.data) < len(TEXT) and TEXT.startswith(m.data) and m.operation == "truncate"


def test_bytes_changes_one_to_three_bytes_in_place():
    for i in range(20):
        m = mutate(TEXT, random.Random(i), "bytes")
        assert len(m.data) == len(TEXT)
        assert 1 <= sum(a != b for a, b in zip(m.data, TEXT, strict=True)) <= 3


def test_numbers_are_replaced_by_the_broken_exports_values():
    for i in range(30):
        m = mutate(TEXT, random.Random(i), "numbers")
        assert m.operation == "numbers" and m.data != TEXT
        for part in m.detail.split("; "):
            old, new = part.split(" -> ")
            assert new.strip("'").encode() in REPLACEMENTS
            assert old.split("'")[1].encode() in TEXT
    no_numbers = mutate(b"abc: def\n", random.Random(0), "numbers")
    assert no_numbers.operation == "bytes"  # nothing to replace: a byte changes instead


def test_line_operations_delete_or_repeat_one_line():
    lines = TEXT.splitlines(keepends=True)
    for i in range(20):
        gone = mutate(TEXT, random.Random(i), "delete-line").data.splitlines(keepends=True)
        assert len(gone) == len(lines) - 1 and all(line in lines for line in gone)
        twice = mutate(TEXT, random.Random(i), "repeat-line").data.splitlines(keepends=True)
        assert len(twice) == len(lines) + 1 and any(a == b for a, b in itertools.pairwise(twice))


def test_every_operation_is_drawn():
    drawn = {mutate(TEXT, random.Random(i)).operation for i in range(200)}
    assert drawn == set(OPERATIONS)
    with pytest.raises(ValueError, match="unknown mutation"):
        mutate(TEXT, random.Random(0), "shuffle")


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_a_member_mutation_repacks_a_valid_archive_with_one_member_changed():
    data = _npz(a=np.arange(50.0), b=np.array(["x", "y"]))
    seen = set()
    for i in range(40):
        m = mutate_member(data, random.Random(i))
        with zipfile.ZipFile(io.BytesIO(m.data)) as z, zipfile.ZipFile(io.BytesIO(data)) as orig:
            assert z.testzip() is None  # every CRC valid
            assert z.namelist() == orig.namelist()
            changed = [n for n in z.namelist() if z.read(n) != orig.read(n)]
        assert len(changed) <= 1 and "re-packed, CRC valid" in m.detail
        seen.update(changed)
    assert seen == {"a.npy", "b.npy"}
    whole = {mutate(data, random.Random(i)).detail.startswith("member ") for i in range(40)}
    assert whole == {True, False}  # half inside a member, half the archive's bytes


def _read_ok(path: Path) -> str:
    return "fine"


def test_the_verdict_tells_refusals_from_crashes(tmp_path):
    f = tmp_path / "cal.yml"
    f.write_text("x")

    def refuse(path):
        raise InputError(f"{path}: camera 'a': bad")

    def refuse_anonymously(path):
        raise InputError("something is bad")

    def crash(path):
        return {}[(0, 2)]

    def unsound(path):
        raise Unsound("K: NaN")

    def writes(path):
        (path.parent / "out.json").write_text("{}")
        return "wrote"

    def unprintable(path):
        return "id \ud800"

    assert verdict(_read_ok, f, ["cal.yml"]) == ("accepted", "fine")
    assert verdict(refuse, f, ["cal.yml"])[0] == "refused"
    kind, why = verdict(refuse_anonymously, f, ["cal.yml"])
    assert kind == "crashed" and "names none of" in why
    kind, why = verdict(crash, f, ["cal.yml"])
    assert kind == "crashed" and why.startswith("KeyError: (0, 2) at ") and "(crash)" in why
    assert verdict(unsound, f, ["cal.yml"]) == ("crashed", "accepted unsound output: K: NaN")
    kind, why = verdict(writes, f, ["cal.yml"])
    assert kind == "crashed" and "out.json" in why
    assert verdict(unprintable, f, ["cal.yml"])[0] == "crashed"


def test_crash_signatures_group_by_type_and_place():
    a = "BadZipFile: Bad CRC-32 for file 'poses.npy' at user_motion.py:90 (load_user_motion)"
    b = "BadZipFile: Bad CRC-32 for file 'fps.npy' at user_motion.py:90 (load_user_motion)"
    c = "KeyError: (0, 2) at easymocap.py:60 (read)"
    assert signature(a) == signature(b) != signature(c)


def test_the_memory_limit_stops_an_allocation_past_it():
    code = ("import numpy as np\nfrom poseboard.workflows.fuzz_run import limit_memory\n"
            "limit_memory(256 << 20)\nnp.ones(64 << 20)\n"  # 64 Mi float64 = 512 MiB
            "print('allocated')\n")
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_AS is Linux's")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr and "allocated" not in proc.stdout


def test_a_child_that_dies_is_a_crash_of_its_mutant_and_the_run_resumes(monkeypatch, tmp_path):
    """A heap corruption (OpenCV's ``malloc(): unsorted double linked list corrupted``) kills
    the process: that mutant is a crash, and a new child goes on after it."""
    import json
    from dataclasses import asdict

    import poseboard.workflows.fuzz_run as fuzz_run
    from poseboard.workflows.fuzz import Outcome

    calls = []

    def child(command, **kw):
        todo = [int(i) for i in command[-1].split(",")]
        calls.append(todo)
        lines = ['{"ready": true}']
        for i in todo:
            if i == 2 and len(calls) == 1:
                return subprocess.CompletedProcess(command, -6, "\n".join(lines), "malloc(): corrupted")
            lines.append(json.dumps(asdict(Outcome("x", i, "refused", "f", "o", "d", "m"))))
        return subprocess.CompletedProcess(command, 0, "\n".join(lines), "")

    monkeypatch.setattr(fuzz_run.subprocess, "run", child)
    report = fuzz_run.run_isolated("x", 1, tmp_path, range(5))
    assert [o.verdict for o in report.outcomes] == ["refused", "refused", "crashed", "refused", "refused"]
    assert "the process died (exit -6): malloc(): corrupted" in report.outcomes[2].message
    assert calls == [[0, 1, 2, 3, 4], [3, 4]]

    monkeypatch.setattr(fuzz_run.subprocess, "run",
                        lambda command, **kw: subprocess.CompletedProcess(command, 1, "", "ImportError: x"))
    with pytest.raises(RuntimeError, match="stopped before its mutants were done"):
        fuzz_run.run_isolated("x", 1, tmp_path, range(5))
