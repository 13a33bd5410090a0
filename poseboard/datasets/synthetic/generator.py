"""Generation of the synthetic datasets: ``synth-h36m``, ``synth-panoptic``, ``synth-mupots``.

* ``synth-h36m``: the 4-camera Human3.6M-like rig (calibrated per subject, jittered), train
  subjects S1 S5 S6 S7 S8 and test subjects S9 S11; multi-view person crops.
* ``synth-panoptic``: the 31-camera dome; the test split keeps every camera (for the
  MPJPE-versus-number-of-cameras sweep), the train split a subset (``views``).
* ``synth-mupots``: single images (one tripod per scene) of 1–4 people 1.5–7.5 m away, with
  per-person boxes, joints and root in camera mm.

Frames are taken from 50 fps procedural sequences (:mod:`poseboard.datasets.synthetic.motion`) at a
stride (train denser than test, as the papers subsample their test sets). Every random choice
comes from a ``SeedSequence`` keyed by (seed, dataset, split, purpose, names…), so the same
seed and config give byte-identical files, and a dataset does not depend on which other
datasets were generated with it.

A user's rig JSON (``rig_path``) and motion ``.npz`` (``motion_path``) replace the built-in rig
and the procedural motion; see ``docs/synthetic_world.md``.

Example:
    >>> cfg = SynthConfig.preset("smoke")
    >>> cfg.h36m.train.samples > 0, cfg.crop_size
    (True, 64)
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poseboard.camera import Camera
from poseboard.datasets.storage import DatasetWriter, Manifest
from poseboard.datasets.synthetic import render as R
from poseboard.datasets.synthetic.casting import (  # noqa: F401 - strided_frames, _user_sequences re-exported
    Cast,
    _every,
    _file_sha256,
    _pinhole,
    _Sequence,
    _split_frame_counts,
    _test_subjects,
    _user_sequences,
    builtin_cast,
    novel_cast,
    real_scene_person,
    strided_frames,
    training_clips,
    training_world_cast,
)
from poseboard.datasets.synthetic.casting import (
    purpose_rng as _rng,
)
from poseboard.datasets.synthetic.config import (  # noqa: F401 - re-exported
    _SECTIONS,
    DATASET_NAMES,
    PRESETS,
    REAL_SPLIT_ROLES,
    SPLITS,
    WIDE_ONLY_DATASETS,
    MultiViewSpec,
    MultiViewSplit,
    SingleViewSpec,
    SingleViewSplit,
    Split,
    SynthConfig,
)  # fmt: skip
from poseboard.datasets.synthetic.rigs import build_rig, rig_from_file
from poseboard.errors import InputError


# --------------------------------------------------------------------------- the per-sequence look
def _subject_look(seed: int, subject: str) -> tuple[R.Color, R.Color]:
    rng = _rng(seed, "look", subject)
    return R.skin_tone(rng), R.hair_color(rng)


def _jitter(rng: np.random.Generator, noise_size: int) -> dict[str, Any]:
    gain = tuple(float(g) for g in rng.uniform(0.85, 1.15) * rng.uniform(0.94, 1.06, 3))
    return {"gain": gain, "bias": float(rng.uniform(-0.05, 0.05)),
            "noise_offset": (int(rng.integers(noise_size)), int(rng.integers(noise_size)))}


# --------------------------------------------------------------------------- multi-view
@dataclass
class SplitReport:
    """What one generated split holds (also in its manifest)."""

    name: str
    split: str
    path: Path
    samples: int
    views: int
    bytes: int
    seconds: float
    occluded_fraction: float  # of joints inside the frame, hidden by the body, others or occluders
    outside_fraction: float  # of joints outside the camera frame


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False, dynamic_ncols=True)


def _generator_name() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"poseboard {version('poseboard')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "poseboard (source)"


def _config_record(config: SynthConfig, name: str, motion_source: str) -> dict[str, Any]:
    """The configuration a split's manifest records: the shared options and this dataset's own
    section only, so that changing another dataset's section leaves this one byte-identical
    (and DVC does not re-run the stages that read it)."""
    record = config.model_dump(mode="json")
    for other in set(_SECTIONS.values()) - {_SECTIONS.get(name)}:
        record.pop(other, None)
    inputs = {}
    if config.rig_path is not None:
        inputs["rig_sha256"] = _file_sha256(config.rig_path)
    if config.motion_path is not None:
        inputs["motion_sha256"] = _file_sha256(config.motion_path)
    if config.motion_library is not None:
        inputs["motion_library_sha256"] = _file_sha256(config.motion_library.path)
    record["input_hashes"] = inputs
    record["dataset"] = name
    record["motion_source"] = motion_source  # "user" or "procedural" (this split's motion)
    return record


@dataclass
class _MultiViewItem:
    """One multi-view sample to render (picklable: sent to worker processes)."""

    pose: np.ndarray  # (17, 3) world mm
    body: Any  # BodyShape
    appearance: R.Appearance
    background: R.Background
    occluders: R.Primitives
    cameras: list[Camera]  # full-frame
    rng_key: tuple[Any, ...]
    present: np.ndarray | None = None  # (V,) bool: False for an absent camera slot (never rendered)


@dataclass
class _MultiViewTask:
    items: list[_MultiViewItem]
    size: int
    box_scale: float
    seed: int
    noise: np.ndarray
    device: str = "cpu"  # where render_views casts rays (set by the runner)


def _render_multiview_task(task: _MultiViewTask) -> dict[str, np.ndarray]:
    """Render the crops of a batch of samples: images (n, V, 3, S, S), boxes, 2D joints,
    visibility and view validity. An absent camera slot is not rendered: a black image, a
    full-frame box, no joints, ``view_valid`` False."""
    size, n = task.size, len(task.items)
    v = len(task.items[0].cameras)
    boxes = np.zeros((n, v, 4), dtype=np.int32)
    valid = np.ones((n, v), dtype=bool)
    images = np.zeros((n, v, 3, size, size), dtype=np.uint8)
    scenes, jobs, tolerances, slots = [], [], [], []
    for i, item in enumerate(task.items):
        body, tol = R.figure_primitives(item.pose, item.body, item.appearance)
        scenes.append(R.Scene(R.Primitives.concat([body, item.occluders]), item.background))
        tolerances.append(tol)
        rng = _rng(task.seed, *item.rng_key)
        for k, cam in enumerate(item.cameras):
            if item.present is not None and not item.present[k]:
                boxes[i, k], valid[i, k] = (0, 0, *cam.image_size), False
                continue
            box, ok = _crop_box(cam, body, task.box_scale)
            boxes[i, k], valid[i, k] = box, ok
            crop = cam.crop_and_resize(box, (size, size))
            rect = R.crop_valid_rect(box, cam.image_size, (size, size))
            jobs.append(R.ViewJob(crop, i, rect, **_jitter(rng, task.noise.shape[1])))
            slots.append((i, k))
    result = R.render_views(scenes, jobs, noise_bank=task.noise, device=task.device)
    joints_2d = np.zeros((n, v, 17, 2))
    visibility = np.zeros((n, v, 17), dtype=bool)
    for j, (i, k) in enumerate(slots):
        job, item = jobs[j], task.items[i]
        images[i, k] = result.images[j]
        uv, vis = R.joint_visibility(job.camera, item.pose, result.depth[j], tolerances[i], job.valid_rect)
        joints_2d[i, k] = uv
        visibility[i, k] = vis & valid[i, k]
    return {"images": images, "boxes": boxes, "joints_2d": joints_2d, "visibility": visibility, "view_valid": valid}


def _worker_init(keep_memory: bool = False) -> None:
    """A render worker's set-up: the parent's allocator policy (:mod:`poseboard.allocator`; a
    spawned process starts with glibc's default) and one torch thread."""
    import torch

    from poseboard.allocator import keep_freed_memory

    if keep_memory:
        keep_freed_memory()
    # One thread per process: torch's parallel loops stall badly when a core is busy elsewhere.
    torch.set_num_threads(1)


class _Runner:
    """Runs render tasks in order, inline (``workers`` ≤ 1) or in worker processes, each
    rendering on ``device`` (the CPU, or a GPU: spawned workers each open it)."""

    def __init__(self, workers: int, device: str = "cpu"):
        self.workers = max(1, int(workers))
        self.device = device
        self._pool = None

    def __enter__(self) -> _Runner:
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            from poseboard.allocator import policy_in_force

            ctx = multiprocessing.get_context("spawn")  # fork is unsafe once torch has threads
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init,
                                             initargs=(policy_in_force(),))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = (dataclasses.replace(t, device=self.device) for t in tasks)
        if self._pool is None:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                for task in tasks:
                    yield fn(task)
            finally:
                torch.set_num_threads(threads)
            return
        pending: deque = deque()
        it = iter(tasks)
        for task in itertools.islice(it, 2 * self.workers):
            pending.append(self._pool.submit(fn, task))
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(self._pool.submit(fn, nxt))
            yield result


