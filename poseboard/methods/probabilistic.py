"""``probabilistic``: probabilistic triangulation for uncalibrated multi-view 3D pose (Jiang,
Hu, Xia, ICCV 2023) — the paper's end-to-end method, which the authors never published
(their repository holds a deterministic fusion network, "V2", and a non-learned Monte-Carlo
camera search on 2D keypoints, "V1"; reference notes §A).

Pipeline, per frame of V views (intrinsics only — **extrinsics are never read at inference**):

1. the shared backbone's heatmaps → 2D joints by soft-argmax (inverse temperature 100) and a
   learned confidence per view and joint (the algebraic method's head, weights normalised
   over views); detections undistorted (lens distortion is an intrinsic) and mapped to the
   original image's pixels (each view's crop ``K`` back to the camera's ``K``, so one pixel
   threshold means the same in every view and every frame);
2. the Monte-Carlo posterior over every non-reference camera's pose relative to view 0
   (:mod:`poseboard.methods.pose_posterior`: ACG rotations, Student-t translations,
   initialised by the essential matrix of views 0/1, PnP and a joint refinement, then
   ``iterations`` rounds of sampling ``samples`` pose sets, triangulating, weighting by
   reprojection likelihood and refitting to the elites);
3. the joints triangulated (confidence-weighted DLT) under every final posterior sample and
   averaged with the samples' weights — differentiable in the 2D joints and confidences, so
   the 3D loss trains the backbone and the confidence head end-to-end (the posterior itself,
   a search, carries no gradient);
4. **metric scale** from a stated prior: the 2D evidence fixes the reconstruction only up to
   scale (gauge ‖t_1‖ = 1), so the pose is rescaled so that its bone lengths best match
   (least squares) the prior's mean bone lengths: the training set's mean bone lengths
   (set by ``fit`` from the training ground truth; before any fit, the mean over the
   synthetic world's training subjects). A subject whose bones differ from the mean is
   reconstructed at the wrong scale by that ratio (N-MPJPE removes it).

Output: ``joints_3d`` in the **reference (first) camera's frame**, mm (``frame =
"reference_camera"``). Training supervises the root-relative joints in that frame (the
ground truth moved there with the true extrinsics — supervision only) with the algebraic
method's smooth MSE.

``pose_sharing = "sequence"`` (an extension, off by default): at inference, the frames of
one batch that come from the same sequence (same ``subject``/``sequence`` in ``meta``) share
one posterior, estimated from all their joints at once — static cameras self-calibrate from
the motion. The paper's setting is per frame (``"frame"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.datasets.torch_dataset import collate_multiview
from poseboard.device import autocast, to_device
from poseboard.errors import InputError
from poseboard.geometry import soft_argmax_2d
from poseboard.methods.algebraic import mse_smooth_loss
from poseboard.methods.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.multiview import (
    ConfidenceHead,
    batch_tensor,
    crop_scale,
    host_tensor,
    read_batch,
    run_backbone,
    undistort_pixels,
)
from poseboard.methods.pose_posterior import (
    PosteriorConfig,
    PosteriorResult,
    monte_carlo_posterior,
    triangulate_under_posterior,
)
from poseboard.methods.pretrain import gaussian_heatmaps, heatmap_loss, joint_weights
from poseboard.methods.training import TrainConfig, eval_batches, parameter_groups, seeded, train_loop
from poseboard.samples import Prediction
from poseboard.skeleton import H36M17

JIANG_BIBTEX = """@inproceedings{jiang2023probabilistic,
  title={Probabilistic Triangulation for Uncalibrated Multi-View 3D Human Pose Estimation},
  author={Jiang, Boyuan and Hu, Lei and Xia, Shihong},
  booktitle={International Conference on Computer Vision (ICCV)},
  year={2023}
}"""


def default_bone_prior() -> np.ndarray:
    """(16,) mm: mean bone lengths (``H36M17.bones`` order) of the synthetic world's training
    subjects — the prior used before ``fit`` sets the training set's own."""
    from poseboard.datasets.body import SUBJECTS, TRAIN_SUBJECTS

    return np.mean([SUBJECTS[s].bone_lengths for s in TRAIN_SUBJECTS], axis=0)


