"""``poseboard studio`` end to end: the user's rig → a rendered test split → every trained method
scored → the page.

The order puts every check before any work: the rig is read and placed, the checkpoints folder
searched, the motion and the board's results read, the protocols built; only then is the split
rendered (the synthetic generator, :func:`~poseboard.datasets.synthetic.generator.generate_datasets`,
with the recentred rig as ``rig_path`` and, by default, its people's paths confined to the floor
every camera sees a standing person on: :mod:`poseboard.studio.volume`, the config's
``capture_area``) and the methods scored (:mod:`poseboard.studio.scoring`), on every frame and
again on the frames every camera sees whole (:mod:`poseboard.studio.in_view`). What is written
lives under ``out``: ``rig.json`` (the rig in the recentred world), ``motion.npz`` (with
``--motion``), ``data/synth-h36m/test/``, ``results/`` (the harness's predictions and result
files, the in-view results beside them), ``studio.html``, ``studio.md``, ``studio.json``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poseboard.errors import InputError, PoseboardError
from poseboard.studio.placement import check_view, place, recentred
from poseboard.studio.protocols import BOARD_PROTOCOL, DATASET, studio_protocols

#: ``--paths``: ``fit`` (the default) confines the test people's paths to the floor every camera
#: sees a standing person on (:mod:`poseboard.studio.volume`); ``as-rendered`` keeps the paths the
#: board renders (around the capture centre, within the test design's area radius).
PATHS: tuple[str, ...] = ("fit", "as-rendered")


def _say(line: str) -> None:
    print(f"studio: {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class StudioRequest:
    """What the command line asks for (see ``poseboard studio --help``)."""

    rig: Path
    out: Path
    checkpoints: Path
    board: Path | None
    params: Path
    motion: Path | None = None
    motion_in_place: bool = False
    cameras: int | None = None
    subsets: int = 3
    centre: Sequence[float] | None = None
    fmt: str | None = None
    units: str | None = None
    up: str | None = None
    profile: str | None = None
    frames: int | None = None
    batch_size: int = 8
    device: str = "cpu"
    workers: int = 0
    threads: int | None = None
    paths: str = "fit"


def _profile_config(request: StudioRequest) -> tuple[Any, int, str]:
    """The board profile's synthetic config (its test design and crop size: what the methods
    were trained for, ``--frames`` aside), its seed and name, from ``params.yaml``, and whether the
    test design is the board's own (``--frames`` left out or equal to the profile's): another
    number of frames draws other motion under the same sequence labels."""
    from poseboard.datasets.synthetic.generator import SynthConfig
    from poseboard.params import load_params

    params = load_params(request.params)
    name = request.profile or params.profile
    if name not in params.profiles:
        raise InputError(f"{request.params}: no profile {name!r} (--profile); profiles: {sorted(params.profiles)}")
    data = params.profiles[name].data
    overrides = {} if data.crop_size is None else {"crop_size": data.crop_size}
    board = SynthConfig.preset(data.preset, **overrides).with_split_sizes("test", samples=data.test_samples)
    config = board.with_split_sizes("test", samples=request.frames or data.test_samples)
    return config, params.seed, name, config.h36m.test.samples == board.h36m.test.samples


def _set_threads(threads: int | None) -> None:
    """Torch CPU threads of each predicting process: ``threads``, else ``POSEBOARD_THREADS``, else
    1, with a process per core (:func:`poseboard.harness.predict.predict_workers`), as ``poseboard
    predict`` does. Two threads in one process ran the probabilistic method's many small
    operations 2.6× slower than two one-thread processes on a shared 2-core machine (48 frames
    of room5.json: 54 s against 21 s, load average 9; docs/studio.md): OpenMP threads wait for
    each other at every operation's barrier, and on busy cores a waiting thread is descheduled."""
    import torch

    from poseboard.methods.train.loop import env_threads

    torch.set_num_threads(threads or env_threads(1))


