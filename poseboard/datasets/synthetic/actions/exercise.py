"""Exercise and everyday gestures: stretching, throwing, two-handed swings, talking with the
hands, marching on the spot.

Poses people take that the other scripted actions do not: arms overhead and across the body,
the torso bent sideways, folded forwards and twisted far, one arm cocked behind the head, a
knee raised to the hip, hands at the ear and the mouth.
"""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Keys,
    Plan,
    add_idle,
    arm_channels,
    draw,
    natural_stance,
    other_side,
    rest_channels,
    slow_sway,
    standing_plan,
    stepping_plan,
    timeline_start,
)
from poseboard.datasets.synthetic.body import BodyShape


def stretching(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """A stretching routine: both arms overhead (on the toes, often), a side bend under one
    raised arm, a forward fold with the arms hanging to the shins, the torso twisted with the
    arms out, one arm pulled across the chest; each held 1–3 s."""
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng, 4.0), rest)
    heel_keys = Keys(keys.t, {"r": 0.0, "l": 0.0})
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.4, 1.5))
        heel_keys.add(keys.t - heel_keys.t)
        kind = rng.choice(["overhead", "side_bend", "fold", "twist", "across"], p=[0.2, 0.25, 0.2, 0.2, 0.15])
        pose: dict[str, float] = {}
        heel = 0.0
        if kind == "overhead":
            for s in "rl":
                pose |= arm_channels(s, shoulder_flexion=draw(rng, 150, 175), shoulder_abduction=draw(rng, 0, 25),
                                     shoulder_rotation=draw(rng, -30, 10), elbow_flexion=draw(rng, 0, 25))
            pose |= {"neck_flexion": draw(rng, -25, -5), "torso_flexion": draw(rng, -15, 0)}
            heel = draw(rng, 10, 30) if rng.random() < 0.5 else 0.0
        elif kind == "side_bend":
            up = str(rng.choice(["r", "l"]))
            toward = 1.0 if up == "l" else -1.0  # positive torso_lateral bends to the right
            pose |= arm_channels(up, shoulder_flexion=draw(rng, 0, 30), shoulder_abduction=draw(rng, 140, 170),
                                 shoulder_rotation=draw(rng, -40, 0), elbow_flexion=draw(rng, 10, 45))
            pose |= arm_channels(other_side(up), shoulder_flexion=draw(rng, -10, 10),
                                 shoulder_abduction=draw(rng, 15, 40), shoulder_rotation=draw(rng, 30, 70),
                                 elbow_flexion=draw(rng, 40, 110))
            pose |= {"torso_lateral": toward * draw(rng, 18, 32), "pelvis_list": -toward * draw(rng, 0, 6),
                     "neck_lateral": toward * draw(rng, 0, 15), "ox": -toward * draw(rng, 10, 40)}
        elif kind == "fold":
            for s in "rl":
                pose |= arm_channels(s, shoulder_flexion=draw(rng, 70, 110), shoulder_abduction=draw(rng, -5, 15),
                                     shoulder_rotation=draw(rng, 0, 30), elbow_flexion=draw(rng, 0, 25))
            pose |= {"pelvis_tilt": draw(rng, 45, 75), "torso_flexion": draw(rng, 15, 40),
                     "neck_flexion": draw(rng, 10, 40), "oy": -draw(rng, 60, 140)}
        elif kind == "twist":
            sign = 1.0 if rng.random() < 0.5 else -1.0
            bent = rng.random() < 0.4
            for s in "rl":
                if bent:  # hands at the chest, elbows out
                    pose |= arm_channels(s, shoulder_flexion=draw(rng, 10, 30), shoulder_abduction=draw(rng, 70, 90),
                                         shoulder_rotation=draw(rng, 50, 80), elbow_flexion=draw(rng, 120, 145))
                else:  # arms straight out to the sides
                    pose |= arm_channels(s, shoulder_flexion=draw(rng, -5, 15), shoulder_abduction=draw(rng, 80, 95),
                                         shoulder_rotation=draw(rng, -20, 20), elbow_flexion=draw(rng, 0, 20))
            pose |= {"torso_twist": sign * draw(rng, 30, 44), "yaw": sign * draw(rng, 5, 15),
                     "neck_twist": sign * draw(rng, 10, 40)}
        else:  # one arm pulled across the chest by the other
            arm = str(rng.choice(["r", "l"]))
            pose |= arm_channels(arm, shoulder_flexion=draw(rng, 80, 100), shoulder_abduction=draw(rng, -38, -20),
                                 shoulder_rotation=draw(rng, 20, 50), elbow_flexion=draw(rng, 0, 20))
            pose |= arm_channels(other_side(arm), shoulder_flexion=draw(rng, 55, 80),
                                 shoulder_abduction=draw(rng, -15, 5), shoulder_rotation=draw(rng, 40, 70),
                                 elbow_flexion=draw(rng, 100, 130))
            pose |= {"neck_twist": (1.0 if arm == "r" else -1.0) * draw(rng, 0, 25)}
        go = rng.uniform(0.8, 1.5)
        keys.add(go, **pose)
        heel_keys.add(go, r=heel, l=heel)
        hold = rng.uniform(1.0, 3.0)
        keys.add(hold)
        heel_keys.add(hold)
        back = rng.uniform(0.8, 1.3)
        keys.add(back, **{k: rest[k] for k in pose})
        heel_keys.add(back, r=0.0, l=0.0)
    ch = keys.sample(t)
    heels = heel_keys.sample(t)
    ch["heel_r"], ch["heel_l"] = heels["r"], heels["l"]
    add_idle(rng, t, ch, scale=0.4)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng, (0.9, 1.3)), ch,
                         rng.uniform(2, 6))