class ProbabilisticConfig(BaseModel):
    """Hyper-parameters of the probabilistic method (``params.yaml``: ``methods.probabilistic``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    backbone_checkpoint: str | None = Field(None, description="folder of the pre-trained backbone (used by fit)")
    heatmap_multiplier: float = Field(100.0, gt=0, description="soft-argmax inverse temperature")
    use_confidences: bool = Field(True, description="learned per-view, per-joint confidences (False: all 1)")
    confidence_widths: tuple[int, int, int] = Field((512, 256, 512), description="conv1, conv2, hidden channels")
    posterior: PosteriorConfig = Field(default_factory=lambda: PosteriorConfig(
        temperature_px=2.0, error_cap_px=60.0, ransac_threshold_px=15.0))
    pose_sharing: Literal["frame", "sequence"] = Field(
        "frame", description="one posterior per frame (the paper) or per sequence within a batch (inference only)")
    bone_prior_mm: tuple[float, ...] | None = Field(
        None, description="mean bone lengths (H36M17.bones order) fixing the scale; None: learned by fit")
    undistort: bool = Field(True, description="undistort detections (lens distortion is an intrinsic)")
    loss_threshold: float = Field(400.0, gt=0, description="smooth MSE threshold on squared cm per coordinate")
    loss_scale: float = Field(0.1, gt=0, description="mm → loss units (0.1: centimetres)")
    confidence_lr_scale: float = Field(1.0, gt=0)
    heatmap_weight: float = Field(
        100.0, ge=0, description="weight of the 2D heatmap loss beside the 3D loss (the reference's V2 trains both)")
    heatmap_sigma: float = Field(1.5, gt=0, description="Gaussian target std of the heatmap loss, cells")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-5, batch_size=8))

    @classmethod
    def preset(cls, profile: str) -> ProbabilisticConfig:
        post = {"temperature_px": 2.0, "error_cap_px": 60.0, "ransac_threshold_px": 15.0}
        if profile == "smoke":
            return cls(backbone=BackboneConfig.preset("smoke"), confidence_widths=(32, 32, 32),
                       posterior=PosteriorConfig(samples=16, iterations=2, ransac_hypotheses=16,
                                                 refine_iterations=8, **post),
                       train=TrainConfig(steps=60, batch_size=4, lr=1e-3, checkpoint_every=20, log_every=5,
                                         val_samples=16))
        if profile == "default":
            return cls(backbone=BackboneConfig.preset("default"), confidence_widths=(128, 64, 128),
                       posterior=PosteriorConfig(samples=64, iterations=4, **post),
                       train=TrainConfig(steps=300, batch_size=8, lr=1e-4, schedule="cosine", warmup_steps=30,
                                         checkpoint_every=50, log_every=10, val_every=0, val_samples=64))
        if profile == "gpu":
            return cls(backbone=BackboneConfig.preset("resnet50"),
                       posterior=PosteriorConfig(samples=64, iterations=4, **post),
                       train=TrainConfig(steps=1500, batch_size=16, lr=1e-4, schedule="cosine", warmup_steps=100,
                                         checkpoint_every=500, log_every=50, val_every=0, val_samples=256,
                                         num_workers=8))
        if profile == "paper":
            return cls(backbone=BackboneConfig.preset("paper"),
                       posterior=PosteriorConfig(samples=64, iterations=4, **post),
                       train=TrainConfig(steps=60 * 1875, batch_size=8, lr=1e-5, checkpoint_every=1875,
                                         log_every=50, val_every=1875, val_samples=2181))
        raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")


def original_intrinsics(K: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Crop intrinsics (..., 3, 3) → the original image's, undoing the crop and resize
    (``A K`` with A the crop → original pixel affine)."""
    s = crop_scale(boxes, size)
    A = torch.zeros(*boxes.shape[:-1], 3, 3, dtype=K.dtype, device=K.device)
    A[..., 0, 0], A[..., 1, 1], A[..., 2, 2] = 1 / s[..., 0], 1 / s[..., 1], 1.0
    A[..., 0, 2], A[..., 1, 2] = boxes[..., 0], boxes[..., 1]
    return A @ K


def bone_scale(joints: Tensor, prior: Tensor) -> Tensor:
    """Least-squares scale s (B,) minimising Σ_b (s·L_b − prior_b)² for joints (B, J, 3)."""
    parent, child = host_tensor(H36M17.bones, torch.int64, joints.device).T
    lengths = (joints[:, child] - joints[:, parent]).norm(dim=-1)  # (B, 16)
    prior = prior.to(joints.dtype)
    return (lengths * prior).sum(-1) / lengths.square().sum(-1).clamp_min(1e-12)


