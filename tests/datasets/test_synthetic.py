"""Generated datasets: contents, determinism, user rig and motion inputs, torch views, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from poseboard.camera import Camera, save_rig
from poseboard.datasets.storage import MultiViewStore, SingleViewStore, open_dataset, read_manifest
from poseboard.datasets.synthetic.body import SUBJECTS, TEST_SUBJECTS, TRAIN_SUBJECTS
from poseboard.datasets.synthetic.commands import generate, show
from poseboard.datasets.synthetic.config import NOVEL_DATASETS
from poseboard.datasets.synthetic.generator import DATASET_NAMES, SynthConfig, generate_dataset, generate_datasets
from poseboard.errors import InputError, ResultFileError, command_app


def tiny_config(**overrides) -> SynthConfig:
    """A few samples of everything, small images: a second or two per dataset."""
    data = {
        "crop_size": 48,
        "h36m": {"train": {"samples": 10, "stride": 5}, "test": {"samples": 6, "stride": 16}, "area_radius_mm": 1500.0,
                 "distractor_probability": 1.0},
        "panoptic": {"train": {"samples": 2, "stride": 5, "views": [0, 8, 16, 24]},
                     "test": {"samples": 2, "stride": 16}, "area_radius_mm": 500.0},
        "mupots": {"train": {"images": 3, "scenes": 1, "stride": 10}, "test": {"images": 4, "scenes": 2, "stride": 25},
                   "image_size": 96},
        "undistort": False,  # keep the lens distortion in images and cameras: the harder path to get right
    }  # fmt: skip
    data.update(overrides)
    return SynthConfig.model_validate(data)


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    reports = generate_datasets(DATASET_NAMES, tiny_config(), out, seed=7)  # no `novel` section: none of those
    built_in = [n for n in DATASET_NAMES if n not in NOVEL_DATASETS]
    assert {(r.name, r.split) for r in reports} == {(n, s) for n in built_in for s in ("train", "test")}
    return out


def test_presets():
    from poseboard.datasets.synthetic.config import _PRESETS
    from poseboard.datasets.synthetic.vocabulary import PRESETS

    assert tuple(_PRESETS) == PRESETS  # the registry the help, params.yaml and preset() share
    smoke, default, gpu = (SynthConfig.preset(p) for p in ("smoke", "default", "gpu"))
    assert smoke.crop_size < default.crop_size
    assert default.h36m.test.samples >= 1000 and default.h36m.train.samples >= 1000
    assert default.panoptic.test.views is None  # every dome camera for the sweep
    assert default.mupots.train.images + default.mupots.test.images >= 1000
    assert gpu.panoptic.train.samples == 10 * default.panoptic.train.samples and gpu.h36m.test == default.h36m.test
    assert default.h36m.train.stride < default.h36m.test.stride
    with pytest.raises(InputError, match="unknown preset"):
        SynthConfig.preset("huge")
    with pytest.raises(ValidationError, match="extra"):
        SynthConfig.model_validate({**default.model_dump(), "colour": "red"})
    with pytest.raises(ValidationError):
        SynthConfig.preset("smoke", crop_size=4)


def test_multiview_contents(tiny):
    for name, views in (("synth-h36m", 4), ("synth-panoptic", 31)):
        test = open_dataset(tiny / name / "test")
        assert isinstance(test, MultiViewStore) and test.num_views == views
        assert test.manifest.counts.samples == len(test) > 0
        assert {test.meta(i).subject for i in range(len(test))} <= set(TEST_SUBJECTS)
    train = open_dataset(tiny / "synth-h36m" / "train")
    assert len(train) == 10 and {train.meta(i).subject for i in range(10)} <= set(TRAIN_SUBJECTS)
    assert open_dataset(tiny / "synth-panoptic" / "train").num_views == 4
    # train and test calibrations differ (jittered per split and subject)
    assert not np.allclose(train.full_cameras(0)[0].K, open_dataset(tiny / "synth-h36m" / "test").full_cameras(0)[0].K)
    ids = [train.meta(i).sample_id for i in range(len(train))]
    assert len(set(ids)) == len(ids)


def test_stored_crops_contain_the_body_and_cameras_reproject(tiny):
    for name in ("synth-h36m", "synth-panoptic"):
        store = open_dataset(tiny / name / "test")
        size = store.image_size[0]
        for i in range(len(store)):
            sample = store.sample(i)
            full = store.full_cameras(i)
            for v, cam in enumerate(sample.cameras):
                assert cam.has_distortion
                uv = cam.project(sample.joints_3d, distort=True)
                assert np.abs(uv - sample.joints_2d[v]).max() < 0.5
                # the same through the full frame and the box
                left, top, right, _ = sample.boxes[v]
                via_frame = (full[v].project(sample.joints_3d) - [left, top]) * size / (right - left)
                assert np.abs(via_frame - sample.joints_2d[v]).max() < 0.5
                if name == "synth-h36m":  # the H36M rig sees the whole body in every view
                    assert np.all((uv > 0.03 * size) & (uv < 0.97 * size))
        stats = store.manifest.stats
        assert 0.02 < stats["occluded_fraction"] < 0.6
        assert stats["visible_fraction"] > 0.4


def test_singleview_contents(tiny):
    store = open_dataset(tiny / "synth-mupots" / "test")
    assert isinstance(store, SingleViewStore) and len(store) == 4 and store.image_size == (96, 96)
    depths = []
    for i in range(len(store)):
        scene = store.scene(i)
        assert scene.image.shape == (3, 96, 96)
        assert 1 <= len(scene.people) <= 4
        for person in scene.people:
            np.testing.assert_allclose(person.root_cam, person.joints_cam[6])
            np.testing.assert_allclose(scene.camera.project(scene.camera.camera_to_world(person.joints_cam)),
                                       person.joints_2d, atol=1e-6)
            left, top, right, bottom = person.box
            assert 0 <= left < right <= 96 and 0 <= top < bottom <= 96
            depths.append(person.root_cam[2])
    assert 1300 < min(depths) and max(depths) < 7800


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, tiny):
    cfg = tiny_config()
    generate_datasets(["synth-h36m", "synth-mupots"], cfg, tmp_path / "a", seed=7)
    for name in ("synth-h36m", "synth-mupots"):
        assert file_hashes(tmp_path / "a" / name) == file_hashes(tiny / name), name
    generate_dataset("synth-h36m", cfg, tmp_path / "b", seed=8, splits=["test"])
    other = read_manifest(tmp_path / "b" / "synth-h36m" / "test")
    assert other.content_hash != read_manifest(tiny / "synth-h36m" / "test").content_hash


def test_another_datasets_config_leaves_a_dataset_byte_identical(tmp_path, tiny):
    """A manifest records the shared options and its own dataset's section only: changing
    synth-mupots's scenes must not change synth-h36m's files (DVC would re-run its stages)."""
    cfg = tiny_config()
    mupots = cfg.mupots.model_copy(update={"train": cfg.mupots.train.model_copy(
        update={"scenes": cfg.mupots.train.scenes + 1})})
    changed = cfg.model_copy(update={"mupots": mupots})
    generate_dataset("synth-h36m", changed, tmp_path / "a", seed=7, splits=["test"])
    assert file_hashes(tmp_path / "a" / "synth-h36m" / "test") == file_hashes(tiny / "synth-h36m" / "test")
    manifest = read_manifest(tmp_path / "a" / "synth-h36m" / "test")
    assert "h36m" in manifest.config and not {"mupots", "panoptic"} & set(manifest.config)


def test_worker_processes_give_the_same_bytes(tmp_path, tiny):
    generate_dataset("synth-panoptic", tiny_config(), tmp_path, seed=7, splits=["test"], workers=2)
    assert file_hashes(tmp_path / "synth-panoptic" / "test") == file_hashes(tiny / "synth-panoptic" / "test")


def _user_rig(path: Path) -> list[Camera]:
    cams = [
        Camera.look_at([3000, -2500, 1600], [0, 0, 900], 900, (800, 600), dist=[-0.1, 0.05, 0, 0, 0], name="left"),
        Camera.look_at([-3000, -2500, 1400], [0, 0, 900], 1000, (800, 600), name="right"),
        Camera.look_at([0, 3500, 2500], [0, 0, 900], 950, (800, 600), name="top"),
    ]
    save_rig(cams, path)
    return cams


def _user_motion(path: Path) -> np.ndarray:
    from poseboard.datasets.synthetic.body import forward_kinematics

    n = 12
    t = np.arange(n)
    poses = forward_kinematics(
        SUBJECTS["S9"], {"r_elbow_flexion": 5.0 * t, "l_shoulder_flexion": 6.0 * t},
        np.stack([100.0 + 10 * t, 200.0 + 0 * t, 950.0 + 0 * t], 1), 15.0 * t,
    )  # fmt: skip
    poses[..., 2] -= poses[..., 2].min() - 80.0
    np.savez(path, poses=poses, subject=np.array(["me"] * n), action=np.array(["Stretching"] * n))
    return poses


def test_user_rig_and_motion_round_trip(tmp_path):
    rig = _user_rig(tmp_path / "rig.json")
    poses = _user_motion(tmp_path / "motion.npz")
    cfg = tiny_config(rig_path=tmp_path / "rig.json", motion_path=tmp_path / "motion.npz", test_subjects=["me"])
    cfg.h36m.test.stride = 4
    reports = generate_dataset("synth-h36m", cfg, tmp_path / "out", seed=0)
    store = open_dataset(tmp_path / "out" / "synth-h36m" / "test")
    assert store.camera_names == ["left", "right", "top"]
    for mine, stored in zip(rig, store.full_cameras(0), strict=True):
        np.testing.assert_allclose(stored.projection_matrix, mine.projection_matrix, atol=1e-9)
        np.testing.assert_array_equal(stored.dist, mine.dist)
    # every 4th frame of the user's motion, as given (a user rig: no recentring)
    frames = [store.meta(i).frame for i in range(len(store))]
    assert frames == [0, 4, 8]
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(store.sample(i).joints_3d, poses[f])
        assert store.meta(i).subject == "me" and store.meta(i).action == "Stretching"
    test_manifest = read_manifest(tmp_path / "out" / "synth-h36m" / "test")
    assert test_manifest.config["motion_source"] == "user" and test_manifest.config["input_hashes"]
    # the train split had no user sequence ("me" is a test subject): procedural motion
    assert read_manifest(tmp_path / "out" / "synth-h36m" / "train").config["motion_source"] == "procedural"
    assert [r.split for r in reports] == ["train", "test"]
    # MuPoTS-like scenes from the same motion: the user's subject and action in every scene
    generate_dataset("synth-mupots", cfg, tmp_path / "out", seed=0, splits=["test"])
    scenes = open_dataset(tmp_path / "out" / "synth-mupots" / "test")
    assert set(scenes.meta(0).subject.split(",")) == {"me"}
    assert scenes.image_size == (96, 72)  # the user camera's 4:3 aspect, 96 px wide


def test_bad_user_files_are_rejected_by_name(tmp_path):
    bad_rig = tmp_path / "rig.json"
    bad_rig.write_text(json.dumps({"format": "poseboard-rig", "version": 1, "units": "m", "cameras": []}))
    with pytest.raises(ResultFileError, match=r"rig\.json: field 'units'"):
        generate_dataset("synth-h36m", tiny_config(rig_path=bad_rig), tmp_path / "out", splits=["test"])
    bad_motion = tmp_path / "motion.npz"
    np.savez(bad_motion, poses=np.zeros((5, 16, 3)))
    with pytest.raises(InputError, match=r"motion\.npz"):
        generate_dataset("synth-h36m", tiny_config(motion_path=bad_motion), tmp_path / "out", splits=["test"])
    with pytest.raises(InputError, match="rig file not found"):
        generate_dataset("synth-h36m", tiny_config(rig_path=tmp_path / "nope.json"), tmp_path / "out")
    with pytest.raises(InputError, match="did you mean 'synth-h36m'"):
        generate_dataset("synth-h36", tiny_config(), tmp_path / "out")
    assert not (tmp_path / "out" / "synth-h36m").exists() or not any((tmp_path / "out" / "synth-h36m").iterdir())


def test_torch_datasets(tiny):
    import torch
    from torch.utils.data import DataLoader

    from poseboard.datasets.torch_dataset import (
        MultiViewDataset,
        SingleViewSceneDataset,
        collate_multiview,
        collate_scenes,
    )

    ds = MultiViewDataset(tiny / "synth-panoptic" / "test", cameras=[30, 0, 7])
    assert ds.camera_names == ["hd_02_06", "hd_00_00", "hd_00_07"]
    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate_multiview)))
    assert batch["images"].shape == (2, 3, 3, 48, 48) and batch["images"].dtype == torch.float32
    assert batch["proj_matrices"].shape == (2, 3, 3, 4)
    assert batch["joints_3d"].shape == (2, 17, 3) and batch["joints_2d"].shape == (2, 3, 17, 2)
    assert batch["visibility"].dtype == torch.bool and len(batch["meta"]) == 2
    assert abs(float(batch["images"].mean())) < 3
    # projection matrices map the 3D joints onto the 2D joints, up to the lens distortion
    X = torch.cat([batch["joints_3d"], torch.ones(2, 17, 1)], -1).double()
    uvw = torch.einsum("bvij,bkj->bvki", batch["proj_matrices"].double(), X)
    assert (uvw[..., :2] / uvw[..., 2:] - batch["joints_2d"]).abs().max() < 3.0
    with pytest.raises(InputError, match="camera indices"):
        MultiViewDataset(tiny / "synth-h36m" / "test", cameras=[4])
    scenes = SingleViewSceneDataset(tiny / "synth-mupots" / "train")
    out = collate_scenes([scenes[0], scenes[1]])
    assert out["images"].shape == (2, 3, 96, 96) and len(out["people"]) == 2


def test_cli_generate_and_show(tmp_path, tiny):
    app = command_app()  # commands fail the poseboard way: 'error: …', exit 2
    app.command("generate")(generate)
    app.command("show")(show)
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "synth-mupots", "--preset", "smoke", "--out", str(tmp_path),
                                 "--split", "test", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "synth-mupots/test" in result.output and (tmp_path / "synth-mupots" / "test" / "manifest.json").exists()
    for split_path, png in ((tmp_path / "synth-mupots" / "test", "scene.png"),
                            (tiny / "synth-panoptic" / "test", "dome.png")):
        result = runner.invoke(app, ["show", str(split_path), "1", "--out", str(tmp_path / png)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, ["generate", "synth-everything", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset" in result.output
    result = runner.invoke(app, ["show", str(tmp_path / "missing"), "0"])
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(app, ["generate", "all", "--rig", str(tmp_path / "r.json"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--rig" in result.output


def test_default_images_are_undistorted_so_projection_matrices_are_exact(tmp_path):
    """As learnable triangulation's pre-undistorted Human3.6M: P = K[R|t] maps joints onto the pixels."""
    generate_dataset("synth-h36m", tiny_config(undistort=True), tmp_path, seed=3, splits=("test",))
    store = open_dataset(tmp_path / "synth-h36m" / "test")
    for i in range(len(store)):
        sample = store.sample(i)
        assert not any(c.has_distortion for c in sample.cameras)
        P = sample.projection_matrices
        h = np.einsum("vij,kj->vki", P[:, :, :3], sample.joints_3d) + P[:, None, :, 3]
        assert np.abs(h[..., :2] / h[..., 2:] - sample.joints_2d).max() < 0.5
