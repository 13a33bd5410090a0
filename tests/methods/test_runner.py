"""Running methods under protocols, camera sweeps, what a method may see, and the commands."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.errors import CapabilityError, InputError
from poseboard.harness.commands import _standalone_app
from poseboard.harness.config import build_config
from poseboard.harness.multiview_pose import camera_subsets, evaluate_method, method_inputs
from poseboard.harness.run import run_protocol
from poseboard.methods.algebraic import AlgebraicConfig
from poseboard.methods.base import Capabilities
from poseboard.methods.registry import get_method
from poseboard.protocols.predictions import load_pose_predictions
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import read_result


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """A checkpoints folder with the smoke backbone, ransac and algebraic."""
    return F.checkpoints_copy(tmp_path_factory.mktemp("checkpoints"))


def test_result_file_embeds_what_a_leaderboard_needs(checkpoints, tmp_path):
    result, path = run_protocol("algebraic", "synth-h36m-relative", data_dir=F.data_dir(),
                                checkpoints=checkpoints, results_dir=tmp_path)
    assert path == tmp_path / "algebraic" / "synth-h36m-relative@3.json"
    again = read_result(path)
    assert again.method.capabilities == get_method("algebraic").capabilities
    assert again.method.config["heatmap_multiplier"] == 100.0
    assert again.method.checkpoint == str(checkpoints / "algebraic")
    assert again.speed.samples_per_s > 0 and again.speed.batch_size == 8 and "cpu" in again.speed.device
    assert again.seeds["train"] == 0 and again.num_samples == F.TEST_SAMPLES
    assert set(again.metrics.main.per_action["mpjpe"]) <= {"Boxing", "Jumping", "PickingUp", "Reaching",
                                                          "SittingDown", "Squatting", "Turning", "Walking", "Waving"}
    preds = load_pose_predictions(path.with_suffix(".npz"))
    assert len(preds.sample_ids) == F.TEST_SAMPLES and preds.frame == "world"
    # the scored number is the MPJPE of the predictions file
    assert result.metrics.headline_value == pytest.approx(F.eval_mpjpe(get_method("algebraic").load(
        checkpoints / "algebraic"), relative=True), rel=1e-4)


def test_camera_sweep_runs_every_supported_size(checkpoints, tmp_path):
    ransac = get_method("ransac")(get_method("ransac").config_model.preset("smoke").model_copy(
        update={"backbone_checkpoint": str(checkpoints / "backbone")}))
    ransac.fit(None, None)
    result, path = evaluate_method(ransac, "synth-panoptic-sweep", data_dir=F.data_dir(), results_dir=tmp_path)
    sizes = [s for s in get_protocol("synth-panoptic-sweep").camera_sweep.sizes if s >= 2]
    assert sorted(int(k) for k in result.metrics.sweep) == sizes
    preds = load_pose_predictions(path.with_suffix(".npz"))
    assert sorted(set(preds.num_views.tolist())) == sizes
    assert "camera subsets" in result.notes[0] and result.seeds["camera_sweep"] == 0


def test_camera_subsets_are_seeded_and_distinct():
    proto = get_protocol("synth-panoptic-sweep")
    a = camera_subsets(proto, 31, (1, 2, 16))
    assert a == camera_subsets(proto, 31, (1, 2, 16))
    assert len(a) == 9 and len(set(a)) == 9 and all(len(set(s)) == len(s) for s in a)
    assert camera_subsets(proto, 2, (2,)) == [(0, 1)]  # only one subset exists
    with pytest.raises(InputError, match="exceeds"):
        camera_subsets(proto, 8, (12,))
    assert camera_subsets(get_protocol("synth-h36m-single-view"), 4, (1,)) == [(0,)]


def test_a_sweep_scored_in_the_reference_camera_keeps_camera_0_first():
    """An uncalibrated method predicts in its subset's first camera's frame and such a protocol
    scores in camera 0's: every subset holds camera 0, first; the others are distinct draws."""
    proto = get_protocol("synth-panoptic-sweep").model_copy(update={
        "evaluation_frame": "reference_camera", "accepted_output_frames": ("reference_camera", "world")})
    subsets = camera_subsets(proto, 8, (1, 2, 3, 8))
    assert subsets == camera_subsets(proto, 8, (1, 2, 3, 8))
    assert all(s[0] == 0 and 0 not in s[1:] and list(s[1:]) == sorted(set(s[1:])) for s in subsets)
    assert [len(s) for s in subsets] == [1, 2, 2, 2, 3, 3, 3, 8] and len(set(subsets)) == len(subsets)
    assert camera_subsets(proto, 3, (2,)) == [(0, 1), (0, 2)] or camera_subsets(proto, 3, (2,)) == [(0, 2), (0, 1)]