class ProbabilisticNet(nn.Module):
    """Backbone + confidence head → 2D joints and confidences; the posterior and the
    triangulation under it (no parameters of their own)."""

    def __init__(self, config: ProbabilisticConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config.backbone)
        self.confidences = (
            ConfidenceHead(config.backbone.bottleneck_channels, config.backbone.num_joints, config.confidence_widths)
            if config.use_confidences else None
        )
        prior = config.bone_prior_mm if config.bone_prior_mm is not None else default_bone_prior()
        self.register_buffer("bone_prior", torch.as_tensor(np.asarray(prior, dtype=np.float64)))

    def detect(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """2D joints (B, V, J, 2) in undistorted original-image pixels, confidences (B, V, J),
        original intrinsics (B, V, 3, 3), the crop-pixel soft-argmax (B, V, J, 2) and the
        heatmaps (B, V, J, h, w)."""
        vb = read_batch(batch, need_extrinsics=False)
        if vb.num_views < 2:
            raise InputError(f"probabilistic triangulation needs at least 2 views, got {vb.num_views}")
        out = run_backbone(self.backbone, vb.images)
        b, v, j = out.heatmaps.shape[:3]
        stride = vb.size / out.heatmaps.shape[-1]
        joints_crop = soft_argmax_2d(out.heatmaps, self.config.heatmap_multiplier) * stride
        if self.confidences is not None:
            w = self.confidences(out.bottleneck.flatten(0, 1)).unflatten(0, (b, v))
        else:
            w = torch.ones(b, v, j, dtype=joints_crop.dtype, device=joints_crop.device)
        w = w * vb.view_valid[:, :, None]
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12) + 1e-5
        w = w * vb.view_valid[:, :, None]
        pts = joints_crop
        if self.config.undistort:
            pts = undistort_pixels(pts, vb.K[:, :, None], vb.dist[:, :, None])
        s = crop_scale(vb.boxes, vb.size)[:, :, None]  # (B, V, 1, 2)
        pts = pts.to(torch.float64) / s + vb.boxes[:, :, None, :2]
        K = original_intrinsics(vb.K, vb.boxes, vb.size)
        return pts, w.to(torch.float64), K, joints_crop, out.heatmaps

    def forward(self, batch: dict[str, Any], generator: torch.Generator | None = None,
                groups: list[list[int]] | None = None) -> dict[str, Any]:
        """(B, J, 3) reference-camera mm joints (+ the posterior and 2D joints).

        ``groups``: lists of batch indices sharing one posterior (``pose_sharing =
        "sequence"``); None: one posterior per frame. ``generator``: a CPU generator, the
        source of every draw of the posterior (default: seeded with ``posterior.seed``).
        """
        pts, w, K, joints_crop, heatmaps = self.detect(batch)
        cfg = self.config.posterior
        if generator is None:
            generator = torch.Generator().manual_seed(cfg.seed)
        if groups is None:
            post = monte_carlo_posterior(pts.detach(), w.detach(), K, cfg, generator)
        else:
            post = _shared_posterior(pts.detach(), w.detach(), K, cfg, generator, groups)
        X = triangulate_under_posterior(pts, w, K, post)  # (B, J, 3) baseline units
        X = torch.where(torch.isfinite(X), X, torch.zeros_like(X))
        scale = bone_scale(X, self.bone_prior)
        joints = X * scale[:, None, None]
        return {"joints_3d": joints, "joints_2d": joints_crop, "weights": w, "posterior": post, "scale": scale,
                "heatmaps": heatmaps}


def _shared_posterior(pts: Tensor, w: Tensor, K: Tensor, cfg: PosteriorConfig, generator: torch.Generator,
                      groups: list[list[int]]) -> PosteriorResult:
    """One posterior per group of frames (static cameras): each group's joints are pooled as
    one "frame" of F·J points, in the pixels of the group's first frame's intrinsics (the
    original-image K of a static camera is the same in every frame), and every frame then
    reuses the group's samples."""
    b = pts.shape[0]
    parts: dict[int, PosteriorResult] = {}
    for g in groups:
        idx = host_tensor(g, torch.int64, pts.device)
        p = pts[idx].permute(1, 0, 2, 3).flatten(1, 2)[None]  # (1, V, F·J, 2)
        c = w[idx].permute(1, 0, 2).flatten(1, 2)[None]
        res = monte_carlo_posterior(p, c, K[idx[:1]], cfg, generator)
        for i in g:
            parts[i] = res
    fields = {}
    for name in ("rotations", "translations", "sample_rotations", "sample_translations", "log_weights",
                 "rotation_spread", "translation_spread"):
        fields[name] = torch.cat([getattr(parts[i], name) for i in range(b)])
    iters = max(parts[i].mean_error_px.shape[-1] for i in range(b))
    fields["mean_error_px"] = torch.cat([parts[i].mean_error_px[:, :iters] for i in range(b)])
    return PosteriorResult(**fields)


