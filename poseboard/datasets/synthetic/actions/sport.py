"""Sports: shadow boxing, jumping, lunging, kicking, dancing."""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Keys,
    Plan,
    add_idle,
    arm_channels,
    draw,
    ease,
    gait_plan,
    hermite,
    natural_stance,
    other_side,
    rest_channels,
    roll_foot,
    rot2,
    slow_sway,
    standing_plan,
    stepping_plan,
    timeline_start,
)
from poseboard.datasets.synthetic.body import ANGLE_NAMES, BodyShape, root_rotation

_G_MM_S2 = 9810.0


def boxing(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Shadow boxing: a staggered stance, hands up in guard, bouncing; jabs, crosses, hooks and
    uppercuts with the torso turning into each punch."""
    h = body.height_mm
    lead = "l" if rng.random() < 0.7 else "r"  # orthodox: the left foot and hand lead
    rear = other_side(lead)
    half = body.rest_offsets[2, 0]
    split = draw(rng, 0.14, 0.2) * h
    lat = half * draw(rng, 0.85, 1.15)
    y_right = -split / 2 if lead == "l" else split / 2
    feet_local = np.array([[lat, y_right], [-lat, -y_right]])
    rest = rest_channels(rng)
    for s in "rl":
        rest |= arm_channels(s, shoulder_flexion=draw(rng, 25, 45), shoulder_abduction=draw(rng, 10, 30),
                     shoulder_rotation=draw(rng, 20, 50), elbow_flexion=draw(rng, 115, 140))
    drop = draw(rng, 40, 100) * h / 1750.0
    rest |= {"drop": drop, "torso_flexion": draw(rng, 5, 20), "neck_flexion": draw(rng, 5, 20),
             "yaw": (-1.0 if lead == "l" else 1.0) * draw(rng, 15, 30)}
    keys = Keys(timeline_start(rng), rest)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.15, 0.9))
        kind = rng.choice(["jab", "cross", "hook", "uppercut"], p=[0.35, 0.3, 0.2, 0.15])
        arm = lead if kind == "jab" else rear if kind == "cross" else str(rng.choice([lead, rear]))
        turn = 1.0 if arm == "r" else -1.0  # a right-hand punch turns the torso to the left
        if kind in ("jab", "cross"):
            pose = arm_channels(arm, shoulder_flexion=draw(rng, 75, 95), shoulder_abduction=draw(rng, 0, 15),
                        shoulder_rotation=draw(rng, 20, 60), elbow_flexion=draw(rng, 0, 15))
            twist = turn * (draw(rng, 3, 10) if kind == "jab" else draw(rng, 20, 35))
        elif kind == "hook":
            pose = arm_channels(arm, shoulder_flexion=draw(rng, 70, 90), shoulder_abduction=draw(rng, 55, 80),
                        shoulder_rotation=draw(rng, 40, 70), elbow_flexion=draw(rng, 80, 100))
            twist = turn * draw(rng, 20, 35)
        else:
            pose = arm_channels(arm, shoulder_flexion=draw(rng, 40, 70), shoulder_abduction=draw(rng, 0, 20),
                        shoulder_rotation=draw(rng, -10, 20), elbow_flexion=draw(rng, 80, 110))
            twist = turn * draw(rng, 10, 20)
        keys.add(rng.uniform(0.12, 0.2), **pose, torso_twist=twist, oy=draw(rng, 0, 50))
        keys.add(rng.uniform(0.0, 0.05))
        keys.add(rng.uniform(0.18, 0.3), **{k: rest[k] for k in pose}, torso_twist=0.0, oy=0.0)
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.5)
    ch["drop"] = ch["drop"] + min(draw(rng, 5, 20), drop - 5) * np.sin(
        2 * np.pi * draw(rng, 1.5, 2.5) * t + draw(rng, 0, 6.3))
    ch["torso_lateral"] = ch["torso_lateral"] + slow_sway(rng, t, 8.0, 0.3, 0.8)
    return standing_plan(body, t, rng.uniform(-180, 180), feet_local, ch, rng.uniform(2, 8))


def jumping(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Counter-movement jumps, in place or hopping forwards, back or sideways: crouch with the
    arms back, push off rolling onto the toes, a ballistic flight, land on the toes and absorb."""
    scale = body.height_mm / 1750.0
    n = len(t)
    feet_local = natural_stance(body, rng, (0.8, 1.1), 20.0)
    hips_local = np.array([[1.0, 0.0], [-1.0, 0.0]]) * body.rest_offsets[2, 0]
    ankle_h = float(body.ankle_height_mm)
    fwd_axis = np.array([0.0, 1.0])  # body-frame forward, for the heel roll

    def pelvis_height(pelvis_xy: np.ndarray, ankles: np.ndarray, knee: float) -> float:
        horiz = np.linalg.norm(ankles[:, :2] - (pelvis_xy + hips_local), axis=-1)
        reach = np.array([body.leg_reach(knee, s) for s in "rl"])
        return float((ankles[:, 2] + np.sqrt(np.maximum(reach**2 - horiz**2, 0.0))).min())

    def flat(spot: np.ndarray) -> np.ndarray:
        return np.concatenate([spot + feet_local, np.full((2, 1), ankle_h)], -1)

    knee0 = draw(rng, 2, 8)
    z_s = pelvis_height(np.zeros(2), flat(np.zeros(2)), knee0)
    rest = rest_channels(rng)
    start = timeline_start(rng)
    keys = Keys(start, rest)
    knots = [(start, z_s, 0.0)]
    pel_xy, spot_xy = np.zeros((n, 2)), np.zeros((n, 2))
    heel = np.zeros(n)
    flight_leg = np.full((n, 2, 3), np.nan)  # ankle − pelvis while airborne
    spot = np.zeros(2)
    bound = min(500.0, 0.4 * area)
    while knots[-1][0] < t[-1]:
        t0 = knots[-1][0] + rng.uniform(0.4, 1.5)
        depth = draw(rng, 150, 300) * scale
        apex = draw(rng, 80, 300) * scale
        v0 = np.sqrt(2 * _G_MM_S2 * apex)
        t_down, t_flight = draw(rng, 0.35, 0.5), 2 * v0 / _G_MM_S2
        theta = draw(rng, 25, 40)  # heel lift at take-off and touch-down
        k_to, depth_l = draw(rng, 3, 10), draw(rng, 0.5, 1.0) * depth
        # where to
        d = np.zeros(2)
        if rng.random() > 0.35:
            ang = np.radians(rng.choice([0.0, 180.0, 90.0, -90.0], p=[0.6, 0.2, 0.1, 0.1])
                             + rng.normal(0, 15))
            d = draw(rng, 100, 500) * scale * np.array([-np.sin(ang), np.cos(ang)])
            if np.linalg.norm(spot + d) > bound:
                d = -d if np.linalg.norm(spot - d) <= bound else np.zeros(2)
        # take-off geometry → take-off height; push and landing short enough to be monotone
        t_push, t_land = draw(rng, 0.2, 0.3), draw(rng, 0.2, 0.3)
        lead = 0.5 * t_push / (0.5 * t_push + t_flight + 0.5 * t_land)
        ankles_to = roll_foot(body, flat(spot), fwd_axis, np.full(2, theta))
        z_to = pelvis_height(spot + lead * d, ankles_to, k_to)
        t_push = min(t_push, 2.8 * (z_to - (z_s - depth)) / v0)
        t_land = min(t_land, 2.8 * (z_to - (z_s - depth_l)) / v0)
        t1 = t0 + t_down
        t2 = t1 + t_push
        t3 = t2 + t_flight
        t4 = t3 + t_land
        t5 = t4 + draw(rng, 0.4, 0.7)
        knots += [(t0, z_s, 0.0), (t1, z_s - depth, 0.0), (t2, z_to, v0), (t3, z_to, -v0),
                  (t4, z_s - depth_l, 0.0), (t5, z_s, 0.0)]
        # horizontal: accelerate while pushing, constant velocity in the air, stop on landing
        vel = d / (0.5 * t_push + t_flight + 0.5 * t_land)
        up = np.clip((t - t1) / t_push, 0, 1)
        dn = np.clip((t - t3) / t_land, 0, 1)
        ease_in = up / 2 - np.sin(np.pi * up) / (2 * np.pi)  # ∫ of the raised-cosine ramp
        travel = t_push * ease_in + np.clip(t - t2, 0, t_flight) + t_land * (dn - (
            dn / 2 - np.sin(np.pi * dn) / (2 * np.pi)))
        pel_xy += travel[:, None] * vel
        spot_xy += (t >= t3)[:, None] * d
        push = (t >= t1) & (t < t2)
        heel += np.where(push, theta * ease((t - t1) / t_push), 0.0)
        heel += np.where(t >= t3, theta * (1 - ease((t - t3) / (0.6 * t_land))), 0.0)
        p2 = np.append(spot + lead * d, z_to)
        p3 = np.append(spot + d - (0.5 * t_land) * vel, z_to)
        leg_to = ankles_to - p2
        leg_ld = roll_foot(body, flat(spot + d), fwd_axis, np.full(2, theta)) - p3
        air = (t >= t2) & (t < t3)
        s = (t[air] - t2) / t_flight
        tuck = draw(rng, 30, 150) * scale * np.sin(np.pi * s) ** 2
        flight_leg[air] = leg_to + (leg_ld - leg_to) * ease(s)[:, None, None]
        flight_leg[air, :, 2] += tuck[:, None]
        # the upper body: lean and swing the arms back, up, forward, then settle
        arms_back = {f"{s}_shoulder_flexion": -draw(rng, 15, 35) for s in "rl"}
        arms_up = {f"{s}_shoulder_flexion": draw(rng, 50, 90) for s in "rl"}
        arms_land = {f"{s}_shoulder_flexion": draw(rng, 20, 50) for s in "rl"}
        keys.add(t0 - keys.t)
        keys.add(t1 - 0.15 - keys.t, **arms_back, pelvis_tilt=draw(rng, 15, 30),
                 torso_flexion=draw(rng, 5, 15), neck_flexion=draw(rng, -10, 5))
        keys.add(t2 + 0.05 - keys.t, **arms_up, pelvis_tilt=draw(rng, 0, 8),
                 torso_flexion=draw(rng, 0, 5))
        keys.add(t4 - keys.t, **arms_land, pelvis_tilt=draw(rng, 10, 25),
                 torso_flexion=draw(rng, 5, 15), r_elbow_flexion=draw(rng, 20, 40),
                 l_elbow_flexion=draw(rng, 20, 40))
        keys.add(t5 - keys.t, **{k: rest[k] for k in (*arms_land, "pelvis_tilt", "torso_flexion",
                                                     "neck_flexion", "r_elbow_flexion",
                                                     "l_elbow_flexion")})
        spot = spot + d
    z = hermite(t, knots)
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.4)
    ch["ox"], ch["oy"] = np.zeros(n), np.zeros(n)  # the pelvis path is pel_xy
    ground = roll_foot(body, np.concatenate([spot_xy[:, None] + feet_local,
                                         np.full((n, 2, 1), ankle_h)], -1),
                   np.broadcast_to(fwd_axis, (n, 2, 2)), np.repeat(heel[:, None], 2, 1))
    pelvis = np.concatenate([pel_xy, z[:, None]], -1)
    feet = np.where(np.isnan(flight_leg), ground, pelvis[:, None] + flight_leg)
    psi = rng.uniform(-180, 180)
    root = np.concatenate([rot2(pel_xy, psi), z[:, None]], -1)
    feet = np.concatenate([rot2(feet[..., :2], psi), feet[..., 2:]], -1)
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return Plan(root=root, yaw=np.full(n, psi), angles=angles, feet=feet)


