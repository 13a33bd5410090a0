"""Sampled camera layouts stay in their family, see the subject, can triangulate, and are deterministic;
the training and novel families do not overlap; ``camera_factors`` measures a known camera right."""

from __future__ import annotations

import doctest
import json
import math
import time

import numpy as np
import pytest

from poseboard.camera import Camera
from poseboard.datasets.synthetic import layouts
from poseboard.datasets.synthetic.layouts import (
    NOVEL_LAYOUTS,
    PLACEMENTS,
    TRAIN_LAYOUTS,
    Layout,
    LayoutRanges,
    camera_factors,
    in_ranges,
    sample_layout,
)
from poseboard.errors import InputError

SEEDS = range(200)
AREA_RADIUS_MM = 1500.0
# A standing person, independent of the sampler's own check: feet, pelvis, head top (mm).
BODY_Z_MM = (100.0, 950.0, 1800.0)


@pytest.fixture(scope="module")
def train_layouts() -> list[Layout]:
    return [sample_layout(np.random.default_rng(s)) for s in SEEDS]


@pytest.fixture(scope="module")
def novel_layouts() -> list[Layout]:
    return [sample_layout(np.random.default_rng(s), NOVEL_LAYOUTS, novel=True, prefix="novel") for s in SEEDS]


def _in_union(x: float, intervals) -> bool:
    return any(lo <= x <= hi for lo, hi in intervals)


def _overlap(a, b) -> float:
    """The length of the overlap of two unions of closed intervals (touching ends count 0)."""
    return sum(max(0.0, min(h1, h2) - max(l1, l2)) for l1, h1 in a for l2, h2 in b)


def _check_camera(cam: Camera, ranges: LayoutRanges) -> None:
    """What holds for every sampled camera, whatever its family."""
    w, h = cam.image_size
    assert (w, h) in ranges.image_sizes
    # proper rotation
    np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(cam.R) == pytest.approx(1.0, abs=1e-9)
    # lens within the ranges
    fx, fy = cam.K[0, 0], cam.K[1, 1]
    assert abs(fy / fx - 1.0) <= 0.002 + 1e-12
    assert cam.K[0, 1] == 0.0
    assert abs(cam.K[0, 2] - (w - 1) / 2) <= ranges.principal_offset_frac * w
    assert abs(cam.K[1, 2] - (h - 1) / 2) <= ranges.principal_offset_frac * h
    k1, k2, p1, p2, k3 = cam.dist
    assert ranges.k1[0] <= k1 <= ranges.k1[1] and ranges.k2[0] <= k2 <= ranges.k2[1]
    assert ranges.k3[0] <= k3 <= ranges.k3[1]
    assert abs(p1) <= ranges.tangential and abs(p2) <= ranges.tangential
    # a standing person at the centre and on the edge of the area is in front of the camera
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    xy = np.concatenate([[[0.0, 0.0]], AREA_RADIUS_MM * np.stack([np.cos(angles), np.sin(angles)], -1)])
    points = np.array([[x, y, z] for x, y in xy for z in BODY_Z_MM])
    assert np.all(cam.world_to_camera(points)[:, 2] > 0)
    # and at the centre the whole body is inside the image (with the lens distortion)
    pix = cam.project(np.array([[0.0, 0.0, z] for z in BODY_Z_MM]))
    assert np.all(np.isfinite(pix))
    assert np.all((pix >= 0) & (pix <= [w - 1, h - 1])), (cam.name, pix)


def _max_view_angle_deg(cams: list[Camera]) -> float:
    d = np.stack([c.center for c in cams]) - [0.0, 0.0, 950.0]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return float(np.degrees(np.arccos(np.clip(d @ d.T, -1, 1))).max())