def run_studio(request: StudioRequest, say: Callable[[str], None] = _say) -> dict[str, Any]:
    """Run the studio; returns the facts recorded in ``studio.json`` plus the page's paths."""
    from poseboard.camera import save_rig
    from poseboard.comparison.seed_spread import SEED_SPREAD_FILE, read_seed_spread
    from poseboard.harness.predict import reused_workers
    from poseboard.protocols.results import read_result, read_results
    from poseboard.studio.analysis import analyse
    from poseboard.studio.inputs import read_rig, write_motion
    from poseboard.studio.page import Section, Table, write_page
    from poseboard.studio.scoring import assign, find_trained, score

    t_start = time.perf_counter()
    out = request.out
    # ---- every check first
    if request.paths not in PATHS:
        raise InputError(f"--paths {request.paths!r}: choose one of {', '.join(PATHS)}")
    cameras, import_notes = read_rig(request.rig, request.fmt, request.units, request.up)
    placement = place(cameras, request.centre)
    moved = recentred(cameras, placement.centre)
    view_notes = check_view(moved, str(request.rig))
    protocols = studio_protocols(request.rig.name, len(moved), request.cameras, request.subsets)
    methods, passed_over = find_trained(request.checkpoints)
    groups, refused = assign(methods, protocols.main)
    if not any(groups.values()):
        raise InputError(f"{request.checkpoints}: none of the trained methods fits this rig's protocols: "
                         + "; ".join(refused))
    if request.board is not None and not request.board.is_dir():
        raise InputError(f"{request.board}: board results folder not found (--reference); give the results/ of a "
                         "trained board, or --no-reference to rank without the change from the board")
    board_results = read_results(request.board) if request.board is not None else []
    board_spread = read_seed_spread(request.board / SEED_SPREAD_FILE) if request.board is not None else None
    if request.motion is not None:
        from poseboard.datasets.synthetic.user_motion import load_user_motion

        load_user_motion(request.motion)  # refused here, before anything is written
    config, seed, profile, same_design = _profile_config(request)
    paired = same_design and request.motion is None  # the board's own test sequences, other cameras
    area = None  # --paths fit: the floor every camera sees a standing person on (--motion-in-place keeps the motion)
    if request.paths == "fit" and not request.motion_in_place:
        from poseboard.studio.volume import render_cameras, shared_area

        area = shared_area(render_cameras(moved, config.undistort))
    from poseboard.device import resolve_device

    device = resolve_device(request.device, "--device")
    _set_threads(request.threads)
    say(f"rig {request.rig}: {len(moved)} cameras ({', '.join(c.name for c in moved)}); capture area at "
        f"x = {placement.centre[0]:.0f}, y = {placement.centre[1]:.0f} mm ({placement.how})")
    for note in import_notes:
        say(f"import: {note}")
    for note in view_notes:
        say(f"warning: {note}")
    say(_paths_line(area, request, placement.centre))
    # ---- the inputs, rewritten in the recentred world
    out.mkdir(parents=True, exist_ok=True)
    rig_path = out / "rig.json"
    save_rig(moved, rig_path)
    overrides: dict[str, Any] = {"rig_path": rig_path}
    if area is not None:
        from poseboard.datasets.synthetic.config import CaptureArea

        overrides["capture_area"] = CaptureArea(centre_mm=(float(area.centre[0]), float(area.centre[1])),
                                                radius_mm=float(area.radius_mm))
    motion_subjects: list[str] = []
    if request.motion is not None:
        motion_subjects = write_motion(request.motion, out / "motion.npz", placement.centre, request.motion_in_place)
        overrides |= {"motion_path": out / "motion.npz", "test_subjects": motion_subjects}
    config = config.model_copy(update=overrides)
    # ---- render
    from poseboard.datasets.synthetic.generator import generate_datasets

    frames = config.h36m.test.samples
    say(f"render: profile {profile} test design ({'your motion' if request.motion else 'its people and motion'}), "
        f"up to {frames} frames × {len(moved)} cameras at {config.crop_size} px, seed {seed}")
    t0 = time.perf_counter()
    reports = generate_datasets([DATASET], config, out / "data", seed=seed, splits=["test"],
                                progress=sys.stderr.isatty(), workers=None if request.workers <= 0 else request.workers)
    render_s = time.perf_counter() - t0
    if not reports:
        raise InputError(f"{request.motion}: no frame to render (the motion holds no test frame)")
    rep = reports[0]
    say(f"rendered {rep.samples} frames × {rep.views} views in {render_s:.1f} s; joints occluded "
        f"{100 * rep.occluded_fraction:.1f} %, outside the frame {100 * rep.outside_fraction:.1f} %")
    # ---- score
    predict_s: dict[str, float] = {}
    paths: list[Path] = []
    with reused_workers():  # the predict processes start once for every method
        for pname, group in groups.items():
            for m in group:
                t1 = time.perf_counter()
                chosen = [protocols.main[pname]] + ([protocols.sweeps[pname]] if pname in protocols.sweeps else [])
                try:
                    paths += score(m, chosen, data_dir=out / "data", results_dir=out / "results",
                                   batch_size=request.batch_size, seed=0, device=device, say=say)
                except PoseboardError as exc:  # one broken checkpoint does not cost the others' scores
                    refused.append(f"{m.name}: could not be scored ({exc})")
                    say(f"warning: {m.name} could not be scored: {exc}")
                    continue
                predict_s[m.name] = time.perf_counter() - t1
    if not paths:
        raise InputError(f"{request.checkpoints}: no trained method could be scored: " + "; ".join(refused))
    results = [read_result(p) for p in paths]
    # ---- the frames every camera sees whole, and the methods scored on them alone
    from poseboard.studio.in_view import frames_in_view

    seen = frames_in_view(out / "data" / DATASET / "test")
    say(f"in view of every camera (every joint inside every image): {seen.count} of {len(seen.in_view)} frames")
    in_view_results, in_view_ids = _score_in_view(paths, results, protocols.main, seen, out)
    # ---- analyse and write
    say("paired comparisons and the change from the board (10000 bootstrap draws each)")
    main_ids = {protocols.main[name].id: BOARD_PROTOCOL[name] for name in protocols.main}
    sweep_ids = {protocols.main[name].id: protocols.sweeps[name].id for name in protocols.sweeps}
    if board_spread is not None and board_spread.profile != profile:
        board_spread = None  # measured on another profile's training: not these checkpoints' noise
    boards = analyse(results, board_results, main_ids, sweep_ids, paired_with_board=paired, seed_spread=board_spread)
    in_view_boards = {b.protocol: b for b in analyse(in_view_results, board_results, in_view_ids, {},
                                                     paired_with_board=paired, seed_spread=board_spread)}
    in_view_of = {main: in_view_boards.get(iv) for main, iv in _in_view_names(protocols.main).items()}
    total_s = time.perf_counter() - t_start
    facts = {
        "rig": str(request.rig), "cameras": [c.name for c in moved], "import_notes": import_notes,
        "placement": {"how": placement.how, "centre_mm": [float(v) for v in placement.centre],
                      "axes_point_mm": (None if placement.axes_point is None
                                        else [float(v) for v in placement.axes_point]),
                      "axis_distance_mm": placement.axis_distances, "view_notes": view_notes},
        "motion": None if request.motion is None else {"file": str(request.motion), "subjects": motion_subjects,
                                                       "in_place": request.motion_in_place},
        "profile": profile, "seed": seed, "crop_size": config.crop_size, "paired_with_board": paired,
        "split": {"frames": rep.samples, "views": rep.views, "occluded_fraction": rep.occluded_fraction,
                  "outside_fraction": rep.outside_fraction, "in_view_frames": seen.count,
                  "in_view_fraction": seen.fraction},
        "paths": _paths_facts(area, request, placement.centre),
        "checkpoints": str(request.checkpoints), "board": None if request.board is None else str(request.board),
        "passed_over": passed_over, "refused": refused,
        "seconds": {"render": round(render_s, 1), "predict": {k: round(v, 1) for k, v in predict_s.items()},
                    "total": round(total_s, 1)},
    }
    intro = [f"Your rig `{request.rig.name}`: {len(moved)} cameras ({', '.join(c.name for c in moved)}). Capture "
             f"area centred at x = {placement.centre[0]:.0f} mm, y = {placement.centre[1]:.0f} mm of your world "
             + ("(the floor point under the least-squares point nearest every optical axis"
                + (f"; the axes pass {min(placement.axis_distances.values()):.0f}–"
                   f"{max(placement.axis_distances.values()):.0f} mm from it)" if placement.axis_distances else ")")
                if placement.how == "optical axes" else "(given with --centre)") + ".",
             f"Test split: {rep.samples} frames × {rep.views} cameras rendered at {config.crop_size} px (profile "
             f"`{profile}`, seed {seed}; "
             + (f"your motion `{request.motion.name}`" if request.motion
                else "the board's test people, motion and looks")
             + f"); joints occluded {100 * rep.occluded_fraction:.1f} %, outside the frame "
             f"{100 * rep.outside_fraction:.1f} %. Rendered in {render_s:.0f} s, scored in "
             f"{sum(predict_s.values()):.0f} s, {total_s:.0f} s in all.",
             _paths_line(area, request, placement.centre) + ".",
             _in_view_line(seen, bool(in_view_results)),
             ("Change from the board: **paired** by sequence (this split holds the board's own test sequences, "
              "filmed by your cameras)." if paired else
              "Change from the board: **two-sample** (" + ("your own motion" if request.motion else
                                                            f"--frames {frames} draws other motion than the board's "
                                                            "test design under the same sequence labels")
              + "; each split's sequences resampled independently)."),
             *(f"Recommendation — {b.recommendation}" for b in boards)]
    extra = []
    skipped = [*passed_over, *refused, *(f"warning: {n}" for n in view_notes)]
    extra.append(Section("Run", "run", [f"Checkpoints `{request.checkpoints}`; board `{request.board}`."]
                         + ([f"Calibration import: {'; '.join(import_notes)}."] if import_notes else [])
                         + ([f"Passed over: {'; '.join(skipped)}."] if skipped else []),
                         [("Time per method (render excluded; every protocol it was scored under)",
                           Table(["method", "seconds"], [[k, f"{v:.1f}"] for k, v in predict_s.items()]))]))
    written = write_page(out, "poseboard studio: every method on your cameras", intro, boards, extra, facts,
                         in_view=in_view_of)
    say(f"wrote {written['html']}, {written['markdown']}, {written['json']} ({total_s:.0f} s in all)")
    return facts | {"written": {k: str(v) for k, v in written.items()}, "boards": boards,
                    "in_view_boards": in_view_of}


