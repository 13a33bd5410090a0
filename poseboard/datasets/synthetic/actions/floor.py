"""Floor-level actions: kneeling on one knee, sitting down on the floor, lying on the back, and
getting up again."""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Keys,
    Plan,
    add_idle,
    arm_channels,
    draw,
    floor_clearance,
    foot_track,
    natural_stance,
    planted_plan,
    rest_channels,
    rest_on_floor,
    stepping_plan,
    timeline_start,
    to_world,
)
from poseboard.datasets.synthetic.body import BodyShape
from poseboard.skeleton import H36M17

PELVIS, THORAX = H36M17.index("Pelvis"), H36M17.index("Thorax")
LYING_CYCLE_S = 12.0  # mean length of one lying cycle (down, a while flat, up) from the draws below


def kneeling(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Going down on one knee: one foot steps back onto its toes, the pelvis lowers until that
    knee rests just above the floor (the shin nearly flat, the front shin upright), a while
    there, then up and the foot back beside the other."""
    h_body = body.height_mm
    h, d = float(body.ankle_height_mm), 0.47 * float(body.foot_length_mm)
    l1, l2 = body.bone_length("RKnee"), body.bone_length("RAnkle")
    feet_home = natural_stance(body, rng, (0.85, 1.1), 20.0)
    z_top = h + float(body.leg_reach(5.0)) + 20.0
    rest = rest_channels(rng) | {"z_abs": z_top}
    keys = Keys(timeline_start(rng), rest)
    heel_keys = Keys(keys.t, {"r": 0.0, "l": 0.0})
    moves: dict[int, list] = {0: [], 1: []}
    while keys.t < t[-1]:
        i = int(rng.integers(2))  # the kneeling leg
        j = 1 - i
        side = "rl"[i]
        th_deep = draw(rng, 60, 75)
        th = np.radians(th_deep)
        along, up = d - d * np.cos(th) + h * np.sin(th), d * np.sin(th) + h * np.cos(th) - h
        z_knee = draw(rng, 0.03, 0.037) * h_body
        hip_y = feet_home[j, 1] - draw(rng, 0.8, 0.95) * l1
        beta = np.radians(draw(rng, -5, 10))  # the kneeling thigh's lean back from vertical
        knee_y, hip_z = hip_y - l1 * np.sin(beta), z_knee + l1 * np.cos(beta)
        ankle_y = knee_y - np.sqrt(l2**2 - (h + up - z_knee) ** 2)
        spot = np.array([feet_home[i, 0], ankle_y - along])
        z_mid = hip_z + 0.3 * (z_top - hip_z)
        keys.add(rng.uniform(0.5, 1.5))
        heel_keys.add(keys.t - heel_keys.t)
        step = rng.uniform(0.6, 0.9)
        moves[i].append((keys.t, step, spot, draw(rng, 40, 70)))
        hand = arm_channels("rl"[j], shoulder_flexion=draw(rng, 35, 60),
                            shoulder_abduction=draw(rng, 0, 15), elbow_flexion=draw(rng, 30, 60))
        keys.add(step, oy=0.9 * hip_y, z_abs=z_mid, pelvis_tilt=draw(rng, 25, 35),
                 torso_flexion=draw(rng, 0, 10))
        heel_keys.add(step, **{side: draw(rng, 25, 40)})
        down = rng.uniform(0.8, 1.3)
        kneel = {"oy": hip_y, "z_abs": hip_z, "pelvis_tilt": draw(rng, 0, 8),
                 "torso_flexion": draw(rng, 0, 15), "neck_flexion": draw(rng, 0, 25)}
        keys.add(down, **kneel, **hand)
        heel_keys.add(down, **{side: th_deep})
        hold = rng.uniform(1.5, 4.0)
        keys.add(hold)
        heel_keys.add(hold)
        rise = rng.uniform(0.8, 1.2)
        keys.add(rise, oy=0.9 * hip_y, z_abs=z_mid, pelvis_tilt=draw(rng, 25, 35),
                 torso_flexion=draw(rng, 0, 10))
        heel_keys.add(rise, **{side: draw(rng, 25, 40)})
        moves[i].append((keys.t, step, feet_home[i], draw(rng, 40, 70)))
        keys.add(step, **{k: rest[k] for k in (*hand, *kneel)})
        heel_keys.add(step, **{side: 0.0})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.5)
    heel = heel_keys.sample(t)
    return stepping_plan(body, t, rng, feet_home, moves, h, heel, ch)


def sitting_on_floor(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Lowering to sit on the floor (the pelvis back and down past a deep squat), sitting with
    the knees up or sliding the legs out straight, then getting up the same way."""
    hb, h = body.height_mm, float(body.ankle_height_mm)
    feet_home = natural_stance(body, rng, (0.9, 1.2), 20.0)
    z_top = h + float(body.leg_reach(5.0)) + 20.0
    rest = rest_channels(rng) | {"z_abs": z_top}
    keys = Keys(timeline_start(rng), rest)
    moves: dict[int, list] = {0: [], 1: []}
    while keys.t < t[-1]:
        back, z_seat = draw(rng, 0.3, 0.34) * hb, draw(rng, 0.05, 0.06) * hb
        keys.add(rng.uniform(0.6, 1.5))
        keys.add(rng.uniform(0.8, 1.2), oy=-0.5 * back, z_abs=draw(rng, 0.3, 0.34) * hb,
                 pelvis_tilt=draw(rng, 30, 40), torso_flexion=draw(rng, 15, 30),
                 **{f"{s}_shoulder_flexion": draw(rng, 30, 60) for s in "rl"})
        seated: dict[str, float] = {}
        for s in "rl":
            seated |= arm_channels(s, shoulder_flexion=draw(rng, 40, 65),
                                   shoulder_abduction=draw(rng, 5, 20),
                                   elbow_flexion=draw(rng, 30, 60), shoulder_rotation=draw(rng, 10, 40))
        tilt = -draw(rng, 15, 25)
        keys.add(rng.uniform(0.8, 1.2), oy=-back, z_abs=z_seat, pelvis_tilt=tilt,
                 torso_flexion=-tilt + draw(rng, 0, 15), **seated)
        if rng.random() < 0.5:  # slide the legs out, sit, pull them back in
            keys.add(rng.uniform(0.5, 1.5))
            reach = np.sqrt((0.45 * hb) ** 2 - (z_seat - h) ** 2) - back
            slide = rng.uniform(0.8, 1.2)
            for k in range(2):
                moves[k].append((keys.t + 0.1 * k, slide, feet_home[k] + [0.0, reach * draw(rng, 0.8, 1.0)],
                                 draw(rng, 8, 15)))
            lap: dict[str, float] = {}
            for s in "rl":
                lap |= arm_channels(s, shoulder_flexion=draw(rng, 20, 40), elbow_flexion=draw(rng, 40, 80))
            keys.add(slide + 0.1, **lap)
            keys.add(rng.uniform(1.5, 4.0), neck_flexion=draw(rng, -10, 20))
            for k in range(2):
                moves[k].append((keys.t + 0.1 * k, slide, feet_home[k], draw(rng, 8, 15)))
            keys.add(slide + 0.1, **seated)
        keys.add(rng.uniform(1.0, 3.0), neck_flexion=draw(rng, -10, 20))
        keys.add(rng.uniform(0.9, 1.3), oy=-0.5 * back, z_abs=draw(rng, 0.3, 0.34) * hb,
                 pelvis_tilt=draw(rng, 35, 45), torso_flexion=draw(rng, 20, 35),
                 **{f"{s}_shoulder_flexion": draw(rng, 40, 70) for s in "rl"})
        keys.add(rng.uniform(0.8, 1.2), **{k: rest[k] for k in (*seated, "oy", "z_abs", "pelvis_tilt",
                                                                "torso_flexion", "neck_flexion")})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.5)
    feet = np.stack([foot_track(t, feet_home[k], moves[k], h) for k in range(2)], 1)
    psi = rng.uniform(-180, 180)
    return planted_plan(body, psi, to_world(feet, psi), ch, rng.uniform(2, 6))


