"""``rootnet``: camera-distance-aware root localisation (Moon, Chang, Lee, ICCV 2019).

One image, its intrinsics and a person box → the person's root (pelvis) in camera mm.

* **Box** (``process_box``, the reference's ``process_bbox``): clipped to the image, widened
  or heightened to the input aspect (1:1), then enlarged ×1.25 about its centre; the crop is
  that box resampled to ``input_size``² (crop pixel i ↔ image pixel ``x0 + i·w/S``, the
  reference's ``warpAffine``).
* **k** = √(A_real · f_x · f_y / A_box), A_real = 2000 mm × 2000 mm (the reference's
  ``bbox_real`` for Human3.6M and MuPoTS), A_box the processed box's area in image pixels.
  The depth is **Z = γ · k**, γ a scalar from the globally average-pooled bottleneck through
  one linear layer (no activation, as the reference).
* **2D root**: a 1×1 convolution of the shared backbone's deconvolution features to one map,
  a softmax over all cells and the expected (x, y), in output-grid units (input/4); image
  pixels by ``u = x̂ / G · w + x0`` and camera X, Y by back-projection
  ``X = (u − c_x) / f_x · Z`` (the reference's ``pixel2cam``).
* **Loss** (the reference's): ``(|x − x*| + |y − y*| + |Z − Z*|) / 3`` with x, y in grid
  units and Z in mm (so Z dominates), over people whose root is valid.

Deviation, stated: the γ layer's bias starts at 1 (k is already the right depth for an
average-sized person), not 0 as the reference's default init; on a CPU-short schedule that
saves the first few hundred steps of Adam walking γ up from 0.

**Augmentation** (config ``augment``, :mod:`poseboard.methods.rootnet_data`): the reference's
rotation (±2 · 30°, p 0.6), flip (p 0.5) and colour scale (U(0.8, 1.2) per channel) of the
crop, with the 2D root target moved through the same map and k from the window cropped. By
default (``enabled: null``) it is on for a real training set and off for a generated one (the
synthetic scenes are rendered with random appearance already; the committed results were
trained without it); the ``paper`` profile turns it on.

**Real data.** Human3.6M (and CMU Panoptic) train with every present camera of a frame as one
single-person image (:class:`~poseboard.methods.rootnet_data.RealViewPersonDataset`); MuPoTS-3D
is a test set and is refused for training with a message saying what to train on instead.

**Boxes.** ``boxes = "gt"``: the ground-truth person boxes (score 1; MRPE protocols).
``boxes = "detected"``: a deterministic simulated detector (:class:`DetectionNoise`), since
the synthetic world has no trained detector: per ground-truth person a miss with probability
``miss_rate + miss_occluded · (1 − visible fraction)``; otherwise a box whose centre moves by
N(0, ``center_std``) × (w, h) and whose sides scale by exp(N(0, ``scale_std``)), scored
``0.25 + 0.7 · IoU · (0.5 + 0.5 · visible fraction) + N(0, score_std)`` clipped to
[0.01, 0.99]; plus Poisson(``false_positives``) boxes per image at random places with the
people's size range and scores U(0.02, 0.5). Every draw comes from a generator seeded by
(``seed``, crc32(sample id)), so detections do not depend on batching. Detections keep the
index of the person they came from (``person_index``, −1 for false positives), which the
MRPE needs.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.datasets.torch_dataset import collate_scenes, normalize_images
from poseboard.device import autocast, describe_device, synchronize, to_device
from poseboard.errors import InputError, check_shape
from poseboard.geometry import soft_argmax_2d
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.rootnet_data import (
    CropAugmentation,
    RealViewScenes,
    RootNetAugment,
    crop_boxes_affine,
    crop_grid_to_image,
    draw_augmentation,
    image_to_crop_grid,
    is_real_multiview,
    jitter_colour,
    pixel_to_camera,
    real_person_dataset,
    root_inside,
    window_box,
)
from poseboard.methods.train.loop import TrainConfig, seeded, train_loop
from poseboard.samples import Person, Prediction, SampleMeta, SingleViewScene
from poseboard.skeleton import H36M17

MOON_BIBTEX = """@inproceedings{moon2019camera,
  title={Camera Distance-aware Top-down Approach for 3D Multi-person Pose Estimation from a Single RGB Image},
  author={Moon, Gyeongsik and Chang, Ju Yong and Lee, Kyoung Mu},
  booktitle={International Conference on Computer Vision (ICCV)},
  year={2019}
}"""


# ---------------------------------------------------------------------------- geometry
def process_box(box: Tensor, image_size: tuple[int, int], aspect: float = 1.0, enlarge: float = 1.25) -> Tensor:
    """The reference's ``process_bbox``: (..., 4) boxes (left, top, right, bottom), image
    pixels → (..., 4) (x, y, w, h) clipped to the image (width, height), aspect-fixed
    (w/h = ``aspect``) and enlarged ×``enlarge`` about the centre.

    Example:
        >>> process_box(torch.tensor([10.0, 20.0, 30.0, 100.0]), (256, 256))
        tensor([-30.,  10., 100., 100.])
    """
    w_img, h_img = image_size
    x1 = box[..., 0].clamp_min(0)
    y1 = box[..., 1].clamp_min(0)
    # as the reference: the far edge is x1 + width, so a box hanging off the left/top edge
    # is shifted into the image rather than cut
    x2 = torch.minimum(x1 + (box[..., 2] - box[..., 0]).clamp_min(0), torch.full_like(x1, w_img - 1))
    y2 = torch.minimum(y1 + (box[..., 3] - box[..., 1]).clamp_min(0), torch.full_like(y1, h_img - 1))
    w = (x2 - x1).clamp_min(1e-3)
    h = (y2 - y1).clamp_min(1e-3)
    cx, cy = x1 + w / 2, y1 + h / 2
    w, h = torch.where(w > aspect * h, w, h * aspect), torch.where(w > aspect * h, w / aspect, h)
    w, h = w * enlarge, h * enlarge
    return torch.stack([cx - w / 2, cy - h / 2, w, h], dim=-1)


def k_value(K: Tensor, box_xywh: Tensor, area_mm2: float = 2000.0 * 2000.0) -> Tensor:
    """k = √(A_real · f_x · f_y / A_box), mm: the depth at which a person of real area
    ``area_mm2`` fills the processed box. K (..., 3, 3), box (..., 4) (x, y, w, h) image px."""
    fx, fy = K[..., 0, 0], K[..., 1, 1]
    return torch.sqrt(area_mm2 * fx * fy / (box_xywh[..., 2] * box_xywh[..., 3]))


def back_project(xy_grid: Tensor, depth: Tensor, box_xywh: Tensor, K: Tensor, grid_size: int) -> Tensor:
    """Root in camera mm (..., 3) from the 2D root in output-grid units (..., 2), its depth
    Z (...) mm, the processed box (..., 4) and K (..., 3, 3): ``u = x/G · w + x0``,
    ``X = (u − c_x)/f_x · Z`` (the reference's evaluate + ``pixel2cam``)."""
    u = xy_grid[..., 0] / grid_size * box_xywh[..., 2] + box_xywh[..., 0]
    v = xy_grid[..., 1] / grid_size * box_xywh[..., 3] + box_xywh[..., 1]
    x = (u - K[..., 0, 2]) / K[..., 0, 0] * depth
    y = (v - K[..., 1, 2]) / K[..., 1, 1] * depth
    return torch.stack([x, y, depth], dim=-1)


def image_to_grid(uv: Tensor, box_xywh: Tensor, grid_size: int) -> Tensor:
    """Image pixels (..., 2) → output-grid units of the box's crop (the inverse of the first
    step of :func:`back_project`)."""
    return torch.stack([(uv[..., 0] - box_xywh[..., 0]) / box_xywh[..., 2] * grid_size,
                        (uv[..., 1] - box_xywh[..., 1]) / box_xywh[..., 3] * grid_size], dim=-1)


def crop_boxes(images: Tensor, image_index: Tensor, box_xywh: Tensor, size: int) -> Tensor:
    """Crops (N, 3, size, size) of ``images`` (B, 3, H, W) at processed boxes (N, 4): crop
    pixel (i, j) samples image pixel (x0 + j·w/size, y0 + i·h/size), bilinear, zeros outside
    (``align_corners=True`` with pixel centres at integers)."""
    h_img, w_img = images.shape[-2:]
    steps = torch.arange(size, dtype=torch.float64, device=images.device) / size
    u = box_xywh[:, 0:1].double() + steps * box_xywh[:, 2:3].double()  # (N, size)
    v = box_xywh[:, 1:2].double() + steps * box_xywh[:, 3:4].double()
    gx = 2 * u / (w_img - 1) - 1
    gy = 2 * v / (h_img - 1) - 1
    grid = torch.stack([gx[:, None, :].expand(-1, size, -1), gy[:, :, None].expand(-1, -1, size)], dim=-1)
    return F.grid_sample(images[image_index], grid.to(images.dtype), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


# ---------------------------------------------------------------------------- detections
class DetectionNoise(BaseModel):
    """The simulated detector's noise model (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0)
    miss_rate: float = Field(0.03, ge=0, le=1)
    miss_occluded: float = Field(0.3, ge=0, le=1, description="extra miss probability × occluded fraction")
    center_std: float = Field(0.06, ge=0, description="centre jitter, fraction of box size")
    scale_std: float = Field(0.1, ge=0, description="log-normal side scale jitter")
    score_std: float = Field(0.05, ge=0)
    false_positives: float = Field(0.3, ge=0, description="Poisson mean of false boxes per image")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def simulate_detections(people: list[Any], image_size: tuple[int, int], sample_id: str,
                        noise: DetectionNoise) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic noisy "detections" of one image's people.

    Returns boxes (D, 4) (left, top, right, bottom) image px, scores (D,), person_index (D,)
    (the source person, −1 for a false positive), in the order drawn.
    """
    rng = np.random.default_rng([noise.seed, zlib.crc32(str(sample_id).encode())])
    w_img, h_img = image_size
    boxes, scores, index = [], [], []
    heights = []
    for p, person in enumerate(people):
        box = np.asarray(person.box, dtype=np.float64)
        w, h = box[2] - box[0], box[3] - box[1]
        u = rng.random(6)  # always six draws per person, so one person's fate never shifts another's
        z = rng.standard_normal(5)
        if w <= 1 or h <= 1:
            continue
        heights.append(h)
        vis = float(np.mean(np.asarray(person.visibility, dtype=bool)))
        if u[0] < noise.miss_rate + noise.miss_occluded * (1 - vis):
            continue
        cx = (box[0] + box[2]) / 2 + z[0] * noise.center_std * w
        cy = (box[1] + box[3]) / 2 + z[1] * noise.center_std * h
        nw, nh = w * math.exp(z[2] * noise.scale_std), h * math.exp(z[3] * noise.scale_std)
        det = np.array([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2])
        det = np.clip(det, 0, [w_img, h_img, w_img, h_img])
        if det[2] - det[0] < 1 or det[3] - det[1] < 1:
            continue
        score = 0.25 + 0.7 * _iou(det, box) * (0.5 + 0.5 * vis) + z[4] * noise.score_std
        boxes.append(det)
        scores.append(float(np.clip(score, 0.01, 0.99)))
        index.append(p)
    n_fp = int(rng.poisson(noise.false_positives))
    lo, hi = (min(heights), max(heights)) if heights else (0.1 * h_img, 0.5 * h_img)
    for _ in range(n_fp):
        h = rng.uniform(lo, hi)
        w = h * rng.uniform(0.3, 0.6)
        cx, cy = rng.uniform(0, w_img), rng.uniform(0, h_img)
        det = np.clip(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), 0, [w_img, h_img, w_img, h_img])
        if det[2] - det[0] < 1 or det[3] - det[1] < 1:
            continue
        boxes.append(det)
        scores.append(float(rng.uniform(0.02, 0.5)))
        index.append(-1)
    return (np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64),
            np.array(index, dtype=np.int64))


