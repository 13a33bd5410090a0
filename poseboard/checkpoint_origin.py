"""Where a checkpoint comes from: the board's (the output ``dvc.lock`` records) or another run's,
and the two ways to get one that is missing (issue 70).

A board checkpoint is the output of one of the board's weight stages (:func:`is_weight_stage`):
``pretrain_backbone`` writes ``checkpoints/backbone``, ``no_init`` ``checkpoints/none`` and
``train@<key>`` ``checkpoints/<key>``. ``dvc.lock`` records each output's DVC hash (``md5``:
``<hex>.dir`` for a folder) and its size in bytes (``size``). Every command that needs weights
(``poseboard predict``, ``poseboard misses``, ``poseboard studio``, ``make method``) asks this
module two things:

* :func:`missing_checkpoint`: the error for a checkpoint that is not here, naming the two ways
  to get it and what each costs on this machine: pull the board's (``poseboard board pull
  <stage>``; its size from ``dvc.lock``, in MB: the time depends on the link, which is not
  guessed) or train it (``dvc repro <stage>``; its time as ``make repro`` last measured it here,
  ``.dvc/tmp/stage_times.json`` written by ``scripts/timed_repro.py``, else said to be unknown,
  with docs/performance.md for the committed board's times);
* :func:`origin` / :func:`board_hash_matches`: whether the checkpoint here is the board's: its
  hash computed by DVC's own library (``dvc_data.hashfile.build`` with the repository's
  ``.dvcignore``, which keeps the resumable ``checkpoint.pt`` out, exactly as ``dvc status``
  hashes the output) against ``dvc.lock``'s. A checkpoint that is not the board's must not be
  compared with the board's results as if it were (each command decides: refuse, badge, warn).

DVC is imported only inside :func:`origins` (``poseboard --help`` must not import it); reading
``dvc.lock`` needs YAML only.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poseboard.errors import InputError

#: Where ``make repro`` (``scripts/timed_repro.py``) records each stage's wall time, relative
#: to the repository root: ``{"stages": {NAME: {"seconds": float, "cached": bool?, …}}, …}``.
STAGE_TIMES = Path(".dvc/tmp/stage_times.json")
#: The committed board's stage times, for a machine that has not timed a stage itself.
PERFORMANCE_DOC = "docs/performance.md"
#: The command that pulls the board's weights (:mod:`poseboard.board`).
PULL = "poseboard board pull"
#: Set by DVC in every stage command it runs (``dvc.env.DVC_STAGE``): the stage is making the
#: board, and ``dvc.lock`` is rewritten with what it makes.
DVC_STAGE_ENV = "DVC_STAGE"


def is_weight_stage(stage: str) -> bool:
    """Whether ``stage`` (a ``dvc.lock`` name) writes a board checkpoint."""
    return stage in ("pretrain_backbone", "no_init") or stage.startswith("train@")


@dataclass(frozen=True)
class BoardCheckpoint:
    """One checkpoint output as ``dvc.lock`` records it.

    Attributes:
        root: the repository (the folder holding ``dvc.lock`` and ``.dvc/``).
        stage: the stage that writes it (``train@algebraic``).
        path: the output, relative to ``root``, POSIX (``checkpoints/algebraic``).
        md5: its DVC hash (``<hex>.dir`` for a folder).
        size: bytes in all (its files), ``dvc.lock``'s ``size``; 0 when not recorded.
        cmd: the stage's command (which method it trains).
    """

    root: Path
    stage: str
    path: str
    md5: str
    size: int
    cmd: str = ""

    @property
    def where(self) -> Path:
        """The output's absolute path."""
        return self.root / self.path


def find_root(path: str | Path) -> Path | None:
    """The DVC repository holding ``path`` (the nearest folder above it, itself included, with
    ``dvc.lock`` and ``.dvc/``), or None when it is in none."""
    here = Path(os.path.abspath(path))
    for folder in (here, *here.parents):
        if (folder / "dvc.lock").is_file() and (folder / ".dvc").is_dir():
            return folder
    return None


@functools.lru_cache(maxsize=8)
def _read_lock(lock: str, mtime_ns: int, size: int) -> tuple[tuple[str, str, str, int, str], ...]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader: 0.1 s against 0.8 on a board's lock
    try:
        data = yaml.load(Path(lock).read_text(), Loader=loader) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{lock}: not valid YAML ({exc}); restore it with `git checkout dvc.lock`") from None
    out = []
    for stage, entry in (data.get("stages") or {}).items():
        if not is_weight_stage(stage) or not isinstance(entry, dict):
            continue
        for o in entry.get("outs") or []:
            if isinstance(o, dict) and "path" in o and "md5" in o:
                out.append((stage, str(o["path"]).rstrip("/"), str(o["md5"]), int(o.get("size") or 0),
                            str(entry.get("cmd") or "")))
    return tuple(out)


