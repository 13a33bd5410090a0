"""Who is filmed, doing what, by which cameras: the cast of a multi-view split.

A *cast* is everything a multi-view split renders besides the look of the room: its sequences
(a body performing an action, 50 fps world-mm poses, the frames kept) and the camera rig of
each sequence, padded to the split's number of camera slots (an absent slot is a view with
``view_valid`` False that is never rendered). Four kinds:

* the built-in world (:func:`builtin_cast`): the Human3.6M-like rig or the dome, jittered per
  subject, the named subjects in the original actions (a ``real_motion`` share of them real motion
  capture, :mod:`.real_motion`), or the user's rig and motion;
* the broad training world (:func:`training_world_cast`): a camera layout per sequence from
  :data:`~.layouts.TRAIN_LAYOUTS`, bodies from :data:`~.body.TRAIN_PROPORTIONS`, each with its
  own motion style, in :data:`~.motion.TRAIN_ACTIONS`;
* the generalization splits (:func:`novel_cast`): ``synth-novel-rig``, ``-motion``, ``-body``
  and ``-all``, whose factor never appears in training (``docs/synthetic_world.md``).

Every random choice comes from :func:`purpose_rng` (seed + the purpose's names), so a cast is a
function of the seed and the configuration alone.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.camera import Camera
from poseboard.datasets.synthetic.config import CaptureArea, MultiViewSplit, NovelSpec, SynthConfig
from poseboard.datasets.synthetic.rigs import build_rig, rig_from_file
from poseboard.errors import InputError


# --------------------------------------------------------------------------- seeds
def _pinhole(camera: Camera) -> Camera:
    """The camera of an undistorted image: same K, R, t; no lens distortion."""
    return Camera(K=camera.K, R=camera.R, t=camera.t, dist=np.zeros(5), image_size=camera.image_size, name=camera.name)


def _key(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def purpose_rng(seed: int, *parts: object) -> np.random.Generator:
    """The generator of one purpose: a function of the seed and the purpose's names only."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *_key(*parts)]))


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- motion
@dataclass
class _Sequence:
    subject: str
    action: str
    sequence: str
    poses: np.ndarray  # (N, 17, 3) world mm
    body: Any  # BodyShape
    frames: list[int]
    #: a real person performing in pieces (:func:`real_scene_person`): each piece's first frame and
    #: sequence id, which names its clip; empty: one sequence, ``sequence``
    pieces: list[tuple[int, str]] = field(default_factory=list)

    def sequence_at(self, frame: int) -> str:
        """The id of what this person performs at ``frame``: its piece's, or ``sequence``."""
        current = self.sequence
        for first, sequence in self.pieces:
            if first > frame:
                break
            current = sequence
        return current


def _user_body(subject: str, poses: np.ndarray):
    from poseboard.datasets.synthetic.body import SUBJECTS, make_body

    if subject in SUBJECTS:
        return SUBJECTS[subject]
    lowest_ankle = poses[:, [0, 5], 2].min(axis=1)
    stature = float(np.percentile(poses[:, 9, 2] - lowest_ankle, 95)) / (1 - 0.039)
    return make_body(subject, float(np.clip(stature, 1000.0, 2500.0)), np.random.default_rng(_key("body", subject)))


