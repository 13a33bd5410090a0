"""Pre-training of the shared 2D backbone on the synthetic crops (the stage every learned
method starts from, as learnable triangulation starts from a PoseResNet trained on
COCO + MPII + Human3.6M).

Each view of each training sample is one example: the crop, and a Gaussian heatmap per
joint centred on its ground-truth 2D position (cell coordinates = crop pixels / stride,
cell i at pixel stride·i, the convention the soft-argmax uses). The loss is the per-joint
mean squared error between predicted and target heatmaps, weighted per joint: 1 for a
visible joint, ``occluded_weight`` for an occluded one inside the crop (its position is
known, and a detector must guess it, as on Human3.6M whose labels cover occluded joints),
0 for a joint outside the crop. Augmentation, drawn per step from the step's generator
(deterministic and resumable): horizontal flips with left/right swapped (``flip``) and a
random zoom and rotation (``augment_scale``, ``augment_rotation_deg``: one affine map per crop,
joints moved alike), which the ``paper`` profile uses (zoom 0.35, rotation 40°). Off in the
other profiles: the small backbone fits the five training subjects (1.6 px) better than the
test subjects (median 2.2 px, 7 % of visible joints off by more than 10 px), but at the
default's 3000 steps augmentation (zoom 0.25, rotation 30°, shift 0.05, colour 0.2) only traded
errors (test: 5 % instead of 7 % gross errors on visible joints, 15 % instead of 11 % on
occluded ones; RANSAC 62.0 vs 60.8 mm absolute, 68.5 vs 71.2 mm relative). The shift and
colour augmentations, which no profile used, were removed in issue 67 (their code: a3dea29).

Where it starts and what it reads: random weights by default; ``init`` (``--init-weights``) starts
from a published checkpoint instead — torchvision's ImageNet ResNets or learnable triangulation's
``pose_resnet`` (:mod:`poseboard.methods.nets.weights_import`, ``docs/pretrained_weights.md``). The crops
come from generated splits or, as the papers fine-tune, from a real multi-view dataset
(:func:`crop_source`: Human3.6M's or Panoptic's ground-truth boxes, ``crop_size`` px).

The result is a folder (``save_backbone``) with ``backbone.json`` (architecture, training
record) and ``backbone.pt`` (weights), plus the run's ``checkpoint.pt``. An interrupted run
resumes from its last saved state (:func:`~poseboard.methods.train.loop.train_loop`: every
``checkpoint_every`` steps or ``checkpoint_seconds``; under ``dvc repro`` kept outside the
stage's outputs, :func:`~poseboard.methods.train.loop.resume_file`), with the same final weights.

Example:
    >>> cfg = PretrainConfig.preset("smoke")  # doctest: +SKIP
    >>> pretrain_backbone(cfg, "data/synth-h36m/train", "checkpoints/backbone")  # doctest: +SKIP
    >>> h36m = crop_source("human36m", "train", real_data="params.yaml", crop_size=256)  # doctest: +SKIP
    >>> cfg = cfg.model_copy(update={"init": InitWeights(path="pose_resnet_4.5_pixels_human36m.pth")})  # doctest: +SKIP
    >>> pretrain_backbone(cfg, h36m, "checkpoints/backbone-h36m")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from poseboard.datasets.torch_dataset import normalize_images
from poseboard.device import PrecisionSpelling, describe_device, to_device
from poseboard.errors import InputError
from poseboard.geometry import hard_argmax_2d, soft_argmax_2d
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, save_backbone
from poseboard.methods.nets.weights_import import InitWeights
from poseboard.methods.train.loop import TrainConfig, TrainSummary, eval_batches, seeded, train_loop
from poseboard.skeleton import H36M17


class PretrainConfig(BaseModel):
    """Hyper-parameters of the backbone pre-training stage (``params.yaml``: ``pretrain``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-3, batch_size=32, steps=2000))
    sigma: float = Field(1.5, gt=0, description="Gaussian target's standard deviation, heatmap cells")
    occluded_weight: float = Field(0.5, ge=0, le=1, description="loss weight of occluded joints inside the crop")
    flip: bool = Field(True, description="random horizontal flips with left/right swapped")
    augment_scale: float = Field(0.0, ge=0, lt=1, description="random zoom factor in [1 - a, 1 + a]")
    augment_rotation_deg: float = Field(0.0, ge=0, le=180, description="random in-plane rotation in ±r degrees")
    heatmap_multiplier: float = Field(100.0, gt=0, description="soft-argmax inverse temperature (validation)")
    init: InitWeights | None = Field(
        None, description="checkpoint to start from (torchvision / pose_resnet / poseboard); None: random weights")
    crop_size: int | None = Field(
        None, ge=32, multiple_of=32,
        description="side of the square crops read from a real dataset, px (None: the loader's, 384 for Human3.6M)")
    precision: PrecisionSpelling | None = Field(
        None, description="what the pre-training computes in (the methods keep the profile's): fp32, bf16, or "
        "auto (bf16 where the device computes it in hardware, else fp32; poseboard.device.resolve_precision); "
        "None: the profile's. `pretrain --precision` comes first. Recorded in backbone.json (info.precision)")

    @classmethod
    def preset(cls, profile: str) -> PretrainConfig:
        if profile == "smoke":
            return cls(backbone=BackboneConfig.preset("smoke"),
                       train=TrainConfig(steps=150, batch_size=16, lr=2e-3, schedule="cosine", warmup_steps=10,
                                         checkpoint_every=50, log_every=10, val_samples=32))
        if profile == "default":
            return cls(backbone=BackboneConfig.preset("default"),
                       train=TrainConfig(steps=3000, batch_size=32, lr=1e-3, schedule="cosine", warmup_steps=200,
                                         weight_decay=1e-4, checkpoint_every=250, log_every=25, val_every=1000,
                                         val_samples=128))
        if profile == "gpu":  # one GPU: ResNet-50 class, 640k crops (issue 20's measured recipe: 5000 × 128)
            return cls(backbone=BackboneConfig.preset("resnet50"),
                       train=TrainConfig(steps=5000, batch_size=128, lr=1e-3, schedule="cosine", warmup_steps=200,
                                         weight_decay=1e-4, checkpoint_every=1000, log_every=50, val_every=1000,
                                         val_samples=512, num_workers=8))
        if profile == "paper":
            return cls(backbone=BackboneConfig.preset("paper"), augment_scale=0.35, augment_rotation_deg=40.0,
                       train=TrainConfig(steps=140_000, batch_size=32, lr=1e-3, schedule="step",
                                         step_milestones=(0.64, 0.86), checkpoint_every=2000, log_every=100,
                                         val_every=5000, val_samples=512))
        raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")


