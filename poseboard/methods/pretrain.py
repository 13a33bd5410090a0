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
(deterministic and resumable): horizontal flips with left/right swapped (``flip``), random
zoom, rotation and shift (``augment_*``, one affine map per crop, joints moved alike) and a
colour gain/offset. Off in the ``default`` profile: the small backbone fits the five
training subjects (1.6 px) better than the test subjects (median 2.2 px, 7 % of visible
joints off by more than 10 px), but at the default's 3000 steps augmentation (zoom 0.25,
rotation 30°, shift 0.05, colour 0.2) only traded errors (test: 5 % instead of 7 % gross
errors on visible joints, 15 % instead of 11 % on occluded ones; RANSAC 62.0 vs 60.8 mm
absolute, 68.5 vs 71.2 mm relative), so it stays an option for longer runs.

The result is a folder (``save_backbone``) with ``backbone.json`` (architecture, training
record) and ``backbone.pt`` (weights), plus the run's ``checkpoint.pt``.

Example:
    >>> cfg = PretrainConfig.preset("smoke")  # doctest: +SKIP
    >>> pretrain_backbone(cfg, "data/synth-h36m/train", "checkpoints/backbone")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from poseboard.datasets.torch_dataset import normalize_images
from poseboard.device import to_device
from poseboard.errors import InputError
from poseboard.geometry import hard_argmax_2d, soft_argmax_2d
from poseboard.methods.backbone import Backbone, BackboneConfig, save_backbone
from poseboard.methods.training import TrainConfig, TrainSummary, eval_batches, seeded, train_loop
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
    augment_translate: float = Field(0.0, ge=0, le=0.5, description="random shift, fraction of the crop side")
    augment_colour: float = Field(0.0, ge=0, le=1, description="random per-channel gain 1 ± c and offset ± c")
    heatmap_multiplier: float = Field(100.0, gt=0, description="soft-argmax inverse temperature (validation)")

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
    """Every valid view of every sample of one or more multi-view splits, as single crops.

    Items are dicts: ``image`` (3, S, S) uint8, ``joints_2d`` (J, 2) crop px,
    ``visibility`` (J,) bool.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path]) -> None:
        from poseboard.datasets.storage import MultiViewStore

        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.stores = [MultiViewStore(p) for p in paths]
        index = []
        for s, store in enumerate(self.stores):
            valid = np.asarray(store.view_valid)
            for i, v in zip(*np.nonzero(valid), strict=True):
                index.append((s, int(i), int(v)))
        if not index:
            raise InputError(f"{[str(p) for p in paths]}: no valid views to pre-train on")
        self.index = index
        sizes = {store.image_size for store in self.stores}
        if len(sizes) != 1:
            raise InputError(f"pre-training splits have different crop sizes {sorted(sizes)}")
        self.image_size = sizes.pop()

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> dict[str, Any]:
        s, i, v = self.index[k]
        sample = self.stores[s].sample(i, views=[v])
        return {"image": sample.images[0], "joints_2d": sample.joints_2d[0].astype(np.float32),
                "visibility": sample.visibility[0].astype(bool)}


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
    """Random zoom, rotation and shift of the crops about their centre (one affine map per
    crop, bilinear resampling, zero padding in normalised colour space, i.e. the mean
    colour) with the joints moved alike, then a per-channel colour gain and offset. The
    draws come from ``gen`` on the CPU (the same on every device) and are moved to the
    images' device."""
    n, _, h, w = images.shape
    dtype, device = images.dtype, images.device

    def uniform(*shape: int) -> Tensor:  # U(-1, 1)
        return 2 * to_device(torch.rand(*shape, generator=gen, dtype=dtype, device="cpu"), device) - 1

    if config.augment_scale or config.augment_rotation_deg or config.augment_translate:
        s = 1 + config.augment_scale * uniform(n)
        r = torch.deg2rad(config.augment_rotation_deg * uniform(n))
        shift = config.augment_translate * w * uniform(n, 2)
        cos, sin = torch.cos(r), torch.sin(r)
        A = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2) * s[:, None, None]
        centre = to_device(torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=dtype, device="cpu"), device)
        joints_2d = (joints_2d - centre) @ A.transpose(-1, -2) + centre + shift[:, None]
        # output pixel p samples input pixel A⁻¹ (p − centre − shift) + centre; in the
        # normalised coordinates of grid_sample (align_corners=True) the centre is 0.
        # inv_ex: A (a rotation times a zoom) is invertible; inv's check would wait for a GPU
        A_inv = torch.linalg.inv_ex(A)[0]
        scale = to_device(torch.tensor([2 / (w - 1), 2 / (h - 1)], dtype=dtype, device="cpu"), device)
        theta = torch.cat([A_inv * scale[:, None] / scale[None, :],
                           (-(A_inv @ (shift * scale)[..., None]))], dim=-1)
        grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=True)
        images = torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                                                 align_corners=True)
    if config.augment_colour:
        c = config.augment_colour
        gain = 1 + c * uniform(n, 3, 1, 1)
        offset = c * uniform(n, 3, 1, 1)
        images = images * gain + offset
    return images, joints_2d


def heatmap_loss(pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """Mean over joints of weights × the per-joint mean squared heatmap error (×1000 for
    readable numbers; Adam is scale invariant)."""
    per_joint = (pred - target).square().mean(dim=(-1, -2))
    return 1000.0 * (per_joint * weights).sum() / weights.numel()


# ---------------------------------------------------------------------------- the stage
def pretrain_backbone(
    config: PretrainConfig,
    train: str | Path | Sequence[str | Path],
    out: str | Path,
    val: str | Path | None = None,
    tracker: Any = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    precision: str = "fp32",
) -> tuple[Backbone, TrainSummary]:
    """Pre-train the backbone on the crops of ``train`` split folder(s), resuming from
    ``out/checkpoint.pt``; the result is saved to ``out`` with :func:`save_backbone`.

    ``val`` (a split folder) gives curves of the 2D error (crop px) of the hard and soft
    argmax of the first ``val_samples`` crops; it is never used to choose weights.

    ``device`` (default: the CPU) and ``precision`` (``fp32`` or ``bf16``): where and how it
    trains (:func:`~poseboard.methods.training.train_loop`). The network is built on the CPU
    (the same initial weights whatever the device), every random draw of a step comes from
    the step's CPU generator, and the returned backbone is on ``device``.
    """
    out = Path(out)
    device = torch.device(device) if device is not None else torch.device("cpu")
    dataset = CropDataset(train)
    size = dataset.image_size[0]
    with seeded(config.train.seed), torch.device("cpu"):
        net = Backbone(config.backbone)
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
    )
    info = {
        "stage": "pretrain", "steps": summary.end_step, "seconds_total": round(summary.seconds_total, 1),
        "config": config.model_dump(mode="json"), "train": [str(p) for p in _as_list(train)],
        "val": summary.val, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    from poseboard.methods.distributed import barrier, is_main_process

    if is_main_process():  # under torchrun rank 0 saves; the others wait for it
        save_backbone(out, net, info)
    barrier()
    return net, summary


def _as_list(x: str | Path | Sequence[str | Path]) -> list[str | Path]:
    return [x] if isinstance(x, (str, Path)) else list(x)


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
