"""Predicting with a method over a protocol's frames: one pass, or several passes over the
same frames (camera subsets, calibration levels) that share the per-view work, in one process
or in several.

What a method receives (:func:`method_inputs`): the images, intrinsics (``K``, ``dist``) and
crop boxes; the extrinsics (``proj_matrices``, ``R``, ``t``) only when the protocol provides
them *and* the method needs them; never the ground truth (``joints_3d``, ``joints_2d``,
``visibility``) nor the ``Camera`` objects (which carry extrinsics).

Several passes over the same frames (:func:`predict_passes`): a camera sweep predicts every
frame under up to 24 camera subsets, a calibration sweep under 4 levels of extrinsics error.
A method whose per-view work depends on each view's image alone (the backbone:
:meth:`~poseboard.methods.base.Method.view_features`) does it once per frame and camera; each
pass then takes its cameras' share. The predictions are those of separate passes (tested per
method); only the time changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from poseboard.allocator import keep_freed_memory, policy_in_force
from poseboard.errors import InputError
from poseboard.methods.base import Method
from poseboard.progress import ProgressReporter
from poseboard.protocols.protocol import CalibrationNoise, ProtocolDef

#: Keys of a collated batch that never reach ``predict``.
GROUND_TRUTH_KEYS = ("joints_3d", "joints_2d", "visibility", "cameras")
EXTRINSIC_KEYS = ("proj_matrices", "R", "t")


def method_inputs(batch: dict[str, Any], method: Method, protocol: ProtocolDef,
                  noise: CalibrationNoise | None = None) -> dict[str, Any]:
    """The part of a collated batch the method may see under the protocol, its extrinsics
    perturbed by the protocol's ``calibration_noise`` or, in a calibration sweep, by ``noise``
    (the level being evaluated; None or a zero error: exact)."""
    caps = method.capabilities
    out = {k: v for k, v in batch.items() if k not in GROUND_TRUTH_KEYS}
    if not (protocol.provides_extrinsics and caps.needs_extrinsics):
        for key in EXTRINSIC_KEYS:
            out.pop(key, None)
    noise = noise if noise is not None else protocol.calibration_noise
    if noise is not None and (noise.rotation_deg > 0 or noise.translation_mm > 0):
        from poseboard.protocols.perturb import perturb_extrinsics  # robustness: miscalibrated extrinsics

        out = perturb_extrinsics(out, noise)
    if not caps.needs_intrinsics:
        out.pop("K", None)
        out.pop("dist", None)
    return out


@dataclass(frozen=True)
class Detections2D:
    """A method's 2D detections measured against the split's ground truth during a pass:
    the distances (crop px) of the detections on the joints visible in a valid view and
    inside the crop (:func:`poseboard.protocols.failures.visible_in_crop`), and the crop side."""

    distances_px: np.ndarray  # (K,) float64
    crop_px: int

    @staticmethod
    def join(parts: Sequence[Detections2D | None]) -> Detections2D | None:
        """The parts' distances in order; None if any part has none (a method without 2D)."""
        if not parts or any(p is None for p in parts):
            return None
        return Detections2D(np.concatenate([p.distances_px for p in parts]), parts[0].crop_px)  # type: ignore[union-attr]


def _batch_detections(batch: dict[str, Any], joints_2d: Any) -> np.ndarray | None:
    """Distances (K,) of a method's ``joints_2d`` extra (B, V, J, 2) crop px, in the batch's
    view order, to the batch's ground-truth 2D on the joints that count; None when the method
    wrote no 2D joints of that shape."""
    from poseboard.protocols.failures import detection_distances, visible_in_crop

    gt = batch.get("joints_2d")
    if joints_2d is None or gt is None:
        return None
    pred = torch.as_tensor(joints_2d).detach().cpu().to(torch.float64).numpy()
    gt_np = torch.as_tensor(gt).detach().cpu().to(torch.float64).numpy()
    if pred.shape != gt_np.shape:
        return None
    size = int(batch["images"].shape[-1])
    visible = visible_in_crop(gt_np, torch.as_tensor(batch["visibility"]).cpu().numpy(),
                              torch.as_tensor(batch["view_valid"]).cpu().numpy(), size)
    return detection_distances(pred, gt_np, visible)


