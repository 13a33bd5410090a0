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

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.datasets.detections import DetectionNoise, person_boxes
from poseboard.datasets.people import collate_people, is_multiview, person_dataset, view_person_dataset
from poseboard.datasets.torch_dataset import collate_scenes
from poseboard.device import autocast, to_device
from poseboard.errors import InputError, check_shape
from poseboard.geometry import soft_argmax_2d
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.nets.person_box import (
    MOON_BIBTEX,
    back_project,
    image_to_grid,
    k_value,
    process_box,
    root_prediction,
)
from poseboard.methods.rootnet_data import (
    CropAugmentation,
    RootNetAugment,
    crop_boxes_affine,
    crop_grid_to_image,
    draw_augmentation,
    image_to_crop_grid,
    jitter_colour,
    pixel_to_camera,
    root_inside,
    window_box,
)
from poseboard.methods.train.loop import TrainConfig, seeded, train_loop
from poseboard.samples import Prediction


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
        """The batch's person boxes (:func:`~poseboard.datasets.detections.person_boxes`), the
        simulated detector with this method's ``config.detection``."""
        return person_boxes(batch, source, self.config.detection)

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
        return root_prediction(batch, roots, boxes, index, scores, person, source)

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
