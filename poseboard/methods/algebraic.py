"""``algebraic``: algebraic learnable triangulation (Iskakov et al., ICCV 2019).

Per view, the backbone's heatmaps give 2D joints by soft-argmax (``softmax(multiplier ·
heatmap)``, inverse temperature 100 as the paper) and a confidence head on the encoder's
bottleneck gives one weight per joint; the weights are normalised over views
(``w / Σ_views w + 1e-5``, the reference's rule) and the joints triangulated by the
confidence-weighted DLT (:func:`poseboard.geometry.triangulate_dlt`, differentiable), after
the detections are undistorted. The whole network is trained end-to-end from the
pre-trained backbone on the 3D error alone, with the reference's smooth MSE
(``KeypointsMSESmoothLoss``): per coordinate, in centimetres, d² where d² ≤ 400 cm² and
d²^0.1 · 400^0.9 beyond, averaged over the 3·J coordinates.

A view marked invalid gets weight 0 (ignored exactly by the DLT).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.datasets.torch_dataset import collate_multiview
from poseboard.device import autocast, to_device
from poseboard.errors import InputError
from poseboard.geometry import soft_argmax_2d, triangulate_dlt
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.nets.multiview import (
    ConfidenceHead,
    batch_tensor,
    read_batch,
    run_backbone,
    shared_backbone,
    undistort_pixels,
)
from poseboard.methods.ransac import ISKAKOV_BIBTEX
from poseboard.methods.train.loop import TrainConfig, eval_batches, parameter_groups, seeded, train_loop
from poseboard.samples import Prediction


class AlgebraicConfig(BaseModel):
    """Hyper-parameters of the algebraic method (``params.yaml``: ``methods.algebraic``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    backbone_checkpoint: str | None = Field(None, description="folder of the pre-trained backbone (used by fit)")
    heatmap_multiplier: float = Field(100.0, gt=0, description="soft-argmax inverse temperature (paper: 100)")
    use_confidences: bool = Field(True, description="learned per-view, per-joint weights (False: all equal)")
    confidence_widths: tuple[int, int, int] = Field((512, 256, 512), description="conv1, conv2, hidden channels")
    loss_threshold: float = Field(400.0, gt=0, description="smooth MSE threshold on squared cm per coordinate")
    loss_scale: float = Field(0.1, gt=0, description="mm → loss units (0.1: centimetres, the reference's)")
    undistort: bool = Field(True, description="undistort detections before the DLT")
    confidence_lr_scale: float = Field(1.0, gt=0, description="lr of the confidence head / lr of the backbone")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-5, batch_size=8))

    @classmethod
    def preset(cls, profile: str) -> AlgebraicConfig:
        if profile == "smoke":
            return cls(backbone=BackboneConfig.preset("smoke"), confidence_widths=(32, 32, 32),
                       train=TrainConfig(steps=60, batch_size=4, lr=2e-4, checkpoint_every=20, log_every=5,
                                         val_samples=16))
        if profile == "default":
            return cls(backbone=BackboneConfig.preset("default"), confidence_widths=(128, 64, 128),
                       train=TrainConfig(steps=1500, batch_size=8, lr=1e-4, schedule="cosine", warmup_steps=100,
                                         checkpoint_every=100, log_every=20, val_every=500, val_samples=64))
        if profile == "gpu":
            return cls(backbone=BackboneConfig.preset("resnet50"),
                       train=TrainConfig(steps=4000, batch_size=16, lr=1e-4, schedule="cosine", warmup_steps=200,
                                         checkpoint_every=500, log_every=50, val_every=1000, val_samples=256,
                                         num_workers=8))
        if profile == "paper":
            return cls(backbone=BackboneConfig.preset("paper"),
                       train=TrainConfig(steps=60 * 1875, batch_size=8, lr=1e-5, checkpoint_every=1875,
                                         log_every=50, val_every=1875, val_samples=2181))
        raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")


