"""Procedural human motion: actions as joint-angle trajectories driven through the body's FK.

Every action builds, in time, a *plan*: the pelvis trajectory (position, yaw, tilt, list), the
upper-body angles (torso, neck, shoulders, elbows, within :data:`~.body.ANGLE_LIMITS_DEG`) and
where each ankle must be (flat on the floor, rolling over the toes, swinging to the next
footstep, or in the air). The legs are then solved analytically (:func:`~.body.solve_leg_ik`)
so a planted foot does not slide, :func:`~.body.forward_kinematics` turns the angles into
joints (rigid: bone lengths are exact at every frame), and each frame is shifted vertically
so that the lowest ankle sits where the plan puts it: at ankle height on the floor, or above
it in the flight phase of a jump.

Time courses are smooth: keyframes interpolated with PCHIP (shape preserving, so they never
overshoot a keyframe and stay within the limits), bounded sums of slow sinusoids for sway,
cubic Hermite segments with a ballistic flight for jumps, and a footstep planner for gait.
Each sequence draws its own speed, amplitudes, timing, direction of travel, facing and
position in the capture area (the pelvis stays within ``area_radius_mm`` of ``area_center``).

The actions (:data:`ACTIONS`):

- ``Walking``: round a circle either way at 0.9–1.3 m/s (scaled by height), heel strike to
  toe-off with the stance foot planted, arms swinging against the legs, pelvis rotation,
  sway and list, the pelvis vaulting over the stance leg.
- ``Turning``: stepping on the spot while turning one way and back (up to ~80°/s).
- ``SittingDown``: sitting down on an invisible chair behind (seat 0.24–0.29 H, leaning
  forward on the way), sitting a while with the hands on the lap, standing up again.
- ``Squatting``: repeated squats (pelvis down 0.12–0.25 H), feet wide and knees out, arms
  forward, on the hips or behind the head.
- ``Waving``: one or both arms raised and the forearm waving at 1.5–2.5 Hz.
- ``Reaching``: reaching low (bending the knees), ahead, across or high (on the toes).
- ``PickingUp``: stooping or squatting to pick something up, carrying it, putting it down.
- ``Boxing``: staggered guard stance, bouncing; jabs, crosses, hooks and uppercuts.
- ``Jumping``: counter-movement jumps in place or hopping (apex 80–300 mm, ballistic).

Example:
    >>> import numpy as np
    >>> from poseboard.datasets.synthetic.body import SUBJECTS
    >>> seq = generate_sequence(SUBJECTS["S1"], "Walking", 100, np.random.default_rng(0))
    >>> seq.poses.shape, seq.sequence
    ((100, 17, 3), 'S1/Walking/000')
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from poseboard.datasets.synthetic.body import (
    ANGLE_NAMES,
    SUBJECTS,
    BodyShape,
    clip_to_limits,
    forward_kinematics,
    root_rotation,
    solve_leg_ik,
)
from poseboard.errors import InputError, check_shape

ACTIONS: tuple[str, ...] = (
    "Walking", "Turning", "SittingDown", "Squatting", "Waving", "Reaching", "PickingUp",
    "Boxing", "Jumping",
)  # fmt: skip
#: Actions in which both feet leave the floor.
AIRBORNE_ACTIONS: tuple[str, ...] = ("Jumping",)
#: Upper bound of any joint's speed (mm/s) in each action, as tested.
MAX_JOINT_SPEED_MM_S: dict[str, float] = {a: 5000.0 for a in ACTIONS} | {
    "Boxing": 9000.0,
    "Jumping": 8000.0,
}

_G_MM_S2 = 9810.0


@dataclass(frozen=True, eq=False)
class MotionSequence:
    """One sequence: (N, 17, 3) world mm poses (Z up, floor z = 0) in the H36M17 order."""

    subject: str
    action: str
    sequence: str
    poses: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        check_shape(self.poses, ["N", 17, 3], f"MotionSequence {self.sequence}: poses")
        if not self.fps > 0:
            raise InputError(f"MotionSequence {self.sequence}: fps must be > 0, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])


# ------------------------------------------------------------------------------- helpers


def _ss(u: np.ndarray) -> np.ndarray:
    """Raised-cosine ease 0 → 1 on [0, 1], flat outside (zero slope at both ends)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(u, 0.0, 1.0))


def _sway(rng: np.random.Generator, t: np.ndarray, amp: float, fmin: float = 0.08,
          fmax: float = 0.5, k: int = 3) -> np.ndarray:
    """A sum of ``k`` slow sinusoids; |value| ≤ ``amp`` by construction."""
    f = rng.uniform(fmin, fmax, k)
    phase = rng.uniform(0, 2 * np.pi, k)
    w = rng.dirichlet(np.ones(k))
    return amp * (w[:, None] * np.sin(2 * np.pi * f[:, None] * t + phase[:, None])).sum(0)


def _rot2(xy: np.ndarray, yaw_deg: Any) -> np.ndarray:
    """Rotate (..., 2) body-frame vectors (x right, y forward) by yaw (degrees, CCW)."""
    y = np.radians(yaw_deg)
    c, s = np.cos(y), np.sin(y)
    return np.stack([xy[..., 0] * c - xy[..., 1] * s, xy[..., 0] * s + xy[..., 1] * c], -1)


def _forward(yaw_deg: Any) -> np.ndarray:
    y = np.radians(yaw_deg)
    return np.stack([-np.sin(y), np.cos(y)], -1)


def _softmin(a: np.ndarray, b: np.ndarray, k: float = 8.0) -> np.ndarray:
    """Smooth minimum (≤ min(a, b), within k·ln 2 of it)."""
    return -k * np.logaddexp(-a / k, -b / k)


def _toe_lever(body: BodyShape) -> float:
    """Ankle → ball of the foot, horizontally (mm): the ball sits ~0.47 foot lengths ahead."""
    return 0.47 * float(body.foot_length_mm)


def _roll(body: BodyShape, flat: np.ndarray, fwd: np.ndarray, heel_deg: np.ndarray) -> np.ndarray:
    """Ankle position when the foot, flat with its ankle at ``flat`` (..., 3), lifts the heel by
    ``heel_deg`` rolling over the ball of the foot (which stays put)."""
    d, h = _toe_lever(body), float(body.ankle_height_mm)
    th = np.radians(heel_deg)
    along = d - d * np.cos(th) + h * np.sin(th)
    up = d * np.sin(th) + h * np.cos(th) - h
    out = np.array(flat, dtype=np.float64, copy=True)
    out[..., :2] += fwd * along[..., None]
    out[..., 2] += up
    return out


