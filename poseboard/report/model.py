"""The leaderboard as data: result files → one ranked board per protocol.

Pure functions over :class:`~poseboard.protocols.results.Result` records (no I/O, no
plotting), so the HTML page, the Markdown tables and the tests read the same numbers.

Significance between neighbours: the result files carry each headline's 95% sequence
bootstrap interval, not the per-frame errors, so two neighbouring methods are compared with
a normal approximation of their intervals, ``z = |a − b| / sqrt(se_a² + se_b²)`` with
``se = (hi − lo) / (2 · 1.96)``. The methods are scored on the same frames, so this unpaired
test is conservative: a pair it calls "not significant" may still differ under a paired test.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

from poseboard.errors import ResultFileError
from poseboard.protocols.protocol import PaperAnchor, ProtocolDef
from poseboard.protocols.results import MetricBlock, Result

#: How the report names a dataset (the data a number was measured on).
DATASET_LABELS: dict[str, str] = {
    "synth-h36m": "synthetic (Human3.6M-like 4-camera rig)",
    "synth-panoptic": "synthetic (Panoptic-like dome)",
    "synth-mupots": "synthetic (MuPoTS-like scenes)",
    "human36m": "Human3.6M",
    "panoptic": "CMU Panoptic",
    "mupots": "MuPoTS-3D",
}

METRIC_LABELS: dict[str, str] = {
    "mpjpe": "MPJPE", "pa_mpjpe": "PA-MPJPE", "n_mpjpe": "N-MPJPE", "pck3d": "PCK3D",
    "auc_pck": "AUC", "mrpe": "MRPE", "ap_root": "AP_root@25",
    "mrpe_x": "MRPE x", "mrpe_y": "MRPE y", "mrpe_z": "MRPE z",
}


def dataset_label(name: str) -> str:
    return DATASET_LABELS.get(name, name)


def dataset_short(name: str) -> str:
    """``synthetic`` for the synthetic stand-ins, else the real dataset's name."""
    return "synthetic" if name.startswith("synth-") else DATASET_LABELS.get(name, name)


def metric_label(name: str, protocol: ProtocolDef | None = None) -> str:
    label = METRIC_LABELS.get(name, name)
    if name == "mpjpe" and protocol is not None:
        label += {"root": " (relative)", "none": " (absolute)"}.get(protocol.alignment, "")
    return label


def badges(result: Result) -> list[str]:
    """Capability badges: calibrated / uncalibrated, single-view / multi-view, multi-person."""
    caps = result.method.capabilities
    if caps is None:
        return ["external predictions"]
    out = ["calibrated" if caps.needs_extrinsics else "uncalibrated"]
    if caps.multi_view and (caps.max_views is None or caps.max_views > 1):
        out.append("multi-view")
    if caps.min_views <= 1:
        out.append("single-view")
    if caps.multi_person:
        out.append("multi-person")
    return out


def paper_anchor(protocol: ProtocolDef, method: str) -> PaperAnchor | None:
    for anchor in protocol.paper:
        if anchor.method == method:
            return anchor
    return None


def headline_ci(result: Result) -> tuple[float, float] | None:
    ci = result.metrics.main.ci95.get(result.metrics.headline)
    return (float(ci[0]), float(ci[1])) if ci is not None else None


def _se(ci: tuple[float, float] | None) -> float | None:
    if ci is None:
        return None
    return max(ci[1] - ci[0], 0.0) / (2 * 1.959963984540054)


def significant(a: float, ci_a: tuple[float, float] | None, b: float, ci_b: tuple[float, float] | None,
                level: float = 0.05) -> bool | None:
    """Whether ``a`` and ``b`` differ at ``level`` (two-sided) by their bootstrap intervals;
    ``None`` when an interval is missing."""
    se_a, se_b = _se(ci_a), _se(ci_b)
    if se_a is None or se_b is None:
        return None
    se = math.hypot(se_a, se_b)
    if se == 0:
        return a != b
    return abs(a - b) / se > NormalDist().inv_cdf(1 - level / 2)


