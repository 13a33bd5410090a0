"""Start the shared 2D backbone from a user-supplied checkpoint instead of random weights.

Every paper starts its 2D network from ImageNet, then from a pose-pretrained checkpoint
(learnable triangulation: ``pose_resnet_4.5_pixels_human36m.pth``, a PoseResNet-152 trained on
COCO and fine-tuned on MPII and Human3.6M). This module reads such a file, maps its key names
onto :class:`~poseboard.methods.nets.backbone.Backbone`'s and copies the tensors in. Where users get
the files, and their checksums: ``docs/pretrained_weights.md``.

Layouts (``format``; ``auto`` tells them apart by their key names):

* ``torchvision``: an ImageNet ResNet (``conv1``, ``bn1``, ``layer1``…``layer4``, ``fc``).
  The encoder is loaded; ``fc`` is dropped; the deconvolution head and the final layer keep
  their random initialisation.
* ``pose_resnet``: learnable triangulation's ``mvn/models/pose_resnet.py`` (Xiao et al.'s simple
  baseline): the encoder as above plus ``deconv_layers.{0,1,3,4,6,7}`` and ``final_layer``.
  Keys may carry a ``backbone.`` prefix (a whole triangulation model's ``weights.pth``: only
  the ``backbone.*`` tensors are read), and its confidence heads (``alg_confidences``,
  ``vol_confidences``) are dropped. Only the ``style: simple`` blocks (stride on the 3×3
  convolution, as torchvision) fit: a ``caffe``-style file has the same shapes and cannot be
  told apart, so it is the user's to avoid.
* ``poseboard``: a backbone saved by ``poseboard pretrain`` (``backbone.pt``, or its folder).

Any layout may be wrapped in a ``{"state_dict": …}`` or ``{"model": …}`` mapping and carry
DataParallel's ``module.`` prefix. When the file's final layer has another number of joints
than the backbone, that layer is re-initialised (learnable triangulation's ``get_pose_net``
does the same; it keeps the first filters, which assumes the joint orders agree, so here the
whole layer stays random). Anything else that does not fit — a tensor the backbone lacks, a
tensor the file lacks, a shape that differs — refuses the file with an
:class:`~poseboard.errors.InputError` naming the file, the keys and the shapes, and the
architecture the file holds (with the matching backbone preset when there is one).

Files are read with ``torch.load(weights_only=True)`` (:func:`poseboard.io.load_tensors`):
tensors, numbers and strings, never code. ``sha256`` (the whole 64-digit digest, or a prefix
of 8 or more digits, as ``torch.hub`` checks the prefix in torchvision's file names) is
compared with the file before it is read.

Colour order: poseboard feeds RGB crops normalised with ImageNet's RGB statistics. The
reference reads its images with ``cv2.imread`` (BGR) and normalises them with the same
statistics, so a ``pose_resnet`` file was trained on BGR input; ``input_channels: auto``
(``bgr`` for ``pose_resnet``, ``rgb`` otherwise) folds the channel swap into the first
convolution and its batch norm's running mean, so that RGB input reproduces the reference's
first-layer response on BGR input (exactly, away from the zero-padded border).

Example:
    >>> from poseboard.methods.nets.backbone import Backbone, BackboneConfig  # doctest: +SKIP
    >>> net = Backbone(BackboneConfig.preset("paper"))  # doctest: +SKIP
    >>> report = import_weights(net, InitWeights(path="pose_resnet_4.5_pixels_human36m.pth"))  # doctest: +SKIP
    >>> report.format, report.final_layer  # doctest: +SKIP
    ('pose_resnet', 'loaded')
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import Tensor

from poseboard.errors import InputError
from poseboard.methods.nets.backbone import BACKBONE_WEIGHTS_FILE, Backbone, BackboneConfig

WeightsFormat = Literal["auto", "torchvision", "pose_resnet", "poseboard"]
InputChannels = Literal["auto", "rgb", "bgr"]
FORMATS: tuple[str, ...] = ("torchvision", "pose_resnet", "poseboard")

#: Mappings a checkpoint is often wrapped in (trainers' ``{"state_dict": …, "epoch": …}``).
WRAPPER_KEYS: tuple[str, ...] = ("state_dict", "model", "model_state_dict")
#: File tensors each layout drops on purpose (classifier, confidence heads).
DROPPED_PREFIXES: dict[str, tuple[str, ...]] = {
    "torchvision": ("fc.",),
    "pose_resnet": ("alg_confidences.", "vol_confidences."),
    "poseboard": (),
}
#: Backbone parts each layout must provide (the rest keeps its random initialisation).
PROVIDES: dict[str, tuple[str, ...]] = {
    "torchvision": ("stem", "stages"),
    "pose_resnet": ("stem", "stages", "deconv", "final"),
    "poseboard": ("stem", "stages", "deconv", "final"),
}
_HEX = re.compile(r"^[0-9a-f]+$")
_LIST = 8  # keys shown per list in an error


class InitWeights(BaseModel):
    """A checkpoint the backbone starts from (``params.yaml``: ``backbone.<profile>.init``;
    ``poseboard pretrain --init-weights``). A plain string is read as ``path``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="the checkpoint file (or a `poseboard pretrain` output folder)")
    format: WeightsFormat = Field("auto", description="key layout: torchvision, pose_resnet, poseboard or auto")
    sha256: str | None = Field(None, description="expected SHA-256 of the file: 64 hex digits, or a prefix of >= 8")
    input_channels: InputChannels = Field(
        "auto", description="colour order the file was trained on (auto: bgr for pose_resnet, else rgb)")

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, (str, Path)) else value

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digest = value.strip().lower()
        if not (8 <= len(digest) <= 64 and _HEX.match(digest)):
            raise ValueError(f"sha256 must be 8 to 64 hexadecimal digits (a whole digest or its prefix), got {value!r}")
        return digest


