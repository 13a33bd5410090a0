"""The on-disk format: write and read back; every damaged or missing file rejected by name."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poseboard.camera import Camera
from poseboard.datasets.storage import (
    FORMAT_VERSION,
    DatasetWriter,
    MultiViewStore,
    SingleViewStore,
    open_dataset,
    read_manifest,
    verify_files,
)
from poseboard.errors import ResultFileError
from poseboard.io import sha256_file

N, V, S = 5, 2, 16


def _rig() -> list[Camera]:
    return [
        Camera.look_at([4000, 0, 1500], [0, 0, 900], 1145, (1000, 1000), dist=[-0.2, 0.2, 0, 0, 0], name="a"),
        Camera.look_at([0, 4000, 1500], [0, 0, 900], 1145, (1000, 1000), name="b"),
    ]


def _write_multiview(path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (N, V, 3, S, S), dtype=np.uint8)
    arrays = {
        "boxes": np.tile(np.array([400, 300, 600, 500], dtype=np.int32), (N, V, 1)),
        "joints_3d": rng.normal(0, 300, (N, 17, 3)) + [0, 0, 900],
        "joints_2d": rng.uniform(0, S, (N, V, 17, 2)),
        "visibility": rng.random((N, V, 17)) > 0.2,
        "view_valid": np.ones((N, V), dtype=bool),
    }
    w = DatasetWriter(path, "multiview", (V, 3, S, S), shard_bytes=2 * V * 3 * S * S)  # 2 samples a shard
    rig = w.add_rig(_rig())
    w.add_images(images[:3])
    w.add_images(images[3:])
    rows = [{"sample_id": f"S1/Walk/000/{k:06d}", "subject": "S1", "action": "Walk", "sequence": "S1/Walk/000",
             "frame": k, "scene": "", "shard": s, "offset": o, "rig": rig} for k, (s, o) in enumerate(w.locations)]
    w.write_table("samples.csv", pd.DataFrame(rows))
    for key, value in arrays.items():
        w.write_array(key, value)
    w.finish(name="toy", split="test", seed=0, config={"a": 1}, counts={"samples": N, "views": V, "joints": 17,
             "people": None}, image_size=(S, S), camera_names=["a", "b"], generator="test")
    arrays["images"] = images
    return arrays


@pytest.fixture()
def mv(tmp_path):
    path = tmp_path / "toy" / "test"
    return path, _write_multiview(path)


def test_multiview_round_trip(mv):
    path, arrays = mv
    manifest = read_manifest(path)
    assert manifest.format_version == FORMAT_VERSION and manifest.counts.shards == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["test"]  # no partial folders left
    store = open_dataset(path, verify=True)
    assert isinstance(store, MultiViewStore) and len(store) == N and store.camera_names == ["a", "b"]
    for k in range(N):
        sample = store.sample(k)
        np.testing.assert_array_equal(sample.images, arrays["images"][k])
        np.testing.assert_array_equal(sample.joints_3d, arrays["joints_3d"][k])
        np.testing.assert_array_equal(sample.visibility, arrays["visibility"][k])
        assert sample.meta.frame == k and sample.meta.subject == "S1"
    sub = store.sample(2, views=[1])
    assert sub.images.shape == (1, 3, S, S) and sub.cameras[0].name == "b"
    np.testing.assert_array_equal(sub.joints_2d[0], arrays["joints_2d"][2, 1])
    # crop cameras are rebuilt from the rig and the box
    expected = _rig()[0].crop_and_resize([400, 300, 600, 500], (S, S))
    np.testing.assert_array_equal(store.sample(0).cameras[0].K, expected.K)
    # the memory maps are not pickled with the store (DataLoader workers reopen them)
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.sample(4).images, arrays["images"][4])
    with pytest.raises(IndexError):
        store.sample(N)
    with pytest.raises(IndexError):
        store.sample(0, views=[2])


def test_rewrite_replaces_the_folder(mv):
    path, _ = mv
    (path / "stale.txt").write_text("old")
    _write_multiview(path)
    assert not (path / "stale.txt").exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["test"]


def test_singleview_round_trip(tmp_path):
    path = tmp_path / "scenes" / "train"
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (2, 3, S, S), dtype=np.uint8)
    w = DatasetWriter(path, "singleview", (3, S, S))
    cam = _rig()[0].resize((S, S))
    rig = w.add_rig([cam])
    w.add_images(images)
    counts = [1, 2]
    starts = [0, 1]
    w.write_table("samples.csv", pd.DataFrame([
        {"sample_id": f"scene_000/{k:06d}", "subject": "S9", "action": "A", "sequence": "scene_000", "frame": k,
         "scene": "scene_000", "shard": s, "offset": o, "rig": rig, "people_start": starts[k],
         "people_count": counts[k]}
        for k, (s, o) in enumerate(w.locations)
    ]))
    w.write_table("people.csv", pd.DataFrame({"image": [0, 1, 1], "subject": ["S9"] * 3, "action": ["A"] * 3,
                                              "sequence": ["x"] * 3}))
    joints = rng.normal(0, 300, (3, 17, 3)) + [0, 0, 4000]
    w.write_array("people_boxes", np.array([[1.0, 2.0, 8.0, 14.0]] * 3))
    w.write_array("people_root_cam", joints[:, 6])
    w.write_array("people_joints_cam", joints)
    w.write_array("people_joints_2d", rng.uniform(0, S, (3, 17, 2)))
    w.write_array("people_visibility", np.ones((3, 17), dtype=bool))
    w.write_array("people_valid", np.array([True, True, False]))
    w.finish(name="scenes", split="train", seed=1, config={}, counts={"samples": 2, "views": 1, "joints": 17,
             "people": 3}, image_size=(S, S), camera_names=[cam.name], generator="test")
    store = open_dataset(path)
    assert isinstance(store, SingleViewStore)
    scene = store.scene(1)
    np.testing.assert_array_equal(scene.image, images[1])
    assert len(scene.people) == 2 and scene.people[1].valid is False
    np.testing.assert_array_equal(scene.people[0].root_cam, joints[1, 6])
    np.testing.assert_array_equal(scene.camera.K, cam.K)
    with pytest.raises(ResultFileError, match="singleview dataset, expected multiview"):
        MultiViewStore(path)


def _rewrite_manifest(path: Path, edit) -> None:
    file = path / "manifest.json"
    data = json.loads(file.read_text())
    edit(data)
    file.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "manifest.json").unlink(), r"manifest\.json: manifest missing"),
        (lambda p: (p / "manifest.json").write_text("{not json"), r"manifest\.json: not valid JSON"),
        (lambda p: _rewrite_manifest(p, lambda d: d.update(format_version=99)),
         r"manifest\.json: field 'format_version'.*version 99"),
        (lambda p: _rewrite_manifest(p, lambda d: d.pop("counts")), r"manifest\.json: field 'counts'"),
        (lambda p: _rewrite_manifest(p, lambda d: d.update(format="other")), r"manifest\.json: field 'format'"),
        (lambda p: _rewrite_manifest(p, lambda d: d["files"]["boxes.npy"].update(sha256="0" * 64)),
         r"manifest\.json: content_hash"),
        (lambda p: (p / "images" / "shard_00001.npy").unlink(), r"images/shard_00001\.npy: missing"),
        (lambda p: (p / "joints_3d.npy").unlink(), r"joints_3d\.npy: missing"),
        (lambda p: (p / "samples.csv").unlink(), r"samples\.csv: missing"),
        (lambda p: (p / "rigs" / "rig_000.json").unlink(), r"rig_000\.json: missing"),
        (lambda p: (p / "images" / "shard_00000.npy").write_bytes(b"\x93NUMPY garbage"),
         r"shard_00000\.npy: \d+ bytes, the manifest says"),
    ],
)
def test_reader_names_the_damaged_file(mv, damage, message):
    path, _ = mv
    damage(path)
    with pytest.raises(ResultFileError, match=message):
        open_dataset(path)


def test_corruption_of_same_size_found_by_hash(mv):
    path, _ = mv
    shard = path / "images" / "shard_00002.npy"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    open_dataset(path)  # sizes match: only the hash check sees it
    with pytest.raises(ResultFileError, match=r"shard_00002\.npy: sha256 does not match"):
        verify_files(path)
    with pytest.raises(ResultFileError, match=r"shard_00002\.npy: sha256"):
        open_dataset(path, verify=True)


def test_missing_folder_and_wrong_shapes(tmp_path, mv):
    with pytest.raises(ResultFileError, match="dataset folder not found"):
        open_dataset(tmp_path / "nope")
    path, _ = mv
    # an array of the wrong shape, with a manifest that lists it (regenerated by hand)
    np.save(path / "boxes.npy", np.zeros((N, V, 3), dtype=np.int32))
    from poseboard.datasets import storage

    def fix(d):
        f = path / "boxes.npy"
        d["files"]["boxes.npy"] = {"bytes": f.stat().st_size, "sha256": sha256_file(f)}
        d["content_hash"] = storage.content_hash({k: storage.FileEntry(**v) for k, v in d["files"].items()})

    _rewrite_manifest(path, fix)
    with pytest.raises(ResultFileError, match=r"boxes\.npy: shape \(5, 2, 3\), expected \(5, 2, 4\)"):
        open_dataset(path)
