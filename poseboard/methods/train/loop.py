"""Shared training machinery: configuration, seeding, deterministic batches, resumable
checkpoints, progress and batched logging.

Every learned method trains through :func:`train_loop` with a *step function* (batch,
step, generator → losses) and gets, for free:

* **determinism** on the CPU under a seed: the batch order is a pure function of
  ``(seed, epoch)`` (:class:`StepBatchSampler`), and every random choice a step makes
  (augmentation, jitter, view subsets) comes from ``step_generator(seed, step)``, so a
  resumed run draws exactly what the uninterrupted run drew;
* **resumption**: ``checkpoint.pt`` holds the model(s), the optimiser, the global RNG states
  (torch, CUDA, NumPy, Python), the step, the curves so far and a fingerprint of the run
  (:func:`run_fingerprint`: config, data, initial weights, code), written atomically (a crash
  mid-write leaves the previous one) every ``checkpoint_every`` steps and at the first log
  step ``checkpoint_seconds`` after the last save; ``train_loop`` continues from it, and
  starts over when the fingerprint is another run's. Under ``dvc repro`` the state lives
  outside the stage's outputs (:func:`resume_file`: DVC deletes those before it runs a stage),
  so a second ``dvc repro`` after an interruption resumes; it is moved into the work folder
  when the run ends;
* **curves**: losses averaged over ``log_every`` steps go to the tracker in one call (not
  one call per step), validation metrics every ``val_every`` steps;
* **progress**: a few plain lines on stdout (:class:`poseboard.progress.ProgressReporter`:
  what runs, at most ten progress lines with rate and time left, a final line), readable in
  a DVC log; a tqdm bar instead of the progress lines when ``progress`` and stderr is a
  terminal;
* **data parallelism** under ``torchrun`` (:mod:`poseboard.methods.train.distributed`): each
  process takes its share of every step's batch (any batch size over any number of
  processes), the gradients are combined weighted by share size so the update is the single
  process's, rank 0 writes.

The learning rate is a pure function of the step (:func:`learning_rate`), set on the
optimiser before each step, so there is no scheduler state to save.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.errors import InputError, ResultFileError
from poseboard.io import atomic_open

CHECKPOINT_FILE = "checkpoint.pt"
#: A folder for the resumable state of every training (:func:`resume_file`); under ``dvc repro``
#: it defaults to ``<DVC_ROOT>/.dvc/tmp/poseboard-resume``.
RESUME_DIR_ENV = "POSEBOARD_RESUME_DIR"
#: A save may take at most this share of the training time (a slow save waits longer).
_SAVE_SHARE = 0.05


class TrainConfig(BaseModel):
    """How long and how a stage trains (one block per method in ``params.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(1000, ge=0, description="optimiser steps in total (a resumed run stops here too)")
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-4, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine", "step"] = "constant"
    warmup_steps: int = Field(0, ge=0, description="linear warm-up from 0 to lr")
    min_lr_ratio: float = Field(0.05, ge=0, le=1, description="cosine: final lr / lr")
    step_milestones: tuple[float, ...] = Field((0.7, 0.9), description="step: fractions of `steps` where lr × 0.1")
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm (None: no clipping)")
    seed: int = Field(0, ge=0)
    checkpoint_every: int = Field(200, ge=1, description="steps between checkpoints (and one at the end)")
    checkpoint_seconds: float | None = Field(
        60.0, gt=0, description="also save at the first log step this long after the last save, seconds (None: "
                                "steps only); a save never takes more than 5 % of the time")
    log_every: int = Field(10, ge=1, description="steps averaged into one tracker call")
    val_every: int = Field(0, ge=0, description="steps between validations (0: only at the end)")
    val_samples: int = Field(64, ge=0, description="validation samples (the first N; 0: no validation)")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    threads: int | None = Field(None, ge=1, description="torch CPU threads while training (None: leave as is)")


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate at ``step`` (0-based): warm-up, then constant / cosine / step decay."""
    lr = config.lr
    if config.warmup_steps and step < config.warmup_steps:
        return lr * (step + 1) / config.warmup_steps
    if config.schedule == "cosine" and config.steps > config.warmup_steps:
        t = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        floor = lr * config.min_lr_ratio
        return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * min(t, 1.0)))
    if config.schedule == "step":
        drops = sum(step >= m * config.steps for m in config.step_milestones)
        return lr * 0.1**drops
    return lr


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside, torch's global generator is seeded with ``seed``; outside, its state is as
    before. Networks are built in it, so their initialisation depends on the configured seed
    only (torch seeds the global generator at random in every process)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (the global generators; steps use their own)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds the legacy global generator third-party code may use
    torch.manual_seed(seed)


def _mix(*parts: object) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def step_generator(seed: int, step: int, purpose: str = "step") -> torch.Generator:
    """A CPU generator that depends only on (seed, step, purpose): the random draws of one
    training step, identical in a resumed run."""
    return torch.Generator().manual_seed(_mix(seed, step, purpose))


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of indices for steps ``start_step, start_step + 1, …, stop_step - 1``.

    Epoch ``e`` is a permutation of the dataset drawn from ``(seed, e)``; incomplete last
    batches are dropped, so step ``s`` is always batch ``s mod n_batches`` of epoch
    ``s div n_batches``, whatever step a run starts from.

    Under data parallelism (``world_size`` N > 1) every process draws the same global batch
    of ``batch_size`` B and rank ``r`` keeps positions ``r, r + N, …`` of it
    (:func:`~poseboard.methods.train.distributed.share_sizes`: near-equal shares, ⌈B/N⌉ for the
    first ``B mod N`` ranks and ⌊B/N⌋ for the others; an empty list for a rank ≥ B when
    B < N). Any B works with any N; :func:`train_loop` weights each share's gradient by its
    size so that the update is the single process's.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int, stop_step: int,
                 shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        if n < batch_size:
            raise InputError(f"training set of {n} samples is smaller than the batch size {batch_size}")
        if not 0 <= rank < world_size:
            raise InputError(f"rank {rank} out of range for {world_size} processes")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop, self.shuffle = start_step, stop_step, shuffle
        self.rank, self.world_size = rank, world_size
        self.per_epoch = n // batch_size

    def _order(self, epoch: int) -> Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(_mix(self.seed, epoch, "epoch")))

    def __iter__(self) -> Iterator[list[int]]:
        epoch, order = -1, None
        for step in range(self.start, self.stop):
            e, b = divmod(step, self.per_epoch)
            if e != epoch:
                epoch, order = e, self._order(e)
            assert order is not None
            batch = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield (batch if self.world_size == 1 else batch[self.rank :: self.world_size]).tolist()

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _seed_worker(seed: int, worker_id: int) -> None:
    """A DataLoader worker's Python and NumPy generators, from (seed, worker): what a sample's
    loading draws does not depend on which process loads it first."""
    random.seed(_mix(seed, worker_id, "worker"))
    np.random.seed(_mix(seed, worker_id, "worker") % 2**32)  # noqa: NPY002 - the legacy global generator


def make_loader(dataset: Any, config: TrainConfig, collate: Callable[[list[Any]], Any], start_step: int,
                stop_step: int, rank: int = 0, world_size: int = 1,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader yielding the batches of steps ``start_step … stop_step - 1`` in order
    (this process's share of each under data parallelism).

    With ``num_workers`` > 0 the workers' seeds come from ``(seed, start_step)`` and each
    worker's index, so a run is reproducible whatever the worker count; with none, nothing is
    drawn from torch's global generator that was not drawn before (CPU results unchanged).
    ``pin_memory`` (set when training on CUDA) lets batches be copied to the GPU
    asynchronously."""
    import functools

    sampler = StepBatchSampler(len(dataset), config.batch_size, config.seed, start_step, stop_step,
                               rank=rank, world_size=world_size)
    workers: dict[str, Any] = {}
    if config.num_workers > 0:
        workers = {"worker_init_fn": functools.partial(_seed_worker, config.seed),
                   "generator": torch.Generator().manual_seed(_mix(config.seed, start_step, rank, "loader"))}
    if config.batch_size < world_size:  # some rank's share is empty: it yields None, not collate([])
        collate = functools.partial(_collate_or_none, collate)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, collate_fn=collate, num_workers=config.num_workers,
        persistent_workers=False, pin_memory=pin_memory, **workers,
    )


