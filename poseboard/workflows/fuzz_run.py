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


# ------------------------------------------------------------------------ a run in this process
def run_reader(name: str, mutants: int, seed: int, work: Path, start: int = 0,
               only: Sequence[int] | None = None, keep: Path | None = None,
               ready: Callable[[], None] | None = None) -> Iterator[Outcome | str]:
    """Mutants ``start`` … ``mutants - 1`` (or the indices ``only``) of reader ``name``, each
    read in ``work`` and judged (:func:`verdict`). Yields a string first when the seed file
    itself is not accepted (and nothing else); else calls ``ready()`` once the seed was read (its
    imports done). ``keep``: a folder where each crashing mutant's files are copied
    (``<reader>-<index>/``)."""
    reader = READERS[name]
    seed_dir = work / "seed"
    seed_dir.mkdir(parents=True, exist_ok=True)
    files = reader.write_seed(seed_dir)
    seed_bytes = {p.name: p.read_bytes() for p in files}
    names = [p.name for p in files]
    kind, message = verdict(reader.read, _target(seed_dir, files, reader.target), names)
    if kind != "accepted":
        yield f"{kind}: {message}"
        return
    if ready is not None:
        ready()
    case = work / "mutant"
    for index in only if only is not None else range(start, mutants):
        rng = mutant_rng(seed, name, index)
        chosen = rng.choice(names)
        mutation = mutate(seed_bytes[chosen], rng)
        if case.exists():
            for p in case.iterdir():
                p.unlink()
        case.mkdir(exist_ok=True)
        for file_name, data in seed_bytes.items():
            (case / file_name).write_bytes(mutation.data if file_name == chosen else data)
        kind, message = verdict(reader.read, _target(case, files, reader.target), names)
        if kind == "crashed" and keep is not None:
            _keep(case, keep / f"{name}-{index}", mutation)
        yield Outcome(name, index, kind, chosen, mutation.operation, mutation.detail, message)


def _target(folder: Path, files: Sequence[Path], target: str | None) -> Path:
    """What the reader is given: the folder (``target`` "."), a named file, else the first file."""
    if target == ".":
        return folder
    return folder / (target or files[0].name)


def _keep(case: Path, out: Path, mutation: Mutation) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for p in case.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    (out / "MUTATION.txt").write_text(f"{mutation.operation}: {mutation.detail}\n")


# ------------------------------------------------------------------------ a run in its own process
def run_isolated(name: str, mutants: int, seed: int, work: Path, memory_limit: int | None = MEMORY_LIMIT_BYTES,
                 only: Sequence[int] | None = None, keep: Path | None = None) -> Report:
    """Reader ``name``'s mutants in a child process (:func:`_worker`) whose address space is
    limited to what it holds after reading the seed plus ``memory_limit`` bytes (None: no
    limit), with :data:`MUTANT_SECONDS` per mutant. A child that dies (a segfault, a hang) is
    a crash of the mutant it was on, and a new child resumes after it."""
    report = Report(name, seed)
    t0 = time.perf_counter()
    indices = list(only) if only is not None else list(range(mutants))
    while indices:
        command = [sys.executable, "-m", "poseboard.workflows.fuzz_run", name, str(seed), str(work),
                   str(memory_limit or 0), str(keep or ""), ",".join(str(i) for i in indices)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENCV_FOR_THREADS_NUM": "1", "PYTHONWARNINGS": "ignore"}
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
        indices = [i for i in indices if i not in done]
        if indices and (proc.returncode == 0 or not ready):  # not a mutant's doing
            raise RuntimeError(f"fuzz worker for {name!r} stopped before its mutants were done (exit "
                               f"{proc.returncode}): {proc.stderr.strip()[-2000:]}")
        if indices:  # the child died on the first mutant it did not report
            lost = indices.pop(0)
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])[:400]
            report.outcomes.append(Outcome(name, lost, "crashed", "?", "?", "?",
                                           f"the process died (exit {proc.returncode}): {tail}"))
    report.outcomes.sort(key=lambda o: o.index)
    report.seconds = time.perf_counter() - t0
    return report


def _limit_memory(extra: int) -> None:
    """Cap this process's address space at its current size plus ``extra`` bytes (Linux)."""
    import resource

    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = size_kb * 1024 + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _worker(argv: Sequence[str]) -> int:
    """The child of :func:`run_isolated`: one JSON line per outcome on stdout."""
    import signal
    import warnings

    name, seed, work, memory, keep, indices = argv
    warnings.simplefilter("ignore")
    only = [int(i) for i in indices.split(",") if i]

    def too_long(signum: int, frame: object) -> None:
        raise TimeoutError(f"over {MUTANT_SECONDS:g} s on one file")

    def ready() -> None:
        if int(memory) and sys.platform.startswith("linux"):
            _limit_memory(int(memory))
        print(json.dumps({"ready": True}), flush=True)

    signal.signal(signal.SIGALRM, too_long)
    outcomes = run_reader(name, 0, int(seed), Path(work), only=only, keep=Path(keep) if keep else None, ready=ready)
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
