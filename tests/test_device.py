"""One ``--device`` for every command: spellings and their checks, moving batches, how a
result names the hardware, the commands refusing a device before writing anything, checkpoints
across devices, CPU fp32 results unchanged by the options, bf16, loaders and NaN losses.

The device-aware tests run on the ``device`` fixture (the CPU, or ``POSEBOARD_TEST_DEVICE``);
a GPU machine is simulated where a test needs one (``torch.cuda`` patched), and moving tensors
is checked on the ``meta`` device, so every line of :mod:`poseboard.device` runs here.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "methods"))
import method_fixtures as F

from poseboard.cli import app
from poseboard.device import DEVICE_ENV, check_device_spelling, describe_device, resolve_device, to_device
from poseboard.errors import InputError
from poseboard.harness.commands import resolve_run
from poseboard.methods.registry import get_method
from poseboard.methods.train.loop import TrainConfig, make_loader, train_loop
from poseboard.params import ParamsError, load_params, profile_run_options

ROOT = Path(__file__).resolve().parents[1]
HAS_CUDA = torch.cuda.is_available()
#: Spellings no machine of this test run can compute on: typos, a GPU past the last, and plain
#: ``cuda`` where there is none.
BAD_DEVICES = ["gpu", "cuda0", f"cuda:{torch.cuda.device_count() + 7}", *([] if HAS_CUDA else ["cuda"])]

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_device_env(monkeypatch):
    """Each test starts without ``POSEBOARD_DEVICE`` (a test sets it where it means to)."""
    monkeypatch.delenv(DEVICE_ENV, raising=False)


@pytest.fixture
def fake_gpus(monkeypatch):
    """Make torch report ``n`` CUDA devices (no kernel runs: only resolution is tested)."""

    def install(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)

    return install


# ---------------------------------------------------------------------------- spellings
def test_resolve_device_spellings():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda", 0) if HAS_CUDA else torch.device("cpu"))
    assert resolve_device(None) == resolve_device("auto")  # no option, no POSEBOARD_DEVICE
    for spec in ("gpu", "cuda0", "cuda:", "cuda:-1", "cpu:0", ""):
        with pytest.raises(InputError, match=r"--device: .* is not a device; use auto, cpu, cuda or cuda:N "
                                             r"\(available here: cpu"):
            resolve_device(spec)
    assert check_device_spelling("cuda:3") == "cuda:3"  # a spelling, whether or not this machine has it


@pytest.mark.skipif(HAS_CUDA, reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:7"])
def test_cuda_is_refused_without_cuda(spec):
    with pytest.raises(InputError, match=rf"--device: '{spec}' asks for CUDA, but this machine has no usable CUDA "
                                         r"device .*available: cpu$"):
        resolve_device(spec)


def test_cuda_on_a_one_gpu_machine(fake_gpus, monkeypatch):
    fake_gpus(1)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(InputError, match=r"--device: 'cuda:7' is past the last GPU \(this machine has 1: "
                                         r"cpu, cuda:0\)"):
        resolve_device("cuda:7")


def test_plain_cuda_under_torchrun_is_the_local_rank(fake_gpus, monkeypatch):
    fake_gpus(4)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("cuda") == torch.device("cuda", 3)
    assert resolve_device("auto") == torch.device("cuda", 3)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)  # an index given is kept
    monkeypatch.setenv("LOCAL_RANK", "4")
    with pytest.raises(InputError, match="past the last GPU"):
        resolve_device("cuda")


def test_the_environment_variable_is_named_in_its_errors(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "bogus")
    with pytest.raises(InputError, match=r"--device \(from POSEBOARD_DEVICE\): 'bogus' is not a device"):
        resolve_device(None)
    assert resolve_device("cpu") == torch.device("cpu")  # the option comes first


# ---------------------------------------------------------------------------- resolution order
def _params_with(tmp_path: Path, profile: str = "default", **keys: str) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["profiles"][profile].update(keys)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_resolution_order_option_environment_profile_auto(tmp_path, monkeypatch, fake_gpus):
    params = _params_with(tmp_path, device="cpu", precision="bf16")
    assert resolve_run(params_file=params) == (torch.device("cpu"), "bf16")
    assert resolve_run(precision="fp32", params_file=params) == (torch.device("cpu"), "fp32")
    assert resolve_run() == (resolve_device("auto"), "fp32")  # no file: auto, fp32
    fake_gpus(2)  # the profile's cpu beats auto on a GPU machine, the environment beats the profile
    assert resolve_run(params_file=params)[0] == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "cuda:1")
    assert resolve_run(params_file=params)[0] == torch.device("cuda", 1)
    assert resolve_run("cpu", params_file=params)[0] == torch.device("cpu")  # the option beats both
    # the profile is --profile when the command has one, else the file's active profile
    smoke = _params_with(tmp_path, profile="smoke", device="cuda:0")
    monkeypatch.delenv(DEVICE_ENV)
    assert resolve_run(params_file=smoke)[0] == torch.device("cpu")  # active: default, whose device is cpu
    assert resolve_run(params_file=smoke, profile="smoke")[0] == torch.device("cuda", 0)


def test_precision_is_checked(tmp_path):
    with pytest.raises(InputError, match=r"--precision: 'fp16' is not one of fp32, bf16, auto"):
        resolve_run("cpu", "fp16")
    assert resolve_run("cpu", "BF16")[1] == "bf16"


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_hardware_has_it(tmp_path, monkeypatch, native):
    """``auto`` resolves on the device before anything runs: bf16 where it is native, fp32 where a
    bf16 autocast would be emulated (15-25x slower on the backbone); from the option and from a
    profile alike, and the resolved precision is what a command gets."""
    import poseboard.device as device_module

    monkeypatch.setattr(device_module, "native_bf16", lambda device: native)
    expected = "bf16" if native else "fp32"
    assert resolve_run("cpu", "auto") == (torch.device("cpu"), expected)
    assert resolve_run("cpu", " AUTO ")[1] == expected
    params = _params_with(tmp_path, device="cpu", precision="auto")
    assert load_params(params).active.precision == "auto"  # the spelling is kept in the file's model
    assert resolve_run(params_file=params) == (torch.device("cpu"), expected)
    assert resolve_run(precision="fp32", params_file=params)[1] == "fp32"  # the option comes first


def test_native_bf16_reads_the_cpu_flags():
    """The CPU probe against the kernel's own list of the CPU's instruction sets (Linux): AVX-512
    BF16 or AMX tiles mean oneDNN has bf16 kernels; neither, and the autocast is emulated."""
    from poseboard.device import native_bf16

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    flag_line = next((line for line in lines if line.startswith("flags")), None)
    if flag_line is None:  # not Linux, or not x86 (an ARM kernel lists "Features")
        pytest.skip("no x86 flags line in /proc/cpuinfo to read the CPU's instruction sets from")
    flags = set(flag_line.split())
    assert native_bf16("cpu") == bool({"avx512_bf16", "amx_tile"} & flags)
    assert native_bf16(torch.device("cpu")) == native_bf16("cpu")


def test_a_profile_device_is_validated_naming_the_key(tmp_path):
    committed = load_params(ROOT / "params.yaml")
    assert (committed.active.device, committed.active.precision) == ("cpu", "fp32")  # the CPU leaderboard
    assert committed.profiles["gpu"].device == "cuda"
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key in ("device", "precision"):
        del data["profiles"]["default"][key]
    unset = tmp_path / "unset.yaml"
    unset.write_text(yaml.safe_dump(data))
    assert (load_params(unset).active.device, load_params(unset).active.precision) == ("auto", "fp32")  # unset
    ok = load_params(_params_with(tmp_path, device="CUDA:1", precision="bf16"))
    assert (ok.active.device, ok.active.precision) == ("cuda:1", "bf16")  # spelling only, not availability
    with pytest.raises(ParamsError, match=r"profiles\.default\.device: 'gpu' is not a device; use auto, cpu, "
                                          r"cuda or cuda:N"):
        load_params(_params_with(tmp_path, device="gpu"))
    with pytest.raises(ParamsError, match=r"profiles\.smoke\.precision"):
        load_params(_params_with(tmp_path, profile="smoke", precision="fp16"))
    bad = _params_with(tmp_path, device="gpu")
    with pytest.raises(ParamsError, match=rf"{bad}: profiles\.default\.device: 'gpu' is not a device"):
        profile_run_options(bad)
    assert profile_run_options(ROOT / "pyproject.toml") is None  # not a params file
    assert profile_run_options(ROOT / "params.yaml", "no-such-profile") is None


def test_train_precision_sets_the_methods_training_only(tmp_path, monkeypatch):
    """``profiles.<profile>.train_precision`` comes between ``--precision`` and the profile's
    ``precision`` for a method's training only (prediction and the speed suite keep
    ``precision``); unset, training takes ``precision``; a misspelling names its key."""
    import poseboard.device as device_module

    monkeypatch.setattr(device_module, "native_bf16", lambda device: True)
    params = _params_with(tmp_path, device="cpu", precision="fp32", train_precision="auto")
    assert load_params(params).active.train_precision == "auto"
    assert resolve_run(params_file=params, training=True) == (torch.device("cpu"), "bf16")
    assert resolve_run(params_file=params) == (torch.device("cpu"), "fp32")  # predict, speed
    assert resolve_run(precision="fp32", params_file=params, training=True)[1] == "fp32"  # the option first
    data = yaml.safe_load(params.read_text())
    del data["profiles"]["default"]["train_precision"]
    data["profiles"]["default"]["precision"] = "bf16"
    params.write_text(yaml.safe_dump(data))
    assert load_params(params).active.train_precision is None
    assert resolve_run(params_file=params, training=True)[1] == "bf16"  # unset: the profile's precision
    bad = _params_with(tmp_path, train_precision="fp16")
    with pytest.raises(ParamsError, match=r"profiles\.default\.train_precision"):
        load_params(bad)
    with pytest.raises(ParamsError, match=rf"{bad}: profiles\.default\.train_precision: 'fp16' is not one of"):
        profile_run_options(bad)
    committed = load_params(ROOT / "params.yaml")
    # DVC tracks the key (train@<method>'s params), so every profile names it
    assert all(p.train_precision is not None for p in committed.profiles.values())
    assert committed.active.train_precision == "auto"  # the committed board's methods trained under auto (bf16 here)


def test_train_precision_reaches_the_train_command_and_not_predict(tmp_path, monkeypatch):
    """Through the CLI as the DVC stages call it: ``train`` under a profile whose
    ``train_precision`` is bf16 trains in bf16 (its summary line and training record say so),
    and ``predict`` of that checkpoint computes in the profile's fp32."""
    import json

    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["profile"] = "smoke"
    data["profiles"]["smoke"].update(device="cpu", precision="fp32", train_precision="bf16")
    data["methods"]["algebraic"]["smoke"] = {"train": {"steps": 2, "batch_size": 2, "log_every": 1}}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(data))
    ck = F.checkpoints_copy(tmp_path / "checkpoints")
    out = runner.invoke(app, ["train", "algebraic", "--name", "alg", "--profile", "smoke", "--config", str(params),
                              "--config-key", "methods.algebraic.smoke", "--data-dir", str(F.data_dir()),
                              "--checkpoints", str(ck), "--no-val", "-q", "--threads", "1"])
    assert out.exit_code == 0, out.output
    assert "train alg on cpu (bf16)" in out.output
    from poseboard.harness.reuse import RECORD_KEY

    assert json.loads((ck / "alg" / "train_summary.json").read_text())[RECORD_KEY]["precision"] == "bf16"
    out = runner.invoke(app, ["predict", "alg", "--protocol", "synth-h36m-relative", "--data-dir", str(F.data_dir()),
                              "--checkpoints", str(ck), "--results", str(tmp_path / "results"), "--params",
                              str(params), "-q", "--threads", "1"])
    assert out.exit_code == 0, out.output
    run = json.loads((tmp_path / "results" / "alg" / "synth-h36m-relative@3.run.json").read_text())
    assert run["speed"]["device"] == "cpu (1 torch thread)"  # fp32: no ", bf16"
    assert "on cpu (1 torch thread)" in out.output