def _lying_arms(rng: np.random.Generator) -> dict[str, float]:
    """Arms of a body lying on its back: by the sides on the floor, hands on the belly, or
    hands behind the head (degrees)."""
    kind = rng.integers(3)
    out: dict[str, float] = {}
    for s in "rl":
        if kind == 0:  # along the body on the floor, a little out
            v = {"shoulder_flexion": draw(rng, -4, 2), "shoulder_abduction": draw(rng, 10, 35),
                 "elbow_flexion": draw(rng, 5, 20)}
        elif kind == 1:
            v = {"shoulder_flexion": draw(rng, 25, 40), "shoulder_abduction": draw(rng, 5, 15),
                 "elbow_flexion": draw(rng, 90, 115)}
        else:
            v = {"shoulder_flexion": draw(rng, 145, 160), "shoulder_abduction": draw(rng, 20, 40),
                 "elbow_flexion": draw(rng, 120, 140)}
        out |= arm_channels(s, shoulder_rotation=draw(rng, 0, 20), **v)
    return out


def lying(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Lying down on the back and getting up: down past a deep squat to sit on the floor (as in
    :func:`sitting_on_floor`), the legs slid out or the knees kept up, then rolling back until
    pelvis and torso lie flat (the whole body pitched back 80–90°, the pelvis resting at its
    clearance above the floor); a while there, bending a knee up and stretching it out again or
    moving the arms; then sitting up and getting up the same way."""
    hb, h = body.height_mm, float(body.ankle_height_mm)
    clear = floor_clearance(body)
    feet_home = natural_stance(body, rng, (0.9, 1.2), 20.0)
    z_top = h + float(body.leg_reach(5.0)) + 20.0
    rest = rest_channels(rng) | {"z_abs": z_top, "root_pitch": 0.0}
    keys = Keys(timeline_start(rng, LYING_CYCLE_S), rest)
    moves: dict[int, list] = {0: [], 1: []}
    torso = body.bone_length("Spine") + body.bone_length("Thorax")
    while keys.t < t[-1]:
        back, z_lie = draw(rng, 0.3, 0.34) * hb, clear[PELVIS] + draw(rng, 2, 8)
        # lying flat: the thorax rests at its own clearance, so the back rises a few degrees
        flat = 90.0 - np.degrees(np.arcsin(np.clip((clear[THORAX] - clear[PELVIS]) / torso, 0.0, 0.2)))
        keys.add(rng.uniform(0.6, 1.5))
        keys.add(rng.uniform(0.9, 1.3), oy=-0.5 * back, z_abs=draw(rng, 0.3, 0.34) * hb,
                 pelvis_tilt=draw(rng, 30, 40), torso_flexion=draw(rng, 15, 30),
                 **{f"{s}_shoulder_flexion": draw(rng, 30, 60) for s in "rl"})
        seated: dict[str, float] = {}
        for s in "rl":
            seated |= arm_channels(s, shoulder_flexion=draw(rng, 40, 65), shoulder_abduction=draw(rng, 5, 20),
                                   elbow_flexion=draw(rng, 30, 60), shoulder_rotation=draw(rng, 10, 40))
        tilt = -draw(rng, 15, 25)
        keys.add(rng.uniform(0.9, 1.3), oy=-back, z_abs=z_lie + draw(rng, 0, 10), pelvis_tilt=tilt,
                 torso_flexion=-tilt + draw(rng, 0, 15), **seated)
        slide = rng.random() < 0.6  # legs out straight, or the knees kept up
        reach = np.sqrt(float(body.leg_reach(draw(rng, 25, 40))) ** 2 - (z_lie - h) ** 2) - back
        if slide:
            dur = rng.uniform(0.8, 1.2)
            for k in range(2):
                moves[k].append((keys.t + 0.1 * k, dur, feet_home[k] + [0.0, reach], draw(rng, 8, 15)))
            keys.add(dur + 0.1)
        lie_tilt = draw(rng, -5, 5)
        arms = _lying_arms(rng)
        keys.add(rng.uniform(1.2, 1.8), z_abs=z_lie, pelvis_tilt=lie_tilt, root_pitch=-flat - lie_tilt,
                 torso_flexion=draw(rng, -3, 3), neck_flexion=draw(rng, 0, 15), **arms)
        hold = rng.uniform(1.5, 4.0)
        if rng.random() < 0.5:  # one leg moves: a knee bent up and stretched out again, or
            k = int(rng.integers(2))  # with the knees up, a leg stretched out and bent again
            spot = feet_home[k] + [0.0, reach if slide else 0.0]
            other = feet_home[k] + [0.0, reach - draw(rng, 0.15, 0.2) * hb if slide else reach]
            moves[k].append((keys.t + 0.2, 0.45 * hold, other, draw(rng, 120, 200) if slide else draw(rng, 40, 80)))
            moves[k].append((keys.t + 0.55 * hold, 0.4 * hold, spot, draw(rng, 30, 60)))
            keys.add(hold, neck_flexion=draw(rng, 0, 15))
        else:  # the arms move to another rest
            keys.add(0.5 * hold, neck_flexion=draw(rng, 0, 15))
            keys.add(0.5 * hold, **_lying_arms(rng))
        keys.add(rng.uniform(1.2, 1.8), z_abs=z_lie + draw(rng, 0, 10), pelvis_tilt=tilt, root_pitch=0.0,
                 torso_flexion=-tilt + draw(rng, 0, 15), neck_flexion=draw(rng, 0, 20), **seated)
        if slide:
            dur = rng.uniform(0.8, 1.2)
            for k in range(2):
                moves[k].append((keys.t + 0.1 * k, dur, feet_home[k], draw(rng, 8, 15)))
            keys.add(dur + 0.1)
        keys.add(rng.uniform(1.0, 1.4), oy=-0.5 * back, z_abs=draw(rng, 0.3, 0.34) * hb,
                 pelvis_tilt=draw(rng, 35, 45), torso_flexion=draw(rng, 20, 35),
                 **{f"{s}_shoulder_flexion": draw(rng, 40, 70) for s in "rl"})
        keys.add(rng.uniform(0.8, 1.2), **{k: rest[k] for k in (*seated, *arms, "oy", "z_abs", "pelvis_tilt",
                                                                "torso_flexion", "neck_flexion")})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.3)
    feet = np.stack([foot_track(t, feet_home[k], moves[k], h) for k in range(2)], 1)
    psi = rng.uniform(-180, 180)
    return rest_on_floor(body, t, planted_plan(body, psi, to_world(feet, psi), ch, rng.uniform(2, 6)))
