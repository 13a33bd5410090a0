"""Results submitted from outside: a method card beside the predictions.

``poseboard submit PREDICTIONS --protocol P --method NAME --card card.yaml`` scores the
predictions exactly as ``poseboard evaluate`` does (the same shape, id, unit and finiteness
checks) and writes one self-contained result file that also carries the card: who made the
method, where it is published and where its code is, and what it was trained on. The
leaderboard shows such a row with a "submitted" badge and the card beside it, the way MTEB
takes results from outside. The card is YAML, read with ``yaml.safe_load`` (never a Python
object), at most :data:`MAX_CARD_BYTES`, and every string is plain text (no control
characters; links only ``http(s)://``), because it ends up in the leaderboard.

Example card::

    title: My triangulation
    paper: Doe et al., "Better triangulation", arXiv:2601.00001 (2026)
    code_url: https://github.com/doe/better-triangulation
    trained_on: synth-h36m train split (poseboard default profile), 1,800 frames
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from poseboard.errors import InputError

__all__ = ["MAX_CARD_BYTES", "MethodCard", "Submission", "file_sha256", "load_card", "this_machine"]

#: A card is a few lines; anything larger is not one.
MAX_CARD_BYTES = 64 * 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"https?://[^\s<>\"'`]+")


class MethodCard(BaseModel):
    """What a submitted result says about its method (shown on the leaderboard)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=120, description="the method's name as its authors write it")
    paper: str = Field(min_length=1, max_length=300,
                       description="citation or link of the paper; 'unpublished' if there is none")
    code_url: str | None = Field(default=None, max_length=300, description="http(s) link to the code, if public")
    trained_on: str = Field(min_length=1, max_length=300,
                            description="the data the method was trained on (datasets, splits, how much)")
    authors: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=1000, description="one paragraph, plain text")
    machine: str | None = Field(default=None, max_length=300,
                                description="the machine the predictions were made on (CPU or GPU, OS), as the "
                                            "submitter states it; poseboard adds the machine that scored them")

    @field_validator("title", "paper", "trained_on", "authors", "description", "machine")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must be plain text on one line (it holds a control character)")
        return value

    @field_validator("code_url")
    @classmethod
    def _http_link(cls, value: str | None) -> str | None:
        if value is not None and not _URL.fullmatch(value):
            raise ValueError(f"must be one http:// or https:// link without spaces or quotes, got {value!r}")
        return value


class Submission(BaseModel):
    """The part of a result file that only submitted results have."""

    model_config = ConfigDict(extra="forbid")

    card: MethodCard
    predictions_file: str = Field(description="the predictions file's name (not its path on the submitter's disk)")
    predictions_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    submitted_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    scored_on: dict[str, str] | None = Field(
        default=None, description="the machine `poseboard submit` ran on (platform, CPU, torch's CPU capability), "
                                  "where the test split was rendered unless the submitter pulled it; None in "
                                  "submissions made before it was recorded")


def this_machine() -> dict[str, str]:
    """Platform, CPU model and torch's CPU kernel capability (``AVX512``, ``AVX2``, ``DEFAULT``...
    or ``unknown`` when torch is not installed): what decides the rendered image bytes."""
    from poseboard.provenance import hardware

    info = hardware()
    try:
        import torch

        capability = str(torch.backends.cpu.get_cpu_capability())
    except ImportError:  # pragma: no cover - torch is a dependency
        capability = "unknown"
    return {"platform": str(info["platform"]), "cpu": str(info["cpu"]), "torch_cpu_capability": capability}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_card(path: str | Path) -> MethodCard:
    """Read and validate a method card (YAML mapping).

    Raises:
        InputError: naming the file and the field: missing, too large, not UTF-8, not YAML,
            not a mapping, an unknown or missing key, a control character, a non-http link.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: method card not found (--card: a YAML file with title, paper, trained_on)")
    size = path.stat().st_size
    if size > MAX_CARD_BYTES:
        raise InputError(f"{path}: {size} bytes; a method card is at most {MAX_CARD_BYTES} bytes")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a method card is a YAML mapping (title: …, paper: …, trained_on: …), "
                         f"got {type(data).__name__}")
    try:
        return MethodCard.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "card"
        message = {"missing": "required key is missing", "extra_forbidden": "unknown key"}.get(err["type"], err["msg"])
        allowed = ", ".join(MethodCard.model_fields)
        raise InputError(f"{path}: {field}: {message} (a card has: {allowed})") from None