def reference_frame_joints(batch: dict[str, Any]) -> Tensor:
    """Ground truth (B, J, 3) in the first view's camera frame (training supervision only),
    on the batch's device."""
    R = batch_tensor(batch, "R", torch.float64)[:, 0]
    t = batch_tensor(batch, "t", torch.float64)[:, 0]
    X = batch_tensor(batch, "joints_3d", torch.float64)
    return X @ R.transpose(-1, -2) + t[:, None]


def sequence_groups(batch: dict[str, Any]) -> list[list[int]]:
    """Batch indices grouped by (subject, sequence) of ``meta``, in order of first appearance."""
    meta = batch.get("meta")
    if not meta:
        n = int(batch["images"].shape[0])
        return [[i] for i in range(n)]
    groups: dict[tuple[str, str], list[int]] = {}
    for i, m in enumerate(meta):
        groups.setdefault((str(getattr(m, "subject", "")), str(getattr(m, "sequence", i))), []).append(i)
    return list(groups.values())


class ProbabilisticMethod(Method):
    """Uncalibrated: a Monte-Carlo camera-pose posterior from 2D joints, triangulation under
    it, end-to-end training; output in the reference camera's frame."""

    name = "probabilistic"
    card = MethodCard(
        title="Probabilistic triangulation (uncalibrated)",
        paper="Jiang et al., ICCV 2023",
        url="https://arxiv.org/abs/2309.04756",
        code_url="https://github.com/bymaths/probabilistic_triangulation",
        bibtex=JIANG_BIBTEX,
        description="No extrinsics: a distribution over each camera's pose relative to the first view (angular "
                    "central Gaussian rotations, Student-t translations), initialised from the essential matrix "
                    "and PnP on the 2D joints and updated by Monte-Carlo sampling with a reprojection "
                    "likelihood; joints triangulated under the posterior samples (differentiable), scaled to mm by "
                    "the training set's mean bone lengths, in the first camera's frame. The paper's end-to-end "
                    "method, which its authors never published; rebuilt here.",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=False, multi_view=True, min_views=2, max_views=None,
        multi_person=False, output_frame="reference_camera", outputs=("joints_3d",), trainable=True,
    )
    config_model = ProbabilisticConfig
    config: ProbabilisticConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = ProbabilisticNet(self.config).eval()

    def loss(self, out: dict[str, Any], batch: dict[str, Any]) -> dict[str, Tensor]:
        """The 3D smooth MSE on root-relative reference-frame joints (cm) + ``heatmap_weight``
        × the pre-training's heatmap MSE on every view (the reference's V2 ``CocktailLoss``
        also sums a 3D and a 2D heatmap term)."""
        c = self.config
        s = c.loss_scale
        gt = reference_frame_joints(batch).to(out["joints_3d"].dtype)
        root = H36M17.root
        pred = out["joints_3d"] - out["joints_3d"][:, root : root + 1]
        gt = gt - gt[:, root : root + 1]
        loss3d = mse_smooth_loss(pred * s, gt * s, c.loss_threshold)
        losses = {"loss_3d": loss3d.detach()}
        total = loss3d.float()
        if c.heatmap_weight > 0:
            heat = out["heatmaps"]
            size = int(batch_tensor(batch, "images").shape[-1])
            stride = size / heat.shape[-1]
            j2d = batch_tensor(batch, "joints_2d").float()
            target = gaussian_heatmaps(j2d / stride, tuple(heat.shape[-2:]), c.heatmap_sigma)
            weights = joint_weights(j2d, batch_tensor(batch, "visibility"), size, 0.5)
            loss2d = heatmap_loss(heat, target, weights)
            losses["loss_2d"] = loss2d.detach()
            total = total + c.heatmap_weight * loss2d
        losses["loss"] = total
        return losses

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Set the bone-length prior from ``train``'s ground truth (unless configured), then
        fine-tune the backbone and confidence head end-to-end on the root-relative 3D error in
        the reference camera's frame, resuming from ``workdir/checkpoint.pt``. The network is
        built on the CPU (the same initial weights whatever the device) and trained on
        :attr:`device` in :attr:`precision`; the posterior's draws come from CPU generators
        seeded per step."""
        c = self.config
        with seeded(c.train.seed), torch.device("cpu"):
            self.net = ProbabilisticNet(c)
        init_from_pretrained(self.net.backbone, c.backbone_checkpoint)
        if c.bone_prior_mm is None:
            prior = training_bone_prior(train)
            if prior is not None:
                self.net.bone_prior.copy_(torch.as_tensor(prior, device="cpu"))
        groups = [(list(self.net.backbone.parameters()), 1.0)]
        if self.net.confidences is not None:
            groups.append((list(self.net.confidences.parameters()), c.confidence_lr_scale))
        optimizer = torch.optim.Adam(parameter_groups(groups), lr=c.train.lr, weight_decay=c.train.weight_decay)
        if tracker is not None:
            tracker.log_params({"probabilistic/bone_prior_mean_mm": float(self.net.bone_prior.mean()),
                                "probabilistic/samples": c.posterior.samples,
                                "probabilistic/iterations": c.posterior.iterations})

        def step_fn(batch: dict[str, Any], step: int, gen: torch.Generator) -> dict[str, Tensor]:
            post_gen = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=gen, device="cpu")))
            out = self.net(batch, post_gen)
            gt = reference_frame_joints(batch)
            rel = (out["joints_3d"] - out["joints_3d"][:, 6:7]) - (gt - gt[:, 6:7])
            return {**self.loss(out, batch), "mpjpe_rel": rel.norm(dim=-1).mean().detach(),
                    "reproj_px": out["posterior"].mean_error_px[:, -1].mean().detach()}

        self.last_summary = train_loop(
            name="probabilistic", config=c.train, modules={"net": self.net}, optimizer=optimizer,
            step_fn=step_fn, dataset=train, collate=collate_multiview, workdir=workdir, tracker=tracker,
            val_fn=(lambda: evaluate_reference_mpjpe(self, val, c.train.val_samples)) if val is not None else None,
            progress=getattr(self, "progress", True), device=self.device, precision=self.precision,
        )

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> Prediction:
        """Deterministic for a given batch: every random draw comes from a generator seeded
        with ``posterior.seed``. Extrinsics in the batch are ignored."""
        self.net.eval()
        groups = sequence_groups(batch) if self.config.pose_sharing == "sequence" else None
        with autocast(self.device, self.precision):
            out = self.net(_strip_extrinsics(batch), groups=groups)
        post: PosteriorResult = out["posterior"]
        return Prediction(
            joints_3d=out["joints_3d"].float(), frame="reference_camera",
            confidence=out["weights"].amax(dim=1).float(),
            extras={"joints_2d": out["joints_2d"], "relative_rotations": post.rotations.float(),
                    "relative_translations": post.translations.float(), "scale_mm": out["scale"].float(),
                    "reprojection_px": post.mean_error_px[:, -1].float()},
        )

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.net.eval()


def _strip_extrinsics(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch without anything that carries extrinsics (so no code path can read them)."""
    return {k: v for k, v in batch.items() if k not in ("R", "t", "proj_matrices", "cameras", "joints_3d")}


