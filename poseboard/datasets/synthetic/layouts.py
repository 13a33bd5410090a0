"""A procedural sampler of capture-camera layouts: how many cameras, where, how they are aimed, their lenses.

World frame: millimetres, Z up, the floor at z = 0, the capture area centred on the origin. Cameras map
world → camera (``x_cam = R X + t``, OpenCV axes: x right, y down, z forward), as :class:`Camera`.

A layout is drawn from a *family* (:class:`LayoutRanges`): ``TRAIN_LAYOUTS`` covers real studios (Human3.6M:
4 cameras 4.5–6 m away, 1.3–1.8 m high, hfov ≈ 47°; CMU Panoptic HD: 1920×1080, f ≈ 1400–1700 px; 4–8
wall- or ceiling-mounted cameras) and ``NOVEL_LAYOUTS`` the novel-rig test: 2, 9 or 10 cameras, each one
outside the training box in at least one of height, horizontal field of view and distance. The two
families do not overlap, so a model that was trained on the first and is tested on the second meets rigs
it has never seen.

Each camera looks at a point near the area centre at about hip height (jittered by up to 300 mm
horizontally and 200 mm vertically), with the pitch that follows from its height, then rolls about its
optical axis. A drawn camera is kept only if (1) a standing person (feet z = 100, pelvis 950, head top
1800 mm) at the centre or anywhere on the circle of radius ``area_radius_mm`` is in front of it, (2) that
person at the centre projects (with the lens distortion) inside its image, 1 % from the border, and
(3) its distortion is monotone out to the image corners (no fold-back). Otherwise the camera is redrawn
(a fixed number of vectorised candidates per round, so the result is deterministic from the generator).
A narrow lens may leave off-centre positions out of frame; the dataset generator marks such views.
The accepted cameras are therefore the drawn ones *conditioned on* these checks: narrow lenses are kept
mostly far away, and so on.

Example:
    >>> layout = sample_layout(np.random.default_rng(0))
    >>> 3 <= len(layout.cameras) <= 8, layout.placement in PLACEMENTS
    (True, True)
    >>> all(in_ranges(camera_factors(cam), TRAIN_LAYOUTS) for cam in layout.cameras)
    True
    >>> novel = sample_layout(np.random.default_rng(0), NOVEL_LAYOUTS, novel=True, prefix="novel")
    >>> any(in_ranges(camera_factors(cam), TRAIN_LAYOUTS) for cam in novel.cameras)
    False
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from poseboard.camera import Camera
from poseboard.errors import InputError

#: The placement kinds of the first families (``TRAIN_LAYOUTS``, ``NOVEL_LAYOUTS``): how the cameras'
#: azimuths around the area are laid out (each camera's distance and height drawn on its own).
PLACEMENTS: tuple[str, ...] = ("ring", "arc", "one_sided", "asymmetric", "wall_cluster")
#: Placements that also structure distance and height (``WIDE_TRAIN_LAYOUTS``): ``dome``, two or three
#: rings of cameras at one distance, each ring at its own height (CMU Panoptic, capture domes);
#: ``room``, cameras near the ceiling on the walls and in the corners of a rectangular room.
STRUCTURED_PLACEMENTS: tuple[str, ...] = ("dome", "room")
#: Placements no training family draws (``HELD_OUT_LAYOUTS``): ``line``, the cameras in a row along one
#: wall at one height; ``stacked``, cameras in pairs one above the other.
HELD_OUT_PLACEMENTS: tuple[str, ...] = ("line", "stacked")
ALL_PLACEMENTS: tuple[str, ...] = PLACEMENTS + STRUCTURED_PLACEMENTS + HELD_OUT_PLACEMENTS

#: The per-camera factors that may be novel, in this order.
NOVEL_FACTOR_NAMES: tuple[str, ...] = ("distance", "height", "hfov")

Interval = tuple[float, float]

_MIN_SEPARATION_DEG = 15.0  # asymmetric placement: no two azimuths closer than this
_TRIANGULATION_DEG = 20.0  # at least two cameras see the subject from directions this far apart
_SPREAD_DEG = 45.0  # every placement keeps two azimuths at least this far apart (→ the above)


def _placements_for(n: int, placements: tuple[str, ...]) -> tuple[str, ...]:
    """The placement kinds that can lay out ``n`` cameras."""
    ok = []
    for p in placements:
        if p == "wall_cluster" and n < 3:  # a cluster of >= 2 plus at least one camera elsewhere
            continue
        if (p == "dome" and n < 4) or (p == "room" and n < 3):  # two rings of two; three walls
            continue
        if p == "asymmetric" and n * _MIN_SEPARATION_DEG >= 360.0:
            continue
        ok.append(p)
    return tuple(ok)


@dataclass(frozen=True)
class FactorBox:
    """A box in camera-factor space: a camera is inside when its distance, height and horizontal
    field of view all lie in these closed intervals (mm, mm, deg)."""

    name: str
    distance_mm: Interval
    height_mm: Interval
    hfov_deg: Interval

    def contains(self, distance_mm: Any, height_mm: Any, hfov_deg: Any, tol: float = 0.0) -> Any:
        """Elementwise: whether each camera's factors lie in the box (``tol`` widens it)."""
        inside = True
        for value, (lo, hi) in ((distance_mm, self.distance_mm), (height_mm, self.height_mm),
                                (hfov_deg, self.hfov_deg)):
            inside = inside & (np.asarray(value) >= lo - tol) & (np.asarray(value) <= hi + tol)
        return inside


