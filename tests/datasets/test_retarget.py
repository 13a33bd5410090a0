"""Retargeting (poseboard.datasets.synthetic.retarget): the inverse kinematics reproduces forward
kinematics, and motion moved onto other bodies stays within the limits, rigid, on the floor,
unsliding, as fast as the action allows and shaped like the source."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from poseboard.datasets.synthetic import retarget as retarget_module
from poseboard.datasets.synthetic.body import (
    ANGLE_LIMITS_DEG,
    ANGLE_NAMES,
    SHOULDER_SWING_MAX_DEG,
    forward_kinematics,
    novel_bodies,
    training_bodies,
)
from poseboard.datasets.synthetic.motion import (
    MAX_JOINT_SPEED_MM_S,
    generate_sequence_and_angles,
    joint_angles_deg,
)
from poseboard.datasets.synthetic.retarget import (
    CONTACT_HEIGHT_MM,
    angles_from_positions,
    detect_contacts,
    retarget,
)
from poseboard.errors import InputError
from poseboard.skeleton import H36M17

FPS = 50.0
FRAMES = 250
J = {name: i for i, name in enumerate(H36M17.joint_names)}
ANKLES = [J["RAnkle"], J["LAnkle"]]
SOURCE = training_bodies(7, 1)[0]
#: targets of other proportions: two training bodies and three held-out (novel) ones
TARGETS = training_bodies(3, 2) + novel_bodies(3, 3)
#: on contact frames the lowest ankle is this close to the body's ankle height, mm
FLOOR_TOLERANCE_MM = 5.0
#: a planted ankle moves at most this far horizontally within one contact run, mm
SLIDE_BOUND_MM = 10.0


def random_angles(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Angles uniform within the limits; knees and elbows bent ≥ 10° (their rotation is then
    defined), the shoulder swing ≤ 170° (its axis is then defined)."""
    out = {}
    for name, (lo, hi) in ANGLE_LIMITS_DEG.items():
        if name.endswith(("knee_flexion", "elbow_flexion")):
            lo = 10.0
        out[name] = rng.uniform(lo, hi, n)
    for side in "rl":
        f, a = out[f"{side}_shoulder_flexion"], out[f"{side}_shoulder_abduction"]
        scale = np.minimum(1.0, 170.0 / np.hypot(f, a))
        out[f"{side}_shoulder_flexion"], out[f"{side}_shoulder_abduction"] = f * scale, a * scale
    return out


def bone_directions(poses: np.ndarray) -> np.ndarray:
    bones = np.array(H36M17.bones)
    v = poses[:, bones[:, 1]] - poses[:, bones[:, 0]]
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.mark.parametrize("pitched", [False, True])
def test_round_trip_reproduces_forward_kinematics(pitched):
    rng = np.random.default_rng(11 + pitched)
    n = 400
    for body in (TARGETS[0], TARGETS[3]):
        angles = random_angles(rng, n)
        root = rng.uniform([-2000, -2000, 300], [2000, 2000, 1200], (n, 3))
        yaw = rng.uniform(-180, 180, n)
        pitch = rng.uniform(-95, 95, n) if pitched else None  # lying and beyond
        poses = forward_kinematics(body, angles, root, yaw, root_pitch=pitch)
        inv = angles_from_positions(poses)
        again = forward_kinematics(body, inv.angles, inv.root_position, inv.root_yaw, root_pitch=inv.root_pitch)
        assert np.abs(again - poses).max() < 1e-3
        assert set(inv.angles) == set(ANGLE_NAMES)
        assert all(v.shape == (n,) for v in inv.angles.values())
        np.testing.assert_allclose(inv.root_position, root, atol=1e-9)
        if not pitched:  # upright: the very angles come back (the pitched root trades tilt for pitch)
            assert inv.root_pitch is None
            for name in ANGLE_NAMES:
                np.testing.assert_allclose(inv.angles[name], angles[name], atol=1e-6, err_msg=name)
            wrapped = (inv.root_yaw - yaw + 180.0) % 360.0 - 180.0
            np.testing.assert_allclose(wrapped, 0.0, atol=1e-6)
        else:
            assert inv.root_pitch is not None
            lo, hi = ANGLE_LIMITS_DEG["pelvis_tilt"]
            assert lo <= inv.angles["pelvis_tilt"].min() and inv.angles["pelvis_tilt"].max() <= hi
            total = inv.angles["pelvis_tilt"] + inv.root_pitch  # the pelvis's whole forward pitch
            np.testing.assert_allclose(total, angles["pelvis_tilt"] + pitch, atol=1e-6)


