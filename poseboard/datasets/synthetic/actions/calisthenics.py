"""Calisthenics: balancing on one leg and aerobic exercise routines.

Poses the scripted actions and the exercise actions do not take, chosen for where the held-out
motion's 2D failures are (docs/findings.md: hidden hands while a foot is off the floor, a wrist
put on the other wrist when the arms cross the body or go overhead) without being either
held-out action: a foot held high for seconds (in front, behind, to the side, at the other
knee) while the hands are at the chest, on the hips, out or overhead; hands crossing the body
to the other knee or foot; both arms overhead together while the feet step out.

Measured as a lever (docs/findings.md, "Balancing and aerobics"), they moved neither novel
motion's error nor Kicking's hidden hands, so no profile trains on them; they stay an option
for an arm (``TrainingWorld.calisthenics``).
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
    planted_plan,
    rest_channels,
    slow_sway,
    stepping_plan,
    timeline_start,
    to_world,
)
from poseboard.datasets.synthetic.body import BodyShape


def _balance_arms(rng: np.random.Generator) -> dict[str, float]:
    """Where the hands go while standing on one leg: together at the chest, on the hips, out to
    the sides, or overhead."""
    kind = rng.choice(["chest", "hips", "out", "overhead"], p=[0.3, 0.2, 0.3, 0.2])
    pose: dict[str, float] = {}
    for s in "rl":
        if kind == "chest":  # palms together in front of the sternum, elbows out
            pose |= arm_channels(s, shoulder_flexion=draw(rng, 20, 45), shoulder_abduction=draw(rng, 10, 35),
                                 shoulder_rotation=draw(rng, 55, 80), elbow_flexion=draw(rng, 115, 140))
        elif kind == "hips":
            pose |= arm_channels(s, shoulder_flexion=draw(rng, -15, 0), shoulder_abduction=draw(rng, 35, 50),
                                 shoulder_rotation=draw(rng, 50, 80), elbow_flexion=draw(rng, 95, 130))
        elif kind == "out":
            pose |= arm_channels(s, shoulder_flexion=draw(rng, -5, 30), shoulder_abduction=draw(rng, 70, 95),
                                 shoulder_rotation=draw(rng, -20, 20), elbow_flexion=draw(rng, 0, 30))
        else:
            pose |= arm_channels(s, shoulder_flexion=draw(rng, 150, 172), shoulder_abduction=draw(rng, 0, 20),
                                 shoulder_rotation=draw(rng, -20, 20), elbow_flexion=draw(rng, 0, 30))
    return pose


def balancing(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Standing on one leg, each balance held 1.5–4 s: the free knee raised in front (up to the
    hip), the free foot held behind with the body tipped forward, held out to the side, or put
    against the inside of the standing knee with the thigh turned out (a tree pose); the hands
    at the chest, on the hips, out or overhead; the pelvis over the standing foot, small
    corrections of balance all the while."""
    hb = body.height_mm
    half = body.rest_offsets[2, 0]
    home = natural_stance(body, rng, (0.8, 1.0), 15.0)  # (2, 2) body-frame xy: right, left
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng, 6.0), rest)
    foot_rest = {f"{s}{a}": float(v) for k, s in enumerate("rl") for a, v in zip("xyz", (*home[k], 0.0), strict=True)}
    feet = Keys(keys.t, foot_rest)
    while keys.t < t[-1]:
        pause = rng.uniform(0.4, 1.5)
        keys.add(pause)
        feet.add(pause)
        free = str(rng.choice(["r", "l"]))
        stand = other_side(free)
        k_stand = "rl".index(stand)
        toward = 1.0 if stand == "r" else -1.0  # body-frame x of the standing side
        kind = rng.choice(["knee", "back", "side", "tree"], p=[0.3, 0.25, 0.2, 0.25])
        pose = _balance_arms(rng)
        pose |= {"ox": home[k_stand, 0] * draw(rng, 0.8, 1.0), "pelvis_list": toward * draw(rng, 0, 5)}
        x0, y0 = home["rl".index(free)]
        if kind == "knee":
            target = (x0 - toward * draw(rng, 0, 0.3) * half, y0 + draw(rng, 0.06, 0.14) * hb,
                      draw(rng, 0.16, 0.26) * hb)
            pose |= {"torso_flexion": draw(rng, -5, 10)}
        elif kind == "back":
            target = (x0, y0 - draw(rng, 0.18, 0.3) * hb, draw(rng, 0.08, 0.18) * hb)
            pose |= {"pelvis_tilt": draw(rng, 15, 35), "torso_flexion": draw(rng, 0, 15),
                     "neck_flexion": draw(rng, -20, 0), "oy": draw(rng, 20, 60)}
        elif kind == "side":
            target = (x0 - toward * draw(rng, 0.1, 0.2) * hb, y0 + draw(rng, -0.03, 0.05) * hb,
                      draw(rng, 0.05, 0.12) * hb)
            pose |= {"torso_lateral": toward * draw(rng, 3, 12)}
        else:  # the sole against the inside of the standing leg, the knee turned out
            target = (home[k_stand, 0] - toward * draw(rng, 0.9, 1.4) * half, home[k_stand, 1] + draw(rng, 0, 40),
                      draw(rng, 0.14, 0.2) * hb)
            pose |= {f"{free}_hip_rotation": -draw(rng, 25, 40)}
        lift_s, move_s = rng.uniform(0.25, 0.4), rng.uniform(0.5, 0.9)
        keys.add(lift_s + move_s, **pose)
        feet.add(lift_s, **{f"{free}z": 0.3 * target[2]})  # off the floor before it moves across
        feet.add(move_s, **{f"{free}x": target[0], f"{free}y": target[1], f"{free}z": target[2]})
        hold = rng.uniform(1.5, 4.0)
        keys.add(hold)
        feet.add(hold)
        back_s, down_s = rng.uniform(0.5, 0.9), rng.uniform(0.25, 0.4)
        feet.add(back_s, **{f"{free}x": x0, f"{free}y": y0, f"{free}z": 0.3 * target[2]})
        feet.add(down_s, **{f"{free}z": 0.0})
        keys.add(back_s + down_s, **{k: rest[k] for k in pose})
    ch = keys.sample(t)
    add_idle(rng, t, ch, scale=0.3)
    for name, amp in (("ox", 12.0), ("oy", 10.0), ("torso_lateral", 2.0)):  # corrections of balance
        ch[name] = ch[name] + slow_sway(rng, t, amp, 0.4, 1.5)
    f = feet.sample(t)
    body_feet = np.stack([np.stack([f[f"{s}x"], f[f"{s}y"], body.ankle_height_mm + np.maximum(f[f"{s}z"], 0.0)], -1)
                          for s in "rl"], 1)
    psi = rng.uniform(-180, 180)
    return planted_plan(body, psi, to_world(body_feet, psi), ch, rng.uniform(2, 6))


