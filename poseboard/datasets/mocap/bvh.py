"""BVH (Biovision hierarchy) files: parsing and forward kinematics.

A BVH file is a joint hierarchy followed by motion::

    HIERARCHY
    ROOT Hips
    {
        OFFSET 0.0 0.0 0.0
        CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
        JOINT LeftUpLeg
        {
            OFFSET 9.0 0.0 0.0
            CHANNELS 3 Zrotation Xrotation Yrotation
            End Site
            {
                OFFSET 0.0 -40.0 0.0
            }
        }
    }
    MOTION
    Frames: 2
    Frame Time: 0.0333333
    <one line of values per frame, in the order of the CHANNELS above>

**Kinematics** (:func:`forward_kinematics`). A joint's local rotation is the product of its
rotation channels in the order they are listed (``Zrotation Xrotation Yrotation`` gives
``Rz(a) Rx(b) Ry(c)``, angles in degrees: intrinsic rotations, as the Biovision format and
its exporters mean them). Its position in its parent's frame is its ``OFFSET``; where it has
position channels (the root always; every joint in some MotionBuilder exports), those
channels replace the matching ``OFFSET`` components. A joint's world position is
``p_parent + R_parent_world · local_position`` and its world rotation
``R_parent_world · R_local``. ``End Site`` blocks become joints named ``<parent>_End``.

Every malformed input raises :class:`BvhError` naming the file, the line and the joint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseboard.errors import InputError

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


class BvhError(InputError):
    """A BVH file cannot be imported; the message names the file, the line and the joint."""


@dataclass(frozen=True)
class BvhJoint:
    """One joint: ``parent`` index (-1 for the root), ``offset`` (3,) in the file's units,
    ``channels`` (canonical spellings of :data:`CHANNEL_NAMES`), ``first`` = the column of its
    first channel in a motion line, ``end_site`` True for an ``End Site``."""

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...]
    first: int
    end_site: bool = False


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH file: joints (parents before children), ``frame_time`` seconds, and
    ``values`` (F, C) — one row per frame, one column per channel."""

    path: Path
    joints: list[BvhJoint]
    frame_time: float
    values: np.ndarray

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    def joint_of_column(self, column: int) -> str:
        """The joint whose channels hold ``column``."""
        for j in self.joints:
            if j.first <= column < j.first + len(j.channels):
                return j.name
        return self.joints[-1].name


