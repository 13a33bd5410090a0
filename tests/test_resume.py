"""An interrupted training resumes from its last saved state and ends with the weights of an
uninterrupted run: in process (the fingerprint, time-based saves, the curves), as a command
killed with SIGKILL whose outputs are then deleted the way `dvc repro` deletes a stage's
outputs, and (``POSEBOARD_PIPELINE_TEST=1``) under `dvc repro` itself."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent / "methods"))
import method_fixtures as F

from poseboard.methods.train import loop
from poseboard.methods.train.loop import (
    RESUME_DIR_ENV,
    JsonlTracker,
    TrainConfig,
    load_checkpoint,
    resume_file,
    train_loop,
)
from tests.conftest import motion_archive

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- in process
class _Points(torch.utils.data.Dataset):
    def __init__(self, shift: float = 0.0) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(40, 4, generator=g) + shift
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class _StopAfter(JsonlTracker):
    """Curves to a file, then a KeyboardInterrupt at the first log past ``step``."""

    def __init__(self, path: Path, step: int | None = None) -> None:
        super().__init__(path)
        self.step = step

    def log_metrics(self, metrics, step=None):
        super().log_metrics(metrics, step)
        if self.step is not None and step is not None and step > self.step:
            raise KeyboardInterrupt(f"simulated interruption at step {step}")


def _fit(workdir: Path, tracker=None, lr: float = 0.05, data: _Points | None = None, **train):
    torch.manual_seed(123)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.BatchNorm1d(8), nn.Linear(8, 1))  # dropout: global RNG
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    cfg = TrainConfig(**{"steps": 12, "batch_size": 8, "lr": lr, "checkpoint_every": 100, "log_every": 2,
                         "schedule": "cosine", **train})
    saves: list[int] = []

    def step_fn(batch, step, gen):
        x, y = batch
        x = x + 0.01 * torch.randn(x.shape, generator=gen)
        return {"loss": (model(x)[:, 0] - y).square().mean()}

    def collate(items):
        return tuple(torch.stack(t) for t in zip(*items, strict=True))

    summary = train_loop(name="lin", config=cfg, modules={"m": model}, optimizer=opt, step_fn=step_fn,
                         dataset=data or _Points(), collate=collate, workdir=workdir, tracker=tracker,
                         progress=False, on_checkpoint=saves.append)
    return model, summary, saves


def _curves(path: Path) -> list[tuple[int, float]]:
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["step"], r["lin/loss"]) for r in rows if "lin/loss" in r]


def test_resume_folder_time_based_saves_same_weights_and_curves(tmp_path, monkeypatch, capsys):
    """Saves at every log step (checkpoint_seconds tiny) into a resume folder; the work folder
    is deleted after the interruption (as DVC does), and the resumed run has the weights and
    the curves of the uninterrupted one, then leaves its state in the work folder."""
    straight, summary, _ = _fit(tmp_path / "a" / "work", JsonlTracker(tmp_path / "a" / "work" / "metrics.jsonl"))
    monkeypatch.setattr(loop, "_SAVE_SHARE", float("inf"))  # no waiting for slow saves: one at every log step
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RESUME_DIR_ENV, str(tmp_path / "resume"))
    work = Path("b") / "work"
    state = resume_file(work)
    assert state == tmp_path / "resume" / "b" / "work" / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(work, _StopAfter(work / "metrics.jsonl", step=6), checkpoint_seconds=1e-9)
    assert load_checkpoint(state)["step"] == 6  # saved at the log step 6, time-based
    shutil.rmtree(work)
    capsys.readouterr()
    resumed, rsummary, saves = _fit(work, JsonlTracker(work / "metrics.jsonl"), checkpoint_seconds=1e-9)
    assert rsummary.resumed and rsummary.start_step == 6 and rsummary.end_step == 12
    assert saves == [8, 10, 12]
    out = capsys.readouterr().out
    assert "lin: resuming at step 6/12 from" in out and "lin: done, steps 6→12" in out
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    assert rsummary.history == summary.history
    assert _curves(work / "metrics.jsonl") == _curves(tmp_path / "a" / "work" / "metrics.jsonl")
    assert not state.exists() and not (tmp_path / "resume" / "b").exists()
    assert load_checkpoint(work / "checkpoint.pt")["step"] == 12


def test_another_runs_state_is_discarded(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, _StopAfter(tmp_path / "m.jsonl", step=4), checkpoint_every=2)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4
    for change in ({"lr": 0.01}, {"data": _Points(shift=1.0)}, {"seed": 1}):
        capsys.readouterr()
        with pytest.raises(KeyboardInterrupt):  # fresh start: stops after its own step 4 again
            _fit(tmp_path, _StopAfter(tmp_path / "m.jsonl", step=4), checkpoint_every=2, **change)
        assert "ignoring" in capsys.readouterr().out, change
    _, summary, _ = _fit(tmp_path, checkpoint_every=2, seed=1)  # the last one's state: resumed
    assert summary.start_step == 4


def test_finished_state_of_same_run_is_reused(tmp_path):
    _fit(tmp_path)
    _, again, saves = _fit(tmp_path)
    assert again.start_step == again.end_step == 12 and saves == []
    _, other, _ = _fit(tmp_path, lr=0.02)
    assert other.start_step == 0 and other.end_step == 12


# ---------------------------------------------------------------------------- a killed command
def _pretrain(cwd: Path, steps: int, *, wait: bool = True) -> subprocess.Popen | str:
    """``poseboard pretrain`` in ``cwd`` as a DVC stage runs it (DVC_ROOT, DVC_STAGE set)."""
    (cwd / "cfg.yaml").write_text(f"backbone: {{train: {{steps: {steps}, batch_size: 8, checkpoint_every: 4, "
                                  "log_every: 2}}\n")
    env = {k: v for k, v in os.environ.items() if k != RESUME_DIR_ENV}
    env |= {"DVC_ROOT": str(cwd), "DVC_STAGE": "pretrain_backbone", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "poseboard.harness.commands", "pretrain", "--data-dir", str(F.data_dir()),
           "--checkpoints", "checkpoints", "--profile", "smoke", "--config", "cfg.yaml", "--config-key", "backbone",
           "--seed", "0", "--no-val", "--quiet", "--device", "cpu", "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return out


@pytest.mark.slow
def test_killed_pretraining_resumes_to_the_same_weights(tmp_path):
    steps = 48
    (tmp_path / "a").mkdir()
    straight = _pretrain(tmp_path / "a", steps)
    assert "pretrain: 48 steps of batch 8" in straight and "resuming" not in straight
    reference = (tmp_path / "a" / "checkpoints" / "backbone" / "backbone.pt").read_bytes()

    b = tmp_path / "b"
    b.mkdir()
    state = b / ".dvc" / "tmp" / "poseboard-resume" / "checkpoints" / "backbone" / "checkpoint.pt"
    proc = _pretrain(b, steps, wait=False)
    deadline = time.monotonic() + 300
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    killed, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"finished before the kill:\n{killed}"
    saved = int(load_checkpoint(state)["step"])
    assert 0 < saved < steps
    shutil.rmtree(b / "checkpoints" / "backbone")  # what `dvc repro` does before it runs the stage again

    again = _pretrain(b, steps)
    print(f"killed at step {saved}; the second run:\n{again}")
    started = int(re.search(r"resuming at step (\d+)/48", again).group(1))
    assert started >= saved
    progress = [int(s) for s in re.findall(r"pretrain: step (\d+)/48", again)]
    assert progress and min(progress) > started  # the step counter did not restart from 0
    assert f"done, steps {started}→48" in again
    assert (b / "checkpoints" / "backbone" / "backbone.pt").read_bytes() == reference
    assert not state.exists() and (b / "checkpoints" / "backbone" / "checkpoint.pt").exists()


# ---------------------------------------------------------------------------- under dvc repro
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("POSEBOARD_PIPELINE_TEST") != "1",
                    reason="`dvc repro` of the smoke pre-training takes minutes: set POSEBOARD_PIPELINE_TEST=1")
def test_dvc_repro_resumes_an_interrupted_pretraining(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    shutil.copytree(ROOT / ".dvc", repo / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"), dirs_exist_ok=True)
    params = repo / "params.yaml"
    params.write_text(re.sub(r"^profile: \w+", "profile: smoke", params.read_text(), flags=re.MULTILINE))
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "PYTHONPATH", RESUME_DIR_ENV) and not k.startswith("PYTEST_")}
    env |= {"DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "GIT_CONFIG_NOSYSTEM": "1", "POSEBOARD_DEVICE": "cpu",
            "POSEBOARD_MOTION_ARCHIVE": str(motion_archive())}
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    subprocess.run([dvc, "repro", "generate"], cwd=repo, env=env, check=True, capture_output=True, timeout=900)

    state = repo / ".dvc" / "tmp" / "poseboard-resume" / "checkpoints" / "backbone" / "checkpoint.pt"
    proc = subprocess.Popen([dvc, "repro", "pretrain_backbone"], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # dvc, the stage's shell and the training
    proc.communicate(timeout=60)
    saved = int(load_checkpoint(state)["step"])

    run = subprocess.run([dvc, "repro", "pretrain_backbone"], cwd=repo, env=env, capture_output=True, text=True,
                         timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert re.search(rf"pretrain: resuming at step {saved}/\d+ from .*poseboard-resume", out), out[-4000:]
    assert not state.exists()
    resumed = (repo / "checkpoints" / "backbone" / "backbone.pt").read_bytes()
    forced = subprocess.run([dvc, "repro", "-f", "pretrain_backbone"], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=900)
    assert forced.returncode == 0 and "resuming" not in forced.stdout
    assert (repo / "checkpoints" / "backbone" / "backbone.pt").read_bytes() == resumed