class _Keys:
    """Keyframes of named channels; a channel not given at a key holds its previous value."""

    def __init__(self, start: float, rest: Mapping[str, float]) -> None:
        self.times = [float(start)]
        self.rows = [dict(rest)]

    @property
    def t(self) -> float:
        return self.times[-1]

    def add(self, dt: float, **values: float) -> None:
        unknown = set(values) - set(self.rows[0])
        if unknown:
            raise KeyError(f"channels without a rest value: {sorted(unknown)}")
        self.times.append(self.t + max(float(dt), 1e-3))
        self.rows.append({**self.rows[-1], **values})

    def sample(self, t: np.ndarray) -> dict[str, np.ndarray]:
        names = list(self.rows[0])
        kt = np.array(self.times)
        kv = np.array([[row[n] for n in names] for row in self.rows])
        if len(kt) == 1:
            return {n: np.full(len(t), kv[0, i]) for i, n in enumerate(names)}
        values = PchipInterpolator(kt, kv, axis=0)(np.clip(t, kt[0], kt[-1]))
        return {n: values[:, i] for i, n in enumerate(names)}


def _hermite(t: np.ndarray, knots: list[tuple[float, float, float]]) -> np.ndarray:
    """Piecewise cubic Hermite through (time, value, slope) knots, held flat outside."""
    kt = np.array([k[0] for k in knots])
    kv = np.array([k[1] for k in knots])
    kd = np.array([k[2] for k in knots])
    tc = np.clip(t, kt[0], kt[-1])
    i = np.clip(np.searchsorted(kt, tc, side="right") - 1, 0, len(kt) - 2)
    h = kt[i + 1] - kt[i]
    s = (tc - kt[i]) / h
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * kv[i] + h10 * h * kd[i] + h01 * kv[i + 1] + h11 * h * kd[i + 1]


@dataclass
class _Plan:
    """What an action wants, before the legs are solved (world mm, degrees)."""

    root: np.ndarray  # (N, 3) pelvis
    yaw: np.ndarray  # (N,)
    angles: dict[str, np.ndarray]  # every angle but hip flexion/abduction and knee flexion
    feet: np.ndarray  # (N, 2, 3) right and left ankle targets


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _rest_channels(rng: np.random.Generator) -> dict[str, float]:
    """Relaxed standing: arms hang a little out and bent, head and torso nearly upright."""
    ab, elbow, rot = _u(rng, 6, 12), _u(rng, 8, 20), _u(rng, 0, 20)
    return {
        "ox": 0.0, "oy": 0.0, "drop": 0.0, "z_abs": 1e4, "yaw": 0.0, "heel_r": 0.0, "heel_l": 0.0,
        "pelvis_tilt": _u(rng, 0, 6), "pelvis_list": 0.0,
        "r_hip_rotation": _u(rng, -5, 5), "l_hip_rotation": _u(rng, -5, 5),
        "torso_flexion": _u(rng, 0, 6), "torso_lateral": 0.0, "torso_twist": 0.0,
        "neck_flexion": _u(rng, 0, 10), "neck_lateral": 0.0, "neck_twist": 0.0,
        "r_shoulder_flexion": _u(rng, -4, 4), "r_shoulder_abduction": ab + _u(rng, -1, 1),
        "r_shoulder_rotation": rot, "r_elbow_flexion": elbow + _u(rng, -3, 3),
        "l_shoulder_flexion": _u(rng, -4, 4), "l_shoulder_abduction": ab + _u(rng, -1, 1),
        "l_shoulder_rotation": rot, "l_elbow_flexion": elbow + _u(rng, -3, 3),
    }  # fmt: skip


def _add_idle(rng: np.random.Generator, t: np.ndarray, ch: dict[str, np.ndarray],
              scale: float = 1.0) -> None:
    """Small slow sway of weight, torso, head and arms on top of the keyframes."""
    for name, amp in (("ox", 15.0), ("oy", 10.0), ("torso_flexion", 2.0), ("torso_lateral", 2.0),
                      ("torso_twist", 3.0), ("neck_flexion", 5.0), ("neck_twist", 15.0),
                      ("neck_lateral", 3.0), ("r_shoulder_flexion", 3.0),
                      ("l_shoulder_flexion", 3.0)):  # fmt: skip
        ch[name] = ch[name] + _sway(rng, t, amp * scale)
    for name in ("r_elbow_flexion", "l_elbow_flexion"):  # only ever bends further: never < 0
        ch[name] = ch[name] + 2.0 * scale * (1.0 + _sway(rng, t, 1.0))


def _standing_plan(body: BodyShape, t: np.ndarray, psi: float, feet_local: np.ndarray,
                   ch: dict[str, np.ndarray], knee_min_deg: float) -> _Plan:
    """Feet planted at ``feet_local`` ((2, 2) body-frame xy, mm); the channels move the pelvis
    (``ox``/``oy`` in the body frame, ``yaw`` relative to ``psi``, ``drop`` below the highest
    height at which the knees still bend ``knee_min_deg``, or ``z_abs`` if lower), the heels
    (``heel_r``/``heel_l``, degrees) and every angle."""
    n = len(t)
    root_xy = _rot2(np.stack([ch["ox"], ch["oy"]], -1), psi)
    yaw = psi + ch["yaw"]
    fwd = np.broadcast_to(_forward(psi), (n, 2))
    feet = np.empty((n, 2, 3))
    for i, heel in enumerate((ch["heel_r"], ch["heel_l"])):
        flat = np.zeros((n, 3))
        flat[:, :2] = _rot2(feet_local[i], psi)
        flat[:, 2] = body.ankle_height_mm
        feet[:, i] = _roll(body, flat, fwd, heel)
    z_stand = _pelvis_ceiling(body, root_xy, yaw, ch["pelvis_tilt"], ch["pelvis_list"], feet,
                              knee_min_deg)
    root = np.concatenate([root_xy, _softmin(z_stand - ch["drop"], ch["z_abs"])[:, None]], -1)
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return _Plan(root=root, yaw=yaw, angles=angles, feet=feet)


def _stance(body: BodyShape, rng: np.random.Generator, width: tuple[float, float] = (0.8, 1.1),
            stagger: float = 40.0) -> np.ndarray:
    """(2, 2) body-frame xy of the right and left ankle of a natural stance."""
    half = body.rest_offsets[2, 0]
    lat = half * rng.uniform(*width, 2)
    fy = rng.uniform(-stagger, stagger, 2)
    return np.array([[lat[0], fy[0]], [-lat[1], fy[1]]])


def _arm(side: str, **v: float) -> dict[str, float]:
    return {f"{side}_{k}": val for k, val in v.items()}


# ------------------------------------------------------------------------------- gait


