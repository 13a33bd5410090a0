"""The `gpu` profile of params.yaml is complete and builds, on a machine without a GPU.

Running it needs a GPU (docs/devices.md); what a CPU can check is that every stage's
configuration validates with its model, that every network of the profile constructs at its
size, and that the architecture is the ResNet-50 class the profile promises.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from poseboard.harness.commands import resolve_run
from poseboard.harness.config import build_config
from poseboard.methods.nets.backbone import Backbone, BackboneConfig
from poseboard.methods.nets.v2v import V2VConfig, V2VNet
from poseboard.methods.registry import get_method
from poseboard.params import check_params, parse_params

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.fixture(scope="module")
def gpu_params(tmp_path_factory) -> Path:
    data = yaml.safe_load(PARAMS.read_text())
    data["profile"] = "gpu"
    path = tmp_path_factory.mktemp("gpu") / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_gpu_profile_validates_deeply(gpu_params):
    params = parse_params(yaml.safe_load(gpu_params.read_text()), str(gpu_params))
    assert params.profile == "gpu"
    assert params.active.data.preset == "gpu"
    assert params.active.seeds == [0, 1, 2]
    assert check_params(params, deep=True, where=str(gpu_params)) == []


def test_gpu_profile_asks_for_cuda_and_is_refused_here_before_anything_runs(gpu_params):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the profile's device resolves")
    from poseboard.errors import InputError

    with pytest.raises(InputError, match=r"profiles\.gpu\.device.*'cuda'.*available: cpu"):
        resolve_run(params_file=gpu_params, profile="gpu")
    device, precision = resolve_run("cpu", params_file=gpu_params, profile="gpu")  # the option wins
    assert device.type == "cpu" and precision == "fp32"


@pytest.mark.parametrize("key", ["ransac", "algebraic", "volumetric-norm", "epipolar", "probabilistic-sequence",
                                 "rootnet"])
def test_every_method_builds_its_gpu_configuration(gpu_params, key):
    params = parse_params(yaml.safe_load(gpu_params.read_text()), str(gpu_params))
    block = params.methods[key]
    cls = get_method(block.method)
    cfg = build_config(cls.config_model, "gpu", gpu_params, f"methods.{key}.gpu")
    assert cfg.backbone == BackboneConfig.preset("resnet50")
    if block.method == "volumetric":
        assert cfg.volume_size == 64 and cfg.v2v == V2VConfig.preset("paper")
    cls(cfg)  # validates and constructs what the constructor builds


def test_resnet50_backbone_is_resnet50_class_and_runs_at_128_px():
    net = Backbone(BackboneConfig.preset("resnet50", num_joints=17)).eval()
    encoder = sum(p.numel() for name, p in net.named_parameters() if not name.startswith(("deconv", "head", "final")))
    # torchvision's ResNet-50 without its classifier holds 23.5 M parameters
    assert 22e6 < encoder < 25e6, encoder
    with torch.no_grad():
        out = net(torch.zeros(1, 3, 128, 128))
    heatmaps = out.heatmaps if hasattr(out, "heatmaps") else out[0]
    assert heatmaps.shape[-2:] == (32, 32) and heatmaps.shape[1] == 17


def test_paper_v2v_runs_on_a_64_cube():
    net = V2VNet(32, 17, V2VConfig.preset("paper")).eval()
    with torch.no_grad():
        out = net(torch.zeros(1, 32, 64, 64, 64))
    assert out.shape == (1, 17, 64, 64, 64)