@dataclass
class WeightsImport:
    """What :func:`import_weights` did (recorded in ``backbone.json`` under ``info.init``).

    Attributes:
        path: the file read; sha256: its full digest; format: the layout it was read as.
        input_channels: ``rgb`` or ``bgr`` (a BGR file's first convolution was folded to RGB).
        loaded: backbone tensors copied from the file.
        random: backbone parts left at their random initialisation (``deconv``, ``final``).
        final_layer: ``loaded``, ``absent`` or ``reinitialised (…)`` (joint counts differ).
        dropped: file tensors not used, counted by their first name component.
    """

    path: str
    sha256: str
    format: str
    input_channels: str
    loaded: int
    random: list[str] = field(default_factory=list)
    final_layer: str = "absent"
    dropped: dict[str, int] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def init_from_options(path: str | Path | None, fmt: str = "auto", sha256: str | None = None) -> InitWeights:
    """The :class:`InitWeights` of ``--init-weights``, ``--init-format`` and ``--init-sha256``.

    Raises:
        InputError: no path with a format or checksum, an unknown format, a malformed checksum.
    """
    from pydantic import ValidationError

    if path is None:
        raise InputError("--init-format and --init-sha256 need --init-weights PATH")
    try:
        return InitWeights(path=Path(path), format=fmt, sha256=sha256)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        option = {"format": "--init-format", "sha256": "--init-sha256"}.get(str(err["loc"][0]) if err["loc"] else "",
                                                                            "--init-weights")
        raise InputError(f"{option}: {err['msg']}") from None


# ---------------------------------------------------------------------------- the file
def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str | None) -> str:
    """The file's SHA-256; with ``expected`` (a digest or a prefix of >= 8 hex digits) it must match.

    Raises:
        InputError: the file is missing, or its digest does not start with ``expected``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    actual = file_sha256(path)
    if expected is not None and not actual.startswith(expected.strip().lower()):
        raise InputError(f"{path}: SHA-256 is {actual}, expected {expected.strip().lower()}"
                         f"{'…' if len(expected.strip()) < 64 else ''} (a different file, or a corrupted download)")
    return actual


def weights_file(path: str | Path) -> Path:
    """``path``, or ``path/backbone.pt`` when ``path`` is a ``poseboard pretrain`` output folder."""
    path = Path(path)
    return path / BACKBONE_WEIGHTS_FILE if path.is_dir() else path


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a checkpoint, read without unpickling code, unwrapped from a
    ``state_dict``/``model`` mapping and stripped of DataParallel's ``module.`` prefix.

    Raises:
        ResultFileError: the file is not a ``torch.save`` file of tensors (from ``load_tensors``).
        InputError: the file holds something other than a mapping of names to tensors.
    """
    from poseboard.io import load_tensors

    data: Any = load_tensors(path, "weights")
    for _ in range(3):
        if isinstance(data, Mapping) and not _all_tensors(data):
            inner = next((data[k] for k in WRAPPER_KEYS if isinstance(data.get(k), Mapping)), None)
            if inner is None:
                break
            data = inner
    if not isinstance(data, Mapping) or not data:
        raise InputError(f"{path}: expected a state dict (a mapping of names to tensors), got {type(data).__name__}"
                         f"{' (empty)' if isinstance(data, Mapping) else ''}")
    bad = [str(k) for k, v in data.items() if not isinstance(v, Tensor)]
    if bad:
        raise InputError(f"{path}: not a state dict: {len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not "
                         f"tensors, e.g. {_show(bad)} (keys of the wrapper it may be in: {list(WRAPPER_KEYS)})")
    out: dict[str, Tensor] = {}
    for key, value in data.items():
        name = str(key)
        while name.startswith("module."):
            name = name[len("module."):]
        out[name] = value
    return out


