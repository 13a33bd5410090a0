"""Retargeting motion capture onto the bodies of the synthetic world.

SURREAL and BEDLAM drive synthetic bodies with real motion; this module does the same for
poseboard's procedural bodies (:mod:`.body`). A source is any (N, 17, 3) sequence of H36M17
joint positions in world millimetres, Z up, floor at z = 0, of any skeleton proportions (its
bones need not even be rigid). Two steps:

1. :func:`angles_from_positions`, the analytical inverse of
   :func:`~.body.forward_kinematics`: joint angles (:data:`~.body.ANGLE_NAMES`, degrees) and the
   root (pelvis position, yaw, pitch) such that forward kinematics on the source's own bones
   reproduces the positions exactly whenever the source is itself such a body.
2. :func:`retarget`: those angles on another body, clipped to :data:`~.body.ANGLE_LIMITS_DEG`,
   the root's travel and height scaled by the leg-length ratio, the feet planted where the
   source's feet are in contact with the floor (:func:`detect_contacts`; legs re-solved with
   :func:`~.body.solve_leg_ik` so a planted foot does not slide), and every frame shifted
   vertically so the lowest planted ankle sits at the body's ankle height. Bones are rigid at
   exactly ``body.bone_lengths``.

Conventions of the inverse (all of :mod:`.body`: at yaw 0 a body faces +y, its right towards +x;
frames are 3×3 matrices whose columns are the segment's x (right), y (forward), z (up) axes):

- **pelvis** frame ``R_root``: its x axis is LHip→RHip. Its rotation about that axis is the one
  for which the lumbar segment, half way (on the rotation geodesic) between the pelvis and the
  thorax frame, points along Pelvis→Spine, as forward kinematics splits the torso angles evenly
  over the lumbar and thoracic segments (a 1-D solve per frame; exact on forward-kinematics
  poses, the least-squares compromise on others).
- **thorax** frame: z along Spine→Thorax, x along LShoulder→RShoulder (made orthogonal to z).
- ``root_yaw`` / forward pitch φ / ``pelvis_list``: ``R_root = Rz(yaw) Rx(−φ) Ry(list)``
  (the branch with |list| ≤ 90°); ``pelvis_tilt`` is φ clipped into its limits and
  ``root_pitch`` the rest (``None`` when it is 0 on every frame: the body stays upright).
- **torso**: the half rotation ``sqrt(R_rootᵀ R_thorax) = Rz(twist/2) Rx(−flexion/2) Ry(lateral/2)``.
- **neck**: the neck/head frame from Thorax→Neck and Neck→Head (the rotation that best maps both
  rest directions onto them), ``R_thoraxᵀ R_neck = Rz(twist) Rx(−flexion) Ry(lateral)``.
- **hip**: the thigh direction ``t`` in the pelvis frame gives ``abduction = asin(±t_x)`` (+ on
  the right, − on the left: the left leg is the mirror image) and ``flexion = atan2(t_y, −t_z)``;
  the shank in the frame of the thigh before its own rotation gives ``knee_flexion`` (the angle
  between thigh and shank) and ``hip_rotation`` (where the knee's plane points).
- **shoulder**: the upper-arm direction ``u`` in the thorax frame is the hanging arm swung by the
  rotation vector ``(flexion, ∓abduction, 0)``: swing θ = angle of ``u`` from straight down,
  ``flexion = θ u_y / sin θ``, ``abduction = ±θ u_x / sin θ``; the forearm in the swung frame gives
  ``elbow_flexion`` and ``shoulder_rotation``.
- Undefined rotations (a knee or elbow straighter than :data:`STRAIGHT_LIMB_DEG`, the arm within
  1e-6 rad of straight overhead, the pelvis within 1e-6 of lying exactly flat, where list and yaw
  coincide) keep the previous frame's value, 0 on the first frames.

Example:
    >>> import numpy as np
    >>> from poseboard.datasets.synthetic.body import SUBJECTS, forward_kinematics
    >>> pose = forward_kinematics(SUBJECTS["S1"], {"r_knee_flexion": 40.0, "torso_twist": 20.0},
    ...                           [0.0, 0.0, 900.0], 30.0)
    >>> a = angles_from_positions(pose)
    >>> round(float(a.angles["r_knee_flexion"][0]), 6), round(float(a.root_yaw[0]), 6)
    (40.0, 30.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from poseboard.datasets.synthetic.body import (
    ANGLE_LIMITS_DEG,
    ANGLE_NAMES,
    SUBJECTS,
    BodyShape,
    _rx,
    _ry,
    clip_to_limits,
    forward_kinematics,
    solve_leg_ik,
)
from poseboard.errors import InputError
from poseboard.skeleton import H36M17

#: A foot is in contact where the source's ankle is at most this far above the source's ankle
#: floor height (the 2nd percentile of the lower ankle's height over the sequence), mm ...
CONTACT_HEIGHT_MM = 30.0
#: ... and moves slower than this (3-D speed, central differences), mm/s ...
CONTACT_SPEED_MM_S = 150.0
#: ... for at least this long (shorter runs are dropped), seconds.
MIN_CONTACT_S = 0.06
#: A planted ankle's target blends back to where the angles put it over this long on either
#: side of a contact run, seconds (no jump at touch-down or lift-off).
BLEND_S = 0.1
#: Below this knee / elbow flexion the limb counts as straight: its rotation is undefined and
#: keeps the previous frame's value, degrees.
STRAIGHT_LIMB_DEG = 5.0
#: An angle counts as clipped when clipping moved it by more than this, degrees.
CLIP_TOLERANCE_DEG = 1e-6
#: The source's legs (hip → knee → ankle, median over frames) must measure this much, mm:
#: outside it the positions are not millimetres (metres give ~0.9, centimetres ~90).
LEG_LENGTH_RANGE_MM = (300.0, 1500.0)

_J = {name: i for i, name in enumerate(H36M17.joint_names)}
#: (side, mirror sign, hip, knee, ankle) and (side, mirror sign, shoulder, elbow, wrist)
_LEGS = (("r", 1.0, _J["RHip"], _J["RKnee"], _J["RAnkle"]), ("l", -1.0, _J["LHip"], _J["LKnee"], _J["LAnkle"]))
_ARMS = (
    ("r", 1.0, _J["RShoulder"], _J["RElbow"], _J["RWrist"]),
    ("l", -1.0, _J["LShoulder"], _J["LElbow"], _J["LWrist"]),
)
_ANKLES = [_J["RAnkle"], _J["LAnkle"]]
#: Rest directions of Thorax→Neck and Neck→Head in the neck frame: the same for every body
#: (a body's rest offsets are its bone lengths times fixed unit directions).
_NECK_REST = SUBJECTS["S1"].rest_offsets[_J["Neck"]] / np.linalg.norm(SUBJECTS["S1"].rest_offsets[_J["Neck"]])
_HEAD_REST = SUBJECTS["S1"].rest_offsets[_J["Head"]] / np.linalg.norm(SUBJECTS["S1"].rest_offsets[_J["Head"]])
_PELVIS_GRID = 36  # starting values of the pelvis solve, every 10°
_PELVIS_ITERATIONS = 30


@dataclass(frozen=True, eq=False)
class RetargetAngles:
    """Joint angles and root of a sequence, as :func:`~.body.forward_kinematics` takes them.

    Attributes:
        angles: every name of :data:`~.body.ANGLE_NAMES` → (N,) degrees (not clipped; only
            ``pelvis_tilt`` is within its limits by construction, see ``root_pitch``).
        root_position: (N, 3) world mm, the Pelvis joint.
        root_yaw: (N,) degrees counter-clockwise about +z (0 faces +y), unwrapped over time.
        root_pitch: (N,) degrees, the part of the pelvis's forward pitch beyond
            ``pelvis_tilt``'s limits (lying, hand stands), or ``None`` when that is 0 throughout.
    """

    angles: dict[str, np.ndarray]
    root_position: np.ndarray
    root_yaw: np.ndarray
    root_pitch: np.ndarray | None


@dataclass(frozen=True, eq=False)
class RetargetResult:
    """A sequence retargeted onto ``body_name`` by :func:`retarget`.

    Attributes:
        poses: (N, 17, 3) float64 world mm, Z up, floor at z = 0, H36M17 order; every frame has
            exactly the body's bone lengths.
        angles: name → (N,) degrees, the angles that drive ``poses`` (within the limits).
        root_position, root_yaw, root_pitch: as :class:`RetargetAngles`, on the target (the root
            position after the vertical shift: ``poses`` is exactly their forward kinematics).
        contacts: (N, 2) bool, right and left foot in contact with the floor (detected on the
            source; the ankle is planted on these frames).
        leg_ratio: the target's leg length (hip → knee → ankle) over the source's.
        clipped_values: how many (frame, angle) values of the source's angles clipping moved
            (by more than :data:`CLIP_TOLERANCE_DEG`), including the shoulder swing;
            ``clipped_by_angle`` per name; ``max_clip_deg`` the largest move (degrees).
        ik_clipped_values: the same for the leg angles the foot planting solved.
        max_foot_slide_mm: the largest horizontal distance of a planted ankle from where it
            was on the first frame of its contact run, mm (its height follows the source's heel,
            within :data:`CONTACT_HEIGHT_MM` of the floor).
        max_joint_speed_mm_s: the fastest joint between two frames, mm/s.
        frames_airborne: frames whose lowest ankle is more than :data:`CONTACT_HEIGHT_MM` above
            the body's ankle height (both feet off the floor; a rolling heel is not airborne).
    """

    body_name: str
    fps: float
    poses: np.ndarray
    angles: dict[str, np.ndarray]
    root_position: np.ndarray
    root_yaw: np.ndarray
    root_pitch: np.ndarray | None
    contacts: np.ndarray
    leg_ratio: float
    clipped_values: int
    clipped_by_angle: dict[str, int]
    max_clip_deg: float
    ik_clipped_values: int
    max_foot_slide_mm: float
    max_joint_speed_mm_s: float
    frames_airborne: int


# ------------------------------------------------------------------------------ validation


def _check_poses(poses: Any, where: str) -> np.ndarray:
    """(N, 17, 3) float64 world mm, or an :class:`InputError` saying what to fix."""
    try:
        p = np.array(poses, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: expected a numeric (N, 17, 3) array of joint positions, mm") from err
    if p.ndim != 3 or p.shape[1:] != (17, 3) or p.shape[0] < 1:
        raise InputError(
            f"{where}: expected shape (N, 17, 3) (frames, H36M17 joints, xyz mm) with N ≥ 1, got {p.shape}; "
            "map other joint orders with poseboard.skeleton.TO_CANONICAL"
        )
    bad = ~np.isfinite(p).all(axis=(1, 2))
    if bad.any():
        raise InputError(f"{where}: NaN or inf in {int(bad.sum())} frame(s), first frame {int(np.argmax(bad))}; "
                         "fill or drop those frames first")
    leg = np.median(_leg_lengths(p))
    lo, hi = LEG_LENGTH_RANGE_MM
    if not lo <= leg <= hi:
        hint = " (metres? multiply by 1000)" if leg < 5 else " (centimetres? multiply by 10)" if leg < lo else ""
        raise InputError(f"{where}: the legs (hip → knee → ankle) measure {leg:.4g} on the median frame; "
                         f"positions must be millimetres, legs {lo:.0f}–{hi:.0f} mm{hint}")
    # upside down on most frames: Z points down (a sequence may lie on the floor: no more is asked)
    rise = float(np.median(p[:, _J["Pelvis"], 2] - p[:, _ANKLES, 2].mean(1)))
    if rise < -0.3 * leg:
        raise InputError(f"{where}: the pelvis is {-rise:.0f} mm below the ankles on the median frame (legs "
                         f"{leg:.0f} mm): the world frame must have Z up (rotate the poses, e.g. with "
                         "poseboard.datasets.axes.up_to_z)")
    bones = H36M17.bone_lengths(p)
    if (bones < 1e-6).any():
        f, b = np.argwhere(bones < 1e-6)[0]
        par, ch = H36M17.bones[b]
        raise InputError(f"{where}: frame {f}: {H36M17.joint_names[par]} and {H36M17.joint_names[ch]} coincide; "
                         "every bone needs a length")
    return p


def _leg_lengths(p: np.ndarray) -> np.ndarray:
    """(N,) mean over both legs of hip → knee + knee → ankle, mm."""
    total = np.zeros(len(p))
    for _, _, hip, knee, ankle in _LEGS:
        total += np.linalg.norm(p[:, knee] - p[:, hip], axis=-1) + np.linalg.norm(p[:, ankle] - p[:, knee], axis=-1)
    return total / 2


# ------------------------------------------------------------------------------- rotations


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-300)


def _frame(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(N, 3, 3) right-handed frames (columns x, y, z): z along ``z``, x along ``x`` made
    orthogonal to it."""
    z = _unit(z)
    x = _unit(x - (x * z).sum(-1, keepdims=True) * z)
    return np.stack([x, np.cross(z, x), z], -1)


