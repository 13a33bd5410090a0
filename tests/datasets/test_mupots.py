"""MuPoTS-3D (RootNet's MuPoTS-3D.json and DetectNet boxes) on a miniature fixture."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.real.config import DatasetLayoutError
from poseboard.datasets.real.mupots import (
    MuPoTSScenes,
    find_detections,
    load_annotations,
    load_detections,
    load_ground_truth,
)
from poseboard.protocols.evaluate import evaluate_predictions_file
from poseboard.protocols.predictions import RootPredictions, save_root_predictions
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import read_result
from poseboard.skeleton import H36M17

sys.path.insert(0, str(Path(__file__).parent))  # fixture writers beside this file (pytest --import-mode=importlib)
from real_fixtures import MUPOTS_INTRINSIC, write_mupots


@pytest.fixture(scope="module")
def mupots(tmp_path_factory):
    root = tmp_path_factory.mktemp("mupots")
    return root, write_mupots(root)


@pytest.fixture
def mupots_copy(mupots, tmp_path):
    root = tmp_path / "mupots"
    shutil.copytree(mupots[0], root)
    return root


def test_annotations_ids_and_roots(mupots):
    root, data = mupots
    ann = load_annotations(root)
    assert ann.images.sample_id.tolist() == ["TS1/img_000000", "TS1/img_000001", "TS2/img_000000"]
    assert ann.images.sequence.tolist() == ["TS1", "TS1", "TS2"] and ann.images.frame.tolist() == [0, 1, 0]
    np.testing.assert_allclose(ann.roots, [a["keypoints_cam"][14] for a in data["annotations"]])
    assert ann.people.valid.tolist() == [True, True, True, True, True, False]
    assert ann.people.person_index.tolist() == [0, 1, 0, 1, 0, 1]


def test_scenes_camera_joints_and_boxes(mupots):
    root, data = mupots
    scenes = MuPoTSScenes(root)
    assert len(scenes) == 3
    scene = scenes[2]
    assert scene.meta.sample_id == "TS2/img_000000" and scene.meta.subject == "TS2"
    assert scene.image.shape == (3, 64, 64) and scene.image.dtype == np.uint8
    fx, fy, cx, cy = MUPOTS_INTRINSIC
    np.testing.assert_allclose(scene.camera.K, [[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    assert [p.valid for p in scene.people] == [True, False]
    for person, ann in zip(scene.people, data["annotations"][4:], strict=True):
        np.testing.assert_allclose(person.root_cam, ann["keypoints_cam"][14])
        # converted to poseboard's order: the pelvis (MuPoTS 14) is joint 6, the head top (MuPoTS 0) joint 9
        np.testing.assert_allclose(person.joints_cam[H36M17.root], person.root_cam)
        np.testing.assert_allclose(person.joints_cam[H36M17.index("Head")], ann["keypoints_cam"][0])
        assert not person.visibility[H36M17.index("Head")] and person.visibility[H36M17.root]
        assert person.joints_cam[:, 2].min() > 1000  # camera mm
        # the camera (R = I, t = 0) projects the root onto the 2D annotation, inside the box
        uv = scene.camera.project(person.root_cam[None])[0]
        np.testing.assert_allclose(uv, ann["keypoints_img"][14], atol=1e-6)
        left, top, right, bottom = person.box
        assert left <= uv[0] <= right and top <= uv[1] <= bottom
    u, v = np.round(scene.people[0].joints_2d[H36M17.root]).astype(int)
    assert scene.image[:, v, u].mean() > 150  # the fixture's blob at the root


def test_detections(mupots):
    root, _ = mupots
    path = find_detections(root)
    assert path == root / "bbox_mupots_output.json"
    det = load_detections(path, load_annotations(root))
    assert len(det) == 6 and set(det.columns) >= {"image_id", "sample_id", "left", "top", "right", "bottom", "score"}
    assert (det.right > det.left).all()


def test_root_protocol_end_to_end(mupots, tmp_path):
    root, _ = mupots
    gt = load_ground_truth(root, get_protocol("mupots-root"))
    assert gt.source == "real" and len(gt.people) == 6 and gt.people.valid.sum() == 5
    valid = gt.people.valid.to_numpy()
    rng = np.random.default_rng(0)
    roots = gt.roots[valid] + rng.normal(0, 20, (valid.sum(), 3))  # the "method": GT roots + noise
    preds = tmp_path / "roots.npz"
    save_root_predictions(preds, RootPredictions(
        sample_ids=gt.people.sample_id.to_numpy()[valid], root=roots, score=np.linspace(0.9, 0.5, valid.sum()),
        person_index=gt.people.person_index.to_numpy()[valid]))
    results = tmp_path / "results"
    result, path = evaluate_predictions_file(preds, "mupots-root", method="noisy-gt", ground_truth=root,
                                             results_dir=results)
    back = read_result(path)
    assert back.metrics.headline == "ap_root" and back.metrics.headline_value == pytest.approx(100.0)
    assert 10 < back.metrics.main.overall["mrpe"] < 60
    assert back.metrics.main.extra["ap_root_num_gt"] == 5
    assert set(result.metrics.main.per_action["ap_root"]) == {"TS1", "TS2"}


# ----------------------------------------------------------------------------- corrupt layouts
def test_missing_file_names_file_and_layout(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"(?s)MuPoTS-3D\.json: annotation file not found.*expected mupots"):
        load_annotations(tmp_path)


def test_truncated_json(mupots_copy, tmp_path):
    path = mupots_copy / "MuPoTS-3D.json"
    path.write_text(path.read_text()[:-200])
    with pytest.raises(DatasetLayoutError, match=r"MuPoTS-3D\.json: annotation file is truncated"):
        load_annotations(mupots_copy)
    preds = tmp_path / "p.npz"
    save_root_predictions(preds, RootPredictions(np.array(["TS1/img_000000"]), np.zeros((1, 3)), np.ones(1),
                                                 np.zeros(1, dtype=int)))
    with pytest.raises(DatasetLayoutError):
        evaluate_predictions_file(preds, "mupots-root", ground_truth=mupots_copy, results_dir=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_metres_are_refused(tmp_path):
    write_mupots(tmp_path, keypoint_scale=0.001)
    with pytest.raises(DatasetLayoutError, match=r"MuPoTS-3D\.json: keypoints_cam: keypoints look like metres"):
        load_annotations(tmp_path)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["images"][1].pop("intrinsic"), r"images\[1\]: missing field\(s\) \['intrinsic'\]"),
    (lambda d: d["annotations"][2].update(keypoints_cam=[[0, 0, 1]] * 16), r"annotations\[2\] keypoints_cam: expected "
                                                                              r"shape \(17, 3\)"),
    (lambda d: d["annotations"][0].update(image_id=99), r"annotations\[0\]: image_id 99 is not among the images"),
    (lambda d: [a.update(keypoints_cam=np.roll(np.array(a["keypoints_cam"]), 3, axis=0).tolist())
                for a in d["annotations"]], "expected the MuPoTS order with the pelvis at index 14"),
])
def test_wrong_fields(mupots_copy, edit, message):
    path = mupots_copy / "MuPoTS-3D.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetLayoutError, match=message):
        load_annotations(mupots_copy)


def test_missing_image_names_the_file(mupots_copy):
    (mupots_copy / "MultiPersonTestSet" / "TS2" / "img_000000.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match=r"TS2/img_000000\.jpg: image not found"):
        MuPoTSScenes(mupots_copy)[2]
