"""Every crash the fuzzing found (issue 80), kept as a regression test: the mutant, rebuilt here
from the reader's generated seed file by the one edit that broke it, is refused with a
``PoseboardError`` naming the file (and the member or field), and asks for no memory.

Before the fixes each of these ended in a traceback: zipfile's ``BadZipFile`` (bad CRC, bad local
header) or numpy's bytes for a non-array member, ``TokenError`` and ``OverflowError`` from an
``.npy`` header, an allocation sized by a header's shape; OpenCV's ``cv2.error`` (``readRawData
can only be used to read plain sequences of numbers``, ``nelems == m.total()*m.channels()``,
``Failed to allocate 720000000000 bytes``, and a heap corruption after a 30-digit ``cols``),
``KeyError: (0, 2)`` and ``OverflowError`` in the EasyMocap reader, a BVH ``Frame Time`` of
1e5 s resampled into a 43.7 GiB array, ``LinAlgError`` from a
Rodrigues vector or tangential terms of 1e308, ``UnicodeDecodeError`` from a non-UTF-8 byte in a
rig JSON, params.yaml or protocol YAML; a protocol with a ``nan`` paper value was accepted; the
motion ``.npz`` and the motion library (read through ``poseboard.io.load_npz`` since) crashed
as the predictions did.
"""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from poseboard.errors import PoseboardError
from poseboard.workflows import fuzz_readers as readers


def seed(tmp_path: Path, reader: str) -> list[Path]:
    return readers.READERS[reader].write_seed(tmp_path)


def refused(read: Callable[[Path], object], path: Path, *named: str, max_mib: float = 64.0) -> str:
    """``read(path)`` raises a PoseboardError naming ``path``'s file and each of ``named``,
    without Python allocating more than ``max_mib`` on the way (tracemalloc sees numpy)."""
    tracemalloc.start()
    try:
        with pytest.raises(PoseboardError) as info:
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    for part in (path.name, *named):
        assert part in message, message
    assert peak < max_mib * 2**20, f"{peak / 2**20:.0f} MiB allocated on the way to refusing"
    return message


# ------------------------------------------------------------------------ predictions .npz
def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _repack(path: Path, members: dict[str, bytes]) -> None:
    """The archive rewritten with these members (valid CRCs: the damage is inside a member)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    path.write_bytes(buf.getvalue())


def _data_offset(path: Path, member: str) -> int:
    """Where a stored member's bytes start in the file (after its local header)."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = path.read_bytes()
    name_len = int.from_bytes(raw[info.header_offset + 26: info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28: info.header_offset + 30], "little")
    return info.header_offset + 30 + name_len + extra_len


def test_predictions_bad_crc_of_a_member(tmp_path):
    (path,) = seed(tmp_path, "predictions")
    raw = bytearray(path.read_bytes())
    raw[_data_offset(path, "joints_3d.npy") + 500] ^= 0xFF  # a byte of the joints, the CRC now wrong
    path.write_bytes(bytes(raw))
    message = refused(readers.read_pose_predictions, path, "'joints_3d.npy'")
    assert "CRC" in message


def test_predictions_bad_magic_number_of_a_member_header(tmp_path):
    (path,) = seed(tmp_path, "predictions")
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo("sample_ids.npy").header_offset
    raw = bytearray(path.read_bytes())
    raw[offset: offset + 4] = b"XXXX"
    path.write_bytes(bytes(raw))
    assert "Bad magic number" in refused(readers.read_pose_predictions, path, "'sample_ids.npy'")


def test_predictions_damaged_central_directory(tmp_path):
    (path,) = seed(tmp_path, "predictions")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 30])
    refused(readers.read_pose_predictions, path, "not a readable .npz")


def test_predictions_truncated_member(tmp_path):
    (path,) = seed(tmp_path, "predictions")
    members = _members(path)
    members["joints_3d.npy"] = members["joints_3d.npy"][:3000]
    _repack(path, members)
    assert "header says" in refused(readers.read_pose_predictions, path, "'joints_3d.npy'")