def lunging(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Forward lunges, one leg or alternating: a long step forward, the pelvis sinking until
    the front thigh is about level and the rear knee a hand above the floor (the rear heel
    rising over the ball of the foot), then pushing back to standing."""
    hb = body.height_mm
    h = float(body.ankle_height_mm)
    l1 = body.bone_length("RKnee")
    feet_home = natural_stance(body, rng, (0.85, 1.1), 10.0)
    z_top = h + float(body.leg_reach(5.0)) + 20.0
    rest = rest_channels(rng) | {"z_abs": z_top}
    arms = str(rng.choice(["hips", "swing", "front"]))
    if arms == "hips":
        for s in "rl":
            rest |= arm_channels(s, shoulder_flexion=draw(rng, -10, 0), shoulder_abduction=draw(rng, 30, 45),
                                 elbow_flexion=draw(rng, 100, 130), shoulder_rotation=draw(rng, 40, 70))
    keys = Keys(timeline_start(rng), rest)
    heel_keys = Keys(keys.t, {"r": 0.0, "l": 0.0})
    moves: dict[int, list] = {0: [], 1: []}
    lead = int(rng.integers(2))
    alternate = rng.random() < 0.6
    while keys.t < t[-1]:
        i, j = lead, 1 - lead  # front (stepping) and rear leg
        length = draw(rng, 0.3, 0.4) * hb
        spot = feet_home[i] + [0.0, length]
        hip_y = spot[1] - draw(rng, 0.75, 0.9) * l1
        keys.add(rng.uniform(0.4, 1.5))
        heel_keys.add(keys.t - heel_keys.t)
        step, down = rng.uniform(0.5, 0.7), rng.uniform(0.5, 0.9)
        moves[i].append((keys.t, step, spot, draw(rng, 30, 60)))
        pose = {}
        if arms == "swing":  # the arm opposite the front leg forward
            pose = arm_channels("rl"[j], shoulder_flexion=draw(rng, 30, 60), elbow_flexion=draw(rng, 40, 80))
            pose |= arm_channels("rl"[i], shoulder_flexion=-draw(rng, 10, 30), elbow_flexion=draw(rng, 20, 40))
        elif arms == "front":
            for s in "rl":
                pose |= arm_channels(s, shoulder_flexion=draw(rng, 70, 90), elbow_flexion=draw(rng, 0, 30))
        keys.add(step, oy=0.5 * hip_y, z_abs=z_top - 0.3 * (z_top - 0.33 * hb),
                 pelvis_tilt=draw(rng, 0, 10), **pose)
        heel_keys.add(step, **{"rl"[j]: draw(rng, 15, 25)})
        bottom = {"oy": hip_y, "z_abs": draw(rng, 0.31, 0.36) * hb, "pelvis_tilt": draw(rng, 0, 12),
                  "torso_flexion": draw(rng, 0, 10), "neck_flexion": draw(rng, 0, 20)}
        keys.add(down, **bottom)
        heel_keys.add(down, **{"rl"[j]: draw(rng, 35, 50)})
        hold = rng.uniform(0.1, 0.8)
        keys.add(hold)
        heel_keys.add(hold)
        up = rng.uniform(0.5, 0.8)
        keys.add(up, oy=0.5 * hip_y, z_abs=z_top - 0.3 * (z_top - 0.33 * hb), pelvis_tilt=draw(rng, 5, 15))
        heel_keys.add(up, **{"rl"[j]: draw(rng, 15, 25)})
        moves[i].append((keys.t, step, feet_home[i], draw(rng, 30, 60)))
        keys.add(step, **{k: rest[k] for k in (*pose, *bottom)})
        heel_keys.add(step, **{"rl"[j]: 0.0})
        if alternate:
            lead = 1 - lead
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.4)
    heel = heel_keys.sample(t)
    return stepping_plan(body, t, rng, feet_home, moves, h, heel, ch)


def kicking(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Front kicks and knee strikes from a guard stance: the knee comes up (chambered), the
    shank snaps out, comes back and the foot lands where it left; the torso leans back."""
    hb = body.height_mm
    lead = "l" if rng.random() < 0.7 else "r"
    half = body.rest_offsets[2, 0]
    split, lat = draw(rng, 0.1, 0.16) * hb, half * draw(rng, 0.85, 1.1)
    y_right = -split / 2 if lead == "l" else split / 2
    feet_local = np.array([[lat, y_right], [-lat, -y_right]])
    rest = rest_channels(rng)
    for s in "rl":
        rest |= arm_channels(s, shoulder_flexion=draw(rng, 25, 45), shoulder_abduction=draw(rng, 10, 30),
                             shoulder_rotation=draw(rng, 20, 50), elbow_flexion=draw(rng, 110, 135))
    rest |= {"yaw": (-1.0 if lead == "l" else 1.0) * draw(rng, 10, 25), "torso_flexion": draw(rng, 0, 10)}
    keys = Keys(timeline_start(rng), rest)
    legs = Keys(keys.t, {"w_r": 0.0, "w_l": 0.0, "hf_r": 10.0, "hf_l": 10.0, "kn_r": 20.0, "kn_l": 20.0})
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.6, 1.8))
        legs.add(keys.t - legs.t)
        s = str(rng.choice([lead, other_side(lead)], p=[0.4, 0.6]))
        knee_strike = rng.random() < 0.25
        chamber = {f"w_{s}": 1.0, f"hf_{s}": draw(rng, 70, 100), f"kn_{s}": draw(rng, 100, 125)}
        lean = {"torso_flexion": -draw(rng, 0, 12), "pelvis_tilt": draw(rng, -5, 5), "oy": -draw(rng, 0, 40)}
        dt = rng.uniform(0.25, 0.35)
        legs.add(dt, **chamber)
        keys.add(dt, **lean)
        if knee_strike:
            dt = rng.uniform(0.15, 0.3)
            legs.add(dt, **{f"hf_{s}": draw(rng, 95, 110)})
        else:
            dt = rng.uniform(0.16, 0.24)
            legs.add(dt, **{f"hf_{s}": draw(rng, 60, 90), f"kn_{s}": draw(rng, 0, 15)})
            legs.add(rng.uniform(0.05, 0.12))
            legs.add(rng.uniform(0.18, 0.26), **chamber)
        legs.add(rng.uniform(0.25, 0.35), **{f"w_{s}": 0.0, f"hf_{s}": 10.0, f"kn_{s}": 20.0})
        keys.add(legs.t - keys.t, **{k: rest[k] for k in lean})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.4)
    plan = standing_plan(body, t, rng.uniform(-180, 180), feet_local, ch, rng.uniform(4, 10))
    leg = legs.sample(t)
    rot = root_rotation(plan.yaw, plan.angles["pelvis_tilt"], plan.angles["pelvis_list"])
    l1, l2 = body.bone_length("RKnee"), body.bone_length("RAnkle")
    feet = plan.feet.copy()
    for i, (s, hip) in enumerate((("r", 2), ("l", 3))):
        hf, kn = np.radians(leg[f"hf_{s}"]), np.radians(leg[f"hf_{s}"] - leg[f"kn_{s}"])
        local = body.rest_offsets[hip] + np.stack(
            [np.zeros_like(hf), l1 * np.sin(hf) + l2 * np.sin(kn), -l1 * np.cos(hf) - l2 * np.cos(kn)], -1)
        kick = plan.root + np.einsum("nij,nj->ni", rot, local)
        w = np.clip(leg[f"w_{s}"], 0.0, 1.0)[:, None]
        feet[:, i] = (1 - w) * plan.feet[:, i] + w * kick
    return Plan(root=plan.root, yaw=plan.yaw, angles=plan.angles, feet=feet)


