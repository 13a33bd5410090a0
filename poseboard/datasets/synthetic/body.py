"""Subjects of the synthetic world: bodies with their own proportions, and their kinematics.

A body is the 17-joint :data:`~poseboard.skeleton.H36M17` skeleton with a length per bone, a
capsule radius per bone (for the renderer) and a head radius. Proportions come from the
anthropometric table of Drillis & Contini as reprinted by Winter (*Biomechanics and Motor
Control of Human Movement*, fig. 4.1): segment lengths as fractions of stature H. Every subject
draws its own multiplicative deviation of each ratio (σ = 3 %, symmetric left/right), so no
single body can be memorised, and is then rescaled so that its standing height is exactly H.

World frame: millimetres, Z up, floor at z = 0. At yaw 0 a body faces +y and its right side is
towards +x. The Head joint (9) is the top of the head; the Neck joint (16) is the neck/nose
point in front of it, as in learnable triangulation's labels.

Joint angles (degrees) drive :func:`forward_kinematics`; :data:`ANGLE_NAMES` lists them and
:data:`ANGLE_LIMITS_DEG` gives their anatomical range:

- ``pelvis_tilt`` forward tilt of the pelvis and everything above it (bending at the hips),
  ``pelvis_list`` sideways tilt (positive: the right hip goes down). Lying down pitches the
  whole body on top of that: ``root_pitch`` of :func:`forward_kinematics` (not a joint angle,
  so not in :data:`ANGLE_NAMES`; ``None``, upright, unless an action lies or crawls).
- ``{r,l}_hip_flexion`` / ``_abduction`` / ``_rotation`` intrinsic X–Y–Z Euler angles of the
  thigh in the pelvis frame (flexion forward, abduction outward, rotation internal);
  ``{r,l}_knee_flexion`` (0 = straight; it never hyper-extends).
- ``torso_flexion`` (forward) / ``torso_lateral`` (towards the right) / ``torso_twist``
  (counter-clockwise seen from above), split evenly over the lumbar (Pelvis→Spine) and the
  thoracic (Spine→Thorax) segments; ``neck_*`` the same at the thorax for the neck and head.
- ``{r,l}_shoulder_flexion`` / ``_abduction``: the swing of the upper arm away from hanging
  down, as a rotation vector (flexion raises it forwards, abduction sideways; 90/0 is straight
  forward, 0/90 straight out to the side, either at 180 overhead; no gimbal lock on the way),
  then ``_rotation`` about the upper arm (internal positive); ``{r,l}_elbow_flexion``.

Example:
    >>> from poseboard.datasets.synthetic.body import SUBJECTS, forward_kinematics
    >>> body = SUBJECTS["S1"]
    >>> pose = forward_kinematics(body, {"r_knee_flexion": [30.0]}, [[0.0, 0.0, 900.0]], [0.0])
    >>> pose.shape
    (1, 17, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poseboard.errors import InputError, check_shape
from poseboard.skeleton import H36M17

#: "Parent→Child" name of each bone, aligned with ``H36M17.bones`` (and ``bone_lengths``).
BONE_NAMES: tuple[str, ...] = tuple(
    f"{H36M17.joint_names[p]}→{H36M17.joint_names[c]}" for p, c in H36M17.bones
)
_CHILD_OF_BONE = np.array([c for _, c in H36M17.bones])
#: bone index of each child joint (-1 for the root)
_BONE_OF_CHILD = np.full(17, -1)
_BONE_OF_CHILD[_CHILD_OF_BONE] = np.arange(len(_CHILD_OF_BONE))


def _unit(*v: float) -> np.ndarray:
    a = np.array(v, dtype=np.float64)
    return a / np.linalg.norm(a)


#: Direction of each bone (indexed by child joint) in its parent's frame at zero angles:
#: legs and arms hang straight down, the spine is vertical, the nose is in front of the thorax
#: and the top of the head above and behind the nose, the shoulders slope down a little.
_REST_DIRECTION = np.zeros((17, 3))
for _child, _dir in {
    0: _unit(0, 0, -1), 1: _unit(0, 0, -1), 2: _unit(1, 0, 0), 3: _unit(-1, 0, 0),
    4: _unit(0, 0, -1), 5: _unit(0, 0, -1), 7: _unit(0, 0, 1), 8: _unit(0, 0, 1),
    9: _unit(0, -0.33, 1), 10: _unit(0, 0, -1), 11: _unit(0, 0, -1), 12: _unit(1, 0, -0.15),
    13: _unit(-1, 0, -0.15), 14: _unit(0, 0, -1), 15: _unit(0, 0, -1), 16: _unit(0, 0.35, 1),
}.items():
    _REST_DIRECTION[_child] = _dir

#: Segment lengths as fractions of stature (Winter, fig. 4.1). Joint centres lie inside the
#: surface widths of the table: hip joints at 80 % of the hip width (0.191 H), shoulder joints
#: at 75 % of the shoulder width (0.259 H), as in Human3.6M's fitted skeleton.
_FRACTIONS: dict[str, float] = {
    "shank": 0.246,  # knee → ankle (0.285 − 0.039)
    "thigh": 0.245,  # hip → knee (0.530 − 0.285)
    "hip": 0.191 * 0.80 / 2,  # pelvis → hip joint
    "lumbar": 0.140,  # pelvis (0.530) → spine
    "thoracic": 0.160,  # spine → thorax (0.830, just above the shoulders at 0.818)
    "neck": 0.075,  # thorax → nose (0.90; chin 0.870, eyes 0.936)
    "head": 0.105,  # nose → top of the head (1.0)
    "shoulder": 0.259 * 0.75 / 2 / float(_unit(1, 0, -0.15)[0]),  # thorax → shoulder joint
    "upper_arm": 0.186,
    "forearm": 0.146,
    "ankle_height": 0.039,
    "foot_length": 0.152,
    "head_radius": 0.050,  # a sphere of this radius on the Neck→Head segment reaches the top
}
_SEGMENT_OF_CHILD = {
    0: "shank", 1: "thigh", 2: "hip", 3: "hip", 4: "thigh", 5: "shank", 7: "lumbar",
    8: "thoracic", 9: "head", 10: "forearm", 11: "upper_arm", 12: "shoulder", 13: "shoulder",
    14: "upper_arm", 15: "forearm", 16: "neck",
}
#: Capsule radius of each bone (by child joint) of a 1.75 m body of average build, mm: thigh
#: 72 > shank 46, upper arm 42 > forearm 34, a wide torso, the pelvis as the hip bones.
_RADIUS_1750 = {
    0: 46.0, 1: 72.0, 2: 88.0, 3: 88.0, 4: 72.0, 5: 46.0, 7: 120.0, 8: 132.0, 9: 75.0,
    10: 34.0, 11: 42.0, 12: 58.0, 13: 58.0, 14: 42.0, 15: 34.0, 16: 52.0,
}
_REFERENCE_HEIGHT_MM = 1750.0

# ---------------------------------------------------------------------------- joint angles

ANGLE_NAMES: tuple[str, ...] = (
    "pelvis_tilt", "pelvis_list",
    "r_hip_flexion", "r_hip_abduction", "r_hip_rotation", "r_knee_flexion",
    "l_hip_flexion", "l_hip_abduction", "l_hip_rotation", "l_knee_flexion",
    "torso_flexion", "torso_lateral", "torso_twist",
    "neck_flexion", "neck_lateral", "neck_twist",
    "r_shoulder_flexion", "r_shoulder_abduction", "r_shoulder_rotation", "r_elbow_flexion",
    "l_shoulder_flexion", "l_shoulder_abduction", "l_shoulder_rotation", "l_elbow_flexion",
)  # fmt: skip

#: Anatomical range of every angle, degrees (inclusive). The shoulder's swing magnitude
#: ``hypot(flexion, abduction)`` is also at most :data:`SHOULDER_SWING_MAX_DEG`.
ANGLE_LIMITS_DEG: dict[str, tuple[float, float]] = {
    "pelvis_tilt": (-30.0, 80.0), "pelvis_list": (-15.0, 15.0),
    "hip_flexion": (-30.0, 140.0), "hip_abduction": (-30.0, 50.0),
    "hip_rotation": (-45.0, 45.0), "knee_flexion": (0.0, 150.0),
    "torso_flexion": (-30.0, 90.0), "torso_lateral": (-35.0, 35.0),
    "torso_twist": (-50.0, 50.0),
    "neck_flexion": (-50.0, 60.0), "neck_lateral": (-40.0, 40.0), "neck_twist": (-70.0, 70.0),
    "shoulder_flexion": (-60.0, 180.0), "shoulder_abduction": (-40.0, 180.0),
    "shoulder_rotation": (-90.0, 90.0), "elbow_flexion": (0.0, 150.0),
}  # fmt: skip
ANGLE_LIMITS_DEG = {
    name: ANGLE_LIMITS_DEG[name[2:] if name[:2] in ("r_", "l_") else name] for name in ANGLE_NAMES
}
SHOULDER_SWING_MAX_DEG = 180.0


def clip_to_limits(joint_angles: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Clip every angle (degrees) into :data:`ANGLE_LIMITS_DEG` and the shoulder swing into
    :data:`SHOULDER_SWING_MAX_DEG`; names it does not know pass through unchanged."""
    out = {k: np.asarray(v, dtype=np.float64) for k, v in joint_angles.items()}
    for name, (lo, hi) in ANGLE_LIMITS_DEG.items():
        if name in out:
            out[name] = np.clip(out[name], lo, hi)
    for side in "rl":
        f, a = f"{side}_shoulder_flexion", f"{side}_shoulder_abduction"
        if f in out and a in out:
            mag = np.hypot(out[f], out[a])
            scale = np.minimum(1.0, SHOULDER_SWING_MAX_DEG / np.maximum(mag, 1e-12))
            out[f], out[a] = out[f] * scale, out[a] * scale
    return out