# ---------------------------------------------------------------------------- moving batches
def test_to_device_moves_tensors_and_leaves_the_rest():
    Box = namedtuple("Box", "x y")
    images, K = torch.ones(2, 3), torch.zeros(3, 3)
    batch = {"images": images, "meta": {"ids": ["a", "b"], "K": K}, "views": [images, np.zeros(2)],
             "pair": (K, "cam0"), "box": Box(1, 2), "source": "gt", "array": np.arange(3)}
    same = to_device(batch, "cpu")
    assert same["images"] is images and same["meta"]["K"] is K and same["pair"][0] is K  # no copy
    moved = to_device(batch, "meta")  # a device this machine always has, to see tensors move
    assert moved["images"].device.type == "meta" and moved["meta"]["K"].device.type == "meta"
    assert moved["views"][0].device.type == "meta" and moved["pair"][0].device.type == "meta"
    assert moved["views"][1] is batch["views"][1] and moved["array"] is batch["array"]
    assert moved["meta"]["ids"] == ["a", "b"] and moved["pair"][1] == "cam0" and moved["source"] == "gt"
    assert moved["box"] is batch["box"]  # records (named tuples) are the harness's, left alone
    assert isinstance(moved["pair"], tuple) and isinstance(moved["views"], list)
    assert batch["images"].device.type == "cpu"  # the input is not modified


