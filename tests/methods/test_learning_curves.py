"""scripts/learning_curves.py measures a training's validation curve from inside its logging
hook; the measurement must leave the training untouched, or the curve would be another
run's, not the board's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "learning_curves.py"


def _script():
    spec = importlib.util.spec_from_file_location("learning_curves", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit(build, evaluate_every: int | None, tmp: Path):
    """Train ``build()`` for 6 smoke steps; with ``evaluate_every``, under the script's tracker."""
    lc = _script()
    method = F._seeded(build)()
    method.config.train.steps, method.config.train.log_every = 6, 1
    method.progress = False
    tracker = lc.EvaluatingTracker(method, F.h36m("test"), 8, evaluate_every) if evaluate_every else None
    method.fit(F.h36m("train"), None, tracker=tracker, workdir=tmp)
    return method, tracker


def test_validating_inside_the_training_leaves_its_weights_as_they_were(tmp_path):
    """Volumetric: the method whose ``predict`` needs the most (the algebraic pelvis model,
    attached before training by the script; batch-norm layers the evaluation must not update)."""
    lc = _script()
    plain, _ = _fit(F._volumetric, None, tmp_path / "plain")
    measured, tracker = _fit(F._volumetric, 2, tmp_path / "measured")
    assert [p["step"] for p in tracker.curve] == [2, 4, 6]
    assert all(p["mpjpe_rel"] > 0 and p["mpjpe_abs"] > 0 for p in tracker.curve)
    assert lc.same_weights(measured.state_dict(), plain.state_dict())


def test_same_weights_sees_one_changed_bit():
    lc = _script()
    a = {"net": {"w": torch.arange(6.0), "b": torch.zeros(2)}, "scale": torch.tensor(1.0, dtype=torch.float64)}
    b = {"net": {"w": torch.arange(6.0), "b": torch.zeros(2)}, "scale": torch.tensor(1.0, dtype=torch.float64)}
    assert lc.same_weights(a, b)
    b["net"]["w"][3] = torch.nextafter(torch.tensor(3.0), torch.tensor(4.0))
    assert not lc.same_weights(a, b)
    assert not lc.same_weights(a, {"net": a["net"]})