def training_bone_prior(train: Any) -> np.ndarray | None:
    """Mean bone lengths (mm) over a multi-view training set's ground truth, or None if the
    dataset does not expose its joints (``MultiViewDataset.store.joints_3d``)."""
    store = getattr(train, "store", None)
    joints = getattr(store, "joints_3d", None)
    if joints is None:
        return None
    return H36M17.bone_lengths(np.asarray(joints, dtype=np.float64)).mean(axis=0)


@torch.no_grad()
def evaluate_reference_mpjpe(method: ProbabilisticMethod, dataset: Any, limit: int | None,
                             batch_size: int = 8) -> dict[str, float]:
    """Root-relative MPJPE (mm) in the reference camera's frame on the first ``limit``
    samples (curves only; scoring goes through the protocols)."""
    errs = []
    for batch in eval_batches(dataset, batch_size, collate_multiview, limit):
        batch = to_device(batch, method.device)
        pred = torch.as_tensor(method.predict(batch).joints_3d, dtype=torch.float64, device=method.device)
        gt = reference_frame_joints(batch)
        errs.append(((pred - pred[:, 6:7]) - (gt - gt[:, 6:7])).norm(dim=-1).mean(-1))
    if not errs:
        return {}
    return {"mpjpe_rel_ref": float(torch.cat(errs).mean())}