def confined(sequence: _Sequence, area: CaptureArea) -> _Sequence:
    """``sequence`` with its pelvis path inside the floor disc ``area``
    (:class:`~poseboard.datasets.synthetic.config.CaptureArea`): the centre ``m`` of its rendered
    frames' pelvis (x, y) bounding box moves to the disc's centre ``c``, and the pelvis path is
    scaled about it by ``s = min(1, r / reach)`` (``reach``: the farthest rendered pelvis from
    ``m``), so frame ``f``'s pelvis goes to ``c + s (p_f − m)`` and its whole body with it
    (heights and the pose about the pelvis unchanged: relative MPJPE's ground truth is too).

    Example:
        >>> poses = np.zeros((3, 17, 3)); poses[:, :, 0] = [[0.0], [2000.0], [4000.0]]
        >>> seq = _Sequence("S9", "Walking", "S9/Walking/000", poses, None, [0, 1, 2])
        >>> confined(seq, CaptureArea(centre_mm=(100.0, 0.0), radius_mm=500.0)).poses[:, 6, 0].tolist()
        [-400.0, 100.0, 600.0]
    """
    root = sequence.poses[:, 6, :2]
    kept = root[sequence.frames] if sequence.frames else root
    mid = (kept.min(axis=0) + kept.max(axis=0)) / 2
    reach = float(np.linalg.norm(kept - mid, axis=1).max())
    scale = 1.0 if reach <= area.radius_mm else area.radius_mm / reach
    moved = np.asarray(area.centre_mm, dtype=np.float64) + scale * (root - mid)
    poses = sequence.poses.copy()
    poses[..., :2] += (moved - root)[:, None, :]
    return replace(sequence, poses=poses)


def _split_frame_counts(total: int, num_sequences: int) -> list[int]:
    base, extra = divmod(total, num_sequences)
    return [base + (1 if k < extra else 0) for k in range(num_sequences)]


def _perform(name: str, split: str, keys: Sequence[tuple[Any, str, int]], samples: int, stride: int,
             area_mm: float, fps: float, seed: int, styles: dict[str, Any] | None = None,
             clips: Sequence[Any] | None = None, fit_area: bool = False) -> list[_Sequence]:
    """One sequence per ``(body, action, index)`` key, ``samples`` frames spread evenly over
    them, ``stride`` frames apart; ids ``"{body}/{action}/{index:03d}"``. The motion of a key
    depends on the seed, the dataset, the split and the key's own names only: procedural, or,
    for the action :data:`~.real_motion.REAL_ACTION`, a window of one of ``clips``
    (:class:`~.real_motion.RealClip`) retargeted onto the body, its id then ending in
    ``"/{clip}@{start}s"`` (the clip and where in it the window starts); with ``fit_area``, a
    window whose pelvis path does not fit the capture area is redrawn
    (:func:`~.real_motion.draw_real_sequence`)."""
    from poseboard.datasets.synthetic.motion import generate_sequence

    out = []
    for (body, action, k), count in zip(keys, _split_frame_counts(samples, len(keys)), strict=True):
        if count == 0:
            continue
        num_frames = max(2, (count - 1) * stride + 1)
        rng = purpose_rng(seed, name, split, "motion", body.name, action, k)
        if action == "RealMotion":
            seq = _real_sequence(clips, body, action, k, num_frames, rng, fps, area_mm, fit_area)
        else:
            style = {} if styles is None else {"style": styles[body.name]}
            seq = generate_sequence(body, action, num_frames, rng, fps=fps, area_radius_mm=area_mm,
                                    sequence_id=f"{body.name}/{action}/{k:03d}", **style)
        frames = list(range(0, num_frames, stride))[:count]
        out.append(_Sequence(body.name, action, seq.sequence, seq.poses, body, frames))
    return out


def _no_clips() -> InputError:
    return InputError("a training world asks for real motion (real_motion > 0) but no clip of the motion library "
                      "may be trained on: set motion_library.path, and leave it training subjects and categories")


def _real_sequence(clips: Sequence[Any] | None, body: Any, action: str, k: int, num_frames: int,
                   rng: np.random.Generator, fps: float, area_mm: float, fit_area: bool = False) -> Any:
    """Key ``(body, action, k)`` of :func:`_perform` driven by real motion (:mod:`.real_motion`)."""
    from poseboard.datasets.synthetic.real_motion import REAL_ACTION, draw_real_sequence

    assert action == REAL_ACTION
    if not clips:
        raise _no_clips()
    return draw_real_sequence(clips, body, num_frames, rng, fps=fps, area_radius_mm=area_mm,
                              sequence_id=f"{body.name}/{action}/{k:03d}", fit_area=fit_area)[0]