# ---------------------------------------------------------------------------- data
class CropDataset(torch.utils.data.Dataset):
    """Every valid view of every sample of one or more multi-view sources, as single crops.

    A source is a generated split folder (``poseboard generate``) or a real multi-view dataset
    (map-style, items :class:`~poseboard.samples.MultiViewSample`, an ``image_size`` attribute:
    :class:`~poseboard.datasets.real.human36m.Human36MMultiView`,
    :class:`~poseboard.datasets.real.panoptic.PanopticMultiView`; see :func:`crop_source`). All
    sources must have the same square crop size.

    Items are dicts: ``image`` (3, S, S) uint8, ``joints_2d`` (J, 2) crop px,
    ``visibility`` (J,) bool.
    """

    def __init__(self, sources: Any) -> None:
        if isinstance(sources, (str, Path)) or not isinstance(sources, Sequence):
            sources = [sources]
        self.parts: list[_StoreViews | _DatasetViews] = [
            _StoreViews(s) if isinstance(s, (str, Path)) else _DatasetViews(s) for s in sources]
        chunks = []
        for p, part in enumerate(self.parts):
            i, v = np.nonzero(part.valid)
            chunks.append(np.stack([np.full_like(i, p), i, v], axis=1))
        self.index = np.concatenate(chunks).astype(np.int64) if chunks else np.zeros((0, 3), np.int64)
        if not len(self.index):
            raise InputError(f"{[part.name for part in self.parts]}: no valid views to pre-train on")
        sizes = {part.image_size for part in self.parts}
        if len(sizes) != 1:
            raise InputError(f"pre-training sources have different crop sizes {sorted(sizes)} (width, height)")
        self.image_size = sizes.pop()
        if self.image_size[0] != self.image_size[1]:
            raise InputError(f"{[part.name for part in self.parts]}: crops are {self.image_size[0]}×"
                             f"{self.image_size[1]} px; pre-training needs square crops")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> dict[str, Any]:
        p, i, v = (int(x) for x in self.index[k])
        sample, view = self.parts[p].view(i, v)
        return {"image": sample.images[view], "joints_2d": sample.joints_2d[view].astype(np.float32),
                "visibility": sample.visibility[view].astype(bool)}

    def describe(self) -> list[str]:
        """One line per source (recorded in ``backbone.json``)."""
        return [part.name for part in self.parts]


