"""Several passes over the same frames (the camera subsets of a sweep, the levels of a calibration
sweep) computing each view's backbone once (issue 30): the same predictions as separate passes,
the subsets cut from one all-camera batch as loading them would give, and a method handed no
extrinsics predicted once for every calibration level."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

import poseboard.harness.multiview_pose as runner
from poseboard.datasets.torch_dataset import VIEW_KEYS, MultiViewDataset, collate_multiview, select_views
from poseboard.harness.predict import shares_view_features
from poseboard.protocols.predictions import load_pose_predictions

torch.set_num_threads(1)

SHARING = ("ransac", "algebraic", "volumetric")


def test_a_subset_cut_from_the_all_camera_batch_is_the_subset_loaded():
    folder = F.data_dir() / "synth-panoptic" / "test"
    everything = collate_multiview([MultiViewDataset(folder, cameras=list(range(31)))[i] for i in range(3)])
    for subset in ([7], [30, 2, 11], [0, 5, 9, 14, 22, 27]):
        loaded = collate_multiview([MultiViewDataset(folder, cameras=subset)[i] for i in range(3)])
        cut = select_views(everything, subset)
        for key in VIEW_KEYS:
            assert torch.equal(cut[key], loaded[key]), key
        assert torch.equal(cut["joints_3d"], loaded["joints_3d"])
        assert [[c.name for c in row] for row in cut["cameras"]] == [[c.name for c in row] for row in loaded["cameras"]]


def test_which_methods_share():
    assert {name for name, build in F.UNTRAINED.items() if shares_view_features(build())} == set(SHARING)


def _predictions(method, protocol: str, out: Path, monkeypatch, share: bool):
    if not share:
        monkeypatch.setattr(runner, "shares_view_features", lambda method: False)
    result, path = runner.evaluate_method(method, protocol, data_dir=F.data_dir(), results_dir=out, batch_size=4)
    monkeypatch.undo()
    return result, load_pose_predictions(path.with_suffix(".npz"))


@pytest.mark.parametrize("name", SHARING)
@pytest.mark.parametrize("protocol", ["synth-panoptic-sweep", "synth-h36m-calibration"])
def test_shared_view_features_give_the_predictions_of_separate_passes(name, protocol, tmp_path, monkeypatch):
    method = F.UNTRAINED[name]()
    if name == "ransac":
        method.fit(None, None)
    shared, a = _predictions(method, protocol, tmp_path / "shared", monkeypatch, share=True)
    separate, b = _predictions(method, protocol, tmp_path / "separate", monkeypatch, share=False)
    assert np.array_equal(a.sample_ids, b.sample_ids)
    for key in ("num_views", "calibration_level"):  # None on the protocol that has no such axis
        assert (getattr(a, key) is None and getattr(b, key) is None) or np.array_equal(getattr(a, key), getattr(b, key))
    assert np.isfinite(a.joints_3d).all() and len(a.joints_3d) > len(np.unique(a.sample_ids))  # several passes
    # the backbone on 31 views at once or a subset's few: the same per-view maths, float rounding apart
    np.testing.assert_allclose(a.joints_3d, b.joints_3d, atol=1e-3, rtol=0)
    assert shared.metrics.headline_value == pytest.approx(separate.metrics.headline_value, abs=1e-4)
    assert any("shared by the" in n for n in shared.notes) and not any("shared by the" in n for n in separate.notes)


def test_a_method_without_extrinsics_is_predicted_once_for_every_calibration_level(tmp_path):
    result, path = runner.evaluate_method(F.UNTRAINED["probabilistic"](), "synth-h36m-calibration",
                                          data_dir=F.data_dir(), results_dir=tmp_path, batch_size=4)
    preds = load_pose_predictions(path.with_suffix(".npz"))
    levels = preds.calibration_level
    assert sorted(set(levels.tolist())) == [0, 1, 2, 3]
    for level in (1, 2, 3):
        assert np.array_equal(preds.sample_ids[levels == level], preds.sample_ids[levels == 0])
        assert np.array_equal(preds.joints_3d[levels == level], preds.joints_3d[levels == 0])
    curve = [block.model_dump_json() for block in result.metrics.calibration.values()]
    assert len(curve) == 4 and len(set(curve)) == 1  # the flat curve the protocol expects of it, by construction
    assert any("predicted once" in n for n in result.notes)
