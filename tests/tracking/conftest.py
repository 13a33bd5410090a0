"""Reuse the report tests' real result files (scored noisy ground truth)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_report_conftest", Path(__file__).resolve().parents[1] / "report" / "conftest.py"
)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory) -> Path:
    return _mod.shared_results(tmp_path_factory)


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A fresh SQLite store in tmp, through MLFLOW_TRACKING_URI (absolute)."""
    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri
