"""Running the fuzz (:mod:`poseboard.workflows.fuzz`) over the readers of
:mod:`poseboard.workflows.fuzz_readers`: in this process (:func:`run_reader`), or each reader
in a child process (:func:`run_isolated`) whose address space is capped at what it holds after
reading the seed plus :data:`MEMORY_LIMIT_BYTES`, with :data:`MUTANT_SECONDS` per mutant. What
``poseboard fuzz`` and ``tests/fuzz`` run.

A mutant is rebuilt alone from ``(seed, reader, index)``::

    poseboard fuzz --reader opencv-yaml --seed 80 --mutant 17 --keep /tmp/mutants
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from poseboard.workflows.fuzz import Mutation, Outcome, Report, mutant_rng, mutate, verdict
from poseboard.workflows.fuzz_readers import READERS

#: Memory a reader may take beyond what its process holds after reading the seed (bytes).
MEMORY_LIMIT_BYTES = 1 << 30
#: Wall time one mutant may take before it counts as a crash (a hang), seconds.
MUTANT_SECONDS = 20.0


def make_mutant(name: str, seed: int, index: int, seed_files: dict[str, bytes]) -> tuple[str, Mutation]:
    """Mutant ``index`` of reader ``name``: (the seed file it changes, the mutation). The file and
    the mutation are drawn from :func:`~poseboard.workflows.fuzz.mutant_rng`, so a mutant does
    not depend on the others."""
    rng = mutant_rng(seed, name, index)
    chosen = rng.choice(sorted(seed_files))
    return chosen, mutate(seed_files[chosen], rng)


def write_mutant(folder: Path, seed_files: dict[str, bytes], chosen: str, mutation: Mutation) -> None:
    """``folder`` holding the seed files, with ``chosen`` replaced by the mutant (nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in folder.iterdir():
        p.unlink()
    for file_name, data in seed_files.items():
        (folder / file_name).write_bytes(mutation.data if file_name == chosen else data)


def run_reader(name: str, seed: int, work: Path, indices: Sequence[int], keep: Path | None = None,
               keep_all: bool = False, ready: Callable[[], None] | None = None) -> Iterator[Outcome | str]:
    """Mutants ``indices`` of reader ``name`` under ``seed``, each read in ``work`` and judged
    (:func:`~poseboard.workflows.fuzz.verdict`).

    Yields a string first when the seed file itself is not accepted (and nothing else); else
    calls ``ready()`` once the seed was read (its imports done), then yields one
    :class:`~poseboard.workflows.fuzz.Outcome` per mutant. ``keep``: a folder where each
    crashing mutant's files are copied (every mutant's with ``keep_all``), as
    ``<reader>-<index>/`` with ``MUTATION.txt`` saying what was done.
    """
    reader = READERS[name]
    seed_dir = work / "seed"
    seed_dir.mkdir(parents=True, exist_ok=True)
    files = reader.write_seed(seed_dir)
    seed_files = {p.name: p.read_bytes() for p in files}
    names = sorted(seed_files)
    target = files[0].name  # what the command is given (EasyMocap: intri.yml)
    kind, message = verdict(reader.read, seed_dir / target, names)
    if kind != "accepted":
        yield f"{kind}: {message}"
        return
    if ready is not None:
        ready()
    case = work / "mutant"
    for index in indices:
        chosen, mutation = make_mutant(name, seed, index, seed_files)
        write_mutant(case, seed_files, chosen, mutation)
        kind, message = verdict(reader.read, case / target, names)
        if keep is not None and (kind == "crashed" or keep_all):
            _keep(case, keep / f"{name}-{index}", mutation)
        yield Outcome(name, index, kind, chosen, mutation.operation, mutation.detail, message)


def _keep(case: Path, out: Path, mutation: Mutation) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for p in case.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    (out / "MUTATION.txt").write_text(f"{mutation.operation}: {mutation.detail}\n")


# ------------------------------------------------------------------------ a run in its own process
def run_isolated(name: str, seed: int, work: Path, indices: Sequence[int],
                 memory_limit: int | None = MEMORY_LIMIT_BYTES, keep: Path | None = None,
                 keep_all: bool = False) -> Report:
    """Reader ``name``'s mutants ``indices`` in a child process (:func:`_worker`) whose address
    space is limited to what it holds after reading the seed plus ``memory_limit`` bytes (None:
    no limit), with :data:`MUTANT_SECONDS` per mutant. A child that dies (a segfault, a heap
    corruption, a hang) is a crash of the mutant it was on, and a new child resumes after it.

    Raises:
        RuntimeError: the child failed before its first mutant (not a mutant's doing).
    """
    report = Report(name, seed)
    t0 = time.perf_counter()
    todo = list(indices)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    while todo:
        command = [sys.executable, "-m", "poseboard.workflows.fuzz_run", name, str(seed), str(work),
                   str(memory_limit or 0), str(keep or ""), "1" if keep_all else "0", ",".join(map(str, todo))]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        done, ready = set(), False
        for line in proc.stdout.splitlines():
            row = json.loads(line) if line.startswith("{") else {}
            if "seed_error" in row:
                report.seed_error = row["seed_error"]
                report.seconds = time.perf_counter() - t0
                return report
            if "ready" in row:
                ready = True
            elif "index" in row:
                report.outcomes.append(Outcome(**row))
                done.add(row["index"])
        todo = [i for i in todo if i not in done]
        if todo and (proc.returncode == 0 or not ready):
            raise RuntimeError(f"the fuzz worker for {name!r} stopped before its mutants were done (exit "
                               f"{proc.returncode}): {proc.stderr.strip()[-2000:]}")
        if todo:  # the child died on the first mutant it did not report
            lost = todo.pop(0)
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])[:400]
            report.outcomes.append(Outcome(name, lost, "crashed", "?", "?", "?",
                                           f"the process died (exit {proc.returncode}): {tail}"))
    report.outcomes.sort(key=lambda o: o.index)
    report.seconds = time.perf_counter() - t0
    return report


def limit_memory(extra: int) -> None:
    """Cap this process's address space at its current size plus ``extra`` bytes (Linux:
    ``RLIMIT_AS``; elsewhere nothing is capped). An allocation past it raises ``MemoryError``
    (numpy) or fails inside the library (OpenCV), a crash either way."""
    import resource

    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = size_kb * 1024 + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _worker(argv: Sequence[str]) -> int:
    """The child of :func:`run_isolated`: one JSON line per outcome on stdout (after a line
    ``{"ready": true}`` once the seed was read, or ``{"seed_error": …}`` instead)."""
    import signal
    import warnings

    name, seed, work, memory, keep, keep_all, indices = argv
    warnings.simplefilter("ignore")

    def ready() -> None:
        if int(memory) and sys.platform.startswith("linux"):
            limit_memory(int(memory))
        print(json.dumps({"ready": True}), flush=True)

    def too_long(signum: int, frame: object) -> None:
        raise TimeoutError(f"over {MUTANT_SECONDS:g} s on one file")

    signal.signal(signal.SIGALRM, too_long)
    outcomes = run_reader(name, int(seed), Path(work), [int(i) for i in indices.split(",") if i],
                          keep=Path(keep) if keep else None, keep_all=keep_all == "1", ready=ready)
    while True:
        signal.setitimer(signal.ITIMER_REAL, MUTANT_SECONDS)
        try:
            item = next(outcomes)
        except StopIteration:
            break
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(item, str):
            print(json.dumps({"seed_error": item}), flush=True)
            return 0
        print(json.dumps(asdict(item)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
