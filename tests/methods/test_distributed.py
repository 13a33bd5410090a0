"""Data-parallel training under ``torchrun`` (2-3 CPU processes, gloo) equals one process,
including batch sizes that do not divide by the number of processes."""

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

    from poseboard.methods.train.loop import JsonlTracker, TrainConfig, train_loop

    out = Path(sys.argv[1])
    batch_size = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    torch.manual_seed(123)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    data = [{"x": x[i], "y": y[i]} for i in range(64)]
    collate = lambda items: {k: torch.stack([it[k] for it in items]) for k in items[0]}  # noqa: E731
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step_fn(batch, step, gen):
        return {"loss": torch.nn.functional.mse_loss(net(batch["x"]), batch["y"])}

    cfg = TrainConfig(steps=12, batch_size=batch_size, lr=0.1, checkpoint_every=5, log_every=3)
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


def _train_single_and_multi(tmp_path: Path, batch_size: int, processes: int) -> tuple[Path, Path]:
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT)
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    _run([sys.executable, str(script), str(single), str(batch_size)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
          str(script), str(multi), str(batch_size)], tmp_path)
    one = torch.load(single / "weights_rank0.pt", weights_only=True)
    ranks = [torch.load(multi / f"weights_rank{r}.pt", weights_only=True) for r in range(processes)]
    for k in one:
        for w in ranks[1:]:
            assert torch.equal(ranks[0][k], w[k])  # every process applies the same update
        torch.testing.assert_close(ranks[0][k], one[k], rtol=1e-5, atol=1e-6)  # = the full-batch gradient
    return single, multi


def test_share_sizes_are_near_equal():
    from poseboard.methods.train.distributed import share_sizes

    assert share_sizes(8, 2) == [4, 4]
    assert share_sizes(5, 2) == [3, 2] and share_sizes(5, 4) == [2, 1, 1, 1]
    assert share_sizes(5, 8) == [1, 1, 1, 1, 1, 0, 0, 0]
    for b in range(1, 12):
        for n in range(1, 10):
            sizes = share_sizes(b, n)
            assert sum(sizes) == b and max(sizes) - min(sizes) <= 1


def test_sampler_shares_partition_the_global_batch():
    """Any batch size over any number of ranks: the ranks' shares are the single process's
    batch, each sample once, of the sizes share_sizes says."""
    from poseboard.methods.train.distributed import share_sizes
    from poseboard.methods.train.loop import StepBatchSampler

    for b, n in ((5, 2), (5, 4), (5, 8), (8, 2)):
        whole = list(StepBatchSampler(23, b, seed=3, start_step=0, stop_step=7))
        parts = [list(StepBatchSampler(23, b, seed=3, start_step=0, stop_step=7, rank=r, world_size=n))
                 for r in range(n)]
        for step, batch in enumerate(whole):
            shares = [p[step] for p in parts]
            assert sorted(i for s in shares for i in s) == sorted(batch)
            assert [len(s) for s in shares] == share_sizes(b, n)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_processes_train_exactly_what_one_does(tmp_path):
    single, multi = _train_single_and_multi(tmp_path, 8, 2)
    # only rank 0 writes: one checkpoint, no duplicated curve lines
    assert (multi / "work" / "checkpoint.pt").exists()
    import json

    curves = [[json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (single, multi)]
    assert len(curves[0]) == len(curves[1]) > 0
    for a, b in zip(*curves, strict=True):  # the logged loss is the mean over the processes' shares
        assert a["toy/loss"] == pytest.approx(b["toy/loss"], rel=1e-5)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize(("batch_size", "processes"), [(5, 2), (2, 3)], ids=["5-over-2", "2-over-3-one-idle"])
def test_a_batch_that_does_not_divide_trains_what_one_process_does(tmp_path, batch_size, processes):
    """Shares of 3 and 2 (and 1, 1, 0: a rank with nothing to do) weighted by their sizes give
    the single process's update and its logged loss."""
    import json

    single, multi = _train_single_and_multi(tmp_path, batch_size, processes)
    curves = [[json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (single, multi)]
    assert len(curves[0]) == len(curves[1]) > 0
    for a, b in zip(*curves, strict=True):
        assert a["toy/loss"] == pytest.approx(b["toy/loss"], rel=1e-5)
        assert a["toy/lr"] == pytest.approx(b["toy/lr"])