def test_straight_limbs_keep_the_previous_rotation():
    body = TARGETS[1]
    knee = np.array([30.0, 30.0, 0.0, 0.0, 30.0, 2.0])
    rot = np.array([20.0, 20.0, -40.0, 35.0, 20.0, -30.0])  # invisible where the knee is straight
    poses = forward_kinematics(body, {"r_knee_flexion": knee, "r_hip_rotation": rot,
                                      "l_elbow_flexion": 0.0, "l_shoulder_rotation": 50.0},
                               [0.0, 0.0, 900.0], 0.0)  # fmt: skip
    inv = angles_from_positions(poses)
    np.testing.assert_allclose(inv.angles["r_hip_rotation"], [20, 20, 20, 20, 20, 20], atol=1e-6)
    np.testing.assert_allclose(inv.angles["l_shoulder_rotation"], 0.0, atol=1e-9)  # never defined: 0
    again = forward_kinematics(body, inv.angles, inv.root_position, inv.root_yaw)
    assert np.abs(again - poses)[:5].max() < 1e-6  # a straight limb looks the same at any rotation
    # 2°, below STRAIGHT_LIMB_DEG: the ankle turns about the thigh by the 50° of rotation held back
    chord = 2 * body.bone_length("RAnkle") * np.sin(np.radians(2.0)) * np.sin(np.radians(25.0))
    assert np.linalg.norm(again[5] - poses[5], axis=-1).max() == pytest.approx(chord, rel=1e-6)
    assert np.linalg.norm(again[5, J["RAnkle"]] - poses[5, J["RAnkle"]]) == pytest.approx(chord, rel=1e-6)


@pytest.fixture(scope="module")
def sources() -> dict[str, np.ndarray]:
    return {
        action: generate_sequence_and_angles(SOURCE, action, FRAMES, np.random.default_rng(i))[0].poses
        for i, action in enumerate(("Walking", "Squatting", "Jumping"))
    }


@pytest.fixture(scope="module")
def retargeted(sources):
    return {(action, body.name): (body, retarget(p, body, FPS)) for action, p in sources.items() for body in TARGETS}


