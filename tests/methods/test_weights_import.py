"""Starting the backbone from published checkpoints (torchvision ImageNet ResNets, learnable
triangulation's pose_resnet) and pre-training on a real dataset's crops.

The checkpoints are state dicts built here, from the reference layouts' key names and shapes
(torchvision ``models/resnet.py``; learnable triangulation ``mvn/models/pose_resnet.py``), not
from poseboard's own network, so the key mapping is checked against an independent spec; a
functional forward pass written from the reference's definition checks that the mapped network
computes what the reference computes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent.parent / "datasets"))  # the real-data fixture writers
from real_fixtures import write_h36m

from poseboard.datasets.torch_dataset import IMAGENET_MEAN, IMAGENET_STD
from poseboard.errors import InputError, ResultFileError
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, save_backbone
from poseboard.methods.nets.weights_import import (
    InitWeights,
    backbone_key,
    file_sha256,
    fold_bgr_stem,
    import_weights,
    infer_architecture,
    init_from_options,
    init_from_weights,
    matching_preset,
)
from poseboard.methods.train.pretrain import CropDataset, PretrainConfig, crop_source, pretrain_backbone

WIDTHS = (64, 128, 256, 512)


# ---------------------------------------------------------------------------- reference layouts
def _bn(out: dict, name: str, c: int, gen: torch.Generator, tracked: bool = True) -> None:
    out[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=gen)
    out[f"{name}.bias"] = 0.1 * torch.randn(c, generator=gen)
    out[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=gen)
    out[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=gen)
    if tracked:
        out[f"{name}.num_batches_tracked"] = torch.tensor(1000)


def _conv(out: dict, name: str, cout: int, cin: int, k: int, gen: torch.Generator) -> None:
    out[f"{name}.weight"] = torch.randn(cout, cin, k, k, generator=gen) * (2.0 / (cin * k * k)) ** 0.5


def resnet_layout(block: str, depths, widths=WIDTHS, stem: int = 64, *, seed: int = 0,
                  tracked: bool = True) -> dict[str, torch.Tensor]:
    """torchvision's ResNet encoder keys and shapes (``conv1``, ``bn1``, ``layerN.b.*``)."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    _conv(out, "conv1", stem, 3, 7, gen)
    _bn(out, "bn1", stem, gen, tracked)
    expansion = 4 if block == "bottleneck" else 1
    cin = stem
    for s, (width, depth) in enumerate(zip(widths, depths, strict=True)):
        for b in range(depth):
            p = f"layer{s + 1}.{b}"
            stride = 2 if (s > 0 and b == 0) else 1
            if block == "bottleneck":
                _conv(out, f"{p}.conv1", width, cin, 1, gen)
                _bn(out, f"{p}.bn1", width, gen, tracked)
                _conv(out, f"{p}.conv2", width, width, 3, gen)
                _bn(out, f"{p}.bn2", width, gen, tracked)
                _conv(out, f"{p}.conv3", width * 4, width, 1, gen)
                _bn(out, f"{p}.bn3", width * 4, gen, tracked)
            else:
                _conv(out, f"{p}.conv1", width, cin, 3, gen)
                _bn(out, f"{p}.bn1", width, gen, tracked)
                _conv(out, f"{p}.conv2", width, width, 3, gen)
                _bn(out, f"{p}.bn2", width, gen, tracked)
            if stride != 1 or cin != width * expansion:
                _conv(out, f"{p}.downsample.0", width * expansion, cin, 1, gen)
                _bn(out, f"{p}.downsample.1", width * expansion, gen, tracked)
            cin = width * expansion
    return out


def torchvision_layout(block: str, depths, widths=WIDTHS, stem: int = 64, *, seed: int = 0,
                       tracked: bool = False) -> dict[str, torch.Tensor]:
    """An ImageNet ResNet's state dict: the encoder and the 1000-class ``fc``."""
    out = resnet_layout(block, depths, widths, stem, seed=seed, tracked=tracked)
    cout = widths[-1] * (4 if block == "bottleneck" else 1)
    out["fc.weight"] = torch.randn(1000, cout) * 0.01
    out["fc.bias"] = torch.zeros(1000)
    return out