def _collate_or_none(collate: Callable[[list[Any]], Any], samples: list[Any]) -> Any:
    """``collate(samples)``, or None for an empty share (a rank idle this step)."""
    return collate(samples) if samples else None


def eval_batches(dataset: Any, batch_size: int, collate: Callable[[list[Any]], Any],
                 limit: int | None = None) -> Iterator[Any]:
    """The first ``limit`` samples of ``dataset`` (all if None), in order, in batches."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    for start in range(0, n, batch_size):
        yield collate([dataset[i] for i in range(start, min(n, start + batch_size))])


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | Path, *, step: int, modules: Mapping[str, nn.Module],
                    optimizer: torch.optim.Optimizer | None, extra: dict[str, Any] | None = None,
                    device: torch.device | str | None = None) -> None:
    """Write the state of a run atomically: module state dicts, optimiser, the global RNG
    states (torch; CUDA's of ``device`` when it is a GPU; NumPy's and Python's), step.

    The file holds only tensors, numbers and strings, so :func:`load_checkpoint` reads it
    with ``weights_only=True``.
    """
    state: dict[str, Any] = {
        "step": int(step),
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "torch_rng": torch.get_rng_state(),
        "rng": _host_rng_state(),
        "extra": extra or {},
    }
    if device is not None and torch.device(device).type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(torch.device(device))
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def _host_rng_state() -> dict[str, Any]:
    """Python's and NumPy's global generator states as tensors and numbers (no pickle)."""
    version, keys, gauss = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global generator third-party code may use
    return {"python_version": int(version), "python": torch.tensor(keys, dtype=torch.int64), "python_gauss": gauss,
            "numpy": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)), "numpy_pos": int(np_state[2]),
            "numpy_has_gauss": int(np_state[3]), "numpy_gauss": float(np_state[4])}


def _set_host_rng_state(rng: dict[str, Any]) -> None:
    random.setstate((rng["python_version"], tuple(int(k) for k in rng["python"].tolist()), rng["python_gauss"]))
    np.random.set_state(("MT19937", rng["numpy"].numpy().astype(np.uint32), rng["numpy_pos"],  # noqa: NPY002
                         rng["numpy_has_gauss"], rng["numpy_gauss"]))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (no pickle)."""
    from poseboard.io import load_tensors

    return load_tensors(path, "training checkpoint")


def restore_checkpoint(state: dict[str, Any], modules: Mapping[str, nn.Module],
                       optimizer: torch.optim.Optimizer | None, device: torch.device | str | None = None) -> int:
    """Load a checkpoint's states into ``modules`` and ``optimizer``, and the RNG states it
    holds into the global generators (CUDA's into ``device``'s when it is a GPU); returns its
    step."""
    saved = state["modules"]
    missing = sorted(set(modules) - set(saved))
    if missing:
        raise ResultFileError(f"checkpoint has no state for {missing} (saved: {sorted(saved)})")
    for name, module in modules.items():
        module.load_state_dict(saved[name])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("rng") is not None:
        _set_host_rng_state(state["rng"])
    if state.get("cuda_rng") is not None and device is not None and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], torch.device(device))
    return int(state["step"])