# ---------------------------------------------------------------------------- data
class PersonDataset(torch.utils.data.Dataset):
    """The valid people of a single-view scene dataset, one item per person: the whole
    image (uint8), K, the person's box, root in camera mm and root in image pixels."""

    def __init__(self, scenes: Any) -> None:
        self.scenes = scenes
        store = scenes.store
        self.items: list[tuple[int, int]] = []
        for i in range(len(store)):
            start, count = int(store._start[i]), int(store._count[i])
            for k in range(count):
                box = store.people_boxes[start + k]
                if store.people_valid[start + k] and box[2] - box[0] > 1 and box[3] - box[1] > 1:
                    self.items.append((i, k))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> dict[str, Any]:
        i, k = self.items[n]
        scene = self.scenes[i]
        person = scene.people[k]
        return {"image": scene.image, "K": scene.camera.K, "box": person.box, "root_cam": person.root_cam,
                "root_2d": person.joints_2d[H36M17.root], "image_size": scene.camera.image_size}


def view_person_box(joints_2d: np.ndarray, size: int) -> np.ndarray:
    """The person box of one view of a multi-view frame (no person boxes are stored there):
    the extent of the 2D joints (J, 2) crop px, widened by 10% per side, clipped to the
    ``size``² crop → (4,) (left, top, right, bottom)."""
    lo, hi = joints_2d.min(0), joints_2d.max(0)
    pad = 0.1 * (hi - lo)
    return np.concatenate([np.clip(lo - pad, 0, size), np.clip(hi + pad, 0, size)])


