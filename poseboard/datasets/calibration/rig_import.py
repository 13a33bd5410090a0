"""``import_rig``: a calibration file in any supported format → poseboard cameras (world
millimetres, Z up, floor at z = 0, OpenCV camera axes), or a :class:`CalibrationError`.

Steps, each stated in :attr:`ImportedRig.notes` when it was detected rather than given:

1. **format**: ``fmt`` or from the file name and content (:func:`detect_format`);
2. **read**: the format's module (intrinsics, ``x_cam = R X + t`` in the file's units/world);
3. **shared volume**: the point nearest to every camera's optical axis (least squares; a
   quarter of the cameras at most whose axes miss it are left out of the fit, so that one
   wrong camera does not drag it); every camera must see it (in front, inside the image with
   a 25 % margin), else the camera that does not is named;
4. **units**: ``units``, else the format's, else from the cameras' distance to that point
   (under 30 → metres, 800 and over → millimetres, between: refused as ambiguous), then
   checked: a camera 3 mm from its subject is metres read as millimetres;
5. **up**: ``up``, else the format's, else the axis the cameras' image-up directions share;
6. **floor**: the format's z = 0, else z = 0 when every camera is 0.1–10 m above it, else
   1.5 m (a tripod) below the cameras' mean height, said in a note.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poseboard.camera import Camera
from poseboard.datasets.axes import MM_PER_UNIT, Units, Up, dominant_axis, parse_units, parse_up, up_to_z
from poseboard.datasets.calibration.common import CalibrationError, SourceCamera, SourceRig, fail, read_json
from poseboard.errors import InputError

FORMATS: tuple[str, ...] = ("opencv", "anipose", "panoptic", "easymocap", "human36m", "poseboard")
#: median camera → shared point distance (file units): below → metres, at or above MM_FROM → mm
METRES_BELOW, MM_FROM = 30.0, 800.0
#: the same for rigs whose axes are parallel (stereo pairs), on the largest baseline
BASELINE_METRES_BELOW, BASELINE_MM_FROM = 10.0, 50.0
#: plausible median camera → subject distance, mm
DISTANCE_RANGE_MM = (300.0, 100_000.0)
BASELINE_RANGE_MM = (10.0, 20_000.0)
#: plausible camera heights above a floor at z = 0, mm
HEIGHT_RANGE_MM = (100.0, 10_000.0)
TRIPOD_HEIGHT_MM = 1500.0
#: a camera "sees" a point in front of it that projects inside its image grown by this fraction
IMAGE_MARGIN = 0.25
#: shared point of parallel axes, this far in front of the cameras (mm)
PARALLEL_DEPTH_MM = 3000.0
#: the mean image-up direction must be at least this close (cosine) to an axis to detect it
UP_COSINE = 0.7
#: … and the cameras must look less steeply along it than this (median |cos|: 60° of tilt)
STEEP_COSINE = 0.87
#: a detected up axis further than this from the cameras' mean image-up gets a warning
TILT_WARNING_DEG = 20.0


@dataclass(frozen=True)
class ImportedRig:
    """An imported calibration.

    Attributes:
        cameras: poseboard cameras (world mm, Z up, floor z = 0; ``x_cam = R X + t``).
        format: one of :data:`FORMATS`.
        source: the file read.
        units: the file's translation units; ``units_detected``: True when inferred.
        up: the file's world axis that points up; ``up_detected``: True when inferred.
        floor_shift_mm: how far the world was lowered so that the floor is z = 0 (0 when the
            file's z = 0 was taken as the floor).
        centre_mm: (3,) the point the cameras look at (world mm, after conversion).
        seen_by: how many cameras see ``centre_mm``.
        notes: sentences for the user: what was detected, assumed or left out.
    """

    cameras: list[Camera]
    format: str
    source: Path
    units: Units
    units_detected: bool
    up: Up
    up_detected: bool
    floor_shift_mm: float
    centre_mm: np.ndarray
    seen_by: int
    notes: list[str] = field(default_factory=list)


def _readers() -> dict[str, Callable[[Path], SourceRig]]:
    import poseboard.datasets.calibration.anipose as anipose
    import poseboard.datasets.calibration.easymocap as easymocap
    import poseboard.datasets.calibration.human36m as human36m
    import poseboard.datasets.calibration.opencv as opencv
    import poseboard.datasets.calibration.panoptic as panoptic

    return {"opencv": opencv.read, "anipose": anipose.read, "panoptic": panoptic.read,
            "easymocap": easymocap.read, "human36m": human36m.read, "poseboard": _read_poseboard}


def _read_poseboard(path: Path) -> SourceRig:
    from poseboard.camera import load_rig

    try:
        cams = load_rig(path)
    except InputError as exc:
        raise CalibrationError(str(exc)) from None
    src = [SourceCamera(c.name, c.K, c.dist, c.R, c.t, c.image_size) for c in cams]
    return SourceRig("poseboard", path, src, units="mm", up="+z", floor_at_zero=True)


def detect_format(path: Path) -> str:
    """The format of ``path`` from its name and, for JSON, its fields; a :class:`CalibrationError`
    listing the formats when none fits."""
    hint = f"pass --format, one of {list(FORMATS)}"
    if path.is_dir():
        if (path / "intri.yml").is_file():
            return "easymocap"
        raise fail(path, None, "is a folder without intri.yml (EasyMocap)", hint)
    if not path.is_file():
        raise fail(path, None, "no such file")
    name, suffix = path.name.lower(), path.suffix.lower()
    if name in ("intri.yml", "extri.yml"):
        return "easymocap"
    if suffix == ".toml":
        return "anipose"
    if suffix in (".yml", ".yaml", ".xml"):
        return "opencv"
    if suffix == ".json":
        data = read_json(path)
        if isinstance(data, dict) and data.get("format") == "poseboard-rig":
            return "poseboard"
        cams = data.get("cameras") if isinstance(data, dict) else None
        first = (next(iter(cams.values()), None) if isinstance(cams, dict)
                 else cams[0] if isinstance(cams, list) and cams else None)
        if isinstance(first, dict) and {"distCoef", "resolution"} & set(first):
            return "panoptic"
        if isinstance(first, dict) and {"f", "c"} <= set(first):
            return "human36m"
        raise fail(path, None, "a JSON file in no known calibration layout (neither Panoptic's cameras with "
                               "K/distCoef/resolution nor Human3.6M's with R/t/f/c/k/p)", hint)
    raise fail(path, None, f"unknown calibration format (suffix {suffix or 'none'!r})", hint)


def axis_point(centres: np.ndarray, dirs: np.ndarray) -> np.ndarray | None:
    """(3,) the point nearest, in least squares, to the lines ``centres[i] + s dirs[i]``; None
    when the lines are (nearly, within ~6°) parallel."""
    A, b = np.zeros((3, 3)), np.zeros(3)
    for c, d in zip(centres, dirs, strict=True):
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ c
    if np.linalg.eigvalsh(A / len(centres))[0] < 0.01:
        return None
    return np.linalg.solve(A, b)


def sees(cam: SourceCamera | Camera, point: np.ndarray) -> bool:
    """True when ``point`` is in front of ``cam`` and projects inside its image grown by
    :data:`IMAGE_MARGIN` on every side (pinhole; distortion ignored)."""
    x = cam.R @ point + cam.t
    if x[2] <= 0:
        return False
    u, v, _ = cam.K @ (x / x[2])
    w, h = cam.image_size
    return bool(-IMAGE_MARGIN * w <= u <= (1 + IMAGE_MARGIN) * w and -IMAGE_MARGIN * h <= v <= (1 + IMAGE_MARGIN) * h)


def shared_point(cams: list[SourceCamera]) -> tuple[np.ndarray | None, list[int]]:
    """The point the cameras look at (file units) and the indices of the cameras that see it;
    (None, []) when the optical axes are parallel. Cameras whose axes miss the others' point are
    dropped one at a time (the worst angle first), at most a quarter of them."""
    centres = np.stack([-c.R.T @ c.t for c in cams])
    dirs = np.stack([c.R[2] for c in cams])
    keep = list(range(len(cams)))
    min_keep = max(2, math.ceil(0.75 * len(cams)))
    while True:
        point = axis_point(centres[keep], dirs[keep])
        if point is None:
            return (None, []) if len(keep) == len(cams) else (point, [])
        seeing = [i for i in range(len(cams)) if sees(cams[i], point)]
        if all(i in seeing for i in keep) or len(keep) <= min_keep:
            return point, seeing
        to = point - centres[keep]
        cosines = np.einsum("ij,ij->i", to / np.linalg.norm(to, axis=1, keepdims=True), dirs[keep])
        keep.pop(int(np.argmin(cosines)))


def _units(rig: SourceRig, declared: Units | None, point: np.ndarray | None, notes: list[str]) -> tuple[Units, bool]:
    """The units of the file's translations, given or detected, checked against the rig's size."""
    centres = np.stack([-c.R.T @ c.t for c in rig.cameras])
    if point is not None:
        size = float(np.median(np.linalg.norm(centres - point, axis=1)))
        what, lo_m, hi_mm, rng = "from the point they look at", METRES_BELOW, MM_FROM, DISTANCE_RANGE_MM
    else:
        size = float(np.linalg.norm(centres[:, None] - centres[None], axis=-1).max()) if len(centres) > 1 else 0.0
        what, lo_m, hi_mm, rng = "apart (their axes are parallel)", BASELINE_METRES_BELOW, BASELINE_MM_FROM, \
            BASELINE_RANGE_MM
    units, detected = declared or rig.units, False
    if units is not None:
        notes.append(f"units: {units} ({'--units' if declared else 'stated by the ' + rig.format + ' format'})")
    else:
        if size == 0.0:
            raise fail(rig.path, None, "one camera at the world origin: its units cannot be told",
                       "pass --units (mm, cm, m or in: the units of the calibration board)")
        if size < lo_m:
            units = "m"
        elif size >= hi_mm:
            units = "mm"
        else:
            raise fail(rig.path, None, f"the cameras are {'a median ' if point is not None else ''}{size:.3g} "
                                       f"units {what}: too near for "
                                       f"millimetres, too far for metres (centimetres or inches?)",
                       "pass --units (mm, cm, m or in)")
        detected = True
        notes.append(f"units detected: {units} (the cameras are {'a median ' if point is not None else ''}"
                     f"{size:.3g} {units} {what})")
    if size > 0.0:
        mm = size * MM_PER_UNIT[units]
        if not rng[0] <= mm <= rng[1]:
            guess = [u for u, f in MM_PER_UNIT.items() if rng[0] <= size * f <= rng[1]]
            why = f"{'--units ' + declared if declared else 'the ' + rig.format + ' format'} says {units}"
            raise fail(rig.path, None, f"the cameras are {'a median ' if point is not None else ''}{mm:.4g} mm "
                                       f"{what}, which no capture rig is "
                                       f"({why}; plausible: {rng[0]:g}–{rng[1]:g} mm)",
                       f"pass --units {guess[0]}" if guess else "check the translations")
    return units, detected


def _up(rig: SourceRig, declared: Up | None, notes: list[str]) -> tuple[Up, bool]:
    image_up = np.mean([-c.R[1] for c in rig.cameras], axis=0)  # the cameras' −y axes, in the world
    if declared or rig.up:
        up = declared or rig.up
        notes.append(f"up axis: {up} ({'--up' if declared else 'stated by the ' + rig.format + ' format'})")
        W = up_to_z(up)
        if (W @ image_up)[2] < 0:
            notes.append(f"with up {up}, the cameras' images are on average upside down: is the up axis right?")
        return up, False
    if np.linalg.norm(image_up) < 0.5:
        raise fail(rig.path, None, f"cannot tell the up axis: the cameras' image-up directions disagree (their "
                                   f"mean has length {np.linalg.norm(image_up):.2f})",
                   "pass --up (+z, -y, …: the world axis pointing up)")
    up, cosine = dominant_axis(image_up)
    steep = float(np.median([abs(c.R[2] @ up_to_z(up)[2]) for c in rig.cameras]))
    if steep > STEEP_COSINE:
        raise fail(rig.path, None, f"cannot tell the up axis: the cameras look along {up} more than across it "
                                   f"(median {math.degrees(math.acos(min(steep, 1.0))):.0f}° from it), as an "
                                   f"overhead rig does",
                   "pass --up (+z, -y, …: the world axis pointing up)")
    if cosine < UP_COSINE:
        raise fail(rig.path, None, f"cannot tell the up axis: the cameras' mean image-up direction "
                                   f"{np.round(image_up / np.linalg.norm(image_up), 2).tolist()} is "
                                   f"{math.degrees(math.acos(cosine)):.0f}° from the nearest axis ({up})",
                   "pass --up (+z, -y, …: the world axis pointing up)")
    angle = math.degrees(math.acos(min(cosine, 1.0)))
    notes.append(f"up axis detected: {up} (the cameras' mean image-up direction, {angle:.0f}° from it)"
                 + (f"; {angle:.0f}° is more than cameras pitched at a subject usually give: if the calibration "
                    f"board was not level the world is tilted (re-level it, or pass --up)"
                    if angle > TILT_WARNING_DEG else ""))
    return up, True


def import_rig(path: str | Path, fmt: str | None = None, units: str | None = None,
               up: str | None = None) -> ImportedRig:
    """Read a calibration and convert it to poseboard cameras (see the module docstring).

    Args:
        path: the calibration file (for EasyMocap: intri.yml, extri.yml or their folder).
        fmt: one of :data:`FORMATS`; None detects it.
        units: the file's translation units (mm, cm, m, in); None: the format's, else detected.
        up: the file's world axis pointing up (+x, -x, +y, -y, +z, -z); None: the format's,
            else detected.

    Raises:
        CalibrationError: naming the file, the camera and the fix (nothing is written here).
    """
    path = Path(path)
    try:
        units_v, up_v = parse_units(units), parse_up(up)
    except InputError as exc:
        raise CalibrationError(f"{path}: {exc}") from None
    if fmt is not None and fmt not in FORMATS:
        raise fail(path, None, f"unknown --format {fmt!r}", f"choose one of {list(FORMATS)}")
    if not path.exists():
        raise fail(path, None, "no such file")
    fmt_given = fmt is not None
    fmt = fmt or detect_format(path)
    try:
        rig = _readers()[fmt](path)
    except CalibrationError:
        raise
    except InputError as exc:
        raise CalibrationError(f"{path}: {exc}") from None
    notes = [f"format: {fmt}" + ("" if fmt_given else " (detected)")] + list(rig.notes)
    names = [c.name for c in rig.cameras]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise fail(rig.path, repeated[0], "appears more than once", "give every camera its own name")
    point, seeing = shared_point(rig.cameras) if len(rig.cameras) > 1 else (None, [0])
    units_v, units_detected = _units(rig, units_v, point, notes)
    up_v, up_detected = _up(rig, up_v, notes)
    scale, W = MM_PER_UNIT[units_v], up_to_z(up_v)
    cams = []
    for c in rig.cameras:
        try:
            cams.append(Camera(K=c.K, R=c.R @ W.T, t=c.t * scale, dist=c.dist, image_size=c.image_size, name=c.name))
        except InputError as exc:
            raise fail(rig.path, c.name, str(exc)) from None
    # floor
    heights = np.array([cam.center[2] for cam in cams])
    shift = 0.0
    if rig.floor_at_zero and up_v == rig.up:
        notes.append(f"floor: z = 0 of the {rig.format} world")
    elif np.all((heights >= HEIGHT_RANGE_MM[0]) & (heights <= HEIGHT_RANGE_MM[1])):
        notes.append(f"floor: z = 0 of the file's world (the cameras are {heights.min() / 1000:.2f}–"
                     f"{heights.max() / 1000:.2f} m above it)")
    else:
        shift = float(heights.mean() - TRIPOD_HEIGHT_MM)
        outside = (heights < HEIGHT_RANGE_MM[0]) | (heights > HEIGHT_RANGE_MM[1])
        low = cams[int(np.argmax(outside))]
        cams = [Camera(K=c.K, R=c.R, t=c.t + c.R @ np.array([0.0, 0.0, shift]), dist=c.dist,
                       image_size=c.image_size, name=c.name) for c in cams]
        notes.append(f"floor: the file's z = 0 is no floor (camera {low.name!r} is at z = {low.center[2]:.0f} mm; "
                     f"cameras stand {HEIGHT_RANGE_MM[0] / 1000:g}–{HEIGHT_RANGE_MM[1] / 1000:g} m above a floor); "
                     f"the floor was put {TRIPOD_HEIGHT_MM / 1000:.1f} m (a tripod's height) below the cameras' mean "
                     f"height (every z moved by {-shift:+.0f} mm): move the rig if your cameras stand otherwise")
    # the shared volume, in the converted world
    if len(cams) > 1:
        centres = np.stack([c.center for c in cams])
        if point is None:
            d = np.mean([c.R[2] for c in cams], axis=0)
            if np.linalg.norm(d) < 0.5:  # on one line, facing each other: the volume is between them
                centre = centres.mean(0)
                notes.append("the cameras' axes lie on one line, facing each other: their shared volume is taken "
                             "midway between them")
            else:
                centre = centres.mean(0) + PARALLEL_DEPTH_MM * d / np.linalg.norm(d)
                notes.append(f"the cameras' axes are parallel: their shared volume is taken "
                             f"{PARALLEL_DEPTH_MM / 1000:g} m in front of them")
            seeing = [i for i, c in enumerate(cams) if sees(c, centre)]
        else:
            centre = W @ (point * scale) - np.array([0.0, 0.0, shift])
        need = max(2, math.ceil(0.75 * len(cams)))
        blind = [cams[i].name for i in range(len(cams)) if i not in seeing]
        fix = ("check each camera's R and t are world → camera (x_cam = R X + t), not camera → world (then R ← Rᵀ, "
               "t ← −Rᵀ t), that all cameras share one world, or leave the camera out")
        if len(seeing) < need:
            raise fail(rig.path, blind[0], f"the cameras share no volume: {len(seeing)} of {len(cams)} see the point "
                                           f"nearest their optical axes ({np.round(centre).tolist()} mm); not seeing "
                                           f"it: {blind}", fix)
        if blind:
            name = blind[0]
            cam = next(c for c in cams if c.name == name)
            how = "faces away from" if (cam.R @ centre + cam.t)[2] <= 0 else "does not see"
            raise fail(rig.path, name, f"{how} the volume the other cameras share (around "
                                       f"{np.round(centre).tolist()} mm; cameras not seeing it: {blind})", fix)
    else:
        centre = cams[0].center + PARALLEL_DEPTH_MM * cams[0].R[2]
        seeing = [0]
        notes.append("one camera: no shared volume (a single-view rig)")
    return ImportedRig(cameras=cams, format=fmt, source=path, units=units_v, units_detected=units_detected, up=up_v,
                       up_detected=up_detected, floor_shift_mm=shift, centre_mm=centre, seen_by=len(seeing),
                       notes=notes)