def pose_resnet_layout(block: str, depths, num_joints: int, widths=WIDTHS, stem: int = 64,
                       deconv=(256, 256, 256), *, seed: int = 0, confidences: bool = False) -> dict[str, torch.Tensor]:
    """learnable triangulation's PoseResNet keys: encoder + ``deconv_layers`` (ConvTranspose2d
    k4 s2 without bias, BN, ReLU per layer: indices 0, 1, 3, 4, 6, 7) + ``final_layer`` (1×1, bias)."""
    gen = torch.Generator().manual_seed(seed + 1)
    out = resnet_layout(block, depths, widths, stem, seed=seed)
    cin = widths[-1] * (4 if block == "bottleneck" else 1)
    for i, cout in enumerate(deconv):
        out[f"deconv_layers.{3 * i}.weight"] = torch.randn(cin, cout, 4, 4, generator=gen) * 0.05
        _bn(out, f"deconv_layers.{3 * i + 1}", cout, gen)
        cin = cout
    out["final_layer.weight"] = torch.randn(num_joints, cin, 1, 1, generator=gen) * 0.05
    out["final_layer.bias"] = 0.1 * torch.randn(num_joints, generator=gen)
    if confidences:  # GlobalAveragePoolingHead of the algebraic model
        out["alg_confidences.features.0.weight"] = torch.randn(512, 8, 3, 3, generator=gen)
        out["alg_confidences.head.4.bias"] = torch.zeros(num_joints)
    return out


