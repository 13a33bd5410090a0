"""On all fours: down onto hands and knees, crawling forward, and back up.

The crawl is a gait (:func:`~.plan.gait_feet`) of four contacts in the diagonal order right
hand, left knee, left hand, right knee: the ankles step behind the knees with the shins near
the floor, the hands under the shoulders. The pelvis rides as high as the planted knees allow
(each knee resting at its clearance above the floor), the trunk pitched so that the shoulders
are an arm's length above the hands, and the arms are solved (:func:`_arm_angles`) so the
planted hands stay put. Getting down and up are blends (:func:`~.plan.blend_plans`) with a
standing plan, the feet stepping back behind the knees and forward again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Plan,
    add_idle,
    blend_plans,
    draw,
    ease,
    floor_clearance,
    forward_xy,
    gait_feet,
    rest_channels,
    rest_on_floor,
    rot2,
    slow_sway,
    timeline_start,
    under,
)
from poseboard.datasets.synthetic.body import ANGLE_NAMES, BodyShape, forward_kinematics
from poseboard.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.joint_names)}
CRAWL_CYCLE_S = 12.0  # mean length of one cycle (down, one or two bouts, up) from the draws below


def _straight_path(start: np.ndarray, heading: float, speed: float) -> Callable:
    """times → (xy (N, 2), heading (N,)): a straight line from ``start`` at ``speed`` mm/s."""
    f = forward_xy(heading)

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tt = np.asarray(tt, np.float64)
        return start + speed * tt[:, None] * f, np.full(len(tt), heading)

    return path


def _gait_clock(t: np.ndarray, bouts: list[tuple[float, float, float]]) -> np.ndarray:
    """(N,) s: the crawl's own clock, still between bouts; each bout (start, duration, advance)
    moves it on by ``advance`` s, easing in and out (its rate peaks at π/2 × the mean)."""
    tau = np.zeros(len(t))
    for t0, dur, advance in bouts:
        tau += advance * ease((t - t0) / dur)
    return tau


def _trunk_flexion(body: BodyShape, tilt: float, z_pelvis: float, shoulder_z: float) -> tuple[float, float]:
    """The torso flexion (degrees) that puts the shoulders at ``shoulder_z`` mm with the pelvis at
    ``z_pelvis`` tilted ``tilt``, and how far ahead of the pelvis they then are (mm)."""
    grid = np.linspace(-25.0, 60.0, 171)
    pose = forward_kinematics(body, {"pelvis_tilt": np.full(len(grid), tilt), "torso_flexion": grid},
                              [0.0, 0.0, z_pelvis], np.zeros(len(grid)))
    z = pose[:, [J["RShoulder"], J["LShoulder"]], 2].mean(1)
    i = int(np.abs(z - shoulder_z).argmin())
    return float(grid[i]), float(pose[i, [J["RShoulder"], J["LShoulder"]], 1].mean())


def _arm_angles(body: BodyShape, poses: np.ndarray, hands: np.ndarray) -> dict[str, np.ndarray]:
    """Shoulder flexion/abduction and elbow flexion (degrees) that put each wrist of ``poses``
    ((N, 17, 3), trunk as planned) on its target ``hands`` (N, 2, 3): a two-link solution in the
    thorax's sagittal plane, the elbow bending backwards (the forearm forwards), the abduction
    taking the small sideways part."""
    x = poses[:, J["RShoulder"]] - poses[:, J["LShoulder"]]
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    z = poses[:, J["Thorax"]] - poses[:, J["Spine"]]
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    out = {}
    for i, (side, shoulder, m) in enumerate((("r", "RShoulder", 1.0), ("l", "LShoulder", -1.0))):
        a1, a2 = body.bone_length("RElbow" if side == "r" else "LElbow"), body.bone_length(
            "RWrist" if side == "r" else "LWrist")
        v = hands[:, i] - poses[:, J[shoulder]]
        ux, uy, uz = (v * x).sum(-1), (v * y).sum(-1), (v * z).sum(-1)
        d = np.clip(np.hypot(uy, uz), a1 - a2 + 1.0, a1 + a2)
        cos_e = np.clip((d**2 - a1**2 - a2**2) / (2 * a1 * a2), -1.0, 1.0)
        e = np.clip(np.degrees(np.arccos(cos_e)), 2.0, 150.0)
        er = np.radians(e)
        gamma = np.degrees(np.arctan2(a2 * np.sin(er), a1 + a2 * np.cos(er)))
        out[f"{side}_shoulder_flexion"] = np.degrees(np.arctan2(uy, -uz)) - gamma
        out[f"{side}_shoulder_abduction"] = np.degrees(np.arctan2(m * ux, d))
        out[f"{side}_elbow_flexion"] = e
    return out


def _knee_height_pelvis(body: BodyShape, root_xy: np.ndarray, heading: np.ndarray, feet: np.ndarray,
                        swing: np.ndarray, z_knee: float) -> np.ndarray:
    """(N,) the pelvis height at which the planted knees rest at ``z_knee``: each knee lies
    ahead of its ankle along the shin, the thigh reaches from the hip (the higher of the two
    planted legs, smoothed from above so that no knee is pressed into the floor)."""
    l1 = body.bone_length("RKnee")
    l2 = body.bone_length("RAnkle")
    h = float(body.ankle_height_mm)
    f = forward_xy(heading)
    right = np.stack([f[:, 1], -f[:, 0]], -1)
    need = np.empty((len(root_xy), 2))
    for i, sign in enumerate((1.0, -1.0)):
        hip = root_xy + sign * body.rest_offsets[2, 0] * right
        knee = feet[:, i, :2] + np.sqrt(l2**2 - (z_knee - h) ** 2) * f
        need[:, i] = z_knee + np.sqrt(np.maximum(l1**2 - ((hip - knee) ** 2).sum(-1), 0.0))
    need = np.where(swing > 0, -np.inf, need).max(1)  # the knees never both swing
    return -under(-need, 5)


def _crawl_plan(body: BodyShape, t: np.ndarray, rng: np.random.Generator, tau: np.ndarray,
                path: Callable, period: float, rest: dict[str, float]) -> Plan:
    """On hands and knees along ``path`` with the gait clock ``tau`` (still: kneeling on all
    fours)."""
    h = float(body.ankle_height_mm)
    clear = floor_clearance(body)
    l1, l2 = body.bone_length("RKnee"), body.bone_length("RAnkle")
    arm = body.bone_length("RElbow") + body.bone_length("RWrist")
    z_knee, z_hand = clear[J["RKnee"]] + 3.0, clear[J["RWrist"]] + 5.0
    tilt = draw(rng, 62, 75)
    flex, ahead = _trunk_flexion(body, tilt, z_knee + l1, z_hand + draw(rng, 0.9, 0.96) * arm)
    shin = np.sqrt(l2**2 - (z_knee - h) ** 2)
    # the ankles land where the knee will be under the hip, the hands under the shoulders
    legs_path = _offset_path(path, -shin)
    hands_path = _offset_path(path, ahead + draw(rng, 0, 40))
    phase = -0.12 * period  # the limbs all planted whenever tau is a multiple of period / 2
    feet, swing = gait_feet(body, tau, legs_path, period, phase + 0.55 * period, stance=0.7,
                            lateral=body.rest_offsets[2, 0] * draw(rng, 1.0, 1.15), heel_max=0.0,
                            clearance=draw(rng, 20, 35))
    hands, _ = gait_feet(body, tau, hands_path, period, phase, stance=0.7,
                         lateral=body.rest_offsets[12, 0] * draw(rng, 0.95, 1.1), heel_max=0.0,
                         clearance=draw(rng, 50, 80))
    hands[..., 2] += z_hand - h
    xy, heading = path(tau)
    z = _knee_height_pelvis(body, xy, heading, feet, swing, z_knee)
    root = np.concatenate([xy, z[:, None]], -1)
    ch = {k: np.full(len(t), v) for k, v in rest.items()}
    ch |= {"pelvis_tilt": np.full(len(t), tilt), "torso_flexion": np.full(len(t), flex),
           "pelvis_list": np.zeros(len(t)), "torso_lateral": np.zeros(len(t)),
           "torso_twist": np.zeros(len(t)), "neck_flexion": np.full(len(t), -draw(rng, 25, 40)),
           "r_shoulder_rotation": np.zeros(len(t)), "l_shoulder_rotation": np.zeros(len(t))}
    for name, amp in (("neck_twist", 12.0), ("neck_lateral", 3.0), ("neck_flexion", 5.0)):
        ch[name] = ch[name] + slow_sway(rng, t, amp)
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    trunk = forward_kinematics(body, angles, root, heading)
    angles |= _arm_angles(body, trunk, hands)
    return Plan(root=root, yaw=heading, angles=angles, feet=feet)


def _offset_path(path: Callable, ahead: float) -> Callable:
    """``path`` moved ``ahead`` mm along its own heading."""

    def moved(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy, heading = path(tt)
        return xy + ahead * forward_xy(heading), heading

    return moved


def _stand_plan(body: BodyShape, t: np.ndarray, rng: np.random.Generator, tau: np.ndarray,
                path: Callable, rest: dict[str, float]) -> Plan:
    """Standing at the crawl's current place (it moves only while crawling)."""
    h = float(body.ankle_height_mm)
    xy, heading = path(tau)
    f = forward_xy(heading)
    right = np.stack([f[:, 1], -f[:, 0]], -1)
    lat = body.rest_offsets[2, 0] * draw(rng, 0.85, 1.1)
    feet = np.stack([np.concatenate([xy + s * lat * right, np.full((len(t), 1), h)], -1)
                     for s in (1.0, -1.0)], 1)
    z = h + float(body.leg_reach(draw(rng, 3, 8))) - 2.0
    root = np.concatenate([xy, np.full((len(t), 1), z)], -1)
    ch = {k: np.full(len(t), v) for k, v in rest.items()}
    add_idle(rng, t, ch, scale=0.6)
    root[:, :2] += rot2(np.stack([ch["ox"], ch["oy"]], -1), heading) * 0.5
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return Plan(root=root, yaw=heading, angles=angles, feet=feet)