# ---------------------------------------------------------------------------- resumption
def resume_file(workdir: str | Path) -> Path:
    """Where a training with work folder ``workdir`` keeps its resumable state.

    ``<workdir>/checkpoint.pt``, unless a resume folder is set: ``$POSEBOARD_RESUME_DIR``, or
    under ``dvc repro`` (``DVC_STAGE`` is set) ``<DVC_ROOT>/.dvc/tmp/poseboard-resume``, git-
    and DVC-ignored. DVC deletes a stage's outputs before it runs the stage's command, so a
    state kept in them would be lost with the interruption; in the resume folder it is
    ``<resume folder>/<workdir relative to the working directory>/checkpoint.pt``
    (e.g. ``.dvc/tmp/poseboard-resume/checkpoints/algebraic/work/checkpoint.pt``), and
    :func:`train_loop` moves it into ``workdir`` when the run ends.
    """
    workdir = Path(workdir)
    root = _resume_root()
    if root is None:
        return workdir / CHECKPOINT_FILE
    absolute = workdir.resolve()
    try:
        relative = absolute.relative_to(Path.cwd().resolve())
    except ValueError:  # outside the working directory: its absolute path, anchor dropped
        relative = absolute.relative_to(absolute.anchor)
    return root / relative / CHECKPOINT_FILE