def test_to_device_on_the_test_device(device):
    batch = {"x": torch.arange(4.0), "ids": np.arange(4)}
    moved = to_device(batch, device)
    assert moved["x"].device == device and moved["ids"] is batch["ids"]
    assert to_device(moved, device)["x"] is moved["x"]


def test_describe_device_on_the_cpu_reads_as_before():
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            old = f"cpu ({torch.get_num_threads()} torch thread{'s' if torch.get_num_threads() > 1 else ''})"
            assert describe_device(torch.device("cpu")) == old == describe_device("cpu", "fp32")
        torch.set_num_threads(1)
        assert describe_device("cpu", "bf16") == "cpu (1 torch thread, bf16)"
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------- the commands refuse first
def _assert_refused(result, option: str = "--device") -> None:
    assert result.exit_code == 2, result.output
    assert option in result.output and "cpu" in result.output.split("available")[-1], result.output


@pytest.mark.parametrize("spec", BAD_DEVICES)
@pytest.mark.parametrize("command", ["predict", "train", "pretrain"])
def test_a_bad_device_stops_a_command_before_it_writes(tmp_path, command, spec):
    ck, res = tmp_path / "checkpoints", tmp_path / "results"
    args = {"predict": ["predict", "algebraic", "--protocol", "synth-h36m-relative", "--results", str(res)],
            "train": ["train", "algebraic", "--profile", "smoke"],
            "pretrain": ["pretrain", "--profile", "smoke"]}[command]
    out = runner.invoke(app, [*args, "--data-dir", str(F.data_dir()), "--checkpoints", str(ck), "-q",
                              "--device", spec])
    _assert_refused(out)
    assert not ck.exists() and not res.exists()


