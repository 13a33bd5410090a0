"""Real-data configuration: paths from arguments, params or environment; layout checks; CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from poseboard.datasets.real.commands import datasets_app
from poseboard.datasets.real.config import (
    ENV_VARS,
    DatasetLayoutError,
    RealDataConfig,
    check_layout,
    ground_truth_root,
    resolve_root,
)

sys.path.insert(0, str(Path(__file__).parent))  # fixture writers beside this file (pytest --import-mode=importlib)
from real_fixtures import write_h36m, write_mupots, write_panoptic

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)


def test_config_paths_env_and_sources(monkeypatch, tmp_path):
    cfg = RealDataConfig()
    assert cfg.source("human36m") == "synthetic" and not cfg.trust_pickle
    assert all("synthetic world stands in" in line for line in cfg.describe())
    monkeypatch.setenv("POSEBOARD_MUPOTS_ROOT", str(tmp_path))
    assert cfg.path("mupots") == tmp_path and cfg.source("mupots") == "real"
    assert RealDataConfig(use_env=False).path("mupots") is None
    assert RealDataConfig(mupots=tmp_path / "x").path("mupots") == tmp_path / "x"  # params win over env
    with pytest.raises(ValidationError):
        RealDataConfig(human36m_root="/x")  # extra fields are refused
    with pytest.raises(ValueError, match="unknown real dataset"):
        cfg.path("h36m")


def test_resolve_root_errors_name_folder_and_layout(monkeypatch, tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"(?s)POSEBOARD_H36M_ROOT is not set.*expected human36m layout"):
        resolve_root("human36m")
    with pytest.raises(DatasetLayoutError, match=r"(?s)missing: folder not found.*hdPose3d_stage1_coco19"):
        resolve_root("panoptic", tmp_path / "missing")
    monkeypatch.setenv("POSEBOARD_PANOPTIC_ROOT", str(tmp_path))
    assert resolve_root("panoptic") == tmp_path
    # `poseboard evaluate` passes data/<dataset>/<split> by default: fall back to the env var
    assert ground_truth_root("panoptic", tmp_path / "data" / "panoptic" / "test") == tmp_path


def test_check_layout_reports(tmp_path):
    h36m, panoptic, mupots = tmp_path / "h36m", tmp_path / "panoptic", tmp_path / "mupots"
    write_h36m(h36m)
    write_panoptic(panoptic)
    write_mupots(mupots)
    report = check_layout("human36m", h36m)
    assert not report.ok and "--trust-pickle" in report.problems[0]
    report = check_layout("human36m", h36m, trust_pickle=True)
    assert report.ok, report.format()
    assert report.counts["test frames"] == 7 and report.counts["missing views (zero boxes)"] == 2
    assert check_layout("panoptic", panoptic).ok
    assert check_layout("mupots", mupots).ok
    empty = check_layout("mupots", tmp_path / "nothing")
    assert not empty.ok and "folder not found" in empty.problems[0]
    (panoptic / "171204_pose1" / "calibration_171204_pose1.json").write_text("{")
    bad = check_layout("panoptic", panoptic)
    assert not bad.ok and any("calibration_171204_pose1.json: calibration is truncated" in p for p in bad.problems)
    assert "expected panoptic layout" in bad.format()


def test_cli_check_and_convert(tmp_path):
    h36m, mupots = tmp_path / "h36m", tmp_path / "mupots"
    write_h36m(h36m)
    write_mupots(mupots)
    ok = runner.invoke(datasets_app, ["check", "mupots", str(mupots)])
    assert ok.exit_code == 0, ok.output
    assert "status: OK" in ok.output and "images: 3" in ok.output
    refused = runner.invoke(datasets_app, ["check", "human36m", str(h36m)])
    assert refused.exit_code == 1 and "pickled" in refused.output
    labels = h36m / "extra" / "human36m-multiview-labels-GTbboxes.npy"
    no_trust = runner.invoke(datasets_app, ["convert-h36m", str(labels)])
    assert no_trust.exit_code == 2 and "--trust-pickle" in no_trust.output
    assert not (h36m / "extra" / "human36m-multiview-labels-GTbboxes").exists()
    converted = runner.invoke(datasets_app, ["convert-h36m", str(labels), "--trust-pickle"])
    assert converted.exit_code == 0, converted.output
    after = runner.invoke(datasets_app, ["check", "human36m", str(h36m)])
    assert after.exit_code == 0 and "pickle-free labels" in after.output
    unknown = runner.invoke(datasets_app, ["check", "h36m", str(h36m)])
    assert unknown.exit_code == 2
    assert "no path set" in runner.invoke(datasets_app, ["paths"]).output
