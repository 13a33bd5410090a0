"""Floor-level actions: kneeling on one knee, sitting down on the floor and getting up."""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Keys,
    Plan,
    add_idle,
    arm_channels,
    draw,
    foot_track,
    natural_stance,
    planted_plan,
    rest_channels,
    stepping_plan,
    timeline_start,
    to_world,
)
from poseboard.datasets.synthetic.body import BodyShape


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
