"""Everyday actions standing on the spot: sitting down on a chair, squatting, waving, reaching,
picking things up."""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Keys,
    Plan,
    add_idle,
    arm_channels,
    draw,
    ease,
    natural_stance,
    rest_channels,
    standing_plan,
    timeline_start,
)
from poseboard.datasets.synthetic.body import BodyShape


def waving(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Raising one or both arms and waving the forearm, then lowering them again."""
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng), rest)
    episodes = []  # (start, end, sides, amplitude, frequency)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.6, 2.0))
        sides = [("r",), ("l",), ("r", "l")][rng.choice(3, p=[0.5, 0.3, 0.2])]
        raised: dict[str, float] = {}
        for s in sides:
            raised |= arm_channels(s, shoulder_abduction=draw(rng, 70, 150), shoulder_flexion=draw(rng, -10, 40),
                           shoulder_rotation=draw(rng, -80, -45), elbow_flexion=draw(rng, 60, 100))
        toward = 1.0 if sides == ("l",) else -1.0 if sides == ("r",) else 0.0
        keys.add(rng.uniform(0.6, 1.0), **raised, neck_twist=toward * draw(rng, 0, 30),
                 torso_lateral=toward * draw(rng, 0, 8), neck_flexion=draw(rng, -10, 5))
        start = keys.t
        keys.add(rng.uniform(1.5, 4.0))
        episodes.append((start, keys.t, sides, draw(rng, 15, 30), draw(rng, 1.5, 2.5)))
        keys.add(rng.uniform(0.6, 1.0), **{k: rest[k] for k in raised},
                 neck_twist=0.0, torso_lateral=0.0, neck_flexion=rest["neck_flexion"])
    ch = keys.sample(t)
    add_idle(rng, t, ch)
    for start, end, sides, amp, freq in episodes:
        window = ease((t - start) / 0.3) * ease((end - t) / 0.3)
        osc = amp * window * np.sin(2 * np.pi * freq * (t - start))
        for s in sides:
            ch[f"{s}_elbow_flexion"] = ch[f"{s}_elbow_flexion"] + osc
            ch[f"{s}_shoulder_rotation"] = ch[f"{s}_shoulder_rotation"] + 0.2 * osc
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng), ch,
                          rng.uniform(2, 8))


def reaching(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Reaching for things low, high, ahead and to the side, leaning and rising on the toes."""
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng), rest)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.3, 1.5))
        sides = [("r",), ("l",), ("r", "l")][rng.choice(3, p=[0.45, 0.35, 0.2])]
        flex = draw(rng, 30, 165)
        target: dict[str, float] = {}
        for s in sides:
            abd = draw(rng, -20, 60)
            abd = float(np.clip(abd, -np.sqrt(175**2 - flex**2), np.sqrt(175**2 - flex**2)))
            target |= arm_channels(s, shoulder_flexion=flex + draw(rng, -5, 5), shoulder_abduction=abd,
                           elbow_flexion=draw(rng, 0, 35), shoulder_rotation=draw(rng, -30, 40))
        toward = 1.0 if sides == ("l",) else -1.0 if sides == ("r",) else 0.0
        body_moves = {"torso_twist": toward * draw(rng, 0, 25),
                      "oy": draw(rng, 0, 80), "ox": -toward * draw(rng, 0, 50)}
        if flex < 70:  # low: lean forward, bend the knees, look down
            body_moves |= {"torso_flexion": draw(rng, 15, 40), "drop": draw(rng, 50, 250),
                           "neck_flexion": draw(rng, 15, 35), "pelvis_tilt": draw(rng, 5, 25)}
        elif flex > 130:  # high: upright, look up, rise on the toes
            heel = draw(rng, 0, 30) if rng.random() < 0.5 else 0.0
            body_moves |= {"torso_flexion": draw(rng, -15, 0), "neck_flexion": draw(rng, -35, -10),
                           "heel_r": heel, "heel_l": heel}
        else:
            body_moves |= {"torso_flexion": draw(rng, 0, 15), "neck_flexion": draw(rng, -5, 15)}
        keys.add(rng.uniform(0.6, 1.2), **target, **body_moves)
        keys.add(rng.uniform(0.3, 1.0))
        keys.add(rng.uniform(0.6, 1.2), **{k: rest[k] for k in (*target, *body_moves)})
    ch = keys.sample(t)
    add_idle(rng, t, ch)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng), ch,
                          rng.uniform(2, 8))


