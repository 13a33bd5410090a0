"""The readers of users' files that :mod:`poseboard.workflows.fuzz` mutates, each with a
real-shaped seed file it writes itself (nothing committed) and a check of what it accepts.

Each :class:`Reader` is the function a command calls on the file (called in-process: the
command adds only the write), and a check that the accepted output is finite and of the
documented shape (else :class:`~poseboard.workflows.fuzz.Unsound`, a crash). The seeds are
shaped as the real files are: Human3.6M's four cameras (S9's layout) as OpenCV FileStorage YAML
and as Human3.6M-style JSON, a stereo pair as OpenCV XML, Shelf-like EasyMocap ``intri.yml`` +
``extri.yml`` in metres, a CMU Panoptic dome as Panoptic JSON (hd and vga cameras, cm, y down)
and as anipose TOML, a poseboard rig JSON, a Mixamo-style BVH clip, poseboard's motion ``.npz``
and motion library, pose and root predictions, a method card, a submitted result, the
repository's ``params.yaml``, a protocol definition, a joint map and a categories CSV.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.workflows.fuzz import Reader, Unsound

#: A standing body, H36M17 order (RAnkle … LWrist, Neck/Nose), world mm, Z up, feet on the floor.
STANDING_MM = np.array([
    [-110, 10, 90], [-105, 0, 500], [-100, 0, 930], [100, 0, 930], [105, 0, 500], [110, 10, 90],
    [0, 0, 930], [0, 10, 1160], [0, 20, 1420], [0, 30, 1720], [-260, 40, 860], [-240, 30, 1110],
    [-180, 20, 1400], [180, 20, 1400], [240, 30, 1110], [260, 40, 860], [0, 60, 1560],
], dtype=np.float64)


def finite(label: str, *arrays: Any) -> None:
    """:class:`Unsound` unless every value of ``arrays`` is a finite number."""
    for a in arrays:
        arr = np.asarray(a)
        if arr.dtype.kind not in "fiub" or not np.all(np.isfinite(arr)):
            raise Unsound(f"{label}: accepted non-finite or non-numeric values ({arr.dtype}, {arr.shape})")


def finite_tree(label: str, value: Any) -> None:
    """:class:`Unsound` for any float in a nested dict/list (a validated record's dump) that is
    NaN or infinite."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, float) and not math.isfinite(v):
            raise Unsound(f"{label}: accepted {v} in a validated record")


# ------------------------------------------------------------------------ cameras
def _look_at(name: str, eye: Iterable[float], target: Iterable[float], K: list[list[float]],
             size: tuple[int, int], dist: Iterable[float]) -> Any:
    from poseboard.camera import Camera

    base = Camera.look_at(eye=list(eye), target=list(target), focal=1000.0, image_size=size)
    return Camera(K=np.array(K, dtype=np.float64), R=base.R, t=base.t, dist=np.array(list(dist), dtype=np.float64),
                  image_size=size, name=name)


def h36m_cameras() -> list[Any]:
    """Human3.6M's four cameras as its S9 calibration lays them out (ids, 1000×1002 / 1000×1000
    images, f ≈ 1145 px, distortion of that size), world mm, Z up, floor z = 0."""
    specs = [("54138969", (3600, 4400, 1550), (1000, 1002), 1145.05, 1143.78, 512.54, 515.45),
             ("55011271", (-4100, 3900, 1600), (1000, 1000), 1149.68, 1147.59, 508.85, 508.06),
             ("58860488", (3900, -4200, 1500), (1000, 1000), 1149.14, 1148.80, 519.82, 501.40),
             ("60457274", (-3800, -4000, 1650), (1000, 1002), 1145.51, 1144.77, 514.97, 501.88)]
    return [_look_at(name, eye, (0, 300, 950), [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], size,
                     (-0.207, 0.247, -0.0031, -0.0009, -0.0031))
            for name, eye, size, fx, fy, cx, cy in specs]


def shelf_cameras() -> list[Any]:
    """Five cameras around a 4 × 3 m room as the Shelf sequence's (1032×776 images), world mm."""
    out = []
    for i, (x, y, z) in enumerate([(2900, 2100, 2300), (-2800, 2200, 2200), (-3000, -1900, 2400),
                                   (2700, -2300, 2300), (200, 3200, 2500)]):
        out.append(_look_at(f"{i + 1:02d}", (x, y, z), (0, 0, 900),
                            [[1063.5 + 7 * i, 0, 511.4 + i], [0, 1061.2 + 7 * i, 389.6 - i], [0, 0, 1]], (1032, 776),
                            (-0.31 + 0.01 * i, 0.11, 0.0004, -0.0002, 0.0)))
    return out


def dome_cameras(count: int = 10) -> list[Any]:
    """``count`` HD cameras of a CMU Panoptic-like dome (radius 2.9 m, 1920×1080), world mm."""
    out = []
    for i in range(count):
        a = 2 * math.pi * i / count
        h = 600 + 1700 * ((i * 7) % count) / count
        out.append(_look_at(f"00_{i:02d}", (2900 * math.cos(a), 2900 * math.sin(a), h), (0, 0, 1000),
                            [[1395.1 + 3 * i, 0, 954.3], [0, 1392.8 + 3 * i, 560.7], [0, 0, 1]], (1920, 1080),
                            (-0.233, 0.185, 0.0002, -0.0004, -0.041)))
    return out


def _in_world(cam: Any, up: str, mm_per_unit: float) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of ``cam`` in a world whose ``up`` axis points up, in other units."""
    from poseboard.datasets.axes import up_to_z

    return cam.R @ up_to_z(up), cam.t / mm_per_unit


def _as_opencv_3(path: Path) -> None:
    """The file with the ``%YAML:1.0`` header OpenCV 3 and 4 write (the files in the wild; OpenCV
    5 writes ``%YAML 1.2``)."""
    text = path.read_text()
    if text.startswith("%YAML 1.2"):
        path.write_text("%YAML:1.0" + text[len("%YAML 1.2"):])


def _imported(rig: Any) -> str:
    for c in rig.cameras:
        finite(f"camera {c.name}", c.K, c.R, c.t, c.dist, c.image_size)
    finite("shared point", rig.centre_mm)
    return f"{len(rig.cameras)} cameras ({rig.format}, {rig.units}, up {rig.up})"


def _import_rig(path: Path) -> str:
    from poseboard.datasets.calibration import import_rig

    return _imported(import_rig(path))


# ------------------------------------------------------------------------ calibration seeds
def seed_opencv_yaml(folder: Path) -> list[Path]:
    """Human3.6M S9's cameras as OpenCV FileStorage YAML, written by cv2.FileStorage."""
    import cv2

    path = folder / "s9_cameras.yml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for c in h36m_cameras():
        fs.write(f"K_{c.name}", c.K)
        fs.write(f"dist_{c.name}", c.dist.reshape(1, 5))
        fs.write(f"R_{c.name}", c.R)
        fs.write(f"T_{c.name}", c.t.reshape(3, 1))
        fs.write(f"image_width_{c.name}", c.image_size[0])
        fs.write(f"image_height_{c.name}", c.image_size[1])
    fs.release()
    _as_opencv_3(path)
    return [path]


def seed_opencv_xml(folder: Path) -> list[Path]:
    """A stereo pair (``cv2.stereoCalibrate``'s K1/D1/K2/D2/R/T, rectification too) as OpenCV XML."""
    import cv2

    first, second = h36m_cameras()[:2]
    R = second.R @ first.R.T
    T = second.t - R @ first.t
    path = folder / "stereo.xml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for i, c in ((1, first), (2, second)):
        fs.write(f"K{i}", c.K)
        fs.write(f"D{i}", c.dist.reshape(1, 5))
    fs.write("R", R)
    fs.write("T", T.reshape(3, 1))
    fs.write("image_size", np.array([[1000, 1000]], dtype=np.float64))
    fs.write("R1", np.eye(3))
    fs.write("Q", np.eye(4))
    fs.release()
    return [path]


def seed_easymocap(folder: Path) -> list[Path]:
    """Shelf-like EasyMocap ``intri.yml`` + ``extri.yml`` (metres, R as Rodrigues and Rot as 3×3)."""
    import cv2

    cams = shelf_cameras()
    intri = cv2.FileStorage(str(folder / "intri.yml"), cv2.FILE_STORAGE_WRITE)
    extri = cv2.FileStorage(str(folder / "extri.yml"), cv2.FILE_STORAGE_WRITE)
    for fs in (intri, extri):
        fs.startWriteStruct("names", cv2.FileNode_SEQ)
        for c in cams:
            fs.write("", c.name)
        fs.endWriteStruct()
    for c in cams:
        R, t = _in_world(c, "+z", 1000.0)
        intri.write(f"K_{c.name}", c.K)
        intri.write(f"dist_{c.name}", c.dist.reshape(1, 5))
        extri.write(f"R_{c.name}", cv2.Rodrigues(R)[0])
        extri.write(f"Rot_{c.name}", R)
        extri.write(f"T_{c.name}", t.reshape(3, 1))
    intri.release()
    extri.release()
    for path in (folder / "intri.yml", folder / "extri.yml"):
        _as_opencv_3(path)
    return [folder / "intri.yml", folder / "extri.yml"]


def seed_anipose(folder: Path) -> list[Path]:
    """The Panoptic-like dome as aniposelib's ``calibration.toml`` (board in mm)."""
    from scipy.spatial.transform import Rotation

    lines = []
    for i, c in enumerate(dome_cameras()):
        rvec = Rotation.from_matrix(c.R).as_rotvec()
        lines += [f"[cam_{i}]", f'name = "{c.name}"', f"size = [ {c.image_size[0]}, {c.image_size[1]},]",
                  "matrix = [ " + ", ".join("[ " + ", ".join(repr(float(v)) for v in row) + ",]" for row in c.K) + ",]",
                  "distortions = [ " + ", ".join(repr(float(v)) for v in c.dist) + ",]",
                  "rotation = [ " + ", ".join(repr(float(v)) for v in rvec) + ",]",
                  "translation = [ " + ", ".join(repr(float(v)) for v in c.t) + ",]", ""]
    lines += ["[metadata]", "adjusted = false", "error = 0.42", ""]
    path = folder / "calibration.toml"
    path.write_text("\n".join(lines))
    return [path]


def seed_panoptic(folder: Path) -> list[Path]:
    """The dome as panoptic-toolbox's ``calibration_<seq>.json``: hd and vga cameras, cm, y down."""
    cameras = []
    for c in dome_cameras():
        R, t = _in_world(c, "-y", 10.0)
        cameras.append({"name": c.name, "type": "hd", "resolution": list(c.image_size), "panel": 0,
                        "node": int(c.name[-2:]), "K": c.K.tolist(), "distCoef": c.dist.tolist(),
                        "R": R.tolist(), "t": [[float(v)] for v in t]})
    for k in range(3):
        cameras.append({**cameras[k], "name": f"01_{k + 1:02d}", "type": "vga", "resolution": [640, 480]})
    path = folder / "calibration_171204_pose1.json"
    path.write_text(json.dumps({"calibDataSource": "171204_calib_norm", "cameras": cameras}, indent=1))
    return [path]


def seed_human36m(folder: Path) -> list[Path]:
    """Human3.6M's cameras as its published parameters (t: the camera centre, mm)."""
    out = {}
    for c in h36m_cameras():
        out[c.name] = {"R": c.R.tolist(), "t": c.center.tolist(), "f": [c.K[0, 0], c.K[1, 1]],
                       "c": [c.K[0, 2], c.K[1, 2]], "k": [c.dist[0], c.dist[1], c.dist[4]],
                       "p": [-0.0009, -0.0031], "image_size": list(c.image_size)}
    path = folder / "h36m_cameras.json"
    path.write_text(json.dumps({"cameras": out}, indent=1))
    return [path]


def seed_rig(folder: Path) -> list[Path]:
    """Human3.6M's cameras as a poseboard rig JSON (``poseboard rig import``'s output)."""
    from poseboard.camera import save_rig

    path = folder / "rig.json"
    save_rig(h36m_cameras(), path)
    return [path]


def read_rig(path: Path) -> str:
    from poseboard.camera import load_rig

    cams = load_rig(path)
    for c in cams:
        finite(f"camera {c.name}", c.K, c.R, c.t, c.dist, c.image_size)
    return f"{len(cams)} cameras"


# ------------------------------------------------------------------------ predictions and submissions
def _sample_ids(n: int) -> np.ndarray:
    actions = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases", "Sitting")
    return np.array([f"S9/{actions[i % len(actions)]}/{i // len(actions):03d}/{(i * 5) % 400:06d}"
                     for i in range(n)], dtype=str)


def _poses(n: int, seed: int = 80) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shift = np.concatenate([rng.uniform(-1500, 1500, (n, 1, 2)), np.zeros((n, 1, 1))], axis=2)
    return STANDING_MM + shift + rng.normal(scale=15.0, size=(n, 17, 3))


def seed_pose_predictions(folder: Path) -> list[Path]:
    """Pose predictions as ``poseboard predict`` writes them: 48 S9 frames, world mm."""
    from poseboard.protocols.predictions import PosePredictions, save_pose_predictions

    path = folder / "predictions.npz"
    save_pose_predictions(path, PosePredictions(sample_ids=_sample_ids(48), joints_3d=_poses(48)))
    return [path]


@functools.cache
def _ground_truth() -> tuple[Any, Any]:
    """(protocol, ground truth) the predictions seed is scored against: ``synth-h36m-relative``
    and the seed's 48 frames, in memory (no dataset is rendered)."""
    import pandas as pd

    from poseboard.protocols.predictions import PoseGroundTruth
    from poseboard.protocols.registry import get_protocol

    ids = _sample_ids(48)
    parts = [i.split("/") for i in ids]
    meta = pd.DataFrame({"sample_id": ids, "subject": [p[0] for p in parts], "action": [p[1] for p in parts],
                         "sequence": [p[1] + "/" + p[2] for p in parts], "frame": [int(p[3]) for p in parts]})
    return get_protocol("synth-h36m-relative"), PoseGroundTruth(meta=meta, joints_3d=_poses(48, seed=82),
                                                                data_hash="0" * 16)


def read_pose_predictions(path: Path) -> str:
    """What ``poseboard evaluate`` does before it writes: read, check the units, score."""
    from poseboard.protocols.evaluate import check_pose_millimetres, score_pose
    from poseboard.protocols.predictions import load_pose_predictions

    preds = load_pose_predictions(path)
    check_pose_millimetres(preds.joints_3d, path)
    finite("joints_3d", preds.joints_3d)
    if preds.joints_3d.shape != (len(preds.sample_ids), 17, 3):
        raise Unsound(f"joints_3d shape {preds.joints_3d.shape}")
    protocol, gt = _ground_truth()
    metrics = score_pose(protocol, gt, preds, where=str(path))
    finite_tree("metrics", metrics.model_dump())
    return f"{len(preds.sample_ids)} rows, {metrics.headline} = {metrics.headline_value:.1f}"


def seed_root_predictions(folder: Path) -> list[Path]:
    """Root predictions: one row per detected person of 24 MuPoTS-like images, camera mm."""
    from poseboard.protocols.predictions import RootPredictions, save_root_predictions

    rng = np.random.default_rng(81)
    n = 40
    ids = np.array([f"TS{1 + i % 20}/{i // 20:06d}" for i in range(n)], dtype=str)
    root = np.stack([rng.uniform(-1500, 1500, n), rng.uniform(-300, 600, n), rng.uniform(2500, 7000, n)], axis=1)
    path = folder / "root_predictions.npz"
    save_root_predictions(path, RootPredictions(sample_ids=ids, root=root, score=rng.uniform(0.2, 1.0, n),
                                                person_index=np.where(np.arange(n) % 7 == 6, -1, np.arange(n) % 3)))
    return [path]


def read_root_predictions(path: Path) -> str:
    from poseboard.protocols.evaluate import check_root_millimetres
    from poseboard.protocols.predictions import load_root_predictions

    preds = load_root_predictions(path)
    check_root_millimetres(preds.root, path)
    finite("root/score", preds.root, preds.score)
    return f"{len(preds.sample_ids)} rows"


CARD = {"title": "Better triangulation", "paper": 'Doe et al., "Better triangulation", arXiv:2601.00001 (2026)',
        "code_url": "https://github.com/doe/better-triangulation",
        "trained_on": "synth-h36m train split (poseboard default profile), 1,800 frames",
        "authors": "J. Doe, R. Roe", "description": "Algebraic triangulation with learnt confidences, 2 views min.",
        "machine": "AMD EPYC, 2 cores, CPU only"}


def seed_card(folder: Path) -> list[Path]:
    """A method card as ``poseboard submit --card`` takes it (docs/submitting.md)."""
    import yaml

    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(CARD, sort_keys=False, allow_unicode=True))
    return [path]


