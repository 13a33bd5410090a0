"""The CMU real-motion library (issue 68 item 1), built from CMU-like BVH files written here (the
CMU skeleton, its units, Y up, 120 fps): each cleaning rule drops or splits what it should and
says why, reserved subjects and non-CMU files are refused with nothing written, the storage is
byte-deterministic, int16 round-trips the importer's own conversion, and a corrupted library is
refused on load."""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.datasets.mocap.convert import bvh_to_poses
from poseboard.datasets.mocap.library import (
    CMU_MM_PER_UNIT,
    LIBRARY_KEYS,
    RESERVED_CMU_SUBJECTS,
    build_library,
    clean_clip,
    library_npz_bytes,
    load_library,
    manifest_path,
)
from poseboard.errors import InputError

runner = CliRunner()
ROT = "Zrotation Yrotation Xrotation"  # CMU's order
#: (name, parent, offset in CMU units ≈ 56 mm, Y up) of the CMU skeleton (rounded lengths)
CMU_SKELETON = [
    ("Hips", None, (0, 0, 0)),
    ("LHipJoint", "Hips", (0, 0, 0)), ("LeftUpLeg", "LHipJoint", (1.4, -1.8, 0.8)),
    ("LeftLeg", "LeftUpLeg", (2.4, -6.7, 0)), ("LeftFoot", "LeftLeg", (2.5, -7.0, 0)),
    ("LeftToeBase", "LeftFoot", (0.2, -0.4, 2.3)),
    ("RHipJoint", "Hips", (0, 0, 0)), ("RightUpLeg", "RHipJoint", (-1.4, -1.8, 0.8)),
    ("RightLeg", "RightUpLeg", (-2.4, -6.7, 0)), ("RightFoot", "RightLeg", (-2.5, -7.0, 0)),
    ("RightToeBase", "RightFoot", (-0.2, -0.4, 2.3)),
    ("LowerBack", "Hips", (0, 0, 0)), ("Spine", "LowerBack", (0, 2.0, -0.2)), ("Spine1", "Spine", (0, 2.0, 0)),
    ("Neck", "Spine1", (0, 0, 0)), ("Neck1", "Neck", (0, 1.7, 0.2)), ("Head", "Neck1", (0.1, 1.8, -0.1)),
    ("LeftShoulder", "Spine1", (0, 0, 0)), ("LeftArm", "LeftShoulder", (3.3, 1.2, -0.3)),
    ("LeftForeArm", "LeftArm", (5.0, 0, 0)), ("LeftHand", "LeftForeArm", (3.5, 0, 0)),
    ("RightShoulder", "Spine1", (0, 0, 0)), ("RightArm", "RightShoulder", (-3.3, 1.2, -0.3)),
    ("RightForeArm", "RightArm", (-5.0, 0, 0)), ("RightHand", "RightForeArm", (-3.5, 0, 0)),
]
END_SITES = {"LeftToeBase": (0, 0, 1.2), "RightToeBase": (0, 0, 1.2), "Head": (0, 1.8, -0.1),
             "LeftHand": (1.3, 0, 0), "RightHand": (-1.3, 0, 0)}
HIPS_Y = 17.8  # units: ≈ 1 m, the ankles ≈ 130 mm above CMU's floor at y = 0


def _order() -> list[str]:
    """The joints in the order the file lists them (depth first), i.e. the channel order."""
    children: dict = {}
    for name, parent, _ in CMU_SKELETON:
        children.setdefault(parent, []).append(name)
    out: list[str] = []

    def walk(name):
        out.append(name)
        for child in children.get(name, []):
            walk(child)

    walk("Hips")
    return out


ORDER = _order()


