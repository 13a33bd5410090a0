"""The board's checkpoints published to a DVC remote and pulled from it, verified by hash.

A board's weights are the outputs of its weight stages
(:func:`poseboard.checkpoint_origin.is_weight_stage`, read by :func:`~poseboard.checkpoint_origin.board_checkpoints`):
``pretrain_backbone`` (``checkpoints/backbone``), ``no_init`` (``checkpoints/none``) and every
``train@<key>`` (``checkpoints/<key>``). ``dvc.lock`` names each output and its MD5; a pulled
output is the committed one or nothing:

* :func:`pull` fetches exactly the outputs ``dvc.lock`` names from the ``board`` remote (its URL
  is configuration: ``.dvc/config``, ``dvc remote modify board url URL``), with DVC's ``verify``
  on, so every downloaded file is hashed again and one whose MD5 is not its name (a corrupted or
  truncated upload) never enters the cache; an output is checked out only when every one of its
  files arrived, so nothing half-written is left in the checkout. The training stages are then
  up to date: ``dvc repro`` renders the data they read (deterministic) and skips them.
* :func:`push` sends the outputs to a remote the maintainers can write to, refusing any output
  that is not the one ``dvc.lock`` records.
* :func:`ship` keeps the shared backbone in the repository: a DVC remote in the folder
  :data:`SHIPPED_DIR` (``.dvc/config``'s ``shipped`` remote), which :func:`pull` reads when no
  remote is configured or reachable, so a clone with no network still has the backbone that
  ``init: backbone`` methods start from.

The resumable training state (``checkpoint.pt``: the weights again, the optimiser's moments, the
RNG states) is excluded from the outputs by ``.dvcignore``: it is needed only while a run is
interrupted, and is three times the size of the weights.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poseboard.checkpoint_origin import BoardCheckpoint, board_checkpoints, megabytes, origins
from poseboard.errors import InputError

#: The remote users pull the board from (a documented name; its URL is configuration).
BOARD_REMOTE = "board"
#: The remote in the repository that ships the shared backbone (``.dvc/config``).
SHIPPED_REMOTE = "shipped"
#: Its folder, relative to the repository root.
SHIPPED_DIR = "weights"
#: The weight stages the repository ships (the backbone every ``init: backbone`` method starts
#: from, and the empty ``init: none`` marker).
SHIPPED_STAGES = ("pretrain_backbone", "no_init")
#: Seconds before a remote that does not answer counts as unreachable.
PROBE_TIMEOUT_S = 10.0

Say = Callable[[str], None]


def board_outputs(root: Path) -> list[BoardCheckpoint]:
    """Every weight stage's output in ``root/dvc.lock``, in the lock's order
    (:func:`poseboard.checkpoint_origin.board_checkpoints`); refused when there is none."""
    lock_path = root / "dvc.lock"
    if not lock_path.is_file():
        raise InputError(f"{lock_path}: not found: the board's weights are the outputs dvc.lock records; run this "
                         "in a poseboard checkout")
    out = board_checkpoints(root)
    if not out:
        raise InputError(f"{lock_path}: no weight stage (pretrain_backbone, no_init, train@…) is recorded: the "
                         "board has not been trained in this checkout's history")
    return out


def select(outputs: Sequence[BoardCheckpoint], stages: Sequence[str] | None) -> list[BoardCheckpoint]:
    """The outputs of ``stages`` (all when None or empty); an unknown stage is refused."""
    if not stages:
        return list(outputs)
    known = {o.stage for o in outputs}
    unknown = [s for s in stages if s not in known]
    if unknown:
        raise InputError(f"dvc.lock: no weight stage {', '.join(unknown)}; the board's weight stages are "
                         + ", ".join(sorted(known)))
    return [o for o in outputs if o.stage in stages]


def _open_repo(root: Path) -> Any:
    """DVC's repository at ``root`` with ``verify`` on for every configured remote: a
    downloaded file is hashed again before it enters the cache."""
    from dvc.repo import Repo

    names = list(Repo(str(root)).config.get("remote", {}))
    return Repo(str(root), config={"remote": {name: {"verify": True} for name in names}})


def remotes(root: Path) -> dict[str, str]:
    """Configured remote name → URL (DVC's merged configuration: ``.dvc/config`` and the
    local and user files)."""
    from dvc.repo import Repo

    repo = Repo(str(root))
    return {name: str(conf.get("url", "")) for name, conf in repo.config.get("remote", {}).items()}


def is_present(output: BoardCheckpoint) -> bool:
    """Whether the workspace holds ``output`` exactly as ``dvc.lock`` records it (DVC's own hash
    of the folder, ``.dvcignore`` applied; :func:`poseboard.checkpoint_origin.origins`)."""
    return origins([output])[0].is_boards


def _object_ids(repo: Any, output: BoardCheckpoint) -> list[str] | None:
    """The object ids the output needs (its ``.dir`` manifest and every file's MD5), or None
    when the manifest itself is not in the local cache."""
    odb = repo.cache.local
    if not output.md5.endswith(".dir"):
        return [output.md5]
    manifest = Path(odb.oid_to_path(output.md5))
    if not manifest.is_file():
        return None
    return [output.md5, *(entry["md5"] for entry in json.loads(manifest.read_text()))]


def _in_cache(repo: Any, output: BoardCheckpoint) -> bool:
    ids = _object_ids(repo, output)
    return ids is not None and all(Path(repo.cache.local.oid_to_path(i)).is_file() for i in ids)


def _remote_object_url(url: str, oid: str) -> str:
    return f"{url.rstrip('/')}/files/md5/{oid[:2]}/{oid[2:]}"


def why_missing(url: str, oid: str, root: Path) -> str:
    """Why the object ``oid`` of the remote at ``url`` did not arrive: the remote does not
    answer, does not hold it, or holds a copy that failed its hash check."""
    target = _remote_object_url(url, oid)
    if url.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(urllib.request.Request(target, method="HEAD"), timeout=PROBE_TIMEOUT_S):
                pass
        except urllib.error.HTTPError as exc:
            return f"the remote does not hold {oid} (HTTP {exc.code} for {target})"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"the remote at {url} is not reachable ({reason})"
        return (f"the remote's copy of {oid} failed its MD5 check (a corrupted or truncated upload): it was refused "
                "and not written")
    if "://" not in url:
        folder = Path(url) if Path(url).is_absolute() else (root / ".dvc" / url).resolve()
        if not folder.is_dir():
            return f"the remote folder {folder} does not exist"
        if not (folder / "files" / "md5" / oid[:2] / oid[2:]).is_file():
            return f"the remote folder {folder} does not hold {oid}"
        return (f"the remote's copy of {oid} failed its MD5 check (a corrupted or truncated upload): it was refused "
                "and not written")
    return f"{oid} could not be fetched from {url}"


@dataclass
class PullReport:
    """What :func:`pull` did: outputs already present, pulled (with the remote each came
    from), and refused (with why)."""

    present: list[BoardCheckpoint]
    pulled: list[tuple[BoardCheckpoint, str]]
    refused: list[tuple[BoardCheckpoint, list[str]]]


def _missing_id(repo: Any, output: BoardCheckpoint) -> str:
    ids = _object_ids(repo, output)
    if ids is None:
        return output.md5
    return next((i for i in ids if not Path(repo.cache.local.oid_to_path(i)).is_file()), output.md5)


def _pull_one(repo: Any, output: BoardCheckpoint, remote: str, url: str, root: Path) -> str | None:
    """Fetch ``output`` from ``remote`` into the cache and check it out; None when done, else
    why not (nothing written into the checkout then)."""
    from dvc.exceptions import DvcException

    try:
        repo.fetch(targets=[output.stage], remote=remote)
    except DvcException:
        pass  # what arrived is judged below, object by object
    if not _in_cache(repo, output):
        return why_missing(url, _missing_id(repo, output), root)
    repo.checkout(targets=[output.stage], force=True)
    if not is_present(output):
        return f"{output.path} checked out but its hash is not dvc.lock's {output.md5}"
    return None


def sources(root: Path, remote: str | None) -> list[tuple[str, str]]:
    """(name, URL) of the remotes to pull from, in order: ``remote`` when given (it must be
    configured), else :data:`BOARD_REMOTE` when configured, then :data:`SHIPPED_REMOTE` (the
    repository's own folder) when it holds anything."""
    configured = remotes(root)
    if remote is not None:
        if remote not in configured:
            raise InputError(f"{root / '.dvc' / 'config'}: no remote named {remote!r} (--remote); configured: "
                             f"{sorted(configured) or 'none'}. Add it with `dvc remote add {remote} URL`")
        return [(remote, configured[remote])]
    out = [(BOARD_REMOTE, configured[BOARD_REMOTE])] if BOARD_REMOTE in configured else []
    if SHIPPED_REMOTE in configured and (root / SHIPPED_DIR / "files").is_dir():
        out.append((SHIPPED_REMOTE, configured[SHIPPED_REMOTE]))
    return out


def pull(root: Path, stages: Sequence[str] | None = None, remote: str | None = None,
         say: Say = print) -> PullReport:
    """Bring the weight outputs of ``stages`` (all the board's when None) into ``root``'s
    checkout from the remotes :func:`sources` lists, each verified by hash; outputs already
    present are left alone. Raises :class:`InputError` naming every output that could not be
    had, why, and how to train it instead, after pulling all the others."""
    root = root.resolve()
    wanted = select(board_outputs(root), stages)
    repo = _open_repo(root)
    present = [o.checkpoint for o in origins(wanted) if o.is_boards]  # one DVC repository for all
    needed = [o for o in wanted if o not in present]
    report = PullReport(present, [], [])
    if present:
        say(f"{len(present)} of {len(wanted)} checkpoints already here and the board's")
    if not needed:
        return report
    order = sources(root, remote)
    if not order:
        raise InputError(_no_remote_message(root, needed))
    say(f"pulling {len(needed)} checkpoints ({megabytes(sum(o.size for o in needed))}) from "
        + ", then ".join(f"{name} ({url})" for name, url in order))
    for output in needed:
        reasons = []
        for name, url in order:
            why = _pull_one(repo, output, name, url, root)
            if why is None:
                report.pulled.append((output, name))
                say(f"  {output.path}: {megabytes(output.size)} from {name}, hash {output.md5} verified")
                break
            reasons.append(f"{name}: {why}")
        else:
            report.refused.append((output, reasons))
    if report.refused:
        lines = [f"{o.path} ({o.stage}): " + "; ".join(r) + f". Train it instead: `dvc repro {o.stage}`"
                 for o, r in report.refused]
        raise InputError(f"{len(report.refused)} of {len(needed)} checkpoints could not be pulled "
                         f"({len(report.pulled)} were):\n  " + "\n  ".join(lines))
    return report


def _no_remote_message(root: Path, needed: Sequence[BoardCheckpoint]) -> str:
    stages = " ".join(o.stage for o in needed[:3]) + (" …" if len(needed) > 3 else "")
    return (f"{root / '.dvc' / 'config'}: no remote to pull the board's weights from: remote {BOARD_REMOTE!r} is not "
            f"configured and the repository's {SHIPPED_DIR}/ ships none of them. Point {BOARD_REMOTE!r} at a published "
            f"board (`dvc remote add {BOARD_REMOTE} URL`, docs/pipeline.md), or train them: `dvc repro {stages}`")


def push(root: Path, remote: str, stages: Sequence[str] | None = None, say: Say = print) -> list[BoardCheckpoint]:
    """Send the weight outputs of ``stages`` (all the board's when None) to ``remote``; every one
    must be present and be the output ``dvc.lock`` records (else refused, nothing sent)."""
    root = root.resolve()
    wanted = select(board_outputs(root), stages)
    configured = remotes(root)
    if remote not in configured:
        raise InputError(f"{root / '.dvc' / 'config'}: no remote named {remote!r}; add one the maintainers can write "
                         f"to: `dvc remote add {remote} URL` (a folder, s3://, ssh://, …)")
    repo = _open_repo(root)
    stale = [o.checkpoint for o in origins(wanted) if not o.is_boards]
    if stale:
        raise InputError("not the board's checkpoints (missing, or their hash is not dvc.lock's), nothing pushed: "
                         + ", ".join(f"{o.path} ({o.stage})" for o in stale)
                         + f". Run `dvc repro {' '.join(o.stage for o in stale)}` first")
    repo.push(targets=[o.stage for o in wanted], remote=remote)
    say(f"pushed {len(wanted)} checkpoints ({megabytes(sum(o.size for o in wanted))}) to {remote} "
        f"({configured[remote]})")
    return wanted


def ship(root: Path, say: Say = print) -> int:
    """Put the shared backbone (the outputs of :data:`SHIPPED_STAGES`) into the repository's
    :data:`SHIPPED_DIR` remote and remove every object there that this board does not use (git
    keeps the old ones in history); returns the bytes the folder now holds."""
    root = root.resolve()
    outputs = [o for o in board_outputs(root) if o.stage in SHIPPED_STAGES]
    if not any(o.stage == "pretrain_backbone" for o in outputs):
        raise InputError(f"{root / 'dvc.lock'}: no pretrain_backbone output recorded; run "
                         "`dvc repro pretrain_backbone`")
    push(root, SHIPPED_REMOTE, [o.stage for o in outputs], say=say)
    repo = _open_repo(root)
    keep = {i for o in outputs for i in (_object_ids(repo, o) or [])}
    folder = root / SHIPPED_DIR / "files" / "md5"
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            oid = path.parent.name + path.name
            if oid in keep:
                total += path.stat().st_size
            else:
                path.unlink()
                say(f"  removed {path.relative_to(root)} (not this board's)")
    for d in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            os.rmdir(d)
    say(f"{SHIPPED_DIR}/ holds {megabytes(total)}: commit it with dvc.lock (git add {SHIPPED_DIR} dvc.lock)")
    return total