def throwing(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Overarm throws: a step forward with the foot opposite the throwing arm while the arm
    cocks behind the head (upper arm out to the side, rotated back, elbow bent) and the torso
    turns away, the release over the shoulder with the torso turning and bending into it, a
    follow-through across the body, then back to the stance."""
    hb = body.height_mm
    arm = "r" if rng.random() < 0.85 else "l"
    lead = other_side(arm)
    i_lead = "rl".index(lead)
    turn = 1.0 if arm == "r" else -1.0  # a right-arm release turns the torso to the left (positive)
    feet_home = natural_stance(body, rng, (0.85, 1.1), 20.0)
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng, 4.0), rest)
    heel_keys = Keys(keys.t, {"r": 0.0, "l": 0.0})
    moves: dict[int, list] = {0: [], 1: []}
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.8, 2.5))
        heel_keys.add(keys.t - heel_keys.t)
        wind = rng.uniform(0.5, 0.8)
        stride = draw(rng, 0.15, 0.28) * hb
        moves[i_lead].append((keys.t + 0.1 * wind, 0.8 * wind, feet_home[i_lead] + [0.0, stride], draw(rng, 40, 90)))
        cocked = arm_channels(arm, shoulder_flexion=draw(rng, -15, 15), shoulder_abduction=draw(rng, 80, 105),
                              shoulder_rotation=draw(rng, -85, -55), elbow_flexion=draw(rng, 75, 110))
        cocked |= arm_channels(lead, shoulder_flexion=draw(rng, 60, 100), shoulder_abduction=draw(rng, 0, 30),
                               shoulder_rotation=draw(rng, 0, 30), elbow_flexion=draw(rng, 10, 50))
        keys.add(wind, **cocked, torso_twist=-turn * draw(rng, 25, 45), yaw=-turn * draw(rng, 5, 20),
                 torso_lateral=turn * draw(rng, 0, 12), oy=stride * draw(rng, 0.15, 0.3),
                 neck_twist=turn * draw(rng, 20, 40))
        heel_keys.add(wind)
        release = rng.uniform(0.26, 0.36)
        throw = arm_channels(arm, shoulder_flexion=draw(rng, 120, 150), shoulder_abduction=draw(rng, 25, 50),
                             shoulder_rotation=draw(rng, -10, 20), elbow_flexion=draw(rng, 10, 35))
        throw |= arm_channels(lead, shoulder_flexion=draw(rng, 10, 40), shoulder_abduction=draw(rng, 10, 30),
                              elbow_flexion=draw(rng, 60, 100))
        keys.add(release, **throw,
                 torso_twist=turn * draw(rng, 15, 30), yaw=turn * draw(rng, 5, 15), torso_flexion=draw(rng, 10, 25),
                 torso_lateral=-turn * draw(rng, 0, 10), oy=stride * draw(rng, 0.45, 0.6), neck_twist=0.0)
        heel_keys.add(release, **{arm: draw(rng, 25, 45)})
        follow = rng.uniform(0.35, 0.55)
        keys.add(follow, **arm_channels(arm, shoulder_flexion=draw(rng, 55, 85), shoulder_abduction=draw(rng, -30, -5),
                                        shoulder_rotation=draw(rng, 40, 70), elbow_flexion=draw(rng, 20, 50)),
                 torso_twist=turn * draw(rng, 30, 45), torso_flexion=draw(rng, 20, 40),
                 pelvis_tilt=draw(rng, 10, 25))
        heel_keys.add(follow)
        hold = rng.uniform(0.2, 0.6)
        keys.add(hold)
        heel_keys.add(hold)
        back = rng.uniform(0.7, 1.1)
        moves[i_lead].append((keys.t + 0.1 * back, 0.8 * back, feet_home[i_lead], draw(rng, 30, 60)))
        keys.add(back, **{k: rest[k] for k in (*cocked, "torso_twist", "yaw", "torso_lateral", "torso_flexion",
                                                "oy", "neck_twist", "pelvis_tilt")})
        heel_keys.add(back, r=0.0, l=0.0)
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.4)
    return stepping_plan(body, t, rng, feet_home, moves, float(body.ankle_height_mm), heel_keys.sample(t), ch)


def swinging(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Two-handed swings (a golf club or a bat): a wide stance bent at the hips for a club or
    upright for a bat, a backswing with the torso turned far away and the hands up by the rear
    shoulder, the swing through, and a follow-through turned as far the other way on the rear
    foot's toes."""
    right = rng.random() < 0.8  # a right-hander's backswing turns to the right (negative twist)
    rear, front = ("r", "l") if right else ("l", "r")
    sign = -1.0 if right else 1.0
    golf = rng.random() < 0.5
    rest = rest_channels(rng)
    address = {"pelvis_tilt": draw(rng, 20, 40) if golf else draw(rng, 0, 12),
               "torso_flexion": draw(rng, 5, 15), "neck_flexion": draw(rng, 20, 40) if golf else draw(rng, 0, 15),
               "drop": draw(rng, 20, 60)}
    for s in "rl":
        address |= arm_channels(s, shoulder_flexion=draw(rng, 25, 50) if golf else draw(rng, 40, 70),
                                shoulder_abduction=draw(rng, -20, -5), shoulder_rotation=draw(rng, 20, 50),
                                elbow_flexion=draw(rng, 5, 20) if golf else draw(rng, 80, 110))
    rest |= address
    keys = Keys(timeline_start(rng, 4.0), rest)
    heel_keys = Keys(keys.t, {"r": 0.0, "l": 0.0})
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.8, 2.5))
        heel_keys.add(keys.t - heel_keys.t)
        back = {"torso_twist": sign * draw(rng, 32, 44), "yaw": sign * draw(rng, 10, 30),
                "neck_twist": -sign * draw(rng, 10, 35)}
        back |= arm_channels(front, shoulder_flexion=draw(rng, 80, 120), shoulder_abduction=draw(rng, -35, -15),
                             shoulder_rotation=draw(rng, 20, 60), elbow_flexion=draw(rng, 0, 25))
        back |= arm_channels(rear, shoulder_flexion=draw(rng, 60, 100), shoulder_abduction=draw(rng, 50, 80),
                             shoulder_rotation=draw(rng, -70, -40), elbow_flexion=draw(rng, 80, 115))
        keys.add(rng.uniform(0.7, 1.1), **back)
        heel_keys.add(keys.t - heel_keys.t, **{front: draw(rng, 0, 15)})
        keys.add(rng.uniform(0.1, 0.3))
        heel_keys.add(keys.t - heel_keys.t)
        through = rng.uniform(0.3, 0.4)
        keys.add(through, **{k: address[k] for k in address if k[:2] in ("r_", "l_")},
                 torso_twist=0.0, yaw=0.0, neck_twist=0.0)
        heel_keys.add(through, **{front: 0.0})
        finish = {"torso_twist": -sign * draw(rng, 32, 44), "yaw": -sign * draw(rng, 20, 40),
                  "neck_twist": -sign * draw(rng, 10, 30), "pelvis_tilt": draw(rng, 0, 12),
                  "torso_flexion": draw(rng, -10, 5), "neck_flexion": draw(rng, -10, 10)}
        finish |= arm_channels(rear, shoulder_flexion=draw(rng, 90, 130), shoulder_abduction=draw(rng, -35, -15),
                               shoulder_rotation=draw(rng, 20, 60), elbow_flexion=draw(rng, 10, 50))
        finish |= arm_channels(front, shoulder_flexion=draw(rng, 70, 110), shoulder_abduction=draw(rng, 40, 80),
                               shoulder_rotation=draw(rng, -70, -30), elbow_flexion=draw(rng, 90, 125))
        go = rng.uniform(0.35, 0.5)
        keys.add(go, **finish)
        heel_keys.add(go, **{rear: draw(rng, 35, 55)})
        hold = rng.uniform(0.4, 1.2)
        keys.add(hold)
        heel_keys.add(hold)
        recover = rng.uniform(0.8, 1.3)
        keys.add(recover, **{k: rest[k] for k in finish})
        heel_keys.add(recover, r=0.0, l=0.0)
    ch = keys.sample(t)
    heels = heel_keys.sample(t)
    ch["heel_r"], ch["heel_l"] = heels["r"], heels["l"]
    add_idle(rng, t, ch, scale=0.3)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng, (1.2, 1.6), 30.0), ch,
                         rng.uniform(8, 20))


