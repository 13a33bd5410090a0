"""The Bandai Namco Research Motion datasets as the board's real motion (issue 79): the importer
against positions computed here from a BVH's own offsets and channels, the held-out split, a
byte-deterministic library, the archive's checks, and the held-out clips never in a training
world.

Tests marked by the ``bandai_archive`` fixture read the real archive (params.yaml's
``motion_library.archive``); the rest write Bandai-shaped BVH files of their own."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.mocap import bandai, bandai_split
from poseboard.datasets.mocap.bandai_archive import ARCHIVE_SHA256, build_from_archive, check_archive, handful
from poseboard.datasets.mocap.bandai_library import build_bandai_library
from poseboard.datasets.mocap.library import build_library, write_library
from poseboard.datasets.mocap.library_file import library_npz_bytes, load_library
from poseboard.errors import InputError
from poseboard.skeleton import H36M17
from tests.conftest import motion_archive, user_env

ROOT = Path(__file__).resolve().parents[2]
J = {name: i for i, name in enumerate(H36M17.joint_names)}

# ------------------------------------------------------------------ a Bandai-shaped skeleton
#: (name, parent, offset cm): Bandai's joint names and layout (every bone along its parent's +x
#: but the root's, legs and arms mirrored in z), with lengths of our own
SKELETON = [
    ("joint_Root", None, (0.0, 0.0, 0.0)), ("Hips", "joint_Root", (0.0, 92.0, 0.0)),
    ("Spine", "Hips", (15.0, 0.0, 0.0)), ("Chest", "Spine", (10.0, 0.0, 0.0)), ("Neck", "Chest", (17.0, 0.0, 0.0)),
    ("Head", "Neck", (6.0, 0.0, 0.0)), ("Head_End", "Head", (0.0, 0.0, 0.0)),
    ("Shoulder_L", "Chest", (13.0, 0.0, 5.0)), ("UpperArm_L", "Shoulder_L", (5.0, 0.0, 0.0)),
    ("LowerArm_L", "UpperArm_L", (25.0, 0.0, 0.0)), ("Hand_L", "LowerArm_L", (22.0, 0.0, 0.0)),
    ("Hand_L_End", "Hand_L", (0.0, 0.0, 0.0)),
    ("Shoulder_R", "Chest", (13.0, 0.0, -5.0)), ("UpperArm_R", "Shoulder_R", (-5.0, 0.0, 0.0)),
    ("LowerArm_R", "UpperArm_R", (-25.0, 0.0, 0.0)), ("Hand_R", "LowerArm_R", (-22.0, 0.0, 0.0)),
    ("Hand_R_End", "Hand_R", (0.0, 0.0, 0.0)),
    ("UpperLeg_L", "Hips", (-5.0, 0.0, 9.0)), ("LowerLeg_L", "UpperLeg_L", (40.0, 0.0, 0.0)),
    ("Foot_L", "LowerLeg_L", (40.0, 0.0, 0.0)), ("Toes_L", "Foot_L", (8.0, 0.0, 10.0)),
    ("Toes_L_End", "Toes_L", (0.0, 0.0, 0.0)),
    ("UpperLeg_R", "Hips", (-5.0, 0.0, -9.0)), ("LowerLeg_R", "UpperLeg_R", (-40.0, 0.0, 0.0)),
    ("Foot_R", "LowerLeg_R", (-40.0, 0.0, 0.0)), ("Toes_R", "Foot_R", (-8.0, 0.0, 10.0)),
    ("Toes_R_End", "Toes_R", (0.0, 0.0, 0.0)),
]
END_SITES = {"Head_End", "Hand_L_End", "Hand_R_End", "Toes_L_End", "Toes_R_End"}
JOINTS = [name for name, _, _ in SKELETON if name not in END_SITES]
#: the rest pose's local rotations (Z, X, Y degrees) that stand the skeleton up: the spine's +x
#: along +y, the legs' +x (left) and -x (right) along -y, the arms out to the sides
REST = {"Hips": (90.0, 0.0, 0.0), "UpperLeg_L": (180.0, 0.0, 0.0), "UpperLeg_R": (0.0, 0.0, 0.0),
        "Shoulder_L": (-90.0, 0.0, 0.0), "Shoulder_R": (-90.0, 0.0, 0.0)}


def _write_bvh(path: Path, values: np.ndarray, frame_time: float = 1 / 30) -> None:
    """A Bandai-shaped BVH: every joint with six channels (Xposition Yposition Zposition Zrotation
    Xrotation Yrotation), ``values`` (F, 6 · len(JOINTS))."""
    children: dict[str | None, list[int]] = {}
    for i, (_, parent, _) in enumerate(SKELETON):
        children.setdefault(parent, []).append(i)
    lines = ["HIERARCHY"]

    def emit(i: int, depth: int) -> None:
        name, parent, offset = SKELETON[i]
        pad = "  " * depth
        if name in END_SITES:
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET {' '.join(map(str, offset))}", f"{pad}}}"])
            return
        lines.extend([f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}", f"{pad}{{",
                      f"{pad}  OFFSET {' '.join(map(str, offset))}",
                      f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"])
        for c in children.get(name, []):
            emit(c, depth + 1)
        lines.append(f"{pad}}}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {len(values)}", f"Frame Time: {frame_time:.7f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n")


def _motion(frames: int, seed: int, walk_mm_s: float = 0.0) -> np.ndarray:
    """(frames, 6 · len(JOINTS)) channel values: each joint's position channels equal to its
    offset (Bandai's files do so), the rest pose's rotations plus smooth random swings of up to
    ±25°, the root walking along z at ``walk_mm_s``."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 30.0
    offsets = {name: np.array(off) for name, _, off in SKELETON}
    out = np.zeros((frames, 6 * len(JOINTS)))
    for j, name in enumerate(JOINTS):
        out[:, 6 * j: 6 * j + 3] = offsets[name]
        rest = np.array(REST.get(name, (0.0, 0.0, 0.0)))
        amp, freq, phase = rng.uniform(0, 25, 3), rng.uniform(0.3, 1.5, 3), rng.uniform(0, 2 * np.pi, 3)
        swing = amp * np.sin(2 * np.pi * freq * t[:, None] + phase) if name != "joint_Root" else np.zeros((frames, 3))
        out[:, 6 * j + 3: 6 * j + 6] = rest + swing
    out[:, 2] = walk_mm_s / 10.0 * t  # joint_Root's Zposition, cm
    out[:, 8] = 0.0  # Hips' Zposition: it hangs above the root
    return out


def _rot(axis: str, deg: np.ndarray) -> np.ndarray:
    """One elementary rotation matrix, written out (not scipy's)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    if axis == "X":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "Y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _hand_positions(values: np.ndarray, frame: int) -> dict[str, np.ndarray]:
    """World positions (cm, the file's Y-up axes) of every joint and of the two face points of
    one frame, computed here: a joint's position channels replace its offset, its rotation is
    Rz·Rx·Ry of its channels (BVH's intrinsic order), end sites and face points hang from the
    head in its own frame."""
    row = values[frame]
    pos: dict[str, np.ndarray] = {}
    rot: dict[str, np.ndarray] = {}
    for name, parent, _ in SKELETON:
        if name in END_SITES:
            continue
        j = JOINTS.index(name)
        local = row[6 * j: 6 * j + 3]
        z, x, y = row[6 * j + 3: 6 * j + 6]
        R = _rot("Z", z) @ _rot("X", x) @ _rot("Y", y)
        if parent is None:
            pos[name], rot[name] = local, R
        else:
            pos[name], rot[name] = pos[parent] + rot[parent] @ local, rot[parent] @ R
    pos["nose"] = pos["Head"] + rot["Head"] @ np.array(bandai.NOSE_CM)
    pos["top"] = pos["Head"] + rot["Head"] @ np.array(bandai.HEAD_TOP_CM)
    return pos


H36M_FROM = {"RAnkle": "Foot_R", "RKnee": "LowerLeg_R", "RHip": "UpperLeg_R", "LHip": "UpperLeg_L",
             "LKnee": "LowerLeg_L", "LAnkle": "Foot_L", "Pelvis": "Hips", "Spine": "Chest", "Thorax": "Neck",
             "Head": "top", "RWrist": "Hand_R", "RElbow": "LowerArm_R", "RShoulder": "UpperArm_R",
             "LShoulder": "UpperArm_L", "LElbow": "LowerArm_L", "LWrist": "Hand_L", "Neck": "nose"}


def _expected(values: np.ndarray, frame: int) -> np.ndarray:
    """(17, 3) H36M17 mm, Z up: Y-up (x, y, z) cm → (x, −z, y) · 10."""
    pos = _hand_positions(values, frame)
    p = np.array([pos[H36M_FROM[j]] for j in H36M17.joint_names])
    return np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1) * 10.0


def test_importer_equals_the_hand_computed_positions(tmp_path):
    values = _motion(90, seed=1)
    path = tmp_path / "dataset-2_walk_normal_001.bvh"
    _write_bvh(path, values)
    poses, frame_time, height = bandai.bandai_poses(path)
    assert poses.shape == (90, 17, 3) and frame_time == pytest.approx(1 / 30, abs=1e-6)
    for frame in (0, 45):  # the first frame and one mid-clip
        np.testing.assert_allclose(poses[frame], _expected(values, frame), atol=1e-3)
    assert 900 < height < 2600


# ------------------------------------------------------------------ the real archive
@pytest.fixture(scope="module")
def bandai_archive() -> Path:
    archive = motion_archive()
    if not archive.is_file():
        pytest.skip(f"{archive}: the Bandai Namco archive is not on this machine (docs/motion_library.md)")
    return archive


@pytest.fixture(scope="module")
def real_clip(bandai_archive, tmp_path_factory) -> Path:
    """dataset-1_walk_normal_001.bvh from the archive (streamed; the first of dataset 1's walks)."""
    dest = tmp_path_factory.mktemp("bandai-clip")
    wanted = "dataset-1_walk_normal_001.bvh"
    with tarfile.open(bandai_archive, "r|xz") as tar:
        for member in tar:
            if member.name.endswith("/" + wanted):
                path = dest / wanted
                path.write_bytes(tar.extractfile(member).read())
                return path
    raise AssertionError(f"{wanted} is not in {bandai_archive}")


def _channels(path: Path) -> tuple[list[tuple[str, str | None, np.ndarray]], np.ndarray]:
    """The file's hierarchy (name, parent, offset) and its motion values, read here with a few lines
    of text handling (not poseboard's parser)."""
    text = path.read_text().split("MOTION")
    tokens = text[0].replace("{", " { ").replace("}", " } ").split()
    joints: list[tuple[str, str | None, np.ndarray]] = []
    stack: list[str | None] = []
    pending: str | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            pending, i = tokens[i + 1], i + 2
        elif tok == "End":
            pending, i = f"{stack[-1]}_End", i + 2
        elif tok == "{":
            stack.append(pending)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            joints.append((stack[-1], stack[-2] if len(stack) > 1 else None, np.array(tokens[i + 1:i + 4], float)))
            i += 4
        else:
            i += 1
    lines = text[1].strip().splitlines()
    return joints, np.array([[float(v) for v in line.split()] for line in lines[2:]])


def test_importer_equals_the_hand_computed_positions_on_a_real_clip(real_clip):
    joints, values = _channels(real_clip)
    names = [n for n, _, _ in joints if not n.endswith("_End")]
    assert names == JOINTS  # Bandai's 22 joints with channels, in this order
    poses, _, _ = bandai.bandai_poses(real_clip)
    assert len(poses) == len(values)
    for frame in (0, len(values) // 2):
        np.testing.assert_allclose(poses[frame], _expected(values, frame), atol=1e-3)
    # the skeleton is the upstream README's: toes about 4 cm above the floor, hips about 94 cm up
    assert 850 < poses[0, J["Pelvis"], 2] < 1000 and 50 < poses[:, [J["RAnkle"], J["LAnkle"]], 2].min() < 150


def test_the_stage_builds_the_smoke_library_and_refuses_a_bad_archive(bandai_archive, tmp_path):
    """The motion_library stage's command, as DVC runs it: the smoke profile's handful with every
    role; a missing and an altered archive exit 2 naming the file, the SHA-256 and the upstream
    commit, and write nothing."""
    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text().replace("\nprofile: default", "\nprofile: smoke"))
    out = tmp_path / "motion"
    run = [sys.executable, "-m", "poseboard.pipeline", "motion-library", "--params", str(params), "--out", str(out)]
    ok = subprocess.run(run, cwd=ROOT, env=user_env() | {"POSEBOARD_MOTION_ARCHIVE": str(bandai_archive)},
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    library = load_library(out / "bandai.npz")
    assert sorted(set(library.role.tolist())) == sorted(bandai_split.ROLES)
    assert sorted(p.name for p in out.iterdir()) == ["bandai.manifest.json", "bandai.npz"]  # unpacked files gone
    altered = tmp_path / "altered.tar.xz"
    altered.write_bytes(b"not the archive")
    for archive in (tmp_path / "missing.tar.xz", altered):
        bad_out = tmp_path / f"out-{archive.stem}"
        proc = subprocess.run(run[:-1] + [str(bad_out)], cwd=ROOT,
                              env=user_env() | {"POSEBOARD_MOTION_ARCHIVE": str(archive)},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and str(archive) in proc.stderr and ARCHIVE_SHA256 in proc.stderr
        assert bandai.UPSTREAM_COMMIT in proc.stderr and "Traceback" not in proc.stderr
        assert not bad_out.exists()


@pytest.fixture(scope="module")
def archive_library(bandai_archive, tmp_path_factory) -> Path:
    """A library of three clips of every role, built from the archive."""
    out = tmp_path_factory.mktemp("bandai-library") / "motion"
    build_from_archive(bandai_archive, out, clips_per_role=3)
    return out / "bandai.npz"


def test_no_held_out_clip_enters_a_training_world(archive_library, tmp_path):
    """Three clips of every role drive the smoke training worlds entirely with real motion (synth-h36m's
    training world, synth-panoptic's dome, synth-mupots's scenes): every real sequence's clip is a
    training clip, none of the held-out ones, and no test split draws on the training clips."""
    import pandas as pd

    from poseboard.datasets.synthetic.config import MotionLibrarySpec, SynthConfig
    from poseboard.datasets.synthetic.generator import generate_datasets

    library = load_library(archive_library)
    role = dict(zip(library.clip.tolist(), library.role.tolist(), strict=True))
    config = SynthConfig.preset("smoke-broad", crop_size=32).model_copy(
        update={"motion_library": MotionLibrarySpec(path=archive_library)})
    config = config.with_training_world("real_motion", 1.0, "test").with_split_sizes("test", samples=8)
    worlds = {"synth-h36m": "samples.csv", "synth-panoptic": "samples.csv", "synth-mupots": "people.csv"}
    generate_datasets(list(worlds), config, tmp_path / "data", seed=0, progress=False, workers=1)
    for name, table in worlds.items():
        rows = pd.read_csv(tmp_path / "data" / name / "train" / table)
        clips = {s.rsplit("/", 1)[1].split("@")[0] for s in rows["sequence"].unique()}
        assert clips and all(role[c] == "train" for c in clips), (name, {c: role[c] for c in clips})
        assert (rows["action"] == "RealMotion").all(), name
        test = pd.read_csv(tmp_path / "data" / name / "test" / table)
        assert not test["sequence"].str.contains("dataset-").any(), name  # the test's motion is not the clips'


def test_the_test_splits_draw_their_own_roles(archive_library, tmp_path):
    """The in-distribution test's real share performs held-out takes (and its held-out-rig split the
    very same sequences); the real-people splits perform held-out contents and styles; without a
    library they are not rendered."""
    import pandas as pd

    from poseboard.datasets.synthetic.config import MotionLibrarySpec, SynthConfig
    from poseboard.datasets.synthetic.generator import generate_datasets

    library = load_library(archive_library)
    role = dict(zip(library.clip.tolist(), library.role.tolist(), strict=True))
    base = SynthConfig.preset("smoke-broad", crop_size=32)
    config = base.model_copy(update={"motion_library": MotionLibrarySpec(path=archive_library)})
    config = config.with_test_real_motion(0.5)
    names = {"synth-h36m": "test-take", "synth-novel-rig": "test-take", "synth-real-content": "novel-content",
             "synth-real-style": "novel-style", "synth-real-content-rig": "novel-content",
             "synth-real-style-rig": "novel-style"}
    generate_datasets(list(names), config, tmp_path / "data", seed=0, progress=False, workers=1)
    sequences = {}
    for name, wanted in names.items():
        table = pd.read_csv(tmp_path / "data" / name / "test" / "samples.csv")
        real = table[table["action"] == "RealMotion"]
        share = real["sequence"].nunique() / table["sequence"].nunique()
        assert share == (1.0 if name.startswith("synth-real") else pytest.approx(0.5, abs=0.05)), (name, share)
        clips = {s.rsplit("/", 1)[1].split("@")[0] for s in real["sequence"].unique()}
        assert clips and {role[c] for c in clips} == {wanted}, (name, clips)
        sequences[name] = set(real["sequence"])
    assert sequences["synth-novel-rig"] <= sequences["synth-h36m"]  # the same sequences, other cameras
    reports = generate_datasets(["synth-real-content"], base, tmp_path / "none", seed=0, progress=False, workers=1)
    assert reports == [] and not (tmp_path / "none" / "synth-real-content").exists()


def test_retargeted_real_motion_keeps_the_worlds_bounds(archive_library):
    """Windows of every role's clips on training and held-out bodies: angles within the joint
    limits, the lowest ankle never below the body's ankle height and at it where a foot is
    planted, no joint faster than the bound, no planted ankle sliding beyond it (recomputed here
    from the poses, per contact run)."""
    from poseboard.datasets.synthetic.body import (
        ANGLE_LIMITS_DEG,
        SHOULDER_SWING_MAX_DEG,
        novel_bodies,
        training_bodies,
    )
    from poseboard.datasets.synthetic.real_motion import (
        SLIDE_BOUND_MM,
        SPEED_BOUND_MM_S,
        draw_real_sequence,
        library_clips,
    )

    clips = library_clips(archive_library)
    bodies = training_bodies(0, 3) + novel_bodies(0, 3)
    rng = np.random.default_rng(0)
    ankles = [J["RAnkle"], J["LAnkle"]]
    for role in bandai_split.ROLES:
        mine = [c for c in clips if c.role == role]
        for body in bodies:
            seq, r, window = draw_real_sequence(mine, body, 101, rng, sequence_id=f"{role}/{body.name}")
            where = (role, body.name, window.clip.clip)
            for name, (lo, hi) in ANGLE_LIMITS_DEG.items():
                assert lo - 1e-6 <= r.angles[name].min() and r.angles[name].max() <= hi + 1e-6, (where, name)
            for side in "rl":
                swing = np.hypot(r.angles[f"{side}_shoulder_flexion"], r.angles[f"{side}_shoulder_abduction"])
                assert swing.max() <= SHOULDER_SWING_MAX_DEG + 1e-6, where
            lowest = seq.poses[:, ankles, 2].min(1) - body.ankle_height_mm
            assert lowest.min() > -1e-6, where
            planted = r.contacts.any(1)
            assert np.abs(lowest[planted]).max(initial=0.0) < 5.0, where
            speed = np.linalg.norm(np.diff(seq.poses, axis=0), axis=-1) * 50.0
            assert speed.max() <= SPEED_BOUND_MM_S, where
            for foot in range(2):
                c = np.concatenate([[0], r.contacts[:, foot].astype(int), [0]])
                for a, b in zip(np.flatnonzero(np.diff(c) == 1), np.flatnonzero(np.diff(c) == -1), strict=True):
                    xy = seq.poses[a:b, ankles[foot], :2]
                    assert np.linalg.norm(xy - xy[0], axis=-1).max() <= SLIDE_BOUND_MM, (where, foot, a, b)
            assert np.isfinite(seq.poses).all() and np.allclose(
                H36M17.bone_lengths(seq.poses), np.broadcast_to(body.bone_lengths, (101, 16)), atol=1e-6)


def test_the_real_split_lists_each_side(bandai_archive, tmp_path):
    """Every name of the archive gets a role; the held-out contents and styles are the documented
    ones; each trained cell of at least two takes holds one in ten out (at least one)."""
    with tarfile.open(bandai_archive, "r:xz") as tar:
        names = [Path(m.name) for m in tar.getmembers() if m.name.endswith(".bvh")]
    clips = [bandai.parse_name(p) for p in names]
    assert len(clips) == 3076  # upstream's 3,077 but dataset-1_dance-long_normal_001.bvh (the archive's README)
    roles = bandai_split.roles(clips)
    by_role = {r: [c for c in clips if roles[c] == r] for r in bandai_split.ROLES}
    assert sorted({c.content for c in by_role["novel-content"]}) == sorted(
        ["kick", "punch", "slash", "dance-short", "bow", "call", "respond"])
    assert {(c.dataset, c.style) for c in by_role["novel-style"]} == {
        ("1", "old"), ("1", "feminine"), ("1", "childish"), ("2", "elderly"), ("2", "feminine")}
    trained = {c for c in clips if roles[c] in ("train", "test-take")}
    for kind in ("content", "style"):
        novel = {getattr(c, kind) for c in by_role[f"novel-{kind}"]}
        assert not novel & {getattr(c, kind) for c in trained if c.dataset == "1"}, kind
    cells: dict[tuple[str, str, str], list[str]] = {}
    for c in trained:
        cells.setdefault((c.dataset, c.content, c.style), []).append(roles[c])
    for cell, r in cells.items():
        held = r.count("test-take")
        assert held == (max(1, len(r) // 10) if len(r) >= 2 else 0), (cell, len(r), held)
    assert {r: len(v) for r, v in by_role.items()} == {"train": 2090, "test-take": 212, "novel-content": 24,
                                                       "novel-style": 750}


# ------------------------------------------------------------------ the split's rules
def _clip(dataset: str, content: str, style: str, take: int) -> bandai.BandaiClip:
    return bandai.BandaiClip(dataset, content, style, f"{take:03d}")


def test_roles_follow_the_rules():
    cell = [_clip("2", "run", "normal", k) for k in range(1, 26)]
    pair = [_clip("1", "walk", "sad", 1), _clip("1", "walk", "sad", 2)]
    single = [_clip("1", "run", "sad", 1)]
    novel = [_clip("1", "kick", "normal", 1), _clip("1", "walk", "old", 1), _clip("2", "run", "elderly", 3)]
    roles = bandai_split.roles(cell + pair + single + novel)
    assert [c.take for c in cell if roles[c] == "test-take"] == ["010", "020"]
    assert roles[pair[1]] == "test-take" and roles[pair[0]] == "train" and roles[single[0]] == "train"
    assert [roles[c] for c in novel] == ["novel-content", "novel-style", "novel-style"]
    # a subset keeps the roles the whole dataset decides (the smoke handful)
    assert bandai_split.roles(cell[:9])[cell[8]] == "test-take"  # alone, the last of 9
    assert roles[cell[8]] == "train"


def test_names_and_labels_are_checked(tmp_path):
    assert bandai.parse_name("dataset-2_walk-turn-left_elderly_012.bvh") == _clip("2", "walk-turn-left", "elderly", 12)
    for bad, words in (("dataset-3_walk_normal_001.bvh", "not a Bandai"), ("01_03.bvh", "not a Bandai"),
                       ("dataset-2_kick_normal_001.bvh", "content 'kick'"),
                       ("dataset-1_walk_elderly_001.bvh", "style 'elderly'")):
        with pytest.raises(InputError, match=words):
            bandai.parse_name(bad)
    path = tmp_path / "dataset-1_walk_sad_001.bvh"
    path.with_suffix(".json").write_text('{"content": 0, "style": 2}')
    bandai.check_labels(path, bandai.parse_name(path))
    path.with_suffix(".json").write_text('{"content": 1, "style": 2}')
    with pytest.raises(InputError, match="'content' says 'run'"):
        bandai.check_labels(path, bandai.parse_name(path))


# ------------------------------------------------------------------ the library
@pytest.fixture(scope="module")
def clip_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bandai-files")
    specs = [("1", "walk", "sad", 1), ("1", "walk", "sad", 2), ("1", "kick", "normal", 1), ("2", "run", "elderly", 1),
             ("2", "wave-left-hand", "normal", 1)]
    files = []
    for k, (d, content, style, take) in enumerate(specs):
        path = folder / f"dataset-{d}_{content}_{style}_{take:03d}.bvh"
        _write_bvh(path, _motion(120, seed=10 + k, walk_mm_s=800.0))
        files.append(path)
    return files


def test_two_builds_are_byte_identical_and_labelled(clip_files, tmp_path):
    first = build_bandai_library(clip_files, root=clip_files[0].parent)
    second = build_bandai_library(list(reversed(clip_files)), root=clip_files[0].parent)
    assert library_npz_bytes(first[0]) == library_npz_bytes(second[0])
    for name, built in (("a", first), ("b", second)):
        (tmp_path / name).mkdir()
        write_library(tmp_path / name / "lib.npz", *built)
    for file in ("lib.npz", "lib.manifest.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    library = load_library(tmp_path / "a" / "lib.npz")
    # in name order
    assert library.role.tolist() == ["novel-content", "train", "test-take", "novel-style", "train"]
    assert library.subject.tolist() == ["bandai-1"] * 3 + ["bandai-2"] * 2
    assert library.category.tolist() == ["kick", "walk", "walk", "run", "wave-left-hand"]
    assert library.style.tolist()[1:3] == ["sad", "sad"] and library.take.tolist()[2] == "002"
    manifest = first[1]
    assert manifest["database"]["licence"] == "CC BY-NC 4.0" and "Bandai Namco Research" in manifest["database"][
        "attribution"]
    assert manifest["split"]["novel_contents"]["1"][:5] == ["kick", "punch", "slash", "dance-short", "dance-long"]


def test_handful_takes_every_role(clip_files):
    chosen = handful(clip_files, 1)
    assert [bandai.parse_name(p).take for p in chosen] and len(chosen) == 4  # one per role


def test_bandai_files_and_reserved_cmu_subjects(clip_files, tmp_path):
    """The CMU builder still refuses the reserved subjects by name; `poseboard motion library`
    builds a Bandai folder with the Bandai importer."""
    for subject in ("02", "05", "06", "07"):
        path = tmp_path / f"{subject}_01.bvh"
        path.write_text("HIERARCHY\n")
        with pytest.raises(InputError, match=f"subject {subject} is reserved"):
            build_library([path])
    out = tmp_path / "lib.npz"
    proc = subprocess.run([sys.executable, "-m", "poseboard.cli", "motion", "library", str(clip_files[0].parent),
                           "--out", str(out)], cwd=ROOT, env=user_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert load_library(out).role.tolist()[1] == "train"


def test_check_archive_names_the_fix(tmp_path):
    with pytest.raises(InputError, match="missing .*expected SHA-256 " + ARCHIVE_SHA256):
        check_archive(tmp_path / "none.tar.xz")
    other = tmp_path / "other.tar.xz"
    other.write_bytes(b"x")
    with pytest.raises(InputError, match="altered"):
        check_archive(other)


def test_the_report_states_the_motions_licence_where_the_board_uses_it():
    """The leaderboard's provenance and report/tables/README.md name the Bandai Namco datasets and
    their non-commercial terms for a profile whose worlds draw on the library (smoke), and say
    nothing of them for procedural motion (a profile with no share, or no params)."""
    from poseboard.params import load_params
    from poseboard.report.build import _tables_index, motion_terms, render_html

    params = load_params(ROOT / "params.yaml")
    smoke = motion_terms(params, "smoke")
    assert smoke is not None and "CC BY-NC 4.0" in smoke and "Bandai Namco Research Inc." in smoke
    assert motion_terms(params, "default") == smoke  # the board's profile draws from the library since issue 79
    assert motion_terms(params, "gpu") is None and motion_terms(None, "smoke") is None
    assert f"Motion capture: {smoke}" in _tables_index([], smoke)
    assert "Motion capture" not in _tables_index([], None)
    html = render_html([], [], [], [], [], params=params, motion_terms=smoke, built_at="x")
    assert "<dt>motion capture</dt><dd>" in html and "CC BY-NC 4.0" in html
    assert "motion capture" not in render_html([], [], [], [], [], params=params, built_at="x")


def test_a_corrupted_archive_never_costs_a_traceback(clip_files, tmp_path):
    """The stage's archive reader under mutation (issue 80): a small archive of Bandai-shaped files,
    truncated or with bytes changed, its SHA-256 stated as the mutant's own so that the unpacking
    and the importer see the damage: each is refused (InputError, nothing left behind) or builds a
    valid library; 30 mutants, seed 0."""
    import hashlib
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for path in clip_files:
            tar.add(path, arcname=f"dataset/Bandai-Namco-Research-Motiondataset-1/data/{path.name}")
    clean = buf.getvalue()
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "built": 0}
    for k in range(30):
        data = bytearray(clean)
        if k % 3 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            for i in rng.integers(0, len(data), int(rng.integers(1, 6))):
                data[int(i)] = int(rng.integers(0, 256))
        archive = tmp_path / f"mutant-{k}.tar.xz"
        archive.write_bytes(bytes(data))
        out = tmp_path / f"out-{k}"
        try:
            build_from_archive(archive, out, sha256=hashlib.sha256(bytes(data)).hexdigest())
        except InputError as exc:
            assert str(archive) in str(exc) or "dataset-" in str(exc), str(exc)
            assert not out.exists()
            outcomes["refused"] += 1
        else:
            library = load_library(out / "bandai.npz")
            assert np.isfinite(library.poses).all()
            outcomes["built"] += 1
    assert outcomes["refused"] > 0


def test_no_motion_data_is_committed():
    """Nothing of the archive is in git: no BVH, no archive, no library, nothing under data/ (the
    stage's outputs are DVC's)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    assert not [f for f in files if f.lower().endswith((".bvh", ".tar.xz", ".tar"))]
    assert not [f for f in files if f.startswith("data/") or ("bandai" in f.lower() and f.endswith(".npz"))]
