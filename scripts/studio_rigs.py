"""The three demonstration rigs of docs/studio.md, each written in a format people have:

* ``room4.json``: a 4-camera room (poseboard rig JSON): wall-mounted 1920×1080 cameras at
  2.2-2.5 m in the corners of a 6 × 5 m room whose corner is the world origin, wide lenses
  (f ≈ 1000-1150 px, barrel distortion, one camera with 0.3 % non-square pixels);
* ``room5.json``: the same room with a fifth camera over the door (the speed measurement);
* ``dome8.toml``: an 8-camera dome (aniposelib's ``calibration.toml``, millimetres): a ring of
  radius 3.4 m at alternating heights of 1.1 and 2.7 m, 2048×1536, f ≈ 1500-1700 px, the world
  origin at the calibration board on the floor 0.8 m from the dome's centre;
* ``stereo2.yml``: a 2-camera stereo pair (OpenCV ``FileStorage`` YAML written by ``cv2``, the
  multi-camera layout ``K_<cam>``, ``dist_<cam>``, ``R_<cam>``, ``T_<cam>``, ``image_size_<cam>``,
  millimetres, z up): 1280×720, f 1000 px, 600 mm baseline at 1.6 m, each camera toed in 6°,
  looking at a point 3.5 m ahead.

Run: ``.venv/bin/python scripts/studio_rigs.py docs/studio/rigs`` (deterministic: the same bytes).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from poseboard.camera import Camera, save_rig


def room4() -> list[Camera]:
    centre = np.array([3000.0, 2500.0, 900.0])
    corners = [(250.0, 250.0, 2450.0), (5750.0, 300.0, 2300.0), (5700.0, 4750.0, 2500.0), (300.0, 4700.0, 2200.0)]
    focals = [1000.0, 1150.0, 1080.0, 1020.0]
    cams = []
    for i, (eye, f) in enumerate(zip(corners, focals, strict=True)):
        cam = Camera.look_at(eye, centre + [60.0 * i - 90, 40.0 - 30 * i, 0.0], f, (1920, 1080),
                             dist=[-0.21 + 0.01 * i, 0.07, 0.0004, -0.0003, -0.01], name=f"corner{i}")
        K = cam.K.copy()
        if i == 2:
            K[1, 1] *= 1.003  # non-square pixels
        K[0, 2] += 7.0 - 4 * i
        K[1, 2] -= 3.0 + i
        cams.append(Camera(K=K, R=cam.R, t=cam.t, dist=cam.dist, image_size=cam.image_size, name=cam.name))
    return cams


def room5() -> list[Camera]:
    """The room with a fifth camera over the door (the speed measurement's 5-camera split)."""
    door = Camera.look_at([3000.0, 150.0, 2600.0], [3000.0, 2500.0, 900.0], 950.0, (1920, 1080),
                          dist=[-0.18, 0.05, 0.0, 0.0, -0.01], name="door")
    return [*room4(), door]


def dome8() -> list[Camera]:
    centre = np.array([800.0, 0.0, 0.0])  # the board, the world origin, lies 0.8 m from the centre
    cams = []
    for i in range(8):
        a = 2 * math.pi * i / 8 + 0.2
        height = 1100.0 if i % 2 == 0 else 2700.0
        eye = centre + [3400.0 * math.cos(a), 3400.0 * math.sin(a), height]
        f = 1500.0 + 25.0 * i
        cams.append(Camera.look_at(eye, centre + [0.0, 0.0, 950.0], f, (2048, 1536),
                                   dist=[-0.08, 0.02, 0.0, 0.0, 0.0], name=f"dome{i}"))
    return cams


def stereo2() -> list[Camera]:
    ahead = np.array([0.0, 3500.0, 1000.0])
    cams = []
    for i, x in enumerate((-300.0, 300.0)):
        eye = np.array([x, 0.0, 1600.0])
        toe = math.tan(math.radians(6.0)) * 3500.0 * (1 if x < 0 else -1)  # toed in 6° towards the middle
        target = np.array([x + toe, ahead[1], ahead[2]])
        cams.append(Camera.look_at(eye, target, 1000.0, (1280, 720), dist=[-0.05, 0.01, 0.0, 0.0, 0.0],
                                   name=f"stereo{i}"))
    return cams


def write_anipose(cams: list[Camera], path: Path) -> None:
    import cv2

    lines = []
    for i, c in enumerate(cams):
        rvec = cv2.Rodrigues(c.R)[0].reshape(-1)
        lines += [f"[cam_{i}]", f'name = "{c.name}"', f"size = [{c.image_size[0]}, {c.image_size[1]}]",
                  "matrix = [" + ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in c.K) + "]",
                  "distortions = [" + ", ".join(repr(float(v)) for v in c.dist) + "]",
                  "rotation = [" + ", ".join(repr(float(v)) for v in rvec) + "]",
                  "translation = [" + ", ".join(repr(float(v)) for v in c.t) + "]", ""]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    path.write_text("\n".join(lines))


def write_opencv(cams: list[Camera], path: Path) -> None:
    import cv2

    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for c in cams:
        fs.write(f"K_{c.name}", c.K)
        fs.write(f"dist_{c.name}", c.dist.reshape(1, 5))
        fs.write(f"R_{c.name}", c.R)
        fs.write(f"T_{c.name}", c.t.reshape(3, 1))
        fs.write(f"image_size_{c.name}", np.array([c.image_size], dtype=np.float64))
    fs.release()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_rig(room4(), out / "room4.json")
    save_rig(room5(), out / "room5.json")
    write_anipose(dome8(), out / "dome8.toml")
    write_opencv(stereo2(), out / "stereo2.yml")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/studio/rigs"))
