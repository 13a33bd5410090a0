"""What the repository's ``weights/`` folder ships: one committed record, ``weights/shipped.json``,
written by ``poseboard board ship`` and read by ``poseboard board pull`` (:mod:`poseboard.board.weights`).

For each weight stage ``dvc.lock`` records when the board was shipped: its output's path and MD5
(``dvc.lock``'s), its bytes, and whether it is ``shipped`` or ``left out`` (with why: its size
against the folder's budget). A pull that cannot have a ``left out`` output from ``weights/``
says so as an expected gap, not an error. An entry applies only to the output whose MD5 it
records: after the board is re-trained, the record is of another board until it is shipped again.

The record does no I/O; :func:`poseboard.board.weights.read_record` reads it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Bumped when a field changes meaning; a record of another version is refused.
RECORD_VERSION = 1

Status = Literal["shipped", "left out"]


class ShippedOutput(BaseModel):
    """One weight stage's output as ``weights/`` ships it (or leaves it out).

    Attributes:
        stage: the stage that writes it (``train@algebraic``).
        path: the output, relative to the repository (``checkpoints/algebraic``).
        md5: its DVC hash as ``dvc.lock`` records it (``<hex>.dir``).
        bytes: its files' bytes (the resumable state excluded by ``.dvcignore``).
        status: ``shipped`` (every object of it is in ``weights/``) or ``left out``.
        reason: why it was left out (its size against the budget); None when shipped.
    """

    model_config = ConfigDict(extra="forbid")

    stage: str
    path: str
    md5: str
    bytes: int = Field(ge=0)
    status: Status
    reason: str | None


class ShippedRecord(BaseModel):
    """``weights/shipped.json``: the board whose weights the folder holds.

    Attributes:
        version: :data:`RECORD_VERSION`.
        budget_bytes: the most the folder may hold, as ``poseboard board ship`` was given it.
        bytes: what the folder's objects hold in all (an object shared by two outputs counted once).
        outputs: every weight stage of ``dvc.lock``, shipped first then left out, each in the
            lock's order within its kind.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    budget_bytes: int = Field(gt=0)
    bytes: int = Field(ge=0)
    outputs: list[ShippedOutput]

    def entry(self, stage: str) -> ShippedOutput | None:
        """The record of ``stage``'s output (whatever its MD5), or None."""
        return next((o for o in self.outputs if o.stage == stage), None)

    def left_out(self, stage: str, md5: str) -> ShippedOutput | None:
        """The record of ``stage``'s output when it was left out and is the one of ``md5``."""
        found = self.entry(stage)
        return found if found is not None and found.status == "left out" and found.md5 == md5 else None