def real_scene_person(clips: Sequence[Any], body: Any, num_frames: int, stride: int, rng: np.random.Generator,
                      fps: float, centre: np.ndarray, area_mm: float, sequence_id: str) -> _Sequence:
    """A person of a single-view scene (the MuPoTS-like world's ``num_frames`` frames, an image
    every ``stride``) driven by real motion: a new window of ``clips`` every
    :data:`~.real_motion.REAL_PIECE_S` seconds of the scene (a whole number of images, at least
    one), each retargeted onto ``body`` and fitted to the person's area (``area_mm`` around
    ``centre``, world mm), as :func:`~.real_motion.draw_real_pieces` draws them; ids
    ``"{sequence_id}/{clip}@{start}s"`` per piece (:meth:`_Sequence.sequence_at`)."""
    from poseboard.datasets.synthetic.real_motion import REAL_ACTION, REAL_PIECE_S, draw_real_pieces

    if not clips:
        raise _no_clips()
    images = max(1, math.floor(REAL_PIECE_S * fps / stride + 1e-9))
    poses, pieces = draw_real_pieces(clips, body, num_frames, images * stride, rng, fps=fps, area_center=centre,
                                     area_radius_mm=area_mm, sequence_id=sequence_id)
    return _Sequence(body.name, REAL_ACTION, sequence_id, poses, body, [], pieces)


def training_clips(config: SynthConfig) -> list[Any]:
    """The motion library's clips a training split may use (:class:`~.real_motion.RealClip`):
    every clip of ``config.motion_library`` whose role is ``train`` (a format-2 library's
    held-out takes, contents and styles never are: :mod:`poseboard.datasets.mocap.bandai_split`)
    but those of its test subjects and novel categories; none without a library."""
    spec = config.motion_library
    if spec is None:
        return []
    from poseboard.datasets.synthetic.real_motion import library_clips

    return [c for c in library_clips(spec.path, roles=("train",))
            if c.subject not in spec.test_subjects and c.category not in spec.novel_categories]


def _procedural_sequences(name: str, split: str, cfg: MultiViewSplit, spec_area: float, fps: float,
                          seed: int, clips: Sequence[Any] = ()) -> list[_Sequence]:
    """The built-in world's sequences: the named train (or test) subjects, each original action
    ``sequences_per_action`` times. With ``cfg.real_motion``, that share of the sequences, spread
    evenly (:func:`_every`), performs a window of one of ``clips`` instead
    (:data:`~.real_motion.REAL_ACTION`; the ``k`` of its key is the sequence's index, so each is
    its own draw): in a training split the library's training clips (:func:`training_clips`;
    none is an error), each window fitted to the capture area (the dome films 0.5 m about its
    centre, as the procedural motion keeps to it); in a test split its held-out takes
    (:func:`role_clips`; none leaves the split procedural)."""
    from poseboard.datasets.synthetic.body import SUBJECTS, TEST_SUBJECTS, TRAIN_SUBJECTS
    from poseboard.datasets.synthetic.motion import ORIGINAL_ACTIONS

    subjects = TRAIN_SUBJECTS if split == "train" else TEST_SUBJECTS
    keys = [(SUBJECTS[s], a, k) for s in subjects for a in ORIGINAL_ACTIONS for k in range(cfg.sequences_per_action)]
    if cfg.real_motion > 0 and (clips or split == "train"):
        keys = [(body, "RealMotion", j) if _every(j, cfg.real_motion) else (body, a, k)
                for j, (body, a, k) in enumerate(keys)]
    return _perform(name, split, keys, cfg.samples, cfg.stride, spec_area, fps, seed, clips=clips,
                    fit_area=True)  # test takes too: synth-novel-rig's held-out layouts film the same sequences


def role_clips(config: SynthConfig, role: str) -> list[Any]:
    """The motion library's clips of one held-out role (``test-take``, ``novel-content``,
    ``novel-style``: :mod:`poseboard.datasets.mocap.bandai_split`) a test split draws from; none
    without a library."""
    spec = config.motion_library
    if spec is None:
        return []
    from poseboard.datasets.synthetic.real_motion import library_clips

    return library_clips(spec.path, roles=(role,))