def mse_smooth_loss(pred: Tensor, gt: Tensor, threshold: float = 400.0, valid: Tensor | None = None) -> Tensor:
    """The reference's ``KeypointsMSESmoothLoss``: squared error per coordinate, softened to
    ``d²^0.1 · threshold^0.9`` beyond ``threshold``, summed and divided by
    3 · (number of valid joints). ``pred``, ``gt``: (..., J, 3) in loss units; ``valid``
    (..., J) bool or None."""
    d2 = (pred - gt).square()
    if valid is not None:
        d2 = d2 * valid[..., None]
    soft = d2.clamp_min(threshold).pow(0.1) * threshold**0.9
    d2 = torch.where(d2 > threshold, soft, d2)
    if valid is None:
        return d2.sum() / max(1, pred.shape[-1] * math.prod(pred.shape[:-1]))
    return d2.sum() / (pred.shape[-1] * valid.sum()).clamp_min(1)  # counted on the device


class AlgebraicNet(nn.Module):
    """Backbone + confidence head → 2D joints, weights and the weighted DLT."""

    def __init__(self, config: AlgebraicConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config.backbone)
        self.confidences = (
            ConfidenceHead(config.backbone.bottleneck_channels, config.backbone.num_joints, config.confidence_widths)
            if config.use_confidences else None
        )

    def forward(self, batch: dict[str, Any], shared_key: str = "backbone") -> dict[str, Tensor]:
        """(B, J, 3) world mm joints, (B, V, J, 2) crop-pixel 2D joints, (B, V, J) weights;
        the backbone's outputs are the batch's ``view_features[shared_key]`` where it has them
        (:func:`~poseboard.methods.nets.multiview.shared_backbone`)."""
        vb = read_batch(batch)
        if vb.num_views < 2:
            raise InputError(f"algebraic triangulation needs at least 2 views, got {vb.num_views}")
        out = shared_backbone(self.backbone, vb.images, batch, shared_key)
        b, v, j = out.heatmaps.shape[:3]
        stride = vb.size / out.heatmaps.shape[-1]
        joints_2d = soft_argmax_2d(out.heatmaps, self.config.heatmap_multiplier) * stride  # crop px
        if self.confidences is not None:
            w = self.confidences(out.bottleneck.flatten(0, 1)).unflatten(0, (b, v))  # (B, V, J)
        else:
            w = torch.ones(b, v, j, dtype=joints_2d.dtype, device=joints_2d.device)
        w = w * vb.view_valid[:, :, None]
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12) + 1e-5  # reference: w / Σ_views w + 1e-5
        w = w * vb.view_valid[:, :, None]  # invalid views exactly 0
        pts = joints_2d
        if self.config.undistort:
            pts = undistort_pixels(pts, vb.K[:, :, None], vb.dist[:, :, None])
        assert vb.proj is not None
        joints_3d = triangulate_dlt(vb.proj[:, None], pts.transpose(1, 2), w.transpose(1, 2))  # (B, J, 3)
        return {"joints_3d": joints_3d.to(joints_2d.dtype), "joints_2d": joints_2d, "weights": w}