def _all_tensors(data: Mapping[Any, Any]) -> bool:
    return all(isinstance(v, Tensor) for v in data.values())


def detect_format(keys: Iterable[str]) -> str:
    """The layout of a state dict's keys (after ``module.`` is stripped): ``pose_resnet`` (any
    ``backbone.``, ``deconv_layers.`` or ``final_layer.`` key), ``poseboard`` (``stem.``,
    ``stages.``), ``torchvision`` (``conv1.weight`` and ``layer1.…``), else an InputError."""
    keys = list(keys)
    if any(k.startswith(("backbone.", "deconv_layers.", "final_layer.")) for k in keys):
        return "pose_resnet"
    if any(k.startswith(("stem.", "stages.")) for k in keys):
        return "poseboard"
    if "conv1.weight" in keys and any(k.startswith("layer1.") for k in keys):
        return "torchvision"
    raise InputError(f"unrecognised weights layout (keys such as {_show(sorted(keys))}); expected torchvision "
                     "ResNet keys (conv1, bn1, layer1…4), learnable triangulation's pose_resnet keys "
                     "(backbone.conv1…, deconv_layers, final_layer) or a poseboard backbone (stem, stages)")


# ---------------------------------------------------------------------------- key mapping
_LAYER = re.compile(r"^layer([1-4])\.(\d+)\.(.+)$")
_DECONV = re.compile(r"^deconv_layers\.(\d+)\.(.+)$")


def backbone_key(name: str, fmt: str) -> str | None:
    """The :class:`Backbone` state-dict key of file tensor ``name`` in layout ``fmt``
    (``backbone.`` already removed), or None when the name has no counterpart.

    Example:
        >>> backbone_key("layer3.35.downsample.1.running_var", "torchvision")
        'stages.2.35.downsample.1.running_var'
        >>> backbone_key("deconv_layers.4.weight", "pose_resnet"), backbone_key("final_layer.bias", "pose_resnet")
        ('deconv.4.weight', 'final.bias')
    """
    if fmt == "poseboard":
        return name
    if name.startswith("conv1."):
        return "stem.0." + name[len("conv1."):]
    if name.startswith("bn1."):
        return "stem.1." + name[len("bn1."):]
    if m := _LAYER.match(name):
        return f"stages.{int(m[1]) - 1}.{m[2]}.{m[3]}"
    if fmt == "pose_resnet":
        if m := _DECONV.match(name):
            return f"deconv.{m[1]}.{m[2]}"
        if name.startswith("final_layer."):
            return "final." + name[len("final_layer."):]
    return None


def infer_architecture(state: Mapping[str, Tensor], fmt: str) -> dict[str, Any]:
    """The :class:`BackboneConfig` fields a state dict's shapes imply (those it shows: a
    torchvision file has no head), for error messages."""
    mapped = {k: v for name, v in state.items() if (k := backbone_key(name, fmt)) is not None}
    arch: dict[str, Any] = {}
    if "stem.0.weight" in mapped:
        arch["stem_width"] = int(mapped["stem.0.weight"].shape[0])
    depths, widths = [], []
    for s in range(4):
        blocks = {int(k.split(".")[2]) for k in mapped if k.startswith(f"stages.{s}.")}
        depths.append(len(blocks))
        w = mapped.get(f"stages.{s}.0.conv1.weight")
        widths.append(int(w.shape[0]) if w is not None else 0)
    if any(depths):
        arch["block"] = "bottleneck" if "stages.0.0.conv3.weight" in mapped else "basic"
        arch["widths"], arch["depths"] = tuple(widths), tuple(depths)
    deconv = [int(mapped[f"deconv.{3 * i}.weight"].shape[1]) for i in range(3) if f"deconv.{3 * i}.weight" in mapped]
    if deconv:
        arch["deconv_channels"] = tuple(deconv)
    if "final.weight" in mapped:
        arch["num_joints"] = int(mapped["final.weight"].shape[0])
    return arch