# --------------------------------------------------------------------------------- bodies


@dataclass(frozen=True, eq=False)
class BodyShape:
    """One subject's body: bone lengths and capsule radii (mm, aligned with ``H36M17.bones``).

    ``ankle_height_mm`` (ankle joint above the floor when the foot is flat) and
    ``foot_length_mm`` default to Winter's 0.039 H and 0.152 H.
    """

    name: str
    height_mm: float
    bone_lengths: np.ndarray
    limb_radii: np.ndarray
    head_radius_mm: float
    ankle_height_mm: float | None = None
    foot_length_mm: float | None = None
    _offsets: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for attr in ("bone_lengths", "limb_radii"):
            arr = np.array(getattr(self, attr), dtype=np.float64)  # copy; float64 throughout
            check_shape(arr, [len(H36M17.bones)], f"BodyShape {self.name}: {attr}")
            if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise InputError(f"BodyShape {self.name}: {attr} must be finite and > 0")
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        if not (self.height_mm > 0 and self.head_radius_mm > 0):
            raise InputError(f"BodyShape {self.name}: height_mm and head_radius_mm must be > 0")
        if self.ankle_height_mm is None:
            object.__setattr__(self, "ankle_height_mm", _FRACTIONS["ankle_height"] * self.height_mm)
        if self.foot_length_mm is None:
            object.__setattr__(self, "foot_length_mm", _FRACTIONS["foot_length"] * self.height_mm)
        offsets = np.zeros((17, 3))
        offsets[_CHILD_OF_BONE] = self.bone_lengths[:, None] * _REST_DIRECTION[_CHILD_OF_BONE]
        offsets.setflags(write=False)
        object.__setattr__(self, "_offsets", offsets)

    @property
    def rest_offsets(self) -> np.ndarray:
        """(17, 3) mm: each joint relative to its parent, in the parent's frame at zero angles."""
        return self._offsets

    def bone_length(self, child: str) -> float:
        """Length (mm) of the bone that ends at the joint named ``child`` (e.g. ``"RKnee"``)."""
        b = _BONE_OF_CHILD[H36M17.index(child)]
        if b < 0:
            raise InputError(f"{child!r} is the root; it ends no bone")
        return float(self.bone_lengths[b])

    def leg_reach(self, knee_flexion_deg: float | np.ndarray, side: str = "r") -> np.ndarray:
        """Hip-to-ankle distance (mm) of one leg at a given knee flexion (degrees)."""
        thigh = self.bone_length("RKnee" if side == "r" else "LKnee")
        shank = self.bone_length("RAnkle" if side == "r" else "LAnkle")
        k = np.radians(knee_flexion_deg)
        return np.sqrt(thigh**2 + shank**2 + 2 * thigh * shank * np.cos(k))

    def rest_pose(self) -> np.ndarray:
        """(17, 3) world mm: standing A-pose (arms 20° out), feet flat on the floor, at the
        origin, facing +y."""
        angles = {"r_shoulder_abduction": 20.0, "l_shoulder_abduction": 20.0}
        pose = forward_kinematics(self, angles, [0.0, 0.0, 0.0], 0.0)[0]
        pose[:, 2] += self.ankle_height_mm - pose[[0, 5], 2].min()
        return pose