def read_card(path: Path) -> str:
    from poseboard.protocols.submission import load_card

    return f"card {load_card(path).title!r}"


def seed_result(folder: Path) -> list[Path]:
    """A submitted result as ``poseboard submit`` writes it: the predictions seed scored under
    ``synth-h36m-relative`` against the in-memory ground truth, the card carried in the file."""
    from poseboard.protocols.evaluate import build_result, score_pose
    from poseboard.protocols.predictions import PosePredictions
    from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, write_result
    from poseboard.protocols.submission import MethodCard, Submission

    protocol, gt = _ground_truth()
    ids = _sample_ids(48)
    result = build_result(protocol=protocol, method=MethodInfo(name="better-tri", config={}, capabilities=None),
                          dataset=DatasetInfo.of(protocol.dataset, protocol.split, gt),
                          metrics=score_pose(protocol, gt, PosePredictions(sample_ids=ids, joints_3d=_poses(48))),
                          sample_ids=ids, seeds={"bootstrap": protocol.bootstrap_seed},
                          speed=SpeedInfo(samples_per_s=None, ms_per_sample=None, batch_size=None, device=None))
    result.submission = Submission(card=MethodCard(**CARD), predictions_file="predictions.npz",
                                   predictions_sha256="ab" * 32, scored_on={"platform": "Linux", "cpu": "AMD EPYC",
                                                                            "torch_cpu_capability": "AVX2"})
    path = folder / f"{protocol.id}.json"
    write_result(result, path)
    return [path]


