"""`poseboard submit`: a result from outside with its method card, the same bad-input checks
as `evaluate`, and a "submitted" row on the leaderboard (issue 21, item 8)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from poseboard.cli import app
from poseboard.datasets.storage import open_dataset
from poseboard.datasets.synthetic.generator import SynthConfig, generate_dataset
from poseboard.protocols.predictions import PosePredictions, save_pose_predictions
from poseboard.protocols.results import read_result
from poseboard.protocols.submission import MAX_CARD_BYTES, file_sha256

runner = CliRunner()
CARD = {"title": "Better triangulation", "paper": "Doe et al., arXiv:2601.00001 (2026)",
        "code_url": "https://github.com/doe/better-triangulation",
        "trained_on": "synth-h36m train split, default profile"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    config = SynthConfig.preset("smoke").with_split_sizes("test", samples=10, stride=16)
    generate_dataset("synth-h36m", config, out, seed=1, splits=("test",))
    return out


@pytest.fixture
def preds(data, tmp_path):
    store = open_dataset(data / "synth-h36m" / "test")
    ids = np.array([store.meta(i).sample_id for i in range(len(store))])
    noise = np.random.default_rng(0).normal(scale=10.0, size=store.joints_3d.shape)
    path = tmp_path / "preds.npz"
    save_pose_predictions(path, PosePredictions(ids, store.joints_3d + noise))
    return path


def _card(tmp_path, **changes) -> str:
    card = {**CARD, **changes}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in card.items() if v is not None}))
    return str(path)


def _submit(preds, data, results, card, method="better-tri", *extra):
    return runner.invoke(app, ["submit", str(preds), "--protocol", "synth-h36m-relative", "--method", method,
                               "--card", card, "--data-dir", str(data), "--results", str(results), *extra])


def test_submit_writes_one_self_contained_result_and_the_leaderboard_badges_it(data, preds, tmp_path):
    results = tmp_path / "results"
    out = _submit(preds, data, results, _card(tmp_path))
    assert out.exit_code == 0, out.output
    assert "(submitted)" in out.output
    record = read_result(results / "better-tri" / "synth-h36m-relative@3.json")
    assert record.submission is not None
    assert record.submission.card.title == CARD["title"]
    assert record.submission.predictions_file == "preds.npz"
    assert record.submission.predictions_sha256 == file_sha256(preds)
    assert str(tmp_path) not in (results / "better-tri" / "synth-h36m-relative@3.json").read_text()

    from poseboard.report.build import build_report

    build_report(results, tmp_path / "report", params_file=None)
    page = (tmp_path / "report" / "index.html").read_text()
    assert '<span class="badge submitted">submitted</span>' in page
    assert CARD["title"] in page and 'href="https://github.com/doe/better-triangulation"' in page


def test_pipeline_result_files_keep_their_bytes_without_a_submission(data, preds, tmp_path):
    """`submission` is left out of files that have none, so committed results do not change."""
    out = runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative", "--method", "plain",
                              "--data-dir", str(data), "--results", str(tmp_path / "r")])
    assert out.exit_code == 0, out.output
    assert '"submission"' not in (tmp_path / "r" / "plain" / "synth-h36m-relative@3.json").read_text()


BAD_CARDS = {
    "missing title": (dict(title=None), "title: required key is missing"),
    "unknown key": (dict(licence="MIT"), "licence: unknown key"),
    "javascript link": (dict(code_url="javascript:alert(1)"), "code_url.*http:// or https://"),
    "control character": (dict(paper="Doe\x1b[31m et al."), "paper.*control character"),
    "empty trained_on": (dict(trained_on=""), "trained_on"),
    "title too long": (dict(title="x" * 500), "title"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_bad_cards_are_refused_naming_the_field_and_nothing_is_written(data, preds, tmp_path, case):
    changes, message = BAD_CARDS[case]
    results = tmp_path / "results"
    out = _submit(preds, data, results, _card(tmp_path, **changes))
    assert out.exit_code == 2
    assert "card.yaml" in out.output
    import re

    assert re.search(message, out.output), out.output
    assert not results.exists()


@pytest.mark.parametrize("content, message", [
    (b"title: [unclosed", "not valid YAML"),
    (b"- a list\n- not a mapping\n", "is a YAML mapping"),
    (b"title: \xff\xfe bad", "not UTF-8"),
    (b"!!python/object/apply:os.system ['echo hacked']", "not valid YAML"),
    (b"x" * (MAX_CARD_BYTES + 1), "at most"),
])
def test_unreadable_cards(data, preds, tmp_path, content, message):
    card = tmp_path / "card.yaml"
    card.write_bytes(content)
    results = tmp_path / "results"
    out = _submit(preds, data, results, str(card))
    assert out.exit_code == 2 and message in out.output and str(card) in out.output
    assert not results.exists()


@pytest.mark.parametrize("method, message", [
    ("../../escaped", "not a valid name"),
    ("algebraic", "is a registered method"),
    ("<img src=x onerror=alert(1)>", "not a valid name"),
])
def test_submit_names(data, preds, tmp_path, method, message):
    results = tmp_path / "results"
    out = _submit(preds, data, results, _card(tmp_path), method)
    assert out.exit_code == 2 and message in out.output
    assert not results.exists() and not (tmp_path.parent / "escaped").exists()


def test_submit_checks_predictions_like_evaluate(data, preds, tmp_path):
    """Metres are caught, and a submission never replaces a result the pipeline made."""
    metres = tmp_path / "metres.npz"
    p = np.load(preds)
    save_pose_predictions(metres, PosePredictions(p["sample_ids"], p["joints_3d"] / 1000.0))
    results = tmp_path / "results"
    out = _submit(metres, data, results, _card(tmp_path))
    assert out.exit_code == 2 and "metres" in out.output and not results.exists()
    # a pipeline-made (evaluate) result under the same name is not overwritten
    assert runner.invoke(app, ["evaluate", "-p", str(preds), "--protocol", "synth-h36m-relative", "--method",
                               "mine", "--data-dir", str(data), "--results", str(results)]).exit_code == 0
    before = (results / "mine" / "synth-h36m-relative@3.json").read_bytes()
    out = _submit(preds, data, results, _card(tmp_path), "mine")
    assert out.exit_code == 2 and "already exists" in out.output
    assert (results / "mine" / "synth-h36m-relative@3.json").read_bytes() == before
