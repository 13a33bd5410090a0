"""Moon et al.'s table: MRPE (x, y, z) from ``synth-h36m-root``, AP_root@25 from ``synth-mupots-root``,
each side still rendered when the other has no results; the root figures of the new protocol."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from poseboard.protocols.results import read_results
from poseboard.report.build import build_report
from poseboard.report.model import build_boards
from poseboard.report.tables import TABLES, latest_boards, render_table

MOON = next(t for t in TABLES if t.name == "moon2019_rootnet")


def _score_noisy_roots(data: Path, results: Path, method: str, protocol_name: str, sigma: float, seed: int,
                       train: int | None = None) -> None:
    """A real result file: the protocol's ground-truth roots + Gaussian noise, scored as `poseboard evaluate` does
    (``train``: the training seed it records, for a seed replicate)."""
    from poseboard.protocols.evaluate import build_result, score_roots
    from poseboard.protocols.ground_truth import load_ground_truth
    from poseboard.protocols.predictions import RootPredictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, result_path, write_result

    protocol = get_protocol(protocol_name)
    gt = load_ground_truth(protocol, data / protocol.dataset / protocol.split)
    rng = np.random.default_rng(seed)
    people = gt.people.reset_index(drop=True)
    preds = RootPredictions(sample_ids=people["sample_id"].astype(str).to_numpy(),
                            root=gt.roots + rng.normal(0, sigma, gt.roots.shape),
                            score=rng.uniform(0.5, 1.0, len(people)),
                            person_index=people["person_index"].astype(int).to_numpy())
    result = build_result(
        # a seed replicate records the same config as seed 0 (the board leaves out one that does not):
        # its noise level stands for what another training seed changes
        protocol=protocol, method=MethodInfo(name=method, config={"sigma_mm": sigma} if train is None else
                                             {"noise": "gaussian"}, capabilities=None),
        dataset=DatasetInfo(name=protocol.dataset, split=protocol.split, source=gt.source, data_hash=gt.data_hash),
        metrics=score_roots(protocol, gt, preds), sample_ids=preds.sample_ids,
        seeds={"noise": seed} if train is None else {"noise": seed, "train": train},
        speed=SpeedInfo(samples_per_s=None, ms_per_sample=None, batch_size=None, device=None),
    )
    write_result(result, result_path(results, method, protocol.id))


@pytest.fixture(scope="module")
def root_results(results_dir, tmp_path_factory) -> Path:
    """The shared results plus `rootnet-h36m` and `rootnet` under synth-h36m-root and `rootnet`
    under synth-mupots-root."""
    out = tmp_path_factory.mktemp("root-results") / "results"
    shutil.copytree(results_dir, out)
    data = results_dir.parent / "data"
    _score_noisy_roots(data, out, "rootnet-h36m", "synth-h36m-root", 60.0, 1)
    _score_noisy_roots(data, out, "rootnet", "synth-h36m-root", 150.0, 2)
    _score_noisy_roots(data, out, "rootnet", "synth-mupots-root", 80.0, 3)
    return out


def _render(results: Path, drop: str | None = None) -> str:
    boards = latest_boards(build_boards(read_results(results)))
    boards.pop(drop, None)
    return render_table(MOON, boards).markdown


def test_metrics_come_from_their_papers_datasets(root_results):
    md = _render(root_results)
    lines = md.splitlines()
    assert "| method | metric | paper | paper's dataset | poseboard | protocol |" in md

    def row(method: str, metric: str) -> list[str]:
        hits = [ln for ln in lines if ln.startswith(f"| {method}") and f"| {metric} |" in ln]
        assert hits, (method, metric, md)
        return hits

    mrpe = row("RootNet trained on the Human3.6M-like views", "MRPE")
    assert len(mrpe) == 1 and "| 120.0 | Human3.6M |" in mrpe[0] and "`synth-h36m-root@3`" in mrpe[0]
    assert "| 108.1 | Human3.6M |" in row("RootNet trained on the Human3.6M-like views", "MRPE z")[0]
    transfer = row("RootNet trained on the MuPoTS-like scenes", "MRPE")
    assert len(transfer) == 1 and "not in the paper" in transfer[0] and "`synth-h36m-root@3`" in transfer[0]
    ap = row("RootNet trained on the MuPoTS-like scenes", "AP_root@25")
    assert len(ap) == 1 and "| 31.0 | MuPoTS-3D |" in ap[0] and "`synth-mupots-root@2`" in ap[0]
    # MRPE is never read from the MuPoTS-like protocol, nor AP_root from the Human3.6M-like one
    assert not any(ln.startswith("|") and "MRPE" in ln and "synth-mupots-root@2" in ln for ln in lines)
    assert "not reproduced yet" not in md


@pytest.mark.parametrize(("drop", "gone", "kept"), [("synth-h36m-root", "MRPE (x, y, z)", "AP_root@25"),
                                                    ("synth-mupots-root", "AP_root@25", "MRPE z")])
def test_either_side_missing(root_results, drop, gone, kept):
    md = _render(root_results, drop)
    assert f"{gone}: not reproduced yet" in md and f"| {kept} |" in md


def test_report_with_the_h36m_root_protocol(root_results, tmp_path):
    summary = build_report(root_results, tmp_path / "report", params_file=None)
    names = {f.name for f in summary.figures}
    assert {"per_action_synth-h36m-root", "depth_vs_distance_synth-h36m-root",
            "depth_vs_distance_synth-mupots-root"} <= names
    assert "per_action_synth-mupots-root" not in names  # AP headline: no per-action MRPE figure
    board = next(b for b in summary.boards if b.protocol.name == "synth-h36m-root")
    assert {"mrpe", "mrpe_x", "mrpe_y", "mrpe_z"} <= set(board.metric_names)
    assert board.rows[0].method == "rootnet-h36m" and board.rows[0].paper is not None
    table = (tmp_path / "report" / "tables" / "moon2019_rootnet.md").read_text()
    assert "120.0" in table and "31.0" in table


def test_an_ap_row_averaged_over_seeds_keeps_an_interval_and_its_verdict(root_results, results_dir, tmp_path):
    """AP_root has no per-sequence errors to pair, so a seed-averaged row's interval comes from
    its seeds' own intervals and their spread (``seed_mean_interval``), and its neighbour
    verdict is the unpaired one on the two intervals, as for a single run; the paper table
    shows that mean with that interval, not the first seed's."""
    from poseboard.report.model import headline_ci, seed_mean_interval

    results = tmp_path / "results"
    shutil.copytree(root_results, results)
    data = results_dir.parent / "data"
    for train, noise in [(0, 11), (1, 12), (2, 13)]:
        where = results if train == 0 else results / f"seed-{train}"
        _score_noisy_roots(data, where, "rootnet", "synth-mupots-root", 80.0 + 10 * train, noise, train=train)
    _score_noisy_roots(data, results, "rootnet-k-only", "synth-mupots-root", 600.0, 14)
    boards = latest_boards(build_boards(read_results(results)))
    board = boards["synth-mupots-root"]
    rootnet = next(r for r in board.rows if r.method == "rootnet")
    assert rootnet.averaged and len(rootnet.replicates) == 3
    assert rootnet.ci95 == seed_mean_interval(rootnet.seed_values, [headline_ci(r) for r in rootnet.replicates])
    assert rootnet.ci95[0] < rootnet.value < rootnet.ci95[1]
    below = board.rows[board.rows.index(rootnet) + 1]
    assert below.value < rootnet.ci95[0]  # far below the mean's interval: decided, unpaired
    assert rootnet.differs_from_next and rootnet.vs_next_test == "intervals"
    ap = next(ln for ln in render_table(MOON, boards).markdown.splitlines()
              if "(`rootnet`)" in ln and "| AP_root@25 |" in ln)
    assert f"| {rootnet.value:.1f} [{rootnet.ci95[0]:.1f}, {rootnet.ci95[1]:.1f}] |" in ap
