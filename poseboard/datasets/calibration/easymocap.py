"""EasyMocap ``intri.yml`` + ``extri.yml`` (OpenCV FileStorage, read with ``cv2.FileStorage``).

``intri.yml``: ``names`` (the camera names, a sequence of strings), ``K_<cam>`` (3×3),
``dist_<cam>`` (1×5, OpenCV's model) and, where EasyMocap wrote them, ``H_<cam>``/``W_<cam>``
(image height, width). ``extri.yml``: ``names``, ``R_<cam>`` (3×1 Rodrigues vector) and/or
``Rot_<cam>`` (3×3; used when both are there), ``T_<cam>`` (3×1): ``x_cam = R X + T`` in
**metres** (EasyMocap's documented unit). Give either file or their folder; the other is
found beside it. The world is the calibration board's (on the floor: z = 0 is the floor when
the up axis is ±z); the up axis is detected unless stated.

Without ``H_``/``W_`` the image size is taken as ``2 · (cx, cy) + 1`` rounded (the principal
point at the image centre), with a note saying so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poseboard.datasets.calibration.common import (
    SourceRig,
    as_dist,
    as_matrix,
    check_intrinsics,
    check_size,
    fail,
    source_camera,
)
from poseboard.datasets.calibration.opencv import read_filestorage


def files(path: Path) -> tuple[Path, Path]:
    """(intri.yml, extri.yml) from either file or their folder."""
    folder = path if path.is_dir() else path.parent
    intri, extri = folder / "intri.yml", folder / "extri.yml"
    for f in (intri, extri):
        if not f.is_file():
            raise fail(path, None, f"EasyMocap calibration needs intri.yml and extri.yml side by side; {f} is missing",
                       "put both files in one folder")
    return intri, extri


def _names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise fail(path, None, "missing or malformed 'names' (a sequence of camera names)",
                   "EasyMocap writes names: [\"01\", \"02\", …] at the top of intri.yml and extri.yml")
    return names


def _size_from_principal_point(K: np.ndarray) -> list[int]:
    """``2 · (cx, cy) + 1`` rounded, from a checked 3×3 ``K`` (finite, within
    :data:`~poseboard.datasets.calibration.common.MAX_INTRINSIC_PX`)."""
    return [round(float(2 * v + 1)) for v in K[:2, 2]]


def read(path: Path) -> SourceRig:
    intri_path, extri_path = files(path)
    intri, extri = read_filestorage(intri_path), read_filestorage(extri_path)
    names = _names(intri, intri_path)
    extra = sorted(set(_names(extri, extri_path)) - set(names))
    if extra:
        raise fail(extri_path, extra[0], "is in extri.yml but not in intri.yml", "calibrate its intrinsics too")
    cams, guessed = [], []
    for name in names:
        K = intri.get(f"K_{name}")
        if K is None:
            raise fail(intri_path, name, f"missing K_{name}", "add the 3×3 intrinsic matrix")
        # the intrinsics are intri.yml's: checked here, so that a refusal names that file
        Km = as_matrix(K, (3, 3), intri_path, name, f"K_{name}")
        check_intrinsics(Km, intri_path, name, f"K_{name}")
        dist = as_dist(intri.get(f"dist_{name}"), intri_path, name, f"dist_{name}")
        if f"H_{name}" in intri and f"W_{name}" in intri:
            size = check_size([intri[f"W_{name}"], intri[f"H_{name}"]], intri_path, name, f"W_{name}/H_{name}")
        else:
            size = check_size(_size_from_principal_point(Km), intri_path, name, f"2·(cx, cy) + 1 of K_{name}")
            guessed.append(name)
        if f"Rot_{name}" in extri:
            R, r_key, rvec = extri[f"Rot_{name}"], f"Rot_{name}", False
        elif f"R_{name}" in extri:
            R, r_key, rvec = extri[f"R_{name}"], f"R_{name}", True
        else:
            raise fail(extri_path, name, f"missing R_{name} (Rodrigues) and Rot_{name} (3×3)",
                       "add the world → camera rotation")
        if f"T_{name}" not in extri:
            raise fail(extri_path, name, f"missing T_{name}", "add the world → camera translation in metres")
        cams.append(source_camera(extri_path, name, Km, dist, R, extri[f"T_{name}"], size, rvec=rvec,
                                  k_name=f"K_{name}", dist_name=f"dist_{name}", r_name=r_key, t_name=f"T_{name}",
                                  size_name=f"W_{name}/H_{name}"))
    notes = []
    if guessed:
        sizes = ", ".join(f"{c.name} {c.image_size[0]}×{c.image_size[1]}" for c in cams if c.name in guessed)
        notes.append(f"{intri_path}: no H_/W_ for {guessed}: image size taken as 2·(cx, cy) + 1 ({sizes}); "
                     f"add H_<cam> and W_<cam> if your images differ")
    return SourceRig("easymocap", intri_path, cams, units="m", notes=notes)