def strided_frames(num_frames: int, fps: float, stride: int, base_fps: float = 50.0) -> list[int]:
    """Indices of the frames of a ``num_frames``-long sequence recorded at ``fps`` that lie
    ``stride`` frames *at base_fps* apart in time (the presets' stride is documented in 50 fps
    frames): 0, stride/base_fps, 2·stride/base_fps … seconds, each taken as the nearest
    recorded frame. At ``fps == base_fps`` this is ``range(0, num_frames, stride)``; a 10 fps
    motion with stride 5 (0.1 s) keeps every frame, not one in five.

    Example:
        >>> strided_frames(10, 10.0, 5), strided_frames(200, 50.0, 25) == list(range(0, 200, 25))
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], True)
    """
    if num_frames <= 0:
        return []
    step_s = stride / base_fps
    times = np.arange(0.0, num_frames / fps, step_s)
    idx = np.unique(np.rint(times * fps).astype(np.int64))
    return [int(i) for i in idx if i < num_frames]


def _user_sequences(path: Path, split: str, samples: int | None, stride: int, test_subjects: Sequence[str],
                    recentre: bool, base_fps: float = 50.0) -> list[_Sequence]:
    """The user's sequences that belong to ``split`` (test: subjects in ``test_subjects``;
    train: the others), frames ``stride`` frames at ``base_fps`` apart *in time* (each motion
    at its own ``fps``), at most ``samples`` spread evenly over all sequences (``None``: no
    cap; 0 is refused: a split of 0 samples is not generated at all)."""
    from poseboard.datasets.synthetic.user_motion import load_user_motion

    if samples is not None and samples < 1:
        raise ValueError(f"samples must be at least 1 here (0 skips the split before this point), got {samples}")
    motion = load_user_motion(path)
    chosen = [m for m in motion if (m.subject in test_subjects) == (split == "test")]
    frames_all = [(i, f) for i, m in enumerate(chosen)
                  for f in strided_frames(m.num_frames, m.fps, stride, base_fps=base_fps)]
    if samples is not None and len(frames_all) > samples:  # spread the cap evenly over all sequences
        pick = np.unique(np.round(np.linspace(0, len(frames_all) - 1, samples)).astype(int))
        frames_all = [frames_all[p] for p in pick]
    out = []
    for i, m in enumerate(chosen):
        frames = [f for j, f in frames_all if j == i]
        if not frames:
            continue
        poses = np.asarray(m.poses, dtype=np.float64).copy()
        if recentre:  # built-in rigs look at the origin: move the capture there
            poses[..., :2] -= poses[:, 6, :2].mean(axis=0)
        out.append(_Sequence(m.subject, m.action, m.sequence, poses, _user_body(m.subject, poses), frames))
    return out


def _test_subjects(config: SynthConfig) -> list[str]:
    from poseboard.datasets.synthetic.body import TEST_SUBJECTS

    return list(config.test_subjects) if config.test_subjects is not None else list(TEST_SUBJECTS)




# --------------------------------------------------------------------------- casts
@dataclass
class Cast:
    """What a multi-view split films.

    Attributes:
        sequences: the sequences, in sample order.
        rigs: full-frame cameras (world mm) of each rig, ``slots`` per rig; an absent slot holds
            a copy of the rig's first camera under the slot's name and is never rendered.
        present: (slots,) bool per rig, False for an absent slot.
        rig_of: the rig index of each sequence.
        motion_source: ``"user"``, ``"procedural"`` or ``"real"`` (a real-people split; the
            manifest records it).
        look_name: the dataset name that keys the room, clothes, occluders and sensor noise
            (the split's own name, or ``synth-h36m`` for ``synth-novel-rig``, which re-films the
            in-distribution test: the same people in the same clothes and rooms).
        layouts: per rig, the sampled layout's record (placement, per-camera factors, what is
            novel), or None for a built-in or user rig.
    """

    sequences: list[_Sequence]
    rigs: list[list[Camera]]
    present: list[np.ndarray]
    rig_of: list[int]
    motion_source: str
    look_name: str
    layouts: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def slots(self) -> int:
        return len(self.rigs[0])