def _gait_feet(body: BodyShape, t: np.ndarray, path: Callable, period: float, phase: float, *,
               stance: float, lateral: float, heel_max: float,
               clearance: float) -> tuple[np.ndarray, np.ndarray]:
    """Ankle targets (N, 2, 3) and swing phase (N, 2; 0 on the ground, 0 → 1 in the air) of
    a gait along ``path`` (times → (xy, heading)).

    The right foot lands at ``phase + k·period``, the left half a period later. A foot lands
    beside where the pelvis will be a quarter period later (mid-stance) and stays put for the
    ``stance`` fraction of the cycle, rolling over the ball of the foot from mid-stance on
    (the heel rises, accelerating, to ``heel_max`` degrees at toe-off); it then swings to its
    next footstep along a cubic that leaves with the roll's velocity (so the ankle's velocity
    is continuous) and lands at rest, ``clearance`` mm higher in the middle.
    """
    feet = np.empty((len(t), 2, 3))
    phase_of_swing = np.empty((len(t), 2))
    d, h = _toe_lever(body), float(body.ankle_height_mm)
    lift_from = 0.5 * stance
    t_roll, t_swing = (stance - lift_from) * period, (1.0 - stance) * period
    th = np.radians(heel_max)
    rate = 2 * th / t_roll  # dθ/dt at toe-off of θ = θmax·q²
    v_along, v_up = (d * np.sin(th) + h * np.cos(th)) * rate, (d * np.cos(th) - h * np.sin(th)) * rate
    for i, (sign, ph) in enumerate(((1.0, phase), (-1.0, phase + period / 2))):
        k = np.floor((t - ph) / period)
        tc = ph + k * period
        u = (t - tc) / period
        spots = []
        for tt in (tc + 0.25 * period, tc + 1.25 * period):
            xy, hd = path(tt)
            f = _forward(hd)
            right = np.stack([f[:, 1], -f[:, 0]], -1)
            flat = np.concatenate([xy + sign * lateral * right, np.full((len(t), 1), h)], -1)
            spots.append((flat, f))
        (p0, f0), (p1, _) = spots
        q = np.clip((u - lift_from) / (stance - lift_from), 0.0, 1.0)
        on_ground = _roll(body, p0, f0, heel_max * q**2)
        s = np.clip((u - stance) / (1.0 - stance), 0.0, 1.0)[:, None]
        a0 = _roll(body, p0, f0, np.full(len(t), heel_max))
        v0 = np.concatenate([f0 * v_along, np.full((len(t), 1), v_up)], -1)
        h00, h10, h01 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, 3 * s**2 - 2 * s**3
        swing = h00 * a0 + h10 * t_swing * v0 + h01 * p1
        swing[:, 2] += clearance * np.sin(np.pi * s[:, 0]) ** 2
        phase_of_swing[:, i] = s[:, 0]
        feet[:, i] = np.where((u < stance)[:, None], on_ground, swing)
    return feet, phase_of_swing


def _under(c: np.ndarray, half_width: int) -> np.ndarray:
    """A smoothed curve that never exceeds ``c``: an erosion then a moving average, both over
    2w+1 samples (each output averages minima over windows that hold it)."""
    size = 2 * max(int(half_width), 1) + 1
    return uniform_filter1d(minimum_filter1d(c, size, mode="nearest"), size, mode="nearest")


def _pelvis_ceiling(body: BodyShape, root_xy: np.ndarray, yaw: Any, tilt: Any, lst: Any,
                    feet: np.ndarray, knee_min: np.ndarray) -> np.ndarray:
    """(N,) the highest pelvis at which each leg reaches its ankle target with the knee bent at
    least ``knee_min`` ((N, 2) or scalar degrees)."""
    rot = root_rotation(yaw, tilt, lst)
    hip_off = np.stack([rot @ body.rest_offsets[j] for j in (2, 3)], 1)  # (N, 2, 3)
    horiz = np.linalg.norm(feet[..., :2] - root_xy[:, None] - hip_off[..., :2], axis=-1)
    knee_min = np.broadcast_to(knee_min, feet.shape[:2])
    reach = np.stack([body.leg_reach(knee_min[:, i], s) for i, s in enumerate("rl")], -1)
    return (feet[..., 2] + np.sqrt(np.maximum(reach**2 - horiz**2, 0.0)) - hip_off[..., 2]).min(1)


def _gait_upper(rng: np.random.Generator, t: np.ndarray, ph: np.ndarray, rest: dict[str, float],
                arm_amp: float, twist: float) -> dict[str, np.ndarray]:
    """Arms swinging opposite to the legs, thorax counter-rotating against the pelvis."""
    ch = {k: np.full(len(t), v) for k, v in rest.items()}
    ch["r_shoulder_flexion"] = ch["r_shoulder_flexion"] - arm_amp * np.cos(ph)
    ch["l_shoulder_flexion"] = ch["l_shoulder_flexion"] + arm_amp * np.cos(ph)
    ch["r_elbow_flexion"] = ch["r_elbow_flexion"] + 0.4 * arm_amp * (1 - np.cos(ph)) / 2
    ch["l_elbow_flexion"] = ch["l_elbow_flexion"] + 0.4 * arm_amp * (1 + np.cos(ph)) / 2
    ch["torso_twist"] = ch["torso_twist"] - twist * np.cos(ph)
    for name, amp in (("neck_twist", 10.0), ("neck_flexion", 4.0), ("torso_lateral", 2.0)):
        ch[name] = ch[name] + _sway(rng, t, amp)
    return ch


