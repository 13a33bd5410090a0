"""The plan machinery shared by every action: easing, sway, keyframes, foot roll, gait.

An action generator returns a :class:`Plan`: what it wants of the pelvis (position, yaw), of
every angle but the legs' (hip flexion/abduction and knee flexion, which
:func:`~poseboard.datasets.synthetic.body.solve_leg_ik` solves) and of both ankles. The helpers
here build plans from keyframed channels (:class:`Keys`, :func:`standing_plan`,
:func:`planted_plan`) or from a footstep planner along a path (:func:`gait_plan`); at floor
level, :func:`rest_on_floor` keeps the body's surface out of the floor, and :func:`blend_plans`
changes from one plan to another (the feet stepping across).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from poseboard.datasets.synthetic.body import (
    ANGLE_NAMES,
    BodyShape,
    clip_to_limits,
    forward_kinematics,
    root_rotation,
    solve_leg_ik,
)
from poseboard.skeleton import H36M17

#: The signature of an action generator: (body, times (N,) s, rng, area radius mm) → plan.
Generator = Callable[[BodyShape, np.ndarray, np.random.Generator, float], "Plan"]


def ease(u: np.ndarray) -> np.ndarray:
    """Raised-cosine ease 0 → 1 on [0, 1], flat outside (zero slope at both ends)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(u, 0.0, 1.0))


def slow_sway(rng: np.random.Generator, t: np.ndarray, amp: float, fmin: float = 0.08,
              fmax: float = 0.5, k: int = 3) -> np.ndarray:
    """A sum of ``k`` slow sinusoids; |value| ≤ ``amp`` by construction."""
    f = rng.uniform(fmin, fmax, k)
    phase = rng.uniform(0, 2 * np.pi, k)
    w = rng.dirichlet(np.ones(k))
    return amp * (w[:, None] * np.sin(2 * np.pi * f[:, None] * t + phase[:, None])).sum(0)


def rot2(xy: np.ndarray, yaw_deg: Any) -> np.ndarray:
    """Rotate (..., 2) body-frame vectors (x right, y forward) by yaw (degrees, CCW)."""
    y = np.radians(yaw_deg)
    c, s = np.cos(y), np.sin(y)
    return np.stack([xy[..., 0] * c - xy[..., 1] * s, xy[..., 0] * s + xy[..., 1] * c], -1)


def forward_xy(yaw_deg: Any) -> np.ndarray:
    y = np.radians(yaw_deg)
    return np.stack([-np.sin(y), np.cos(y)], -1)


def softmin(a: np.ndarray, b: np.ndarray, k: float = 8.0) -> np.ndarray:
    """Smooth minimum (≤ min(a, b), within k·ln 2 of it)."""
    return -k * np.logaddexp(-a / k, -b / k)


def toe_lever(body: BodyShape) -> float:
    """Ankle → ball of the foot, horizontally (mm): the ball sits ~0.47 foot lengths ahead."""
    return 0.47 * float(body.foot_length_mm)


def roll_foot(body: BodyShape, flat: np.ndarray, fwd: np.ndarray, heel_deg: np.ndarray) -> np.ndarray:
    """Ankle position when the foot, flat with its ankle at ``flat`` (..., 3), lifts the heel by
    ``heel_deg`` rolling over the ball of the foot (which stays put)."""
    d, h = toe_lever(body), float(body.ankle_height_mm)
    th = np.radians(heel_deg)
    along = d - d * np.cos(th) + h * np.sin(th)
    up = d * np.sin(th) + h * np.cos(th) - h
    out = np.array(flat, dtype=np.float64, copy=True)
    out[..., :2] += fwd * along[..., None]
    out[..., 2] += up
    return out


class Keys:
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


