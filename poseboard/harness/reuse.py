"""A variant that differs from a trained checkpoint only at inference takes its weights.

``probabilistic-sequence`` is ``probabilistic`` with one camera-pose posterior per sequence
instead of per frame: the same training (config, seed, data, device, precision) under another
inference setting. Training it again spent 2 minutes of the default run to write the same bytes
(the session-4 board: the two ``weights.pt`` are identical). When params.yaml's ``init`` names a
checkpoint of the same registered method whose training record matches this config in every field
but :attr:`~poseboard.methods.base.Method.inference_fields`, ``poseboard train`` copies its weights
and writes this config beside them.

The record is ``train_summary.json``'s ``trained`` block (:func:`training_record`): the config
*before* ``fit`` (``fit`` may fill fields from the data, e.g. probabilistic's bone prior), the
dataset, device and precision. A checkpoint without it (written before this module) is never
reused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from poseboard.io import atomic_open, atomic_write_text

#: ``train_summary.json`` key of the training record.
RECORD_KEY = "trained"


def training_record(method_name: str, config: BaseModel, dataset: str, device: Any, precision: str) -> dict[str, Any]:
    """What decides a training's weights besides the data's bytes (DVC tracks those)."""
    return {"registered": method_name, "config": config.model_dump(mode="json"), "dataset": dataset,
            "device": str(device), "precision": precision}


def _without(record: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    return record | {"config": {k: v for k, v in record["config"].items() if k not in fields}}


def reusable(source: Path, record: dict[str, Any], inference_fields: frozenset[str]) -> dict[str, Any] | None:
    """``source``'s training summary when its weights are the ones training ``record`` would
    write (the same record but for ``inference_fields``), else None."""
    if not inference_fields:
        return None
    try:
        summary = json.loads((source / "train_summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    theirs = summary.get(RECORD_KEY) if isinstance(summary, dict) else None
    if not isinstance(theirs, dict) or not isinstance(theirs.get("config"), dict):
        return None
    if set(theirs) != set(record) or _without(theirs, inference_fields) != _without(record, inference_fields):
        return None
    return summary


def copy_weights(method_cls: Any, source: Path, out: Path, config: BaseModel) -> None:
    """Write ``out`` as ``source``'s checkpoint under ``config``: its saved config with the
    inference fields taken from ``config``, its weights byte for byte; then load it back (a
    mismatch is the loader's clear error)."""
    saved = json.loads((source / method_cls.CONFIG_FILE).read_text())
    ours = config.model_dump(mode="json")
    saved["config"] |= {k: ours[k] for k in method_cls.inference_fields}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / method_cls.CONFIG_FILE, json.dumps(saved, indent=2, sort_keys=True))
    with (source / method_cls.WEIGHTS_FILE).open("rb") as src, atomic_open(out / method_cls.WEIGHTS_FILE, "wb") as dst:
        shutil.copyfileobj(src, dst)  # written last, as Method.save does
    method_cls.load(out)
