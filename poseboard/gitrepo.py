"""Where a path sits in its git repository: what ``poseboard compare`` and ``poseboard data
check`` need to read the leaderboard as committed at a ref."""

from __future__ import annotations

import subprocess
from pathlib import Path

from poseboard.errors import InputError

__all__ = ["git_toplevel"]


def git_toplevel(path: str | Path) -> tuple[Path, str]:
    """The root of the git repository holding ``path`` (which need not exist: its nearest
    existing folder is asked) and ``path`` relative to it, POSIX-style. Raises
    :class:`InputError` outside a repository."""
    path = Path(path).absolute()
    folder = next((p for p in (path, *path.parents) if p.is_dir()), Path.cwd())
    top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        raise InputError(f"{path}: not inside a git repository ({top.stderr.strip()})")
    root = Path(top.stdout.strip()).resolve()
    return root, path.resolve().relative_to(root).as_posix()
