"""``epipolar``: the epipolar transformer (He, Yan, Fragkiadaki, Yu, CVPR 2020).

The shared backbone with an epipolar transformer inserted before its heatmap layer
(``MERGE: late``): the reference view's deconvolution features attend, cell by cell, to the
source view's features sampled along the cell's epipolar line
(:class:`poseboard.methods.nets.epipolar_attention.EpipolarAttention`: 64 samples, dot product,
softmax scaled by 1/√64, z-residual ``f_ref + out + BN(W_z·out)`` with a zero-initialised
BN), and the shared 1×1 heatmap layer reads the fused features. Backbone weights are shared
between the two views and gradients flow through both (``SHARE_WEIGHTS``, ``OTHER_GRAD``).

* **Training**: per sample, a random reference view and its nearest camera (``TOPK = 1``,
  camera centres); the loss is on the reference view's heatmaps only — the pre-training
  stage's Gaussian targets and weighted MSE (visible 1, occluded ``occluded_weight``,
  outside 0), standing in for the reference's ``JointsMSELoss``.
* **Inference**: every view fused with its nearest neighbour (the reference's "four views
  aggregate two-view results"); per joint the heatmap peak (argmax refined by a local
  soft-argmax in a (2r+1)² window, the reference's ``find_tensor_peak_batch``, floor division
  for the row) with the peak value as the score; detections undistorted, then
  ``triangulation = "dlt"``: a DLT over the views scoring above ``conf_threshold`` (when
  fewer than two pass, the two best views — the reference lowers its threshold by 0.05 until
  two pass, which picks the same views), or ``"ransac"``: the ransac method's RANSAC over view
  pairs in original-image pixels (the reference's R-152 configuration).
* ``input_size``: the crops are resampled to that side before the backbone (He et al.'s
  ResNet-50 rows read 256² where the Human3.6M crops are 384²); heatmap cells map back to
  crop pixels at crop side / heatmap side, in training targets, epipolar lines and peaks.
* ``use_transformer = False`` is the paper's baseline on the same backbone and training
  schedule: each view's own heatmaps, fine-tuned single-view on the same pairs' reference
  views, triangulated the same way.

Output: ``joints_3d`` in the world frame, mm (extrinsics needed: the epipolar lines and the
triangulation use ``P``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.datasets.torch_dataset import collate_multiview
from poseboard.device import autocast
from poseboard.errors import InputError
from poseboard.geometry import hard_argmax_2d, triangulate_dlt, triangulate_ransac
from poseboard.methods.algebraic import evaluate_mpjpe
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.nets.epipolar_attention import EpipolarAttention, fundamental_ref_to_src, nearest_views
from poseboard.methods.nets.multiview import (
    batch_tensor,
    crop_to_original,
    host_tensor,
    original_projection,
    read_batch,
    run_backbone,
    undistort_pixels,
)
from poseboard.methods.train.loop import TrainConfig, parameter_groups, seeded, train_loop
from poseboard.methods.train.pretrain import gaussian_heatmaps, heatmap_loss, joint_weights
from poseboard.samples import Prediction

#: Human3.6M training frames (S1, S5, S6, S7, S8, all four views) in learnable triangulation's
#: label table, which keeps every 5th video frame (its ``Human36MMultiViewDataset`` docstring:
#: 159,181 training and 26,634 test frames)
H36M_TRAIN_FRAMES_STRIDE5 = 159_181
#: ... and at every frame, as He et al.'s +ET configurations read them (``TRAIN_SAMPLE: 0`` over
#: H36M-Toolbox's every-frame table): five times as many, to within one frame per sequence
H36M_TRAIN_FRAMES_ALL = 5 * H36M_TRAIN_FRAMES_STRIDE5

HE_BIBTEX = """@inproceedings{he2020epipolar,
  title={Epipolar Transformers},
  author={He, Yihui and Yan, Rui and Fragkiadaki, Katerina and Yu, Shoou-I},
  booktitle={Computer Vision and Pattern Recognition (CVPR)},
  year={2020}
}"""


class EpipolarConfig(BaseModel):
    """Hyper-parameters of the epipolar transformer (``params.yaml``: ``methods.epipolar``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    backbone_checkpoint: str | None = Field(None, description="folder of the pre-trained backbone (used by fit)")
    use_transformer: bool = Field(True, description="False: the paper's baseline (same backbone, no fusion)")
    num_samples: int = Field(64, ge=2, description="points per epipolar line (paper: 64)")
    softmax_scale: float | None = Field(None, gt=0, description="None: 1/sqrt(num_samples), the reference's")
    z_residual: bool = Field(True, description="f_ref + out + BN(W_z·out) (True) or f_ref + BN(W_z·out)")
    attention_lr_scale: float = Field(
        1.0, gt=0, description="lr of the fusion block (attention, W_z) / lr of the backbone: fine-tuning "
        "from a pre-trained head, the zero-initialised BN_z gate moves at most ~lr per Adam step")
    # sigma and peak_radius keep the pre-training's 1.5 and 2 cells in the smoke, default and gpu
    # presets (the committed results were trained and scored with them); the paper preset takes
    # the reference's: σ = KEYPOINT.SIGMA px / 4 (8 px = 2 cells at 256², 12 px = 3 cells at
    # 384²) and find_tensor_peak_batch's radius = KEYPOINT.SIGMA, read as heatmap cells (8, 12).
    sigma: float = Field(1.5, gt=0, description="Gaussian target std, heatmap cells (the pre-training's)")
    occluded_weight: float = Field(0.5, ge=0, le=1, description="loss weight of occluded joints inside the crop")
    peak_radius: int = Field(2, ge=0, description="local soft-argmax window radius around the argmax, cells")
    input_size: int | None = Field(
        None, ge=32, multiple_of=32, description="network input side, px: the crops are resampled (bilinear, "
        "antialiased) to input_size² before the backbone and heatmap cells map back to crop pixels at "
        "crop side / heatmap side; None: the crops as the data give them (He et al.'s R-50 reads 256², "
        "the Human3.6M crops are 384²)")
    triangulation: Literal["dlt", "ransac"] = "dlt"
    conf_threshold: float = Field(0.05, ge=0, description="DLT: views whose peak exceeds this (else the best 2)")
    ransac_threshold_px: float = Field(30.0, gt=0, description="RANSAC inlier threshold, ORIGINAL px")
    undistort: bool = Field(True, description="undistort detections before triangulating")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-3, batch_size=16))

    @classmethod
    def preset(cls, profile: str) -> EpipolarConfig:
        if profile == "smoke":
            return cls(backbone=BackboneConfig.preset("smoke"), num_samples=16,
                       train=TrainConfig(steps=60, batch_size=4, lr=2e-3, checkpoint_every=20, log_every=5,
                                         val_samples=16))
        if profile == "default":
            return cls(backbone=BackboneConfig.preset("default"),
                       train=TrainConfig(steps=600, batch_size=8, lr=5e-4, schedule="cosine", warmup_steps=30,
                                         checkpoint_every=50, log_every=10, val_every=0, val_samples=64))
        if profile == "gpu":
            return cls(backbone=BackboneConfig.preset("resnet50"),
                       train=TrainConfig(steps=2000, batch_size=16, lr=5e-4, schedule="cosine", warmup_steps=100,
                                         checkpoint_every=500, log_every=50, val_every=0, val_samples=256,
                                         num_workers=8))
        if profile == "paper":
            # He et al.'s ResNet-50 at 256² with the transformer (keypoint_h36m_zresidual_fixed.yaml,
            # 33.1 mm): 4 epochs over every Human3.6M training frame, batch 16, lr ÷ 10 after
            # epochs 2 and 3 — 4 × H36M_TRAIN_FRAMES_ALL / 16 steps (params.yaml says the arithmetic)
            return cls(backbone=BackboneConfig.preset("resnet50"), input_size=256, sigma=2.0, peak_radius=8,
                       train=TrainConfig(steps=4 * H36M_TRAIN_FRAMES_ALL // 16, batch_size=16, lr=1e-3,
                                         schedule="step", step_milestones=(0.5, 0.75), checkpoint_every=2000,
                                         log_every=100, val_samples=512))
        raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")