def test_retargeted_motion_is_valid_on_other_bodies(sources, retargeted):
    for (action, _), (body, r) in retargeted.items():
        src = sources[action]
        where = (action, body.name)
        # within the limits: as retargeted, and as measured back from the joints
        for name, (lo, hi) in ANGLE_LIMITS_DEG.items():
            assert lo <= r.angles[name].min() and r.angles[name].max() <= hi, (where, name)
        for side in "rl":
            swing = np.hypot(r.angles[f"{side}_shoulder_flexion"], r.angles[f"{side}_shoulder_abduction"])
            assert swing.max() <= SHOULDER_SWING_MAX_DEG
        measured = joint_angles_deg(r.poses)
        for name in ("r_knee_flexion", "l_knee_flexion", "r_elbow_flexion", "l_elbow_flexion"):
            assert measured[name].max() <= 150.0 + 1e-6, (where, name)
            np.testing.assert_allclose(measured[name], r.angles[name], atol=1e-5)
        # rigid, at the target's lengths; exactly the forward kinematics of what it reports
        assert r.poses.shape == src.shape and np.isfinite(r.poses).all()
        np.testing.assert_allclose(H36M17.bone_lengths(r.poses), np.broadcast_to(body.bone_lengths, (FRAMES, 16)),
                                   atol=1e-6)
        fk = forward_kinematics(body, r.angles, r.root_position, r.root_yaw, root_pitch=r.root_pitch)
        np.testing.assert_allclose(fk, r.poses, atol=1e-6)
        # on the floor: the lowest ankle at ankle height where a foot is planted, never below it
        lowest = r.poses[:, ANKLES, 2].min(1) - body.ankle_height_mm
        assert lowest.min() > -1e-6, where
        planted = r.contacts.any(1)
        assert planted.mean() > 0.5, where
        assert np.abs(lowest[planted]).max() < FLOOR_TOLERANCE_MM, where
        # planted feet do not slide: recomputed here from the poses, per contact run
        for foot in range(2):
            c = np.concatenate([[False], r.contacts[:, foot], [False]])
            starts, stops = np.flatnonzero(np.diff(c.astype(int)) == 1), np.flatnonzero(np.diff(c.astype(int)) == -1)
            for a, b in zip(starts, stops, strict=True):
                xy = r.poses[a:b, ANKLES[foot], :2]
                assert np.linalg.norm(xy - xy[0], axis=-1).max() <= SLIDE_BOUND_MM, (where, foot, a, b)
        assert r.max_foot_slide_mm <= SLIDE_BOUND_MM
        # as fast as the action allows, scaled with the body
        speed = np.linalg.norm(np.diff(r.poses, axis=0), axis=-1) * FPS
        assert speed.max() == pytest.approx(r.max_joint_speed_mm_s)
        assert speed.max() < MAX_JOINT_SPEED_MM_S[action] * r.leg_ratio, where
        # shaped like the source: the angle between corresponding bones
        cos = (bone_directions(r.poses) * bone_directions(src)).sum(-1)
        angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        assert angle.mean() < 1.0 and angle.mean(1).max() < 5.0, (where, angle.mean(), angle.mean(1).max())
        # procedural motion is within the limits: nothing to clip
        assert r.clipped_values == 0 and r.max_clip_deg < 1e-6 and r.ik_clipped_values == 0, where


def test_leg_ratio_scales_travel_and_height(sources, retargeted):
    for (action, _), (body, r) in retargeted.items():
        src = sources[action]
        legs = [np.linalg.norm(src[:, k] - src[:, h], axis=-1) + np.linalg.norm(src[:, a] - src[:, k], axis=-1)
                for h, k, a in ((2, 1, 0), (3, 4, 5))]
        expected = (body.bone_length("RKnee") + body.bone_length("RAnkle")) / np.median(np.mean(legs, 0))
        assert r.leg_ratio == pytest.approx(expected, rel=1e-9)
        travel = np.linalg.norm(np.diff(r.poses[:, J["Pelvis"], :2], axis=0), axis=-1).sum()
        src_travel = np.linalg.norm(np.diff(src[:, J["Pelvis"], :2], axis=0), axis=-1).sum()
        assert travel == pytest.approx(r.leg_ratio * src_travel, rel=1e-6)
        height = np.median(r.poses[:, J["Pelvis"], 2] - r.poses[:, ANKLES, 2].min(1))
        src_height = np.median(src[:, J["Pelvis"], 2] - src[:, ANKLES, 2].min(1))
        assert height == pytest.approx(r.leg_ratio * src_height, rel=0.02), (action, body.name)


