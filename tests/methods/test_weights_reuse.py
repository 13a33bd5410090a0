"""A variant that differs from a trained checkpoint only at inference takes its weights
(``init`` in params.yaml; poseboard/harness/reuse.py), and those are the weights training it
again would write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.errors import PoseboardError
from poseboard.harness.run import train_method

STEPS = 3


def _train(ck: Path, tmp_path: Path, name: str, init: str = "backbone", steps: int = STEPS,
           pose_sharing: str = "frame") -> dict:
    override = tmp_path / f"{name}.yaml"
    override.write_text(f"pose_sharing: {pose_sharing}\ntrain: {{steps: {steps}, batch_size: 2, log_every: 1}}\n")
    return train_method("probabilistic", data_dir=F.data_dir(), checkpoints=ck, profile="smoke",
                        config_path=override, val=False, progress=False, name=name, init=init, seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """checkpoints/ with ``probabilistic`` trained for a few steps (per-frame posterior)."""
    tmp = tmp_path_factory.mktemp("reuse")
    ck = F.checkpoints_copy(tmp / "checkpoints")
    _train(ck, tmp, "probabilistic")
    return ck


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())["config"]


def test_an_inference_only_variant_takes_the_weights_training_would_write(trained, tmp_path):
    reused = _train(trained, tmp_path, "probabilistic-sequence", init="probabilistic", pose_sharing="sequence")
    assert reused["weights_from"] == "probabilistic" and reused["steps"] == STEPS
    assert not (trained / "probabilistic-sequence" / "work").exists()  # nothing was trained
    again = _train(trained, tmp_path, "sequence-trained", pose_sharing="sequence")  # init: backbone
    assert "weights_from" not in again and again["steps"] == STEPS
    copied = (trained / "probabilistic-sequence" / "weights.pt").read_bytes()
    assert copied == (trained / "probabilistic" / "weights.pt").read_bytes()
    assert copied == (trained / "sequence-trained" / "weights.pt").read_bytes()
    assert _config(trained / "probabilistic-sequence") == _config(trained / "sequence-trained")
    assert _config(trained / "probabilistic-sequence")["pose_sharing"] == "sequence"


def test_a_training_difference_trains(trained, tmp_path):
    other = _train(trained, tmp_path, "longer", init="probabilistic", steps=STEPS + 1)
    assert "weights_from" not in other and other["steps"] == STEPS + 1


def test_a_checkpoint_without_a_training_record_is_trained_again(trained, tmp_path):
    import shutil

    shutil.copytree(trained / "probabilistic", trained / "old")
    summary = json.loads((trained / "old" / "train_summary.json").read_text())
    del summary["trained"]
    (trained / "old" / "train_summary.json").write_text(json.dumps(summary))
    again = _train(trained, tmp_path, "from-old", init="old")
    assert "weights_from" not in again


def test_init_is_a_name_not_a_path(trained, tmp_path):
    with pytest.raises(PoseboardError, match="--init"):
        _train(trained, tmp_path, "escape", init="../probabilistic")