def cmu_bvh(frames: np.ndarray) -> str:
    """A BVH file of the CMU skeleton at 120 fps; ``frames`` (F, 3 + 3 J) in :data:`ORDER`."""
    offsets = {n: o for n, _, o in CMU_SKELETON}
    children: dict = {}
    for name, parent, _ in CMU_SKELETON:
        children.setdefault(parent, []).append(name)
    lines = ["HIERARCHY"]

    def emit(name, depth):
        pad = "\t" * depth
        o = offsets[name]
        lines.extend([f"{pad}{'ROOT' if name == 'Hips' else 'JOINT'} {name}", pad + "{",
                      f"{pad}\tOFFSET {o[0]:.5f} {o[1]:.5f} {o[2]:.5f}",
                      f"{pad}\tCHANNELS {'6 Xposition Yposition Zposition ' if name == 'Hips' else '3 '}{ROT}"])
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name in END_SITES:
            e = END_SITES[name]
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET {e[0]} {e[1]} {e[2]}", pad + "\t}"])
        lines.append(pad + "}")

    emit("Hips", 0)
    lines += ["MOTION", f"Frames: {len(frames)}", "Frame Time: .0083333"]
    lines += [" ".join(f"{v:.4f}" for v in row) for row in frames]
    return "\n".join(lines) + "\n"


WALK_MM_S = 1200.0


def walk(seconds: float, lift: float = 0.0, still: bool = False) -> np.ndarray:
    """(F, 3 + 3 J) channel values of a walk-like motion at 120 fps: the hips forward along +z at
    1.2 m/s bobbing 1.5 cm, thighs swinging ±25° at 1 Hz, knees bending, arms down and swinging;
    ``lift`` units up; ``still``: the standing pose with 0.5 mm of noise."""
    t = np.arange(round(seconds * 120) + 1) / 120
    values = np.zeros((len(t), 3 + 3 * len(ORDER)))
    col = {name: 3 + 3 * i for i, name in enumerate(ORDER)}  # Z, Y, X rotation columns
    phase = np.zeros_like(t) if still else 2 * math.pi * t
    values[:, 1] = HIPS_Y + lift + (0 if still else 0.27 * np.sin(2 * phase))
    values[:, 2] = 0 if still else WALK_MM_S / CMU_MM_PER_UNIT * t
    swing = 25 * np.sin(phase)
    values[:, col["LeftUpLeg"] + 2] = swing
    values[:, col["RightUpLeg"] + 2] = -swing
    values[:, col["LeftLeg"] + 2] = 0 if still else 15 * (1 - np.cos(phase))
    values[:, col["RightLeg"] + 2] = 0 if still else 15 * (1 + np.cos(phase))
    values[:, col["LeftArm"]] = -70
    values[:, col["RightArm"]] = 70
    values[:, col["LeftArm"] + 2] = -20 * np.sin(phase)
    values[:, col["RightArm"] + 2] = 20 * np.sin(phase)
    if still:
        values[:, :3] += np.random.default_rng(0).normal(0, 0.5 / CMU_MM_PER_UNIT, (len(t), 3))
    return values


GLITCH_FRAME = 300


def glitch(seconds: float) -> np.ndarray:
    values = walk(seconds)
    values[GLITCH_FRAME, 0] += 10.0  # the body jumps 56 cm sideways for one frame (67 m/s)
    return values


#: trial → channel values: what each clip tests
CLIPS = {
    "01_01": walk(4.0),  # kept whole
    "01_02": walk(4.0, still=True),  # static
    "01_03": glitch(6.0),  # split at the glitch into two kept pieces (the glitch frame alone: too short)
    "08_01": walk(3.0, lift=20.0),  # 1.1 m above the floor: off_floor
    "08_02": walk(1.5),  # too short
    "143_02": walk(3.0),  # a three-digit subject, kept
}


