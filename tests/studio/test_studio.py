"""``poseboard studio`` end to end on the smoke profile: untrained smoke checkpoints (a second to
build), a smoke "board" scored on the same test design, the user's 4-camera rig; the page's
numbers against an independent computation from the predictions and ground truth; refusals
with exit 2 and nothing written.

About a minute on a loaded 2-core machine (the probabilistic method's Monte-Carlo inference is
most of it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kendalltau
from typer.testing import CliRunner

from poseboard.camera import Camera, save_rig
from poseboard.cli import app

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 12
TARGET = np.array([1500.0, -700.0, 950.0])


def _rig(n: int = 4, target: np.ndarray = TARGET) -> list[Camera]:
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n + 0.4
        eye = [target[0] + 4300 * np.cos(a), target[1] + 4300 * np.sin(a), 1450.0 + 120 * i]
        cams.append(Camera.look_at(eye, target, 1150.0, (1000, 1000), dist=[-0.12, 0.05, 0.0, 0.0, 0.0],
                                   name=f"cam{i}"))
    return cams


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    """Untrained smoke checkpoints, and a smoke board: the same methods scored under the board's
    protocols on the smoke test design (seed 0, FRAMES frames, the built-in rig)."""
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets
    from poseboard.harness.multiview_pose import evaluate_method
    from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained, save_backbone
    from poseboard.methods.registry import get_method

    base = tmp_path_factory.mktemp("studio")
    ck = base / "checkpoints"
    torch.manual_seed(0)
    save_backbone(ck / "backbone", Backbone(BackboneConfig.preset("smoke")))
    for name in ("algebraic", "ransac", "probabilistic"):
        cls = get_method(name)
        method = cls(cls.config_model.preset("smoke").model_copy(update={"backbone_checkpoint": str(ck / "backbone")}))
        if name == "ransac":
            method.fit(None, None)
        else:
            init_from_pretrained(method.net.backbone, ck / "backbone")
        method.save(ck / name)
    (ck / "rootnet-like").mkdir()  # a folder that is not a trained method: passed over with a note
    config = SynthConfig.preset("smoke-broad", crop_size=64).with_split_sizes("test", samples=FRAMES)
    generate_datasets(["synth-h36m"], config, base / "board-data", seed=0, splits=["test"], workers=1)
    for name, protocol in (("algebraic", "synth-h36m-relative@3"), ("ransac", "synth-h36m-relative@3"),
                           ("probabilistic", "synth-h36m-uncalibrated@3")):
        evaluate_method(get_method(name).load(ck / name), protocol, data_dir=base / "board-data",
                        results_dir=base / "board")
    rig = base / "room.json"
    save_rig(_rig(), rig)
    params = base / "params.yaml"  # the smoke profile with the board's test design (FRAMES frames)
    text = (ROOT / "params.yaml").read_text()
    smoke = "data: {preset: smoke-broad, crop_size: 64, real_motion: 0.3, real_test: 0.25}"
    assert smoke in text
    params.write_text(text.replace(smoke, smoke[:-1] + f", test_samples: {FRAMES}}}"))
    return {"base": base, "checkpoints": ck, "board": base / "board", "rig": rig, "params": params}


def _studio(args: list[str], setup: dict[str, Path], out: Path):
    argv = ["studio", *args, "--checkpoints", str(setup["checkpoints"]), "--params", str(setup["params"]),
            "--profile", "smoke", "--out", str(out)]
    if "--reference" not in args and "--no-reference" not in args:
        argv += ["--reference", str(setup["board"])]
    return CliRunner().invoke(app, argv)


@pytest.fixture(scope="module")
def studio_run(setup, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("studio-out") / "page"
    result = _studio([str(setup["rig"]), "--cameras", "2", "--subsets", "1"], setup, out)
    assert result.exit_code == 0, result.output
    return out


def _relative(joints: np.ndarray) -> np.ndarray:
    return joints - joints[:, 6:7]


def _ground_truth(out: Path) -> tuple[pd.DataFrame, np.ndarray]:
    split = out / "data" / "synth-h36m" / "test"
    return pd.read_csv(split / "samples.csv"), np.load(split / "joints_3d.npy")


def _mpjpe(out: Path, method: str, protocol: str, frame: str = "world", views: int | None = None) -> float:
    """Relative MPJPE from the predictions file and the split's ground truth, computed here."""
    table, gt = _ground_truth(out)
    data = np.load(out / "results" / method / f"{protocol}.npz")
    ids, pred = data["sample_ids"].astype(str), data["joints_3d"]
    if views is not None:
        keep = data["num_views"] == views
        ids, pred = ids[keep], pred[keep]
    rows = pd.Index(table["sample_id"].astype(str)).get_indexer(ids)
    truth = gt[rows]
    if frame == "reference_camera":  # the first camera of the rig written beside the page
        R = np.array(json.loads((out / "rig.json").read_text())["cameras"][0]["R"])
        truth = truth @ R.T
    return float(np.linalg.norm(_relative(pred) - _relative(truth), axis=-1).mean())