def read_result(path: Path) -> str:
    from poseboard.protocols.results import read_result as read

    result = read(path)
    finite_tree("result", result.model_dump())
    return f"{result.method.name}: {result.metrics.headline} = {result.metrics.headline_value:.2f}"


# ------------------------------------------------------------------------ motion
#: (name, parent, offset in cm) of a Mixamo-style skeleton, Y up (End Sites: the head's)
SKELETON: tuple[tuple[str, str | None, tuple[float, float, float]], ...] = (
    ("Hips", None, (0, 0, 0)), ("RightUpLeg", "Hips", (-9, 0, 0)), ("RightLeg", "RightUpLeg", (0, -42, 0)),
    ("RightFoot", "RightLeg", (0, -41, 0)), ("LeftUpLeg", "Hips", (9, 0, 0)), ("LeftLeg", "LeftUpLeg", (0, -42, 0)),
    ("LeftFoot", "LeftLeg", (0, -41, 0)), ("Spine", "Hips", (0, 12, 0)), ("Spine1", "Spine", (0, 14, 0)),
    ("Neck", "Spine1", (0, 24, 0)), ("Head", "Neck", (0, 10, 0)), ("RightShoulder", "Spine1", (-4, 20, 0)),
    ("RightArm", "RightShoulder", (-14, 0, 0)), ("RightForeArm", "RightArm", (-28, 0, 0)),
    ("RightHand", "RightForeArm", (-25, 0, 0)), ("LeftShoulder", "Spine1", (4, 20, 0)),
    ("LeftArm", "LeftShoulder", (14, 0, 0)), ("LeftForeArm", "LeftArm", (28, 0, 0)),
    ("LeftHand", "LeftForeArm", (25, 0, 0)),
)