def picking_up(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Bending down (from the hips or squatting) to pick something up, carrying it, putting it
    down on a table-high surface and letting go."""
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng), rest)
    h = body.height_mm
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.4, 1.5))
        squat = draw(rng, 0, 1)  # 0 stoop from the hips, 1 squat
        tilt = 65 - 40 * squat + draw(rng, -5, 5)
        trunk = draw(rng, 15, 35)
        one_hand = rng.random() < 0.3
        arms = {}
        for s in "rl":
            arms |= arm_channels(s, shoulder_flexion=float(np.clip(tilt + trunk - draw(rng, 0, 25), 50, 110)),
                         shoulder_abduction=draw(rng, 0, 15), elbow_flexion=draw(rng, 5, 30),
                         shoulder_rotation=draw(rng, 0, 30))
        if one_hand:
            arms |= arm_channels(rng.choice(["r", "l"]), shoulder_flexion=draw(rng, 30, 60),
                         elbow_flexion=draw(rng, 30, 60))
        keys.add(rng.uniform(1.0, 1.6), pelvis_tilt=tilt, torso_flexion=trunk,
                 drop=(0.05 + 0.17 * squat) * h * draw(rng, 0.9, 1.1),
                 oy=-(60 + 90 * squat) * draw(rng, 0.8, 1.2), neck_flexion=draw(rng, 10, 35), **arms)
        keys.add(rng.uniform(0.3, 0.8))
        carry = {}
        for s in "rl":
            carry |= arm_channels(s, shoulder_flexion=draw(rng, 15, 45), shoulder_abduction=draw(rng, 5, 20),
                          elbow_flexion=draw(rng, 70, 110), shoulder_rotation=draw(rng, 10, 40))
        keys.add(rng.uniform(1.0, 1.6), pelvis_tilt=draw(rng, 0, 8), torso_flexion=draw(rng, 0, 8),
                 drop=0.0, oy=0.0, neck_flexion=draw(rng, 0, 15), yaw=draw(rng, -20, 20), **carry)
        keys.add(rng.uniform(0.5, 1.5))
        put = {}
        for s in "rl":
            put |= arm_channels(s, shoulder_flexion=draw(rng, 40, 80), elbow_flexion=draw(rng, 10, 40))
        keys.add(rng.uniform(0.6, 1.0), torso_flexion=draw(rng, 5, 20), pelvis_tilt=draw(rng, 5, 20),
                 oy=draw(rng, 20, 70), neck_flexion=draw(rng, 10, 30), **put)
        keys.add(rng.uniform(0.2, 0.5))
        keys.add(rng.uniform(0.7, 1.2), **{k: rest[k] for k in (*carry, "torso_flexion",
                                                               "pelvis_tilt", "neck_flexion")},
                 oy=0.0, yaw=0.0)
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.7)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng), ch,
                          rng.uniform(2, 8))


def squatting(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Repeated squats, feet wide and knees out; arms forward, on the hips or behind the head."""
    rest = rest_channels(rng)
    rot = -draw(rng, 5, 20)  # external rotation of both thighs: the knees point out
    rest |= {"r_hip_rotation": rot, "l_hip_rotation": rot}
    style = rng.choice(["forward", "hips", "head"])
    held: dict[str, float] = {}
    for s in "rl":
        if style == "hips":
            held |= arm_channels(s, shoulder_flexion=draw(rng, -10, 0), shoulder_abduction=draw(rng, 30, 45),
                         elbow_flexion=draw(rng, 100, 130), shoulder_rotation=draw(rng, 40, 70))
        elif style == "head":
            held |= arm_channels(s, shoulder_flexion=draw(rng, 20, 40), shoulder_abduction=draw(rng, 100, 130),
                         elbow_flexion=draw(rng, 125, 145), shoulder_rotation=draw(rng, -80, -60))
    rest |= held
    keys = Keys(timeline_start(rng), rest)
    h = body.height_mm
    depth_mean = draw(rng, 0.14, 0.25)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.2, 1.2))
        arms = {}
        if style == "forward":
            for s in "rl":
                arms |= arm_channels(s, shoulder_flexion=draw(rng, 70, 95), elbow_flexion=draw(rng, 0, 20),
                             shoulder_abduction=draw(rng, 0, 10))
        depth = float(np.clip(depth_mean + rng.normal(0, 0.01), 0.12, 0.25)) * h
        keys.add(rng.uniform(0.8, 1.5), drop=depth, oy=-draw(rng, 0.04, 0.1) * h,
                 pelvis_tilt=draw(rng, 15, 35), torso_flexion=draw(rng, 5, 25),
                 neck_flexion=draw(rng, -10, 10), **arms)
        keys.add(rng.uniform(0.0, 0.5))
        keys.add(rng.uniform(0.8, 1.5), **{k: rest[k] for k in (*arms, "drop", "oy", "pelvis_tilt",
                                                               "torso_flexion", "neck_flexion")})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.5)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng, (1.0, 1.35), 20.0),
                          ch, rng.uniform(2, 8))