def reference_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, block: str, depths,
                      head: bool = True) -> torch.Tensor:
    """PoseResNet's forward (``style: simple``: the bottleneck's stride on its 3×3 convolution),
    written from the reference's definition with functional ops, in eval mode."""

    def bn(y: torch.Tensor, name: str) -> torch.Tensor:
        return F.batch_norm(y, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
                            sd[f"{name}.bias"], training=False, eps=1e-5)

    y = F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), "bn1"))
    y = F.max_pool2d(y, 3, 2, 1)
    for s, depth in enumerate(depths):
        for b in range(depth):
            p, stride = f"layer{s + 1}.{b}", 2 if (s > 0 and b == 0) else 1
            res = bn(F.conv2d(y, sd[f"{p}.downsample.0.weight"], stride=stride), f"{p}.downsample.1") \
                if f"{p}.downsample.0.weight" in sd else y
            if block == "bottleneck":
                z = F.relu(bn(F.conv2d(y, sd[f"{p}.conv1.weight"]), f"{p}.bn1"))
                z = F.relu(bn(F.conv2d(z, sd[f"{p}.conv2.weight"], stride=stride, padding=1), f"{p}.bn2"))
                z = bn(F.conv2d(z, sd[f"{p}.conv3.weight"]), f"{p}.bn3")
            else:
                z = F.relu(bn(F.conv2d(y, sd[f"{p}.conv1.weight"], stride=stride, padding=1), f"{p}.bn1"))
                z = bn(F.conv2d(z, sd[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            y = F.relu(z + res)
    if not head:
        return y
    i = 0
    while f"deconv_layers.{i}.weight" in sd:
        y = F.conv_transpose2d(y, sd[f"deconv_layers.{i}.weight"], stride=2, padding=1)
        y = F.relu(bn(y, f"deconv_layers.{i + 1}"))
        i += 3
    return F.conv2d(y, sd["final_layer.weight"], sd["final_layer.bias"])


SMALL_BOTTLENECK = {"block": "bottleneck", "stem_width": 8, "widths": (8, 8, 16, 16), "depths": (1, 2, 1, 2),
                    "deconv_channels": (16, 16, 16)}


def _small(num_joints: int = 5) -> tuple[dict[str, torch.Tensor], BackboneConfig]:
    cfg = BackboneConfig(**SMALL_BOTTLENECK, num_joints=num_joints)
    sd = pose_resnet_layout("bottleneck", cfg.depths, num_joints, cfg.widths, cfg.stem_width, cfg.deconv_channels)
    return sd, cfg


def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


# ---------------------------------------------------------------------------- key mapping
def test_pose_resnet152_checkpoint_fills_the_paper_preset(tmp_path):
    # ResNet-152 (3-8-36-3 bottlenecks) + 3×256 deconvolutions + 17 joints, as a triangulation
    # model's weights.pth: `backbone.` prefix, DataParallel's `module.`, a `state_dict` wrapper,
    # a confidence head and another module's tensors.
    ref = pose_resnet_layout("bottleneck", (3, 8, 36, 3), 17, confidences=True)
    file_sd = {f"module.backbone.{k}": v for k, v in ref.items()}
    file_sd["module.volume_net.front_layers.0.weight"] = torch.zeros(1)
    path = _save({"state_dict": file_sd, "epoch": 7}, tmp_path / "weights.pth")
    net = Backbone(BackboneConfig.preset("paper"))
    report = import_weights(net, InitWeights(path=path, input_channels="rgb"))
    assert report.format == "pose_resnet" and report.final_layer == "loaded" and report.random == []
    assert report.dropped == {"alg_confidences": 2, "volume_net": 1}
    assert report.sha256 == file_sha256(path)
    ours = net.state_dict()
    for k, v in ref.items():
        if k.startswith("alg_confidences"):
            continue
        key = backbone_key(k, "pose_resnet")
        assert torch.equal(ours[key], v), k
    assert report.loaded == len(ours) == len(ref) - 2  # every backbone tensor came from the file
    assert matching_preset(infer_architecture(ref, "pose_resnet")) == "paper"


def test_mapped_network_computes_the_reference_forward(tmp_path):
    sd, cfg = _small()
    net = Backbone(cfg)
    import_weights(net, InitWeights(path=_save(sd, tmp_path / "p.pth"), format="pose_resnet", input_channels="rgb"))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x).heatmaps, reference_forward(sd, x, "bottleneck", cfg.depths))


def test_torchvision_weights_fill_the_encoder_only(tmp_path):
    cfg = BackboneConfig.preset("default")  # basic blocks, 32…256 wide, one block per stage
    sd = torchvision_layout("basic", cfg.depths, cfg.widths, cfg.stem_width)  # an old file: no num_batches_tracked
    net = Backbone(cfg)
    head_before = {k: v.clone() for k, v in net.state_dict().items() if k.startswith(("deconv.", "final."))}
    report = import_weights(net, _save(sd, tmp_path / "resnet-tv.pth"))
    assert report.format == "torchvision" and report.input_channels == "rgb" and report.final_layer == "absent"
    assert report.random == ["deconv", "final"] and report.dropped == {"fc": 2}
    for k, v in head_before.items():
        assert torch.equal(net.state_dict()[k], v)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        # channels-last rounds differently from the reference's plain layout: fp32 noise, not a mapping error
        torch.testing.assert_close(net.eval().encode(x), reference_forward(sd, x, "basic", cfg.depths, head=False),
                                   rtol=1e-4, atol=1e-4)


def test_final_layer_is_reinitialised_when_joint_counts_differ(tmp_path):
    sd, _ = _small(num_joints=16)  # e.g. MPII's 16 joints
    net = Backbone(BackboneConfig(**SMALL_BOTTLENECK, num_joints=17))
    final_before = net.final.weight.detach().clone()
    report = import_weights(net, InitWeights(path=_save(sd, tmp_path / "mpii.pth"), input_channels="rgb"))
    assert report.final_layer == "reinitialised (file: 16 joints, backbone: 17)" and report.random == ["final"]
    assert torch.equal(net.final.weight, final_before)
    assert torch.equal(net.deconv[0].weight, sd["deconv_layers.0.weight"])


def test_bgr_checkpoints_are_folded_to_rgb_input():
    # The reference feeds cv2.imread's BGR images normalised with ImageNet's RGB-ordered statistics.
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(8, 3, 7, 7, generator=gen, dtype=torch.float64)
    rm, rv = torch.randn(8, generator=gen, dtype=torch.float64), 1 + torch.rand(8, generator=gen, dtype=torch.float64)
    rgb = torch.rand(1, 3, 40, 40, generator=gen, dtype=torch.float64)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64)[:, None, None]
    z_ref = (rgb.flip(1) - mean) / std  # BGR pixels, RGB statistics
    z_our = (rgb - mean) / std
    w2, rm2 = fold_bgr_stem(w, rm, IMAGENET_MEAN, IMAGENET_STD)
    ref = F.batch_norm(F.conv2d(z_ref, w, stride=2, padding=3), rm, rv, training=False)
    our = F.batch_norm(F.conv2d(z_our, w2, stride=2, padding=3), rm2, rv, training=False)
    torch.testing.assert_close(our[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2])  # away from the zero padding
    assert w2.dtype == w.dtype and rm2.shape == rm.shape