def _device_record(runner: _Runner) -> dict[str, str]:
    """What a manifest adds about the rendering device: nothing on the CPU (whose files are
    the bytes they always were), the GPU's name otherwise (its files are another rendering)."""
    if runner.device == "cpu":
        return {}
    from poseboard.device import describe_device

    return {"render_device": describe_device(runner.device)}


def _multiview_cast(name: str, split: str, config: SynthConfig, seed: int) -> Cast | None:
    """The cast of one multi-view split, or None when the split is not generated (0 samples, a
    generalization split's train split, or a generalization split beside a user rig or motion,
    which replace the procedural world those splits are defined against)."""
    section = _SECTIONS[name]
    if section == "novel":
        if split != "test" or config.novel is None or config.novel.samples == 0:
            return None
        if config.rig_path is not None or config.motion_path is not None:
            return None
        if name in WIDE_ONLY_DATASETS and config.novel.layouts != "wide":
            return None
        if name in REAL_SPLIT_ROLES and config.motion_library is None:  # real people need the library
            return None
        return novel_cast(name, config, seed)
    spec: MultiViewSpec = getattr(config, section)
    cfg: MultiViewSplit = getattr(spec, split)
    if cfg.samples == 0:
        return None
    if cfg.world is not None and config.rig_path is None and config.motion_path is None:
        clips = training_clips(config) if cfg.world.real_motion > 0 else []
        return training_world_cast(name, split, cfg, spec.area_radius_mm, config.fps, seed, clips)
    return builtin_cast(name, section, split, cfg, spec.area_radius_mm, config, seed)