class _StoreViews:
    """A generated split folder: its ``view_valid`` table, one view read at a time."""

    def __init__(self, path: str | Path) -> None:
        from poseboard.datasets.storage import MultiViewStore

        self.store = MultiViewStore(path)
        self.name = str(path)
        self.valid = np.asarray(self.store.view_valid, dtype=bool)  # (N, V)
        self.image_size = tuple(int(x) for x in self.store.image_size)

    def view(self, i: int, v: int) -> tuple[Any, int]:
        return self.store.sample(i, views=[v]), 0


class _DatasetViews:
    """A real multi-view dataset: which views are valid (Human3.6M: from its boxes, without
    reading an image), and one view read at a time (a copy of the dataset restricted to that
    camera, sharing its labels; another dataset type reads the whole sample)."""

    def __init__(self, dataset: Any) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__") and hasattr(dataset, "image_size")):
            raise InputError(f"{type(dataset).__name__}: not a multi-view dataset (len, [i] and image_size) nor a "
                             "split folder")
        self.dataset = dataset
        self.name = (f"{type(dataset).__name__}(split={getattr(dataset, 'split', None)!r}, "
                     f"samples={len(dataset)}, image_size={tuple(dataset.image_size)})")
        self.image_size = tuple(int(x) for x in dataset.image_size)
        self.valid = _view_validity(dataset)
        self._single: dict[int, Any] = {}

    def view(self, i: int, v: int) -> tuple[Any, int]:
        if v not in self._single:
            self._single[v] = _one_camera(self.dataset, v)
        single = self._single[v]
        if single is None:
            return self.dataset[i], v
        return single[i], 0


def _view_validity(dataset: Any) -> np.ndarray:
    """(N, V) bool: which views of each sample hold the person (Human3.6M: a non-zero box;
    otherwise every sample is read once without images and its ``view_valid`` kept)."""
    labels, cams = getattr(dataset, "labels", None), getattr(dataset, "camera_indices", None)
    if labels is not None and cams is not None and hasattr(labels, "bbox_tlbr"):  # Human3.6M
        rows = dataset.meta["row"].to_numpy()
        return np.asarray(labels.bbox_tlbr)[rows][:, list(cams)].any(-1)
    quick = copy.copy(dataset)
    if hasattr(quick, "load_images"):
        quick.load_images = False
    flags = []
    for i in range(len(quick)):
        sample = quick[i]
        n = len(sample.cameras)
        flags.append(np.ones(n, bool) if sample.view_valid is None else np.asarray(sample.view_valid, bool))
    width = max((len(f) for f in flags), default=0)
    out = np.zeros((len(flags), width), dtype=bool)
    for i, f in enumerate(flags):
        out[i, :len(f)] = f
    return out


def _one_camera(dataset: Any, v: int) -> Any:
    """A shallow copy of ``dataset`` that returns only its ``v``-th view (the loaders' own
    camera selection: Human3.6M ``camera_indices``, Panoptic ``cameras``), or None."""
    if getattr(dataset, "camera_indices", None) is not None:
        single = copy.copy(dataset)
        single.camera_indices = [dataset.camera_indices[v]]
        return single
    if hasattr(dataset, "cameras") and callable(getattr(dataset, "camera_names", None)):  # Panoptic
        single = copy.copy(dataset)
        single.cameras = [v if dataset.cameras is None else dataset.cameras[v]]
        return single
    return None


