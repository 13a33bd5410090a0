"""BVH motion import (issue 40): forward kinematics against poses computed by hand, the
H36M17 mapping, units, up axis, floor and 50 fps of a whole file, the motion .npz passed
through, and malformed BVH files refused through the CLI with exit 2, the file and the joint
named, nothing written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.datasets.mocap.bvh import forward_kinematics, parse_bvh
from poseboard.datasets.mocap.convert import bvh_to_poses, resample
from poseboard.datasets.synthetic.user_motion import load_user_motion
from poseboard.skeleton import H36M17

runner = CliRunner()
ROT = "Zrotation Xrotation Yrotation"
#: (name, parent, offset in cm, Y up) of a Mixamo-like skeleton (End Sites: parent "_End")
SKELETON = [
    ("Hips", None, (0, 0, 0)), ("RightUpLeg", "Hips", (-9, 0, 0)), ("RightLeg", "RightUpLeg", (0, -42, 0)),
    ("RightFoot", "RightLeg", (0, -41, 0)), ("LeftUpLeg", "Hips", (9, 0, 0)), ("LeftLeg", "LeftUpLeg", (0, -42, 0)),
    ("LeftFoot", "LeftLeg", (0, -41, 0)), ("Spine", "Hips", (0, 12, 0)), ("Spine1", "Spine", (0, 14, 0)),
    ("Neck", "Spine1", (0, 24, 0)), ("Head", "Neck", (0, 10, 0)), ("RightShoulder", "Spine1", (-4, 20, 0)),
    ("RightArm", "RightShoulder", (-14, 0, 0)), ("RightForeArm", "RightArm", (-28, 0, 0)),
    ("RightHand", "RightForeArm", (-25, 0, 0)), ("LeftShoulder", "Spine1", (4, 20, 0)),
    ("LeftArm", "LeftShoulder", (14, 0, 0)), ("LeftForeArm", "LeftArm", (28, 0, 0)),
    ("LeftHand", "LeftForeArm", (25, 0, 0)),
]
HEAD_END = (0, 19, 0)


def bvh_text(frames: np.ndarray | None = None, frame_time: float = 1 / 30, names: dict[str, str] | None = None,
             skeleton=SKELETON) -> str:
    """A BVH file of ``skeleton`` (root with 6 channels, the rest 3), the head with an End Site;
    ``frames`` (F, 3 + 3 J) values (default: 4 frames of a standing pose 95 cm up)."""
    names = names or {}
    children: dict[str | None, list] = {}
    for name, parent, offset in skeleton:
        children.setdefault(parent, []).append((name, offset))
    lines = ["HIERARCHY"]

    def emit(name, offset, depth, root=False):
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {names.get(name, name)}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}")
        lines.append(f"{pad}  CHANNELS {'6 Xposition Yposition Zposition ' if root else '3 '}{ROT}")
        for child, off in children.get(name, []):
            emit(child, off, depth + 1)
        if name == "Head":
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {HEAD_END[0]} {HEAD_END[1]} {HEAD_END[2]}", pad + "  }"])
        lines.append(pad + "}")

    root_name, _, root_offset = skeleton[0]
    emit(root_name, root_offset, 0, root=True)
    if frames is None:
        frames = np.zeros((4, 3 + 3 * len(skeleton)))
        frames[:, 1] = 95.0
        frames[:, 0] = np.arange(4) * 3.0  # walking along x
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {frame_time:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in frames]
    return "\n".join(lines) + "\n"


def Rz(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def Rx(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def Ry(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


# ------------------------------------------------------------------------ kinematics by hand
def test_forward_kinematics_by_hand(tmp_path):
    """root at (10, 20, 30) turned Rz(90) Rx(0) Ry(0); child offset (0, 10, 0) with channels in
    the order X, Y, Z at (90, 0, 0); its End Site (0, 5, 0). By hand: child = (10, 20, 30) +
    Rz90 (0, 10, 0) = (0, 20, 30); end = child + Rz90 Rx90 (0, 5, 0) = child + (0, 0, 5).
    A second child with only 'Xrotation Zrotation' = (90, 90) and a position channel Yposition 7
    replacing its offset's y: at root + Rz90 (3, 7, 0); its end (1, 0, 0) goes through
    Rz90 Rx90 Rz90: (1, 0, 0) → (0, 1, 0) → (0, 0, 1) → (0, 0, 1)."""
    text = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT B
  {
    OFFSET 0 10 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
  JOINT C
  {
    OFFSET 3 2 0
    CHANNELS 3 Xrotation Zrotation Yposition
    End Site
    {
      OFFSET 1 0 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.02
10 20 30 90 0 0 90 0 0 90 90 7
"""
    path = tmp_path / "hand.bvh"
    path.write_text(text)
    bvh = parse_bvh(path)
    assert bvh.names == ["A", "B", "B_End", "C", "C_End"]
    p = forward_kinematics(bvh)[0]
    root = np.array([10.0, 20, 30])
    assert np.allclose(p[0], root, atol=1e-12)
    assert np.allclose(p[1], [0, 20, 30], atol=1e-12)
    assert np.allclose(p[2], [0, 20, 35], atol=1e-12)
    c = root + Rz(90) @ [3, 7, 0]
    assert np.allclose(p[3], c, atol=1e-12)
    assert np.allclose(p[4], c + Rz(90) @ Rx(90) @ Rz(90) @ [1, 0, 0], atol=1e-12)
    assert np.allclose(p[4], c + [0, 0, 1], atol=1e-12)


