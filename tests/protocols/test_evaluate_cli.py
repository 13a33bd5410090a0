"""`poseboard evaluate` end to end on a generated dataset: validation first, then a result file."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.datasets.storage import open_dataset
from poseboard.datasets.synthetic.generator import SynthConfig, generate_dataset
from poseboard.protocols.predictions import (
    PosePredictions,
    RootPredictions,
    save_pose_predictions,
    save_root_predictions,
)
from poseboard.protocols.results import read_result

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    config = SynthConfig.model_validate({
        "crop_size": 32,
        "h36m": {"train": {"samples": 1, "stride": 5}, "test": {"samples": 12, "stride": 16}, "area_radius_mm": 1500.0},
        "panoptic": {"train": {"samples": 1, "stride": 5}, "test": {"samples": 1, "stride": 16},
                     "area_radius_mm": 500.0},
        "mupots": {"train": {"images": 1, "scenes": 1, "stride": 10}, "test": {"images": 6, "scenes": 2, "stride": 25},
                   "image_size": 64},
    })  # fmt: skip
    generate_dataset("synth-h36m", config, out, seed=1, splits=("test",))
    generate_dataset("synth-mupots", config, out, seed=1, splits=("test",))
    return out


def test_evaluate_pose_predictions(data, tmp_path):
    store = open_dataset(data / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    noise = np.random.default_rng(0).normal(scale=10.0, size=store.joints_3d.shape)
    preds = tmp_path / "preds.npz"
    save_pose_predictions(preds, PosePredictions(ids, store.joints_3d + noise))
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-absolute",
                                 "--method", "gt-noise", "--data-dir", str(data), "--out", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    record = read_result(tmp_path / "results" / "gt-noise" / "synth-h36m-absolute@3.json")
    expected = np.linalg.norm(noise, axis=-1).mean()
    assert record.metrics.headline_value == pytest.approx(expected)
    assert record.num_samples == len(ids)
    assert record.dataset.source == "synthetic" and record.dataset.data_hash == store.manifest.content_hash
    assert set(record.metrics.main.per_action["mpjpe"]) <= {store.meta(i).action for i in range(len(store))}


def test_evaluate_refuses_bad_predictions_and_writes_nothing(data, tmp_path):
    store = open_dataset(data / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    joints = store.joints_3d.copy()
    joints[2, 5] = np.nan
    preds = tmp_path / "bad.npz"
    save_pose_predictions(preds, PosePredictions(ids, joints))
    out = tmp_path / "results"
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative",
                                 "--data-dir", str(data), "--out", str(out)])
    assert result.exit_code == 2
    assert "NaN" in result.output and ids[2] in result.output
    save_pose_predictions(preds, PosePredictions(ids[:-1], store.joints_3d[:-1]))
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative",
                                 "--data-dir", str(data), "--out", str(out)])
    assert result.exit_code == 2 and "have no prediction" in result.output
    assert not out.exists()


def test_evaluate_root_predictions(data, tmp_path):
    store = open_dataset(data / "synth-mupots" / "test")
    ids, roots, person = [], [], []
    for i in range(len(store)):
        scene = store.scene(i)
        for k, p in enumerate(scene.people):
            if not p.valid:
                continue
            ids.append(scene.meta.sample_id)
            roots.append(p.root_cam + [0.0, 0.0, 100.0])
            person.append(k)
    preds = tmp_path / "roots.npz"
    save_root_predictions(preds, RootPredictions(np.array(ids), np.array(roots), np.linspace(1, 0.5, len(ids)),
                                                 np.array(person)))
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-mupots-root", "--method", "shifted",
                                 "--data-dir", str(data), "--out", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    record = read_result(tmp_path / "results" / "shifted" / "synth-mupots-root@2.json")
    assert record.metrics.main.overall["mrpe"] == pytest.approx(100.0)
    assert record.metrics.main.extra["mrpe_z"] == pytest.approx(100.0)
    # every valid person found within 250 mm, no false positive: AP_root is 100 %
    assert record.metrics.main.overall["ap_root"] == pytest.approx(100.0)
    assert record.metrics.main.extra["ap_root_rootnet_script"] < 100.0  # the script drops the first recall step


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped", "a/b", "a\\b", "..", ".hidden", "tab\there",
                                  "new\nline", "<img src=x onerror=alert(1)>", "Upper", "", "x" * 65])
def test_evaluate_refuses_a_method_name_that_would_choose_a_path_and_writes_nothing(data, tmp_path, name):
    store = open_dataset(data / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    preds = tmp_path / "preds.npz"
    save_pose_predictions(preds, PosePredictions(ids, store.joints_3d))
    results = tmp_path / "sub" / "results"
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative",
                                 "--method", name, "--data-dir", str(data), "--results", str(results)])
    assert result.exit_code == 2, result.output
    assert "--method" in result.output and "is not a valid name" in result.output
    assert "a-z, 0-9" in result.output  # the message says the rule
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["preds.npz"]  # nothing written, anywhere


def test_results_are_never_written_through_a_symlink_out_of_the_results_folder(data, tmp_path):
    from poseboard.errors import InputError
    from poseboard.protocols.results import result_path

    results, outside = tmp_path / "results", tmp_path / "outside"
    results.mkdir()
    outside.mkdir()
    (results / "linked").symlink_to(outside)
    with pytest.raises(InputError, match="outside the folder"):
        result_path(results, "linked", "synth-h36m-relative@3")
    assert result_path(results, "my-method.v2_b", "synth-h36m-relative@3") == \
        results / "my-method.v2_b" / "synth-h36m-relative@3.json"


def test_predictions_in_metres_are_refused_with_the_conversion_and_nothing_is_written(data, tmp_path):
    store = open_dataset(data / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    preds = tmp_path / "metres.npz"
    save_pose_predictions(preds, PosePredictions(ids, store.joints_3d / 1000.0))
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative",
                                 "--method", "metres", "--data-dir", str(data), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    assert "looks like metres" in result.output and "multiply the joints by 1000" in result.output
    assert not (tmp_path / "results").exists()

    scene_store = open_dataset(data / "synth-mupots" / "test")
    ids, roots = [], []
    for i in range(len(scene_store)):
        scene = scene_store.scene(i)
        ids += [scene.meta.sample_id for p in scene.people if p.valid]
        roots += [p.root_cam / 1000.0 for p in scene.people if p.valid]
    preds = tmp_path / "roots.npz"
    save_root_predictions(preds, RootPredictions(np.array(ids), np.array(roots), np.ones(len(ids)),
                                                 np.full(len(ids), -1)))
    result = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-mupots-root",
                                 "--method", "metres", "--data-dir", str(data), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    assert "'root' looks like metres" in result.output and "multiply the roots by 1000" in result.output
    assert not (tmp_path / "results").exists()


def test_a_result_file_with_an_unsafe_method_name_is_refused_when_read(data, tmp_path):
    """A hand-made result file cannot put markup into the leaderboard or the Markdown tables."""
    import json

    from poseboard.errors import ResultFileError
    from poseboard.protocols.results import read_result

    store = open_dataset(data / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    preds = tmp_path / "preds.npz"
    save_pose_predictions(preds, PosePredictions(ids, store.joints_3d))
    assert runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative", "--method", "fine",
                               "--data-dir", str(data), "--results", str(tmp_path / "r")]).exit_code == 0
    path = tmp_path / "r" / "fine" / "synth-h36m-relative@3.json"
    record = json.loads(path.read_text())
    record["method"]["name"] = "<img src=x onerror=alert(1)>"
    path.write_text(json.dumps(record))
    with pytest.raises(ResultFileError, match=r"method\.name.*is not a valid method name"):
        read_result(path)