def test_page_numbers_match_an_independent_computation(studio_run, setup):
    summary = json.loads((studio_run / "studio.json").read_text())
    boards = {b["protocol"]: b for b in summary["boards"]}
    assert set(boards) == {"studio-relative@1", "studio-uncalibrated@1"}
    calibrated = {m["method"]: m for m in boards["studio-relative@1"]["methods"]}
    assert set(calibrated) == {"algebraic", "ransac"}
    for name, m in calibrated.items():
        assert m["mpjpe_mm"] == pytest.approx(_mpjpe(studio_run, name, "studio-relative@1"), rel=1e-9)
        assert m["frames"] == FRAMES
        board = json.loads((setup["board"] / name / "synth-h36m-relative@3.json").read_text())
        assert m["board_mpjpe_mm"] == pytest.approx(board["metrics"]["headline_value"], rel=1e-12)
        change = m["change_from_board"]
        assert change["difference_mm"] == pytest.approx(m["mpjpe_mm"] - m["board_mpjpe_mm"], rel=1e-9)
        assert change["test"] == "paired"  # the board's test sequences, filmed by the user's cameras
        assert change["ci95_mm"][0] <= change["difference_mm"] <= change["ci95_mm"][1]
        # per camera count: 2 of the 4 cameras, computed from the sweep's predictions
        size2 = next(s for s in boards["studio-relative@1"]["per_camera_count"] if s["cameras"] == 2)
        value = next(r["mpjpe_mm"] for r in size2["ranked"] if r["method"] == name)
        assert value == pytest.approx(_mpjpe(studio_run, name, "studio-relative-sweep@1", views=2), rel=1e-9)
    ranked = boards["studio-relative@1"]["methods"]
    assert ranked[0]["mpjpe_mm"] <= ranked[1]["mpjpe_mm"] and [m["rank"] for m in ranked] == [1, 2]
    (pair,) = boards["studio-relative@1"]["pairs"]
    assert (pair["a"], pair["b"]) == (ranked[0]["method"], ranked[1]["method"])
    assert pair["difference_mm"] == pytest.approx(ranked[0]["mpjpe_mm"] - ranked[1]["mpjpe_mm"], rel=1e-9)
    assert pair["p_holm"] == pytest.approx(pair["p_value"])  # a family of one
    assert pair["decided"] == (pair["p_holm"] < 0.05)
    tau = kendalltau([calibrated[m]["board_mpjpe_mm"] for m in ("algebraic", "ransac")],
                     [calibrated[m]["mpjpe_mm"] for m in ("algebraic", "ransac")]).statistic
    assert boards["studio-relative@1"]["kendall_tau"] == pytest.approx(tau)
    (prob,) = boards["studio-uncalibrated@1"]["methods"]
    assert prob["method"] == "probabilistic"
    assert prob["mpjpe_mm"] == pytest.approx(
        _mpjpe(studio_run, "probabilistic", "studio-uncalibrated@1", frame="reference_camera"), rel=1e-9)
    # without extrinsics too, how many views: subsets holding the first camera, scored in its frame
    (size2,) = [s for s in boards["studio-uncalibrated@1"]["per_camera_count"] if s["cameras"] == 2]
    assert size2["ranked"][0]["mpjpe_mm"] == pytest.approx(
        _mpjpe(studio_run, "probabilistic", "studio-uncalibrated-sweep@1", frame="reference_camera", views=2),
        rel=1e-9)
    sweep = json.loads((studio_run / "results" / "probabilistic" / "studio-uncalibrated-sweep@1.json").read_text())
    assert "camera subsets: [[0, " in " ".join(sweep["notes"])
    assert summary["placement"]["how"] == "optical axes"
    np.testing.assert_allclose(summary["placement"]["centre_mm"], TARGET[:2], atol=1e-6)
    assert any("rootnet-like" in note for note in summary["passed_over"])