def aerobics(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """An aerobics routine on a beat (one repetition every 0.7–1.2 s), bouts of 4–10
    repetitions: step jacks (a foot stepping out to the side and back while both arms sweep
    overhead and down), cross-body knee lifts (the knee up and the opposite hand across to
    it, the torso turning and bending into it), overhead presses left and right, arm circles
    out to the sides, and (in a wide stance) windmills: bent forwards, a hand down across to
    the other foot and the other arm up behind."""
    hb = body.height_mm
    wide = rng.random() < 0.35
    feet_home = natural_stance(body, rng, (1.8, 2.4) if wide else (0.8, 1.0), 20.0)
    period = draw(rng, 0.7, 1.2)
    rest = rest_channels(rng)
    keys = Keys(timeline_start(rng, 4.0), rest)
    moves: dict[int, list] = {0: [], 1: []}
    circles: list[tuple[float, float, float]] = []
    kinds = ["windmill", "press", "circles"] if wide else ["jacks", "cross_knee", "press", "circles"]
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.4, 1.5))
        kind = str(rng.choice(kinds))
        reps = int(rng.integers(4, 11))
        side = str(rng.choice(["r", "l"]))
        touched: set[str] = set()
        if kind == "circles":
            out: dict[str, float] = {}
            for s in "rl":
                out |= arm_channels(s, shoulder_flexion=draw(rng, 0, 20), shoulder_abduction=draw(rng, 65, 80),
                                    shoulder_rotation=draw(rng, -15, 15), elbow_flexion=draw(rng, 0, 15))
            keys.add(0.8 * period, **out)
            start = keys.t
            keys.add(reps * period)
            circles.append((start, keys.t, draw(rng, 0.6, 1.6)))
            touched |= set(out)
        for _ in range(0 if kind == "circles" else reps):
            if kind == "jacks":
                k = "rl".index(side)
                out_x = (1.0 if side == "r" else -1.0) * draw(rng, 0.1, 0.18) * hb
                moves[k].append((keys.t, 0.4 * period, feet_home[k] + [out_x, 0.0], draw(rng, 25, 50)))
                moves[k].append((keys.t + 0.5 * period, 0.4 * period, feet_home[k], draw(rng, 25, 50)))
                up: dict[str, float] = {}
                for s in "rl":
                    up |= arm_channels(s, shoulder_flexion=draw(rng, 0, 25), shoulder_abduction=draw(rng, 135, 165),
                                       shoulder_rotation=draw(rng, -30, 0), elbow_flexion=draw(rng, 0, 25))
                keys.add(0.45 * period, **up)
                keys.add(0.55 * period, **{name: rest[name] for name in up})
                touched |= set(up)
            elif kind == "cross_knee":
                k = "rl".index(side)
                moves[k].append((keys.t, 0.9 * period, feet_home[k], draw(rng, 0.14, 0.22) * hb))
                hand = other_side(side)
                turn = 1.0 if side == "r" else -1.0  # towards a right knee: the torso turns right (negative)
                reach = arm_channels(hand, shoulder_flexion=draw(rng, 40, 70), shoulder_abduction=draw(rng, -35, -15),
                                     shoulder_rotation=draw(rng, 10, 40), elbow_flexion=draw(rng, 10, 45))
                reach |= arm_channels(side, shoulder_flexion=draw(rng, -20, 10), shoulder_abduction=draw(rng, 30, 60),
                                      shoulder_rotation=draw(rng, -20, 20), elbow_flexion=draw(rng, 20, 70))
                reach |= {"torso_twist": -turn * draw(rng, 15, 35), "torso_flexion": draw(rng, 10, 25),
                          "neck_flexion": draw(rng, 10, 30)}
                keys.add(0.45 * period, **reach)
                keys.add(0.55 * period, **{name: rest[name] for name in reach})
                touched |= set(reach)
            elif kind == "press":
                press = arm_channels(side, shoulder_flexion=draw(rng, 155, 175), shoulder_abduction=draw(rng, 0, 15),
                                     shoulder_rotation=draw(rng, -20, 10), elbow_flexion=draw(rng, 0, 15))
                press |= arm_channels(other_side(side), shoulder_flexion=draw(rng, 30, 60),
                                      shoulder_abduction=draw(rng, 40, 70), shoulder_rotation=draw(rng, -60, -30),
                                      elbow_flexion=draw(rng, 115, 140))
                press |= {"torso_lateral": (-1.0 if side == "r" else 1.0) * draw(rng, 0, 8)}
                keys.add(0.5 * period, **press)
                touched |= set(press)
            else:  # windmill
                turn = 1.0 if side == "r" else -1.0  # the right hand to the left foot: the torso turns left
                mill = arm_channels(side, shoulder_flexion=draw(rng, 85, 115), shoulder_abduction=draw(rng, -35, -15),
                                    shoulder_rotation=draw(rng, 0, 30), elbow_flexion=draw(rng, 0, 20))
                mill |= arm_channels(other_side(side), shoulder_flexion=draw(rng, -20, 10),
                                     shoulder_abduction=draw(rng, 75, 100), shoulder_rotation=draw(rng, -20, 20),
                                     elbow_flexion=draw(rng, 0, 20))
                mill |= {"pelvis_tilt": draw(rng, 40, 65), "torso_flexion": draw(rng, 10, 30),
                         "torso_twist": turn * draw(rng, 30, 45), "neck_twist": turn * draw(rng, 0, 30),
                         "oy": -draw(rng, 40, 100)}
                keys.add(1.0 * period, **mill)
                keys.add(0.4 * period)
                touched |= set(mill)
            side = other_side(side)  # the next repetition on the other side
        keys.add(rng.uniform(0.5, 0.9), **{name: rest[name] for name in touched})
    ch = keys.sample(t)
    for start, end, hz in circles:  # small circles of both arms, out of phase with each other
        window = np.clip((t - start) / 0.4, 0, 1) * np.clip((end - t) / 0.4, 0, 1)
        amp = draw(rng, 10, 20)
        phase = 2 * np.pi * hz * (t - start)
        for s, lag in (("r", 0.0), ("l", np.pi)):
            ch[f"{s}_shoulder_flexion"] = ch[f"{s}_shoulder_flexion"] + amp * window * np.sin(phase + lag)
            ch[f"{s}_shoulder_abduction"] = ch[f"{s}_shoulder_abduction"] + amp * window * np.cos(phase + lag)
    add_idle(rng, t, ch, scale=0.4)
    zero = np.zeros(len(t))
    return stepping_plan(body, t, rng, feet_home, moves, float(body.ankle_height_mm), {"r": zero, "l": zero}, ch)