class _Uncalibrated:
    name = "toy"
    capabilities = Capabilities(needs_intrinsics=True, needs_extrinsics=False, multi_view=True, min_views=2,
                                max_views=None, multi_person=False, output_frame="reference_camera",
                                outputs=("joints_3d",), trainable=False)


def test_methods_never_see_ground_truth_or_withheld_extrinsics():
    batch = F.eval_batch(2)
    calibrated = method_inputs(batch, get_method("algebraic"), get_protocol("synth-h36m-relative"))
    assert {"proj_matrices", "R", "t", "K", "images"} <= set(calibrated)
    assert not {"joints_3d", "joints_2d", "visibility", "cameras"} & set(calibrated)
    withheld = method_inputs(batch, _Uncalibrated(), get_protocol("synth-h36m-uncalibrated"))
    assert not {"proj_matrices", "R", "t", "cameras", "joints_3d"} & set(withheld)
    assert {"K", "dist", "images", "boxes"} <= set(withheld)
    np.testing.assert_array_equal(withheld["K"], batch["K"])


def test_incapable_methods_are_refused_before_loading(tmp_path):
    with pytest.raises(CapabilityError, match="single-view"):
        run_protocol("ransac", "synth-h36m-single-view", data_dir=F.data_dir(), checkpoints=tmp_path / "none")
    with pytest.raises(CapabilityError, match="extrinsics"):
        run_protocol("algebraic", "synth-h36m-uncalibrated", data_dir=F.data_dir(), checkpoints=tmp_path)