class ViewPersonDataset(torch.utils.data.Dataset):
    """Every valid view of a multi-view dataset as a single-person image (the Human3.6M-like
    single-view setting, "every view treated alone"): the view's crop and crop intrinsics,
    the person's tight box (:func:`view_person_box`), the root in that camera's frame
    (``R X + t``, mm) and in the crop's pixels."""

    def __init__(self, multiview: Any) -> None:
        self.data = multiview
        store = multiview.store
        valid = np.asarray(store.view_valid)
        self.items = [(i, v) for i in range(len(store)) for v in range(store.num_views) if valid[i, v]]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> dict[str, Any]:
        i, v = self.items[n]
        sample = self.data.store.sample(i, views=[v])
        cam = sample.cameras[0]
        size = sample.images.shape[-1]
        j2d = sample.joints_2d[0]
        box = view_person_box(j2d, size)
        root = cam.R @ sample.joints_3d[H36M17.root] + cam.t
        return {"image": sample.images[0], "K": cam.K, "box": box, "root_cam": root, "root_2d": j2d[H36M17.root],
                "image_size": (size, size), "sample_id": sample.meta.sample_id, "view": v,
                "action": sample.meta.action, "subject": sample.meta.subject}


class ViewScenes(torch.utils.data.Dataset):
    """The views a root protocol scores on a multi-view split, each as a single-view scene
    (what :func:`~poseboard.datasets.torch_dataset.collate_scenes` and ``predict`` take):
    the view's crop, its crop camera, one :class:`~poseboard.samples.Person` with the box of
    :class:`ViewPersonDataset` (:func:`view_person_box`) and the root in that camera's
    frame, and the id :func:`~poseboard.datasets.ground_truth.view_sample_id`. The views are
    :func:`~poseboard.datasets.ground_truth.root_views` of ``cameras``, as the ground truth's.

    ``table``: one row per item (``sample_id``, ``subject``, ``action``, ``sequence``,
    ``frame``), what ``select_frames`` reads.
    """

    def __init__(self, multiview: Any, cameras: tuple[int, ...] | list[int] | None = None) -> None:
        import pandas as pd

        from poseboard.datasets.ground_truth import root_views, view_sample_id
        from poseboard.datasets.storage import MultiViewStore

        store = getattr(multiview, "store", None)
        if not isinstance(store, MultiViewStore):
            raise InputError("rootnet: scoring every view alone needs a generated multi-view split "
                             f"(got {type(multiview).__name__})")
        self.store = store
        self.items = root_views(store, cameras)
        table = store.table.reset_index(drop=True)
        rows = table.iloc[[i for i, _ in self.items]].reset_index(drop=True)
        ids = [view_sample_id(str(sid), v) for sid, (_, v) in zip(rows["sample_id"], self.items, strict=True)]
        self.table = pd.DataFrame({"sample_id": ids, "subject": rows["subject"].astype(str),
                                   "action": rows["action"].astype(str), "sequence": rows["sequence"].astype(str),
                                   "frame": rows["frame"].astype("int64")})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> SingleViewScene:
        i, v = self.items[n]
        sample = self.store.sample(i, views=[v])
        cam = sample.cameras[0]
        j2d = sample.joints_2d[0]
        joints_cam = sample.joints_3d @ cam.R.T + cam.t
        root = cam.R @ sample.joints_3d[H36M17.root] + cam.t  # as ViewPersonDataset and the ground truth
        person = Person(box=view_person_box(j2d, sample.images.shape[-1]), root_cam=root,
                        joints_cam=joints_cam, joints_2d=j2d, visibility=sample.visibility[0], valid=True)
        m = sample.meta
        meta = SampleMeta(sample_id=str(self.table.at[n, "sample_id"]), subject=m.subject, action=m.action,
                          sequence=m.sequence, frame=m.frame, scene=m.scene)
        return SingleViewScene(image=sample.images[0], camera=cam, people=[person], meta=meta)


def person_dataset(data: Any) -> torch.utils.data.Dataset:
    """The per-person training set of a generated single-view scene split
    (:class:`PersonDataset`), of a generated multi-view split (:class:`ViewPersonDataset`, every
    view alone), or of a real dataset (:func:`~poseboard.methods.rootnet_data.real_person_dataset`:
    Human3.6M and Panoptic every camera alone; MuPoTS-3D, a test set, is refused)."""
    from poseboard.datasets.storage import MultiViewStore

    store = getattr(data, "store", None)
    if store is None:  # not a generated split: the real loaders keep no store
        return real_person_dataset(data)
    return ViewPersonDataset(data) if isinstance(store, MultiViewStore) else PersonDataset(data)