def gesturing(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Standing and talking: hands moving in front of the chest, pointing, a phone at the ear,
    a cup at the mouth, a shrug, arms folded or hands on the hips; the weight shifting and the
    body turning now and then."""
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng, 4.0), rest)
    talk: list[tuple[float, float, tuple[str, ...]]] = []
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.3, 1.5))
        kind = rng.choice(["talk", "point", "phone", "drink", "shrug", "fold", "hips"],
                          p=[0.25, 0.15, 0.12, 0.12, 0.1, 0.13, 0.13])
        side = str(rng.choice(["r", "l"], p=[0.7, 0.3]))
        toward = 1.0 if side == "l" else -1.0
        pose: dict[str, float] = {}
        if kind == "talk":
            sides = ("r", "l") if rng.random() < 0.6 else (side,)
            for s in sides:
                pose |= arm_channels(s, shoulder_flexion=draw(rng, 25, 60), shoulder_abduction=draw(rng, 5, 30),
                                     shoulder_rotation=draw(rng, 10, 50), elbow_flexion=draw(rng, 70, 110))
        elif kind == "point":
            pose |= arm_channels(side, shoulder_flexion=draw(rng, 60, 110), shoulder_abduction=draw(rng, -10, 45),
                                 shoulder_rotation=draw(rng, -10, 30), elbow_flexion=draw(rng, 0, 15))
            pose |= {"neck_twist": toward * draw(rng, 10, 35), "torso_twist": toward * draw(rng, 0, 15)}
        elif kind == "phone":
            pose |= arm_channels(side, shoulder_flexion=draw(rng, 25, 55), shoulder_abduction=draw(rng, 20, 45),
                                 shoulder_rotation=draw(rng, 30, 70), elbow_flexion=draw(rng, 125, 140))
            pose |= {"neck_lateral": -toward * draw(rng, 0, 12), "neck_flexion": draw(rng, 0, 20)}
        elif kind == "drink":
            pose |= arm_channels(side, shoulder_flexion=draw(rng, 45, 75), shoulder_abduction=draw(rng, 0, 20),
                                 shoulder_rotation=draw(rng, 30, 60), elbow_flexion=draw(rng, 120, 138))
            pose |= {"neck_flexion": draw(rng, -25, -5)}
        elif kind == "shrug":
            for s in "rl":
                pose |= arm_channels(s, shoulder_flexion=draw(rng, 5, 30), shoulder_abduction=draw(rng, 20, 40),
                                     shoulder_rotation=draw(rng, -45, -15), elbow_flexion=draw(rng, 75, 100))
            pose |= {"neck_lateral": toward * draw(rng, 0, 15)}
        elif kind == "fold":
            for s in "rl":
                pose |= arm_channels(s, shoulder_flexion=draw(rng, 25, 45), shoulder_abduction=draw(rng, -10, 5),
                                     shoulder_rotation=draw(rng, 60, 85), elbow_flexion=draw(rng, 115, 135))
        else:  # hands on the hips
            for s in "rl":
                pose |= arm_channels(s, shoulder_flexion=draw(rng, -15, 0), shoulder_abduction=draw(rng, 35, 50),
                                     shoulder_rotation=draw(rng, 50, 80), elbow_flexion=draw(rng, 95, 130))
        pose |= {"yaw": draw(rng, -35, 35) if rng.random() < 0.3 else keys.rows[-1]["yaw"]}
        keys.add(rng.uniform(0.5, 0.9), **pose)
        start = keys.t
        keys.add(rng.uniform(1.0, 4.0))
        if kind == "talk":
            talk.append((start, keys.t, tuple(s for s in "rl" if f"{s}_elbow_flexion" in pose)))
        keys.add(rng.uniform(0.5, 0.9), **{k: rest[k] for k in pose if k != "yaw"})
    ch = keys.sample(t)
    add_idle(rng, t, ch)
    for start, end, sides in talk:  # the hands beating out the speech, each at its own pace
        window = np.clip((t - start) / 0.3, 0, 1) * np.clip((end - t) / 0.3, 0, 1)
        for s in sides:
            ch[f"{s}_elbow_flexion"] = ch[f"{s}_elbow_flexion"] + window * slow_sway(rng, t, 12.0, 0.6, 1.8)
            ch[f"{s}_shoulder_rotation"] = ch[f"{s}_shoulder_rotation"] + window * slow_sway(rng, t, 15.0, 0.5, 1.5)
            ch[f"{s}_shoulder_abduction"] = ch[f"{s}_shoulder_abduction"] + window * slow_sway(rng, t, 8.0, 0.4, 1.2)
    ch["ox"] = ch["ox"] + slow_sway(rng, t, 30.0, 0.05, 0.2)
    return standing_plan(body, t, rng.uniform(-180, 180), natural_stance(body, rng), ch, rng.uniform(2, 8))


def marching(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Marching on the spot or high knees: each foot in turn lifted (the knee up to hip height
    at most) and put down where it was, the arms swinging against the legs with the elbows
    bent; bouts of it with pauses."""
    hb = body.height_mm
    feet_home = natural_stance(body, rng, (0.8, 1.0), 15.0)
    high = rng.random() < 0.4
    period = draw(rng, 0.7, 0.95) if high else draw(rng, 0.9, 1.3)  # one step of each foot
    lift = draw(rng, 0.17, 0.26) * hb if high else draw(rng, 0.08, 0.17) * hb
    rest = rest_channels(rng)
    swing_amp = draw(rng, 20, 45)
    elbow = draw(rng, 60, 95)
    rest |= {"r_elbow_flexion": elbow, "l_elbow_flexion": elbow}
    keys = Keys(timeline_start(rng, 3.0), rest)
    moves: dict[int, list] = {0: [], 1: []}
    foot = int(rng.integers(2))
    bouts: list[tuple[float, float, int]] = []
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.5, 2.0))
        start, first = keys.t, foot
        for _ in range(int(rng.integers(4, 13))):
            t0 = keys.t
            moves[foot].append((t0, 0.5 * period * draw(rng, 0.9, 1.0), feet_home[foot], lift * draw(rng, 0.85, 1.0)))
            keys.add(0.5 * period)
            foot = 1 - foot
        bouts.append((start, keys.t, first))
    ch = keys.sample(t)
    for start, end, first in bouts:  # the arm opposite the lifted leg forward
        window = np.clip((t - start) / 0.3, 0, 1) * np.clip((end - t) / 0.3, 0, 1)
        phase = np.sin(2 * np.pi * (t - start) / period + (0.0 if first == 0 else np.pi))  # 1: right knee up
        ch["l_shoulder_flexion"] = ch["l_shoulder_flexion"] + swing_amp * window * phase
        ch["r_shoulder_flexion"] = ch["r_shoulder_flexion"] - swing_amp * window * phase
        ch["pelvis_list"] = ch["pelvis_list"] + 3.0 * window * phase
    add_idle(rng, t, ch, scale=0.5)
    zero = np.zeros(len(t))
    return stepping_plan(body, t, rng, feet_home, moves, float(body.ankle_height_mm), {"r": zero, "l": zero}, ch)
