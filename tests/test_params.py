"""params.yaml: the repository's file validates; typos and wrong types stop with the key named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from poseboard.params import ParamsError, check_params, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _error(data: dict) -> str:
    with pytest.raises(ParamsError) as info:
        parse_params(data)
    return str(info.value)


def test_repository_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.profile in {"smoke", "default", "paper"}
    assert {"smoke", "default", "paper"} <= set(params.profiles)
    assert check_params(params, deep=False) == []


def test_repository_params_deep_check():
    """Every method block validates against its config model; every evaluation fits its protocol."""
    params = load_params(ROOT / "params.yaml")
    assert check_params(params, deep=True) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["profiles"]["smoke"]["data"].update(presett="smoke"),
         "profiles.smoke.data.presett: unknown key (did you mean 'preset'?)"),
        (lambda d: d["profiles"]["smoke"]["data"].update(crop_size="big"), "profiles.smoke.data.crop_size"),
        (lambda d: d.update(sead=1), "sead: unknown key (did you mean 'seed'?)"),
        (lambda d: d.update(seed=-1), "seed: Input should be greater than or equal to 0"),
        (lambda d: d.update(profile="smok"), "(did you mean 'smoke'?)"),
        (lambda d: d["report"].update(significance=2), "report.significance"),
        (lambda d: d.pop("seed"), "seed: required key is missing"),
        (lambda d: d["profiles"]["smoke"]["data"].update(preset="huge"), "profiles.smoke.data.preset"),
    ],
)
def test_typos_and_types_name_the_key(data, mutate, expected):
    bad = copy.deepcopy(data)
    mutate(bad)
    assert expected in _error(bad)


def test_method_and_evaluation_consistency(data):
    d = copy.deepcopy(data)
    d["methods"] = {"mine": {"method": "mine", "init": "backbone", "dataset": "synth-h36m",
                             "smoke": {}, "default": {}, "paper": {}}}
    d["evaluations"] = {"mine-synth-h36m-relative": {"method": "mien", "protocol": "synth-h36m-relative",
                                                     "version": 2, "dataset": "synth-h36m"}}
    assert "evaluations.mine-synth-h36m-relative.method: 'mien' has no block under `methods` (did you mean 'mine'?)" \
        in _error(d)
    d["evaluations"] = {"wrong-key": {"method": "mine", "protocol": "synth-h36m-relative", "version": 2,
                                       "dataset": "synth-h36m"}}
    assert "the key must be '<method>-<protocol>'" in _error(d)
    d["evaluations"] = {}
    del d["methods"]["mine"][d["profile"]]
    assert "has no block for the active profile" in _error(d)
    d["methods"]["mine"][d["profile"]] = {}
    d["methods"]["mine"]["init"] = "algebraik"
    assert "methods.mine.init" in _error(d)
    d["methods"]["mine"]["init"] = "mine"
    assert "cycle" in _error(d)
    d["methods"]["mine"]["init"] = "backbone"
    d["methods"]["mine"]["smokey"] = {}
    assert "methods.mine.smokey: not a profile" in _error(d)


def test_registry_cross_checks(data):
    d = copy.deepcopy(data)
    d["methods"]["nosuchmethod"] = {"method": "nosuchmethod", "init": "backbone", "dataset": "synth-h36m",
                                    "smoke": {}, "default": {}, "paper": {}}
    d["evaluations"]["nosuchmethod-synth-h36m-relative"] = {"method": "nosuchmethod",
                                                            "protocol": "synth-h36m-relative", "version": 9,
                                                            "dataset": "synth-h36m"}
    problems = check_params(parse_params(d), deep=False)
    assert any("methods.nosuchmethod.method: 'nosuchmethod' is not a registered method" in p for p in problems)
    assert any("'synth-h36m-relative@9' does not exist" in p for p in problems)


def test_dvc_yaml_reads_only_declared_groups():
    """Every params key dvc.yaml lists exists in params.yaml (for the active profile)."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    profile = raw["profile"]
    for name, stage in dvc["stages"].items():
        body = stage.get("do", stage)
        keys = {"key": None}
        if isinstance(stage.get("foreach"), list):  # a literal list (generate@<dataset>)
            keys = {item: item for item in stage["foreach"]}
        elif "foreach" in stage:
            group = stage["foreach"].strip("${}")
            keys = dict(raw[group])
        for key, item in keys.items():
            for p in body.get("params", []):
                path = p.replace("${profile}", profile)
                if key is not None:
                    path = path.replace("${key}", key)
                    if isinstance(item, dict):
                        for k, v in item.items():
                            path = path.replace("${item." + k + "}", str(v))
                node = raw
                for part in path.split("."):
                    assert isinstance(node, dict) and part in node, f"stage {name}: params key {path} missing"
                    node = node[part]


