"""Run a method under a protocol, and train a method from the command line's folders.

:func:`evaluate_method` is the core: it checks the method's capabilities against the
protocol (``ProtocolDef.check_method``), builds the test set with the protocol's cameras —
or, for a camera sweep, ``subsets_per_size`` seeded random subsets of each size the method
supports — predicts in batches (timing only the ``predict`` calls), writes the predictions
``.npz`` and scores them into a result JSON (``<results>/<method>/<protocol>@<v>.json``)
that embeds the capabilities, config, seeds, checkpoint and speed.

What a method receives: the images, intrinsics (``K``, ``dist``) and crop boxes; the
extrinsics (``proj_matrices``, ``R``, ``t``) only when the protocol provides them *and*
the method needs them; never the ground truth (``joints_3d``, ``joints_2d``,
``visibility``) nor the ``Camera`` objects (which carry extrinsics).

Where it runs (:mod:`poseboard.device`): the method is moved to the run's device once; each
batch's tensors are moved there once (after the protocol has chosen and perturbed the inputs
on the host, so what a method sees does not depend on the device); the clock around
``predict`` starts and stops on a synchronised device; predictions come back to the host once
per batch. On the CPU in fp32 every step is a no-op, and results are bit for bit those of a run
without a device.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poseboard.datasets.sources import RealDataLike
from poseboard.errors import InputError
from poseboard.methods.base import Method
from poseboard.progress import ProgressReporter
from poseboard.protocols.protocol import CalibrationNoise, ProtocolDef
from poseboard.protocols.results import Result

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


def camera_subsets(protocol: ProtocolDef, num_cameras: int, sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """The camera subsets a protocol evaluates: its fixed cameras, or for a sweep
    ``subsets_per_size`` distinct random subsets per size (fewer when fewer exist), drawn
    from ``np.random.default_rng([seed, size])`` — the same for every method."""
    if protocol.camera_sweep is None:
        cams = tuple(protocol.cameras) if protocol.cameras is not None else tuple(range(num_cameras))
        bad = [c for c in cams if not 0 <= c < num_cameras]
        if bad:
            raise InputError(f"protocol {protocol.id}: cameras {bad} not in the split's 0..{num_cameras - 1}")
        return [cams]
    sweep = protocol.camera_sweep
    subsets: list[tuple[int, ...]] = []
    for size in sizes:
        if size > num_cameras:
            raise InputError(
                f"protocol {protocol.id}: sweep size {size} exceeds the split's {num_cameras} cameras"
            )
        rng = np.random.default_rng([sweep.seed, size])
        n_possible = _n_choose_k(num_cameras, size)
        chosen: list[tuple[int, ...]] = []
        while len(chosen) < min(sweep.subsets_per_size, n_possible):
            pick = tuple(sorted(int(c) for c in rng.choice(num_cameras, size=size, replace=False)))
            if pick not in chosen:
                chosen.append(pick)
        subsets += chosen
    return subsets


def _n_choose_k(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def predict_dataset(method: Method, dataset: Any, indices: Sequence[int], protocol: ProtocolDef,
                    batch_size: int = 8, progress: bool = False, desc: str = "predict",
                    noise: CalibrationNoise | None = None,
                    report: ProgressReporter | None = None) -> tuple[np.ndarray, float]:
    """Joints (N, J, 3) of ``method.predict`` on ``dataset[indices]`` and the seconds spent
    inside ``predict`` (data loading excluded); ``noise``: see :func:`method_inputs`;
    ``report`` counts the frames done (a few lines per stage, :mod:`poseboard.progress`).

    Runs where the method is (``method.device``, in ``method.precision``): each batch's tensors
    are moved there once, the device is synchronised before the clock starts and before it
    stops (CUDA runs asynchronously: an unsynchronised clock times the kernel launches), and
    the joints come back to the host once per batch, as float64."""
    from tqdm.auto import tqdm

    from poseboard.datasets.torch_dataset import collate_multiview, present_views_first
    from poseboard.device import autocast, synchronize, to_device

    device, precision = method.device, method.precision
    out, seconds = [], 0.0
    starts = range(0, len(indices), batch_size)
    for start in tqdm(starts, desc=desc, disable=not progress, leave=False, mininterval=1.0):
        batch = present_views_first(collate_multiview([dataset[int(i)] for i in indices[start : start + batch_size]]))
        inputs = to_device(method_inputs(batch, method, protocol, noise), device)
        synchronize(device)
        t0 = time.perf_counter()
        with autocast(device, precision):
            pred = method.predict(inputs)
        synchronize(device)
        seconds += time.perf_counter() - t0
        joints = torch.as_tensor(pred.joints_3d).detach().cpu().to(torch.float64).numpy()
        if pred.frame not in protocol.accepted_output_frames:
            raise InputError(f"method {method.name} predicts in {pred.frame!r}; {protocol.id} accepts "
                             f"{list(protocol.accepted_output_frames)}")
        out.append(joints)
        if report is not None:
            report.update(len(joints))
    return (np.concatenate(out) if out else np.zeros((0, 17, 3))), seconds


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


def _worker_start(method: Method, threads: int) -> None:
    """A predict worker's set-up: the threads of the parent and the method, unpickled once."""
    global _WORKER_METHOD
    torch.set_num_threads(threads)
    _WORKER_METHOD = method


