"""The root-localisation task: any method whose outputs include ``root``, under a
``root_localisation`` protocol, from the protocol's images to a scored result file.

The harness picks the images the protocol scores (every valid view alone for a multi-view
split, :class:`~poseboard.datasets.people.ViewScenes`), batches scenes that share an image
size, tells the method which boxes the protocol allows (``batch["box_source"]``: ground
truth, or the simulated detector of :mod:`poseboard.datasets.detections`), times
``predict`` on the device, writes the root predictions and scores them. Nothing in it
knows which method it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from poseboard.datasets.people import RealViewScenes, ViewScenes, is_real_multiview
from poseboard.datasets.torch_dataset import collate_scenes
from poseboard.device import describe_device, synchronize, to_device
from poseboard.errors import InputError
from poseboard.methods.base import Method
from poseboard.progress import ProgressReporter


def box_source_for(protocol: Any) -> str:
    """The boxes a root protocol hands to methods: ``"detected"`` for the ``*-detected*``
    protocols (simulated detections with scores), ``"gt"`` otherwise."""
    return str(protocol.person_boxes)


def scene_batches(scenes: Any, indices: Any, batch_size: int) -> Any:
    """The scenes ``scenes[i]`` for ``i`` in ``indices``, in order, in lists of at most
    ``batch_size`` that share one image size (a batch is one tensor; MuPoTS-3D mixes 2048²
    and 1920×1080 sequences): a list ends early where the image size changes."""
    chunk: list[Any] = []
    for i in indices:
        scene = scenes[int(i)]
        if chunk and (len(chunk) == batch_size or scene.image.shape != chunk[0].image.shape):
            yield chunk
            chunk = []
        chunk.append(scene)
    if chunk:
        yield chunk


def _host_array(x: Any) -> np.ndarray:
    """A prediction field (a tensor on any device, or an array) as a NumPy array on the host."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def evaluate_roots(
    method: Method,
    protocol: Any,
    *,
    data_dir: str | Path = "data",
    results_dir: str | Path = "results",
    batch_size: int = 8,
    seed: int = 0,
    checkpoint: str | None = None,
    progress: bool = False,
    split_path: str | Path | None = None,
    box_source: str | None = None,
    real_data: Any = None,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> tuple[Any, Path]:
    """Predict roots on a ``root_localisation`` protocol's images, write the root predictions
    ``.npz`` and the scored result ``.json`` under ``results_dir/<method>/`` (the runner's
    :func:`~poseboard.harness.multiview_pose.evaluate_method` for root protocols).

    ``box_source``: ``"gt"`` or ``"detected"``; None: :func:`box_source_for` the protocol.
    The box source is recorded in the result's notes. ``real_data``: where a real dataset
    (``mupots``) is, as for :func:`~poseboard.harness.multiview_pose.evaluate_method`.

    ``device``: where to predict (the method is moved there with ``precision``, ``fp32`` or
    ``bf16``); None: where the method is. Every batch is moved to the method's device,
    ``predict`` is timed between two :func:`~poseboard.device.synchronize` calls (so the
    clock reads the computation, not its launch), each batch's predictions come back to the
    host once, and the result's speed block names the hardware with
    :func:`~poseboard.device.describe_device` (``cpu (N torch threads)`` on the CPU in fp32,
    as before devices existed).

    A multi-view split (``synth-h36m-root``) is scored view by view: every valid view of the
    protocol's cameras is one single-person image (:class:`ViewScenes`), as the ground truth
    of :func:`~poseboard.datasets.ground_truth.load_synthetic_ground_truth` lists them; real
    Human3.6M (``human36m-root``) likewise, every present view (:class:`RealViewScenes`) as
    :func:`~poseboard.datasets.real.human36m.view_root_ground_truth` lists them.
    """
    import time

    from tqdm.auto import tqdm

    from poseboard.datasets.sources import locate_protocol
    from poseboard.datasets.storage import MultiViewStore
    from poseboard.protocols.evaluate import build_result, score_roots, select_frames
    from poseboard.protocols.predictions import RootPredictions, save_root_predictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, result_path, write_result

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if protocol.task != "root_localisation":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol; {method.name} is scored here on "
                         "root_localisation protocols")
    protocol.check_method(method.name, method.capabilities)
    if device is not None:
        method.to(device, precision)
    elif precision != method.precision:
        method.to(method.device, precision)
    where = method.device
    source = box_source or box_source_for(protocol)
    data = locate_protocol(protocol, real_data, data_dir=data_dir, path=split_path)
    gt = data.ground_truth(protocol)
    scenes = data.dataset
    images = data.table
    per_view = isinstance(getattr(scenes, "store", None), MultiViewStore)
    if per_view:  # the Human3.6M-like single-view test: every view alone
        scenes = ViewScenes(scenes, protocol.cameras)
        images = scenes.table
    elif is_real_multiview(scenes):  # real Human3.6M (human36m-root): every present view alone
        scenes, per_view = RealViewScenes(scenes), True
        images = scenes.table
    indices = np.flatnonzero(select_frames(protocol, images))
    torch.manual_seed(seed)
    ids, roots, scores, persons = [], [], [], []
    seconds = 0.0
    bar = tqdm(total=len(indices), disable=not progress, leave=False, desc=f"{method.name} {protocol.name}")
    report = ProgressReporter(len(indices), f"predict {method.name} {protocol.id}",
                              lines=0 if progress and sys.stderr.isatty() else 5, unit="image")
    report.note(f"{len(indices)} images, batch {batch_size}")
    for chunk in scene_batches(scenes, indices, batch_size):
        bar.update(len(chunk))
        report.update(len(chunk))
        batch = to_device(collate_scenes(chunk), where)
        batch["box_source"] = source
        synchronize(where)  # the batch's copy is not predict's time
        t0 = time.perf_counter()
        pred = method.predict(batch)
        synchronize(where)
        seconds += time.perf_counter() - t0
        ids.append(np.asarray(pred.extras["sample_ids"], dtype=str))
        roots.append(_host_array(pred.root).astype(np.float64))
        scores.append(_host_array(pred.score).astype(np.float64))
        persons.append(_host_array(pred.extras["person_index"]).astype(np.int64))
    bar.close()
    report.close(f"{1000 * seconds / max(len(indices), 1):.1f} ms per image inside predict")
    preds = RootPredictions(sample_ids=np.concatenate(ids), root=np.concatenate(roots).reshape(-1, 3),
                            score=np.concatenate(scores), person_index=np.concatenate(persons))
    out_json = result_path(results_dir, method.name, protocol.id)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    save_root_predictions(out_json.with_suffix(".npz"), preds)
    metrics = score_roots(protocol, gt, preds, where=f"{method.name} predictions")
    config = method.config.model_dump(mode="json")
    frames = len(indices)
    speed = SpeedInfo(samples_per_s=frames / seconds if seconds > 0 else None,
                      ms_per_sample=1000 * seconds / frames if frames else None, batch_size=batch_size,
                      device=describe_device(where, method.precision))
    seeds = {"inference": int(seed), "bootstrap": protocol.bootstrap_seed}
    if isinstance(config.get("train"), dict) and "seed" in config["train"]:  # a trained method's seed
        seeds["train"] = int(config["train"]["seed"])
    # the simulated detector is configured where the method reads its boxes
    # (poseboard.datasets.detections.person_boxes with its config's `detection`)
    detector = getattr(method.config, "detection", None)
    if source == "detected" and detector is not None:
        seeds["detections"] = int(detector.seed)
    notes = [f"boxes: {source}" + (f" (simulated detector {detector.model_dump()})"
                                   if source == "detected" and detector is not None
                                   else " (ground truth, score 1)" if source == "gt" else "")]
    if per_view:
        cams = list(protocol.cameras) if protocol.cameras is not None else "all"
        notes.append(f"every valid view of cameras {cams} scored alone ({frames} single-person images); "
                     "box: the extent of the 2D joints widened by 10% per side")
    result = build_result(
        protocol=protocol,
        method=MethodInfo(name=method.name, registered=getattr(method, "registered_as", None), config=config,
                          capabilities=method.capabilities, checkpoint=checkpoint),
        dataset=DatasetInfo.of(protocol.dataset, protocol.split, gt),
        metrics=metrics, sample_ids=np.unique(preds.sample_ids), seeds=seeds, speed=speed, notes=notes,
    )
    return result, write_result(result, out_json)