def test_contacts_follow_the_source(sources, retargeted):
    jump = sources["Jumping"]
    contacts, floor = detect_contacts(jump, FPS)
    assert floor == pytest.approx(SOURCE.ankle_height_mm, abs=1e-6)
    above = jump[:, ANKLES, 2] - SOURCE.ankle_height_mm
    assert not contacts[above > CONTACT_HEIGHT_MM].any()
    flight = above.min(1) > 50.0
    assert flight.sum() >= 10 and not contacts[flight].any()
    assert contacts.all(1).mean() > 0.4  # standing between the jumps
    for body in TARGETS:  # in the air on the target as well
        r = retargeted[("Jumping", body.name)][1]
        assert r.frames_airborne >= flight.sum() - 4
        low = r.poses[:, ANKLES, 2].min(1) - body.ankle_height_mm
        assert (low[flight] > CONTACT_HEIGHT_MM * 0.5).all()
    squat = retargeted[("Squatting", TARGETS[0].name)][1]
    assert squat.contacts.all() and squat.frames_airborne == 0


def test_same_body_gives_back_the_source(sources):
    for action, src in sources.items():
        r = retarget(src, SOURCE, FPS)
        assert r.leg_ratio == pytest.approx(1.0, rel=1e-9)
        dev = np.linalg.norm(r.poses - src, axis=-1)
        assert dev.mean() < 1.0 and dev.max() < 15.0, (action, dev.mean(), dev.max())


def test_other_source_proportions_give_the_targets_bones(sources):
    src = sources["Walking"]
    longer = src.copy()
    for hip, knee, ankle in ((2, 1, 0), (3, 4, 5)):  # legs 1.15×, the bones' directions kept
        longer[:, knee] = src[:, hip] + 1.15 * (src[:, knee] - src[:, hip])
        longer[:, ankle] = longer[:, knee] + 1.15 * (src[:, ankle] - src[:, knee])
    longer[..., 2] -= longer[:, ANKLES, 2].min() - SOURCE.ankle_height_mm  # back on the floor
    a, b = angles_from_positions(src), angles_from_positions(longer)
    for name in ANGLE_NAMES:  # angles look at directions only
        np.testing.assert_allclose(b.angles[name], a.angles[name], atol=1e-6, err_msg=name)
    for body in (TARGETS[1], TARGETS[4]):
        r = retarget(longer, body, FPS)
        np.testing.assert_allclose(H36M17.bone_lengths(r.poses), np.broadcast_to(body.bone_lengths, (FRAMES, 16)),
                                   atol=1e-6)
        plain = retarget(src, body, FPS)
        assert r.leg_ratio == pytest.approx(plain.leg_ratio / 1.15, rel=1e-9)
        # the same pose, only the travel scaled differently: identical up to the pelvis's place
        rel, rel_plain = r.poses - r.poses[:, [J["Pelvis"]]], plain.poses - plain.poses[:, [J["Pelvis"]]]
        assert np.linalg.norm(rel - rel_plain, axis=-1).mean() < 1.0
        lowest = r.poses[r.contacts.any(1)][:, ANKLES, 2].min(1) - body.ankle_height_mm
        assert np.abs(lowest).max() < FLOOR_TOLERANCE_MM


def test_noisy_non_rigid_source(sources):
    """As real capture: each joint off by a smooth random 3 mm, the bones no longer rigid."""
    rng = np.random.default_rng(3)
    for action in ("Walking", "Jumping"):
        src = sources[action]
        noise = gaussian_filter1d(rng.normal(0.0, 3.0, src.shape), 3.0, axis=0) * np.sqrt(6 * np.sqrt(np.pi))
        noisy = src + noise
        assert H36M17.bone_lengths(noisy).std(0).min() > 1.0
        body = TARGETS[4]
        r = retarget(noisy, body, FPS)
        np.testing.assert_allclose(H36M17.bone_lengths(r.poses), np.broadcast_to(body.bone_lengths, (FRAMES, 16)),
                                   atol=1e-6)
        planted = r.contacts.any(1)
        assert planted.mean() > 0.5
        assert np.abs(r.poses[planted][:, ANKLES, 2].min(1) - body.ankle_height_mm).max() < FLOOR_TOLERANCE_MM
        assert r.max_foot_slide_mm <= SLIDE_BOUND_MM
        assert r.max_joint_speed_mm_s < MAX_JOINT_SPEED_MM_S[action] * r.leg_ratio
        cos = (bone_directions(r.poses) * bone_directions(noisy)).sum(-1)
        assert np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean() < 2.0


