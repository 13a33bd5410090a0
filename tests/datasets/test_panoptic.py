"""CMU Panoptic (panoptic-toolbox layout) on a miniature fixture."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.real.config import DatasetLayoutError
from poseboard.datasets.real.panoptic import (
    PANOPTIC_TO_ZUP,
    PanopticMultiView,
    camera_order,
    coco19_to_h36m17,
    load_calibration,
    load_frames,
    load_ground_truth,
)
from poseboard.protocols.evaluate import evaluate_predictions_file
from poseboard.protocols.predictions import PosePredictions, save_pose_predictions
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import read_result
from poseboard.skeleton import H36M17

sys.path.insert(0, str(Path(__file__).parent))  # fixture writers beside this file (pytest --import-mode=importlib)
from real_fixtures import PANOPTIC_HD, TEMPLATE_H36M17, coco19_pose_zup, toolbox_project, write_panoptic

SEQ = "171204_pose1"


@pytest.fixture(scope="module")
def panoptic(tmp_path_factory):
    root = tmp_path_factory.mktemp("panoptic")
    return root, write_panoptic(root)


@pytest.fixture
def panoptic_copy(panoptic, tmp_path):
    root = tmp_path / "panoptic"
    shutil.copytree(panoptic[0], root)
    return root


def test_calibration_units_types_and_projection(panoptic):
    root, truth = panoptic
    cams = load_calibration(root / SEQ / f"calibration_{SEQ}.json")
    assert sorted(cams) == sorted(PANOPTIC_HD)  # vga and kinect-color are ignored
    pose_cm = (coco19_pose_zup([0, 0, 0]) @ PANOPTIC_TO_ZUP) / 10.0  # a point in the file's (Y-down, cm) world
    for rec in truth["calibration"]:
        cam = cams[rec["name"]]
        assert cam.image_size == (64, 48) and cam.has_distortion
        # the loaded camera (Z-up world, mm) projects exactly as the toolbox does in its own world
        for j in (0, 2, 8, 14):
            ours = cam.project(PANOPTIC_TO_ZUP @ pose_cm[j] * 10.0)
            np.testing.assert_allclose(ours, toolbox_project(pose_cm[j], rec), atol=1e-6)
        # t converted from cm to mm: the cameras sit ~2.8 m from the centre
        assert 2500 < np.linalg.norm(cam.center[:2]) < 3100
    assert camera_order(list(cams))[:5] == ["00_03", "00_06", "00_12", "00_13", "00_23"]


def test_joint_mapping_and_units():
    coco = coco19_pose_zup([0, 0, 0])
    j17, _ = coco19_to_h36m17(coco, np.full(19, 0.9))
    exact = [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15]  # ankles, knees, hips, pelvis, arms
    np.testing.assert_allclose(j17[exact], TEMPLATE_H36M17[exact])
    np.testing.assert_allclose(j17[H36M17.index("Thorax")], coco[0])  # Neck
    np.testing.assert_allclose(j17[H36M17.index("Spine")], 0.5 * (coco[0] + coco[2]))
    np.testing.assert_allclose(j17[H36M17.index("Neck")], coco[1])  # Neck/Nose ← Nose
    ears = 0.5 * (coco[16] + coco[18])
    np.testing.assert_allclose(j17[H36M17.index("Head")], ears + 0.75 * (ears - coco[0]))
    assert j17[9, 2] > j17[16, 2] > j17[8, 2]  # head top above nose above thorax (Z up)
    conf19 = np.full(19, 0.9)
    conf19[[16, 18]] = -1.0  # ears missing → eyes
    j17b, c17b = coco19_to_h36m17(coco, conf19)
    eyes = 0.5 * (coco[15] + coco[17])
    np.testing.assert_allclose(j17b[9], eyes + 0.75 * (eyes - coco[0]))
    assert c17b[9] == pytest.approx(0.9)


def test_frames_single_person_low_confidence_and_zup(panoptic):
    root, truth = panoptic
    frames = load_frames(root, "test")
    assert set(frames.meta.sequence) == {SEQ}  # the two-person sequence is skipped
    assert "160422_haggling1" in frames.skipped
    assert frames.meta.sample_id.tolist() == [f"{SEQ}/00000100", f"{SEQ}/00000101"]  # frame 102: low-conf ankle
    pose, _ = truth["frames"][100]
    j17, _ = coco19_to_h36m17(pose, np.full(19, 0.9))
    np.testing.assert_allclose(frames.joints[0], j17, atol=1e-3)  # mm, Z up (the fixture's own world)
    assert frames.joints[0, 9, 2] > 1500
    everything = load_frames(root, "test", complete_only=False)
    assert len(everything.meta) == 3
    ds = PanopticMultiView(root, "test", complete_only=False, load_images=False, cameras=[0, 1])
    s = ds[2]
    assert not s.visibility[:, H36M17.index("LAnkle")].any()
    assert s.visibility[:, H36M17.index("RAnkle")].all()


def test_samples_crop_cameras_and_images(panoptic):
    root, _ = panoptic
    ds = PanopticMultiView(root, "test", cameras=[0, 1, 2, 3], image_size=(32, 32))
    s = ds[0]
    assert [c.name for c in s.cameras] == ["00_03", "00_06", "00_12", "00_13"]
    assert s.images.shape == (4, 3, 32, 32) and s.view_valid.all()
    for v in range(4):
        assert not s.cameras[v].has_distortion  # crops resampled through the lens model
        u, w = np.round(s.joints_2d[v, 6]).astype(int)
        assert s.images[v, :, w, u].mean() > 150, f"view {v}: the pelvis blob is where the crop camera projects it"
        assert s.visibility[v].all()
    raw = PanopticMultiView(root, "test", cameras=["00_03"], image_size=(32, 32), undistort=False)[0]
    assert raw.cameras[0].has_distortion
    u, w = np.round(raw.joints_2d[0, 6]).astype(int)
    assert raw.images[0, :, w, u].mean() > 150


def test_protocols_end_to_end(panoptic, tmp_path):
    root, _ = panoptic
    gt = load_ground_truth(root, get_protocol("panoptic-relative"))
    assert gt.source == "real" and gt.joints_3d.shape == (2, 17, 3)
    rng = np.random.default_rng(0)
    preds = tmp_path / "preds.npz"
    save_pose_predictions(preds, PosePredictions(gt.meta.sample_id.to_numpy(),
                                                 gt.joints_3d + rng.normal(0, 10, gt.joints_3d.shape)))
    results = tmp_path / "results"
    _, path = evaluate_predictions_file(preds, "panoptic-relative", method="noisy-gt", ground_truth=root,
                                        results_dir=results)
    back = read_result(path)
    assert back.protocol.id == "panoptic-relative@1" and back.metrics.main.num_frames == 2
    assert 5 < back.metrics.headline_value < 30
    # the sweep: one row per (frame, subset size)
    ids, joints, nv = [], [], []
    for n in (1, 2, 4):
        ids += gt.meta.sample_id.tolist()
        joints.append(gt.joints_3d + 20.0 / n * rng.normal(size=gt.joints_3d.shape))
        nv += [n] * len(gt.meta)
    sweep_file = tmp_path / "sweep.npz"
    save_pose_predictions(sweep_file, PosePredictions(np.array(ids), np.concatenate(joints),
                                                      num_views=np.array(nv)))
    sweep, path = evaluate_predictions_file(sweep_file, "panoptic-sweep", method="noisy-gt", ground_truth=root,
                                            results_dir=results)
    assert set(read_result(path).metrics.sweep) == {"1", "2", "4"}
    assert sweep.metrics.sweep["1"].overall["mpjpe"] > sweep.metrics.sweep["4"].overall["mpjpe"]


def test_splits_file(panoptic_copy):
    root = panoptic_copy
    with pytest.raises(DatasetLayoutError, match=r"splits\.json: split 'train' needs a split file"):
        load_frames(root, "train")
    (root / "splits.json").write_text(json.dumps({"train": [SEQ], "test": ["nope"]}))
    assert len(load_frames(root, "train").meta) == 2
    with pytest.raises(DatasetLayoutError, match=r"sequence folder\(s\) \['nope'\]"):
        load_frames(root, "test")


# ----------------------------------------------------------------------------- corrupt layouts
def test_missing_calibration_names_the_file(panoptic_copy, tmp_path):
    root = panoptic_copy
    (root / SEQ / f"calibration_{SEQ}.json").unlink()
    with pytest.raises(DatasetLayoutError, match=rf"(?s)calibration_{SEQ}\.json: calibration file not found.*"
                                                 "expected panoptic layout"):
        load_frames(root, "test")
    preds = tmp_path / "p.npz"
    save_pose_predictions(preds, PosePredictions(np.array([f"{SEQ}/00000100"]), np.zeros((1, 17, 3))))
    with pytest.raises(DatasetLayoutError):
        evaluate_predictions_file(preds, "panoptic-relative", ground_truth=root, results_dir=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_truncated_pose_file(panoptic_copy):
    path = panoptic_copy / SEQ / "hdPose3d_stage1_coco19" / "body3DScene_00000101.json"
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    with pytest.raises(DatasetLayoutError, match=r"body3DScene_00000101\.json: pose file is truncated"):
        load_frames(panoptic_copy, "test")


def test_wrong_fields(panoptic_copy):
    path = panoptic_copy / SEQ / "hdPose3d_stage1_coco19" / "body3DScene_00000101.json"
    doc = json.loads(path.read_text())
    doc["bodies"][0]["joints15"] = doc["bodies"][0].pop("joints19")[:60]
    path.write_text(json.dumps(doc))
    with pytest.raises(DatasetLayoutError, match=r"body3DScene_00000101\.json: bodies\[0\].*no 'joints19'"):
        load_frames(panoptic_copy, "test")
    calib = panoptic_copy / SEQ / f"calibration_{SEQ}.json"
    doc = json.loads(calib.read_text())
    del doc["cameras"][0]["distCoef"]
    calib.write_text(json.dumps(doc))
    with pytest.raises(DatasetLayoutError, match=r"pose1\.json: cameras\[0\]: missing field.*distCoef"):
        load_frames(panoptic_copy, "test")


@pytest.mark.parametrize(("joint_scale", "t_scale", "message"), [
    (0.01, 1.0, "joints19: keypoints look like metres, not cm"),
    (10.0, 1.0, "joints19: keypoints look like mm, not cm"),
    (1.0, 0.01, "camera t: .* centimetres"),
])
def test_wrong_units(tmp_path, joint_scale, t_scale, message):
    write_panoptic(tmp_path, joint_scale=joint_scale, t_scale=t_scale)
    with pytest.raises(DatasetLayoutError, match=message):
        load_frames(tmp_path, "test")


def test_missing_image_names_the_file(panoptic_copy):
    (panoptic_copy / SEQ / "hdImgs" / "00_06" / "00_06_00000100.jpg").unlink()
    ds = PanopticMultiView(panoptic_copy, "test", cameras=[0, 1], image_size=(16, 16))
    with pytest.raises(DatasetLayoutError, match=r"00_06_00000100\.jpg: image not found"):
        ds[0]
