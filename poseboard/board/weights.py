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
* :func:`ship` keeps the board's weights in the repository: a DVC remote in the folder
  :data:`SHIPPED_DIR` (``.dvc/config``'s ``shipped`` remote), which :func:`pull` reads when no
  ``board`` remote is configured or reachable, so a fresh clone with no network has them. It
  ships every weight output ``dvc.lock`` names within a budget (:data:`SHIP_BUDGET_BYTES`):
  the shared backbone and ``no_init`` first, then the methods in the lock's order, each that
  still fits; the others are left out, and :data:`SHIPPED_RECORD` (a
  :class:`~poseboard.board.record.ShippedRecord`) says which and why. :func:`pull` names a
  left-out output as lacking, with that reason, and counts it as expected (exit 0) when only
  the folder was there to pull from.

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

from pydantic import ValidationError

from poseboard.board.record import RECORD_VERSION, ShippedOutput, ShippedRecord
from poseboard.checkpoint_origin import PULL, BoardCheckpoint, board_checkpoints, megabytes, origins
from poseboard.errors import InputError

#: The remote users pull the board from (a documented name; its URL is configuration).
BOARD_REMOTE = "board"
#: The remote in the repository that ships the board's weights (``.dvc/config``).
SHIPPED_REMOTE = "shipped"
#: Its folder, relative to the repository root.
SHIPPED_DIR = "weights"
#: What the folder says it ships (committed with it), relative to the repository root.
SHIPPED_RECORD = f"{SHIPPED_DIR}/shipped.json"
#: The most the folder holds, in bytes (150 MB; ``poseboard board ship --budget-mb``): the
#: repository carries one board's weights, and every clone downloads them.
SHIP_BUDGET_BYTES = 150_000_000
#: The weight stages shipped first, whatever the budget (the backbone every ``init: backbone``
#: method starts from, and the empty ``init: none`` marker); then the methods, as they fit.
FIRST_STAGES = ("pretrain_backbone", "no_init")
#: Seconds before a remote that does not answer counts as unreachable.
PROBE_TIMEOUT_S = 10.0

Say = Callable[[str], None]


def size(n: int) -> str:
    """Bytes as MB (:func:`~poseboard.checkpoint_origin.megabytes`), or as bytes below 0.1 MB,
    where one decimal of a MB would say nothing."""
    return megabytes(n) if n >= 100_000 else f"{n:,} bytes"


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
    from), lacking as :data:`SHIPPED_RECORD` expects (left out of the folder, with why), and
    refused (with why)."""

    present: list[BoardCheckpoint]
    pulled: list[tuple[BoardCheckpoint, str]]
    lacking: list[tuple[BoardCheckpoint, str]]
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


def read_record(root: Path) -> ShippedRecord | None:
    """``root``'s :data:`SHIPPED_RECORD`, or None when the folder has none (nothing shipped
    yet); one that does not parse is refused, naming how to write it again."""
    path = root / SHIPPED_RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("version") != RECORD_VERSION:
            raise InputError(f"{path}: record version {data.get('version')!r}, this poseboard reads version "
                             f"{RECORD_VERSION}; update poseboard, or `poseboard board ship` again")
        return ShippedRecord.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise InputError(f"{path}: not a record of what {SHIPPED_DIR}/ ships ({exc}); restore it with "
                         f"`git checkout {SHIPPED_RECORD}`, or `poseboard board ship` again") from None


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


def _not_in_folder(record: ShippedRecord | None, output: BoardCheckpoint) -> str | None:
    """Why :data:`SHIPPED_DIR` does not hold ``output``, as its record says (left out, or the
    record is of another board), or None when the record says it is shipped (or says nothing)."""
    if record is None:
        return None
    gap = record.left_out(output.stage, output.md5)
    if gap is not None:
        return f"left out of {SHIPPED_DIR}/ ({gap.reason})"
    entry = record.entry(output.stage)
    if entry is None:
        return (f"{SHIPPED_RECORD} does not name {output.stage} (the folder was shipped before this stage was "
                "on the board): `poseboard board ship` again")
    if entry.md5 != output.md5:
        return (f"{SHIPPED_DIR}/ holds another board's {output.stage} ({entry.md5}; dvc.lock records "
                f"{output.md5}): `poseboard board ship` again")
    return None


def lacking_note(output: BoardCheckpoint, why: str) -> str:
    """The line for an output a pull expectedly lacks: which, why, and the two ways to get it."""
    return (f"  {output.path} ({output.stage}, {size(output.size)}): lacking: {why}. Train it: "
            f"`dvc repro {output.stage}`, or pull it from a remote that holds it: `dvc remote add "
            f"{BOARD_REMOTE} URL`, then `{PULL} {output.stage}`")


def pull(root: Path, stages: Sequence[str] | None = None, remote: str | None = None,
         say: Say = print) -> PullReport:
    """Bring the weight outputs of ``stages`` (all the board's when None) into ``root``'s
    checkout from the remotes :func:`sources` lists, each verified by hash; outputs already
    present are left alone.

    An output that :data:`SHIPPED_RECORD` records as left out of the folder, when the folder is
    the only remote to pull from, is lacking as expected: ``say`` names it, why, and how to get
    it, and it is in :attr:`PullReport.lacking`. Raises :class:`InputError` naming every other
    output that could not be had, why, and how to train it instead, after pulling all the others."""
    root = root.resolve()
    wanted = select(board_outputs(root), stages)
    repo = _open_repo(root)
    present = [o.checkpoint for o in origins(wanted) if o.is_boards]  # one DVC repository for all
    needed = [o for o in wanted if o not in present]
    report = PullReport(present, [], [], [])
    if present:
        say(f"{len(present)} of {len(wanted)} checkpoints already here and the board's")
    if not needed:
        return report
    order = sources(root, remote)
    if not order:
        raise InputError(_no_remote_message(root, needed))
    record = read_record(root) if any(name == SHIPPED_REMOTE for name, _ in order) else None
    folder_only = all(name == SHIPPED_REMOTE for name, _ in order)
    gaps = {o.stage: why for o in needed if (why := _not_in_folder(record, o)) is not None}
    fetched = [o for o in needed if not (folder_only and o.stage in gaps)]
    if fetched:
        say(f"pulling {len(fetched)} checkpoints ({megabytes(sum(o.size for o in fetched))}) from "
            + ", then ".join(f"{name} ({url})" for name, url in order))
    for output in needed:
        reasons = []
        for name, url in order:
            why = gaps.get(output.stage) if name == SHIPPED_REMOTE else None
            if why is None:
                why = _pull_one(repo, output, name, url, root)
            if why is None:
                report.pulled.append((output, name))
                say(f"  {output.path}: {megabytes(output.size)} from {name}, hash {output.md5} verified")
                break
            reasons.append(f"{name}: {why}")
        else:
            expected = folder_only and record is not None and record.left_out(output.stage, output.md5) is not None
            if expected:
                report.lacking.append((output, gaps[output.stage]))
            else:
                report.refused.append((output, reasons))
    if report.lacking:
        say(f"{len(report.lacking)} checkpoints lacking, as {SHIPPED_RECORD} records (expected: "
            f"{SHIPPED_DIR}/ could not hold them):")
        for output, why in report.lacking:
            say(lacking_note(output, why))
    if report.refused:
        lines = [f"{o.path} ({o.stage}): lacking: " + "; ".join(r) + f". Train it instead: `dvc repro {o.stage}`"
                 for o, r in report.refused]
        also = f", {len(report.lacking)} lacking as {SHIPPED_RECORD} records" if report.lacking else ""
        raise InputError(f"{len(report.refused)} of {len(needed)} checkpoints could not be pulled "
                         f"({len(report.pulled)} were{also}):\n  " + "\n  ".join(lines))
    return report


def _no_remote_message(root: Path, needed: Sequence[BoardCheckpoint]) -> str:
    lines = [f"{o.path} ({o.stage}, {size(o.size)}): lacking. Train it: `dvc repro {o.stage}`" for o in needed]
    return (f"{root / '.dvc' / 'config'}: no remote to pull the board's weights from: remote {BOARD_REMOTE!r} is not "
            f"configured and the repository's {SHIPPED_DIR}/ ships none of them. Point {BOARD_REMOTE!r} at a published "
            f"board (`dvc remote add {BOARD_REMOTE} URL`, docs/pipeline.md), or train them. {len(needed)} checkpoints "
            "lacking:\n  " + "\n  ".join(lines))


def _stale(wanted: Sequence[BoardCheckpoint]) -> list[BoardCheckpoint]:
    """The outputs of ``wanted`` that are not here as ``dvc.lock`` records them."""
    return [o.checkpoint for o in origins(wanted) if not o.is_boards]


def _refuse_stale(stale: Sequence[BoardCheckpoint], what: str) -> InputError:
    return InputError(f"not the board's checkpoints (missing, or their hash is not dvc.lock's), nothing {what}: "
                      + ", ".join(f"{o.path} ({o.stage})" for o in stale)
                      + f". Run `dvc repro {' '.join(o.stage for o in stale)}` first")


def push(root: Path, remote: str, stages: Sequence[str] | None = None, say: Say = print,
         checked: bool = False) -> list[BoardCheckpoint]:
    """Send the weight outputs of ``stages`` (all the board's when None) to ``remote``; every one
    must be present and be the output ``dvc.lock`` records (else refused, nothing sent; ``checked``
    when the caller has just made sure)."""
    root = root.resolve()
    wanted = select(board_outputs(root), stages)
    configured = remotes(root)
    if remote not in configured:
        raise InputError(f"{root / '.dvc' / 'config'}: no remote named {remote!r}; add one the maintainers can write "
                         f"to: `dvc remote add {remote} URL` (a folder, s3://, ssh://, …)")
    repo = _open_repo(root)
    stale = [] if checked else _stale(wanted)
    if stale:
        raise _refuse_stale(stale, "pushed")
    repo.push(targets=[o.stage for o in wanted], remote=remote)
    say(f"pushed {len(wanted)} checkpoints ({megabytes(sum(o.size for o in wanted))}) to {remote} "
        f"({configured[remote]})")
    return wanted


def _objects(repo: Any, output: BoardCheckpoint) -> tuple[dict[str, int], int]:
    """The objects ``output`` needs in a remote (its ``.dir`` manifest and its files: object id →
    bytes, from DVC's local cache) and its files' bytes; refused when the cache lacks one."""
    ids = _object_ids(repo, output)
    paths = {i: Path(repo.cache.local.oid_to_path(i)) for i in ids or []}
    if ids is None or not all(p.is_file() for p in paths.values()):
        raise InputError(f"{output.path} ({output.stage}): its objects are not all in DVC's cache "
                         f"(.dvc/cache), so it cannot be shipped: `dvc commit {output.stage}` puts them there")
    sizes = {i: p.stat().st_size for i, p in paths.items()}
    files = sum(n for i, n in sizes.items() if not (i == output.md5 and i.endswith(".dir")))
    return sizes, files


def plan_ship(outputs: Sequence[BoardCheckpoint], objects: dict[str, dict[str, int]], files: dict[str, int],
              budget_bytes: int) -> ShippedRecord:
    """Which outputs :data:`SHIPPED_DIR` holds within ``budget_bytes``: the :data:`FIRST_STAGES`
    first (refused when they alone do not fit), then the others in ``outputs``' order (``dvc.lock``'s),
    each that still fits; an object two outputs share is counted once. ``objects``: per stage, its
    object id → bytes; ``files``: per stage, its files' bytes."""
    order = [o for o in outputs if o.stage in FIRST_STAGES] + [o for o in outputs if o.stage not in FIRST_STAGES]
    held: set[str] = set()
    total = 0
    shipped, left = [], []
    for o in order:
        adds = sum(n for i, n in objects[o.stage].items() if i not in held)
        fits = total + adds <= budget_bytes
        if not fits and o.stage in FIRST_STAGES:
            raise InputError(f"{o.path} ({o.stage}) alone brings {SHIPPED_DIR}/ to {size(total + adds)}, over "
                             f"its budget of {size(budget_bytes)}: nothing shipped. The shared backbone ships "
                             "first whatever else does; raise the budget (`poseboard board ship --budget-mb`)")
        entry = dict(stage=o.stage, path=o.path, md5=o.md5, bytes=files[o.stage])
        if fits:
            held.update(objects[o.stage])
            total += adds
            shipped.append(ShippedOutput(**entry, status="shipped", reason=None))
        else:
            reason = (f"its {size(adds)} would bring {SHIPPED_DIR}/ to {size(total + adds)}, over its budget "
                      f"of {size(budget_bytes)}")
            left.append(ShippedOutput(**entry, status="left out", reason=reason))
    return ShippedRecord(version=RECORD_VERSION, budget_bytes=budget_bytes, bytes=total, outputs=shipped + left)


def ship(root: Path, budget_bytes: int = SHIP_BUDGET_BYTES, say: Say = print) -> ShippedRecord:
    """Put the board's weights into the repository's :data:`SHIPPED_DIR` remote within
    ``budget_bytes`` (:func:`plan_ship`: the shared backbone and ``no_init`` first, then every
    method that fits, in ``dvc.lock``'s order), write :data:`SHIPPED_RECORD` (what is shipped,
    what is left out and why), and remove every object there that this board does not use (git
    keeps the old ones in history). Every weight output must be here as ``dvc.lock`` records it."""
    root = root.resolve()
    if budget_bytes <= 0:
        raise InputError(f"--budget-mb: {budget_bytes / 1e6:g} MB; the budget must be positive")
    outputs = board_outputs(root)
    if not any(o.stage == "pretrain_backbone" for o in outputs):
        raise InputError(f"{root / 'dvc.lock'}: no pretrain_backbone output recorded; run "
                         "`dvc repro pretrain_backbone`")
    stale = _stale(outputs)
    if stale:
        raise _refuse_stale(stale, "shipped")
    repo = _open_repo(root)
    measured = {o.stage: _objects(repo, o) for o in outputs}
    record = plan_ship(outputs, {s: m[0] for s, m in measured.items()}, {s: m[1] for s, m in measured.items()},
                       budget_bytes)
    chosen = [e.stage for e in record.outputs if e.status == "shipped"]
    push(root, SHIPPED_REMOTE, chosen, say=say, checked=True)
    keep = {i for s in chosen for i in measured[s][0]}
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
    record = record.model_copy(update={"bytes": total})
    (root / SHIPPED_RECORD).write_text(record.model_dump_json(indent=2) + "\n")
    left = [e for e in record.outputs if e.status == "left out"]
    say(f"{SHIPPED_DIR}/ ships {len(chosen)} of {len(outputs)} checkpoints, {size(total)} of its "
        f"{size(budget_bytes)} budget" + (":" if left else " (every weight output dvc.lock names)"))
    for e in left:
        say(f"  left out: {e.path} ({e.stage}, {size(e.bytes)}): {e.reason}")
    say(f"{SHIPPED_RECORD} records each; commit the folder with dvc.lock: git add {SHIPPED_DIR} dvc.lock")
    return record
