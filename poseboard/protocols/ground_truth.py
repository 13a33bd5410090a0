"""Ground truth of a protocol's dataset split, looked up by dataset name.

Each dataset module provides ``load_ground_truth(path, protocol)`` returning a
:class:`~poseboard.protocols.predictions.PoseGroundTruth` (pose protocols) or a
:class:`~poseboard.protocols.predictions.RootGroundTruth` (root protocols). The table
below maps dataset names to those functions; modules are imported on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from poseboard.errors import InputError
from poseboard.protocols.predictions import PoseGroundTruth, RootGroundTruth
from poseboard.protocols.protocol import ProtocolDef

#: dataset name → "module:function(path, protocol)".
GROUND_TRUTH_LOADERS: dict[str, str] = {
    "synth-h36m": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-panoptic": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-mupots": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-novel-rig": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-novel-motion": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-novel-body": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-novel-all": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-extrapolated-rig": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-real-content": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-real-style": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-real-content-rig": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "synth-real-style-rig": "poseboard.datasets.ground_truth:load_synthetic_ground_truth",
    "human36m": "poseboard.datasets.real.human36m:load_ground_truth",
    "panoptic": "poseboard.datasets.real.panoptic:load_ground_truth",
    "mupots": "poseboard.datasets.real.mupots:load_ground_truth",
}


def load_ground_truth(protocol: ProtocolDef, path: str | Path) -> PoseGroundTruth | RootGroundTruth:
    """The ground truth a protocol scores against, read from the dataset folder ``path``."""
    target = GROUND_TRUTH_LOADERS.get(protocol.dataset)
    if target is None:
        raise InputError(
            f"protocol {protocol.id}: no ground-truth loader for dataset {protocol.dataset!r}; "
            f"known datasets: {sorted(GROUND_TRUTH_LOADERS)}"
        )
    module_name, _, attr = target.partition(":")
    loader = getattr(importlib.import_module(module_name), attr)
    gt = loader(Path(path), protocol)
    expected = RootGroundTruth if protocol.task == "root_localisation" else PoseGroundTruth
    if not isinstance(gt, expected):
        raise TypeError(f"{target} returned {type(gt).__name__}, expected {expected.__name__}")
    return gt
