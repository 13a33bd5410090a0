"""scripts/error_breakdown.py: the split of MPJPE into shared-good joints and gross failures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "error_breakdown.py"


@pytest.fixture(scope="module")
def mod():
    spec = importlib.util.spec_from_file_location("error_breakdown", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_breakdown_on_hand_made_errors(mod):
    # two frames of 17 joints: "a" is 10 mm everywhere but one gross joint; "b" 20 mm everywhere
    a = np.full((2, 17), 10.0)
    a[0, 3] = 500.0
    b = np.full((2, 17), 20.0)
    summary, joints = mod.breakdown({"a": a, "b": b}, gross_mm=150.0)
    assert summary.loc["a", "mean"] == pytest.approx((10 * 33 + 500) / 34)
    assert summary.loc["a", "joints > 150 mm (%)"] == pytest.approx(100 / 34)
    assert summary.loc["b", "joints > 150 mm (%)"] == 0
    # the shared-good regime drops the joint "a" failed for both methods
    assert summary.loc["a", "mean where all < 150 mm"] == pytest.approx(10.0)
    assert summary.loc["b", "mean where all < 150 mm"] == pytest.approx(20.0)
    assert summary.loc["b", "frames better than a (%)"] == pytest.approx(50.0)  # frame 0 only
    assert joints.loc["LHip", "a"] == pytest.approx(255.0) and joints.shape == (17, 2)
