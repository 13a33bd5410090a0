"""The ``paper`` profile's smoke variant on the real-data fixtures, end to end: every stage
(``pretrain`` → ``train`` → ``predict``, the commands ``dvc.yaml`` runs) on the Human3.6M,
CMU Panoptic and MuPoTS-3D fixtures of ``real_fixtures``, and a result file with
``dataset.source == "real"`` for every real protocol; plus the ``human36m-root`` protocol
(RootNet's Human3.6M MRPE, every view alone) on its own.

**What is shrunk.** The params file is ``params.yaml`` with ``profile: paper``, its
``real_data`` block pointing at the fixtures, and each ``paper`` block (the backbone's and every
method's) kept as written except:

* the network sizes, taken from the ``smoke`` preset: the 2D backbone (learnable
  triangulation's ResNet-152 → the smoke ResNet, for the pre-trained backbone and every method,
  so the epipolar rows' ResNet-50 matches it too), the confidence heads, the V2V net and its
  volume (64³ × 32 → 16³ × 8), the pose posterior's samples and the epipolar samples;
* the schedules: 2 optimisation steps of batch 2, validation on 2 samples;
* no ``--init-weights``: the backbone starts from random weights (the paper starts from
  ``pose_resnet_4.5_pixels_human36m.pth``, which is not redistributable); so does a method's
  own ``backbone_checkpoint`` (He et al.'s ResNet-50 rows: written by ``pretrain`` with no
  steps, from ImageNet weights in the paper), moved from ``checkpoints/`` to the test's folder.

Everything else is the paper profile's (input sizes, σ, learning rates and schedules, RootNet's
augmentation, RANSAC's inlier rule, the volume's cuboid, ...). The Panoptic fixture is written
with 16 HD cameras (``panoptic-sweep`` draws up to 16) and a ``splits.json`` whose ``train``
split is its one single-person sequence (also ``test``: a smoke check, not a held-out split).

**Which (method, protocol) pairs.** ``params.yaml``'s ``evaluations`` and ``scores`` are the
synthetic protocols (DVC evaluates only those); each has the real protocol it stands in for
(:data:`REAL_COUNTERPARTS`), and a method trains on the real counterpart of its ``dataset``
(:data:`REAL_TRAINING`). RootNet's MuPoTS-3D model cannot train on real data (MuPoTS-3D is a
test set, MuCo-3DHP has no loader), so ``rootnet`` trains on Human3.6M (docs/real_datasets.md).
Calibration sweeps, AP_root at other thresholds and simulated detections have no real protocol.

The whole matrix took 54 to 89 s on a shared 2-core machine (the four ``panoptic-sweep``
runs, 52 camera subsets each, are half of it), so it runs when
``POSEBOARD_PIPELINE_TEST=1``; the always-on subset takes about ten seconds and still covers
every stage and all three datasets: pretrain → train ``algebraic``, ``rootnet``,
``rootnet-h36m`` → ``human36m-relative``, ``human36m-absolute``, ``panoptic-relative``,
``human36m-root``, ``mupots-root``.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from poseboard.datasets.real.config import ENV_VARS, RealDataConfig
from poseboard.datasets.real.human36m import convert_labels
from poseboard.datasets.sources import locate_protocol
from poseboard.harness.commands import _standalone_app
from poseboard.params import check_params, parse_params
from poseboard.protocols.evaluate import evaluate_predictions_file
from poseboard.protocols.predictions import RootPredictions, load_root_predictions, save_root_predictions
from poseboard.protocols.registry import all_protocols, get_protocol
from poseboard.protocols.results import read_result

sys.path.insert(0, str(Path(__file__).parent))  # fixture writers beside this file (pytest --import-mode=importlib)
import real_fixtures
from real_fixtures import h36m_cameras, write_h36m, write_mupots, write_panoptic

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("POSEBOARD_PIPELINE_TEST") == "1"

#: The real protocol(s) each synthetic protocol of ``params.yaml`` stands in for (same task and
#: setting); the synthetic ones missing here have none (calibration sweeps, AP_root at 10/15/20 cm,
#: simulated detections).
REAL_COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "synth-h36m-relative": ("human36m-relative",),
    "synth-h36m-absolute": ("human36m-absolute",),
    "synth-h36m-single-view": ("human36m-single-view",),
    "synth-h36m-uncalibrated": ("human36m-uncalibrated",),
    "synth-h36m-root": ("human36m-root",),
    "synth-panoptic-sweep": ("panoptic-sweep", "panoptic-relative"),
    "synth-mupots-root": ("mupots-root",),
}
#: The real training set standing in for a method's generated one (``mupots``: a test set that
#: RootNet refuses to train on, so Human3.6M, as docs/real_datasets.md says).
REAL_TRAINING = {"synth-h36m": "human36m", "synth-panoptic": "panoptic", "synth-mupots": "human36m"}
#: Config keys whose paper sizes are replaced by the smoke preset's (see the module docstring).
SHRUNK_KEYS = ("backbone", "confidence_widths", "v2v", "volume_size", "volume_channels", "posterior", "num_samples")
TINY_TRAIN = {"steps": 2, "batch_size": 2, "val_samples": 2, "log_every": 1}
#: The always-on subset (the rest runs with POSEBOARD_PIPELINE_TEST=1).
FAST_METHODS = ("rootnet", "rootnet-h36m", "algebraic")
#: 16 HD cameras: the protocol order's five first, then others (panoptic-sweep draws up to 16).
PANOPTIC_HD_16 = ["00_01", "00_02", "00_03", "00_04", "00_05", "00_06", "00_07", "00_08", "00_09", "00_10",
                  "00_11", "00_12", "00_13", "00_14", "00_15", "00_23"]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)


def _params() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def paper_pairs(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, real protocol) for every evaluation and score of ``params`` whose protocol has a
    real counterpart, sorted."""
    entries = [*params.get("evaluations", {}).values(), *params.get("scores", {}).values()]
    return sorted({(e["method"], real) for e in entries for real in REAL_COUNTERPARTS.get(e["protocol"], ())})


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _shrink(model: Any, block: dict[str, Any]) -> dict[str, Any]:
    """``block`` (a paper override) with the network sizes of ``model``'s smoke preset and a
    two-step schedule (nested configs, volumetric's ``algebraic``, shrunk the same way)."""
    smoke = model.preset("smoke").model_dump(mode="json")
    fields = model.model_fields
    out = copy.deepcopy(block)
    for key in SHRUNK_KEYS:
        if key in fields:
            out[key] = smoke[key]
    for key, info in fields.items():
        sub = info.annotation
        if key not in SHRUNK_KEYS and isinstance(sub, type) and hasattr(sub, "preset") and key != "train":
            out[key] = _shrink(sub, out.get(key, {}))
    if "train" in fields:
        out["train"] = _merge(out.get("train", {}), TINY_TRAIN)
    return out