def write_source(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for trial, values in CLIPS.items():
        sub = folder / f"{int(trial.split('_')[0]):03d}"  # una-dinosauria/cmu-mocap's layout data/NNN/SS_TT.bvh
        sub.mkdir(exist_ok=True)
        (sub / f"{trial}.bvh").write_text(cmu_bvh(values))
    nan = cmu_bvh(walk(3.0)).splitlines()
    parts = nan[-5].split()
    parts[4] = "nan"
    nan[-5] = " ".join(parts)
    (folder / "008").mkdir(exist_ok=True)
    (folder / "008" / "08_03.bvh").write_text("\n".join(nan) + "\n")  # unreadable: a NaN value
    (folder / "categories.csv").write_text("clip,category\n01_01,walk\n01_03,walk\n99_01,dance\n")
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = write_source(tmp_path_factory.mktemp("cmu"))
    out = tmp_path_factory.mktemp("lib") / "cmu.npz"
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(out), "--source", "test@0",
                                 "--categories", str(src / "categories.csv")])
    assert result.exit_code == 0, result.output
    return src, out, json.loads(manifest_path(out).read_text()), result.output


def _dropped(manifest, trial):
    return [d for d in manifest["dropped"] if d["trial"] == trial]


# ------------------------------------------------------------------------ cleaning
def test_each_rule_drops_what_it_should_and_says_why(built):
    _, out, manifest, output = built
    lib = load_library(out)
    assert lib.clip.tolist() == ["01_01", "01_03.1", "01_03.2", "143_02"]
    assert [(d["trial"], d["rule"]) for d in manifest["dropped"]] == [
        ("01_02", "static"), ("01_03", "broken"), ("01_03", "broken"), ("01_03", "too_short"),
        ("08_01", "off_floor"), ("08_02", "too_short"), ("08_03", "unreadable")]
    static, = _dropped(manifest, "01_02")
    assert static["source_frames"] == [0, 481] and "mm/s, under 50 mm/s" in static["reason"]
    b1, b2, short = _dropped(manifest, "01_03")
    assert b1["source_frames"] == [GLITCH_FRAME - 1, GLITCH_FRAME] and b2["source_frames"] == [GLITCH_FRAME,
                                                                                                GLITCH_FRAME + 1]
    assert "m/s between source frames" in b1["reason"] and "split" in b1["reason"]
    assert short["source_frames"] == [GLITCH_FRAME, GLITCH_FRAME + 1]
    pieces = [c["source_frames"] for c in manifest["clips"] if c["trial"] == "01_03"]
    assert pieces == [[0, GLITCH_FRAME], [GLITCH_FRAME + 1, 721]]
    floor, = _dropped(manifest, "08_01")
    assert "100% of the frames" in floor["reason"] and floor["source_frames"] == [0, 361]
    short, = _dropped(manifest, "08_02")
    assert short["reason"].startswith("1.50 s, shorter than 2 s")
    nan, = _dropped(manifest, "08_03")
    assert "NaN" in nan["reason"] and nan["source_frames"] is None
    assert manifest["totals"]["dropped_by_rule"] == {"broken": 2, "off_floor": 1, "static": 1, "too_short": 2,
                                                     "unreadable": 1}
    assert "kept 4 clips" in output and "static 1" in output and "MB" in output


def test_clean_clip_non_finite_frames_split_and_are_recorded():
    """At the array level (poseboard's parser refuses NaN files whole): a non-finite run in the
    middle of a standing-still-but-swaying body is dropped and the clip split around it."""
    t = np.arange(1201) / 120
    poses = np.zeros((len(t), 17, 3))
    poses[:, :, 0] = 300 * np.sin(2 * math.pi * 0.5 * t)[:, None]  # swaying 0.3 m: 0.94 m/s at most
    poses[:, :, 2] = 100 + 50 * np.arange(17)
    poses[500:503, 4] = np.nan
    kept, dropped = clean_clip(poses, 1 / 120, height_mm=1700.0)
    assert kept == [(0, 500), (503, 1201)]
    assert [(d["rule"], d["source_frames"]) for d in dropped] == [("non_finite", [500, 503])]
    assert dropped[0]["seconds"] == pytest.approx(3 / 120, abs=1e-3)


