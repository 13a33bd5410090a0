"""Data-parallel training under ``torchrun`` (2 CPU processes, gloo) equals one process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

SCRIPT = textwrap.dedent('''
    """A tiny regression trained through train_loop; each process saves its final weights."""
    import os
    import sys
    from pathlib import Path

    import torch

    from poseboard.methods.training import JsonlTracker, TrainConfig, train_loop

    out = Path(sys.argv[1])
    torch.manual_seed(123)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    data = [{"x": x[i], "y": y[i]} for i in range(64)]
    collate = lambda items: {k: torch.stack([it[k] for it in items]) for k in items[0]}  # noqa: E731
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step_fn(batch, step, gen):
        return {"loss": torch.nn.functional.mse_loss(net(batch["x"]), batch["y"])}

    cfg = TrainConfig(steps=12, batch_size=8, lr=0.1, checkpoint_every=5, log_every=3)
    summary = train_loop(name="toy", config=cfg, modules={"net": net}, optimizer=opt, step_fn=step_fn,
                         dataset=data, collate=collate, workdir=out / "work",
                         tracker=JsonlTracker(out / "metrics.jsonl"), progress=False)
    rank = int(os.environ.get("RANK", "0"))
    torch.save(net.state_dict(), out / f"weights_rank{rank}.pt")
''')


def _run(cmd: list[str], cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_processes_train_exactly_what_one_does(tmp_path):
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT)
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    _run([sys.executable, str(script), str(single)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
          str(multi)], tmp_path)
    w0 = torch.load(multi / "weights_rank0.pt", weights_only=True)
    w1 = torch.load(multi / "weights_rank1.pt", weights_only=True)
    one = torch.load(single / "weights_rank0.pt", weights_only=True)
    for k in one:
        assert torch.equal(w0[k], w1[k])  # every process applies the same averaged update
        torch.testing.assert_close(w0[k], one[k], rtol=1e-5, atol=1e-6)  # = the full-batch gradient
    # only rank 0 writes: one checkpoint, no duplicated curve lines
    assert (multi / "work" / "checkpoint.pt").exists()
    import json

    curves = [[json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (single, multi)]
    assert len(curves[0]) == len(curves[1]) > 0
    for a, b in zip(*curves, strict=True):  # the logged loss is the mean over the processes' shares
        assert a["toy/loss"] == pytest.approx(b["toy/loss"], rel=1e-5)
