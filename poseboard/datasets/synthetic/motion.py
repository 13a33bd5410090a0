"""Procedural human motion: actions as joint-angle trajectories driven through the body's FK.

Every action builds, in time, a *plan*: the pelvis trajectory (position, yaw, tilt, list), the
upper-body angles (torso, neck, shoulders, elbows, within :data:`~.body.ANGLE_LIMITS_DEG`) and
where each ankle must be (flat on the floor, rolling over the toes, swinging to the next
footstep, or in the air). The legs are then solved analytically (:func:`~.body.solve_leg_ik`)
so a planted foot does not slide, :func:`~.body.forward_kinematics` turns the angles into
joints (rigid: bone lengths are exact at every frame), and each frame is shifted vertically
so that the lowest ankle sits where the plan puts it: at ankle height on the floor, or above
it in the flight phase of a jump; at floor level (lying, crawling) also no joint lower than
the plan's clearance (a capsule radius: knees, hands, back and head rest on the floor).

Time courses are smooth: keyframes interpolated with PCHIP (shape preserving, so they never
overshoot a keyframe and stay within the limits), bounded sums of slow sinusoids for sway,
cubic Hermite segments with a ballistic flight for jumps, and a footstep planner for gait.
Each sequence draws its own speed, amplitudes, timing, direction of travel, facing and
position in the capture area (the pelvis stays within ``area_radius_mm`` of ``area_center``).

The machinery lives in :mod:`.actions.plan`, the generators in modules by kind; this module
keeps the registry (one table, name → ``"module:generator"``, imported on first use) and the
public API. The actions (:data:`ACTIONS`; :data:`ORIGINAL_ACTIONS` are the first nine,
:data:`NOVEL_ACTIONS` are held out of training, the families of :data:`EXTRA_ACTIONS` train only
where a training world asks for them, :data:`TRAIN_ACTIONS` are the rest):

Locomotion (:mod:`.actions.locomotion`)
  - ``Walking``: round a circle either way at 0.9–1.3 m/s (scaled by height), heel strike to
    toe-off with the stance foot planted, arms swinging against the legs, pelvis rotation,
    sway and list, the pelvis vaulting over the stance leg.
  - ``Turning``: stepping on the spot while turning one way and back (up to ~80°/s).
  - ``WalkingVaried``: round an ellipse or a rounded rectangle (straight stretches to tight
    bends) at 0.5–1.8 m/s, slower in the bends, or backwards, or side-stepping; often
    stopping mid-stride for 0.5–2 s and walking on.

Everyday (:mod:`.actions.everyday`)
  - ``SittingDown``: sitting down on an invisible chair behind (seat 0.24–0.29 H, leaning
    forward on the way), sitting a while with the hands on the lap, standing up again.
  - ``Squatting``: repeated squats (pelvis down 0.12–0.25 H), feet wide and knees out, arms
    forward, on the hips or behind the head.
  - ``Waving``: one or both arms raised and the forearm waving at 1.5–2.5 Hz.
  - ``Reaching``: reaching low (bending the knees), ahead, across or high (on the toes).
  - ``PickingUp``: stooping or squatting to pick something up, carrying it, putting it down.

Sport and dance (:mod:`.actions.sport`)
  - ``Boxing``: staggered guard stance, bouncing; jabs, crosses, hooks and uppercuts.
  - ``Jumping``: counter-movement jumps in place or hopping (apex 80–300 mm, ballistic).
  - ``Lunging``: forward lunges, one leg or alternating, the rear heel rising.
  - ``Kicking`` (novel): front kicks and knee strikes from a guard stance.
  - ``Dancing`` (novel): a step on every beat (95–135 bpm), swaying and turning, a new arm
    move every bar (pumping, overhead, waving, clapping), the torso twisting to the beat.

Floor level (:mod:`.actions.floor`)
  - ``Kneeling``: one foot steps back onto its toes, down on that knee (resting just above
    the floor), a while there, up again.
  - ``SittingOnFloor``: down past a deep squat to sit on the floor, knees up or legs slid out
    straight, and up again.
  - ``Lying``: down as to sit on the floor, then rolling back to lie flat on the back (the body
    pitched 80–90°); a knee bent up or the arms moved; sitting up and getting up again.
  - ``Crawling`` (:mod:`.actions.ground`): down onto hands and knees, crawling forward in bouts
    (diagonal gait: right hand, left knee, left hand, right knee), back up.

Exercise and gestures (:mod:`.actions.exercise`; the ``exercise`` family of :data:`EXTRA_ACTIONS`,
in a training world only when its ``extra_actions`` names it)
  - ``Stretching``: both arms overhead (often on the toes), a side bend under one raised arm, a
    forward fold, the torso twisted with the arms out, one arm pulled across the chest.
  - ``Throwing``: overarm throws, stepping into each: the arm cocked behind the head, the
    release over the shoulder, a follow-through across the body.
  - ``Swinging``: two-handed club or bat swings, the torso turned far back and through.
  - ``Gesturing``: talking with the hands, pointing, a phone at the ear, a cup at the mouth,
    shrugging, arms folded, hands on the hips.
  - ``Marching``: marching on the spot or high knees, the arms swinging against the legs.

Transitions (:mod:`.actions.transitions`)
  - ``Transitions``: two or three training actions in a row (never a novel or airborne one),
    each blended into the next over 1–1.6 s from a moment it stands upright.

A :class:`MotionStyle` (tempo, amplitude, left/right asymmetry) makes one subject's motion
its own; ``style=None`` leaves every action exactly as drawn.

Example:
    >>> import numpy as np
    >>> from poseboard.datasets.synthetic.body import SUBJECTS
    >>> seq = generate_sequence(SUBJECTS["S1"], "Walking", 100, np.random.default_rng(0))
    >>> seq.poses.shape, seq.sequence
    ((100, 17, 3), 'S1/Walking/000')
"""

