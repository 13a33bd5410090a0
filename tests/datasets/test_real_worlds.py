"""The real-motion share in every default training world (issue 79 item 4): synth-panoptic's dome and
synth-mupots's scenes draw the profile's ``real_motion`` share of their training people from the
motion library's training clips, as synth-h36m's training world does (tests/datasets/test_real_motion.py,
test_bandai.py), retargeted onto their bodies, on the floor and inside the world's limits.

The library is the smoke profile's handful, built from the Bandai Namco archive (skipped without it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from poseboard.datasets.synthetic.real_motion import REAL_ACTION, SPEED_BOUND_MM_S
from poseboard.errors import InputError
from poseboard.skeleton import H36M17
from tests.conftest import motion_archive

ROOT = Path(__file__).resolve().parents[2]
ANKLES = [H36M17.joint_names.index("RAnkle"), H36M17.joint_names.index("LAnkle")]
PELVIS = H36M17.joint_names.index("Pelvis")


@pytest.fixture(scope="module")
def smoke_library(tmp_path_factory) -> Path:
    """The smoke profile's library (params.yaml: motion_library.profiles.smoke), built from the archive."""
    from poseboard.datasets.mocap.bandai_archive import build_from_archive

    archive = motion_archive()
    if not archive.is_file():
        pytest.skip(f"{archive}: the Bandai Namco archive is not on this machine (docs/motion_library.md)")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    out = tmp_path_factory.mktemp("smoke-library") / "motion"
    build_from_archive(archive, out, clips_per_role=params["motion_library"]["profiles"]["smoke"]["clips_per_role"])
    return out / "bandai.npz"


@pytest.fixture(scope="module")
def dash_library(tmp_path_factory) -> Path:
    """A library (format 1: every clip a training clip) of two clips of poseboard's own motion: a wave
    in place and a "dash", a walk carried along at 5 m/s, whose windows of the MuPoTS-like world's
    pieces (0.2–0.38 s: half a metre and more from their centre) never fit a person's 350 mm area."""
    from poseboard.datasets.mocap.library import library_npz_bytes
    from poseboard.datasets.synthetic.body import SUBJECTS
    from poseboard.datasets.synthetic.motion import generate_sequence

    wave = generate_sequence(SUBJECTS["S1"], "Waving", 201, np.random.default_rng(0), fps=50.0).poses[::2]
    dash = generate_sequence(SUBJECTS["S1"], "Walking", 201, np.random.default_rng(1), fps=50.0).poses[::2].copy()
    dash[..., 0] += 5000.0 * np.arange(len(dash))[:, None] / 25.0
    names = ["01_01", "03_01"]
    arrays = {"poses": np.rint(np.concatenate([wave, dash])).astype(np.int16),
              "clip_start": np.array([0, len(wave), len(wave) + len(dash)], np.int64), "clip": np.array(names),
              "trial": np.array(names), "subject": np.array(["01", "03"]), "category": np.array(["wave", "dash"]),
              "fps": np.array(25.0)}
    path = tmp_path_factory.mktemp("dash-library") / "dash.npz"
    path.write_bytes(library_npz_bytes(arrays))
    return path


def _config(library: Path | None, share: float):
    from poseboard.datasets.synthetic.config import MotionLibrarySpec, SynthConfig

    config = SynthConfig.preset("smoke-broad", crop_size=32)
    if library is not None:
        config = config.model_copy(update={"motion_library": MotionLibrarySpec(path=library)})
    return config.with_training_world("real_motion", share, "--real-motion") if share else config


def _roles(library: Path) -> dict[str, str]:
    from poseboard.datasets.mocap.library_file import load_library

    lib = load_library(library)
    return dict(zip(lib.clip.tolist(), lib.role.tolist(), strict=True))


def _clip(sequence: str) -> str:
    return sequence.rsplit("/", 1)[1].split("@")[0]


