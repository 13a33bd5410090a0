"""The floor every camera sees a standing person on (poseboard.studio.volume) against hand
projections and the closed form of cameras looking straight down; the generator's confinement of
a path to the disc (casting.confined); the config key that is absent unless set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poseboard.camera import Camera
from poseboard.datasets.synthetic.casting import _Sequence, confined
from poseboard.datasets.synthetic.config import CaptureArea, SynthConfig
from poseboard.studio.volume import (
    PERSON_HEIGHT_MM,
    inside_every_image,
    render_cameras,
    seen_share,
    shared_area,
)

W, H, F = 1600, 1000, 1000.0  # image and focal of the overhead cameras
BODY = 400.0


def _overhead(x: float, y: float, height: float, name: str = "top") -> Camera:
    """A camera at (x, y, height) looking straight down: image x along world x, image y along −world y."""
    R = np.diag([1.0, -1.0, -1.0])
    K = np.array([[F, 0.0, (W - 1) / 2], [0.0, F, (H - 1) / 2], [0.0, 0.0, 1.0]])
    return Camera(K=K, R=R, t=-R @ np.array([x, y, height]), image_size=(W, H), name=name)


def _half_sides(height: float, margin: float) -> tuple[float, float]:
    """The floor rectangle's half sides (mm) where an overhead camera at ``height`` sees the whole
    segment from the floor to the person's height ``margin`` px inside its image: its top end is
    the nearest, so the most magnified: |x| ≤ (W/2 − margin)(height − h_p)/F, likewise y with H."""
    depth = height - PERSON_HEIGHT_MM
    return (W / 2 - margin) * depth / F, (H / 2 - margin) * depth / F


def test_inside_matches_a_hand_projection():
    rng = np.random.default_rng(0)
    cams = [Camera.look_at([3000 * math.cos(a), 3000 * math.sin(a), 2000], [0, 0, 900], 1200, (1280, 720),
                           name=f"c{i}") for i, a in enumerate([0.3, 2.0, 4.1])]
    points = rng.uniform([-2000, -2000, -500], [2000, 2000, 2500], (4000, 3))
    margins = [0.0, 15.0, 40.0]
    expected = np.ones(len(points), bool)
    for cam, m in zip(cams, margins, strict=True):
        x = (points @ cam.R.T + cam.t) @ cam.K.T
        u, v = x[:, 0] / x[:, 2], x[:, 1] / x[:, 2]
        expected &= (x[:, 2] > 0) & (u >= m - 0.5) & (u < 1280 - 0.5 - m) & (v >= m - 0.5) & (v < 720 - 0.5 - m)
    got = inside_every_image(cams, points, margins)
    np.testing.assert_array_equal(got, expected)
    assert 0.1 < got.mean() < 0.9  # both kinds of points were drawn
    behind = np.array([[6000.0, 0.0, 2000.0]])  # behind camera c0 (beyond it, away from its target)
    assert not inside_every_image(cams[:1], behind)[0]


def test_one_overhead_camera_gives_its_closed_form_rectangle():
    cam = _overhead(0.0, 0.0, 6000.0)
    area = shared_area([cam], enough_mm=math.inf)
    a, b = _half_sides(6000.0, 0.02 * H)
    step = area.step_mm
    assert area.fits and area.seen == 1.0
    np.testing.assert_allclose(area.centre, [0.0, 0.0], atol=step / 2)
    assert area.radius_mm == pytest.approx(min(a, b) - BODY, abs=step)  # the body's reach off the short side
    assert area.floor_m2 == pytest.approx(4 * a * b / 1e6, abs=2 * (2 * a + 2 * b) * step / 1e6)
    axis = np.array([-a + step, 0.0, a - step])  # well inside, and one cell outside, the closed form
    assert seen_share([cam], axis, [0.0], margin_px=0.02 * H).tolist() == [[1.0, 1.0, 1.0]]
    assert seen_share([cam], [a + step], [0.0], margin_px=0.02 * H)[0, 0] < 1.0
    assert seen_share([cam], [0.0], [b + step], margin_px=0.02 * H)[0, 0] < 1.0


def test_the_disc_nearest_the_cameras_aim_that_is_wide_enough():
    """The rectangle of a camera above x = 1500: the widest discs lie on a segment of centres
    (the rectangle is longer than wide), the nearest the origin taken; with a disc of 1000 mm
    enough, the origin itself, the cameras' aim, is wide enough."""
    cam = _overhead(1500.0, 0.0, 6000.0)
    a, b = _half_sides(6000.0, 0.02 * H)
    widest = shared_area([cam], enough_mm=math.inf)
    step = widest.step_mm
    assert widest.radius_mm == pytest.approx(b - BODY, abs=step)
    # centres of the widest disc: x in [1500 − (a − BODY) + (b − BODY), …]: the lowest is nearest 0
    np.testing.assert_allclose(widest.centre, [1500.0 - a + b, 0.0], atol=step)
    enough = shared_area([cam], enough_mm=1000.0)
    assert enough.radius_mm == 1000.0
    np.testing.assert_allclose(enough.centre, [0.0, 0.0], atol=step / 2)


def test_two_cameras_share_the_overlap_of_their_rectangles():
    cams = [_overhead(-1200.0, 0.0, 6000.0, "left"), _overhead(1200.0, 0.0, 6000.0, "right")]
    a, b = _half_sides(6000.0, 0.02 * H)
    area = shared_area(cams, enough_mm=math.inf)
    step = area.step_mm
    overlap = a - 1200.0  # half width of the overlap along x: [1200 − a, a − 1200]
    assert area.radius_mm == pytest.approx(min(overlap, b) - BODY, abs=step)
    np.testing.assert_allclose(area.centre, [0.0, 0.0], atol=step / 2)
    assert area.floor_m2 == pytest.approx(4 * overlap * b / 1e6, abs=2 * (2 * overlap + 2 * b) * step / 1e6)


