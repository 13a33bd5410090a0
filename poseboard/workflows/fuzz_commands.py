"""``poseboard fuzz`` (maintainers): mutate real-shaped files and hand them to every reader of a
user's file (:mod:`poseboard.workflows.fuzz`); print, per reader, the mutants tried, refused,
accepted and crashed, and each crash with the command that rebuilds it.

A plain function with typer annotations, registered by the main CLI
(``app.command("fuzz")(fuzz)``); its body imports the fuzz modules, so importing this one is cheap.
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError


def fuzz(
    reader: Annotated[list[str] | None, typer.Option(
        "--reader", help="a reader to fuzz (repeatable; default: every one; --list names them)")] = None,
    mutants: Annotated[int, typer.Option("--mutants", min=1, help="mutants per reader")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="the run's seed: mutant k of a reader is the same for the "
                                                     "same seed on every machine")] = 80,
    mutant: Annotated[list[int] | None, typer.Option(
        "--mutant", min=0, help="only this mutant (repeatable): rebuild one the table reported")] = None,
    keep: Annotated[Path | None, typer.Option(
        "--keep", help="copy each crashing mutant's files here (with --mutant: each one asked for), "
                       "<reader>-<k>/ with MUTATION.txt")] = None,
    memory_mb: Annotated[int, typer.Option(
        "--memory-mb", min=0, help="memory a reader may take beyond its process after the seed was read, MiB "
                                   "(0: no limit); more is a crash")] = 1024,
    list_readers: Annotated[bool, typer.Option("--list", help="list the readers and exit")] = False,
) -> None:
    """Fuzz the readers of users' files (maintainers): each reader's real-shaped seed file,
    mutated MUTANTS times (truncated, bytes changed, numbers made nan/inf/1e308/-0/empty/huge,
    a line deleted or repeated), each read in a child process under a memory limit. Every
    mutant must be refused (exit 2, `error:` naming the file, nothing written) or accepted with
    finite output; anything else is a crash, printed with the command that rebuilds it. Exits 1
    when a reader crashed (docs/architecture.md, "Malformed and corrupted files")."""
    from poseboard.workflows.fuzz import TABLE_HEADER, Outcome, signature, table_row
    from poseboard.workflows.fuzz_readers import READERS
    from poseboard.workflows.fuzz_run import run_isolated

    if list_readers:
        for r in READERS.values():
            typer.echo(f"{r.name:18s} {r.what}")
        return
    names = list(reader) if reader else list(READERS)
    for name in names:
        if name not in READERS:
            near = difflib.get_close_matches(name, READERS, n=1)
            raise InputError(f"--reader {name!r} is no reader" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; the readers are {list(READERS)}")
    indices = sorted(set(mutant)) if mutant else list(range(mutants))
    typer.echo(f"seed {seed}, {len(indices)} mutant(s) per reader, memory limit "
               f"{f'{memory_mb} MiB' if memory_mb else 'none'}\n")
    typer.echo(TABLE_HEADER)
    reports = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"poseboard-fuzz-{name}-") as work:
            report = run_isolated(name, seed, Path(work), indices, memory_limit=memory_mb << 20,
                                  keep=keep, keep_all=bool(mutant))
        reports.append(report)
        typer.echo(table_row(report))
    crashes = [o for r in reports for o in r.crashes]
    seedless = [r.reader for r in reports if r.seed_error]
    if mutant:
        for o in (o for r in reports for o in r.outcomes):
            typer.echo(f"\n{o.reader} mutant {o.index}: {o.verdict}; {o.file}: {o.operation}: {o.detail}\n"
                       f"  {o.message[:600]}")
    kinds: dict[tuple[str, str], list[Outcome]] = {}
    for o in crashes:
        kinds.setdefault((o.reader, signature(o.message)), []).append(o)
    for (name, _), group in kinds.items():
        o = group[0]
        others = ", ".join(str(g.index) for g in group[1:6]) + (", …" if len(group) > 6 else "")
        typer.echo(f"\nCRASH {name}: {len(group)} mutant(s), e.g. mutant {o.index} ({o.file}: {o.operation}: "
                   f"{o.detail[:200]})" + (f"; also {others}" if others else "") + f"\n  {o.message[:600]}\n"
                   f"  rebuild: poseboard fuzz --reader {name} --seed {seed} --mutant {o.index} --keep fuzz-mutants")
    total = sum(len(r.outcomes) for r in reports)
    typer.echo(f"\n{total} mutants over {len(reports)} reader(s): {len(crashes)} crash(es)"
               + (f"; seed file not accepted: {seedless}" if seedless else "")
               + (f"; mutants kept in {keep}" if keep and (crashes or mutant) else ""))
    if crashes or seedless:
        raise typer.Exit(code=1)
