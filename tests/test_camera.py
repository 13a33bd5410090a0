"""Camera convention, projection, crops and the rig JSON format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseboard.camera import Camera, distort_normalized, load_rig, rotation_about_axis, save_rig
from poseboard.errors import InputError, ResultFileError, ShapeError


def test_convention_point_in_front_projects_to_principal_point():
    cam = Camera.look_at(eye=[0, -5000, 1000], target=[0, 0, 1000], focal=1000, image_size=(1001, 801))
    # x_cam = R X + t: the target is 5 m straight ahead on the optical axis
    np.testing.assert_allclose(cam.world_to_camera(np.array([0, 0, 1000.0])), [0, 0, 5000], atol=1e-9)
    np.testing.assert_allclose(cam.project(np.array([[0, 0, 1000.0]])), [[500, 400]], atol=1e-9)
    # OpenCV axes: world up (+z) is image up (smaller v); world +x is image right here
    up, right = cam.project(np.array([[0, 0, 1500.0], [500, 0, 1000.0]]))
    assert up[1] < 400 and right[0] > 500
    np.testing.assert_allclose(cam.center, [0, -5000, 1000], atol=1e-9)


def test_projection_matrix_matches_project_without_distortion(rig, body_points):
    for cam in rig:
        P = cam.projection_matrix
        h = np.concatenate([body_points, np.ones((*body_points.shape[:-1], 1))], axis=-1) @ P.T
        np.testing.assert_allclose(h[..., :2] / h[..., 2:], cam.project(body_points), atol=1e-8)


def test_points_behind_the_camera_are_nan():
    cam = Camera.look_at(eye=[0, -5000, 1000], target=[0, 0, 1000], focal=1000, image_size=(1000, 1000))
    assert np.isnan(cam.project(np.array([[0, -6000, 1000.0]]))).all()


def test_distortion_matches_opencv_formula_and_inverts(rig_distorted, body_points):
    cam = rig_distorted[0]
    k1, k2, p1, p2, k3 = cam.dist
    x, y = 0.1, -0.2
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    expected = (
        x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
        y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y,
    )
    np.testing.assert_allclose(distort_normalized(x, y, cam.dist), expected)
    distorted = cam.project(body_points)
    assert np.abs(distorted - cam.project(body_points, distort=False)).max() > 1.0
    np.testing.assert_allclose(cam.undistort_pixels(distorted), cam.project(body_points, distort=False), atol=1e-6)


def test_crop_and_resize_update_K(rig, body_points):
    cam = rig[1]
    box = (120.0, 80.0, 620.0, 580.0)
    crop = cam.crop_and_resize(box, (384, 384))
    expected = (cam.project(body_points, distort=False) - [box[0], box[1]]) * (384 / 500)
    np.testing.assert_allclose(crop.project(body_points, distort=False), expected, atol=1e-9)
    assert crop.image_size == (384, 384)
    # non-square resize scales x by the width ratio and y by the height ratio
    wide = cam.resize((500, 2000))
    np.testing.assert_allclose(wide.project(body_points) / [0.5, 2.0], cam.project(body_points), atol=1e-9)


def test_crop_and_resize_is_crop_then_resize_to_the_bit(rig):
    """The fused crop camera (no intermediate camera built) equals the two steps exactly, and a
    box under half a pixel wide is refused as the intermediate camera refused it."""
    rng = np.random.default_rng(0)
    for cam in rig:
        for _ in range(50):
            left, top = rng.uniform(-200, 800, size=2)
            box = (left, top, left + rng.uniform(1, 900), top + rng.uniform(1, 900))
            size = tuple(int(x) for x in rng.integers(32, 400, size=2))
            fused, steps = cam.crop_and_resize(box, size), cam.crop(box).resize(size)
            assert fused.K.tobytes() == steps.K.tobytes() and fused.image_size == steps.image_size
            assert fused.R.tobytes() == steps.R.tobytes() and fused.dist.tobytes() == steps.dist.tobytes()
    with pytest.raises(InputError, match="image_size must be positive"):
        rig[0].crop_and_resize((10.0, 10.0, 10.3, 50.0), (64, 64))


def test_invalid_cameras_are_rejected():
    with pytest.raises(InputError, match="not a rotation"):
        Camera(K=np.eye(3), R=np.diag([1.0, 1.0, -1.0]), t=np.zeros(3), name="mirror")
    with pytest.raises(InputError, match="NaN"):
        Camera(K=np.eye(3), R=np.eye(3), t=[0, np.nan, 0])
    with pytest.raises(ShapeError, match="expected shape"):
        Camera(K=np.eye(3), R=np.eye(3), t=np.zeros(4))
    with pytest.raises(InputError, match="fx, fy > 0"):
        Camera(K=np.diag([0.0, 1.0, 1.0]), R=np.eye(3), t=np.zeros(3))


def test_the_rotation_check_accepts_exactly_what_allclose_and_det_accept():
    """The camera's fast rotation test against its definition, ``np.allclose(R Rᵀ, I, atol=1e-5)``
    and ``det R ≥ 0``, on rotations perturbed around the tolerance, mirrors among them."""
    rng = np.random.default_rng(0)
    agree = accepted = 0
    for k in range(3000):
        q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        q = q * np.sign(np.linalg.det(q)) * (-1 if k % 10 == 0 else 1)  # every tenth a mirror
        R = q + rng.normal(size=(3, 3)) * 10 ** rng.uniform(-7, -4.5)
        definition = np.allclose(R @ R.T, np.eye(3), atol=1e-5) and np.linalg.det(R) >= 0
        try:
            Camera(K=np.eye(3), R=R, t=np.zeros(3))
            ok = True
        except InputError:
            ok = False
        agree += ok == definition
        accepted += ok
    assert agree == 3000
    assert 300 < accepted < 2700  # both outcomes well represented


def test_invalid_arrays_are_named():
    with pytest.raises(InputError, match="dist contains NaN"):
        Camera(K=np.eye(3), R=np.eye(3), t=np.zeros(3), dist=[0, 0, np.inf, 0, 0])
    with pytest.raises(InputError, match="K contains NaN"):
        Camera(K=np.full((3, 3), np.nan), R=np.eye(3), t=np.zeros(3))
    with pytest.raises(ShapeError, match="camera 'c': R"):
        Camera(K=np.eye(3), R=np.eye(4), t=np.zeros(3), name="c")
    with pytest.raises(ShapeError, match=r"dist \(k1"):
        Camera(K=np.eye(3), R=np.eye(3), t=np.zeros(3), dist=np.zeros(6))
    assert Camera(K=np.eye(3), R=np.eye(3), t=np.zeros(3), dist=[0.1, 0, 0, 0]).dist.tolist() == [0.1, 0, 0, 0, 0]


def test_rig_json_round_trip(tmp_path, rig_distorted):
    path = tmp_path / "rig.json"
    save_rig(rig_distorted, path)
    loaded = load_rig(path)
    assert [c.name for c in loaded] == [c.name for c in rig_distorted]
    for a, b in zip(loaded, rig_distorted, strict=True):
        for attr in ("K", "R", "t", "dist"):
            np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), atol=1e-12)
        assert a.image_size == b.image_size


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["cameras"][0].pop("K"), "cameras.0.K"),
        (lambda d: d["cameras"][1].__setitem__("t", [1, 2]), "cameras.1.t"),
        (lambda d: d.__setitem__("units", "m"), "millimetres"),
        (lambda d: d["cameras"][0].__setitem__("R", [[1, 0, 0], [0, 1, 0], [0, 0, -1]]), "cameras\\[0\\].*rotation"),
        (lambda d: d["cameras"][0].__setitem__("flange", 1), "flange"),
        # translations in metres under "units": "mm" (issue 21): judged from the rig's size
        (lambda d: [c.__setitem__("t", [x / 1000 for x in c["t"]]) for c in d["cameras"]],
         r"looks like metres.*multiply every t by 1000"),
        (lambda d: d["cameras"][1].__setitem__("name", d["cameras"][0]["name"]), r"repeated: \['"),
    ],
)
def test_bad_rig_files_name_file_and_field(tmp_path, rig, mutate, message):
    path = tmp_path / "rig.json"
    save_rig(rig, path)
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=message) as info:
        load_rig(path)
    assert str(path) in str(info.value)


def test_rig_file_not_json(tmp_path):
    path = tmp_path / "rig.json"
    path.write_text("{not json")
    with pytest.raises(ResultFileError, match="not valid JSON"):
        load_rig(path)


def test_rotation_about_axis_is_a_rotation():
    R = rotation_about_axis([1, 2, 3], 0.7)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1.0)
    np.testing.assert_allclose(R @ np.array([1, 2, 3]) / 1.0, [1, 2, 3], atol=1e-12)