def local_soft_argmax(heatmaps: Tensor, radius: int) -> tuple[Tensor, Tensor]:
    """Peak of each heatmap (..., H, W): the argmax cell refined by the expectation over the
    (2r+1)² window around it (weights: the heatmap clamped at 0), and the peak value.

    Returns (..., 2) (x, y) in cells and (...) scores. The reference's
    ``find_tensor_peak_batch``, with the row by floor division.
    """
    h, w = heatmaps.shape[-2:]
    peak = hard_argmax_2d(heatmaps)  # (..., 2) int
    score = heatmaps.flatten(-2).amax(-1)
    if radius == 0:
        return peak.to(heatmaps.dtype), score
    offs = torch.arange(-radius, radius + 1, device=heatmaps.device)
    xs = (peak[..., 0:1] + offs).clamp(0, w - 1)  # (..., 2r+1)
    ys = (peak[..., 1:2] + offs).clamp(0, h - 1)
    flat = heatmaps.flatten(-2)
    idx = ys[..., :, None] * w + xs[..., None, :]  # (..., 2r+1, 2r+1)
    vals = flat.gather(-1, idx.flatten(-2)).unflatten(-1, idx.shape[-2:]).clamp_min(0)
    # duplicates at the border (clamped indices) count once: mask repeated coordinates
    ux = torch.cat([torch.ones_like(xs[..., :1], dtype=torch.bool), xs[..., 1:] != xs[..., :-1]], -1)
    uy = torch.cat([torch.ones_like(ys[..., :1], dtype=torch.bool), ys[..., 1:] != ys[..., :-1]], -1)
    vals = vals * (uy[..., :, None] & ux[..., None, :])
    total = vals.sum((-1, -2)).clamp_min(1e-12)
    x = (vals * xs[..., None, :].to(vals.dtype)).sum((-1, -2)) / total
    y = (vals * ys[..., :, None].to(vals.dtype)).sum((-1, -2)) / total
    flat_ok = vals.sum((-1, -2)) > 0
    x = torch.where(flat_ok, x, peak[..., 0].to(vals.dtype))
    y = torch.where(flat_ok, y, peak[..., 1].to(vals.dtype))
    return torch.stack([x, y], dim=-1), score


