"""Subjects, their proportions, forward kinematics and the leg IK."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools

import numpy as np
import pytest

from poseboard.datasets.synthetic.body import (
    ANGLE_LIMITS_DEG,
    ANGLE_NAMES,
    BONE_NAMES,
    HELD_OUT_FACTORS,
    NOVEL_PROPORTIONS,
    SUBJECTS,
    TEST_SUBJECTS,
    TRAIN_PROPORTIONS,
    TRAIN_SUBJECTS,
    BodyShape,
    ProportionRanges,
    body_proportions,
    clip_to_limits,
    forward_kinematics,
    in_proportion_ranges,
    make_body,
    novel_bodies,
    sample_body,
    solve_leg_ik,
    training_bodies,
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


def leg_ik_angles(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` random poses whose knees bend 5–140° and hips abduct −15–30°: the range the leg
    IK must recover."""
    angles = random_angles(rng, n, shrink=0.5)
    for side in "rl":
        angles[f"{side}_knee_flexion"] = rng.uniform(5, 140, n)
        angles[f"{side}_hip_abduction"] = rng.uniform(-15, 30, n)
    return angles


def test_root_pitch_lies_the_body_down():
    body = SUBJECTS["S6"]
    root = [0.0, 0.0, 150.0]
    upright = forward_kinematics(body, {"torso_flexion": 10.0}, root, 30.0)
    np.testing.assert_array_equal(forward_kinematics(body, {"torso_flexion": 10.0}, root, 30.0, root_pitch=None),
                                  upright)
    np.testing.assert_allclose(forward_kinematics(body, {"torso_flexion": 10.0}, root, 30.0, root_pitch=0.0),
                               upright, atol=1e-9)
    # on the back (facing +y): the spine runs to −y at the pelvis' height, the legs to +y, the nose up
    lying = forward_kinematics(body, {}, root, 0.0, root_pitch=-90.0)[0]
    np.testing.assert_allclose(lying[[J["Spine"], J["Thorax"], J["RKnee"], J["LAnkle"]], 2], 150.0, atol=1e-9)
    assert lying[J["Thorax"], 1] < lying[J["Spine"], 1] < 0 < lying[J["RKnee"], 1] < lying[J["RAnkle"], 1]
    assert lying[J["Neck"], 2] > lying[J["Thorax"], 2]
    # the pitch adds to the pelvis tilt, and the leg IK takes it into account
    np.testing.assert_allclose(forward_kinematics(body, {"pelvis_tilt": 20.0}, root, 0.0, root_pitch=-50.0),
                               forward_kinematics(body, {"pelvis_tilt": -30.0}, root, 0.0), atol=1e-9)
    rng = np.random.default_rng(4)
    n = 200
    angles = leg_ik_angles(rng, n)
    root, yaw, pitch = rng.normal(0, 500, (n, 3)), rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)
    pose = forward_kinematics(body, angles, root, yaw, root_pitch=pitch)
    legs = solve_leg_ik(body, root, yaw, pose[:, [J["RAnkle"], J["LAnkle"]]], root_pitch=pitch,
                        pelvis_tilt=angles["pelvis_tilt"], pelvis_list=angles["pelvis_list"],
                        hip_rotation=(angles["r_hip_rotation"], angles["l_hip_rotation"]))
    np.testing.assert_allclose(forward_kinematics(body, angles | legs, root, yaw, root_pitch=pitch), pose, atol=1e-6)


def test_leg_ik_recovers_angles_and_reaches_targets():
    body = SUBJECTS["S6"]
    rng = np.random.default_rng(2)
    n = 500
    angles = leg_ik_angles(rng, n)
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


# ------------------------------------------------------------- wider proportions, novel bodies

#: sha256 of each named subject's numbers (float64, little-endian), taken before the wider
#: samplers were added: the committed test split is rendered from S9 and S11.
PINNED_SUBJECTS = {
    "S1": "d6b21a729782b964f454ef400404efd5387b89ce0db6caae1505a5e7a073ab81",
    "S5": "2f69d73c4782eb0dec660b2edddaf6a3cfc5f451a93271a7fe8714291c1e0aed",
    "S6": "90ab57e8db2c8d91403e3ecfe388e3590c36e322dbb6726675756486133da3a8",
    "S7": "1c04248db0b4444b721cd932050c2324760e116302ca0329c63072e1013edca9",
    "S8": "47e3e0af8fda6df912d1f92c2c86d01f71d0c53dfa5f0bd2f852dc6185337505",
    "S9": "abcb1464d6a986cc28de7e3f8d150080e141a44d13dcbaa065b8cc60afff5ca1",
    "S11": "00653a7b096424072e169f6b3d7f3c0fb0aca3a20ae12ab7afe180697e108a40",
}
#: Winter's fractions measured on the rest pose (its stature is 1.0005 H at those fractions)
RISE = 0.039 + 0.246 + 0.245 + 0.140 + 0.160 + 0.075 / np.hypot(0.35, 1) + 0.105 / np.hypot(0.33, 1)
NOMINAL = {"leg": 0.491 / RISE, "arm": 0.332 / RISE, "torso": 0.300 / RISE,
           "hip_width": 0.191 * 0.80 / RISE, "shoulder_width": 0.259 * 0.75 / RISE}  # fmt: skip