def crop_source(dataset: str, split: str, *, data_dir: str | Path = "data", real_data: Any = None,
                crop_size: int | None = None) -> Any:
    """What :class:`CropDataset` reads for ``dataset``'s ``split``: a generated split folder
    (``<data_dir>/<dataset>/<split>``, returned as a path), or a real multi-view dataset
    located through ``real_data`` (a ``params.yaml``, its ``real_data`` block or a
    :class:`~poseboard.datasets.real.config.RealDataConfig`; see
    :func:`~poseboard.datasets.sources.locate`): ``human36m`` (ground-truth boxes, as
    learnable triangulation crops) or ``panoptic``, with ``crop_size`` × ``crop_size`` px crops
    (None: the loader's default, 384).

    Raises:
        InputError: a real dataset with no path set, or MuPoTS-3D (single-view test set).
        DatasetLayoutError: a real dataset's folder or label file is missing or broken.
    """
    from poseboard.datasets.real.config import DATASET_NAMES

    if dataset not in DATASET_NAMES:
        return Path(data_dir) / dataset / split
    if dataset == "mupots":
        raise InputError("mupots is a single-view test set (MuPoTS-3D); pre-train on human36m or panoptic")
    from poseboard.datasets.sources import locate

    source = locate(dataset, split, real_data, data_dir=data_dir)
    size = {} if crop_size is None else {"image_size": (int(crop_size), int(crop_size))}
    if dataset == "human36m":
        from poseboard.datasets.real.human36m import Human36MMultiView

        return Human36MMultiView(source.path, split, trust_pickle=source.config.trust_pickle,
                                 image_root=source.config.h36m_image_root, **size)
    from poseboard.datasets.real.panoptic import PanopticMultiView

    return PanopticMultiView(source.path, split, **size)


def collate_crops(items: Sequence[dict[str, Any]]) -> dict[str, Tensor]:
    return {
        "images": normalize_images(np.stack([it["image"] for it in items])),
        "joints_2d": torch.from_numpy(np.stack([it["joints_2d"] for it in items])),
        "visibility": torch.from_numpy(np.stack([it["visibility"] for it in items])),
    }


# ---------------------------------------------------------------------------- targets and loss
def gaussian_heatmaps(points: Tensor, size: tuple[int, int], sigma: float) -> Tensor:
    """Unit-peak Gaussians at ``points`` (..., J, 2) in heatmap cells (x = column, y = row)
    → (..., J, H, W), on the points' device."""
    h, w = size
    xs = torch.arange(w, dtype=points.dtype, device=points.device)
    ys = torch.arange(h, dtype=points.dtype, device=points.device)
    gx = torch.exp(-((xs - points[..., 0:1]) ** 2) / (2 * sigma**2))  # (..., J, W)
    gy = torch.exp(-((ys - points[..., 1:2]) ** 2) / (2 * sigma**2))  # (..., J, H)
    return gy[..., :, None] * gx[..., None, :]


def joint_weights(joints_2d: Tensor, visibility: Tensor, image_size: int, occluded_weight: float) -> Tensor:
    """(..., J) loss weights: 1 visible, ``occluded_weight`` occluded inside the crop, 0 outside."""
    inside = ((joints_2d >= 0) & (joints_2d <= image_size - 1)).all(-1)
    w = torch.where(visibility, 1.0, occluded_weight)
    return torch.where(inside, w, 0.0)


def flip_batch(images: Tensor, joints_2d: Tensor, visibility: Tensor, mask: Tensor
               ) -> tuple[Tensor, Tensor, Tensor]:
    """Mirror the crops where ``mask`` (N,) is True: image columns reversed, x → S−1−x, and
    left/right joints swapped. ``mask`` may be on the host (a CPU tensor, as the training
    step draws it): the early exit reads it there, and it is moved to the images' device."""
    if not bool(mask.any()):
        return images, joints_2d, visibility
    mask = to_device(mask, images.device)
    size = images.shape[-1]
    perm = to_device(torch.tensor(H36M17.left_right_swap, device="cpu"), images.device)
    flipped_j = joints_2d[:, perm].clone()
    flipped_j[..., 0] = size - 1 - flipped_j[..., 0]
    m = mask[:, None, None, None]
    images = torch.where(m, images.flip(-1), images)
    joints_2d = torch.where(mask[:, None, None], flipped_j, joints_2d)
    visibility = torch.where(mask[:, None], visibility[:, perm], visibility)
    return images, joints_2d, visibility