def make_body(name: str, height_mm: float, rng: np.random.Generator) -> BodyShape:
    """A random but anthropometrically plausible body of standing height ``height_mm``.

    Each segment ratio of :data:`_FRACTIONS` is multiplied by its own factor drawn from
    N(1, 0.03) (clipped to ±7 %), the same on both sides, then all lengths are rescaled so the
    rest pose is exactly ``height_mm`` tall. Build (the capsule radii) varies by ±10 %.

    Example:
        >>> import numpy as np
        >>> body = make_body("P1", 1700.0, np.random.default_rng(0))
        >>> round(float(body.rest_pose()[:, 2].max()), 6)
        1700.0
    """
    if not (1000.0 <= float(height_mm) <= 2500.0):
        raise InputError(f"make_body {name}: height_mm must be 1000–2500 mm, got {height_mm}")
    factors = {k: float(np.clip(rng.normal(1.0, 0.03), 0.93, 1.07)) for k in _FRACTIONS}
    frac = {k: v * factors[k] for k, v in _FRACTIONS.items()}
    lengths = np.array([frac[_SEGMENT_OF_CHILD[c]] for c in _CHILD_OF_BONE]) * height_mm
    # stature of the rest pose: ankle height + vertical legs, spine, neck and head rise
    rise = (
        frac["ankle_height"] + frac["shank"] + frac["thigh"] + frac["lumbar"] + frac["thoracic"]
        + frac["neck"] * _REST_DIRECTION[16, 2] + frac["head"] * _REST_DIRECTION[9, 2]
    ) * height_mm  # fmt: skip
    scale = height_mm / rise
    build = float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.2))
    radii = np.array(
        [_RADIUS_1750[c] * float(np.clip(rng.normal(1.0, 0.03), 0.93, 1.07)) for c in _CHILD_OF_BONE]
    ) * build * height_mm / _REFERENCE_HEIGHT_MM
    # the same radius both sides
    for right, left in ((0, 5), (1, 4), (2, 3), (9, 14), (10, 13), (11, 12)):
        radii[left] = radii[right]
    return BodyShape(
        name=name,
        height_mm=float(height_mm),
        bone_lengths=lengths * scale,
        limb_radii=radii,
        head_radius_mm=frac["head_radius"] * height_mm * scale,
        ankle_height_mm=frac["ankle_height"] * height_mm * scale,
        foot_length_mm=frac["foot_length"] * height_mm * scale,
    )


_SUBJECT_SEED = 20240917
#: Standing heights, mm. Named like Human3.6M's subjects (train S1 S5 S6 S7 S8, test S9 S11);
#: the test heights lie inside the training range.
_SUBJECT_HEIGHTS: dict[str, float] = {
    "S1": 1620.0, "S5": 1540.0, "S6": 1780.0, "S7": 1690.0, "S8": 1930.0,
    "S9": 1740.0, "S11": 1820.0,
}  # fmt: skip
SUBJECTS: dict[str, BodyShape] = {
    name: make_body(name, h, np.random.default_rng(np.random.SeedSequence([_SUBJECT_SEED, i])))
    for i, (name, h) in enumerate(_SUBJECT_HEIGHTS.items())
}
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")


# ------------------------------------------------------------ bodies over wider proportion ranges

#: A union of closed intervals ``((lo, hi), ...)``, sorted and disjoint.
Intervals = tuple[tuple[float, float], ...]

