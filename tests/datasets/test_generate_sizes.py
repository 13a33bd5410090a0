"""Split sizes from the command line, and a user motion strided in time (issue 21, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from poseboard.datasets.synthetic.body import SUBJECTS
from poseboard.datasets.synthetic.commands import generate, with_free_motion
from poseboard.datasets.synthetic.generator import SynthConfig, _user_sequences, strided_frames
from poseboard.datasets.synthetic.vocabulary import EXTRA_ACTIONS
from poseboard.errors import InputError, command_app


def test_strided_frames_is_time_not_file_frames():
    assert strided_frames(200, 50.0, 25) == list(range(0, 200, 25))  # the 50 fps world: unchanged
    assert strided_frames(10, 10.0, 5) == list(range(10))  # 0.1 s apart: every 10 fps frame
    assert strided_frames(40, 10.0, 25) == [0, 5, 10, 15, 20, 25, 30, 35]  # 0.5 s apart
    assert strided_frames(30, 30.0, 5) == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]  # 0.1 s at 30 fps
    assert strided_frames(0, 10.0, 5) == []


def _motion_file(path, fps: float, frames: int = 40):
    pose = SUBJECTS["S9"].rest_pose()
    poses = np.stack([pose + [3.0 * i, 0.0, 0.0] for i in range(frames)])
    np.savez(path, poses=poses, subject=np.array("S9"), action=np.array(["Walking"] * frames), fps=np.float64(fps))
    return path


def test_user_motion_is_strided_at_its_own_fps(tmp_path):
    """A 10 fps file with the 50 fps stride 25 (0.5 s) keeps one frame in 5, not one in 25."""
    ten = _user_sequences(_motion_file(tmp_path / "m10.npz", 10.0), "test", None, 25, ["S9"], recentre=False)
    fifty = _user_sequences(_motion_file(tmp_path / "m50.npz", 50.0), "test", None, 25, ["S9"], recentre=False)
    assert ten[0].frames == [0, 5, 10, 15, 20, 25, 30, 35]
    assert fifty[0].frames == [0, 25]
    capped = _user_sequences(tmp_path / "m10.npz", "test", 3, 25, ["S9"], recentre=False)
    assert len(capped[0].frames) == 3
    with pytest.raises(ValueError, match="0 skips the split"):
        _user_sequences(tmp_path / "m10.npz", "test", 0, 25, ["S9"], recentre=False)


def test_split_sizes_override_every_dataset_and_validate():
    cfg = SynthConfig.preset("smoke").with_split_sizes("test", samples=7, stride=50)
    assert (cfg.h36m.test.samples, cfg.panoptic.test.samples, cfg.mupots.test.images) == (7, 7, 7)
    assert (cfg.h36m.test.stride, cfg.panoptic.test.stride, cfg.mupots.test.stride) == (50, 50, 50)
    smoke = SynthConfig.preset("smoke")
    assert cfg.h36m.train == smoke.h36m.train  # the other split untouched
    assert SynthConfig.preset("smoke").with_split_sizes("train") == smoke
    with pytest.raises(InputError, match="unknown split"):
        smoke.with_split_sizes("val", samples=3)


@pytest.fixture
def cli():
    app = command_app()  # commands fail the poseboard way: 'error: …', exit 2
    app.command("generate")(generate)
    app.command("other")(lambda: None)
    return app


def test_generate_takes_split_sizes(tmp_path, cli):
    result = CliRunner().invoke(cli, ["generate", "synth-h36m", "--preset", "smoke", "--out", str(tmp_path),
                                      "--split", "test", "--test-samples", "6", "--test-stride", "40",
                                      "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    split = tmp_path / "synth-h36m" / "test"
    assert len(pd.read_csv(split / "samples.csv")) == 6
    manifest = json.loads((split / "manifest.json").read_text())
    assert manifest["config"]["h36m"]["test"]["samples"] == 6
    assert manifest["config"]["h36m"]["test"]["stride"] == 40


@pytest.mark.parametrize("args, message", [
    (["--test-stride", "0"], "--test-stride"),
    (["--train-samples", "-1"], "--train-samples"),
])
def test_generate_refuses_bad_sizes_before_writing(tmp_path, cli, args, message):
    out = tmp_path / "data"
    result = CliRunner().invoke(cli, ["generate", "synth-h36m", "--out", str(out), *args, "--quiet"])
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()


def test_zero_test_samples_skips_the_split(tmp_path, cli):
    result = CliRunner().invoke(cli, ["generate", "synth-h36m", "--preset", "smoke", "--out", str(tmp_path),
                                      "--split", "test", "--test-samples", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "synth-h36m" / "test").exists()


def test_free_motion_share_sets_the_training_world_only():
    broad = SynthConfig.preset("smoke-broad")
    cfg = with_free_motion(broad, 0.7)
    assert cfg.h36m.train.world.free_motion == 0.7
    assert cfg.h36m.test == broad.h36m.test and cfg.novel == broad.novel and cfg.panoptic == broad.panoptic
    assert with_free_motion(broad, None) == broad
    with pytest.raises(InputError, match="between 0 and 1"):
        with_free_motion(broad, 1.5)
    with pytest.raises(InputError, match="--motion"):
        with_free_motion(broad.model_copy(update={"motion_path": "m.npz"}), 0.5)


def test_generate_takes_a_free_motion_share(tmp_path, cli):
    """The rendered training split holds the share asked for (its actions, from samples.csv), and
    the manifest records it."""
    result = CliRunner().invoke(cli, ["generate", "synth-h36m", "--preset", "smoke-broad", "--out", str(tmp_path),
                                      "--split", "train", "--free-motion", "0.75", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    split = tmp_path / "synth-h36m" / "train"
    sequences = pd.read_csv(split / "samples.csv").drop_duplicates("sequence")
    assert (sequences["action"] == "FreeMotion").mean() == pytest.approx(0.75, abs=0.05)
    assert json.loads((split / "manifest.json").read_text())["config"]["h36m"]["train"]["world"]["free_motion"] == 0.75
    refused = CliRunner().invoke(cli, ["generate", "synth-h36m", "--out", str(tmp_path / "x"), "--free-motion", "2",
                                       "--quiet"])
    assert refused.exit_code == 2 and "--free-motion" in refused.output


@pytest.mark.parametrize("family", EXTRA_ACTIONS)
def test_extra_actions_set_the_training_world_only_and_leave_old_manifests_alone(family):
    broad = SynthConfig.preset("smoke-broad")
    cfg = broad.with_extra_actions([family])
    assert cfg.h36m.train.world.extra_actions == [family] and broad.h36m.train.world.extra_actions == []
    assert cfg.h36m.test == broad.h36m.test and cfg.novel == broad.novel and cfg.panoptic == broad.panoptic
    assert broad.with_extra_actions([]) == broad and cfg.with_extra_actions([family]) == cfg
    with pytest.raises(InputError, match="--motion"):
        broad.model_copy(update={"motion_path": "m.npz"}).with_extra_actions([family])
    with pytest.raises(InputError, match="did you mean"):
        broad.with_extra_actions([family + "x"])
    # none: nothing is written, a world serializes as before there were any (manifest bytes);
    # one: written as `<family>: true`, the boolean it replaced, so the committed manifests stay
    assert "extra_actions" not in broad.model_dump(mode="json")["h36m"]["train"]["world"]
    world = cfg.model_dump(mode="json")["h36m"]["train"]["world"]
    assert world[family] is True and "extra_actions" not in world
    assert SynthConfig.model_validate(cfg.model_dump()) == cfg


def test_extra_actions_serialize_as_the_exercise_flag_did():
    """The default and gpu profiles' worlds, ``extra_actions: [exercise]``, write what
    ``exercise: true`` wrote at a3dea29 (the committed splits' manifests; the world's keys, sorted)."""
    broad = SynthConfig.preset("broad").with_extra_actions(["exercise"])
    world = broad.model_dump(mode="json")["h36m"]["train"]["world"]
    assert json.dumps(world, sort_keys=True) == ('{"bodies": 24, "exercise": true, "free_motion": 0.4, "layouts": '
                                                 '"wide", "sequences_per_body": 120, "views": 4}')


@pytest.mark.parametrize("spelling", [["--actions", "exercise"], ["--actions", "exercise,exercise"]])
def test_generate_takes_the_extra_actions(tmp_path, cli, spelling):
    """--actions (repeatable or comma-separated) reaches the rendered training split's manifest."""
    result = CliRunner().invoke(cli, ["generate", "synth-h36m", "--preset", "smoke-broad", "--out", str(tmp_path),
                                      "--split", "train", "--train-samples", "24", "--workers", "1", "--quiet",
                                      *spelling])
    assert result.exit_code == 0, result.output
    world = json.loads((tmp_path / "synth-h36m/train/manifest.json").read_text())["config"]["h36m"]["train"]["world"]
    assert world["exercise"] is True
    refused = CliRunner().invoke(cli, ["generate", "synth-h36m", "--preset", "smoke-broad", "--out",
                                       str(tmp_path / "x"), "--actions", "gymnastics", "--quiet"])
    assert refused.exit_code == 2 and "unknown family of actions 'gymnastics'" in refused.output