@pytest.mark.parametrize("command", ["predict", "train", "pretrain"])
def test_a_bad_environment_device_stops_a_command(tmp_path, monkeypatch, command):
    monkeypatch.setenv(DEVICE_ENV, "bogus")
    ck = tmp_path / "checkpoints"
    args = {"predict": ["predict", "algebraic", "--protocol", "synth-h36m-relative", "--results",
                        str(tmp_path / "results")],
            "train": ["train", "algebraic"], "pretrain": ["pretrain"]}[command]
    out = runner.invoke(app, [*args, "--checkpoints", str(ck), "-q"])
    _assert_refused(out, "--device (from POSEBOARD_DEVICE): 'bogus'")
    assert not ck.exists() and not (tmp_path / "results").exists()


def test_a_bad_profile_device_stops_a_command_naming_the_key(tmp_path):
    params = _params_with(tmp_path, profile="smoke", device="gpu")
    ck = tmp_path / "checkpoints"
    # train reads the profile of --profile from --config when it is a params file (the DVC stage)
    out = runner.invoke(app, ["train", "algebraic", "--profile", "smoke", "--config", str(params), "--config-key",
                              "methods.algebraic.smoke", "--checkpoints", str(ck), "-q"])
    assert out.exit_code == 2 and "profiles.smoke.device: 'gpu' is not a device" in out.output, out.output
    out = runner.invoke(app, ["pretrain", "--profile", "smoke", "--config", str(params), "--config-key",
                              "backbone.smoke", "--checkpoints", str(ck), "-q"])
    assert out.exit_code == 2 and "profiles.smoke.device" in out.output, out.output
    assert not ck.exists()
    out = runner.invoke(app, ["predict", "algebraic", "--protocol", "synth-h36m-relative", "--params", str(params),
                              "--checkpoints", str(ck), "-q"])  # the file's active profile: default, unset
    assert "no saved configuration" in out.output and "profiles." not in out.output  # it went on