def _padded(cameras: Sequence[Camera], slots: int, prefix: str = "view") -> tuple[list[Camera], np.ndarray]:
    """``cameras`` renamed ``{prefix}_{k}`` and padded to ``slots`` with absent copies of the first."""
    if len(cameras) > slots:
        raise InputError(f"a layout of {len(cameras)} cameras does not fit {slots} camera slots")
    out = [
        Camera(K=c.K, R=c.R, t=c.t, dist=c.dist, image_size=c.image_size, name=f"{prefix}_{k}")
        for k, c in enumerate(list(cameras) + [cameras[0]] * (slots - len(cameras)))
    ]
    present = np.arange(slots) < len(cameras)
    return out, present


#: Layout kinds (:func:`_layout_rig`): the first (narrow) training and novel families, and the
#: wide ones of issue 38 (``TrainingWorld.layouts`` / ``NovelSpec.layouts`` = ``"wide"``).
LAYOUT_KINDS: tuple[str, ...] = ("train", "novel", "train-wide", "held-out", "extrapolated")


def _families(kind: str) -> list[Any]:
    from poseboard.datasets.synthetic import layouts

    return {
        "train": [layouts.TRAIN_LAYOUTS], "novel": [layouts.NOVEL_LAYOUTS],
        "train-wide": [layouts.WIDE_TRAIN_LAYOUTS],
        "held-out": [layouts.HELD_OUT_PLACEMENT_LAYOUTS, *layouts.HELD_OUT_BOX_LAYOUTS],
        "extrapolated": [layouts.EXTRAPOLATED_LAYOUTS],
    }[kind]  # fmt: skip


def _shifted(camera: Camera, centre: np.ndarray) -> Camera:
    """The camera moved by ``centre`` (3,) world mm: it films around ``centre`` what it filmed
    around the origin."""
    return Camera(K=camera.K, R=camera.R, t=camera.t - camera.R @ centre, dist=camera.dist,
                  image_size=camera.image_size, name=camera.name)


def _layout_rig(rng: np.random.Generator, kind: str, slots: int, area_mm: float,
                centre: np.ndarray | None = None) -> tuple[list[Camera], np.ndarray, dict]:
    """A sampled layout of ``kind`` (:data:`LAYOUT_KINDS`) in
    ``slots`` slots: all its cameras when they fit, otherwise a random subset of ``slots`` of them
    (in layout order). A kind of several families (``held-out``) draws one of them first.
    ``centre`` (2,) world mm: the layout is drawn around the origin for an area of ``area_mm``
    and moved there (the wide kinds film each sequence where it is)."""
    from poseboard.datasets.synthetic.layouts import sample_layout

    families = _families(kind)
    family = families[int(rng.integers(len(families)))] if len(families) > 1 else families[0]
    layout = sample_layout(rng, family, prefix="view", area_radius_mm=area_mm, novel=family.novel_of is not None)
    cameras = list(layout.cameras)
    if centre is not None:
        cameras = [_shifted(c, np.array([centre[0], centre[1], 0.0])) for c in cameras]
    record = layout.describe()
    if centre is not None:
        record = record | {"centre_mm": [round(float(c), 3) for c in centre], "area_radius_mm": round(area_mm, 3)}
    if len(cameras) > slots:
        keep = np.sort(rng.choice(len(cameras), size=slots, replace=False))
        cameras = [cameras[k] for k in keep]
        record = record | {"stored_cameras": [int(k) for k in keep]}
    rig, present = _padded(cameras, slots)
    return rig, present, record


