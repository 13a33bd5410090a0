"""The capture area's placement against hand-made rigs and an independent minimisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from poseboard.camera import Camera
from poseboard.errors import InputError
from poseboard.studio.placement import check_view, nearest_point_to_axes, place, recentred

TARGET = np.array([1200.0, -800.0, 900.0])


def _ring(target: np.ndarray, n: int = 4, radius: float = 4500.0, height: float = 1600.0) -> list[Camera]:
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n + 0.3
        eye = target[:2] + radius * np.array([np.cos(a), np.sin(a)])
        cams.append(Camera.look_at([*eye, height + 100 * i], target, 1100.0, (1000, 1000), name=f"cam{i}"))
    return cams


def test_axes_meeting_in_one_point_give_that_point_and_its_floor_point():
    cams = _ring(TARGET)
    np.testing.assert_allclose(nearest_point_to_axes(cams), TARGET, atol=1e-6)
    p = place(cams)
    assert p.how == "optical axes"
    np.testing.assert_allclose(p.centre, TARGET[:2], atol=1e-6)
    assert max(p.axis_distances.values()) < 1e-6


def test_least_squares_point_matches_a_direct_minimisation():
    rng = np.random.default_rng(3)
    cams = []
    for i, cam in enumerate(_ring(TARGET, n=6)):  # aim each camera 0-400 mm off the target
        off = rng.uniform(-400, 400, 3)
        cams.append(Camera.look_at(cam.center, TARGET + off, 1100.0, (1000, 1000), name=f"c{i}"))

    def cost(p: np.ndarray) -> float:
        total = 0.0
        for c in cams:
            d = c.R[2] / np.linalg.norm(c.R[2])
            v = p - c.center
            total += float(np.sum((v - (v @ d) * d) ** 2))
        return total

    direct = minimize(cost, np.zeros(3), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(nearest_point_to_axes(cams), direct, atol=1e-3)
    assert np.linalg.norm(nearest_point_to_axes(cams) - TARGET) < 400


def test_recentred_rig_sees_the_same_pixels():
    cams = _ring(TARGET)
    moved = recentred(cams, TARGET[:2])
    points = TARGET + np.random.default_rng(0).uniform(-500, 500, (20, 3))
    for a, b in zip(cams, moved, strict=True):
        np.testing.assert_allclose(b.project(points - [*TARGET[:2], 0.0]), a.project(points), atol=1e-8)
        np.testing.assert_allclose(b.R, a.R)
    assert check_view(moved, "rig") == []


def test_parallel_stereo_pair_is_placed_in_front_of_it():
    left = Camera.look_at([-150, 0, 1400], [-150, 5000, 1400], 1000.0, (1280, 720), name="left")
    right = Camera.look_at([150, 0, 1400], [150, 5000, 1400], 1000.0, (1280, 720), name="right")
    point = nearest_point_to_axes([left, right])
    assert abs(point[0]) < 1e-6 and 2500 < point[1] < 3500  # between the axes, ~3 m ahead


def test_given_centre_and_refusals():
    cams = _ring(TARGET)
    np.testing.assert_allclose(place(cams, (10.0, 20.0)).centre, [10.0, 20.0])
    with pytest.raises(InputError, match="--centre"):
        place(cams, (1.0, float("nan")))
    # the capture centre behind a camera: the rig as given, its origin far from where it looks
    away = Camera.look_at([0, -4000, 1500], [0, -9000, 1500], 1100.0, (1000, 1000), name="looks-away")
    with pytest.raises(InputError, match="looks-away"):
        check_view([*recentred(cams, TARGET[:2]), away], "rig.json")