def paper_smoke_params(roots: dict[str, Path], work: Path | None = None) -> dict[str, Any]:
    """``params.yaml`` as the paper profile's smoke variant on the fixtures ``roots``; a
    method's own ``backbone_checkpoint`` (He et al.'s ResNet-50 rows), relative to the
    repository, is moved under ``work``."""
    from poseboard.methods.registry import get_method
    from poseboard.methods.train.pretrain import PretrainConfig

    params = _params()
    params["profile"] = "paper"
    params["real_data"] = {**params.get("real_data", {}), "human36m": str(roots["human36m"]),
                           "panoptic": str(roots["panoptic"]), "mupots": str(roots["mupots"]),
                           "trust_pickle": True, "use_env": False}
    params["backbone"]["paper"] = _shrink(PretrainConfig, params["backbone"].get("paper", {}))
    for block in params["methods"].values():
        block["paper"] = _shrink(get_method(block["method"]).config_model, block.get("paper", {}))
        own = block["paper"].get("backbone_checkpoint")
        if own is not None and work is not None and not Path(own).is_absolute():
            block["paper"]["backbone_checkpoint"] = str(work / own)
    return params


def _invoke(args: list[str]) -> str:
    out = CliRunner().invoke(_standalone_app(), args)
    assert out.exit_code == 0, f"poseboard {' '.join(args)} failed:\n{out.output}\n{out.exception!r}"
    return out.output


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """The three fixture datasets; Panoptic with 16 HD cameras and a ``train`` split."""
    base = tmp_path_factory.mktemp("real")
    write_h36m(base / "h36m")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(real_fixtures, "PANOPTIC_HD", PANOPTIC_HD_16)
        write_panoptic(base / "panoptic")
    (base / "panoptic" / "splits.json").write_text('{"train": ["171204_pose1"], "test": ["171204_pose1"]}')
    write_mupots(base / "mupots")
    return {"human36m": base / "h36m", "panoptic": base / "panoptic", "mupots": base / "mupots"}