def test_forward_kinematics_random_pose_against_matrices(tmp_path):
    """Every joint of the Mixamo-like skeleton against the chain of matrices written out."""
    rng = np.random.default_rng(3)
    frames = np.concatenate([[5.0, 90.0, -2.0], rng.uniform(-60, 60, 3 * len(SKELETON))])[None]
    path = tmp_path / "r.bvh"
    path.write_text(bvh_text(frames))
    bvh = parse_bvh(path)
    p = forward_kinematics(bvh)[0]
    angles = {name: frames[0, 3 + 3 * i: 6 + 3 * i] for i, (name, _, _) in enumerate(
        [s for s in _file_order()])}
    glob: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, parent, offset in _file_order():
        a = angles[name]
        R = Rz(a[0]) @ Rx(a[1]) @ Ry(a[2])
        if parent is None:
            glob[name] = (frames[0, :3], R)
        else:
            pp, pR = glob[parent]
            glob[name] = (pp + pR @ np.array(offset, float), pR @ R)
        assert np.allclose(p[bvh.names.index(name)], glob[name][0], atol=1e-9), name
    hp, hR = glob["Head"]
    assert np.allclose(p[bvh.names.index("Head_End")], hp + hR @ np.array(HEAD_END, float), atol=1e-9)


def _file_order():
    """SKELETON in the order bvh_text writes it (depth first)."""
    children: dict = {}
    for name, parent, offset in SKELETON:
        children.setdefault(parent, []).append((name, parent, offset))
    out = []

    def walk(item):
        out.append(item)
        for child in children.get(item[0], []):
            walk(child)

    walk(SKELETON[0])
    return out


# ------------------------------------------------------------------------ a whole file
def test_bvh_to_poses_standing_pose(tmp_path):
    """Zero rotations, Y up, cm: every joint is a sum of offsets. In poseboard's world (x, y, z)
    → (x, −z, y) · 10 mm: head top − pelvis = (0, 0, 10 (12 + 14 + 24 + 10 + 19)) mm; the right
    hip at x = −90 mm; the ankles at 3.9 % of the body height; 30 fps → 50 fps."""
    path = tmp_path / "stand.bvh"
    path.write_text(bvh_text())
    poses, notes = bvh_to_poses(path)
    assert any("units detected: cm" in n for n in notes) and any("up axis detected: +y" in n for n in notes)
    H = {n: i for i, n in enumerate(H36M17.joint_names)}
    assert np.allclose(poses[:, H["Head"]] - poses[:, H["Pelvis"]], [0, 0, 790.0], atol=1e-9)
    assert np.allclose(poses[:, H["RHip"]] - poses[:, H["Pelvis"]], [-90.0, 0, 0], atol=1e-9)
    assert np.allclose(poses[:, H["Thorax"]] - poses[:, H["Pelvis"]], [0, 0, 500.0], atol=1e-9)  # Neck
    assert np.allclose(poses[:, H["RShoulder"]] - poses[:, H["Pelvis"]], [-180.0, 0, 460.0], atol=1e-9)  # RightArm
    height = (420 + 410) + 500 + 100 + 190  # shank + thigh, pelvis → neck → head → head top (mm)
    assert np.allclose(poses[:, [H["RAnkle"], H["LAnkle"]], 2], 0.039 * height, atol=1e-9)
    # 4 frames at 30 fps span 0.1 s → 50 fps: t = 0, 0.02, …, 0.1 (6 frames); x moves 30 mm a frame at 30 fps
    assert len(poses) == 6
    assert np.allclose(np.diff(poses[:, H["Pelvis"], 0]), 30.0 * 30 / 50, atol=1e-4)  # Frame Time printed to 1e-8 s
    assert np.allclose(poses[:, H["Pelvis"], :2].mean(0), 0.0, atol=1e-9)


def test_resample_interpolates_linearly():
    poses = np.arange(3, dtype=float)[:, None, None] * np.ones((3, 17, 3))  # 0, 1, 2 at 25 fps
    out = resample(poses, 1 / 25)
    assert np.allclose(out[:, 0, 0], [0, 0.5, 1, 1.5, 2])


