"""The Bandai Namco Research Motion datasets 1 and 2 through poseboard's own BVH importer
(issue 79): the board's real motion.

The upstream repository ``BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset`` holds
3,076 BVH clips (30 fps) with JSON labels, named ``dataset-<N>_<content>_<style>_<take>.bvh``
(``dataset-2_walk-turn-left_elderly_012.bvh``). Every file has one skeleton: Y up,
centimetres, toes about 4 cm above y = 0, 27 joints with six channels each (position channels
replace the offsets). Licence: CC BY-NC 4.0, Bandai Namco Research Inc. (:data:`LICENCE`).

**The joint map** (:data:`JOINT_MAP`), Bandai joint for each Human3.6M-17 joint:

* legs: hip = ``UpperLeg_*``, knee = ``LowerLeg_*``, ankle = ``Foot_*`` (``Toes_*`` unused);
* arms: shoulder = ``UpperArm_*`` (``Shoulder_*`` is the clavicle), elbow = ``LowerArm_*``,
  wrist = ``Hand_*``;
* trunk: Pelvis = ``Hips``, Spine = ``Chest`` (24.7 cm above the hips in the rest pose, the
  nearer of ``Spine``/``Chest`` to the middle of the 41 cm from hips to neck), Thorax =
  ``Neck`` (the base of the neck);
* the face: the files hold no point of it (the ``End Site`` under ``Head`` has a zero offset),
  and Human3.6M's Neck/Nose and Head (top) are not Bandai's skull base. Both are placed in the
  ``Head`` joint's own frame (local +x along the bone, up the neck; local +y forward), where the
  world's bodies have them at rest (:mod:`poseboard.datasets.synthetic.body`: the nose 4.1 cm
  in front of and 11.7 cm above the thorax, the crown 5.5 cm behind and 16.5 cm above the nose,
  for a 1.62 m body): Neck/Nose at :data:`NOSE_CM`, Head (top) at :data:`HEAD_TOP_CM`. They turn
  with the head, and the nose in front of the neck's axis defines the head's twist (with the
  three points on one line, as the skull base would give, the twist is undefined and the
  retargeting clips it at random).

``joint_Root`` (the floor projection) is not a body joint and is not used.

Units: :data:`MM_PER_UNIT` (centimetres); up: :data:`UP`. Each clip then goes through the
library's cleaning rules (:func:`poseboard.datasets.mocap.library.clean_clip`) and placement
(:func:`~poseboard.datasets.mocap.library.finish_piece`), like every other source.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from poseboard.datasets.axes import up_to_z
from poseboard.datasets.mocap.bvh import Bvh, BvhError, forward_kinematics, parse_bvh
from poseboard.datasets.mocap.library import checked_body_height
from poseboard.datasets.mocap.licence import (  # noqa: F401 - the source's terms, re-exported
    ATTRIBUTION,
    LICENCE,
    UPSTREAM_COMMIT,
    UPSTREAM_REPOSITORY,
    UPSTREAM_URL,
)
from poseboard.errors import InputError
from poseboard.skeleton import H36M17

#: Bandai's BVH length unit: centimetres
MM_PER_UNIT = 10.0
#: Bandai's up axis
UP = "+y"
#: the joint the face points hang from (6.4 cm above ``Neck``, the base of the neck)
HEAD_JOINT = "Head"
#: Neck/Nose in the ``Head`` joint's frame, cm (+x up the neck, +y forward): the world's rest nose,
#: 11.7 cm above the thorax and 4.1 cm in front of it, less the 6.4 cm of Bandai's neck bone
NOSE_CM = (5.3, 4.1, 0.0)
#: Head (top) in the ``Head`` joint's frame, cm: the world's rest crown, 16.5 cm above the nose and
#: 5.5 cm behind it (the retargeted body keeps its own head length; only the directions count)
HEAD_TOP_CM = (21.8, -1.4, 0.0)
#: the names the two face points get (the head top replaces the empty ``End Site`` under ``Head``)
NOSE_JOINT, HEAD_TOP_JOINT = "Head_Nose", "Head_End"

JOINT_MAP: dict[str, str] = {
    "RAnkle": "Foot_R", "RKnee": "LowerLeg_R", "RHip": "UpperLeg_R",
    "LHip": "UpperLeg_L", "LKnee": "LowerLeg_L", "LAnkle": "Foot_L",
    "Pelvis": "Hips", "Spine": "Chest", "Thorax": "Neck", "Head": HEAD_TOP_JOINT,
    "RWrist": "Hand_R", "RElbow": "LowerArm_R", "RShoulder": "UpperArm_R",
    "LShoulder": "UpperArm_L", "LElbow": "LowerArm_L", "LWrist": "Hand_L",
    "Neck": NOSE_JOINT,
}

#: Each dataset's contents and styles, in the order of its ``cfg/content_label.txt`` and
#: ``cfg/style_label.txt`` (the JSON labels' ids index these).
CONTENTS: dict[str, tuple[str, ...]] = {
    "1": ("walk", "run", "dash", "walk-back", "walk-left", "walk-right", "bow", "bye", "guide", "byebye",
          "respond", "call", "punch", "kick", "slash", "dance-long", "dance-short"),
    "2": ("walk", "walk-turn-left", "walk-turn-right", "run", "wave-both-hands", "wave-left-hand",
          "wave-right-hand", "raise-up-both-hands", "raise-up-left-hand", "raise-up-right-hand"),
}
STYLES: dict[str, tuple[str, ...]] = {
    "1": ("normal", "happy", "sad", "angry", "proud", "not-confident", "masculinity", "feminine", "childish",
          "old", "tired", "active", "musical", "giant", "chimpira"),
    "2": ("active", "elderly", "exhausted", "feminine", "masculine", "normal", "youthful"),
}

#: ``dataset-<N>_<content>_<style>_<take>``
NAME = re.compile(r"^dataset-(?P<dataset>[12])_(?P<content>[a-z-]+)_(?P<style>[a-z-]+)_(?P<take>\d{3})$")


@dataclasses.dataclass(frozen=True, order=True)
class BandaiClip:
    """What a Bandai file name says: ``dataset`` ("1" or "2"), ``content``, ``style``, ``take`` ("001")."""

    dataset: str
    content: str
    style: str
    take: str

    @property
    def stem(self) -> str:
        """The file name without ``.bvh``: ``dataset-1_walk_normal_001``."""
        return f"dataset-{self.dataset}_{self.content}_{self.style}_{self.take}"

    @property
    def subject(self) -> str:
        """The library's ``subject`` of the clip: the dataset (its three actors are not identified per file)."""
        return f"bandai-{self.dataset}"


