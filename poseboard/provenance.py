"""Provenance recorded with every result: commit, package versions, hardware, hashes."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = ("poseboard", "torch", "numpy", "scipy", "pandas", "pydantic", "mlflow", "dvc")


def package_versions(packages: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions (``"not installed"`` where absent), plus the Python version."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(cwd: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the repository around ``cwd``."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return {"commit": sha, "dirty": bool(status)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def hardware() -> dict[str, Any]:
    """CPU model, core count, torch threads and accelerator (torch is only asked if imported)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "accelerator": None,
        "torch_threads": None,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["accelerator"] = torch.cuda.get_device_name(0)
    return info


def hash_ids(ids: Iterable[str]) -> str:
    """Order-independent SHA-256 of a set of sample ids (which frames were evaluated)."""
    digest = hashlib.sha256()
    for sample_id in sorted(ids):
        digest.update(sample_id.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def hash_json(obj: Any) -> str:
    """SHA-256 of a JSON-able object in canonical form (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