def _worker_predict(dataset: Any, indices: Sequence[int], protocol: ProtocolDef, batch_size: int,
                    noise: CalibrationNoise | None, seed: int) -> tuple[np.ndarray, float]:
    assert _WORKER_METHOD is not None, "predict worker used before its set-up"
    torch.manual_seed(seed)
    return predict_dataset(_WORKER_METHOD, dataset, indices, protocol, batch_size, noise=noise)


class ParallelPredictor:
    """One predict pass over ``workers`` processes of the parent's torch threads each (spawned:
    no fork of a threaded runtime), each given the method once; the pass's frames are cut into
    batch-aligned chunks (:func:`batch_aligned_chunks`) and the joints concatenated in order, so
    the predictions are the bytes of the serial pass (tested) on a machine with more cores.
    Used as a context manager; ``workers == 1`` runs in this process."""

    def __init__(self, method: Method, workers: int, seed: int) -> None:
        self.method, self.workers, self.seed = method, workers, seed
        self.pool = None

    def __enter__(self) -> ParallelPredictor:
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_start,
                                            initargs=(self.method, torch.get_num_threads()))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def predict(self, dataset: Any, indices: Sequence[int], protocol: ProtocolDef, batch_size: int,
                progress: bool, desc: str, noise: CalibrationNoise | None,
                report: ProgressReporter | None) -> tuple[np.ndarray, float]:
        if self.pool is None:
            return predict_dataset(self.method, dataset, indices, protocol, batch_size, progress, desc=desc,
                                   noise=noise, report=report)
        chunks = batch_aligned_chunks(indices, batch_size, self.workers)
        futures = [self.pool.submit(_worker_predict, dataset, chunk, protocol, batch_size, noise, self.seed)
                   for chunk in chunks]
        joints, seconds = [], 0.0
        for chunk, future in zip(chunks, futures, strict=True):
            part, secs = future.result()
            joints.append(part)
            seconds += secs
            if report is not None:
                report.update(len(chunk))
        return np.concatenate(joints), seconds


def place_method(method: Method, device: torch.device | str | None, precision: str | None) -> Method:
    """``method`` moved to ``device`` in ``precision`` (None: where it is / its precision).
    The one place the harness moves a method: a move to where it already is copies nothing."""
    if device is None and precision is None:
        return method
    return method.to(method.device if device is None else device, precision)


def _method_config(method: Method) -> dict[str, Any]:
    return method.config.model_dump(mode="json")