def builtin_cast(name: str, rig_name: str, split: str, cfg: MultiViewSplit, area_mm: float, config: SynthConfig,
                 seed: int) -> Cast:
    """The built-in world: the user's motion (their sequences of this split) or the named
    subjects' procedural motion (a ``cfg.real_motion`` share of it real: :func:`_procedural_sequences`),
    filmed by the user's rig or the built-in rig ``rig_name`` jittered per subject (Human3.6M
    calibrates per subject), ``cfg.views`` of its cameras; with ``config.capture_area``, every
    sequence :func:`confined` to it."""
    user_rig = rig_from_file(config.rig_path) if config.rig_path is not None else None
    sequences: list[_Sequence] = []
    if config.motion_path is not None:
        sequences = _user_sequences(config.motion_path, split, cfg.samples, cfg.stride, _test_subjects(config),
                                    recentre=user_rig is None)
    motion_source = "user" if sequences else "procedural"
    if not sequences:  # no user motion, or none of it for this split
        clips: list[Any] = []
        if cfg.real_motion > 0:  # a test split's held-out takes; a training split's training clips
            clips = role_clips(config, "test-take") if split == "test" else training_clips(config)
        sequences = _procedural_sequences(name, split, cfg, area_mm, config.fps, seed, clips)
    if config.capture_area is not None:
        sequences = [confined(s, config.capture_area) for s in sequences]
    rigs: dict[str, list[Camera]] = {}
    for s in sequences:
        if s.subject in rigs:
            continue
        if user_rig is not None:
            rigs[s.subject] = user_rig
            continue
        full = build_rig(rig_name, purpose_rng(seed, name, split, "rig", s.subject))
        if cfg.views is not None:
            bad = [v for v in cfg.views if not 0 <= v < len(full)]
            if bad:
                raise InputError(f"{name} {split}: views {bad} out of range 0..{len(full) - 1}")
            full = [full[v] for v in cfg.views]
        rigs[s.subject] = full
    order = list(rigs)
    cameras = [rigs[subject] for subject in order]
    return Cast(sequences, cameras, [np.ones(len(c), bool) for c in cameras],
                [order.index(s.subject) for s in sequences], motion_source, name, [None] * len(cameras))


def training_world_cast(name: str, split: str, cfg: MultiViewSplit, area_mm: float, fps: float, seed: int,
                        clips: Sequence[Any] = ()) -> Cast:
    """The broad training world (``cfg.world``): ``bodies`` training bodies, each with its own
    motion style, ``sequences_per_body`` sequences each going through the training actions in
    turn (continuing where the previous body stopped, so every action gets the same share),
    every sequence filmed by its own layout from the training family, ``views`` of its cameras
    stored per sample. The families of ``world.extra_actions`` add their actions to the turn, after
    the training actions (:data:`~.motion.EXTRA_ACTIONS`). A share ``world.real_motion`` of the
    sequences is real motion capture, windows of ``clips`` (:func:`training_clips`)."""
    from poseboard.datasets.synthetic.body import training_bodies
    from poseboard.datasets.synthetic.motion import EXTRA_ACTIONS, TRAIN_ACTIONS, MotionStyle

    world = cfg.world
    assert world is not None
    bodies = training_bodies(seed, world.bodies)
    styles = {b.name: MotionStyle.sample(purpose_rng(seed, name, split, "style", b.name)) for b in bodies}
    keys = [(b, action, k) for b, action, k in zip(
        [b for b in bodies for _ in range(world.sequences_per_body)],
        world_actions(len(bodies) * world.sequences_per_body, world.free_motion,
                      TRAIN_ACTIONS + sum((EXTRA_ACTIONS[f] for f in world.extra_actions), ()), world.real_motion),
        [k for _ in bodies for k in range(world.sequences_per_body)], strict=True)]
    sequences = _perform(name, split, keys, cfg.samples, cfg.stride, area_mm, fps, seed, styles, clips)
    return _layout_cast(sequences, name, split, seed, novel=False, slots=world.views, area_mm=area_mm, look_name=name,
                        kind="train-wide" if world.layouts == "wide" else None)