def _resume_root() -> Path | None:
    root = os.environ.get(RESUME_DIR_ENV)
    if not root and os.environ.get("DVC_STAGE") and os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]) / ".dvc" / "tmp" / "poseboard-resume"
    return Path(root) if root else None


def run_fingerprint(*, config: TrainConfig, modules: Mapping[str, nn.Module],
                    optimizer: torch.optim.Optimizer | None, dataset: Any = None,
                    step_fn: Callable[..., Any] | None = None, identity: Any = None) -> str:
    """A hex digest of what a run's result depends on, recorded in its checkpoints so that a
    state left by another run is never resumed: the :class:`TrainConfig`, ``identity`` (the
    caller's whole config), the modules' weights before training (their initialisation and
    any loaded backbone), the optimiser and its hyper-parameters, the data (its length and
    three samples: the first, middle and last), and the code (the source files of the modules'
    classes, of ``step_fn`` and of this module). Any change there starts the training over.
    """
    h = hashlib.blake2b(digest_size=16)
    _digest(h, ("train", config.model_dump(mode="json"), "identity", identity))
    for name in sorted(modules):
        _digest(h, ("module", name, type(modules[name]).__qualname__, modules[name].state_dict()))
    if optimizer is not None:
        _digest(h, ("optimizer", type(optimizer).__qualname__,
                    [{k: v for k, v in g.items() if k != "params"} | {"n_params": len(g["params"])}
                     for g in optimizer.param_groups]))
    if dataset is not None:
        n = len(dataset)
        _digest(h, ("data", n, [dataset[i] for i in sorted({0, n // 2, n - 1}) if n > 0]))
    files = {inspect.getsourcefile(type(m)) for m in modules.values()} | {__file__}
    if step_fn is not None and hasattr(step_fn, "__code__"):
        files.add(step_fn.__code__.co_filename)
    for file in sorted(f for f in files if f):
        with contextlib.suppress(OSError):
            h.update(Path(file).read_bytes())
    return h.hexdigest()


def _digest(h: Any, obj: Any, depth: int = 0) -> None:
    """Feed ``obj`` into the hash ``h``: tensors and arrays by their bytes, containers,
    dataclasses and plain objects by their items (samples, batches, configs)."""
    if depth > 8:
        h.update(type(obj).__qualname__.encode())
    elif obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        h.update(repr(obj).encode())
    elif isinstance(obj, Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"tensor{tuple(obj.shape)}{obj.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, np.ndarray):
        h.update(f"array{obj.shape}{obj.dtype}".encode())
        h.update(np.ascontiguousarray(obj).tobytes() if obj.dtype != object else repr(obj.tolist()).encode())
    elif isinstance(obj, np.generic):
        h.update(repr(obj.item()).encode())
    elif isinstance(obj, Mapping):
        for k in sorted(obj, key=str):
            _digest(h, (str(k), obj[k]), depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        h.update(f"{type(obj).__name__}{len(items)}".encode())
        for item in items:
            _digest(h, item, depth + 1)
    elif isinstance(obj, BaseModel):
        _digest(h, obj.model_dump(mode="json"), depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _digest(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, depth + 1)
    elif hasattr(obj, "__dict__"):
        h.update(type(obj).__qualname__.encode())
        _digest(h, vars(obj), depth + 1)
    else:
        h.update(type(obj).__qualname__.encode())


# ---------------------------------------------------------------------------- logging
class _Averager:
    """Running sums of the logged losses between two tracker calls, kept on the device.

    Reading a CUDA tensor back to the host waits for the GPU, so the losses are summed where
    they are (in float64, the precision Python's float sum had) and read back once per window
    (:meth:`pop`), not once per step.
    """

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.count = 0

    def add(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            v = v.detach().to(torch.float64) if isinstance(v, Tensor) else float(v)
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        self.count += 1

    def finite(self) -> bool:
        """Whether every sum of the window is finite (one read-back)."""
        tensors = [v.reshape(()) for v in self.sums.values() if isinstance(v, Tensor)]
        return not tensors or bool(torch.isfinite(torch.stack(tensors)).all())

    def pop(self) -> dict[str, float]:
        out = {k: float(v) / max(1, self.count) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return out


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True,
                mininterval=1.0, leave=False)


@dataclass
class TrainSummary:
    """What a call of :func:`train_loop` did."""

    start_step: int
    end_step: int
    seconds: float
    """Wall time of this call."""
    resumed: bool
    seconds_total: float = 0.0
    """Wall time of the whole run, over every resumed call (as recorded in the checkpoints)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One entry per logged window: ``{"step": s, "loss": …, …}`` (train) plus ``val/…`` entries."""
    val: dict[str, float] = field(default_factory=dict)


StepFn = Callable[[Any, int, torch.Generator], dict[str, Tensor]]
ValFn = Callable[[], dict[str, float]]


def train_loop(
    *,
    name: str,
    config: TrainConfig,
    modules: Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    step_fn: StepFn,
    dataset: Any,
    collate: Callable[[list[Any]], Any],
    workdir: str | Path | None,
    tracker: Any = None,
    val_fn: ValFn | None = None,
    progress: bool = True,
    on_checkpoint: Callable[[int], None] | None = None,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    identity: Any = None,
) -> TrainSummary:
    """Train ``modules`` for ``config.steps`` optimiser steps, resuming from ``workdir``.

    Args:
        name: stage name (progress lines, metric prefix in the tracker: ``<name>/loss``).
        config: the :class:`TrainConfig`.
        modules: every module whose state a checkpoint must hold (the trained ones and any
            frozen one whose BN statistics could change), by name.
        optimizer: over the trainable parameters; its lr is set from :func:`learning_rate`.
        step_fn: ``(batch, step, generator) -> {"loss": scalar tensor, other: tensors}``;
            ``loss`` is back-propagated, everything is logged (averaged per window).
        dataset: a map-style dataset; batches come from :class:`StepBatchSampler`.
        collate: list of samples → batch.
        workdir: holds ``checkpoint.pt`` when the run ends; ``None`` trains without
            checkpoints. The resumable state is written to :func:`resume_file` (``workdir``
            itself unless under ``dvc repro`` or ``POSEBOARD_RESUME_DIR``), every
            ``checkpoint_every`` steps and at the first log step ``checkpoint_seconds`` after
            the last save, and resumed from when its fingerprint (:func:`run_fingerprint`) is
            this run's; another run's is discarded.
        tracker: ``log_metrics(dict, step)`` receiver (``None``: nothing logged). A run
            resumed from a resume folder first logs again the curves saved with the state (the
            work folder's were lost with it). What it was told through ``log_params`` before
            (:class:`JsonlTracker` keeps it: the harness logs the method's whole config) is part
            of the fingerprint.
        val_fn: called every ``val_every`` steps and at the end (modules in eval mode,
            under ``no_grad``); its metrics are logged as ``<name>/val_<key>``.
        progress: a tqdm bar on stderr when it is a terminal, in place of the progress lines;
            the plain lines on stdout (what runs, at most ten with rate and time left, the
            end) are printed either way, by rank 0.
        on_checkpoint: called with the step after each checkpoint is written.
        device: where to train (default: where the modules' parameters are). The modules are
            moved there, every batch is moved there before ``step_fn`` sees it, and losses are
            read back to the host once per ``log_every`` steps (and before each checkpoint,
            which is refused if a loss of the window was not finite), never per step.
        precision: ``fp32`` or ``bf16`` (``step_fn`` runs under
            :func:`poseboard.device.autocast`; the backward pass and the optimiser in float32).
        identity: what else the result depends on (the caller's whole config), for the
            fingerprint.

    Returns:
        a :class:`TrainSummary`. The modules hold the final weights, in eval mode.
    """
    from poseboard.device import autocast, to_device
    from poseboard.methods.train import distributed as ddp
    from poseboard.progress import ProgressReporter, format_duration  # here: only training commands import it

    t0 = time.perf_counter()
    if device is None:
        first = next((p for m in modules.values() for p in m.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    for m in modules.values():
        m.to(device)
    old_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    rank, world = ddp.setup(device)
    main = rank == 0
    logged = getattr(tracker, "logged_params", None) or None  # every rank's tracker was told the same
    if not main:
        tracker, progress = None, False
    seed_everything(config.seed)
    final_path = Path(workdir) / CHECKPOINT_FILE if workdir is not None else None
    state_path = resume_file(workdir) if workdir is not None else None
    fingerprint, notes = "", []
    if state_path is not None:
        fingerprint = run_fingerprint(config=config, modules=modules, optimizer=optimizer, dataset=dataset,
                                      step_fn=step_fn, identity=[identity, logged])
    state, source = None, None
    for path in dict.fromkeys(p for p in (state_path, final_path) if p is not None and p.exists()):
        candidate = load_checkpoint(path)
        saved = candidate.get("extra", {}).get("fingerprint")
        if saved is not None and saved != fingerprint:
            notes.append(f"ignoring {_shown(path)}: another run's state (a different config, data, initial "
                         f"weights or code; fingerprint {saved[:12]} ≠ {fingerprint[:12]}); this run replaces it")
            continue
        state, source = candidate, path
        break
    start = int(state["step"]) if state is not None else 0
    # The loader's iterator draws a seed from torch's global generator: made before the saved
    # generator states are restored, a resumed run draws after it what the uninterrupted run drew.
    batches = (iter(make_loader(dataset, config, collate, start, config.steps, rank, world,
                                pin_memory=device.type == "cuda")) if start < config.steps else iter(()))
    resumed, before, history = state is not None, 0.0, []
    if state is not None:
        restore_checkpoint(state, modules, optimizer, device)
        before = float(state.get("extra", {}).get("seconds_total", 0.0))
        history = list(state.get("extra", {}).get("history", []))
    ddp.broadcast_modules(modules)
    summary = TrainSummary(start_step=start, end_step=start, seconds=0.0, resumed=resumed, history=history)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    averager = _Averager()
    report = ProgressReporter(config.steps, name, lines=0 if progress and sys.stderr.isatty() else 10,
                              clock=time.perf_counter, start=start, enabled=main)
    for note in notes:
        report.note(note)
    epochs = config.steps * config.batch_size / max(1, len(dataset))
    threads = torch.get_num_threads()
    report.note(f"{config.steps} steps of batch {config.batch_size} ({len(dataset)} samples, "
                f"{f'{epochs:.3g}' if epochs < 1000 else f'{epochs:.0f}'} epochs) on {device} {precision}, "
                f"{threads} thread{'s' if threads != 1 else ''}"
                + (f", {world} processes" if world > 1 else "")
                + (f"; state saved every {config.checkpoint_every} steps"
                   + (f" or {config.checkpoint_seconds:g} s" if config.checkpoint_seconds else "")
                   + f" to {_shown(state_path)}" if state_path is not None else "; no checkpoints"))
    if resumed:
        report.note(f"resuming at step {start}/{config.steps} from {_shown(source)} "
                    f"({format_duration(before)} trained before)")
        if tracker is not None and source != final_path:  # the work folder's curves went with it
            for entry in history:
                tracker.log_metrics({f"{name}/{k}": v for k, v in entry.items() if k != "step"},
                                    step=int(entry["step"]))
    bar = _progress(config.steps, start, name, progress and report.lines == 0)
    last_save, save_cost = time.perf_counter(), 0.0

    def checkpoint(step: int) -> None:
        nonlocal last_save, save_cost
        if state_path is None or not main:
            return
        tic = time.perf_counter()
        save_checkpoint(state_path, step=step, modules=modules, optimizer=optimizer, device=device,
                        extra={"stage": name, "seconds_total": before + tic - t0, "fingerprint": fingerprint,
                               "history": summary.history})
        last_save = time.perf_counter()
        save_cost = last_save - tic
        if on_checkpoint is not None:
            on_checkpoint(step)

    def save_due() -> bool:  # at a log step: time-based saves (a slow save waits longer)
        if config.checkpoint_seconds is None or state_path is None:
            return False
        return time.perf_counter() - last_save >= max(config.checkpoint_seconds, save_cost / _SAVE_SHARE)

    def validate(step: int) -> None:
        if val_fn is None or config.val_samples == 0 or not main:
            return
        for m in modules.values():
            m.eval()
        with torch.no_grad():
            metrics = val_fn()
        summary.val = metrics
        summary.history.append({"step": float(step), **{f"val_{k}": v for k, v in metrics.items()}})
        if tracker is not None:
            tracker.log_metrics({f"{name}/val_{k}": v for k, v in metrics.items()}, step=step)

    try:
        step = start
        if start < config.steps:
            for batch in batches:
                for m in modules.values():
                    m.train()
                _set_frozen_eval(modules)
                lr = learning_rate(config, step)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_scale", 1.0)
                losses = None  # stays None on a rank whose share is empty (B < N): it only joins the reductions
                if batch is not None:
                    batch = to_device(batch, device)
                    gen = (step_generator(config.seed, step) if main
                           else step_generator(config.seed, step, f"rank{rank}"))
                    with autocast(device, precision):
                        losses = step_fn(batch, step, gen)
                optimizer.zero_grad(set_to_none=True)
                if losses is not None:
                    losses["loss"].backward()
                ddp.reduce_gradients(params, config.batch_size)
                if config.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                ddp.broadcast_modules(modules, buffers_only=True)
                step += 1
                summary.end_step = step
                if losses is not None:
                    averager.add({**losses, "lr": lr})
                bar.update(1)
                report.update(1)
                at_log = step % config.log_every == 0 or step == config.steps
                due = at_log and main and save_due()  # only rank 0 saves: no other rank needs to know
                at_checkpoint = (step % config.checkpoint_every == 0 or due) and step < config.steps
                if (at_checkpoint or at_log) and not averager.finite():
                    raise FloatingPointError(f"{name}: a loss was not finite in the {averager.count} steps "
                                             f"up to step {step} ({averager.pop()})")
                if at_log:  # before the checkpoint, which holds the curves up to its step
                    window = ddp.average_scalars(averager.pop(), config.batch_size)
                    summary.history.append({"step": float(step), **window})
                    bar.set_postfix(loss=f"{window['loss']:.4g}")
                    report.set_postfix(f"loss {window['loss']:.4g}")
                    if tracker is not None:
                        tracker.log_metrics({f"{name}/{k}": v for k, v in window.items()}, step=step)
                if config.val_every and step % config.val_every == 0 and step < config.steps:
                    validate(step)  # before the checkpoint of the same step: a resumed run starts after both
                    ddp.barrier()
                if at_checkpoint:
                    checkpoint(step)
            checkpoint(step)
        validate(step)
        ddp.barrier()
    finally:
        bar.close()
        for m in modules.values():
            m.eval()
        torch.set_num_threads(old_threads)
    if main and state_path is not None and final_path is not None and state_path != final_path:
        _finish_state(state_path, final_path)
    summary.seconds = time.perf_counter() - t0
    summary.seconds_total = before + summary.seconds
    result = f"loss {history_losses(summary)[-1]:.4g}" if history_losses(summary) else ""
    if summary.val:
        result += ("; " if result else "") + "val " + ", ".join(f"{k} {v:.4g}" for k, v in summary.val.items())
    report.close(result or None)
    return summary


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (shorter log lines)."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    return str(path)


def _finish_state(state_path: Path, final_path: Path) -> None:
    """Move a finished run's state from the resume folder into its work folder, and remove the
    folders inside the resume folder that it leaves empty."""
    if state_path.exists():
        final_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(state_path, final_path)
    root = _resume_root()
    folder = state_path.parent
    while root is not None and folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or not there
            break
        folder = folder.parent


def _set_frozen_eval(modules: Mapping[str, nn.Module]) -> None:
    """Modules whose parameters are all frozen stay in eval mode (fixed BN statistics)."""
    for m in modules.values():
        params = list(m.parameters())
        if params and not any(p.requires_grad for p in params):
            m.eval()


def history_losses(summary: TrainSummary, key: str = "loss") -> list[float]:
    """The logged training ``key`` values of a summary, in step order."""
    return [h[key] for h in summary.history if key in h]


def env_threads(default: int = 1) -> int:
    """Torch threads for a command: ``POSEBOARD_THREADS`` or ``default``."""
    try:
        return max(1, int(os.environ.get("POSEBOARD_THREADS", default)))
    except ValueError:
        return default


def parameter_groups(groups: Sequence[tuple[Sequence[nn.Parameter], float]]) -> list[dict[str, Any]]:
    """Optimiser parameter groups with an ``lr_scale`` each (lr = schedule × scale)."""
    return [{"params": [p for p in params if p.requires_grad], "lr_scale": scale}
            for params, scale in groups if any(p.requires_grad for p in params)]


class JsonlTracker:
    """A tracker that appends every call to a JSON-lines file (curves kept beside the
    checkpoints, whatever else tracks the run); wraps another tracker if given.
    ``logged_params``: every ``log_params`` call's mapping merged (part of
    :func:`train_loop`'s fingerprint of the run)."""

    def __init__(self, path: str | Path, inner: Any = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.inner = inner
        self.logged_params: dict[str, Any] = {}

    def _write(self, record: dict[str, Any]) -> None:
        import json

        from poseboard.methods.train.distributed import is_main_process

        if not is_main_process():  # under torchrun only rank 0 keeps the curves
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    def log_params(self, params: dict[str, Any]) -> None:
        self.logged_params |= params
        self._write({"params": params})
        if self.inner is not None:
            self.inner.log_params(params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._write({"step": step, "time": time.time(), **metrics})
        if self.inner is not None:
            self.inner.log_metrics(metrics, step=step)

    def log_artifact(self, path: str | Path) -> None:
        if self.inner is not None:
            self.inner.log_artifact(path)
