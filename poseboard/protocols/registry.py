"""Protocol registry: the built-in definitions are YAML files in ``definitions/``.

Looked up by ``name`` (the newest version) or ``name@version``. Users add protocols by
dropping YAML files into a folder named by ``POSEBOARD_PROTOCOLS_DIR`` (``os.pathsep``
separated).
"""

from __future__ import annotations

import difflib
import os
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from poseboard.errors import PoseboardError, ResultFileError, validation_message
from poseboard.protocols.protocol import ProtocolDef

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


class UnknownProtocolError(PoseboardError, LookupError):
    """No protocol has that name (or that version)."""


def load_protocol_file(path: Path) -> ProtocolDef:
    """Read and validate one YAML protocol definition, naming the file and field on error."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read the protocol definition as text ({exc})") from None
    except yaml.YAMLError as exc:
        raise ResultFileError(f"{path}: not valid YAML ({exc})") from None
    try:
        return ProtocolDef.model_validate(data)
    except ValidationError as exc:
        raise ResultFileError(f"{path}: {validation_message(exc)}") from None


def _search_dirs() -> list[Path]:
    extra = os.environ.get("POSEBOARD_PROTOCOLS_DIR", "")
    return [DEFINITIONS_DIR, *(Path(p) for p in extra.split(os.pathsep) if p)]


@cache
def _all_protocols(dirs: tuple[Path, ...]) -> dict[str, ProtocolDef]:
    found: dict[str, ProtocolDef] = {}
    origin: dict[str, Path] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.yaml")):
            proto = load_protocol_file(path)
            if proto.id in found:
                raise ResultFileError(f"{path}: protocol {proto.id} is also defined in {origin[proto.id]}")
            found[proto.id] = proto
            origin[proto.id] = path
    return found


def all_protocols() -> dict[str, ProtocolDef]:
    """Every known protocol, keyed by ``name@version``."""
    return dict(_all_protocols(tuple(_search_dirs())))


def get_protocol(key: str) -> ProtocolDef:
    """``name`` (newest version) or ``name@version``; an unknown name says what is close."""
    protocols = all_protocols()
    if key in protocols:
        return protocols[key]
    name, _, version = key.partition("@")
    versions = sorted((p for p in protocols.values() if p.name == name), key=lambda p: p.version)
    if versions and not version:
        return versions[-1]
    names = sorted({p.name for p in protocols.values()})
    if versions:
        raise UnknownProtocolError(
            f"protocol {name!r} has no version {version}; known versions: {[p.version for p in versions]}"
        )
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownProtocolError(f"unknown protocol {key!r}{hint} Known: {', '.join(names)}")