#: Stature of the rest pose per unit of height_mm at Winter's fractions (1.0005): ankle height,
#: the vertical legs and spine, and the rise of the tilted neck and head.
_NOMINAL_RISE = (
    _FRACTIONS["ankle_height"] + _FRACTIONS["shank"] + _FRACTIONS["thigh"] + _FRACTIONS["lumbar"]
    + _FRACTIONS["thoracic"] + _FRACTIONS["neck"] * _REST_DIRECTION[16, 2]
    + _FRACTIONS["head"] * _REST_DIRECTION[9, 2]
)  # fmt: skip
#: What :func:`body_proportions` measures on a body with Winter's fractions exactly (fractions
#: of stature); a proportion *factor* is a measured ratio divided by this.
_NOMINAL_PROPORTIONS: dict[str, float] = {
    "leg": (_FRACTIONS["thigh"] + _FRACTIONS["shank"]) / _NOMINAL_RISE,
    "arm": (_FRACTIONS["upper_arm"] + _FRACTIONS["forearm"]) / _NOMINAL_RISE,
    "torso": (_FRACTIONS["lumbar"] + _FRACTIONS["thoracic"]) / _NOMINAL_RISE,
    "hip_width": 2 * _FRACTIONS["hip"] * _REST_DIRECTION[2, 0] / _NOMINAL_RISE,
    "shoulder_width": 2 * _FRACTIONS["shoulder"] * _REST_DIRECTION[12, 0] / _NOMINAL_RISE,
}
#: The rest of the stature besides legs and torso: the rise of neck + head, and the ankle height.
_NOMINAL_HEAD_RISE = (
    _FRACTIONS["neck"] * _REST_DIRECTION[16, 2] + _FRACTIONS["head"] * _REST_DIRECTION[9, 2]
) / _NOMINAL_RISE
_NOMINAL_ANKLE = _FRACTIONS["ankle_height"] / _NOMINAL_RISE
#: The factors a held-out family (:attr:`ProportionRanges.held_out_from`) may draw from its own
#: intervals; ``height`` is ``height_mm``, the others ``<name>_factor``.
HELD_OUT_FACTORS: tuple[str, ...] = ("height", "leg", "arm", "hip_width", "shoulder_width")
_MEASURED_FIELDS: dict[str, str] = {
    "height_mm": "height_mm", "leg": "leg_factor", "arm": "arm_factor",
    "torso": "torso_factor", "hip_width": "hip_width_factor",
    "shoulder_width": "shoulder_width_factor",
}  # fmt: skip
_INTERVAL_FIELDS = (
    "height_mm", "leg_factor", "arm_factor", "torso_factor", "hip_width_factor",
    "shoulder_width_factor", "head_factor", "build", "split_factor",
)  # fmt: skip


def _field_of(factor: str) -> str:
    return "height_mm" if factor == "height" else f"{factor}_factor"


def _as_intervals(value: Any, what: str) -> Intervals:
    try:
        out = tuple((float(lo), float(hi)) for lo, hi in value)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what}: expected ((lo, hi), ...), got {value!r}") from err
    if not out:
        raise InputError(f"{what}: needs at least one interval")
    for (lo, hi), nxt in zip(out, (*out[1:], None), strict=True):
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
            raise InputError(f"{what}: interval ({lo}, {hi}) must be finite with 0 < lo < hi")
        if nxt is not None and not hi < nxt[0]:
            raise InputError(f"{what}: intervals must be sorted and disjoint, got {out}")
    return out


def _in_intervals(x: float, intervals: Intervals, rtol: float) -> bool:
    return any(lo * (1 - rtol) <= x <= hi * (1 + rtol) for lo, hi in intervals)


def _disjoint(a: Intervals, b: Intervals) -> bool:
    return all(hi1 < lo2 or hi2 < lo1 for lo1, hi1 in a for lo2, hi2 in b)


@dataclass(frozen=True)
class ProportionRanges:
    """A family of bodies: the range of stature and of every proportion factor.

    Every field is a union of intervals ``((lo, hi), ...)``. A *factor* is a proportion measured
    by :func:`body_proportions` (a length over stature) divided by its value at Winter's fractions
    (:data:`_FRACTIONS`), so 1.0 is Winter's average adult and the ranges say what a body *is*,
    not what a sampler did to it:

    - ``height_mm``: standing height (mm).
    - ``leg_factor`` (hip joint → ankle), ``arm_factor`` (shoulder joint → wrist),
      ``torso_factor`` (pelvis → thorax): lengths over stature.
    - ``hip_width_factor`` / ``shoulder_width_factor``: distance between the two hip / shoulder
      joints (twice the Pelvis→Hip and the horizontal part of the Thorax→Shoulder bones) over
      stature.
    - ``head_factor``: neck and head (Thorax→Neck→Head) lengths. Legs, torso, neck and head stack
      up to the stature, so the head factor is whatever makes the rest pose exactly
      ``height_mm`` tall, kept inside its (single) interval.
    - ``build``: the capsule radii (1 = an average build at 1.75 m, scaled with stature).
    - ``split_factor``: how a limb's length divides between its two bones (thigh : shank,
      upper arm : forearm, lumbar : thoracic) relative to Winter's.

    ``held_out_from`` makes this a held-out family around another one (its *base*): each body
    draws a non-empty random subset of :data:`HELD_OUT_FACTORS` from this object's intervals
    (which must be disjoint from the base's) and all else from the base. ``torso_factor`` is
    then the torso of bodies whose legs are held out (at a fixed stature a longer leg leaves a
    shorter torso), also disjoint from the base's; ``head_factor``, ``build`` and
    ``split_factor`` are never held out and must equal the base's.
    """

    height_mm: Intervals
    leg_factor: Intervals
    arm_factor: Intervals
    torso_factor: Intervals
    hip_width_factor: Intervals
    shoulder_width_factor: Intervals
    head_factor: Intervals
    build: Intervals
    split_factor: Intervals
    held_out_from: ProportionRanges | None = None

    def __post_init__(self) -> None:
        for name in _INTERVAL_FIELDS:
            object.__setattr__(self, name, _as_intervals(getattr(self, name), f"ProportionRanges.{name}"))
        lo, hi = self.height_mm[0][0], self.height_mm[-1][1]
        if len(self.head_factor) != 1:
            raise InputError(f"ProportionRanges.head_factor must be one interval, got {self.head_factor}")
        if not (1000.0 <= lo and hi <= 2500.0):
            raise InputError(f"ProportionRanges.height_mm must lie in 1000–2500 mm, got {self.height_mm}")
        base = self.held_out_from
        if base is None:
            return
        if base.held_out_from is not None:
            raise InputError("ProportionRanges.held_out_from: the base must not be held out itself")
        for name in (*map(_field_of, HELD_OUT_FACTORS), "torso_factor"):
            if not _disjoint(getattr(self, name), getattr(base, name)):
                raise InputError(f"held-out ProportionRanges.{name} {getattr(self, name)} overlaps "
                                 f"its base's {getattr(base, name)}")
        for name in ("head_factor", "build", "split_factor"):
            if getattr(self, name) != getattr(base, name):
                raise InputError(f"held-out ProportionRanges.{name} must equal its base's "
                                 f"{getattr(base, name)} (it is never held out)")