def test_page_is_self_contained_and_says_the_same_numbers(studio_run):
    html = (studio_run / "studio.html").read_text()
    markdown = (studio_run / "studio.md").read_text()
    summary = json.loads((studio_run / "studio.json").read_text())
    assert "<script" not in html and "http://" not in html and "https://" not in html
    for board in summary["boards"]:
        for m in board["methods"]:
            cell = f"{m['mpjpe_mm']:.1f}"
            assert cell in html and cell in markdown
        assert board["recommendation"].split(":")[0] in markdown
    assert "how many views are enough" in markdown and "Kendall's τ" in markdown


def test_other_frames_than_the_board_are_compared_two_sample(setup, tmp_path):
    """--frames other than the profile's draws other motion under the board's sequence labels:
    the change from the board is then two-sample (each split's sequences drawn independently)."""
    import shutil

    local = dict(setup)
    local["checkpoints"] = tmp_path / "checkpoints"
    for name in ("backbone", "ransac"):
        shutil.copytree(setup["checkpoints"] / name, local["checkpoints"] / name)
    out = tmp_path / "out"
    result = _studio([str(setup["rig"]), "--frames", "8"], local, out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "studio.json").read_text())
    assert summary["paired_with_board"] is False
    (board,) = summary["boards"]
    assert board["methods"][0]["change_from_board"]["test"] == "two-sample"
    assert "**two-sample**" in (out / "studio.md").read_text()


def _nothing_written(out: Path) -> bool:
    return not out.exists()


@pytest.mark.parametrize("case", ["no-checkpoints", "empty-checkpoints", "not-a-rotation", "behind",
                                  "one-camera", "too-many-cameras", "no-board", "bad-centre", "missing-rig",
                                  "bad-motion"])
def test_refusals_exit_2_naming_what_to_fix(case, setup, tmp_path):
    rig = setup["rig"]
    args: list[str] = []
    local = dict(setup)
    expected: str
    if case == "no-checkpoints":
        local["checkpoints"] = tmp_path / "nowhere"
        expected = "checkpoints folder not found"
    elif case == "empty-checkpoints":
        (tmp_path / "empty").mkdir()
        local["checkpoints"] = tmp_path / "empty"
        expected = "no trained multi-view method"
    elif case == "not-a-rotation":
        data = json.loads(rig.read_text())
        data["cameras"][1]["R"] = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]]
        rig = tmp_path / "bad.json"
        rig.write_text(json.dumps(data))
        expected = "cameras[1]"
    elif case == "behind":
        cams = _rig()
        cams[2] = Camera.look_at(cams[2].center, 2 * cams[2].center - TARGET, 1150.0, (1000, 1000), name="cam2")
        rig = tmp_path / "behind.json"
        save_rig(cams, rig)
        args = ["--centre", f"{TARGET[0]},{TARGET[1]}"]
        expected = "cam2"
    elif case == "one-camera":
        rig = tmp_path / "one.json"
        save_rig(_rig()[:1], rig)
        expected = "at least 2"
    elif case == "too-many-cameras":
        args = ["--cameras", "9"]
        expected = "--cameras 9"
    elif case == "no-board":
        args = ["--reference", str(tmp_path / "no-board")]
        expected = "--no-reference"
    elif case == "bad-centre":
        args = ["--centre", "1,2,3"]
        expected = "--centre"
    elif case == "bad-motion":
        motion = tmp_path / "motion.npz"
        np.savez(motion, poses=np.zeros((5, 16, 3)))
        args = ["--motion", str(motion)]
        expected = "motion.npz"
    else:
        rig = tmp_path / "missing.json"
        expected = "rig file not found"
    out = tmp_path / "out"
    result = _studio([str(rig), *args], local, out)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert _nothing_written(out)