def _every(j: int, fraction: float) -> bool:
    """Whether item j is one of a ``fraction`` of items spread evenly: ⌊(j+1)·f⌋ > ⌊j·f⌋."""
    return math.floor((j + 1) * fraction + 1e-9) > math.floor(j * fraction + 1e-9)


def world_actions(count: int, free_fraction: float, scripted: Sequence[str], real_fraction: float = 0.0) -> list[str]:
    """The action of each of ``count`` training-world sequences: ``RealMotion`` (real motion
    capture, :mod:`.real_motion`) for a fraction ``real_fraction`` of them, spread evenly; of the
    others (the procedural ones), ``FreeMotion`` for a fraction ``free_fraction``, spread evenly
    (procedural sequence i is free when ⌊(i+1)·f⌋ > ⌊i·f⌋), the rest the ``scripted`` actions in
    turn, so every scripted action keeps an equal share. With no real and no free motion this
    is ``scripted[j mod len(scripted)]``, the world before them.

    Example:
        >>> world_actions(5, 0.4, ("A", "B"))
        ['A', 'B', 'FreeMotion', 'A', 'FreeMotion']
        >>> world_actions(6, 0.5, ("A", "B"), real_fraction=1 / 3)
        ['A', 'FreeMotion', 'RealMotion', 'B', 'FreeMotion', 'RealMotion']
    """
    out, turn, procedural = [], 0, 0
    for j in range(int(count)):
        if _every(j, real_fraction):
            out.append("RealMotion")
            continue
        if _every(procedural, free_fraction):
            out.append("FreeMotion")
        else:
            out.append(scripted[turn % len(scripted)])
            turn += 1
        procedural += 1
    return out


def _sequence_area(s: _Sequence, margin_mm: float = 250.0) -> tuple[np.ndarray, float]:
    """Where a sequence's pelvis is over its kept frames: the centre (2,) world mm of its extent
    and the radius (mm) that holds it, plus ``margin_mm`` (at least 400 mm)."""
    xy = s.poses[s.frames, 6, :2]
    centre = (xy.min(0) + xy.max(0)) / 2
    return centre, max(400.0, float(np.linalg.norm(xy - centre, axis=-1).max()) + margin_mm)


def _layout_cast(sequences: list[_Sequence], name: str, split: str, seed: int, *, novel: bool, slots: int,
                 area_mm: float, look_name: str, kind: str | None = None) -> Cast:
    """Every sequence filmed by its own sampled layout (``kind``: :data:`LAYOUT_KINDS`; None: the
    narrow ``novel``/``train`` family, drawn around the area's centre). A wide kind draws the
    layout around the sequence itself (:func:`_sequence_area`): a close dome films a person where
    they are, as a real one does."""
    rigs, present, layouts = [], [], []
    for s in sequences:
        rng = purpose_rng(seed, name, split, "layout", s.sequence)
        kind = kind or ("novel" if novel else "train")
        if kind in ("train", "novel"):
            rig, mask, record = _layout_rig(rng, kind, slots, area_mm)
        else:
            centre, radius = _sequence_area(s)
            rig, mask, record = _layout_rig(rng, kind, slots, radius, centre)
        rigs.append(rig)
        present.append(mask)
        layouts.append(record)
    return Cast(sequences, rigs, present, list(range(len(sequences))), "procedural", look_name, layouts)


def _per_key(total_sequences: int, *groups: int) -> int:
    """Sequences per key so that the product of ``groups`` keys holds at least ``total_sequences``."""
    return max(1, math.ceil(total_sequences / math.prod(groups)))