def test_pose_resnet_files_default_to_bgr(tmp_path):
    sd, cfg = _small()
    net = Backbone(cfg)
    report = import_weights(net, _save(sd, tmp_path / "p.pth"))
    assert report.input_channels == "bgr"
    assert torch.equal(net.stem[0].weight, fold_bgr_stem(sd["conv1.weight"], sd["bn1.running_mean"],
                                                         IMAGENET_MEAN, IMAGENET_STD)[0])


def test_poseboard_backbone_round_trip(tmp_path):
    src = Backbone(BackboneConfig.preset("smoke"))
    torch.nn.init.normal_(src.final.weight)
    save_backbone(tmp_path / "bb", src)
    net = Backbone(BackboneConfig.preset("smoke"))
    record = init_from_weights(net, tmp_path / "bb")  # the folder: its backbone.pt
    assert record["format"] == "poseboard" and record["final_layer"] == "loaded"
    for k, v in src.state_dict().items():
        assert torch.equal(net.state_dict()[k], v)


# ---------------------------------------------------------------------------- refusals
def test_a_mismatched_file_names_keys_shapes_and_the_fitting_preset(tmp_path):
    sd = torchvision_layout("bottleneck", (3, 4, 6, 3))  # ResNet-50
    path = _save(sd, tmp_path / "resnet50.pth")
    with pytest.raises(InputError) as err:
        import_weights(Backbone(BackboneConfig.preset("default")), path)
    text = str(err.value)
    assert str(path) in text and "torchvision weights do not fit" in text
    assert "not in the backbone: [" in text and "layer1.0.conv3.weight" in text
    assert "shapes differ: [conv1.weight: file (64, 3, 7, 7) vs backbone (32, 3, 7, 7)" in text
    assert "backbone preset 'resnet50'" in text and "(backbone preset 'default')" in text


def test_a_file_lacking_tensors_is_refused(tmp_path):
    sd, cfg = _small()
    del sd["layer2.1.bn2.running_var"]
    path = _save(sd, tmp_path / "cut.pth")
    with pytest.raises(InputError, match=r"missing from the file: \[layer2\.1\.bn2\.running_var\].*incomplete"):
        import_weights(Backbone(cfg), path)


def test_unrecognised_and_unreadable_files_are_refused(tmp_path):
    path = _save({"encoder.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="unrecognised weights layout"):
        import_weights(Backbone(BackboneConfig.preset("smoke")), path)
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(ResultFileError, match=r"text\.pth"):
        import_weights(Backbone(BackboneConfig.preset("smoke")), tmp_path / "text.pth")
    with pytest.raises(InputError, match="not found"):
        import_weights(Backbone(BackboneConfig.preset("smoke")), tmp_path / "absent.pth")
    path = _save({"state_dict": {"conv1.weight": torch.zeros(1), "note": "x"}}, tmp_path / "mixed.pth")
    with pytest.raises(InputError, match=r"not a state dict.*note"):
        import_weights(Backbone(BackboneConfig.preset("smoke")), path)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.target),))