#: The training family: adults of 1.50–1.95 m (S1–S11's range), limb and torso lengths ±8 %,
#: hips and shoulders from narrow to wide (±15 %). The torso's ±10 % (not ±8 %) leaves room
#: for the whole leg range at a fixed stature (a leg 8 % long with a small head needs a torso
#: 9 % short). The test subjects S9 and S11 lie well inside (all factors within 0.97–1.06).
TRAIN_PROPORTIONS = ProportionRanges(
    height_mm=((1500.0, 1950.0),),
    leg_factor=((0.92, 1.08),),
    arm_factor=((0.92, 1.08),),
    torso_factor=((0.90, 1.10),),
    hip_width_factor=((0.85, 1.15),),
    shoulder_width_factor=((0.85, 1.15),),
    head_factor=((0.93, 1.07),),
    build=((0.85, 1.20),),
    split_factor=((0.96, 1.04),),
)
#: The held-out "novel body" family: short (1.38–1.48 m) or tall (1.98–2.08 m) adults, and/or
#: legs or arms 9–14 % short or long, hips or shoulders 16–25 % narrow or wide; each body
#: takes a random non-empty subset of these from here and the rest from
#: :data:`TRAIN_PROPORTIONS`, so no novel body is ever a training body.
NOVEL_PROPORTIONS = ProportionRanges(
    height_mm=((1380.0, 1480.0), (1980.0, 2080.0)),
    leg_factor=((0.86, 0.91), (1.09, 1.14)),
    arm_factor=((0.86, 0.91), (1.09, 1.14)),
    torso_factor=((0.78, 0.895), (1.105, 1.22)),
    hip_width_factor=((0.75, 0.84), (1.16, 1.25)),
    shoulder_width_factor=((0.75, 0.84), (1.16, 1.25)),
    head_factor=TRAIN_PROPORTIONS.head_factor,
    build=TRAIN_PROPORTIONS.build,
    split_factor=TRAIN_PROPORTIONS.split_factor,
    held_out_from=TRAIN_PROPORTIONS,
)


def _draw(rng: np.random.Generator, intervals: Intervals) -> float:
    """Uniform over a union of intervals."""
    widths = np.array([hi - lo for lo, hi in intervals])
    k = int(rng.choice(len(intervals), p=widths / widths.sum())) if len(intervals) > 1 else 0
    return float(rng.uniform(*intervals[k]))


def _split(total: float, proximal: float, distal: float, split: float) -> tuple[float, float]:
    """``total`` divided between two bones in Winter's ratio, the proximal one scaled by ``split``."""
    p = total * proximal * split / (proximal * split + distal)
    return p, total - p


def sample_body(
    name: str, rng: np.random.Generator, ranges: ProportionRanges = TRAIN_PROPORTIONS
) -> BodyShape:
    """A random body of the family ``ranges``, measured inside it by :func:`body_proportions`.

    Stature and the factors of :class:`ProportionRanges` are drawn uniformly from their
    intervals; the torso from the part of its interval that keeps the head factor inside its
    own (the head then makes up the stature exactly). Left and right are the same. For a
    held-out family (``ranges.held_out_from``) a uniformly random non-empty subset of
    :data:`HELD_OUT_FACTORS` comes from ``ranges``, everything else from its base.
    :func:`make_body` (the named subjects) is unchanged and independent of this.

    Example:
        >>> import numpy as np
        >>> body = sample_body("B", np.random.default_rng(0))
        >>> in_proportion_ranges(body_proportions(body), TRAIN_PROPORTIONS)
        True
        >>> bool(abs(body.rest_pose()[:, 2].max() - body.height_mm) < 1e-9)
        True
        >>> novel = sample_body("N", np.random.default_rng(0), NOVEL_PROPORTIONS)
        >>> in_proportion_ranges(body_proportions(novel), TRAIN_PROPORTIONS)
        False
    """
    if not isinstance(ranges, ProportionRanges):
        raise InputError(f"sample_body {name}: ranges must be a ProportionRanges, got {type(ranges)}")
    base = ranges.held_out_from
    if base is None:
        held_out: set[str] = set()
        base = ranges
    else:  # a uniformly random non-empty subset, as a bit mask
        mask = int(rng.integers(1, 2 ** len(HELD_OUT_FACTORS)))
        held_out = {f for i, f in enumerate(HELD_OUT_FACTORS) if mask >> i & 1}

    def draw(factor: str) -> float:
        return _draw(rng, getattr(ranges if factor in held_out else base, _field_of(factor)))

    height = draw("height")
    arm, hip_width, shoulder_width = draw("arm"), draw("hip_width"), draw("shoulder_width")
    torso_ranges = (ranges if "leg" in held_out else base).torso_factor
    h_lo, h_hi = base.head_factor[0][0], base.head_factor[-1][1]
    n = _NOMINAL_PROPORTIONS
    for _ in range(1000):
        leg = draw("leg")
        # ankle + legs + torso + neck/head = 1 (fractions of stature): the torso range that
        # keeps the head factor inside [h_lo, h_hi], cut with the torso's own intervals
        rest = 1.0 - _NOMINAL_ANKLE - n["leg"] * leg
        t_lo, t_hi = (rest - _NOMINAL_HEAD_RISE * h_hi) / n["torso"], (rest - _NOMINAL_HEAD_RISE * h_lo) / n["torso"]
        feasible = tuple((max(lo, t_lo), min(hi, t_hi)) for lo, hi in torso_ranges if max(lo, t_lo) < min(hi, t_hi))
        if feasible:
            break
    else:
        raise InputError(f"sample_body {name}: no torso fits the leg and head ranges of {ranges}")
    torso = _draw(rng, feasible)
    head = (rest - n["torso"] * torso) / _NOMINAL_HEAD_RISE  # in [h_lo, h_hi] by construction
    build = _draw(rng, base.build)
    splits = [_draw(rng, base.split_factor) for _ in range(3)]

    f = _FRACTIONS
    seg: dict[str, float] = {}  # fractions of stature
    seg["thigh"], seg["shank"] = _split(n["leg"] * leg, f["thigh"], f["shank"], splits[0])
    seg["upper_arm"], seg["forearm"] = _split(n["arm"] * arm, f["upper_arm"], f["forearm"], splits[1])
    seg["lumbar"], seg["thoracic"] = _split(n["torso"] * torso, f["lumbar"], f["thoracic"], splits[2])
    seg["neck"] = f["neck"] / _NOMINAL_RISE * head
    seg["head"] = f["head"] / _NOMINAL_RISE * head
    seg["hip"] = n["hip_width"] * hip_width / (2 * _REST_DIRECTION[2, 0])
    seg["shoulder"] = n["shoulder_width"] * shoulder_width / (2 * _REST_DIRECTION[12, 0])
    lengths = np.array([seg[_SEGMENT_OF_CHILD[c]] for c in _CHILD_OF_BONE]) * height
    jitter = rng.uniform(0.95, 1.05, len(_CHILD_OF_BONE))
    radii = np.array([_RADIUS_1750[c] for c in _CHILD_OF_BONE]) * jitter * build * height / _REFERENCE_HEIGHT_MM
    for right, left in ((0, 5), (1, 4), (2, 3), (9, 14), (10, 13), (11, 12)):  # the same both sides
        radii[left] = radii[right]
    return BodyShape(
        name=name,
        height_mm=float(height),
        bone_lengths=lengths,
        limb_radii=radii,
        head_radius_mm=f["head_radius"] / _NOMINAL_RISE * head * height,
        ankle_height_mm=_NOMINAL_ANKLE * height,
        foot_length_mm=f["foot_length"] / _NOMINAL_RISE * height,
    )