def test_config_overrides(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("methods:\n  algebraic:\n    heatmap_multiplier: 50\n    train: {steps: 7}\n")
    cfg = build_config(AlgebraicConfig, "smoke", params, "methods.algebraic", seed=3)
    assert cfg.heatmap_multiplier == 50 and cfg.train.steps == 7 and cfg.train.seed == 3
    assert cfg.train.batch_size == AlgebraicConfig.preset("smoke").train.batch_size  # the rest is the preset's
    with pytest.raises(InputError, match="no key"):
        build_config(AlgebraicConfig, "smoke", params, "methods.volumetric")
    params.write_text("methods:\n  algebraic:\n    heatmap_multipler: 50\n")
    with pytest.raises(InputError, match="heatmap_multipler"):
        build_config(AlgebraicConfig, "smoke", params, "methods.algebraic")


def test_train_and_predict_commands(checkpoints, tmp_path):
    runner = CliRunner()
    app = _standalone_app()
    common = ["--data-dir", str(F.data_dir()), "--checkpoints", str(checkpoints), "-q"]
    out = runner.invoke(app, ["train", "ransac", "--profile", "smoke", "--no-val", *common])
    assert out.exit_code == 0, out.output
    assert (checkpoints / "ransac" / "weights.pt").exists()
    out = runner.invoke(app, ["predict", "ransac", "--protocol", "synth-h36m-absolute", "--results",
                              str(tmp_path), *common])
    assert out.exit_code == 0, out.output
    assert "synth-h36m-absolute@3  ransac: mpjpe =" in out.output
    assert (tmp_path / "ransac" / "synth-h36m-absolute@3.json").exists()
    out = runner.invoke(app, ["predict", "ransac", "--protocol", "synth-h36m-single-view", *common])
    assert out.exit_code == 2 and "cannot run" in out.output
    # a DVC stage that declares another dataset than its protocol reads is refused, nothing written
    out = runner.invoke(app, ["predict", "ransac", "--protocol", "synth-h36m-relative", "--results", str(tmp_path),
                              "--declared-dataset", "synth-mupots", *common])
    assert out.exit_code == 2 and "reads dataset 'synth-h36m', but the stage declares 'synth-mupots'" in out.output
    assert not (tmp_path / "ransac" / "synth-h36m-relative@3.json").exists()


def test_calibration_noise_reaches_calibrated_methods_only(checkpoints, tmp_path):
    """Under a robustness protocol the algebraic method sees perturbed extrinsics (its
    predictions move on the same frames); a variant name files the result."""
    clean, clean_path = run_protocol("algebraic", "synth-h36m-relative", data_dir=F.data_dir(),
                                     checkpoints=checkpoints, results_dir=tmp_path / "clean")
    noisy, path = run_protocol("algebraic", "synth-h36m-calibration-3", data_dir=F.data_dir(),
                               checkpoints=checkpoints, results_dir=tmp_path / "noisy")
    a, b = load_pose_predictions(clean_path.with_suffix(".npz")), load_pose_predictions(path.with_suffix(".npz"))
    common = np.intersect1d(a.sample_ids, b.sample_ids)
    assert len(common) > 0 and len(b.sample_ids) < len(a.sample_ids)  # every 4th frame
    ia, ib = ({str(k): i for i, k in enumerate(p.sample_ids)} for p in (a, b))
    ja = a.joints_3d[[ia[str(k)] for k in common]]
    jb = b.joints_3d[[ib[str(k)] for k in common]]
    assert np.linalg.norm(ja - jb, axis=-1).mean() > 10.0  # mm: a 3°/75 mm error moves the triangulation
    assert any("3° rotation" in n for n in noisy.notes)
    batch = F.eval_batch(2)
    protocol = get_protocol("synth-h36m-calibration-3")
    alg = get_method("algebraic").load(checkpoints / "algebraic")
    seen = method_inputs(batch, alg, protocol)
    assert not np.allclose(seen["R"].numpy(), batch["R"].numpy())
    # a variant: the checkpoint folder's name files the result, its config.json the method
    shutil.copytree(checkpoints / "algebraic", tmp_path / "ck" / "algebraic-copy")
    result, path = run_protocol("algebraic-copy", "synth-h36m-relative", data_dir=F.data_dir(),
                                checkpoints=tmp_path / "ck", results_dir=tmp_path / "variant")
    assert path == tmp_path / "variant" / "algebraic-copy" / "synth-h36m-relative@3.json"
    assert result.method.name == "algebraic-copy" and result.method.registered == "algebraic"
    assert result.metrics.headline_value == clean.metrics.headline_value
    assert path.with_name("synth-h36m-relative@3.run.json").exists()
    assert "speed" not in path.read_text() and read_result(path).speed.batch_size == 8


def test_a_calibration_sweep_is_the_single_level_protocols_in_one_run(checkpoints, tmp_path):
    """synth-h36m-calibration evaluates the same frames once per level: its exact level is the
    unperturbed prediction (to float rounding: the batches differ from the full test set's), its
    3°/75 mm level the synth-h36m-calibration-3 one, bit for bit."""
    sweep, path = run_protocol("algebraic", "synth-h36m-calibration", data_dir=F.data_dir(),
                               checkpoints=checkpoints, results_dir=tmp_path / "sweep")
    single, single_path = run_protocol("algebraic", "synth-h36m-calibration-3", data_dir=F.data_dir(),
                                       checkpoints=checkpoints, results_dir=tmp_path / "single")
    preds = load_pose_predictions(path.with_suffix(".npz"))
    one = load_pose_predictions(single_path.with_suffix(".npz"))
    assert preds.calibration_level is not None and set(preds.calibration_level.tolist()) == {0, 1, 2, 3}
    last = preds.calibration_level == 3
    assert np.array_equal(preds.sample_ids[last], one.sample_ids)
    assert np.array_equal(preds.joints_3d[last], one.joints_3d)
    assert list(sweep.metrics.calibration) == ["0deg-0mm", "0.5deg-10mm", "1deg-25mm", "3deg-75mm"]
    assert sweep.metrics.headline_value == single.metrics.headline_value  # the headline: the largest error
    clean = run_protocol("algebraic", "synth-h36m-relative", data_dir=F.data_dir(), checkpoints=checkpoints,
                         results_dir=tmp_path / "clean")[1]
    exact = load_pose_predictions(clean.with_suffix(".npz"))
    at = {str(k): i for i, k in enumerate(exact.sample_ids)}
    level0 = preds.calibration_level == 0
    np.testing.assert_allclose(preds.joints_3d[level0], exact.joints_3d[[at[str(k)] for k in preds.sample_ids[level0]]],
                               atol=1e-3)
    assert any("0.5° / 10 mm" in n for n in sweep.notes) and sweep.seeds["calibration_sweep"] == 0


def test_batch_aligned_chunks_keep_the_serial_batches():
    from poseboard.harness.predict import batch_aligned_chunks

    rows = list(range(21))
    chunks = batch_aligned_chunks(rows, 4, 3)  # 6 batches → 3 chunks of 2 batches
    assert [list(c) for c in chunks] == [rows[0:8], rows[8:16], rows[16:21]]
    assert [list(c) for c in batch_aligned_chunks(rows, 8, 5)] == [rows[0:8], rows[8:16], rows[16:21]]
    assert [list(c) for c in batch_aligned_chunks(rows, 4, 1)] == [rows]
    assert sum(len(c) for c in batch_aligned_chunks(rows, 3, 4)) == 21


def _sweep_ransac(checkpoints: Path):
    ransac = get_method("ransac")(get_method("ransac").config_model.preset("smoke").model_copy(
        update={"backbone_checkpoint": str(checkpoints / "backbone")}))
    ransac.fit(None, None)
    return ransac


@pytest.mark.parametrize("method,protocol", [("algebraic", "synth-h36m-relative"), ("ransac", "synth-panoptic-sweep")])
def test_more_processes_give_the_same_result_bytes(checkpoints, tmp_path, monkeypatch, method, protocol):
    """Issue 30: on a machine with more cores a predict pass is shared by processes of the same
    torch threads; the predictions and the result file are the bytes of the serial run (a
    camera sweep: every subset's pass shared)."""
    import torch

    from poseboard.harness import predict

    def run(results: Path) -> tuple[bytes, bytes]:
        if method == "ransac":
            _, path = evaluate_method(_sweep_ransac(checkpoints), protocol, data_dir=F.data_dir(),
                                      results_dir=results, batch_size=2)
        else:
            _, path = run_protocol(method, protocol, data_dir=F.data_dir(), checkpoints=checkpoints,
                                   results_dir=results, batch_size=2)
        return path.read_bytes(), path.with_suffix(".npz").read_bytes()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        outs = {}
        for workers in ("1", "2"):
            monkeypatch.setenv("POSEBOARD_PREDICT_WORKERS", workers)
            outs[workers] = run(tmp_path / workers)
        # poseboard studio: one pool for every method in turn, each task carrying its method
        with predict.reused_workers():
            outs["reused"], outs["reused again"] = run(tmp_path / "reused"), run(tmp_path / "again")
            (pool,) = predict._REUSED_POOLS.values()
        assert predict._REUSED_POOLS is None and pool._shutdown_thread
    finally:
        torch.set_num_threads(threads)
    assert outs["1"] == outs["2"] == outs["reused"] == outs["reused again"]
