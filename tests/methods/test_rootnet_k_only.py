"""``rootnet-k-only``: RootNet's k value (γ = 1) and the box centre back-projected, checked
against an independent NumPy computation; a person whose box fits the box-area prior gets its
depth back; predict's output on hand-made ``collate_scenes`` batches; the detector shared
with RootNet; registry, protocols, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from poseboard.camera import Camera
from poseboard.datasets.detections import person_boxes
from poseboard.datasets.torch_dataset import collate_scenes
from poseboard.errors import InputError, ResultFileError
from poseboard.methods.registry import REGISTRY, method_names
from poseboard.methods.rootnet_k_only import RootNetKOnlyConfig, RootNetKOnlyMethod, box_centre_root
from poseboard.samples import Person, SampleMeta, SingleViewScene

A_REAL = 2000.0 * 2000.0  # mm², RootNet's bbox_real
W_IMG, H_IMG = 640, 480
K = np.array([[520.0, 0.0, 331.5], [0.0, 515.0, 236.25], [0.0, 0.0, 1.0]])  # fx ≠ fy, off-centre


def _camera(K: np.ndarray = K) -> Camera:
    return Camera(K=K, R=np.eye(3), t=np.zeros(3), image_size=(W_IMG, H_IMG))


def _person(box: list[float], root: list[float] | None = None, valid: bool = True) -> Person:
    return Person(box=np.asarray(box, dtype=np.float64), root_cam=np.asarray(root or [0.0, 0.0, 5000.0]),
                  joints_cam=np.zeros((17, 3)), joints_2d=np.zeros((17, 2)), visibility=np.ones(17, dtype=bool),
                  valid=valid)


def _scene(people: list[Person], sample_id: str, K: np.ndarray = K) -> SingleViewScene:
    meta = SampleMeta(sample_id=sample_id, subject="S1", action="walk", sequence="seq0", frame=0)
    return SingleViewScene(image=np.zeros((3, H_IMG, W_IMG), dtype=np.uint8), camera=_camera(K), people=people,
                           meta=meta)


def _numpy_root(box_ltrb: np.ndarray, K: np.ndarray, width: int, height: int, enlarge: float = 1.25) -> np.ndarray:
    """Independent: RootNet's reference ``process_bbox`` (aspect 1, right/bottom-exclusive clip),
    k = √(fx·fy·A_real / (w·h)), then the processed box's centre back-projected at depth k."""
    x, y, w, h = box_ltrb[0], box_ltrb[1], box_ltrb[2] - box_ltrb[0], box_ltrb[3] - box_ltrb[1]
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(width - 1.0, x1 + max(0.0, w)), min(height - 1.0, y1 + max(0.0, h))
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    side = max(w, h) * enlarge
    z = math.sqrt(K[0, 0] * K[1, 1] * A_REAL / (side * side))
    return np.array([(cx - K[0, 2]) / K[0, 0] * z, (cy - K[1, 2]) / K[1, 1] * z, z])


# ------------------------------------------------------------------------------ the operator
def test_box_centre_root_matches_numpy_on_processed_boxes():
    rng = np.random.default_rng(0)
    xywh = np.column_stack([rng.uniform(-50, 300, 6), rng.uniform(-50, 200, 6), rng.uniform(40, 300, 6),
                            rng.uniform(40, 300, 6)])
    got = box_centre_root(torch.as_tensor(xywh), torch.as_tensor(K).expand(6, 3, 3)).numpy()
    z = np.sqrt(K[0, 0] * K[1, 1] * A_REAL / (xywh[:, 2] * xywh[:, 3]))
    u, v = xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2
    want = np.column_stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_predict_matches_numpy_on_a_hand_made_batch():
    """k value and back-projection of every box, through predict, against NumPy: boxes inside the
    image, wider than tall, and hanging off the left/top edge (clipped as the reference)."""
    boxes = [[100.0, 80.0, 160.0, 300.0], [300.0, 200.0, 500.0, 260.0], [-30.0, -10.0, 60.0, 150.0],
             [420.0, 100.0, 470.0, 250.0]]
    batch = collate_scenes([_scene([_person(b) for b in boxes[:2]], "a"), _scene([_person(b) for b in boxes[2:]], "b")])
    pred = RootNetKOnlyMethod().predict(batch)
    want = np.stack([_numpy_root(np.asarray(b), K, W_IMG, H_IMG) for b in boxes])
    np.testing.assert_allclose(pred.root.numpy(), want, rtol=1e-6)  # float32 output


@pytest.mark.parametrize("root", [[350.0, -120.0, 3200.0], [-900.0, 300.0, 6800.0], [0.0, 0.0, 1500.0]])
@pytest.mark.parametrize("scale", [1.0, 1.1, 0.8])
def test_a_person_of_the_priors_size_gets_its_depth_back(root, scale):
    """The box whose processed area is A_real projected at the root's depth, centred on the
    projected root: the prior is exact, so the root comes back to float32 precision. A person
    ``scale`` times that size (box sides × scale) gets Z / scale: the prior's only error."""
    X, Y, Z = root
    K_big = np.array([[520.0, 0.0, 2000.5], [0.0, 515.0, 1999.25], [0.0, 0.0, 1.0]])  # no box reaches an edge
    fx, fy = K_big[0, 0], K_big[1, 1]
    u, v = fx * X / Z + K_big[0, 2], fy * Y / Z + K_big[1, 2]  # independent pinhole projection
    side = math.sqrt(A_REAL * fx * fy) / Z * scale  # processed side; k = Z / scale
    h = side / 1.25
    w = 0.45 * h  # a person-shaped box: processing widens it to the square about its centre
    box = [u - w / 2, v - h / 2, u + w / 2, v + h / 2]
    scene = _scene([_person(box, root)], "p", K_big)
    scene.image = np.zeros((3, 4000, 4000), dtype=np.uint8)
    pred = RootNetKOnlyMethod().predict(collate_scenes([scene]))
    got = pred.root[0].double().numpy()
    want = np.array([X, Y, Z]) / scale  # the box centre's ray at depth Z / scale
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-3)
    if scale == 1.0:
        np.testing.assert_allclose(got, root, rtol=1e-6, atol=1e-3)


