"""Miniature real datasets written in their exact published layouts (tiny JPEGs, few frames).

Used by ``test_human36m.py``, ``test_panoptic.py``, ``test_mupots.py`` and
``test_real_config.py``. Every writer returns what it wrote, so tests compare the loaders'
output with the truth rather than with themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from poseboard.camera import Camera
from poseboard.skeleton import convert_joints

# A standing person, H36M17 order, world mm, Z up, facing +y.
TEMPLATE_H36M17 = np.array([
    [-100, 0, 80], [-100, 0, 500], [-120, 0, 950], [120, 0, 950], [100, 0, 500], [100, 0, 80],
    [0, 0, 950], [0, 0, 1200], [0, 0, 1450], [0, 0, 1750], [-450, 0, 1000], [-350, 0, 1200],
    [-200, 0, 1450], [200, 0, 1450], [350, 0, 1200], [450, 0, 1000], [0, 30, 1600],
], dtype=np.float64)


def write_jpeg(path: Path, size: tuple[int, int], blobs: list[tuple[float, float]], colour=(40, 60, 90)) -> None:
    """A dark image with a bright 7×7 square centred on each (u, v) pixel."""
    w, h = size
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[...] = colour
    for u, v in blobs:
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        iu, iv = round(u), round(v)
        img[max(iv - 3, 0):max(iv + 4, 0), max(iu - 3, 0):max(iu + 4, 0)] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=95)


# ----------------------------------------------------------------------------- Human3.6M
H36M_CAMERAS = ["54138969", "55011271", "58860488", "60457274"]
H36M_SIZE = (64, 64)


def h36m_cameras(subject: int) -> list[Camera]:
    """Four cameras around the origin, scaled to 64×64 images (f ≈ 1145 × 0.064)."""
    cams = []
    for i, (x, y) in enumerate([(3500, 3500), (-3500, 3500), (-3500, -3500), (3500, -3500)]):
        cams.append(Camera.look_at(eye=[x + 10 * subject, y, 1500 + 100 * i], target=[0, 0, 900],
                                   focal=73.3 + i, image_size=H36M_SIZE,
                                   dist=[-0.2, 0.24, 0.001, -0.001, 0.0], name=H36M_CAMERAS[i]))
    return cams


def square_the_bbox(tlbr):
    """learnable triangulation's ``square_the_bbox`` (TLBR in, TLBR out)."""
    top, left, bottom, right = tlbr
    width, height = right - left, bottom - top
    if height < width:
        center = (top + bottom) * 0.5
        top = round(center - width * 0.5)
        bottom = top + width
    else:
        center = (left + right) * 0.5
        left = round(center - height * 0.5)
        right = left + height
    return top, left, bottom, right


H36M_ROWS = [  # subject, action, frame indices
    ("S1", "Walking-1", [0, 64]),
    ("S9", "Greeting-2", [0, 64]),
    ("S9", "Walking-1", [0, 64]),
    ("S9", "Walking-2", [128]),
    ("S11", "Directions-2", [0, 64]),
]


