"""Absent camera slots cut out of a batch (:func:`present_views_first`, which the harness applies
to every prediction batch) leave every method's predictions as they were: each method weighs an
absent view zero, so computing it was wasted work, never information."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.datasets.torch_dataset import VIEW_KEYS, present_views_first

torch.set_num_threads(1)


def padded_batch() -> dict[str, Any]:
    """Four frames of the 4-camera test split in six slots, as a split of mixed rigs stores
    them: slots 4 and 5 absent in every frame (copies of views 0 and 1 with garbage pixels,
    as a zero box would not give), view 2 absent in frame 1 and view 0 in frame 2."""
    batch = F.eval_batch(4)
    out = dict(batch)
    for key in VIEW_KEYS:
        out[key] = torch.cat([batch[key], batch[key][:, :2]], dim=1)
    out["images"] = out["images"].clone()
    out["images"][:, 4:] = 100.0
    out["cameras"] = [cams + cams[:2] for cams in batch["cameras"]]
    valid = torch.ones(4, 6, dtype=torch.bool)
    valid[:, 4:] = False
    valid[1, 2] = False
    valid[2, 0] = False
    out["view_valid"] = valid
    return out


def test_present_views_come_first_in_order_and_the_absent_tail_is_cut():
    batch = padded_batch()
    cut = present_views_first(batch)
    assert cut["images"].shape[1] == 4 and cut["view_valid"].tolist() == [
        [True] * 4, [True, True, True, False], [True, True, True, False], [True] * 4]
    order = {1: [0, 1, 3, 2], 2: [1, 2, 3, 0]}  # present first, in order; the absent one last
    for i in range(4):
        views = order.get(i, [0, 1, 2, 3])
        for key in VIEW_KEYS:
            if key != "view_valid":
                assert torch.equal(cut[key][i], batch[key][i, views]), (key, i)
        assert [c.name for c in cut["cameras"][i]] == [batch["cameras"][i][v].name for v in views]
    assert torch.equal(cut["joints_3d"], batch["joints_3d"])
    full = F.eval_batch(2)
    assert present_views_first(full) is full


@pytest.mark.parametrize("name", list(F.UNTRAINED))
def test_cutting_absent_views_keeps_every_methods_predictions(name):
    method = F.UNTRAINED[name]()
    batch = padded_batch()
    if not method.capabilities.needs_extrinsics:
        batch = {k: v for k, v in batch.items() if k not in ("proj_matrices", "R", "t")}
    for key in ("joints_3d", "joints_2d", "visibility", "cameras"):
        batch.pop(key)
    whole = method.predict(batch).joints_3d
    cut = method.predict(present_views_first(batch)).joints_3d
    assert torch.isfinite(whole).all()
    torch.testing.assert_close(cut, whole, atol=1e-3, rtol=0)