def _walking(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Walking round a circle (either way), at 0.9–1.35 m/s scaled by height."""
    scale = body.height_mm / 1750.0
    radius = float(np.clip(rng.uniform(0.45, 0.85) * area, min(250.0, 0.8 * area), area - 60.0))
    speed = rng.uniform(900.0, 1300.0) * np.sqrt(scale)
    speed = min(speed, np.sqrt(1500.0 * radius))  # lateral acceleration ≤ 1.5 m/s²
    step = body.height_mm * (0.22 + 0.12 * speed / 1000.0)
    step = min(step, 0.6 * radius)  # ≤ ~35° of turn per step on a tight circle
    speed = min(speed, 2 * step / 0.9)  # … and slower: at most 133 steps a minute
    period = 2 * step / speed
    direction = rng.choice([-1.0, 1.0])
    theta0 = rng.uniform(0, 2 * np.pi)

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ang = theta0 + direction * speed * tt / radius
        xy = radius * np.stack([np.cos(ang), np.sin(ang)], -1)
        return xy, np.degrees(ang) + direction * 90.0 - 90.0

    return _gait_plan(body, t, rng, path, period, step, stance=0.6,
                      lateral=body.rest_offsets[2, 0] * rng.uniform(0.7, 0.9),
                      heel_max=rng.uniform(32, 45), clearance=rng.uniform(35, 60),
                      knee=rng.uniform(4, 10), tilt=rng.uniform(4, 9), sway=rng.uniform(15, 30),
                      pelvis_rot=rng.uniform(3, 7), arm_amp=rng.uniform(10, 25))


def _turning(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Stepping on the spot while turning one way and the other (and drifting a little)."""
    period = rng.uniform(0.9, 1.3)
    w_max = min(rng.uniform(40, 80), 70.0 / period)  # ≤ 35° per step
    w_const = rng.uniform(-20, 20)
    p_turn, p_drift = rng.uniform(4, 8), rng.uniform(6, 12)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
    psi = rng.uniform(-180, 180)
    drift = min(rng.uniform(0, 150), 0.3 * area)

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        heading = (psi + w_const * tt
                   - w_max * p_turn / (2 * np.pi) * np.cos(2 * np.pi * tt / p_turn + ph1))
        a = 2 * np.pi * tt / p_drift + ph2
        return drift * np.stack([np.sin(a), np.cos(a)], -1), heading

    return _gait_plan(body, t, rng, path, period, 60.0, stance=0.65,
                      lateral=body.rest_offsets[2, 0] * rng.uniform(0.8, 1.0),
                      heel_max=rng.uniform(0, 10), clearance=rng.uniform(30, 55),
                      knee=rng.uniform(8, 16), tilt=rng.uniform(0, 4), sway=rng.uniform(10, 20),
                      pelvis_rot=rng.uniform(0, 3), arm_amp=rng.uniform(3, 8))


def _gait_plan(body: BodyShape, t: np.ndarray, rng: np.random.Generator, path: Callable,
               period: float, step: float, *, stance: float, lateral: float, heel_max: float,
               clearance: float, knee: float, tilt: float, sway: float, pelvis_rot: float,
               arm_amp: float) -> _Plan:
    phase = rng.uniform(0, period)
    feet, swing = _gait_feet(body, t, path, period, phase, stance=stance, lateral=lateral,
                             heel_max=heel_max, clearance=clearance)
    xy, heading = path(t)
    ph = 2 * np.pi * (t - phase) / period
    f = _forward(heading)
    right = np.stack([f[:, 1], -f[:, 0]], -1)
    root_xy = xy + (sway * np.sin(ph))[:, None] * right  # the pelvis sways over the stance foot
    yaw = heading + pelvis_rot * np.cos(ph)  # the leading leg's hip comes forward
    # height: as high as the feet allow with the knees bent at least ``knee`` degrees on the
    # ground (the pelvis vaults over the stance leg), rising to 30° mid-swing
    lst = -rng.uniform(1.5, 4.0) * np.sin(ph)
    knee_min = knee + (30.0 - knee) * np.sin(np.pi * swing) ** 2
    ceiling = _pelvis_ceiling(body, root_xy, yaw, tilt, lst, feet, knee_min)
    fps = 1.0 / (t[1] - t[0])
    z = _under(ceiling, round(0.02 * fps))
    root = np.concatenate([root_xy, z[:, None]], -1)
    rest = _rest_channels(rng)
    ch = _gait_upper(rng, t, ph, rest, arm_amp, 0.8 * pelvis_rot)
    ch["pelvis_list"] = lst
    # the pelvis tilts forward a little; the trunk leans forward less than that
    ch["pelvis_tilt"] = np.full(len(t), tilt)
    ch["torso_flexion"] = ch["torso_flexion"] - tilt + rng.uniform(0, 5) * step / 700.0
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return _Plan(root=root, yaw=yaw, angles=angles, feet=feet)


# -------------------------------------------------------------------- standing actions


def _timeline_start(rng: np.random.Generator) -> float:
    return -rng.uniform(0.0, 2.0)  # sequences start at different points of their cycle


def _waving(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Raising one or both arms and waving the forearm, then lowering them again."""
    rest = _rest_channels(rng)
    keys = _Keys(_timeline_start(rng), rest)
    episodes = []  # (start, end, sides, amplitude, frequency)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.6, 2.0))
        sides = [("r",), ("l",), ("r", "l")][rng.choice(3, p=[0.5, 0.3, 0.2])]
        raised: dict[str, float] = {}
        for s in sides:
            raised |= _arm(s, shoulder_abduction=_u(rng, 70, 150), shoulder_flexion=_u(rng, -10, 40),
                           shoulder_rotation=_u(rng, -80, -45), elbow_flexion=_u(rng, 60, 100))
        toward = 1.0 if sides == ("l",) else -1.0 if sides == ("r",) else 0.0
        keys.add(rng.uniform(0.6, 1.0), **raised, neck_twist=toward * _u(rng, 0, 30),
                 torso_lateral=toward * _u(rng, 0, 8), neck_flexion=_u(rng, -10, 5))
        start = keys.t
        keys.add(rng.uniform(1.5, 4.0))
        episodes.append((start, keys.t, sides, _u(rng, 15, 30), _u(rng, 1.5, 2.5)))
        keys.add(rng.uniform(0.6, 1.0), **{k: rest[k] for k in raised},
                 neck_twist=0.0, torso_lateral=0.0, neck_flexion=rest["neck_flexion"])
    ch = keys.sample(t)
    _add_idle(rng, t, ch)
    for start, end, sides, amp, freq in episodes:
        window = _ss((t - start) / 0.3) * _ss((end - t) / 0.3)
        osc = amp * window * np.sin(2 * np.pi * freq * (t - start))
        for s in sides:
            ch[f"{s}_elbow_flexion"] = ch[f"{s}_elbow_flexion"] + osc
            ch[f"{s}_shoulder_rotation"] = ch[f"{s}_shoulder_rotation"] + 0.2 * osc
    return _standing_plan(body, t, rng.uniform(-180, 180), _stance(body, rng), ch,
                          rng.uniform(2, 8))


def _reaching(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Reaching for things low, high, ahead and to the side, leaning and rising on the toes."""
    rest = _rest_channels(rng)
    keys = _Keys(_timeline_start(rng), rest)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.3, 1.5))
        sides = [("r",), ("l",), ("r", "l")][rng.choice(3, p=[0.45, 0.35, 0.2])]
        flex = _u(rng, 30, 165)
        target: dict[str, float] = {}
        for s in sides:
            abd = _u(rng, -20, 60)
            abd = float(np.clip(abd, -np.sqrt(175**2 - flex**2), np.sqrt(175**2 - flex**2)))
            target |= _arm(s, shoulder_flexion=flex + _u(rng, -5, 5), shoulder_abduction=abd,
                           elbow_flexion=_u(rng, 0, 35), shoulder_rotation=_u(rng, -30, 40))
        toward = 1.0 if sides == ("l",) else -1.0 if sides == ("r",) else 0.0
        body_moves = {"torso_twist": toward * _u(rng, 0, 25),
                      "oy": _u(rng, 0, 80), "ox": -toward * _u(rng, 0, 50)}
        if flex < 70:  # low: lean forward, bend the knees, look down
            body_moves |= {"torso_flexion": _u(rng, 15, 40), "drop": _u(rng, 50, 250),
                           "neck_flexion": _u(rng, 15, 35), "pelvis_tilt": _u(rng, 5, 25)}
        elif flex > 130:  # high: upright, look up, rise on the toes
            heel = _u(rng, 0, 30) if rng.random() < 0.5 else 0.0
            body_moves |= {"torso_flexion": _u(rng, -15, 0), "neck_flexion": _u(rng, -35, -10),
                           "heel_r": heel, "heel_l": heel}
        else:
            body_moves |= {"torso_flexion": _u(rng, 0, 15), "neck_flexion": _u(rng, -5, 15)}
        keys.add(rng.uniform(0.6, 1.2), **target, **body_moves)
        keys.add(rng.uniform(0.3, 1.0))
        keys.add(rng.uniform(0.6, 1.2), **{k: rest[k] for k in (*target, *body_moves)})
    ch = keys.sample(t)
    _add_idle(rng, t, ch)
    return _standing_plan(body, t, rng.uniform(-180, 180), _stance(body, rng), ch,
                          rng.uniform(2, 8))


