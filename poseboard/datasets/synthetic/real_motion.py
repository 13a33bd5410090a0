"""Real motion capture as a sequence of the synthetic world: a window of a library clip,
retargeted onto one of the world's bodies and placed in the capture area.

SURREAL and BEDLAM drive synthetic bodies with real motion; here a *clip* is real motion as the
motion library stores it (:mod:`poseboard.datasets.mocap.library`: (F, 17, 3) H36M17 joints,
world mm, Z up, floor at z = 0, at the library's rate). :func:`draw_window` picks a stretch of
one clip long enough for a sequence, :func:`real_sequence` turns it into a
:class:`~.motion.MotionSequence` of a body: resampled to the world's rate, retargeted
(:func:`~.retarget.retarget`: the body's own proportions, joint limits, feet planted on the
floor), turned to a random heading and moved to a random place where its pelvis path stays in
the capture area. Every random choice comes from the generator passed in, so a sequence is a
function of the clip, the body and the generator's state alone.

Example:
    >>> import numpy as np
    >>> from poseboard.datasets.synthetic.body import SUBJECTS
    >>> from poseboard.datasets.synthetic.motion import generate_sequence
    >>> walk = generate_sequence(SUBJECTS["S1"], "Walking", 150, np.random.default_rng(0), fps=50.0)
    >>> clip = RealClip("01_01", "01", "walk", walk.poses[::2], 25.0)
    >>> window = draw_window([clip], 2.0, np.random.default_rng(1))
    >>> seq, _ = real_sequence(window, SUBJECTS["S9"], 101, np.random.default_rng(2), sequence_id="S9/real/000")
    >>> seq.poses.shape, seq.action
    ((101, 17, 3), 'RealMotion')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseboard.datasets.synthetic.body import BodyShape
from poseboard.datasets.synthetic.motion import MotionSequence
from poseboard.datasets.synthetic.retarget import RetargetResult, retarget
from poseboard.errors import InputError

#: The action label of every sequence driven by real motion (its clip and category are kept on
#: the :class:`ClipWindow`; the world's tables group real motion under one action).
REAL_ACTION = "RealMotion"


@dataclass(frozen=True, eq=False)
class RealClip:
    """One clip of real motion.

    Attributes:
        clip: the clip's id in its source (CMU: ``"<subject>_<trial>"``, e.g. ``"01_03"``).
        subject: the performer's id in its source (``"01"``).
        category: what kind of motion it is (``"walk"``, ``"dance"``, …; ``"unlabelled"``).
        poses: (F, 17, 3) world mm, Z up, floor at z = 0, H36M17 order.
        fps: frames per second of ``poses``.
        style: the manner it is performed in (Bandai's ``"tired"``; ``""`` where the source has none).
        role: its side of the held-out split (:mod:`poseboard.datasets.mocap.bandai_split`:
            ``"train"``, ``"test-take"``, ``"novel-content"``, ``"novel-style"``); only
            ``"train"`` clips enter a training world.
    """

    clip: str
    subject: str
    category: str
    poses: np.ndarray
    fps: float
    style: str = ""
    role: str = "train"

    @property
    def seconds(self) -> float:
        """The clip's span, first to last frame, in seconds."""
        return (len(self.poses) - 1) / self.fps


@dataclass(frozen=True, eq=False)
class ClipWindow:
    """A stretch of a clip: ``poses`` (M, 17, 3) world mm at ``fps``, from ``start_s`` seconds in."""

    clip: RealClip
    start_s: float
    poses: np.ndarray
    fps: float


def library_clips(path: str | Path, roles: Sequence[str] | None = None) -> list[RealClip]:
    """The clips of a motion library file (:func:`poseboard.datasets.mocap.library_file.load_library`,
    which validates it and refuses a reserved subject), in the library's order: every clip, or
    those of ``roles`` only (only those are converted to float64)."""
    from poseboard.datasets.mocap.library_file import load_library

    library = load_library(path)
    return [RealClip(str(library.clip[i]), str(library.subject[i]), str(library.category[i]),
                     library.clip_poses(i), library.fps, style=library.label("style", i),
                     role=library.label("role", i)) for i in range(len(library))
            if roles is None or library.label("role", i) in roles]


def draw_window(clips: Sequence[RealClip], duration_s: float, rng: np.random.Generator) -> ClipWindow:
    """A window of ``duration_s`` seconds from one of ``clips``: a clip drawn with probability
    proportional to the number of windows it holds (its span beyond ``duration_s``, plus one
    frame), so long clips are not under-sampled; a start frame drawn uniformly among them.

    Raises:
        InputError: no clip spans ``duration_s`` (the message names the longest one).
    """
    if duration_s < 0:
        raise InputError(f"draw_window: duration_s must be ≥ 0, got {duration_s}")
    frames = [int(np.ceil(duration_s * c.fps - 1e-9)) + 1 for c in clips]
    starts = np.array([max(0, len(c.poses) - f + 1) for c, f in zip(clips, frames, strict=True)], dtype=np.int64)
    if not clips or starts.sum() == 0:
        longest = max(clips, key=lambda c: c.seconds, default=None)
        where = f" (the longest, {longest.clip}, spans {longest.seconds:.2f} s)" if longest else ""
        raise InputError(f"no real-motion clip spans {duration_s:.2f} s{where}: draw shorter sequences or "
                         "add longer clips to the library")
    k = int(rng.choice(len(clips), p=starts / starts.sum()))
    start = int(rng.integers(starts[k]))
    clip = clips[k]
    return ClipWindow(clip, start / clip.fps, clip.poses[start:start + frames[k]].astype(np.float64), clip.fps)


def _resample(poses: np.ndarray, fps_in: float, num_frames: int, fps_out: float) -> np.ndarray:
    """(F, 17, 3) at ``fps_in`` → its first ``num_frames`` frames at ``fps_out`` (the library's
    linear :func:`~poseboard.datasets.mocap.library_file.resample`)."""
    from poseboard.datasets.mocap.library_file import resample

    out = resample(poses, 1.0 / fps_in, fps_out)
    if len(out) < num_frames:
        raise InputError(f"a window of {len(poses)} frames at {fps_in:g} fps is shorter than {num_frames} frames at "
                         f"{fps_out:g} fps")
    return out[:num_frames]


def real_sequence(window: ClipWindow, body: BodyShape, num_frames: int, rng: np.random.Generator, *,
                  fps: float = 50.0, area_center: Sequence[float] = (0.0, 0.0), area_radius_mm: float = 1500.0,
                  sequence_id: str | None = None) -> tuple[MotionSequence, RetargetResult]:
    """``window`` performed by ``body``: ``num_frames`` frames at ``fps``.

    The window is resampled to ``fps`` (linear in the joint positions), retargeted onto ``body``
    at a uniformly random heading (:func:`~.retarget.retarget`), and moved horizontally so that
    the centre of its pelvis path's extent lies uniformly in the disc of the capture area where
    the whole path stays within ``area_radius_mm`` of ``area_center``; a path wider than the
    area is centred on it.

    Returns:
        The :class:`~.motion.MotionSequence` (``subject`` the body's name, ``action``
        :data:`REAL_ACTION`) and the retargeting's :class:`~.retarget.RetargetResult` (its
        statistics; its poses before the move).
    """
    if num_frames < 2:
        raise InputError(f"real_sequence: num_frames must be ≥ 2, got {num_frames}")
    source = _resample(window.poses, window.fps, num_frames, fps)
    result = retarget(source, body, fps, rng=rng)
    poses = result.poses.copy()
    xy = poses[:, 6, :2]
    centre = (xy.min(0) + xy.max(0)) / 2
    reach = float(np.linalg.norm(xy - centre, axis=-1).max())
    room = max(0.0, float(area_radius_mm) - reach)
    angle, radius = rng.uniform(0.0, 2 * np.pi), room * np.sqrt(rng.uniform())
    target = np.asarray(area_center, dtype=np.float64) + radius * np.array([np.cos(angle), np.sin(angle)])
    poses[..., :2] += target - centre
    sequence = MotionSequence(subject=body.name, action=REAL_ACTION, fps=float(fps), poses=poses,
                              sequence=sequence_id or f"{body.name}/{REAL_ACTION}/{window.clip.clip}")
    return sequence, result


#: a retargeted window whose planted ankle slides further than this (mm) is redrawn: the bound the
#: world's own motion keeps (tests/datasets/test_retarget.py), which a pivot or shuffle of a real
#: performer, or a pose the body's joint limits cannot reach, can break
SLIDE_BOUND_MM = 10.0
#: ... or whose fastest joint is faster than this (mm/s): the world's fastest action's bound
#: (motion.MAX_JOINT_SPEED_MM_S, a throw's hand at release); faster is a capture glitch
SPEED_BOUND_MM_S = 12_000.0
#: how many windows are drawn before a sequence is refused
MAX_DRAWS = 20


def pelvis_reach_mm(poses: np.ndarray) -> float:
    """How far (mm) the pelvis of ``poses`` (F, 17, 3) world mm strays horizontally from the centre
    of its path's extent: a path fits a floor disc of that radius, and no smaller one about that centre."""
    xy = poses[:, 6, :2]
    centre = (xy.min(0) + xy.max(0)) / 2
    return float(np.linalg.norm(xy - centre, axis=-1).max())


def draw_real_sequence(clips: Sequence[RealClip], body: BodyShape, num_frames: int, rng: np.random.Generator, *,
                       fps: float = 50.0, area_center: Sequence[float] = (0.0, 0.0), area_radius_mm: float = 1500.0,
                       sequence_id: str = "real", fit_area: bool = False,
                       ) -> tuple[MotionSequence, RetargetResult, ClipWindow]:
    """A window of ``clips`` (:func:`draw_window`) performed by ``body`` (:func:`real_sequence`),
    redrawn (from the same generator, so the result is still a function of its state) while its
    retargeting slides a planted foot more than :data:`SLIDE_BOUND_MM` or moves a joint faster
    than :data:`SPEED_BOUND_MM_S`, or, with ``fit_area``, while its pelvis path reaches further
    than ``area_radius_mm`` from its centre (:func:`pelvis_reach_mm`: then the whole path stays in
    the capture area; without it a wider path is centred on the area); the sequence id ends in
    ``/{clip}@{start}s``.

    Raises:
        InputError: :data:`MAX_DRAWS` windows in a row break a bound (the message names the last).
    """
    for _ in range(MAX_DRAWS):
        window = draw_window(clips, (num_frames - 1) / fps, rng)
        name = f"{sequence_id}/{window.clip.clip}@{window.start_s:.2f}s"
        seq, result = real_sequence(window, body, num_frames, rng, fps=fps, area_center=area_center,
                                    area_radius_mm=area_radius_mm, sequence_id=name)
        fits = not fit_area or pelvis_reach_mm(seq.poses) <= area_radius_mm
        if result.max_foot_slide_mm <= SLIDE_BOUND_MM and result.max_joint_speed_mm_s <= SPEED_BOUND_MM_S and fits:
            return seq, result, window
    reach = f"; pelvis reach {pelvis_reach_mm(seq.poses):.0f} mm, area {area_radius_mm:g}" if fit_area else ""
    raise InputError(f"{MAX_DRAWS} windows of real motion in a row break the bounds on {body.name} (the last, "
                     f"{name}: foot slide {result.max_foot_slide_mm:.0f} mm, limit {SLIDE_BOUND_MM:g}; fastest joint "
                     f"{result.max_joint_speed_mm_s:.0f} mm/s, limit {SPEED_BOUND_MM_S:g}{reach}); check the library's "
                     "clips")


#: a real person of a long scene (the MuPoTS-like world's: 7.8 s in the default preset, in a
#: 350 mm area) performs a new window at most this often (s): a real walk leaves such an area in
#: about half a second, and the scene lasts longer than most clips
REAL_PIECE_S = 0.5


def draw_real_pieces(clips: Sequence[RealClip], body: BodyShape, num_frames: int, piece_frames: int,
                     rng: np.random.Generator, *, fps: float = 50.0, area_center: Sequence[float] = (0.0, 0.0),
                     area_radius_mm: float = 1500.0, sequence_id: str = "real",
                     ) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """``num_frames`` frames of ``body`` performing real motion in pieces of ``piece_frames``
    frames (the last one shorter): each piece its own window (:func:`draw_real_sequence`, drawn in
    turn from ``rng``, fitted to the capture area), so a person whose scene is longer than a
    clip, or than a real path stays in its area, still performs real motion throughout. The
    pose jumps between pieces: for a world of single images (a piece per image or two), not
    for a sequence's motion.

    Returns:
        The poses (``num_frames``, 17, 3) world mm and, per piece, its first frame and its
        sequence id (``{sequence_id}/{clip}@{start}s``).

    Example:
        >>> from poseboard.datasets.synthetic.body import SUBJECTS
        >>> from poseboard.datasets.synthetic.motion import generate_sequence
        >>> wave = generate_sequence(SUBJECTS["S1"], "Waving", 150, np.random.default_rng(0), fps=50.0)
        >>> clip = RealClip("01_01", "01", "wave", wave.poses[::2], 25.0)
        >>> poses, pieces = draw_real_pieces([clip], SUBJECTS["S9"], 45, 20, np.random.default_rng(1),
        ...                                  area_radius_mm=350.0, sequence_id="S9/RealMotion/p0")
        >>> poses.shape, [first for first, _ in pieces]
        ((45, 17, 3), [0, 20, 40])
    """
    if num_frames < 1 or piece_frames < 1:
        raise InputError(f"draw_real_pieces: num_frames and piece_frames must be ≥ 1, got {num_frames}, {piece_frames}")
    poses, pieces = [], []
    for first in range(0, num_frames, piece_frames):
        count = min(piece_frames, num_frames - first)
        seq, _, _ = draw_real_sequence(clips, body, max(2, count), rng, fps=fps, area_center=area_center,
                                       area_radius_mm=area_radius_mm, sequence_id=sequence_id, fit_area=True)
        poses.append(seq.poses[:count])
        pieces.append((first, seq.sequence))
    return np.concatenate(poses), pieces