def dancing(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Dancing to a beat of 95–135 bpm: a step on every beat swaying side to side (and turning
    now and then), bouncing knees, the hips swaying; a new arm move every bar (arms pumping,
    overhead, out waving, clapping in front) with the torso twisting and leaning to the beat."""
    beat = 60.0 / rng.uniform(95, 135)
    period = 2 * beat
    side_amp = min(draw(rng, 60, 160), 0.3 * area)
    turn = rng.uniform(-30, 30) if rng.random() < 0.5 else 0.0  # degrees per second
    twist_amp, p_twist, psi = draw(rng, 10, 35), draw(rng, 3, 6), rng.uniform(-180, 180)

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        heading = psi + turn * tt + twist_amp * np.sin(2 * np.pi * tt / p_twist)
        side = side_amp * np.sin(np.pi * tt / period)
        return rot2(np.stack([side, np.zeros_like(side)], -1), psi), heading

    plan = gait_plan(body, t, rng, path, period, 50.0, stance=0.62,
                     lateral=body.rest_offsets[2, 0] * rng.uniform(0.9, 1.2),
                     heel_max=rng.uniform(5, 20), clearance=rng.uniform(30, 60),
                     knee=rng.uniform(10, 20), tilt=rng.uniform(0, 8), sway=rng.uniform(20, 40),
                     pelvis_rot=rng.uniform(3, 10), arm_amp=10.0)
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng), rest)
    while keys.t < t[-1]:
        move = str(rng.choice(["pump", "overhead", "wave", "clap"]))
        for b in range(4):
            pose: dict[str, float] = {}
            up = b % 2 == 0
            for s in "rl":
                mine = up if s == "r" else not up
                if move == "pump":
                    pose |= arm_channels(s, shoulder_flexion=draw(rng, 40, 70) if mine else draw(rng, -20, 0),
                                         shoulder_abduction=draw(rng, 10, 30), elbow_flexion=draw(rng, 80, 110))
                elif move == "overhead":
                    pose |= arm_channels(s, shoulder_flexion=draw(rng, 0, 30), elbow_flexion=draw(rng, 10, 40),
                                         shoulder_abduction=draw(rng, 130, 160) if up else draw(rng, 40, 70),
                                         shoulder_rotation=draw(rng, -40, 0))
                elif move == "wave":
                    pose |= arm_channels(s, shoulder_abduction=draw(rng, 70, 100), shoulder_flexion=draw(rng, 0, 20),
                                         elbow_flexion=draw(rng, 10, 30) if mine else draw(rng, 60, 90))
                else:
                    pose |= arm_channels(s, shoulder_flexion=draw(rng, 60, 90), elbow_flexion=draw(rng, 20, 50),
                                         shoulder_abduction=draw(rng, 0, 10) if up else draw(rng, 40, 60))
            sign = 1.0 if up else -1.0
            keys.add(beat, **pose, torso_twist=sign * draw(rng, 5, 20), torso_lateral=sign * draw(rng, 3, 10),
                     neck_flexion=draw(rng, -10, 15), neck_lateral=-sign * draw(rng, 0, 10))
    ch = keys.sample(t)
    angles = dict(plan.angles)
    for k in ("torso_twist", "torso_lateral", "neck_flexion", "neck_lateral"):
        angles[k] = np.clip(angles.get(k, 0.0) + ch[k], -30.0, 30.0)
    for k in ch:
        if "shoulder" in k or "elbow" in k:
            angles[k] = ch[k]
    return Plan(root=plan.root, yaw=plan.yaw, angles=angles, feet=plan.feet)