def test_the_extra_actions_train_only_where_the_world_asks():
    """A world of one turn through the actions draws every action of a family with it and none
    without; the training actions come first, in the same order (the turn only grows), then the
    families in EXTRA_ACTIONS' order."""
    from poseboard.datasets.synthetic.casting import training_world_cast
    from poseboard.datasets.synthetic.motion import EXTRA_ACTIONS as FAMILY_ACTIONS
    from poseboard.datasets.synthetic.motion import TRAIN_ACTIONS

    assert set(FAMILY_ACTIONS) == set(EXTRA_ACTIONS) and all(FAMILY_ACTIONS.values())
    every = sum((FAMILY_ACTIONS[f] for f in EXTRA_ACTIONS), ())
    assert not set(every) & set(TRAIN_ACTIONS) and len(set(every)) == len(every)
    turn = len(TRAIN_ACTIONS) + len(every)
    split = SynthConfig.preset("smoke-broad").h36m.train.model_copy(update={"samples": turn, "stride": 5})
    for families in ([], *([f] for f in EXTRA_ACTIONS), list(EXTRA_ACTIONS)):
        world = split.world.model_copy(update={"bodies": 1, "sequences_per_body": turn, "free_motion": 0.0,
                                               "extra_actions": families})
        cast = training_world_cast("synth-h36m", "train", split.model_copy(update={"world": world}), 1500.0, 50.0, 0)
        actions = [s.action for s in cast.sequences]
        for family in EXTRA_ACTIONS:
            members = set(FAMILY_ACTIONS[family])
            assert members <= set(actions) if family in families else not members & set(actions)
        added = sum((FAMILY_ACTIONS[f] for f in families), ())
        assert actions[:len(TRAIN_ACTIONS) + len(added)] == list(TRAIN_ACTIONS + added)


@pytest.mark.parametrize("family", EXTRA_ACTIONS)
def test_the_pipeline_takes_the_extra_actions_from_the_profile(tmp_path, family):
    """profiles.<p>.data.extra_actions reaches the rendered training world's manifest."""
    import yaml

    from poseboard.pipeline import app

    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["profile"] = "smoke"
    data = {"preset": "smoke-broad", "crop_size": 64, "datasets": ["synth-h36m"], "train_samples": 24,
            "test_samples": 1, "extra_actions": [family]}
    params["profiles"]["smoke"]["data"] = data
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = CliRunner().invoke(app, ["generate", "--params", str(path), "--out", str(tmp_path / "data"),
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "data/synth-h36m/train/manifest.json").read_text())
    assert manifest["config"]["h36m"]["train"]["world"][family] is True