def body_proportions(body: BodyShape) -> dict[str, float]:
    """Stature and proportions of a body, measured on its rest pose (feet flat, standing).

    Returns:
        ``height_mm``: the top of the head above the floor (mm); ``leg`` (hip joint → ankle,
        along the bones), ``arm`` (shoulder joint → wrist), ``torso`` (pelvis → thorax),
        ``hip_width`` and ``shoulder_width`` (distance between the two hip / shoulder joints):
        fractions of that height, averaged over both sides. Nothing here depends on how the
        body was made.

    Example:
        >>> p = body_proportions(SUBJECTS["S9"])
        >>> round(p["height_mm"], 6), round(p["leg"], 3)
        (1740.0, 0.496)
    """
    pose = body.rest_pose()
    height = float(pose[:, 2].max())

    def mean(*pairs: tuple[str, str]) -> float:
        return sum(body.bone_length(a) + body.bone_length(b) for a, b in pairs) / len(pairs)

    j = {name: i for i, name in enumerate(H36M17.joint_names)}
    return {
        "height_mm": height,
        "leg": mean(("RKnee", "RAnkle"), ("LKnee", "LAnkle")) / height,
        "arm": mean(("RElbow", "RWrist"), ("LElbow", "LWrist")) / height,
        "torso": mean(("Spine", "Thorax")) / height,
        "hip_width": float(np.linalg.norm(pose[j["RHip"]] - pose[j["LHip"]])) / height,
        "shoulder_width": float(np.linalg.norm(pose[j["RShoulder"]] - pose[j["LShoulder"]])) / height,
    }


def in_proportion_ranges(
    props: Mapping[str, float], ranges: ProportionRanges, *, rtol: float = 1e-9
) -> bool:
    """Whether measured proportions (:func:`body_proportions`) belong to the family ``ranges``.

    For a plain family: stature and every length/width factor lie in their intervals (with a
    relative tolerance ``rtol`` for rounding). For a held-out family: each lies in its own or
    its base's intervals, and at least one of :data:`HELD_OUT_FACTORS` in its own. The head,
    build and bone split are not measured.

    Example:
        >>> in_proportion_ranges(body_proportions(SUBJECTS["S11"]), TRAIN_PROPORTIONS)
        True
    """
    missing = sorted(set(_MEASURED_FIELDS) - set(props))
    if missing:
        raise InputError(f"in_proportion_ranges: props lacks {missing}; see body_proportions")
    values = {
        key: float(props[key]) if key == "height_mm" else float(props[key]) / _NOMINAL_PROPORTIONS[key]
        for key in _MEASURED_FIELDS
    }
    base = ranges.held_out_from
    if base is None:
        return all(_in_intervals(values[k], getattr(ranges, f), rtol) for k, f in _MEASURED_FIELDS.items())
    inside_either = all(
        _in_intervals(values[k], getattr(ranges, f) + getattr(base, f), rtol) for k, f in _MEASURED_FIELDS.items()
    )
    held_out = any(
        _in_intervals(values["height_mm" if f == "height" else f], getattr(ranges, _field_of(f)), rtol)
        for f in HELD_OUT_FACTORS
    )
    return inside_either and held_out


def _bodies(prefix: str, family: int, seed: int, count: int, ranges: ProportionRanges) -> list[BodyShape]:
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    if not (isinstance(count, int | np.integer) and count >= 0):
        raise InputError(f"count must be an integer >= 0, got {count!r}")
    # one stream per body: a body does not depend on how many others are drawn
    return [
        sample_body(f"{prefix}{i:03d}", np.random.default_rng(np.random.SeedSequence([int(seed), family, i])), ranges)
        for i in range(int(count))
    ]


def training_bodies(seed: int, count: int) -> list[BodyShape]:
    """``count`` bodies ``B000``, ``B001``, … of :data:`TRAIN_PROPORTIONS`, deterministic in
    ``seed``; the first k are the same for any ``count`` >= k.

    Example:
        >>> [b.name for b in training_bodies(0, 3)]
        ['B000', 'B001', 'B002']
    """
    return _bodies("B", 0, seed, count, TRAIN_PROPORTIONS)