def _generate_multiview(name: str, split: str, config: SynthConfig, seed: int, out: Path, progress: bool,
                        runner: _Runner) -> SplitReport | None:
    start = time.perf_counter()
    cast = _multiview_cast(name, split, config, seed)
    if cast is None:
        return None
    spec = getattr(config, _SECTIONS[name])
    sequences, look_name = cast.sequences, cast.look_name
    size = config.crop_size
    rigs = [[_pinhole(c) for c in cams] for cams in cast.rigs] if config.undistort else cast.rigs
    first = rigs[0]
    num_views = len(first)
    writer = DatasetWriter(out / name / split, "multiview", (num_views, 3, size, size))
    try:
        rig_index = [writer.add_rig(cams) for cams in rigs]
        noise = R.make_noise_bank(_rng(seed, look_name, split, "noise"))
        looks = []  # per sequence: clothes, room and light, occluders
        for q, s in enumerate(sequences):
            rng = _rng(seed, look_name, split, "look", s.sequence)
            skin, hair = _subject_look(seed, s.subject)
            appearance = R.Appearance.random(rng, skin=skin, hair=hair)
            background = R.Background.random(rng)
            distractors: list[R.Distractor] = []
            if rng.random() < spec.distractor_probability and spec.max_distractors > 0:
                rig_q = cast.rig_of[q]
                centres = np.stack([c.center for c, on in zip(rigs[rig_q], cast.present[rig_q], strict=True) if on])
                mid = s.poses[:, 6, :2].mean(axis=0)
                distractors = R.random_distractors(rng, centres, mid, int(rng.integers(1, spec.max_distractors + 1)))
            looks.append((appearance, background, R.Primitives.concat([d.primitives() for d in distractors])))
        items = [(q, f) for q, s in enumerate(sequences) for f in s.frames]
        n = len(items)
        per_task = max(1, config.batch_views // num_views)

        def tasks() -> Iterator[_MultiViewTask]:
            for b0 in range(0, n, per_task):
                batch = []
                for q, f in items[b0 : b0 + per_task]:
                    s = sequences[q]
                    appearance, background, occluders = looks[q]
                    r = cast.rig_of[q]
                    batch.append(_MultiViewItem(s.poses[f], s.body, appearance, background, occluders, rigs[r],
                                                (look_name, split, "view", s.sequence, f), cast.present[r]))
                yield _MultiViewTask(batch, size, config.box_scale, seed, noise)

        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("boxes", "joints_2d", "visibility", "view_valid")}
        bar = _progress(n * num_views, f"{name} {split}", progress)
        for result in runner.map(_render_multiview_task, tasks()):
            writer.add_images(result["images"])
            for key in parts:
                parts[key].append(result[key])
            bar.update(result["images"].shape[0] * num_views)
        bar.close()
        arrays = {key: np.concatenate(value) for key, value in parts.items()}
        arrays["joints_3d"] = np.stack([sequences[q].poses[f] for q, f in items]).astype(np.float64)
        rows = []
        for (q, f), (shard, offset) in zip(items, writer.locations, strict=True):
            s = sequences[q]
            rows.append({"sample_id": f"{s.sequence}/{f:06d}", "subject": s.subject, "action": s.action,
                         "sequence": s.sequence, "frame": f, "scene": "", "shard": shard, "offset": offset,
                         "rig": rig_index[cast.rig_of[q]]})
        columns = ["sample_id", "subject", "action", "sequence", "frame", "scene", "shard", "offset", "rig"]
        writer.write_table("samples.csv", pd.DataFrame(rows, columns=columns))
        for key in ("boxes", "joints_3d", "joints_2d", "visibility", "view_valid"):
            writer.write_array(key, arrays[key])
        if any(record is not None for record in cast.layouts):
            writer.write_table("layouts.csv", _layout_table(cast.layouts, rig_index))
        frame_sizes = np.array([[c.image_size for c in rigs[cast.rig_of[q]]] for q, _ in items], dtype=np.float64)
        stats = _visibility_stats(arrays["joints_2d"], arrays["visibility"], arrays["boxes"], arrays["view_valid"],
                                  frame_sizes, size)
        manifest = writer.finish(
            name=name, split=split, seed=seed,
            config=_config_record(config, name, cast.motion_source) | _device_record(runner),
            counts={"samples": n, "views": num_views, "joints": 17, "people": None},
            image_size=(size, size), camera_names=[c.name for c in first], generator=_generator_name(),
            stats=stats,
        )
    except BaseException:
        writer.abort()
        raise
    return _report(name, split, out, manifest, n, num_views, time.perf_counter() - start)