def test_one_share_drives_every_training_world(smoke_library, tmp_path):
    """At the smoke profile's share (0.3) synth-panoptic's and synth-mupots's training splits hold real
    people, evenly spread, performing training clips only; their manifests record the share and the
    library; the test splits stay procedural."""
    from poseboard.datasets.synthetic.casting import _every
    from poseboard.datasets.synthetic.generator import generate_datasets

    config = _config(smoke_library, 0.3)
    assert (config.h36m.train.world.real_motion, config.panoptic.train.real_motion,
            config.mupots.train.real_motion) == (0.3, 0.3, 0.3)
    config = config.with_split_sizes("test", samples=8)
    generate_datasets(["synth-panoptic", "synth-mupots"], config, tmp_path, seed=0, progress=False, workers=1)
    roles = _roles(smoke_library)
    digest = hashlib.sha256(smoke_library.read_bytes()).hexdigest()

    samples = pd.read_csv(tmp_path / "synth-panoptic" / "train" / "samples.csv")
    order = list(dict.fromkeys(samples["sequence"]))  # the dome's sequences in key order (subject, action)
    real = [s for s in order if f"/{REAL_ACTION}/" in s]
    assert real == [s for j, s in enumerate(order) if _every(j, 0.3)] and len(real) == 7  # of 24 sequences
    people = pd.read_csv(tmp_path / "synth-mupots" / "train" / "people.csv")
    real_people = people[people["action"] == REAL_ACTION]
    who = people["sequence"].str.split("/").str[2]  # "scene001p2": the scenes' people in turn
    turn = sorted(who.unique())
    assert sorted(set(who[people["action"] == REAL_ACTION])) == [w for j, w in enumerate(turn) if _every(j, 0.3)]
    assert len(turn) == 12  # 3 real people of 12, 8 images each
    for name, ids in (("synth-panoptic", real), ("synth-mupots", real_people["sequence"])):
        assert {roles[_clip(s)] for s in ids} == {"train"}, name
        manifest = json.loads((tmp_path / name / "train" / "manifest.json").read_text())
        section = manifest["config"]["panoptic" if name == "synth-panoptic" else "mupots"]
        assert section["train"]["real_motion"] == 0.3 and "real_motion" not in section["test"], name
        assert manifest["config"]["input_hashes"]["motion_library_sha256"] == digest
    # a MuPoTS-like person performs a new window every half second: each image's row names its own
    for scene_person, rows in real_people.groupby(real_people["sequence"].str.rsplit("/", n=1).str[0]):
        assert rows["sequence"].nunique() == 4, scene_person  # 8 images, 2 per window of 0.5 s
    assert not pd.read_csv(tmp_path / "synth-panoptic" / "test" / "samples.csv")["sequence"].str.contains(
        "dataset-").any()
    assert (pd.read_csv(tmp_path / "synth-mupots" / "test" / "people.csv")["action"] != REAL_ACTION).all()


def _within_pieces_speed(poses: np.ndarray, starts: list[int]) -> float:
    """The fastest joint (mm/s at 50 fps) between consecutive frames of one piece."""
    speed = np.linalg.norm(np.diff(poses, axis=0), axis=-1).max(axis=1) * 50.0
    inside = np.ones(len(speed), bool)
    inside[[s - 1 for s in starts if s > 0]] = False  # a new window starts: the pose jumps there
    return float(speed[inside].max(initial=0.0))


@pytest.mark.parametrize("which", ["smoke", "dash"])
def test_real_people_stay_on_the_floor_and_in_the_worlds_limits(which, request):
    """Every person real (share 1): the body's own bones, the lowest ankle at its ankle height, no
    joint faster than the bound within a window; the dome's people within its 0.5 m area, the
    MuPoTS-like people within their 350 mm areas, so inside the depth band and apart from each other
    (a window that does not fit is redrawn: the dash's never fit a MuPoTS-like person's area)."""
    from poseboard.datasets.synthetic.generator import _multiview_cast, _plan_scenes

    config = _config(request.getfixturevalue(f"{which}_library"), 1.0)
    cast = _multiview_cast("synth-panoptic", "train", config, seed=0)
    sequences = [s for s in cast.sequences if s.frames]
    assert sequences and all(s.action == REAL_ACTION for s in sequences)
    plans, source = _plan_scenes("synth-mupots", "train", config, seed=0)
    people = [q for plan in plans for q in plan.people]
    assert source == "procedural" and people and all(q.action == REAL_ACTION and q.pieces for q in people)
    for s in sequences + people:
        n = len(s.poses)
        np.testing.assert_allclose(H36M17.bone_lengths(s.poses), np.broadcast_to(s.body.bone_lengths, (n, 16)),
                                   atol=1e-6)
        lowest = s.poses[:, ANKLES, 2].min(axis=1) - s.body.ankle_height_mm
        assert lowest.min() > -1e-6 and abs(lowest.min()) < 5.0, s.sequence  # on the floor, not floating
        assert _within_pieces_speed(s.poses, [first for first, _ in s.pieces]) <= SPEED_BOUND_MM_S, s.sequence
    area = config.panoptic.area_radius_mm
    assert max(np.linalg.norm(s.poses[:, PELVIS, :2], axis=-1).max() for s in sequences) <= area + 1e-6
    spec = config.mupots
    for plan in plans:
        forward = plan.camera.R[2, :2] / np.linalg.norm(plan.camera.R[2, :2])
        pelvis = np.stack([q.poses[plan.frames, PELVIS, :2] for q in plan.people])  # (P, frames, 2)
        for q, path in zip(plan.people, pelvis, strict=True):
            # every window placed in the person's disc: any two frames at most its diameter apart
            assert np.linalg.norm(path[:, None] - path[None], axis=-1).max() <= 2 * spec.area_radius_mm + 1e-6
            depth = (path - plan.camera.center[:2]) @ forward
            assert spec.min_depth_mm - 1e-6 <= depth.min() and depth.max() <= spec.max_depth_mm + 1e-6, q.sequence
        for a in range(len(pelvis)):
            for b in range(a + 1, len(pelvis)):  # placed 1.1 m apart, each within its own area
                gap = np.linalg.norm(pelvis[a] - pelvis[b], axis=-1).min()
                assert gap >= 1100.0 - 2 * spec.area_radius_mm - 1e-6, (plan.name, a, b)
    if which == "dash":  # the dome's windows of two frames fit its area; the scenes' 0.2-0.38 s ones never
        assert "03_01" in {_clip(s.sequence) for s in sequences}
        assert {_clip(sequence) for q in people for _, sequence in q.pieces} == {"01_01"}