@dataclass(frozen=True)
class LayoutRanges:
    """The family a layout is drawn from (one for training, one for the novel-rig test).

    Intervals are closed, in the units of their names; a tuple of intervals is their union. A family
    with ``novel_of`` set is a *novel* family: each camera draws a non-empty random subset of
    (distance, height, hfov) from this family's intervals and the rest from ``novel_of``'s.
    """

    camera_counts: tuple[int, ...]  # allowed numbers of cameras
    distance_mm: tuple[Interval, ...]  # horizontal distance camera → area centre, mm
    height_mm: tuple[Interval, ...]  # camera centre above the floor, mm
    hfov_deg: tuple[Interval, ...]  # horizontal field of view, deg (f = (w/2) / tan(hfov/2))
    roll_deg: float  # |roll about the optical axis| at most, deg
    image_sizes: tuple[tuple[int, int], ...]  # (width, height) px of real sensors
    principal_offset_frac: float  # |cx - (w-1)/2| <= frac * w, |cy - (h-1)/2| <= frac * h
    k1: Interval
    k2: Interval
    tangential: float  # |p1|, |p2| at most
    k3: Interval
    placements: tuple[str, ...]  # which placement kinds (of ALL_PLACEMENTS)
    name: str = "custom"
    novel_of: LayoutRanges | None = None
    #: Boxes of (distance mm, height mm, hfov deg) intervals no camera of this family falls in
    #: (a candidate inside one is redrawn): combinations held out for the novel-rig test.
    excluded: tuple[FactorBox, ...] = ()

    def __post_init__(self) -> None:
        where = f"layout ranges {self.name!r}"
        if not self.camera_counts or any(int(n) < 2 for n in self.camera_counts):
            raise InputError(f"{where}: camera_counts must be non-empty and each >= 2, got {self.camera_counts}")
        for label in ("distance_mm", "height_mm", "hfov_deg"):
            intervals = getattr(self, label)
            if not intervals or any(not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) for lo, hi in intervals):
                raise InputError(f"{where}: {label} must be a non-empty tuple of (lo, hi), lo < hi; got {intervals}")
        if any(lo <= 0 for lo, _ in self.distance_mm) or any(hi >= 180 or lo <= 0 for lo, hi in self.hfov_deg):
            raise InputError(f"{where}: distances must be > 0 mm and fields of view within (0, 180) deg")
        for label in ("k1", "k2", "k3"):
            lo, hi = getattr(self, label)
            if lo > hi:
                raise InputError(f"{where}: {label} must be (lo, hi) with lo <= hi, got {(lo, hi)}")
        if self.roll_deg < 0 or self.tangential < 0 or not 0 <= self.principal_offset_frac < 0.5:
            raise InputError(f"{where}: roll_deg and tangential must be >= 0, principal_offset_frac in [0, 0.5)")
        if not self.image_sizes or any(int(w) <= 0 or int(h) <= 0 for w, h in self.image_sizes):
            raise InputError(f"{where}: image_sizes must be non-empty (width, height) > 0, got {self.image_sizes}")
        unknown = [p for p in self.placements if p not in ALL_PLACEMENTS]
        if not self.placements or unknown:
            raise InputError(f"{where}: placements must be a non-empty subset of {list(ALL_PLACEMENTS)}, "
                             f"got {unknown}")
        for n in self.camera_counts:
            if not _placements_for(int(n), self.placements):
                raise InputError(f"{where}: no placement in {self.placements} can lay out {n} cameras")


TRAIN_LAYOUTS = LayoutRanges(
    name="train",
    camera_counts=(3, 4, 5, 6, 7, 8),
    distance_mm=((2500.0, 7000.0),),
    height_mm=((500.0, 2500.0),),  # knee level to a ceiling
    hfov_deg=((40.0, 85.0),),
    roll_deg=6.0,
    image_sizes=(
        (1000, 1000), (1920, 1080), (1280, 720), (1600, 1200), (1280, 1024),
        (2048, 1536), (1288, 964), (1024, 1024), (640, 480), (2448, 2048),
    ),
    principal_offset_frac=0.03,
    k1=(-0.35, 0.05),
    k2=(-0.05, 0.30),
    tangential=0.002,
    k3=(-0.02, 0.02),
    placements=PLACEMENTS,
)

NOVEL_LAYOUTS = LayoutRanges(
    name="novel",
    camera_counts=(2, 9, 10),
    distance_mm=((2000.0, 2500.0), (7000.0, 9000.0)),
    height_mm=((2500.0, 3500.0),),  # a high ceiling
    hfov_deg=((30.0, 40.0), (85.0, 100.0)),
    roll_deg=6.0,
    image_sizes=(*TRAIN_LAYOUTS.image_sizes, (3840, 2160), (720, 1280), (1080, 1920)),
    principal_offset_frac=0.03,
    k1=(-0.35, 0.05),
    k2=(-0.05, 0.30),
    tangential=0.002,
    k3=(-0.02, 0.02),
    placements=PLACEMENTS,
    novel_of=TRAIN_LAYOUTS,
)