def _hold(values: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """``values`` where ``defined``, else the last defined value before (0 before the first)."""
    idx = np.maximum.accumulate(np.where(defined, np.arange(len(values)), -1))
    return np.where(idx >= 0, values[np.maximum(idx, 0)], 0.0)


def _zxy(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 3, 3) ``Rz(a) Rx(b) Ry(c)`` → (a, b, c) radians, the branch with |c| ≤ 90°. At
    gimbal lock (|cos b| < 1e-6: a and c turn about the same axis) c keeps its previous value."""
    s = np.where(r[:, 2, 2] >= 0, 1.0, -1.0)  # the sign of cos b that makes cos c ≥ 0
    b = np.arctan2(r[:, 2, 1], s * np.hypot(r[:, 2, 0], r[:, 2, 2]))
    c = _hold(np.arctan2(-s * r[:, 2, 0], s * r[:, 2, 2]), np.hypot(r[:, 2, 0], r[:, 2, 2]) > 1e-6)
    m = r @ _ry(-c)  # = Rz(a) Rx(b)
    return np.arctan2(m[:, 1, 0], m[:, 0, 0]), b, c


def _half(q: np.ndarray) -> np.ndarray:
    """(M, 3, 3) → the principal square roots (half the rotation angle about the same axis)."""
    return Rotation.from_rotvec(Rotation.from_matrix(q).as_rotvec() / 2).as_matrix()


def _solve_pelvis(x_hip: np.ndarray, thorax: np.ndarray, lumbar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pelvis frame (x along ``x_hip``) whose half-way frame towards ``thorax`` has its z
    axis along ``lumbar`` (unit Pelvis→Spine): (N, 3, 3) pelvis frames and the half rotations.

    One unknown per frame, the pelvis's rotation θ about its x axis: the best of a 10° grid,
    then Gauss-Newton on the 3-vector residual (exact to rounding on forward-kinematics poses).
    """
    n = len(x_hip)
    x = _unit(x_hip)
    up = lumbar - (lumbar * x).sum(-1, keepdims=True) * x
    # θ = 0: the pelvis's z axis along Pelvis→Spine (along the thorax's if that lies on the hip line)
    up = np.where(np.linalg.norm(up, axis=-1, keepdims=True) > 1e-9, up, thorax[:, :, 2])
    up = _unit(up - (up * x).sum(-1, keepdims=True) * x)
    base = np.stack([x, np.cross(up, x), up], -1)

    def residual(theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = base[idx] @ _rx(theta)
        h = _half(np.swapaxes(r, -1, -2) @ thorax[idx])
        return (r @ h)[:, :, 2] - lumbar[idx], r, h

    grid = np.linspace(-np.pi, np.pi, _PELVIS_GRID, endpoint=False)
    idx = np.repeat(np.arange(n), _PELVIS_GRID)
    res, _, _ = residual(np.tile(grid, n), idx)
    theta = grid[np.linalg.norm(res, axis=-1).reshape(n, _PELVIS_GRID).argmin(1)]
    frames = np.arange(n)
    eps = 1e-6
    for _ in range(_PELVIS_ITERATIONS):
        res, _, _ = residual(theta, frames)
        jac = (residual(theta + eps, frames)[0] - residual(theta - eps, frames)[0]) / (2 * eps)
        step = -(jac * res).sum(-1) / np.maximum((jac * jac).sum(-1), 1e-300)
        theta = theta + np.clip(step, -0.5, 0.5)
        if np.abs(step).max() < 1e-13:
            break
    _, r, h = residual(theta, frames)
    return r, h


def _two_vector_frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3, 3) frames of pairs of directions: x along their bisector, z along their plane's
    normal. ``F_world F_restᵀ`` maps the rest pair onto the world pair (exactly when both pairs
    make the same angle; otherwise each is off by half the difference, the least-squares
    rotation for two equally weighted directions)."""
    a, b = _unit(a), _unit(b)
    return _frame(a + b, np.cross(a, b))


# ------------------------------------------------------------------------------- inverse


def angles_from_positions(poses: Any) -> RetargetAngles:
    """Joint angles and root of :func:`~.body.forward_kinematics` from joint positions.

    Args:
        poses: (N, 17, 3) world mm, Z up, H36M17 order; any proportions (the angles only look
            at bone directions).

    Returns:
        A :class:`RetargetAngles`: forward kinematics of these angles on the source's own bone
        lengths gives back ``poses`` exactly (to rounding) when ``poses`` come from forward
        kinematics with knees and elbows bent at least :data:`STRAIGHT_LIMB_DEG`; the module
        docstring lists the conventions.

    Raises:
        InputError: wrong shape, NaN/inf, not millimetres, not Z up, or coincident joints.
    """
    p = _check_poses(poses, "angles_from_positions: poses")
    n = len(p)
    j = _J
    thorax = _frame(p[:, j["RShoulder"]] - p[:, j["LShoulder"]], p[:, j["Thorax"]] - p[:, j["Spine"]])
    r_root, half = _solve_pelvis(_unit(p[:, j["RHip"]] - p[:, j["LHip"]]), thorax,
                                 _unit(p[:, j["Spine"]] - p[:, j["Pelvis"]]))
    yaw, minus_phi, lst = _zxy(r_root)
    phi = -np.degrees(minus_phi)
    tilt = np.clip(phi, *ANGLE_LIMITS_DEG["pelvis_tilt"])
    pitch = phi - tilt
    out: dict[str, np.ndarray] = {"pelvis_tilt": tilt, "pelvis_list": np.degrees(lst)}

    twist, minus_flex, lateral = _zxy(half)
    out |= {"torso_twist": 2 * np.degrees(twist), "torso_flexion": -2 * np.degrees(minus_flex),
            "torso_lateral": 2 * np.degrees(lateral)}
    neck_world = _two_vector_frame(p[:, j["Neck"]] - p[:, j["Thorax"]], p[:, j["Head"]] - p[:, j["Neck"]])
    neck_rest = _two_vector_frame(_NECK_REST[None], _HEAD_REST[None])
    r_neck = np.swapaxes(thorax, -1, -2) @ neck_world @ np.swapaxes(neck_rest, -1, -2)
    twist, minus_flex, lateral = _zxy(r_neck)
    out |= {"neck_twist": np.degrees(twist), "neck_flexion": -np.degrees(minus_flex),
            "neck_lateral": np.degrees(lateral)}

    straight = np.radians(STRAIGHT_LIMB_DEG)
    root_t = np.swapaxes(r_root, -1, -2)
    for side, m, hip, knee, ankle in _LEGS:
        t = np.einsum("nij,nj->ni", root_t, _unit(p[:, knee] - p[:, hip]))  # thigh, pelvis frame
        abd = np.arctan2(m * t[:, 0], np.hypot(t[:, 1], t[:, 2]))
        flex = np.arctan2(t[:, 1], -t[:, 2])
        h0 = r_root @ _rx(flex) @ _ry(-m * abd)  # the thigh's frame before its own rotation
        s = np.einsum("nji,nj->ni", h0, _unit(p[:, ankle] - p[:, knee]))
        k = np.arctan2(np.hypot(s[:, 0], s[:, 1]), -s[:, 2])
        rot = _hold(m * np.arctan2(s[:, 0], -s[:, 1]), k >= straight)
        out |= {f"{side}_hip_flexion": np.degrees(flex), f"{side}_hip_abduction": np.degrees(abd),
                f"{side}_hip_rotation": np.degrees(rot), f"{side}_knee_flexion": np.degrees(k)}

    thorax_t = np.swapaxes(thorax, -1, -2)
    for side, m, shoulder, elbow, wrist in _ARMS:
        u = np.einsum("nij,nj->ni", thorax_t, _unit(p[:, elbow] - p[:, shoulder]))
        sin_t = np.hypot(u[:, 0], u[:, 1])
        theta = np.arctan2(sin_t, -u[:, 2])  # swing away from hanging straight down
        ratio = np.where(sin_t > 1e-12, theta / np.maximum(sin_t, 1e-300), 1.0)
        axis_defined = theta < np.pi - 1e-6  # straight overhead: the swing's axis is lost
        flex = _hold(ratio * u[:, 1], axis_defined)
        abd = _hold(m * ratio * u[:, 0], axis_defined)
        swing = Rotation.from_rotvec(np.stack([flex, -m * abd, np.zeros(n)], -1)).as_matrix()
        f = np.einsum("nji,nj->ni", thorax @ swing, _unit(p[:, wrist] - p[:, elbow]))
        e = np.arctan2(np.hypot(f[:, 0], f[:, 1]), -f[:, 2])
        rot = _hold(m * np.arctan2(-f[:, 0], f[:, 1]), e >= straight)
        out |= {f"{side}_shoulder_flexion": np.degrees(flex), f"{side}_shoulder_abduction": np.degrees(abd),
                f"{side}_shoulder_rotation": np.degrees(rot), f"{side}_elbow_flexion": np.degrees(e)}

    return RetargetAngles(
        angles={name: out[name] for name in ANGLE_NAMES},
        root_position=p[:, j["Pelvis"]].copy(),
        root_yaw=np.degrees(np.unwrap(yaw)),
        root_pitch=pitch if np.any(np.abs(pitch) > 1e-9) else None,
    )


# ------------------------------------------------------------------------------ retarget


def _clip_stats(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> tuple[dict[str, int], float]:
    moved = {k: np.abs(np.asarray(after[k]) - np.asarray(before[k])) for k in before}
    counts = {k: int((v > CLIP_TOLERANCE_DEG).sum()) for k, v in moved.items()}
    return counts, float(max((v.max(initial=0.0) for v in moved.values()), default=0.0))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def detect_contacts(poses: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
    """Foot contacts of a (N, 17, 3) world-mm sequence: (N, 2) bool (right, left ankle) and the
    ankle's floor height (mm) they were measured from.

    A foot is in contact where its ankle is within :data:`CONTACT_HEIGHT_MM` of the floor height
    (the 2nd percentile over frames of the lower ankle's height: robust to a few bad frames,
    and the ankle's height when standing for any proportions) and slower than
    :data:`CONTACT_SPEED_MM_S`, for at least :data:`MIN_CONTACT_S`.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"detect_contacts: fps must be a positive number of frames per second, got {fps!r}")
    ankles = _check_poses(poses, "detect_contacts: poses")[:, _ANKLES]
    floor = float(np.percentile(ankles[..., 2].min(1), 2))
    speed = np.linalg.norm(np.gradient(ankles, axis=0), axis=-1) * fps if len(poses) > 1 else np.zeros((1, 2))
    contact = (ankles[..., 2] - floor <= CONTACT_HEIGHT_MM) & (speed < CONTACT_SPEED_MM_S)
    shortest = max(1, round(MIN_CONTACT_S * fps))
    for foot in range(2):
        for start, stop in _runs(contact[:, foot]):
            if stop - start < shortest:
                contact[start:stop, foot] = False
    return contact, floor


def _planted_targets(natural: np.ndarray, contacts: np.ndarray, ankle_height: float,
                     fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Ankle targets (N, 2, 3) and their weight (N, 2) in [0, 1].

    During a contact run the ankle is held at one point horizontally (its mean there) and
    vertically where the angles put it but never below the floor (z ≥ ankle height): a heel the
    source rolls up stays up (forcing it down would snap a nearly straight knee straight), and
    the vertical shift of :func:`retarget` then stands the lowest planted ankle on the floor.
    Over :data:`BLEND_S` on either side the correction of the run's first / last frame fades
    out on top of ``natural`` (overlapping fades are normalised): no jump, no early drag."""
    n = len(natural)
    ramp = max(1, round(BLEND_S * fps))
    targets = natural.copy()
    weight = np.zeros((n, 2))
    frames = np.arange(n)
    for foot in range(2):
        offset = np.zeros((n, 3))
        total = np.zeros(n)
        for start, stop in _runs(contacts[:, foot]):
            dist = np.maximum(start - frames, frames - (stop - 1)).clip(min=0)
            w = np.clip(1.0 - dist / (ramp + 1), 0.0, 1.0)
            w[contacts[:, foot] & (dist > 0)] = 0.0  # a fade never reaches into another run
            nearest = natural[np.clip(frames, start, stop - 1), foot]  # natural_t inside the run
            correction = np.zeros((n, 3))
            correction[:, :2] = natural[start:stop, foot, :2].mean(0) - nearest[:, :2]
            correction[:, 2] = np.maximum(ankle_height - nearest[:, 2], 0.0)
            offset += w[:, None] * correction
            total += w
        targets[:, foot] += offset / np.maximum(total, 1.0)[:, None]
        weight[:, foot] = np.minimum(total, 1.0)
    return targets, weight


def retarget(poses: Any, body: BodyShape, fps: float, *, rng: np.random.Generator | None = None) -> RetargetResult:
    """Motion capture on one body of the synthetic world.

    Args:
        poses: (N, 17, 3) source joints, world mm, Z up, floor at z = 0, H36M17 order, any
            proportions.
        body: the target (e.g. from :func:`~.body.training_bodies`).
        fps: frames per second of ``poses`` (> 0).
        rng: ``None`` keeps the source's heading; a generator turns the whole sequence about the
            vertical through its mean pelvis by a uniform random angle (as SURREAL randomises
            the body's orientation), the only randomness here.

    Steps: :func:`angles_from_positions`, clipped by :func:`~.body.clip_to_limits`; the root's
    horizontal travel about its mean and its height above the source's ankle floor height scaled
    by the leg-length ratio (target / source, hip → knee → ankle); contacts from
    :func:`detect_contacts`; forward kinematics on ``body``, the ankles of each contact run held
    at one point horizontally (their height following the source's heel, never below the
    floor) and the legs re-solved with :func:`~.body.solve_leg_ik` (hip rotation as
    retargeted); each frame shifted vertically so the lowest planted ankle is at
    ``body.ankle_height_mm`` (interpolated between contact frames; never an ankle below it).

    Returns:
        A :class:`RetargetResult` with the poses and the statistics.
    """
    if not isinstance(body, BodyShape):
        raise InputError(f"retarget: body must be a BodyShape (e.g. from training_bodies), got {type(body).__name__}")
    if not (isinstance(fps, int | float | np.number) and np.isfinite(fps) and fps > 0):
        raise InputError(f"retarget: fps must be a positive number of frames per second, got {fps!r}")
    fps = float(fps)
    src = _check_poses(poses, "retarget: poses")
    if len(src) < 2:
        raise InputError(f"retarget: poses needs at least 2 frames, got {len(src)}")
    n = len(src)
    inverse = angles_from_positions(src)
    angles = clip_to_limits(inverse.angles)
    clipped_by_angle, max_clip = _clip_stats(inverse.angles, angles)
    pitch = inverse.root_pitch

    legs = [body.bone_length(k) + body.bone_length(a) for k, a in (("RKnee", "RAnkle"), ("LKnee", "LAnkle"))]
    ratio = float(np.mean(legs) / np.median(_leg_lengths(src)))
    contacts, floor = detect_contacts(src, fps)
    ankle_height = float(body.ankle_height_mm)
    anchor = inverse.root_position[:, :2].mean(0)
    root = np.empty((n, 3))
    root[:, :2] = anchor + ratio * (inverse.root_position[:, :2] - anchor)
    root[:, 2] = ankle_height + ratio * (inverse.root_position[:, 2] - floor)
    yaw = inverse.root_yaw.copy()
    if rng is not None:
        heading = rng.uniform(0.0, 360.0)
        c, s = np.cos(np.radians(heading)), np.sin(np.radians(heading))
        root[:, :2] = anchor + (root[:, :2] - anchor) @ np.array([[c, s], [-s, c]])
        yaw += heading

    natural = forward_kinematics(body, angles, root, yaw, root_pitch=pitch)[:, _ANKLES]
    targets, weight = _planted_targets(natural, contacts, ankle_height, fps)
    ik = solve_leg_ik(body, root, yaw, targets, pelvis_tilt=angles["pelvis_tilt"],
                      pelvis_list=angles["pelvis_list"], root_pitch=pitch,
                      hip_rotation=(angles["r_hip_rotation"], angles["l_hip_rotation"]))
    solved = dict(angles)
    for foot, side in enumerate("rl"):
        for name in (f"{side}_hip_flexion", f"{side}_hip_abduction", f"{side}_knee_flexion"):
            solved[name] = np.where(weight[:, foot] > 0, ik[name], angles[name])
    final = clip_to_limits(solved)
    ik_clipped = sum(_clip_stats(solved, final)[0].values())
    pos = forward_kinematics(body, final, root, yaw, root_pitch=pitch)

    ankle_z = pos[:, _ANKLES, 2]
    planted = contacts.any(1)
    if planted.any():
        lowest = np.where(contacts, ankle_z, np.inf).min(1)
        shift = np.interp(np.arange(n), np.flatnonzero(planted), ankle_height - lowest[planted])
    else:
        shift = np.full(n, ankle_height - ankle_z.min())
    shift = np.maximum(shift, ankle_height - ankle_z.min(1))  # no ankle through the floor
    pos[..., 2] += shift[:, None]
    root[:, 2] += shift

    slide = 0.0
    for foot in range(2):
        for start, stop in _runs(contacts[:, foot]):
            a = pos[start:stop, _ANKLES[foot], :2]
            slide = max(slide, float(np.linalg.norm(a - a[0], axis=-1).max()))
    return RetargetResult(
        body_name=body.name, fps=fps, poses=pos, angles=final, root_position=root, root_yaw=yaw,
        root_pitch=pitch, contacts=contacts, leg_ratio=ratio,
        clipped_values=sum(clipped_by_angle.values()), clipped_by_angle=clipped_by_angle, max_clip_deg=max_clip,
        ik_clipped_values=ik_clipped, max_foot_slide_mm=slide,
        max_joint_speed_mm_s=float((np.linalg.norm(np.diff(pos, axis=0), axis=-1) * fps).max()),
        frames_airborne=int((ankle_z.min(1) + shift > ankle_height + CONTACT_HEIGHT_MM).sum()),
    )  # fmt: skip