def bvh_text(frames: int = 24, frame_time: float = 1 / 60) -> str:
    """A walking clip of :data:`SKELETON` (root: 6 channels, the rest ZXY rotations), in cm."""
    children: dict[str | None, list[tuple[str, tuple[float, float, float]]]] = {}
    for name, parent, offset in SKELETON:
        children.setdefault(parent, []).append((name, offset))
    lines = ["HIERARCHY"]

    def emit(name: str, offset: tuple[float, float, float], depth: int) -> None:
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.4f} {offset[1]:.4f} {offset[2]:.4f}")
        lines.append(f"{pad}\tCHANNELS {'6 Xposition Yposition Zposition ' if depth == 0 else '3 '}"
                     "Zrotation Xrotation Yrotation")
        for child, off in children.get(name, []):
            emit(child, off, depth + 1)
        if name == "Head":
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET 0.0000 19.0000 0.0000", pad + "\t}"])
        lines.append(pad + "}")

    emit("Hips", (0.0, 0.0, 0.0), 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {frame_time:.7f}"]
    swing = {"RightUpLeg": 1.0, "LeftUpLeg": -1.0, "RightArm": -0.6, "LeftArm": 0.6, "RightLeg": 0.5, "LeftLeg": -0.5}
    for k in range(frames):
        phase = math.sin(2 * math.pi * k / frames)
        row = [2.5 * k, 95.0 + 1.5 * abs(phase), 0.3 * k, 0.0, 2.0 * phase, 0.0]
        for name, _, _ in SKELETON[1:]:
            row += [0.0, 25.0 * swing.get(name, 0.0) * phase, 0.0]
        lines.append(" ".join(f"{v:.4f}" for v in row))
    return "\n".join(lines) + "\n"


def seed_bvh(folder: Path) -> list[Path]:
    path = folder / "walk.bvh"
    path.write_text(bvh_text())
    return [path]


def _motion_summary(data: bytes) -> str:
    import io

    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        poses = archive["poses"]
    finite("poses", poses)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3):
        raise Unsound(f"poses shape {poses.shape}")
    return f"{len(poses)} frames"


