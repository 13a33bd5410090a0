"""``rootnet``: k, the box processing and back-projection (core operator), crops, the
simulated detector, and the method (save/load, determinism, learning)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poseboard.datasets.detections import DetectionNoise, simulate_detections
from poseboard.datasets.people import PersonDataset, collate_people
from poseboard.datasets.torch_dataset import SingleViewSceneDataset, collate_scenes
from poseboard.methods.nets.person_box import back_project, image_to_grid, k_value, process_box
from poseboard.methods.rootnet import RootNetConfig, RootNetMethod, crop_boxes, evaluate_mrpe
from poseboard.samples import Person

# the shared fixtures module beside this file (pytest imports tests with --import-mode=importlib)
sys.path.insert(0, str(Path(__file__).parent))
import p5_fixtures

p5_data = p5_fixtures.p5_data  # session fixtures, shared by the three modules
p5_backbone = p5_fixtures.p5_backbone


def _reference_process_bbox(box_ltrb, width, height, aspect=1.0):
    """RootNet's ``process_bbox`` (common/utils/pose_utils.py) on an (x, y, w, h) box, with
    its pixel-inclusive clip replaced by the right/bottom-exclusive one of poseboard boxes."""
    x, y, w, h = box_ltrb[0], box_ltrb[1], box_ltrb[2] - box_ltrb[0], box_ltrb[3] - box_ltrb[1]
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(width - 1, x1 + max(0, w)), min(height - 1, y1 + max(0, h))
    w, h = x2 - x1, y2 - y1
    c_x, c_y = x1 + w / 2.0, y1 + h / 2.0
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return [c_x - w * 1.25 / 2, c_y - h * 1.25 / 2, w * 1.25, h * 1.25]


@pytest.mark.parametrize("box", [[10.0, 20.0, 30.0, 100.0], [50.0, 60.0, 150.0, 90.0], [-20.0, 200.0, 40.0, 300.0]])
def test_process_box_matches_the_reference(box):
    got = process_box(torch.tensor(box, dtype=torch.float64), (256, 256)).tolist()
    assert np.allclose(got, _reference_process_bbox(box, 256, 256))


# ------------------------------------------------------------------------------ the core operator
@pytest.mark.parametrize("root", [[350.0, -120.0, 3200.0], [-1400.0, 300.0, 6800.0], [0.0, 0.0, 1500.0]])
def test_k_and_back_projection_recover_a_known_root_exactly(root):
    """With the box sized so that a 2 m × 2 m person at the root's depth fills it, k equals
    the depth; the ground-truth 2D root in grid units with γ = 1 back-projects to the root."""
    K = torch.tensor([[1145.0, 0, 512.3], [0, 1140.0, 498.7], [0, 0, 1]], dtype=torch.float64)
    X, Y, Z = root
    u, v = 1145.0 * X / Z + 512.3, 1140.0 * Y / Z + 498.7  # independent pinhole projection
    side = math.sqrt(2000.0 * 2000.0 * 1145.0 * 1140.0) / Z  # processed side for k = Z
    h = side / 1.25
    w = 0.4 * h  # a person-shaped box: processing widens it to the square
    cx, cy = u + 0.1 * w, v - 0.05 * h  # the root need not be the box centre
    box = torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=torch.float64)
    processed = process_box(box, (10_000, 10_000))
    assert torch.allclose(processed[2:], torch.tensor([side, side], dtype=torch.float64))
    k = k_value(K, processed)
    assert abs(float(k) - Z) < 1e-9 * Z
    xy = image_to_grid(torch.tensor([u, v], dtype=torch.float64), processed, grid_size=64)
    out = back_project(xy, 1.0 * k, processed, K, grid_size=64)
    assert torch.allclose(out, torch.tensor(root, dtype=torch.float64), atol=1e-9, rtol=0)


def test_crops_sample_the_box():
    cols = torch.arange(200.0)[None, None, None, :].expand(1, 1, 100, 200).contiguous()
    box = torch.tensor([[40.0, 10.0, 64.0, 64.0]])  # x, y, w, h
    crop = crop_boxes(cols, torch.tensor([0]), box, 32)
    assert torch.allclose(crop[0, 0, 5], 40.0 + torch.arange(32.0) * 2.0)  # crop pixel i ↔ x0 + i·w/S


# ------------------------------------------------------------------------------ detections
def _people(n: int) -> list[Person]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        x, y = rng.uniform(10, 150, 2)
        out.append(Person(box=np.array([x, y, x + 30, y + 80]), root_cam=np.zeros(3), joints_cam=np.zeros((17, 3)),
                          joints_2d=np.zeros((17, 2)), visibility=rng.random(17) < 0.8))
    return out


def test_detections_are_deterministic_and_noisy_as_stated():
    people = _people(3)
    noise = DetectionNoise()
    a = simulate_detections(people, (256, 256), "scene_001/000010", noise)
    b = simulate_detections(people, (256, 256), "scene_001/000010", noise)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    c = simulate_detections(people, (256, 256), "scene_001/000011", noise)
    assert not np.array_equal(a[0], c[0]) or len(a[0]) != len(c[0])
    assert ((a[1] > 0) & (a[1] < 1)).all()
    exact = simulate_detections(people, (256, 256), "x", DetectionNoise(miss_rate=0, miss_occluded=0, center_std=0,
                                                                       scale_std=0, score_std=0, false_positives=0))
    assert exact[2].tolist() == [0, 1, 2]
    assert np.allclose(exact[0], np.stack([p.box for p in people]))
    # statistics over many images: misses and false positives at about the configured rates
    n_det = n_fp = 0
    for i in range(300):
        _boxes, _, idx = simulate_detections(people, (256, 256), f"img{i}", noise)
        n_det += int((idx >= 0).sum())
        n_fp += int((idx < 0).sum())
    assert 0.8 < n_det / 900 < 0.99
    assert 0.2 < n_fp / 300 < 0.4


# ------------------------------------------------------------------------------ the method
def _config(backbone: Path | None, steps: int = 0) -> RootNetConfig:
    cfg = RootNetConfig.preset("smoke")
    cfg.backbone_checkpoint = str(backbone) if backbone is not None else None
    cfg.train.steps = steps
    cfg.train.batch_size = 8
    cfg.train.lr = 1e-3
    cfg.train.log_every = 10
    return cfg


def test_predict_rows_save_load_and_determinism(tmp_path, p5_data):
    scenes = SingleViewSceneDataset(p5_data / "synth-mupots" / "test")
    batch = collate_scenes([scenes[i] for i in range(3)])
    method = RootNetMethod(_config(None))
    caps = method.capabilities
    assert caps.multi_person and not caps.needs_extrinsics and caps.outputs == ("root",)
    pred = method.predict(batch)
    n_people = sum(len(p) for p in batch["people"])
    assert pred.root.shape == (n_people, 3) and torch.equal(pred.score, torch.ones(n_people))
    assert pred.extras["person_index"].tolist() == [k for p in batch["people"] for k in range(len(p))]
    det = method.predict({**batch, "box_source": "detected"})
    assert torch.equal(det.root, method.predict({**batch, "box_source": "detected"}).root)
    method.save(tmp_path)
    loaded = RootNetMethod.load(tmp_path)
    assert torch.equal(loaded.predict(batch).root, pred.root)


@pytest.mark.slow
def test_learns_on_a_tiny_world(tmp_path, p5_data, p5_backbone):
    train = SingleViewSceneDataset(p5_data / "synth-mupots" / "train")
    people = PersonDataset(train)
    fixed = collate_people([people[i] for i in range(0, len(people), max(1, len(people) // 16))])

    def train_loss(m: RootNetMethod) -> float:
        with torch.no_grad():
            n = fixed["images"].shape[0]
            out = m.net.localise(fixed["images"], torch.arange(n), fixed["boxes"], fixed["K"], fixed["image_size"])
            return float(m.loss(out, fixed["root_cam"], fixed["root_2d"])["loss"])

    untrained = RootNetMethod(_config(None))
    start = RootNetMethod(_config(p5_backbone, steps=0))
    start.progress = False
    start.fit(train, None)
    method = RootNetMethod(_config(p5_backbone, steps=150))
    method.progress = False
    method.fit(train, None, workdir=tmp_path / "work")
    assert train_loss(method) < 0.7 * train_loss(start)
    before = evaluate_mrpe(untrained, train, None)
    after = evaluate_mrpe(method, train, None)
    assert after["mrpe"] < 0.5 * before["mrpe"]
    assert after["mrpe_z"] > after["mrpe_x"] and after["mrpe_z"] > after["mrpe_y"]