def test_predictions_member_that_is_not_an_array(tmp_path):
    """np.load hands back such a member's raw bytes: AttributeError: 'bytes' object has no attribute 'ndim'."""
    (path,) = seed(tmp_path, "predictions")
    members = _members(path)
    members["sample_ids.npy"] = members["sample_ids.npy"].split(b"\n", 1)[1]  # its header line deleted
    _repack(path, members)
    refused(readers.read_pose_predictions, path, "'sample_ids.npy'")
    members = _members(seed(tmp_path, "predictions")[0])
    members["notes.txt"] = b"hello"
    _repack(path, members)
    refused(readers.read_pose_predictions, path, "'notes.txt'", "not a .npy array")


def test_predictions_object_array(tmp_path):
    path = tmp_path / "predictions.npz"
    np.savez(path, sample_ids=readers._sample_ids(48).astype(object), joints_3d=readers._poses(48))
    assert "unpickling" in refused(readers.read_pose_predictions, path, "'sample_ids.npy'")


@pytest.mark.parametrize("shape", ["(123456789012345678901234567890, 17, 3)", "(100000000, 17, 3)",
                                   "(48, 17, 3, 99999999)", "(-48, 17, 3)"])
def test_predictions_header_shape_never_sizes_an_allocation(tmp_path, shape):
    """A 30-digit shape was an OverflowError; a 40 GB one an allocation before the read failed."""
    (path,) = seed(tmp_path, "predictions")
    members = _members(path)
    head, rest = members["joints_3d.npy"].split(b"(48, 17, 3)", 1)
    members["joints_3d.npy"] = head + shape.encode() + rest  # the header's padding absorbs the length
    _repack(path, members)
    t0 = time.perf_counter()
    refused(readers.read_pose_predictions, path, "'joints_3d.npy'")
    assert time.perf_counter() - t0 < 2.0


def test_predictions_header_that_does_not_parse(tmp_path):
    """A changed byte in the header's dict: tokenize.TokenError ('EOF in multi-line statement')."""
    (path,) = seed(tmp_path, "predictions")
    members = _members(path)
    members["frame.npy"] = members["frame.npy"].replace(b"{", b"\xab", 1)
    _repack(path, members)
    refused(readers.read_pose_predictions, path, "'frame.npy'")


def test_predictions_values_no_capture_holds(tmp_path):
    path = tmp_path / "predictions.npz"
    joints = readers._poses(48)
    joints[3, 5, 0] = 1e308  # finite, but the metrics' squares overflow to inf
    np.savez(path, sample_ids=readers._sample_ids(48), joints_3d=joints)
    refused(readers.read_pose_predictions, path, "'joints_3d'", "km")


def test_predictions_ids_that_are_no_characters(tmp_path):
    """A surrogate code point in an id crashes where it is printed or hashed."""
    ids = readers._sample_ids(48)
    codes = ids.view(np.uint32).copy()
    codes[7] = 0xD800
    path = tmp_path / "predictions.npz"
    np.savez(path, sample_ids=codes.view(ids.dtype), joints_3d=readers._poses(48))
    refused(readers.read_pose_predictions, path, "'sample_ids'", "row 0")
    np.savez(path, sample_ids=np.array([b"S9/\xff" + bytes(i) for i in range(48)]), joints_3d=readers._poses(48))
    refused(readers.read_pose_predictions, path, "'sample_ids'", "not ASCII")


def test_root_predictions_scores_that_are_text(tmp_path):
    """``.astype(np.float64)`` of a string array: ValueError."""
    (path,) = seed(tmp_path, "root-predictions")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["score"] = np.array(["high"] * len(arrays["score"]))
    np.savez(path, **arrays)
    refused(readers.read_root_predictions, path, "'score' must be numeric")


