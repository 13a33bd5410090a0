"""``poseboard board pull|push|ship`` (issue 70): the board's checkpoints pushed to a folder,
served over HTTP on 127.0.0.1 by the test itself, pulled into a fresh clone and verified by
hash; a corrupted or truncated remote file refused with nothing half-written; no remote, or an
unreachable one, named with the fallback; the shared backbone shipped in the repository.

A tiny DVC repository of the board's shape (``pretrain_backbone``, ``no_init``, ``train@<key>``
writing weights and the resumable ``checkpoint.pt`` state that ``.dvcignore`` keeps out of the
outputs) stands in for the board: seconds. The smoke board end to end (``poseboard method`` and
``poseboard studio`` after a pull, no training stage run) is in test_board_pull_flow.py."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DVC = str(Path(sys.executable).with_name("dvc"))

DVC_YAML = """\
stages:
  pretrain_backbone:
    cmd: python write.py checkpoints/backbone backbone.pt 3000 1
    deps: [write.py]
    outs: [checkpoints/backbone]
  no_init:
    cmd: python write.py checkpoints/none config.json 40 2
    deps: [write.py]
    outs: [checkpoints/none]
  train:
    foreach: {a: 3, b: 4}
    do:
      cmd: python write.py checkpoints/${key} weights.pt 5000 ${item}
      deps:
        - write.py
        - checkpoints/backbone
      outs:
        - checkpoints/${key}