def _picking_up(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Bending down (from the hips or squatting) to pick something up, carrying it, putting it
    down on a table-high surface and letting go."""
    rest = _rest_channels(rng)
    keys = _Keys(_timeline_start(rng), rest)
    h = body.height_mm
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.4, 1.5))
        squat = _u(rng, 0, 1)  # 0 stoop from the hips, 1 squat
        tilt = 65 - 40 * squat + _u(rng, -5, 5)
        trunk = _u(rng, 15, 35)
        one_hand = rng.random() < 0.3
        arms = {}
        for s in "rl":
            arms |= _arm(s, shoulder_flexion=float(np.clip(tilt + trunk - _u(rng, 0, 25), 50, 110)),
                         shoulder_abduction=_u(rng, 0, 15), elbow_flexion=_u(rng, 5, 30),
                         shoulder_rotation=_u(rng, 0, 30))
        if one_hand:
            arms |= _arm(rng.choice(["r", "l"]), shoulder_flexion=_u(rng, 30, 60),
                         elbow_flexion=_u(rng, 30, 60))
        keys.add(rng.uniform(1.0, 1.6), pelvis_tilt=tilt, torso_flexion=trunk,
                 drop=(0.05 + 0.17 * squat) * h * _u(rng, 0.9, 1.1),
                 oy=-(60 + 90 * squat) * _u(rng, 0.8, 1.2), neck_flexion=_u(rng, 10, 35), **arms)
        keys.add(rng.uniform(0.3, 0.8))
        carry = {}
        for s in "rl":
            carry |= _arm(s, shoulder_flexion=_u(rng, 15, 45), shoulder_abduction=_u(rng, 5, 20),
                          elbow_flexion=_u(rng, 70, 110), shoulder_rotation=_u(rng, 10, 40))
        keys.add(rng.uniform(1.0, 1.6), pelvis_tilt=_u(rng, 0, 8), torso_flexion=_u(rng, 0, 8),
                 drop=0.0, oy=0.0, neck_flexion=_u(rng, 0, 15), yaw=_u(rng, -20, 20), **carry)
        keys.add(rng.uniform(0.5, 1.5))
        put = {}
        for s in "rl":
            put |= _arm(s, shoulder_flexion=_u(rng, 40, 80), elbow_flexion=_u(rng, 10, 40))
        keys.add(rng.uniform(0.6, 1.0), torso_flexion=_u(rng, 5, 20), pelvis_tilt=_u(rng, 5, 20),
                 oy=_u(rng, 20, 70), neck_flexion=_u(rng, 10, 30), **put)
        keys.add(rng.uniform(0.2, 0.5))
        keys.add(rng.uniform(0.7, 1.2), **{k: rest[k] for k in (*carry, "torso_flexion",
                                                               "pelvis_tilt", "neck_flexion")},
                 oy=0.0, yaw=0.0)
    ch = keys.sample(t)
    _add_idle(rng, t, ch, scale=0.7)
    return _standing_plan(body, t, rng.uniform(-180, 180), _stance(body, rng), ch,
                          rng.uniform(2, 8))


def _squatting(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Repeated squats, feet wide and knees out; arms forward, on the hips or behind the head."""
    rest = _rest_channels(rng)
    rot = -_u(rng, 5, 20)  # external rotation of both thighs: the knees point out
    rest |= {"r_hip_rotation": rot, "l_hip_rotation": rot}
    style = rng.choice(["forward", "hips", "head"])
    held: dict[str, float] = {}
    for s in "rl":
        if style == "hips":
            held |= _arm(s, shoulder_flexion=_u(rng, -10, 0), shoulder_abduction=_u(rng, 30, 45),
                         elbow_flexion=_u(rng, 100, 130), shoulder_rotation=_u(rng, 40, 70))
        elif style == "head":
            held |= _arm(s, shoulder_flexion=_u(rng, 20, 40), shoulder_abduction=_u(rng, 100, 130),
                         elbow_flexion=_u(rng, 125, 145), shoulder_rotation=_u(rng, -80, -60))
    rest |= held
    keys = _Keys(_timeline_start(rng), rest)
    h = body.height_mm
    depth_mean = _u(rng, 0.14, 0.25)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.2, 1.2))
        arms = {}
        if style == "forward":
            for s in "rl":
                arms |= _arm(s, shoulder_flexion=_u(rng, 70, 95), elbow_flexion=_u(rng, 0, 20),
                             shoulder_abduction=_u(rng, 0, 10))
        depth = float(np.clip(depth_mean + rng.normal(0, 0.01), 0.12, 0.25)) * h
        keys.add(rng.uniform(0.8, 1.5), drop=depth, oy=-_u(rng, 0.04, 0.1) * h,
                 pelvis_tilt=_u(rng, 15, 35), torso_flexion=_u(rng, 5, 25),
                 neck_flexion=_u(rng, -10, 10), **arms)
        keys.add(rng.uniform(0.0, 0.5))
        keys.add(rng.uniform(0.8, 1.5), **{k: rest[k] for k in (*arms, "drop", "oy", "pelvis_tilt",
                                                               "torso_flexion", "neck_flexion")})
    ch = keys.sample(t)
    _add_idle(rng, t, ch, scale=0.5)
    return _standing_plan(body, t, rng.uniform(-180, 180), _stance(body, rng, (1.0, 1.35), 20.0),
                          ch, rng.uniform(2, 8))