# ------------------------------------------------------------------------ OpenCV FileStorage
def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_opencv_data_that_is_not_a_number(tmp_path):
    """cv2.error: readRawData can only be used to read plain sequences of numbers."""
    (path,) = seed(tmp_path, "opencv-yaml")
    _edit(path, "data: [ 1145.05, 0.,", "data: [ 1145.05, x,")
    refused(readers._import_rig, path, "K_54138969.data[1]")


def test_opencv_header_that_disagrees_with_its_data(tmp_path):
    """cv2.error: nelems == m.total()*m.channels()."""
    (path,) = seed(tmp_path, "opencv-yaml")
    _edit(path, "data: [ 1145.05, 0.,", "data: [ 0.,")
    assert "holds 8" in refused(readers._import_rig, path, "K_54138969", "3 × 3")


@pytest.mark.parametrize("rows, cols", [("300000", "300000"), ("3", "123456789012345678901234567890"),
                                        ("4294967299", "1"), ("-3", "3"), ("3.5", "3")])
def test_opencv_header_never_sizes_an_allocation(tmp_path, rows, cols):
    """cv2.error: Failed to allocate 720000000000 bytes; a 30-digit cols corrupted the heap
    (``malloc(): unsorted double linked list corrupted``, the process aborted, mutants later)."""
    (path,) = seed(tmp_path, "opencv-yaml")
    _edit(path, "K_54138969: !!opencv-matrix\n   rows: 3\n   cols: 3",
          f"K_54138969: !!opencv-matrix\n   rows: {rows}\n   cols: {cols}")
    t0 = time.perf_counter()
    refused(readers._import_rig, path, "K_54138969")
    assert time.perf_counter() - t0 < 2.0


def test_opencv_element_type_that_is_no_type(tmp_path):
    (path,) = seed(tmp_path, "opencv-xml")
    _edit(path, "<dt>d</dt>", "<dt>q</dt>")
    refused(readers._import_rig, path, "K1.dt")


def test_opencv_key_that_is_not_utf8(tmp_path):
    """UnicodeDecodeError from cv2's keys()."""
    (path,) = seed(tmp_path, "opencv-yaml")
    path.write_bytes(path.read_bytes().replace(b"dist_54138969", b"dist_5413\xb1969", 1))
    refused(readers._import_rig, path, "UTF-8")


def test_easymocap_matrix_without_its_data(tmp_path):
    """A truncated intri.yml left K_01 a map without 'data': KeyError: (0, 2)."""
    intri, _ = seed(tmp_path, "easymocap")
    text = intri.read_text()
    start = text.index("K_01:")
    data = text.index("   data:", start)
    intri.write_text(text[:data] + text[text.index("dist_01:", data):])
    refused(readers._import_rig, intri, "camera '01'", "K_01")


def test_easymocap_principal_point_of_1e308(tmp_path):
    """The image size guessed from 2 · cx + 1 = inf: OverflowError: cannot convert float infinity to integer."""
    intri, _ = seed(tmp_path, "easymocap")
    _edit(intri, "511.39999999999998", "1e308")
    refused(readers._import_rig, intri, "camera '01'", "K_01")


def test_anipose_rotation_of_1e308(tmp_path):
    """A Rodrigues vector of 1e308 rad gave a NaN rotation: LinAlgError: Eigenvalues did not converge."""
    (path,) = seed(tmp_path, "anipose")
    text = path.read_text()
    rotation = text.index("rotation = [ ", text.index("[cam_3]")) + len("rotation = [ ")
    path.write_text(text[:rotation] + "1e308" + text[text.index(",", rotation):])
    refused(readers._import_rig, path, "camera '00_03'", "cam_3.rotation")


@pytest.mark.parametrize("field, value", [("p", "[1e308, -0.0031]"), ("c", "[1e308, 515.45]"),
                                          ("image_size", "[1000, 123456789012345678901234567890]")])
