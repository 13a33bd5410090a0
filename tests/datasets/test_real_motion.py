"""Real motion as a sequence of the synthetic world (poseboard/datasets/synthetic/real_motion.py):
the window drawn, resampled, retargeted onto the body and placed in the capture area."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.synthetic.body import ANGLE_LIMITS_DEG, SUBJECTS, novel_bodies
from poseboard.datasets.synthetic.motion import generate_sequence
from poseboard.datasets.synthetic.real_motion import (
    REAL_ACTION,
    ClipWindow,
    RealClip,
    draw_window,
    real_sequence,
)
from poseboard.errors import InputError
from poseboard.skeleton import H36M17


def _clip(action: str, seconds: float, name: str, seed: int = 0, subject: str = "S1") -> RealClip:
    """A stand-in for a library clip: poseboard's own motion of another body, at the library's 25 fps."""
    seq = generate_sequence(SUBJECTS[subject], action, int(seconds * 50) + 1, np.random.default_rng(seed), fps=50.0)
    return RealClip(name, name.split("_")[0], action.lower(), seq.poses[::2], 25.0)


@pytest.fixture(scope="module")
def clips() -> list[RealClip]:
    return [_clip("Walking", 6.0, "01_01"), _clip("Squatting", 3.0, "03_02", seed=1), _clip("Boxing", 1.0, "04_01")]


def test_windows_come_in_proportion_to_the_windows_a_clip_holds(clips):
    rng = np.random.default_rng(0)
    drawn = [draw_window(clips, 2.0, rng) for _ in range(400)]
    names = [w.clip.clip for w in drawn]
    # windows of 2 s (51 frames at 25 fps): 150 - 51 + 1 = 100 in the walk, 25 in the squats, none in 1 s of boxing
    assert names.count("04_01") == 0
    assert abs(names.count("01_01") / len(names) - 100 / 125) < 0.06
    for w in drawn:
        assert w.poses.shape == (51, 17, 3)
        k = round(w.start_s * 25)
        np.testing.assert_array_equal(w.poses, w.clip.poses[k:k + 51])


def test_a_window_longer_than_every_clip_is_refused_naming_the_longest(clips):
    with pytest.raises(InputError, match=r"no real-motion clip spans 7\.00 s.*01_01, spans 6\.00 s"):
        draw_window(clips, 7.0, np.random.default_rng(0))


def test_the_sequence_is_the_window_on_the_body_in_the_area(clips):
    body = novel_bodies(3, 2)[1]
    window = draw_window(clips[:1], 2.0, np.random.default_rng(4))
    seq, stats = real_sequence(window, body, 101, np.random.default_rng(5), fps=50.0, area_center=(300.0, -200.0),
                               area_radius_mm=1800.0, sequence_id="x/real/000")
    assert (seq.subject, seq.action, seq.sequence, seq.fps) == (body.name, REAL_ACTION, "x/real/000", 50.0)
    assert seq.poses.shape == (101, 17, 3)
    # the body's own bones on every frame, the feet on its floor, joints within the limits
    np.testing.assert_allclose(H36M17.bone_lengths(seq.poses), np.broadcast_to(body.bone_lengths, (101, 16)),
                               atol=1e-6)
    assert seq.poses[..., 2].min() >= body.ankle_height_mm - 1e-6
    assert abs(seq.poses[:, [0, 5], 2].min(1).min() - body.ankle_height_mm) < 1.0
    for name, (lo, hi) in ANGLE_LIMITS_DEG.items():
        assert lo - 1e-6 <= stats.angles[name].min() and stats.angles[name].max() <= hi + 1e-6, name
    assert stats.max_foot_slide_mm < 10.0
    # the pelvis path inside the area
    pelvis = seq.poses[:, 6, :2]
    assert np.linalg.norm(pelvis - np.array([300.0, -200.0]), axis=-1).max() <= 1800.0 + 1e-6
    # the motion is the window's: 2 s of walking at 25 fps resampled to 50 fps, retargeted
    # (same shape of motion: the pelvis's path length scales with the leg ratio)
    src = window.poses[:, 6, :2]
    src_path = np.linalg.norm(np.diff(src, axis=0), axis=-1).sum()
    path = np.linalg.norm(np.diff(pelvis, axis=0), axis=-1).sum()
    assert abs(path / (src_path * stats.leg_ratio) - 1) < 0.05


def test_the_sequence_is_a_function_of_its_generator(clips):
    body = SUBJECTS["S9"]

    def make(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return real_sequence(draw_window(clips, 2.0, rng), body, 101, rng)[0].poses

    np.testing.assert_array_equal(make(7), make(7))
    assert not np.allclose(make(7), make(8))


def test_placement_keeps_a_wandering_path_centred_when_it_is_wider_than_the_area(clips):
    window = ClipWindow(clips[0], 0.0, clips[0].poses[:126], 25.0)  # 5 s of walking round a circle
    seq, _ = real_sequence(window, SUBJECTS["S11"], 200, np.random.default_rng(0), area_radius_mm=100.0)
    pelvis = seq.poses[:, 6, :2]
    np.testing.assert_allclose((pelvis.min(0) + pelvis.max(0)) / 2, [0.0, 0.0], atol=1e-6)


def test_a_window_too_short_for_the_sequence_is_refused(clips):
    window = ClipWindow(clips[2], 0.0, clips[2].poses[:26], 25.0)  # 1 s
    with pytest.raises(InputError, match="shorter than 101 frames at 50 fps"):
        real_sequence(window, SUBJECTS["S9"], 101, np.random.default_rng(0))


# ------------------------------------------------------------------- the training world, wired
LIBRARY_CLIPS = (("01_01", "01", "walk", "Walking", 6.0), ("03_02", "03", "squat", "Squatting", 4.0),
                 ("08_01", "08", "dance", "Dancing", 4.0), ("09_05", "09", "walk", "WalkingVaried", 5.0))


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A motion library file in the library's own format, its clips poseboard's motion of S1."""
    from poseboard.datasets.mocap.library import library_npz_bytes

    clips = [_clip(action, seconds, name, seed=i) for i, (name, _, _, action, seconds) in enumerate(LIBRARY_CLIPS)]
    arrays = {
        "poses": np.concatenate([np.rint(c.poses) for c in clips]).astype(np.int16),
        "clip_start": np.cumsum([0] + [len(c.poses) for c in clips]).astype(np.int64),
        "clip": np.array([c[0] for c in LIBRARY_CLIPS]), "trial": np.array([c[0] for c in LIBRARY_CLIPS]),
        "subject": np.array([c[1] for c in LIBRARY_CLIPS]), "category": np.array([c[2] for c in LIBRARY_CLIPS]),
        "fps": np.array(25.0),
    }
    path = tmp_path_factory.mktemp("library") / "cmu.npz"
    path.write_bytes(library_npz_bytes(arrays))
    return path


