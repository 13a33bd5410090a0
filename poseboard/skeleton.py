"""Skeletons: joint names, parents and root, and index tables between published joint orders.

poseboard's canonical order is the 17-joint Human3.6M order of learnable triangulation
(root = pelvis, index 6). Other orders are tables, not code paths: ``to_canonical[i]``
is the canonical index of that order's joint ``i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from poseboard.errors import InputError, check_shape


@dataclass(frozen=True)
class Skeleton:
    """A joint order: names, the parent of each joint (-1 for the root) and the root index."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    root: int

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n:
            raise ValueError(f"skeleton {self.name}: {n} names but {len(self.parents)} parents")
        if self.parents[self.root] != -1 or sum(p == -1 for p in self.parents) != 1:
            raise ValueError(f"skeleton {self.name}: exactly the root must have parent -1")
        for j in range(n):  # every chain reaches the root without a cycle
            seen, k = set(), j
            while k != -1:
                if k in seen:
                    raise ValueError(f"skeleton {self.name}: cycle through joint {j}")
                seen.add(k)
                k = self.parents[k]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs, one per non-root joint."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p != -1)

    def index(self, joint: str) -> int:
        try:
            return self.joint_names.index(joint)
        except ValueError:
            raise InputError(f"skeleton {self.name}: no joint {joint!r}; joints are {self.joint_names}") from None

    @cached_property
    def left_right_swap(self) -> tuple[int, ...]:
        """Permutation that mirrors the body (R* ↔ L*), for flip augmentation and L/R checks."""
        perm = []
        for name in self.joint_names:
            if name.startswith("R"):
                mirror = "L" + name[1:]
            elif name.startswith("L"):
                mirror = "R" + name[1:]
            else:
                mirror = name
            perm.append(self.joint_names.index(mirror) if mirror in self.joint_names else self.joint_names.index(name))
        return tuple(perm)

    def bone_lengths(self, joints: np.ndarray) -> np.ndarray:
        """(..., J, 3) → (..., J-1) lengths of :attr:`bones`, in the joints' units."""
        check_shape(joints, ["*", self.num_joints, 3], "joints")
        p, c = np.array(self.bones).T
        return np.linalg.norm(joints[..., c, :] - joints[..., p, :], axis=-1)


#: Learnable triangulation's 17-joint Human3.6M order (MPII's 16 + Neck/Nose); root = pelvis (6).
H36M17 = Skeleton(
    name="h36m17",
    joint_names=(
        "RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle", "Pelvis", "Spine", "Thorax",
        "Head", "RWrist", "RElbow", "RShoulder", "LShoulder", "LElbow", "LWrist", "Neck",
    ),
    # Neck/Nose (16) hangs from the thorax and the head top (9) from it, as in the
    # reference's connectivity (8-16, 9-16).
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 16, 11, 12, 8, 8, 13, 14, 8),
    root=6,
)

#: H36M-Toolbox / RootNet / Epipolar Transformer order; root = pelvis (0).
H36M_TOOLBOX = Skeleton(
    name="h36m_toolbox",
    joint_names=(
        "Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Torso", "Neck",
        "Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    root=0,
)

#: MuPoTS-3D order as in RootNet's ``MuPoTS-3D.json``; root = pelvis (14).
MUPOTS = Skeleton(
    name="mupots",
    joint_names=(
        "HeadTop", "Thorax", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Pelvis", "Spine", "Head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    root=14,
)

#: For each order, ``to_canonical[i]`` = the H36M17 index of that order's joint i. The
#: H36M-Toolbox table is exact (both select the same Human3.6M 32-joint markers: Torso =
#: Spine, Neck = Thorax, Nose = Neck/Nose, Head = head top). MuPoTS' joints are
#: approximations of those markers: HeadTop → Head, Head → Neck/Nose.
TO_CANONICAL: dict[str, tuple[int, ...]] = {
    "h36m17": tuple(range(17)),
    "h36m_toolbox": (6, 2, 1, 0, 3, 4, 5, 7, 8, 16, 9, 13, 14, 15, 12, 11, 10),
    "mupots": (9, 8, 12, 11, 10, 13, 14, 15, 2, 1, 0, 3, 4, 5, 6, 7, 16),
}

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M17, H36M_TOOLBOX, MUPOTS)}


def convert_joints(joints: np.ndarray, source: str, target: str) -> np.ndarray:
    """Reorder (..., 17, 3|2) joints from the order ``source`` to the order ``target``."""
    for name in (source, target):
        if name not in TO_CANONICAL:
            raise InputError(f"unknown joint order {name!r}; known: {sorted(TO_CANONICAL)}")
    check_shape(joints, ["*", 17, "C"], "joints")
    canonical = np.empty_like(joints)
    canonical[..., list(TO_CANONICAL[source]), :] = joints
    return canonical[..., list(TO_CANONICAL[target]), :]