def predict_dataset(method: Method, dataset: Any, indices: Sequence[int], protocol: ProtocolDef,
                    batch_size: int = 8, progress: bool = False, desc: str = "predict",
                    noise: CalibrationNoise | None = None,
                    report: ProgressReporter | None = None) -> tuple[np.ndarray, float, Detections2D | None]:
    """Joints (N, J, 3) of ``method.predict`` on ``dataset[indices]``, the seconds spent
    inside ``predict`` (data loading excluded), and the method's 2D detections against the
    ground truth (:class:`Detections2D`; None when its predictions carry no ``joints_2d``
    extra); ``noise``: see :func:`method_inputs`; ``report`` counts the frames done (a few
    lines per stage, :mod:`poseboard.progress`). The ground truth never reaches the method:
    the detections are compared after ``predict`` returns.

    Runs where the method is (``method.device``, in ``method.precision``): each batch's tensors
    are moved there once, the device is synchronised before the clock starts and before it
    stops (CUDA runs asynchronously: an unsynchronised clock times the kernel launches), and
    the joints come back to the host once per batch, as float64."""
    from tqdm.auto import tqdm

    from poseboard.datasets.torch_dataset import collate_multiview, present_views_first
    from poseboard.device import to_device

    out, seconds, distances = [], 0.0, []
    crop = 0
    starts = range(0, len(indices), batch_size)
    for start in tqdm(starts, desc=desc, disable=not progress, leave=False, mininterval=1.0):
        batch = present_views_first(collate_multiview([dataset[int(i)] for i in indices[start : start + batch_size]]))
        joints, secs, joints_2d = _predict_batch(
            method, to_device(method_inputs(batch, method, protocol, noise), method.device), protocol)
        seconds += secs
        out.append(joints)
        distances.append(_batch_detections(batch, joints_2d))
        crop = int(batch["images"].shape[-1])
        if report is not None:
            report.update(len(joints))
    detections = (None if not distances or any(d is None for d in distances)
                  else Detections2D(np.concatenate(distances), crop))  # type: ignore[arg-type]
    return (np.concatenate(out) if out else np.zeros((0, 17, 3))), seconds, detections


PREDICT_WORKERS_ENV = "POSEBOARD_PREDICT_WORKERS"


def predict_workers(num_batches: int, device: torch.device | str) -> int:
    """Processes that share one predict pass: ``POSEBOARD_PREDICT_WORKERS`` if set, else the
    CPU's cores over the torch threads of each (``cores // threads``), at most the pass's
    batches; always 1 off the CPU (one accelerator, one process)."""
    import os

    if torch.device(device).type != "cpu":
        return 1
    value = os.environ.get(PREDICT_WORKERS_ENV)
    if value is not None:
        try:
            wanted = int(value)
        except ValueError:
            raise InputError(f"{PREDICT_WORKERS_ENV}={value!r}: give a whole number of processes") from None
    else:
        wanted = (os.cpu_count() or 1) // max(1, torch.get_num_threads())
    return max(1, min(wanted, num_batches))


