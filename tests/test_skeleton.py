"""The canonical 17-joint order and the tables to the other published orders."""

from __future__ import annotations

import numpy as np
import pytest

from poseboard.errors import InputError
from poseboard.skeleton import H36M17, H36M_TOOLBOX, MUPOTS, SKELETONS, TO_CANONICAL, convert_joints

EXPECTED_H36M17 = ("RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle", "Pelvis", "Spine", "Thorax",
                   "Head", "RWrist", "RElbow", "RShoulder", "LShoulder", "LElbow", "LWrist", "Neck")


def test_canonical_order_and_root():
    assert H36M17.joint_names == EXPECTED_H36M17
    assert H36M17.root == 6 and H36M17.joint_names[6] == "Pelvis"
    assert H36M_TOOLBOX.root == 0 and MUPOTS.root == 14
    assert MUPOTS.joint_names[14] == "Pelvis"
    assert len(H36M17.bones) == 16


@pytest.mark.parametrize("name", sorted(TO_CANONICAL))
def test_tables_are_permutations_that_keep_names_and_roots(name):
    table = TO_CANONICAL[name]
    assert sorted(table) == list(range(17))
    skel = SKELETONS[name]
    assert table[skel.root] == H36M17.root
    # the same side and limb: every R*/L* joint maps to a canonical joint of the same side
    for i, j in enumerate(table):
        a, b = skel.joint_names[i], H36M17.joint_names[j]
        if a[0] in "RL" and a[1].isupper():
            assert a[0] == b[0], (a, b)


def test_convert_round_trip_and_known_joints():
    joints = np.random.default_rng(0).normal(size=(5, 17, 3))
    toolbox = convert_joints(joints, "h36m17", "h36m_toolbox")
    np.testing.assert_array_equal(toolbox[:, 0], joints[:, 6])  # pelvis
    np.testing.assert_array_equal(toolbox[:, 3], joints[:, 0])  # right ankle
    mupots = convert_joints(joints, "h36m17", "mupots")
    np.testing.assert_array_equal(mupots[:, 14], joints[:, 6])
    np.testing.assert_array_equal(convert_joints(mupots, "mupots", "h36m17"), joints)
    np.testing.assert_array_equal(convert_joints(toolbox, "h36m_toolbox", "h36m17"), joints)
    with pytest.raises(InputError, match="unknown joint order"):
        convert_joints(joints, "coco", "h36m17")


def test_left_right_swap_is_an_involution():
    perm = np.array(H36M17.left_right_swap)
    np.testing.assert_array_equal(perm[perm], np.arange(17))
    assert H36M17.joint_names[perm[0]] == "LAnkle" and perm[6] == 6


def test_bone_lengths():
    pose = np.zeros((17, 3))
    pose[:, 2] = np.arange(17) * 10.0
    lengths = H36M17.bone_lengths(pose)
    assert lengths.shape == (16,)
    p, c = np.array(H36M17.bones).T
    np.testing.assert_allclose(lengths, np.abs(c - p) * 10.0)