def novel_bodies(seed: int, count: int) -> list[BodyShape]:
    """``count`` held-out bodies ``N000``, ``N001``, … of :data:`NOVEL_PROPORTIONS`,
    deterministic in ``seed``; none is ever inside :data:`TRAIN_PROPORTIONS`.

    Example:
        >>> bodies = novel_bodies(0, 2)
        >>> [in_proportion_ranges(body_proportions(b), TRAIN_PROPORTIONS) for b in bodies]
        [False, False]
    """
    return _bodies("N", 1, seed, count, NOVEL_PROPORTIONS)


# ------------------------------------------------------------------------------ rotations


def _rx(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*a.shape, 3, 3)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*a.shape, 3, 3)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*a.shape, 3, 3)


def _rotvec(w: np.ndarray) -> np.ndarray:
    """(N, 3) rotation vectors (radians) → (N, 3, 3) matrices (Rodrigues)."""
    theta = np.linalg.norm(w, axis=-1)
    k = w / np.where(theta > 0, theta, 1.0)[:, None]
    kx = np.zeros((len(w), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)


def root_rotation(root_yaw: Any, pelvis_tilt: Any = 0.0, pelvis_list: Any = 0.0,
                  root_pitch: Any = None) -> np.ndarray:
    """(N, 3, 3) orientation of the pelvis in the world from degrees: yaw about +z
    (counter-clockwise), then the whole body's pitch ``root_pitch`` (forward positive, e.g.
    −90 lying on the back; ``None`` for upright), then forward tilt, then list."""
    yaw, tilt, lst = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, np.float64))
                                           for a in (root_yaw, pelvis_tilt, pelvis_list)))
    if root_pitch is None:  # upright: exactly the rotation of a body that cannot lie down
        return _rz(np.radians(yaw)) @ _rx(-np.radians(tilt)) @ _ry(np.radians(lst))
    yaw, tilt, lst, pitch = np.broadcast_arrays(yaw, tilt, lst, np.atleast_1d(np.asarray(root_pitch, np.float64)))
    return _rz(np.radians(yaw)) @ _rx(-np.radians(pitch)) @ _rx(-np.radians(tilt)) @ _ry(np.radians(lst))


# ---------------------------------------------------------------------- forward kinematics


