"""The 2D backbone shared by every learned method: a ResNet-style encoder and a
deconvolution head (Xiao et al.'s "simple baseline", the PoseResNet of learnable
triangulation), with its intermediate features exposed.

Shape of the network (input S×S, S a multiple of 32):

* stem: 7×7 stride-2 convolution + BN + ReLU + 3×3 stride-2 max-pool (S/4);
* four stages of residual blocks (``basic``: two 3×3 convolutions; ``bottleneck``: 1×1,
  3×3, 1×1 with expansion 4), the first block of stages 2–4 with stride 2 (S/32);
* head: ``len(deconv_channels)`` × [ConvTranspose2d(k4, s2) + BN + ReLU] back to S/4, and a
  1×1 convolution to one heatmap per joint.

``forward`` returns a :class:`BackboneOutput`: the heatmaps (B, J, S/4, S/4), the features
they are computed from (the last deconvolution's output, what the volumetric method
unprojects) and the encoder's bottleneck (B, Cb, S/32, S/32, what confidence heads pool).

Initial weights: random (the default), a ``poseboard pretrain`` output (:func:`init_from_pretrained`,
same architecture), or a published checkpoint — torchvision's ImageNet ResNets or learnable
triangulation's ``pose_resnet`` — mapped onto these names by
:func:`~poseboard.methods.nets.weights_import.init_from_weights` (``docs/pretrained_weights.md``).

Presets (:meth:`BackboneConfig.preset`):

* ``smoke``: a few thousand parameters' worth of channels, for tests (seconds);
* ``default``: what two CPU cores pre-train and fine-tune in tens of minutes;
* ``paper``: PoseResNet-152's shape (bottleneck blocks 3-8-36-3, widths 64…512 ×4,
  three 256-channel deconvolutions), for GPUs.

Example:
    >>> import torch
    >>> net = Backbone(BackboneConfig.preset("smoke"))
    >>> out = net(torch.zeros(2, 3, 64, 64))
    >>> tuple(out.heatmaps.shape), tuple(out.features.shape[-2:]), tuple(out.bottleneck.shape[-2:])
    ((2, 17, 16, 16), (16, 16), (2, 2))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from poseboard.errors import InputError, ResultFileError, check_shape
from poseboard.io import atomic_open, atomic_write_text

BackbonePreset = Literal["smoke", "default", "paper"]


class BackboneConfig(BaseModel):
    """Architecture of the 2D backbone (a ``params.yaml`` block)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block: Literal["basic", "bottleneck"] = Field("basic", description="residual block type")
    stem_width: int = Field(32, ge=4, description="channels of the 7×7 stem")
    widths: tuple[int, int, int, int] = Field((32, 64, 128, 256), description="base channels per stage")
    depths: tuple[int, int, int, int] = Field((1, 1, 1, 1), description="blocks per stage")
    deconv_channels: tuple[int, ...] = Field((128, 64, 64), min_length=1,
                                             description="channels of each ×2 deconvolution (3 → stride 4)")
    num_joints: int = Field(17, ge=1)
    bn_momentum: float = Field(0.1, gt=0, le=1)
    channels_last: bool = Field(
        True, description="weights and activations in the channels-last layout: the same function, "
        "1.2-1.3x faster training steps on CPUs (other rounding); not part of the architecture")

    @model_validator(mode="after")
    def _stride(self) -> BackboneConfig:
        if len(self.deconv_channels) > 3:
            raise ValueError("at most 3 deconvolutions (the encoder's stride is 32, the heatmaps' 4)")
        if any(w < 1 for w in self.widths) or any(d < 1 for d in self.depths):
            raise ValueError("widths and depths must be positive")
        return self

    @property
    def expansion(self) -> int:
        return 4 if self.block == "bottleneck" else 1

    @property
    def bottleneck_channels(self) -> int:
        """Channels of :attr:`BackboneOutput.bottleneck` (the last stage's output)."""
        return self.widths[-1] * self.expansion

    @property
    def feature_channels(self) -> int:
        """Channels of :attr:`BackboneOutput.features` (the last deconvolution's output)."""
        return self.deconv_channels[-1]

    @property
    def heatmap_stride(self) -> int:
        """Input pixels per heatmap cell."""
        return 32 // 2 ** len(self.deconv_channels)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> BackboneConfig:
        presets: dict[str, dict[str, Any]] = {
            "smoke": {"stem_width": 8, "widths": (8, 16, 32, 32), "depths": (1, 1, 1, 1),
                      "deconv_channels": (32, 16, 16)},
            "default": {"stem_width": 32, "widths": (32, 64, 128, 256), "depths": (1, 1, 1, 1),
                        "deconv_channels": (128, 64, 64)},
            "paper": {"block": "bottleneck", "stem_width": 64, "widths": (64, 128, 256, 512),
                      "depths": (3, 8, 36, 3), "deconv_channels": (256, 256, 256)},
            # the gpu profile's: ResNet-50's bottleneck stages (3-4-6-3) and the SimpleBaselines
            # head (three 256-channel deconvolutions); issue 20 measured it at 3,600 img/s training
            # at 128 px on one H100, 2.62 px 2D error after 179 s of pre-training
            "resnet50": {"block": "bottleneck", "stem_width": 64, "widths": (64, 128, 256, 512),
                         "depths": (3, 4, 6, 3), "deconv_channels": (256, 256, 256)},
        }  # fmt: skip
        if name not in presets:
            raise InputError(f"unknown backbone preset {name!r}; choose one of {sorted(presets)}")
        return cls.model_validate({**presets[name], **overrides})