class PaperRun:
    """One run of the stages in a work folder: ``params.yaml`` (the paper smoke variant),
    ``checkpoints/``, ``results/``; each method trained once, on first use."""

    def __init__(self, work: Path, roots: dict[str, Path]) -> None:
        self.work = work
        self.params = paper_smoke_params(roots, work)
        self.params_file = work / "params.yaml"
        self.params_file.write_text(yaml.safe_dump(self.params, sort_keys=False))
        self.checkpoints, self.results = work / "checkpoints", work / "results"
        self.trained: dict[str, dict[str, Any]] = {}
        self.seconds: dict[str, float] = {}

    def _common(self) -> list[str]:
        return ["--checkpoints", str(self.checkpoints), "--params", str(self.params_file), "--device", "cpu", "-q"]

    def pretrain(self) -> None:
        if "backbone" in self.seconds:
            return
        t0 = time.perf_counter()
        _invoke(["pretrain", "--dataset", "human36m", "--profile", "paper", "--config", str(self.params_file),
                 "--config-key", "backbone.paper", "--seed", "0", *self._common()])
        self.seconds["backbone"] = time.perf_counter() - t0

    def own_backbone(self, folder: Path) -> None:
        """A method's own starting backbone (``backbone_checkpoint``: He et al.'s ResNet-50 rows),
        written as docs/real_datasets.md says: ``pretrain`` with no steps (the paper: from
        ImageNet weights, ``--init-weights``; here random, at the shrunk size)."""
        if folder.name != "backbone":
            raise AssertionError(f"backbone_checkpoint {folder}: expected a folder named 'backbone'")
        if str(folder) in self.seconds:
            return
        config = self.work / "own-backbone.yaml"
        config.write_text(yaml.safe_dump({"backbone": _merge(self.params["backbone"]["paper"],
                                                             {"train": {"steps": 0}})}))
        t0 = time.perf_counter()
        _invoke(["pretrain", "--dataset", "human36m", "--profile", "paper", "--config", str(config),
                 "--config-key", "backbone", "--seed", "0", "--checkpoints", str(folder.parent),
                 "--params", str(self.params_file), "--device", "cpu", "-q"])
        self.seconds[str(folder)] = time.perf_counter() - t0

    def train(self, name: str) -> None:
        """``train@<name>`` as dvc.yaml runs it, after what it starts from."""
        if name in self.seconds:
            return
        block = self.params["methods"][name]
        if block["init"] == "backbone":
            self.pretrain()
        elif block["init"] != "none":  # none: random weights, nothing to run first (issue 71)
            self.train(block["init"])
        own = block["paper"].get("backbone_checkpoint")
        if own is not None:
            self.own_backbone(Path(own))
        t0 = time.perf_counter()
        _invoke(["train", block["method"], "--name", name, "--dataset", REAL_TRAINING[block["dataset"]],
                 "--profile", "paper", "--config", str(self.params_file), "--config-key", f"methods.{name}.paper",
                 "--seed", "0", *(["--init", "none"] if block["init"] == "none" else []), *self._common()])
        self.seconds[name] = time.perf_counter() - t0

    def predict(self, method: str, protocol: str) -> Path:
        self.train(method)
        t0 = time.perf_counter()
        _invoke(["predict", method, "--protocol", protocol, "--results", str(self.results), "--seed", "0",
                 *self._common()])
        self.seconds[f"{method} {protocol}"] = time.perf_counter() - t0
        return self.results / method / f"{get_protocol(protocol).id}.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory, roots) -> Iterator[PaperRun]:
    paper = PaperRun(tmp_path_factory.mktemp("paper"), roots)
    yield paper
    print("\npaper smoke stage seconds:", {k: round(v, 1) for k, v in paper.seconds.items()})