def test_human36m_numbers_no_camera_has(tmp_path, field, value):
    """LinAlgError: SVD did not converge; UFuncTypeError on a 30-digit image size."""
    import json

    (path,) = seed(tmp_path, "human36m")
    data = json.loads(path.read_text())
    cam = data["cameras"]["58860488"]
    cam[field] = None
    path.write_text(json.dumps(data).replace('"' + field + '": null', f'"{field}": {value}', 1))
    refused(readers._import_rig, path, "camera '58860488'")


def test_rig_json_image_size_of_thirty_digits(tmp_path):
    (path,) = seed(tmp_path, "rig-json")
    _edit(path, "1002", "123456789012345678901234567890")
    refused(readers.read_rig, path, "image_size")


# ------------------------------------------------------------------------ text that is not UTF-8
@pytest.mark.parametrize("reader, read", [("rig-json", readers.read_rig), ("params", readers.read_params),
                                          ("protocol", readers.read_protocol)])
def test_a_byte_that_is_not_utf8(tmp_path, reader, read):
    """UnicodeDecodeError from ``path.read_text()``."""
    (path,) = seed(tmp_path, reader)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] = 0xB1
    path.write_bytes(bytes(raw))
    refused(read, path, "can't decode byte 0xb1")


def test_protocol_with_a_nan_paper_value(tmp_path):
    (path,) = seed(tmp_path, "protocol")
    _edit(path, "value: 27.4", "value: nan")
    refused(readers.read_protocol, path, "paper")


# ------------------------------------------------------------------------ BVH
@pytest.mark.parametrize("frame_time", ["1e308", "1e300", "100000", "2"])
def test_bvh_frame_time_never_sizes_the_resampled_motion(tmp_path, frame_time):
    """Resampling to 50 fps made (F − 1) · frame time · 50 frames: OverflowError (1e308),
    ValueError: Maximum allowed size exceeded (1e300), a 43.7 GiB allocation (100000)."""
    (path,) = seed(tmp_path, "bvh")
    _edit(path, "Frame Time: 0.0166667", f"Frame Time: {frame_time}")
    t0 = time.perf_counter()
    refused(readers.read_bvh, path, "'Frame Time")
    assert time.perf_counter() - t0 < 2.0


# ------------------------------------------------------------------------ motion archives
@pytest.mark.parametrize("reader, read", [("motion-npz", readers.read_motion),
                                          ("motion-library", readers.read_library)])
def test_motion_archives_with_a_bad_crc(tmp_path, reader, read):
    """zipfile.BadZipFile: Bad CRC-32 for file 'poses.npy' (user_motion.py)."""
    (path,) = seed(tmp_path, reader)
    raw = bytearray(path.read_bytes())
    raw[_data_offset(path, "poses.npy") + 300] ^= 0xFF
    path.write_bytes(bytes(raw))
    refused(read, path, "'poses.npy'")


@pytest.mark.parametrize("reader, read", [("motion-npz", readers.read_motion),
                                          ("motion-library", readers.read_library)])
def test_motion_archives_with_a_member_that_is_not_an_array(tmp_path, reader, read):
    """AttributeError: 'bytes' object has no attribute 'shape' (user_motion.py, library_file.py)."""
    (path,) = seed(tmp_path, reader)
    members = _members(path)
    members["fps.npy"] = members["fps.npy"].split(b"\n", 1)[1]
    _repack(path, members)
    refused(read, path, "'fps.npy'")


def test_motion_with_finite_but_absurd_coordinates(tmp_path):
    """KeyError: '+Z' (user_motion.py's up-axis check: a finite 1e305 overflowed the torso's length)."""
    poses = np.stack([readers.STANDING_MM + [12.0 * k, 0, 0] for k in range(40)])
    poses[:20, 8, 0] = 1e305
    path = tmp_path / "plus_z.npz"
    np.savez(path, poses=poses)
    refused(readers.read_motion, path, "beyond 1 km")