def crawling(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Down onto hands and knees (kneeling, then the hands forward to the floor), crawling
    forward in bouts of a few strides at 0.1–0.14 H per cycle (diagonal gait, 1.2–1.8 s a
    cycle), pausing on all fours, then back up to standing; again while time remains. The
    distance crawled stays within the capture area."""
    period = draw(rng, 1.2, 1.8)
    rest = rest_channels(rng)
    psi = rng.uniform(-180, 180)
    budget = max(1.2 * area - 300.0, 0.0)  # mm of crawling in the whole sequence
    speed = draw(rng, 0.1, 0.14) * body.height_mm / period
    path = _straight_path(np.zeros(2), psi, speed)
    now = t[0] + timeline_start(rng, CRAWL_CYCLE_S)
    bouts, switches, clock = [], [], 0.0
    while now < t[-1]:
        down, up = rng.uniform(1.6, 2.2), rng.uniform(1.6, 2.2)
        start = now + rng.uniform(0.5, 1.5)
        now = start + down + rng.uniform(0.3, 0.8)
        for _ in range(int(rng.integers(1, 3))):  # crawling bouts with a pause between
            halves = int(rng.integers(2, 7))
            advance = min(halves * period / 2, max(budget / speed - clock, 0.0))
            advance = np.floor(advance / (period / 2)) * period / 2
            dur = advance * 1.6 + 0.01
            bouts.append((now, dur, advance))
            clock += advance * float(np.clip((now + dur - t[0]) / dur, 0.0, 1.0))  # only what the sequence sees
            now += dur + rng.uniform(0.4, 1.2)
        switches.append((start, down, now, up))
        now += up
    tau = _gait_clock(t, bouts)
    crawl = _crawl_plan(body, t, rng, tau, path, period, rest)
    stand = _stand_plan(body, t, rng, tau, path, rest)
    plan = stand
    for start, down, back_up, up in switches:
        plan = blend_plans(body, plan, crawl, t, start, down, draw(rng, 40, 70))
        plan = blend_plans(body, plan, stand, t, back_up, up, draw(rng, 40, 70))
    return rest_on_floor(body, t, plan)
