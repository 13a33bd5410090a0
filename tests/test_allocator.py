"""The commands' allocator policy: in force on glibc, optional, and it never changes a result."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import hashlib, sys
import torch
from poseboard.allocator import keep_freed_memory
print(keep_freed_memory())
torch.manual_seed(0)
torch.set_num_threads(2)
net = torch.nn.Sequential(torch.nn.Conv3d(8, 16, 3, padding=1), torch.nn.BatchNorm3d(16), torch.nn.ReLU(),
                          torch.nn.Conv3d(16, 4, 1))
opt = torch.optim.Adam(net.parameters(), 1e-3)
x = torch.randn(2, 8, 48, 48, 48)  # 7 MB in, ~60 MB activations: served by mmap under glibc's default
for _ in range(3):
    loss = net(x).softmax(1).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest()
print(digest)
"""


def _run(keep: str) -> list[str]:
    env = os.environ | {"POSEBOARD_KEEP_FREED_MEMORY": keep}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keeping_freed_memory_changes_no_computed_value():
    applied, with_policy = _run("1")
    skipped, without = _run("0")
    assert applied == "True" and skipped == "False"
    assert with_policy == without  # trained weights, bit for bit


WORKERS_SCRIPT = """
import sys
from poseboard.allocator import keep_freed_memory, policy_in_force
from poseboard.datasets.synthetic.generator import _Runner
from poseboard.harness.predict import _spawn_pool

if sys.argv[1] == "parent-keeps":
    keep_freed_memory()
pool = _spawn_pool(1, None, 1)
predict_worker = pool.submit(policy_in_force).result()
pool.shutdown()
with _Runner(2) as runner:
    render_worker = runner._pool.submit(policy_in_force).result()
print(policy_in_force(), predict_worker, render_worker)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("parent", ["parent-keeps", "parent-default"])
def test_spawned_workers_follow_their_parents_policy(parent):
    """A spawned process starts with glibc's default: the predict and render workers take the
    parent's policy (the two predict workers of a volumetric stage spent 45 of its 57 s in the
    kernel without it), and keep the default where the parent does."""
    out = subprocess.run([sys.executable, "-c", WORKERS_SCRIPT, parent], capture_output=True, text=True,
                         timeout=300, env=os.environ | {"POSEBOARD_KEEP_FREED_MEMORY": "1"})
    assert out.returncode == 0, out.stderr
    expected = str(parent == "parent-keeps")
    assert out.stdout.split() == [expected] * 3
