"""Built-in rigs have the published shapes; jitter separates seeds; user rigs load or fail by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseboard.camera import Camera, save_rig
from poseboard.datasets.synthetic.rigs import RIG_NAMES, build_rig, rig_from_file
from poseboard.errors import InputError, ResultFileError


def _horizontal_distance(cam: Camera) -> float:
    return float(np.linalg.norm(cam.center[:2]))


def test_h36m_layout():
    cams = build_rig("h36m", 0)
    assert len(cams) == 4
    for cam in cams:
        assert cam.image_size == (1000, 1000)
        assert 1100 < cam.K[0, 0] < 1200
        assert 4300 < _horizontal_distance(cam) < 6200
        assert 1100 < cam.center[2] < 1900
        assert cam.R[2, 2] < 0  # looking slightly down
        assert cam.has_distortion and abs(cam.dist[0]) < 0.3
        # the centre of the capture area is in view, near the image centre
        u, v = cam.project(np.array([[0.0, 0.0, 900.0]]))[0]
        assert 300 < u < 700 and 300 < v < 700
    # at the corners: one camera per quadrant
    quadrants = {(bool(c.center[0] > 0), bool(c.center[1] > 0)) for c in cams}
    assert len(quadrants) == 4


def test_panoptic_dome():
    cams = build_rig("panoptic", 0)
    assert len(cams) >= 24
    assert len({c.name for c in cams}) == len(cams)
    heights = sorted({round(c.center[2], -2) for c in build_rig("panoptic", jitter=False)})
    assert len(heights) >= 3
    for cam in cams:
        assert cam.image_size == (1920, 1080)
        assert 1350 < cam.K[0, 0] < 1750
        assert np.linalg.norm(cam.center - [0, 0, 400]) < 3200  # on a ~5.5–6 m dome
        u, v = cam.project(np.array([[0.0, 0.0, 900.0]]))[0]
        assert 0 < u < 1920 and 0 < v < 1080


def test_mupots_tripod():
    for seed in range(5):
        (cam,) = build_rig("mupots", seed)
        assert cam.image_size == (2048, 2048)
        assert 1400 < cam.K[0, 0] < 1600
        assert 1150 < cam.center[2] < 1850
        # people 1.5–7.5 m in front of it are in view
        for depth in (1500.0, 7500.0):
            point = cam.center + depth * np.array([cam.R[2, 0], cam.R[2, 1], 0.0]) / np.hypot(*cam.R[2, :2])
            point[2] = 900.0
            u, v = cam.project(point[None])[0]
            assert 0 < u < 2048 and 0 < v < 2048


@pytest.mark.parametrize("name", RIG_NAMES)
def test_jitter_separates_seeds_but_not_reruns(name):
    a, b, c = build_rig(name, 1), build_rig(name, 1), build_rig(name, 2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.projection_matrix, y.projection_matrix)
    assert any(not np.allclose(x.projection_matrix, z.projection_matrix) for x, z in zip(a, c, strict=True))
    nominal = build_rig(name, 1, jitter=False)
    for x, y in zip(nominal, build_rig(name, 2, jitter=False), strict=True):
        np.testing.assert_array_equal(x.projection_matrix, y.projection_matrix)
    # jitter is small: the same rig, recognisably
    for x, n in zip(a, nominal, strict=True):
        assert np.linalg.norm(x.center - n.center) < 400
        assert abs(x.K[0, 0] / n.K[0, 0] - 1) < 0.1
    rng = np.random.default_rng(5)
    assert len(build_rig(name, rng)) == len(nominal)


def test_unknown_rig():
    with pytest.raises(InputError, match="unknown rig 'h36'"):
        build_rig("h36", 0)
    with pytest.raises(InputError, match="seed"):
        build_rig("h36m", "zero")  # type: ignore[arg-type]


def test_rig_file_round_trip_and_errors(tmp_path):
    cams = build_rig("h36m", 3)
    path = tmp_path / "rig.json"
    save_rig(cams, path)
    loaded = rig_from_file(path)
    for x, y in zip(cams, loaded, strict=True):
        assert x.name == y.name and x.image_size == y.image_size
        np.testing.assert_allclose(x.projection_matrix, y.projection_matrix, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(x.dist, y.dist)
    data = json.loads(path.read_text())
    del data["cameras"][1]["K"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=r"bad\.json.*K"):
        rig_from_file(bad)
    with pytest.raises(ResultFileError, match="not found"):
        rig_from_file(tmp_path / "missing.json")
