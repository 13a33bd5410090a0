"""Names a user chooses that become paths and HTML ids: methods, variants, runs.

A submitted method name is filed as ``results/<name>/`` and shown on the leaderboard, so it
must never choose a path (``../../escaped``, ``/etc``, ``a/b``), hide a control character or
carry markup (``<img src=x onerror=…>``). One rule, checked wherever a name becomes a path:
"""

from __future__ import annotations

import re
from pathlib import Path

from poseboard.errors import InputError

__all__ = ["NAME_PATTERN", "NAME_RULE", "check_name", "path_inside"]

#: A method, variant or run name: lower-case letters, digits, '.', '_' and '-', starting with a
#: letter or digit, at most 64 characters (so never '.', '..', a separator or markup).
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NAME_RULE = "1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or a digit"


def check_name(name: str, what: str = "--method") -> str:
    """``name`` when it follows :data:`NAME_RULE`, else an :class:`InputError` naming ``what``
    (the option or key it came from), the offending name (escaped, so a control character shows)
    and the rule."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InputError(f"{what}: {name!r} is not a valid name; use {NAME_RULE} (e.g. my-method)")
    return name


def path_inside(root: str | Path, *parts: str) -> Path:
    """``root / parts…``, refused unless it resolves inside ``root`` (a symlink out of it, an
    absolute part or ``..`` would put a file elsewhere)."""
    base = Path(root).resolve()
    path = Path(root).joinpath(*parts)
    if not path.resolve().is_relative_to(base):
        raise InputError(f"{path}: resolves to {path.resolve()}, outside the folder {base}; "
                         "results are written only inside it")
    return path