# ----------------------------------------------------------------------------- the matrix
PAIRS = paper_pairs(_params())


def test_the_params_file_is_the_paper_profile_and_validates(roots):
    params = paper_smoke_params(roots)
    parsed = parse_params(params, "paper smoke params")
    assert parsed.profile == "paper" and parsed.real_data.path("human36m") == roots["human36m"]
    assert check_params(parsed, deep=True, where="paper smoke params") == []
    # only sizes and schedules change: the paper's other choices stay
    original = _params()["methods"]
    assert params["methods"]["epipolar"]["paper"]["input_size"] == original["epipolar"]["paper"]["input_size"]
    assert params["methods"]["volumetric-norm"]["paper"]["volume_norm"] == "standardise"
    assert params["methods"]["algebraic"]["paper"]["train"]["steps"] == 2


def test_every_real_protocol_has_a_pair():
    real = {p.name for p in all_protocols().values() if p.dataset in ("human36m", "panoptic", "mupots")}
    assert {protocol for _, protocol in PAIRS} == real
    assert ("rootnet-h36m", "human36m-root") in PAIRS and ("rootnet", "mupots-root") in PAIRS


@pytest.mark.parametrize(("method", "protocol"), [
    pytest.param(m, p, marks=[] if m in FAST_METHODS and p != "panoptic-sweep" else [
        pytest.mark.slow, pytest.mark.skipif(not FULL, reason="the full paper smoke matrix takes about a minute: "
                                                                "set POSEBOARD_PIPELINE_TEST=1")])
    for m, p in PAIRS
])
def test_paper_smoke_writes_a_real_result(run, method, protocol):
    path = run.predict(method, protocol)
    result = read_result(path)  # validates against the schema
    proto = get_protocol(protocol)
    assert result.dataset.source == "real" and result.dataset.name == proto.dataset
    assert result.protocol.name == protocol and result.num_samples > 0 and result.dataset.data_hash
    assert np.isfinite(result.metrics.headline_value)
    config = result.method.config
    if "train" in config:  # the paper profile's own choices, the schedule shrunk
        assert config["train"]["steps"] == 2
        paper = run.params["methods"][method]["paper"]["train"]
        assert config["train"]["lr"] == paper.get("lr", config["train"]["lr"])
    if proto.camera_sweep is not None:  # every size the method takes (ransac, algebraic: 2 views or more)
        caps = result.method.capabilities
        sizes = [n for n in proto.camera_sweep.sizes
                 if n >= caps.min_views and (caps.max_views is None or n <= caps.max_views)]
        assert set(result.metrics.sweep) == {str(n) for n in sizes}