FIELD = {"height_mm": "height_mm", "leg": "leg_factor", "arm": "arm_factor", "torso": "torso_factor",
         "hip_width": "hip_width_factor", "shoulder_width": "shoulder_width_factor"}  # fmt: skip


def factors(body: BodyShape) -> dict[str, float]:
    """Measured stature (mm) and proportion factors (1 = Winter's average)."""
    p = body_proportions(body)
    return {k: v if k == "height_mm" else v / NOMINAL[k] for k, v in p.items()}


def inside(x: float, intervals) -> bool:
    return any(lo <= x <= hi for lo, hi in intervals)


@pytest.fixture(scope="module")
def train200():
    return training_bodies(7, 200)


@pytest.fixture(scope="module")
def novel200():
    return novel_bodies(7, 200)


@pytest.mark.parametrize("name", sorted(PINNED_SUBJECTS))
def test_named_subjects_are_unchanged(name):
    b = SUBJECTS[name]
    numbers = np.concatenate([[b.height_mm], b.bone_lengths, b.limb_radii,
                              [b.head_radius_mm, b.ankle_height_mm, b.foot_length_mm]]).astype("<f8")
    assert hashlib.sha256(numbers.tobytes()).hexdigest() == PINNED_SUBJECTS[name]
    assert set(SUBJECTS) == set(PINNED_SUBJECTS)


def test_body_proportions_known_answer():
    lengths = {"RAnkle": 400.0, "RKnee": 420.0, "RHip": 80.0, "Spine": 150.0, "Thorax": 170.0,
               "Neck": 90.0, "Head": 110.0, "RShoulder": 160.0, "RElbow": 300.0, "RWrist": 250.0}
    for right in list(lengths):
        if right.startswith("R"):
            lengths["L" + right[1:]] = lengths[right]
    bones = [lengths[H36M17.joint_names[c]] for _, c in H36M17.bones]
    body = BodyShape("hand", 1700.0, bones, np.full(16, 40.0), 80.0, ankle_height_mm=70.0)
    # ankle + shank + thigh + lumbar + thoracic + the rise of the tilted neck and head
    height = 70 + 400 + 420 + 150 + 170 + 90 / np.hypot(0.35, 1) + 110 / np.hypot(0.33, 1)
    expected = {"height_mm": height, "leg": 820 / height, "arm": 550 / height, "torso": 320 / height,
                "hip_width": 160 / height, "shoulder_width": 2 * 160 / np.hypot(1, 0.15) / height}
    got = body_proportions(body)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


def test_existing_subjects_are_in_the_training_family():
    for name in (*TEST_SUBJECTS, *TRAIN_SUBJECTS):  # S9, S11: the in-distribution test
        props = body_proportions(SUBJECTS[name])
        assert in_proportion_ranges(props, TRAIN_PROPORTIONS), name
        assert not in_proportion_ranges(props, NOVEL_PROPORTIONS), name
    for name in TEST_SUBJECTS:  # well inside, not at an edge
        f = factors(SUBJECTS[name])
        assert 0.95 < min(v for k, v in f.items() if k != "height_mm")
        assert max(v for k, v in f.items() if k != "height_mm") < 1.06


def test_ranges_are_as_documented_and_disjoint():
    train, novel = TRAIN_PROPORTIONS, NOVEL_PROPORTIONS
    assert train.height_mm == ((1500.0, 1950.0),)
    assert novel.height_mm == ((1380.0, 1480.0), (1980.0, 2080.0))
    for name in ("leg_factor", "arm_factor"):
        assert getattr(train, name) == ((0.92, 1.08),)
    for name in ("hip_width_factor", "shoulder_width_factor"):
        assert getattr(train, name) == ((0.85, 1.15),)
    assert train.head_factor == ((0.93, 1.07),) and train.build == ((0.85, 1.20),)
    assert novel.held_out_from is train and train.held_out_from is None
    assert set(HELD_OUT_FACTORS) == {"height", "leg", "arm", "hip_width", "shoulder_width"}
    for factor in (*HELD_OUT_FACTORS, "torso"):
        name = "height_mm" if factor == "height" else f"{factor}_factor"
        for (lo1, hi1), (lo2, hi2) in itertools.product(getattr(novel, name), getattr(train, name)):
            assert hi1 < lo2 or hi2 < lo1, (name, (lo1, hi1), (lo2, hi2))
        (t_lo, t_hi), = getattr(train, name)
        assert any(hi < t_lo for _, hi in getattr(novel, name))  # below and above training
        assert any(lo > t_hi for lo, _ in getattr(novel, name))
    for name in ("head_factor", "build", "split_factor"):  # never held out
        assert getattr(novel, name) == getattr(train, name)