def matching_preset(arch: Mapping[str, Any]) -> str | None:
    """The backbone preset whose encoder (and head, where ``arch`` has one) ``arch`` matches."""
    if "depths" not in arch:
        return None
    keys = ("block", "stem_width", "widths", "depths", "deconv_channels")
    for name in ("smoke", "default", "paper", "resnet50"):
        preset = BackboneConfig.preset(name)
        if all(getattr(preset, k) == arch[k] for k in keys if k in arch):
            return name
    return None


def _describe(arch: Mapping[str, Any]) -> str:
    parts = [f"{k}={arch[k]}" for k in ("block", "stem_width", "widths", "depths", "deconv_channels", "num_joints")
             if k in arch]
    preset = matching_preset(arch)
    return ", ".join(parts) + (f" (backbone preset {preset!r})" if preset else "")


def _show(keys: list[str]) -> str:
    head = ", ".join(keys[:_LIST])
    return f"[{head}{', …' if len(keys) > _LIST else ''}] ({len(keys)} in all)" if len(keys) > _LIST else f"[{head}]"


# ---------------------------------------------------------------------------- colour order
def fold_bgr_stem(conv_weight: Tensor, bn_running_mean: Tensor, mean: tuple[float, float, float],
                  std: tuple[float, float, float]) -> tuple[Tensor, Tensor]:
    """The first convolution's weights and its batch norm's running mean, changed so that RGB
    input normalised per channel by ``mean``/``std`` gives the response the originals give to
    BGR input normalised by the same ``mean``/``std`` (the reference's ``cv2.imread`` input).

    With z_our[k] = (rgb[k] − mean[k]) / std[k] and z_ref[c] = (rgb[2−c] − mean[c]) / std[c]:
    z_ref[c] = z_our[2−c]·std[2−c]/std[c] + (mean[2−c] − mean[c])/std[c]. The scale goes into
    the weights (input channel k takes filter 2−k); the constant gives every output channel a
    constant offset (exact away from the zero-padded border), which the batch norm's running
    mean absorbs (in training mode, batch statistics absorb it anyway).

    Args:
        conv_weight: (C, 3, k, k) the stem convolution (no bias).
        bn_running_mean: (C,) the following batch norm's running mean.
        mean, std: per-channel normalisation, RGB order (ImageNet's), units of pixel/255.

    Returns:
        (C, 3, k, k) weights for RGB input, (C,) running mean; the inputs' dtype and device.
    """
    w = conv_weight.to(torch.float64)
    m = torch.tensor(mean, dtype=torch.float64, device=w.device)
    s = torch.tensor(std, dtype=torch.float64, device=w.device)
    flip = [2, 1, 0]
    scale = s / s[flip]  # input k of ours feeds filter c = 2 − k: weight × std[k] / std[2 − k]
    new_w = w[:, flip] * scale[None, :, None, None]
    offset = (m[flip] - m) / s  # per reference channel c
    shift = (w * offset[None, :, None, None]).sum(dim=(1, 2, 3))
    new_mean = bn_running_mean.to(torch.float64) - shift
    return new_w.to(conv_weight.dtype), new_mean.to(bn_running_mean.dtype)