#: Combinations of factors inside the wide ranges that no wide training camera takes (the held-out
#: novel-rig test draws every camera of a layout from one of them): a wide-angle camera at knee
#: height, and a narrow lens far away and low. Real studios rarely mount either; the real layouts
#: that matter most (domes, ceiling rooms, close and high cameras) stay in training.
HELD_OUT_BOXES: tuple[FactorBox, ...] = (
    FactorBox("low_wide", distance_mm=(1500.0, 9000.0), height_mm=(300.0, 900.0), hfov_deg=(85.0, 100.0)),
    FactorBox("far_low_narrow", distance_mm=(7000.0, 9000.0), height_mm=(300.0, 1000.0), hfov_deg=(30.0, 40.0)),
)

#: The wide training family (issue 38): ranges that span real studios, 1.5–9 m away, 0.3 m to a
#: 3.5 m ceiling looking steeply down, 30–100° fields of view, 2–12 cameras, rings, arcs, domes and
#: rooms; minus :data:`HELD_OUT_BOXES` and the :data:`HELD_OUT_PLACEMENTS`, which the novel-rig test
#: holds out *inside* these ranges.
WIDE_TRAIN_LAYOUTS = LayoutRanges(
    name="train-wide",
    camera_counts=tuple(range(2, 13)),
    distance_mm=((1500.0, 9000.0),),
    height_mm=((300.0, 3500.0),),
    hfov_deg=((30.0, 100.0),),
    roll_deg=6.0,
    image_sizes=(*TRAIN_LAYOUTS.image_sizes, (3840, 2160), (2560, 1440)),
    principal_offset_frac=0.03,
    k1=(-0.35, 0.05),
    k2=(-0.05, 0.30),
    tangential=0.002,
    k3=(-0.02, 0.02),
    placements=PLACEMENTS + STRUCTURED_PLACEMENTS,
    excluded=HELD_OUT_BOXES,
)

#: Novel rigs inside the wide ranges, by placement: lines and stacked pairs (no training layout's).
HELD_OUT_PLACEMENT_LAYOUTS = dataclasses.replace(WIDE_TRAIN_LAYOUTS, name="held-out-placement",
                                                 placements=HELD_OUT_PLACEMENTS, excluded=())
#: Novel rigs inside the wide ranges, by combination: every camera in one held-out box.
HELD_OUT_BOX_LAYOUTS: tuple[LayoutRanges, ...] = tuple(
    dataclasses.replace(WIDE_TRAIN_LAYOUTS, name=f"held-out-{box.name}", distance_mm=(box.distance_mm,),
                        height_mm=(box.height_mm,), hfov_deg=(box.hfov_deg,), excluded=())
    for box in HELD_OUT_BOXES
)

#: Beyond the wide ranges (the extrapolation test): each camera outside them in at least one of
#: distance (1.0–1.5 m or 9–12 m), height (3.5–5 m) and field of view (20–30° or 100–115°), and
#: 13–16 cameras.
EXTRAPOLATED_LAYOUTS = dataclasses.replace(
    WIDE_TRAIN_LAYOUTS, name="extrapolated", camera_counts=(13, 14, 15, 16),
    distance_mm=((1000.0, 1500.0), (9000.0, 12000.0)), height_mm=((3500.0, 5000.0),),
    hfov_deg=((20.0, 30.0), (100.0, 115.0)), excluded=(), novel_of=WIDE_TRAIN_LAYOUTS,
)