def test_training_bodies_lie_in_the_training_ranges(train200):
    assert [b.name for b in train200[:3]] == ["B000", "B001", "B002"] and len(train200) == 200
    measured = [factors(b) for b in train200]
    for body, f in zip(train200, measured, strict=True):
        assert in_proportion_ranges(body_proportions(body), TRAIN_PROPORTIONS), body.name
        assert not in_proportion_ranges(body_proportions(body), NOVEL_PROPORTIONS), body.name
        for key, name in FIELD.items():
            assert inside(f[key], getattr(TRAIN_PROPORTIONS, name)), (body.name, key, f[key])
    # the ranges are used, not just respected: each factor spreads over most of its interval
    for key, name in FIELD.items():
        (lo, hi), = getattr(TRAIN_PROPORTIONS, name)
        values = [f[key] for f in measured]
        assert max(values) - min(values) > 0.8 * (hi - lo), key


def test_novel_bodies_are_outside_training_and_inside_novel(novel200):
    assert [b.name for b in novel200[:2]] == ["N000", "N001"] and len(novel200) == 200
    seen = set()
    for body in novel200:
        props = body_proportions(body)
        assert not in_proportion_ranges(props, TRAIN_PROPORTIONS), body.name
        assert in_proportion_ranges(props, NOVEL_PROPORTIONS), body.name
        f = factors(body)
        held = {k for k in FIELD if inside(f[k], getattr(NOVEL_PROPORTIONS, FIELD[k]))}
        assert held - {"torso"}, body.name  # at least one held-out factor
        for key in set(FIELD) - held:  # every other one from the training family
            assert inside(f[key], getattr(TRAIN_PROPORTIONS, FIELD[key])), (body.name, key)
        assert ("torso" in held) == ("leg" in held)  # the torso makes up for a held-out leg
        seen |= {(k, f[k] > (1700.0 if k == "height_mm" else 1.0)) for k in held}
    assert len(seen) == 12  # short and long, narrow and wide: every held-out factor both ways
    sizes = {sum(inside(factors(b)[k], getattr(NOVEL_PROPORTIONS, FIELD[k])) for k in FIELD if k != "torso")
             for b in novel200}
    assert {1, 2, 3, 4} <= sizes  # random subsets, not always all of them


def test_body_families_are_deterministic():
    for make in (training_bodies, novel_bodies):
        a, b, c = make(3, 5), make(3, 5), make(4, 5)
        for x, y, z in zip(a, b, c, strict=True):
            assert x.name == y.name == z.name
            np.testing.assert_array_equal(x.bone_lengths, y.bone_lengths)
            np.testing.assert_array_equal(x.limb_radii, y.limb_radii)
            assert x.height_mm == y.height_mm and x.head_radius_mm == y.head_radius_mm
            assert not np.array_equal(x.bone_lengths, z.bone_lengths)
        np.testing.assert_array_equal(make(3, 2)[1].bone_lengths, a[1].bone_lengths)  # prefix-stable
        assert make(3, 0) == []
    one = sample_body("X", np.random.default_rng(5))
    np.testing.assert_array_equal(one.bone_lengths, sample_body("X", np.random.default_rng(5)).bone_lengths)
    with pytest.raises(InputError, match="seed"):
        training_bodies(-1, 3)
    with pytest.raises(InputError, match="count"):
        novel_bodies(0, -2)


def test_sampled_bodies_stand_exactly_their_height_and_are_symmetric(train200, novel200):
    for body in (*train200[:60], *novel200[:60]):
        pose = body.rest_pose()
        assert pose[:, 2].max() == pytest.approx(body.height_mm, abs=1e-9)
        assert pose[:, 2].argmax() == J["Head"]
        np.testing.assert_allclose(pose[[J["RAnkle"], J["LAnkle"]], 2], body.ankle_height_mm)
        np.testing.assert_allclose(pose[list(H36M17.left_right_swap)] * [-1, 1, 1], pose, atol=1e-9)
        for right, left in (("RKnee", "LKnee"), ("RAnkle", "LAnkle"), ("RElbow", "LElbow"),
                            ("RWrist", "LWrist"), ("RShoulder", "LShoulder"), ("RHip", "LHip")):
            b_r, b_l = (int(np.flatnonzero([H36M17.joint_names[c] == n for _, c in H36M17.bones])[0])
                        for n in (right, left))
            assert body.bone_lengths[b_r] == body.bone_lengths[b_l]
            assert body.limb_radii[b_r] == body.limb_radii[b_l]
        r = {H36M17.joint_names[c]: body.limb_radii[b] for b, (_, c) in enumerate(H36M17.bones)}
        assert r["RKnee"] > r["RAnkle"] and r["RElbow"] > r["RWrist"]
        assert 15 < min(r.values()) and max(r.values()) < 220 and 55 < body.head_radius_mm < 125