def read_bvh(path: Path) -> str:
    from poseboard.datasets.mocap.convert import import_motion

    data, _ = import_motion(path)
    return _motion_summary(data)


def seed_motion(folder: Path) -> list[Path]:
    """poseboard's motion ``.npz``: two sequences of a walk, mm, Z up, with their labels."""
    n = 40
    poses = np.stack([STANDING_MM + [12.0 * k, 3.0 * math.sin(k / 4), 0.0] for k in range(n)])
    path = folder / "motion.npz"
    np.savez(path, poses=poses, fps=np.array(50.0), action=np.array(["Walking"] * n),
             sequence=np.array(["walk/000"] * 20 + ["walk/001"] * 20), subject=np.array(["user"] * n))
    return [path]


def read_motion(path: Path) -> str:
    from poseboard.datasets.synthetic.user_motion import load_user_motion

    sequences = load_user_motion(path)
    for s in sequences:
        finite(f"sequence {getattr(s, 'name', '?')}", *(v for v in vars(s).values() if isinstance(v, np.ndarray)))
    return f"{len(sequences)} sequences"


def seed_library(folder: Path) -> list[Path]:
    """The real-people stage's motion library (``data/motion/bandai.npz``, format 2): three
    Bandai Namco clips, int16 mm, labelled with dataset, style, take and role."""
    from poseboard.datasets.mocap.library_file import library_npz_bytes

    lengths = (30, 22, 26)
    poses = np.concatenate([np.stack([STANDING_MM + [8.0 * k, 0.0, 0.0] for k in range(n)]) for n in lengths])
    stems = ["dataset-1_walk_normal_001", "dataset-2_run_elderly_012", "dataset-1_kick_happy_003"]
    arrays = {"poses": np.round(poses).astype(np.int16),
              "clip_start": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
              "clip": np.array(stems), "trial": np.array(stems),
              "subject": np.array(["bandai-1", "bandai-2", "bandai-1"]), "category": np.array(["walk", "run", "kick"]),
              "fps": np.array(25.0), "dataset": np.array(["1", "2", "1"]),
              "style": np.array(["normal", "elderly", "happy"]), "take": np.array(["001", "012", "003"]),
              "role": np.array(["train", "novel-style", "test-take"])}
    path = folder / "bandai.npz"
    path.write_bytes(library_npz_bytes(arrays))
    return [path]