def test_command_writes_a_valid_motion_and_passes_npz_through(tmp_path):
    src = tmp_path / "walk.bvh"
    src.write_text(bvh_text(names={n: f"mixamorig:{n}" for n, _, _ in SKELETON}))  # namespaced names
    out = tmp_path / "m.npz"
    result = runner.invoke(app, ["motion", "import", str(src), "--out", str(out), "--action", "Walking"])
    assert result.exit_code == 0, result.output
    (seq,) = load_user_motion(out)
    assert seq.fps == 50.0 and seq.action == "Walking" and seq.poses.shape == (6, 17, 3)
    again = tmp_path / "again.npz"
    result = runner.invoke(app, ["motion", "import", str(out), "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == out.read_bytes()


def test_units_up_and_joint_map_overrides(tmp_path):
    renamed = {"Neck": "Collar", "Head": "Skull"}  # no default candidate for Thorax ('Collar')
    src = tmp_path / "odd.bvh"
    src.write_text(bvh_text(names=renamed))
    jm = tmp_path / "map.yaml"
    jm.write_text("Thorax: Collar\nNeck: Skull\nHead: Skull_End\n")
    poses_map, _ = bvh_to_poses(src, joint_map=jm)
    plain = tmp_path / "plain.bvh"
    plain.write_text(bvh_text())
    poses, _ = bvh_to_poses(plain, units="cm", up="+y")
    assert np.array_equal(poses_map, poses)
    # metres: the same body, values / 100
    frames = np.zeros((4, 3 + 3 * len(SKELETON)))
    frames[:, 1] = 0.95
    metres = [(n, p, tuple(v / 100 for v in o)) for n, p, o in SKELETON]
    src_m = tmp_path / "m.bvh"
    src_m.write_text(bvh_text(frames, skeleton=metres).replace(f"OFFSET {HEAD_END[0]} {HEAD_END[1]} {HEAD_END[2]}",
                                                               "OFFSET 0 0.19 0"))
    poses_m, notes = bvh_to_poses(src_m)
    assert any("units detected: m" in n for n in notes)
    standing = bvh_to_poses(plain)[0][0]
    assert np.allclose(poses_m[0] - poses_m[0, 6], standing - standing[6], atol=1e-6)


# ------------------------------------------------------------------------ refusals
def _edit(old: str, new: str, count: int = 1, **kw):
    def make(tmp_path: Path) -> Path:
        text = bvh_text(**kw)
        assert old in text, old
        path = tmp_path / "bad.bvh"
        path.write_text(text.replace(old, new, count))
        return path
    return make


def _frames_edit(edit):
    def make(tmp_path: Path) -> Path:
        frames = np.zeros((4, 3 + 3 * len(SKELETON)))
        frames[:, 1] = 95.0
        lines = bvh_text(frames).splitlines()
        edit(lines)
        path = tmp_path / "bad.bvh"
        path.write_text("\n".join(lines) + "\n")
        return path
    return make


def _cut_last_line(lines):
    lines[-1] = " ".join(lines[-1].split()[:40])  # the last frame cut short: 40 values


def _extra_value(lines):
    lines[-2] += " 0.0"


def _nan(lines):
    parts = lines[-3].split()
    parts[3 + 3 * 5 + 1] = "nan"  # value 19: the root has 0–5, joint k ≥ 1 has 6 + 3 (k − 1) …: joint 5
    lines[-3] = " ".join(parts)


def _word(lines):
    parts = lines[-1].split()
    parts[7] = "abc"
    lines[-1] = " ".join(parts)


def _map_file(content: str):
    def make(tmp_path: Path) -> tuple[Path, list[str]]:
        path = tmp_path / "ok.bvh"
        path.write_text(bvh_text())
        jm = tmp_path / "map.json"
        jm.write_text(content)
        return path, ["--joint-map", str(jm)]
    return make


ORDER = [n for n, _, _ in _file_order()]

#: (case, maker, the joint the message must name)
MALFORMED_BVH = [
    ("truncated-last-frame", _frames_edit(_cut_last_line), ORDER[1 + (40 - 6) // 3]),  # value 40's joint
    ("extra-value", _frames_edit(_extra_value), ORDER[-1]),
    ("nan-value", _frames_edit(_nan), ORDER[5]),
    ("word-value", _frames_edit(_word), ORDER[1]),
    ("channel-count-short", _edit("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT RightLeg",
                                  "CHANNELS 3 Zrotation Xrotation\n    JOINT RightLeg"), "RightUpLeg"),
    ("unknown-channel", _edit("CHANNELS 3 Zrotation Xrotation Yrotation\n      JOINT RightFoot",
                              "CHANNELS 3 Zrotation Wrotation Yrotation\n      JOINT RightFoot"), "RightLeg"),
    ("repeated-channel", _edit("CHANNELS 3 Zrotation Xrotation Yrotation\n      JOINT RightFoot",
                               "CHANNELS 3 Zrotation Zrotation Yrotation\n      JOINT RightFoot"), "RightLeg"),
    ("channel-count-word", _edit("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT RightLeg",
                                 "CHANNELS three Zrotation Xrotation Yrotation\n    JOINT RightLeg"), "RightUpLeg"),
    ("offset-nan", _edit("OFFSET 0 -41 0", "OFFSET 0 nan 0"), "RightFoot"),
    ("offset-word", _edit("OFFSET 14 0 0", "OFFSET 14 zero 0"), "LeftArm"),
    ("duplicate-joint", _edit("JOINT LeftHand", "JOINT RightHand"), "RightHand"),
    ("end-site-channels", _edit("OFFSET 0 19 0\n", "OFFSET 0 19 0\n CHANNELS 1 Xrotation\n"), "Head_End"),
    ("missing-joint", _edit("LeftForeArm", "LeftLowerArmX", count=1), "LElbow"),
    ("joint-map-unknown-target", _map_file('{"LElbow": "LeftElbowX"}'), "LeftElbowX"),
    ("joint-map-unknown-key", _map_file('{"LElbw": "LeftForeArm"}'), "LElbw"),
]


@pytest.mark.parametrize(("case", "make", "joint"), MALFORMED_BVH, ids=[m[0] for m in MALFORMED_BVH])
def test_malformed_bvh_refused(tmp_path, case, make, joint):
    made = make(tmp_path)
    src, extra = made if isinstance(made, tuple) else (made, [])
    out = tmp_path / "out" / "m.npz"
    result = runner.invoke(app, ["motion", "import", str(src), "--out", str(out), *extra])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "error:" in message and (src.name in message or "map.json" in message), message
    assert repr(joint) in message, message
    assert not out.exists() and not out.parent.exists()


@pytest.mark.parametrize("case", ["fewer-frames", "zero-frame-time", "zero-frames", "no-motion", "not-bvh",
                                  "metres-as-mm"])
def test_malformed_bvh_file_level_refused(tmp_path, case):
    text = bvh_text()
    src = tmp_path / "bad.bvh"
    args: list[str] = []
    if case == "fewer-frames":
        text = text.replace("Frames: 4", "Frames: 9")
    elif case == "zero-frame-time":
        text = text.replace("Frame Time: 0.03333333", "Frame Time: 0")
    elif case == "zero-frames":
        text = text.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.03\n"
    elif case == "no-motion":
        text = text.split("MOTION")[0][: len(text) // 3]
    elif case == "not-bvh":
        src = tmp_path / "bad.fbx"
    else:
        args = ["--units", "mm"]
    src.write_text(text)
    out = tmp_path / "m.npz"
    result = runner.invoke(app, ["motion", "import", str(src), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert src.name in " ".join(result.output.split())
    assert not out.exists()


def test_bad_motion_npz_refused(tmp_path):
    bad = tmp_path / "metres.npz"
    np.savez(bad, poses=np.random.default_rng(0).normal(0, 0.5, (5, 17, 3)))
    out = tmp_path / "m.npz"
    result = runner.invoke(app, ["motion", "import", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "metres" in result.output and not out.exists()
    json.dumps(result.output)


def test_units_as_millimetres_per_unit(tmp_path):
    """A skeleton in a unit none of mm/cm/m/in fits (56.44 mm per unit) is refused with the number
    that would fit; given as --units 56.44 it equals the same body written in cm."""
    factor = 56.44 / 10.0  # cm per unit
    scaled = [(n, p, tuple(v / factor for v in o)) for n, p, o in SKELETON]
    frames = np.zeros((4, 3 + 3 * len(SKELETON)))
    frames[:, 1] = 95.0 / factor
    src = tmp_path / "odd_units.bvh"
    src.write_text(bvh_text(frames, skeleton=scaled).replace(
        f"OFFSET {HEAD_END[0]} {HEAD_END[1]} {HEAD_END[2]}", f"OFFSET 0 {19 / factor!r} 0"))
    out = tmp_path / "m.npz"
    result = runner.invoke(app, ["motion", "import", str(src), "--out", str(out)])
    assert result.exit_code == 2 and "millimetres per unit: --units 59.2" in result.output and not out.exists()
    poses, _ = bvh_to_poses(src, units="56.44")
    plain = tmp_path / "plain.bvh"
    frames[:, 1] = 95.0
    plain.write_text(bvh_text(frames))
    assert np.allclose(poses, bvh_to_poses(plain)[0], atol=1e-3)
