"""World axes and units of imported data: which axis is up, and how many millimetres a unit is.

poseboard's worlds are millimetres with Z up and the floor at z = 0. Data from outside
(calibrations, motion capture) come with their own up axis (Y up in BVH and OpenCV-style
worlds, Y down in CMU Panoptic) and units; this module holds the one rotation and the one
unit table both importers use.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from poseboard.errors import InputError

Up = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
UPS: tuple[str, ...] = get_args(Up)
Units = Literal["mm", "cm", "m", "in"]
#: millimetres per unit
MM_PER_UNIT: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4}


def parse_up(value: str | None, what: str = "--up") -> Up | None:
    """``"y"``/``"+Y"``/``"-z"`` … → one of :data:`UPS` (None stays None)."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("x", "y", "z"):
        v = "+" + v
    if v not in UPS:
        raise InputError(f"{what}: {value!r} is not an axis; choose one of {list(UPS)} (the world axis pointing up)")
    return v  # type: ignore[return-value]


def parse_units(value: str | None, what: str = "--units") -> Units | None:
    """``"mm"``/``"cm"``/``"m"``/``"in"`` (also ``"metres"``, ``"millimeters"``, …) or None."""
    if value is None:
        return None
    aliases = {"millimetres": "mm", "millimeters": "mm", "centimetres": "cm", "centimeters": "cm",
               "metres": "m", "meters": "m", "meter": "m", "metre": "m", "inch": "in", "inches": "in"}
    v = aliases.get(value.strip().lower(), value.strip().lower())
    if v not in MM_PER_UNIT:
        raise InputError(f"{what}: {value!r} is not a unit; choose one of {list(MM_PER_UNIT)}")
    return v  # type: ignore[return-value]


def up_to_z(up: Up) -> np.ndarray:
    """The (3, 3) proper rotation W with ``W @ e_up = +Z`` that turns a world whose ``up`` axis
    points up into a Z-up one (points: ``X' = W X``; cameras: ``R' = R Wᵀ``).

    A rotation by 90° about the horizontal axis that keeps the handedness; ``"+z"`` gives I.

    Example:
        >>> up_to_z("-y") @ np.array([0.0, -1.0, 0.0])
        array([0., 0., 1.])
    """
    table = {
        "+z": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "-z": [[1, 0, 0], [0, -1, 0], [0, 0, -1]],
        "+y": [[1, 0, 0], [0, 0, -1], [0, 1, 0]],
        "-y": [[1, 0, 0], [0, 0, 1], [0, -1, 0]],
        "+x": [[0, 0, -1], [0, 1, 0], [1, 0, 0]],
        "-x": [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],
    }
    return np.array(table[up], dtype=np.float64)


def dominant_axis(direction: np.ndarray) -> tuple[Up, float]:
    """The signed world axis closest to ``direction`` (3,), and the cosine between them."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    axis = int(np.argmax(np.abs(d)))
    sign = "+" if d[axis] >= 0 else "-"
    return f"{sign}{'xyz'[axis]}", float(abs(d[axis]))  # type: ignore[return-value]