def _crop_box(camera: Camera, body: R.Primitives, scale: float) -> tuple[np.ndarray, bool]:
    """The square crop box of a person in a camera, and whether the view is usable."""
    w, h = camera.image_size
    try:
        extent = R.projected_extent(camera, body)
    except InputError:  # the person is (partly) behind this camera: a missing view
        side = max(w, h)
        return np.array([0, 0, side, side]), False
    box = R.square_box(extent, scale)
    overlaps = box[0] < w and box[1] < h and box[2] > 0 and box[3] > 0
    return box, bool(overlaps)


def _layout_table(layouts: Sequence[dict[str, Any] | None], rig_index: Sequence[int]) -> pd.DataFrame:
    """A row per camera of every sampled layout (``layouts.csv``): the rig, its placement and the
    camera's measured distance, height, field of view, roll, pitch and image size (a wide layout's
    distance and azimuth about its sequence's centre, ``centre_x_mm``/``centre_y_mm``)."""
    rows = []
    for record, rig in zip(layouts, rig_index, strict=True):
        if record is None:
            continue
        stored = record.get("stored_cameras", range(len(record["cameras"])))
        for k, camera in enumerate(record["cameras"]):
            width, height = camera["image_size"]
            centre = record.get("centre_mm")  # wide layouts: drawn around their own sequence
            where = {} if centre is None else {"centre_x_mm": centre[0], "centre_y_mm": centre[1],
                                               "area_radius_mm": record["area_radius_mm"]}
            rows.append({"rig": rig, "layout_camera": k, "stored": k in stored, "family": record["family"],
                         "placement": record["placement"], "layout_cameras": len(record["cameras"])} | where
                        | {key: value for key, value in camera.items() if key not in ("image_size", "novel_factors")}
                        | {"image_width": width, "image_height": height,
                           "novel_factors": "+".join(camera["novel_factors"])})
    return pd.DataFrame(rows)


def _visibility_stats(joints_2d, visibility, boxes, view_valid, frame_sizes, size) -> dict[str, float]:
    """Fractions of joints hidden (inside the frame but occluded) and outside the frame;
    ``frame_sizes`` (N, V, 2) is each view's full-frame (width, height)."""
    left, top = boxes[..., 0:1].astype(np.float64), boxes[..., 1:2].astype(np.float64)
    scale = (boxes[..., 2:3] - boxes[..., 0:1]).astype(np.float64) / size
    frame_u = left + joints_2d[..., 0] * scale
    frame_v = top + joints_2d[..., 1] * scale
    w, h = frame_sizes[..., 0:1], frame_sizes[..., 1:2]
    inside = (frame_u >= -0.5) & (frame_u < w - 0.5) & (frame_v >= -0.5) & (frame_v < h - 0.5)
    valid = np.broadcast_to(view_valid[..., None], inside.shape)
    total = max(int(valid.sum()), 1)
    return {
        "occluded_fraction": float((inside & ~visibility & valid).sum() / total),
        "outside_fraction": float((~inside & valid).sum() / total),
        "visible_fraction": float((visibility & valid).sum() / total),
    }