"""

WRITE_PY = """\
import os, random, sys
folder, name, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
os.makedirs(os.path.join(folder, "work"), exist_ok=True)
open(os.path.join(folder, name), "wb").write(bytes(rng.randrange(256) for _ in range(size)))
open(os.path.join(folder, "work", "metrics.jsonl"), "w").write('{"step": 1}\\n')
# the resumable state: .dvcignore keeps it out of the output (never pushed, never pulled)
open(os.path.join(folder, "work" if name != "backbone.pt" else "", "checkpoint.pt"), "wb").write(b"s" * 9000)
"""


def _poseboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "poseboard.cli", *args]


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    """The maintainers' checkout: a trained tiny board, committed, with this repository's
    .dvcignore and DVC config (the ``shipped`` remote)."""
    from tests.conftest import run_checked

    repo = tmp_path_factory.mktemp("board") / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "write.py").write_text(WRITE_PY)
    run_checked(["git", "init", "-q"], repo)
    run_checked([DVC, "init", "-q"], repo)
    shutil.copy2(ROOT / ".dvcignore", repo / ".dvcignore")
    shutil.copy2(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    run_checked([DVC, "repro", "-q"], repo)
    run_checked(["git", "add", "-A", "."], repo)
    run_checked(["git", "commit", "-q", "-m", "board"], repo)
    return repo


@pytest.fixture
def store(board, tmp_path) -> Path:
    """A folder the board was pushed to (``poseboard board push``)."""
    from tests.conftest import run_checked

    folder = tmp_path / "store"
    maint = tmp_path / "maint"
    shutil.copytree(board, maint)
    run_checked([DVC, "remote", "add", "--local", "store", str(folder)], maint)
    out = run_checked(_poseboard("board", "push", "--remote", "store"), maint).stdout
    assert "pushed 4 checkpoints" in out
    return folder


@pytest.fixture
def serve() -> Iterator:
    """serve(folder) → its URL: a read-only HTTP server on 127.0.0.1 (as a release host is)."""
    servers = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    def start(folder: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()


def _clone(board: Path, dst: Path, url: str | None) -> Path:
    from tests.conftest import run_checked

    run_checked(["git", "clone", "-q", str(board), str(dst)], dst.parent)
    if url is not None:
        run_checked([DVC, "remote", "add", "board", url], dst)
    return dst


def _status(repo: Path) -> dict:
    from tests.conftest import run_checked

    return json.loads(run_checked([DVC, "status", "--json"], repo).stdout)


def _objects(folder: Path) -> dict[str, Path]:
    return {p.parent.name + p.name: p for p in (folder / "files" / "md5").rglob("*") if p.is_file()}


def test_pull_over_http_makes_the_training_stages_up_to_date(board, store, serve, tmp_path):
    from tests.conftest import run_checked

    assert json.loads(run_checked([DVC, "status", "--json"], board).stdout) == {}
    # the resumable state stays out of the outputs: never pushed
    assert all(p.read_bytes() != b"s" * 9000 for p in _objects(store).values())
    clone = _clone(board, tmp_path / "clone", serve(store))
    assert _status(clone) != {}  # nothing here yet
    out = run_checked(_poseboard("board", "pull"), clone).stdout
    assert "4 pulled, 0 already here" in out and "verified" in out
    assert _status(clone) == {}  # every training stage up to date: dvc repro would run none
    for rel in ("checkpoints/backbone/backbone.pt", "checkpoints/a/weights.pt", "checkpoints/b/weights.pt"):
        assert (clone / rel).read_bytes() == (board / rel).read_bytes()
    assert not (clone / "checkpoints" / "a" / "work" / "checkpoint.pt").exists()
    again = run_checked(_poseboard("board", "pull"), clone).stdout
    assert "0 pulled, 4 already here" in again
    ran = run_checked([DVC, "repro"], clone).stdout
    assert "Running stage" not in ran, ran


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_damaged_remote_file_is_refused_by_hash(board, store, serve, tmp_path, damage):
    from tests.conftest import run_checked

    weights = (board / "checkpoints" / "a" / "weights.pt").read_bytes()
    target = next(p for p in _objects(store).values() if p.read_bytes() == weights)
    target.chmod(0o644)
    target.write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]) if damage == "corrupted" else weights[:1000])
    clone = _clone(board, tmp_path / "clone", serve(store))
    proc = run_checked(_poseboard("board", "pull"), clone, ok=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    assert "1 of 4 checkpoints could not be pulled (3 were)" in err, err
    assert "checkpoints/a (train@a)" in err and "failed its MD5 check" in err and "`dvc repro train@a`" in err
    assert not (clone / "checkpoints" / "a").exists()  # nothing half-written
    cache = _objects(clone / ".dvc" / "cache")
    assert all(p.read_bytes() != target.read_bytes() for p in cache.values())  # nor in the cache
    good = "checkpoints/b/weights.pt"
    assert (clone / good).read_bytes() == (board / good).read_bytes()


def test_no_remote_or_an_unreachable_one_names_the_fallback(board, tmp_path):
    from tests.conftest import run_checked

    bare = _clone(board, tmp_path / "bare", None)
    proc = run_checked(_poseboard("board", "pull"), bare, ok=False)
    assert proc.returncode == 2
    assert "remote 'board' is not configured" in proc.stderr and "dvc remote add board URL" in proc.stderr
    assert "dvc repro pretrain_backbone" in proc.stderr
    assert not any(p.is_dir() for p in (bare / "checkpoints").iterdir())  # only git's .gitignore

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = _clone(board, tmp_path / "dead", f"http://127.0.0.1:{port}")
    proc = run_checked(_poseboard("board", "pull", "train@b"), dead, ok=False)
    assert proc.returncode == 2
    assert "is not reachable" in proc.stderr and "`dvc repro train@b`" in proc.stderr, proc.stderr
    assert not (dead / "checkpoints" / "b").exists()
    unknown = run_checked(_poseboard("board", "pull", "train@zz"), dead, ok=False)
    assert unknown.returncode == 2 and "no weight stage train@zz" in unknown.stderr


def test_push_refuses_a_checkpoint_that_is_not_the_boards(board, tmp_path):
    from tests.conftest import run_checked

    maint = tmp_path / "maint"
    shutil.copytree(board, maint)
    (maint / "checkpoints" / "b" / "weights.pt").write_bytes(b"retrained elsewhere")
    run_checked([DVC, "remote", "add", "--local", "store", str(tmp_path / "store")], maint)
    proc = run_checked(_poseboard("board", "push", "--remote", "store"), maint, ok=False)
    assert proc.returncode == 2 and "checkpoints/b (train@b)" in proc.stderr and "nothing pushed" in proc.stderr
    assert not (tmp_path / "store").exists()


def test_the_shipped_backbone_needs_no_remote(board, tmp_path):
    from tests.conftest import run_checked

    maint = tmp_path / "maint"
    shutil.copytree(board, maint)
    (maint / "weights" / "files" / "md5" / "00").mkdir(parents=True)
    (maint / "weights" / "files" / "md5" / "00" / "stale").write_bytes(b"an older board's backbone")
    out = run_checked(_poseboard("board", "ship"), maint).stdout
    assert "removed weights/files/md5/00/stale" in out
    shipped = _objects(maint / "weights")
    backbone = (maint / "checkpoints/backbone/backbone.pt").read_bytes()
    # the two outputs' files (the same 12-byte metrics.jsonl in both: one object), nothing else
    assert sorted(len(p.read_bytes()) for p in shipped.values() if not p.name.endswith(".dir")) == [12, 40, 3000]
    assert any(p.read_bytes() == backbone for p in shipped.values())
    run_checked(["git", "add", "weights"], maint)
    run_checked(["git", "commit", "-q", "-m", "ship the backbone"], maint)

    clone = _clone(maint, tmp_path / "clone", None)  # no remote at all
    out = run_checked(_poseboard("board", "pull", "pretrain_backbone", "no_init"), clone).stdout
    assert "from shipped" in out and "2 pulled" in out
    assert (clone / "checkpoints/backbone/backbone.pt").read_bytes() == backbone
    status = _status(clone)
    assert "pretrain_backbone" not in status and "no_init" not in status
    proc = run_checked(_poseboard("board", "pull"), clone, ok=False)  # the trained methods are not shipped
    assert proc.returncode == 2 and "2 of 2 checkpoints could not be pulled" in proc.stderr
    assert "shipped: the remote folder" in proc.stderr and "`dvc repro train@a`" in proc.stderr