def test_the_backbone_block_sets_the_pretraining_precision_and_backbone_json_records_it(tmp_path, monkeypatch):
    """``backbone.<profile>.precision`` comes between ``--precision`` and the profile's, for the
    pre-training only, and backbone.json says what it computed in (``auto`` resolved). On the CPU
    by name: the smoke profile's ``auto`` device would take a GPU where there is one."""
    import json

    import poseboard.device as device_module

    monkeypatch.setattr(device_module, "native_bf16", lambda device: True)
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["backbone"]["smoke"] = {"train": {"steps": 2, "batch_size": 2, "log_every": 1, "val_every": 0},
                                 "precision": "auto"}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(data))

    def pretrain(ck: Path, *extra: str) -> dict:
        out = runner.invoke(app, ["pretrain", "--profile", "smoke", "--config", str(params), "--config-key",
                                  "backbone.smoke", "--data-dir", str(F.data_dir()), "--checkpoints", str(ck),
                                  "--no-val", "-q", "--threads", "1", "--device", "cpu", *extra])
        assert out.exit_code == 0, out.output
        return json.loads((ck / "backbone" / "backbone.json").read_text())["info"]

    info = pretrain(tmp_path / "auto")
    assert (info["precision"], info["device"]) == ("bf16", "cpu (1 torch thread, bf16)")
    assert info["config"]["precision"] == "auto"  # the spelling, as the block gives it
    assert pretrain(tmp_path / "option", "--precision", "fp32")["precision"] == "fp32"  # the option first
    data["backbone"]["smoke"]["precision"] = "fp16"
    params.write_text(yaml.safe_dump(data))
    out = runner.invoke(app, ["pretrain", "--profile", "smoke", "--config", str(params), "--config-key",
                              "backbone.smoke", "--data-dir", str(F.data_dir()), "--checkpoints",
                              str(tmp_path / "bad"), "-q"])
    assert out.exit_code != 0 and "precision" in out.output, out.output
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("spec", BAD_DEVICES)
def test_a_replicate_refuses_a_bad_device_before_its_first_step(tmp_path, spec):
    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    out = runner.invoke(app, ["replicate", "--seed", "1", "--params", str(params), "--checkpoints",
                              str(tmp_path / "ck"), "--results", str(tmp_path / "res"), "--device", spec])
    _assert_refused(out)
    assert not (tmp_path / "ck").exists()


def test_a_replicate_passes_the_device_to_its_commands(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    out = runner.invoke(app, ["replicate", "--seed", "1", "--params", str(params), "--dry-run", "--device", "cuda:1",
                              "--precision", "bf16"])  # a dry run checks the spelling only
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if " poseboard.harness.commands " in line]
    assert lines and all(line.endswith("--device cuda:1 --precision bf16") for line in lines)
    assert all("--params" in line for line in lines if "predict@" in line)
    out = runner.invoke(app, ["replicate", "--seed", "1", "--params", str(params), "--dry-run", "--device", "gpu"])
    _assert_refused(out)


# ---------------------------------------------------------------------------- checkpoints, results
def test_a_checkpoint_moves_between_devices(tmp_path, device):
    cls = get_method("algebraic")
    method = cls.load(F.algebraic_dir(), device=device)
    assert method.device == device and next(method.net.parameters()).device == device
    batch = F.eval_batch(4)
    inputs = {k: v for k, v in batch.items() if k not in ("joints_3d", "joints_2d", "visibility", "cameras")}
    with torch.no_grad(), _full_float32():
        there = method.predict(to_device(inputs, device)).joints_3d.cpu()
    method.save(tmp_path / "saved")
    on_cpu = cls.load(tmp_path / "saved", device="cpu")
    assert on_cpu.device == torch.device("cpu") and next(on_cpu.net.parameters()).device.type == "cpu"
    with torch.no_grad():
        here = on_cpu.predict(inputs).joints_3d
    # mm: bit-equal on the CPU; a GPU's float32 kernels round differently (far below a wrong weight's mm)
    torch.testing.assert_close(here, there, rtol=1e-4, atol=5e-2)
    back = cls.load(tmp_path / "saved", device=device)
    with torch.no_grad(), _full_float32():
        torch.testing.assert_close(back.predict(to_device(inputs, device)).joints_3d.cpu(), there)


