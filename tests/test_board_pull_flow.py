"""A pulled board answers without training (issue 70), end to end on the smoke board: the
maintainers push its checkpoints to a folder, the test serves that folder over HTTP on
127.0.0.1, a fresh clone configured to it runs ``poseboard board pull``; then ``poseboard
method`` ranks a scaffolded ``init: backbone`` method and ``poseboard studio`` ranks the board
on a hand-made rig, and DVC's own record (its ``Running stage`` lines, ``dvc.lock`` and ``dvc
status``) shows that no stage of the board trained.

Minutes: it runs when ``POSEBOARD_PIPELINE_TEST=1`` (``.ci/run`` sets it)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import SMOKE_BOARD_STAGES

DVC = str(Path(sys.executable).with_name("dvc"))


def _poseboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "poseboard.cli", *args]


#: A sitecustomize module standing in for another CPU kind's rendering kernels: every image batch
#: the dataset writer receives leaves with its first pixel one grey level off (the same task). The
#: patch waits for poseboard's storage module to be imported (a finder on sys.meta_path), so the
#: checkout the command runs in is the poseboard it patches.
OTHER_KERNELS = """
import importlib.abc
import importlib.machinery
import sys


def _patch(storage):
    add_images = storage.DatasetWriter.add_images

    def other_kernels(self, images):
        images = images.copy()
        images.reshape(-1)[0] ^= 1
        return add_images(self, images)

    storage.DatasetWriter.add_images = other_kernels


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "poseboard.datasets.storage":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = patched
        return spec


sys.meta_path.insert(0, _Finder())
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("POSEBOARD_PIPELINE_TEST") != "1",
                    reason="smoke dvc repro runs take minutes: set POSEBOARD_PIPELINE_TEST=1")
