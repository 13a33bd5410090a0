"""The harness's entry points: ``poseboard predict`` and ``poseboard train`` from a method's
name, a protocol's name and the pipeline's folders to a result file or a checkpoint.

One runner per task type (:data:`TASKS`), each a module of this package with the same
signature: ``multiview_pose`` (:func:`~poseboard.harness.multiview_pose.evaluate_method`)
and ``root_localisation`` (:func:`~poseboard.harness.root_localisation.evaluate_roots`).
A new task type is a new module and one entry here; a new method needs nothing here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from poseboard.datasets.sources import RealDataLike
from poseboard.errors import InputError
from poseboard.harness.multiview_pose import evaluate_method, place_method
from poseboard.harness.reuse import RECORD_KEY, copy_weights, reusable, training_record
from poseboard.harness.root_localisation import evaluate_roots
from poseboard.io import atomic_write_text
from poseboard.protocols.results import Result

#: Task type (``ProtocolDef.task``) → its runner: ``(method, protocol, *, data_dir,
#: results_dir, batch_size, seed, checkpoint, progress, real_data, device, precision)`` →
#: ``(Result, path of the result file)``.
TASKS: dict[str, Callable[..., tuple[Result, Path]]] = {
    "multiview_pose": evaluate_method,
    "root_localisation": evaluate_roots,
}


def task_runner(task: str) -> Callable[..., tuple[Result, Path]]:
    """The runner of ``task``, or an :class:`InputError` listing the task types there are."""
    if task not in TASKS:
        raise InputError(f"no harness runs {task!r} protocols; task types: {sorted(TASKS)}")
    return TASKS[task]


def run_protocol(
    method_name: str,
    protocol_key: str,
    *,
    data_dir: str | Path = "data",
    checkpoints: str | Path = "checkpoints",
    results_dir: str | Path = "results",
    batch_size: int = 8,
    seed: int = 0,
    progress: bool = False,
    name: str | None = None,
    real_data: RealDataLike = None,
    declared_dataset: str | None = None,
    device: torch.device | str | None = None,
    precision: str = "fp32",
) -> tuple[Result, Path]:
    """``poseboard predict``: load ``<checkpoints>/<name>`` (``name`` defaults to the method:
    a variant such as ``epipolar-baseline`` is the registered ``epipolar`` trained under
    another name) and score it with the runner of the protocol's task (:data:`TASKS`). A real protocol's data come
    from ``real_data`` (see :func:`evaluate_method`); a missing or wrong path fails before
    the checkpoint is loaded, as does a ``declared_dataset`` (the pipeline stage's, see
    :func:`~poseboard.datasets.sources.check_declared_dataset`) other than the protocol's.
    ``device`` and ``precision``: where and how it predicts (see :func:`evaluate_method`); the
    checkpoint, from whatever device it was saved on, is read onto the CPU and moved once."""
    from poseboard.datasets.sources import check_declared_dataset, is_real, locate_protocol
    from poseboard.methods.registry import REGISTRY, get_method
    from poseboard.names import check_name
    from poseboard.protocols.registry import get_protocol

    check_name(name or method_name, "--name" if name else "method")
    saved = Path(checkpoints) / method_name / "config.json"
    if name is None and method_name not in REGISTRY.names() and saved.exists():
        # a variant's checkpoint (e.g. epipolar-baseline) records the method it is
        name, method_name = method_name, saved_method(saved.parent)
    cls = get_method(method_name)
    protocol = get_protocol(protocol_key)
    check_declared_dataset(protocol, declared_dataset)
    protocol.check_method(method_name, cls.capabilities)  # refuse before loading anything
    if is_real(protocol.dataset):
        locate_protocol(protocol, real_data, data_dir=data_dir)  # no path / no folder: say so first
    directory = Path(checkpoints) / (name or method_name)
    method = cls.load(directory)
    if name and name != method_name:
        method.name = name  # results and cards are filed under the variant
        method.registered_as = method_name  # type: ignore[attr-defined]
    return task_runner(protocol.task)(
        method, protocol, data_dir=data_dir, results_dir=results_dir, batch_size=batch_size, seed=seed,
        checkpoint=str(directory), progress=progress, real_data=real_data, device=device, precision=precision)


def saved_method(directory: str | Path) -> str:
    """The registered method a trained checkpoint folder holds: its ``config.json``'s
    ``method`` (a variant such as ``epipolar-baseline`` is filed under its own name)."""
    saved = Path(directory) / "config.json"
    try:
        return str(json.loads(saved.read_text())["method"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{saved}: cannot read the method this checkpoint holds ({exc})") from None


def open_split(path: str | Path) -> Any:
    """A generated split folder as the dataset its manifest says: single-view scenes
    (multi-person images, RootNet's input) or multi-view frames."""
    from poseboard.datasets.sources import open_generated

    return open_generated(path)


def code_fingerprint(method_name: str, cls: type) -> dict[str, Any]:
    """``{"code_sha256": {module: SHA-256 of its source}}`` for a method that is not built in.

    Why: a ``predict@`` stage depends on the built-in methods' code file by file (dvc.yaml) and
    on the checkpoint; an added method's module is a dependency of its ``train@`` stage only.
    Recording the module's hash in ``train_summary.json`` makes an edit of that module (its
    ``predict`` too) change the checkpoint, so DVC re-runs its ``predict@`` stages as well.
    Built-in methods record nothing (their checkpoints stay the bytes the board has)."""
    import hashlib
    import inspect

    from poseboard.methods.registry import is_builtin

    if is_builtin(method_name):
        return {}
    source = inspect.getsourcefile(cls)
    if source is None:
        return {}
    return {"code_sha256": {cls.__module__: hashlib.sha256(Path(source).read_bytes()).hexdigest()}}


def train_method(
    method_name: str,
    *,
    data_dir: str | Path = "data",
    checkpoints: str | Path = "checkpoints",
    dataset: str = "synth-h36m",
    profile: str = "default",
    config_path: str | Path | None = None,
    config_key: str | None = None,
    seed: int | None = None,
    val: bool = True,
    progress: bool = True,
    tracker: Any = None,
    name: str | None = None,
    real_data: RealDataLike = None,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    init: str = "backbone",
) -> dict[str, Any]:
    """``poseboard train``: build the config, train from ``<checkpoints>/backbone``
    (resuming from ``<checkpoints>/<name>/work``), save to ``<checkpoints>/<name>``
    (``name``: the method, or a variant's name such as ``epipolar-baseline``).

    ``init`` (params.yaml's): ``backbone``, ``none`` (the method's own initialisation, no
    pre-trained backbone), or the checkpoint this one starts from. When that
    checkpoint is this method trained exactly as this config would be, but for the method's
    :attr:`~poseboard.methods.base.Method.inference_fields`, its weights are taken instead of
    training the same network again (:mod:`poseboard.harness.reuse`).

    ``dataset``: a generated one (``<data_dir>/<dataset>/{train,test}``) or a real one
    (``human36m``, ``panoptic``: its ``train`` split, validated on ``test``), found through
    ``real_data`` as in :func:`evaluate_method`. ``device`` (None: the CPU) and ``precision``:
    where and how it trains; the method is moved there once, before ``fit``, and saved from
    there (its weights load on any device, :meth:`Method.load`)."""
    from poseboard.datasets.sources import locate
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import get_method
    from poseboard.methods.train.loop import JsonlTracker
    from poseboard.names import check_name

    check_name(name or method_name, "--name" if name else "method")
    cls = get_method(method_name)
    checkpoints = Path(checkpoints)
    cfg = build_config(cls.config_model, profile, Path(config_path) if config_path else None, config_key, seed)
    updates: dict[str, Any] = {}
    fields = type(cfg).model_fields
    if "backbone_checkpoint" in fields and cfg.backbone_checkpoint is None and init != "none":
        updates["backbone_checkpoint"] = str(checkpoints / "backbone")
    if "algebraic_checkpoint" in fields and cfg.algebraic_checkpoint is None:
        updates["algebraic_checkpoint"] = str(checkpoints / "algebraic")
    cfg = cfg.model_copy(update=updates)
    train = locate(dataset, "train", real_data, data_dir=data_dir).dataset
    test = locate(dataset, "test", real_data, data_dir=data_dir)
    val_set = None
    if val and (test.path.exists() if test.source == "synthetic" else len(test) > 0):
        val_set = test.dataset
    out = checkpoints / (name or method_name)
    workdir = out / "work"
    method = place_method(cls(cfg), device, precision)
    record = training_record(method_name, cfg, dataset, method.device, method.precision)
    if init not in ("backbone", "none"):
        check_name(init, "--init")
        source = checkpoints / init
        prior = reusable(source, record, cls.inference_fields)
        if prior is not None:
            t0 = time.perf_counter()
            copy_weights(cls, source, out, cfg)
            summary = {"method": name or method_name, "registered": method_name, "profile": profile,
                       "seconds": round(time.perf_counter() - t0, 1), "weights_from": init,
                       "steps": prior.get("steps"), RECORD_KEY: record} | code_fingerprint(method_name, cls)
            atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=2, sort_keys=True))
            return summary
    method.progress = progress  # type: ignore[attr-defined]
    tracker = JsonlTracker(workdir / "metrics.jsonl", inner=tracker)
    tracker.log_params({"method": name or method_name, "registered": method_name, "profile": profile,
                        "config": cfg.model_dump(mode="json"), "device": str(method.device),
                        "precision": method.precision})
    t0 = time.perf_counter()
    method.fit(train, val_set, tracker=tracker, workdir=workdir)
    seconds = time.perf_counter() - t0
    from poseboard.methods.train.distributed import barrier, is_main_process

    if not is_main_process():  # under torchrun rank 0 saves; the others wait for it
        barrier()
        return {"method": name or method_name, "registered": method_name, "rank": "not main"}
    method.save(out)
    summary: dict[str, Any] = {"method": name or method_name, "registered": method_name, "profile": profile,
                               "seconds": round(seconds, 1), RECORD_KEY: record} | code_fingerprint(method_name, cls)
    last = getattr(method, "last_summary", None)
    if last is not None:
        summary |= {"steps": last.end_step, "resumed_from": last.start_step,
                    "seconds_total": round(last.seconds_total, 1), "val": last.val}
    atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=2, sort_keys=True))
    barrier()
    return summary
