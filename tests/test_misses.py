"""poseboard misses: where a method's gross 2D misses land (poseboard/workflows/misses.py). The labelling
and the table on hand-made detections, then the command on the tiny world's algebraic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "methods"))
import method_fixtures as F

from poseboard.cli import app
from poseboard.errors import InputError, ShapeError
from poseboard.workflows.misses import NOT_A_MISS, NOT_COUNTED, NOWHERE, miss_landings, summarize_misses

runner = CliRunner()
NAMES = ("RWrist", "LWrist", "RHip", "Head")
SWAP = (1, 0, 2, 3)  # the wrists mirror each other; RHip and Head map to themselves here


def _view() -> np.ndarray:
    """(4, 2) ground truth of one 100-px view: wrists, a hip, the head, far apart."""
    return np.array([[20.0, 50.0], [80.0, 50.0], [30.0, 80.0], [50.0, 10.0]])


def test_each_miss_is_labelled_by_where_it_lands():
    gt = _view()
    pred = gt.copy()
    pred[0] = gt[1] + [1.0, 1.0]  # the right wrist on the left: a swap
    pred[1] = gt[2] + [0.0, 2.0]  # the left wrist on the hip
    pred[2] = [60.0, 90.0]  # the hip on nothing (beyond 5 px of every joint)
    pred[3] = gt[3] + [10.0, 0.0]  # the head 10 px off: within 10 % of the crop, not a miss
    counted = np.ones(4, bool)
    labels = miss_landings(pred[None], gt[None], counted[None], crop_px=100)[0]
    assert labels.tolist() == [1, 2, NOWHERE, NOT_A_MISS]
    counted[2] = False
    assert miss_landings(pred, gt, counted, crop_px=100)[2] == NOT_COUNTED


def test_the_thresholds_are_the_crop_fractions_inclusive():
    gt = _view()
    pred = gt.copy()
    pred[3] = gt[3] + [10.0, 0.0]  # exactly 10 % of 100 px: not a miss
    pred[0] = gt[1] + [5.0, 0.0]  # exactly 5 px from the left wrist: lands on it
    labels = miss_landings(pred, gt, np.ones(4, bool), crop_px=100)
    assert labels[3] == NOT_A_MISS and labels[0] == 1
    pred[0] = gt[1] + [5.01, 0.0]
    assert miss_landings(pred, gt, np.ones(4, bool), crop_px=100)[0] == NOWHERE


def test_bad_shapes_and_thresholds_are_refused():
    with pytest.raises(ShapeError, match="pred_2d and gt_2d"):
        miss_landings(np.zeros((4, 2)), np.zeros((5, 2)), np.ones(4, bool), 100)
    with pytest.raises(InputError, match="landing"):
        miss_landings(np.zeros((4, 2)), np.zeros((4, 2)), np.ones(4, bool), 100, fraction=0.1, landing=0.2)


def test_the_table_counts_shares_of_the_misses():
    # 5 views of the 4 joints. The right wrist: missed in 4 of 5 counted views, twice onto the
    # left wrist (once hidden), once onto the hip (hidden), once nowhere; not counted once.
    labels = np.array([
        [1, NOT_A_MISS, NOT_A_MISS, NOT_A_MISS],
        [1, NOT_A_MISS, NOT_A_MISS, NOT_A_MISS],
        [2, NOT_A_MISS, NOT_A_MISS, NOT_A_MISS],
        [NOWHERE, NOT_A_MISS, NOT_A_MISS, NOT_A_MISS],
        [NOT_A_MISS, NOT_A_MISS, NOT_A_MISS, NOT_A_MISS],
        [NOT_COUNTED, NOT_A_MISS, NOT_A_MISS, NOT_A_MISS],
    ])
    hidden = np.zeros(labels.shape, bool)
    hidden[1, 0] = hidden[2, 0] = True
    table = summarize_misses(labels, hidden, SWAP, NAMES).set_index("joint")
    r = table.loc["RWrist"]
    assert (r.views, r.miss_pct) == (5, 80.0)
    assert (r.swapped_pct, r.other_joint_pct, r.nowhere_pct, r.hidden_pct) == (50.0, 25.0, 25.0, 50.0)
    assert r.top_landing == "RHip (25 %)"
    assert table.loc["Head"].miss_pct == 0.0 and table.loc["Head"].top_landing == ""


def test_the_command_on_a_trained_method(tmp_path):
    ck = F.checkpoints_copy(tmp_path / "checkpoints")
    out = tmp_path / "misses.json"
    result = runner.invoke(app, ["misses", "algebraic", "--protocol", "synth-h36m-relative", "--data-dir",
                                 str(F.data_dir()), "--checkpoints", str(ck), "--threads", "1", "--device", "cpu",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "algebraic on synth-h36m-relative: action = all" in result.output
    record = json.loads(out.read_text())
    rows = record["rows"]
    every = [r for r in rows if r["action"] == "all"]
    assert [r["joint"] for r in every][:3] == ["RAnkle", "RKnee", "RHip"] and len(every) == 17
    for r in every:  # the actions partition the frames
        assert r["views"] == sum(s["views"] for s in rows if s["joint"] == r["joint"] and s["action"] != "all")
        assert 0.0 <= r["miss_pct"] <= 100.0
        if r["miss_pct"]:
            assert r["swapped_pct"] + r["other_joint_pct"] + r["nowhere_pct"] == pytest.approx(100.0)


def test_the_command_says_what_is_wrong(tmp_path):
    ck = F.checkpoints_copy(tmp_path / "checkpoints")
    args = ["--protocol", "synth-h36m-relative", "--data-dir", str(F.data_dir()), "--checkpoints", str(ck),
            "--device", "cpu"]
    missing = runner.invoke(app, ["misses", "volumetric", *args])
    assert missing.exit_code == 2 and "no trained method here" in missing.output
    column = runner.invoke(app, ["misses", "algebraic", *args, "--by", "weather"])
    assert column.exit_code == 2 and "'weather'" in column.output and "action" in column.output
    bad = runner.invoke(app, ["misses", "../algebraic", *args])
    assert bad.exit_code != 0