def select_views(scores: Tensor, threshold: float, minimum: int = 2) -> Tensor:
    """(..., V) scores → (..., V) 0/1 weights: views above ``threshold``, or the ``minimum``
    best when fewer pass."""
    above = scores > threshold
    k = min(minimum, scores.shape[-1])
    top = torch.zeros_like(above)
    top.scatter_(-1, scores.topk(k, dim=-1).indices, True)
    enough = above.sum(-1, keepdim=True) >= k
    return torch.where(enough, above, top).to(scores.dtype)


class EpipolarNet(nn.Module):
    """Backbone + (optionally) the epipolar transformer before its heatmap layer."""

    def __init__(self, config: EpipolarConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config.backbone)
        self.attention = (
            EpipolarAttention(config.backbone.feature_channels, config.num_samples, config.softmax_scale,
                              config.z_residual)
            if config.use_transformer else None
        )

    def network_input(self, images: Tensor) -> Tensor:
        """Crops (..., 3, S, S) as the backbone reads them: resampled to ``input_size``² when
        that is set and differs from S (bilinear, antialiased), else unchanged. The callers keep
        S, so a heatmap cell maps back to crop pixels at S / heatmap side."""
        size = self.config.input_size
        if size is None or images.shape[-1] == size:
            return images
        flat = nn.functional.interpolate(images.flatten(0, -4), size=(size, size), mode="bilinear",
                                         align_corners=False, antialias=True)
        return flat.unflatten(0, images.shape[:-3])

    def fused_heatmaps(self, f_ref: Tensor, f_src: Tensor, proj_ref: Tensor, proj_src: Tensor,
                       stride: float) -> Tensor:
        """Heatmaps (N, J, h, w) of reference features (N, C, h, w) fused with a source view's."""
        assert self.attention is not None
        fund = fundamental_ref_to_src(proj_ref.to(torch.float64), proj_src.to(torch.float64))
        return self.backbone.final(self.attention(f_ref, f_src, fund, stride)).contiguous()

    def reference_heatmaps(self, images_ref: Tensor, images_src: Tensor, proj_ref: Tensor,
                           proj_src: Tensor) -> Tensor:
        """Training: heatmaps of the reference crops (N, 3, S, S) given their source crops."""
        size = images_ref.shape[-1]
        if self.attention is None:
            return self.backbone(self.network_input(images_ref)).heatmaps
        out = self.backbone(self.network_input(torch.cat([images_ref, images_src])))
        f_ref, f_src = out.features.chunk(2)
        stride = size / out.features.shape[-1]
        return self.fused_heatmaps(f_ref, f_src, proj_ref, proj_src, stride)

    def all_view_heatmaps(self, images: Tensor, proj: Tensor, view_valid: Tensor | None = None) -> Tensor:
        """Inference: (B, V, J, h, w) heatmaps of every view, each fused with its nearest
        present neighbour (or its own heatmaps without the transformer); ``view_valid`` (B, V)
        bool, False for absent views, which are never a neighbour."""
        out = run_backbone(self.backbone, self.network_input(images))
        if self.attention is None:
            return out.heatmaps
        b, v = images.shape[:2]
        nn_idx = nearest_views(proj, view_valid)  # (B, V)
        bi = torch.arange(b, device=nn_idx.device)[:, None].expand(b, v)
        f_src = out.features[bi, nn_idx]
        stride = images.shape[-1] / out.features.shape[-1]
        heat = self.fused_heatmaps(out.features.flatten(0, 1), f_src.flatten(0, 1), proj.flatten(0, 1),
                                   proj[bi, nn_idx].flatten(0, 1), stride)
        return heat.unflatten(0, (b, v))


