"""Where MLflow records go: ``MLFLOW_TRACKING_URI``, else SQLite at ``<repo>/mlflow.db``.

The default URI is absolute and points at the *main* repository even from a DVC queued
experiment, which runs in a temporary copy under ``<repo>/.dvc/tmp/exps/...``: a relative
``sqlite:///mlflow.db`` would log into that throw-away copy. Artifacts of experiments that
poseboard creates on the default store go to ``<repo>/mlruns/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: Protocol family of a protocol name: the dataset part (``synth-h36m-relative`` → ``synth-h36m``).
_FAMILIES = ("synth-h36m", "synth-panoptic", "synth-mupots", "synth-novel", "human36m", "panoptic", "mupots")


def repo_root(start: str | Path | None = None) -> Path:
    """The repository root: the nearest folder with ``dvc.yaml``, ``params.yaml`` or ``.git``,
    stepping out of a DVC experiment's temporary copy (``.dvc/tmp/exps/...``)."""
    here = Path(start or Path.cwd()).resolve()
    text = here.as_posix()
    marker = "/.dvc/tmp/exps/"
    if marker in text:
        return Path(text.split(marker, 1)[0])
    for folder in (here, *here.parents):
        if any((folder / name).exists() for name in ("dvc.yaml", "params.yaml", ".git")):
            return folder
    return here


def default_tracking_uri(root: str | Path | None = None) -> str:
    return f"sqlite:///{(repo_root(root) / 'mlflow.db').as_posix()}"


def tracking_uri(root: str | Path | None = None) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else the absolute SQLite default."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return env or default_tracking_uri(root)


def is_default_store(uri: str, root: str | Path | None = None) -> bool:
    return uri == default_tracking_uri(root)


def artifact_root(root: str | Path | None = None) -> Path:
    return repo_root(root) / "mlruns"


def protocol_family(protocol_name: str) -> str:
    """``synth-h36m-relative`` → ``synth-h36m``; unknown names keep everything before the last dash."""
    for fam in sorted(_FAMILIES, key=len, reverse=True):
        if protocol_name == fam or protocol_name.startswith(fam + "-"):
            return fam
    return re.sub(r"-[^-]*$", "", protocol_name) or protocol_name


def experiment_name(prefix: str, family: str) -> str:
    return f"{prefix}/{family}"