# ----------------------------------------------------------------------------- human36m-root
def test_human36m_root_ground_truth_is_every_present_view(roots, tmp_path):
    from poseboard.datasets.people import RealViewScenes

    protocol = get_protocol("human36m-root")
    data = locate_protocol(protocol, RealDataConfig(human36m=roots["human36m"], trust_pickle=True, use_env=False))
    gt = data.ground_truth(protocol)
    assert gt.source == "real" and gt.data_hash
    # 7 test frames × 4 cameras, less S11 Directions-2's camera 54138969 (no video) in its 2 frames
    assert len(gt.people) == 7 * 4 - 2 and (gt.people["person_index"] == 0).all() and gt.people["valid"].all()
    assert "S11/Directions-2/000000/view0" not in set(gt.people["sample_id"])
    labels = np.load(roots["human36m"] / "extra" / "human36m-multiview-labels-GTbboxes.npy",
                     allow_pickle=True).item()
    table, subjects = labels["table"], labels["subject_names"]
    for k, (sid, root) in enumerate(zip(gt.people["sample_id"], gt.roots, strict=True)):
        subject, action, frame, view = sid.split("/")
        row = next(r for r in table if subjects[r["subject_idx"]] == subject
                   and labels["action_names"][r["action_idx"]] == action and r["frame_idx"] == int(frame))
        cam = h36m_cameras(int(row["subject_idx"]))[int(view[4:])]
        np.testing.assert_allclose(root, cam.R @ row["keypoints"][6].astype(np.float64) + cam.t, atol=1e-3)
        assert gt.people["frame"].iloc[k] == int(frame)
    # the scenes RootNet is scored on: the same views, the same roots
    scenes = RealViewScenes(data.dataset)
    assert scenes.table["sample_id"].tolist() == gt.people["sample_id"].tolist()
    scene = scenes[5]
    assert scene.image.shape == (3, 384, 384) and len(scene.people) == 1
    np.testing.assert_allclose(scene.people[0].root_cam, gt.roots[5], atol=1e-6)
    box = scene.people[0].box
    assert 0 <= box[0] < box[2] <= 384 and 0 <= box[1] < box[3] <= 384
    # `poseboard evaluate` with the pickle-free labels: exact roots score 0, a 30 mm shift 30
    root = tmp_path / "h36m"
    shutil.copytree(roots["human36m"], root)
    convert_labels(root / "extra" / "human36m-multiview-labels-GTbboxes.npy", trust_pickle=True)
    n = len(gt.people)
    for shift in (0.0, 30.0):
        preds = RootPredictions(sample_ids=gt.people["sample_id"].to_numpy().astype(str),
                                root=gt.roots + [0.0, 0.0, shift], score=np.ones(n), person_index=np.zeros(n, int))
        save_root_predictions(tmp_path / "roots.npz", preds)
        result, _ = evaluate_predictions_file(tmp_path / "roots.npz", "human36m-root", method="shifted",
                                              ground_truth=root, results_dir=tmp_path / "results")
        assert result.dataset.source == "real" and result.num_samples == n
        assert result.metrics.headline_value == pytest.approx(shift, abs=1e-6)
        assert result.metrics.main.extra["mrpe_z"] == pytest.approx(shift, abs=1e-6)
    # per action, trials merged (Walking-1 and Walking-2 are one action)
    assert set(result.metrics.main.per_action["mrpe"]) == {"Directions", "Greeting", "Walking"}


def test_rootnet_is_scored_on_human36m_root_through_predict(run):
    path = run.predict("rootnet-h36m", "human36m-root")
    result = read_result(path)
    preds = load_root_predictions(path.with_suffix(".npz"))
    assert result.dataset.source == "real" and result.num_samples == 26 == len(preds.root)
    assert np.isfinite(preds.root).all() and (preds.person_index == 0).all()
    assert set(result.metrics.main.overall) >= {"mrpe"} and {"mrpe_x", "mrpe_y", "mrpe_z"} <= set(
        result.metrics.main.extra)
    assert any("scored alone (26 single-person images)" in n for n in result.notes)
    anchors = {a.method: a.value for a in get_protocol("human36m-root").paper}
    assert anchors == {"rootnet-h36m": 120.0}  # RootNet's README, as synth-h36m-root's