# --------------------------------------------------------------------------- a dome: the people where the cameras look
#: A dome like CMU Panoptic's HD cameras: (azimuth °, horizontal distance mm, height mm, focal px,
#: aim height mm), 1920×1080, each aimed a little off the centre.
DOME = [(10, 2900, 3400, 1600, 900), (85, 2600, 2200, 1450, 950), (150, 3000, 3400, 1550, 900),
        (220, 2500, 1800, 1400, 950), (290, 2800, 2600, 1500, 1000)]
DOME_FRAMES = 48


def _dome() -> list[Camera]:
    cams = []
    for i, (azimuth, distance, height, focal, aim) in enumerate(DOME):
        a = np.radians(azimuth)
        target = [TARGET[0] + 200 * np.cos(2 * a), TARGET[1] + 150 * np.sin(3 * a), aim]
        cams.append(Camera.look_at([TARGET[0] + distance * np.cos(a), TARGET[1] + distance * np.sin(a), height],
                                   target, focal, (1920, 1080), name=f"hd{i}"))
    return cams


@pytest.fixture(scope="module")
def dome_runs(setup, tmp_path_factory) -> dict[str, Path]:
    """The studio on the dome, by default and with --paths as-rendered (two calibrated methods,
    DOME_FRAMES frames: another design than the board's, compared two-sample)."""
    import shutil

    base = tmp_path_factory.mktemp("dome")
    local = dict(setup)
    local["checkpoints"] = base / "checkpoints"
    for name in ("backbone", "algebraic", "ransac"):
        shutil.copytree(setup["checkpoints"] / name, local["checkpoints"] / name)
    rig = base / "dome.json"
    save_rig(_dome(), rig)
    runs = {}
    for mode, extra in (("fit", []), ("as-rendered", ["--paths", "as-rendered"])):
        runs[mode] = base / mode
        result = _studio([str(rig), "--frames", str(DOME_FRAMES), *extra], local, runs[mode])
        assert result.exit_code == 0, result.output
    return runs


def _inside(out: Path) -> np.ndarray:
    """(N, V, J) bool: each joint of the split inside each camera's 1920×1080 image, projected
    here as K (R X + t) through the rig written beside the page (no lens distortion in it)."""
    _, gt = _ground_truth(out)
    cams = json.loads((out / "rig.json").read_text())["cameras"]
    inside = []
    for c in cams:
        K, R, t = np.array(c["K"]), np.array(c["R"]), np.array(c["t"])
        assert not np.any(c.get("dist", [0.0]))
        x = (gt @ R.T + t) @ K.T
        u, v = x[..., 0] / x[..., 2], x[..., 1] / x[..., 2]
        w, h = c["image_size"]
        inside.append((x[..., 2] > 0) & (u >= -0.5) & (u < w - 0.5) & (v >= -0.5) & (v < h - 0.5))
    return np.stack(inside, axis=1)


def _paths(out: Path) -> dict[str, np.ndarray]:
    """Each sequence's pelvis (x, y) over its rendered frames, in frame order."""
    table, gt = _ground_truth(out)
    order = table.sort_values(["sequence", "frame"]).index
    return {q: gt[idx, 6, :2] for q, idx in table.loc[order].groupby("sequence", sort=True).groups.items()}