def _circular(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def _check_layout(layout: Layout, ranges: LayoutRanges, prefix: str) -> None:
    cams = layout.cameras
    assert len(cams) in ranges.camera_counts
    assert [c.name for c in cams] == [f"{prefix}_{i}" for i in range(len(cams))]
    assert len(layout.novel_factors) == len(cams)
    assert layout.placement in PLACEMENTS
    assert _max_view_angle_deg(cams) >= 20.0
    az = [camera_factors(c)["azimuth_deg"] for c in cams]
    pairs = [_circular(a, b) for i, a in enumerate(az) for b in az[i + 1 :]]
    if layout.placement == "asymmetric":
        assert min(pairs) >= 15.0 - 1e-6
    if layout.placement == "wall_cluster":
        assert min(pairs) <= 40.0 + 1e-6
    if layout.placement == "one_sided":  # all within a 90° sector
        assert max(pairs) <= 90.0 + 1e-6
    for cam in cams:
        _check_camera(cam, ranges)
    json.dumps(layout.describe())


def test_families_do_not_overlap():
    assert not set(TRAIN_LAYOUTS.camera_counts) & set(NOVEL_LAYOUTS.camera_counts)
    assert NOVEL_LAYOUTS.novel_of is TRAIN_LAYOUTS and TRAIN_LAYOUTS.novel_of is None
    for label in ("distance_mm", "height_mm", "hfov_deg"):
        assert _overlap(getattr(TRAIN_LAYOUTS, label), getattr(NOVEL_LAYOUTS, label)) == 0.0, label
    # the training box covers Human3.6M (4 cameras 4.5–6 m away, 1.3–1.8 m high, hfov ≈ 47°) and Panoptic HD
    assert 4 in TRAIN_LAYOUTS.camera_counts and (1000, 1000) in TRAIN_LAYOUTS.image_sizes
    h36m = {"distance_mm": 5000.0, "height_mm": 1500.0, "hfov_deg": 47.2, "roll_deg": 0.5}
    assert in_ranges(h36m, TRAIN_LAYOUTS) and not in_ranges(h36m, NOVEL_LAYOUTS)
    assert (1920, 1080) in TRAIN_LAYOUTS.image_sizes
    assert _in_union(math.degrees(2 * math.atan(960 / 1550)), TRAIN_LAYOUTS.hfov_deg)


def test_in_ranges_known_answers():
    base = {"distance_mm": 4000.0, "height_mm": 1500.0, "hfov_deg": 60.0, "roll_deg": -3.0}
    assert in_ranges(base, TRAIN_LAYOUTS)
    assert not in_ranges({**base, "roll_deg": 7.0}, TRAIN_LAYOUTS)
    high = {**base, "height_mm": 3000.0}
    assert not in_ranges(high, TRAIN_LAYOUTS) and in_ranges(high, NOVEL_LAYOUTS)
    far_wide = {**base, "distance_mm": 8000.0, "hfov_deg": 95.0}
    assert in_ranges(far_wide, NOVEL_LAYOUTS)
    assert not in_ranges({**base, "distance_mm": 9500.0}, NOVEL_LAYOUTS)  # in neither family
    with pytest.raises(InputError):
        in_ranges({"distance_mm": 1.0}, TRAIN_LAYOUTS)


def test_camera_factors_known_answer():
    cam = Camera.look_at(eye=[0, -5000, 1500], target=[0, 0, 1000], focal=1145, image_size=(1000, 1000))
    f = camera_factors(cam)
    assert f["distance_mm"] == pytest.approx(5000.0)
    assert f["height_mm"] == pytest.approx(1500.0)
    assert f["azimuth_deg"] == pytest.approx(270.0)
    assert f["hfov_deg"] == pytest.approx(math.degrees(2 * math.atan(500 / 1145)))  # ≈ 47.2°
    assert f["pitch_deg"] == pytest.approx(math.degrees(math.atan(500 / 5000)))  # looking down
    assert f["roll_deg"] == pytest.approx(0.0, abs=1e-9)
    # roll about the optical axis: R = Rz(roll) R_upright keeps the centre and the optical axis
    a = math.radians(4.0)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rolled = Camera(K=cam.K, R=rz @ cam.R, t=rz @ cam.t, image_size=cam.image_size)
    g = camera_factors(rolled)
    assert g["roll_deg"] == pytest.approx(4.0)
    for key in ("distance_mm", "height_mm", "pitch_deg", "hfov_deg"):
        assert g[key] == pytest.approx(f[key])
    # a hand-made camera at +X, 2 m high, looking horizontally along -X; f = w/2 → hfov 90°
    R = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # rows: right, down, forward
    K = np.array([[960.0, 0, 959.5], [0, 960.0, 539.5], [0, 0, 1]])
    hand = Camera(K=K, R=R, t=-R @ np.array([4000.0, 0.0, 2000.0]), image_size=(1920, 1080))
    h = camera_factors(hand)
    assert (h["distance_mm"], h["height_mm"], h["azimuth_deg"]) == pytest.approx((4000.0, 2000.0, 0.0))
    assert (h["hfov_deg"], h["pitch_deg"], h["roll_deg"]) == pytest.approx((90.0, 0.0, 0.0), abs=1e-9)


def test_train_layouts(train_layouts):
    for layout in train_layouts:
        _check_layout(layout, TRAIN_LAYOUTS, "cam")
        assert layout.family == "train" and not layout.is_novel
        assert all(nf == () for nf in layout.novel_factors)
        for cam in layout.cameras:
            assert in_ranges(camera_factors(cam), TRAIN_LAYOUTS)
            assert not in_ranges(camera_factors(cam), NOVEL_LAYOUTS)
    assert {len(lay.cameras) for lay in train_layouts} == set(TRAIN_LAYOUTS.camera_counts)
    assert {lay.placement for lay in train_layouts} == set(PLACEMENTS)


def test_novel_layouts(novel_layouts):
    keys = {"distance": "distance_mm", "height": "height_mm", "hfov": "hfov_deg"}
    seen_factors = set()
    for layout in novel_layouts:
        _check_layout(layout, NOVEL_LAYOUTS, "novel")
        assert layout.family == "novel" and layout.is_novel
        assert len(layout.cameras) not in TRAIN_LAYOUTS.camera_counts
        for cam, novel in zip(layout.cameras, layout.novel_factors, strict=True):
            factors = camera_factors(cam)
            assert not in_ranges(factors, TRAIN_LAYOUTS)
            assert in_ranges(factors, NOVEL_LAYOUTS)
            assert novel and set(novel) <= set(keys)
            seen_factors.update(novel)
            # the recorded novel factors are the measured ones outside the training box
            for name, key in keys.items():
                family = NOVEL_LAYOUTS if name in novel else TRAIN_LAYOUTS
                assert _in_union(factors[key], getattr(family, key)), (name, factors)
            assert abs(factors["roll_deg"]) <= NOVEL_LAYOUTS.roll_deg
    assert seen_factors == set(keys)
    assert {len(lay.cameras) for lay in novel_layouts} == set(NOVEL_LAYOUTS.camera_counts)
    assert {lay.placement for lay in novel_layouts} == set(PLACEMENTS)


def test_deterministic():
    for ranges, novel in ((TRAIN_LAYOUTS, False), (NOVEL_LAYOUTS, True)):
        a = sample_layout(np.random.default_rng(7), ranges, novel=novel)
        b = sample_layout(np.random.default_rng(7), ranges, novel=novel)
        c = sample_layout(np.random.default_rng(8), ranges, novel=novel)
        assert a.placement == b.placement and a.novel_factors == b.novel_factors
        assert len(a.cameras) == len(b.cameras)
        for ca, cb in zip(a.cameras, b.cameras, strict=True):
            for attr in ("K", "R", "t", "dist"):
                np.testing.assert_array_equal(getattr(ca, attr), getattr(cb, attr))
            assert ca.image_size == cb.image_size
        assert a.describe() == b.describe() != c.describe()


def test_describe_matches_cameras():
    layout = sample_layout(np.random.default_rng(3), novel=True)
    record = json.loads(json.dumps(layout.describe()))
    assert record["family"] == "novel" and record["placement"] == layout.placement
    assert record["camera_count"] == len(layout.cameras) == len(record["cameras"])
    for rec, cam, novel in zip(record["cameras"], layout.cameras, layout.novel_factors, strict=True):
        f = camera_factors(cam)
        assert rec["name"] == cam.name and rec["image_size"] == list(cam.image_size)
        for key in ("distance_mm", "height_mm", "hfov_deg", "roll_deg", "pitch_deg"):
            assert rec[key] == pytest.approx(f[key], abs=1e-3)
        assert rec["novel_factors"] == list(novel)


def test_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="novel"):
        sample_layout(rng, NOVEL_LAYOUTS)  # a novel family needs novel=True
    with pytest.raises(InputError):
        sample_layout(0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="camera_counts"):
        LayoutRanges(**{**_fields(TRAIN_LAYOUTS), "camera_counts": (1, 3)})
    with pytest.raises(InputError, match="distance_mm"):
        LayoutRanges(**{**_fields(TRAIN_LAYOUTS), "distance_mm": ((3000.0, 2000.0),)})
    with pytest.raises(InputError, match="placements"):
        LayoutRanges(**{**_fields(TRAIN_LAYOUTS), "placements": ("circle",)})
    with pytest.raises(InputError, match="no placement"):
        LayoutRanges(**{**_fields(TRAIN_LAYOUTS), "camera_counts": (2,), "placements": ("wall_cluster",)})
    # cameras 2.5 m away cannot have a 3 m area in front of them
    with pytest.raises(InputError, match="no valid camera"):
        sample_layout(rng, LayoutRanges(**{**_fields(TRAIN_LAYOUTS), "distance_mm": ((2500.0, 2600.0),)}),
                      area_radius_mm=3000.0)


def _fields(ranges: LayoutRanges) -> dict:
    return {k: getattr(ranges, k) for k in ranges.__dataclass_fields__}


def test_fast():
    rng = np.random.default_rng(0)
    sample_layout(rng)
    start = time.perf_counter()
    for _ in range(20):
        sample_layout(rng, novel=True)
    assert (time.perf_counter() - start) / 20 < 0.05  # typically ~3 ms; loose for a busy machine


def test_module_example():
    result = doctest.testmod(layouts, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
