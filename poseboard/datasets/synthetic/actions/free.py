"""Free motion: smooth random movement in joint-angle space, for pose coverage.

The scripted actions reach the poses their scripts name and no others: a network trained on
them learns those actions, not people (issue 38: every method lost 22–67 % on real motion
capture). ``FreeMotion`` draws the poses people take and no script does: whole-body and
asymmetric, standing, crouching, on one leg, low to the floor, leaning, twisting, arms
anywhere in their range.

The prior, per keyframe (0.35–1.3 s apart), over every angle of
:data:`~poseboard.datasets.synthetic.body.ANGLE_NAMES`:

* a **posture** for the legs: upright (both thighs near the vertical, knees 0–40°), crouching
  (thighs 40–120° forward, knees following them: a knee bends at least 0.6× its hip), on one
  leg (the other leg anywhere in its limits: kicks, knee raises, arabesques), or low
  (kneeling or sitting: knees 90–150°, thighs 0–120°); left/right mirrored (±10°) a quarter
  of the time in the two-legged postures;
* for each upper-body angle, with probability 0.55 a value **uniform over its whole
  anatomical range**, otherwise a value near the subject's rest (within 15 % of the range);
  the arms mirrored a quarter of the time;
* the trunk: pelvis tilt by posture (−10 … 70°), list ±15°; the backward lean of pelvis and
  torso together never beyond 35° (people fall over).

Keyframes are joined by shape-preserving (PCHIP) curves, so every angle stays between two
keyframes' values, inside :data:`~.body.ANGLE_LIMITS_DEG`; the shoulder's swing is then held
within :data:`~.body.SHOULDER_SWING_MAX_DEG` by :func:`~.body.clip_to_limits`. The pelvis
drifts slowly (keyframes at most 0.6 m apart) and turns (at most ±120° per keyframe). There is
no foot-contact model: the legs are the angles drawn, not an ankle target solved by inverse
kinematics, and every frame is lifted by the least amount that puts its lowest joint on the
floor (:func:`~.plan.floor_clearance`: the ankles at ankle height, any other joint one capsule
radius above it; that lift smoothed from above over ±0.02 s, so the pelvis never jolts where
the touching joint changes), so a frame stands, kneels or sits on whatever touches the floor
first. Feet may therefore slide; the frames are for per-frame training, 0.1 s apart. Every joint stays
under :data:`MAX_SPEED_MM_S`: a draw that moves faster is slowed down (its keyframes spread
further apart in time, the same poses).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from poseboard.datasets.synthetic.actions.plan import (
    Plan,
    floor_clearance,
    other_side,
    rest_channels,
    timeline_start,
    under,
)
from poseboard.datasets.synthetic.body import (
    ANGLE_LIMITS_DEG,
    ANGLE_NAMES,
    BodyShape,
    clip_to_limits,
    forward_kinematics,
)

#: Upper bound of any joint's speed in free motion (mm/s): fast sport, below a kick (10 m/s).
MAX_SPEED_MM_S = 6000.0
#: The draw is slowed until its fastest joint moves at most this fraction of the bound.
_SPEED_MARGIN = 0.9
#: Posture of the legs at a keyframe, and its probability.
POSTURES: dict[str, float] = {"upright": 0.4, "crouch": 0.2, "one_leg": 0.25, "low": 0.15}
#: Chance that an upper-body angle is drawn over its whole range (else near rest).
WIDE_PROBABILITY = 0.55
#: Largest backward lean of pelvis and torso together (degrees).
MAX_BACK_LEAN_DEG = 35.0
_UPPER = tuple(n for n in ANGLE_NAMES if not n[2:].startswith(("hip_", "knee_")) and not n.startswith("pelvis_"))


def _uniform(rng: np.random.Generator, name: str, lo: float | None = None, hi: float | None = None) -> float:
    """Uniform over [lo, hi] ∩ the limits of angle ``name``."""
    a, b = ANGLE_LIMITS_DEG[name]
    lo, hi = max(a, a if lo is None else lo), min(b, b if hi is None else hi)
    return float(rng.uniform(lo, hi))


def _leg(rng: np.random.Generator, side: str, posture: str) -> dict[str, float]:
    """One leg's hip flexion/abduction/rotation and knee flexion for a posture."""
    s = f"{side}_"
    if posture == "upright":
        flex, knee = _uniform(rng, s + "hip_flexion", -15, 35), _uniform(rng, s + "knee_flexion", 0, 40)
        abd = _uniform(rng, s + "hip_abduction", -10, 25)
    elif posture == "crouch":
        flex = _uniform(rng, s + "hip_flexion", 40, 120)
        knee = _uniform(rng, s + "knee_flexion", 0.6 * flex, 145)
        abd = _uniform(rng, s + "hip_abduction", 0, 40)
    elif posture == "low":
        flex, knee = _uniform(rng, s + "hip_flexion", 0, 120), _uniform(rng, s + "knee_flexion", 90, 150)
        abd = _uniform(rng, s + "hip_abduction", -10, 45)
    else:  # a free leg: anywhere in its limits
        flex, knee = _uniform(rng, s + "hip_flexion"), _uniform(rng, s + "knee_flexion")
        abd = _uniform(rng, s + "hip_abduction")
    return {s + "hip_flexion": flex, s + "hip_abduction": abd, s + "knee_flexion": knee,
            s + "hip_rotation": _uniform(rng, s + "hip_rotation", -35, 35)}  # fmt: skip