def augment_batch(images: Tensor, joints_2d: Tensor, config: PretrainConfig, gen: torch.Generator
                  ) -> tuple[Tensor, Tensor]:
    """Random zoom and rotation of the crops about their centre (one affine map per crop,
    bilinear resampling, zero padding in normalised colour space, i.e. the mean colour) with
    the joints moved alike. The draws come from ``gen`` on the CPU (the same on every device)
    and are moved to the images' device."""
    n, _, h, w = images.shape
    dtype, device = images.dtype, images.device

    def uniform(*shape: int) -> Tensor:  # U(-1, 1)
        return 2 * to_device(torch.rand(*shape, generator=gen, dtype=dtype, device="cpu"), device) - 1

    if config.augment_scale or config.augment_rotation_deg:
        s = 1 + config.augment_scale * uniform(n)
        r = torch.deg2rad(config.augment_rotation_deg * uniform(n))
        cos, sin = torch.cos(r), torch.sin(r)
        A = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2) * s[:, None, None]
        centre = to_device(torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=dtype, device="cpu"), device)
        joints_2d = (joints_2d - centre) @ A.transpose(-1, -2) + centre
        # output pixel p samples input pixel A⁻¹ (p − centre) + centre; in the normalised
        # coordinates of grid_sample (align_corners=True) the centre is 0.
        # inv_ex: A (a rotation times a zoom) is invertible; inv's check would wait for a GPU
        A_inv = torch.linalg.inv_ex(A)[0]
        scale = to_device(torch.tensor([2 / (w - 1), 2 / (h - 1)], dtype=dtype, device="cpu"), device)
        theta = torch.cat([A_inv * scale[:, None] / scale[None, :], A_inv.new_zeros(n, 2, 1)], dim=-1)
        grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=True)
        images = torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                                                 align_corners=True)
    return images, joints_2d