def test_files_are_never_unpickled(tmp_path):
    _Payload.target = str(tmp_path / "executed")
    path = _save({"conv1.weight": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ResultFileError, match="without pickle"):
        import_weights(Backbone(BackboneConfig.preset("smoke")), path)
    assert not (tmp_path / "executed").exists()


def test_checksums(tmp_path):
    src = Backbone(BackboneConfig.preset("smoke"))
    save_backbone(tmp_path, src)
    path = tmp_path / "backbone.pt"
    digest = file_sha256(path)
    for expected in (digest, digest[:8].upper()):  # the whole digest, or torch.hub's prefix
        import_weights(Backbone(BackboneConfig.preset("smoke")), InitWeights(path=path, sha256=expected))
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with pytest.raises(InputError, match=rf"{path.name}: SHA-256 is {digest}, expected {wrong}"):
        import_weights(Backbone(BackboneConfig.preset("smoke")), InitWeights(path=path, sha256=wrong))
    with pytest.raises(InputError, match="--init-sha256"):
        init_from_options(path, "auto", "xyz")
    with pytest.raises(InputError, match="--init-format"):
        init_from_options(path, "caffe", None)
    with pytest.raises(InputError, match="need --init-weights"):
        init_from_options(None, "auto", digest)
    assert InitWeights.model_validate(str(path)).format == "auto"  # a plain path in params.yaml


# ---------------------------------------------------------------------------- real crops + the command
@pytest.fixture(scope="module")
def h36m_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("h36m")
    write_h36m(root)
    return root


def test_crops_of_a_real_dataset(h36m_root):
    real = {"human36m": str(h36m_root), "trust_pickle": True, "use_env": False}
    train = CropDataset(crop_source("human36m", "train", real_data=real, crop_size=64))
    assert len(train) == 2 * 4 and train.image_size == (64, 64)  # S1: 2 frames × 4 views
    test = CropDataset(crop_source("human36m", "test", real_data=real, crop_size=64))
    assert len(test) == 5 * 4 + 2 * 3  # S11 Directions-2 lacks camera 0's box: that view is left out
    item = test[len(test) - 1]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == np.uint8
    assert item["joints_2d"].shape == (17, 2) and item["visibility"].any()
    # the fixture's one bright square is the pelvis: the crop shows it where joints_2d says
    u, v = np.rint(item["joints_2d"][6]).astype(int)
    assert item["image"][:, v, u].min() > 200
    with pytest.raises(InputError, match=r"real_data\.human36m"):
        crop_source("human36m", "train", real_data={"use_env": False})
    with pytest.raises(InputError, match="single-view"):
        crop_source("mupots", "test", real_data=real)
    assert crop_source("synth-h36m", "train", data_dir="d") == Path("d/synth-h36m/train")


def test_pretrain_command_fine_tunes_on_human36m_from_a_checkpoint(h36m_root, tmp_path):
    from poseboard.harness.commands import _standalone_app

    smoke = BackboneConfig.preset("smoke")
    sd = pose_resnet_layout("basic", smoke.depths, 17, smoke.widths, smoke.stem_width, smoke.deconv_channels)
    weights = _save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "pose_resnet_smoke.pth")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"real_data": {"human36m": str(h36m_root), "trust_pickle": True,
                                                    "use_env": False}}))
    override = tmp_path / "over.yaml"
    override.write_text(yaml.safe_dump({"crop_size": 64, "train": {"steps": 3, "batch_size": 4, "log_every": 1,
                                                                   "warmup_steps": 0, "val_samples": 8}}))
    args = ["pretrain", "--dataset", "human36m", "--params", str(params), "--profile", "smoke", "--config",
            str(override), "--checkpoints", str(tmp_path / "ck"), "--device", "cpu", "--quiet",
            "--init-weights", str(weights), "--init-sha256", file_sha256(weights)]
    result = CliRunner().invoke(_standalone_app(), args)
    assert result.exit_code == 0, result.output
    record = yaml.safe_load((tmp_path / "ck" / "backbone" / "backbone.json").read_text())
    info = record["info"]
    assert info["steps"] == 3 and info["init"]["format"] == "pose_resnet" and info["init"]["final_layer"] == "loaded"
    assert info["train"] == ["Human36MMultiView(split='train', samples=2, image_size=(64, 64))"]
    assert set(info["val"]) == {"px_hard", "px_soft"}
    wrong = CliRunner().invoke(_standalone_app(), [*args[:-2], "--init-sha256", "0" * 64])
    assert wrong.exit_code == 2 and "SHA-256" in wrong.output


def test_pretrain_from_init_starts_at_the_file(tmp_path, h36m_root):
    src = Backbone(BackboneConfig.preset("smoke"))
    torch.nn.init.normal_(src.final.weight, std=0.01)
    save_backbone(tmp_path / "src", src)
    cfg = PretrainConfig.preset("smoke").model_copy(update={
        "init": InitWeights(path=tmp_path / "src"),
        "train": PretrainConfig.preset("smoke").train.model_copy(update={"steps": 0}),
    })
    real = {"human36m": str(h36m_root), "trust_pickle": True, "use_env": False}
    net, _ = pretrain_backbone(cfg, crop_source("human36m", "train", real_data=real, crop_size=64),
                               tmp_path / "out", progress=False)
    for k, v in src.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k
    bad = cfg.model_copy(update={"crop_size": 128})
    with pytest.raises(InputError, match="crop_size is 128"):
        pretrain_backbone(bad, crop_source("human36m", "train", real_data=real, crop_size=64), tmp_path / "o2")


def test_module_examples_run():
    import doctest

    import poseboard.methods.nets.weights_import as module

    result = doctest.testmod(module)
    assert result.attempted >= 2 and result.failed == 0