def view_person_dataset(multiview: Any) -> torch.utils.data.Dataset:
    """Every valid view of a multi-view dataset alone: :class:`ViewPersonDataset` for a
    generated split, :class:`~poseboard.methods.rootnet_data.RealViewPersonDataset` for a real one."""
    if getattr(multiview, "store", None) is None:
        return real_person_dataset(multiview)
    return ViewPersonDataset(multiview)


def is_multiview(data: Any) -> bool:
    """Whether ``data`` is a generated multi-view split or a real multi-view dataset."""
    from poseboard.datasets.storage import MultiViewStore

    return isinstance(getattr(data, "store", None), MultiViewStore) or is_real_multiview(data)


def collate_people(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "images": normalize_images(np.stack([it["image"] for it in items])),
        "K": torch.from_numpy(np.stack([it["K"] for it in items])),
        "boxes": torch.from_numpy(np.stack([np.asarray(it["box"], dtype=np.float64) for it in items])),
        "root_cam": torch.from_numpy(np.stack([it["root_cam"] for it in items])),
        "root_2d": torch.from_numpy(np.stack([it["root_2d"] for it in items])),
        "image_size": items[0]["image_size"],
    }


# ---------------------------------------------------------------------------- the network
class RootNetConfig(BaseModel):
    """Hyper-parameters of RootNet (``params.yaml``: ``methods.rootnet``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    backbone_checkpoint: str | None = Field(None, description="folder of the pre-trained backbone (used by fit)")
    input_size: int = Field(128, ge=32, description="crop side, pixels (multiple of 32); the reference: 256")
    area_mm2: float = Field(2000.0 * 2000.0, gt=0, description="A_real of k, mm² (reference: 2000 × 2000)")
    box_enlarge: float = Field(1.25, ge=1.0, description="processed box enlargement (reference: 1.25)")
    gamma_init: float = Field(1.0, description="initial bias of the γ layer (the reference: 0)")
    boxes: Literal["gt", "detected"] = Field("gt", description="boxes predict uses")
    detection: DetectionNoise = Field(default_factory=DetectionNoise)
    augment: RootNetAugment = Field(default_factory=RootNetAugment,
                                    description="training augmentation (null: on for real data only)")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-3, batch_size=32))

    @classmethod
    def preset(cls, profile: str) -> RootNetConfig:
        if profile == "smoke":
            return cls(backbone=BackboneConfig.preset("smoke"), input_size=64,
                       train=TrainConfig(steps=60, batch_size=8, lr=2e-3, checkpoint_every=20, log_every=5,
                                         val_samples=16))
        if profile == "default":
            return cls(backbone=BackboneConfig.preset("default"), input_size=128,
                       train=TrainConfig(steps=1200, batch_size=16, lr=1e-3, schedule="step",
                                         step_milestones=(0.85,), checkpoint_every=100, log_every=20,
                                         val_samples=64))
        if profile == "gpu":
            return cls(backbone=BackboneConfig.preset("resnet50"), input_size=128,
                       train=TrainConfig(steps=4000, batch_size=64, lr=1e-3, schedule="step",
                                         step_milestones=(0.85,), checkpoint_every=500, log_every=50,
                                         val_samples=256, num_workers=8))
        if profile == "paper":
            return cls(backbone=BackboneConfig.preset("paper"), input_size=256,
                       augment=RootNetAugment(enabled=True),
                       train=TrainConfig(steps=20 * 5000, batch_size=32, lr=1e-3, schedule="step",
                                         step_milestones=(0.85,), checkpoint_every=5000, log_every=100,
                                         val_samples=512))
        raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")


class RootNetNet(nn.Module):
    """Backbone + 2D root head (1×1 conv, softmax, expectation) + depth head (GAP, linear γ)."""

    def __init__(self, config: RootNetConfig) -> None:
        super().__init__()
        if config.input_size % 32:
            raise InputError(f"rootnet: input_size {config.input_size} must be a multiple of 32")
        self.config = config
        self.backbone = Backbone(config.backbone)
        self.xy_head = nn.Conv2d(config.backbone.feature_channels, 1, 1)
        self.gamma = nn.Linear(config.backbone.bottleneck_channels, 1)
        nn.init.normal_(self.xy_head.weight, std=0.001)
        nn.init.zeros_(self.xy_head.bias)
        nn.init.normal_(self.gamma.weight, std=0.001)
        nn.init.constant_(self.gamma.bias, config.gamma_init)

    @property
    def grid_size(self) -> int:
        return self.config.input_size // self.config.backbone.heatmap_stride

    def forward(self, crops: Tensor) -> tuple[Tensor, Tensor]:
        """Crops (N, 3, S, S) → 2D root (N, 2) in grid units and γ (N,)."""
        out = self.backbone(crops)
        xy = soft_argmax_2d(self.xy_head(out.features)[:, 0], multiplier=1.0)
        gamma = self.gamma(out.bottleneck.mean(dim=(-1, -2)))[:, 0]
        return xy, gamma

    def localise(self, images: Tensor, image_index: Tensor, boxes: Tensor, K: Tensor,
                 image_size: tuple[int, int], augment: CropAugmentation | None = None) -> dict[str, Tensor]:
        """Roots (N, 3) camera mm of N boxes (left, top, right, bottom) in ``images`` (B, 3, H, W);
        K (N, 3, 3) of each box's image.

        ``augment`` (training only): crop each box through its affine window and colour scale
        (:mod:`~poseboard.methods.rootnet_data`); k is then the window's, ``xy`` is in the
        augmented crop's grid and the output adds ``affine`` (N, 2, 2). None: the plain crop."""
        c = self.config
        box = process_box(boxes.to(torch.float64), image_size, 1.0, c.box_enlarge)
        if augment is not None:
            return self._localise_augmented(images, image_index, box, K, augment)
        crops = crop_boxes(images, image_index, box, c.input_size)
        xy, gamma = self(crops)
        k = k_value(K.to(torch.float64), box, c.area_mm2)
        depth = gamma.to(torch.float64) * k
        root = back_project(xy.to(torch.float64), depth, box, K.to(torch.float64), self.grid_size)
        return {"root": root, "xy": xy, "gamma": gamma, "k": k, "box": box}

    def _localise_augmented(self, images: Tensor, image_index: Tensor, box: Tensor, K: Tensor,
                            augment: CropAugmentation) -> dict[str, Tensor]:
        """:meth:`localise` through the augmented windows of the processed boxes (N, 4)."""
        c = self.config
        affine = augment.affine.to(torch.float64)
        crops = jitter_colour(crop_boxes_affine(images, image_index, box, affine, c.input_size), augment.colour)
        xy, gamma = self(crops)
        k = k_value(K.to(torch.float64), window_box(box, augment.scale), c.area_mm2)
        depth = gamma.to(torch.float64) * k
        uv = crop_grid_to_image(xy.to(torch.float64), box, affine, self.grid_size)
        root = pixel_to_camera(uv, depth, K.to(torch.float64))
        return {"root": root, "xy": xy, "gamma": gamma, "k": k, "box": box, "affine": affine}