def read_library(path: Path) -> str:
    from poseboard.datasets.mocap.library_file import load_library

    library = load_library(path)
    finite("library", library.poses, library.clip_start, library.fps)
    return f"{len(library)} clips"


def seed_joint_map(folder: Path) -> list[Path]:
    """A ``--joint-map`` YAML for a Poser-named skeleton."""
    path = folder / "joint_map.yaml"
    path.write_text("RAnkle: rFoot\nRKnee: rShin\nRHip: rThigh\nLHip: lThigh\nLKnee: lShin\nLAnkle: lFoot\n"
                    "Pelvis: hip\nSpine: abdomen\nThorax: neck\nHead: head_End\nRWrist: rHand\nRElbow: rForeArm\n"
                    "RShoulder: rShldr\nLShoulder: lShldr\nLElbow: lForeArm\nLWrist: lHand\nNeck: head\n")
    return [path]


def read_joint_map(path: Path) -> str:
    from poseboard.datasets.mocap.joint_map import read_joint_map as read

    return f"{len(read(path))} joints mapped"


def seed_categories(folder: Path) -> list[Path]:
    """A ``--categories`` CSV for ``poseboard motion library``."""
    path = folder / "categories.csv"
    rows = ["clip,category", "01_03,walk", "09_01,run", "16_15,walk", "35_22,jump", "86_02, dance"]
    path.write_text("\n".join(rows) + "\n")
    return [path]


