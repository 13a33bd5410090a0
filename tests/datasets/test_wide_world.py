"""The wide training world of issue 38: rigs that span real studios, novel rigs held out inside
those ranges, an extrapolation split beyond them, free motion mixed in. Sampled objects first,
then the generated files, measured back from the stored cameras."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from poseboard.camera import Camera
from poseboard.datasets.storage import MultiViewStore
from poseboard.datasets.synthetic.config import SynthConfig
from poseboard.datasets.synthetic.generator import generate_datasets
from poseboard.datasets.synthetic.layouts import (
    EXTRAPOLATED_LAYOUTS,
    HELD_OUT_BOX_LAYOUTS,
    HELD_OUT_BOXES,
    HELD_OUT_PLACEMENT_LAYOUTS,
    HELD_OUT_PLACEMENTS,
    TRAIN_LAYOUTS,
    WIDE_TRAIN_LAYOUTS,
    Layout,
    camera_factors,
    in_ranges,
    sample_layout,
)

SEEDS = range(120)
AREA_MM = 700.0  # a short training sequence's own area (casting._sequence_area)


def _factors(layout: Layout) -> list[dict[str, float]]:
    return [camera_factors(c) for c in layout.cameras]


def _in_box(f: dict[str, float]) -> bool:
    return any(bool(b.contains(f["distance_mm"], f["height_mm"], f["hfov_deg"])) for b in HELD_OUT_BOXES)


def _within_spans(f: dict[str, float], ranges) -> bool:
    """Inside the family's outer ranges (numerically; exclusions aside)."""
    return all(min(lo for lo, _ in getattr(ranges, k)) - 1e-6 <= f[k] <= max(hi for _, hi in getattr(ranges, k)) + 1e-6
               for k in ("distance_mm", "height_mm", "hfov_deg"))


@pytest.fixture(scope="module")
def wide() -> list[Layout]:
    return [sample_layout(np.random.default_rng(s), WIDE_TRAIN_LAYOUTS, area_radius_mm=AREA_MM) for s in SEEDS]


def test_wide_training_rigs_span_real_studios(wide):
    """Every camera inside the new ranges and outside the held-out boxes; the ranges are reached
    (close and far, knee height to a 3.5 m ceiling looking steeply down, 30–100°, 2–12 cameras,
    domes and rooms)."""
    factors = [f for layout in wide for f in _factors(layout)]
    for f in factors:
        assert in_ranges(f, WIDE_TRAIN_LAYOUTS) and not _in_box(f)
    d, h, v = (np.array([f[k] for f in factors]) for k in ("distance_mm", "height_mm", "hfov_deg"))
    pitch = np.array([f["pitch_deg"] for f in factors])
    assert d.min() < 2000 and d.max() > 8000 and h.min() < 500 and h.max() > 3200
    assert v.min() < 35 and v.max() > 95 and pitch.max() > 40
    counts = {len(layout.cameras) for layout in wide}
    assert counts <= set(range(2, 13)) and {2, 12} <= counts
    placements = {layout.placement for layout in wide}
    assert {"dome", "room", "ring", "arc"} <= placements and not placements & set(HELD_OUT_PLACEMENTS)
    # far beyond the narrow family: most wide layouts have a camera the narrow one never draws
    outside = np.mean([any(not in_ranges(f, TRAIN_LAYOUTS) for f in _factors(layout)) for layout in wide])
    assert outside > 0.5


def test_domes_and_rooms_have_their_structure(wide):
    for layout in wide:
        f = _factors(layout)
        d, h = np.array([x["distance_mm"] for x in f]), np.array([x["height_mm"] for x in f])
        if layout.placement == "dome":  # one distance, two or three rings at their own heights
            assert d.max() / d.min() < 1.12
            assert np.ptp(h) > 300 and len(np.unique(np.round(h / 250))) >= 2
        if layout.placement == "room":  # near one ceiling
            assert np.ptp(h) < 700 and h.min() > 1800