def batch_aligned_chunks(indices: Sequence[int], batch_size: int, parts: int) -> list[Sequence[int]]:
    """``indices`` cut into at most ``parts`` contiguous chunks, each a whole number of batches
    (the last may end in a short batch): every batch is the one the serial pass would form, so
    its predictions are the same bytes whichever process computes it."""
    batches = max(1, -(-len(indices) // batch_size))
    per = -(-batches // max(1, parts))
    return [indices[k * per * batch_size:(k + 1) * per * batch_size] for k in range(-(-batches // per))]


_WORKER_METHOD: Method | None = None


def _worker_start(method: Method | None, threads: int, keep_memory: bool = False) -> None:
    """A predict worker's set-up: the parent's allocator policy (:mod:`poseboard.allocator`; a
    spawned process starts with glibc's default, under which the two workers of a volumetric
    ``predict`` spent 45 of its 57 s faulting freed pages back in), the threads of the parent
    and the method, unpickled once (None: a reused worker, whose every task brings its method)."""
    global _WORKER_METHOD
    if keep_memory:
        keep_freed_memory()
    torch.set_num_threads(threads)
    _WORKER_METHOD = method


def _worker_run(predict_fn: Callable[..., Any], dataset: Any, indices: Sequence[int], seed: int,
                kwargs: dict[str, Any], method: Method | None = None) -> Any:
    """In a predict worker: ``predict_fn(method, dataset, indices, **kwargs)`` (:func:`predict_dataset`
    or :func:`predict_passes`) with the task's method, else the worker's, torch seeded as the
    serial run is."""
    method = method if method is not None else _WORKER_METHOD
    assert method is not None, "predict worker used before its set-up"
    torch.manual_seed(seed)
    return predict_fn(method, dataset, indices, **kwargs)


#: The pools of :func:`reused_workers`, by (processes, threads); None outside it.
_REUSED_POOLS: dict[tuple[int, int], Any] | None = None


@contextmanager
def reused_workers() -> Iterator[None]:
    """Within it, every :class:`ParallelPredictor` of this process predicts in one pool of
    spawned workers per (processes, threads), started on first use and shut down at the end,
    each task carrying its method, instead of spawning a pool for each pass: a command that
    predicts many methods in turn (``poseboard studio``) pays the workers' start (a Python with
    torch and poseboard imported, ~3 s each on two cores) once. The predictions are the same
    bytes (every task seeds torch as the serial pass does; tested)."""
    global _REUSED_POOLS
    outer = _REUSED_POOLS
    if outer is not None:  # nested: the outer context owns the pools
        yield
        return
    _REUSED_POOLS = {}
    try:
        yield
    finally:
        pools, _REUSED_POOLS = _REUSED_POOLS, None
        for pool in pools.values():
            pool.shutdown(cancel_futures=True)


def _spawn_pool(workers: int, method: Method | None, threads: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                               initargs=(method, threads, policy_in_force()))


class ParallelPredictor:
    """One predict pass over ``workers`` processes of the parent's torch threads each (spawned:
    no fork of a threaded runtime), each given the method once; the pass's frames are cut into
    batch-aligned chunks (:func:`batch_aligned_chunks`) and the joints concatenated in order, so
    the predictions are the bytes of the serial pass (tested) on a machine with more cores.
    Used as a context manager; ``workers == 1`` runs in this process. Inside
    :func:`reused_workers` the pool is the context's, and each task carries the method."""

    def __init__(self, method: Method, workers: int, seed: int) -> None:
        self.method, self.workers, self.seed = method, workers, seed
        self.pool = None
        self.reused = False

    def __enter__(self) -> ParallelPredictor:
        if self.workers > 1:
            threads = torch.get_num_threads()
            if _REUSED_POOLS is not None:
                key = (self.workers, threads)
                if key not in _REUSED_POOLS:
                    _REUSED_POOLS[key] = _spawn_pool(self.workers, None, threads)
                self.pool, self.reused = _REUSED_POOLS[key], True
            else:
                self.pool = _spawn_pool(self.workers, self.method, threads)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None and not self.reused:
            self.pool.shutdown(cancel_futures=True)

    def _in_chunks(self, predict_fn: Callable[..., Any], dataset: Any, indices: Sequence[int], batch_size: int,
                   report: ProgressReporter | None, passes_per_frame: int, **kwargs: Any) -> list[Any]:
        """``predict_fn``'s results on the batch-aligned chunks of ``indices``, one per worker,
        in order; ``report`` counts each chunk's frames times ``passes_per_frame``."""
        assert self.pool is not None
        chunks = batch_aligned_chunks(indices, batch_size, self.workers)
        method = self.method if self.reused else None
        futures = [self.pool.submit(_worker_run, predict_fn, dataset, chunk, self.seed,
                                    {"batch_size": batch_size, **kwargs}, method) for chunk in chunks]
        parts = []
        for chunk, future in zip(chunks, futures, strict=True):
            parts.append(future.result())
            if report is not None:
                report.update(len(chunk) * passes_per_frame)
        return parts

    def predict(self, dataset: Any, indices: Sequence[int], protocol: ProtocolDef, batch_size: int,
                progress: bool, desc: str, noise: CalibrationNoise | None,
                report: ProgressReporter | None) -> tuple[np.ndarray, float, Detections2D | None]:
        """:func:`predict_dataset`, the frames cut into batch-aligned chunks over the workers."""
        if self.pool is None:
            return predict_dataset(self.method, dataset, indices, protocol, batch_size, progress, desc=desc,
                                   noise=noise, report=report)
        parts = self._in_chunks(predict_dataset, dataset, indices, batch_size, report, 1, protocol=protocol,
                                noise=noise)
        return (np.concatenate([joints for joints, _, _ in parts]), sum(secs for _, secs, _ in parts),
                Detections2D.join([d for _, _, d in parts]))

    def predict_passes(self, dataset: Any, indices: Sequence[int], protocol: ProtocolDef, batch_size: int,
                       passes: Sequence[tuple[Sequence[int], CalibrationNoise | None]],
                       report: ProgressReporter | None) -> tuple[list[np.ndarray], float]:
        """:func:`predict_passes`, the frames cut into batch-aligned chunks over the workers."""
        if self.pool is None:
            return predict_passes(self.method, dataset, indices, protocol, passes, batch_size, report)
        parts = self._in_chunks(predict_passes, dataset, indices, batch_size, report, len(passes),
                                protocol=protocol, passes=passes)
        return ([np.concatenate([joints[k] for joints, _ in parts]) for k in range(len(passes))],
                sum(secs for _, secs in parts))


def shares_view_features(method: Method) -> bool:
    """Whether ``method`` has per-view work to share between passes (it overrides
    :meth:`~poseboard.methods.base.Method.view_features`)."""
    return type(method).view_features is not Method.view_features


def predict_passes(method: Method, dataset: Any, indices: Sequence[int], protocol: ProtocolDef,
                   passes: Sequence[tuple[Sequence[int], CalibrationNoise | None]], batch_size: int = 8,
                   report: ProgressReporter | None = None) -> tuple[list[np.ndarray], float]:
    """Joints (N, J, 3) of every pass over ``dataset[indices]``, and the seconds spent in the
    method (its ``view_features`` and ``predict`` calls; data loading excluded).

    ``dataset`` holds every camera any pass uses; a pass is ``(positions, noise)``: the
    positions of its cameras in the dataset's view axis, in the protocol's order, and its
    extrinsics error (:func:`method_inputs`). Per batch of frames, the method's view features
    are computed once on all the cameras, then each pass predicts from its cameras' share
    (:func:`~poseboard.datasets.torch_dataset.select_views`, then the present views first, as
    :func:`predict_dataset` cuts its batches): the same inputs and the same per-view results
    as a separate pass over ``dataset.with_cameras(...)`` of that pass's cameras."""
    from poseboard.datasets.torch_dataset import VIEW_FEATURES_KEY, collate_multiview, present_views_first, select_views
    from poseboard.device import autocast, synchronize, to_device

    device, precision = method.device, method.precision
    out: list[list[np.ndarray]] = [[] for _ in passes]
    seconds = 0.0
    for start in range(0, len(indices), batch_size):
        batch = collate_multiview([dataset[int(i)] for i in indices[start : start + batch_size]])
        inputs = to_device(method_inputs(batch, method, protocol), device)
        synchronize(device)
        t0 = time.perf_counter()
        with autocast(device, precision):
            batch[VIEW_FEATURES_KEY] = method.view_features(inputs)
        synchronize(device)
        seconds += time.perf_counter() - t0
        for k, (positions, noise) in enumerate(passes):
            one = present_views_first(select_views(batch, positions))
            joints, secs, _ = _predict_batch(method, to_device(method_inputs(one, method, protocol, noise), device),
                                             protocol)
            seconds += secs
            out[k].append(joints)
            if report is not None:
                report.update(len(joints))
    return [np.concatenate(o) if o else np.zeros((0, 17, 3)) for o in out], seconds


def _predict_batch(method: Method, inputs: dict[str, Any], protocol: ProtocolDef) -> tuple[np.ndarray, float, Any]:
    """``method.predict`` on one batch already on its device: float64 host joints (B, J, 3),
    the seconds inside ``predict``, the device synchronised before the clock starts and
    before it stops (CUDA runs asynchronously: an unsynchronised clock times the launches),
    and the prediction's ``joints_2d`` extra (None if it has none)."""
    from poseboard.device import autocast, synchronize

    device = method.device
    synchronize(device)
    t0 = time.perf_counter()
    with autocast(device, method.precision):
        pred = method.predict(inputs)
    synchronize(device)
    seconds = time.perf_counter() - t0
    if pred.frame not in protocol.accepted_output_frames:
        raise InputError(f"method {method.name} predicts in {pred.frame!r}; {protocol.id} accepts "
                         f"{list(protocol.accepted_output_frames)}")
    extras = getattr(pred, "extras", None) or {}
    return (torch.as_tensor(pred.joints_3d).detach().cpu().to(torch.float64).numpy(), seconds,
            extras.get("joints_2d"))
