"""``poseboard board pull|push|ship`` (issues 70, 81): the board's checkpoints pushed to a folder,
served over HTTP on 127.0.0.1 by the test itself, pulled into a fresh clone and verified by
hash; a corrupted or truncated remote file refused with nothing half-written; no remote, or an
unreachable one, named with the fallback; the board shipped in the repository's weights/ within
a size budget, what it leaves out recorded (weights/shipped.json) and named by a pull as
lacking; and this repository's own dvc.lock against its own weights/.

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
import subprocess
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


def _ship(maint: Path, *args: str) -> str:
    from tests.conftest import run_checked

    out = run_checked(_poseboard("board", "ship", *args), maint).stdout
    run_checked(["git", "add", "weights"], maint)
    run_checked(["git", "commit", "-q", "-m", "ship the board"], maint)
    return out


def test_ship_within_the_budget_holds_every_weight_output(board, tmp_path):
    from poseboard.board.weights import read_record
    from poseboard.checkpoint_origin import board_checkpoints
    from tests.conftest import run_checked

    maint = tmp_path / "maint"
    shutil.copytree(board, maint)
    (maint / "weights" / "files" / "md5" / "00").mkdir(parents=True)
    (maint / "weights" / "files" / "md5" / "00" / "stale").write_bytes(b"an older board's backbone")
    out = _ship(maint)
    assert "removed weights/files/md5/00/stale" in out
    assert "ships 4 of 4 checkpoints" in out and "every weight output dvc.lock names" in out, out
    shipped = _objects(maint / "weights")
    # every output's files (the same 12-byte metrics.jsonl in all: one object), nothing else: no resumable state
    assert sorted(len(p.read_bytes()) for p in shipped.values() if not p.name.endswith(".dir")) == [
        12, 40, 3000, 5000, 5000]
    record = read_record(maint)
    lock = board_checkpoints(maint)
    assert [(e.stage, e.path, e.md5, e.status) for e in record.outputs] == [
        (c.stage, c.path, c.md5, "shipped") for c in lock]  # pretrain_backbone and no_init lead dvc.lock here
    assert record.budget_bytes == 150_000_000 and record.bytes == sum(p.stat().st_size for p in shipped.values())
    assert {e.stage: e.bytes for e in record.outputs} == {
        "pretrain_backbone": 3012, "no_init": 52, "train@a": 5012, "train@b": 5012}

    clone = _clone(maint, tmp_path / "clone", None)  # no remote at all
    out = run_checked(_poseboard("board", "pull"), clone).stdout
    assert "from shipped" in out and "4 pulled, 0 already here: the board's training stages are up to date" in out
    assert "lacking" not in out
    assert _status(clone) == {}
    for rel in ("checkpoints/backbone/backbone.pt", "checkpoints/b/weights.pt"):
        assert (clone / rel).read_bytes() == (board / rel).read_bytes()


def test_ship_over_the_budget_leaves_methods_out_and_pull_names_them(board, tmp_path):
    from poseboard.board.weights import read_record
    from tests.conftest import run_checked

    maint = tmp_path / "maint"
    shutil.copytree(board, maint)
    # the backbone, no_init and train@a fit in 10,000 bytes (files and manifests); train@b does not
    out = _ship(maint, "--budget-mb", "0.01")
    assert "ships 3 of 4 checkpoints" in out and "of its 10,000 bytes budget" in out, out
    assert "left out: checkpoints/b (train@b, 5,012 bytes): its 5," in out and "over its budget of 10,000 bytes" in out
    record = read_record(maint)
    status = {e.stage: (e.status, e.reason) for e in record.outputs}
    assert [s for s, (st, _) in status.items() if st == "shipped"] == ["pretrain_backbone", "no_init", "train@a"]
    assert status["train@b"][0] == "left out" and "over its budget of 10,000 bytes" in status["train@b"][1]
    assert record.bytes <= 10_000 and record.budget_bytes == 10_000
    weights_b = (board / "checkpoints/b/weights.pt").read_bytes()
    assert all(p.read_bytes() != weights_b for p in _objects(maint / "weights").values())

    # a fresh clone, no remote: the shipped three arrive, train@b is lacking as recorded: exit 0
    clone = _clone(maint, tmp_path / "clone", None)
    proc = run_checked(_poseboard("board", "pull"), clone)
    out = proc.stdout
    assert "pulling 3 checkpoints" in out and "3 pulled, 0 already here, 1 lacking" in out, out
    lacking = next(line for line in out.splitlines() if "checkpoints/b (train@b" in line)
    assert "lacking: left out of weights/ (its 5," in lacking and "over its budget of 10,000 bytes)" in lacking
    assert "`dvc repro train@b`" in lacking and "dvc remote add board URL" in lacking
    assert not (clone / "checkpoints" / "b").exists()
    assert set(_status(clone)) == {"train@b"}  # the shipped ones up to date
    again = run_checked(_poseboard("board", "pull", "train@b"), clone).stdout
    assert "0 pulled, 0 already here, 1 lacking" in again and "left out of weights/" in again

    # with a board remote that does not answer, the gap is not expected: exit 2, both reasons
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_checked([DVC, "remote", "add", "board", f"http://127.0.0.1:{port}"], clone)
    proc = run_checked(_poseboard("board", "pull"), clone, ok=False)
    assert proc.returncode == 2 and "1 of 1 checkpoints could not be pulled" in proc.stderr, proc.stderr
    assert "board: the remote at" in proc.stderr and "shipped: left out of weights/" in proc.stderr

    # a record of another board (re-trained since it shipped) is no excuse: exit 2, ship again
    stale = _clone(maint, tmp_path / "stale", None)
    path = stale / "weights" / "shipped.json"
    path.write_text(path.read_text().replace(next(e.md5 for e in record.outputs if e.stage == "train@b"),
                                             "0" * 32 + ".dir"))
    proc = run_checked(_poseboard("board", "pull", "train@b"), stale, ok=False)
    assert proc.returncode == 2 and "holds another board's train@b" in proc.stderr, proc.stderr
    assert "`poseboard board ship` again" in proc.stderr


def test_ship_refuses_a_budget_the_backbone_does_not_fit(board, tmp_path):
    from tests.conftest import run_checked

    maint = tmp_path / "maint"
    shutil.copytree(board, maint)
    proc = run_checked(_poseboard("board", "ship", "--budget-mb", "0.001"), maint, ok=False)
    assert proc.returncode == 2 and "checkpoints/backbone (pretrain_backbone) alone" in proc.stderr, proc.stderr
    assert "nothing shipped" in proc.stderr and not (maint / "weights").exists()


def _committed(rel: str) -> bytes:
    return subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, check=True, capture_output=True).stdout


def test_this_repository_ships_or_names_every_weight_output_dvc_lock_names(tmp_path):
    """Issue 81: every weight output the committed dvc.lock names is in the committed weights/
    (with the hash dvc.lock records), or `make pull` (`poseboard board pull`) says it lacks it.
    Today no board is shipped: the pull names every one and exits 2. Run on a copy of the
    committed dvc.lock, dvc.yaml, params.yaml, DVC config and weights/, as a fresh clone with no
    remote sees them (no user or system DVC config)."""
    from poseboard.board.weights import SHIPPED_DIR, read_record
    from poseboard.checkpoint_origin import board_checkpoints
    from tests.conftest import run_checked

    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"DVC_GLOBAL_CONFIG_DIR": str(tmp_path / "user"), "DVC_SYSTEM_CONFIG_DIR": str(tmp_path / "system")}
    run_checked(["git", "init", "-q"], repo)
    run_checked([DVC, "init", "-q"], repo, env=env)
    weights = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD", "--", SHIPPED_DIR], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    for rel in ("dvc.lock", "dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config", *weights):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(_committed(rel))
    outputs = board_checkpoints(repo)
    assert outputs, "the committed dvc.lock names no weight output"
    record = read_record(repo)
    held = {}
    if record is not None:
        objects = _objects(repo / SHIPPED_DIR)
        for o in outputs:
            entry = record.entry(o.stage)
            assert entry is not None and entry.md5 == o.md5, (
                f"{o.stage}: {SHIPPED_DIR}/shipped.json records {entry and entry.md5}, dvc.lock {o.md5}: "
                "`poseboard board ship` the committed board")
            if entry.status == "shipped":
                assert o.md5 in objects, f"{o.path}: recorded as shipped, its manifest is not in {SHIPPED_DIR}/"
                missing = [f["relpath"] for f in json.loads(objects[o.md5].read_text()) if f["md5"] not in objects]
                assert not missing, f"{o.path}: recorded as shipped, {SHIPPED_DIR}/ lacks {missing}"
                held[o.stage] = o
    proc = run_checked(_poseboard("board", "pull"), repo, ok=False, env=env)
    said = proc.stdout + proc.stderr
    lines = said.splitlines()
    for o in outputs:
        if o.stage in held:
            assert f"  {o.path}: " in said and "from shipped, hash" in said, said
        else:
            assert any(f"{o.path} ({o.stage}" in line and "lacking" in line for line in lines), (
                f"dvc.lock names {o.path} ({o.stage}), which {SHIPPED_DIR}/ does not hold, and the pull does not say "
                f"it lacks it:\n{said}")
    every_gap_recorded = record is not None and all(
        o.stage in held or record.left_out(o.stage, o.md5) for o in outputs)
    assert proc.returncode == (0 if every_gap_recorded else 2), said