@dataclass(frozen=True)
class Layout:
    """A sampled layout: full-frame cameras named ``f"{prefix}_{i}"`` and how they were drawn.

    ``novel_factors[i]`` names the factors of camera ``i`` drawn from the novel intervals (a subset of
    ``("distance", "height", "hfov")``, never empty in a novel family; ``()`` for a training camera).
    """

    cameras: list[Camera]
    placement: str
    novel_factors: tuple[tuple[str, ...], ...]
    family: str = "train"

    @property
    def is_novel(self) -> bool:
        """True when any camera has a novel factor."""
        return any(self.novel_factors)

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable record: the placement and, per camera, its measured factors (mm, deg),
        image size (px), focal length (px) and which factors were novel."""
        cameras = []
        for cam, novel in zip(self.cameras, self.novel_factors, strict=True):
            record: dict[str, Any] = {"name": cam.name}
            record.update({k: round(v, 3) for k, v in camera_factors(cam).items()})
            record["image_size"] = [int(s) for s in cam.image_size]
            record["focal_px"] = round(float(cam.K[0, 0]), 3)
            record["novel_factors"] = list(novel)
            cameras.append(record)
        return {
            "family": self.family,
            "placement": self.placement,
            "camera_count": len(self.cameras),
            "cameras": cameras,
        }


# ---------------------------------------------------------------------------------------------- measuring


def camera_factors(camera: Camera) -> dict[str, float]:
    """The layout factors of a camera, measured back from its ``K``, ``R``, ``t`` and image size.

    Returns ``distance_mm`` (horizontal distance of its centre from the world Z axis), ``height_mm``
    (its centre's z), ``azimuth_deg`` (of its centre about Z, from +X towards +Y, in [0, 360)),
    ``hfov_deg`` (``2 atan((w/2) / fx)``), ``pitch_deg`` (elevation of the optical axis below the
    horizon; positive looks down) and ``roll_deg`` (rotation about the optical axis away from an
    upright image: ``R = Rz(roll) R_upright``, with ``Rz`` the rotation about the camera z axis).
    """
    centre = camera.center
    forward, right = camera.R[2], camera.R[0]
    right0 = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right0) < 1e-9:
        raise InputError(f"camera {camera.name!r}: looks straight up or down; roll is undefined")
    right0 /= np.linalg.norm(right0)
    down0 = np.cross(forward, right0)
    width = camera.image_size[0]
    return {
        "distance_mm": float(np.hypot(centre[0], centre[1])),
        "height_mm": float(centre[2]),
        "azimuth_deg": float(math.degrees(math.atan2(centre[1], centre[0])) % 360.0),
        "hfov_deg": float(math.degrees(2.0 * math.atan((width / 2.0) / camera.K[0, 0]))),
        "pitch_deg": float(math.degrees(math.asin(float(np.clip(-forward[2], -1.0, 1.0))))),
        "roll_deg": float(math.degrees(math.atan2(-float(right @ down0), float(right @ right0)))),
    }


def _in_union(value: float, intervals: tuple[Interval, ...], tol: float) -> bool:
    return any(lo - tol <= value <= hi + tol for lo, hi in intervals)


def in_ranges(factors: dict[str, float], ranges: LayoutRanges, tol: float = 1e-6) -> bool:
    """Whether one camera's ``factors`` (as :func:`camera_factors`) lie in the family ``ranges``.

    For a plain family: distance, height and hfov each in their intervals and ``|roll| <= roll_deg``
    (closed, ``tol`` for rounding). For a novel family (``novel_of`` set): each factor in this family's
    or ``novel_of``'s intervals, at least one of distance, height, hfov in this family's and not in
    ``novel_of``'s — so a camera of a novel family is never in its base family.
    """
    keys = {"distance": "distance_mm", "height": "height_mm", "hfov": "hfov_deg"}
    missing = [k for k in (*keys.values(), "roll_deg") if k not in factors]
    if missing:
        raise InputError(f"in_ranges: factors lack {missing}; pass camera_factors(camera)")
    if abs(factors["roll_deg"]) > ranges.roll_deg + tol:
        return False
    if ranges.novel_of is None:
        excluded = any(bool(box.contains(factors["distance_mm"], factors["height_mm"], factors["hfov_deg"], -tol))
                       for box in ranges.excluded)
        return not excluded and all(_in_union(factors[k], getattr(ranges, k), tol) for k in keys.values())
    base = ranges.novel_of
    novel_any = False
    for k in keys.values():
        own = _in_union(factors[k], getattr(ranges, k), tol)
        in_base = _in_union(factors[k], getattr(base, k), tol)
        if not (own or in_base):
            return False
        novel_any = novel_any or (own and not in_base)
    return novel_any and abs(factors["roll_deg"]) <= base.roll_deg + tol


# ---------------------------------------------------------------------------------------------- placements

def _evenly(rng: np.random.Generator, n: int, span: float, jitter_frac: float) -> np.ndarray:
    """``n`` azimuths over ``[0, span]`` deg: the ends fixed, inner ones jittered by a fraction of the gap."""
    gap = span / (n - 1)
    az = np.linspace(0.0, span, n)
    az[1:-1] += rng.uniform(-jitter_frac, jitter_frac, n - 2) * gap
    return az


def _max_separation(az_deg: np.ndarray) -> float:
    """The largest circular difference between two azimuths, deg in [0, 180]."""
    d = np.abs(az_deg[:, None] - az_deg[None]) % 360.0
    return float(np.minimum(d, 360.0 - d).max())


def _azimuths(rng: np.random.Generator, placement: str, n: int) -> np.ndarray:
    """(n,) camera azimuths in deg for one placement kind; two of them at least ``_SPREAD_DEG`` apart."""
    base = rng.uniform(0.0, 360.0)
    if placement == "ring":  # spread over 360° with jitter of up to 30 % of the gap
        gap = 360.0 / n
        az = np.arange(n) * gap + rng.uniform(-0.3, 0.3, n) * gap
    elif placement == "arc":  # spread over 90–200°
        az = _evenly(rng, n, rng.uniform(90.0, 200.0), 0.3)
    elif placement == "one_sided":  # within a sector of 60–90°
        az = _evenly(rng, n, rng.uniform(60.0, 90.0), 0.3)
    elif placement == "asymmetric":  # anywhere, no two closer than _MIN_SEPARATION_DEG
        for _ in range(16):
            # n points on a circle of 360 - n*s, sorted, then spaced out by s: uniform under the constraint.
            free = np.sort(rng.uniform(0.0, 360.0 - n * _MIN_SEPARATION_DEG, n))
            az = free + np.arange(n) * _MIN_SEPARATION_DEG
            if _max_separation(az) >= _SPREAD_DEG:
                break
        else:  # pragma: no cover - (16 misses in a row is below 1e-6 even for n = 2)
            az[-1] = az[0] + 180.0
    elif placement == "wall_cluster":  # 2–3 cameras within 40° on one wall, the rest anywhere
        k = min(int(rng.integers(2, 4)), n - 1)
        cluster = rng.uniform(-20.0, 20.0, k)
        elsewhere = rng.uniform(0.0, 360.0, n - k)
        elsewhere[0] = rng.uniform(70.0, 290.0)  # one camera off the wall: spread for triangulation
        az = np.concatenate([cluster, elsewhere])
    else:
        raise InputError(f"unknown placement {placement!r}; choose one of {list(PLACEMENTS)}")
    return (az + base) % 360.0


@dataclass(frozen=True)
class _Structure:
    """Where a structured placement puts each camera: azimuths (n,) deg and, per camera, the
    interval its distance and its height are drawn from (n, 2) mm each."""

    azimuth: np.ndarray
    distance: np.ndarray
    height: np.ndarray


def _span(intervals: tuple[Interval, ...]) -> Interval:
    return min(lo for lo, _ in intervals), max(hi for _, hi in intervals)


def _around(values: np.ndarray, half: Any, bounds: Interval) -> np.ndarray:
    """(n, 2) intervals ``values ± half`` clipped to ``bounds`` (never empty)."""
    lo = np.clip(values - half, bounds[0], bounds[1] - 1.0)
    hi = np.clip(values + half, lo + 1.0, bounds[1])
    return np.stack([lo, hi], -1)


def _structured(rng: np.random.Generator, placement: str, n: int, ranges: LayoutRanges) -> _Structure:
    """The azimuths, distances and heights of the structured placements (``STRUCTURED_PLACEMENTS``,
    ``HELD_OUT_PLACEMENTS``), within the family's distance and height ranges."""
    d_span, h_span = _span(ranges.distance_mm), _span(ranges.height_mm)
    base = rng.uniform(0.0, 360.0)
    if placement == "dome":  # 2–3 rings at one distance, each at its own height
        tiers = 2 if n < 6 else int(rng.integers(2, 4))
        radius = float(_draw_union(rng, ranges.distance_mm, 1)[0])
        low = rng.uniform(h_span[0], h_span[0] + 0.4 * (h_span[1] - h_span[0]))
        high = rng.uniform(h_span[1] - 0.3 * (h_span[1] - h_span[0]), h_span[1])
        tier = np.arange(n) % tiers
        heights = np.linspace(low, high, tiers)[tier]
        azimuth = np.empty(n)
        for k in range(tiers):
            members = np.flatnonzero(tier == k)
            gap = 360.0 / len(members)
            azimuth[members] = (np.arange(len(members)) * gap + rng.uniform(-0.2, 0.2, len(members)) * gap
                                + rng.uniform(0.0, gap))
        distance = np.full(n, radius)
        d_half, h_half = 0.05 * radius, 100.0
    elif placement == "room":  # near the ceiling: the four corners first, then points on the walls
        width, depth = rng.uniform(3000.0, 12000.0, 2)
        ceiling = rng.uniform(max(h_span[0] + 300.0, min(2400.0, h_span[1] - 300.0)), h_span[1])
        corners = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64) * [width / 2, depth / 2]
        points = [corners[k] for k in rng.permutation(4)[: min(n, 4)]]
        for _ in range(n - len(points)):
            side = int(rng.integers(0, 4))
            u = rng.uniform(-0.8, 0.8)
            points.append(np.array([[width / 2, u * depth / 2], [-width / 2, u * depth / 2],
                                    [u * width / 2, depth / 2], [u * width / 2, -depth / 2]][side]))
        xy = np.array(points)
        azimuth, distance = np.degrees(np.arctan2(xy[:, 1], xy[:, 0])), np.hypot(xy[:, 0], xy[:, 1])
        heights = ceiling - rng.uniform(0.0, 300.0, n)
        d_half, h_half = 0.02 * distance, 50.0
    elif placement == "line":  # in a row along one wall, at one height
        wall = float(rng.uniform(d_span[0], min(d_span[1], max(d_span[0] + 1.0, 0.75 * d_span[1]))))
        half = wall * math.tan(math.radians(rng.uniform(25.0, 55.0)))
        x = np.linspace(-half, half, n) + (rng.uniform(-0.2, 0.2, n) * 2 * half / max(n - 1, 1) if n > 2 else 0.0)
        azimuth, distance = np.degrees(np.arctan2(-wall, x)) + 90.0, np.hypot(x, wall)
        heights = np.full(n, rng.uniform(*h_span))
        d_half, h_half = 0.02 * distance, 100.0
    elif placement == "stacked":  # pairs one above the other, the pairs round a ring or an arc
        pairs = (n + 1) // 2
        spread = 360.0 if rng.random() < 0.5 else rng.uniform(90.0, 200.0)
        posts = np.linspace(0.0, spread, pairs, endpoint=spread >= 360.0) + rng.uniform(-5.0, 5.0, pairs)
        azimuth = np.repeat(posts, 2)[:n]
        distance = np.repeat(_draw_union(rng, ranges.distance_mm, pairs), 2)[:n]
        mid = 0.5 * (h_span[0] + h_span[1])
        heights = np.stack([rng.uniform(h_span[0], mid - 200.0, pairs),
                            rng.uniform(mid + 200.0, h_span[1], pairs)], -1).reshape(-1)[:n]
        d_half, h_half = 0.03 * distance, 100.0
    else:
        raise InputError(f"unknown structured placement {placement!r}; choose one of "
                         f"{list(STRUCTURED_PLACEMENTS + HELD_OUT_PLACEMENTS)}")
    return _Structure(azimuth=(np.asarray(azimuth, np.float64) + base) % 360.0,
                      distance=_around(np.asarray(distance, np.float64), d_half, d_span),
                      height=_around(np.asarray(heights, np.float64), h_half, h_span))