def _report(name, split, out, manifest: Manifest, n, views, seconds) -> SplitReport:
    return SplitReport(
        name=name, split=split, path=out / name / split, samples=n, views=views,
        bytes=sum(f.bytes for f in manifest.files.values()), seconds=seconds,
        occluded_fraction=manifest.stats.get("occluded_fraction", 0.0),
        outside_fraction=manifest.stats.get("outside_fraction", 0.0),
    )


# --------------------------------------------------------------------------- single-view
@dataclass
class _ScenePlan:
    name: str
    camera: Camera  # full resolution
    people: list[_Sequence]
    looks: list[R.Appearance]
    background: R.Background
    occluders: R.Primitives
    frames: list[int]


def _plan_scenes(name: str, split: str, config: SynthConfig, seed: int) -> tuple[list[_ScenePlan], str]:
    """The scenes of a single-view split: per scene a tripod, its people (the user's motion, or
    the named subjects' procedural motion, a ``real_motion`` share of the training split's people,
    spread evenly over the scenes' people in turn, performing the motion library's training clips:
    :func:`~.casting.real_scene_person`), their looks, the room and the frames kept."""
    from poseboard.datasets.synthetic.body import SUBJECTS, TEST_SUBJECTS, TRAIN_SUBJECTS
    from poseboard.datasets.synthetic.motion import ORIGINAL_ACTIONS as ACTIONS
    from poseboard.datasets.synthetic.motion import generate_sequence

    spec = config.mupots
    cfg: SingleViewSplit = getattr(spec, split)
    if spec.max_people < spec.min_people or spec.max_depth_mm <= spec.min_depth_mm + 2 * spec.area_radius_mm:
        raise InputError("mupots: need min_people ≤ max_people and a depth range wider than 2 × area_radius_mm")
    user_rig = rig_from_file(config.rig_path) if config.rig_path is not None else None
    user_seqs: list[_Sequence] | None = None
    if config.motion_path is not None:
        # every user frame on the scenes' time base (config.fps), so cfg.stride is time, whatever the file's fps
        resampled = _user_sequences(config.motion_path, split, None, 1, _test_subjects(config), recentre=True,
                                    base_fps=config.fps)
        user_seqs = [_Sequence(s.subject, s.action, s.sequence, s.poses[s.frames], s.body, [])
                     for s in resampled] or None
    subjects = TRAIN_SUBJECTS if split == "train" else TEST_SUBJECTS
    if cfg.real_motion > 0 and split != "train":
        raise InputError(f"{name} {split}: real_motion {cfg.real_motion} drives training people only (a test split of "
                         "real people is a real-people split: synth-real-content, synth-real-style)")
    clips = training_clips(config) if cfg.real_motion > 0 and user_seqs is None else []
    plans = []
    person = 0  # the procedural people in turn, over the scenes: which of them are real (_every)
    counts = _split_frame_counts(cfg.images, cfg.scenes)
    for k, count in enumerate(counts):
        if count == 0:
            continue
        rng = _rng(seed, name, split, "scene", k)
        camera = user_rig[k % len(user_rig)] if user_rig is not None else build_rig("mupots", rng)[0]
        if config.undistort:
            camera = _pinhole(camera)
        num_frames = max(2, (count - 1) * cfg.stride + 1)
        n_people = int(rng.integers(spec.min_people, spec.max_people + 1))
        centres = _place_people(rng, camera, n_people, spec)
        people, looks = [], []
        for p, centre in enumerate(centres):
            if user_seqs is not None:
                src = user_seqs[int(rng.integers(len(user_seqs)))]
                start = int(rng.integers(max(1, src.poses.shape[0] - num_frames + 1)))
                idx = np.minimum(np.arange(start, start + num_frames), src.poses.shape[0] - 1)
                poses = src.poses[idx].copy()
                poses[..., :2] += centre - poses[:, 6, :2].mean(axis=0)
                seq = _Sequence(src.subject, src.action, src.sequence, poses, src.body, [])
            else:
                subject = subjects[int(rng.integers(len(subjects)))]
                action = ACTIONS[int(rng.integers(len(ACTIONS)))]  # drawn for a real person too: the scene stays
                motion_rng = _rng(seed, name, split, "motion", k, p)
                if _every(person, cfg.real_motion):
                    seq = real_scene_person(clips, SUBJECTS[subject], num_frames, cfg.stride, motion_rng, config.fps,
                                            centre, spec.area_radius_mm, f"{subject}/RealMotion/scene{k:03d}p{p}")
                else:
                    motion = generate_sequence(
                        SUBJECTS[subject], action, num_frames, motion_rng,
                        fps=config.fps, area_center=centre, area_radius_mm=spec.area_radius_mm,
                        sequence_id=f"{subject}/{action}/scene{k:03d}p{p}",
                    )
                    seq = _Sequence(subject, action, motion.sequence, motion.poses, SUBJECTS[subject], [])
                person += 1
            skin, hair = _subject_look(seed, seq.subject)
            looks.append(R.Appearance.random(rng, skin=skin, hair=hair))
            people.append(seq)
        background = R.Background.random(rng)
        occluders: list[R.Distractor] = []
        if rng.random() < spec.distractor_probability:
            target = centres[int(rng.integers(len(centres)))]
            occluders = R.random_distractors(rng, camera.center[None], target, 1)
        frames = list(range(0, num_frames, cfg.stride))[:count]
        plans.append(_ScenePlan(f"scene_{k:03d}", camera, people, looks, background,
                                R.Primitives.concat([d.primitives() for d in occluders]), frames))
    return plans, "user" if user_seqs is not None else "procedural"