def _in_view_names(main: dict[str, Any]) -> dict[str, str]:
    """Each studio protocol's id → its in-view copy's id."""
    from poseboard.studio.protocols import in_view

    return {p.id: in_view(p).id for p in main.values()}


def _score_in_view(paths: list[Path], results: list[Any], main: dict[str, Any], seen: Any, out: Path
                   ) -> tuple[list[Any], dict[str, str]]:
    """Every main protocol's result scored again on the in-view frames (none when every frame or
    no frame is in view: the ranking on all frames says it then), and each in-view protocol id →
    the board's protocol it is compared with."""
    from poseboard.studio.in_view import score_in_view
    from poseboard.studio.protocols import in_view

    if seen.count in (0, len(seen.in_view)):
        return [], {}
    scored, compared = [], {}
    by_id = {p.id: (name, p) for name, p in main.items()}
    for path, result in zip(paths, results, strict=True):
        if result.protocol.id not in by_id:
            continue  # a camera sweep: ranked on all frames only
        name, protocol = by_id[result.protocol.id]
        target = in_view(protocol)
        found = score_in_view(path, target, seen, data_dir=out / "data", results_dir=out / "results")
        if found is not None:
            scored.append(found[0])
            compared[target.id] = BOARD_PROTOCOL[name]
    return scored, compared