# ---------------------------------------------------------------------------------------------- cameras

_CANDIDATES = 16  # candidates drawn per missing camera and round (vectorised)
_ROUNDS = 32  # rounds before giving up
_EDGE_FRAC = 1e-3  # draws keep this fraction of an interval's width away from its ends
_AIM_HORIZONTAL_MM = 300.0
_AIM_VERTICAL_MM = 200.0
_BORDER_FRAC = 0.01  # the centre body stays this fraction of the image size inside the border
_FY_REL = 0.002  # fy = fx (1 ± 0.2 %)
#: A standing person: feet, pelvis and head top heights (mm) and a body radius (mm) around the pelvis axis.
_BODY_Z_MM = (100.0, 950.0, 1800.0)
_BODY_RADIUS_MM = 200.0
_AREA_POINTS = 12  # positions on the area's edge whose depth is checked


def _draw_union(rng: np.random.Generator, intervals: tuple[Interval, ...], size: int) -> np.ndarray:
    """``size`` draws uniform over a union of intervals (each shrunk by ``_EDGE_FRAC`` of its width)."""
    lo = np.array([a for a, _ in intervals], dtype=np.float64)
    hi = np.array([b for _, b in intervals], dtype=np.float64)
    edge = _EDGE_FRAC * (hi - lo)
    lo, hi = lo + edge, hi - edge
    widths = hi - lo
    starts = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    u = rng.uniform(0.0, widths.sum(), size)
    idx = np.clip(np.searchsorted(starts, u, side="right") - 1, 0, len(widths) - 1)
    return lo[idx] + np.minimum(u - starts[idx], widths[idx])