def h36m_labels(keypoint_scale: float = 1.0) -> dict:
    """The label dict exactly as ``generate-labels-npy-multiview.py`` builds it."""
    subjects = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
    actions = ["Directions-2", "Greeting-2", "Walking-1", "Walking-2"]
    labels = {"subject_names": subjects, "camera_names": list(H36M_CAMERAS), "action_names": actions}
    labels["cameras"] = np.empty((len(subjects), 4), dtype=[
        ("R", np.float32, (3, 3)), ("t", np.float32, (3, 1)), ("K", np.float32, (3, 3)), ("dist", np.float32, 5)])
    for s in range(len(subjects)):
        for c, cam in enumerate(h36m_cameras(s)):
            labels["cameras"][s, c]["R"] = cam.R
            labels["cameras"][s, c]["t"] = cam.t[:, None]
            labels["cameras"][s, c]["K"] = cam.K
            labels["cameras"][s, c]["dist"] = cam.dist
    table_dtype = np.dtype([("subject_idx", np.int8), ("action_idx", np.int8), ("frame_idx", np.int16),
                            ("keypoints", np.float32, (17, 3)), ("bbox_by_camera_tlbr", np.int16, (4, 4))])
    rows = []
    for subject, action, frames in H36M_ROWS:
        s = subjects.index(subject)
        cams = h36m_cameras(s)
        for f in frames:
            row = np.zeros((), dtype=table_dtype)
            row["subject_idx"], row["action_idx"], row["frame_idx"] = s, actions.index(action), f
            pose = TEMPLATE_H36M17 + [f * 1.5, -f, 0]
            row["keypoints"] = pose * keypoint_scale
            for c, cam in enumerate(cams):
                if subject == "S11" and action == "Directions-2" and c == 0:
                    continue  # the missing view: zero box
                uv = cam.project(pose, distort=False)
                lo, hi = np.floor(uv.min(0)) - 3, np.ceil(uv.max(0)) + 3
                row["bbox_by_camera_tlbr"][c] = square_the_bbox((int(lo[1]), int(lo[0]), int(hi[1]), int(hi[0])))
            rows.append(row)
    labels["table"] = np.stack(rows)
    return labels


def write_h36m(root: Path, *, labels: dict | None = None, images: bool = True) -> dict:
    """``root/extra/human36m-multiview-labels-GTbboxes.npy`` (pickled dict, np.save) and
    ``root/processed/<S>/<Action-trial>/imageSequence-undistorted/<camera>/img_%06d.jpg``."""
    labels = labels if labels is not None else h36m_labels()
    (root / "extra").mkdir(parents=True, exist_ok=True)
    np.save(root / "extra" / "human36m-multiview-labels-GTbboxes.npy", labels)
    if images:
        for row in labels["table"]:
            subject = labels["subject_names"][row["subject_idx"]]
            action = labels["action_names"][row["action_idx"]]
            cams = h36m_cameras(int(row["subject_idx"]))
            for c, cam in enumerate(cams):
                if not row["bbox_by_camera_tlbr"][c].any():
                    continue  # no video for a missing view
                uv = cam.project(row["keypoints"].astype(np.float64), distort=False)[6]
                path = (root / "processed" / subject / action / "imageSequence-undistorted" / cam.name
                        / f"img_{int(row['frame_idx']) + 1:06d}.jpg")
                write_jpeg(path, H36M_SIZE, [tuple(uv)])
    return labels


# ----------------------------------------------------------------------------- CMU Panoptic
#: Rotation Z-up world → Panoptic Y-down world is Wᵀ with W = (x, y, z) → (x, z, −y).
W_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
PANOPTIC_HD = ["00_01", "00_03", "00_06", "00_12", "00_13", "00_23"]
PANOPTIC_SIZE = (64, 48)


def panoptic_cameras_zup() -> list[Camera]:
    """Six HD cameras on a ~2.8 m dome (Z-up mm), images 64 × 48 (f ≈ 1400 × 64 / 1920)."""
    cams = []
    for i, name in enumerate(PANOPTIC_HD):
        a = 2 * np.pi * i / len(PANOPTIC_HD) + 0.3
        eye = [2800 * np.cos(a), 2800 * np.sin(a), 900 + 300 * (i % 3)]
        cams.append(Camera.look_at(eye=eye, target=[0, 0, 950], focal=40.0 + i, image_size=PANOPTIC_SIZE,
                                   dist=[-0.05, 0.01, 0.0005, -0.0003, 0.0], name=name))
    return cams