# ------------------------------------------------------------------------------ predict's output
def test_predict_output_shapes_frame_scores_and_extras():
    people_a = [_person([100.0, 80.0, 160.0, 300.0]), _person([10.0, 10.0, 10.5, 40.0]),  # too thin: skipped
                _person([300.0, 200.0, 400.0, 420.0], valid=False)]  # not scored, still predicted (as RootNet)
    people_b = [_person([420.0, 100.0, 470.0, 250.0])]
    batch = collate_scenes([_scene(people_a, "img-a"), _scene(people_b, "img-b")])
    pred = RootNetKOnlyMethod().predict(batch)
    assert pred.frame == "camera"
    assert tuple(pred.root.shape) == (3, 3) and tuple(pred.joints_3d.shape) == (3, 1, 3)
    assert pred.root.dtype == torch.float32 and torch.equal(pred.joints_3d[:, 0], pred.root)
    assert torch.equal(pred.score, torch.ones(3))
    assert pred.extras["image_index"].tolist() == [0, 0, 1]
    assert pred.extras["person_index"].tolist() == [0, 2, 0]
    assert pred.extras["sample_ids"].tolist() == ["img-a", "img-a", "img-b"]
    assert pred.extras["box_source"] == "gt" and tuple(pred.extras["boxes"].shape) == (3, 4)
    assert (pred.root[:, 2] > 0).all()
    empty = RootNetKOnlyMethod().predict(collate_scenes([_scene([], "none")]))
    assert tuple(empty.root.shape) == (0, 3) and tuple(empty.score.shape) == (0,)


def test_detected_boxes_are_rootnets_with_the_detectors_scores():
    from poseboard.methods.rootnet import RootNetConfig

    assert RootNetKOnlyConfig().detection == RootNetConfig().detection  # the same simulated detector
    people = [_person([100.0, 80.0, 160.0, 300.0]), _person([300.0, 150.0, 380.0, 420.0]),
              _person([450.0, 60.0, 520.0, 260.0])]
    batch = collate_scenes([_scene(people, f"img-{i}") for i in range(6)])
    pred = RootNetKOnlyMethod().predict({**batch, "box_source": "detected"})
    boxes, index, scores, person = person_boxes(batch, "detected", RootNetConfig().detection)
    assert torch.equal(pred.extras["boxes"], boxes) and torch.equal(pred.extras["image_index"], index)
    assert torch.equal(pred.extras["person_index"], person)
    torch.testing.assert_close(pred.score, scores.float())
    assert (pred.score < 1).all() and pred.extras["box_source"] == "detected"
    want = np.stack([_numpy_root(b, K, W_IMG, H_IMG) for b in boxes.numpy()])
    np.testing.assert_allclose(pred.root.numpy(), want, rtol=1e-6)


def test_box_source_is_checked():
    batch = collate_scenes([_scene([_person([100.0, 80.0, 160.0, 300.0])], "a")])
    with pytest.raises(InputError, match="box source"):
        RootNetKOnlyMethod().predict({**batch, "box_source": "oracle"})


# ------------------------------------------------------------------------------ the record
def test_registered_and_runs_under_rootnets_protocols():
    from poseboard.protocols.registry import get_protocol

    assert "rootnet-k-only" in method_names()
    cls = REGISTRY.get("rootnet-k-only")
    assert cls is RootNetKOnlyMethod and not cls.capabilities.trainable
    assert cls.capabilities.outputs == ("root",) and cls.capabilities.output_frame == "camera"
    for key in ("synth-mupots-root@2", "synth-mupots-root-detected@2", "synth-h36m-root@3"):
        get_protocol(key).check_method(cls.name, cls.capabilities)


def test_presets_fit_and_save_load(tmp_path):
    for profile in ("smoke", "default", "gpu", "paper"):
        assert RootNetKOnlyConfig.preset(profile) == RootNetKOnlyConfig()
    with pytest.raises(InputError, match="unknown profile"):
        RootNetKOnlyConfig.preset("huge")

    logged: dict = {}

    class Tracker:
        def log_params(self, params: dict) -> None:
            logged.update(params)

    method = RootNetKOnlyMethod({"area_mm2": 1800.0 ** 2})
    method.fit(None, None, tracker=Tracker())  # type: ignore[arg-type]
    assert logged["rootnet-k-only/gamma"] == 1.0 and logged["rootnet-k-only/area_mm2"] == 1800.0 ** 2
    method.save(tmp_path / "m")
    loaded = RootNetKOnlyMethod.load(tmp_path / "m")
    assert loaded.config == method.config
    batch = collate_scenes([_scene([_person([100.0, 80.0, 160.0, 300.0])], "a")])
    assert torch.equal(loaded.predict(batch).root, method.predict(batch).root)
    torch.save({"net.weight": torch.zeros(2)}, tmp_path / "m" / "weights.pt")  # another method's weights
    with pytest.raises(ResultFileError, match="does not fit a rootnet-k-only"):
        RootNetKOnlyMethod.load(tmp_path / "m")