def sitting_down(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Sitting down on an (invisible) chair behind, sitting a while, standing up again."""
    h = body.height_mm
    thigh = body.bone_length("RKnee")
    seat = draw(rng, 0.24, 0.29) * h
    z_seated = seat + 0.05 * h  # the hip joints sit ~0.05 H above the seat
    back = draw(rng, 0.8, 0.95) * thigh
    z_top = body.ankle_height_mm + float(body.leg_reach(5.0)) + 20.0  # above standing height
    z_mid = z_seated + 0.4 * (z_top - z_seated)
    rest = rest_channels(rng) | {"z_abs": z_top}
    keys = Keys(timeline_start(rng), rest)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.8, 2.0))
        down = rng.uniform(1.2, 2.0)
        keys.add(0.5 * down, oy=-0.45 * back, z_abs=z_mid, pelvis_tilt=draw(rng, 15, 30),
                 torso_flexion=draw(rng, 25, 45),
                 **{f"{s}_shoulder_flexion": draw(rng, 15, 45) for s in "rl"})
        seated: dict[str, float] = {}
        for s in "rl":
            seated |= arm_channels(s, shoulder_flexion=draw(rng, 20, 45), shoulder_abduction=draw(rng, 5, 20),
                           elbow_flexion=draw(rng, 50, 90), shoulder_rotation=draw(rng, 20, 50))
        keys.add(0.5 * down, oy=-back, z_abs=z_seated, pelvis_tilt=draw(rng, -15, 0),
                 torso_flexion=draw(rng, -5, 10), **seated)
        keys.add(rng.uniform(1.5, 4.0), torso_flexion=draw(rng, -5, 15), neck_flexion=draw(rng, 0, 20))
        up = rng.uniform(1.2, 2.0)
        keys.add(0.5 * up, oy=-0.5 * back, z_abs=z_mid, pelvis_tilt=draw(rng, 20, 35),
                 torso_flexion=draw(rng, 30, 45))
        keys.add(0.5 * up, **{k: rest[k] for k in (*seated, "oy", "pelvis_tilt", "torso_flexion",
                                                   "neck_flexion", "z_abs")})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.7)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng), ch,
                          rng.uniform(2, 8))
