"""Data-parallel training under ``torchrun``: one process per core (gloo) or GPU (NCCL).

``torchrun --nproc_per_node=N -m poseboard.harness.commands train METHOD …`` trains exactly
what a single process trains, with the step's batch split over the processes:

* every process builds the same model from the same seed, and rank 0's weights and buffers
  are broadcast once more before the first step (a resumed run starts from rank 0's
  checkpoint everywhere);
* step ``s`` draws the same global batch as a single process would
  (:class:`~poseboard.methods.train.loop.StepBatchSampler`); rank ``r`` of ``N`` takes
  samples ``r, r + N, …`` of it;
* after the backward pass the gradients are combined over the processes (all-reduce), so
  every process applies the same update; BatchNorm buffers are re-broadcast from rank 0
  after each step (DDP's ``broadcast_buffers``);
* only rank 0 writes checkpoints, logs curves, shows progress and saves the result.

**Batch sizes that do not divide by N** (the ``paper`` volumetric's 5 over 2, 4 or 8 GPUs).
The rule is *near-equal shares, gradients weighted by share size* (:func:`share_sizes`,
:func:`reduce_gradients`): with B = q·N + m, the first m ranks take q + 1 samples and the
others q (none when B < N: those ranks run no forward pass and contribute a zero gradient).
Every method's loss is a mean over the samples of its batch, so rank r's gradient is
``g_r = (1/n_r) Σ_{i∈r} ∇ℓ_i`` and the single process's ``g = (1/B) Σ_i ∇ℓ_i =
Σ_r (n_r/B) g_r``: the all-reduce sums ``(n_r/B) g_r``, and the step equals the one-process
step (to float rounding) at the configured batch size and learning rate. The alternative,
a per-rank batch with gradient accumulation, would change either the batch (B rounded to a
multiple of N) or the number of forward passes per step, and so the hyper-parameters'
meaning; equal-share averaging without weights would over-weight the smaller shares' samples.
What stays per process, as under DDP: BatchNorm's batch statistics (computed over each
share; with B < N a sample's statistics are its own). When B divides by N every weight is
1/N and the arithmetic is exactly DDP's mean (the code path of the divisible case is
unchanged, bit for bit). The logged losses are weighted the same way.

Without ``torchrun`` (``WORLD_SIZE`` unset or 1) nothing here does anything: the single-process
path is unchanged, bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import torch
from torch import nn


def backend_for(device: torch.device | str | None) -> str:
    """The collective backend for tensors on ``device``: NCCL for CUDA, gloo for the CPU.

    Chosen from the device the run trains on, not from whether the machine has CUDA: a CPU run
    on a GPU machine with NCCL stops at its first broadcast ("No backend type associated with
    device type cpu")."""
    return "nccl" if device is not None and torch.device(device).type == "cuda" else "gloo"


def setup(device: torch.device | str | None = None) -> tuple[int, int]:
    """``(rank, world_size)``; starts the process group when ``torchrun`` launched us and it is
    not started yet, with the backend of ``device`` (:func:`backend_for`; one GPU per process,
    ``cuda:LOCAL_RANK``, made the current device)."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        backend = backend_for(device)
        if backend == "nccl":
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of a started process group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True in a single process and on rank 0: the process that writes files (before the
    group is started, ``torchrun``'s ``RANK`` says)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def barrier() -> None:
    """Wait for every process (no-op in a single process)."""
    import torch.distributed as dist

    if rank_and_world()[1] > 1:
        dist.barrier()


def broadcast_modules(modules: Mapping[str, nn.Module], buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (unless ``buffers_only``) and buffers to every process."""
    import torch.distributed as dist

    if rank_and_world()[1] <= 1:
        return
    for module in modules.values():
        tensors = list(module.buffers()) if buffers_only else [*module.parameters(), *module.buffers()]
        for t in tensors:
            dist.broadcast(t.data, src=0)


def share_sizes(batch_size: int, world_size: int) -> list[int]:
    """Samples of a global batch of ``batch_size`` B each of ``world_size`` N ranks takes
    (rank r: positions r, r + N, … of the batch): ⌈B/N⌉ for the first ``B mod N`` ranks,
    ⌊B/N⌋ for the others (0 for ranks ≥ B when B < N).

    Example:
        >>> share_sizes(5, 2), share_sizes(5, 4), share_sizes(5, 8)
        ([3, 2], [2, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0])
    """
    if batch_size < 1 or world_size < 1:
        raise ValueError(f"share_sizes: need batch_size ≥ 1 and world_size ≥ 1, got {batch_size}, {world_size}")
    return [len(range(r, batch_size, world_size)) for r in range(world_size)]


def reduce_gradients(params: Iterable[nn.Parameter], batch_size: int) -> None:
    """Make every process's gradients the single process's gradient of the global batch.

    When ``batch_size`` divides by the number of processes this is :func:`average_gradients`
    (DDP's mean). Otherwise each process's gradient (of the mean loss over its share of n_r
    samples) is weighted by ``n_r / batch_size`` and summed over the processes
    (:func:`share_sizes`; the module docstring derives it). A parameter with a gradient on
    some process and none on another (an idle rank with an empty share) counts as zero
    there; one without a gradient anywhere keeps ``grad = None``. No-op in one process.
    """
    import torch.distributed as dist

    rank, world = rank_and_world()
    if world <= 1:
        return
    if batch_size % world == 0:
        average_gradients(params)
        return
    params = list(params)
    if not params:
        return
    weight = share_sizes(batch_size, world)[rank] / batch_size
    device = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=device)
    dist.all_reduce(has, op=dist.ReduceOp.MAX)  # which parameters have a gradient on any process
    grads = []
    for p, any_grad in zip(params, has.tolist(), strict=True):
        if any_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads]) * weight
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Replace every gradient by its mean over the processes (one flat all-reduce)."""
    import torch.distributed as dist

    world = rank_and_world()[1]
    if world <= 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_scalars(values: dict[str, float], batch_size: int | None = None) -> dict[str, float]:
    """Mean of each logged scalar over the processes (for curves; no-op in one process).

    With ``batch_size`` not divisible by the number of processes, each process's value is
    weighted by its share (:func:`share_sizes`), as its gradient is; a process with an empty
    share (and so no values) takes rank 0's keys and contributes nothing. ``batch_size``
    None, or divisible: the plain mean over the processes."""
    import torch.distributed as dist

    rank, world = rank_and_world()
    if world <= 1:
        return values
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    if batch_size is None or batch_size % world == 0:
        if not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return {k: float(v) / world for k, v in zip(keys, t, strict=True)}
    shared: list[object] = [sorted(values)]  # rank 0 always has a sample, so it has the keys
    dist.broadcast_object_list(shared, src=0)
    keys = list(shared[0])  # type: ignore[call-overload]
    if not keys:
        return values
    weight = share_sizes(batch_size, world)[rank] / batch_size
    t = torch.tensor([values.get(k, 0.0) * weight if weight else 0.0 for k in keys], dtype=torch.float64,
                     device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) for k, v in zip(keys, t, strict=True)}