def test_share_zero_and_the_procedural_people_are_unchanged(smoke_library):
    """A library without a share changes no cast; with a share, the people and sequences that stay
    procedural are those of share 0, and a real person's scene keeps its body, place and look."""
    from poseboard.datasets.synthetic.generator import _multiview_cast, _plan_scenes

    plain, with_library, real = _config(None, 0.0), _config(smoke_library, 0.0), _config(smoke_library, 0.3)
    dumped = with_library.model_dump(mode="json")
    assert "real_motion" not in dumped["panoptic"]["train"] and "real_motion" not in dumped["mupots"]["train"]
    casts = [_multiview_cast("synth-panoptic", "train", c, seed=0) for c in (plain, with_library, real)]
    for a, b, c in zip(*(cast.sequences for cast in casts), strict=True):
        assert a.sequence == b.sequence and np.array_equal(a.poses, b.poses)
        if c.action != REAL_ACTION:
            assert c.sequence == a.sequence and np.array_equal(c.poses, a.poses)
    scenes = [_plan_scenes("synth-mupots", "train", c, seed=0)[0] for c in (plain, with_library, real)]
    for p0, p1, p3 in zip(*scenes, strict=True):
        assert p0.frames == p1.frames == p3.frames and np.array_equal(p0.camera.R, p3.camera.R)
        assert p0.looks == p3.looks and [q.subject for q in p0.people] == [q.subject for q in p3.people]
        for a, b, c in zip(p0.people, p1.people, p3.people, strict=True):
            assert np.array_equal(a.poses, b.poses)
            if c.action != REAL_ACTION:
                assert c.sequence == a.sequence and np.array_equal(c.poses, a.poses)


def test_same_config_same_bytes(smoke_library, tmp_path):
    from poseboard.datasets.synthetic.generator import generate_datasets

    config = _config(smoke_library, 0.3)
    hashes = []
    for run in ("a", "b"):
        generate_datasets(["synth-panoptic", "synth-mupots"], config, tmp_path / run, seed=0, splits=["train"],
                          progress=False, workers=1)
        hashes.append({p.relative_to(tmp_path / run).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in sorted((tmp_path / run).rglob("*")) if p.is_file()})
    assert hashes[0] == hashes[1] and len(hashes[0]) > 10


def test_a_share_without_a_trainable_clip_is_refused():
    from poseboard.datasets.synthetic.generator import _multiview_cast, _plan_scenes

    config = _config(None, 0.3)
    with pytest.raises(InputError, match="no clip of the motion library may be trained on"):
        _multiview_cast("synth-panoptic", "train", config, seed=0)
    with pytest.raises(InputError, match="no clip of the motion library may be trained on"):
        _plan_scenes("synth-mupots", "train", config, seed=0)
    data = config.model_dump()
    data["mupots"]["test"]["real_motion"] = 0.5
    with pytest.raises(InputError, match="drives training people only"):
        _plan_scenes("synth-mupots", "test", type(config).model_validate(data), seed=0)