def _body_points() -> np.ndarray:
    """(P, 3) world mm: a standing person at the area centre (axis points and a ring at each height)."""
    angles = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
    points = []
    for z in _BODY_Z_MM:
        points.append([0.0, 0.0, z])
        points.extend([_BODY_RADIUS_MM * math.cos(a), _BODY_RADIUS_MM * math.sin(a), z] for a in angles)
    return np.array(points)


def _area_points(area_radius_mm: float) -> np.ndarray:
    """(Q, 3) world mm: feet, pelvis and head top at the centre and on the area's edge."""
    angles = np.linspace(0.0, 2.0 * np.pi, _AREA_POINTS, endpoint=False)
    xy = np.concatenate([[[0.0, 0.0]], area_radius_mm * np.stack([np.cos(angles), np.sin(angles)], -1)])
    return np.array([[x, y, z] for x, y in xy for z in _BODY_Z_MM])


@dataclass(frozen=True)
class _Candidates:
    """N candidate cameras as arrays (world mm, px), before validation."""

    R: np.ndarray  # (N, 3, 3) world → camera
    eye: np.ndarray  # (N, 3) camera centres, world mm
    K: np.ndarray  # (N, 3, 3)
    dist: np.ndarray  # (N, 5) k1, k2, p1, p2, k3
    size: np.ndarray  # (N, 2) width, height px
    novel_mask: np.ndarray  # (N, 3) bool: distance, height, hfov drawn from the novel intervals