class BackboneOutput(NamedTuple):
    """What :class:`Backbone` returns for input images (N, 3, S, S).

    Attributes:
        heatmaps: (N, J, S/4, S/4) one map per joint; cell i is input pixel 4i.
        features: (N, C, S/4, S/4) the deconvolution head's output, C = ``feature_channels``.
        bottleneck: (N, Cb, S/32, S/32) the encoder's last stage, Cb = ``bottleneck_channels``.
    """

    heatmaps: Tensor
    features: Tensor
    bottleneck: Tensor


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int, momentum: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, momentum=momentum)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, momentum=momentum)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(cin, width, stride, momentum)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, momentum: float) -> None:
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, momentum=momentum)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, momentum=momentum)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, momentum=momentum)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(cin, cout, stride, momentum)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class SubsampledPointwiseConv2d(nn.Conv2d):
    """A 1×1 :class:`torch.nn.Conv2d` whose stride is applied by subsampling its input
    (``x[..., ::s, ::s]``), then convolved at stride 1: the same function and the same state
    dict as the strided convolution (on the CPU the same bits for the default backbone's
    shapes at two threads; at one, some gradients differ in the last place).

    Why: PyTorch 2.13's oneDNN backward of a strided 1×1 convolution in the channels-last
    layout corrupts the heap (a crash or ``double free``) for 2–12 input channels at 64² and
    larger inputs, the smoke backbone's 8-channel downsample at 256 px among them; the
    stride-1 kernel is sound at every size measured (docs/findings/performance-history-2026-11-26.md,
    session 23)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__(cin, cout, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        sy, sx = self.stride
        return nn.functional.conv2d(x[..., ::sy, ::sx], self.weight, self.bias)


def _downsample(cin: int, cout: int, stride: int, momentum: float) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(SubsampledPointwiseConv2d(cin, cout, stride), nn.BatchNorm2d(cout, momentum=momentum))


class Backbone(nn.Module):
    """ResNet-style encoder + deconvolution head; see the module docstring.

    Args:
        config: the architecture.
    """

    def __init__(self, config: BackboneConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BackboneConfig()
        m = config.bn_momentum
        block = Bottleneck if config.block == "bottleneck" else BasicBlock
        self.stem = nn.Sequential(
            nn.Conv2d(3, config.stem_width, 7, 2, 3, bias=False),
            nn.BatchNorm2d(config.stem_width, momentum=m),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        stages = []
        cin = config.stem_width
        for i, (width, depth) in enumerate(zip(config.widths, config.depths, strict=True)):
            blocks = []
            for b in range(depth):
                blocks.append(block(cin, width, 2 if (b == 0 and i > 0) else 1, m))
                cin = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        deconvs: list[nn.Module] = []
        for cout in config.deconv_channels:
            deconvs += [
                nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout, momentum=m),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        self.deconv = nn.Sequential(*deconvs)
        self.final = nn.Conv2d(cin, config.num_joints, 1)
        self._init_weights()
        if config.channels_last:
            self.to(memory_format=torch.channels_last)

    def _layout(self, images: Tensor) -> Tensor:
        """``images`` in the network's layout (a no-op when they already are)."""
        if self.config.channels_last:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def _init_weights(self) -> None:
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.ConvTranspose2d):
                nn.init.normal_(mod.weight, std=0.001)
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)
        # The residual branch's last BN starts at zero, so each block starts as the identity
        # (Goyal et al. 2017): small networks trained briefly converge faster.
        for mod in self.modules():
            if isinstance(mod, BasicBlock):
                nn.init.zeros_(mod.bn2.weight)
            elif isinstance(mod, Bottleneck):
                nn.init.zeros_(mod.bn3.weight)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def encode(self, images: Tensor) -> Tensor:
        """(N, 3, S, S) → the bottleneck (N, Cb, S/32, S/32), in the network's layout."""
        x = self.stem(self._layout(images))
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, images: Tensor) -> BackboneOutput:
        """Heatmaps, features and bottleneck of normalised images (N, 3, S, S), S % 32 == 0."""
        size = check_shape(images, ["N", 3, "H", "W"], "Backbone: images")
        if size["H"] % 32 or size["W"] % 32:
            raise InputError(f"Backbone: image size {size['H']}×{size['W']} must be a multiple of 32")
        bottleneck = self.encode(images)
        features = self.deconv(bottleneck)
        heatmaps = self.final(features)
        # The callers index, view and unproject these: hand them the standard layout (copies
        # of at most 64 channels at S/4, small beside the convolutions).
        return BackboneOutput(heatmaps.contiguous(), features.contiguous(), bottleneck.contiguous())


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------- checkpoint files
BACKBONE_CONFIG_FILE = "backbone.json"
BACKBONE_WEIGHTS_FILE = "backbone.pt"


