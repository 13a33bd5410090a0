"""``poseboard method NAME`` (``make method NAME=...``): one method ranked against the committed board.

From a fresh clone, without re-training the built-in methods (their result files, with their
per-sequence errors, and the task identity of every split are committed):

1. render only the datasets NAME's stages read (``dvc repro generate@<dataset>``);
2. check that each rendered split is the board's task (``results/tasks.json``): another
   profile, seed or generator version is refused, naming both hashes, and nothing is ranked;
3. ``dvc repro`` NAME's own stages (``train@NAME``, its ``predict@``/``score@`` stages, and what
   they need upstream: ``pretrain_backbone`` only when its ``init`` chain reaches the backbone).
   A dry run first: if any other method's stage would run (an ``init`` on a built-in method
   whose checkpoint is not here), the command stops before running anything, naming the two ways
   to get a missing or altered board checkpoint (pull, or ``dvc repro``; issue 70); the shared
   backbone, when it is to be pre-trained, is announced first with the pull that avoids it;
4. rebuild the leaderboard and the paper tables from the committed results plus NAME's into
   ``report/method/`` (the DVC ``report`` stage's ``report/`` stays the committed board's), and
   print the verdict: NAME's row on each protocol, the paired comparison with every built-in
   method as the board tests it (difference, 95 % interval, Holm-corrected p over NAME's
   comparisons on that protocol, decided or not, the measured seed noise where the board adds
   it), the generalization view where NAME ran on a held-out split.

Running it again after editing NAME's module or its ``params.yaml`` block re-runs NAME's
stages only: every other stage depends on other files (dvc.yaml lists the methods' code file
by file; ``poseboard/methods/added.py``). ``dvc status`` afterwards lists NAME's stages as up
to date and the others as they were: missing outputs where this clone never ran them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from poseboard.errors import InputError, PoseboardError
from poseboard.pipeline_env import pipeline_env

if TYPE_CHECKING:
    from poseboard.checkpoint_origin import Origin
    from poseboard.params import Params
    from poseboard.report.model import Board, RowComparison

#: Where the leaderboard with the method is written (relative to the repository).
METHOD_REPORT = Path("report/method")

_RAN = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)


class TaskMismatch(PoseboardError):
    """A split rendered here is not the board's task: nothing is ranked."""


@dataclass
class MethodPlan:
    """What ``poseboard method NAME`` runs: NAME's stages and the datasets they read."""

    name: str
    datasets: list[str]
    targets: list[str]
    #: stages allowed to run on the way (NAME's, its init chain's, rendering, pre-training)
    allowed: set[str] = field(default_factory=set)
    protocols: list[str] = field(default_factory=list)