class RootNetMethod(Method):
    """RootNet: a person box → its root in camera mm (Z = γ·k)."""

    name = "rootnet"
    card = MethodCard(
        title="RootNet (camera distance-aware root localisation)",
        paper="Moon et al., ICCV 2019",
        url="https://arxiv.org/abs/1907.11346",
        code_url="https://github.com/mks0601/3DMPPE_ROOTNET_RELEASE",
        bibtex=MOON_BIBTEX,
        description="Per person box (aspect-fixed, ×1.25): a 2D root by soft-argmax and a depth correction γ from "
                    "globally pooled features; Z = γ·k with k = √(A_real·fx·fy / A_box), A_real = 2 m × 2 m; "
                    "X, Y by back-projection. Trained with the reference's L1 loss; boxes are ground truth or a "
                    "simulated detector (config `boxes`).",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=False, multi_view=False, min_views=1, max_views=1,
        multi_person=True, output_frame="camera", outputs=("root",), trainable=True,
    )
    config_model = RootNetConfig
    config: RootNetConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = RootNetNet(self.config).eval()

    def loss(self, out: dict[str, Tensor], root_cam: Tensor, root_2d: Tensor) -> dict[str, Tensor]:
        """The reference's L1: (|x − x*| + |y − y*| + |Z − Z*|) / 3, x, y grid units, Z mm.

        An augmented ``out`` (with ``affine``) moves the 2D target through the crop's map, and
        a person whose root the augmented crop leaves out counts 0 (the reference's ``root_vis``)."""
        if "affine" in out:
            target_xy = image_to_crop_grid(root_2d.to(torch.float64), out["box"], out["affine"], self.net.grid_size)
            vis = root_inside(target_xy, self.net.grid_size)
            l_xy = (out["xy"].to(torch.float64) - target_xy).abs().sum(-1)
            l_z = (out["root"][:, 2] - root_cam[:, 2].to(torch.float64)).abs()
            return {"loss": ((l_xy + l_z) / 3 * vis).mean().float(), "xy_cells": (l_xy / 2).mean().detach(),
                    "z_mm": l_z.mean().detach(), "root_in_crop": vis.mean().detach()}
        target_xy = image_to_grid(root_2d.to(torch.float64), out["box"], self.net.grid_size)
        l_xy = (out["xy"].to(torch.float64) - target_xy).abs().sum(-1)
        l_z = (out["root"][:, 2] - root_cam[:, 2].to(torch.float64)).abs()
        return {"loss": ((l_xy + l_z) / 3).mean().float(), "xy_cells": (l_xy / 2).mean().detach(),
                "z_mm": l_z.mean().detach()}

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Train on the valid people of ``train`` with GT boxes, resuming from
        ``workdir/checkpoint.pt``: a generated single-view scene split (MuPoTS-like), a generated
        multi-view split whose every view is one single-person image (Human3.6M-like: the
        ``rootnet-h36m`` variant), or real Human3.6M / Panoptic (every present camera alone).
        ``val`` (a scene or a multi-view dataset, generated or real) gives MRPE curves. The
        network is built on the CPU (the same initial weights whatever the device) and trained
        on :attr:`device` in :attr:`precision`. Augmentation (``config.augment``; null: on for
        real data) draws from each step's generator; :attr:`augmenting` says what was used.

        Raises:
            InputError: a training set RootNet cannot use (MuPoTS-3D, a test set; a real
                dataset without images or without a present view), naming it and the fix.
        """
        c = self.config
        with seeded(c.train.seed), torch.device("cpu"):
            self.net = RootNetNet(c)
        init_from_pretrained(self.net.backbone, c.backbone_checkpoint)
        people = person_dataset(train)
        if len(people) == 0:
            raise InputError("rootnet: the training set has no valid people")
        self.augmenting = c.augment.active(real=getattr(train, "store", None) is None)
        if tracker is not None:
            tracker.log_params({"augment_active": self.augmenting})
        optimizer = torch.optim.Adam(self.net.parameters(), lr=c.train.lr, weight_decay=c.train.weight_decay)

        def step_fn(batch: dict[str, Any], step: int, gen: torch.Generator) -> dict[str, Tensor]:
            n = batch["images"].shape[0]
            where = batch["images"].device
            augment = draw_augmentation(n, c.augment, gen).to(where) if self.augmenting else None
            out = self.net.localise(batch["images"], torch.arange(n, device=where), batch["boxes"],
                                    batch["K"], batch["image_size"], augment=augment)
            return self.loss(out, batch["root_cam"], batch["root_2d"])

        self.last_summary = train_loop(
            name="rootnet", config=c.train, modules={"net": self.net}, optimizer=optimizer, step_fn=step_fn,
            dataset=people, collate=collate_people, workdir=workdir, tracker=tracker,
            val_fn=(lambda: _val_mrpe(self, val, c.train.val_samples)) if val is not None else None,
            progress=getattr(self, "progress", True), device=self.device, precision=self.precision,
        )

    def boxes_of(self, batch: dict[str, Any], source: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Boxes (N, 4), their image index (N,), score (N,) and person index (N,) for a
        :func:`collate_scenes` batch, on the host (CPU tensors): they come from the batch's
        ``people`` records (or the simulated detector), never from the device."""
        h, w = batch["images"].shape[-2:]
        boxes, index, scores, person = [], [], [], []
        for i, people in enumerate(batch["people"]):
            if source == "gt":
                for p, person_i in enumerate(people):
                    b = np.asarray(person_i.box, dtype=np.float64)
                    if b[2] - b[0] > 1 and b[3] - b[1] > 1:
                        boxes.append(b)
                        index.append(i)
                        scores.append(1.0)
                        person.append(p)
            else:
                sample_id = batch["meta"][i].sample_id if batch.get("meta") else str(i)
                db, ds, dp = simulate_detections(people, (w, h), sample_id, self.config.detection)
                boxes.extend(db)
                index.extend([i] * len(db))
                scores.extend(ds.tolist())
                person.extend(dp.tolist())
        return (torch.as_tensor(np.array(boxes, dtype=np.float64).reshape(-1, 4), device="cpu"),
                torch.as_tensor(index, dtype=torch.int64, device="cpu"),
                torch.as_tensor(scores, dtype=torch.float64, device="cpu"),
                torch.as_tensor(person, dtype=torch.int64, device="cpu"))

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> Prediction:
        """One row per box of every image of a :func:`collate_scenes` batch (ground-truth boxes or
        simulated detections per ``config.boxes``; a batch key ``"box_source"`` overrides it).

        Returns a :class:`Prediction` with ``root`` (N, 3) camera mm (also as ``joints_3d``
        (N, 1, 3)) and ``score`` (N,) on the device of the batch's images, and extras on the
        host: ``image_index`` (N,) (position in the batch), ``sample_ids`` (N,) str,
        ``person_index`` (N,) (−1: a false detection), ``boxes`` (N, 4).
        """
        self.net.eval()
        source = batch.get("box_source", self.config.boxes)
        if source not in ("gt", "detected"):
            raise InputError(f"rootnet: box source must be 'gt' or 'detected', got {source!r}")
        images = batch["images"]
        images = images if isinstance(images, Tensor) else torch.as_tensor(images, device="cpu")
        check_shape(images, ["B", 3, "H", "W"], "rootnet: images")
        device = images.device
        K = torch.as_tensor(batch["K"], device=device).to(torch.float64)
        boxes, index, scores, person = self.boxes_of(batch, source)  # host
        roots = torch.zeros(0, 3, dtype=torch.float64, device=device)
        if len(boxes):
            size = (int(images.shape[-1]), int(images.shape[-2]))
            on_device = to_device(index, device)
            with autocast(self.device, self.precision):
                roots = self.net.localise(images, on_device, to_device(boxes, device), K[on_device], size)["root"]
        meta = batch.get("meta") or []
        ids = np.array([meta[i].sample_id if meta else str(i) for i in index.tolist()], dtype=str)
        return Prediction(joints_3d=roots[:, None].float(), frame="camera", root=roots.float(),
                          score=to_device(scores.float(), device),
                          extras={"image_index": index, "sample_ids": ids, "person_index": person, "boxes": boxes,
                                  "box_source": source})

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.net.eval()