def board_checkpoints(root: str | Path) -> list[BoardCheckpoint]:
    """Every weight stage's output in ``root/dvc.lock``, in the lock's order (none without one)."""
    root = Path(os.path.abspath(root))
    lock = root / "dvc.lock"
    if not lock.is_file():
        return []
    st = lock.stat()
    return [BoardCheckpoint(root, *row) for row in _read_lock(str(lock), st.st_mtime_ns, st.st_size)]


def _relative(path: str | Path, root: Path) -> str | None:
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return None


def checkpoint_stage(path: str | Path, root: str | Path | None = None) -> BoardCheckpoint | None:
    """The board checkpoint at ``path`` (``dvc.lock``'s record of it), or None when ``path`` is in
    no DVC repository or no weight stage writes it. ``root`` defaults to :func:`find_root`."""
    root = find_root(path) if root is None else Path(os.path.abspath(root))
    if root is None:
        return None
    rel = _relative(path, root)
    return next((c for c in board_checkpoints(root) if c.path == rel), None)


def checkpoints_under(folder: str | Path, root: str | Path | None = None) -> list[BoardCheckpoint]:
    """The board checkpoints inside ``folder`` (``checkpoints/`` → every weight output)."""
    root = find_root(folder) if root is None else Path(os.path.abspath(root))
    if root is None:
        return []
    rel = _relative(folder, root)
    if rel is None:
        return []
    prefix = "" if rel == "." else rel + "/"
    return [c for c in board_checkpoints(root) if c.path.startswith(prefix)]


def stage_seconds(stage: str, root: str | Path) -> float | None:
    """``stage``'s wall time as ``make repro`` last ran it on this machine (:data:`STAGE_TIMES`),
    or None when it has not (no file, no entry, or the stage was restored from DVC's run cache,
    which times a copy, not the training)."""
    path = Path(root) / STAGE_TIMES
    try:
        entry = json.loads(path.read_text()).get("stages", {}).get(stage)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or entry.get("cached") or not isinstance(entry.get("seconds"), (int, float)):
        return None
    return float(entry["seconds"])


def duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour (as ``make repro``'s table prints times)."""
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}" if minutes >= 60 else f"{minutes}:{s:02d}"


def megabytes(n: int) -> str:
    """Bytes as MB (10^6), one decimal."""
    return f"{n / 1e6:.1f} MB"


def pull_command(checkpoints: Sequence[BoardCheckpoint]) -> str:
    """The ``poseboard board pull`` line for ``checkpoints``: their stages, or the whole board
    when they are more than three."""
    if 0 < len(checkpoints) <= 3:
        return f"{PULL} " + " ".join(c.stage for c in checkpoints)
    return PULL


def train_time(checkpoints: Sequence[BoardCheckpoint]) -> str:
    """What training ``checkpoints`` takes on this machine, as far as ``make repro`` measured it
    here (:data:`STAGE_TIMES`); otherwise said to be unknown, pointing at the committed board's."""
    if not checkpoints:
        return ""
    root = checkpoints[0].root
    known = {c.stage: t for c in checkpoints if (t := stage_seconds(c.stage, root)) is not None}
    one = len(checkpoints) == 1
    if len(known) == len(checkpoints):
        return (f"{duration(sum(known.values()))} on this machine, as `make repro` last timed "
                f"{'it' if one else 'them'} ({STAGE_TIMES})")
    unknown = (f"unknown on this machine: no `make repro` here has timed {'it' if one else 'them'} in {STAGE_TIMES}; "
               f"{PERFORMANCE_DOC} gives the committed board's stage times")
    if not known:
        return "time " + unknown
    return (f"{duration(sum(known.values()))} on this machine for the {len(known)} of {len(checkpoints)} that "
            f"`make repro` timed here ({', '.join(known)}); the others' time " + unknown)


def ways_to_get(checkpoints: Sequence[BoardCheckpoint]) -> str:
    """The two ways to get ``checkpoints`` (board outputs of one repository), one per line,
    with what each costs: the download's size (``dvc.lock``'s) and the training's time."""
    if not checkpoints:
        return ""
    pull = pull_command(checkpoints)
    pulled = checkpoints if pull != PULL else board_checkpoints(checkpoints[0].root)
    what = "" if pull != PULL else f", the whole board ({len(pulled)} checkpoints)"
    stages = " ".join(c.stage for c in checkpoints)
    upstream = ("; `dvc repro` also runs first whatever it needs that is not up to date here (rendering, "
                "pre-training)") if any(c.stage.startswith("train@") for c in checkpoints) else ""
    return (f"  - pull the board's weights: `{pull}` ({megabytes(sum(c.size for c in pulled))} by dvc.lock's sizes"
            f"{what}; each file verified by hash; the time is that size over your link)\n"
            f"  - or train: `dvc repro {stages}` ({train_time(checkpoints)}{upstream})")