def test_novel_rig_layouts_are_none_of_trainings():
    """Held out inside the ranges: a placement training never draws, or every camera in a
    factor combination training rejects; and still inside the wide ranges' spans."""
    for family in (HELD_OUT_PLACEMENT_LAYOUTS, *HELD_OUT_BOX_LAYOUTS):
        for s in range(40):
            layout = sample_layout(np.random.default_rng(s), family, area_radius_mm=AREA_MM)
            factors = _factors(layout)
            assert all(_within_spans(f, WIDE_TRAIN_LAYOUTS) for f in factors)
            if family is HELD_OUT_PLACEMENT_LAYOUTS:
                assert layout.placement in HELD_OUT_PLACEMENTS
                assert layout.placement not in WIDE_TRAIN_LAYOUTS.placements
            else:
                assert all(_in_box(f) and not in_ranges(f, WIDE_TRAIN_LAYOUTS) for f in factors)


def test_extrapolated_layouts_lie_beyond_the_ranges():
    for s in range(40):
        layout = sample_layout(np.random.default_rng(s), EXTRAPOLATED_LAYOUTS, area_radius_mm=AREA_MM, novel=True)
        assert 13 <= len(layout.cameras) <= 16
        for f in _factors(layout):
            assert not in_ranges(f, WIDE_TRAIN_LAYOUTS) and not _within_spans(f, WIDE_TRAIN_LAYOUTS)


# ------------------------------------------------------------------------------- generated files

WIDE_NAMES = ("synth-h36m", "synth-novel-rig", "synth-extrapolated-rig")


def _wide_config() -> SynthConfig:
    data = SynthConfig.preset("smoke").model_dump()
    data["h36m"]["train"]["world"] |= {"layouts": "wide", "free_motion": 0.4}
    data["novel"] |= {"layouts": "wide"}
    return SynthConfig.model_validate(data)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, MultiViewStore]:
    out = tmp_path_factory.mktemp("wide")
    generate_datasets(list(WIDE_NAMES), _wide_config(), out, seed=5, workers=1)
    stores = {split: MultiViewStore(out / "synth-h36m" / split) for split in ("train", "test")}
    return stores | {n: MultiViewStore(out / n / "test") for n in WIDE_NAMES[1:]}


def _layouts(store: MultiViewStore) -> tuple[pd.DataFrame, list[tuple[int, np.ndarray, list[Camera]]]]:
    """The layout table and, per sequence, its rig index, the centre of its pelvis over its
    frames (world mm) and its stored (present) cameras."""
    table = pd.read_csv(store.path / "layouts.csv")
    rows = store.table.assign(index=np.arange(len(store)))
    out = []
    for _, seq in rows.groupby("sequence", sort=True):
        idx = seq["index"].to_numpy()
        slots = np.flatnonzero(store.view_valid[idx].any(axis=0))
        pelvis = store.joints_3d[idx, 6, :2]
        out.append((int(seq["rig"].iloc[0]), (pelvis.min(0) + pelvis.max(0)) / 2,
                    [store.full_cameras(int(idx[0]))[k] for k in slots]))
    return table, out


def _about(camera: Camera, centre: np.ndarray) -> dict[str, float]:
    """The camera's factors measured about ``centre`` (2,) world mm, as if the area were there."""
    moved = Camera(K=camera.K, R=camera.R, t=camera.t + camera.R @ np.array([centre[0], centre[1], 0.0]),
                   dist=camera.dist, image_size=camera.image_size, name=camera.name)
    return camera_factors(moved)


def test_generated_training_world_is_wide_and_mixes_free_motion(generated):
    train = generated["train"]
    table, rigs = _layouts(train)
    assert set(table["family"]) == {"train-wide"}
    for _, centre, cameras in rigs:  # measured back from the stored cameras about the sequence's own centre
        for camera in cameras:
            assert in_ranges(_about(camera, centre), WIDE_TRAIN_LAYOUTS)
    actions = train.table.groupby("sequence")["action"].first()
    assert 0.3 <= (actions == "FreeMotion").mean() <= 0.5