def novel_cast(name: str, config: SynthConfig, seed: int) -> Cast:
    """One generalization split (``synth-novel-rig``, ``-motion``, ``-body``, ``-all``): see
    :class:`~.config.NovelSpec`. Test split only; none of its layouts, actions or bodies is drawn
    by the training world (``tests/datasets/test_generalization_splits.py`` checks)."""
    spec: NovelSpec | None = config.novel
    if spec is None:
        raise InputError(f"{name}: the config has no `novel` section (SynthConfig.novel)")
    cast = _novel_cast(name, config, spec, seed)
    step = spec.frame_step_of(name)
    if step > 1:
        cast.sequences = [replace(s, frames=s.frames[::step]) for s in cast.sequences]
    return cast


def _novel_cast(name: str, config: SynthConfig, spec: NovelSpec, seed: int) -> Cast:
    split, fps, area = "test", config.fps, spec.area_radius_mm
    wide = spec.layouts == "wide"
    if name in ("synth-novel-rig", "synth-extrapolated-rig"):  # the in-distribution test's sequences, other cameras
        h36m = config.h36m
        clips = role_clips(config, "test-take") if h36m.test.real_motion > 0 else []
        sequences = _procedural_sequences("synth-h36m", split, h36m.test, h36m.area_radius_mm, fps, seed, clips)
        far = name == "synth-extrapolated-rig"
        return _layout_cast(sequences, name, split, seed, novel=True,
                            slots=spec.extrapolated_views if far else spec.views,
                            area_mm=h36m.area_radius_mm, look_name="synth-h36m",
                            kind=("extrapolated" if far else "held-out") if wide else None)
    from poseboard.datasets.synthetic.body import SUBJECTS, TEST_SUBJECTS, novel_bodies
    from poseboard.datasets.synthetic.config import REAL_SPLIT_ROLES
    from poseboard.datasets.synthetic.motion import NOVEL_ACTIONS, ORIGINAL_ACTIONS

    if name in REAL_SPLIT_ROLES:  # the test subjects in the library's held-out contents or styles
        subjects = [SUBJECTS[s] for s in TEST_SUBJECTS]
        clips = role_clips(config, REAL_SPLIT_ROLES[name])
        if not clips:
            raise InputError(f"{name}: the motion library has no clip of the role {REAL_SPLIT_ROLES[name]!r}")
        keys = [(b, "RealMotion", k) for b in subjects for k in range(_per_key(spec.sequences, len(subjects), 1))]
        # each window fitted to the capture area, as the procedural test motion keeps to it: a wider
        # path (a dash) leaves the built-in rig's view, and no held-out layout sees all of it (the
        # knee-height wide lens of synth-novel-rig's families then finds no camera)
        sequences = _perform(name, split, keys, spec.samples, spec.stride, area, fps, seed, clips=clips,
                             fit_area=True)
        motion_source = "real"
    else:
        if name == "synth-novel-motion":
            subjects = [SUBJECTS[s] for s in TEST_SUBJECTS]
            actions = NOVEL_ACTIONS
        elif name in ("synth-novel-body", "synth-novel-all"):
            subjects = novel_bodies(seed, spec.bodies)
            actions = ORIGINAL_ACTIONS if name == "synth-novel-body" else NOVEL_ACTIONS
        else:
            raise InputError(f"unknown generalization split {name!r}")
        per_key = _per_key(spec.sequences, len(subjects), len(actions))
        keys = [(b, a, k) for b in subjects for a in actions for k in range(per_key)]
        sequences = _perform(name, split, keys, spec.samples, spec.stride, area, fps, seed)
        motion_source = "procedural"
    if name in ("synth-novel-all", "synth-real-content-rig", "synth-real-style-rig"):
        cast = _layout_cast(sequences, name, split, seed, novel=True, slots=spec.views, area_mm=area, look_name=name,
                            kind="held-out" if wide else None)
        cast.motion_source = motion_source
        return cast
    rigs = {b.name: build_rig("h36m", purpose_rng(seed, name, split, "rig", b.name)) for b in subjects}
    order = list(rigs)
    return Cast(sequences, [rigs[b] for b in order], [np.ones(4, bool) for _ in order],
                [order.index(s.subject) for s in sequences], motion_source, name, [None] * len(order))