def test_out_of_range_angles_are_clipped_and_counted():
    body = TARGETS[2]
    n = 60
    twist = np.linspace(0.0, 90.0, n)  # neck twist up to 90°, limit 70°
    knee = np.full(n, 40.0)
    src = forward_kinematics(body, {"neck_twist": twist, "r_knee_flexion": knee, "l_knee_flexion": knee},
                             [0.0, 0.0, 900.0], 0.0)
    src[..., 2] -= src[:, ANKLES, 2].min() - body.ankle_height_mm
    r = retarget(src, body, FPS)
    lo, hi = ANGLE_LIMITS_DEG["neck_twist"]
    assert r.clipped_by_angle["neck_twist"] == int((twist > hi + 1e-6).sum())
    assert r.clipped_values == r.clipped_by_angle["neck_twist"]
    assert r.max_clip_deg == pytest.approx(90.0 - hi, abs=1e-6)
    np.testing.assert_allclose(r.angles["neck_twist"], np.clip(twist, lo, hi), atol=1e-6)


def test_random_heading_turns_the_whole_sequence(sources):
    body = TARGETS[0]
    plain = retarget(sources["Walking"], body, FPS)
    turned = retarget(sources["Walking"], body, FPS, rng=np.random.default_rng(5))
    np.testing.assert_allclose(turned.poses[..., 2], plain.poses[..., 2], atol=1e-6)
    d = plain.poses[:, :, None] - plain.poses[:, None]
    d_turned = turned.poses[:, :, None] - turned.poses[:, None]
    np.testing.assert_allclose(np.linalg.norm(d_turned, axis=-1), np.linalg.norm(d, axis=-1), atol=1e-6)
    heading = np.degrees(np.arctan2(d_turned[..., 1], d_turned[..., 0]) - np.arctan2(d[..., 1], d[..., 0]))
    big = np.hypot(d[..., 0], d[..., 1]) > 100.0
    wrapped = (heading[big] - heading[big][0] + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(wrapped, 0.0, atol=1e-3)  # one angle for all
    assert abs((heading[big][0] + 180.0) % 360.0 - 180.0) > 1.0


def test_bad_input_is_refused_with_the_fix(sources):
    good = sources["Squatting"][:20]
    body = TARGETS[0]
    with pytest.raises(InputError, match=r"expected shape \(N, 17, 3\).*got \(20, 16, 3\)"):
        retarget(good[:, :16], body, FPS)
    with pytest.raises(InputError, match=r"shape"):
        angles_from_positions(good[0, :, :2])
    nan = good.copy()
    nan[7, 3, 1] = np.nan
    with pytest.raises(InputError, match=r"NaN or inf in 1 frame\(s\), first frame 7"):
        retarget(nan, body, FPS)
    with pytest.raises(InputError, match=r"millimetres.*metres\? multiply by 1000"):
        retarget(good / 1000.0, body, FPS)
    with pytest.raises(InputError, match=r"centimetres\? multiply by 10"):
        angles_from_positions(good / 10.0)
    with pytest.raises(InputError, match=r"Z up"):
        retarget(good * np.array([1.0, 1.0, -1.0]), body, FPS)
    with pytest.raises(InputError, match=r"fps"):
        retarget(good, body, 0.0)
    with pytest.raises(InputError, match=r"BodyShape"):
        retarget(good, "S1", FPS)
    with pytest.raises(InputError, match=r"at least 2 frames"):
        retarget(good[:1], body, FPS)
    flat = good.copy()
    flat[3, J["LKnee"]] = flat[3, J["LHip"]]
    with pytest.raises(InputError, match=r"frame 3: LHip and LKnee coincide"):
        retarget(flat, body, FPS)


def test_docstring_examples():
    assert doctest.testmod(retarget_module).failed == 0