def test_generated_novel_and_extrapolated_rigs(generated):
    rig, far, test = generated["synth-novel-rig"], generated["synth-extrapolated-rig"], generated["test"]
    for store in (rig, far):  # both re-film the in-distribution test's sequences: paired
        assert set(store.table["sequence"]) == set(test.table["sequence"])
    table, rigs = _layouts(rig)
    assert set(table["family"]) <= {"held-out-placement", *(f.name for f in HELD_OUT_BOX_LAYOUTS)}
    for index, centre, cameras in rigs:
        rows = table[table["rig"] == index]
        # the recorded centre is the sequence's own (its pelvis over its frames, these kept frames' subset)
        recorded = np.array([rows["centre_x_mm"].iloc[0], rows["centre_y_mm"].iloc[0]])
        assert np.linalg.norm(recorded - centre) <= rows["area_radius_mm"].iloc[0]
        factors = [_about(c, recorded) for c in cameras]
        if rows["placement"].iloc[0] in HELD_OUT_PLACEMENTS:
            assert rows["family"].iloc[0] == "held-out-placement"
        else:
            assert all(_in_box(f) for f in factors)
        assert all(_within_spans(f, WIDE_TRAIN_LAYOUTS) for f in factors)
    table, rigs = _layouts(far)
    assert set(table["family"]) == {"extrapolated"} and far.view_valid.shape[1] == 16
    for index, _, cameras in rigs:
        rows = table[table["rig"] == index]
        recorded = (rows["centre_x_mm"].iloc[0], rows["centre_y_mm"].iloc[0])
        for camera in cameras:
            assert not _within_spans(_about(camera, recorded), WIDE_TRAIN_LAYOUTS)


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_the_wide_world_is_deterministic_and_the_same_on_two_workers(tmp_path):
    """Same seed, same bytes; one or two rendering processes, the same bytes."""
    config = _wide_config()
    one, two = tmp_path / "one", tmp_path / "two"
    generate_datasets(["synth-h36m"], config, one, seed=5, workers=1, splits=("train",))
    generate_datasets(["synth-h36m"], config, two, seed=5, workers=2, splits=("train",))
    assert _digest(one / "synth-h36m" / "train") == _digest(two / "synth-h36m" / "train")


def test_narrow_worlds_skip_the_extrapolation_split(tmp_path):
    reports = generate_datasets(["synth-extrapolated-rig"], SynthConfig.preset("smoke"), tmp_path, seed=0)
    assert reports == [] and not (tmp_path / "synth-extrapolated-rig").exists()


def _differences(a: dict, b: dict, prefix: str = "") -> set[str]:
    out = set()
    for key in set(a) | set(b):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out |= _differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out.add(prefix + key)
    return out


def test_each_lever_changes_only_what_it_names():
    """The ablation's presets: coverage, frames and broad differ from ``default`` in their levers
    alone; coverage and frames keep every test split (in distribution and held out) the default's,
    broad changes the rig splits' layouts with the training world's."""
    default = SynthConfig.preset("default").model_dump()
    coverage, frames, broad = (SynthConfig.preset(p).model_dump() for p in ("coverage", "frames", "broad"))
    assert _differences(default, coverage) == {"profile", "h36m.train.world.free_motion"}
    assert _differences(default, frames) == {"profile", "h36m.train.samples", "h36m.train.world.sequences_per_body"}
    assert _differences(default, broad) == {"profile", "h36m.train.world.free_motion", "h36m.train.samples",
                                            "h36m.train.world.sequences_per_body", "h36m.train.world.layouts",
                                            "novel.layouts", "novel.extrapolated_frame_step"}
    assert frames["h36m"]["train"]["samples"] == 10 * default["h36m"]["train"]["samples"] == 18000
    assert coverage["h36m"]["train"]["world"]["free_motion"] == 0.4