@torch.no_grad()
def evaluate_mrpe(method: RootNetMethod, scenes: Any, limit: int | None, batch_size: int = 8) -> dict[str, float]:
    """MRPE and its x/y/z components (mm) with ground-truth boxes over the valid people of the
    first ``limit`` images (curves only; scoring goes through the protocols). Batches go to
    ``method.device``; each batch's roots come back to the host once."""
    errs = []
    n = len(scenes) if limit is None else min(limit, len(scenes))
    for start in range(0, n, batch_size):
        batch = collate_scenes([scenes[i] for i in range(start, min(n, start + batch_size))])
        pred = method.predict(to_device({**batch, "box_source": "gt"}, method.device))
        roots = pred.root.cpu()
        for row in range(len(roots)):
            person = batch["people"][int(pred.extras["image_index"][row])][int(pred.extras["person_index"][row])]
            if person.valid:
                errs.append((roots[row].double() - torch.as_tensor(person.root_cam, device="cpu")).abs())
    if not errs:
        return {}
    e = torch.stack(errs)
    return {"mrpe": float(e.norm(dim=-1).mean()), "mrpe_x": float(e[:, 0].mean()), "mrpe_y": float(e[:, 1].mean()),
            "mrpe_z": float(e[:, 2].mean())}


def _val_mrpe(method: RootNetMethod, val: Any, limit: int | None) -> dict[str, float]:
    if is_multiview(val):
        return evaluate_view_mrpe(method, val, limit)["overall"]
    return evaluate_mrpe(method, val, limit)


@torch.no_grad()
def evaluate_view_mrpe(method: RootNetMethod, multiview: Any, limit: int | None = None,
                       batch_size: int = 32) -> dict[str, Any]:
    """MRPE (mm, with x/y/z) of every valid view of a multi-view dataset treated alone, with
    the person's ground-truth box (:func:`view_person_dataset`: generated or real): the
    Human3.6M single-view test of RootNet. Returns ``{"overall": {...}, "per_action": {action: mrpe}}``,
    frame-weighted over the first ``limit`` samples' views. Batches go to ``method.device``;
    the errors come back to the host once, at the end."""
    method.net.eval()
    device = method.device
    people = view_person_dataset(multiview)
    items = [k for k, (i, _v) in enumerate(people.items) if limit is None or i < limit]
    errs, actions = [], []
    for start in range(0, len(items), batch_size):
        chunk = [people[k] for k in items[start : start + batch_size]]
        batch = to_device(collate_people(chunk), device)
        n = batch["images"].shape[0]
        with autocast(device, method.precision):
            out = method.net.localise(batch["images"], torch.arange(n, device=device), batch["boxes"], batch["K"],
                                      batch["image_size"])
        errs.append((out["root"] - batch["root_cam"]).abs())
        actions += [it["action"] for it in chunk]
    if not errs:
        return {"overall": {}, "per_action": {}}
    e = torch.cat(errs).cpu()
    norm = e.norm(dim=-1)
    per_action: dict[str, float] = {}
    for a in sorted(set(actions)):
        mask = torch.tensor([x == a for x in actions], device="cpu")
        per_action[a] = float(norm[mask].mean())
    overall = {"mrpe": float(norm.mean()), "mrpe_x": float(e[:, 0].mean()), "mrpe_y": float(e[:, 1].mean()),
               "mrpe_z": float(e[:, 2].mean()), "people": float(len(norm))}
    return {"overall": overall, "per_action": per_action}