def plan_method(params: Params, name: str) -> MethodPlan:
    """NAME's DVC targets from ``params``: ``train@NAME`` and the ``predict@``/``score@`` stages of
    every evaluation and score whose method is NAME; the datasets they read."""
    import difflib

    from poseboard.fingerprint import STAGES as CODE_STAGES
    from poseboard.methods.registry import is_builtin

    if name not in params.methods:
        close = difflib.get_close_matches(name, params.methods, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(f"params.yaml: no block methods.{name}{hint}; `poseboard new-method {name}` writes one")
    block = params.methods[name]
    if block.code is None:
        raise InputError(f"params.yaml: methods.{name}.code is missing: name the method's module, e.g. "
                         f"code: poseboard/methods/{name.replace('-', '_')}.py (dvc.yaml's train@{name} depends on it)")
    evals = {k: e for k, e in params.evaluations.items() if e.method == name}
    scores = {k: s for k, s in params.scores.items() if s.method == name}
    if not evals:
        raise InputError(f"params.yaml: no entry of `evaluations` has method: {name}; add one per protocol "
                         f"(e.g. `{name}-synth-h36m-relative: {{method: {name}, protocol: synth-h36m-relative, "
                         "version: 2, dataset: synth-h36m}`)")
    datasets = sorted({block.dataset, *(e.dataset for e in evals.values()), *(s.dataset for s in scores.values())})
    targets = [f"train@{name}", *(f"predict@{k}" for k in evals), *(f"score@{k}" for k in scores)]
    # the code fingerprints (dvc.yaml's <kind>_code stages) only hash source files: they may run
    # ... and the motion library the generate@ stages read (data/motion: built once per machine)
    allowed = set(targets) | {f"generate@{d}" for d in datasets} | set(CODE_STAGES) | {"motion_library"}
    chain, cur = [], block.init
    while cur not in ("backbone", "none"):
        chain.append(cur)
        cur = params.methods[cur].init
    allowed |= {"pretrain_backbone"} if cur == "backbone" else {"no_init"}
    for key in chain:  # an init on another added method trains it too; a built-in one, never
        if not is_builtin(params.methods[key].method):
            allowed.add(f"train@{key}")
        if params.methods[key].dataset not in datasets:
            datasets.append(params.methods[key].dataset)
            allowed.add(f"generate@{params.methods[key].dataset}")
    protocols = [f"{e.protocol}@{e.version}" for e in evals.values()]
    protocols += [f"{s.protocol}@{s.version}" for s in scores.values()]
    return MethodPlan(name, sorted(datasets), targets, allowed, protocols)


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = pipeline_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def _dvc(args: list[str], repo: Path, echo: bool = True) -> str:
    """Run ``dvc ARGS`` in ``repo`` (the venv's dvc), streaming its output when ``echo``; returns it."""
    exe = Path(sys.executable).with_name("dvc")
    cmd = [str(exe) if exe.exists() else "dvc", *args]
    proc = subprocess.Popen(cmd, cwd=repo, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()
    out = "".join(lines)
    if proc.wait() != 0:
        raise PoseboardError(f"`dvc {' '.join(args)}` failed (exit {proc.returncode}):\n{out[-3000:]}")
    return out


def stages_ran(output: str) -> list[str]:
    """The stages a ``dvc repro`` output says it ran (``Running stage '...'``)."""
    return _RAN.findall(output)


def upstream_stages(repo: Path, plan: MethodPlan) -> dict[str, bool]:
    """Every stage ``dvc repro`` of ``plan.targets`` reaches (the targets and every stage they
    depend on, DVC's own graph) → whether DVC counts it as changed (a dependency DVC cannot hash,
    e.g. a dataset not rendered yet, counts as changed)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        graph = dvc_repo.index.graph
        by_name = {s.addressing: s for s in graph.nodes}
        missing = [t for t in plan.targets if t not in by_name]
        if missing:
            raise InputError(f"dvc.yaml has no stage {', '.join(missing)}: check params.yaml's blocks")
        names: set[str] = set()
        for target in plan.targets:
            names.add(target)
            names |= {s.addressing for s in nx.descendants(graph, by_name[target])}
        out = {}
        with dvc_repo.lock:  # Stage.changed() asserts the repo lock is held: unlocked, every stage read as changed
            for name in sorted(names):
                try:
                    out[name] = bool(by_name[name].changed())
                except Exception:  # a dependency DVC cannot hash: the stage would have to run
                    out[name] = True
    return out


def upstream_to_run(repo: Path, plan: MethodPlan) -> list[str]:
    """The stages ``dvc repro`` of ``plan.targets`` could run: those of :func:`upstream_stages`
    in ``plan.allowed`` and the changed others, less the board checkpoints that are here and
    the board's (:func:`kept_board_weights`). (``dvc repro --dry`` cannot say: it stops at the
    first missing dataset.)"""
    stages = upstream_stages(repo, plan)
    out = [n for n, changed in stages.items() if n in plan.allowed or changed]
    kept = {o.checkpoint.stage for o in kept_board_weights(repo, [n for n in out if stages[n]])}
    return [n for n in out if n not in kept]


def kept_board_weights(repo: Path, would_run: list[str]) -> list[Origin]:
    """The board checkpoints among ``would_run``'s weight stages that are here and are the
    board's (DVC's hash equals ``dvc.lock``'s) although DVC counts their stage as changed. The
    weight stages depend on each dataset's training key (:mod:`poseboard.datasets.training_key`),
    which is the same on another CPU kind for the board's code and parameters; after an edit of
    the rendering code on another CPU kind the key is that machine's, and the stage counts as
    changed although the task is the board's. Such a checkpoint is kept, not re-trained: ``poseboard method`` then runs
    its stages with ``dvc repro --single-item`` (DVC's stage-by-stage mode, which does not rebuild
    upstream), and ``dvc status`` keeps saying the kept stage's data differs, which is true."""
    return [o for o in _weight_origins(repo, would_run) if o.present and o.is_boards]


def repro_order(repo: Path, stages: list[str]) -> list[str]:
    """``stages`` in the order DVC runs them (dependencies first)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        graph = dvc_repo.index.graph  # edges: a stage → the stages it depends on
        order = [s.addressing for s in reversed(list(nx.topological_sort(graph)))]
    wanted = set(stages)
    return [s for s in order if s in wanted]


def _weight_origins(repo: Path, stages: list[str]) -> list[Origin]:
    """The board checkpoints ``stages`` write (``dvc.lock``'s weight stages among them, the
    ``no_init`` marker aside: it takes no time), each with the hash of what is here."""
    from poseboard.checkpoint_origin import board_checkpoints, origins

    by_stage = {c.stage: c for c in board_checkpoints(repo) if c.stage != "no_init"}
    return origins(by_stage[s] for s in stages if s in by_stage)


def check_only_allowed(would_run: list[str], plan: MethodPlan, repo: Path | None = None) -> None:
    """Refuse a run that would run another method's stage (the built-in board is never re-trained).
    Given ``repo``, a board checkpoint behind such a stage that is missing or not the board's (its
    DVC hash is not ``dvc.lock``'s) is named, with the two ways to get the board's (issue 70)."""
    from poseboard.checkpoint_origin import ways_to_get

    other = [s for s in would_run if s not in plan.allowed]
    if not other:
        return
    why = ""
    if repo is not None:
        for o in _weight_origins(repo, other):
            if not o.present:
                why += (f"\n{o.checkpoint.path} is not here; get the board's either way (then run this again):\n"
                        + ways_to_get([o.checkpoint]))
            elif not o.is_boards:
                why += f"\n{o.not_the_boards()}"
    raise InputError(
        f"`dvc repro` of {plan.name}'s stages would also run {', '.join(other)}: poseboard method runs "
        f"{plan.name}'s stages only. Start it from `init: backbone` or `init: none`, or from another added "
        "method, or run `dvc repro` for the whole board." + why)


def weight_notes(repo: Path, would_run: list[str], plan: MethodPlan) -> list[str]:
    """What the board checkpoints among ``plan``'s allowed stages (the shared backbone) cost:
    one line for each that ``dvc repro`` will train because it is not here (with the pull that
    gets the board's instead, and what each takes) or not the board's (re-trained, replacing it);
    none when they are the board's, which DVC then skips."""
    from poseboard.checkpoint_origin import PULL, megabytes, train_time

    notes = []
    for o in _weight_origins(repo, [s for s in would_run if s in plan.allowed]):
        c = o.checkpoint
        if not o.present:
            notes.append(f"{c.path} is not here: `dvc repro` trains it now, unless DVC's cache holds it (`{c.stage}`: "
                         f"{train_time([c])}). To "
                         f"get the board's instead, stop (Ctrl-C), `{PULL} {c.stage}` ({megabytes(c.size)} by "
                         f"dvc.lock), and run this again")
        elif not o.is_boards:
            notes.append(f"{o.not_the_boards()}. `dvc repro` replaces it now (re-trained, or restored from DVC's "
                         f"cache): {plan.name} is ranked against the board from the board's weights only")
    return notes


def check_tasks(repo: Path, datasets: list[str]) -> list[str]:
    """Each rendered split of ``datasets`` against ``results/tasks.json``; raises
    :class:`TaskMismatch` naming both hashes when one is not the board's task. Returns one line
    per split."""
    from poseboard.datasets.identity import match_split
    from poseboard.protocols.tasks import TASKS_FILE, read_task_records

    tasks_path = repo / "results" / TASKS_FILE
    records = read_task_records(tasks_path)
    if records is None:
        raise TaskMismatch(f"{tasks_path}: missing; the committed board's task records are needed to rank "
                           "anything (it is committed with the results)")
    lines, bad = [], []
    for d in datasets:
        for split in sorted((repo / "data" / d).glob("*/manifest.json")):
            m = match_split(split.parent, records)
            lines.append(m.sentence())
            if not m.comparable:
                rec = m.record.task_hash if m.record is not None else "none recorded"
                bad.append(f"data/{d}/{split.parent.name}: task {m.identity.task_hash} here, {rec} on the board "
                           f"({tasks_path})")
    if bad:
        raise TaskMismatch(
            "not the board's task, so nothing is ranked: " + "; ".join(bad) + ". The committed results were scored "
            "on the splits `params.yaml` renders with its committed profile, seed and generator; set them back "
            "(e.g. `profile: default`), or run `dvc repro` to build a board of your own")
    return lines


@dataclass(frozen=True)
class Verdict:
    """NAME against one other method on one protocol, tested as the board tests neighbours."""

    other: str
    comparison: RowComparison | None
    p_holm: float | None
    decided: bool | None


def verdicts(board: Board, name: str, level: float) -> list[Verdict]:
    """NAME's row against every other row of ``board`` (the board's own test,
    :func:`poseboard.report.model.compare_rows`), Holm-corrected over these comparisons."""
    from poseboard.comparison.paired import holm
    from poseboard.report.model import compare_rows

    row = next(r for r in board.rows if r.method == name)
    comps = [(other.method, compare_rows(row, other)) for other in board.rows if other.method != name]
    made = [c for _, c in comps if c is not None]
    adjusted = iter(holm([c.p_value for c in made]))
    out = []
    for other, c in comps:
        p = next(adjusted) if c is not None else None
        out.append(Verdict(other, c, p, None if p is None else p < level))
    return out


def verdict_text(boards: list[Board], name: str, level: float, generalization: object | None = None) -> str:
    """The printed verdict: NAME's row per protocol and its comparison with every other method."""
    lines = []
    for board in boards:
        row = next((r for r in board.rows if r.method == name), None)
        if row is None:
            continue
        unit = board.unit
        ci = f" [{row.ci95[0]:.1f}, {row.ci95[1]:.1f}]" if row.ci95 else ""
        lines.append(f"\n{board.id}: {name} {board.headline_label} = {row.value:.2f} {unit}{ci}, "
                     f"rank {row.rank} of {len(board.rows)} ({'higher' if board.higher_is_better else 'lower'} "
                     "is better)")
        vs = verdicts(board, name, level)
        lines.append(f"  {'vs':<24}{'difference':>12}  {'95 % interval':<22}{'p (Holm)':>10}  verdict")
        for v in vs:
            if v.comparison is None:
                lines.append(f"  {v.other:<24}{'—':>12}  {'no comparison':<22}{'':>10}  not compared")
                continue
            c = v.comparison
            better = (c.difference > 0) == board.higher_is_better
            word = (f"{name} {'better' if better else 'worse'}" if v.decided else "not decided")
            test = "" if c.test == "paired" else f" ({c.test})"
            lines.append(f"  {v.other:<24}{c.difference:>+12.2f}  [{c.ci95[0]:+.2f}, {c.ci95[1]:+.2f}]"
                         f"{'':<4}{v.p_holm:>10.3g}  {word}{test}")
        floor = [r for r in board.rows if r.seed_floor_sd is not None]
        means = [r for r in board.rows if r.averaged]
        if floor or means:
            parts = []
            if means:
                parts.append("from their replicates for " + ", ".join(
                    f"{r.method} (mean of {len(r.replicates)} seeds)" for r in means))
            if floor:
                parts.append("measured for " + ", ".join(f"{r.method} ({r.seed_floor_sd:.1f} {unit})" for r in floor))
            mine = row.seed_floor_sd is not None or row.averaged
            lines.append("  seed noise: " + "; ".join(parts)
                         + ("" if mine else f"; not for {name}, so its comparisons count the other method's seed "
                            "noise only (a pair where neither has it is paired over sequences only)"))
    held_out = any(b.protocol.name.startswith("synth-novel") and any(r.method == name for r in b.rows)
                   for b in boards)
    if generalization is not None and held_out:  # the view only where the method ran on a held-out split
        from poseboard.report.generalization import notes

        mine = [n for n in notes(generalization) if name in n]
        if mine:
            lines.append("\ngeneralization (held-out splits):")
            lines += [f"  {n}" for n in mine]
    return "\n".join(lines)


@dataclass
class MethodRun:
    """What one ``poseboard method`` run did."""

    plan: MethodPlan
    ran: list[str]
    task_lines: list[str]
    report: Path
    verdict: str
    seconds: dict[str, float]


def run_method(name: str, repo: str | Path = ".", out: str | Path = METHOD_REPORT, echo: bool = True) -> MethodRun:
    """Render, check, train, predict, score and rank method block ``name`` (module docstring)."""
    from poseboard.params import load_params

    repo = Path(repo)
    params_file = repo / "params.yaml"
    params = load_params(params_file)
    plan = plan_method(params, name)
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    gen_targets = [f"generate@{d}" for d in plan.datasets]
    would_run = upstream_to_run(repo, plan)
    check_only_allowed(would_run, plan, repo)
    if echo:
        for note in weight_notes(repo, would_run, plan):
            typer.echo(f"note: {note}")
    ran = stages_ran(_dvc(["repro", *gen_targets], repo, echo=echo))
    seconds["render"] = time.perf_counter() - t0

    task_lines = check_tasks(repo, plan.datasets)
    if echo:
        typer.echo("\n".join(task_lines))

    t0 = time.perf_counter()
    stages = upstream_stages(repo, plan)
    kept = kept_board_weights(repo, [n for n, changed in stages.items() if changed])
    if not kept:
        ran += stages_ran(_dvc(["repro", *plan.targets], repo, echo=echo))
    else:  # the board's weights are here: never re-train them because the data's bytes differ
        if echo:
            for o in kept:
                typer.echo(f"note: {o.checkpoint.path} is the board's (DVC hash {o.checkpoint.md5}, as dvc.lock "
                           f"records) but `{o.checkpoint.stage}` counts as changed: this machine renders its "
                           "training data with other image bytes (the same task; another CPU's kernels). It is "
                           "kept, not re-trained: the stages run one by one (`dvc repro --single-item`)")
        frozen = {o.checkpoint.stage for o in kept}
        steps = repro_order(repo, [n for n, changed in stages.items() if (n in plan.allowed or changed)
                                   and n not in frozen and not n.startswith("generate@")] + plan.targets)
        for stage in steps:
            ran += stages_ran(_dvc(["repro", "--single-item", stage], repo, echo=echo))
    check_only_allowed(ran, plan)  # what DVC says it ran: the same rule, after the fact
    seconds["stages"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report, text = rank_method(repo, name, params_file, Path(out) if Path(out).is_absolute() else repo / out)
    seconds["report"] = time.perf_counter() - t0
    return MethodRun(plan, ran, task_lines, report, text, seconds)


def rank_method(repo: Path, name: str, params_file: Path, out: Path) -> tuple[Path, str]:
    """Build the leaderboard from ``repo/results`` (committed + NAME's) into ``out`` with NAME
    marked, and the verdict text."""
    from poseboard.report.build import build_report

    speed = repo / "speed" / "benchmarks.json"
    summary = build_report(repo / "results", out, params_file, speed if speed.exists() else None, None,
                           highlight=name)
    level = summary.boards[0].level if summary.boards else 0.05
    text = verdict_text(summary.boards, name, level, summary.generalization)
    return summary.out / "index.html", text