def heatmap_loss(pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """Mean over joints of weights × the per-joint mean squared heatmap error (×1000 for
    readable numbers; Adam is scale invariant)."""
    per_joint = (pred - target).square().mean(dim=(-1, -2))
    return 1000.0 * (per_joint * weights).sum() / weights.numel()


# ---------------------------------------------------------------------------- the stage
def pretrain_backbone(
    config: PretrainConfig,
    train: Any,
    out: str | Path,
    val: Any = None,
    tracker: Any = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    precision: str = "fp32",
) -> tuple[Backbone, TrainSummary]:
    """Pre-train the backbone on the crops of ``train`` (split folder(s) or real multi-view
    datasets, :class:`CropDataset`), resuming from its saved state (``out/checkpoint.pt``, or
    :func:`~poseboard.methods.train.loop.resume_file`'s under ``dvc repro``) when that state
    was written for the same config, data and initial weights; the result is saved to ``out``
    with :func:`save_backbone`.

    The network starts from random weights, or from ``config.init`` (a published checkpoint,
    :func:`~poseboard.methods.nets.weights_import.import_weights`; what was loaded is recorded in
    ``backbone.json`` under ``info.init``). ``config.crop_size``, when set, must be the crops'
    size (:func:`crop_source` applies it to real datasets; a generated split has its own).

    ``val`` (a split folder or a dataset) gives curves of the 2D error (crop px) of the hard and soft
    argmax of the first ``val_samples`` crops; it is never used to choose weights.

    ``device`` (default: the CPU) and ``precision`` (``fp32`` or ``bf16``, resolved by the
    caller; ``config.precision`` is its spelling): where and how it trains
    (:func:`~poseboard.methods.train.loop.train_loop`); both are recorded in ``backbone.json``
    (``info.precision``, ``info.device``), and a saved state of another precision is not
    resumed. The network is built on the CPU (the same initial weights whatever the device),
    every random draw of a step comes from the step's CPU generator, and the returned backbone
    is on ``device``.
    """
    out = Path(out)
    device = torch.device(device) if device is not None else torch.device("cpu")
    dataset = CropDataset(train)
    size = dataset.image_size[0]
    if config.crop_size is not None and config.crop_size != size:
        raise InputError(f"pretrain: crop_size is {config.crop_size} px but the training crops are {size} px "
                         f"({dataset.describe()}); crop_size applies to real datasets (crop_source)")
    with seeded(config.train.seed), torch.device("cpu"):
        net = Backbone(config.backbone)
    init_record = None
    if config.init is not None:
        from poseboard.methods.nets.weights_import import import_weights

        init_record = import_weights(net, config.init).as_record()
    stride = config.backbone.heatmap_stride
    hm_size = (size // stride, size // stride)
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim == 1 or name.endswith(".bias") else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.train.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.train.lr,
    )

    def step_fn(batch: dict[str, Tensor], step: int, gen: torch.Generator) -> dict[str, Tensor]:
        images, joints, vis = batch["images"], batch["joints_2d"], batch["visibility"]
        if config.flip:
            mask = torch.rand(images.shape[0], generator=gen, device="cpu") < 0.5  # read on the host
            images, joints, vis = flip_batch(images, joints, vis, mask)
        images, joints = augment_batch(images, joints, config, gen)
        target = gaussian_heatmaps(joints / stride, hm_size, config.sigma)
        weights = joint_weights(joints, vis, size, config.occluded_weight)
        pred = net(images).heatmaps
        return {"loss": heatmap_loss(pred, target, weights)}

    val_set = CropDataset(val) if val is not None else None

    def val_fn() -> dict[str, float]:
        assert val_set is not None
        return evaluate_2d(net, val_set, config.train.val_samples, config.heatmap_multiplier)

    summary = train_loop(
        name="pretrain", config=config.train, modules={"backbone": net}, optimizer=optimizer, step_fn=step_fn,
        dataset=dataset, collate=collate_crops, workdir=out, tracker=tracker,
        val_fn=val_fn if val_set is not None else None, progress=progress, device=device, precision=precision,
        identity={**config.model_dump(mode="json", exclude={"train"}), "precision": precision},
    )
    info = {
        "stage": "pretrain", "steps": summary.end_step, "seconds_total": round(summary.seconds_total, 1),
        "precision": precision, "device": describe_device(device, precision),
        "config": config.model_dump(mode="json"), "train": dataset.describe(),
        "val": summary.val, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if init_record is not None:
        info["init"] = init_record
    from poseboard.methods.train.distributed import barrier, is_main_process

    if is_main_process():  # under torchrun rank 0 saves; the others wait for it
        save_backbone(out, net, info)
    barrier()
    return net, summary


@torch.no_grad()
def evaluate_2d(net: Backbone, dataset: CropDataset, limit: int | None, multiplier: float = 100.0,
                batch_size: int = 32) -> dict[str, float]:
    """Mean 2D error (crop px) over visible joints of the hard and soft argmax, computed where
    ``net`` is (batches are moved there)."""
    was_training = net.training
    net.eval()
    size = dataset.image_size[0]
    stride = net.config.heatmap_stride
    device = next(net.parameters()).device
    errs_hard, errs_soft = [], []
    for batch in eval_batches(dataset, batch_size, collate_crops, limit):
        batch = to_device(batch, device)
        hm = net(batch["images"]).heatmaps
        hard = hard_argmax_2d(hm).float() * stride
        soft = soft_argmax_2d(hm, multiplier) * stride
        w = joint_weights(batch["joints_2d"], batch["visibility"], size, 0.0) > 0
        errs_hard.append((hard - batch["joints_2d"]).norm(dim=-1)[w])
        errs_soft.append((soft - batch["joints_2d"]).norm(dim=-1)[w])
    net.train(was_training)
    if not errs_hard:
        return {}
    return {"px_hard": float(torch.cat(errs_hard).mean()), "px_soft": float(torch.cat(errs_soft).mean())}