def hermite(t: np.ndarray, knots: list[tuple[float, float, float]]) -> np.ndarray:
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
class Plan:
    """What an action wants, before the legs are solved (world mm, degrees)."""

    root: np.ndarray  # (N, 3) pelvis
    yaw: np.ndarray  # (N,)
    angles: dict[str, np.ndarray]  # every angle but hip flexion/abduction and knee flexion
    feet: np.ndarray  # (N, 2, 3) right and left ankle targets
    pitch: np.ndarray | None = None  # (N,) the whole body's pitch (lying, crawling); None: upright
    clearance: np.ndarray | None = None  # (17,) mm: no joint lower (floor-level actions); None: feet only
    legs_given: bool = False  # True: ``angles`` holds the legs' too (free motion), no inverse kinematics


def draw(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def rest_channels(rng: np.random.Generator) -> dict[str, float]:
    """Relaxed standing: arms hang a little out and bent, head and torso nearly upright."""
    ab, elbow, rot = draw(rng, 6, 12), draw(rng, 8, 20), draw(rng, 0, 20)
    return {
        "ox": 0.0, "oy": 0.0, "drop": 0.0, "z_abs": 1e4, "yaw": 0.0, "heel_r": 0.0, "heel_l": 0.0,
        "pelvis_tilt": draw(rng, 0, 6), "pelvis_list": 0.0,
        "r_hip_rotation": draw(rng, -5, 5), "l_hip_rotation": draw(rng, -5, 5),
        "torso_flexion": draw(rng, 0, 6), "torso_lateral": 0.0, "torso_twist": 0.0,
        "neck_flexion": draw(rng, 0, 10), "neck_lateral": 0.0, "neck_twist": 0.0,
        "r_shoulder_flexion": draw(rng, -4, 4), "r_shoulder_abduction": ab + draw(rng, -1, 1),
        "r_shoulder_rotation": rot, "r_elbow_flexion": elbow + draw(rng, -3, 3),
        "l_shoulder_flexion": draw(rng, -4, 4), "l_shoulder_abduction": ab + draw(rng, -1, 1),
        "l_shoulder_rotation": rot, "l_elbow_flexion": elbow + draw(rng, -3, 3),
    }  # fmt: skip


def add_idle(rng: np.random.Generator, t: np.ndarray, ch: dict[str, np.ndarray],
             scale: float = 1.0) -> None:
    """Small slow sway of weight, torso, head and arms on top of the keyframes."""
    for name, amp in (("ox", 15.0), ("oy", 10.0), ("torso_flexion", 2.0), ("torso_lateral", 2.0),
                      ("torso_twist", 3.0), ("neck_flexion", 5.0), ("neck_twist", 15.0),
                      ("neck_lateral", 3.0), ("r_shoulder_flexion", 3.0),
                      ("l_shoulder_flexion", 3.0)):  # fmt: skip
        ch[name] = ch[name] + slow_sway(rng, t, amp * scale)
    for name in ("r_elbow_flexion", "l_elbow_flexion"):  # only ever bends further: never < 0
        ch[name] = ch[name] + 2.0 * scale * (1.0 + slow_sway(rng, t, 1.0))


def standing_plan(body: BodyShape, t: np.ndarray, psi: float, feet_local: np.ndarray,
                  ch: dict[str, np.ndarray], knee_min_deg: float) -> Plan:
    """Feet planted at ``feet_local`` ((2, 2) body-frame xy, mm); the channels move the pelvis
    (``ox``/``oy`` in the body frame, ``yaw`` relative to ``psi``, ``drop`` below the highest
    height at which the knees still bend ``knee_min_deg``, or ``z_abs`` if lower), the heels
    (``heel_r``/``heel_l``, degrees) and every angle."""
    n = len(t)
    fwd = np.broadcast_to(forward_xy(psi), (n, 2))
    feet = np.empty((n, 2, 3))
    for i, heel in enumerate((ch["heel_r"], ch["heel_l"])):
        flat = np.zeros((n, 3))
        flat[:, :2] = rot2(feet_local[i], psi)
        flat[:, 2] = body.ankle_height_mm
        feet[:, i] = roll_foot(body, flat, fwd, heel)
    return planted_plan(body, psi, feet, ch, knee_min_deg)


def planted_plan(body: BodyShape, psi: float, feet: np.ndarray, ch: dict[str, np.ndarray],
                 knee_min_deg: Any) -> Plan:
    """:func:`standing_plan` with the ankle targets given: ``feet`` (N, 2, 3) world mm (a foot
    that moves must leave the floor to do so)."""
    root_xy = rot2(np.stack([ch["ox"], ch["oy"]], -1), psi)
    yaw = psi + ch["yaw"]
    pitch = ch.get("root_pitch")  # only the actions that lie or crawl have it
    z_stand = pelvis_ceiling(body, root_xy, yaw, ch["pelvis_tilt"], ch["pelvis_list"], feet,
                             knee_min_deg, pitch)
    root = np.concatenate([root_xy, softmin(z_stand - ch["drop"], ch["z_abs"])[:, None]], -1)
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return Plan(root=root, yaw=yaw, angles=angles, feet=feet, pitch=pitch)


def natural_stance(body: BodyShape, rng: np.random.Generator, width: tuple[float, float] = (0.8, 1.1),
                   stagger: float = 40.0) -> np.ndarray:
    """(2, 2) body-frame xy of the right and left ankle of a natural stance."""
    half = body.rest_offsets[2, 0]
    lat = half * rng.uniform(*width, 2)
    fy = rng.uniform(-stagger, stagger, 2)
    return np.array([[lat[0], fy[0]], [-lat[1], fy[1]]])


def arm_channels(side: str, **v: float) -> dict[str, float]:
    return {f"{side}_{k}": val for k, val in v.items()}


def other_side(side: str) -> str:
    """The other body side of ``"r"`` or ``"l"``."""
    return "l" if side == "r" else "r"


def gait_feet(body: BodyShape, t: np.ndarray, path: Callable, period: float, phase: float, *,
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
    d, h = toe_lever(body), float(body.ankle_height_mm)
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
            f = forward_xy(hd)
            right = np.stack([f[:, 1], -f[:, 0]], -1)
            flat = np.concatenate([xy + sign * lateral * right, np.full((len(t), 1), h)], -1)
            spots.append((flat, f))
        (p0, f0), (p1, _) = spots
        q = np.clip((u - lift_from) / (stance - lift_from), 0.0, 1.0)
        on_ground = roll_foot(body, p0, f0, heel_max * q**2)
        s = np.clip((u - stance) / (1.0 - stance), 0.0, 1.0)[:, None]
        a0 = roll_foot(body, p0, f0, np.full(len(t), heel_max))
        v0 = np.concatenate([f0 * v_along, np.full((len(t), 1), v_up)], -1)
        h00, h10, h01 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, 3 * s**2 - 2 * s**3
        swing = h00 * a0 + h10 * t_swing * v0 + h01 * p1
        swing[:, 2] += clearance * np.sin(np.pi * s[:, 0]) ** 2
        phase_of_swing[:, i] = s[:, 0]
        feet[:, i] = np.where((u < stance)[:, None], on_ground, swing)
    return feet, phase_of_swing


def under(c: np.ndarray, half_width: int) -> np.ndarray:
    """A smoothed curve that never exceeds ``c``: an erosion then a moving average, both over
    2w+1 samples (each output averages minima over windows that hold it)."""
    size = 2 * max(int(half_width), 1) + 1
    return uniform_filter1d(minimum_filter1d(c, size, mode="nearest"), size, mode="nearest")


def pelvis_ceiling(body: BodyShape, root_xy: np.ndarray, yaw: Any, tilt: Any, lst: Any,
                   feet: np.ndarray, knee_min: np.ndarray, pitch: Any = None) -> np.ndarray:
    """(N,) the highest pelvis at which each leg reaches its ankle target with the knee bent at
    least ``knee_min`` ((N, 2) or scalar degrees); ``pitch``: the body's, as in :class:`Plan`."""
    rot = root_rotation(yaw, tilt, lst, pitch)
    hip_off = np.stack([rot @ body.rest_offsets[j] for j in (2, 3)], 1)  # (N, 2, 3)
    horiz = np.linalg.norm(feet[..., :2] - root_xy[:, None] - hip_off[..., :2], axis=-1)
    knee_min = np.broadcast_to(knee_min, feet.shape[:2])
    reach = np.stack([body.leg_reach(knee_min[:, i], s) for i, s in enumerate("rl")], -1)
    return (feet[..., 2] + np.sqrt(np.maximum(reach**2 - horiz**2, 0.0)) - hip_off[..., 2]).min(1)


def gait_upper(rng: np.random.Generator, t: np.ndarray, ph: np.ndarray, rest: dict[str, float],
               arm_amp: float, twist: float) -> dict[str, np.ndarray]:
    """Arms swinging opposite to the legs, thorax counter-rotating against the pelvis."""
    ch = {k: np.full(len(t), v) for k, v in rest.items()}
    ch["r_shoulder_flexion"] = ch["r_shoulder_flexion"] - arm_amp * np.cos(ph)
    ch["l_shoulder_flexion"] = ch["l_shoulder_flexion"] + arm_amp * np.cos(ph)
    ch["r_elbow_flexion"] = ch["r_elbow_flexion"] + 0.4 * arm_amp * (1 - np.cos(ph)) / 2
    ch["l_elbow_flexion"] = ch["l_elbow_flexion"] + 0.4 * arm_amp * (1 + np.cos(ph)) / 2
    ch["torso_twist"] = ch["torso_twist"] - twist * np.cos(ph)
    for name, amp in (("neck_twist", 10.0), ("neck_flexion", 4.0), ("torso_lateral", 2.0)):
        ch[name] = ch[name] + slow_sway(rng, t, amp)
    return ch


def gait_plan(body: BodyShape, t: np.ndarray, rng: np.random.Generator, path: Callable,
              period: float, step: float, *, stance: float, lateral: float, heel_max: float,
              clearance: float, knee: float, tilt: float, sway: float, pelvis_rot: float,
              arm_amp: float, phase: float | None = None, tau: np.ndarray | None = None) -> Plan:
    """A gait along ``path`` (see :func:`gait_feet`): the pelvis sways over the stance foot and
    vaults over the stance leg, the arms swing against the legs. ``tau`` (N,), if given, is the
    gait's own clock at the frames (non-decreasing: where it stands still, so does the gait)."""
    if phase is None:
        phase = rng.uniform(0, period)
    tau = t if tau is None else tau
    feet, swing = gait_feet(body, tau, path, period, phase, stance=stance, lateral=lateral,
                            heel_max=heel_max, clearance=clearance)
    xy, heading = path(tau)
    ph = 2 * np.pi * (tau - phase) / period
    f = forward_xy(heading)
    right = np.stack([f[:, 1], -f[:, 0]], -1)
    root_xy = xy + (sway * np.sin(ph))[:, None] * right  # the pelvis sways over the stance foot
    yaw = heading + pelvis_rot * np.cos(ph)  # the leading leg's hip comes forward
    # height: as high as the feet allow with the knees bent at least ``knee`` degrees on the
    # ground (the pelvis vaults over the stance leg), rising to 30° mid-swing
    lst = -rng.uniform(1.5, 4.0) * np.sin(ph)
    knee_min = knee + (30.0 - knee) * np.sin(np.pi * swing) ** 2
    ceiling = pelvis_ceiling(body, root_xy, yaw, tilt, lst, feet, knee_min)
    fps = 1.0 / (t[1] - t[0])
    z = under(ceiling, round(0.02 * fps))
    root = np.concatenate([root_xy, z[:, None]], -1)
    rest = rest_channels(rng)
    ch = gait_upper(rng, t, ph, rest, arm_amp, 0.8 * pelvis_rot)
    ch["pelvis_list"] = lst
    # the pelvis tilts forward a little; the trunk leans forward less than that
    ch["pelvis_tilt"] = np.full(len(t), tilt)
    ch["torso_flexion"] = ch["torso_flexion"] - tilt + rng.uniform(0, 5) * step / 700.0
    angles = {k: v for k, v in ch.items() if k in ANGLE_NAMES}
    return Plan(root=root, yaw=yaw, angles=angles, feet=feet)


def timeline_start(rng: np.random.Generator, cycle_s: float = 2.0) -> float:
    """Where a sequence's clock starts in its action's timeline, in s (≤ 0): drawn uniformly over
    ``cycle_s`` so that sequences start at different points of their cycle. An action whose cycle
    is long (lying down, a while on the floor, getting up: about 12 s) passes its own length, so
    that a short window (a training sequence is 0.6 s) is as likely to fall in the floor phase
    as a frame of a long recording; the 2 s default keeps the original actions' draws."""
    return -rng.uniform(0.0, cycle_s)


def to_world(feet_body: np.ndarray, psi: float) -> np.ndarray:
    """(N, 2, 3) body-frame ankle targets (x right, y forward) → world, facing ``psi``."""
    return np.concatenate([rot2(feet_body[..., :2], psi), feet_body[..., 2:]], -1)


def foot_track(t: np.ndarray, start: np.ndarray, moves: list[tuple[float, float, Any, float]],
               height: float) -> np.ndarray:
    """(N, 3) flat-foot ankle positions of a foot that starts at ``start`` (2,) and steps:
    each move (start time, duration, to (2,), clearance mm) lifts the foot, carries it (the
    horizontal motion starts once it is off the floor and ends before it lands) and puts it
    down flat at ``height``."""
    xy = np.broadcast_to(np.asarray(start, np.float64), (len(t), 2)).copy()
    z = np.full(len(t), float(height))
    here = np.asarray(start, np.float64)
    for t0, dur, to, clearance in moves:
        s = np.clip((t - t0) / dur, 0.0, 1.0)
        xy += (np.asarray(to) - here) * ease((s - 0.15) / 0.7)[:, None]
        z += clearance * np.sin(np.pi * s) ** 2
        here = np.asarray(to, np.float64)
    return np.concatenate([xy, z[:, None]], -1)


def stepping_plan(body: BodyShape, t: np.ndarray, rng: np.random.Generator, feet_home: Any, moves: Any, lift_mm: Any,
                  heel: dict[str, np.ndarray], ch: dict[str, np.ndarray]) -> Plan:
    """A planted plan whose feet follow :func:`foot_track` from ``feet_home`` through ``moves``
    (body frame, facing +y), each rolled over its heel by ``heel["r"]`` / ``heel["l"]`` degrees,
    turned to a random facing (the actions of kneeling, sitting on the floor and lunging)."""
    fwd = np.broadcast_to(np.array([0.0, 1.0]), (len(t), 2))
    feet = np.stack([roll_foot(body, foot_track(t, feet_home[k], moves[k], lift_mm), fwd, heel["rl"[k]])
                     for k in range(2)], 1)
    psi = rng.uniform(-180, 180)
    return planted_plan(body, psi, to_world(feet, psi), ch, rng.uniform(2, 6))


# ------------------------------------------------------------------------ floor level, blends


def floor_clearance(body: BodyShape) -> np.ndarray:
    """(17,) mm: how high each joint must stay for the body's surface not to go into the floor:
    the largest radius of the limb capsules (the renderer's) that meet there, the ankles at
    ankle height (the foot under them)."""
    out = np.zeros(17)
    for b, (parent, child) in enumerate(H36M17.bones):
        out[parent] = max(out[parent], body.limb_radii[b])
        out[child] = max(out[child], body.limb_radii[b])
    out[[0, 5]] = np.maximum(out[[0, 5]], float(body.ankle_height_mm))
    return out


def plan_poses(body: BodyShape, plan: Plan) -> np.ndarray:
    """(N, 17, 3) world mm: the plan's joints with the legs solved (before any grounding)."""
    angles = dict(plan.angles) | ({} if plan.legs_given else solve_leg_ik(
        body, plan.root, plan.yaw, plan.feet, pelvis_tilt=plan.angles.get("pelvis_tilt", 0.0),
        pelvis_list=plan.angles.get("pelvis_list", 0.0), root_pitch=plan.pitch,
        hip_rotation=(plan.angles.get("r_hip_rotation", 0.0), plan.angles.get("l_hip_rotation", 0.0))))
    n = len(plan.root)
    angles = {k: np.broadcast_to(np.asarray(v, np.float64), (n,)) for k, v in angles.items()}
    return forward_kinematics(body, clip_to_limits(angles), plan.root, plan.yaw, root_pitch=plan.pitch)


def rest_on_floor(body: BodyShape, t: np.ndarray, plan: Plan) -> Plan:
    """The plan with :func:`floor_clearance` as its clearance and the pelvis raised, smoothly,
    wherever a knee, hand, back or head would go closer to the floor than that (the ankle
    targets stay: the legs reach down to them)."""
    plan.clearance = floor_clearance(body)
    sink = np.maximum(0.0, (plan.clearance - plan_poses(body, plan)[..., 2]).max(1))
    fps = 1.0 / (t[1] - t[0])
    plan.root = plan.root.copy()
    plan.root[:, 2] += -under(-sink, round(0.1 * fps))  # a smooth envelope from above
    return plan


def align_plan(plan: Plan, i: int, xy: np.ndarray, yaw: float) -> Plan:
    """The plan turned about the vertical and moved so that at frame ``i`` its pelvis is at
    ``xy`` (2,) facing ``yaw`` (degrees)."""
    turn = float(yaw - plan.yaw[i])
    turn = (turn + 180.0) % 360.0 - 180.0
    pivot = plan.root[i, :2]
    root, feet = plan.root.copy(), plan.feet.copy()
    root[:, :2] = rot2(root[:, :2] - pivot, turn) + xy
    feet[..., :2] = rot2(feet[..., :2] - pivot, turn) + xy
    return Plan(root=root, yaw=plan.yaw + turn, angles=plan.angles, feet=feet, pitch=plan.pitch,
                clearance=plan.clearance)


def blend_plans(body: BodyShape, a: Plan, b: Plan, t: np.ndarray, t0: float, dur: float,
                lift_mm: float) -> Plan:
    """``a`` until ``t0``, ``b`` from ``t0 + dur`` (s), a smooth blend between (eased pelvis,
    yaw, pitch and every angle). The feet step across one after the other (the right in the
    first half, the left in the second), lifted ``lift_mm`` at the top and moving only while
    off the floor, so no planted foot slides; the pelvis never higher than the legs reach."""
    u = np.clip((t - t0) / dur, 0.0, 1.0)
    w = ease(u)
    names = set(a.angles) | set(b.angles)
    zero = np.zeros(len(t))
    angles = {k: a.angles.get(k, zero) + w * (b.angles.get(k, zero) - a.angles.get(k, zero)) for k in names}
    turn = (b.yaw - a.yaw + 180.0) % 360.0 - 180.0
    yaw = a.yaw + w * turn
    pitch = None
    if a.pitch is not None or b.pitch is not None:
        pa, pb = (zero if p.pitch is None else p.pitch for p in (a, b))
        pitch = pa + w * (pb - pa)
    feet = np.empty_like(a.feet)
    for i in range(2):
        s = np.clip(2.0 * u - i, 0.0, 1.0)
        feet[:, i] = a.feet[:, i] + ease((s - 0.15) / 0.7)[:, None] * (b.feet[:, i] - a.feet[:, i])
        feet[:, i, 2] = a.feet[:, i, 2] + ease(s) * (b.feet[:, i, 2] - a.feet[:, i, 2])
        feet[:, i, 2] += lift_mm * np.sin(np.pi * s) ** 2
    root = a.root + w[:, None] * (b.root - a.root)
    reach = pelvis_ceiling(body, root[:, :2], yaw, angles.get("pelvis_tilt", 0.0),
                           angles.get("pelvis_list", 0.0), feet, 3.0, pitch)
    too_high = np.where((u > 0) & (u < 1), np.maximum(root[:, 2] - reach, 0.0), 0.0)
    root[:, 2] -= -under(-too_high, round(0.1 / (t[1] - t[0])))  # a smooth envelope of it
    clearance = a.clearance if a.clearance is not None else b.clearance
    return Plan(root=root, yaw=yaw, angles=angles, feet=feet, pitch=pitch, clearance=clearance)
