"""OpenCV ``FileStorage`` calibrations (YAML or XML), read with ``cv2.FileStorage``.

Three layouts, told apart by their keys (aliases in :data:`ALIASES`):

* **multi-camera**, one suffix per camera: ``K_<cam>`` (or ``camera_matrix_<cam>``,
  ``cameraMatrix<cam>``, …), ``dist_<cam>``/``D_<cam>``/``distortion_coefficients_<cam>``,
  ``R_<cam>`` (3×3) or ``rvec_<cam>`` (Rodrigues), ``T_<cam>``/``tvec_<cam>``, and
  ``image_size_<cam>`` or ``image_width_<cam>`` + ``image_height_<cam>``; or one map node per
  camera holding the same keys without the suffix (``cam0: {K: …, D: …, R: …, T: …}``);
* **stereo** (``cv2.stereoCalibrate`` scripts): ``K1``/``M1``, ``D1``, ``K2``/``M2``, ``D2``
  and one ``R``, ``T`` (camera 2 relative to camera 1). The world is camera 1's frame;
  ``R1``/``R2``/``P1``/``P2``/``Q`` (rectification) are ignored;
* **one camera** (``calibration.cpp``'s output: ``camera_matrix``, ``distortion_coefficients``,
  ``image_width``, ``image_height``): the world is the camera's frame.

``x_cam = R X + T`` (OpenCV's extrinsics); units are the calibration board's (stated with
``--units`` or detected from the rig's size); the up axis is detected unless stated.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.datasets.calibration.common import SourceCamera, SourceRig, fail, source_camera

#: role → the key spellings accepted (without the camera suffix), longest matched first
ALIASES: dict[str, tuple[str, ...]] = {
    "K": ("K", "M", "camera_matrix", "cameraMatrix", "CameraMatrix", "intrinsic", "intrinsics",
          "intrinsic_matrix", "mtx"),
    "dist": ("D", "dist", "distortion", "distortion_coefficients", "distCoeffs", "dist_coeffs", "distCoef"),
    "R": ("R", "Rot", "rotation_matrix", "rmat"),
    "rvec": ("rvec", "rotation_vector", "om"),
    "T": ("T", "t", "tvec", "translation", "translation_vector"),
    "size": ("image_size", "imageSize", "size", "resolution"),
    "width": ("image_width", "width"),
    "height": ("image_height", "height"),
}
_PATTERN = re.compile(
    r"^(?P<alias>" + "|".join(sorted({a for v in ALIASES.values() for a in v}, key=len, reverse=True))
    + r")(?:_(?P<id1>.+)|(?P<id2>\d+))?$"
)
_ROLE = {a: role for role, aliases in ALIASES.items() for a in aliases}


def read_filestorage(path: Path) -> dict[str, Any]:
    """The top level of an OpenCV FileStorage file as plain Python: matrices as arrays, maps as
    dicts, sequences as lists, numbers as floats, strings as str.

    The file is parsed by ``cv2.FileStorage``, but its matrices are not read with
    ``FileNode.mat()``: that trusts the ``rows``/``cols``/``dt`` header (a mutated number asks
    for tens of gigabytes, and a header that disagrees with its data has corrupted the heap).
    Each matrix is read element by element from its ``data`` sequence and its header checked
    against it (:func:`_matrix`).

    Raises:
        CalibrationError: naming the file (and the field): unreadable, not FileStorage, a
            matrix whose header disagrees with its data, text that is not UTF-8.
    """
    import cv2

    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # a parse error surfaces as either, by OpenCV version
        cause = exc.__cause__ or exc
        first = str(cause).strip().splitlines()[-1][:200] if str(cause).strip() else "parse error"
        raise fail(path, None, f"not a readable OpenCV FileStorage file ({first})",
                   "check the file is complete YAML (starting with %YAML:1.0) or XML <opencv_storage>") from None
    if not fs.isOpened():
        raise fail(path, None, "cannot be opened as an OpenCV FileStorage file")
    try:
        root = fs.root()
        return {k: _node(root.getNode(k), k, path) for k in _keys(root, "(top level)", path)}
    except (cv2.error, SystemError) as exc:  # anything FileStorage itself refuses while reading a node
        first = (str(exc).strip().splitlines() or ["read error"])[-1][:200]
        raise fail(path, None, f"not a readable OpenCV FileStorage file ({first})") from None
    finally:
        fs.release()


#: OpenCV's element type codes (``dt``) and the most channels a matrix may have (``CV_CN_MAX``)
_DT = re.compile(r"^\s*([1-9][0-9]{0,2})?\s*([ucwsifdh])\s*$")
_MAX_CHANNELS = 512


def _keys(node: Any, where: str, path: Path) -> list[str]:
    try:
        return list(node.keys())
    except UnicodeDecodeError:
        raise fail(path, None, f"field {where!r}: a key that is not UTF-8 text") from None


def _node(node: Any, where: str, path: Path) -> Any:
    """``node`` (at field ``where``) as plain Python (see :func:`read_filestorage`)."""
    if node.isMap():
        keys = _keys(node, where, path)
        if "data" in keys and ({"rows", "cols"} <= set(keys) or "sizes" in keys):  # opencv-(nd-)matrix
            return _matrix(node, keys, where, path)
        return {k: _node(node.getNode(k), f"{where}.{k}", path) for k in keys}
    if node.isSeq():
        return [_node(node.at(i), f"{where}[{i}]", path) for i in range(node.size())]
    if node.isString():
        return _text(node, where, path)
    if node.isInt() or node.isReal():
        return float(node.real())
    return None


def _text(node: Any, where: str, path: Path) -> str:
    try:
        return node.string()
    except UnicodeDecodeError:
        raise fail(path, None, f"field {where!r}: text that is not UTF-8") from None


def _count(node: Any, where: str, path: Path) -> int:
    """A whole, non-negative number of a matrix header (``rows``, ``cols``, a ``sizes`` entry)."""
    value = float(node.real()) if node.isInt() or node.isReal() else math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        shown = _text(node, where, path) if node.isString() else (
            "a map or sequence" if node.isMap() or node.isSeq() else value)
        raise fail(path, None, f"field {where!r} must be a whole number ≥ 0, got {shown!r}",
                   "is the matrix header damaged?")
    return int(value)


def _matrix(node: Any, keys: list[str], where: str, path: Path) -> np.ndarray:
    """An ``opencv-matrix`` (``rows``, ``cols``) or ``opencv-nd-matrix`` (``sizes``) node as a
    float64 array, read element by element from ``data``: the header (dimensions × the
    channels of ``dt``) must account for exactly the numbers ``data`` holds, so it never sizes
    an allocation by itself."""
    if "sizes" in keys:
        sizes_node = node.getNode("sizes")
        if not sizes_node.isSeq() or not 1 <= sizes_node.size() <= 32:
            raise fail(path, None, f"field '{where}.sizes' must be a sequence of 1 to 32 sizes")
        shape = [_count(sizes_node.at(i), f"{where}.sizes[{i}]", path) for i in range(sizes_node.size())]
    else:
        shape = [_count(node.getNode(k), f"{where}.{k}", path) for k in ("rows", "cols")]
    dt_node = node.getNode("dt")
    dt = _text(dt_node, f"{where}.dt", path) if dt_node.isString() else ""
    m = _DT.match(dt)
    channels = int(m.group(1) or 1) if m else 0
    if not m or channels > _MAX_CHANNELS:
        raise fail(path, None, f"field '{where}.dt' is {dt!r}, not an OpenCV element type (d, f, i, u, 3d, …)")
    data = node.getNode("data")
    if not data.isSeq():
        raise fail(path, None, f"field '{where}.data' is not a sequence of numbers")
    held = data.size()
    if math.prod(shape) * channels != held:
        raise fail(path, None, f"field {where!r}: its header says {' × '.join(map(str, shape))} × {channels} "
                               f"channel(s) = {math.prod(shape) * channels} numbers, but 'data' holds {held}",
                   "is the file complete?")
    values = np.empty(held, dtype=np.float64)
    for i in range(held):
        item = data.at(i)
        if not (item.isInt() or item.isReal()):
            raise fail(path, None, f"field '{where}.data[{i}]' is not a number")
        values[i] = item.real()
    return values.reshape(shape if channels == 1 else [*shape, channels])


def _group(entries: dict[str, Any]) -> dict[str, dict[str, tuple[str, Any]]]:
    """key → (camera id, role); ``{id: {role: (key, value)}}``, id "" for keys without a suffix."""
    out: dict[str, dict[str, tuple[str, Any]]] = {}
    for key, value in entries.items():
        m = _PATTERN.match(key)
        if not m:
            continue
        cam = m.group("id1") or m.group("id2") or ""
        out.setdefault(cam, {})[_ROLE[m.group("alias")]] = (key, value)
    return out


def _size(path: Path, name: str, roles: dict[str, tuple[str, Any]], suffix: str) -> tuple[Any, str]:
    if "size" in roles:
        return roles["size"][1], roles["size"][0]
    if "width" in roles and "height" in roles:
        return [roles["width"][1], roles["height"][1]], f"{roles['width'][0]}/{roles['height'][0]}"
    raise fail(path, name, f"missing image size: no image_size{suffix} (or image_width{suffix} and "
                           f"image_height{suffix})", f"add image_size{suffix}: [width, height] in pixels")


def camera_from_roles(path: Path, name: str, roles: dict[str, tuple[str, Any]], suffix: str,
                      extrinsics: tuple[Any, Any, bool, str, str] | None = None) -> SourceCamera:
    """One camera from its grouped keys; ``extrinsics`` overrides (R, T, is_rvec, R key, T key)."""
    if "K" not in roles:
        raise fail(path, name, f"missing intrinsic matrix K{suffix} (or camera_matrix{suffix})",
                   "add the 3×3 camera matrix")
    if "dist" not in roles:
        raise fail(path, name, f"missing distortion dist{suffix} (or D{suffix}, distortion_coefficients{suffix})",
                   "add the 5 coefficients (k1, k2, p1, p2, k3), zeros if none")
    size, size_key = _size(path, name, roles, suffix)
    if extrinsics is None:
        if "R" in roles:
            R, r_key, is_rvec = roles["R"][1], roles["R"][0], False
            if np.size(R) == 3:  # EasyMocap's R_<cam> and several scripts store a Rodrigues vector as R
                is_rvec = True
        elif "rvec" in roles:
            R, r_key, is_rvec = roles["rvec"][1], roles["rvec"][0], True
        else:
            raise fail(path, name, f"missing rotation R{suffix} (3×3) or rvec{suffix} (Rodrigues)",
                       "add the world → camera rotation")
        if "T" not in roles:
            raise fail(path, name, f"missing translation T{suffix}",
                       "add the world → camera translation (x_cam = R X + T)")
        T, t_key = roles["T"][1], roles["T"][0]
    else:
        R, T, is_rvec, r_key, t_key = extrinsics
    return source_camera(path, name, roles["K"][1], roles["dist"][1], R, T, size, rvec=is_rvec,
                         k_name=roles["K"][0], dist_name=roles["dist"][0], r_name=r_key, t_name=t_key,
                         size_name=size_key)


def read(path: Path) -> SourceRig:
    """Read an OpenCV FileStorage calibration in one of the layouts of the module docstring."""
    entries = read_filestorage(path)
    nested = {k: v for k, v in entries.items() if isinstance(v, dict) and any(
        _PATTERN.match(key) and _ROLE[_PATTERN.match(key).group("alias")] == "K" and not (
            _PATTERN.match(key).group("id1") or _PATTERN.match(key).group("id2")) for key in v)}
    if nested:
        cams = [camera_from_roles(path, name, _group(node).get("", {}), "") for name, node in nested.items()]
        return SourceRig("opencv", path, cams, notes=[f"{path}: one map node per camera ({', '.join(nested)})"])
    groups = _group(entries)
    ids = [cam for cam, roles in groups.items() if "K" in roles]
    top = groups.get("", {})
    if not ids:
        raise fail(path, None, f"no intrinsic matrix found (keys: {sorted(entries)[:20]})",
                   "expected K_<cam>/camera_matrix_<cam> per camera, K1/K2 + R/T (stereo) or camera_matrix; "
                   "give --format if this is another format")
    for cam_id in ids:  # one image size shared by every camera
        for role in ("size", "width", "height"):
            if role not in groups[cam_id] and role in top:
                groups[cam_id][role] = top[role]
    if len(ids) == 2 and "" not in ids and "R" in top and "T" in top and all(i.isdigit() for i in ids):
        a, b = sorted(ids)
        first = camera_from_roles(path, f"cam{a}", groups[a], a, (np.eye(3), np.zeros(3), False, "(identity)",
                                                                    "(zero)"))
        second = camera_from_roles(path, f"cam{b}", groups[b], b,
                                   (top["R"][1], top["T"][1], np.size(top["R"][1]) == 3, top["R"][0], top["T"][0]))
        return SourceRig("opencv", path, [first, second],
                         notes=[f"{path}: stereo layout: the world is camera {first.name}'s frame"])
    if ids == [""] and "R" not in top and "rvec" not in top:
        cam = camera_from_roles(path, "camera", top, "", (np.eye(3), np.zeros(3), False, "(identity)", "(zero)"))
        return SourceRig("opencv", path, [cam],
                         notes=[f"{path}: one camera without extrinsics: the world is its frame"])
    cams = []
    for cam_id in ids:
        suffix = f"_{cam_id}" if cam_id else ""
        cams.append(camera_from_roles(path, cam_id or "camera", groups[cam_id], suffix))
    return SourceRig("opencv", path, cams)