# ---------------------------------------------------------------------------- protocols
def box_source_for(protocol: Any) -> str:
    """The boxes a root protocol hands to methods: ``"detected"`` for the ``*-detected*``
    protocols (simulated detections with scores), ``"gt"`` otherwise."""
    return str(protocol.person_boxes)


def scene_batches(scenes: Any, indices: Any, batch_size: int) -> Any:
    """The scenes ``scenes[i]`` for ``i`` in ``indices``, in order, in lists of at most
    ``batch_size`` that share one image size (a batch is one tensor; MuPoTS-3D mixes 2048²
    and 1920×1080 sequences): a list ends early where the image size changes."""
    chunk: list[Any] = []
    for i in indices:
        scene = scenes[int(i)]
        if chunk and (len(chunk) == batch_size or scene.image.shape != chunk[0].image.shape):
            yield chunk
            chunk = []
        chunk.append(scene)
    if chunk:
        yield chunk


def _host_array(x: Any) -> np.ndarray:
    """A prediction field (a tensor on any device, or an array) as a NumPy array on the host."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def evaluate_roots(
    method: RootNetMethod,
    protocol: Any,
    *,
    data_dir: str | Path = "data",
    results_dir: str | Path = "results",
    batch_size: int = 8,
    seed: int = 0,
    checkpoint: str | None = None,
    progress: bool = False,
    split_path: str | Path | None = None,
    box_source: str | None = None,
    real_data: Any = None,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> tuple[Any, Path]:
    """Predict roots on a ``root_localisation`` protocol's images, write the root predictions
    ``.npz`` and the scored result ``.json`` under ``results_dir/<method>/`` (the runner's
    :func:`~poseboard.harness.multiview_pose.evaluate_method` for root protocols).

    ``box_source``: ``"gt"`` or ``"detected"``; None: :func:`box_source_for` the protocol.
    The box source is recorded in the result's notes. ``real_data``: where a real dataset
    (``mupots``) is, as for :func:`~poseboard.harness.multiview_pose.evaluate_method`.

    ``device``: where to predict (the method is moved there with ``precision``, ``fp32`` or
    ``bf16``); None: where the method is. Every batch is moved to the method's device,
    ``predict`` is timed between two :func:`~poseboard.device.synchronize` calls (so the
    clock reads the computation, not its launch), each batch's predictions come back to the
    host once, and the result's speed block names the hardware with
    :func:`~poseboard.device.describe_device` (``cpu (N torch threads)`` on the CPU in fp32,
    as before devices existed).

    A multi-view split (``synth-h36m-root``) is scored view by view: every valid view of the
    protocol's cameras is one single-person image (:class:`ViewScenes`), as the ground truth
    of :func:`~poseboard.datasets.ground_truth.load_synthetic_ground_truth` lists them; real
    Human3.6M (``human36m-root``) likewise, every present view (:class:`RealViewScenes`) as
    :func:`~poseboard.datasets.real.human36m.view_root_ground_truth` lists them.
    """
    import time

    from tqdm.auto import tqdm

    from poseboard.datasets.sources import locate_protocol
    from poseboard.datasets.storage import MultiViewStore
    from poseboard.protocols.evaluate import build_result, score_roots, select_frames
    from poseboard.protocols.predictions import RootPredictions, save_root_predictions
    from poseboard.protocols.registry import get_protocol
    from poseboard.protocols.results import DatasetInfo, MethodInfo, SpeedInfo, result_path, write_result

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if protocol.task != "root_localisation":
        raise InputError(f"protocol {protocol.id} is a {protocol.task} protocol; rootnet predicts roots")
    protocol.check_method(method.name, method.capabilities)
    if device is not None:
        method.to(device, precision)
    elif precision != method.precision:
        method.to(method.device, precision)
    where = method.device
    source = box_source or box_source_for(protocol)
    data = locate_protocol(protocol, real_data, data_dir=data_dir, path=split_path)
    gt = data.ground_truth(protocol)
    scenes = data.dataset
    images = data.table
    per_view = isinstance(getattr(scenes, "store", None), MultiViewStore)
    if per_view:  # the Human3.6M-like single-view test: every view alone
        scenes = ViewScenes(scenes, protocol.cameras)
        images = scenes.table
    elif is_real_multiview(scenes):  # real Human3.6M (human36m-root): every present view alone
        scenes, per_view = RealViewScenes(scenes), True
        images = scenes.table
    indices = np.flatnonzero(select_frames(protocol, images))
    torch.manual_seed(seed)
    ids, roots, scores, persons = [], [], [], []
    seconds = 0.0
    bar = tqdm(total=len(indices), disable=not progress, leave=False, desc=f"{method.name} {protocol.name}")
    for chunk in scene_batches(scenes, indices, batch_size):
        bar.update(len(chunk))
        batch = to_device(collate_scenes(chunk), where)
        batch["box_source"] = source
        synchronize(where)  # the batch's copy is not predict's time
        t0 = time.perf_counter()
        pred = method.predict(batch)
        synchronize(where)
        seconds += time.perf_counter() - t0
        ids.append(np.asarray(pred.extras["sample_ids"], dtype=str))
        roots.append(_host_array(pred.root).astype(np.float64))
        scores.append(_host_array(pred.score).astype(np.float64))
        persons.append(_host_array(pred.extras["person_index"]).astype(np.int64))
    bar.close()
    preds = RootPredictions(sample_ids=np.concatenate(ids), root=np.concatenate(roots).reshape(-1, 3),
                            score=np.concatenate(scores), person_index=np.concatenate(persons))
    out_json = result_path(results_dir, method.name, protocol.id)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    save_root_predictions(out_json.with_suffix(".npz"), preds)
    metrics = score_roots(protocol, gt, preds, where=f"{method.name} predictions")
    config = method.config.model_dump(mode="json")
    frames = len(indices)
    speed = SpeedInfo(samples_per_s=frames / seconds if seconds > 0 else None,
                      ms_per_sample=1000 * seconds / frames if frames else None, batch_size=batch_size,
                      device=describe_device(where, method.precision))
    seeds = {"inference": int(seed), "bootstrap": protocol.bootstrap_seed, "train": int(config["train"]["seed"])}
    if source == "detected":
        seeds["detections"] = int(method.config.detection.seed)
    notes = [f"boxes: {source}" + (f" (simulated detector {method.config.detection.model_dump()})"
                                   if source == "detected" else " (ground truth, score 1)")]
    if per_view:
        cams = list(protocol.cameras) if protocol.cameras is not None else "all"
        notes.append(f"every valid view of cameras {cams} scored alone ({frames} single-person images); "
                     "box: the extent of the 2D joints widened by 10% per side")
    result = build_result(
        protocol=protocol,
        method=MethodInfo(name=method.name, registered=getattr(method, "registered_as", None), config=config,
                          capabilities=method.capabilities, checkpoint=checkpoint),
        dataset=DatasetInfo(name=protocol.dataset, split=protocol.split, source=gt.source, data_hash=gt.data_hash),
        metrics=metrics, sample_ids=np.unique(preds.sample_ids), seeds=seeds, speed=speed, notes=notes,
    )
    return result, write_result(result, out_json)


# ---------------------------------------------------------------------------- command line
def _main(argv: list[str] | None = None) -> None:  # pragma: no cover - exercised by the docs' commands
    """``python -m poseboard.methods.rootnet train|predict …`` with the folder conventions of
    ``poseboard train/predict`` (whose runner trains and scores multi-view methods only):

    * ``train``: ``<data-dir>/synth-mupots/train`` → ``<checkpoints>/rootnet`` (resumable from
      ``<checkpoints>/rootnet/work``), starting from ``<checkpoints>/backbone``;
    * ``predict``: ``<checkpoints>/rootnet`` under ``--protocol`` (boxes from the protocol:
      ``*-detected*`` → simulated detections) → ``<results>/rootnet/<protocol>@<v>.{json,npz}``.
    """
    import argparse
    import json

    from poseboard.harness.commands import build_config
    from poseboard.methods.train.loop import JsonlTracker, env_threads

    parser = argparse.ArgumentParser(prog="python -m poseboard.methods.rootnet")
    parser.add_argument("command", choices=["train", "predict", "view-mrpe"])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--dataset", default="synth-mupots")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--config-key", default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--protocol", default="synth-mupots-root")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from poseboard.allocator import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(args.threads or env_threads(1))
    out = args.checkpoints / "rootnet"
    if args.command == "train":
        cfg = build_config(RootNetConfig, args.profile, args.config, args.config_key, args.seed)
        if cfg.backbone_checkpoint is None:
            cfg = cfg.model_copy(update={"backbone_checkpoint": str(args.checkpoints / "backbone")})
        method = RootNetMethod(cfg)
        method.progress = not args.quiet  # type: ignore[attr-defined]
        test = args.data_dir / args.dataset / "test"
        tracker = JsonlTracker(out / "work" / "metrics.jsonl")
        tracker.log_params({"method": "rootnet", "profile": args.profile, "config": cfg.model_dump(mode="json")})
        method.fit(_open_split(args.data_dir / args.dataset / "train"),
                   _open_split(test) if test.exists() else None, tracker=tracker, workdir=out / "work")
        method.save(out)
        summary = method.last_summary
        record = {"method": "rootnet", "profile": args.profile, "steps": summary.end_step,
                  "resumed_from": summary.start_step, "seconds": round(summary.seconds, 1), "val": summary.val}
        (out / "train_summary.json").write_text(json.dumps(record, indent=2, sort_keys=True))
        print(f"train rootnet: {json.dumps(record)} → {out}")
    elif args.command == "view-mrpe":  # a quick check; the scored result is --protocol synth-h36m-root
        method = RootNetMethod.load(out)
        report = evaluate_view_mrpe(method, _open_split(args.data_dir / args.dataset / "test"))
        args.results.mkdir(parents=True, exist_ok=True)
        path = args.results / f"rootnet_view_mrpe_{args.dataset}.json"
        path.write_text(json.dumps({"dataset": args.dataset, "split": "test", "boxes": "gt (2D joint extent + 10%)",
                                    "checkpoint": str(out), **report}, indent=2, sort_keys=True))
        print(f"{args.dataset} test, every view alone: {json.dumps(report['overall'])}")
        print(f"wrote {path}")
    else:
        method = RootNetMethod.load(out)
        result, path = evaluate_roots(method, args.protocol, data_dir=args.data_dir, results_dir=args.results,
                                      batch_size=args.batch_size, checkpoint=str(out), progress=not args.quiet)
        m = result.metrics
        extra = {k: round(v, 1) for k, v in m.main.extra.items()}
        print(f"{result.protocol.id}  rootnet: {m.headline} = {m.headline_value:.2f}  {m.main.overall}  {extra}")
        print(f"wrote {path}")


def _open_split(path: Path) -> Any:
    """A split folder as a scene dataset (single-view) or a multi-view dataset."""
    from poseboard.datasets.storage import open_dataset
    from poseboard.datasets.torch_dataset import MultiViewDataset, SingleViewSceneDataset

    kind = open_dataset(path).manifest.kind
    return SingleViewSceneDataset(path) if kind == "singleview" else MultiViewDataset(path)


if __name__ == "__main__":  # pragma: no cover
    _main()