class AlgebraicMethod(Method):
    """Soft-argmax 2D joints + learned confidences → confidence-weighted DLT, end-to-end."""

    name = "algebraic"
    card = MethodCard(
        title="Algebraic learnable triangulation",
        paper="Iskakov et al., ICCV 2019",
        url="https://arxiv.org/abs/1905.05754",
        code_url="https://github.com/karfly/learnable-triangulation-pytorch",
        bibtex=ISKAKOV_BIBTEX,
        description="Soft-argmax 2D joints (inverse temperature 100) and one learned confidence per view and "
                    "joint, normalised over views, triangulated by a differentiable confidence-weighted DLT; "
                    "trained end-to-end on the smooth 3D MSE from the pre-trained backbone.",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=True, multi_view=True, min_views=2, max_views=None,
        multi_person=False, output_frame="world", outputs=("joints_3d",), trainable=True,
    )
    config_model = AlgebraicConfig
    config: AlgebraicConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = AlgebraicNet(self.config).eval()
        self.progress = True

    def loss(self, out: dict[str, Tensor], batch: dict[str, Any]) -> Tensor:
        s = self.config.loss_scale
        gt = batch_tensor(batch, "joints_3d", out["joints_3d"].dtype)
        return mse_smooth_loss(out["joints_3d"] * s, gt * s, self.config.loss_threshold)

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Fine-tune end-to-end on ``train`` (a multi-view dataset) from the pre-trained
        backbone, resuming from ``workdir/checkpoint.pt``; ``val`` gives MPJPE curves.

        The network is rebuilt first (heads initialised from ``train.seed``, the backbone
        from ``backbone_checkpoint``), so the result depends only on the config and data.
        It is built on the CPU (the same initial weights whatever the device) and trained on
        :attr:`device` in :attr:`precision`."""
        c = self.config
        with seeded(c.train.seed), torch.device("cpu"):
            self.net = AlgebraicNet(c)
        init_from_pretrained(self.net.backbone, c.backbone_checkpoint)
        groups = [(list(self.net.backbone.parameters()), 1.0)]
        if self.net.confidences is not None:
            groups.append((list(self.net.confidences.parameters()), c.confidence_lr_scale))
        optimizer = torch.optim.Adam(parameter_groups(groups), lr=c.train.lr, weight_decay=c.train.weight_decay)

        def step_fn(batch: dict[str, Any], step: int, gen: torch.Generator) -> dict[str, Tensor]:
            out = self.net(batch)
            gt = batch_tensor(batch, "joints_3d", out["joints_3d"].dtype)
            mpjpe = (out["joints_3d"] - gt).norm(dim=-1).mean().detach()
            return {"loss": self.loss(out, batch), "mpjpe": mpjpe}

        self.last_summary = train_loop(
            name="algebraic", config=c.train, modules={"net": self.net}, optimizer=optimizer, step_fn=step_fn,
            dataset=train, collate=collate_multiview, workdir=workdir, tracker=tracker,
            val_fn=(lambda: evaluate_mpjpe(self, val, c.train.val_samples)) if val is not None else None,
            progress=self.progress, device=self.device, precision=self.precision,
        )

    @torch.no_grad()
    def view_features(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The backbone's outputs per view (``"backbone"``), computed once for every pass."""
        self.net.eval()
        with autocast(self.device, self.precision):
            return {"backbone": run_backbone(self.net.backbone, read_batch(batch, need_extrinsics=False).images)}

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> Prediction:
        """Joints (B, J, 3) world mm, confidence (B, J) (the largest view weight), extras
        ``joints_2d`` (B, V, J, 2) crop px; tensors on the batch's device."""
        self.net.eval()
        with autocast(self.device, self.precision):
            out = self.net(batch)
        return Prediction(joints_3d=out["joints_3d"].float(), frame="world",
                          confidence=out["weights"].amax(dim=1).float(), extras={"joints_2d": out["joints_2d"]})

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.net.eval()


@torch.no_grad()
def evaluate_mpjpe(method: Method, dataset: Any, limit: int | None, batch_size: int = 8) -> dict[str, float]:
    """Absolute and root-relative MPJPE (mm) of ``method.predict`` on the first ``limit``
    samples of ``dataset`` (curves only; scoring goes through the protocols). Batches go to
    ``method.device``; the errors stay there until the two means are read back."""
    errs, rel = [], []
    for batch in eval_batches(dataset, batch_size, collate_multiview, limit):
        batch = to_device(batch, method.device)
        pred = torch.as_tensor(method.predict(batch).joints_3d, dtype=torch.float64, device=method.device)
        gt = batch_tensor(batch, "joints_3d", torch.float64)
        errs.append((pred - gt).norm(dim=-1).mean(-1))
        rel.append(((pred - pred[:, 6:7]) - (gt - gt[:, 6:7])).norm(dim=-1).mean(-1))
    if not errs:
        return {}
    return {"mpjpe_abs": float(torch.cat(errs).mean()), "mpjpe_rel": float(torch.cat(rel).mean())}
