"""``poseboard train`` / ``poseboard predict`` on the real datasets, end to end on the miniature
fixtures: where the data come from (``poseboard.datasets.sources``), the result files they
write, and the errors for a missing path or a broken layout."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from poseboard.datasets.real.config import ENV_VARS, DatasetLayoutError, RealDataConfig
from poseboard.datasets.sources import is_real, locate, real_data_config
from poseboard.errors import InputError
from poseboard.harness.commands import _standalone_app
from poseboard.harness.run import run_protocol, train_method
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained, save_backbone
from poseboard.methods.registry import get_method
from poseboard.protocols.predictions import load_pose_predictions, load_root_predictions
from poseboard.protocols.results import read_result

sys.path.insert(0, str(Path(__file__).parent))  # fixture writers beside this file (pytest --import-mode=importlib)
from real_fixtures import write_h36m, write_jpeg, write_mupots, write_panoptic

#: Frames each fixture's protocol scores (see real_fixtures): S9 + S11 rows of the label table;
#: without the damaged S9/Greeting-2; the two fully confident single-person Panoptic frames.
H36M_TEST_IDS = ["S9/Greeting-2/000000", "S9/Greeting-2/000064", "S9/Walking-1/000000", "S9/Walking-1/000064",
                 "S9/Walking-2/000128", "S11/Directions-2/000000", "S11/Directions-2/000064"]
PANOPTIC_TEST_IDS = ["171204_pose1/00000100", "171204_pose1/00000101"]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """An untrained smoke backbone and trivial methods saved from it without training:
    ``algebraic`` (confidence-weighted DLT; missing views get weight 0), ``ransac`` and
    ``rootnet``. Built in about a second."""
    out = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    save_backbone(out / "backbone", Backbone(BackboneConfig.preset("smoke")))
    for name in ("algebraic", "ransac", "rootnet"):
        cls = get_method(name)
        method = cls(cls.config_model.preset("smoke").model_copy(update={"backbone_checkpoint": str(out / "backbone")}))
        if name == "ransac":
            method.fit(None, None)  # takes the backbone's weights
        else:
            init_from_pretrained(method.net.backbone, out / "backbone")
        method.save(out / name)
    return out


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """The three fixture datasets, written once (tests that break one work on a copy)."""
    base = tmp_path_factory.mktemp("real")
    write_h36m(base / "h36m")
    write_panoptic(base / "panoptic")
    write_mupots(base / "mupots")
    return {"human36m": base / "h36m", "panoptic": base / "panoptic", "mupots": base / "mupots"}


def _config(**paths: Path) -> RealDataConfig:
    # the fixture's label file is the original pickle, as learnable triangulation writes it
    return RealDataConfig(**paths, trust_pickle=True, use_env=False)


def _nothing_written(results: Path) -> bool:
    return not results.exists() or not any(p.is_file() for p in results.rglob("*"))


# ----------------------------------------------------------------------------- end to end
@pytest.mark.parametrize(("protocol", "ids"), [
    ("human36m-relative", H36M_TEST_IDS),
    ("human36m-absolute", [i for i in H36M_TEST_IDS if not i.startswith("S9/Greeting-2")]),
])
def test_human36m_protocols_run_on_the_real_dataset(roots, checkpoints, tmp_path, protocol, ids):
    result, path = run_protocol("algebraic", protocol, checkpoints=checkpoints, results_dir=tmp_path / "results",
                                real_data=_config(human36m=roots["human36m"]))
    assert path == tmp_path / "results" / "algebraic" / f"{protocol}@1.json"
    again = read_result(path)  # validates against the schema
    assert again.dataset == result.dataset
    assert again.dataset.source == "real" and again.dataset.name == "human36m" and again.dataset.split == "test"
    assert again.dataset.data_hash and again.num_samples == len(ids)
    assert again.protocol.name == protocol and np.isfinite(again.metrics.headline_value)
    preds = load_pose_predictions(path.with_suffix(".npz"))
    assert sorted(preds.sample_ids.tolist()) == sorted(ids)  # skip list applied, every scored frame predicted
    assert preds.joints_3d.shape == (len(ids), 17, 3) and np.isfinite(preds.joints_3d).all()
    assert set(again.metrics.main.per_subject["mpjpe"]) == {"S9", "S11"}


def test_panoptic_relative_runs_on_the_real_dataset(roots, checkpoints, tmp_path):
    result, path = run_protocol("algebraic", "panoptic-relative", checkpoints=checkpoints,
                                results_dir=tmp_path / "results", real_data=_config(panoptic=roots["panoptic"]))
    again = read_result(path)
    assert again.dataset == result.dataset and again.dataset.source == "real" and again.dataset.name == "panoptic"
    preds = load_pose_predictions(path.with_suffix(".npz"))
    # the two-person sequence is skipped, the frame with an unconfident ankle is not scored
    assert sorted(preds.sample_ids.tolist()) == PANOPTIC_TEST_IDS and again.num_samples == 2


def test_mupots_root_runs_on_the_real_dataset_with_mixed_image_sizes(roots, checkpoints, tmp_path):
    root = tmp_path / "mupots"
    shutil.copytree(roots["mupots"], root)
    # MuPoTS-3D mixes 2048² and 1920×1080 sequences: batches must not stack different sizes
    write_jpeg(root / "MultiPersonTestSet" / "TS2" / "img_000000.jpg", (80, 64), [(40.0, 31.0)])
    result, path = run_protocol("rootnet", "mupots-root", checkpoints=checkpoints, results_dir=tmp_path / "results",
                                real_data=_config(mupots=root))
    again = read_result(path)
    assert again.dataset == result.dataset
    assert again.dataset.source == "real" and again.dataset.name == "mupots" and again.num_samples == 3
    preds = load_root_predictions(path.with_suffix(".npz"))
    assert sorted(set(preds.sample_ids.tolist())) == ["TS1/img_000000", "TS1/img_000001", "TS2/img_000000"]
    assert len(preds.root) == 6 and np.isfinite(preds.root).all()  # one row per ground-truth box
    assert "ap_root" in again.metrics.main.overall and "mrpe" in again.metrics.main.overall


def test_predict_command_reads_real_data_from_params_yaml(roots, checkpoints, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(f"profile: smoke\nreal_data:\n  human36m: {roots['human36m']}\n"
                                   "  trust_pickle: true\n")
    app, runner = _standalone_app(), CliRunner()
    args = ["predict", "algebraic", "--protocol", "human36m-relative", "--checkpoints", str(checkpoints), "-q"]
    out = runner.invoke(app, args)  # ./params.yaml by default
    assert out.exit_code == 0, out.output
    result = read_result(tmp_path / "results" / "algebraic" / "human36m-relative@1.json")
    assert result.dataset.source == "real" and result.num_samples == len(H36M_TEST_IDS)
    # --params names another file; its real_data block without a human36m path is a clear error
    other = tmp_path / "other.yaml"
    other.write_text("real_data: {human36m: null, use_env: false}\n")
    out = runner.invoke(app, [*args, "--params", str(other), "--results", str(tmp_path / "r2")])
    assert out.exit_code == 2 and "real_data.human36m" in out.output
    assert _nothing_written(tmp_path / "r2")


def test_train_on_real_human36m(roots, checkpoints, tmp_path):
    ck = tmp_path / "checkpoints"
    shutil.copytree(checkpoints / "backbone", ck / "backbone")
    cfg = _config(human36m=roots["human36m"])
    summary = train_method("ransac", checkpoints=ck, dataset="human36m", profile="smoke", progress=False,
                           real_data=cfg)
    assert summary["method"] == "ransac" and (ck / "ransac" / "weights.pt").is_file()
    # a learning method takes optimisation steps on the real train split (S1) and validates on S9 + S11
    override = tmp_path / "alg.yaml"
    override.write_text("train: {steps: 2, batch_size: 2, val_samples: 2}\n")
    summary = train_method("algebraic", checkpoints=ck, dataset="human36m", profile="smoke", progress=False,
                           config_path=override, real_data=cfg)
    assert summary["steps"] == 2 and np.isfinite(summary["val"]["mpjpe_rel"])
    train = locate("human36m", "train", cfg).dataset
    assert sorted(train.meta["subject"].unique()) == ["S1"] and len(train) == 2


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("method", "protocol", "name"), [
    ("algebraic", "human36m-relative", "human36m"),
    ("algebraic", "panoptic-relative", "panoptic"),
    ("rootnet", "mupots-root", "mupots"),
])
def test_a_missing_path_names_the_params_key_and_the_variable(tmp_path, method, protocol, name):
    results = tmp_path / "results"
    # raised before the checkpoint is read: there is none here
    with pytest.raises(InputError, match=rf"real_data\.{name}.*{ENV_VARS[name]}") as info:
        run_protocol(method, protocol, checkpoints=tmp_path / "none", results_dir=results)
    assert not isinstance(info.value, DatasetLayoutError)
    with pytest.raises(InputError, match=rf"real_data\.{name}.*use_env is false"):
        run_protocol(method, protocol, checkpoints=tmp_path / "none", results_dir=results,
                     real_data=RealDataConfig(use_env=False))
    assert _nothing_written(results)


def test_training_on_a_real_dataset_without_a_path(tmp_path):
    with pytest.raises(InputError, match=r"real_data\.human36m"):
        train_method("ransac", checkpoints=tmp_path, dataset="human36m", profile="smoke", progress=False)
    with pytest.raises(InputError, match="MuPoTS-3D has no split 'train'"):
        locate("mupots", "train", RealDataConfig(mupots=tmp_path)).dataset  # noqa: B018


def _break_h36m_labels(root: Path) -> str:
    (root / "extra" / "human36m-multiview-labels-GTbboxes.npy").unlink()
    return "human36m-multiview-labels-GTbboxes.npy: label file not found"


def _break_h36m_image(root: Path) -> str:
    image = root / "processed" / "S9" / "Walking-1" / "imageSequence-undistorted" / "58860488" / "img_000065.jpg"
    image.unlink()
    return "img_000065.jpg: image not found"


def _break_panoptic_calibration(root: Path) -> str:
    calib = root / "171204_pose1" / "calibration_171204_pose1.json"
    calib.write_text(calib.read_text()[:200])
    return "calibration_171204_pose1.json: calibration is truncated"


def _break_mupots_annotations(root: Path) -> str:
    data = json.loads((root / "MuPoTS-3D.json").read_text())
    del data["annotations"][1]["keypoints_cam"]
    (root / "MuPoTS-3D.json").write_text(json.dumps(data))
    return r"MuPoTS-3D.json: annotations\[1\]: missing field\(s\) \['keypoints_cam'\]"


@pytest.mark.parametrize(("method", "protocol", "name", "damage"), [
    ("algebraic", "human36m-relative", "human36m", _break_h36m_labels),
    ("algebraic", "human36m-relative", "human36m", _break_h36m_image),
    ("algebraic", "panoptic-relative", "panoptic", _break_panoptic_calibration),
    ("rootnet", "mupots-root", "mupots", _break_mupots_annotations),
])
def test_a_broken_layout_names_the_file_and_writes_nothing(roots, checkpoints, tmp_path, method, protocol, name,
                                                           damage):
    root = tmp_path / name
    shutil.copytree(roots[name], root)
    message = damage(root)
    results = tmp_path / "results"
    with pytest.raises(DatasetLayoutError, match=rf"(?s){message}.*expected {name} layout"):
        run_protocol(method, protocol, checkpoints=checkpoints, results_dir=results, real_data=_config(**{name: root}))
    assert _nothing_written(results)


def test_a_path_that_does_not_exist(checkpoints, tmp_path):
    results = tmp_path / "results"
    with pytest.raises(DatasetLayoutError, match=r"(?s)nowhere: folder not found.*expected panoptic layout"):
        run_protocol("algebraic", "panoptic-relative", checkpoints=checkpoints, results_dir=results,
                     real_data=_config(panoptic=tmp_path / "nowhere"))
    assert _nothing_written(results)


# ----------------------------------------------------------------------------- sources
def test_sources_synthetic_and_real(roots, tmp_path, monkeypatch):
    src = locate("synth-h36m", "test", data_dir=tmp_path)
    assert src.source == "synthetic" and src.path == tmp_path / "synth-h36m" / "test"
    assert not is_real("synth-h36m") and all(is_real(n) for n in ("human36m", "panoptic", "mupots"))
    # a synthetic split never reads real_data, even a broken one
    assert locate("synth-mupots", "test", tmp_path / "missing.yaml", data_dir=tmp_path).source == "synthetic"
    monkeypatch.setenv("POSEBOARD_PANOPTIC_ROOT", str(roots["panoptic"]))
    real = locate("panoptic", "test")  # None: environment variables
    assert real.source == "real" and real.path == roots["panoptic"] and len(real) == 2 and real.num_cameras == 6
    view = real.with_cameras([1, 0])
    assert [c.name for c in view[0].cameras] == ["00_06", "00_03"] and real.dataset[0].num_views == 6
    with pytest.raises(InputError, match="camera indices"):
        real.with_cameras([6])


def test_real_data_from_a_params_file(roots, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"seed: 0\nreal_data:\n  mupots: {roots['mupots']}\n  use_env: false\n")
    cfg = real_data_config(params)
    assert cfg.path("mupots") == roots["mupots"] and cfg.path("human36m") is None
    assert locate("mupots", "test", params).path == roots["mupots"]
    params.write_text("real_data:\n  mupots_root: /x\n")
    with pytest.raises(InputError, match=r"params.yaml: real_data\.mupots_root: Extra inputs"):
        real_data_config(params)
    with pytest.raises(InputError, match="params file not found"):
        real_data_config(tmp_path / "absent.yaml")
    assert real_data_config({"panoptic": str(tmp_path)}).path("panoptic") == tmp_path
