"""Run a method under a protocol, and train a method from the command line's folders.

:func:`evaluate_method` is the core: it checks the method's capabilities against the
protocol (``ProtocolDef.check_method``), builds the test set with the protocol's cameras —
or, for a camera sweep, ``subsets_per_size`` seeded random subsets of each size the method
supports — predicts in batches (:mod:`poseboard.harness.predict`; timing only the method's
calls; several passes over the same frames share the per-view work), writes the predictions
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poseboard.datasets.sources import RealDataLike
from poseboard.errors import InputError
from poseboard.harness.predict import (  # noqa: F401 - method_inputs re-exported
    ParallelPredictor,
    method_inputs,
    predict_workers,
    shares_view_features,
)
from poseboard.methods.base import Method
from poseboard.progress import ProgressReporter
from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.results import Result


def camera_subsets(protocol: ProtocolDef, num_cameras: int, sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """The camera subsets a protocol evaluates: its fixed cameras, or for a sweep
    ``subsets_per_size`` distinct random subsets per size (fewer when fewer exist), drawn
    from ``np.random.default_rng([seed, size])`` — the same for every method.

    A sweep scored in the reference camera's frame (``evaluation_frame: reference_camera``, the
    uncalibrated protocols) draws only subsets that hold camera 0, listed first: a method given
    no extrinsics predicts in its subset's first camera's frame, and the ground truth of such a
    protocol is in camera 0's (:func:`poseboard.datasets.ground_truth.load_synthetic_ground_truth`),
    so any other subset would be scored in the wrong frame. Its subsets of a size are then the
    size − 1 other cameras drawn from 1..n − 1."""
    if protocol.camera_sweep is None:
        cams = tuple(protocol.cameras) if protocol.cameras is not None else tuple(range(num_cameras))
        bad = [c for c in cams if not 0 <= c < num_cameras]
        if bad:
            raise InputError(f"protocol {protocol.id}: cameras {bad} not in the split's 0..{num_cameras - 1}")
        return [cams]
    sweep = protocol.camera_sweep
    keep_reference = protocol.evaluation_frame == "reference_camera"
    subsets: list[tuple[int, ...]] = []
    for size in sizes:
        if size > num_cameras:
            raise InputError(
                f"protocol {protocol.id}: sweep size {size} exceeds the split's {num_cameras} cameras"
            )
        rng = np.random.default_rng([sweep.seed, size])
        first, pool, draw = ((0,), num_cameras - 1, size - 1) if keep_reference else ((), num_cameras, size)
        n_possible = _n_choose_k(pool, draw)
        chosen: list[tuple[int, ...]] = []
        while len(chosen) < min(sweep.subsets_per_size, n_possible):
            others = sorted(int(c) + len(first) for c in rng.choice(pool, size=draw, replace=False))
            pick = first + tuple(others)
            if pick not in chosen:
                chosen.append(pick)
        subsets += chosen
    return subsets


def _n_choose_k(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


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
    passes = [(level, noise, subset) for level, noise in enumerate(levels) for subset in subsets]
    # a method handed no extrinsics sees the same inputs at every calibration level: predict once
    same_levels = cal is not None and not (protocol.provides_extrinsics and method.capabilities.needs_extrinsics)
    computed = [(noise, subset) for level, noise, subset in passes if not (same_levels and level > 0)]
    share = len(computed) > 1 and shares_view_features(method)
    workers = predict_workers(-(-len(rows) // batch_size), method.device)
    report = ProgressReporter(len(computed) * len(indices), f"predict {method.name} {protocol.id}",
                              lines=0 if progress and sys.stderr.isatty() else 5, unit="frame")
    report.note(f"{len(indices)} frames" + (f" × {len(computed)} passes (camera subsets, calibration levels)"
                                            if len(computed) > 1 else "") + f", batch {batch_size}"
                + (", per-view features shared by the passes" if share else "")
                + (f", {workers} processes of {torch.get_num_threads()} threads" if workers > 1 else ""))
    detections = None  # the method's 2D detections against the ground truth, one pass only
    with ParallelPredictor(method, workers, seed) as predictor:
        if share:  # every camera any pass uses, loaded once; each pass takes its cameras' positions
            cams = sorted({c for _, subset in computed for c in subset})
            joints_computed, seconds = predictor.predict_passes(
                data.with_cameras(cams), rows, protocol, batch_size,
                [([cams.index(c) for c in subset], noise) for noise, subset in computed], report)
        else:
            joints_computed, seconds = [], 0.0
            for noise, subset in computed:
                desc = f"{method.name} {protocol.name} {len(subset)} views"
                if noise is not None:
                    desc += f" {noise.rotation_deg:g}°/{noise.translation_mm:g} mm"
                joints, secs, detections = predictor.predict(data.with_cameras(subset), rows, protocol, batch_size,
                                                             progress, desc, noise, report)
                joints_computed.append(joints)
                seconds += secs
    frames = len(computed) * len(indices)
    ids = gt.meta["sample_id"].to_numpy()[indices].astype(str)
    ids_all, joints_all, views_all, levels_all = [], [], [], []
    for k, (level, _, subset) in enumerate(passes):
        ids_all.append(ids)
        joints_all.append(joints_computed[k % len(computed)])  # with same_levels, level 0's again
        views_all.append(np.full(len(indices), len(subset), dtype=np.int64))
        levels_all.append(np.full(len(indices), level, dtype=np.int64))
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
    if detections is not None and len(passes) == 1:  # no sweep: the one pass's 2D is the main block's
        from poseboard.protocols.failures import summarize_detections

        metrics.main.extra.update(summarize_detections(detections.distances_px, detections.crop_px))
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
    if share:
        notes.append(f"per-view features (the backbone) computed once per frame and camera and shared by the "
                     f"{len(computed)} passes; the predictions are those of separate passes")
    if cal is not None:
        seeds["calibration_sweep"] = cal.seed
        notes.append("extrinsics handed to the method perturbed, per level: "
                     + ", ".join(f"{lv.rotation_deg:g}° / {lv.translation_mm:g} mm" for lv in cal.levels)
                     + f" per camera (seed {cal.seed})"
                     + ("" if method.capabilities.needs_extrinsics else "; this method takes no extrinsics")
                     + ("; the levels hand it the same inputs, so it predicted once and that prediction is "
                        "every level's" if same_levels else ""))
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