def test_kinematics_work_on_extreme_bodies(novel200):
    by_leg = sorted(novel200, key=lambda b: factors(b)["leg"])
    rng = np.random.default_rng(8)
    n = 100
    for body in (by_leg[0], by_leg[-1], min(novel200, key=lambda b: b.height_mm)):
        angles = random_angles(rng, n, shrink=0.5)
        for side in "rl":
            angles[f"{side}_knee_flexion"] = rng.uniform(5, 140, n)
        root, yaw = rng.normal(0, 500, (n, 3)), rng.uniform(-180, 180, n)
        pose = forward_kinematics(body, angles, root, yaw)
        np.testing.assert_allclose(H36M17.bone_lengths(pose), np.broadcast_to(body.bone_lengths, (n, 16)),
                                   atol=1e-9)
        legs = solve_leg_ik(body, root, yaw, pose[:, [J["RAnkle"], J["LAnkle"]]],
                            pelvis_tilt=angles["pelvis_tilt"], pelvis_list=angles["pelvis_list"],
                            hip_rotation=(angles["r_hip_rotation"], angles["l_hip_rotation"]))
        np.testing.assert_allclose(forward_kinematics(body, angles | legs, root, yaw), pose, atol=1e-6)


def test_proportion_ranges_are_validated():
    with pytest.raises(InputError, match="sorted and disjoint"):
        dataclasses.replace(TRAIN_PROPORTIONS, leg_factor=((1.0, 1.1), (0.9, 1.05)))
    with pytest.raises(InputError, match="lo < hi"):
        dataclasses.replace(TRAIN_PROPORTIONS, arm_factor=((1.1, 1.0),))
    with pytest.raises(InputError, match="1000–2500"):
        dataclasses.replace(TRAIN_PROPORTIONS, height_mm=((500.0, 1900.0),))
    with pytest.raises(InputError, match="overlaps"):
        dataclasses.replace(NOVEL_PROPORTIONS, hip_width_factor=((0.75, 0.86),))
    with pytest.raises(InputError, match="never held out"):
        dataclasses.replace(NOVEL_PROPORTIONS, build=((0.7, 0.8),))
    with pytest.raises(InputError, match="lacks"):
        in_proportion_ranges({"height_mm": 1700.0}, TRAIN_PROPORTIONS)
    with pytest.raises(InputError, match="ProportionRanges"):
        sample_body("X", np.random.default_rng(0), {"height_mm": ((1500, 1600),)})
    assert isinstance(TRAIN_PROPORTIONS.leg_factor, tuple)
    narrow = dataclasses.replace(TRAIN_PROPORTIONS, height_mm=[[1600, 1610]])  # lists are accepted
    assert narrow.height_mm == ((1600.0, 1610.0),) and isinstance(narrow, ProportionRanges)
    assert 1600 <= sample_body("X", np.random.default_rng(0), narrow).height_mm <= 1610


def test_in_proportion_ranges_edges():
    props = {"height_mm": 1700.0, **NOMINAL}
    assert in_proportion_ranges(props, TRAIN_PROPORTIONS)
    assert not in_proportion_ranges(props, NOVEL_PROPORTIONS)
    assert not in_proportion_ranges(props | {"height_mm": 1960.0}, TRAIN_PROPORTIONS)
    assert in_proportion_ranges(props | {"height_mm": 1990.0}, NOVEL_PROPORTIONS)
    assert not in_proportion_ranges(props | {"height_mm": 1960.0}, NOVEL_PROPORTIONS)  # in the gap
    wide = props | {"hip_width": NOMINAL["hip_width"] * 1.2}
    assert in_proportion_ranges(wide, NOVEL_PROPORTIONS) and not in_proportion_ranges(wide, TRAIN_PROPORTIONS)
    assert not in_proportion_ranges(wide | {"height_mm": 3000.0}, NOVEL_PROPORTIONS)
    assert in_proportion_ranges(props | {"leg": NOMINAL["leg"] * 1.08}, TRAIN_PROPORTIONS)  # closed
