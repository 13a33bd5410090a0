"""Hand-made result files for report and comparison tests, written by the project's own result
builder and writer: one sequence table whose per-sequence mean errors are given, so a test
knows every difference, interval and growth the code under test must find."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from poseboard.protocols.evaluate import build_result
from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.results import (
    DatasetInfo,
    MethodInfo,
    MetricBlock,
    Metrics,
    SequenceErrors,
    SpeedInfo,
    result_path,
    write_result,
)


def write_sequence_result(results: Path, method: str, protocol: ProtocolDef, labels: Sequence[str], means,
                          frames_per_sequence: int, strata: Sequence[str], split: str,
                          extra: dict[str, float] | None = None) -> Path:
    """``results/<method>/<protocol id>.json`` whose headline is the frame-weighted mean of
    ``means`` (one per label, ``frames_per_sequence`` frames each), stratified by ``strata``,
    on the dataset split ``split``, with ``extra`` in the main block; the path written."""
    frames = np.full(len(labels), frames_per_sequence)
    sums = np.asarray(means, dtype=np.float64) * frames
    value = float(sums.sum() / frames.sum())
    h = protocol.headline
    block = MetricBlock(
        overall={h: value}, action_weighted={h: value}, per_action={}, per_subject={}, ci95={h: (value - 5, value + 5)},
        num_frames=int(frames.sum()), extra=extra or {},
        per_sequence=SequenceErrors(metric=h, sequences=list(labels), strata=list(strata), sums=sums.tolist(),
                                    frames=frames.tolist()))
    metrics = Metrics(headline=h, headline_value=value, weighting=protocol.weighting, units={h: "mm"},
                      higher_is_better={h: False}, main=block)
    ids = np.array([f"{lb}/{f}" for lb in labels for f in range(frames_per_sequence)])
    result = build_result(
        protocol=protocol, method=MethodInfo(name=method, config={}, capabilities=None),
        dataset=DatasetInfo(name=protocol.dataset, split=split, source="synthetic", data_hash=f"hash-{protocol.name}"),
        metrics=metrics, sample_ids=ids, seeds={}, speed=SpeedInfo(samples_per_s=None, ms_per_sample=None,
                                                                   batch_size=None, device=None))
    path = result_path(results, method, protocol.id)
    write_result(result, path)
    return path
