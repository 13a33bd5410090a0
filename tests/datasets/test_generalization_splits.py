"""The training world and the generalization splits, read back from generated files.

Held out by construction: no novel-split layout, action or body is one the training world draws.
Everything here is measured from what the generator wrote (stored cameras, poses, tables), not
taken from the generator's own bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poseboard.datasets.storage import MultiViewStore
from poseboard.datasets.synthetic.body import (
    NOVEL_PROPORTIONS,
    TRAIN_PROPORTIONS,
    body_proportions,
    in_proportion_ranges,
    novel_bodies,
    training_bodies,
)
from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets
from poseboard.datasets.synthetic.layouts import NOVEL_LAYOUTS, TRAIN_LAYOUTS, camera_factors, in_ranges
from poseboard.datasets.synthetic.motion import NOVEL_ACTIONS, ORIGINAL_ACTIONS, TRAIN_ACTIONS
from poseboard.skeleton import H36M17

SEED = 3
NOVEL = ("synth-novel-rig", "synth-novel-motion", "synth-novel-body", "synth-novel-all")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, MultiViewStore]:
    out = tmp_path_factory.mktemp("world")
    config = SynthConfig.preset("smoke")
    generate_datasets(["synth-h36m", *NOVEL], config, out, seed=SEED)
    stores = {split: MultiViewStore(out / "synth-h36m" / split) for split in ("train", "test")}
    stores |= {name: MultiViewStore(out / name / "test") for name in NOVEL}
    return stores


def _present_cameras(store: MultiViewStore) -> list[list]:
    """Per sequence, its layout's stored cameras (the slots some sample sees; an absent slot is
    never valid)."""
    table = store.table.assign(index=np.arange(len(store)))
    out = []
    for _, rows in table.groupby("sequence", sort=True):
        idx = rows["index"].to_numpy()
        slots = np.flatnonzero(store.view_valid[idx].any(axis=0))
        cameras = store.full_cameras(int(idx[0]))
        out.append([cameras[k] for k in slots])
    return out


def _layout_table(store: MultiViewStore) -> pd.DataFrame:
    return pd.read_csv(store.path / "layouts.csv")


def _bone_lengths(poses: np.ndarray) -> np.ndarray:
    """(N, B) mm: the length of every bone of every pose."""
    parents, children = zip(*H36M17.bones, strict=True)
    return np.linalg.norm(poses[:, list(children)] - poses[:, list(parents)], axis=-1)


def _bodies_by_name(store: MultiViewStore, candidates) -> dict[str, object]:
    by_name = {b.name: b for b in candidates}
    subjects = sorted(set(store.table["subject"]))
    assert set(subjects) <= set(by_name), f"unknown bodies {set(subjects) - set(by_name)}"
    for subject in subjects:  # the poses are performed by that body: its bone lengths, exactly
        rows = np.flatnonzero(store.table["subject"].to_numpy() == subject)
        np.testing.assert_allclose(_bone_lengths(store.joints_3d[rows]),
                                   np.broadcast_to(by_name[subject].bone_lengths, (len(rows), 16)), atol=1e-6)
    return {s: by_name[s] for s in subjects}


def test_training_world_is_broad_and_inside_the_training_families(data):
    train = data["train"]
    layouts = _layout_table(train)
    assert set(layouts["family"]) == {"train"}
    counts = layouts.groupby("rig")["layout_cameras"].first()
    assert set(counts) <= set(TRAIN_LAYOUTS.camera_counts) and counts.nunique() > 1
    assert layouts["placement"].nunique() >= 3
    rigs = _present_cameras(train)
    assert len(rigs) == train.table["sequence"].nunique()  # a layout per sequence
    for cameras in rigs:
        for camera in cameras:
            assert in_ranges(camera_factors(camera), TRAIN_LAYOUTS)
    assert set(train.table["action"]) <= set(TRAIN_ACTIONS)
    assert len(set(train.table["action"])) > len(ORIGINAL_ACTIONS)  # the new actions are trained on
    bodies = _bodies_by_name(train, training_bodies(SEED, 6))
    assert len(bodies) == 6
    for body in bodies.values():
        assert in_proportion_ranges(body_proportions(body), TRAIN_PROPORTIONS)


def test_in_distribution_test_keeps_the_human36m_like_rig_and_subjects(data):
    test = data["test"]
    assert not (test.path / "layouts.csv").exists()
    assert set(test.table["subject"]) == {"S9", "S11"} and set(test.table["action"]) <= set(ORIGINAL_ACTIONS)
    for camera in _present_cameras(test)[0]:  # the Human3.6M-like rig is one layout of the training family
        assert in_ranges(camera_factors(camera), TRAIN_LAYOUTS)


def _every_other_frame(table: pd.DataFrame) -> np.ndarray:
    """Row indices of each sequence's 1st, 3rd, 5th … frame, in the table's order."""
    frames = table["frame"].astype(int)
    rank = frames.groupby(table["sequence"], sort=False).rank(method="first").to_numpy() - 1
    return np.flatnonzero(rank % 2 == 0)


def test_novel_rig_refilms_the_in_distribution_sequences_with_novel_layouts(data):
    rig, test = data["synth-novel-rig"], data["test"]
    assert SynthConfig.preset("smoke").novel.frame_step == 2
    kept = _every_other_frame(test.table)
    assert 0 < len(kept) < len(test)
    assert list(rig.table["sample_id"]) == list(test.table["sample_id"].iloc[kept])
    np.testing.assert_array_equal(rig.joints_3d, test.joints_3d[kept])
    assert set(rig.table["sequence"]) == set(test.table["sequence"])  # every sequence, paired
    assert set(_layout_table(rig)["family"]) == {"novel"}
    for cameras in _present_cameras(rig):
        assert len(cameras) in NOVEL_LAYOUTS.camera_counts
        assert len(cameras) not in TRAIN_LAYOUTS.camera_counts
        for camera in cameras:
            assert not in_ranges(camera_factors(camera), TRAIN_LAYOUTS)
    absent = ~rig.view_valid.any(axis=0)
    assert not rig.visibility[:, absent].any()


@pytest.mark.parametrize("name", ["synth-novel-motion", "synth-novel-all"])
def test_novel_motion_only_held_out_actions(data, name):
    assert set(NOVEL_ACTIONS).isdisjoint(TRAIN_ACTIONS)
    actions = set(data[name].table["action"])
    assert actions <= set(NOVEL_ACTIONS) and actions.isdisjoint(data["train"].table["action"])


@pytest.mark.parametrize("name", ["synth-novel-body", "synth-novel-all"])
def test_novel_bodies_are_outside_the_training_proportions(data, name):
    store = data[name]
    bodies = _bodies_by_name(store, novel_bodies(SEED, 4))
    assert set(bodies).isdisjoint(data["train"].table["subject"])
    for body in bodies.values():
        props = body_proportions(body)
        assert not in_proportion_ranges(props, TRAIN_PROPORTIONS)
        assert in_proportion_ranges(props, NOVEL_PROPORTIONS)


def test_novel_splits_are_sized_like_the_in_distribution_test(data):
    config = SynthConfig.preset("smoke")
    spacing = config.novel.stride * config.novel.frame_step
    for name in NOVEL:
        table = data[name].table
        assert table["sequence"].nunique() >= config.novel.sequences
        if name == "synth-novel-rig":
            assert len(table) == len(_every_other_frame(data["test"].table))
            continue
        assert config.novel.samples / 2 <= len(table) < config.novel.samples  # thinned, each sequence kept
        for _, frames in table["frame"].astype(int).groupby(table["sequence"]):  # 0, stride·step, …
            assert list(frames) == list(range(0, spacing * len(frames), spacing))


def test_thinning_keeps_the_frames_it_keeps(data, tmp_path):
    """frame_step removes frames and nothing else: the kept frames' images, cameras and poses are
    byte for byte those of the unthinned split."""
    base = SynthConfig.preset("smoke")
    config = base.model_copy(update={"novel": base.novel.model_copy(update={"frame_step": 1})})
    generate_datasets(["synth-novel-all"], config, tmp_path, seed=SEED)
    full, thin = MultiViewStore(tmp_path / "synth-novel-all" / "test"), data["synth-novel-all"]
    assert len(thin) < len(full)
    row = {sid: i for i, sid in enumerate(full.table["sample_id"])}
    for i, sid in enumerate(thin.table["sample_id"]):
        a, b = thin.sample(i), full.sample(row[sid])
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
        np.testing.assert_array_equal(a.view_valid, b.view_valid)
        assert [c.name for c in a.cameras] == [c.name for c in b.cameras]
        np.testing.assert_array_equal(np.stack([c.projection_matrix for c in a.cameras]),
                                      np.stack([c.projection_matrix for c in b.cameras]))


def test_novel_splits_have_no_train_split_and_skip_user_inputs(tmp_path):
    config = SynthConfig.preset("smoke")
    assert generate_datasets(["synth-novel-motion"], config, tmp_path, splits=["train"]) == []
    assert config.h36m.test.world is None  # the in-distribution test keeps the built-in world
