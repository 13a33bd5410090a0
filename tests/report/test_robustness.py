"""The calibration-robustness table and figure, from real scored result files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from poseboard.errors import InputError
from poseboard.protocols.evaluate import build_result, score_pose
from poseboard.protocols.ground_truth import load_ground_truth
from poseboard.protocols.predictions import PosePredictions
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, read_results, result_path, write_result
from poseboard.report.figures import build_figures
from poseboard.report.model import build_boards, calibration_curves
from poseboard.report.tables import TABLES, latest_boards, render_table

PROTOCOL = "synth-h36m-calibration"


def _robustness_results(results_dir: Path, out: Path) -> Path:
    """The shared results plus ``noise-8mm`` under the calibration sweep, its noise growing
    with the calibration error (as a calibrated method's would)."""
    shutil.copytree(results_dir, out)
    data = results_dir.parent / "data"
    rng = np.random.default_rng(0)
    protocol = get_protocol(PROTOCOL)
    assert protocol.calibration_sweep is not None
    gt = load_ground_truth(protocol, data / protocol.dataset / protocol.split)
    ids = gt.meta["sample_id"].astype(str).to_numpy()
    joints, levels = [], []
    for i, level in enumerate(protocol.calibration_sweep.levels):
        sigma = 8.0 + 10.0 * level.rotation_deg
        joints.append(gt.joints_3d + rng.normal(0, sigma, gt.joints_3d.shape))
        levels.append(np.full(len(ids), i))
    n = len(levels)
    preds = PosePredictions(sample_ids=np.tile(ids, n), joints_3d=np.concatenate(joints),
                            calibration_level=np.concatenate(levels))
    result = build_result(
        protocol=protocol, method=MethodInfo(name="noise-8mm", config={}, capabilities=None),
        dataset=DatasetInfo(name=protocol.dataset, split=protocol.split, source=gt.source, data_hash=gt.data_hash),
        metrics=score_pose(protocol, gt, preds), sample_ids=ids, seeds={}, speed=SpeedInfo(
            samples_per_s=None, ms_per_sample=None, batch_size=None, device=None),
    )
    write_result(result, result_path(out, "noise-8mm", protocol.id))
    return out


def test_curves_table_and_figure(results_dir, tmp_path):
    results = _robustness_results(results_dir, tmp_path / "results")
    boards = build_boards(read_results(results))
    latest = latest_boards(boards)
    levels, curves = calibration_curves(latest)
    assert levels == [(0.0, 0.0), (0.5, 10.0), (1.0, 25.0), (3.0, 75.0)]
    values = [p[2] for p in curves["noise-8mm"]]
    assert len(values) == 4 and values == sorted(values)  # one point per level, growing with the error
    assert set(curves) == {"noise-8mm"}  # methods without robustness results are not drawn
    board = latest[PROTOCOL]
    assert board.rows[0].value == values[-1]  # the headline is the largest error's
    spec = next(t for t in TABLES if t.name == "poseboard_calibration_robustness")
    table = render_table(spec, latest)
    assert table.filled
    assert "| method | exact | 0.5° / 10 mm | 1° / 25 mm | 3° / 75 mm |" in table.markdown
    assert "`noise-8mm`" in table.markdown
    figures, missing = build_figures(boards, tmp_path / "figures")
    names = {f.name for f in figures}
    assert "mpjpe_vs_calibration_error" in names and "calibration_robustness" not in {m.name for m in missing}
    assert not any(PROTOCOL in name for name in names)  # no per-action / per-joint / speed figure of the sweep
    assert (tmp_path / "figures" / "mpjpe_vs_calibration_error.png").stat().st_size > 1000


def test_a_calibration_sweep_result_needs_every_level(results_dir):
    protocol = get_protocol(PROTOCOL)
    gt = load_ground_truth(protocol, results_dir.parent / "data" / protocol.dataset / protocol.split)
    ids = gt.meta["sample_id"].astype(str).to_numpy()
    with pytest.raises(InputError, match="the file needs 'calibration_level'"):
        score_pose(protocol, gt, PosePredictions(sample_ids=ids, joints_3d=gt.joints_3d))
    with pytest.raises(InputError, match=r"no predictions at calibration level\(s\) \['1deg-25mm', '3deg-75mm'\]"):
        score_pose(protocol, gt, PosePredictions(sample_ids=np.tile(ids, 2), joints_3d=np.tile(gt.joints_3d, (2, 1, 1)),
                                                 calibration_level=np.repeat([0, 1], len(ids))))


def test_result_files_carry_per_joint_errors_depth_bins_and_an_ap_interval(results_dir):
    results = {(r.method.name, r.protocol.name): r for r in read_results(results_dir)}
    pose = results[("noise-8mm", "synth-h36m-relative")].metrics.main
    assert len(pose.per_joint) == 17 and {"Pelvis", "Head", "LWrist"} <= set(pose.per_joint)
    assert pose.per_joint["Pelvis"]["mean"] == 0.0  # root-aligned: the pelvis error is 0 by construction
    others = [s for s in pose.per_joint.values() if s["mean"] > 0]
    assert all(s["median"] <= s["p90"] for s in others)
    # 3D Gaussian noise of σ = 8 mm per axis on both sides of the root difference: mean ≈ 8·√2·1.6
    assert 12 < float(np.mean([s["mean"] for s in others])) < 24
    root = results[("noise-8mm", "synth-mupots-root")].metrics.main
    lo, hi = root.ci95["ap_root"]
    assert lo <= root.overall["ap_root"] <= hi
    bins = {k: v for k, v in root.extra.items() if k.startswith("depth_error_mm@")}
    assert bins and sum(v for k, v in root.extra.items() if k.startswith("depth_people@")) > 0
