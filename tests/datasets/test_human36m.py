"""Human3.6M (learnable triangulation's labels and image folders) on a miniature fixture."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.real.config import DatasetLayoutError, PickleNotTrustedError
from poseboard.datasets.real.human36m import (
    DAMAGED_SEQUENCES,
    Human36MMultiView,
    convert_labels,
    load_ground_truth,
    load_labels,
    scale_bbox,
    tlbr_to_ltrb,
)
from poseboard.protocols.evaluate import evaluate_predictions_file
from poseboard.protocols.predictions import PosePredictions, save_pose_predictions
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import read_result

sys.path.insert(0, str(Path(__file__).parent))  # fixture writers beside this file (pytest --import-mode=importlib)
from real_fixtures import H36M_CAMERAS, h36m_cameras, h36m_labels, write_h36m


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    labels = write_h36m(root)
    return root, labels


@pytest.fixture
def h36m_copy(h36m, tmp_path):
    root = tmp_path / "h36m"
    shutil.copytree(h36m[0], root)
    return root


def test_pickled_labels_need_explicit_trust(h36m):
    root, _ = h36m
    with pytest.raises(PickleNotTrustedError, match=r"(?s)executes.*--trust-pickle.*convert-h36m"):
        load_labels(root)
    labels = load_labels(root, trust_pickle=True)
    assert labels.kind == "pickle"
    assert labels.camera_names == H36M_CAMERAS


def test_cameras_units_and_boxes(h36m):
    root, raw = h36m
    labels = load_labels(root, trust_pickle=True)
    assert labels.t.shape == (7, 4, 3) and labels.dist.shape == (7, 4, 5) and labels.K.shape == (7, 4, 3, 3)
    row = 3  # S9 Greeting-2, frame 64
    s = int(labels.subject_idx[row])
    kp = labels.keypoints[row].astype(np.float64)
    assert np.ptp(kp[:, 2]) > 1000  # millimetres: a standing person spans > 1 m
    for c in range(4):
        cam = labels.camera(s, c)
        np.testing.assert_allclose(cam.t, raw["cameras"][s, c]["t"][:, 0], atol=1e-3)
        uv = cam.project(kp, distort=False)
        left, top, right, bottom = tlbr_to_ltrb(labels.bbox_tlbr[row, c])
        assert (uv[:, 0] >= left).all() and (uv[:, 0] < right).all()
        assert (uv[:, 1] >= top).all() and (uv[:, 1] < bottom).all()
        assert right - left == bottom - top  # boxes are squared in the file


def test_scale_bbox_matches_reference():
    assert scale_bbox((10, 20, 30, 40), 1.0) == (10, 20, 30, 40)
    assert scale_bbox((10, 20, 30, 40), 1.5) == (5, 15, 35, 45)
    assert tlbr_to_ltrb((1, 2, 3, 4)) == (2, 1, 4, 3)


def test_splits_ids_and_samples(h36m):
    root, _ = h36m
    train = Human36MMultiView(root, "train", trust_pickle=True, image_size=(32, 32))
    test = Human36MMultiView(root, "test", trust_pickle=True, image_size=(32, 32))
    assert set(train.meta.subject) == {"S1"}
    assert set(test.meta.subject) == {"S9", "S11"} and len(test) == 7
    assert "S9/Greeting-2/000064" in set(test.meta.sample_id)
    sample = test[int(np.flatnonzero(test.meta.sample_id == "S9/Greeting-2/000064")[0])]
    assert sample.meta.sequence == "Greeting-2" and sample.meta.frame == 64
    assert sample.images.shape == (4, 3, 32, 32) and sample.images.dtype == np.uint8
    assert sample.view_valid.all() and sample.visibility.all()
    for v in range(4):
        assert sample.cameras[v].image_size == (32, 32)
        assert not sample.cameras[v].has_distortion  # undistorted images: projection ignores distortion
        u, w = np.round(sample.joints_2d[v, 6]).astype(int)
        # the fixture drew a bright blob at the pelvis: the crop camera finds it in the crop
        assert sample.images[v, :, w, u].mean() > 150, f"view {v}"
        assert sample.images[v, :, 1, 1].mean() < 120
    np.testing.assert_allclose(sample.projection_matrices[0] @ np.r_[sample.joints_3d[6], 1.0],
                               np.r_[sample.joints_2d[0, 6], 1.0] * (sample.projection_matrices[0][2]
                                                                      @ np.r_[sample.joints_3d[6], 1.0]), rtol=1e-9)


def test_missing_view_is_marked_or_dropped(h36m):
    root, _ = h36m
    ds = Human36MMultiView(root, "test", trust_pickle=True, image_size=(32, 32))
    i = int(np.flatnonzero(ds.meta.sample_id == "S11/Directions-2/000000")[0])
    sample = ds[i]
    assert sample.view_valid.tolist() == [False, True, True, True]
    assert not sample.visibility[0].any() and sample.images[0].max() == 0
    assert sample.boxes[0].tolist() == [0, 0, 0, 0]
    dropped = Human36MMultiView(root, "test", trust_pickle=True, image_size=(32, 32), missing_views="drop")[i]
    assert dropped.num_views == 3 and [c.name for c in dropped.cameras] == H36M_CAMERAS[1:]


def test_skip_list_and_stride(h36m):
    root, _ = h36m
    ds = Human36MMultiView(root, "test", trust_pickle=True, skip_sequences=DAMAGED_SEQUENCES, load_images=False)
    assert not (ds.meta.sequence == "Greeting-2").any() and len(ds) == 5
    assert not Human36MMultiView(root, "test", trust_pickle=True, load_images=False,
                                 skip_sequences=["Greeting"]).meta.empty  # exact names only, never a prefix
    strided = Human36MMultiView(root, "test", trust_pickle=True, load_images=False, frame_stride=2)
    assert len(strided) == 4  # the first of every two frames of each of the 4 test sequences


def test_conversion_is_pickle_free_and_preferred(h36m_copy):
    root = h36m_copy
    with pytest.raises(PickleNotTrustedError):
        convert_labels(root / "extra" / "human36m-multiview-labels-GTbboxes.npy")
    out = convert_labels(root / "extra" / "human36m-multiview-labels-GTbboxes.npy", trust_pickle=True)
    assert out == root / "extra" / "human36m-multiview-labels-GTbboxes"
    for f in out.glob("*.npy"):
        np.load(f, allow_pickle=False)  # every array reads without pickle
    converted = load_labels(root)  # no trust needed any more: the pickle-free copy is preferred
    original = load_labels(root, labels_path=root / "extra" / "human36m-multiview-labels-GTbboxes.npy",
                           trust_pickle=True)
    assert converted.kind == "converted" and converted.path == out
    for field in ("R", "t", "K", "dist", "keypoints", "bbox_tlbr", "frame_idx", "subject_idx", "action_idx"):
        np.testing.assert_array_equal(getattr(converted, field), getattr(original, field))
    assert converted.content_hash() == original.content_hash()
    with pytest.raises(Exception, match="already exists"):
        convert_labels(root / "extra" / "human36m-multiview-labels-GTbboxes.npy", trust_pickle=True)


def test_distorted_images_are_used_when_undistorted_are_absent(h36m_copy):
    root = h36m_copy
    seq = root / "processed" / "S9" / "Walking-2"
    (seq / "imageSequence-undistorted").rename(seq / "imageSequence")
    ds = Human36MMultiView(root, "S9", trust_pickle=True, image_size=(32, 32))
    i = int(np.flatnonzero(ds.meta.sequence == "Walking-2")[0])
    with pytest.warns(UserWarning, match="imageSequence-undistorted/ is absent"):
        sample = ds[i]
    assert sample.cameras[0].has_distortion and any("distorted" in n for n in ds.notes)


def _noisy_predictions(path, gt_meta, joints, sigma=10.0, seed=0):
    rng = np.random.default_rng(seed)
    pred = joints + rng.normal(0, sigma, joints.shape)
    save_pose_predictions(path, PosePredictions(gt_meta.sample_id.to_numpy(), pred))
    return pred


def test_protocols_end_to_end(h36m_copy, tmp_path):
    root = h36m_copy
    convert_labels(root / "extra" / "human36m-multiview-labels-GTbboxes.npy", trust_pickle=True)
    ds = Human36MMultiView(root, "test", load_images=False)
    joints = np.stack([ds[i].joints_3d for i in range(len(ds))])  # the "method": ground truth + noise
    preds = tmp_path / "preds.npz"
    _noisy_predictions(preds, ds.meta, joints)
    results = tmp_path / "results"
    _, path = evaluate_predictions_file(preds, "human36m-relative", method="noisy-gt", ground_truth=root,
                                        results_dir=results)
    assert path == results / "noisy-gt" / "human36m-relative@1.json"
    back = read_result(path)
    assert back.dataset.source == "real" and back.dataset.data_hash
    assert back.metrics.main.num_frames == 7
    assert 5.0 < back.metrics.headline_value < 25.0  # ~ 10 mm noise per axis, root-relative
    assert set(back.metrics.main.per_action["mpjpe"]) == {"Greeting", "Walking", "Directions"}  # trials merged
    assert back.metrics.main.per_action["mpjpe"]["Walking"].count == 3
    ab, _ = evaluate_predictions_file(preds, "human36m-absolute", method="noisy-gt", ground_truth=root,
                                      results_dir=results)
    assert ab.metrics.main.num_frames == 5  # S9 Greeting-2 skipped
    assert "Greeting" not in ab.metrics.main.per_action["mpjpe"]
    assert 10.0 < ab.metrics.headline_value < 25.0
    # the single-view protocol skips S11 Directions-2 (no video for camera 0)
    single, _ = evaluate_predictions_file(preds, "human36m-single-view", method="noisy-gt", ground_truth=root,
                                          results_dir=results)
    assert single.metrics.main.num_frames == 5
    # uncalibrated: predictions in the reference camera's frame, which is the first present view
    gt = load_ground_truth(root, get_protocol("human36m-uncalibrated"))
    ref_names = []
    for sid, R, t in zip(gt.meta.sample_id, gt.reference_R, gt.reference_t, strict=True):
        cams = h36m_cameras(["S1", "S5", "S6", "S7", "S8", "S9", "S11"].index(sid.split("/")[0]))
        match = [c.name for c in cams if np.allclose(c.R, R, atol=1e-6) and np.allclose(c.t, t, atol=1e-2)]
        ref_names.append(match[0])
    assert ref_names[gt.meta.sample_id.tolist().index("S11/Directions-2/000000")] == H36M_CAMERAS[1]
    assert ref_names[gt.meta.sample_id.tolist().index("S9/Walking-1/000000")] == H36M_CAMERAS[0]
    cam_pred = np.einsum("nij,nkj->nki", gt.reference_R, gt.joints_3d) + gt.reference_t[:, None]
    cam_file = tmp_path / "cam.npz"
    save_pose_predictions(cam_file, PosePredictions(gt.meta.sample_id.to_numpy(), cam_pred + 5.0,
                                                    frame="reference_camera"))
    unc, _ = evaluate_predictions_file(cam_file, "human36m-uncalibrated", method="pt", ground_truth=root,
                                       results_dir=results)
    assert unc.metrics.headline_value == pytest.approx(0.0, abs=1e-6)  # a constant shift vanishes root-relative


# ----------------------------------------------------------------------------- corrupt layouts
def test_missing_folder_and_label_file_name_the_file(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"(?s)nowhere: folder not found.*expected human36m layout"):
        load_labels(tmp_path / "nowhere")
    with pytest.raises(DatasetLayoutError, match=r"(?s)human36m-multiview-labels-GTbboxes\.npy: label file not found"):
        load_labels(tmp_path)


@pytest.mark.parametrize("problem", ["missing_field", "metres", "bad_shape", "truncated"])
def test_corrupt_label_files_fail_with_file_and_problem(tmp_path, problem):
    labels = h36m_labels(keypoint_scale=0.001 if problem == "metres" else 1.0)
    if problem == "missing_field":
        table = labels["table"]
        names = [n for n in table.dtype.names if n != "bbox_by_camera_tlbr"]
        labels["table"] = np.array([tuple(r[n] for n in names) for r in table],
                                   dtype=[(n, table.dtype[n]) for n in names])
    if problem == "bad_shape":
        del labels["action_names"]
    path = tmp_path / "extra" / "human36m-multiview-labels-GTbboxes.npy"
    write_h36m(tmp_path, labels=labels, images=False)
    if problem == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    expected = {"missing_field": r"'table' lacks field\(s\) \['bbox_by_camera_tlbr'\]",
                "metres": "look like metres", "bad_shape": r"lacks key\(s\) \['action_names'\]",
                "truncated": "cannot (read|unpickle)"}[problem]
    with pytest.raises(DatasetLayoutError, match=rf"(?s)GTbboxes\.npy: .*{expected}"):
        load_labels(tmp_path, trust_pickle=True)


def test_corrupt_converted_folder(h36m_copy):
    root = h36m_copy
    out = convert_labels(root / "extra" / "human36m-multiview-labels-GTbboxes.npy", trust_pickle=True)
    meta = out / "labels.json"
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])
    with pytest.raises(DatasetLayoutError, match=r"labels\.json: truncated or not valid JSON"):
        load_labels(root)
    meta.write_text(text)
    np.save(out / "table_keypoints.npy", np.zeros((3, 16, 3), dtype=np.float32))
    with pytest.raises(DatasetLayoutError, match=r"keypoints'?: expected shape \(N, 17, 3\)"):
        load_labels(root)
    (out / "table_keypoints.npy").unlink()
    with pytest.raises(DatasetLayoutError, match=r"table_keypoints\.npy: array of the converted label folder not"):
        load_labels(root)
    data = json.loads(text)
    data["format"] = "something-else"
    meta.write_text(json.dumps(data))
    with pytest.raises(DatasetLayoutError, match="not a 'poseboard-h36m-labels' file"):
        load_labels(root)


def test_missing_image_names_the_file(h36m_copy):
    root = h36m_copy
    img = root / "processed/S9/Walking-1/imageSequence-undistorted/55011271/img_000001.jpg"
    img.unlink()
    ds = Human36MMultiView(root, "test", trust_pickle=True, image_size=(16, 16))
    i = int(np.flatnonzero(ds.meta.sample_id == "S9/Walking-1/000000")[0])
    with pytest.raises(DatasetLayoutError, match=r"55011271/img_000001\.jpg: image not found"):
        ds[i]


def test_failed_evaluation_writes_nothing(h36m_copy, tmp_path):
    root = h36m_copy
    preds = tmp_path / "p.npz"
    save_pose_predictions(preds, PosePredictions(np.array(["S9/Walking-1/000000"]), np.zeros((1, 17, 3))))
    results = tmp_path / "results"
    with pytest.raises(PickleNotTrustedError):  # only the pickled labels exist
        evaluate_predictions_file(preds, "human36m-relative", ground_truth=root, results_dir=results)
    (root / "extra" / "human36m-multiview-labels-GTbboxes.npy").write_bytes(b"\x93NUMPY garbage")
    convert_dir = root / "extra" / "human36m-multiview-labels-GTbboxes"
    convert_dir.mkdir()
    (convert_dir / "labels.json").write_text('{"format": "poseboard-h36m-labels", "version": 1, "subject_')
    with pytest.raises(DatasetLayoutError, match=r"labels\.json: truncated"):
        evaluate_predictions_file(preds, "human36m-relative", ground_truth=root, results_dir=results)
    assert not results.exists()