def _place_people(rng: np.random.Generator, camera: Camera, count: int, spec: SingleViewSpec) -> list[np.ndarray]:
    """Floor points (world mm) in front of the camera, at depths within the spec, inside the
    horizontal field of view, at least 1.1 m apart."""
    forward = camera.R[2].copy()
    forward[2] = 0.0
    forward /= np.linalg.norm(forward)
    right = np.array([forward[1], -forward[0], 0.0])
    half_fov = math.atan2(camera.image_size[0] / 2, camera.K[0, 0])
    lo, hi = spec.min_depth_mm + spec.area_radius_mm, spec.max_depth_mm - spec.area_radius_mm
    placed: list[np.ndarray] = []
    for _ in range(count):
        for _attempt in range(200):
            depth = rng.uniform(lo, hi)
            lateral = depth * math.tan(rng.uniform(-0.7, 0.7) * half_fov)
            point = camera.center[:2] + depth * forward[:2] + lateral * right[:2]
            if all(np.linalg.norm(point - q) > 1100.0 for q in placed):
                placed.append(point)
                break
    return placed


@dataclass
class _SingleViewItem:
    """One multi-person image to render (picklable)."""

    poses: list[np.ndarray]  # per person (17, 3) world mm
    bodies: list[Any]
    looks: list[R.Appearance]
    background: R.Background
    occluders: R.Primitives
    camera: Camera  # at the stored image size
    rng_key: tuple[Any, ...]


@dataclass
class _SingleViewTask:
    items: list[_SingleViewItem]
    seed: int
    noise: np.ndarray
    device: str = "cpu"  # where render_views casts rays (set by the runner)


def _render_singleview_task(task: _SingleViewTask) -> dict[str, Any]:
    """Render whole images; per person: box, root and joints in camera mm, 2D joints,
    visibility (against everything in the image) and validity."""
    scenes, jobs, bodies = [], [], []
    for i, item in enumerate(task.items):
        parts, tols = [], []
        for p, (pose, body, look) in enumerate(zip(item.poses, item.bodies, item.looks, strict=True)):
            prims, tol = R.figure_primitives(pose, body, look, owner=p)
            parts.append(prims)
            tols.append(tol)
        bodies.append((parts, tols))
        scenes.append(R.Scene(R.Primitives.concat([*parts, item.occluders]), item.background))
        jobs.append(R.ViewJob(item.camera, i, None, **_jitter(_rng(task.seed, *item.rng_key), task.noise.shape[1])))
    result = R.render_views(scenes, jobs, noise_bank=task.noise, device=task.device)
    people = []
    for i, item in enumerate(task.items):
        cam = item.camera
        w, h = cam.image_size
        parts, tols = bodies[i]
        rows = []
        for p, pose in enumerate(item.poses):
            uv, vis = R.joint_visibility(cam, pose, result.depth[i], tols[p])
            box = _person_box(cam, parts[p])
            cam_joints = cam.world_to_camera(pose)
            root_inside = bool(np.all(np.isfinite(uv[6])) and 0 <= uv[6, 0] < w and 0 <= uv[6, 1] < h)
            rows.append({"box": box, "root_cam": cam_joints[6], "joints_cam": cam_joints, "joints_2d": uv,
                         "visibility": vis, "valid": root_inside and box[2] > box[0] and box[3] > box[1]})
        people.append(rows)
    return {"images": result.images, "people": people}