def _draw_candidates(
    rng: np.random.Generator, azimuth_deg: np.ndarray, ranges: LayoutRanges, target_z_mm: float,
    within: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Candidates:
    """One candidate camera per entry of ``azimuth_deg`` (N,), all factors drawn from ``ranges``;
    ``within``: per candidate (N, 2) intervals of distance and height that replace the family's
    (a structured placement's), a novel factor still drawn from the novel intervals."""
    n = azimuth_deg.shape[0]
    base = ranges.novel_of
    if base is None:
        novel_mask = np.zeros((n, 3), dtype=bool)
        base = ranges
    else:  # a non-empty subset of (distance, height, hfov), uniform over the 7 subsets
        bits = rng.integers(1, 8, n)
        novel_mask = ((bits[:, None] >> np.arange(3)) & 1).astype(bool)
    factors = []
    for j, label in enumerate(("distance_mm", "height_mm", "hfov_deg")):
        if within is not None and j < 2:
            value = rng.uniform(within[j][:, 0], within[j][:, 1])
        else:
            value = _draw_union(rng, getattr(base, label), n)
        if ranges.novel_of is not None:
            value = np.where(novel_mask[:, j], _draw_union(rng, getattr(ranges, label), n), value)
        factors.append(value)
    distance, height, hfov = factors
    roll_bound = ranges.roll_deg * (1.0 - _EDGE_FRAC)
    roll = np.radians(rng.uniform(-roll_bound, roll_bound, n))
    # Aim: a point near the area centre at about hip height, uniform in a disc horizontally.
    aim_r = _AIM_HORIZONTAL_MM * np.sqrt(rng.uniform(0.0, 1.0, n))
    aim_a = rng.uniform(0.0, 2.0 * np.pi, n)
    target = np.stack(
        [aim_r * np.cos(aim_a), aim_r * np.sin(aim_a), target_z_mm + rng.uniform(-1.0, 1.0, n) * _AIM_VERTICAL_MM],
        axis=-1,
    )
    az = np.radians(azimuth_deg)
    eye = np.stack([distance * np.cos(az), distance * np.sin(az), height], axis=-1)
    # Upright look-at (as Camera.look_at), then roll: R = Rz(roll) R_upright.
    forward = target - eye
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right0 = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right0 /= np.linalg.norm(right0, axis=-1, keepdims=True)
    down0 = np.cross(forward, right0)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    R = np.stack([c * right0 - s * down0, s * right0 + c * down0, forward], axis=-2)
    # Lens: the focal length from hfov and width; principal point and distortion within the ranges.
    sizes = np.array(ranges.image_sizes, dtype=np.float64)[rng.integers(0, len(ranges.image_sizes), n)]
    fx = (sizes[:, 0] / 2.0) / np.tan(np.radians(hfov) / 2.0)
    fy = fx * (1.0 + rng.uniform(-_FY_REL, _FY_REL, n))
    offset = rng.uniform(-1.0, 1.0, (n, 2)) * ranges.principal_offset_frac * (1.0 - _EDGE_FRAC) * sizes
    K = np.zeros((n, 3, 3))
    K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = fx, fy, 1.0
    K[:, :2, 2] = (sizes - 1.0) / 2.0 + offset
    dist = np.stack(
        [
            rng.uniform(*ranges.k1, n),
            rng.uniform(*ranges.k2, n),
            rng.uniform(-ranges.tangential, ranges.tangential, n),
            rng.uniform(-ranges.tangential, ranges.tangential, n),
            rng.uniform(*ranges.k3, n),
        ],
        axis=-1,
    )
    return _Candidates(R=R, eye=eye, K=K, dist=dist, size=sizes, novel_mask=novel_mask)


def _project(cand: _Candidates, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth (N, P) mm and distorted pixels (N, P, 2) of world ``points`` (P, 3) in every candidate."""
    cam = np.einsum("nij,pj->npi", cand.R, points) - np.einsum("nij,nj->ni", cand.R, cand.eye)[:, None]
    z = cam[..., 2]
    safe = np.where(z > 0, z, 1.0)
    x, y = cam[..., 0] / safe, cam[..., 1] / safe
    k1, k2, p1, p2, k3 = (cand.dist[:, i : i + 1] for i in range(5))
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    u = cand.K[:, 0, 0:1] * xd + cand.K[:, 0, 2:3]
    v = cand.K[:, 1, 1:2] * yd + cand.K[:, 1, 2:3]
    return z, np.stack([u, v], axis=-1)


_RADII = np.linspace(0.0, 4.0, 401)  # normalised radii on which the distortion's monotonicity is checked


def _distortion_reaches_corners(cand: _Candidates) -> np.ndarray:
    """(N,) bool: the radial distortion r ↦ r (1 + k1 r² + k2 r⁴ + k3 r⁶) increases until it reaches the
    farthest image corner (normalised), so no point outside the view folds back into the image."""
    corners = np.stack(
        [np.zeros_like(cand.size), np.stack([cand.size[:, 0] - 1, np.zeros(len(cand.size))], -1),
         np.stack([np.zeros(len(cand.size)), cand.size[:, 1] - 1], -1), cand.size - 1],
        axis=1,
    )  # (N, 4, 2)
    focal = np.stack([cand.K[:, 0, 0], cand.K[:, 1, 1]], -1)[:, None]
    reach = np.linalg.norm((corners - cand.K[:, None, :2, 2]) / focal, axis=-1).max(axis=1)  # (N,)
    k1, k2, k3 = (cand.dist[:, i : i + 1] for i in (0, 1, 4))
    r2 = _RADII**2
    rd = _RADII * (1 + r2 * (k1 + r2 * (k2 + r2 * k3)))  # (N, G)
    slope = 1 + r2 * (3 * k1 + r2 * (5 * k2 + r2 * 7 * k3))
    monotone = np.cumprod(slope > 0.05, axis=1).astype(bool)
    return np.any(monotone & (rd >= 1.02 * reach[:, None]), axis=1)


def _valid(cand: _Candidates, body: np.ndarray, area: np.ndarray, excluded: tuple[FactorBox, ...] = ()) -> np.ndarray:
    """(N,) bool: the candidate sees the area in front of it and the centre body inside its image."""
    depth_area, _ = _project(cand, area)
    depth_body, pix = _project(cand, body)
    border = _BORDER_FRAC * cand.size[:, None]  # (N, 1, 2)
    inside = np.all((pix >= border) & (pix <= cand.size[:, None] - 1 - border), axis=(1, 2))
    in_front = np.all(depth_area > 1.0, axis=1) & np.all(depth_body > 1.0, axis=1)
    return in_front & inside & _distortion_reaches_corners(cand) & ~_excluded(cand, excluded)


def _excluded(cand: _Candidates, boxes: tuple[FactorBox, ...]) -> np.ndarray:
    """(N,) bool: the candidate's distance, height and field of view lie in one of ``boxes``."""
    out = np.zeros(len(cand.eye), dtype=bool)
    if boxes:
        distance, height = np.hypot(cand.eye[:, 0], cand.eye[:, 1]), cand.eye[:, 2]
        hfov = np.degrees(2.0 * np.arctan((cand.size[:, 0] / 2.0) / cand.K[:, 0, 0]))
        for box in boxes:
            out |= box.contains(distance, height, hfov)
    return out


def sample_layout(
    rng: np.random.Generator,
    ranges: LayoutRanges = TRAIN_LAYOUTS,
    *,
    prefix: str = "cam",
    target_z_mm: float = 950.0,
    area_radius_mm: float = 1500.0,
    novel: bool = False,
) -> Layout:
    """Draw one camera layout from the family ``ranges`` (world mm, Z up, area centred on the origin).

    Args:
        rng: the only source of randomness; the same generator state gives the same layout.
        ranges: the family. ``novel=True`` with the default ``TRAIN_LAYOUTS`` means ``NOVEL_LAYOUTS``.
        prefix: cameras are named ``f"{prefix}_{i}"``, i = 0 … n-1.
        target_z_mm: the height the cameras aim at (± 200 mm), about a standing person's hips.
        area_radius_mm: the subject's pelvis stays within this horizontal distance of the origin; a person
            there is in front of every camera (but may leave a narrow camera's frame).
        novel: draw a novel-rig layout; requires a novel family (one with ``novel_of``).

    Returns:
        A :class:`Layout` with full-frame :class:`Camera` objects (K in px, R, t world mm → camera mm).

    Raises:
        InputError: bad arguments, a family that does not match ``novel``, or ranges from which no valid
            camera can be drawn (e.g. an area larger than the cameras' distance).
    """
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"sample_layout: rng must be a numpy Generator, got {type(rng).__name__}")
    if novel and ranges is TRAIN_LAYOUTS:
        ranges = NOVEL_LAYOUTS
    if novel != (ranges.novel_of is not None):
        want = "a novel family such as NOVEL_LAYOUTS" if novel else "novel=True for a novel family"
        raise InputError(f"sample_layout: novel={novel} but ranges {ranges.name!r} is "
                         f"{'not ' if ranges.novel_of is None else ''}a novel family; pass {want}")
    if not (area_radius_mm >= 0 and math.isfinite(area_radius_mm) and math.isfinite(target_z_mm)):
        raise InputError(f"sample_layout: area_radius_mm must be >= 0 and finite, got {area_radius_mm}")
    body, area = _body_points(), _area_points(area_radius_mm)
    counts = np.array(ranges.camera_counts)
    for _ in range(8):  # the spread of the placements makes one attempt enough for the built-in families
        n = int(rng.choice(counts))
        placement = str(rng.choice(_placements_for(n, ranges.placements)))
        if placement in PLACEMENTS:
            azimuth, within = _azimuths(rng, placement, n), None
        else:
            structure = _structured(rng, placement, n, ranges)
            azimuth, within = structure.azimuth, (structure.distance, structure.height)
        cams, novel_factors = _draw_cameras(rng, azimuth, ranges, target_z_mm, body, area, prefix, within)
        if _max_view_angle_deg(cams, target_z_mm) >= _TRIANGULATION_DEG:
            return Layout(cameras=cams, placement=placement, novel_factors=novel_factors, family=ranges.name)
    raise InputError(  # pragma: no cover - not reached by the built-in families
        f"sample_layout: ranges {ranges.name!r} gave no layout with two views >= {_TRIANGULATION_DEG}° apart"
    )


def _draw_cameras(
    rng: np.random.Generator,
    azimuth: np.ndarray,
    ranges: LayoutRanges,
    target_z_mm: float,
    body: np.ndarray,
    area: np.ndarray,
    prefix: str,
    within: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[Camera], tuple[tuple[str, ...], ...]]:
    """One valid camera per azimuth: rounds of ``_CANDIDATES`` vectorised draws for the still missing ones
    (``within``: per camera, the (n, 2) distance and height intervals of a structured placement)."""
    n = azimuth.shape[0]
    chosen: list[tuple[_Candidates, int] | None] = [None] * n
    for _ in range(_ROUNDS):
        missing = [i for i in range(n) if chosen[i] is None]
        if not missing:
            break
        rows = None if within is None else tuple(np.repeat(w[missing], _CANDIDATES, axis=0) for w in within)
        cand = _draw_candidates(rng, np.repeat(azimuth[missing], _CANDIDATES), ranges, target_z_mm, rows)
        ok = _valid(cand, body, area, ranges.excluded).reshape(len(missing), _CANDIDATES)
        for row, i in enumerate(missing):
            hits = np.flatnonzero(ok[row])
            if hits.size:
                chosen[i] = (cand, row * _CANDIDATES + int(hits[0]))
    if any(c is None for c in chosen):
        raise InputError(
            f"sample_layout: no valid camera in {_ROUNDS * _CANDIDATES} draws from ranges {ranges.name!r} "
            "(a standing person at the centre must be in the image and the whole area in front of the camera)"
        )
    cameras, novel_factors = [], []
    for i, pick in enumerate(chosen):
        cand, k = pick  # type: ignore[misc]
        R = cand.R[k]
        cameras.append(Camera(
            K=cand.K[k], R=R, t=-R @ cand.eye[k], dist=cand.dist[k],
            image_size=(int(cand.size[k, 0]), int(cand.size[k, 1])), name=f"{prefix}_{i}",
        ))
        novel_factors.append(tuple(f for f, m in zip(NOVEL_FACTOR_NAMES, cand.novel_mask[k], strict=True) if m))
    return cameras, tuple(novel_factors)


def _max_view_angle_deg(cameras: list[Camera], target_z_mm: float) -> float:
    """The largest angle (deg) between the directions from the aim height at the centre to two cameras."""
    d = np.stack([c.center for c in cameras]) - np.array([0.0, 0.0, target_z_mm])
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return float(np.degrees(np.arccos(np.clip(d @ d.T, -1.0, 1.0))).max())
