"""Which BVH joint stands for each Human3.6M-17 joint.

The default map (:data:`CANDIDATES`) lists, for each H36M17 joint, the names the common
skeletons give it, first match wins: CMU's BVH conversions and Mixamo (``mixamorig:`` and
other ``namespace:`` prefixes are ignored, as are case, ``_``, ``-``, ``.`` and spaces),
MotionBuilder/HumanIK and the Poser/DAZ names (``rThigh``, ``rShin``, ``rFoot``, …).

* legs: hip = the thigh joint (``RightUpLeg``), knee = ``RightLeg``, ankle = ``RightFoot``;
* arms: shoulder = the upper-arm joint (``RightArm``; ``RightShoulder`` is the clavicle in
  CMU/Mixamo skeletons and is used only when there is no ``RightArm``), elbow =
  ``RightForeArm``, wrist = ``RightHand``;
* trunk: Pelvis = ``Hips``, Spine = ``Spine`` (else ``Spine1``, ``LowerBack``, ``abdomen``),
  Thorax = ``Neck`` (the base of the neck), Neck/Nose = ``Head`` (the skull's base),
  Head (top) = the end of the head (``HeadTop_End``, or the ``End Site`` under ``Head``).

A ``--joint-map`` file (YAML or JSON, ``{H36M17 joint: BVH joint}``) overrides any of these.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import yaml

from poseboard.datasets.mocap.bvh import Bvh, BvhError
from poseboard.skeleton import H36M17

CANDIDATES: dict[str, tuple[str, ...]] = {
    "RAnkle": ("RightFoot", "RightAnkle", "rFoot", "R_Ankle", "RFoot"),
    "RKnee": ("RightLeg", "RightKnee", "RightShin", "rShin", "RightLowLeg", "RightLowerLeg", "RKnee"),
    "RHip": ("RightUpLeg", "RightHip", "RightThigh", "rThigh", "RightUpperLeg", "RHip"),
    "LHip": ("LeftUpLeg", "LeftHip", "LeftThigh", "lThigh", "LeftUpperLeg", "LHip"),
    "LKnee": ("LeftLeg", "LeftKnee", "LeftShin", "lShin", "LeftLowLeg", "LeftLowerLeg", "LKnee"),
    "LAnkle": ("LeftFoot", "LeftAnkle", "lFoot", "L_Ankle", "LFoot"),
    "Pelvis": ("Hips", "Hip", "Pelvis", "Root"),
    "Spine": ("Spine", "Spine1", "LowerBack", "abdomen", "Chest"),
    "Thorax": ("Neck", "Neck1", "Thorax", "UpperChest", "chest"),
    "Head": ("HeadTop_End", "HeadTop", "Head_End", "HeadEnd", "head_End", "Head_Top"),
    "RWrist": ("RightHand", "RightWrist", "rHand", "RWrist"),
    "RElbow": ("RightForeArm", "RightElbow", "rForeArm", "RightLowerArm", "RElbow"),
    "RShoulder": ("RightArm", "RightUpArm", "RightUpperArm", "rShldr", "RShoulder", "RightShoulder"),
    "LShoulder": ("LeftArm", "LeftUpArm", "LeftUpperArm", "lShldr", "LShoulder", "LeftShoulder"),
    "LElbow": ("LeftForeArm", "LeftElbow", "lForeArm", "LeftLowerArm", "LElbow"),
    "LWrist": ("LeftHand", "LeftWrist", "lHand", "LWrist"),
    "Neck": ("Head", "Neck2", "head", "Nose"),
}


def normalise(name: str) -> str:
    """A joint name as the map compares it: no ``namespace:`` prefix, lower case, letters and digits."""
    return re.sub(r"[^a-z0-9]", "", name.rsplit(":", 1)[-1].lower())


def read_joint_map(path: str | Path) -> dict[str, str]:
    """A ``--joint-map`` file: ``{H36M17 joint: BVH joint}`` (YAML or JSON), checked."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BvhError(f"{path}: joint map not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BvhError(f"{path}: joint map is not readable YAML/JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise BvhError(f"{path}: a joint map is a mapping of H36M17 joint names to BVH joint names, e.g. "
                       f"{{RAnkle: RightFoot, Head: HeadTop_End}}")
    for key in data:
        if key not in H36M17.joint_names:
            near = difflib.get_close_matches(key, H36M17.joint_names, n=1)
            raise BvhError(f"{path}: {key!r} is not an H36M17 joint" + (f" (did you mean {near[0]!r}?)" if near else "")
                           + f"; the joints are {list(H36M17.joint_names)}")
    return data


def map_joints(bvh: Bvh, overrides: dict[str, str] | None = None, map_path: Path | None = None) -> list[int]:
    """For each H36M17 joint (in its order), the index of the BVH joint standing for it.

    Raises:
        BvhError: naming the file, the H36M17 joint missing, the names tried and the fix.
    """
    by_name = {normalise(n): i for i, n in reversed(list(enumerate(bvh.names)))}
    exact = {n: i for i, n in enumerate(bvh.names)}
    out = []
    for joint in H36M17.joint_names:
        if overrides and joint in overrides:
            target = overrides[joint]
            if target not in exact and normalise(target) not in by_name:
                raise BvhError(f"{map_path or 'joint map'}: {joint} → {target!r}, but {bvh.path} has no joint "
                               f"{target!r}; its joints are {bvh.names}")
            out.append(exact.get(target, by_name.get(normalise(target), -1)))
            continue
        found = next((by_name[normalise(c)] for c in CANDIDATES[joint] if normalise(c) in by_name), None)
        if found is None:
            raise BvhError(f"{bvh.path}: no joint for the H36M17 joint {joint!r} (tried {list(CANDIDATES[joint])}); "
                           f"the file's joints are {bvh.names}. Pass --joint-map FILE with a line "
                           f"'{joint}: <your joint>'")
        out.append(found)
    return out