# ---------------------------------------------------------------------------- loading
def import_weights(backbone: Backbone, init: InitWeights | str | Path) -> WeightsImport:
    """Copy the tensors of checkpoint ``init`` into ``backbone`` (in place, wherever it lives).

    Args:
        backbone: the network to initialise; its architecture must be the file's (the final
            layer's joint count may differ: that layer is then left at its random initialisation).
        init: the file, its layout, expected SHA-256 and colour order (a path: all ``auto``).

    Returns:
        What was loaded, left random and dropped (:class:`WeightsImport`).

    Raises:
        InputError: missing file, checksum mismatch, unrecognised layout, or tensors that do not
            fit (the message lists the keys missing on either side and the shapes that differ).
        ResultFileError: the file is not a ``torch.save`` file readable without pickle.
    """
    init = init if isinstance(init, InitWeights) else InitWeights.model_validate(init)
    path = weights_file(init.path)
    digest = verify_sha256(path, init.sha256)
    state = read_state_dict(path)
    fmt = detect_format(state) if init.format == "auto" else init.format
    dropped: Counter[str] = Counter()
    if fmt == "pose_resnet" and any(k.startswith("backbone.") for k in state):
        for k in state:
            if not k.startswith("backbone."):
                dropped[k.split(".", 1)[0]] += 1
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    target = backbone.state_dict()
    provides = PROVIDES[fmt]
    mapped: dict[str, Tensor] = {}
    unexpected: list[str] = []
    for name, tensor in state.items():
        if name.startswith(DROPPED_PREFIXES[fmt]):
            dropped[name.split(".", 1)[0]] += 1
            continue
        key = backbone_key(name, fmt)
        if key is None or key not in target or key.split(".", 1)[0] not in provides:
            unexpected.append(name)
        else:
            mapped[key] = tensor
    names = {key: name for name in state if (key := backbone_key(name, fmt)) is not None}
    final_layer = "absent"
    if "final" in provides and "final.weight" in mapped:
        file_j, want_j = int(mapped["final.weight"].shape[0]), backbone.config.num_joints
        if file_j != want_j and mapped["final.weight"].shape[1:] == target["final.weight"].shape[1:]:
            final_layer = f"reinitialised (file: {file_j} joints, backbone: {want_j})"
            mapped.pop("final.weight")
            if "final.bias" in mapped and mapped["final.bias"].shape == (file_j,):
                mapped.pop("final.bias")
        else:
            final_layer = "loaded"
    required = [k for k in target if k.split(".", 1)[0] in provides and not k.endswith("num_batches_tracked")
                and not (final_layer.startswith("reinitialised") and k.startswith("final."))]
    missing = [k for k in required if k not in mapped]
    shapes = [f"{names.get(k, k)}: file {tuple(v.shape)} vs backbone {tuple(target[k].shape)}"
              for k, v in mapped.items() if v.shape != target[k].shape]
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"missing from the file: {_show([_file_name(k, fmt) for k in missing])}")
        if unexpected:
            problems.append(f"not in the backbone: {_show(sorted(unexpected))}")
        if shapes:
            problems.append(f"shapes differ: {_show(shapes)}")
        arch, ours = infer_architecture(state, fmt), backbone.config.model_dump()
        same = all(arch[k] == ours[k] for k in arch if k != "num_joints")
        hint = ("the file is incomplete or damaged" if same and arch else
                "choose the backbone preset the file was trained with"
                + ("" if init.format == "auto" else ", or another format"))
        raise InputError(
            f"{path}: {fmt} weights do not fit the backbone; " + "; ".join(problems)
            + f". The file holds {_describe(arch) or 'no ResNet encoder'}; the backbone is {_describe(ours)}: {hint}."
        )
    channels = init.input_channels if init.input_channels != "auto" else ("bgr" if fmt == "pose_resnet" else "rgb")
    if channels == "bgr":
        from poseboard.datasets.torch_dataset import IMAGENET_MEAN, IMAGENET_STD

        mapped["stem.0.weight"], mapped["stem.1.running_mean"] = fold_bgr_stem(
            mapped["stem.0.weight"], mapped["stem.1.running_mean"], IMAGENET_MEAN, IMAGENET_STD)
    new_state = dict(target)
    for key, tensor in mapped.items():
        new_state[key] = tensor.to(dtype=target[key].dtype)
    backbone.load_state_dict(new_state)  # copies into the parameters, on their device
    random = [p for p in ("stem", "stages", "deconv", "final") if p not in provides]
    if final_layer.startswith("reinitialised") and "final" not in random:
        random.append("final")
    return WeightsImport(path=str(path), sha256=digest, format=fmt, input_channels=channels,
                         loaded=len(mapped), random=random, final_layer=final_layer, dropped=dict(dropped))


def _file_name(key: str, fmt: str) -> str:
    """The file's name for backbone key ``key`` (inverse of :func:`backbone_key`), for messages."""
    if fmt == "poseboard":
        return key
    part, _, rest = key.partition(".")
    if part == "stem":
        return ("conv1." if rest.startswith("0.") else "bn1.") + rest[2:]
    if part == "stages":
        stage, _, tail = rest.partition(".")
        return f"layer{int(stage) + 1}.{tail}"
    if part == "deconv":
        return "deconv_layers." + rest
    return "final_layer." + rest


__all__ = ["FORMATS", "InitWeights", "WeightsImport", "backbone_key", "detect_format", "file_sha256",
           "fold_bgr_stem", "import_weights", "infer_architecture", "init_from_options", "matching_preset",
           "read_state_dict", "verify_sha256"]


def init_from_weights(backbone: Backbone, init: Any) -> dict[str, Any]:
    """Copy a user-supplied checkpoint into ``backbone``: torchvision ImageNet ResNet weights
    (encoder only), learnable triangulation's ``pose_resnet`` checkpoint (encoder, head and final
    layer, re-initialised when its joint count differs) or a poseboard backbone file.

    ``init``: an :class:`InitWeights` (or a path: format, colour
    order auto, no checksum). Returns what was done as a JSON-ready record; a file that does not
    fit raises an :class:`~poseboard.errors.InputError` naming the keys and shapes
    (:func:`import_weights`)."""
    return import_weights(backbone, init).as_record()