def _sitting_down(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Sitting down on an (invisible) chair behind, sitting a while, standing up again."""
    h = body.height_mm
    thigh = body.bone_length("RKnee")
    seat = _u(rng, 0.24, 0.29) * h
    z_seated = seat + 0.05 * h  # the hip joints sit ~0.05 H above the seat
    back = _u(rng, 0.8, 0.95) * thigh
    z_top = body.ankle_height_mm + float(body.leg_reach(5.0)) + 20.0  # above standing height
    z_mid = z_seated + 0.4 * (z_top - z_seated)
    rest = _rest_channels(rng) | {"z_abs": z_top}
    keys = _Keys(_timeline_start(rng), rest)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.8, 2.0))
        down = rng.uniform(1.2, 2.0)
        keys.add(0.5 * down, oy=-0.45 * back, z_abs=z_mid, pelvis_tilt=_u(rng, 15, 30),
                 torso_flexion=_u(rng, 25, 45),
                 **{f"{s}_shoulder_flexion": _u(rng, 15, 45) for s in "rl"})
        seated: dict[str, float] = {}
        for s in "rl":
            seated |= _arm(s, shoulder_flexion=_u(rng, 20, 45), shoulder_abduction=_u(rng, 5, 20),
                           elbow_flexion=_u(rng, 50, 90), shoulder_rotation=_u(rng, 20, 50))
        keys.add(0.5 * down, oy=-back, z_abs=z_seated, pelvis_tilt=_u(rng, -15, 0),
                 torso_flexion=_u(rng, -5, 10), **seated)
        keys.add(rng.uniform(1.5, 4.0), torso_flexion=_u(rng, -5, 15), neck_flexion=_u(rng, 0, 20))
        up = rng.uniform(1.2, 2.0)
        keys.add(0.5 * up, oy=-0.5 * back, z_abs=z_mid, pelvis_tilt=_u(rng, 20, 35),
                 torso_flexion=_u(rng, 30, 45))
        keys.add(0.5 * up, **{k: rest[k] for k in (*seated, "oy", "pelvis_tilt", "torso_flexion",
                                                   "neck_flexion", "z_abs")})
    ch = keys.sample(t)
    _add_idle(rng, t, ch, scale=0.7)
    return _standing_plan(body, t, rng.uniform(-180, 180), _stance(body, rng), ch,
                          rng.uniform(2, 8))


def _boxing(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Shadow boxing: a staggered stance, hands up in guard, bouncing; jabs, crosses, hooks and
    uppercuts with the torso turning into each punch."""
    h = body.height_mm
    lead = "l" if rng.random() < 0.7 else "r"  # orthodox: the left foot and hand lead
    rear = "r" if lead == "l" else "l"
    half = body.rest_offsets[2, 0]
    split = _u(rng, 0.14, 0.2) * h
    lat = half * _u(rng, 0.85, 1.15)
    y_right = -split / 2 if lead == "l" else split / 2
    feet_local = np.array([[lat, y_right], [-lat, -y_right]])
    rest = _rest_channels(rng)
    for s in "rl":
        rest |= _arm(s, shoulder_flexion=_u(rng, 25, 45), shoulder_abduction=_u(rng, 10, 30),
                     shoulder_rotation=_u(rng, 20, 50), elbow_flexion=_u(rng, 115, 140))
    drop = _u(rng, 40, 100) * h / 1750.0
    rest |= {"drop": drop, "torso_flexion": _u(rng, 5, 20), "neck_flexion": _u(rng, 5, 20),
             "yaw": (-1.0 if lead == "l" else 1.0) * _u(rng, 15, 30)}
    keys = _Keys(_timeline_start(rng), rest)
    while keys.t < t[-1]:
        keys.add(rng.uniform(0.15, 0.9))
        kind = rng.choice(["jab", "cross", "hook", "uppercut"], p=[0.35, 0.3, 0.2, 0.15])
        arm = lead if kind == "jab" else rear if kind == "cross" else str(rng.choice([lead, rear]))
        turn = 1.0 if arm == "r" else -1.0  # a right-hand punch turns the torso to the left
        if kind in ("jab", "cross"):
            pose = _arm(arm, shoulder_flexion=_u(rng, 75, 95), shoulder_abduction=_u(rng, 0, 15),
                        shoulder_rotation=_u(rng, 20, 60), elbow_flexion=_u(rng, 0, 15))
            twist = turn * (_u(rng, 3, 10) if kind == "jab" else _u(rng, 20, 35))
        elif kind == "hook":
            pose = _arm(arm, shoulder_flexion=_u(rng, 70, 90), shoulder_abduction=_u(rng, 55, 80),
                        shoulder_rotation=_u(rng, 40, 70), elbow_flexion=_u(rng, 80, 100))
            twist = turn * _u(rng, 20, 35)
        else:
            pose = _arm(arm, shoulder_flexion=_u(rng, 40, 70), shoulder_abduction=_u(rng, 0, 20),
                        shoulder_rotation=_u(rng, -10, 20), elbow_flexion=_u(rng, 80, 110))
            twist = turn * _u(rng, 10, 20)
        keys.add(rng.uniform(0.12, 0.2), **pose, torso_twist=twist, oy=_u(rng, 0, 50))
        keys.add(rng.uniform(0.0, 0.05))
        keys.add(rng.uniform(0.18, 0.3), **{k: rest[k] for k in pose}, torso_twist=0.0, oy=0.0)
    ch = keys.sample(t)
    _add_idle(rng, t, ch, scale=0.5)
    ch["drop"] = ch["drop"] + min(_u(rng, 5, 20), drop - 5) * np.sin(
        2 * np.pi * _u(rng, 1.5, 2.5) * t + _u(rng, 0, 6.3))
    ch["torso_lateral"] = ch["torso_lateral"] + _sway(rng, t, 8.0, 0.3, 0.8)
    return _standing_plan(body, t, rng.uniform(-180, 180), feet_local, ch, rng.uniform(2, 8))


def _jumping(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> _Plan:
    """Counter-movement jumps, in place or hopping forwards, back or sideways: crouch with the
    arms back, push off rolling onto the toes, a ballistic flight, land on the toes and absorb."""
    scale = body.height_mm / 1750.0
    n = len(t)
    feet_local = _stance(body, rng, (0.8, 1.1), 20.0)
    hips_local = np.array([[1.0, 0.0], [-1.0, 0.0]]) * body.rest_offsets[2, 0]
    ankle_h = float(body.ankle_height_mm)
    fwd_axis = np.array([0.0, 1.0])  # body-frame forward, for the heel roll

    def pelvis_height(pelvis_xy: np.ndarray, ankles: np.ndarray, knee: float) -> float:
        horiz = np.linalg.norm(ankles[:, :2] - (pelvis_xy + hips_local), axis=-1)
        reach = np.array([body.leg_reach(knee, s) for s in "rl"])
        return float((ankles[:, 2] + np.sqrt(np.maximum(reach**2 - horiz**2, 0.0))).min())

    def flat(spot: np.ndarray) -> np.ndarray:
        return np.concatenate([spot + feet_local, np.full((2, 1), ankle_h)], -1)

    knee0 = _u(rng, 2, 8)
    z_s = pelvis_height(np.zeros(2), flat(np.zeros(2)), knee0)
    rest = _rest_channels(rng)
    start = _timeline_start(rng)
    keys = _Keys(start, rest)
    knots = [(start, z_s, 0.0)]
    pel_xy, spot_xy = np.zeros((n, 2)), np.zeros((n, 2))
    heel = np.zeros(n)
    flight_leg = np.full((n, 2, 3), np.nan)  # ankle − pelvis while airborne
    spot = np.zeros(2)
    bound = min(500.0, 0.4 * area)
    while knots[-1][0] < t[-1]:
        t0 = knots[-1][0] + rng.uniform(0.4, 1.5)
        depth = _u(rng, 150, 300) * scale
        apex = _u(rng, 80, 300) * scale
        v0 = np.sqrt(2 * _G_MM_S2 * apex)
        t_down, t_flight = _u(rng, 0.35, 0.5), 2 * v0 / _G_MM_S2
        theta = _u(rng, 25, 40)  # heel lift at take-off and touch-down
        k_to, depth_l = _u(rng, 3, 10), _u(rng, 0.5, 1.0) * depth
        # where to
        d = np.zeros(2)
        if rng.random() > 0.35:
            ang = np.radians(rng.choice([0.0, 180.0, 90.0, -90.0], p=[0.6, 0.2, 0.1, 0.1])
                             + rng.normal(0, 15))
            d = _u(rng, 100, 500) * scale * np.array([-np.sin(ang), np.cos(ang)])
            if np.linalg.norm(spot + d) > bound:
                d = -d if np.linalg.norm(spot - d) <= bound else np.zeros(2)
        # take-off geometry → take-off height; push and landing short enough to be monotone
        t_push, t_land = _u(rng, 0.2, 0.3), _u(rng, 0.2, 0.3)
        lead = 0.5 * t_push / (0.5 * t_push + t_flight + 0.5 * t_land)
        ankles_to = _roll(body, flat(spot), fwd_axis, np.full(2, theta))
        z_to = pelvis_height(spot + lead * d, ankles_to, k_to)
        t_push = min(t_push, 2.8 * (z_to - (z_s - depth)) / v0)
        t_land = min(t_land, 2.8 * (z_to - (z_s - depth_l)) / v0)
        t1 = t0 + t_down
        t2 = t1 + t_push
        t3 = t2 + t_flight
        t4 = t3 + t_land
        t5 = t4 + _u(rng, 0.4, 0.7)
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
        heel += np.where(push, theta * _ss((t - t1) / t_push), 0.0)
        heel += np.where(t >= t3, theta * (1 - _ss((t - t3) / (0.6 * t_land))), 0.0)
        p2 = np.append(spot + lead * d, z_to)
        p3 = np.append(spot + d - (0.5 * t_land) * vel, z_to)
        leg_to = ankles_to - p2
        leg_ld = _roll(body, flat(spot + d), fwd_axis, np.full(2, theta)) - p3
        air = (t >= t2) & (t < t3)
        s = (t[air] - t2) / t_flight
        tuck = _u(rng, 30, 150) * scale * np.sin(np.pi * s) ** 2
        flight_leg[air] = leg_to + (leg_ld - leg_to) * _ss(s)[:, None, None]
        flight_leg[air, :, 2] += tuck[:, None]
        # the upper body: lean and swing the arms back, up, forward, then settle
        arms_back = {f"{s}_shoulder_flexion": -_u(rng, 15, 35) for s in "rl"}
        arms_up = {f"{s}_shoulder_flexion": _u(rng, 50, 90) for s in "rl"}
        arms_land = {f"{s}_shoulder_flexion": _u(rng, 20, 50) for s in "rl"}
        keys.add(t0 - keys.t)
        keys.add(t1 - 0.15 - keys.t, **arms_back, pelvis_tilt=_u(rng, 15, 30),
                 torso_flexion=_u(rng, 5, 15), neck_flexion=_u(rng, -10, 5))
        keys.add(t2 + 0.05 - keys.t, **arms_up, pelvis_tilt=_u(rng, 0, 8),
                 torso_flexion=_u(rng, 0, 5))
        keys.add(t4 - keys.t, **arms_land, pelvis_tilt=_u(rng, 10, 25),
                 torso_flexion=_u(rng, 5, 15), r_elbow_flexion=_u(rng, 20, 40),
                 l_elbow_flexion=_u(rng, 20, 40))
        keys.add(t5 - keys.t, **{k: rest[k] for k in (*arms_land, "pelvis_tilt", "torso_flexion",
                                                     "neck_flexion", "r_elbow_flexion",
                                                     "l_elbow_flexion")})
        spot = spot + d
    z = _hermite(t, knots)
    ch = keys.sample(t)
    _add_idle(rng, t, ch, scale=0.4)
    ch["ox"], ch["oy"] = np.zeros(n), np.zeros(n)  # the pelvis path is pel_xy
    ground = _roll(body, np.concatenate([spot_xy[:, None] + feet_local,
                                         np.full((n, 2, 1), ankle_h)], -1),
                   np.broadcast_to(fwd_axis, (n, 2, 2)), np.repeat(heel[:, None], 2, 1))
    pelvis = np.concatenate([pel_xy, z[:, None]], -1)
    feet = np.where(np.isnan(flight_leg), ground, pelvis[:, None] + flight_leg)
    psi = rng.uniform(-180, 180)
    root = np.concatenate([_rot2(pel_xy, psi), z[:, None]], -1)
    feet = np.concatenate([_rot2(feet[..., :2], psi), feet[..., 2:]], -1)
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return _Plan(root=root, yaw=np.full(n, psi), angles=angles, feet=feet)


_GENERATORS: dict[str, Callable[[BodyShape, np.ndarray, np.random.Generator, float], _Plan]] = {
    "Walking": _walking, "Turning": _turning, "SittingDown": _sitting_down,
    "Squatting": _squatting, "Waving": _waving, "Reaching": _reaching,
    "PickingUp": _picking_up, "Boxing": _boxing, "Jumping": _jumping,
}  # fmt: skip
assert set(_GENERATORS) == set(ACTIONS)


# ------------------------------------------------------------------------------- public


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        close = difflib.get_close_matches(str(action), ACTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown action {action!r}{hint} Actions: {list(ACTIONS)}")


def generate_sequence_and_angles(
    body: BodyShape,
    action: str,
    num_frames: int,
    rng: np.random.Generator,
    *,
    fps: float = 50.0,
    area_center: Any = (0.0, 0.0),
    area_radius_mm: float = 1500.0,
    sequence_id: str | None = None,
) -> tuple[MotionSequence, dict[str, np.ndarray]]:
    """:func:`generate_sequence`, plus the joint angles (name → (N,) degrees) the action asked
    for before clipping to :data:`~.body.ANGLE_LIMITS_DEG` (the tests check that clipping never
    has anything to do)."""
    _check_action(action)
    if int(num_frames) != num_frames or num_frames < 2:
        raise InputError(f"num_frames must be an integer ≥ 2, got {num_frames}")
    if not fps > 0 or not area_radius_mm > 0:
        raise InputError(f"fps and area_radius_mm must be > 0, got {fps} and {area_radius_mm}")
    center = np.asarray(area_center, dtype=np.float64)
    check_shape(center, [2], "area_center")
    t = np.arange(int(num_frames)) / float(fps)
    plan = _GENERATORS[action](body, t, rng, float(area_radius_mm))
    # put the sequence at a random place where the pelvis stays inside the area
    xy = plan.root[:, :2]
    mid = (xy.min(0) + xy.max(0)) / 2
    room = float(area_radius_mm) - float(np.linalg.norm(xy - mid, axis=-1).max())
    ang, rad = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform()) * max(room, 0.0)
    shift = center + rad * np.array([np.cos(ang), np.sin(ang)]) - mid
    root, feet = plan.root.copy(), plan.feet.copy()
    root[:, :2] += shift
    feet[..., :2] += shift
    angles = dict(plan.angles)
    angles |= solve_leg_ik(
        body, root, plan.yaw, feet,
        pelvis_tilt=angles.get("pelvis_tilt", 0.0), pelvis_list=angles.get("pelvis_list", 0.0),
        hip_rotation=(angles.get("r_hip_rotation", 0.0), angles.get("l_hip_rotation", 0.0)),
    )  # fmt: skip
    angles = {k: np.broadcast_to(np.asarray(v, np.float64), (len(t),)) for k, v in angles.items()}
    poses = forward_kinematics(body, clip_to_limits(angles), root, plan.yaw)
    # ground: the lowest ankle where the plan puts the lowest foot (on the floor unless airborne)
    poses[..., 2] += (feet[..., 2].min(1) - poses[:, [0, 5], 2].min(1))[:, None]
    seq = MotionSequence(
        subject=body.name, action=action, fps=float(fps), poses=poses,
        sequence=sequence_id if sequence_id is not None else f"{body.name}/{action}/000",
    )  # fmt: skip
    return seq, angles


def generate_sequence(
    body: BodyShape,
    action: str,
    num_frames: int,
    rng: np.random.Generator,
    *,
    fps: float = 50.0,
    area_center: Any = (0.0, 0.0),
    area_radius_mm: float = 1500.0,
    sequence_id: str | None = None,
) -> MotionSequence:
    """One procedural sequence of ``action`` performed by ``body``.

    Args:
        body: the subject (e.g. ``SUBJECTS["S1"]``).
        action: one of :data:`ACTIONS`.
        num_frames: N ≥ 2.
        rng: all randomness (speed, amplitudes, timing, facing, place) comes from it.
        fps: frames per second.
        area_center: (2,) world mm centre of the capture area on the floor.
        area_radius_mm: the pelvis stays within this distance of ``area_center`` (when the
            action's own extent fits; otherwise the sequence is centred on it).
        sequence_id: defaults to ``"{subject}/{action}/000"``.

    Returns:
        A :class:`MotionSequence` with (N, 17, 3) float64 world mm poses, Z up, floor z = 0.
    """
    return generate_sequence_and_angles(
        body, action, num_frames, rng, fps=fps, area_center=area_center,
        area_radius_mm=area_radius_mm, sequence_id=sequence_id,
    )[0]  # fmt: skip


def sequence_rng(seed: int, subject: str, action: str, index: int) -> np.random.Generator:
    """The generator of one sequence of :func:`generate_motion_set`: a function of the seed and
    the sequence's own names only, so adding subjects or actions changes no other sequence."""
    key = [int(seed), zlib.crc32(subject.encode()), zlib.crc32(action.encode()), int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


def generate_motion_set(
    subjects: Iterable[str | BodyShape],
    actions: Iterable[str] | None,
    sequences_per_action: int,
    frames_per_sequence: int,
    seed: int,
    **kw: Any,
) -> list[MotionSequence]:
    """Every (subject, action, index) sequence, ids ``"{subject}/{action}/{index:03d}"``.

    Args:
        subjects: names in :data:`~.body.SUBJECTS` or :class:`~.body.BodyShape` objects.
        actions: names in :data:`ACTIONS`; ``None`` for all.
        sequences_per_action: sequences per subject and action.
        frames_per_sequence: N of each sequence.
        seed: a non-negative integer; see :func:`sequence_rng`.
        **kw: passed to :func:`generate_sequence` (``fps``, ``area_center``, ``area_radius_mm``).
    """
    if int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    bodies = []
    for s in subjects:
        if isinstance(s, BodyShape):
            bodies.append(s)
        elif s in SUBJECTS:
            bodies.append(SUBJECTS[s])
        else:
            close = difflib.get_close_matches(str(s), SUBJECTS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown subject {s!r}{hint} Subjects: {list(SUBJECTS)}")
    actions = ACTIONS if actions is None else tuple(actions)
    for a in actions:
        _check_action(a)
    out = []
    for body in bodies:
        for action in actions:
            for k in range(int(sequences_per_action)):
                out.append(generate_sequence(
                    body, action, frames_per_sequence, sequence_rng(seed, body.name, action, k),
                    sequence_id=f"{body.name}/{action}/{k:03d}", **kw,
                ))  # fmt: skip
    return out


def joint_angles_deg(poses: Any) -> dict[str, np.ndarray]:
    """Angles measured from (..., 17, 3) joint positions (Z up), degrees, each (...,):

    - ``{r,l}_knee_flexion``, ``{r,l}_elbow_flexion``: 180° minus the inner angle (0 straight).
    - ``{r,l}_hip_flexion`` / ``_abduction``: the thigh in the trunk frame (x from the left to
      the right hip, z along Pelvis→Spine), forwards / outwards.
    - ``{r,l}_shoulder_elevation``: upper arm against Thorax→Spine (0 hanging, 180 overhead).
    - ``trunk_inclination``: Pelvis→Thorax from the vertical, positive forwards.
    - ``trunk_twist``: the shoulder line against the hip line seen from above, positive
      counter-clockwise.
    """
    p = np.asarray(poses, dtype=np.float64)
    check_shape(p, ["*", 17, 3], "poses")

    def vec(a: int, b: int) -> np.ndarray:
        return p[..., b, :] - p[..., a, :]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    def between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        cos = (unit(u) * unit(v)).sum(-1)
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    out = {
        "r_knee_flexion": between(vec(2, 1), vec(1, 0)),
        "l_knee_flexion": between(vec(3, 4), vec(4, 5)),
        "r_elbow_flexion": between(vec(12, 11), vec(11, 10)),
        "l_elbow_flexion": between(vec(13, 14), vec(14, 15)),
    }
    x = unit(vec(3, 2))
    z = vec(6, 7)
    z = unit(z - (z * x).sum(-1, keepdims=True) * x)
    y = np.cross(z, x)
    for side, hip, knee, sign in (("r", 2, 1, 1.0), ("l", 3, 4, -1.0)):
        th = unit(vec(hip, knee))
        out[f"{side}_hip_flexion"] = np.degrees(np.arctan2((th * y).sum(-1), -(th * z).sum(-1)))
        out[f"{side}_hip_abduction"] = np.degrees(np.arcsin(np.clip(sign * (th * x).sum(-1), -1, 1)))
    out["r_shoulder_elevation"] = between(vec(8, 7), vec(12, 11))
    out["l_shoulder_elevation"] = between(vec(8, 7), vec(13, 14))
    up = np.array([0.0, 0.0, 1.0])
    facing = unit(np.cross(up, x))
    trunk = vec(6, 8)
    out["trunk_inclination"] = np.degrees(np.arctan2((trunk * facing).sum(-1), trunk[..., 2]))
    hips, shoulders = vec(3, 2), vec(13, 12)
    cross = hips[..., 0] * shoulders[..., 1] - hips[..., 1] * shoulders[..., 0]
    dot = hips[..., 0] * shoulders[..., 0] + hips[..., 1] * shoulders[..., 1]
    out["trunk_twist"] = np.degrees(np.arctan2(cross, dot))
    return out
