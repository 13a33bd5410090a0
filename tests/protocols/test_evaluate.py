"""Scoring predictions under protocols, and result files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from poseboard.camera import rotation_about_axis
from poseboard.errors import InputError, ResultFileError
from poseboard.protocols.evaluate import build_result, score_pose, score_roots, select_frames
from poseboard.protocols.predictions import (
    PoseGroundTruth,
    PosePredictions,
    RootGroundTruth,
    RootPredictions,
    load_pose_predictions,
    save_pose_predictions,
)
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import (
    DatasetInfo,
    MethodInfo,
    SpeedInfo,
    read_result,
    read_results,
    result_path,
    write_result,
)


def make_gt(n_per_seq=(6, 2), actions=("Walking-1", "Sitting-2")) -> PoseGroundTruth:
    rows, joints = [], []
    rng = np.random.default_rng(0)
    for s, (n, action) in enumerate(zip(n_per_seq, actions, strict=True)):
        for f in range(n):
            rows.append({"sample_id": f"S9/{action}/{f:04d}", "subject": "S9", "action": action,
                         "sequence": f"{action}", "frame": f})
            joints.append(rng.normal(size=(17, 3)) * 300 + [0, 0, 1000] + s)
    meta = pd.DataFrame(rows)
    R = np.stack([rotation_about_axis([0, 0, 1], 0.3 * i) for i in range(len(meta))])
    t = np.tile([100.0, -50.0, 5000.0], (len(meta), 1))
    return PoseGroundTruth(meta=meta, joints_3d=np.stack(joints), reference_R=R, reference_t=t)


def test_relative_protocol_frame_vs_action_weighted():
    gt = make_gt()
    pred = gt.joints_3d.copy()
    pred[:6, :7] += [10.0, 0, 0]  # Walking frames: 7 of 17 joints off by 10 mm, root (6) among them
    pred[6:] += [0, 0, 50.0]  # Sitting frames: pure translation → 0 relative error
    m = score_pose(get_protocol("synth-h36m-relative"), gt, PosePredictions(gt.meta.sample_id.to_numpy(), pred))
    # root-relative: the root moved with 6 others, so 10 joints are now off by 10 mm
    walking = 10 * 10.0 / 17
    assert m.headline == "mpjpe" and m.weighting == "frame"
    assert m.headline_value == pytest.approx(walking * 6 / 8)
    assert m.main.action_weighted["mpjpe"] == pytest.approx(walking / 2)
    # trials are merged: "Walking-1" is reported as "Walking"
    assert set(m.main.per_action["mpjpe"]) == {"Walking", "Sitting"}
    assert m.main.per_action["mpjpe"]["Walking"].count == 6
    lo, hi = m.main.ci95["mpjpe"]
    assert lo <= m.headline_value <= hi
    assert m.units["pck3d"] == "%" and m.higher_is_better["pck3d"]
    assert m.main.overall["pck3d"] == pytest.approx(100.0)


def test_absolute_and_missing_or_unknown_ids():
    gt = make_gt()
    protocol = get_protocol("synth-h36m-absolute")
    ids = gt.meta.sample_id.to_numpy()
    m = score_pose(protocol, gt, PosePredictions(ids, gt.joints_3d + [0, 0, 50.0]))
    assert m.headline_value == pytest.approx(50.0)
    with pytest.raises(InputError, match="1 of the protocol's 8 frames have no prediction"):
        score_pose(protocol, gt, PosePredictions(ids[1:], gt.joints_3d[1:]))
    bad = ids.copy()
    bad[0] = "nope"
    with pytest.raises(InputError, match="not in the dataset"):
        score_pose(protocol, gt, PosePredictions(bad, gt.joints_3d))


def test_stride_and_skip_list_select_exact_sequences():
    gt = make_gt(n_per_seq=(6, 6, 4), actions=("Sitting-1", "SittingDown-1", "Walking-1"))
    protocol = get_protocol("synth-h36m-relative").model_copy(
        update={"frame_stride": 2, "skip_sequences": ("Sitting-1",)}
    )
    mask = select_frames(protocol, gt.meta)
    kept = gt.meta[mask]
    assert "Sitting-1" not in set(kept.sequence)  # exact name: SittingDown-1 stays
    assert kept.groupby("sequence").size().to_dict() == {"SittingDown-1": 3, "Walking-1": 2}
    assert (kept.frame % 2 == 0).all()


def test_reference_camera_frame():
    gt = make_gt()
    protocol = get_protocol("synth-h36m-uncalibrated")
    cam = np.einsum("nij,nkj->nki", gt.reference_R, gt.joints_3d) + gt.reference_t[:, None]
    ids = gt.meta.sample_id.to_numpy()
    m = score_pose(protocol, gt, PosePredictions(ids, cam, frame="reference_camera"))
    assert m.headline_value == pytest.approx(0.0, abs=1e-9)
    # a world-frame prediction is moved into the reference camera with the true extrinsics
    m_world = score_pose(protocol, gt, PosePredictions(ids, gt.joints_3d, frame="world"))
    assert m_world.headline_value == pytest.approx(0.0, abs=1e-9)
    # PA-MPJPE forgives a similarity transform of the prediction
    R = rotation_about_axis([1, 1, 0], 0.4)
    m_sim = score_pose(protocol, gt, PosePredictions(ids, 1.3 * cam @ R.T + 7.0, frame="reference_camera"))
    assert m_sim.main.overall["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert m_sim.main.overall["mpjpe"] > 10


def test_camera_sweep_blocks():
    gt = make_gt()
    protocol = get_protocol("synth-panoptic-sweep")
    ids = gt.meta.sample_id.to_numpy()
    n = len(ids)
    all_ids = np.concatenate([ids, ids, ids])
    joints = np.concatenate([gt.joints_3d + [0, 0, 0], gt.joints_3d, gt.joints_3d])
    joints[:n, 0] += [30.0, 0, 0]
    views = np.repeat([2, 4, 4], n)
    m = score_pose(protocol, gt, PosePredictions(all_ids, joints, num_views=views))
    assert set(m.sweep) == {"2", "4"}
    assert m.sweep["2"].overall["mpjpe"] == pytest.approx(30.0 / 17)
    assert m.sweep["4"].overall["mpjpe"] == pytest.approx(0.0)
    assert m.sweep["4"].num_frames == 2 * n
    assert m.headline_value == pytest.approx(0.0)  # main block: the largest camera count
    with pytest.raises(InputError, match="not among the sweep sizes"):
        score_pose(protocol, gt, PosePredictions(ids, gt.joints_3d, num_views=np.full(n, 5)))


def make_root_gt():
    people = pd.DataFrame({
        "sample_id": ["img0", "img0", "img1", "img2"],
        "person_index": [0, 1, 0, 0],
        "subject": ["T1"] * 4,
        "action": ["Walking", "Walking", "Boxing", "Boxing"],
        "sequence": ["a", "a", "b", "b"],
        "frame": [0, 0, 1, 2],
        "valid": [True, True, True, False],
    })
    roots = np.array([[0, 0, 3000.0], [1000, 0, 4000.0], [0, 0, 5000.0], [0, 0, 6000.0]])
    return RootGroundTruth(people=people, roots=roots)


def test_root_protocol_ap_and_mrpe():
    gt = make_root_gt()
    preds = RootPredictions(
        sample_ids=np.array(["img0", "img0", "img1", "img2"]),
        root=np.array([[0, 0, 3100.0], [1000, 0, 4500.0], [30, 40, 5000.0], [0, 0, 6000.0]]),
        score=np.array([0.9, 0.8, 0.7, 0.95]),
        person_index=np.array([0, 1, 0, 0]),
    )
    m = score_roots(get_protocol("synth-mupots-root"), gt, preds)
    # ranked (img2 ignored: no valid GT): img0/0 TP, img0/1 FP (500 mm), img1 TP → P = 1, 1/2, 2/3
    # recall 1/3, 1/3, 2/3: AP = 1·1/3 + 2/3·1/3
    assert m.main.overall["ap_root"] == pytest.approx(100 * (1 / 3 + 2 / 9))
    assert m.main.extra["ap_root_rootnet_script"] == pytest.approx(100 * 2 / 9)
    # MRPE over valid people with boxes: 100, 500, 50 mm
    assert m.main.overall["mrpe"] == pytest.approx((100 + 500 + 50) / 3)
    assert m.main.extra["mrpe_z"] == pytest.approx(200.0)
    assert m.main.extra["mrpe_x"] == pytest.approx(10.0)
    assert m.headline == "ap_root"


def _result(tmp_path):
    gt = make_gt()
    protocol = get_protocol("synth-h36m-relative")
    ids = gt.meta.sample_id.to_numpy()
    metrics = score_pose(protocol, gt, PosePredictions(ids, gt.joints_3d + 1.0))
    return build_result(
        protocol=protocol,
        method=MethodInfo(name="toy", config={"a": 1}, capabilities=None),
        dataset=DatasetInfo(name="synth-h36m", split="test", source="synthetic", data_hash="abc"),
        metrics=metrics, sample_ids=ids, seeds={"bootstrap": 0},
        speed=SpeedInfo(samples_per_s=10.0, ms_per_sample=100.0, batch_size=4, device="cpu"),
    )


def test_result_round_trip(tmp_path):
    result = _result(tmp_path)
    path = write_result(result, result_path(tmp_path, "toy", result.protocol.id))
    assert path.name == "synth-h36m-relative@3.json"
    back = read_result(path)
    assert back == result
    assert back.git["commit"] is None or len(back.git["commit"]) == 40
    assert back.versions["numpy"] == np.__version__
    assert [r.key for r in read_results(tmp_path)] == [("toy", "synth-h36m-relative@3")]
    assert not list(tmp_path.rglob("*.tmp"))  # atomic write leaves no temporary


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["metrics"].__setitem__("headline_value", "fast"), "metrics.headline_value"),
        (lambda d: d["protocol"].pop("dataset"), "protocol.dataset"),
        (lambda d: d.__setitem__("surprise", 1), "surprise"),
        (lambda d: d["metrics"]["main"]["overall"].__setitem__("mpjpe", None), "metrics.main.overall.mpjpe"),
    ],
)
def test_corrupt_result_is_rejected_naming_file_and_field(tmp_path, mutate, field):
    path = write_result(_result(tmp_path), tmp_path / "toy" / "x@1.json")
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=field.replace(".", r"\.")) as info:
        read_result(path)
    assert str(path) in str(info.value)


def test_truncated_result_file(tmp_path):
    path = write_result(_result(tmp_path), tmp_path / "toy" / "x@1.json")
    path.write_text(path.read_text()[:100])
    with pytest.raises(ResultFileError, match="not valid JSON"):
        read_result(path)


def test_predictions_file_validation(tmp_path):
    path = tmp_path / "p.npz"
    ids = np.array(["a", "b"])
    save_pose_predictions(path, PosePredictions(ids, np.zeros((2, 17, 3))))
    assert load_pose_predictions(path).joints_3d.shape == (2, 17, 3)
    np.savez(path, sample_ids=ids, joints_3d=np.zeros((2, 16, 3)))
    with pytest.raises(ResultFileError, match=r"shape \(2, 17, 3\)"):
        load_pose_predictions(path)
    bad = np.zeros((2, 17, 3))
    bad[1, 4, 0] = np.nan
    np.savez(path, sample_ids=ids, joints_3d=bad)
    with pytest.raises(InputError, match=r"NaN or inf in 1 row.*b"):
        load_pose_predictions(path)
    np.savez(path, sample_ids=np.array(["a", "b"], dtype=object), joints_3d=np.zeros((2, 17, 3)))
    with pytest.raises(ResultFileError, match="unpickling"):
        load_pose_predictions(path)
    np.savez(path, joints_3d=np.zeros((2, 17, 3)))
    with pytest.raises(ResultFileError, match="missing array 'sample_ids'"):
        load_pose_predictions(path)
    np.savez(path, sample_ids=np.array(["a", "a"]), joints_3d=np.zeros((2, 17, 3)))
    with pytest.raises(ResultFileError, match="more than once"):
        load_pose_predictions(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ResultFileError, match="not a readable"):
        load_pose_predictions(path)