def _angle_arrays(joint_angles: Mapping[str, Any] | None, n: int | None) -> tuple[dict, int]:
    joint_angles = dict(joint_angles or {})
    unknown = sorted(set(joint_angles) - set(ANGLE_NAMES))
    if unknown:
        raise InputError(f"unknown joint angle(s) {unknown}; known: {list(ANGLE_NAMES)}")
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in joint_angles.items()}
    for k, v in arrays.items():
        if v.ndim != 1:
            raise InputError(f"joint angle {k!r}: expected shape (N,) or a scalar, got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise InputError(f"joint angle {k!r} has NaN or inf")
    sizes = {len(v) for v in arrays.values()} - {1}
    if n is not None:
        sizes |= {n} - {1}
    if len(sizes) > 1:
        raise InputError(f"joint angles and root disagree on the number of frames: {sorted(sizes)}")
    n = sizes.pop() if sizes else 1
    zero = np.zeros(n)
    return {k: np.broadcast_to(arrays.get(k, zero), (n,)) for k in ANGLE_NAMES}, n


def forward_kinematics(
    body: BodyShape,
    joint_angles: Mapping[str, Any] | None,
    root_position: Any,
    root_yaw: Any,
    *,
    root_pitch: Any = None,
) -> np.ndarray:
    """Joint positions of ``body`` for a batch of frames.

    Args:
        body: the subject.
        joint_angles: name → (N,) or scalar angles in degrees (see :data:`ANGLE_NAMES`);
            missing names are 0. Not clipped: see :func:`clip_to_limits`.
        root_position: (N, 3) or (3,) world mm position of the pelvis.
        root_yaw: (N,) or scalar degrees, counter-clockwise about +z; 0 faces +y.
        root_pitch: ``None`` (upright) or (N,) / scalar degrees: the whole body pitched
            forwards about the pelvis (−90 lies on the back), see :func:`root_rotation`.

    Returns:
        (N, 17, 3) float64 world mm in the H36M17 order. Rigid: every frame has exactly
        ``body.bone_lengths``.

    Example:
        >>> body = SUBJECTS["S9"]
        >>> p = forward_kinematics(body, {}, [0.0, 0.0, 1000.0], 90.0)  # facing -x
        >>> bool(p[0, 12, 1] > p[0, 13, 1])  # right shoulder towards +y
        True
    """
    root = np.asarray(root_position, dtype=np.float64)
    root = root[None] if root.ndim == 1 else root
    check_shape(root, ["N", 3], "root_position")
    yaw = np.atleast_1d(np.asarray(root_yaw, dtype=np.float64))
    if yaw.ndim != 1:
        raise InputError(f"root_yaw: expected shape (N,) or a scalar, got {yaw.shape}")
    sizes = {len(root), len(yaw)} - {1}
    if len(sizes) > 1:
        raise InputError(f"root_position and root_yaw disagree on frames: {sorted(sizes)}")
    a, n = _angle_arrays(joint_angles, sizes.pop() if sizes else None)
    if not (np.all(np.isfinite(root)) and np.all(np.isfinite(yaw))):
        raise InputError("root_position / root_yaw have NaN or inf")
    root = np.broadcast_to(root, (n, 3))
    yaw = np.broadcast_to(yaw, (n,))
    rad = {k: np.radians(v) for k, v in a.items()}
    off = body.rest_offsets
    pos = np.empty((n, 17, 3))
    pos[:, 6] = root

    def place(child: int, parent: int, rot: np.ndarray) -> None:
        pos[:, child] = pos[:, parent] + rot @ off[child]

    r_root = root_rotation(yaw, a["pelvis_tilt"], a["pelvis_list"],
                           None if root_pitch is None else np.broadcast_to(root_pitch, (n,)))
    # legs: the left side is the mirror image (x → −x) of the right
    for side, (hip, knee, ankle), m in (("r", (2, 1, 0), 1.0), ("l", (3, 4, 5), -1.0)):
        place(hip, 6, r_root)
        r_hip = (r_root @ _rx(rad[f"{side}_hip_flexion"]) @ _ry(-m * rad[f"{side}_hip_abduction"])
                 @ _rz(m * rad[f"{side}_hip_rotation"]))  # fmt: skip
        place(knee, hip, r_hip)
        place(ankle, knee, r_hip @ _rx(-rad[f"{side}_knee_flexion"]))
    # spine: half of the torso angles in each of the two segments
    half = (_rz(rad["torso_twist"] / 2) @ _rx(-rad["torso_flexion"] / 2)
            @ _ry(rad["torso_lateral"] / 2))  # fmt: skip
    r_lumbar = r_root @ half
    place(7, 6, r_lumbar)
    r_thorax = r_lumbar @ half
    place(8, 7, r_thorax)
    r_neck = r_thorax @ _rz(rad["neck_twist"]) @ _rx(-rad["neck_flexion"]) @ _ry(rad["neck_lateral"])
    place(16, 8, r_neck)
    place(9, 16, r_neck)
    for side, (shoulder, elbow, wrist), m in (("r", (12, 11, 10), 1.0), ("l", (13, 14, 15), -1.0)):
        place(shoulder, 8, r_thorax)
        swing = np.stack([rad[f"{side}_shoulder_flexion"], -m * rad[f"{side}_shoulder_abduction"],
                          np.zeros(n)], -1)  # fmt: skip
        r_arm = r_thorax @ _rotvec(swing) @ _rz(m * rad[f"{side}_shoulder_rotation"])
        place(elbow, shoulder, r_arm)
        place(wrist, elbow, r_arm @ _rx(rad[f"{side}_elbow_flexion"]))
    return pos


def solve_leg_ik(
    body: BodyShape,
    root_position: Any,
    root_yaw: Any,
    ankle_targets: Any,
    *,
    pelvis_tilt: Any = 0.0,
    pelvis_list: Any = 0.0,
    hip_rotation: tuple[Any, Any] = (0.0, 0.0),
    root_pitch: Any = None,
) -> dict[str, np.ndarray]:
    """Hip flexion/abduction and knee flexion (degrees) that put the ankles on targets.

    Args:
        root_position: (N, 3) world mm pelvis; root_yaw, pelvis_tilt, pelvis_list: (N,) or
            scalar degrees as in :func:`forward_kinematics`.
        ankle_targets: (N, 2, 3) world mm targets of the right and left ankle.
        hip_rotation: (right, left) internal rotation of each thigh, degrees (kept as given).
        root_pitch: ``None`` or (N,) / scalar degrees, as in :func:`forward_kinematics`.

    Returns:
        ``{r,l}_hip_flexion``, ``{r,l}_hip_abduction``, ``{r,l}_knee_flexion``, (N,) each. A
        target out of reach (knee flexion outside 0–150°) is approached along the same line.
    """
    targets = np.asarray(ankle_targets, dtype=np.float64)
    n = check_shape(targets, ["N", 2, 3], "ankle_targets")["N"]
    root = np.broadcast_to(np.asarray(root_position, dtype=np.float64), (n, 3))
    r_root = np.broadcast_to(root_rotation(root_yaw, pelvis_tilt, pelvis_list, root_pitch), (n, 3, 3))
    out: dict[str, np.ndarray] = {}
    for i, (side, hip, knee, ankle) in enumerate((("r", 2, 1, 0), ("l", 3, 4, 5))):
        off = body.rest_offsets
        hip_world = root + r_root @ off[hip]
        a = np.einsum("nji,nj->ni", r_root, targets[:, i] - hip_world)  # in the pelvis frame
        if side == "l":
            a[:, 0] *= -1.0  # solve the mirrored left leg as a right leg
        l1, l2 = np.linalg.norm(off[knee]), np.linalg.norm(off[ankle])
        dist = np.linalg.norm(a, axis=-1)
        d_min = float(body.leg_reach(150.0, side)) * (1 + 1e-9)
        d_max = (l1 + l2) * (1 - 1e-9)
        d = np.clip(dist, d_min, d_max)
        a = a * (d / np.maximum(dist, 1e-9))[:, None]
        k = np.arccos(np.clip((d**2 - l1**2 - l2**2) / (2 * l1 * l2), -1.0, 1.0))
        # the ankle in the thigh frame (knee bent backwards), then the thigh's internal rotation
        v_y, v_z = -l2 * np.sin(k), -(l1 + l2 * np.cos(k))
        r = np.radians(np.broadcast_to(np.asarray(hip_rotation[i], np.float64), (n,)))
        u_x, u_y, u_z = -np.sin(r) * v_y, np.cos(r) * v_y, v_z
        # Ry(phi): u_x cos(phi) + u_z sin(phi) = a_x, picking the branch nearest phi = 0
        rad = np.hypot(u_x, u_z)
        delta = np.arctan2(u_z, u_x)
        spread = np.arccos(np.clip(a[:, 0] / rad, -1.0, 1.0))
        cands = np.stack([delta + spread, delta - spread])
        cands = (cands + np.pi) % (2 * np.pi) - np.pi
        phi = np.take_along_axis(cands, np.abs(cands).argmin(0)[None], 0)[0]
        w_y, w_z = u_y, -np.sin(phi) * u_x + np.cos(phi) * u_z
        flex = np.arctan2(a[:, 2], a[:, 1]) - np.arctan2(w_z, w_y)
        flex = (flex + np.pi) % (2 * np.pi) - np.pi
        out[f"{side}_hip_flexion"] = np.degrees(flex)
        out[f"{side}_hip_abduction"] = -np.degrees(phi)
        out[f"{side}_knee_flexion"] = np.degrees(k)
    return out