class EpipolarMethod(Method):
    """Epipolar transformer (late fusion, z-residual) + triangulation of the fused heatmaps."""

    name = "epipolar"
    card = MethodCard(
        title="Epipolar transformer",
        paper="He et al., CVPR 2020",
        url="https://arxiv.org/abs/2005.04551",
        code_url="https://github.com/ethanhe42/epipolar-transformers",
        bibtex=HE_BIBTEX,
        description="Each reference-view feature cell attends to 64 source-view features sampled along its "
                    "epipolar line in the nearest camera (dot product, softmax, z-residual fusion before the "
                    "heatmap layer); every view is fused with its nearest neighbour and the heatmap peaks are "
                    "triangulated (confidence-thresholded DLT, or RANSAC). use_transformer=False is the "
                    "paper's baseline on the same backbone.",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=True, multi_view=True, min_views=2, max_views=None,
        multi_person=False, output_frame="world", outputs=("joints_3d",), trainable=True,
    )
    config_model = EpipolarConfig
    config: EpipolarConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = EpipolarNet(self.config).eval()

    def training_pairs(self, batch: dict[str, Any], gen: torch.Generator) -> dict[str, Tensor]:
        """A random reference view per sample and its nearest present camera: images, projections,
        2D targets and visibility of the reference view (on the batch's device; the views are
        drawn from ``gen`` on the CPU)."""
        vb = read_batch(batch)
        assert vb.proj is not None
        b, v = vb.images.shape[:2]
        device = vb.images.device
        ref = host_tensor(torch.randint(v, (b,), generator=gen, device="cpu"), None, device)
        src = nearest_views(vb.proj, vb.view_valid).gather(1, ref[:, None])[:, 0]
        bi = torch.arange(b, device=device)
        return {
            "images_ref": vb.images[bi, ref], "images_src": vb.images[bi, src],
            "proj_ref": vb.proj[bi, ref], "proj_src": vb.proj[bi, src],
            "joints_2d": batch_tensor(batch, "joints_2d")[bi, ref].float(),
            "visibility": batch_tensor(batch, "visibility")[bi, ref],
            "valid": vb.view_valid[bi, ref],
        }

    def heatmap_loss(self, heat: Tensor, pairs: dict[str, Tensor]) -> Tensor:
        size = pairs["images_ref"].shape[-1]
        stride = size / heat.shape[-1]
        target = gaussian_heatmaps(pairs["joints_2d"] / stride, tuple(heat.shape[-2:]), self.config.sigma)
        weights = joint_weights(pairs["joints_2d"], pairs["visibility"], size, self.config.occluded_weight)
        weights = weights * pairs["valid"][:, None]
        return heatmap_loss(heat, target, weights)

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Fine-tune (backbone + transformer, or the backbone alone for the baseline) on the
        reference views' heatmaps, resuming from ``workdir/checkpoint.pt``. The network is
        built on the CPU (the same initial weights whatever the device) and trained on
        :attr:`device` in :attr:`precision`."""
        c = self.config
        with seeded(c.train.seed), torch.device("cpu"):
            self.net = EpipolarNet(c)
        init_from_pretrained(self.net.backbone, c.backbone_checkpoint)
        params: Any = [p for p in self.net.parameters() if p.requires_grad]
        if self.net.attention is not None and c.attention_lr_scale != 1.0:
            fusion = list(self.net.attention.parameters())
            fusion_ids = {id(p) for p in fusion}
            params = parameter_groups([([p for p in params if id(p) not in fusion_ids], 1.0),
                                       (fusion, c.attention_lr_scale)])
        optimizer = torch.optim.Adam(params, lr=c.train.lr, weight_decay=c.train.weight_decay)
        if tracker is not None:
            tracker.log_params({"epipolar/use_transformer": c.use_transformer, "epipolar/num_samples": c.num_samples})

        def step_fn(batch: dict[str, Any], step: int, gen: torch.Generator) -> dict[str, Tensor]:
            pairs = self.training_pairs(batch, gen)
            heat = self.net.reference_heatmaps(pairs["images_ref"], pairs["images_src"], pairs["proj_ref"],
                                               pairs["proj_src"])
            return {"loss": self.heatmap_loss(heat, pairs)}

        self.last_summary = train_loop(
            name="epipolar", config=c.train, modules={"net": self.net}, optimizer=optimizer, step_fn=step_fn,
            dataset=train, collate=collate_multiview, workdir=workdir, tracker=tracker,
            val_fn=(lambda: evaluate_mpjpe(self, val, c.train.val_samples)) if val is not None else None,
            progress=getattr(self, "progress", True), device=self.device, precision=self.precision,
        )

    @torch.no_grad()
    def detect(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Any]:
        """Peaks (B, V, J, 2) in crop pixels (undistorted if configured) and scores (B, V, J)."""
        vb = read_batch(batch)
        assert vb.proj is not None
        self.net.eval()
        with autocast(self.device, self.precision):
            heat = self.net.all_view_heatmaps(vb.images, vb.proj, vb.view_valid)
        stride = vb.size / heat.shape[-1]
        cells, scores = local_soft_argmax(heat.to(torch.float64), self.config.peak_radius)
        pts = cells * stride
        if self.config.undistort:
            pts = undistort_pixels(pts, vb.K[:, :, None], vb.dist[:, :, None])
        scores = torch.where(vb.view_valid[:, :, None], scores, torch.full_like(scores, -1.0))
        return pts, scores, vb

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> Prediction:
        pts, scores, vb = self.detect(batch)
        if vb.num_views < 2:
            raise InputError(f"epipolar needs at least 2 views, got {vb.num_views}")
        c = self.config
        if c.triangulation == "dlt":
            w = select_views(scores.transpose(1, 2), c.conf_threshold)  # (B, J, V)
            joints = triangulate_dlt(vb.proj[:, None], pts.transpose(1, 2), w)
        else:
            orig = crop_to_original(pts, vb.boxes[:, :, None], vb.size)
            orig = torch.where(vb.view_valid[:, :, None, None], orig, torch.full_like(orig, -1e6))
            proj = original_projection(vb.proj, vb.boxes, vb.size)
            joints = triangulate_ransac(proj[:, None], orig.transpose(1, 2), threshold_px=c.ransac_threshold_px).points
        return Prediction(joints_3d=joints.float(), frame="world", confidence=scores.amax(dim=1).float(),
                          extras={"joints_2d": pts.float(), "scores": scores.float()})

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.net.eval()
