"""``results/tasks.json``: the identity of every split the committed results were scored on.

The hashes are computed by :mod:`poseboard.datasets.identity` (the *task hash*: frames, ground
truth, cameras, floats quantised; the *images hash*: image shards and visibility flags); this
module is their record beside the result files, which the result reader
(:func:`poseboard.protocols.results.read_results`) uses to give a result written before results
carried a task hash the one of the split it was scored on, and which ``poseboard data check``
holds a split rendered elsewhere against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from poseboard.errors import ResultFileError, validation_message
from poseboard.io import atomic_write_text

__all__ = ["IDENTITY_VERSION", "TASKS_FILE", "SplitRecord", "TaskRecords", "parse_task_records", "read_task_records",
           "write_task_records"]

IDENTITY_VERSION = 1
"""Bumped whenever what goes into a split's identity changes (old hashes then differ)."""

TASKS_FILE = "tasks.json"
"""Beside the result files (``results/tasks.json``): the identity of every split the committed
results were scored on, so that a result written before results carried a task hash, and a
split rendered elsewhere, can be matched with the leaderboard's task."""

TASKS_FORMAT = "poseboard-tasks"


class SplitRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: int
    content_hash: str
    task_hash: str
    images_hash: str


class TaskRecords(BaseModel):
    """``results/tasks.json``: ``"<dataset>/<split>"`` → the split's identity."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["poseboard-tasks"] = TASKS_FORMAT
    identity_version: int = IDENTITY_VERSION
    splits: dict[str, SplitRecord]

    def find(self, name: str, split: str, content_hash: str | None = None) -> SplitRecord | None:
        """The record of ``name/split`` (only if its content hash is ``content_hash``, when given)."""
        record = self.splits.get(f"{name}/{split}")
        if record is None or (content_hash is not None and record.content_hash != content_hash):
            return None
        return record


def write_task_records(records: TaskRecords, path: str | Path) -> Path:
    """Write ``records`` as JSON (atomically, keys sorted: the same splits give the same bytes)."""
    text = json.dumps(records.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    atomic_write_text(Path(path), text)
    return Path(path)


def read_task_records(path: str | Path) -> TaskRecords | None:
    """``path``'s records; None when the file is absent (:func:`parse_task_records`)."""
    file = Path(path)
    if not file.is_file():
        return None
    return parse_task_records(file.read_bytes(), str(file))


def parse_task_records(text: bytes | str, where: str) -> TaskRecords | None:
    """Records from a ``tasks.json``'s text; None when it was written by another identity
    version (its hashes cannot be compared with this poseboard's). A malformed file is an
    error naming ``where`` and the field."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{where}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and data.get("identity_version") != IDENTITY_VERSION:
        return None
    try:
        return TaskRecords.model_validate(data)
    except ValidationError as exc:
        raise ResultFileError(f"{where}: {validation_message(exc)}") from None