from __future__ import annotations

import difflib
import importlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from poseboard.datasets.synthetic.actions.plan import Generator
from poseboard.datasets.synthetic.body import (
    ANGLE_LIMITS_DEG,
    SHOULDER_SWING_MAX_DEG,
    SUBJECTS,
    BodyShape,
    clip_to_limits,
    forward_kinematics,
    solve_leg_ik,
)
from poseboard.datasets.synthetic.vocabulary import EXTRA_ACTIONS as EXTRA_ACTION_FAMILIES
from poseboard.errors import InputError, check_shape

#: Action name → ``"module:generator"`` under :mod:`poseboard.datasets.synthetic.actions`,
#: imported on first use. The one table of actions.
_REGISTRY: dict[str, str] = {
    "Walking": "locomotion:walking", "Turning": "locomotion:turning",
    "WalkingVaried": "locomotion:walking_varied",
    "SittingDown": "everyday:sitting_down", "Squatting": "everyday:squatting",
    "Waving": "everyday:waving", "Reaching": "everyday:reaching",
    "PickingUp": "everyday:picking_up", "Boxing": "sport:boxing", "Jumping": "sport:jumping",
    "Kneeling": "floor:kneeling", "SittingOnFloor": "floor:sitting_on_floor",
    "Lunging": "sport:lunging", "Kicking": "sport:kicking",
    "Dancing": "sport:dancing", "Lying": "floor:lying", "Crawling": "ground:crawling",
    "Transitions": "transitions:transitions", "FreeMotion": "free:free_motion",
    "Stretching": "exercise:stretching", "Throwing": "exercise:throwing", "Swinging": "exercise:swinging",
    "Gesturing": "exercise:gesturing", "Marching": "exercise:marching",
}  # fmt: skip
#: The nine actions of the in-distribution test split, in their original order.
ORIGINAL_ACTIONS: tuple[str, ...] = (
    "Walking", "Turning", "SittingDown", "Squatting", "Waving", "Reaching", "PickingUp",
    "Boxing", "Jumping",
)  # fmt: skip
#: Held out: never in training sets; the novel-motion test split's actions.
NOVEL_ACTIONS: tuple[str, ...] = ("Dancing", "Kicking")
#: Pose coverage, not a scripted action: smooth random motion in joint-angle space
#: (:mod:`.actions.free`). Training worlds mix it in by ``TrainingWorld.free_motion``; it is
#: neither a training action of the rotation nor a held-out one.
COVERAGE_ACTIONS: tuple[str, ...] = ("FreeMotion",)
#: Families of training actions a training world adds only when asked
#: (``TrainingWorld.extra_actions``, :data:`~.config.EXTRA_ACTIONS` names them): a family is
#: the module of :mod:`.actions` its generators live in, its actions in the table's order.
#: ``exercise``: exercise and everyday gestures, poses the other scripted actions never take.
#: None is in :data:`TRAIN_ACTIONS`, so every split that existed before a family keeps its bytes.
EXTRA_ACTIONS: dict[str, tuple[str, ...]] = {
    family: tuple(a for a, target in _REGISTRY.items() if target.partition(":")[0] == family)
    for family in EXTRA_ACTION_FAMILIES
}
#: Every action :func:`generate_sequence` knows (training and novel), the original nine first.
ACTIONS: tuple[str, ...] = ORIGINAL_ACTIONS + tuple(a for a in _REGISTRY if a not in ORIGINAL_ACTIONS)
#: The actions training sets draw from: the original nine and the new ones not held out.
TRAIN_ACTIONS: tuple[str, ...] = tuple(
    a for a in ACTIONS if a not in NOVEL_ACTIONS + COVERAGE_ACTIONS + sum(EXTRA_ACTIONS.values(), ()))
#: Actions in which both feet leave the floor.
AIRBORNE_ACTIONS: tuple[str, ...] = ("Jumping",)
#: Upper bound of any joint's speed (mm/s) in each action, as tested.
MAX_JOINT_SPEED_MM_S: dict[str, float] = {a: 5000.0 for a in ACTIONS} | {
    "Boxing": 9000.0,
    "Jumping": 8000.0,
    "Kicking": 10000.0,
    "Dancing": 7000.0,
    "WalkingVaried": 7000.0,
    "Transitions": 9000.0,  # as fast as its fastest component (Boxing)
    "FreeMotion": 6000.0,  # actions.free.MAX_SPEED_MM_S: a draw moving faster is slowed down
    "Throwing": 12000.0,  # the hand at release
    "Swinging": 9000.0,
    "Marching": 7000.0,
}


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


