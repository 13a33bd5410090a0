"""A user's motion .npz: round trip, grouping, and every bad file rejected by name."""

from __future__ import annotations

import numpy as np
import pytest

from poseboard.datasets.synthetic.body import SUBJECTS
from poseboard.datasets.synthetic.motion import generate_motion_set
from poseboard.datasets.synthetic.user_motion import load_user_motion
from poseboard.errors import InputError


@pytest.fixture(scope="module")
def motion():
    return generate_motion_set(["S1", "S9"], ("Walking", "Waving"), 1, 30, seed=3)


def poses_of(n: int = 20) -> np.ndarray:
    pose = SUBJECTS["S1"].rest_pose()
    return np.stack([pose + [i, 0.0, 0.0] for i in range(n)])


def test_round_trip(tmp_path, motion):
    path = tmp_path / "mine.npz"
    np.savez(
        path,
        poses=np.concatenate([s.poses for s in motion]),
        sequence=np.concatenate([[s.sequence] * s.num_frames for s in motion]),
        action=np.concatenate([[s.action] * s.num_frames for s in motion]),
        subject=np.concatenate([[s.subject] * s.num_frames for s in motion]),
        fps=np.float64(50.0),
    )
    loaded = load_user_motion(path)
    assert [s.sequence for s in loaded] == [s.sequence for s in motion]
    for a, b in zip(loaded, motion, strict=True):
        assert (a.subject, a.action, a.fps) == (b.subject, b.action, b.fps)
        np.testing.assert_array_equal(a.poses, b.poses)


def test_defaults_and_grouping(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, poses=poses_of(20).astype(np.float32))
    (only,) = load_user_motion(str(path))
    assert (only.sequence, only.action, only.subject, only.fps) == ("user/000", "Unknown", "user", 50.0)
    assert only.poses.shape == (20, 17, 3) and only.poses.dtype == np.float64
    # actions without sequences: one sequence per run of equal action
    np.savez(path, poses=poses_of(6), action=np.array(["A", "A", "B", "B", "A", "A"]),
             subject=np.array("me"), fps=25)
    runs = load_user_motion(path)
    assert [(s.sequence, s.action, s.num_frames, s.subject, s.fps) for s in runs] == [
        ("user/000", "A", 2, "me", 25.0), ("user/001", "B", 2, "me", 25.0),
        ("user/002", "A", 2, "me", 25.0)]
    # sequences in order of first appearance, frames in file order, bytes accepted
    np.savez(path, poses=poses_of(5), sequence=np.array([b"z", b"a", b"z", b"a", b"z"]))
    z, a = load_user_motion(path)
    assert (z.sequence, a.sequence) == ("z", "a")
    np.testing.assert_array_equal(z.poses, poses_of(5)[[0, 2, 4]])


def bad_files(tmp_path):
    good = poses_of(10)
    metres = good / 1000.0
    y_up = good[..., [0, 2, 1]] - [0.0, 0.0, 1000.0]
    nan = good.copy()
    nan[3, 5, 1] = np.nan
    cases = {
        "missing_poses": (dict(pose=good), "missing required key 'poses'"),
        "unknown_key": (dict(poses=good, sequences=np.array(["a"] * 10)),
                        "unknown key.*did you mean 'sequences' → 'sequence'"),
        "wrong_shape": (dict(poses=good[:, :16]), r"expected|\(N, 17, 3\).*\(10, 16, 3\)"),
        "flat_shape": (dict(poses=good.reshape(10, 51)), r"\(10, 51\)"),
        "nan": (dict(poses=nan), r"NaN or inf in 1 frame\(s\): 3"),
        "metres": (dict(poses=metres), "looks like metres.*multiply by 1000"),
        "centimetres": (dict(poses=good / 10.0), "centimetres"),
        "y_up": (dict(poses=y_up), r"point along \+Y.*Z up with the floor at z = 0.*\(x, -z, y\)"),
        # Y and Z swapped with the floor left at 0: the floor check alone let it through (issue 21)
        "y_z_swapped": (dict(poses=good[..., [0, 2, 1]]), r"bodies point along \+Y, not up"),
        "upside_down": (dict(poses=good * [1.0, 1.0, -1.0] + [0.0, 0.0, 1800.0]), r"point along -Z"),
        "floating": (dict(poses=good + [0.0, 0.0, 2000.0]), "Z up with the floor at z = 0"),
        "sequence_length": (dict(poses=good, sequence=np.array(["a"] * 9)),
                            r"'sequence'.*expected shape \(10,\), got \(9,\)"),
        "action_length": (dict(poses=good, action=np.array(["a"] * 11)),
                          r"'action'.*expected shape \(10,\), got \(11,\)"),
        "two_actions": (dict(poses=good, sequence=np.array(["s"] * 10),
                             action=np.array(["a"] * 5 + ["b"] * 5)), "more than one action"),
        "not_strings": (dict(poses=good, action=np.ones(10)), "must hold strings"),
        "pickled": (dict(poses=good, action=np.array(["a"] * 10, dtype=object)), "pickled"),
        "bad_fps": (dict(poses=good, fps=-1.0), "'fps' must be one positive number"),
        "empty": (dict(poses=np.zeros((0, 17, 3))), r"N ≥ 1"),
        "zeros": (dict(poses=np.zeros((4, 17, 3))), "zero length"),
    }
    return cases


@pytest.mark.parametrize("case", sorted(bad_files(None)))
def test_bad_files_are_rejected_with_the_file_and_the_problem(tmp_path, case):
    arrays, message = bad_files(tmp_path)[case]
    path = tmp_path / f"{case}.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message) as err:
        load_user_motion(path)
    assert str(path) in str(err.value)


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(InputError, match="no such file") as err:
        load_user_motion(missing)
    assert str(missing) in str(err.value)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match=r"not a readable \.npz") as err:
        load_user_motion(garbage)
    assert str(garbage) in str(err.value)
    single = tmp_path / "single.npy"
    np.save(single, poses_of(3))
    with pytest.raises(InputError, match=r"expected an \.npz archive"):
        load_user_motion(single)


def test_up_axis_fix_in_the_message_makes_the_file_load(tmp_path):
    """The rotation the Y-up message prescribes turns the file into an accepted Z-up one."""
    good = poses_of(10)
    swapped = good[..., [0, 2, 1]]
    path = tmp_path / "yup.npz"
    np.savez(path, poses=swapped)
    with pytest.raises(InputError, match=r"\(x, y, z\) → \(x, -z, y\)"):
        load_user_motion(path)
    x, y, z = swapped[..., 0], swapped[..., 1], swapped[..., 2]
    fixed = np.stack([x, -z, y], axis=-1)
    np.savez(path, poses=fixed)
    (seq,) = load_user_motion(path)
    # a plain swap is a mirror image; the prescribed rotation makes it upright (y mirrored)
    np.testing.assert_allclose(seq.poses, good * [1.0, -1.0, 1.0])


def test_every_procedural_action_counts_as_upright(tmp_path):
    """No false alarm: the up-axis check accepts every action the synthetic world moves in."""
    from poseboard.datasets.synthetic.motion import ACTIONS

    motion = generate_motion_set(["S1"], ACTIONS, 1, 60, seed=5)
    path = tmp_path / "all.npz"
    np.savez(path, poses=np.concatenate([s.poses for s in motion]),
             sequence=np.concatenate([[s.sequence] * s.num_frames for s in motion]))
    assert len(load_user_motion(path)) == len(ACTIONS)
