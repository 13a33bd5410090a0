"""Split sizes from the command line, and a user motion strided in time (issue 21, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from poseboard.datasets.synthetic.body import SUBJECTS
from poseboard.datasets.synthetic.commands import generate, with_free_motion
from poseboard.datasets.synthetic.generator import SynthConfig, _user_sequences, strided_frames
from poseboard.errors import InputError


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
    app = typer.Typer()
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


#: The training world's optional actions: TrainingWorld field, its setter, generate's option.
OPTIONAL_ACTIONS = [("exercise", "with_exercise", "--exercise"),
                    ("calisthenics", "with_calisthenics", "--calisthenics")]


@pytest.mark.parametrize(("field", "setter", "option"), OPTIONAL_ACTIONS)
def test_optional_actions_set_the_training_world_only_and_leave_old_manifests_alone(field, setter, option):
    broad = SynthConfig.preset("smoke-broad")
    cfg = getattr(broad, setter)(True)
    assert getattr(cfg.h36m.train.world, field) and not getattr(broad.h36m.train.world, field)
    assert cfg.h36m.test == broad.h36m.test and cfg.novel == broad.novel and cfg.panoptic == broad.panoptic
    assert getattr(broad, setter)(False) == broad
    with pytest.raises(InputError, match="--motion"):
        getattr(broad.model_copy(update={"motion_path": "m.npz"}), setter)(True)
    # unset, the field is not written: a world serializes as before it existed (manifest bytes)
    assert field not in broad.model_dump(mode="json")["h36m"]["train"]["world"]
    assert cfg.model_dump(mode="json")["h36m"]["train"]["world"][field] is True
    assert SynthConfig.model_validate(cfg.model_dump()) == cfg


@pytest.mark.parametrize(("field", "setter", "option"), OPTIONAL_ACTIONS)
def test_generate_takes_the_optional_actions(tmp_path, cli, field, setter, option):
    """--exercise and --calisthenics reach the rendered training split's manifest."""
    result = CliRunner().invoke(cli, ["generate", "synth-h36m", "--preset", "smoke-broad", "--out", str(tmp_path),
                                      "--split", "train", "--train-samples", "24", "--workers", "1", "--quiet",
                                      option])
    assert result.exit_code == 0, result.output
    world = json.loads((tmp_path / "synth-h36m/train/manifest.json").read_text())["config"]["h36m"]["train"]["world"]
    assert world[field] is True and {f for f, _, _ in OPTIONAL_ACTIONS if f != field}.isdisjoint(world)


def test_the_optional_actions_train_only_where_the_world_asks():
    """A world of one turn through the actions draws every exercise (calisthenics) action with
    ``exercise`` (``calisthenics``) and none without; the training actions before them come in
    the same order (the turn only grows), the exercise actions before the calisthenics ones."""
    from poseboard.datasets.synthetic.casting import training_world_cast
    from poseboard.datasets.synthetic.motion import CALISTHENICS_ACTIONS, EXERCISE_ACTIONS, TRAIN_ACTIONS

    assert not set(EXERCISE_ACTIONS) & set(TRAIN_ACTIONS) and not set(CALISTHENICS_ACTIONS) & set(TRAIN_ACTIONS)
    turn = len(TRAIN_ACTIONS) + len(EXERCISE_ACTIONS) + len(CALISTHENICS_ACTIONS)
    split = SynthConfig.preset("smoke-broad").h36m.train.model_copy(update={"samples": turn, "stride": 5})
    drawn = {}
    for exercise, calisthenics in ((False, False), (True, False), (False, True), (True, True)):
        world = split.world.model_copy(update={"bodies": 1, "sequences_per_body": turn, "free_motion": 0.0,
                                               "exercise": exercise, "calisthenics": calisthenics})
        cast = training_world_cast("synth-h36m", "train", split.model_copy(update={"world": world}), 1500.0, 50.0, 0)
        drawn[exercise, calisthenics] = [s.action for s in cast.sequences]
    exercise_set, calisthenics_set = set(EXERCISE_ACTIONS), set(CALISTHENICS_ACTIONS)
    for (exercise, calisthenics), actions in drawn.items():
        assert exercise_set <= set(actions) if exercise else not exercise_set & set(actions)
        assert calisthenics_set <= set(actions) if calisthenics else not calisthenics_set & set(actions)
        assert actions[:len(TRAIN_ACTIONS)] == list(TRAIN_ACTIONS)
    both = drawn[True, True]
    assert both[:turn] == list(TRAIN_ACTIONS + EXERCISE_ACTIONS + CALISTHENICS_ACTIONS)


@pytest.mark.parametrize("field", [f for f, _, _ in OPTIONAL_ACTIONS])
def test_the_pipeline_takes_the_optional_actions_from_the_profile(tmp_path, field):
    """profiles.<p>.data.exercise and .calisthenics reach the rendered training world's manifest."""
    import yaml

    from poseboard.pipeline import app

    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["profile"] = "smoke"
    data = {"preset": "smoke-broad", "crop_size": 64, "datasets": ["synth-h36m"], "train_samples": 24,
            "test_samples": 1, field: True}
    params["profiles"]["smoke"]["data"] = data
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    result = CliRunner().invoke(app, ["generate", "--params", str(path), "--out", str(tmp_path / "data"),
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "data/synth-h36m/train/manifest.json").read_text())
    assert manifest["config"]["h36m"]["train"]["world"][field] is True