def test_a_room_disc_holds_whole_bodies_and_is_the_widest_there():
    """Brute force: every point of the cylinder over the disc widened by the body's reach, floor to
    the person's height, is inside every image with the margin; a cylinder a few cells wider is not."""
    target = np.array([0.0, 0.0, 950.0])
    cams = [Camera.look_at([4300 * math.cos(a), 4300 * math.sin(a), 1500 + 120 * i], target, 1150.0, (1000, 1000),
                           name=f"c{i}") for i, a in enumerate(np.linspace(0, 2 * np.pi, 4, endpoint=False) + 0.4)]
    area = shared_area(cams, enough_mm=math.inf)
    assert area.fits and area.radius_mm > 300
    rng = np.random.default_rng(1)

    def cylinder(radius: float, n: int = 20000) -> np.ndarray:
        r, phi = radius * np.sqrt(rng.uniform(size=n)), rng.uniform(0, 2 * np.pi, n)
        return np.column_stack([area.centre[0] + r * np.cos(phi), area.centre[1] + r * np.sin(phi),
                                rng.uniform(0, PERSON_HEIGHT_MM, n)])

    # the grid samples the floor every step and each segment at a few heights: a cell's tolerance
    inner = cylinder(area.radius_mm + BODY - area.step_mm)
    assert inside_every_image(cams, inner, [0.02 * 1000 - 2.0] * 4).all()
    outer = cylinder(area.radius_mm + BODY + 3 * area.step_mm)
    assert not inside_every_image(cams, outer, area.margins_px).all()


def test_no_whole_body_anywhere_is_said_and_still_placed():
    """A camera only 2.2 m up sees a standing person's head across a floor strip narrower than a
    body: no whole body fits; the disc is where the most of a body is seen."""
    cam = _overhead(0.0, 0.0, 2200.0)
    area = shared_area([cam])
    assert not area.fits and 0 < area.seen < 1
    np.testing.assert_allclose(area.centre, [0.0, 0.0], atol=area.step_mm / 2)


def test_render_cameras_drop_the_distortion_only_when_undistorting():
    cam = Camera.look_at([3000, 0, 1500], [0, 0, 900], 1000, (800, 600), dist=[-0.2, 0.05, 0, 0, 0], name="c")
    (pinhole,) = render_cameras([cam], True)
    assert not pinhole.has_distortion and np.array_equal(pinhole.K, cam.K) and np.array_equal(pinhole.t, cam.t)
    assert render_cameras([cam], False)[0] is cam


def _walk(frames: list[int]) -> _Sequence:
    """A 5-frame walk along x from (1000, 500), every joint 100 mm off its pelvis, heights 0..1600."""
    poses = np.zeros((5, 17, 3))
    poses[:, :, 0] = 1000.0 + 400.0 * np.arange(5)[:, None] + np.linspace(-100, 100, 17)
    poses[:, :, 1] = 500.0
    poses[:, :, 2] = np.linspace(0, 1600, 17)
    poses[:, 6, 0] = 1000.0 + 400.0 * np.arange(5)  # the pelvis
    return _Sequence("S9", "Walking", "S9/Walking/000", poses, None, frames)


def test_a_path_that_fits_is_only_moved_to_the_centre():
    seq = _walk([0, 2, 4])  # rendered: pelvis x 1000, 1800, 2600: centre 1800, reach 800
    out = confined(seq, CaptureArea(centre_mm=(-300.0, 200.0), radius_mm=900.0))
    np.testing.assert_allclose(out.poses[..., 0], seq.poses[..., 0] - 2100.0)
    np.testing.assert_allclose(out.poses[..., 1], seq.poses[..., 1] - 300.0)
    np.testing.assert_array_equal(out.poses[..., 2], seq.poses[..., 2])
    assert out.frames == seq.frames and out.sequence == seq.sequence


def test_a_path_that_reaches_farther_is_scaled_to_the_radius():
    seq = _walk([0, 1, 2])  # rendered: pelvis x 1000, 1400, 1800: centre 1400, reach 400
    out = confined(seq, CaptureArea(centre_mm=(0.0, 0.0), radius_mm=100.0))
    pelvis = out.poses[:, 6, 0]
    np.testing.assert_allclose(pelvis, 0.25 * (seq.poses[:, 6, 0] - 1400.0))  # frames 3, 4 follow, not rendered
    assert np.abs(pelvis[[0, 1, 2]]).max() == pytest.approx(100.0)
    np.testing.assert_allclose(out.poses - out.poses[:, 6:7], seq.poses - seq.poses[:, 6:7])  # the pose about it
    still = confined(seq, CaptureArea(centre_mm=(0.0, 0.0), radius_mm=0.0))
    np.testing.assert_allclose(still.poses[:, 6, :2], 0.0, atol=1e-12)


def test_capture_area_key_only_when_set():
    config = SynthConfig.preset("smoke")
    assert "capture_area" not in config.model_dump() and "capture_area" not in config.model_dump(mode="json")
    area = CaptureArea(centre_mm=(250.0, -40.0), radius_mm=320.0)
    moved = config.model_copy(update={"capture_area": area})
    dumped = moved.model_dump(mode="json")
    assert dumped["capture_area"] == {"centre_mm": [250.0, -40.0], "radius_mm": 320.0}
    assert SynthConfig.model_validate(dumped).capture_area == area
    assert moved.with_split_sizes("test", samples=5).capture_area == area
    with pytest.raises(ValueError):
        CaptureArea(centre_mm=(0.0, 0.0), radius_mm=-1.0)