@contextlib.contextmanager
def _full_float32():
    """TensorFloat-32 off (``poseboard.device.configure`` turns it on for CUDA runs, and another
    test in the same process may have): its 10-bit mantissa moved a CUDA prediction by 0.7 mm
    from the CPU's (H200, 2026-11-26), which is TF32's rounding, not the checkpoint's move."""
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def test_cpu_fp32_options_change_no_result_byte(tmp_path):
    ck = F.checkpoints_copy(tmp_path / "checkpoints")
    common = ["predict", "algebraic", "--protocol", "synth-h36m-relative", "--data-dir", str(F.data_dir()),
              "--checkpoints", str(ck), "-q", "--threads", "1"]
    plain = runner.invoke(app, [*common, "--results", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    opted = runner.invoke(app, [*common, "--results", str(tmp_path / "opted"), "--device", "cpu",
                                "--precision", "fp32"])
    assert opted.exit_code == 0, opted.output
    for name in ("synth-h36m-relative@3.json", "synth-h36m-relative@3.npz"):
        a, b = (tmp_path / d / "algebraic" / name for d in ("plain", "opted"))
        assert a.read_bytes() == b.read_bytes(), name
    import json

    run = json.loads((tmp_path / "opted" / "algebraic" / "synth-h36m-relative@3.run.json").read_text())
    assert run["speed"]["device"] == "cpu (1 torch thread)"  # the committed results' wording
    assert "on cpu (1 torch thread)" in opted.output


@pytest.mark.parametrize("method", ["algebraic", "epipolar", "volumetric"])
def test_bf16_on_the_cpu_trains_and_predicts(tmp_path, method):
    """Every trained calibrated family under a bf16 autocast on the CPU. Epipolar's attention
    failed there until session 26 (its spread-back kernel got a bf16 grid with fp32 values)."""
    from poseboard.harness.run import run_protocol, train_method

    ck = F.checkpoints_copy(tmp_path / "checkpoints")
    override = tmp_path / "override.yaml"
    override.write_text("train: {steps: 2, batch_size: 2, log_every: 1}\n")
    name = f"{method}-bf16"
    summary = train_method(method, data_dir=F.data_dir(), checkpoints=ck, profile="smoke",
                           config_path=override, val=False, progress=False, name=name,
                           device=torch.device("cpu"), precision="bf16")
    assert summary["steps"] == 2
    assert all(math.isfinite(v) for h in _history(ck / name) for k, v in h.items() if "loss" in k)
    result, path = run_protocol(name, "synth-h36m-relative", data_dir=F.data_dir(), checkpoints=ck,
                                results_dir=tmp_path / "results", device=torch.device("cpu"), precision="bf16")
    assert math.isfinite(result.metrics.headline_value)
    assert result.speed.device.endswith(", bf16)")
    from poseboard.protocols.predictions import load_pose_predictions

    assert np.isfinite(load_pose_predictions(path.with_suffix(".npz")).joints_3d).all()


def _history(folder: Path) -> list[dict[str, float]]:
    import json

    lines = (folder / "work" / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if isinstance(v, float)} for line in lines]


# ---------------------------------------------------------------------------- training loop
class _Toy(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 24

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": torch.full((3,), float(i)), "i": torch.tensor(i)}


def _collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_worker_processes_give_the_same_batches():
    one = TrainConfig(steps=9, batch_size=4, seed=5, num_workers=0)
    two = one.model_copy(update={"num_workers": 2})
    a = [b["i"].tolist() for b in make_loader(_Toy(), one, _collate, 2, 9)]
    b = [b["i"].tolist() for b in make_loader(_Toy(), two, _collate, 2, 9)]
    assert a == b and len(a) == 7


def test_a_nan_loss_stops_training(tmp_path, device):
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step_fn(batch, step, gen):
        loss = net(batch["x"]).pow(2).mean()
        return {"loss": loss * float("nan") if step == 3 else loss}

    cfg = TrainConfig(steps=8, batch_size=4, log_every=5, checkpoint_every=100)
    with pytest.raises(FloatingPointError, match=r"toy: a loss was not finite in the 5 steps up to step 5"):
        train_loop(name="toy", config=cfg, modules={"net": net}, optimizer=opt, step_fn=step_fn, dataset=_Toy(),
                   collate=_collate, workdir=tmp_path / "work", progress=False, device=device)
    assert not (tmp_path / "work" / "checkpoint.pt").exists()  # nothing saved from a diverged window