def coco19_pose_zup(offset) -> np.ndarray:
    """(19, 3) COCO19 joints in Z-up world mm."""
    t = TEMPLATE_H36M17
    j = np.zeros((19, 3))
    j[0] = t[8]  # Neck
    j[1] = [0, 60, 1600]  # Nose
    j[2] = t[6]  # BodyCenter
    j[3], j[4], j[5] = t[13], t[14], t[15]  # left arm
    j[6], j[7], j[8] = t[3], t[4], t[5]  # left leg
    j[9], j[10], j[11] = t[12], t[11], t[10]  # right arm
    j[12], j[13], j[14] = t[2], t[1], t[0]  # right leg
    j[15], j[16], j[17], j[18] = [30, 70, 1650], [70, 0, 1630], [-30, 70, 1650], [-70, 0, 1630]
    return j + np.asarray(offset, dtype=np.float64)


def to_panoptic_cm(points_zup_mm: np.ndarray) -> np.ndarray:
    return (points_zup_mm @ W_ZUP) / 10.0  # X_pan = Wᵀ X  (row vectors: X @ W)


def toolbox_project(point_cm: np.ndarray, cam: dict) -> np.ndarray:
    """panoptic-toolbox ``projectPoints`` (OpenCV model) on one point in the file's cm world."""
    R, t, K, d = (np.asarray(cam[k], dtype=np.float64) for k in ("R", "t", "K", "distCoef"))
    x = R @ point_cm + t.reshape(3)
    x, y = x[0] / x[2], x[1] / x[2]
    r2 = x * x + y * y
    radial = 1 + d[0] * r2 + d[1] * r2 * r2 + d[4] * r2 ** 3
    xd = x * radial + 2 * d[2] * x * y + d[3] * (r2 + 2 * x * x)
    yd = y * radial + d[2] * (r2 + 2 * y * y) + 2 * d[3] * x * y
    return np.array([K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]])


def write_panoptic(root: Path, *, joint_scale: float = 1.0, t_scale: float = 1.0) -> dict:
    """``<seq>/calibration_<seq>.json``, ``<seq>/hdPose3d_stage1_coco19/body3DScene_%08d.json`` and
    ``<seq>/hdImgs/<cam>/<cam>_%08d.jpg`` for one single-person sequence (3 frames, the last with a
    low-confidence left ankle) and one two-person sequence."""
    cams = panoptic_cameras_zup()
    calib_cams = []
    for cam in cams:
        R_pan = cam.R @ W_ZUP  # x_cam = R X_zup + t = R W X_pan + t
        calib_cams.append({"name": cam.name, "type": "hd", "resolution": list(PANOPTIC_SIZE), "panel": 0,
                           "node": int(cam.name[3:]), "K": cam.K.tolist(), "distCoef": cam.dist.tolist(),
                           "R": R_pan.tolist(), "t": (cam.t[:, None] / 10.0 * t_scale).tolist()})
    extra = [{"name": "01_01", "type": "vga", "resolution": [640, 480], "panel": 1, "node": 1,
              "K": [[30, 0, 32], [0, 30, 24], [0, 0, 1]], "distCoef": [0, 0, 0, 0, 0],
              "R": np.eye(3).tolist(), "t": [[0], [0], [300]]},
             {"name": "50_01", "type": "kinect-color", "resolution": [1920, 1080], "panel": 50, "node": 1,
              "K": [[30, 0, 32], [0, 30, 24], [0, 0, 1]], "distCoef": [0, 0, 0, 0, 0],
              "R": np.eye(3).tolist(), "t": [[0], [0], [300]]}]
    truth: dict = {"frames": {}, "calibration": calib_cams}
    for seq, people, frames in (("171204_pose1", 1, [100, 101, 102]), ("160422_haggling1", 2, [5, 6])):
        folder = root / seq
        folder.mkdir(parents=True)
        (folder / f"calibration_{seq}.json").write_text(json.dumps({"calibDataSource": seq,
                                                                    "cameras": calib_cams + extra}))
        for k, f in enumerate(frames):
            bodies = []
            for p in range(people):
                pose = coco19_pose_zup([20.0 * k + 600 * p, -10.0 * k, 0])
                conf = np.full(19, 0.8)
                if seq == "171204_pose1" and k == 2:
                    conf[8] = 0.05  # lAnkle barely reconstructed
                pan = to_panoptic_cm(pose) * joint_scale
                bodies.append({"id": p, "joints19": np.concatenate([pan, conf[:, None]], 1).reshape(-1).tolist()})
                if seq == "171204_pose1":
                    truth["frames"][f] = (pose, conf)
            doc = {"version": 0.7, "univTime": 1000.0 + f, "fpsType": "hd_29_97", "vgaVideoTime": 0.0,
                   "bodies": bodies}
            pose_dir = folder / "hdPose3d_stage1_coco19"
            pose_dir.mkdir(exist_ok=True)
            (pose_dir / f"body3DScene_{f:08d}.json").write_text(json.dumps(doc))
            for cam_rec, cam in zip(calib_cams, cams, strict=True):
                centre = to_panoptic_cm(coco19_pose_zup([20.0 * k, -10.0 * k, 0]))[2]
                uv = toolbox_project(centre, cam_rec)
                write_jpeg(folder / "hdImgs" / cam.name / f"{cam.name}_{f:08d}.jpg", PANOPTIC_SIZE, [tuple(uv)])
    return truth


