"""Self-describing result files: one JSON per (method, protocol).

A result embeds everything needed to trust and rebuild a leaderboard row: the protocol
definition, the method's config and capabilities, seeds, package versions, the git
commit, a hash of the evaluated sample ids, the hardware, inference speed and the
metrics. Files are written atomically and validated on read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from poseboard.capabilities import Capabilities
from poseboard.errors import ResultFileError, validation_message
from poseboard.io import atomic_write_text
from poseboard.protocols.protocol import ProtocolDef
from poseboard.protocols.submission import Submission

RESULT_SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MethodInfo(_Record):
    name: str = Field(description="the name results are filed under: the registered method, or a variant of it")
    registered: str | None = Field(
        default=None, description="the registered method when ``name`` is a variant (e.g. epipolar-baseline)"
    )
    config: dict[str, Any]
    capabilities: Capabilities | None = Field(
        description="None when predictions came from outside poseboard (evaluate --predictions)"
    )
    checkpoint: str | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        """The name becomes a folder under ``results/`` and an id on the leaderboard: a result
        file whose name breaks :data:`poseboard.names.NAME_RULE` is refused when read."""
        from poseboard.names import NAME_PATTERN, NAME_RULE

        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid method name; use {NAME_RULE}")
        return name


class DatasetInfo(_Record):
    name: str
    split: str
    source: Literal["synthetic", "real", "user"]
    data_hash: str | None = Field(description="content hash of the dataset's manifest, if known")
    task_hash: str | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="the split without its image bytes (poseboard.datasets.identity): results with the same task "
                    "hash are paired even where their images were rendered a few pixels apart on another CPU; "
                    "None in result files written before it existed and for real datasets",
    )
    images_hash: str | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="the split's image shards and visibility flags (poseboard.datasets.identity)",
    )


    @classmethod
    def of(cls, name: str, split: str, gt: Any) -> DatasetInfo:
        """The record of a ground truth (``PoseGroundTruth`` or ``RootGroundTruth``) scored
        as dataset ``name``'s ``split``."""
        return cls(name=name, split=split, source=gt.source, data_hash=gt.data_hash,
                   task_hash=getattr(gt, "task_hash", None), images_hash=getattr(gt, "images_hash", None))


class SpeedInfo(_Record):
    samples_per_s: float | None
    ms_per_sample: float | None
    batch_size: int | None
    device: str | None


class GroupStats(_Record):
    """One metric over a group of frames."""

    value: float
    count: int


class SequenceErrors(_Record):
    """One metric's per-sequence sums over the scored frames: what a paired comparison of two
    results needs (:mod:`poseboard.comparison`).

    A sequence is the independent unit of every interval (frames of one sequence are strongly
    correlated), so two results scored on the same sequences are compared by resampling
    sequences, the same ones for both. The frame-weighted mean is ``sum(sums) / sum(frames)``;
    the action-weighted mean is the mean over strata of each stratum's sums / frames.
    """

    metric: str = Field(description="the metric these sums are of (the protocol's headline)")
    sequences: list[str] = Field(description="'subject/sequence' labels, sorted, unique within the result")
    strata: list[str] = Field(description="the action of each sequence (trials merged as the protocol says)")
    sums: list[float] = Field(description="sum of the metric's per-frame values in each sequence (its units)")
    frames: list[int] = Field(description="scored frames in each sequence")


class MetricBlock(_Record):
    """The metrics of one evaluation (the whole protocol, or one camera count or calibration
    error of a sweep)."""

    overall: dict[str, float] = Field(description="frame-weighted means over all scored frames")
    action_weighted: dict[str, float] = Field(description="mean of per-action means")
    per_action: dict[str, dict[str, GroupStats]] = Field(description="metric → action → stats")
    per_subject: dict[str, dict[str, GroupStats]] = Field(description="metric → subject → stats")
    ci95: dict[str, tuple[float, float]] = Field(
        description="metric → bootstrap 95% interval of the headline-weighted mean (whole sequences resampled)"
    )
    num_frames: int
    extra: dict[str, float] = Field(default_factory=dict, description="scalars such as mrpe_x, ap_rootnet_script")
    per_joint: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="joint → error statistics (mean, median, p90; mm) under the protocol's alignment, pose protocols",
    )
    per_sequence: SequenceErrors | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="the headline's per-sequence sums, for paired comparisons; None for metrics that are not "
                    "means of per-frame values (AP_root) and in result files written before it existed",
    )


class Metrics(_Record):
    headline: str = Field(description="the metric name of the protocol's headline")
    headline_value: float
    weighting: Literal["frame", "action"]
    units: dict[str, str]
    higher_is_better: dict[str, bool]
    main: MetricBlock
    sweep: dict[str, MetricBlock] | None = Field(
        default=None, description="number of cameras (as a string key) → metrics, for camera sweeps"
    )
    calibration: dict[str, MetricBlock] | None = Field(
        default=None, exclude_if=lambda v: v is None,  # other protocols' result files keep their bytes
        description="calibration error (CalibrationLevel.label, e.g. '1deg-25mm') → metrics, in the "
                    "protocol's order, for calibration sweeps",
    )


