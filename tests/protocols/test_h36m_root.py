"""``synth-h36m-root``: RootNet's Human3.6M-like single-view test (every view alone, MRPE x/y/z).

On the tiny synthetic world of the P5 tests: the protocol validates, its ground truth lists
exactly the valid views with the roots :class:`ViewPersonDataset` trains on, ``evaluate_roots``
scores the same numbers as the independent ``evaluate_view_mrpe``, a perfect predictor scores
0, and the ``rootnet-h36m`` variant trains and predicts through ``poseboard train/predict``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poseboard.datasets.people import ViewPersonDataset, ViewScenes
from poseboard.datasets.torch_dataset import MultiViewDataset
from poseboard.harness.root_localisation import evaluate_roots
from poseboard.methods.rootnet import RootNetConfig, RootNetMethod, evaluate_view_mrpe
from poseboard.protocols.ground_truth import load_ground_truth
from poseboard.protocols.predictions import RootGroundTruth
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.results import read_result
from poseboard.samples import Prediction

sys.path.insert(0, str(Path(__file__).parents[1] / "methods"))
import p5_fixtures

p5_data = p5_fixtures.p5_data
p5_backbone = p5_fixtures.p5_backbone

PROTOCOL = "synth-h36m-root"


def _method() -> RootNetMethod:
    cfg = RootNetConfig.preset("smoke")
    cfg.backbone_checkpoint = None
    torch.manual_seed(0)
    return RootNetMethod(cfg)


def test_protocol_record():
    p = get_protocol(PROTOCOL)
    assert p.id == "synth-h36m-root@3" and p.task == "root_localisation" and p.dataset == "synth-h36m"
    assert p.headline == "mrpe" and p.weighting == "frame" and p.cameras == (0, 1, 2, 3)
    assert p.check_method("rootnet", RootNetMethod.capabilities) == (1,)
    anchor = next(a for a in p.paper if a.dataset == "Human3.6M")
    assert anchor.value == 120.0 and "108.1" in anchor.source


def test_ground_truth_is_one_image_per_valid_view(p5_data):
    split = p5_data / "synth-h36m" / "test"
    gt = load_ground_truth(get_protocol(PROTOCOL), split)
    assert isinstance(gt, RootGroundTruth)
    views = ViewPersonDataset(MultiViewDataset(split))
    valid = np.load(split / "view_valid.npy")
    assert len(gt.people) == int(valid.sum()) == len(views) > 0
    ids = gt.people["sample_id"].astype(str)
    assert ids.is_unique and (gt.people["person_index"] == 0).all() and gt.people["valid"].all()
    np.testing.assert_allclose(gt.roots, np.stack([views[k]["root_cam"] for k in range(len(views))]), atol=1e-9)
    assert list(gt.images["sample_id"]) == list(ids)
    scenes = ViewScenes(MultiViewDataset(split), (0, 1, 2, 3))
    assert list(scenes.table["sample_id"]) == list(ids)
    first = scenes[0]
    assert first.meta.sample_id == ids.iloc[0] and len(first.people) == 1
    np.testing.assert_allclose(first.people[0].box, views[0]["box"])
    # a camera subset keeps only those views
    sub = load_ground_truth(get_protocol(PROTOCOL).model_copy(update={"cameras": (2,)}), split)
    assert len(sub.people) == int(valid[:, 2].sum()) and sub.people["sample_id"].str.endswith("/view2").all()


def test_evaluate_roots_matches_the_view_mrpe(p5_data, tmp_path):
    method = _method()
    _, path = evaluate_roots(method, PROTOCOL, data_dir=p5_data, results_dir=tmp_path, batch_size=5)
    assert path == tmp_path / "rootnet" / "synth-h36m-root@3.json" and path.with_suffix(".npz").exists()
    record = read_result(path)
    main = record.metrics.main
    independent = evaluate_view_mrpe(method, MultiViewDataset(p5_data / "synth-h36m" / "test"), batch_size=7)
    ref = independent["overall"]
    assert record.metrics.headline == "mrpe"
    assert record.metrics.headline_value == pytest.approx(ref["mrpe"], rel=1e-6)
    for axis in ("x", "y", "z"):
        assert main.extra[f"mrpe_{axis}"] == pytest.approx(ref[f"mrpe_{axis}"], rel=1e-6)
    assert record.num_samples == main.num_frames == int(ref["people"])
    assert set(main.per_action["mrpe"]) == set(independent["per_action"])
    for action, stats in main.per_action["mrpe"].items():
        assert stats.value == pytest.approx(independent["per_action"][action], rel=1e-6)
    assert "mrpe" in main.ci95 and any("scored alone" in n for n in record.notes)


def test_a_perfect_predictor_scores_zero(p5_data, tmp_path):
    method = _method()

    def oracle(batch: dict) -> Prediction:
        roots = torch.tensor(np.stack([p.root_cam for people in batch["people"] for p in people]))
        n = len(roots)
        ids = np.array([m.sample_id for m, people in zip(batch["meta"], batch["people"], strict=True)
                        for _ in people], dtype=str)
        return Prediction(joints_3d=roots[:, None].float(), frame="camera", root=roots, score=torch.ones(n),
                          extras={"sample_ids": ids, "person_index": torch.zeros(n, dtype=torch.int64)})

    method.predict = oracle  # type: ignore[method-assign]
    result, path = evaluate_roots(method, PROTOCOL, data_dir=p5_data, results_dir=tmp_path)
    assert result.metrics.headline_value == pytest.approx(0.0, abs=1e-9)
    assert all(abs(result.metrics.main.extra[f"mrpe_{a}"]) < 1e-9 for a in "xyz")
    # the predictions file scores the same through `poseboard evaluate`
    from poseboard.protocols.evaluate import evaluate_predictions_file

    again, _ = evaluate_predictions_file(path.with_suffix(".npz"), PROTOCOL, method="oracle", data_dir=p5_data,
                                         results_dir=tmp_path)
    assert again.metrics.headline_value == pytest.approx(0.0, abs=1e-9)
    assert again.num_samples == result.num_samples


@pytest.mark.slow
def test_rootnet_h36m_variant_trains_and_predicts(p5_data, p5_backbone, tmp_path):
    """`poseboard train rootnet --name rootnet-h36m --dataset synth-h36m`, then `poseboard
    predict rootnet-h36m --protocol synth-h36m-root` (the DVC stages' commands)."""
    from poseboard.harness.run import run_protocol, train_method

    config = tmp_path / "params.yaml"
    config.write_text(f"methods:\n  rootnet-h36m:\n    smoke:\n      backbone_checkpoint: {p5_backbone}\n"
                      "      train: {steps: 4, batch_size: 4, val_samples: 2, log_every: 2, checkpoint_every: 2}\n")
    checkpoints = tmp_path / "checkpoints"
    summary = train_method("rootnet", data_dir=p5_data, checkpoints=checkpoints, dataset="synth-h36m",
                           profile="smoke", config_path=config, config_key="methods.rootnet-h36m.smoke",
                           progress=False, name="rootnet-h36m")
    assert summary["method"] == "rootnet-h36m" and summary["steps"] == 4 and "mrpe" in summary["val"]
    result, path = run_protocol("rootnet-h36m", f"{PROTOCOL}@3", data_dir=p5_data, checkpoints=checkpoints,
                                results_dir=tmp_path / "results")
    assert path == tmp_path / "results" / "rootnet-h36m" / "synth-h36m-root@3.json"
    assert result.method.name == "rootnet-h36m" and result.method.registered == "rootnet"
    assert result.metrics.headline_value > 0