def _mirror(values: dict[str, float], rng: np.random.Generator, prefix: tuple[str, ...]) -> None:
    """The left side's angles of ``prefix`` (e.g. ``shoulder_``) set to the right's ±10°."""
    for name in list(values):
        if name.startswith("r_") and name[2:].startswith(prefix):
            other = "l_" + name[2:]
            lo, hi = ANGLE_LIMITS_DEG[other]
            values[other] = float(np.clip(values[name] + rng.uniform(-10, 10), lo, hi))


def draw_keyframe(rng: np.random.Generator, rest: dict[str, float]) -> dict[str, float]:
    """Every angle of :data:`~.body.ANGLE_NAMES` at one keyframe, from the prior (module doc)."""
    posture = str(rng.choice(list(POSTURES), p=list(POSTURES.values())))
    key: dict[str, float] = {}
    if posture == "one_leg":
        free = str(rng.choice(["r", "l"]))
        key |= _leg(rng, free, "free") | _leg(rng, other_side(free), "upright")
    else:
        key |= _leg(rng, "r", posture) | _leg(rng, "l", posture)
        if rng.random() < 0.25:
            _mirror(key, rng, ("hip_", "knee_"))
    tilt = {"upright": (-10, 25), "crouch": (0, 60), "one_leg": (-10, 70), "low": (-10, 40)}[posture]
    key["pelvis_tilt"] = _uniform(rng, "pelvis_tilt", *tilt)
    key["pelvis_list"] = _uniform(rng, "pelvis_list")
    for name in _UPPER:
        lo, hi = ANGLE_LIMITS_DEG[name]
        if rng.random() < WIDE_PROBABILITY:
            key[name] = float(rng.uniform(lo, hi))
        else:
            key[name] = float(np.clip(rest.get(name, 0.0) + rng.uniform(-0.15, 0.15) * (hi - lo), lo, hi))
    if rng.random() < 0.25:
        _mirror(key, rng, ("shoulder_", "elbow_"))
    back = key["pelvis_tilt"] + key["torso_flexion"]
    if back < -MAX_BACK_LEAN_DEG:  # lean forward again until the sum is −35°
        key["torso_flexion"] += -MAX_BACK_LEAN_DEG - back
    return key


def _channels(times: np.ndarray, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, C) PCHIP through keyframe ``rows`` (K, C) at ``times`` (K,), held flat outside."""
    return PchipInterpolator(times, rows, axis=0)(np.clip(t, times[0], times[-1]))


def free_poses(body: BodyShape, t: np.ndarray, key_times: np.ndarray, rows: np.ndarray, names: list[str],
               clearance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The root (N, 3), yaw (N,), joints (N, 17, 3) world mm and angles of a free-motion draw:
    channels ``names`` ("x", "y", "yaw" and every angle) keyed ``rows`` at ``key_times``, each
    frame lifted by the least amount that keeps every joint above ``clearance``, smoothed from
    above over ±0.02 s (so a frame may float a few mm where the touching joint changes)."""
    ch = dict(zip(names, _channels(key_times, rows, t).T, strict=True))
    angles = clip_to_limits({k: ch[k] for k in ANGLE_NAMES})
    root = np.stack([ch["x"], ch["y"], np.zeros(len(t))], -1)
    poses = forward_kinematics(body, angles, root, ch["yaw"])
    lift = (clearance - poses[..., 2]).max(1)
    if len(t) > 2:  # a smooth envelope from above: contacts change without a jolt
        lift = -under(-lift, round(0.02 / float(t[1] - t[0])))
    root[:, 2] += lift
    poses[..., 2] += lift[:, None]
    return root, ch["yaw"], poses, angles


def free_motion(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """``FreeMotion``: see the module docstring."""
    rest = rest_channels(rng)
    start = timeline_start(rng, 2.0)
    times, rows = [start], []
    names = ["x", "y", "yaw", *ANGLE_NAMES]
    xy, yaw = np.zeros(2), float(rng.uniform(-180, 180))
    span = float(t[-1] - t[0])
    while True:
        key = draw_keyframe(rng, rest)
        rows.append([xy[0], xy[1], yaw, *(key[n] for n in ANGLE_NAMES)])
        if times[-1] > start + 4 * span + 8.0:  # enough keys for a draw slowed four-fold
            break
        times.append(times[-1] + float(rng.uniform(0.35, 1.3)))
        step = rng.normal(0.0, 1.0, 2)
        xy = xy + min(0.6 * area, 600.0) * rng.uniform(0, 1) * step / max(np.linalg.norm(step), 1e-9)
        xy *= min(1.0, 0.5 * area / max(float(np.linalg.norm(xy)), 1e-9))  # stay near the middle
        yaw += float(rng.uniform(-120, 120))
    key_times, key_rows = np.array(times), np.array(rows)
    clearance = floor_clearance(body)
    fps = 1.0 / float(t[1] - t[0]) if len(t) > 1 else 50.0
    slow = 1.0
    for _ in range(8):  # spread the keyframes until the fastest joint is under the bound
        stretched = key_times[0] + slow * (key_times - key_times[0])
        root, yaw_t, poses, angles = free_poses(body, t - t[0] + key_times[0], stretched, key_rows, names, clearance)
        fastest = float(np.linalg.norm(np.diff(poses, axis=0), axis=-1).max(initial=0.0)) * fps
        if fastest <= _SPEED_MARGIN * MAX_SPEED_MM_S:
            break
        slow *= fastest / (_SPEED_MARGIN * MAX_SPEED_MM_S) * 1.05
    feet = poses[:, [0, 5]].copy()
    return Plan(root=root, yaw=yaw_t, angles=angles, feet=feet, clearance=clearance, legs_given=True)