@dataclass
class Row:
    """One method on one protocol's board."""

    rank: int
    method: str
    value: float
    ci95: tuple[float, float] | None
    metrics: dict[str, float]
    paper: PaperAnchor | None
    dataset: str
    dataset_long: str
    source: str
    ms_per_sample: float | None
    device: str | None
    badges: list[str]
    num_frames: int
    result: Result
    #: False when this row and the next (one rank down) do not differ significantly.
    differs_from_next: bool | None = None


@dataclass
class Board:
    """One protocol's leaderboard (results of one ``name@version`` only)."""

    protocol: ProtocolDef
    rows: list[Row]
    higher_is_better: bool
    unit: str
    metric_names: list[str]
    sweep_sizes: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.protocol.id

    @property
    def plain(self) -> bool:
        """One condition per method: no camera or calibration sweep, exact extrinsics."""
        p = self.protocol
        return not self.sweep_sizes and p.calibration_noise is None and p.calibration_sweep is None

    @property
    def headline_label(self) -> str:
        return metric_label(self.protocol.headline, self.protocol)

    def per_action(self, metric: str | None = None) -> tuple[list[str], dict[str, dict[str, float]]]:
        """(actions, method → action → value) of ``metric`` (default: the headline)."""
        metric = metric or self.protocol.headline
        table: dict[str, dict[str, float]] = {}
        actions: set[str] = set()
        for row in self.rows:
            per = row.result.metrics.main.per_action.get(metric, {})
            table[row.method] = {a: g.value for a, g in per.items()}
            actions |= set(per)
        return sorted(actions), table

    def sweep(self, metric: str | None = None) -> dict[str, dict[int, tuple[float, tuple[float, float] | None]]]:
        """method → number of cameras → (value, ci95) for camera-sweep protocols."""
        metric = metric or self.protocol.headline
        out: dict[str, dict[int, tuple[float, tuple[float, float] | None]]] = {}
        for row in self.rows:
            blocks = row.result.metrics.sweep or {}
            curve = {}
            for size, block in blocks.items():
                value = _block_value(block, metric, row.result.metrics.weighting)
                if value is not None:
                    ci = block.ci95.get(metric)
                    curve[int(size)] = (value, (float(ci[0]), float(ci[1])) if ci else None)
            if curve:
                out[row.method] = dict(sorted(curve.items()))
        return out


CalibrationCurves = dict[str, list[tuple[float, float, float, tuple[float, float] | None]]]


def calibration_curves(boards: dict[str, Board]) -> tuple[list[tuple[float, float]], CalibrationCurves]:
    """The calibration-sweep protocol's levels ``[(rotation_deg, translation_mm), ...]`` and
    method → ``[(rotation_deg, translation_mm, headline value, ci95)]`` from the boards keyed
    by protocol name (the first calibration-sweep protocol by name; none: empty)."""
    sweeps = sorted((b for b in boards.values() if b.protocol.calibration_sweep is not None),
                    key=lambda b: b.protocol.name)
    if not sweeps:
        return [], {}
    board = sweeps[0]
    cal = board.protocol.calibration_sweep
    assert cal is not None
    metric = board.protocol.headline
    curves: CalibrationCurves = {}
    for row in board.rows:
        blocks = row.result.metrics.calibration or {}
        points = []
        for lv in cal.levels:
            block = blocks.get(lv.label)
            value = None if block is None else _block_value(block, metric, row.result.metrics.weighting)
            if block is not None and value is not None:
                ci = block.ci95.get(metric)
                points.append((lv.rotation_deg, lv.translation_mm, value, (float(ci[0]), float(ci[1])) if ci else None))
        if points:
            curves[row.method] = points
    return [(lv.rotation_deg, lv.translation_mm) for lv in cal.levels], curves