def _config(library: Path | None, share: float, **spec):
    from poseboard.datasets.synthetic.config import MotionLibrarySpec, SynthConfig

    config = SynthConfig.preset("smoke-broad")
    if library is not None:
        config = config.model_copy(update={"motion_library": MotionLibrarySpec(path=library, **spec)})
    return config.with_training_world("real_motion", share, "--real-motion") if share else config


def test_library_clips_read_the_library_file(library):
    from poseboard.datasets.synthetic.real_motion import library_clips

    clips = library_clips(library)
    expected = [(name, subject, category, 25.0) for name, subject, category, _, _ in LIBRARY_CLIPS]
    assert [(c.clip, c.subject, c.category, c.fps) for c in clips] == expected
    assert clips[0].poses.dtype == np.float64 and clips[0].poses.shape == (151, 17, 3)


def test_the_training_world_drives_its_share_with_training_clips_only(library):
    from poseboard.datasets.synthetic.generator import _multiview_cast

    cast = _multiview_cast("synth-h36m", "train", _config(library, 0.5, test_subjects=["09"],
                                                         novel_categories=["dance"]), seed=0)
    real = [s for s in cast.sequences if s.action == REAL_ACTION]
    assert len(real) == len(cast.sequences) // 2 == 12
    used = {s.sequence.split("/")[3].split("@")[0] for s in real}
    assert used <= {"01_01", "03_02"} and used  # never the held-out subject 09 nor the held-out category
    for s in real:
        np.testing.assert_allclose(H36M17.bone_lengths(s.poses), np.broadcast_to(s.body.bone_lengths,
                                                                                (len(s.poses), 16)), atol=1e-6)
        assert s.poses[..., 2].min() >= s.body.ankle_height_mm - 1e-6


def test_a_library_without_a_share_changes_nothing(library):
    from poseboard.datasets.synthetic.generator import _multiview_cast

    plain = _multiview_cast("synth-h36m", "train", _config(None, 0.0), seed=0)
    with_library = _multiview_cast("synth-h36m", "train", _config(library, 0.0), seed=0)
    assert [s.sequence for s in plain.sequences] == [s.sequence for s in with_library.sequences]
    for a, b in zip(plain.sequences, with_library.sequences, strict=True):
        np.testing.assert_array_equal(a.poses, b.poses)
    # and a config without a library or real motion serializes without their keys (manifests unchanged)
    dumped = _config(None, 0.0).model_dump(mode="json")
    assert "motion_library" not in dumped and "real_motion" not in dumped["h36m"]["train"]["world"]


def test_real_motion_without_a_trainable_clip_is_refused(library):
    from poseboard.datasets.synthetic.generator import _multiview_cast

    with pytest.raises(InputError, match="no clip of the motion library may be trained on"):
        _multiview_cast("synth-h36m", "train", _config(library, 0.5, test_subjects=["01", "03", "08", "09"]), seed=0)


def test_generate_records_the_library_in_the_manifest(library, tmp_path):
    import hashlib
    import json

    from typer.testing import CliRunner

    from poseboard.cli import app
    from poseboard.datasets.storage import MultiViewStore

    args = ["generate", "synth-h36m", "--preset", "smoke-broad", "--split", "train", "--train-samples", "24",
            "--out", str(tmp_path), "--workers", "1", "--quiet", "--motion-library", str(library),
            "--real-motion", "0.5", "--hold-out-subject", "09"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "synth-h36m" / "train" / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert hashlib.sha256(library.read_bytes()).hexdigest() in text
    store = MultiViewStore(tmp_path / "synth-h36m" / "train", verify=True)
    sequences = {store.meta(i).sequence for i in range(len(store))}
    assert any("/RealMotion/" in s and "@" in s for s in sequences), sorted(sequences)[:5]
    refused = CliRunner().invoke(app, ["generate", "synth-h36m", "--out", str(tmp_path / "x"), "--real-motion", "0.3"])
    assert refused.exit_code == 2 and "--motion-library" in refused.output
