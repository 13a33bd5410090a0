"""``poseboard compare``: how far a reproduction's results are from a reference set (by
default the leaderboard committed at ``HEAD``), result file by result file: byte-identical,
inside the reference's 95 % bootstrap interval, or outside it; and whether each was scored on
the same task (task hash) and the same image bytes (image hash), so that a run on another CPU,
whose renderer puts a few silhouette pixels elsewhere, is seen at once to be the same benchmark.

Byte-identical results need the same code, params and data *and* the same CPU generation:
numpy, OpenBLAS and torch pick AVX-512 kernels where the CPU has them and AVX2 ones where it
does not, and those round differently, so another CPU renders the synthetic world and trains
the networks a few ulps apart and the numbers move a little. This says how much, and whether
any move is larger than the uncertainty the leaderboard already shows.
"""

from __future__ import annotations

import io
import math
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from poseboard.errors import InputError


@dataclass(frozen=True)
class Comparison:
    """One result file present in both folders."""

    path: str
    metric: str
    reference: float
    ours: float
    ci95: tuple[float, float] | None
    identical: bool
    """the two files are the same bytes"""
    same_task: bool | None
    """scored on the same task (task hash: frames, ground truth, cameras); None when a result
    predates task hashes and no ``tasks.json`` resolves it (then the content hash decides)"""
    same_images: bool | None
    """scored on the same image bytes (image hash, else content hash); None if unknown"""

    @property
    def same_data(self) -> bool:
        """Scored on the same bytes (the task and the images)."""
        return bool(self.same_images) and self.same_task is not False

    @property
    def delta(self) -> float:
        return self.ours - self.reference

    @property
    def verdict(self) -> str:
        if self.identical:
            return "identical"
        if self.same_task is False:
            return "other task"
        if self.ci95 is None or not all(map(math.isfinite, (self.ours, *self.ci95))):
            return "no interval"
        return "inside CI" if self.ci95[0] <= self.ours <= self.ci95[1] else "outside CI"


@dataclass(frozen=True)
class ComparisonReport:
    rows: list[Comparison]
    only_ours: list[str]
    only_reference: list[str]

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)


def _result_files(root: Path) -> dict[str, Path]:
    from poseboard.protocols.results import is_result_file

    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*@*.json")) if is_result_file(p)}


def compare_results(ours: str | Path, reference: str | Path) -> ComparisonReport:
    """Compare every ``<method>/<protocol>@<v>.json`` under ``ours`` with the same file under
    ``reference``: the headline metric, against the reference's 95 % interval of it."""
    from poseboard.comparison.results import same_images
    from poseboard.protocols.results import read_result, with_task_identity
    from poseboard.protocols.tasks import TASKS_FILE, read_task_records

    ours, reference = Path(ours), Path(reference)
    for folder in (ours, reference):
        if not folder.is_dir():
            raise InputError(f"{folder}: not a results folder")
    mine, theirs = _result_files(ours), _result_files(reference)
    records_ours, records_ref = (read_task_records(folder / TASKS_FILE) for folder in (ours, reference))
    rows = []
    for rel in sorted(mine.keys() & theirs.keys()):
        a = with_task_identity(read_result(mine[rel]), records_ours)
        b = with_task_identity(read_result(theirs[rel]), records_ref)
        tasks = (a.dataset.task_hash, b.dataset.task_hash)
        m = b.metrics
        ci = m.main.ci95.get(m.headline)
        rows.append(Comparison(
            path=rel, metric=m.headline, reference=m.headline_value, ours=a.metrics.headline_value,
            ci95=(float(ci[0]), float(ci[1])) if ci is not None else None,
            identical=mine[rel].read_bytes() == theirs[rel].read_bytes(),
            same_task=tasks[0] == tasks[1] if all(tasks) else None,
            same_images=same_images(a, b),
        ))
    return ComparisonReport(rows, sorted(mine.keys() - theirs.keys()), sorted(theirs.keys() - mine.keys()))


def committed_results(results: str | Path, ref: str, into: str | Path) -> Path:
    """Extract the ``results`` folder as committed at git ``ref`` into ``into``; returns the
    extracted folder (``into/<results' path in the repository>``)."""
    from poseboard.gitrepo import git_toplevel

    root, rel = git_toplevel(results)
    tar = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", ref, "--", rel], capture_output=True)
    if tar.returncode != 0:
        raise InputError(f"git archive {ref} -- {rel}: {tar.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(into, filter="data")
    return Path(into) / rel