def read_speed_benchmarks(path: str | Path | None) -> dict[str, tuple[float, str]]:
    """Method → ``(ms per frame, how and where measured)`` from the ``speed`` stage's
    pytest-benchmark JSON (``benchmarks/bench_speed.py``); empty when there is none."""
    import json

    if path is None or not Path(path).exists():
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    machine = data.get("machine_info", {}) if isinstance(data, dict) else {}
    cpu = (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "unknown CPU"
    out: dict[str, tuple[float, str]] = {}
    for bench in data.get("benchmarks", []) if isinstance(data, dict) else []:
        info = bench.get("extra_info", {})
        if "method" in info and "ms_per_frame" in info:
            threads = info.get("torch_threads", "?")
            out[str(info["method"])] = (
                float(info["ms_per_frame"]),
                f"{cpu}, {threads} torch thread(s): median of {bench.get('stats', {}).get('rounds', '?')} rounds of "
                f"{info.get('frames_per_call', '?')} frames (benchmarks/bench_speed.py)",
            )
    return out


def apply_speed(boards: list[Board], speed: dict[str, tuple[float, str]]) -> None:
    """Give every row the benchmark suite's speed of its method (the leaderboard's speed
    column is measured once, by the benchmark); rows without one keep the run's own timing."""
    for board in boards:
        for row in board.rows:
            if row.method in speed:
                row.ms_per_sample, row.device = speed[row.method]


def _block_value(block: MetricBlock, metric: str, weighting: str) -> float | None:
    source = block.overall if weighting == "frame" else block.action_weighted
    value = source.get(metric)
    return None if value is None else float(value)


def build_boards(results: list[Result], level: float = 0.05) -> list[Board]:
    """Group results by protocol id (versions never mixed), rank by the headline, and mark
    neighbouring rows whose difference is not significant at ``level``."""
    by_protocol: dict[str, list[Result]] = defaultdict(list)
    protocols: dict[str, ProtocolDef] = {}
    for r in results:
        by_protocol[r.protocol.id].append(r)
        protocols.setdefault(r.protocol.id, r.protocol)
    boards = []
    for pid in sorted(by_protocol):
        protocol = protocols[pid]
        group = by_protocol[pid]
        m0 = group[0].metrics
        hib = bool(m0.higher_is_better.get(m0.headline, False))
        ordered = sorted(group, key=lambda r: (-r.metrics.headline_value if hib else r.metrics.headline_value,
                                               r.method.name))
        rows = []
        for i, r in enumerate(ordered, start=1):
            main = r.metrics.main
            source = main.overall if r.metrics.weighting == "frame" else main.action_weighted
            metrics = {k: float(v) for k, v in source.items()}
            metrics.update({k: float(v) for k, v in r.metrics.main.extra.items() if k.startswith("mrpe_")})
            rows.append(Row(
                rank=i, method=r.method.name, value=float(r.metrics.headline_value), ci95=headline_ci(r),
                metrics=metrics, paper=paper_anchor(protocol, r.method.name),
                dataset=dataset_short(r.dataset.name), dataset_long=dataset_label(r.dataset.name),
                source=r.dataset.source,
                ms_per_sample=r.speed.ms_per_sample, device=r.speed.device, badges=badges(r),
                num_frames=r.metrics.main.num_frames, result=r,
            ))
        for a, b in itertools.pairwise(rows):
            a.differs_from_next = significant(a.value, a.ci95, b.value, b.ci95, level)
        names = list(protocol.metrics)
        if any(k.startswith("mrpe_") for row in rows for k in row.metrics):
            names += [k for k in ("mrpe_x", "mrpe_y", "mrpe_z") if any(k in row.metrics for row in rows)]
        sizes = sorted({int(s) for r in group for s in (r.metrics.sweep or {})})
        boards.append(Board(protocol=protocol, rows=rows, higher_is_better=hib,
                            unit=m0.units.get(m0.headline, ""), metric_names=names, sweep_sizes=sizes))
    return boards


def provenance(results: list[Result]) -> dict[str, Any]:
    """What the footer says about where the numbers came from (commits, machines, versions)."""
    commits = sorted({(r.git.get("commit") or "unknown")[:12] + (" (dirty)" if r.git.get("dirty") else "")
                      for r in results})
    machines = sorted({str(r.hardware.get("cpu") or "unknown") + (
        f", {r.hardware['accelerator']}" if r.hardware.get("accelerator") else "") for r in results})
    versions: dict[str, set[str]] = defaultdict(set)
    for r in results:
        for k, v in r.versions.items():
            versions[k].add(v)
    return {
        "commits": commits,
        "machines": machines,
        "versions": {k: ", ".join(sorted(v)) for k, v in sorted(versions.items())},
        "data_hashes": sorted({f"{r.dataset.name}: {(r.dataset.data_hash or 'unknown')[:12]}" for r in results}),
    }