def save_backbone(directory: str | Path, backbone: Backbone, info: dict[str, Any] | None = None) -> Path:
    """Write ``backbone.json`` (architecture + ``info``) and ``backbone.pt`` (state dict) to
    ``directory``, atomically; read back with :func:`load_backbone` (no pickle)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_open(directory / BACKBONE_WEIGHTS_FILE, "wb") as handle:
        torch.save(backbone.state_dict(), handle)
    record = {"backbone": backbone.config.model_dump(mode="json"), "info": info or {}}
    atomic_write_text(directory / BACKBONE_CONFIG_FILE, json.dumps(record, indent=2, sort_keys=True))
    return directory


def read_backbone_record(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / BACKBONE_CONFIG_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultFileError(
            f"{path}: no pre-trained backbone here (run `poseboard pretrain` first)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None


def _read_backbone(
    directory: str | Path, expect: BackboneConfig | None
) -> tuple[BackboneConfig, dict[str, Any], dict[str, Tensor]]:
    """The architecture, record and state dict (CPU tensors, read without pickle) saved in
    ``directory``; with ``expect``, the architecture must match."""
    record = read_backbone_record(directory)
    config = BackboneConfig.model_validate(record["backbone"])
    if expect is not None and expect != config.model_copy(update={"channels_last": expect.channels_last}):
        raise ResultFileError(
            f"{directory}: the pre-trained backbone is {config.model_dump()}, but the method is configured "
            f"for {expect.model_dump()}; pre-train with the same backbone block"
        )
    from poseboard.io import load_tensors

    state = load_tensors(Path(directory) / BACKBONE_WEIGHTS_FILE, "backbone weights")
    return config, record, state


def load_backbone(directory: str | Path, expect: BackboneConfig | None = None) -> Backbone:
    """The backbone saved in ``directory`` by :func:`save_backbone`, on the CPU (move it with
    ``.to``); with ``expect``, its architecture must match (a method configured for another
    backbone is an error)."""
    config, _, state = _read_backbone(directory, expect)
    with torch.device("cpu"):
        net = Backbone(expect or config)  # expect may differ in the layout alone
    net.load_state_dict(state)
    return net


def init_from_pretrained(backbone: Backbone, directory: str | Path | None) -> dict[str, Any]:
    """Copy the weights of the pre-trained backbone in ``directory`` into ``backbone`` (whose
    architecture must match), wherever ``backbone`` lives (the file is read onto the CPU and
    copied); returns the saved training record (``{}`` if ``directory`` is None, which leaves
    the random initialisation — tests and ablations only)."""
    if directory is None:
        return {}
    _, record, state = _read_backbone(directory, backbone.config)
    backbone.load_state_dict(state)
    return record.get("info", {})