def evaluate_method(
    method: Method,
    protocol: ProtocolDef | str,
    *,
    data_dir: str | Path = "data",
    results_dir: str | Path = "results",
    batch_size: int = 8,
    seed: int = 0,
    checkpoint: str | None = None,
    progress: bool = False,
    split_path: str | Path | None = None,
    real_data: RealDataLike = None,
    device: torch.device | str | None = None,
    precision: str | None = None,
) -> tuple[Result, Path]:
    """Predict with ``method`` on the protocol's frames and cameras, score, and write the
    predictions (``.npz``) and the result (``.json``) under ``results_dir/<method>/``.

    Args:
        method: a ready (trained or loaded) method.
        protocol: a protocol or its key (``name`` or ``name@version``).
        data_dir: holds ``<dataset>/<split>/``; ``split_path`` overrides the split folder
            (for a real dataset: its root folder).
        batch_size: samples per ``predict`` call.
        seed: seeds torch before predicting (for methods with random inference choices).
        checkpoint: recorded in the result (where the method's weights came from).
        real_data: where the real datasets are (:func:`poseboard.datasets.sources.locate`):
            a ``RealDataConfig``, a ``params.yaml`` path, or None (environment variables).
        device: where to predict (None: where the method is); the method is moved there once.
        precision: ``fp32`` or ``bf16`` (None: the method's). Both are recorded in the
            result's speed block (:func:`poseboard.device.describe_device`), which on the CPU
            in fp32 reads as it always has, ``cpu (N torch threads)``.
    """
    from poseboard.datasets.sources import locate_protocol
    from poseboard.device import describe_device
    from poseboard.protocols.evaluate import build_result, score_pose, select_frames
    from poseboard.protocols.predictions import PosePredictions, save_pose_predictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, result_path, write_result

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if protocol.task != "multiview_pose":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol; these methods predict poses")
    sizes = protocol.check_method(method.name, method.capabilities)
    method = place_method(method, device, precision)
    data = locate_protocol(protocol, real_data, data_dir=data_dir, path=split_path)
    gt = data.ground_truth(protocol)
    indices = np.flatnonzero(select_frames(protocol, gt.meta))
    rows = data.rows(gt, indices)
    subsets = camera_subsets(protocol, data.num_cameras, sizes)
    cal = protocol.calibration_sweep
    levels = [lv.noise(cal.seed) for lv in cal.levels] if cal is not None else [None]
    torch.manual_seed(seed)
    ids_all, joints_all, views_all, levels_all = [], [], [], []
    seconds, frames = 0.0, 0
    passes = len(levels) * len(subsets)
    workers = predict_workers(-(-len(rows) // batch_size), method.device)
    report = ProgressReporter(passes * len(indices), f"predict {method.name} {protocol.id}",
                              lines=0 if progress and sys.stderr.isatty() else 5, unit="frame")
    report.note(f"{len(indices)} frames" + (f" × {passes} passes (camera subsets, calibration levels)"
                                            if passes > 1 else "") + f", batch {batch_size}"
                + (f", {workers} processes of {torch.get_num_threads()} threads" if workers > 1 else ""))
    with ParallelPredictor(method, workers, seed) as predictor:
        for level, noise in enumerate(levels):
            for subset in subsets:
                dataset = data.with_cameras(subset)
                desc = f"{method.name} {protocol.name} {len(subset)} views"
                if noise is not None:
                    desc += f" {noise.rotation_deg:g}°/{noise.translation_mm:g} mm"
                joints, secs = predictor.predict(dataset, rows, protocol, batch_size, progress, desc, noise,
                                                 report)
                ids_all.append(gt.meta["sample_id"].to_numpy()[indices].astype(str))
                joints_all.append(joints)
                views_all.append(np.full(len(indices), len(subset), dtype=np.int64))
                levels_all.append(np.full(len(indices), level, dtype=np.int64))
                seconds += secs
                frames += len(indices)
    report.close(f"{1000 * seconds / max(frames, 1):.1f} ms per frame inside predict")
    preds = PosePredictions(
        sample_ids=np.concatenate(ids_all), joints_3d=np.concatenate(joints_all),
        frame=method.capabilities.output_frame,
        num_views=np.concatenate(views_all) if protocol.camera_sweep is not None else None,
        calibration_level=np.concatenate(levels_all) if cal is not None else None,
    )
    out_json = result_path(results_dir, method.name, protocol.id)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    save_pose_predictions(out_json.with_suffix(".npz"), preds)
    metrics = score_pose(protocol, gt, preds, where=f"{method.name} predictions")
    config = _method_config(method)
    seeds = {"inference": int(seed), "bootstrap": protocol.bootstrap_seed}
    train_seed = config.get("train", {}).get("seed") if isinstance(config.get("train"), dict) else None
    if train_seed is not None:
        seeds["train"] = int(train_seed)
    if protocol.camera_sweep is not None:
        seeds["camera_sweep"] = protocol.camera_sweep.seed
    notes = [f"camera subsets: {[list(s) for s in subsets]}"] if protocol.camera_sweep is not None else []
    if protocol.calibration_noise is not None:
        n = protocol.calibration_noise
        notes.append(f"extrinsics handed to the method perturbed: {n.rotation_deg:g}° rotation and "
                     f"{n.translation_mm:g} mm centre error per camera (seed {n.seed})"
                     + ("" if method.capabilities.needs_extrinsics else "; this method takes no extrinsics"))
    if cal is not None:
        seeds["calibration_sweep"] = cal.seed
        notes.append("extrinsics handed to the method perturbed, per level: "
                     + ", ".join(f"{lv.rotation_deg:g}° / {lv.translation_mm:g} mm" for lv in cal.levels)
                     + f" per camera (seed {cal.seed})"
                     + ("" if method.capabilities.needs_extrinsics else "; this method takes no extrinsics"))
    speed = SpeedInfo(
        samples_per_s=frames / seconds if seconds > 0 else None,
        ms_per_sample=1000 * seconds / frames if frames else None,
        batch_size=batch_size,
        device=describe_device(method.device, method.precision),
    )
    result = build_result(
        protocol=protocol,
        method=MethodInfo(name=method.name, registered=getattr(method, "registered_as", None), config=config,
                          capabilities=method.capabilities, checkpoint=checkpoint),
        dataset=DatasetInfo.of(protocol.dataset, protocol.split, gt),
        metrics=metrics, sample_ids=preds.sample_ids, seeds=seeds, speed=speed, notes=notes,
    )
    return result, write_result(result, out_json)