def test_a_pulled_board_ranks_a_method_and_a_studio_without_training(smoke_board, tmp_path, run_as_user):
    from poseboard.camera import Camera, save_rig

    # the maintainers publish: a copy of the trained board pushes its checkpoints
    maint, store = tmp_path / "maint", tmp_path / "store"
    shutil.copytree(smoke_board, maint, symlinks=True,
                    ignore=lambda folder, names: ["tmp"] if Path(folder) == smoke_board / ".dvc" else [])
    run_as_user([DVC, "remote", "add", "--local", "store", str(store)], maint)
    # the smoke board trains RANSAC (the other methods' dvc.lock entries are the default board's)
    weight_stages = ["pretrain_backbone", "train@ransac"]
    pushed = run_as_user(_poseboard("board", "push", "--remote", "store", *weight_stages), maint).stdout
    assert "pushed 2 checkpoints" in pushed, pushed
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(store)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # a user: a fresh clone, the read-only remote, one pull
        clone = tmp_path / "clone"
        run_as_user(["git", "clone", "-q", str(smoke_board), str(clone)], tmp_path)
        run_as_user([DVC, "remote", "add", "board", f"http://127.0.0.1:{server.server_address[1]}"], clone)
        committed = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
        out = run_as_user(_poseboard("board", "pull", *weight_stages), clone).stdout
        assert "2 pulled, 0 already here" in out, out

        # make method (init: backbone): its own stages and the data they read, no pre-training
        run_as_user(_poseboard("new-method", "my-method", "--init", "backbone"), clone)
        ran_out = run_as_user(_poseboard("method", "my-method"), clone, timeout=1500).stdout
        ran = set(re.findall(r"^Running stage '([^']+)'", ran_out, flags=re.MULTILINE))
        assert not ran & set(weight_stages), ran
        assert {"train@my-method", "predict@my-method-synth-h36m-relative"} <= ran, ran
        lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
        for stage in weight_stages:
            assert lock[stage] == committed[stage], f"{stage} changed in dvc.lock"
        status = json.loads(run_as_user([DVC, "status", "--json", *weight_stages], clone).stdout)
        assert status == {}, status  # the board's training stages: up to date

        # another CPU kind renders the board's task with other image bytes (stood in for by one grey
        # level in each image batch the renderer writes, PYTHONPATH's sitecustomize): after the pull,
        # `dvc repro` renders, trains nothing (the weight stages read the training key, not the pixels),
        # and predicts again, within the board's intervals
        other = tmp_path / "other-cpu"
        run_as_user(["git", "clone", "-q", str(smoke_board), str(other)], tmp_path)
        run_as_user([DVC, "remote", "add", "board", f"http://127.0.0.1:{server.server_address[1]}"], other)
        run_as_user(_poseboard("board", "pull", *weight_stages), other)
        perturb = tmp_path / "other-kernels"
        perturb.mkdir()
        (perturb / "sitecustomize.py").write_text(OTHER_KERNELS)
        env = {"PYTHONPATH": str(perturb)}
        # the board's stages that read synth-h36m (identify, which renders every split, is left out)
        stages = [s for s in SMOKE_BOARD_STAGES if s != "identify"]
        repro_out = run_as_user([DVC, "repro", *stages], other, env=env).stdout
        ran = set(re.findall(r"^Running stage '([^']+)'", repro_out, flags=re.MULTILINE))
        assert "generate@synth-h36m" in ran and not ran & set(weight_stages), ran
        from poseboard.datasets.identity import split_identity

        board_tasks = json.loads((smoke_board / "results" / "tasks.json").read_text())["splits"]
        for split in ("train", "test"):
            here = split_identity(other / "data" / "synth-h36m" / split)
            board = board_tasks[f"synth-h36m/{split}"]
            assert here.task_hash == board["task_hash"], split
            assert here.images_hash != board["images_hash"], split  # other pixels
        assert (other / "fingerprints" / "data" / "synth-h36m.json").read_bytes() == \
            (smoke_board / "fingerprints" / "data" / "synth-h36m.json").read_bytes()
        compared = run_as_user(_poseboard("compare", "results"), other, ok=False)
        assert compared.returncode == 0, compared.stdout + compared.stderr
        status = json.loads(run_as_user([DVC, "status", "--json", *weight_stages], other).stdout)
        assert status == {}, status

        # make method on that machine: the pulled backbone stays the board's
        run_as_user(_poseboard("new-method", "my-method", "--init", "backbone"), other)
        kept_out = run_as_user(_poseboard("method", "my-method"), other, timeout=1500, env=env).stdout
        ran = set(re.findall(r"^Running stage '([^']+)'", kept_out, flags=re.MULTILINE))
        assert not ran & set(weight_stages), ran
        assert {"train@my-method", "predict@my-method-synth-h36m-relative"} <= ran, ran
        other_lock = yaml.safe_load((other / "dvc.lock").read_text())["stages"]
        assert other_lock["pretrain_backbone"] == committed["pretrain_backbone"]

        # poseboard studio on a hand-made rig: the pulled checkpoints, scored, nothing trained
        target = np.array([800.0, 300.0, 950.0])
        cams = [Camera.look_at([target[0] + 4200 * np.cos(a), target[1] + 4200 * np.sin(a), 1500.0], target,
                               1100.0, (1000, 1000), name=f"c{i}")
                for i, a in enumerate(np.linspace(0.3, 0.3 + 2 * np.pi, 4, endpoint=False))]
        save_rig(cams, tmp_path / "rig.json")
        run_as_user(_poseboard("studio", str(tmp_path / "rig.json"), "--out", str(tmp_path / "studio"),
                               "--frames", "8"), clone, timeout=1500)
        facts = json.loads((tmp_path / "studio" / "studio.json").read_text())
        assert "ransac" in facts["seconds"]["predict"], facts
        assert yaml.safe_load((clone / "dvc.lock").read_text())["stages"] == lock  # studio ran no stage
    finally:
        server.shutdown()
        server.server_close()