def test_categories_subjects_and_manifest(built):
    src, out, manifest, _ = built
    lib = load_library(out)
    subjects = sorted(set(lib.subject.tolist()))
    assert subjects == ["01", "143"]
    assert not {int(s) for s in subjects} & set(RESERVED_CMU_SUBJECTS)
    assert lib.trial.tolist() == ["01_01", "01_03", "01_03", "143_02"]
    assert lib.category.tolist() == ["walk", "walk", "walk", "unlabelled"]
    assert manifest["source"] == "test@0"
    assert "NSF EIA-0196217" in manifest["database"]["acknowledgement"]
    assert "commercial" in manifest["database"]["terms"] and "resold" in manifest["database"]["terms"]
    assert manifest["reserved_subjects_refused"] == ["02", "05", "06", "07"]
    assert manifest["cleaning"]["broken_speed_mm_s"] == 15000 and manifest["cleaning"]["min_seconds"] == 2
    files = {f["file"]: f["sha256"] for f in manifest["files"]}
    assert files["001/01_01.bvh"] == hashlib.sha256((src / "001" / "01_01.bvh").read_bytes()).hexdigest()
    assert len(files) == 7
    data = out.read_bytes()
    assert manifest["npz"]["bytes"] == len(data) and manifest["npz"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["npz"]["bytes_per_frame"] == 17 * 3 * 2
    assert manifest["totals"]["frames"] == len(lib.poses) == lib.clip_start[-1]
    assert manifest["totals"]["hours"] == pytest.approx(len(lib.poses) / 25 / 3600, abs=1e-4)


# ------------------------------------------------------------------------ storage
def test_resampled_to_25_fps(built):
    """4 s at 120 fps → 101 frames at 25 fps; the hips move 1.2 m/s along CMU's +z, poseboard's −y:
    48 mm a frame (int16 rounding: ±1 mm on a difference)."""
    _, out, _, _ = built
    lib = load_library(out)
    assert lib.fps == 25.0
    walk_clip = lib.clip_poses(0)
    assert walk_clip.shape == (101, 17, 3)
    assert np.allclose(np.diff(walk_clip[:, 6, 1]), -WALK_MM_S / 25, atol=1.0)
    assert np.allclose(np.diff(walk_clip[:, 6, 0]), 0, atol=1.0)
    # the glitch pieces: source frames [0, 300) and [301, 721) → ⌊span · 25⌋ + 1 frames
    sizes = np.diff(lib.clip_start).tolist()
    assert sizes == [101, math.floor(299 / 120 * 25) + 1, math.floor(419 / 120 * 25) + 1, 76]


def test_int16_round_trips_the_importers_conversion(built):
    """The stored clip against poseboard's own import of the same file (``bvh_to_poses`` at 50 fps,
    every other frame is 25 fps), moved by its own mean pelvis: within 0.5 mm."""
    src, out, _, _ = built
    lib = load_library(out)
    for i, trial in ((0, "01_01"), (3, "143_02")):
        subject = trial.split("_")[0]
        imported, _ = bvh_to_poses(src / f"{int(subject):03d}" / f"{trial}.bvh", units=str(CMU_MM_PER_UNIT), up="+y")
        expected = imported[::2]
        expected = expected - np.array([*expected[:, 6, :2].mean(axis=0), 0.0])
        stored = lib.clip_poses(i)
        assert stored.shape == expected.shape
        assert np.abs(stored - expected).max() <= 0.5 + 1e-6
        assert np.abs(stored - expected).max() > 0.0  # it was rounded


def test_two_builds_are_byte_identical(built, tmp_path):
    src, out, _, _ = built
    again = tmp_path / "cmu.npz"
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(again), "--source", "test@0",
                                 "--categories", str(src / "categories.csv")])
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == out.read_bytes()
    assert manifest_path(again).read_text() == manifest_path(out).read_text()
    with zipfile.ZipFile(out) as archive:  # no clock in the bytes, whenever the builds run
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert [i.filename for i in archive.infolist()] == [f"{k}.npy" for k in LIBRARY_KEYS]


