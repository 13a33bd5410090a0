"""The renderer: silhouettes where the camera projects them (with lens distortion), joints on
the body, occlusion marked, crops around the whole body, crop K consistent with the 2D joints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseboard.camera import Camera
from poseboard.datasets.synthetic import render as R
from poseboard.datasets.synthetic.body import SUBJECTS, forward_kinematics
from poseboard.datasets.synthetic.rigs import build_rig
from poseboard.errors import InputError
from poseboard.skeleton import H36M17

J = {n: i for i, n in enumerate(H36M17.joint_names)}
BODY = SUBJECTS["S1"]
SIZE = 96


def _pose(seed: int = 0) -> np.ndarray:
    """A varied pose: arms and legs bent, facing a random direction, somewhere in the area."""
    rng = np.random.default_rng(seed)
    angles = {
        "r_shoulder_flexion": rng.uniform(0, 120), "l_shoulder_abduction": rng.uniform(0, 90),
        "r_elbow_flexion": rng.uniform(0, 120), "l_elbow_flexion": rng.uniform(0, 120),
        "r_hip_flexion": rng.uniform(0, 50), "r_knee_flexion": rng.uniform(0, 70),
        "torso_twist": rng.uniform(-30, 30), "torso_flexion": rng.uniform(0, 30),
    }  # fmt: skip
    root = [rng.uniform(-1200, 1200), rng.uniform(-1200, 1200), 950.0]
    return forward_kinematics(BODY, {k: [v] for k, v in angles.items()}, [root], [rng.uniform(0, 360)])[0]


def _crop_job(cam: Camera, prims: R.Primitives, size: int = SIZE, scene: int = 0) -> R.ViewJob:
    box = R.square_box(R.projected_extent(cam, prims), 1.25)
    crop = cam.crop_and_resize(box, (size, size))
    job = R.ViewJob(crop, scene, R.crop_valid_rect(box, cam.image_size, (size, size)))
    job.box = box  # type: ignore[attr-defined]  # kept for the tests
    return job


def _at(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    h, w = image.shape[-2:]
    col = np.clip(np.floor(uv[:, 0] + 0.5).astype(int), 0, w - 1)
    row = np.clip(np.floor(uv[:, 1] + 0.5).astype(int), 0, h - 1)
    return image[..., row, col]


@pytest.fixture(scope="module")
def h36m_views():
    """Six poses seen by the four (distorted) H36M-like cameras, rendered as crops."""
    cams = build_rig("h36m", 0)
    rng = np.random.default_rng(1)
    scenes, jobs, poses, tols = [], [], [], []
    for k in range(6):
        pose = _pose(k)
        prims, tol = R.figure_primitives(pose, BODY, R.Appearance.random(rng))
        scenes.append(R.Scene(prims, R.Background.random(rng)))
        poses.append(pose)
        tols.append(tol)
        jobs += [_crop_job(c, prims, scene=k) for c in cams]
    out = R.render_views(scenes, jobs, noise_bank=R.make_noise_bank(rng))
    return cams, scenes, jobs, poses, tols, out


def test_visible_joints_land_on_the_body(h36m_views):
    _, _, jobs, poses, tols, out = h36m_views
    assert out.images.shape == (len(jobs), 3, SIZE, SIZE) and out.images.dtype == np.uint8
    counted = 0
    for v, job in enumerate(jobs):
        pose = poses[job.scene]
        assert job.camera.has_distortion
        uv, vis = R.joint_visibility(job.camera, pose, out.depth[v], tols[job.scene], job.valid_rect)
        owner = _at(out.owner[v], uv)
        assert np.all(owner[vis] == 0), f"view {v}: visible joints off the body: {np.flatnonzero(vis & (owner != 0))}"
        counted += int(vis.sum())
    assert counted > 0.6 * len(jobs) * 17  # most joints are visible, some are not


def test_crops_contain_the_whole_body(h36m_views):
    _, _, jobs, poses, _, out = h36m_views
    for v, job in enumerate(jobs):
        uv = job.camera.project(poses[job.scene])
        assert np.all(uv > 0.05 * SIZE) and np.all(uv < 0.95 * SIZE)
        mask = out.owner[v] == 0
        assert mask.sum() > 0.05 * SIZE * SIZE
        border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert not border.any(), f"view {v}: the body touches the crop border"


def test_crop_camera_reprojects_joints_with_distortion(h36m_views):
    cams, _, jobs, poses, _, _ = h36m_views
    for v, job in enumerate(jobs):
        full, pose = cams[v % 4], poses[job.scene]
        left, top, right, _ = job.box
        # the crop camera's projection = the full frame's, shifted to the box and scaled
        expected = (full.project(pose, distort=True) - [left, top]) * SIZE / (right - left)
        got = job.camera.project(pose, distort=True)
        assert np.abs(got - expected).max() < 0.5
        # and distortion matters at this scale (the test would be vacuous otherwise)
        assert np.abs(job.camera.project(pose, distort=False) - got).max() > 0.05


def test_silhouette_follows_strong_distortion():
    """Points inside a capsule project (through a strongly distorted lens, near the image
    corner) onto hit pixels, points beside it onto misses."""
    dist = [-0.8, 0.3, 0.002, -0.001, 0.0]
    cam = Camera.look_at([0, -3000, 1000], [0, 0, 1000], 300, (160, 120), dist=dist)
    a, b, r = np.array([480.0, 200.0, 1480.0]), np.array([760.0, 0.0, 1280.0]), 90.0
    prims = R.Primitives.from_capsules([a], [b], [r], [[0.9, 0.2, 0.2]])
    out = R.render_views([R.Scene(prims, R.Background.plain())], [R.ViewJob(cam, 0)])
    axis = (b - a) / np.linalg.norm(b - a)
    e1 = np.cross(axis, [0, 0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    on_axis = a + np.linspace(0, 1, 9)[:, None] * (b - a)
    ring = [np.cos(t) * e1 + np.sin(t) * e2 for t in np.linspace(0, 2 * np.pi, 16, endpoint=False)]
    inside = np.concatenate([on_axis + 0.6 * r * d for d in ring])
    uv_in = cam.project(inside)
    assert np.all(_at(out.owner[0], uv_in) == 0)
    # beside the capsule, as seen from the camera: no hit
    side = np.cross(axis, cam.center - on_axis)
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    outside = np.concatenate([on_axis + 2.0 * r * side, on_axis - 2.0 * r * side])
    assert np.all(_at(out.owner[0], cam.project(outside)) == R.NOTHING)
    # the lens moves these points by several pixels: ignoring it would fail the checks above
    shift = np.linalg.norm(cam.project(inside) - cam.project(inside, distort=False), axis=1)
    assert shift.max() > 5.0
    # the depth map is the camera z of the surface: at the projected axis point, about z(axis) - r
    mid = (a + b) / 2
    z_mid = cam.world_to_camera(mid[None])[0, 2]
    d = _at(out.depth[0], cam.project(mid[None]))[0]
    assert z_mid - 1.2 * r < d < z_mid


def test_distractor_in_front_of_a_joint_occludes_it():
    pose = BODY.rest_pose()
    cam = Camera.look_at([0, 4000, 1200], [0, 0, 900], 1145, (1000, 1000), dist=[-0.2, 0.2, 0, 0, 0])
    prims, tol = R.figure_primitives(pose, BODY, R.Appearance.random(np.random.default_rng(0)))
    wrist = pose[J["RWrist"]]
    pole_xy = cam.center[:2] + 0.5 * (wrist[:2] - cam.center[:2])
    pole = R.Distractor("pole", (float(pole_xy[0]), float(pole_xy[1])), (60.0, 0.0, 2500.0)).primitives()
    job = _crop_job(cam, prims)
    out = R.render_views([R.Scene(R.Primitives.concat([prims, pole]), R.Background.plain())], [job])
    uv, vis = R.joint_visibility(job.camera, pose, out.depth[0], tol, job.valid_rect)
    assert not vis[J["RWrist"]]
    assert _at(out.owner[0], uv[[J["RWrist"]]])[0] == R.DISTRACTOR
    assert vis[J["LWrist"]] and vis[J["Head"]] and vis[J["LKnee"]]
    # a box standing in front of the legs hides the ankles and knees, not the head
    box = R.Distractor("box", (0.0, 1500.0), (1200.0, 300.0, 700.0)).primitives()
    out = R.render_views([R.Scene(R.Primitives.concat([prims, box]), R.Background.plain())], [job])
    _, vis = R.joint_visibility(job.camera, pose, out.depth[0], tol, job.valid_rect)
    assert not vis[J["RAnkle"]] and not vis[J["LAnkle"]] and vis[J["Head"]]


def test_self_occlusion_far_side_hidden():
    """Seen from its right, a standing body hides its left arm and leg; from the front, nothing."""
    pose = BODY.rest_pose()
    prims, tol = R.figure_primitives(pose, BODY, R.Appearance.random(np.random.default_rng(0)))
    side = Camera.look_at([4000, 0, 1000], [0, 0, 900], 1145, (1000, 1000))
    front = Camera.look_at([0, 4000, 1000], [0, 0, 900], 1145, (1000, 1000))
    jobs = [_crop_job(side, prims), _crop_job(front, prims)]
    out = R.render_views([R.Scene(prims, R.Background.plain())], jobs)
    _, vis_side = R.joint_visibility(jobs[0].camera, pose, out.depth[0], tol, jobs[0].valid_rect)
    _, vis_front = R.joint_visibility(jobs[1].camera, pose, out.depth[1], tol, jobs[1].valid_rect)
    for far in ("LElbow", "LWrist", "LKnee", "LAnkle", "LShoulder"):
        assert not vis_side[J[far]], far
    for near in ("RElbow", "RKnee", "RAnkle", "RShoulder", "Head", "Pelvis"):
        assert vis_side[J[near]], near
    assert vis_front.all()


def test_zero_padding_outside_the_frame():
    pose = BODY.rest_pose() + [0.0, 0.0, 0.0]
    cam = Camera.look_at([0, 2500, 1000], [0, 0, 1500], 1500, (640, 480))  # feet below the frame
    prims, tol = R.figure_primitives(pose, BODY, R.Appearance.random(np.random.default_rng(0)))
    job = _crop_job(cam, prims)
    out = R.render_views([R.Scene(prims, R.Background.plain())], [job])
    v1 = job.valid_rect[3]
    assert v1 < SIZE  # the crop runs over the bottom of the frame
    rows = np.arange(SIZE)
    assert np.all(out.images[0][:, rows >= np.ceil(v1)] == 0)
    assert out.images[0][:, rows < np.floor(v1)].mean() > 20
    _, vis = R.joint_visibility(job.camera, pose, out.depth[0], tol, job.valid_rect)
    assert not vis[J["RAnkle"]] and not vis[J["LAnkle"]] and vis[J["Head"]]


def test_render_is_deterministic_and_thread_independent(h36m_views):
    _, scenes, jobs, _, _, out = h36m_views
    bank = R.make_noise_bank(np.random.default_rng(1))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = R.render_views(scenes, jobs[:8], noise_bank=bank)
        torch.set_num_threads(2)
        b = R.render_views(scenes, jobs[:8], noise_bank=bank, max_pair_pixels=5000)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.owner, out.owner[:8])


def test_left_and_right_are_dressed_alike():
    app = R.Appearance.random(np.random.default_rng(3))
    pose = BODY.rest_pose()
    prims, _ = R.figure_primitives(pose, BODY, app)
    assert {tuple(c) for c in prims.cap_color} <= {app.skin, app.hair, app.shirt, app.trousers, app.shoes}
    color_of_bone = {}
    for a, b, c in zip(prims.cap_a, prims.cap_b, prims.cap_color, strict=True):
        ends = [np.flatnonzero(np.all(pose == e, axis=1)) for e in (a, b)]
        if ends[0].size and ends[1].size:
            color_of_bone[(int(ends[0][0]), int(ends[1][0]))] = tuple(c)
    assert len(color_of_bone) >= 14
    swap = H36M17.left_right_swap
    for (p, c), color in color_of_bone.items():
        mirror = color_of_bone.get((swap[p], swap[c]), color_of_bone.get((swap[c], swap[p])))
        assert mirror == color


def test_bad_inputs():
    cam = Camera.look_at([0, -4000, 1000], [0, 0, 1000], 400, (64, 64))
    prims = R.Primitives.from_capsules([[0, 0, 500]], [[0, 0, 1500]], [150], [[0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match="no views"):
        R.render_views([R.Scene(prims, R.Background.plain())], [])
    with pytest.raises(InputError, match="same output size"):
        R.render_views([R.Scene(prims, R.Background.plain())], [R.ViewJob(cam, 0), R.ViewJob(cam.resize((32, 32)), 0)])
    with pytest.raises(InputError, match="scene index"):
        R.render_views([R.Scene(prims, R.Background.plain())], [R.ViewJob(cam, 3)])
    with pytest.raises(InputError, match="positive"):
        R.Primitives.from_capsules([[0, 0, 0]], [[0, 0, 1]], [0.0], [[0, 0, 0]])
    with pytest.raises(InputError, match="NaN"):
        R.figure_primitives(np.full((17, 3), np.nan), BODY, R.Appearance.random(np.random.default_rng(0)))
    behind = Camera.look_at([0, 4000, 1000], [0, 8000, 1000], 400, (64, 64))
    with pytest.raises(InputError, match="not in front"):
        R.projected_extent(behind, prims)


def test_render_follows_its_device(h36m_views, device, guard):
    """Issue 20: every tensor the renderer makes follows ``device``. On the CPU the run is under
    the meta guard (a tensor created without a device lands on ``meta`` and fails at once, as it
    would on a GPU) and gives the same bytes as the plain call; on a GPU (POSEBOARD_TEST_DEVICE)
    it renders there, and only silhouette pixels may round differently."""
    _, scenes, jobs, _, _, _ = h36m_views
    bank = R.make_noise_bank(np.random.default_rng(1))
    plain = R.render_views(scenes, jobs[:6], noise_bank=bank)
    with guard(device):
        there = R.render_views(scenes, jobs[:6], noise_bank=bank, device=device)
    if device.type == "cpu":
        np.testing.assert_array_equal(there.images, plain.images)
        np.testing.assert_array_equal(there.depth, plain.depth)
        np.testing.assert_array_equal(there.owner, plain.owner)
    else:
        assert (there.owner != plain.owner).mean() < 1e-3
        assert np.abs(there.images.astype(int) - plain.images.astype(int)).mean() < 0.5


def test_generate_refuses_a_device_it_does_not_have_before_writing(tmp_path):
    from typer.testing import CliRunner

    from poseboard.cli import app

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is tested where there is none")
    result = CliRunner().invoke(app, ["generate", "synth-h36m", "--out", str(tmp_path / "data"), "--device", "cuda"])
    assert result.exit_code == 2
    assert "--device: 'cuda' asks for CUDA" in result.output
    typo = CliRunner().invoke(app, ["generate", "synth-h36m", "--out", str(tmp_path / "data"), "--device", "gpu"])
    assert typo.exit_code == 2 and "'gpu' is not a device" in typo.output
    assert not (tmp_path / "data").exists()
