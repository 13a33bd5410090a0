"""A small ray-casting renderer for the synthetic world: dressed capsule people, occluders, a room.

What it draws (world mm, Z up, floor at z = 0):

* a person as capsules: one per bone of :data:`~poseboard.skeleton.H36M17` (radii from the
  body shape), two side capsules and a hip bar that fill the torso, a head sphere with hair,
  hands and shoes. Clothes follow a person's :class:`Appearance`: skin per subject, shirt,
  trousers and shoes per sequence; left and right sides have the same colours, so a left/right
  confusion is as easy to make as in real images;
* occluders ("distractors"): vertical poles and boxes standing on the floor;
* a room: a tiled floor and a panelled wall, Lambertian shading under one directional light
  plus ambient, per-image colour jitter and sensor noise.

How (the only geometry code path, used for crops and whole images alike):

* every output pixel casts the ray of its *undistorted* normalised coordinates
  ``(x, y, 1)`` (the inverse of the camera's OpenCV distortion, evaluated exactly on a coarse
  grid and interpolated bilinearly), so ``Camera.project(X, distort=True)`` of a point on
  a surface lands on the pixel that shows it;
* the parameter along ``(x, y, 1)`` is the camera-frame depth z, which the z-buffer keeps;
* work is culled by 16×16 pixel tiles: a (tile, primitive) pair is evaluated only when their
  conservative bounds overlap, and all pairs of a batch of views are evaluated at once
  (torch, float32, no per-pixel Python loops). Only correctly rounded arithmetic is used on
  the pixel tensors, so the images do not depend on the number of threads nor on the CPU's
  instruction set (``ATEN_CPU_CAPABILITY``): no kernel that fuses multiply-adds (FMA) in its
  AVX2/AVX-512 builds (``F.interpolate``, ``Tensor.norm``) touches them.

Example:
    >>> from poseboard.camera import Camera
    >>> cam = Camera.look_at([0, -4000, 1000], [0, 0, 1000], 400, (64, 64))
    >>> prims = Primitives.from_capsules([[0, 0, 500]], [[0, 0, 1500]], [150], [[0.8, 0.2, 0.2]])
    >>> out = render_views([Scene(prims, Background.plain())], [ViewJob(cam, 0)])
    >>> out.images.shape, bool(out.owner[0, 32, 32] == 0)
    ((1, 3, 64, 64), True)
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from poseboard.camera import Camera
from poseboard.errors import InputError, check_shape
from poseboard.skeleton import H36M17

#: (parent, child) joint pairs of H36M17, in the order of ``BodyShape.limb_radii``.
BONES: tuple[tuple[int, int], ...] = H36M17.bones
NUM_JOINTS = H36M17.num_joints
J = {name: i for i, name in enumerate(H36M17.joint_names)}

#: Owner id of occluder pixels in ``RenderResult.owner`` (people are 0, 1, ...; nothing is -1).
DISTRACTOR = -2
NOTHING = -1

_NEAR_MM = 10.0  # primitives with a corner closer than this to the camera plane are never culled
_COARSE_STEP_PX = 8  # spacing of the exact undistortion grid that is interpolated per pixel
_PIXELS_PER_CHUNK = 1 << 17  # images are assembled this many pixels at a time

Color = tuple[float, float, float]


# --------------------------------------------------------------------------- appearance
_SKIN_TONES: tuple[Color, ...] = (
    (0.96, 0.80, 0.69), (0.90, 0.71, 0.57), (0.80, 0.60, 0.45), (0.68, 0.49, 0.35),
    (0.55, 0.38, 0.26), (0.42, 0.29, 0.20), (0.31, 0.21, 0.15),
)
_HAIR: tuple[Color, ...] = (
    (0.08, 0.06, 0.05), (0.20, 0.13, 0.08), (0.38, 0.25, 0.13), (0.62, 0.48, 0.28),
    (0.55, 0.53, 0.50), (0.45, 0.18, 0.08),
)
_SHOES: tuple[Color, ...] = ((0.07, 0.07, 0.07), (0.85, 0.85, 0.83), (0.30, 0.18, 0.10), (0.20, 0.22, 0.28))


def _hsv(rng: np.random.Generator, h: tuple[float, float], s: tuple[float, float], v: tuple[float, float]) -> Color:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(*h) % 1.0, rng.uniform(*s), rng.uniform(*v))
    return (float(r), float(g), float(b))


def skin_tone(rng: np.random.Generator) -> Color:
    """A skin colour (RGB in [0, 1]): one of a palette of tones, slightly varied."""
    base = np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))])
    return tuple(float(c) for c in np.clip(base * rng.uniform(0.93, 1.07), 0, 1))  # type: ignore[return-value]


def hair_color(rng: np.random.Generator) -> Color:
    """A hair colour (RGB in [0, 1]) from a small palette."""
    return _HAIR[int(rng.integers(len(_HAIR)))]


@dataclass(frozen=True)
class Appearance:
    """How a person is dressed (RGB albedos in [0, 1]); the same on the left and right sides."""

    skin: Color
    hair: Color
    shirt: Color
    trousers: Color
    shoes: Color
    long_sleeves: bool = True
    shorts: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator, skin: Color | None = None, hair: Color | None = None) -> Appearance:
        """Clothes drawn from ``rng``; ``skin``/``hair`` fixed per subject when given."""
        shirt = _hsv(rng, (0.0, 1.0), (0.15, 0.85), (0.25, 0.95))
        if rng.random() < 0.6:  # jeans, chinos, dark trousers
            trousers = _hsv(rng, (0.55, 0.68), (0.2, 0.7), (0.15, 0.55))
        else:
            trousers = _hsv(rng, (0.0, 1.0), (0.0, 0.5), (0.1, 0.7))
        return cls(
            skin=skin if skin is not None else skin_tone(rng),
            hair=hair if hair is not None else hair_color(rng),
            shirt=shirt, trousers=trousers, shoes=_SHOES[rng.integers(len(_SHOES))],
            long_sleeves=bool(rng.random() < 0.55), shorts=bool(rng.random() < 0.2),
        )


# --------------------------------------------------------------------------- primitives
@dataclass
class Primitives:
    """Capsules and oriented boxes in world mm, with an albedo and an owner each.

    Attributes:
        cap_a, cap_b: (P, 3) capsule end points, world mm.
        cap_r: (P,) capsule radii, mm.
        cap_color: (P, 3) RGB albedo in [0, 1].
        cap_owner: (P,) int, person index (0, 1, ...) or :data:`DISTRACTOR`.
        box_center: (Q, 3) world mm; box_axes: (Q, 3, 3) rows are the box's unit axes (world);
        box_half: (Q, 3) half extents along those axes, mm; box_color (Q, 3); box_owner (Q,).
    """

    cap_a: np.ndarray
    cap_b: np.ndarray
    cap_r: np.ndarray
    cap_color: np.ndarray
    cap_owner: np.ndarray
    box_center: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_axes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 3)))
    box_half: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_color: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def __post_init__(self) -> None:
        self.cap_a = np.asarray(self.cap_a, dtype=np.float64).reshape(-1, 3)
        self.cap_b = np.asarray(self.cap_b, dtype=np.float64).reshape(-1, 3)
        p = self.cap_a.shape[0]
        self.cap_r = np.asarray(self.cap_r, dtype=np.float64).reshape(p)
        self.cap_color = np.asarray(self.cap_color, dtype=np.float64).reshape(p, 3)
        self.cap_owner = np.asarray(self.cap_owner, dtype=np.int32).reshape(p)
        check_shape(self.cap_b, [p, 3], "capsule end points b")
        q = np.asarray(self.box_center).reshape(-1, 3).shape[0]
        self.box_center = np.asarray(self.box_center, dtype=np.float64).reshape(q, 3)
        self.box_axes = np.asarray(self.box_axes, dtype=np.float64).reshape(q, 3, 3)
        self.box_half = np.asarray(self.box_half, dtype=np.float64).reshape(q, 3)
        self.box_color = np.asarray(self.box_color, dtype=np.float64).reshape(q, 3)
        self.box_owner = np.asarray(self.box_owner, dtype=np.int32).reshape(q)
        if np.any(self.cap_r <= 0) or np.any(self.box_half <= 0):
            raise InputError("primitives: radii and box half extents must be positive")
        for name in ("cap_a", "cap_b", "cap_r", "box_center", "box_axes", "box_half"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise InputError(f"primitives: {name} contains NaN or inf")

    @classmethod
    def from_capsules(cls, a, b, r, color, owner: int | Sequence[int] = 0) -> Primitives:
        a = np.asarray(a, dtype=np.float64).reshape(-1, 3)
        owners = np.broadcast_to(np.asarray(owner, dtype=np.int32), (a.shape[0],))
        return cls(cap_a=a, cap_b=b, cap_r=r, cap_color=color, cap_owner=owners)

    @property
    def num_capsules(self) -> int:
        return int(self.cap_a.shape[0])

    @property
    def num_boxes(self) -> int:
        return int(self.box_center.shape[0])

    @staticmethod
    def concat(parts: Sequence[Primitives]) -> Primitives:
        if not parts:
            return Primitives(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros(0))
        cat = np.concatenate
        return Primitives(
            cap_a=cat([p.cap_a for p in parts]), cap_b=cat([p.cap_b for p in parts]),
            cap_r=cat([p.cap_r for p in parts]), cap_color=cat([p.cap_color for p in parts]),
            cap_owner=cat([p.cap_owner for p in parts]),
            box_center=cat([p.box_center for p in parts]), box_axes=cat([p.box_axes for p in parts]),
            box_half=cat([p.box_half for p in parts]), box_color=cat([p.box_color for p in parts]),
            box_owner=cat([p.box_owner for p in parts]),
        )

    def extent_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Points (M, 3) and radii (M,) whose spheres cover every primitive (for boxes: corners, 0)."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        corners = self.box_center[:, None, :] + np.einsum("ki,qi,qij->qkj", signs, self.box_half, self.box_axes)
        points = np.concatenate([self.cap_a, self.cap_b, corners.reshape(-1, 3)])
        radii = np.concatenate([self.cap_r, self.cap_r, np.zeros(corners.shape[0] * 8)])
        return points, radii


class BodyShapeLike:  # documentation only: what the renderer reads from a body shape
    """Any object with ``height_mm``, ``limb_radii`` (16,) mm per bone and ``head_radius_mm``."""

    height_mm: float
    limb_radii: np.ndarray
    head_radius_mm: float


def _segment_distances(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (M,) from a point (3,) to segments a[k]–b[k] (M, 3)."""
    ab, ap = b - a, p - a
    h = np.clip((ap * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(ap - h[:, None] * ab, axis=1)


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-6 else fallback


def figure_primitives(
    joints: np.ndarray, shape: BodyShapeLike, appearance: Appearance, owner: int = 0
) -> tuple[Primitives, np.ndarray]:
    """The capsules of one dressed person, and each joint's depth tolerance for visibility.

    Args:
        joints: (17, 3) H36M17 joints, world mm (Z up).
        shape: the person's body shape (``limb_radii`` per bone of ``H36M17.bones``, mm).
        appearance: clothes and skin.
        owner: the person's index in the scene.

    Returns:
        ``(primitives, tolerance)`` with ``tolerance`` (17,) mm: a joint counts as visible when
        the nearest surface along its pixel's ray is at most this much in front of it (the
        joint sits inside its own limbs, about one radius behind their surface).
    """
    check_shape(joints, [NUM_JOINTS, 3], "joints")
    x = np.asarray(joints, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise InputError("figure_primitives: joints contain NaN or inf")
    radii = np.asarray(shape.limb_radii, dtype=np.float64).reshape(-1)
    if radii.shape[0] != len(BONES):
        raise InputError(f"body shape: limb_radii must have {len(BONES)} entries (one per bone), got {radii.shape[0]}")
    height = float(shape.height_mm)
    head_r = float(shape.head_radius_mm)
    ap = appearance
    bone_radius = {bone: float(r) for bone, r in zip(BONES, radii, strict=True)}
    up = np.array([0.0, 0.0, 1.0])

    legs = {(J["RKnee"], J["RAnkle"]), (J["LKnee"], J["LAnkle"])}
    thighs = {(J["RHip"], J["RKnee"]), (J["LHip"], J["LKnee"])}
    forearms = {(J["RElbow"], J["RWrist"]), (J["LElbow"], J["LWrist"])}
    pelvis_bones = {(J["Pelvis"], J["RHip"]), (J["Pelvis"], J["LHip"])}
    skin_bones = {(J["Thorax"], J["Neck"])}
    torso_bones = pelvis_bones | {(J["Pelvis"], J["Spine"]), (J["Spine"], J["Thorax"])}
    torso_bones |= {(J["Thorax"], J["RShoulder"]), (J["Thorax"], J["LShoulder"])}

    a_list, b_list, r_list, c_list = [], [], [], []
    torso: list[int] = []  # indices of the primitives that make up the trunk
    tol = np.zeros(NUM_JOINTS)

    def add(a: np.ndarray, b: np.ndarray, r: float, color: Color, joints_in: Sequence[int] = ()) -> None:
        a_list.append(a)
        b_list.append(b)
        r_list.append(r)
        c_list.append(color)
        for j in joints_in:
            tol[j] = max(tol[j], r)

    for (p, c), r in bone_radius.items():
        bone = (p, c)
        if bone == (J["Neck"], J["Head"]):
            continue  # the head is drawn below as a sphere (with the face and hair)
        if bone in legs:
            color = ap.skin if ap.shorts else ap.trousers
        elif bone in thighs or bone in pelvis_bones:
            color = ap.trousers
        elif bone in forearms:
            color = ap.shirt if ap.long_sleeves else ap.skin
        elif bone in skin_bones:
            color = ap.skin
        else:  # spine, thorax, shoulders, upper arms
            color = ap.shirt
        if bone in torso_bones:
            torso.append(len(a_list))
        add(x[p], x[c], r, color, (p, c))

    # Torso fill: hip-to-shoulder side capsules (shirt) and a hip bar (trousers).
    spine_r = max(bone_radius[(J["Pelvis"], J["Spine"])], bone_radius[(J["Spine"], J["Thorax"])])
    side_r = 0.75 * spine_r
    for hip, shoulder in ((J["RHip"], J["RShoulder"]), (J["LHip"], J["LShoulder"])):
        a = x[hip] + 0.25 * (x[shoulder] - x[hip])
        torso.append(len(a_list))
        add(a, x[shoulder] + 0.15 * (x[hip] - x[shoulder]), side_r, ap.shirt, (hip, shoulder))
    hip_r = 0.9 * max(bone_radius[(J["RHip"], J["RKnee"])], bone_radius[(J["LHip"], J["LKnee"])])
    torso.append(len(a_list))
    add(x[J["RHip"]], x[J["LHip"]], hip_r, ap.trousers, (J["Pelvis"],))
    # The joints at the centre of the trunk are as deep inside the body as the trunk is wide:
    # seen from the side, the pelvis lies behind the near hip and still counts as visible.
    ta, tb = np.array([a_list[k] for k in torso]), np.array([b_list[k] for k in torso])
    tr = np.array([r_list[k] for k in torso])
    for j in (J["Pelvis"], J["Spine"], J["Thorax"]):
        tol[j] = max(tol[j], float((_segment_distances(x[j], ta, tb) + tr).max()))

    # Facing direction from the hips (right-to-left across the body, then up × it).
    lateral = _unit(x[J["RHip"]] - x[J["LHip"]], np.array([1.0, 0.0, 0.0]))
    forward = _unit(np.cross(up, lateral), np.array([0.0, 1.0, 0.0]))

    # Head: a sphere just below the head top (so the Head joint is inside it), a face/jaw
    # capsule from it to the nose point (Neck), and hair on the back and top.
    head_axis = _unit(x[J["Head"]] - x[J["Neck"]], up)
    centre = x[J["Head"]] - 0.8 * head_r * head_axis
    face_fwd = _unit(forward - np.dot(forward, head_axis) * head_axis, forward)
    add(centre - 0.5 * head_axis, centre + 0.5 * head_axis, head_r, ap.skin, (J["Head"],))
    add(x[J["Neck"]], centre, 0.62 * head_r, ap.skin, (J["Neck"],))
    hair_c = centre + 0.12 * head_r * head_axis - 0.2 * head_r * face_fwd
    add(hair_c - 0.5 * head_axis, hair_c + 0.5 * head_axis, 0.95 * head_r, ap.hair, (J["Head"],))

    # Hands continue the forearms (skin).
    for elbow, wrist in ((J["RElbow"], J["RWrist"]), (J["LElbow"], J["LWrist"])):
        r_fore = bone_radius[(elbow, wrist)]
        direction = _unit(x[wrist] - x[elbow], -up)
        add(x[wrist], x[wrist] + 0.055 * height * direction, 0.95 * r_fore, ap.skin, (wrist,))
    # Shoes: heel below the ankle along the shin, toes forward (perpendicular to the shin).
    ankle_h = float(getattr(shape, "ankle_height_mm", None) or 0.039 * height)
    foot_len = float(getattr(shape, "foot_length_mm", None) or 0.152 * height)
    foot_r = 0.55 * ankle_h
    for knee, ankle in ((J["RKnee"], J["RAnkle"]), (J["LKnee"], J["LAnkle"])):
        shin = _unit(x[ankle] - x[knee], -up)
        toe_dir = _unit(forward - np.dot(forward, shin) * shin, forward)
        heel = x[ankle] + (ankle_h - foot_r) * shin - 0.18 * foot_len * toe_dir
        add(heel, heel + (foot_len - 2 * foot_r) * toe_dir, foot_r, ap.shoes, (ankle,))

    n = len(a_list)
    prims = Primitives(
        cap_a=np.array(a_list), cap_b=np.array(b_list), cap_r=np.array(r_list),
        cap_color=np.array(c_list), cap_owner=np.full(n, owner, dtype=np.int32),
    )
    # A margin on top of the radius: a joint is not a point on the bone's axis in a real body
    # either, and the z-buffer is sampled at the pixel centre, not at the joint's exact ray.
    tolerance = tol + 25.0
    return prims, tolerance


# --------------------------------------------------------------------------- occluders
@dataclass(frozen=True)
class Distractor:
    """An occluder standing on the floor: a vertical pole or an oriented box (world mm)."""

    kind: Literal["pole", "box"]
    position: tuple[float, float]  # floor point (x, y), mm
    size: tuple[float, float, float]  # pole: (radius, -, height); box: (length, width, height)
    yaw: float = 0.0  # radians, boxes only
    color: Color = (0.5, 0.5, 0.5)

    def primitives(self) -> Primitives:
        x, y = self.position
        if self.kind == "pole":
            r, _, h = self.size
            return Primitives.from_capsules([[x, y, 0.0]], [[x, y, max(h - r, 1.0)]], [r], [self.color], DISTRACTOR)
        if self.kind == "box":
            length, width, h = self.size
            c, s = math.cos(self.yaw), math.sin(self.yaw)
            axes = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
            return Primitives(
                cap_a=np.zeros((0, 3)), cap_b=np.zeros((0, 3)), cap_r=np.zeros(0), cap_color=np.zeros((0, 3)),
                cap_owner=np.zeros(0), box_center=[[x, y, h / 2]], box_axes=axes[None],
                box_half=[[length / 2, width / 2, h / 2]], box_color=[self.color], box_owner=[DISTRACTOR],
            )
        raise InputError(f"distractor kind must be 'pole' or 'box', got {self.kind!r}")


def random_distractors(
    rng: np.random.Generator, camera_centres: np.ndarray, subject_xy: np.ndarray, count: int
) -> list[Distractor]:
    """``count`` occluders, each between a randomly chosen camera and the subject's floor point.

    They stand 30–60 % of the way from the camera to ``subject_xy`` (so usually outside the
    area the subject moves in) and occlude some views of some frames.
    """
    out = []
    for _ in range(count):
        cam = camera_centres[rng.integers(len(camera_centres))]
        frac = rng.uniform(0.3, 0.6)
        pos = cam[:2] + frac * (subject_xy - cam[:2])
        pos = pos + rng.normal(0.0, 150.0, 2)
        color = _hsv(rng, (0.0, 1.0), (0.0, 0.6), (0.25, 0.9))
        if rng.random() < 0.5:
            size = (rng.uniform(40.0, 130.0), 0.0, rng.uniform(900.0, 2600.0))
            out.append(Distractor("pole", (float(pos[0]), float(pos[1])), size, 0.0, color))
        else:
            size = (rng.uniform(300.0, 900.0), rng.uniform(250.0, 700.0), rng.uniform(400.0, 1200.0))
            out.append(Distractor("box", (float(pos[0]), float(pos[1])), size, float(rng.uniform(0, math.pi)), color))
    return out


# --------------------------------------------------------------------------- background
@dataclass(frozen=True)
class Background:
    """The room: a tiled floor (z = 0) within ``room_radius_mm`` of the origin, a panelled wall
    beyond, and the light (a unit direction *towards* the light, world frame)."""

    floor_a: Color
    floor_b: Color
    wall: Color
    tile_mm: float = 600.0
    room_radius_mm: float = 6500.0
    light_dir: tuple[float, float, float] = (0.3, -0.4, 0.866)
    ambient: float = 0.4

    @classmethod
    def plain(cls) -> Background:
        return cls(floor_a=(0.5, 0.5, 0.5), floor_b=(0.45, 0.45, 0.45), wall=(0.6, 0.6, 0.6))

    @classmethod
    def random(cls, rng: np.random.Generator) -> Background:
        floor = np.array(_hsv(rng, (0.0, 1.0), (0.0, 0.35), (0.25, 0.7)))
        contrast = rng.uniform(0.04, 0.18)
        elevation, azimuth = rng.uniform(0.6, 1.25), rng.uniform(0, 2 * math.pi)
        light = (math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth), math.sin(elevation))
        return cls(
            floor_a=tuple(np.clip(floor * (1 + contrast), 0, 1)), floor_b=tuple(np.clip(floor * (1 - contrast), 0, 1)),
            wall=_hsv(rng, (0.0, 1.0), (0.0, 0.4), (0.35, 0.9)), tile_mm=float(rng.uniform(400.0, 900.0)),
            room_radius_mm=float(rng.uniform(5500.0, 8000.0)), light_dir=light, ambient=float(rng.uniform(0.3, 0.5)),
        )


@dataclass
class Scene:
    """Everything at one instant: people, occluders, room."""

    primitives: Primitives
    background: Background


@dataclass
class ViewJob:
    """One image to render: a camera whose ``image_size`` is the output size, and its scene.

    ``valid_rect = (u0, v0, u1, v1)`` (output pixels, right/bottom exclusive) is the part of
    the output that lies inside the original camera frame; outside it the image is black
    (zero padding of a crop that runs over the frame's border). ``None``: everything is valid.
    ``gain`` (3,), ``bias`` and ``noise_offset`` are the per-image colour jitter and noise.
    """

    camera: Camera
    scene: int
    valid_rect: tuple[float, float, float, float] | None = None
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bias: float = 0.0
    noise_offset: tuple[int, int] = (0, 0)


@dataclass
class RenderResult:
    """images (N, 3, H, W) uint8 RGB; depth (N, H, W) float32 camera z in mm of the nearest
    person or occluder surface (inf: none); owner (N, H, W) int16: person index, DISTRACTOR
    or NOTHING."""

    images: np.ndarray
    depth: np.ndarray
    owner: np.ndarray


def make_noise_bank(rng: np.random.Generator, size: int = 256, sigma: float = 3.0) -> np.ndarray:
    """(3, size, size) float32 sensor noise in 0–255 units, sampled per image at an offset."""
    return np.clip(rng.normal(0.0, sigma, (3, size, size)), -4 * sigma, 4 * sigma).astype(np.float32)


# --------------------------------------------------------------------------- rays
def _undistort_batch(xd: np.ndarray, yd: np.ndarray, dist: np.ndarray, iterations: int = 20):
    """Vectorised OpenCV undistortion with one (k1, k2, p1, p2, k3) per leading index."""
    k1, k2, p1, p2, k3 = (dist[:, i].reshape(-1, 1, 1) for i in range(5))
    x, y = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    return x, y


def pixel_rays(cameras: Sequence[Camera], height: int, width: int) -> torch.Tensor:
    """(N, height, width, 2) float32 undistorted normalised coordinates (x, y) of each pixel
    centre; the pixel's ray is ``(x, y, 1)`` in the camera frame (mm per mm of depth)."""
    return _ray_grids(cameras, height, width)[1]


def _ray_grids(cameras: Sequence[Camera], height: int, width: int) -> tuple[np.ndarray, torch.Tensor]:
    """The exact undistorted coordinates on a coarse grid (pixels 0, 8, 16, …, covering the
    image; (N, ny, nx, 2) float64) and their bilinear interpolation at every pixel."""
    g = _COARSE_STEP_PX
    nx = max(2, math.ceil((width - 1) / g) + 1)
    ny = max(2, math.ceil((height - 1) / g) + 1)
    u = np.arange(nx, dtype=np.float64) * g
    v = np.arange(ny, dtype=np.float64) * g
    K = np.stack([c.K for c in cameras])
    fx, s, cx = K[:, 0, 0, None, None], K[:, 0, 1, None, None], K[:, 0, 2, None, None]
    fy, cy = K[:, 1, 1, None, None], K[:, 1, 2, None, None]
    yd = (v[None, :, None] - cy) / fy * np.ones((1, 1, nx))
    xd = (u[None, None, :] - cx - s * yd) / fx
    dist = np.stack([c.dist for c in cameras])
    if np.any(dist != 0):
        xd, yd = _undistort_batch(xd, yd, dist)
    coarse = np.stack([xd, yd], axis=-1)  # (N, ny, nx, 2)
    grid = torch.from_numpy(coarse.astype(np.float32))
    # Bilinear interpolation (corner-aligned, step g) as separate float32 multiplies and adds,
    # along x on the coarse rows, then along y: the values of F.interpolate's plain build,
    # whose AVX2/AVX-512 builds fuse t0 * w0 + t1 * w1 into an FMA (rays 1 ulp apart).
    ix0, ix1, wx0, wx1 = _lerp_weights(width, nx, grid.device)
    iy0, iy1, wy0, wy1 = _lerp_weights(height, ny, grid.device)
    rows = grid[:, :, ix0] * wx0[:, None] + grid[:, :, ix1] * wx1[:, None]  # (N, ny, width, 2)
    fine = rows[:, iy0] * wy0[:, None, None] + rows[:, iy1] * wy1[:, None, None]  # (N, height, width, 2)
    return coarse, fine.contiguous()


def _lerp_weights(count: int, coarse_count: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Coarse indices i0, i1 and weights w0, w1 (float32, exact multiples of 1/step) of the
    fine pixels 0 … count-1 on the coarse grid of step :data:`_COARSE_STEP_PX`."""
    g = _COARSE_STEP_PX
    p = torch.arange(count, device=device)
    i0 = p // g
    i1 = torch.clamp(i0 + 1, max=coarse_count - 1)
    w1 = (p % g).to(torch.float32) / g
    return i0, i1, 1.0 - w1, w1


def _tile_bounds(coarse: np.ndarray, tile: int, ty: int, tx: int) -> np.ndarray:
    """(N, ty*tx, 4) [xmin, xmax, ymin, ymax] of each tile's rays. A bilinear patch takes its
    extremes at its corners, so the bounds are those of the coarse points around the tile."""
    m = tile // _COARSE_STEP_PX
    lo = np.full((coarse.shape[0], ty, tx, 2), np.inf)
    hi = np.full((coarse.shape[0], ty, tx, 2), -np.inf)
    for di in range(m + 1):
        for dj in range(m + 1):
            corner = coarse[:, di : di + ty * m : m, dj : dj + tx * m : m]
            lo = np.minimum(lo, corner)
            hi = np.maximum(hi, corner)
    pad = 1e-6 * (1.0 + np.abs(lo) + np.abs(hi))  # float32 interpolation may overshoot by an ulp
    lo, hi = lo - pad, hi + pad
    return np.stack([lo[..., 0], hi[..., 0], lo[..., 1], hi[..., 1]], axis=-1).reshape(coarse.shape[0], ty * tx, 4)


# --------------------------------------------------------------------------- intersection kernels
def _capsule_hits(x, y, a, b, r, cap_scalars):
    """Depth z (mm) of the first hit of rays (x, y, 1) with capsules, inf where missed.

    x, y: (P, n) ray coordinates; a, b: (P, 3) end points in camera mm; r: (P,) radii;
    cap_scalars: (P, 5) per-capsule constants from :func:`_capsule_constants`. With the ray
    origin at the camera, the parameter along (x, y, 1) is the depth z and most terms of the
    quadratic are per-capsule constants (computed in float64). float32 keeps silhouettes
    exact to well below a millimetre at 10 m.
    """
    baba, ba_a, qc, ra2, rb2 = (cap_scalars[:, k : k + 1] for k in range(5))
    bax, bay, baz = (b[:, k : k + 1] - a[:, k : k + 1] for k in range(3))
    dd = x * x + y * y + 1.0
    da = x * a[:, 0:1] + y * a[:, 1:2] + a[:, 2:3]  # d·a
    db = x * b[:, 0:1] + y * b[:, 1:2] + b[:, 2:3]  # d·b
    bard = x * bax + y * bay + baz  # d·(b - a)
    qa = baba * dd - bard * bard
    qb = ba_a * bard - baba * da
    # A negative discriminant gives NaN through sqrt, and every NaN ends as a miss below
    # (comparisons with NaN are False; fmin ignores a NaN cap), which saves masking passes.
    s_cyl = (-qb - torch.sqrt(qb * qb - qa * qc)) / qa
    yy = s_cyl * bard - ba_a  # position of the hit along the axis, times |b - a|
    cyl_ok = (qa > 1e-6 * baba * dd) & (yy > 0) & (yy < baba)
    s_a = (da - torch.sqrt(da * da - dd * ra2)) / dd
    s_b = (db - torch.sqrt(db * db - dd * rb2)) / dd
    z = torch.where(cyl_ok, s_cyl, torch.fmin(s_a, s_b))
    return torch.where(z > _NEAR_MM, z, float("inf"))


def _capsule_constants(a: np.ndarray, b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(P, 5) float64 per-capsule terms of the ray–capsule quadratics: |b-a|², (b-a)·a,
    |b-a|²(|a|² - r²) - ((b-a)·a)², |a|² - r², |b|² - r²."""
    ba = b - a
    baba = (ba * ba).sum(1)
    ba_a = (ba * a).sum(1)
    ra2 = (a * a).sum(1) - r * r
    qc = baba * ra2 - ba_a * ba_a
    return np.stack([baba, ba_a, qc, ra2, (b * b).sum(1) - r * r], axis=1)


def _box_hits(x, y, c, axes, half):
    """Depth z (mm) of the first hit of rays (x, y, 1) with oriented boxes, inf where missed.

    x, y: (P, n); c: (P, 3) centres, camera mm; axes: (P, 3, 3) rows = unit axes (camera
    frame); half: (P, 3) half extents. Slab test in the box frame, origin moved to depth c_z.
    """
    z0 = c[:, 2:3]
    ox, oy, oz = z0 * x - c[:, 0:1], z0 * y - c[:, 1:2], z0 - c[:, 2:3]
    t_near = torch.full_like(x, -float("inf"))
    t_far = torch.full_like(x, float("inf"))
    for k in range(3):
        ux, uy, uz = axes[:, k, 0:1], axes[:, k, 1:2], axes[:, k, 2:3]
        ol = ux * ox + uy * oy + uz * oz
        dl = ux * x + uy * y + uz
        dl = torch.where(dl.abs() < 1e-12, torch.full_like(dl, 1e-12), dl)
        t1 = (-half[:, k : k + 1] - ol) / dl
        t2 = (half[:, k : k + 1] - ol) / dl
        t_near = torch.maximum(t_near, torch.minimum(t1, t2))
        t_far = torch.minimum(t_far, torch.maximum(t1, t2))
    z = z0 + t_near
    return torch.where((t_near <= t_far) & (z > _NEAR_MM), z, float("inf"))


def _screen_bounds(points: np.ndarray) -> np.ndarray:
    """(P, M, 3) camera-frame points → (P, 4) [xmin, xmax, ymin, ymax] of x/z, y/z; infinite
    bounds where a point is not in front of the camera (never culled)."""
    z = points[..., 2]
    front = np.all(z > _NEAR_MM, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        px = points[..., 0] / z
        py = points[..., 1] / z
    bounds = np.stack([px.min(1), px.max(1), py.min(1), py.max(1)], axis=1)
    bounds[~front] = [-np.inf, np.inf, -np.inf, np.inf]
    return bounds


_CUBE = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)


# --------------------------------------------------------------------------- the renderer
def render_views(
    scenes: Sequence[Scene],
    jobs: Sequence[ViewJob],
    *,
    noise_bank: np.ndarray | None = None,
    tile: int = 8,
    max_pair_pixels: int = 1 << 18,
    device: torch.device | str | None = None,
) -> RenderResult:
    """Render a batch of views (all with the same output size) of some scenes.

    Args:
        scenes: the scenes the jobs refer to.
        jobs: one per output image; ``job.camera.image_size`` is the output size.
        noise_bank: (3, B, B) additive noise (0–255 units) read at ``job.noise_offset``, or None.
        tile: culling tile size in pixels.
        max_pair_pixels: how many (pair, pixel) evaluations to hold in memory at once.
        device: where the ray casting and shading run (default the CPU). The culling of
            primitives against tiles stays on the host (NumPy); the images come back as NumPy.
            The CPU gives the same bytes as before devices existed; a GPU's float32 kernels
            round differently, so a pixel on a silhouette may differ.
    """
    dev = torch.device(device or "cpu")
    if not jobs:
        raise InputError("render_views: no views to render")
    width, height = jobs[0].camera.image_size
    for job in jobs:
        if job.camera.image_size != (width, height):
            raise InputError("render_views: all views of a batch must have the same output size")
        if not 0 <= job.scene < len(scenes):
            raise InputError(f"render_views: scene index {job.scene} out of range")
    n = len(jobs)
    ty, tx = math.ceil(height / tile), math.ceil(width / tile)
    hp, wp = ty * tile, tx * tile
    npix = hp * wp
    if tile % _COARSE_STEP_PX:
        raise InputError(f"render_views: tile must be a multiple of {_COARSE_STEP_PX} pixels, got {tile}")
    coarse, rays = _ray_grids([j.camera for j in jobs], hp, wp)  # rays: (n, hp, wp, 2)
    rays = rays.to(dev)
    tiles = rays.reshape(n, ty, tile, tx, tile, 2).permute(0, 1, 3, 2, 4, 5).reshape(n * ty * tx, tile * tile, 2)
    tile_bounds = _tile_bounds(coarse, tile, ty, tx)  # (n, T, 4)
    num_tiles = ty * tx
    ii, jj = np.meshgrid(np.arange(tile), np.arange(tile), indexing="ij")
    tile_origin = (np.arange(ty)[:, None] * tile * wp + np.arange(tx)[None, :] * tile).reshape(-1)
    tile_pixels = torch.from_numpy(tile_origin[:, None] + (ii * wp + jj).reshape(-1)[None, :]).to(dev)  # (T, tile²)

    # --- primitives of every view, in its camera frame
    cap_view, cap_a, cap_b, cap_r, cap_color, cap_owner = [], [], [], [], [], []
    box_view, box_c, box_axes, box_half, box_color, box_owner = [], [], [], [], [], []
    for v, job in enumerate(jobs):
        prims = scenes[job.scene].primitives
        R, t = job.camera.R, job.camera.t
        if prims.num_capsules:
            cap_view.append(np.full(prims.num_capsules, v))
            cap_a.append(prims.cap_a @ R.T + t)
            cap_b.append(prims.cap_b @ R.T + t)
            cap_r.append(prims.cap_r)
            cap_color.append(prims.cap_color)
            cap_owner.append(prims.cap_owner)
        if prims.num_boxes:
            box_view.append(np.full(prims.num_boxes, v))
            box_c.append(prims.box_center @ R.T + t)
            box_axes.append(prims.box_axes @ R.T)
            box_half.append(prims.box_half)
            box_color.append(prims.box_color)
            box_owner.append(prims.box_owner)

    def cat(parts, shape):
        return np.concatenate(parts) if parts else np.zeros(shape)

    cap_view_a = cat(cap_view, (0,)).astype(np.int64)
    ca, cb, cr = cat(cap_a, (0, 3)), cat(cap_b, (0, 3)), cat(cap_r, (0,))
    box_view_a = cat(box_view, (0,)).astype(np.int64)
    bc, bax, bh = cat(box_c, (0, 3)), cat(box_axes, (0, 3, 3)), cat(box_half, (0, 3))
    num_caps = ca.shape[0]
    colors = np.concatenate([cat(cap_color, (0, 3)), cat(box_color, (0, 3))])
    owners = np.concatenate([cat(cap_owner, (0,)), cat(box_owner, (0,))]).astype(np.int16)

    depth = torch.full((n * npix,), float("inf"), device=dev)
    hit_lists: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def run_pairs(views: np.ndarray, bounds: np.ndarray, kernel, params: list[torch.Tensor], id_offset: int):
        if views.size == 0:
            return
        tb = tile_bounds[views]  # (P, T, 4)
        overlap = (
            (bounds[:, None, 0] <= tb[..., 1]) & (bounds[:, None, 1] >= tb[..., 0])
            & (bounds[:, None, 2] <= tb[..., 3]) & (bounds[:, None, 3] >= tb[..., 2])
        )
        prim_idx, tile_idx = np.nonzero(overlap)
        if prim_idx.size == 0:
            return
        chunk = max(1, max_pair_pixels // (tile * tile))
        views_t = torch.from_numpy(views).to(dev)  # once per primitive kind, not per chunk
        for start in range(0, prim_idx.size, chunk):
            p = torch.from_numpy(prim_idx[start : start + chunk]).to(dev)
            tl = torch.from_numpy(tile_idx[start : start + chunk]).to(dev)
            view = views_t[p]
            ray = tiles[view * num_tiles + tl]  # (P, tile², 2)
            z = kernel(ray[..., 0], ray[..., 1], *(q[p] for q in params))
            pix = view[:, None] * npix + tile_pixels[tl]
            keep = torch.isfinite(z)
            z, pix = z[keep], pix[keep]
            pid = (p[:, None].expand_as(keep)[keep] + id_offset).to(torch.int32)
            depth.scatter_reduce_(0, pix, z, reduce="amin")
            hit_lists.append((pix, z, pid))

    if num_caps:
        corners = np.concatenate(
            [ca[:, None, :] + cr[:, None, None] * _CUBE, cb[:, None, :] + cr[:, None, None] * _CUBE], axis=1
        )
        params = [torch.from_numpy(q.astype(np.float32)).to(dev) for q in (ca, cb, cr, _capsule_constants(ca, cb, cr))]
        run_pairs(cap_view_a, _screen_bounds(corners), _capsule_hits, params, 0)
    if bc.shape[0]:
        corners = bc[:, None, :] + np.einsum("ki,qi,qij->qkj", _CUBE, bh, bax)
        params = [torch.from_numpy(q.astype(np.float32)).to(dev) for q in (bc, bax, bh)]
        run_pairs(box_view_a, _screen_bounds(corners), _box_hits, params, num_caps)

    prim_id = torch.full((n * npix,), -1, dtype=torch.int32, device=dev)
    for pix, z, pid in hit_lists:
        win = z == depth[pix]
        prim_id.scatter_reduce_(0, pix[win], pid[win], reduce="amax")

    # --- shading
    flat_rays = rays.reshape(n * npix, 2)
    Rs = np.stack([j.camera.R for j in jobs])  # (n, 3, 3)
    ts = np.stack([j.camera.t for j in jobs])
    light_world = np.stack([np.asarray(scenes[j.scene].background.light_dir, dtype=np.float64) for j in jobs])
    light_world /= np.linalg.norm(light_world, axis=1, keepdims=True)
    light_cam = torch.from_numpy(np.einsum("nij,nj->ni", Rs, light_world).astype(np.float32)).to(dev)
    ambient = torch.tensor([scenes[j.scene].background.ambient for j in jobs], dtype=torch.float32, device=dev)

    # Shade the hit pixels (a compact list), then assemble the images a few views at a time
    # (pixel-sized temporaries stay in cache and in the allocator's pool).
    hit_pix = torch.nonzero(prim_id >= 0).squeeze(1)  # sorted
    shaded = torch.zeros(0, 3, device=dev)
    owner_flat = torch.full((n * npix,), NOTHING, dtype=torch.int16, device=dev)
    if hit_pix.numel():
        pid = prim_id[hit_pix].long()
        owner_flat[hit_pix] = torch.from_numpy(owners).to(dev)[pid]
        view = hit_pix // npix
        ray = flat_rays[hit_pix]
        z = depth[hit_pix]
        d = torch.cat([ray, ray.new_ones(ray.shape[0], 1)], dim=1)
        point = z[:, None] * d
        normal = torch.zeros_like(point)
        is_cap = pid < num_caps
        if is_cap.any():
            k = pid[is_cap]
            a = torch.from_numpy(ca.astype(np.float32)).to(dev)[k]
            ba = torch.from_numpy((cb - ca).astype(np.float32)).to(dev)[k]
            pa = point[is_cap] - a
            h = torch.clamp((pa * ba).sum(1) / torch.clamp((ba * ba).sum(1), min=1e-12), 0.0, 1.0)
            normal[is_cap] = pa - h[:, None] * ba
        is_box = ~is_cap
        if is_box.any():
            k = pid[is_box] - num_caps
            axes = torch.from_numpy(bax.astype(np.float32)).to(dev)[k]
            local = torch.einsum("pij,pj->pi", axes, point[is_box] - torch.from_numpy(bc.astype(np.float32)).to(dev)[k])
            rel = local / torch.from_numpy(bh.astype(np.float32)).to(dev)[k]
            axis = rel.abs().argmax(1)
            sign = torch.sign(rel.gather(1, axis[:, None]))
            normal[is_box] = sign * axes[torch.arange(axis.shape[0], device=dev), axis]
        normal = normal / torch.clamp(_norm3(normal), min=1e-9)
        view_dir = -d / _norm3(d)
        amb = ambient[view][:, None]
        diffuse = torch.clamp((normal * light_cam[view]).sum(1, keepdim=True), min=0.0)
        fill = torch.clamp((normal * view_dir).sum(1, keepdim=True), min=0.0)
        shade = amb + (1.0 - amb) * 0.8 * diffuse + 0.25 * fill
        albedo = torch.from_numpy(colors.astype(np.float32)).to(dev)[pid]
        shaded = albedo * shade

    images = np.empty((n, 3, height, width), dtype=np.uint8)
    depth_out = np.empty((n, height, width), dtype=np.float32)
    owner_out = np.empty((n, height, width), dtype=np.int16)
    gain_all = torch.tensor([j.gain for j in jobs], dtype=torch.float32, device=dev)[:, :, None, None]
    bias_all = torch.tensor([j.bias for j in jobs], dtype=torch.float32, device=dev)[:, None, None, None]
    tiled_noise = None if noise_bank is None else _tiled_noise(noise_bank, height, width)
    step = max(1, _PIXELS_PER_CHUNK // npix)
    for v0 in range(0, n, step):
        v1 = min(n, v0 + step)
        color = _background(scenes, jobs[v0:v1], rays[v0:v1], Rs[v0:v1], ts[v0:v1]).reshape(-1, 3)
        lo, hi = (int(torch.searchsorted(hit_pix, q * npix)) for q in (v0, v1))
        color[hit_pix[lo:hi] - v0 * npix] = shaded[lo:hi]
        # camera: colour jitter, noise, zero padding outside the frame, 8 bits
        color = color.reshape(v1 - v0, hp, wp, 3)[:, :height, :width].permute(0, 3, 1, 2)
        img = (color * gain_all[v0:v1] + bias_all[v0:v1]) * 255.0
        if tiled_noise is not None:
            img = img + _noise(tiled_noise, noise_bank.shape[1], jobs[v0:v1], height, width).to(dev)
        img = torch.clamp(torch.floor(img + 0.5), 0.0, 255.0)
        valid = _valid_mask(jobs[v0:v1], height, width, dev)
        img = torch.where(valid[:, None], img, 0.0)
        images[v0:v1] = img.to(torch.uint8).cpu().numpy()
        dz = depth[v0 * npix : v1 * npix].reshape(v1 - v0, hp, wp)[:, :height, :width]
        depth_out[v0:v1] = torch.where(valid, dz, float("inf")).cpu().numpy()
        ow = owner_flat[v0 * npix : v1 * npix].reshape(v1 - v0, hp, wp)[:, :height, :width]
        owner_out[v0:v1] = torch.where(valid, ow, torch.full((), NOTHING, dtype=torch.int16, device=dev)).cpu().numpy()
    return RenderResult(images=images, depth=depth_out, owner=owner_out)


def _sqrt(x: torch.Tensor) -> torch.Tensor:
    """Correctly rounded float32 square root (NaN below 0) on every device and CPU: taken in
    float64 and rounded once to float32, which is exact for a square root whatever the last
    bit of the float64 one (53 ≥ 2·24 + 2 bits). ``torch.sqrt`` of float32 on the CPU runs a
    vector math library whose results are not all correctly rounded (about 1 in 7 is 1 ulp
    off) and whose code path depends on the CPU."""
    return torch.sqrt(x.to(torch.float64)).to(x.dtype)


def _norm3(v: torch.Tensor) -> torch.Tensor:
    """(P, 1) Euclidean norms of the rows of v (P, 3): x*x + y*y + z*z in this order, as
    separate correctly rounded operations (``Tensor.norm``'s reduction fuses them into FMAs
    in its AVX2/AVX-512 builds, not in its plain one, whose values these are)."""
    x, y, z = v[:, 0:1], v[:, 1:2], v[:, 2:3]
    return _sqrt(x * x + y * y + z * z)


def _background(scenes, jobs, rays: torch.Tensor, Rs: np.ndarray, ts: np.ndarray) -> torch.Tensor:
    """(n, hp, wp, 3) colours of the room: floor tiles where the ray hits the floor inside the
    room, a wall elsewhere (brighter towards the top, with vertical panels)."""
    x, y = rays[..., 0], rays[..., 1]
    R = torch.from_numpy(Rs.astype(np.float32)).to(rays.device)
    centres = torch.from_numpy(np.einsum("nji,nj->ni", Rs, -ts).astype(np.float32)).to(rays.device)  # (n, 3) world
    # World direction of each ray, Rᵀ (x, y, 1), not normalised.
    dw = [R[:, 0, k, None, None] * x + R[:, 1, k, None, None] * y + R[:, 2, k, None, None] for k in range(3)]
    bgs = [scenes[j.scene].background for j in jobs]

    def per_view(values) -> torch.Tensor:  # (n, 1, 1) scalars or (n, 1, 1, 3) colours
        t = torch.tensor(values, dtype=torch.float32, device=rays.device)
        return t[:, None, None]

    # Rays going down meet the floor at tau = -c_z / d_z; upward rays give tau < 0 → wall.
    tau = -centres[:, 2, None, None] / dw[2]
    fx = centres[:, 0, None, None] + tau * dw[0]
    fy = centres[:, 1, None, None] + tau * dw[1]
    radius = per_view([b.room_radius_mm for b in bgs])
    on_floor = (tau > 0) & (fx * fx + fy * fy < radius * radius)
    inv_tile = per_view([1.0 / b.tile_mm for b in bgs])
    checker = (torch.floor(fx * inv_tile) + torch.floor(fy * inv_tile)).remainder(2.0)[..., None]
    fa, fb = per_view([b.floor_a for b in bgs]), per_view([b.floor_b for b in bgs])
    floor = fb + checker * (fa - fb)
    panel = (torch.floor(3.0 * dw[0]) + torch.floor(3.0 * dw[1])).remainder(2.0)
    wall_shade = (0.84 + 0.1 * torch.clamp(dw[2], -1.0, 1.0) + 0.05 * panel)[..., None]
    wall = per_view([b.wall for b in bgs]) * wall_shade
    return torch.where(on_floor[..., None], floor, wall)


def _tiled_noise(bank: np.ndarray, height: int, width: int) -> np.ndarray:
    """The noise bank repeated so that any (height, width) window at an offset < B fits."""
    check_shape(bank, [3, "B", "B"], "noise bank")
    size = bank.shape[1]
    reps = math.ceil((size + max(height, width)) / size)
    return np.tile(np.asarray(bank, dtype=np.float32), (1, reps, reps))


def _noise(tiled: np.ndarray, size: int, jobs, height: int, width: int) -> torch.Tensor:
    """(n, 3, H, W) windows of the (tiled) noise bank of side ``size`` at each job's offset."""
    windows = []
    for job in jobs:
        oy, ox = (int(o) % size for o in job.noise_offset)
        windows.append(tiled[:, oy : oy + height, ox : ox + width])
    return torch.from_numpy(np.stack(windows))


def _valid_mask(jobs, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    u = torch.arange(width, dtype=torch.float64, device=device)
    v = torch.arange(height, dtype=torch.float64, device=device)
    masks = []
    for job in jobs:
        if job.valid_rect is None:
            masks.append(torch.ones(height, width, dtype=torch.bool, device=device))
            continue
        u0, v0, u1, v1 = job.valid_rect
        masks.append(((v >= v0) & (v < v1))[:, None] & ((u >= u0) & (u < u1))[None, :])
    return torch.stack(masks)


# --------------------------------------------------------------------------- crops, visibility
def projected_extent(camera: Camera, primitives: Primitives) -> np.ndarray:
    """(4,) [left, top, right, bottom] pixels (float) that contain the projection of every
    primitive (each end point ± its projected radius), distortion included."""
    points, radii = primitives.extent_points()
    uv = camera.project(points, distort=True)
    z = camera.world_to_camera(points)[:, 2]
    if np.any(z <= _NEAR_MM) or not np.all(np.isfinite(uv)):
        raise InputError(f"camera {camera.name!r}: the person is not in front of the camera")
    # Projected radius, padded a little for the lens and the sphere's perspective bulge.
    r_px = 1.15 * max(camera.K[0, 0], camera.K[1, 1]) * radii / z
    lo = (uv - r_px[:, None]).min(0)
    hi = (uv + r_px[:, None]).max(0)
    return np.array([lo[0], lo[1], hi[0], hi[1]])


def square_box(extent: Sequence[float], scale: float) -> np.ndarray:
    """The integer square box (left, top, right, bottom; right/bottom exclusive) around
    ``extent``: the longer side, times ``scale``, centred on the extent's centre."""
    left, top, right, bottom = (float(e) for e in extent)
    side = math.ceil(max(right - left, bottom - top) * scale)
    side = max(side, 2)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    l0 = math.floor(cx - side / 2 + 0.5)
    t0 = math.floor(cy - side / 2 + 0.5)
    return np.array([l0, t0, l0 + side, t0 + side], dtype=np.int64)


def crop_valid_rect(box: Sequence[float], frame_size: tuple[int, int], out_size: tuple[int, int]):
    """The part of a crop's output that lies inside the original frame (``ViewJob.valid_rect``).

    Output pixel u' shows frame pixel ``left + u' / sx`` (sx = out_w / box_w, corner-aligned as
    ``Camera.resize``); it is inside when that pixel is in [-0.5, w - 0.5).
    """
    left, top, right, bottom = (float(b) for b in box)
    sx, sy = out_size[0] / (right - left), out_size[1] / (bottom - top)
    w, h = frame_size
    return (sx * (-0.5 - left), sy * (-0.5 - top), sx * (w - 0.5 - left), sy * (h - 0.5 - top))


def joint_visibility(
    camera: Camera,
    joints: np.ndarray,
    depth: np.ndarray,
    tolerance: np.ndarray,
    valid_rect: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Project joints and decide which are visible in a rendered view.

    Args:
        camera: the camera of the rendered image (its ``image_size`` is the depth map's).
        joints: (J, 3) world mm.
        depth: (H, W) z-buffer of the view (camera z, mm; inf: nothing).
        tolerance: (J,) mm, how far the nearest surface may be in front of the joint.
        valid_rect: the part of the image inside the original frame (see ``ViewJob``).

    Returns:
        ``(joints_2d, visible)``: (J, 2) pixels (distortion included) and (J,) bool — inside
        the frame and not hidden behind another limb, person or occluder.
    """
    check_shape(joints, ["J", 3], "joints")
    uv = camera.project(joints, distort=True)
    z = camera.world_to_camera(joints)[:, 2]
    h, w = depth.shape
    u0, v0, u1, v1 = valid_rect if valid_rect is not None else (-0.5, -0.5, w - 0.5, h - 0.5)
    u0, v0, u1, v1 = max(u0, -0.5), max(v0, -0.5), min(u1, w - 0.5), min(v1, h - 0.5)
    finite = np.all(np.isfinite(uv), axis=1) & (z > 0)
    inside = finite & (uv[:, 0] >= u0) & (uv[:, 0] < u1) & (uv[:, 1] >= v0) & (uv[:, 1] < v1)
    col = np.clip(np.floor(np.nan_to_num(uv[:, 0]) + 0.5), 0, w - 1).astype(int)
    row = np.clip(np.floor(np.nan_to_num(uv[:, 1]) + 0.5), 0, h - 1).astype(int)
    surface = depth[row, col]
    visible = inside & (surface >= z - np.asarray(tolerance))
    return uv, visible