# ------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(("name", "words"), [
    ("05_01.bvh", ["05_01.bvh", "reserved for the held-out check"]),
    ("007_02.bvh", ["007_02.bvh", "subject 007 is reserved"]),
    ("bandai_dataset-1_walk_normal_001.bvh", ["bandai_dataset-1_walk_normal_001.bvh", "Bandai Namco"]),
    ("walk.bvh", ["walk.bvh", "<subject>_<trial>"]),
])
def test_reserved_and_non_cmu_files_refused(tmp_path, name, words):
    """A synthetic file under a reserved or non-CMU name among good ones: exit 2 naming it,
    nothing written. (The files are this test's own motion, no data of those subjects.)"""
    src = tmp_path / "src"
    src.mkdir()
    (src / "01_01.bvh").write_text(cmu_bvh(walk(2.5)))
    (src / name).write_text(cmu_bvh(walk(2.5)))
    out = tmp_path / "out" / "lib.npz"
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "error:" in message and all(w in message for w in words), message
    assert not out.parent.exists()


def test_bad_inputs_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    out = tmp_path / "lib.npz"
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(out)])
    assert result.exit_code == 2 and "no *.bvh" in result.output
    (src / "01_01.bvh").write_text(cmu_bvh(walk(2.5)))
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(tmp_path / "lib.json")])
    assert result.exit_code == 2 and "must end in .npz" in result.output
    bad_csv = tmp_path / "c.csv"
    bad_csv.write_text("trial,label\n01_01,walk\n")
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(out), "--categories", str(bad_csv)])
    assert result.exit_code == 2 and "clip,category" in result.output
    result = runner.invoke(app, ["motion", "library", str(src), "--out", str(out), "--fps", "240"])
    assert result.exit_code == 2 and "above the file's own rate" in result.output
    with pytest.raises(InputError, match="no clip survived cleaning"):
        build_library([src / "01_01.bvh"], min_seconds=5.0)
    assert not out.exists()


# ------------------------------------------------------------------------ loading
def _arrays():
    return {"poses": np.zeros((10, 17, 3), np.int16), "clip_start": np.array([0, 4, 10], np.int64),
            "clip": np.array(["01_01", "01_02"]), "trial": np.array(["01_01", "01_02"]),
            "subject": np.array(["01", "01"]), "category": np.array(["walk", "unlabelled"]), "fps": np.array(25.0)}


@pytest.mark.parametrize(("change", "words"), [
    ({"clip_start": np.array([0, 6, 4], np.int64)}, "'clip_start' must start at 0, rise strictly"),
    ({"clip_start": np.array([0, 4, 12], np.int64)}, "end at the 10 frames"),
    ({"clip_start": np.array([0, 10], np.int64)}, "'clip_start' must be (3,) int64"),
    ({"poses": np.zeros((10, 17, 3), np.float32)}, "'poses' must be (F, 17, 3) int16"),
    ({"subject": np.array(["01", "06"])}, "'subject' 06 is reserved for the held-out check"),
    ({"clip": np.array(["01_01", "01_01"])}, "names a clip twice"),
    ({"fps": np.array(0.0)}, "'fps' must be one positive float"),
])
def test_load_library_refuses_a_corrupted_file(tmp_path, change, words):
    good = tmp_path / "good.npz"
    good.write_bytes(library_npz_bytes(_arrays()))
    assert len(load_library(good)) == 2
    bad = tmp_path / "bad.npz"
    bad.write_bytes(library_npz_bytes({**_arrays(), **change}))
    with pytest.raises(InputError, match=r"bad\.npz") as info:
        load_library(bad)
    assert words in str(info.value)


def test_load_library_refuses_a_truncated_file(tmp_path):
    bad = tmp_path / "cut.npz"
    bad.write_bytes(library_npz_bytes(_arrays())[:300])
    with pytest.raises(InputError, match=r"cut\.npz: not a readable \.npz file"):
        load_library(bad)