def parse_name(path: str | Path) -> BandaiClip:
    """The labels a Bandai file name carries.

    Raises:
        InputError: naming the file, when the name is not ``dataset-<N>_<content>_<style>_<take>.bvh``
            or names a content or style the dataset does not have.
    """
    path = Path(path)
    match = NAME.match(path.stem) if path.suffix.lower() == ".bvh" else None
    if match is None:
        raise InputError(f"{path}: not a Bandai Namco file name 'dataset-<N>_<content>_<style>_<take>.bvh' "
                         f"(e.g. dataset-1_walk_normal_001.bvh)")
    clip = BandaiClip(**match.groupdict())
    for kind, known in (("content", CONTENTS[clip.dataset]), ("style", STYLES[clip.dataset])):
        if getattr(clip, kind) not in known:
            raise InputError(f"{path}: {kind} {getattr(clip, kind)!r} is not one of dataset {clip.dataset}'s "
                             f"{len(known)} ({', '.join(known)})")
    return clip


def check_labels(path: str | Path, clip: BandaiClip) -> None:
    """Check the JSON beside a BVH (``{"content": i, "style": j}``, ids into :data:`CONTENTS`
    and :data:`STYLES`) agrees with its name; a missing JSON is not an error (the name is the label).

    Raises:
        InputError: naming the JSON and the field, when it is unreadable or disagrees with the name.
    """
    label = Path(path).with_suffix(".json")
    if not label.exists():
        return
    try:
        data = json.loads(label.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{label}: not readable JSON ({exc}); restore it from {UPSTREAM_URL}") from None
    for kind, names in (("content", CONTENTS[clip.dataset]), ("style", STYLES[clip.dataset])):
        value = data.get(kind) if isinstance(data, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(names):
            raise InputError(f"{label}: field {kind!r} must be an id 0–{len(names) - 1}, got {value!r}")
        if names[value] != getattr(clip, kind):
            raise InputError(f"{label}: field {kind!r} says {names[value]!r} but the file name says "
                             f"{getattr(clip, kind)!r}; restore the pair from {UPSTREAM_URL}")


def with_face(bvh: Bvh) -> Bvh:
    """The file with its face points: the ``End Site`` under :data:`HEAD_JOINT` moved to
    :data:`HEAD_TOP_CM` and a second end site, :data:`NOSE_JOINT`, at :data:`NOSE_CM`, both in
    the head's own frame (where Bandai's files leave the end site at the joint).

    Raises:
        BvhError: the file has no ``Head`` joint with an ``End Site``.
    """
    names = bvh.names
    if HEAD_JOINT not in names or HEAD_TOP_JOINT not in names:
        raise BvhError(f"{bvh.path}: not the Bandai skeleton (no {HEAD_JOINT!r} joint with an End Site); its joints "
                       f"are {names}")
    joints = list(bvh.joints)
    top = names.index(HEAD_TOP_JOINT)
    joints[top] = dataclasses.replace(joints[top], offset=np.array(HEAD_TOP_CM, dtype=np.float64))
    joints.append(dataclasses.replace(joints[top], name=NOSE_JOINT, offset=np.array(NOSE_CM, dtype=np.float64)))
    return dataclasses.replace(bvh, joints=joints)


def joint_indices(bvh: Bvh) -> list[int]:
    """For each H36M17 joint (in its order), the index of its Bandai joint (:data:`JOINT_MAP`).

    Raises:
        BvhError: naming the file and the joint the Bandai skeleton should have.
    """
    names = bvh.names
    missing = [JOINT_MAP[j] for j in H36M17.joint_names if JOINT_MAP[j] not in names]
    if missing:
        raise BvhError(f"{bvh.path}: not the Bandai skeleton (no joint {missing[0]!r}); its joints are {names}")
    return [names.index(JOINT_MAP[j]) for j in H36M17.joint_names]


def bandai_poses(path: str | Path) -> tuple[np.ndarray, float, float]:
    """A Bandai BVH file at its own rate: ``(poses, frame_time, height_mm)``, poses (F, 17, 3)
    H36M17 mm, Z up, Bandai's floor (y = 0) at z = 0, not moved; ``height_mm`` the body height
    of :func:`~poseboard.datasets.mocap.convert.body_height`.

    Raises:
        BvhError: the parser refuses the file (the library drops it as ``unreadable``).
        InputError: the file is not in Bandai's skeleton, units or up axis.
    """
    bvh = with_face(parse_bvh(path))
    raw = forward_kinematics(bvh)[:, joint_indices(bvh)]  # (F, 17, 3) cm, Y up
    poses = raw @ up_to_z(UP).T * MM_PER_UNIT
    return poses, bvh.frame_time, checked_body_height(poses, path, "Bandai's unit (cm)", "Bandai's axis",
                                                      "a Bandai file")