@dataclass(frozen=True)
class MotionStyle:
    """How one subject moves: ``tempo`` scales time (1.25: everything 25 % faster),
    ``amplitude`` scales the upper body's excursions (torso, neck, arms) about their median,
    ``asymmetry`` makes the right arm's larger by that fraction and the left's smaller."""

    tempo: float = 1.0
    amplitude: float = 1.0
    asymmetry: float = 0.0

    def __post_init__(self) -> None:
        if not (0.8 <= self.tempo <= 1.25 and 0.8 <= self.amplitude <= 1.2 and abs(self.asymmetry) <= 0.1):
            raise InputError(f"MotionStyle: tempo 0.8–1.25, amplitude 0.8–1.2, |asymmetry| ≤ 0.1; got {self}")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> MotionStyle:
        return cls(tempo=float(np.exp(rng.uniform(np.log(0.8), np.log(1.25)))),
                   amplitude=float(rng.uniform(0.8, 1.2)), asymmetry=float(rng.uniform(-0.1, 0.1)))

    def apply(self, angles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The upper-body angles scaled, kept within :data:`~.body.ANGLE_LIMITS_DEG`."""
        out = dict(angles)
        for name, value in angles.items():
            if not name.startswith(("torso_", "neck_", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow")):
                continue
            gain = self.amplitude * (1 + {"r": self.asymmetry, "l": -self.asymmetry}.get(name[0], 0.0))
            value = np.asarray(value, np.float64)
            mid = np.median(value)
            out[name] = np.clip(mid + gain * (value - mid), *ANGLE_LIMITS_DEG[name])
        for side in "rl":
            f, a = f"{side}_shoulder_flexion", f"{side}_shoulder_abduction"
            if f in out and a in out:
                shrink = np.minimum(1.0, SHOULDER_SWING_MAX_DEG / np.maximum(np.hypot(out[f], out[a]), 1e-12))
                out[f], out[a] = out[f] * shrink, out[a] * shrink
        return out


# ------------------------------------------------------------------------------- public


def _generator(action: str) -> Generator:
    module, attr = _REGISTRY[action].split(":")
    return getattr(importlib.import_module(f"poseboard.datasets.synthetic.actions.{module}"), attr)


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
    style: MotionStyle | None = None,
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
    plan = _generator(action)(body, t if style is None else t * style.tempo, rng, float(area_radius_mm))
    # put the sequence at a random place where the pelvis stays inside the area
    xy = plan.root[:, :2]
    mid = (xy.min(0) + xy.max(0)) / 2
    room = float(area_radius_mm) - float(np.linalg.norm(xy - mid, axis=-1).max())
    ang, rad = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform()) * max(room, 0.0)
    shift = center + rad * np.array([np.cos(ang), np.sin(ang)]) - mid
    root, feet = plan.root.copy(), plan.feet.copy()
    root[:, :2] += shift
    feet[..., :2] += shift
    angles = dict(plan.angles) if style is None else style.apply(plan.angles)
    angles |= {} if plan.legs_given else solve_leg_ik(
        body, root, plan.yaw, feet,
        pelvis_tilt=angles.get("pelvis_tilt", 0.0), pelvis_list=angles.get("pelvis_list", 0.0),
        hip_rotation=(angles.get("r_hip_rotation", 0.0), angles.get("l_hip_rotation", 0.0)),
        root_pitch=plan.pitch,
    )  # fmt: skip
    angles = {k: np.broadcast_to(np.asarray(v, np.float64), (len(t),)) for k, v in angles.items()}
    poses = forward_kinematics(body, clip_to_limits(angles), root, plan.yaw, root_pitch=plan.pitch)
    # ground: the lowest ankle where the plan puts the lowest foot (on the floor unless airborne);
    # at floor level, lifted further wherever a knee, hand, back or head would go into the floor
    if not plan.legs_given:  # free motion is grounded by its plan (its lowest joint on the floor)
        poses[..., 2] += (feet[..., 2].min(1) - poses[:, [0, 5], 2].min(1))[:, None]
    if plan.clearance is not None:
        poses[..., 2] += np.maximum(0.0, (plan.clearance - poses[..., 2]).max(1))[:, None]
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
    style: MotionStyle | None = None,
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
        style: the subject's :class:`MotionStyle` (tempo, amplitude, asymmetry); ``None``
            leaves the action as drawn.

    Returns:
        A :class:`MotionSequence` with (N, 17, 3) float64 world mm poses, Z up, floor z = 0.
    """
    return generate_sequence_and_angles(
        body, action, num_frames, rng, fps=fps, area_center=area_center,
        area_radius_mm=area_radius_mm, sequence_id=sequence_id, style=style,
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
