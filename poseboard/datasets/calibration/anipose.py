"""anipose / aniposelib ``calibration.toml``, read with :mod:`tomllib`.

aniposelib's ``CameraGroup.dump`` writes one table per camera and a ``[metadata]`` table::

    [cam_0]
    name = "A"
    size = [1920, 1080]                  # width, height (pixels)
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]   # OpenCV's model
    rotation = [rx, ry, rz]              # Rodrigues vector, world → camera
    translation = [tx, ty, tz]           # x_cam = R X + t, in the board's units

Units are those of the board's square length (``--units``, or detected from the rig's size);
the world is the board's frame at calibration time (anipose's triangulation may rotate it;
the up axis is detected unless stated). Fisheye cameras (``fisheye = true``) are refused:
poseboard models OpenCV's pinhole distortion only.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from poseboard.datasets.calibration.common import SourceRig, fail, source_camera

REQUIRED = ("name", "size", "matrix", "distortions", "rotation", "translation")


def read(path: Path) -> SourceRig:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(path, None, f"cannot read the file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise fail(path, None, f"not valid TOML ({exc})", "is the file complete?") from None
    tables = {k: v for k, v in data.items() if k != "metadata" and isinstance(v, dict)}
    if not tables:
        raise fail(path, None, "no camera table ([cam_0], [cam_1], …)", "expected aniposelib's calibration.toml")
    cams = []
    for key, table in tables.items():
        name = str(table.get("name", key))
        missing = [f for f in REQUIRED if f not in table]
        if missing:
            raise fail(path, name, f"[{key}] lacks {missing}", f"aniposelib writes {list(REQUIRED)}")
        if table.get("fisheye"):
            raise fail(path, name, f"[{key}] is a fisheye camera, which poseboard does not model",
                       "calibrate it with aniposelib's pinhole Camera")
        cams.append(source_camera(path, name, table["matrix"], table["distortions"], table["rotation"],
                                  table["translation"], table["size"], rvec=True, k_name=f"{key}.matrix",
                                  dist_name=f"{key}.distortions", r_name=f"{key}.rotation",
                                  t_name=f"{key}.translation", size_name=f"{key}.size"))
    return SourceRig("anipose", path, cams)