def test_dome_people_stay_in_view_by_default(dome_runs):
    fit, drawn = (json.loads((dome_runs[m] / "studio.json").read_text()) for m in ("fit", "as-rendered"))
    inside = {m: _inside(dome_runs[m]) for m in dome_runs}
    for summary, mode in ((fit, "fit"), (drawn, "as-rendered")):  # the page's share is the cameras' own
        assert summary["split"]["outside_fraction"] == pytest.approx(1 - inside[mode].mean(), abs=1e-9)
        assert summary["split"]["in_view_frames"] == int(inside[mode].all(axis=(1, 2)).sum())
    assert fit["split"]["outside_fraction"] <= 0.02  # the bar; as drawn the dome cuts people off
    assert drawn["split"]["outside_fraction"] > 0.02
    assert drawn["paths"] == {"mode": "as-rendered", "area": None}
    area = fit["paths"]["area"]
    assert fit["paths"]["mode"] == "fit" and 0 < area["radius_mm"] < 1500
    mine = np.add(fit["placement"]["centre_mm"], area["centre_mm"])  # the disc in the user's world
    np.testing.assert_allclose(area["centre_in_your_world_mm"], mine)
    assert f"centred at x = {mine[0]:.0f}, y = {mine[1]:.0f} mm of your world" in (
        dome_runs["fit"] / "studio.md").read_text()
    manifest = json.loads((dome_runs["fit"] / "data" / "synth-h36m" / "test" / "manifest.json").read_text())
    assert manifest["config"]["capture_area"] == {"centre_mm": area["centre_mm"], "radius_mm": area["radius_mm"]}
    old = json.loads((dome_runs["as-rendered"] / "data" / "synth-h36m" / "test" / "manifest.json").read_text())
    assert "capture_area" not in old["config"]  # the option renders what the studio rendered before
    # each sequence: the same motion; its pelvis path centred on the area, scaled only where it reaches farther
    _, gt_fit = _ground_truth(dome_runs["fit"])
    _, gt_drawn = _ground_truth(dome_runs["as-rendered"])
    np.testing.assert_allclose(_relative(gt_fit), _relative(gt_drawn), atol=1e-9)
    np.testing.assert_array_equal(gt_fit[..., 2], gt_drawn[..., 2])
    fitted, drawn_paths = _paths(dome_runs["fit"]), _paths(dome_runs["as-rendered"])
    scaled = 0
    for q, path in drawn_paths.items():
        mid = (path.min(axis=0) + path.max(axis=0)) / 2
        reach = np.linalg.norm(path - mid, axis=1).max()
        factor = min(1.0, area["radius_mm"] / reach) if reach > 0 else 1.0
        scaled += factor < 1
        np.testing.assert_allclose(fitted[q], np.asarray(area["centre_mm"]) + factor * (path - mid), atol=1e-6)
    assert 0 < scaled < len(drawn_paths)  # some walk farther than the area, most do not


def test_dome_page_states_the_share_and_ranks_on_in_view_frames(dome_runs):
    for mode, out in dome_runs.items():
        summary = json.loads((out / "studio.json").read_text())
        markdown, html = (out / "studio.md").read_text(), (out / "studio.html").read_text()
        share = 100 * summary["split"]["outside_fraction"]
        assert f"outside the frame {share:.1f} %" in markdown and f"outside the frame {share:.1f} %" in html
        n, total = summary["split"]["in_view_frames"], summary["split"]["frames"]
        assert f"Frames with every joint inside every camera's image: {n} of {total}" in markdown
        assert 0 < n < total, mode  # both frames in view and frames cut off: the in-view ranking is its own
        in_view = _inside(out).all(axis=(1, 2))
        table, gt = _ground_truth(out)
        keep_ids = set(table["sample_id"].astype(str)[in_view])
        (board,) = summary["boards"]
        ranked = board["in_view"]
        assert ranked["protocol"] == "studio-relative-in-view@1"
        assert [m["method"] for m in ranked["methods"]] == sorted(
            (m["method"] for m in ranked["methods"]), key=lambda name: next(
                x["mpjpe_mm"] for x in ranked["methods"] if x["method"] == name))
        for m in ranked["methods"]:  # relative MPJPE over the in-view frames, from the predictions
            data = np.load(out / "results" / m["method"] / "studio-relative@1.npz")
            ids = data["sample_ids"].astype(str)
            keep = np.isin(ids, list(keep_ids))
            rows = pd.Index(table["sample_id"].astype(str)).get_indexer(ids[keep])
            error = np.linalg.norm(_relative(data["joints_3d"][keep]) - _relative(gt[rows]), axis=-1).mean()
            assert m["mpjpe_mm"] == pytest.approx(float(error), rel=1e-9)
            assert m["frames"] == n
            assert f"{m['mpjpe_mm']:.1f}" in markdown
        (pair,) = ranked["pairs"]
        assert pair["difference_mm"] == pytest.approx(
            ranked["methods"][0]["mpjpe_mm"] - ranked["methods"][1]["mpjpe_mm"], rel=1e-9)
        assert "in-view frames only — ranking" in markdown and "in-view frames only — ranking" in html
        assert board["methods"][0]["frames"] == total  # and the ranking on all frames is still there


def test_unknown_paths_mode_is_refused(setup, tmp_path):
    out = tmp_path / "out"
    result = _studio([str(setup["rig"]), "--paths", "wander"], setup, out)
    assert result.exit_code == 2, result.output
    assert "--paths 'wander'" in result.output and "as-rendered" in result.output
    assert _nothing_written(out)