def read_categories(path: Path) -> str:
    from poseboard.datasets.mocap.library import read_categories as read

    return f"{len(read(path))} clips"


# ------------------------------------------------------------------------ configuration
def seed_params(folder: Path) -> list[Path]:
    """The repository's ``params.yaml`` (the file a user edits to add a method)."""
    source = Path(__file__).resolve().parents[2] / "params.yaml"
    path = folder / "params.yaml"
    path.write_bytes(source.read_bytes())
    return [path]


def read_params(path: Path) -> str:
    from poseboard.errors import InputError
    from poseboard.params import check_params, load_params

    params = load_params(path)
    problems = check_params(params, deep=False, where=str(path))
    if problems:
        raise InputError("\n".join(problems))
    finite_tree("params", params.model_dump())
    return f"{len(params.methods)} methods, {len(params.evaluations)} evaluations"


def seed_protocol(folder: Path) -> list[Path]:
    """A user's protocol definition (``POSEBOARD_PROTOCOLS_DIR``): the built-in relative one, renamed."""
    from poseboard.protocols.registry import DEFINITIONS_DIR

    text = (DEFINITIONS_DIR / "synth-h36m-relative.yaml").read_text()
    path = folder / "my-protocol.yaml"
    path.write_text(text.replace("name: synth-h36m-relative", "name: my-protocol", 1))
    return [path]


def read_protocol(path: Path) -> str:
    from poseboard.protocols.registry import load_protocol_file

    protocol = load_protocol_file(path)
    finite_tree("protocol", protocol.model_dump())
    return protocol.id


READERS: dict[str, Reader] = {r.name: r for r in (
    Reader("predictions", "pose predictions .npz (`poseboard evaluate -p`, `poseboard submit`)",
           seed_pose_predictions, read_pose_predictions),
    Reader("root-predictions", "root predictions .npz (`poseboard evaluate -p` of a root protocol)",
           seed_root_predictions, read_root_predictions),
    Reader("method-card", "method card YAML (`poseboard submit --card`)", seed_card, read_card),
    Reader("submitted-result", "a submitted result JSON (`poseboard report`, `compare`)", seed_result, read_result),
    Reader("opencv-yaml", "Human3.6M S9 cameras as OpenCV FileStorage YAML (`poseboard rig import`)",
           seed_opencv_yaml, _import_rig),
    Reader("opencv-xml", "a stereo pair as OpenCV FileStorage XML (`poseboard rig import`)",
           seed_opencv_xml, _import_rig),
    Reader("easymocap", "Shelf-like EasyMocap intri.yml + extri.yml (`poseboard rig import`)",
           seed_easymocap, _import_rig),
    Reader("anipose", "a Panoptic-like dome as anipose calibration.toml (`poseboard rig import`)",
           seed_anipose, _import_rig),
    Reader("panoptic", "the dome as Panoptic calibration JSON (`poseboard rig import`)", seed_panoptic, _import_rig),
    Reader("human36m", "Human3.6M-style camera JSON (`poseboard rig import`)", seed_human36m, _import_rig),
    Reader("rig-json", "a poseboard rig JSON (`poseboard studio`, `generate --rig`)", seed_rig, read_rig),
    Reader("bvh", "a BVH clip (`poseboard motion import`)", seed_bvh, read_bvh),
    Reader("motion-npz", "poseboard's motion .npz (`poseboard generate --motion`, `motion import`)",
           seed_motion, read_motion),
    Reader("motion-library", "the real-people stage's motion library .npz (`generate`'s real motion)", seed_library,
           read_library),
    Reader("joint-map", "a joint map YAML (`poseboard motion import --joint-map`)", seed_joint_map, read_joint_map),
    Reader("categories", "a categories CSV (`poseboard motion library --categories`)", seed_categories,
           read_categories),
    Reader("params", "params.yaml (`poseboard params check`, every stage)", seed_params, read_params),
    Reader("protocol", "a user's protocol YAML (POSEBOARD_PROTOCOLS_DIR)", seed_protocol, read_protocol),
)}
