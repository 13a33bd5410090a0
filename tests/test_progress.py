"""Progress lines (poseboard.progress): a few readable lines per run, whatever its length, and a
training's output in a log: what runs, a handful of progress lines, the end."""

from __future__ import annotations

import io
import re

import pytest
import torch
from torch import nn

from poseboard.methods.train.loop import TrainConfig, train_loop
from poseboard.progress import ProgressReporter, format_duration, format_rate


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step


def _run(total: int, seconds_per_step: float, lines: int = 10, start: int = 0) -> list[str]:
    clock, out = FakeClock(seconds_per_step), io.StringIO()
    p = ProgressReporter(total, "fit", lines=lines, stream=out, clock=clock, start=start)
    p.note(f"{total} steps of batch 8 on cpu")
    for _ in range(start, total):
        clock.tick()
        p.update()
    p.close()
    return out.getvalue().splitlines()


@pytest.mark.parametrize("seconds_per_step", [0.001, 0.5, 30.0])
def test_at_most_lines_plus_two_for_1000_updates(seconds_per_step):
    lines = _run(1000, seconds_per_step)
    assert 3 <= len(lines) <= 10 + 2
    assert lines[0] == "fit: 1000 steps of batch 8 on cpu"
    progress = [line for line in lines if re.match(r"fit: step \d+/1000", line)]
    assert 1 <= len(progress) <= 10
    for line in progress:  # rate, elapsed and time left on every progress line
        assert re.search(r"(steps/s|s/step)", line) and "elapsed" in line and re.search(r"left \d+:\d\d", line)
    assert lines[-1].startswith("fit: done, 1000 steps in ")


def test_rate_and_time_left_are_right():
    lines = _run(1000, 0.5)
    half = next(line for line in lines if "step 500/1000" in line)
    assert "2 steps/s" in half and "elapsed 4:10" in half and "left 4:10" in half
    assert lines[-1] == "fit: done, 1000 steps in 8:20 (2 steps/s)"
    slow = _run(100, 30.0)
    assert "30 s/step" in slow[-1] and "elapsed 25:00" in next(line for line in slow if "step 50/100" in line)


def test_early_line_then_milestones():
    lines = _run(1000, 1.0)  # the first line after 15 s, then every 10 %
    steps = [int(m.group(1)) for line in lines if (m := re.search(r"step (\d+)/1000", line))]
    assert steps == [15, 100, 200, 300, 400, 500, 600, 700, 800, 900]


def test_resumed_run_counts_from_its_start():
    lines = _run(1000, 1.0, start=600)
    steps = [int(m.group(1)) for line in lines if (m := re.search(r"step (\d+)/1000", line))]
    assert steps[0] > 600 and steps[-1] == 900
    assert lines[-1] == "fit: done, steps 600→1000 in 6:40 (1 steps/s)"


def test_zero_lines_and_disabled_and_tiny_runs():
    assert _run(1000, 1.0, lines=0) == ["fit: 1000 steps of batch 8 on cpu",
                                        "fit: done, 1000 steps in 16:40 (1 steps/s)"]
    assert len(_run(3, 1.0)) <= 12
    out = io.StringIO()
    p = ProgressReporter(10, "x", stream=out, enabled=False)
    p.note("hello")
    p.update(10)
    p.close()
    assert out.getvalue() == ""
    with pytest.raises(ValueError):
        ProgressReporter(-1, "x")


def test_formats():
    assert format_duration(59.6) == "1:00" and format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "--:--"
    assert format_rate(10, 4) == "2.5 steps/s" and format_rate(1, 4) == "4 s/step"


class _Points(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_a_training_prints_a_handful_of_lines_not_one_per_step(tmp_path, capsys):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step_fn(batch, step, gen):
        x, y = batch
        return {"loss": (model(x)[:, 0] - y).square().mean()}

    def collate(items):
        return tuple(torch.stack(t) for t in zip(*items, strict=True))

    train_loop(name="lin", config=TrainConfig(steps=500, batch_size=8, log_every=10, checkpoint_every=100),
               modules={"m": model}, optimizer=opt, step_fn=step_fn, dataset=_Points(), collate=collate,
               workdir=tmp_path / "work", progress=False)
    out = capsys.readouterr().out.splitlines()
    assert 3 <= len(out) <= 12, out
    assert out[0].startswith("lin: 500 steps of batch 8 (64 samples, 62.5 epochs) on cpu fp32")
    assert any(re.match(r"lin: step \d+/500 \(\d+%\)  .*elapsed .* left .*  loss ", line) for line in out)
    assert re.match(r"lin: done, 500 steps in \d+:\d\d \(.*\); loss ", out[-1])


def test_timed_repro_ends_with_a_table_of_stage_times(tmp_path, monkeypatch, capsys):
    """`make repro` runs scripts/timed_repro.py: DVC's output passes through, then a table of the
    stages run (or restored from the run cache) and their times; unchanged stages are counted."""
    import importlib.util
    import os
    import stat
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "timed_repro", Path(__file__).resolve().parents[1] / "scripts" / "timed_repro.py")
    timed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(timed)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dvc"  # DVC's output format, without DVC
    fake.write_text("#!/bin/sh\necho \"Stage 'generate' didn't change, skipping\"\n"
                    "echo \"Running stage 'pretrain_backbone':\"\necho 'pretrain: done'\nsleep 0.2\n"
                    "echo \"Stage 'train@a' is cached - skipping run, checking out outputs\"\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin:/bin")
    assert timed.run([], tmp_path / "sub" / "times.json", tmp_path) == 0
    out = capsys.readouterr().out
    assert "pretrain: done" in out
    table = out[out.index("stage times"):].splitlines()
    assert table[0] == "stage times (2 run, 1 unchanged):"
    assert re.match(r"  pretrain_backbone +0:00$", table[2])
    assert re.match(r"  train@a +0:00  \(restored from the run cache\)$", table[3])
    assert table[4].startswith("  total")
    assert "generate" not in "\n".join(table)
    assert timed.stage_table({"x": {"seconds": 3725.0}}, 0, 3725.0, 255).splitlines()[0] == \
        "stage times (1 run, 0 unchanged; dvc exit code 255):"