def test_scores_name_an_evaluation_with_the_same_inputs(data):
    d = copy.deepcopy(data)
    d["scores"] = {"ransac-synth-h36m-absolute": {"method": "ransac", "protocol": "synth-h36m-absolute",
                                                  "version": 2, "dataset": "synth-h36m",
                                                  "predictions": "synth-h36m-relative@7"}}
    assert "scores.ransac-synth-h36m-absolute.predictions: no evaluation of 'ransac' under " \
        "'synth-h36m-relative@7'" in _error(d)
    d["scores"] = {"ransac-absolute": {"method": "ransac", "protocol": "synth-h36m-absolute", "version": 2,
                                       "dataset": "synth-h36m", "predictions": "synth-h36m-relative@3"}}
    assert "scores.ransac-absolute: the key must be '<method>-<protocol>'" in _error(d)
    d["scores"] = {"ransac-synth-h36m-relative": {"method": "ransac", "protocol": "synth-h36m-relative",
                                                  "version": 2, "dataset": "synth-h36m",
                                                  "predictions": "synth-h36m-relative@3"}}
    assert "also under `evaluations`" in _error(d)
    # a protocol whose inputs differ (perturbed extrinsics, every 4th frame) is refused by the check
    d["scores"] = {"ransac-synth-h36m-calibration-1": {"method": "ransac", "protocol": "synth-h36m-calibration-1",
                                                       "version": 3, "dataset": "synth-h36m",
                                                       "predictions": "synth-h36m-relative@3"}}
    d["evaluations"].pop("ransac-synth-h36m-calibration-1", None)
    problems = check_params(parse_params(d), deep=False)
    assert any("scores.ransac-synth-h36m-calibration-1: synth-h36m-calibration-1@3 cannot be scored from the "
               "predictions of synth-h36m-relative@3" in p and "calibration_noise" in p for p in problems)


def test_an_evaluation_declares_the_dataset_its_protocol_reads(data):
    """The stage depends on data/<dataset> alone: a wrong or missing `dataset` is refused by
    the check (and by the stage's command), naming the key and the right value."""
    d = copy.deepcopy(data)
    d["evaluations"]["ransac-synth-h36m-relative"]["dataset"] = "synth-mupots"
    problems = check_params(parse_params(d), deep=False)
    assert any("evaluations.ransac-synth-h36m-relative.dataset: protocol synth-h36m-relative@3 reads dataset "
               "'synth-h36m', but the stage declares 'synth-mupots'" in p and "set it to 'synth-h36m'" in p
               for p in problems)
    del d["evaluations"]["ransac-synth-h36m-relative"]["dataset"]
    assert "evaluations.ransac-synth-h36m-relative.dataset: required key is missing" in _error(d)


def test_declared_dataset_check_maps_real_datasets_to_their_stand_ins():
    from poseboard.datasets.sources import check_declared_dataset, stage_dataset
    from poseboard.errors import InputError
    from poseboard.protocols.registry import get_protocol

    assert stage_dataset("human36m") == "synth-h36m" and stage_dataset("synth-mupots") == "synth-mupots"
    check_declared_dataset(get_protocol("human36m-relative@1"), "synth-h36m")
    check_declared_dataset(get_protocol("synth-panoptic-sweep@2"), None)  # nothing declared
    with pytest.raises(InputError, match=r"reads dataset 'synth-panoptic', but the stage declares 'synth-h36m'"):
        check_declared_dataset(get_protocol("synth-panoptic-sweep@2"), "synth-h36m")


@pytest.mark.parametrize("bad", ["../../escaped", "/etc", "a/b", "<img src=x onerror=alert(1)>", "Mine", "tab\there",
                                 "", "-lead", "x" * 65])
def test_method_and_profile_keys_that_would_become_paths_are_refused(data, bad):
    """Issue 21: a `methods` or `profiles` key becomes checkpoints/<name>, results/<name>/ and an
    HTML id, so it must follow the one name rule (poseboard.names.NAME_RULE)."""
    d = copy.deepcopy(data)
    d["methods"][bad] = {"method": "ransac", "init": "backbone", "dataset": "synth-h36m",
                         **{p: {} for p in d["profiles"]}}
    message = _error(d)
    assert f"methods.{bad!r}: not a valid name" in message and "a-z, 0-9" in message
    d = copy.deepcopy(data)
    d["profiles"][bad] = d["profiles"][d["profile"]]
    assert f"profiles.{bad!r}: not a valid name" in _error(d)
