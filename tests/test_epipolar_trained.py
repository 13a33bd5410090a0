"""The trained epipolar transformer on occluded joints (issue 69; poseboard/studies/epipolar_trained.py,
`poseboard epipolar-attention`): the read-outs against brute-force loops and against the
ideal-feature study's own attention measure, then the command on the tiny world's networks,
its errors against a direct computation from the methods' predictions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "methods"))
import method_fixtures as F

from poseboard.cli import app
from poseboard.studies import epipolar_conditions as ec
from poseboard.studies.epipolar_trained import attention_peaks, true_cell_peaks
from poseboard.studies.paper_conditions import scenes

runner = CliRunner()


def test_the_heatmap_is_read_at_the_true_cell_and_its_neighbours():
    rng = np.random.default_rng(0)
    heat = rng.random((2, 3, 8, 10))  # (V, J, h, w)
    uv = rng.uniform(-6.0, 44.0, (2, 3, 2))  # crop px at stride 4, some outside the map
    got = true_cell_peaks(torch.as_tensor(heat), uv, stride=4.0)
    for v in range(2):
        for j in range(3):
            cx = min(max(int(np.rint(uv[v, j, 0] / 4.0)), 0), 9)
            cy = min(max(int(np.rint(uv[v, j, 1] / 4.0)), 0), 7)
            window = heat[v, j, max(cy - 1, 0):cy + 2, max(cx - 1, 0):cx + 2]
            assert got[v, j] == pytest.approx(window.max())


def test_the_attention_peak_and_chance_against_a_loop():
    rng = np.random.default_rng(1)
    h, w, s, stride = 4, 5, 16, 4.0
    attention = torch.as_tensor(rng.random((2, h * w, s)))
    points = torch.as_tensor(rng.uniform(0.0, 16.0, (2, h * w, s, 2)))
    valid = torch.ones(2, h * w, dtype=torch.bool)
    valid[1, 7] = False
    uv_ref = np.array([[[3.0, 5.0], [15.9, 11.0]], [[12.0, 4.0], [8.0, 0.0]]])  # cells 6, 19; 8, 2
    uv_src = rng.uniform(0.0, 16.0, (2, 2, 2))
    uv_ref[1, 0] = [8.0, 4.0]  # cell (2, 1) = 7: its line misses the map
    distance, chance = attention_peaks(attention, points, valid, uv_ref, uv_src, stride, (h, w))
    for n in range(2):
        for j in range(2):
            cell = int(np.rint(uv_ref[n, j, 1] / stride)) * w + int(np.rint(uv_ref[n, j, 0] / stride))
            if not valid[n, cell]:
                assert np.isnan(distance[n, j]) and np.isnan(chance[n, j])
                continue
            line = points[n, cell].numpy()
            best = line[int(attention[n, cell].argmax())]
            assert distance[n, j] == pytest.approx(np.linalg.norm(best - uv_src[n, j]))
            assert chance[n, j] == pytest.approx(np.mean(np.linalg.norm(line - uv_src[n, j], axis=1) <= stride))


def test_on_ideal_features_it_reads_the_studys_attention_share_well_above_chance():
    """The ideal-feature study's scene, no occlusion: the read-out the study shares with this
    module gives the study's share of peaks within a cell, and chance (a peak anywhere on the
    line) lies far below it."""
    scene = scenes(0)[0]
    study = ec.run_scene(scene, *ec.REGIMES["none"], seed=0)
    maps, proj, _, _, true_uv = ec.features(scene, *ec.REGIMES["none"], seed=0)
    _, neighbour, attn, points = ec.fuse(maps, proj)
    f, v = neighbour.shape
    stride = ec.CROP_PX / maps.shape[-1]
    uv_src = np.take_along_axis(true_uv, neighbour.numpy()[:, :, None, None], axis=1)
    distance, chance = attention_peaks(attn.flatten(0, 1), points.flatten(0, 1),
                                       torch.ones(f * v, attn.shape[2], dtype=torch.bool),
                                       true_uv.reshape(f * v, -1, 2), uv_src.reshape(f * v, -1, 2), stride,
                                       tuple(maps.shape[-2:]))
    assert float((distance <= stride).mean()) == pytest.approx(study["attention_within_cell_visible"])
    assert float(chance.mean()) < 0.25 * study["attention_within_cell_visible"]


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """The tiny world's epipolar transformer and baseline (smoke sizes, untrained heads on the
    smoke backbone), saved as a checkpoints folder."""
    ck = tmp_path_factory.mktemp("epipolar-checkpoints")
    for name in ("epipolar", "epipolar-baseline"):
        method = F.UNTRAINED[name]()
        method.save(ck / name)
    return ck


def test_the_command_on_the_tiny_world(tiny_checkpoints, tmp_path):
    out = tmp_path / "rows.csv"
    args = ["epipolar-attention", "--protocol", "synth-h36m-relative", "--data-dir", str(F.data_dir()),
            "--checkpoints", str(tiny_checkpoints), "--device", "cpu", "--threads", "1", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "epipolar against epipolar-baseline" in result.output and "the paper's case" in result.output
    table = pd.read_csv(out)
    samples = pd.read_csv(F.data_dir() / "synth-h36m" / "test" / "samples.csv")
    assert sorted(table["sequence"]) == sorted(samples["sequence"].unique())
    assert table["frames"].sum() == len(samples)
    for column in ("hidden_share", "paper_case_share", "attention_within_cell_visible", "attention_chance_visible"):
        assert table[column].between(0.0, 1.0).all(), column
    for column in ("kept_epipolar", "kept_baseline", "distractor_visible_baseline"):
        assert (table[column].dropna() > 0).all() and table[column].notna().any(), column

    # the errors: each method's predictions on the same frames, root-relative, per sequence
    from poseboard.datasets.torch_dataset import collate_multiview
    from poseboard.methods.epipolar import EpipolarMethod
    from poseboard.protocols.metrics import per_joint_errors

    test = F.h36m("test")
    for name in ("epipolar", "epipolar-baseline"):
        method = EpipolarMethod.load(tiny_checkpoints / name)
        errors = []
        for start in range(0, len(test), 8):
            batch = collate_multiview([test[i] for i in range(start, min(start + 8, len(test)))])
            with torch.no_grad():
                pred = method.predict(batch).joints_3d.double().numpy()
            errors.append(per_joint_errors(pred, batch["joints_3d"].double().numpy(), "root").mean(axis=1))
        per_frame = pd.Series(np.concatenate(errors), index=samples["sequence"])
        column = "epipolar_mpjpe" if name == "epipolar" else "baseline_mpjpe"
        expected = per_frame.groupby(level=0).mean()
        assert table.set_index("sequence")[column].to_dict() == pytest.approx(expected.to_dict(), rel=1e-6)

    swapped = runner.invoke(app, [*args[:1], "epipolar-baseline", "epipolar", *args[1:]])
    assert swapped.exit_code == 2 and "not an epipolar transformer" in swapped.output