def _paths_facts(area: Any, request: StudioRequest, origin: Any) -> dict[str, Any]:
    """``studio.json``'s record of where the test people walk: the disc in the recentred world (as
    the split's manifest records it, ``capture_area``) and in the user's (``origin`` added)."""
    if area is None:
        return {"mode": "as-recorded" if request.motion_in_place else request.paths, "area": None}
    return {"mode": "fit", "area": {
        "centre_mm": [float(v) for v in area.centre], "radius_mm": float(area.radius_mm), "seen": float(area.seen),
        "centre_in_your_world_mm": [float(v) for v in np.asarray(origin, dtype=np.float64) + area.centre],
        "whole_body_floor_m2": float(area.floor_m2), "person_height_mm": area.height_mm,
        "body_radius_mm": area.body_radius_mm, "margins_px": list(area.margins_px), "grid_step_mm": area.step_mm}}


def _paths_line(area: Any, request: StudioRequest, origin: Any) -> str:
    """One sentence: where the test people walk (no closing full stop); ``origin``: the capture
    centre in the user's world (mm), the recentred world's origin."""
    if area is None:
        if request.motion_in_place:
            return "Paths: your motion where it was recorded (--motion-in-place)"
        return ("Paths: as the board renders them (--paths as-rendered), each sequence somewhere within the test "
                "design's area around the capture centre, wherever your cameras look")
    x, y = (float(v) for v in np.asarray(origin, dtype=np.float64) + area.centre)
    head = (f"Paths fitted to where your cameras look (--paths fit): each sequence's pelvis path centred at x = "
            f"{x:.0f}, y = {y:.0f} mm of your world ({area.centre[0]:+.0f}, {area.centre[1]:+.0f} mm from the capture "
            f"centre) and scaled down to a {area.radius_mm:.0f} mm radius where it reaches farther")
    if area.fits:
        return head + (f"; there every camera sees a whole body ({area.height_mm / 1000:.1f} m tall, "
                       f"{area.body_radius_mm:.0f} mm around its pelvis, {min(area.margins_px):.0f} px from the "
                       "image edges)")
    return head + (f"; no floor point lets every camera see a whole body ({area.height_mm / 1000:.1f} m tall, "
                   f"{area.body_radius_mm:.0f} mm around its pelvis, {min(area.margins_px):.0f} px from the edges): "
                   f"there the worst-seen part of a body is seen in {100 * area.seen:.0f} % of (camera, height) pairs")


def _in_view_line(seen: Any, ranked: bool) -> str:
    """One sentence: how many frames every camera sees whole, and whether they are ranked apart."""
    head = (f"Frames with every joint inside every camera's image: {seen.count} of {len(seen.in_view)} "
            f"({100 * seen.fraction:.1f} %)")
    if ranked:
        return head + "; the methods are ranked on those frames too (the sections marked in-view frames only)."
    if seen.count == 0:
        return head + ": no frame to rank on apart."
    return head + ": the ranking on all frames is the ranking on in-view frames."