class _Tokens:
    """Whitespace tokens with their line numbers."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0

    def error(self, problem: str, joint: str | None = None, fix: str = "") -> BvhError:
        line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 0
        where = f"{self.path}: line {line}: " + (f"joint {joint!r}: " if joint else "")
        return BvhError(where + problem + (f"; {fix}" if fix else ""))

    def next(self, joint: str | None, what: str) -> str:
        if self.pos >= len(self.items):
            raise self.error(f"the file ends where {what} was expected (truncated?)", joint,
                             "re-export the whole file")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, word: str, joint: str | None) -> None:
        tok = self.next(joint, repr(word))
        if tok != word:
            self.pos -= 1
            raise self.error(f"expected {word!r}, found {tok!r}", joint)

    def number(self, joint: str | None, what: str) -> float:
        tok = self.next(joint, what)
        try:
            value = float(tok)
        except ValueError:
            self.pos -= 1
            raise self.error(f"{what}: {tok!r} is not a number", joint) from None
        if not np.isfinite(value):
            self.pos -= 1
            raise self.error(f"{what} is {tok}", joint, "re-export without NaN/inf")
        return value


def _canonical_channel(tok: str) -> str | None:
    return next((c for c in CHANNEL_NAMES if c.lower() == tok.lower()), None)


def _parse_joint(tokens: _Tokens, name: str, parent: int, joints: list[BvhJoint], column: int, *,
                 end_site: bool = False) -> int:
    """Parse ``{ OFFSET … CHANNELS … children }`` of joint ``name``; returns the next free column."""
    if name in (j.name for j in joints):
        raise tokens.error("appears twice in the hierarchy", name, "give every joint its own name")
    tokens.expect("{", name)
    tokens.expect("OFFSET", name)
    offset = np.array([tokens.number(name, f"OFFSET {a}") for a in "xyz"])
    channels: tuple[str, ...] = ()
    if not end_site:
        tokens.expect("CHANNELS", name)
        count_tok = tokens.next(name, "the channel count")
        if not count_tok.isdigit():
            raise tokens.error(f"CHANNELS count {count_tok!r} is not a whole number", name)
        listed = []
        for _ in range(int(count_tok)):
            tok = tokens.next(name, "a channel name")
            chan = _canonical_channel(tok)
            if chan is None:
                raise tokens.error(f"CHANNELS says {count_tok} but {tok!r} is not a channel name "
                                   f"(one of {list(CHANNEL_NAMES)})", name, "fix the channel count or names")
            listed.append(chan)
        if len(set(listed)) != len(listed):
            raise tokens.error(f"a channel repeats in {listed}", name)
        channels = tuple(listed)
    index = len(joints)
    joints.append(BvhJoint(name=name, parent=parent, offset=offset, channels=channels, first=column,
                           end_site=end_site))
    column += len(channels)
    while True:
        tok = tokens.next(name, "'}', JOINT or End Site")
        if tok == "}":
            return column
        if end_site:
            tokens.pos -= 1
            raise tokens.error(f"an End Site holds only an OFFSET, found {tok!r}", name)
        if tok == "JOINT":
            child = tokens.next(name, "a joint name")
            column = _parse_joint(tokens, child, index, joints, column)
        elif tok == "End":
            tokens.expect("Site", name)
            column = _parse_joint(tokens, f"{name}_End", index, joints, column, end_site=True)
        else:
            tokens.pos -= 1
            raise tokens.error(f"expected '}}', JOINT or End Site, found {tok!r}", name)


def parse_bvh(path: str | Path) -> Bvh:
    """Read and check a BVH file (see the module docstring); raises :class:`BvhError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BvhError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BvhError(f"{path}: cannot read it as text ({exc})") from None
    lines = text.splitlines()
    try:
        motion_line = next(i for i, line in enumerate(lines) if line.strip().upper() == "MOTION")
    except StopIteration:
        raise BvhError(f"{path}: no MOTION section (truncated, or not a BVH file?)") from None
    tokens = _Tokens(path, lines[:motion_line])
    if not tokens.items or tokens.items[0][0] != "HIERARCHY":
        raise BvhError(f"{path}: line 1: expected HIERARCHY (is this a BVH file?)")
    tokens.pos = 1
    tokens.expect("ROOT", None)
    joints: list[BvhJoint] = []
    columns = _parse_joint(tokens, tokens.next(None, "the root's name"), -1, joints, 0)
    if tokens.pos < len(tokens.items):
        raise tokens.error(f"unexpected {tokens.items[tokens.pos][0]!r} after the root's closing brace "
                           "(one ROOT per file)")
    if columns == 0:
        raise BvhError(f"{path}: the hierarchy has no channels")
    # MOTION: "Frames: N", "Frame Time: t", then N lines
    head = [line.strip() for line in lines[motion_line + 1: motion_line + 3]]
    if len(head) < 2 or not head[0].lower().startswith("frames:") or not head[1].lower().startswith("frame time:"):
        raise BvhError(f"{path}: line {motion_line + 2}: expected 'Frames: N' and 'Frame Time: t' after MOTION")
    try:
        frames = int(head[0].split(":", 1)[1])
        frame_time = float(head[1].split(":", 1)[1])
    except ValueError:
        raise BvhError(f"{path}: line {motion_line + 2}: 'Frames' must be a whole number and 'Frame Time' "
                       f"a number, got {head[0]!r}, {head[1]!r}") from None
    if frames <= 0:
        raise BvhError(f"{path}: line {motion_line + 2}: 'Frames: {frames}': no motion to import")
    if not np.isfinite(frame_time) or not 0 < frame_time <= 1:  # over 1 s a frame, resampling multiplies the frames
        raise BvhError(f"{path}: line {motion_line + 3}: 'Frame Time: {frame_time}' must be a positive number of "
                       f"seconds, at most 1 (e.g. 0.0333333 for 30 fps)")
    body = [(n, line) for n, line in enumerate(lines[motion_line + 3:], start=motion_line + 4) if line.strip()]
    if len(body) < frames:
        raise BvhError(f"{path}: truncated: 'Frames: {frames}' but only {len(body)} motion lines follow; "
                       f"re-export the file (or correct 'Frames')")
    if len(body) > frames:
        raise BvhError(f"{path}: line {body[frames][0]}: {len(body)} motion lines but 'Frames: {frames}'; "
                       f"correct 'Frames'")
    values = np.empty((frames, columns))
    probe = Bvh(path, joints, frame_time, values)
    for k, (n, line) in enumerate(body):
        parts = line.split()
        if len(parts) != columns:
            where = (f"the line ends inside joint {probe.joint_of_column(len(parts))!r}'s channels"
                     if len(parts) < columns else
                     f"{len(parts) - columns} more than the channels up to the last joint, "
                     f"{probe.joint_of_column(columns - 1)!r}")
            raise BvhError(f"{path}: line {n}: frame {k} has {len(parts)} values but the hierarchy's channels "
                           f"are {columns}: {where}. The hierarchy and the motion disagree (truncated?): "
                           f"re-export the file")
        try:
            values[k] = [float(p) for p in parts]
        except ValueError:
            bad = next(i for i, p in enumerate(parts) if not _is_number(p))
            raise BvhError(f"{path}: line {n}: frame {k}: {parts[bad]!r} is not a number (joint "
                           f"{probe.joint_of_column(bad)!r})") from None
    bad = ~np.isfinite(values)
    if bad.any():
        k, col = (int(i) for i in np.argwhere(bad)[0])
        raise BvhError(f"{path}: line {body[k][0]}: frame {k}: NaN or inf in joint {probe.joint_of_column(col)!r}'s "
                       f"channels ({bad.any(axis=1).sum()} frame(s) affected); re-export without gaps or fill them")
    return probe


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def forward_kinematics(bvh: Bvh) -> np.ndarray:
    """(F, J, 3) world positions of every joint (End Sites included), in the file's units and axes.

    Example:
        >>> import tempfile, pathlib
        >>> text = ("HIERARCHY\\nROOT A\\n{\\nOFFSET 0 0 0\\nCHANNELS 6 Xposition Yposition Zposition "
        ...         "Zrotation Xrotation Yrotation\\nEnd Site\\n{\\nOFFSET 0 1 0\\n}\\n}\\nMOTION\\nFrames: 1\\n"
        ...         "Frame Time: 0.02\\n1 2 3 90 0 0\\n")
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.bvh"; _ = p.write_text(text)
        >>> forward_kinematics(parse_bvh(p))[0].round(6).tolist()
        [[1.0, 2.0, 3.0], [0.0, 2.0, 3.0]]
    """
    from scipy.spatial.transform import Rotation

    F = bvh.values.shape[0]
    positions = np.zeros((F, len(bvh.joints), 3))
    rotations = np.zeros((F, len(bvh.joints), 3, 3))
    for j, joint in enumerate(bvh.joints):
        local = np.broadcast_to(joint.offset, (F, 3)).copy()
        rot_axes, rot_cols = [], []
        for c, chan in enumerate(joint.channels):
            col = joint.first + c
            if chan.endswith("position"):
                local[:, "XYZ".index(chan[0])] = bvh.values[:, col]
            else:
                rot_axes.append(chan[0])
                rot_cols.append(col)
        if rot_axes:
            R_local = Rotation.from_euler("".join(rot_axes), bvh.values[:, rot_cols], degrees=True).as_matrix()
        else:
            R_local = np.broadcast_to(np.eye(3), (F, 3, 3))
        if joint.parent < 0:
            positions[:, j] = local
            rotations[:, j] = R_local
        else:
            Rp = rotations[:, joint.parent]
            positions[:, j] = positions[:, joint.parent] + np.einsum("fij,fj->fi", Rp, local)
            rotations[:, j] = Rp @ R_local
    return positions