# ----------------------------------------------------------------------------- MuPoTS-3D
MUPOTS_SIZE = (64, 64)
MUPOTS_INTRINSIC = [60.0, 61.0, 32.0, 31.0]


def mupots_person_cam(lateral: float, depth: float) -> np.ndarray:
    """(17, 3) MuPoTS-order joints in camera mm (y down, z forward), camera 1 m high."""
    t = TEMPLATE_H36M17
    cam = np.stack([t[:, 0] + lateral, 1000.0 - t[:, 2], depth + t[:, 1]], axis=-1)
    return convert_joints(cam, "h36m17", "mupots")


def mupots_project(kc: np.ndarray) -> np.ndarray:
    fx, fy, cx, cy = MUPOTS_INTRINSIC
    return np.stack([fx * kc[:, 0] / kc[:, 2] + cx, fy * kc[:, 1] / kc[:, 2] + cy], axis=-1)


def write_mupots(root: Path, *, keypoint_scale: float = 1.0) -> dict:
    """``root/MuPoTS-3D.json``, ``root/MultiPersonTestSet/TS<k>/img_%06d.jpg`` and
    ``root/bbox_mupots_output.json`` (DetectNet-like boxes with scores)."""
    images, annotations, detections = [], [], []
    layout = [("TS1/img_000000.jpg", [(-500, 3000, 1), (600, 4000, 1)]),
              ("TS1/img_000001.jpg", [(-450, 3100, 1), (650, 4100, 1)]),
              ("TS2/img_000000.jpg", [(0, 3500, 1), (900, 6000, 0)])]
    ann_id = 0
    for image_id, (file_name, people) in enumerate(layout):
        images.append({"id": image_id, "file_name": file_name, "width": MUPOTS_SIZE[0], "height": MUPOTS_SIZE[1],
                       "intrinsic": MUPOTS_INTRINSIC})
        blobs = []
        for lateral, depth, valid in people:
            kc = mupots_person_cam(lateral, depth)
            ki = mupots_project(kc)
            lo, hi = ki.min(0) - 2, ki.max(0) + 2
            bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
            vis = np.ones(17)
            vis[0] = 0  # head top hidden
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                                "bbox": bbox, "keypoints_cam": (kc * keypoint_scale).tolist(),
                                "keypoints_img": ki.tolist(), "keypoints_vis": vis.tolist(), "is_valid": valid})
            detections.append({"image_id": image_id, "category_id": 1, "bbox": [b + 0.5 for b in bbox],
                               "score": 0.9 - 0.1 * len(detections) % 0.5})
            blobs.append(tuple(ki[14]))
            ann_id += 1
        write_jpeg(root / "MultiPersonTestSet" / file_name, MUPOTS_SIZE, blobs)
    data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    (root / "MuPoTS-3D.json").write_text(json.dumps(data))
    (root / "bbox_mupots_output.json").write_text(json.dumps(detections))
    return data
