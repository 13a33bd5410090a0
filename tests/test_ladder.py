"""Budget ladders: the rungs' params files (k× the steps of the methods and their init chains,
nothing else), ``--voxels``, the rungs' commands and folders, and the paired summary on result
files whose per-sequence errors are known. Nothing is trained."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from poseboard.errors import InputError
from poseboard.params import load_params
from poseboard.protocols.registry import get_protocol
from poseboard.studies.commands import ladder
from poseboard.studies.ladder import format_ladder, ladder_params, ladder_steps, ladder_summary

sys.path.insert(0, str(Path(__file__).parent / "report"))  # the result writer (pytest --import-mode=importlib)
from result_writer import write_sequence_result

REPO = Path(__file__).resolve().parents[1]
PROTOCOL = "synth-h36m-relative"


@pytest.fixture
def params_file(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text())
    return path


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _steps(data: dict, key: str) -> int | None:
    return ((data["methods"][key].get(data["profile"]) or {}).get("train") or {}).get("steps")


def _resolved(params_file: Path, key: str) -> dict:
    """The config ``train@<key>`` builds (preset and block merged): what a rung scales."""
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import get_method

    params = load_params(params_file)
    model = get_method(params.methods[key].method).config_model
    return build_config(model, params.profile, params_file, f"methods.{key}.{params.profile}").model_dump()


def test_a_rung_scales_the_methods_and_their_init_chain_only(params_file, tmp_path):
    board = _yaml(params_file)
    profile = board["profile"]
    # the preset sets volumetric's steps when its block does not: the rung scales the resolved ones
    board["methods"]["volumetric"][profile].pop("train", None)
    params_file.write_text(yaml.safe_dump(board, sort_keys=False))
    preset_steps = _resolved(params_file, "volumetric")["train"]["steps"]
    path = ladder_params(params_file, ["volumetric"], 2, tmp_path / "ladder")
    assert path == tmp_path / "ladder" / "params-2x.yaml"
    load_params(path)  # valid
    rung = _yaml(path)
    assert _steps(rung, "volumetric") == 2 * preset_steps
    assert _steps(rung, "algebraic") == 2 * _steps(board, "algebraic")  # volumetric starts from it
    # nothing else: the other methods (volumetric-norm starts from algebraic too), the backbone's
    # pre-training, the other profiles, the evaluations
    expected = copy.deepcopy(board)
    expected["methods"]["volumetric"][profile]["train"] = {"steps": 2 * preset_steps}
    expected["methods"]["algebraic"][profile]["train"]["steps"] *= 2
    assert rung == expected
    assert load_params(path).model_dump() == load_params(_write(tmp_path / "expected.yaml", expected)).model_dump()
    # a factor that is not a whole multiple rounds; 1 rewrites the board's steps unchanged
    assert _steps(_yaml(ladder_params(params_file, ["algebraic"], 1.5, tmp_path)), "algebraic") == \
        round(1.5 * _steps(board, "algebraic"))
    assert _yaml(ladder_params(params_file, ["algebraic"], 1, tmp_path))["methods"] == board["methods"]
    for bad in (0, -2, float("nan")):
        with pytest.raises(InputError, match="positive number"):
            ladder_params(params_file, ["algebraic"], bad, tmp_path)
    with pytest.raises(InputError, match="volumetrc not under `methods`"):
        ladder_params(params_file, ["volumetrc"], 2, tmp_path)


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_voxels_change_the_volumes_only(params_file, tmp_path):
    board = _yaml(params_file)
    profile = board["profile"]
    rung = _yaml(ladder_params(params_file, ["volumetric", "algebraic"], 2, tmp_path, voxels=48))
    assert rung["methods"]["volumetric"][profile]["volume_size"] == 48
    assert "volume_size" not in rung["methods"]["algebraic"][profile]
    assert "volume_size" not in rung["methods"]["volumetric-norm"][profile]  # not on the ladder
    with pytest.raises(InputError, match="--voxels 48: none of algebraic has a volume"):
        ladder_params(params_file, ["algebraic"], 2, tmp_path / "refused", voxels=48)
    with pytest.raises(InputError, match="volume_size"):  # the config's own bound (>= 2)
        ladder_params(params_file, ["volumetric"], 2, tmp_path / "bad", voxels=1)
    assert not (tmp_path / "bad" / "params-2x.yaml").exists()


def test_a_rungs_commands_train_its_params_with_the_pipelines_seed(params_file, tmp_path):
    seed = load_params(params_file).seed
    ck, res = tmp_path / "ck", tmp_path / "ladder"
    rungs = ladder_steps(params_file, ["volumetric", "algebraic"], [4, 1, 2], [PROTOCOL], Path("data"), ck, res)
    assert [r.factor for r in rungs] == [1, 2, 4] and [r.folder for r in rungs] == ["ladder-1x", "ladder-2x",
                                                                                     "ladder-4x"]
    rung = rungs[1]
    assert rung.params_file == res / "params-2x.yaml" and rung.params_file.exists()
    assert {(c.method, c.field, c.board, c.rung) for c in rung.changes} == {
        (key, "train.steps", n, 2 * n) for key in ("algebraic", "volumetric")
        for n in [_resolved(params_file, key)["train"]["steps"]]}
    assert [s.name for s in rung.steps] == [
        "copy the pipeline's backbone", "train@algebraic", "train@volumetric",
        f"predict@algebraic-{PROTOCOL}", f"predict@volumetric-{PROTOCOL}"]
    copy_step = rung.steps[0]
    assert copy_step.argv[-2:] == (str(ck / "backbone"), str(ck / "ladder-2x" / "backbone"))
    for step in rung.steps[1:]:
        argv = list(step.argv)
        assert argv[argv.index("--seed") + 1] == str(seed)
        assert argv[argv.index("--checkpoints") + 1] == str(ck / "ladder-2x")
        if "--config" in argv:
            assert argv[argv.index("--config") + 1] == str(res / "params-2x.yaml")
        if "--results" in argv:
            assert argv[argv.index("--results") + 1] == str(res / "ladder-2x")
            assert argv[argv.index("--params") + 1] == str(res / "params-2x.yaml")
    train = next(s for s in rung.steps if s.name == "train@volumetric")
    assert train.argv[train.argv.index("--init") + 1] == "algebraic"  # from the rung's algebraic
    assert rung.steps[-1].done_when == res / "ladder-2x" / "volumetric" / f"{PROTOCOL}@3.json"
    # another seed goes inside the rung
    (rung,) = ladder_steps(params_file, ["volumetric", "algebraic"], [2], [PROTOCOL], Path("data"), ck, res,
                           seeds=[seed, 5])
    assert rung.steps[5].argv[-1] == str(ck / "ladder-2x" / "seed-5" / "backbone")
    assert rung.steps[-1].done_when == res / "ladder-2x" / "seed-5" / "volumetric" / f"{PROTOCOL}@3.json"


def test_a_ladder_refuses_what_would_mix_runs(params_file, tmp_path, monkeypatch):
    ck, res = tmp_path / "ck", tmp_path / "ladder"
    pair = ["volumetric", "algebraic"]
    with pytest.raises(InputError, match="no evaluation of algebraic under synth-h36m-single-view"):
        ladder_steps(params_file, pair, [2], ["synth-h36m-single-view"], checkpoints=ck, results=res)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="inside the pipeline's results/"):
        ladder_steps(params_file, pair, [2], [PROTOCOL], checkpoints=ck, results=Path("results"))
    # a rung begun under one training is not resumed under another
    ladder_steps(params_file, pair, [2], [PROTOCOL], checkpoints=ck, results=res)
    (ck / "ladder-2x" / "algebraic").mkdir(parents=True)
    ladder_steps(params_file, pair, [2], [PROTOCOL], checkpoints=ck, results=res)  # the same: resumes
    with pytest.raises(InputError, match="rung 2x was begun"):
        ladder_steps(params_file, pair, [2], [PROTOCOL], checkpoints=ck, results=res, voxels=48)
    rung = _yaml(res / "params-2x.yaml")
    assert "volume_size" not in rung["methods"]["volumetric"][rung["profile"]]
    # every rung starts from the backbone the others copied
    for where in ("backbone", "ladder-2x/backbone"):
        (ck / where).mkdir(parents=True, exist_ok=True)
        (ck / where / "backbone.pt").write_bytes(b"board")
    ladder_steps(params_file, pair, [2], [PROTOCOL], checkpoints=ck, results=res)
    (ck / "backbone" / "backbone.pt").write_bytes(b"again")
    with pytest.raises(InputError, match="not the pipeline's backbone"):
        ladder_steps(params_file, pair, [2], [PROTOCOL], checkpoints=ck, results=res)


# --------------------------------------------------------------------------- the summary

LABELS = [f"S{s}/seq{q}" for s in (9, 11) for q in range(4)]
STRATA = ["walk", "walk", "sit", "sit", "walk", "walk", "sit", "sit"]


def _rung(results: Path, factor: float, a: np.ndarray, b: np.ndarray, labels=LABELS) -> None:
    protocol = get_protocol(PROTOCOL)
    for method, means in (("volumetric", a), ("algebraic", b)):
        write_sequence_result(results / f"ladder-{factor:g}x", method, protocol, labels, means, 5, STRATA, "test")


def test_the_summary_pairs_each_rung_and_measures_the_change(tmp_path):
    rng = np.random.default_rng(0)
    b1 = 60.0 + rng.normal(0, 8, len(LABELS))
    hard = rng.normal(0, 3, len(LABELS))  # what each sequence adds to the gap at every rung
    gap1 = 6.0 + hard + rng.normal(0, 0.5, len(LABELS))  # volumetric 6 mm behind at 1x
    gap2 = 1.0 + hard + rng.normal(0, 0.5, len(LABELS))  # 1 mm at 2x: the gap closes by about 5
    b2 = b1 - 3.0 + rng.normal(0, 1, len(LABELS))
    _rung(tmp_path, 1, b1 + gap1, b1)
    _rung(tmp_path, 2, b2 + gap2, b2)
    s = ladder_summary(tmp_path, ("volumetric", "algebraic"), [2, 1], PROTOCOL, n_resamples=2000)
    assert list(s["factor"]) == [1, 2] and s.attrs["metric"] == "mpjpe" and s.attrs["unit"] == "mm"
    # equal frames per sequence: the headline is the mean of the sequences' means
    assert s["a"].tolist() == pytest.approx([(b1 + gap1).mean(), (b2 + gap2).mean()])
    assert s["difference"].tolist() == pytest.approx([gap1.mean(), gap2.mean()])
    assert (s["ci_low"] < s["difference"]).all() and (s["difference"] < s["ci_high"]).all()
    assert s["p_value"].iloc[0] < 0.05 and (s["seeds"] == 1).all() and (s["sequences"] == len(LABELS)).all()
    base, up = s.iloc[0], s.iloc[1]
    assert base["change"] == 0 and np.isnan(base["change_low"])
    assert up["change"] == pytest.approx(gap2.mean() - gap1.mean())
    assert up["change_low"] < up["change"] < up["change_high"] < 0 and up["change_p"] < 0.05
    # the change's interval pairs the four results over the same sequences: what a sequence adds
    # to the gap at both rungs cancels, so it is far narrower than the rungs' intervals combined
    # as if independent
    width = np.hypot(base["ci_high"] - base["ci_low"], up["ci_high"] - up["ci_low"])
    assert up["change_high"] - up["change_low"] < width / 2
    text = format_ladder(s)
    assert f"{PROTOCOL}@3, mpjpe (mm): volumetric − algebraic" in text and "| 2× |" in text
    assert f"{up['change']:+.2f} [" in text and "0 (base)" in text


def test_the_summary_refuses_rungs_on_other_frames(tmp_path):
    means = np.linspace(50, 60, len(LABELS))
    _rung(tmp_path, 1, means, means)
    _rung(tmp_path, 2, means, means, labels=[label.replace("seq", "take") for label in LABELS])
    with pytest.raises(InputError, match="different sample sets"):
        ladder_summary(tmp_path, ("volumetric", "algebraic"), [1, 2], PROTOCOL, n_resamples=200)
    with pytest.raises(InputError, match="no result of method 'volumetric'"):
        ladder_summary(tmp_path, ("volumetric", "algebraic"), [1, 4], PROTOCOL, n_resamples=200)


def test_the_command_plans_resumes_and_summarises(params_file, tmp_path, monkeypatch):
    """A dry run writes the rungs' params files and prints the commands; with every step's output
    present (nothing to train) a run skips them all and prints the summary."""
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("ladder")(ladder)
    monkeypatch.chdir(tmp_path)
    ck, res = tmp_path / "ck", tmp_path / "ladder"
    args = ["ladder", "volumetric", "algebraic", "--factor", "1", "--factor", "2", "--protocol", PROTOCOL,
            "--params", str(params_file), "--checkpoints", str(ck), "--results", str(res), "--resamples", "200"]
    runner = CliRunner()
    out = runner.invoke(app, [*args, "--dry-run"])
    assert out.exit_code == 0, out.output
    steps = _resolved(params_file, "algebraic")["train"]["steps"]
    assert "rung 2×: " in out.output and f"algebraic train.steps {steps} → {2 * steps}" in out.output
    assert f"--config {res / 'params-2x.yaml'}" in out.output and "pre-training is not scaled" in out.output
    out = runner.invoke(app, [*args[:-6], "--results", str(res), "--dry-run"])  # no --checkpoints: the default
    assert out.exit_code == 0 and "checkpoints/ladder-1x" in out.output
    out = runner.invoke(app, [*args[:-4], "--results", str(tmp_path / "voxels"), "--dry-run", "--voxels", "48"])
    voxels = _resolved(params_file, "volumetric")["volume_size"]
    assert out.exit_code == 0 and f"volumetric volume_size {voxels} → 48" in out.output
    out = runner.invoke(app, [*args[:7], "--params", str(params_file), "--dry-run"])
    assert out.exit_code != 0 and "give --protocol" in str(out.exception)
    out = runner.invoke(app, [*args, "--voxels", "48", "--dry-run", "--precision", "fp16"])
    assert out.exit_code != 0 and "--precision" in str(out.exception)
    for factor in (1, 2):
        for key in ("backbone/backbone.pt", "algebraic/weights.pt", "volumetric/weights.pt"):
            (ck / f"ladder-{factor}x" / key).parent.mkdir(parents=True, exist_ok=True)
            (ck / f"ladder-{factor}x" / key).write_bytes(b"x")
        means = np.linspace(50, 60, len(LABELS))
        _rung(res, factor, means + 4.0 / factor + np.linspace(0, 1, len(LABELS)), means)
    out = runner.invoke(app, [*args, "--device", "cpu"])
    assert out.exit_code == 0, out.output
    assert "train@volumetric: done" in out.output and "| 1× | — / — | 1 |" in out.output
    assert "| 2× |" in out.output and "0 (base)" in out.output
