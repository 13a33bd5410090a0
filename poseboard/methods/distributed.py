"""Data-parallel training under ``torchrun``: one process per core (gloo) or GPU (NCCL).

``torchrun --nproc_per_node=N -m poseboard.methods.commands train METHOD …`` trains exactly
what a single process trains, with the step's batch split over the processes:

* every process builds the same model from the same seed, and rank 0's weights and buffers
  are broadcast once more before the first step (a resumed run starts from rank 0's
  checkpoint everywhere);
* step ``s`` draws the same global batch as a single process would
  (:class:`~poseboard.methods.training.StepBatchSampler`); rank ``r`` of ``N`` takes
  samples ``r, r + N, …`` of it (the batch size must divide by ``N``);
* after the backward pass the gradients are averaged over the processes (all-reduce, the
  same arithmetic as :class:`torch.nn.parallel.DistributedDataParallel`, which needs the
  forward pass to go through its wrapper — here each method's step function owns the
  forward), so every process applies the same update; BatchNorm buffers are re-broadcast
  from rank 0 after each step (DDP's ``broadcast_buffers``);
* only rank 0 writes checkpoints, logs curves, shows progress and saves the result.

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


def average_scalars(values: dict[str, float]) -> dict[str, float]:
    """Mean of each logged scalar over the processes (for curves; no-op in one process)."""
    import torch.distributed as dist

    world = rank_and_world()[1]
    if world <= 1 or not values:
        return values
    keys = sorted(values)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) / world for k, v in zip(keys, t, strict=True)}
