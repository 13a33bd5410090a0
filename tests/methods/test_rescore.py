"""Scoring one protocol from another's predictions (``score@`` stages): the result is the one
running the method again gives, and protocols whose inputs differ are refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import method_fixtures as F

from poseboard.errors import InputError, ResultFileError
from poseboard.harness.rescore import rescore
from poseboard.harness.run import run_protocol
from poseboard.pipeline import app as pipeline_app
from poseboard.protocols.registry import get_protocol
from poseboard.protocols.rescore import input_differences, rescored_from
from poseboard.protocols.results import read_result


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    return F.checkpoints_copy(tmp_path_factory.mktemp("checkpoints"))


def test_input_differences_name_what_a_method_would_see_differently():
    P = get_protocol
    assert input_differences(P("synth-h36m-relative"), P("synth-h36m-absolute")) == []
    assert input_differences(P("synth-mupots-root"), P("synth-mupots-root-ap10")) == []
    diffs = input_differences(P("synth-h36m-relative"), P("synth-h36m-calibration-1"))
    assert {d.split(":")[0] for d in diffs} == {"frame_stride", "calibration_noise"}
    assert [d.split(":")[0] for d in input_differences(P("synth-mupots-root"), P("synth-mupots-root-detected"))] \
        == ["person_boxes"]
    assert "cameras" in " ".join(input_differences(P("synth-h36m-relative"), P("synth-h36m-single-view")))


def test_a_rescored_result_is_the_result_of_running_the_method_again(checkpoints, tmp_path):
    run_protocol("algebraic", "synth-h36m-relative", data_dir=F.data_dir(), checkpoints=checkpoints,
                 results_dir=tmp_path / "scored")
    _, direct = run_protocol("algebraic", "synth-h36m-absolute", data_dir=F.data_dir(), checkpoints=checkpoints,
                             results_dir=tmp_path / "run")
    cli = CliRunner().invoke(pipeline_app, [
        "score", "algebraic", "--protocol", "synth-h36m-absolute@3", "--predictions", "synth-h36m-relative@3",
        "--results", str(tmp_path / "scored"), "--data-dir", str(F.data_dir())])
    assert cli.exit_code == 0, cli.output
    path = tmp_path / "scored" / "algebraic" / "synth-h36m-absolute@3.json"
    scored, again = json.loads(path.read_text()), json.loads(direct.read_text())
    assert scored.pop("notes") == [*again.pop("notes"), "scored from the predictions of synth-h36m-relative@3 "
                                   "(same frames, cameras and inputs)"]
    assert scored == again  # metrics, intervals, method record, seeds, sample hash: all the same
    result = read_result(path)
    assert rescored_from(result) == "synth-h36m-relative@3" and rescored_from(read_result(direct)) is None
    relative = read_result(tmp_path / "scored" / "algebraic" / "synth-h36m-relative@3.json")
    assert result.speed == relative.speed  # the speed of the run that made the predictions


def test_rescoring_refuses_other_inputs_and_missing_predictions(checkpoints, tmp_path):
    _, source = run_protocol("algebraic", "synth-h36m-relative", data_dir=F.data_dir(), checkpoints=checkpoints,
                             results_dir=tmp_path)
    with pytest.raises(InputError, match=r"synth-h36m-calibration-1@3 cannot be scored .*calibration_noise"):
        rescore(source, "synth-h36m-calibration-1", data_dir=F.data_dir(), results_dir=tmp_path)
    assert not (tmp_path / "algebraic" / "synth-h36m-calibration-1@3.json").exists()
    with pytest.raises(InputError, match=r"reads dataset 'synth-h36m', but the stage declares 'synth-panoptic'"):
        rescore(source, "synth-h36m-absolute", data_dir=F.data_dir(), results_dir=tmp_path,
                declared_dataset="synth-panoptic")
    assert not (tmp_path / "algebraic" / "synth-h36m-absolute@3.json").exists()
    source.with_suffix(".npz").unlink()
    with pytest.raises(ResultFileError, match=r"predictions .* are missing"):
        rescore(source, "synth-h36m-absolute", data_dir=F.data_dir(), results_dir=tmp_path)
