"""Subjects, their proportions, forward kinematics and the leg IK."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from poseboard.datasets.synthetic.body import (
    ANGLE_LIMITS_DEG,
    ANGLE_NAMES,
    BONE_NAMES,
    SUBJECTS,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    BodyShape,
    clip_to_limits,
    forward_kinematics,
    make_body,
    solve_leg_ik,
)
from poseboard.errors import InputError, ShapeError
from poseboard.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.joint_names)}


def length(body: BodyShape, child: str) -> float:
    return body.bone_length(child)


def random_angles(rng: np.random.Generator, n: int, shrink: float = 1.0) -> dict[str, np.ndarray]:
    out = {}
    for name in ANGLE_NAMES:
        lo, hi = ANGLE_LIMITS_DEG[name]
        mid = (lo + hi) / 2
        out[name] = rng.uniform(mid + (lo - mid) * shrink, mid + (hi - mid) * shrink, n)
    return out


def test_subject_split_like_human36m():
    assert len(SUBJECTS) >= 7
    assert len(TRAIN_SUBJECTS) == 5 and len(TEST_SUBJECTS) == 2
    assert not set(TRAIN_SUBJECTS) & set(TEST_SUBJECTS)
    assert set(TRAIN_SUBJECTS) | set(TEST_SUBJECTS) <= set(SUBJECTS)
    assert all(SUBJECTS[name].name == name for name in SUBJECTS)


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_heights_and_anthropometric_proportions(name):
    body = SUBJECTS[name]
    h = body.height_mm
    assert 1500 <= h <= 1950
    assert len(body.bone_lengths) == len(H36M17.bones) == len(BONE_NAMES) == 16
    expected = {  # Winter / Drillis & Contini fractions of stature, ±12 %
        "RKnee": 0.245, "RAnkle": 0.246, "RElbow": 0.186, "RWrist": 0.146,
    }  # fmt: skip
    for child, frac in expected.items():
        assert length(body, child) / h == pytest.approx(frac, rel=0.12), child
    shoulders = 2 * body.rest_pose()[J["RShoulder"], 0]
    hips = 2 * length(body, "RHip")
    assert shoulders / h == pytest.approx(0.259 * 0.75, rel=0.12)
    assert hips / h == pytest.approx(0.191 * 0.80, rel=0.12)
    # symmetric bodies
    for right, left in (("RKnee", "LKnee"), ("RAnkle", "LAnkle"), ("RElbow", "LElbow"),
                        ("RWrist", "LWrist"), ("RShoulder", "LShoulder"), ("RHip", "LHip")):
        assert length(body, right) == length(body, left)


def test_subjects_have_their_own_proportions():
    ratios = {n: b.bone_lengths / b.height_mm for n, b in SUBJECTS.items()}
    for a, b in itertools.combinations(ratios, 2):
        assert np.abs(ratios[a] / ratios[b] - 1).max() > 0.02, (a, b)
    spread = np.std(np.stack(list(ratios.values())), axis=0) / np.mean(list(ratios.values()), 0)
    assert spread.max() > 0.015  # a few per cent of variation of the ratios


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_rest_pose_stands_on_the_floor_facing_y(name):
    body = SUBJECTS[name]
    pose = body.rest_pose()
    assert pose.shape == (17, 3)
    assert pose[:, 2].max() == pytest.approx(body.height_mm)  # the head top is the top
    assert pose[:, 2].argmax() == J["Head"]
    np.testing.assert_allclose(pose[[J["RAnkle"], J["LAnkle"]], 2], body.ankle_height_mm)
    assert pose[J["RHip"], 0] > 0 > pose[J["LHip"], 0]  # right side towards +x
    assert pose[J["Neck"], 1] > pose[J["Thorax"], 1]  # the nose is in front: facing +y
    np.testing.assert_allclose(H36M17.bone_lengths(pose), body.bone_lengths, atol=1e-9)
    mirrored = pose[list(H36M17.left_right_swap)] * [-1, 1, 1]
    np.testing.assert_allclose(mirrored, pose, atol=1e-9)


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_limb_radii_are_plausible(name):
    body = SUBJECTS[name]
    r = {H36M17.joint_names[c]: body.limb_radii[b] for b, (_, c) in enumerate(H36M17.bones)}
    assert r["RKnee"] > r["RAnkle"]  # thigh > shank
    assert r["RElbow"] > r["RWrist"]  # upper arm > forearm
    assert min(r["Spine"], r["Thorax"]) > r["RKnee"]  # the torso is the widest
    assert 25 < min(r.values()) and max(r.values()) < 200
    assert 60 < body.head_radius_mm < 120


def test_make_body_is_deterministic_and_plausible():
    a = make_body("X", 1700.0, np.random.default_rng(3))
    b = make_body("X", 1700.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a.bone_lengths, b.bone_lengths)
    np.testing.assert_array_equal(a.limb_radii, b.limb_radii)
    c = make_body("X", 1700.0, np.random.default_rng(4))
    assert not np.array_equal(a.bone_lengths, c.bone_lengths)
    rng = np.random.default_rng(0)
    for _ in range(30):
        h = rng.uniform(1500, 1950)
        body = make_body("crowd", h, rng)
        assert body.rest_pose()[:, 2].max() == pytest.approx(h)
        assert length(body, "RKnee") / h == pytest.approx(0.245, rel=0.12)
    with pytest.raises(InputError, match="height_mm"):
        make_body("tiny", 1.7, rng)


def test_body_shape_is_validated_and_immutable():
    body = SUBJECTS["S1"]
    with pytest.raises(ShapeError, match="bone_lengths"):
        BodyShape("bad", 1700.0, np.ones(15), np.ones(16), 90.0)
    with pytest.raises(InputError, match="limb_radii"):
        BodyShape("bad", 1700.0, np.ones(16), -np.ones(16), 90.0)
    with pytest.raises(ValueError):
        body.bone_lengths[0] = 1.0
    custom = BodyShape("c", 1700.0, body.bone_lengths, body.limb_radii, 90.0)
    assert custom.ankle_height_mm == pytest.approx(0.039 * 1700.0)


def test_forward_kinematics_is_rigid_for_any_angles():
    body = SUBJECTS["S11"]
    rng = np.random.default_rng(0)
    n = 300
    angles = random_angles(rng, n)
    root = rng.normal(0, 1000, (n, 3))
    pose = forward_kinematics(body, angles, root, rng.uniform(-180, 180, n))
    assert pose.shape == (n, 17, 3) and pose.dtype == np.float64
    np.testing.assert_allclose(pose[:, J["Pelvis"]], root)
    np.testing.assert_allclose(H36M17.bone_lengths(pose), np.broadcast_to(body.bone_lengths, (n, 16)),
                               atol=1e-9)


def test_forward_kinematics_known_answers():
    body = SUBJECTS["S9"]
    root = [0.0, 0.0, 1000.0]
    thigh, shank = length(body, "RKnee"), length(body, "RAnkle")
    upper, fore = length(body, "RElbow"), length(body, "RWrist")
    knee = forward_kinematics(body, {"r_knee_flexion": 90.0}, root, 0.0)[0]
    np.testing.assert_allclose(knee[J["RAnkle"]] - knee[J["RKnee"]], [0, -shank, 0], atol=1e-9)
    hip = forward_kinematics(body, {"r_hip_flexion": 90.0}, root, 0.0)[0]
    np.testing.assert_allclose(hip[J["RKnee"]] - hip[J["RHip"]], [0, thigh, 0], atol=1e-9)
    abd = forward_kinematics(body, {"l_hip_abduction": 90.0}, root, 0.0)[0]
    np.testing.assert_allclose(abd[J["LKnee"]] - abd[J["LHip"]], [-thigh, 0, 0], atol=1e-9)
    arm = forward_kinematics(body, {"r_shoulder_abduction": 90.0, "l_shoulder_flexion": 90.0,
                                    "l_elbow_flexion": 90.0}, root, 0.0)[0]
    np.testing.assert_allclose(arm[J["RElbow"]] - arm[J["RShoulder"]], [upper, 0, 0], atol=1e-9)
    np.testing.assert_allclose(arm[J["LElbow"]] - arm[J["LShoulder"]], [0, upper, 0], atol=1e-9)
    np.testing.assert_allclose(arm[J["LWrist"]] - arm[J["LElbow"]], [0, 0, fore], atol=1e-9)
    up = forward_kinematics(body, {"r_shoulder_flexion": 180.0}, root, 0.0)[0]
    np.testing.assert_allclose(up[J["RElbow"]] - up[J["RShoulder"]], [0, 0, upper], atol=1e-9)
    # yaw 90: facing −x, the right side towards +y
    turned = forward_kinematics(body, {}, root, 90.0)[0]
    assert turned[J["RHip"], 1] > 0 and turned[J["Neck"], 0] < 0
    bent = forward_kinematics(body, {"torso_flexion": 90.0}, root, 0.0)[0]
    assert bent[J["Thorax"], 1] > 0  # forwards
    # symmetric angles give a mirror-symmetric body
    rng = np.random.default_rng(1)
    sym = {}
    for name in ANGLE_NAMES:
        if name.startswith("r_"):
            sym[name] = sym["l_" + name[2:]] = rng.uniform(*ANGLE_LIMITS_DEG[name]) * 0.5
    pose = forward_kinematics(body, sym, root, 0.0)[0]
    np.testing.assert_allclose(pose[list(H36M17.left_right_swap)] * [-1, 1, 1], pose, atol=1e-9)


def test_forward_kinematics_errors():
    body = SUBJECTS["S1"]
    with pytest.raises(InputError, match="unknown joint angle"):
        forward_kinematics(body, {"knee": 10.0}, [0, 0, 0], 0.0)
    with pytest.raises(ShapeError, match="root_position"):
        forward_kinematics(body, {}, np.zeros((4, 2)), 0.0)
    with pytest.raises(InputError, match="frames"):
        forward_kinematics(body, {"r_knee_flexion": np.zeros(3)}, np.zeros((4, 3)), 0.0)
    with pytest.raises(InputError, match="NaN"):
        forward_kinematics(body, {"r_knee_flexion": [np.nan]}, [0, 0, 0], 0.0)


def test_leg_ik_recovers_angles_and_reaches_targets():
    body = SUBJECTS["S6"]
    rng = np.random.default_rng(2)
    n = 500
    angles = random_angles(rng, n, shrink=0.5)
    for side in "rl":
        angles[f"{side}_knee_flexion"] = rng.uniform(5, 140, n)
        angles[f"{side}_hip_abduction"] = rng.uniform(-15, 30, n)
    root, yaw = rng.normal(0, 500, (n, 3)), rng.uniform(-180, 180, n)
    pose = forward_kinematics(body, angles, root, yaw)
    legs = solve_leg_ik(body, root, yaw, pose[:, [J["RAnkle"], J["LAnkle"]]],
                        pelvis_tilt=angles["pelvis_tilt"], pelvis_list=angles["pelvis_list"],
                        hip_rotation=(angles["r_hip_rotation"], angles["l_hip_rotation"]))
    for name, value in legs.items():
        np.testing.assert_allclose(value, angles[name], atol=1e-6, err_msg=name)
    again = forward_kinematics(body, angles | legs, root, yaw)
    np.testing.assert_allclose(again, pose, atol=1e-6)


def test_clip_to_limits():
    clipped = clip_to_limits({"r_knee_flexion": np.array([-10.0, 200.0]), "other": 1.0,
                              "l_shoulder_flexion": 170.0, "l_shoulder_abduction": 170.0})
    np.testing.assert_array_equal(clipped["r_knee_flexion"], [0.0, 150.0])
    assert clipped["other"] == 1.0
    assert np.hypot(clipped["l_shoulder_flexion"], clipped["l_shoulder_abduction"]) == (
        pytest.approx(180.0))
