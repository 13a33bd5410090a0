"""CMU Panoptic ``calibration_<sequence>.json`` (panoptic-toolbox layout).

``{"calibDataSource": …, "cameras": [{"name": "00_03", "type": "hd", "resolution": [1920, 1080],
"K": 3×3, "distCoef": [k1, k2, p1, p2, k3], "R": 3×3, "t": [[tx], [ty], [tz]]}, …]}``:
world → camera ``x_cam = R X + t`` in **centimetres**, OpenCV's distortion model, a world with
**y down** and the floor at y = 0. The format states all three, so the import needs no
``--units``/``--up`` (given, they override). Only the ``hd`` cameras are imported when the file
has any (the 480 ``vga`` and the ``kinect-color`` cameras are left out, with a note).
"""

from __future__ import annotations

from pathlib import Path

from poseboard.datasets.calibration.common import SourceRig, fail, read_json, source_camera

REQUIRED = ("name", "resolution", "K", "distCoef", "R", "t")


def read(path: Path) -> SourceRig:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list) or not data["cameras"]:
        raise fail(path, None, "expected {\"cameras\": [ … ]} with at least one camera (the panoptic-toolbox layout)")
    records = data["cameras"]
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise fail(path, f"cameras[{i}]", "not a JSON object")
    types = {str(rec.get("type", "hd")) for rec in records}
    keep = [r for r in records if str(r.get("type", "hd")) == "hd"] if "hd" in types else records
    notes = []
    if len(keep) < len(records):
        notes.append(f"{path}: imported the {len(keep)} hd cameras; left out {len(records) - len(keep)} "
                     f"of type {sorted(types - {'hd'})}")
    cams = []
    for i, rec in enumerate(keep):
        name = str(rec.get("name", f"cameras[{i}]"))
        missing = [f for f in REQUIRED if f not in rec]
        if missing:
            raise fail(path, name, f"missing field(s) {missing}", f"the toolbox writes {list(REQUIRED)}")
        cams.append(source_camera(path, name, rec["K"], rec["distCoef"], rec["R"], rec["t"], rec["resolution"],
                                  dist_name="distCoef", size_name="resolution"))
    return SourceRig("panoptic", path, cams, units="cm", up="-y", floor_at_zero=True, notes=notes)