def _generate_singleview(name: str, split: str, config: SynthConfig, seed: int, out: Path, progress: bool,
                         runner: _Runner) -> SplitReport | None:
    spec = config.mupots
    cfg: SingleViewSplit = getattr(spec, split)
    if cfg.images == 0:
        return None
    start = time.perf_counter()
    plans, plans_source = _plan_scenes(name, split, config, seed)
    # The stored width is image_size; the height keeps the (first) camera's aspect ratio.
    w0, h0 = plans[0].camera.image_size
    width, height = spec.image_size, max(1, round(spec.image_size * h0 / w0))
    writer = DatasetWriter(out / name / split, "singleview", (3, height, width))
    try:
        cams = [p.camera.resize((width, height)) for p in plans]
        rig_index = [writer.add_rig([c]) for c in cams]
        noise = R.make_noise_bank(_rng(seed, name, split, "noise"))
        items = [(s, f) for s, plan in enumerate(plans) for f in plan.frames]
        n = len(items)
        per_task = max(1, config.batch_views // 4)

        def tasks() -> Iterator[_SingleViewTask]:
            for b0 in range(0, n, per_task):
                batch = []
                for s, f in items[b0 : b0 + per_task]:
                    plan = plans[s]
                    batch.append(_SingleViewItem(
                        [q.poses[f] for q in plan.people], [q.body for q in plan.people], plan.looks,
                        plan.background, plan.occluders, cams[s], (name, split, "view", s, f),
                    ))
                yield _SingleViewTask(batch, seed, noise)

        people: list[dict[str, Any]] = []
        people_rows, rows = [], []
        bar = _progress(n, f"{name} {split}", progress)
        k = 0
        for result in runner.map(_render_singleview_task, tasks()):
            writer.add_images(result["images"])
            for per_image in result["people"]:
                s, f = items[k]
                plan = plans[s]
                rows.append({
                    "sample_id": f"{plan.name}/{f:06d}", "subject": ",".join(q.subject for q in plan.people),
                    "action": ",".join(q.action for q in plan.people), "sequence": plan.name, "frame": f,
                    "scene": plan.name, "rig": rig_index[s], "people_start": len(people),
                    "people_count": len(per_image),
                })
                for q, person in zip(plan.people, per_image, strict=True):
                    people.append(person)
                    people_rows.append({"image": k, "subject": q.subject, "action": q.action,
                                        "sequence": q.sequence_at(f)})
                k += 1
            bar.update(result["images"].shape[0])
        bar.close()
        for row, (shard, offset) in zip(rows, writer.locations, strict=True):
            row["shard"], row["offset"] = shard, offset
        columns = ["sample_id", "subject", "action", "sequence", "frame", "scene", "shard", "offset", "rig",
                   "people_start", "people_count"]
        writer.write_table("samples.csv", pd.DataFrame(rows, columns=columns))
        writer.write_table("people.csv", pd.DataFrame(people_rows, columns=["image", "subject", "action", "sequence"]))
        p = len(people)

        def stack(key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            return np.array([q[key] for q in people], dtype=dtype).reshape(p, *shape)

        writer.write_array("people_boxes", stack("box", (4,), np.float64))
        writer.write_array("people_root_cam", stack("root_cam", (3,), np.float64))
        writer.write_array("people_joints_cam", stack("joints_cam", (17, 3), np.float64))
        uv = stack("joints_2d", (17, 2), np.float64)
        writer.write_array("people_joints_2d", uv)
        vis = stack("visibility", (17,), bool)
        writer.write_array("people_visibility", vis)
        writer.write_array("people_valid", stack("valid", (), bool))
        inside = np.all((uv >= -0.5) & (uv < np.array([width, height]) - 0.5), axis=-1)
        total = max(vis.size, 1)
        stats = {
            "occluded_fraction": float((inside & ~vis).sum() / total),
            "outside_fraction": float((~inside).sum() / total),
            "visible_fraction": float(vis.sum() / total),
            "people_per_image": float(p / max(n, 1)),
        }
        manifest = writer.finish(
            name=name, split=split, seed=seed,
            config=_config_record(config, name, plans_source) | _device_record(runner),
            counts={"samples": n, "views": 1, "joints": 17, "people": p}, image_size=(width, height),
            camera_names=[cams[0].name] if cams else [], generator=_generator_name(), stats=stats,
        )
    except BaseException:
        writer.abort()
        raise
    return _report(name, split, out, manifest, n, 1, time.perf_counter() - start)


def _person_box(camera: Camera, body: R.Primitives) -> np.ndarray:
    """Tight box (left, top, right, bottom) of a person's projection, clipped to the image."""
    w, h = camera.image_size
    try:
        left, top, right, bottom = R.projected_extent(camera, body)
    except InputError:
        return np.zeros(4)
    return np.array([np.clip(left, 0, w), np.clip(top, 0, h), np.clip(right, 0, w), np.clip(bottom, 0, h)])


# --------------------------------------------------------------------------- entry points
def default_workers() -> int:
    """Worker processes for rendering: the CPU cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _rendered_views(config: SynthConfig, names: Sequence[str], splits: Sequence[str]) -> int:
    """About how many 128²-pixel crops' worth of rendering a generation asks for."""
    total = 0
    for name in names:
        for split in splits:
            if name == "synth-mupots":
                cfg = getattr(config.mupots, split)
                total += cfg.images * (config.mupots.image_size / 128) ** 2
            elif _SECTIONS[name] == "novel":
                if split == "test" and config.novel is not None and (
                        name not in WIDE_ONLY_DATASETS or config.novel.layouts == "wide"):
                    # 2–10 cameras, 7 on average (extrapolated: 13–16); thinning keeps 1 / frame_step
                    kept = config.novel.samples / config.novel.frame_step_of(name)
                    total += kept * (14.5 if name in WIDE_ONLY_DATASETS else 7) * (config.crop_size / 128) ** 2
            else:
                cfg = getattr(getattr(config, _SECTIONS[name]), split)
                views = len(cfg.views) if cfg.views is not None else (4 if name == "synth-h36m" else 31)
                total += cfg.samples * views * (config.crop_size / 128) ** 2
    return int(total)


def generate_dataset(
    name: str,
    config: SynthConfig,
    out: str | Path = "data",
    seed: int = 0,
    splits: Sequence[str] = SPLITS,
    progress: bool = False,
    workers: int | None = 1,
    device: str = "cpu",
) -> list[SplitReport]:
    """Generate the splits of one named dataset into ``out/<name>/<split>/``.

    Args:
        name: ``synth-h36m``, ``synth-panoptic`` or ``synth-mupots``.
        config: sizes and inputs (see :class:`SynthConfig`).
        out: the data folder.
        seed: a non-negative integer; the same seed and config give byte-identical files
            (whatever the number of workers).
        splits: which of ``train``/``test`` to generate (a split of size 0 is skipped).
        progress: show a progress bar (stderr).
        workers: rendering processes (1: in this process; None: :func:`default_workers` for
            large jobs, 1 for small ones).
        device: where the renderer casts rays and shades (``cpu``, ``cuda``, ``cuda:N``). The
            CPU's files are the same bytes whatever the number of workers; a GPU's float32
            kernels round differently, so its files are not the CPU's bytes (a pixel on a
            silhouette may differ), and the manifest records the device.
    """
    return generate_datasets([name], config, out, seed, splits, progress, workers, device)


def generate_datasets(
    names: Sequence[str],
    config: SynthConfig,
    out: str | Path = "data",
    seed: int = 0,
    splits: Sequence[str] = SPLITS,
    progress: bool = False,
    workers: int | None = 1,
    device: str = "cpu",
) -> list[SplitReport]:
    """:func:`generate_dataset` for several datasets, sharing one pool of workers."""
    for name in names:
        if name not in DATASET_NAMES:
            close = difflib.get_close_matches(str(name), DATASET_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"unknown dataset {name!r}{hint}; choose one of {list(DATASET_NAMES)}")
    if int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    for split in splits:
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}; choose from {list(SPLITS)}")
    for label, path in (("rig", config.rig_path), ("motion", config.motion_path)):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{path}: {label} file not found")
    out = Path(out)
    reports = []
    if workers is None:  # worker start-up (~ seconds) pays off only for thousands of images
        workers = default_workers() if _rendered_views(config, names, splits) >= 4000 else 1
    with _Runner(workers, str(device)) as runner:
        for name in names:
            for split in splits:
                if name == "synth-mupots":
                    rep = _generate_singleview(name, split, config, int(seed), out, progress, runner)
                else:
                    rep = _generate_multiview(name, split, config, int(seed), out, progress, runner)
                if rep is not None:
                    reports.append(rep)
    return reports