RUN_FIELDS = ("created_at", "git", "hardware", "speed")
"""Fields that describe one *run* (when, which commit, which machine, how fast) rather than
the result: written to the ``.run.json`` sidecar, so that the committed result file is the
same bytes whenever the same code, params and data are evaluated again."""

RUN_SUFFIX = ".run.json"


class Result(_Record):
    """One result file (plus its run sidecar, merged on read)."""

    schema_version: int = RESULT_SCHEMA_VERSION
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    protocol: ProtocolDef
    method: MethodInfo
    dataset: DatasetInfo
    seeds: dict[str, int]
    versions: dict[str, str]
    git: dict[str, Any]
    sample_ids_hash: str
    num_samples: int
    hardware: dict[str, Any]
    speed: SpeedInfo
    metrics: Metrics
    notes: list[str] = Field(default_factory=list)
    submission: Submission | None = Field(
        default=None, exclude_if=lambda v: v is None,  # pipeline result files keep their bytes
        description="the method card and predictions hash of a result submitted with `poseboard submit`",
    )

    @property
    def key(self) -> tuple[str, str]:
        return (self.method.name, self.protocol.id)


def result_path(results_dir: str | Path, method: str, protocol_id: str) -> Path:
    """Where the result of ``method`` under ``protocol_id`` lives: ``<dir>/<method>/<protocol_id>.json``.

    Raises:
        InputError: ``method`` is not a valid name (:data:`poseboard.names.NAME_RULE`), or the
            path would resolve outside ``results_dir`` (a symlinked method folder, say).
    """
    from poseboard.names import check_name, path_inside

    return path_inside(results_dir, check_name(method, "method name"), f"{protocol_id}.json")


def run_sidecar(path: str | Path) -> Path:
    """``<dir>/<protocol>@<v>.json`` → ``<dir>/<protocol>@<v>.run.json`` (the run's provenance)."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".json") + RUN_SUFFIX)


def is_result_file(path: str | Path) -> bool:
    """A ``<name>@<version>.json`` result file (not a run sidecar)."""
    name = Path(path).name
    return "@" in name and name.endswith(".json") and not name.endswith(RUN_SUFFIX)


def write_result(result: Result, path: str | Path) -> Path:
    """Validate and write ``result`` atomically (a crash never leaves half a file): the
    reproducible part to ``path``, the run's provenance (:data:`RUN_FIELDS`) to its
    :func:`run_sidecar`."""
    path = Path(path)
    text = result.model_dump_json(indent=2)
    Result.model_validate_json(text)  # refuse to write what we could not read back
    data = json.loads(text)
    run = {k: data.pop(k) for k in RUN_FIELDS}
    atomic_write_text(run_sidecar(path), json.dumps(run, indent=2) + "\n")
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return path


def read_result(path: str | Path) -> Result:
    """Read and validate a result file; a bad one raises :class:`ResultFileError`
    naming the file and the offending field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultFileError(f"{path}: result file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and data.get("schema_version") not in (None, RESULT_SCHEMA_VERSION):
        raise ResultFileError(
            f"{path}: field 'schema_version': {data.get('schema_version')} is not supported "
            f"(this poseboard reads {RESULT_SCHEMA_VERSION})"
        )
    sidecar = run_sidecar(path)
    if isinstance(data, dict):
        run: dict[str, Any] = {"created_at": "unknown", "git": {"commit": None, "dirty": None}, "hardware": {},
                               "speed": {"samples_per_s": None, "ms_per_sample": None, "batch_size": None,
                                         "device": None}}
        if sidecar.exists():
            try:
                run |= json.loads(sidecar.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ResultFileError(f"{sidecar}: not valid JSON ({exc})") from None
        data = {**run, **data}
    try:
        return Result.model_validate(data)
    except ValidationError as exc:
        raise ResultFileError(f"{path}: {validation_message(exc)}") from None


def read_results(results_dir: str | Path) -> list[Result]:
    """Every ``<method>/<name>@<version>.json`` result under ``results_dir`` (validated; any bad
    file is an error). A result written before results carried a task hash gets the one
    ``results_dir/tasks.json`` records for the split it was scored on (matched by content hash):
    :func:`with_task_identity`."""
    from poseboard.protocols.tasks import TASKS_FILE, read_task_records

    records = read_task_records(Path(results_dir) / TASKS_FILE)
    return [with_task_identity(read_result(p), records)
            for p in sorted(Path(results_dir).rglob("*@*.json")) if is_result_file(p)]


def with_task_identity(result: Result, records: Any) -> Result:
    """``result`` with the task and image hashes of the split it was scored on, taken from
    ``records`` (a :class:`poseboard.protocols.tasks.TaskRecords`, or None) when the file
    has none and ``records`` knows a split of its dataset with its content hash; else
    ``result`` unchanged. The file itself is not touched."""
    info = result.dataset
    if records is None or info.task_hash is not None or not info.data_hash:
        return result
    record = records.find(info.name, info.split, info.data_hash)
    if record is None:
        return result
    dataset = info.model_copy(update={"task_hash": record.task_hash, "images_hash": record.images_hash})
    return result.model_copy(update={"dataset": dataset})