def missing_checkpoint(path: str | Path, root: str | Path | None = None) -> InputError:
    """The error for a checkpoint that is not at ``path``: for a board checkpoint, the two ways to
    get it (:func:`ways_to_get`); for any other, how to train it."""
    found = checkpoint_stage(path, root)
    if found is None:
        return InputError(f"{path}: no trained checkpoint here, and no weight stage of the board's dvc.lock writes "
                          "it: train it (`poseboard train METHOD --name NAME`, or `make method NAME=...` for a "
                          "method of params.yaml) or point --checkpoints at a folder that holds it")
    return InputError(f"{path}: checkpoint not here. It is the board's `{found.path}`, the output of DVC stage "
                      f"`{found.stage}` (dvc.lock); get it either way:\n" + ways_to_get([found]))


def missing_checkpoints(folder: str | Path, checkpoints: Sequence[BoardCheckpoint], what: str) -> str:
    """A message for several board checkpoints missing from ``folder``: ``what`` (the problem),
    the stages, and the two ways to get them."""
    names = ", ".join(c.path.rsplit("/", 1)[-1] for c in checkpoints)
    return f"{folder}: {what} (the board's: {names}). Get them either way:\n" + ways_to_get(checkpoints)


@dataclass(frozen=True)
class Origin:
    """A board checkpoint and the hash of what is at its path here.

    Attributes:
        checkpoint: ``dvc.lock``'s record.
        workspace_md5: DVC's hash of the folder here (``.dvcignore`` applied); None when absent.
    """

    checkpoint: BoardCheckpoint
    workspace_md5: str | None

    @property
    def present(self) -> bool:
        return self.workspace_md5 is not None

    @property
    def is_boards(self) -> bool:
        """Present and exactly the output ``dvc.lock`` records."""
        return self.workspace_md5 == self.checkpoint.md5

    def not_the_boards(self) -> str:
        """Why this checkpoint is not the board's, and how to put the board's in its place."""
        c = self.checkpoint
        return (f"{c.path} is not the board's checkpoint: DVC hashes it {self.workspace_md5}, dvc.lock records "
                f"{c.md5} for `{c.stage}` (weights of another run, or changed since). The board's: `{PULL} "
                f"{c.stage}` ({megabytes(c.size)}) puts it in place; `dvc repro {c.stage}` re-trains it "
                f"({train_time([c])})")


def _dvc_md5(repo: Any, path: Path) -> str | None:
    """DVC's hash of ``path`` as ``dvc status`` computes it for an output (``md5``, the
    repository's ``.dvcignore`` applied, nothing written to the cache), or None when absent."""
    from dvc_data.hashfile.build import build

    if not path.exists():
        return None
    _, _, obj = build(repo.cache.local, str(path), repo.fs, "md5", ignore=repo.dvcignore, dry_run=True)
    return str(obj.hash_info.value)


def origins(checkpoints: Iterable[BoardCheckpoint]) -> list[Origin]:
    """The :class:`Origin` of each checkpoint (one DVC repository opened per root)."""
    checkpoints = list(checkpoints)
    out: dict[int, Origin] = {}
    by_root: dict[Path, list[int]] = {}
    for i, c in enumerate(checkpoints):
        if not c.where.exists():
            out[i] = Origin(c, None)
        else:
            by_root.setdefault(c.root, []).append(i)
    if by_root:
        from dvc.repo import Repo

        for root, idx in by_root.items():
            with Repo(str(root)) as repo:
                for i in idx:
                    out[i] = Origin(checkpoints[i], _dvc_md5(repo, checkpoints[i].where))
    return [out[i] for i in range(len(checkpoints))]


def origin(path: str | Path, root: str | Path | None = None) -> Origin | None:
    """The :class:`Origin` of the checkpoint at ``path``, or None when no board stage writes it."""
    found = checkpoint_stage(path, root)
    return None if found is None else origins([found])[0]


def board_hash_matches(path: str | Path, root: str | Path | None = None) -> bool | None:
    """True when the checkpoint at ``path`` is the board's (DVC's hash equals ``dvc.lock``'s),
    False when it is another (or absent), None when no board stage writes ``path``."""
    found = origin(path, root)
    return None if found is None else found.is_boards


def in_dvc_stage() -> bool:
    """Whether this process is a DVC stage's command (which makes the board's outputs: their
    hashes are recorded after it, so there is nothing to check against)."""
    return bool(os.environ.get(DVC_STAGE_ENV))
