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
2. the Monte-Carlo posterior over every non-reference camera's pose relative to the
   **reference camera, the first present view** (view 0 unless it is missing, as camera
   54138969 in Human3.6M's S11 Directions-2: then the next present one, as the protocols'
   ground truth does; the views are reordered present-first, stably, before the posterior —
   :func:`reference_first_order`) (:mod:`poseboard.methods.nets.pose_posterior`: ACG rotations,
   Student-t translations, initialised by the essential matrix of the first two present
   views, PnP and a joint refinement, then ``iterations`` rounds of sampling ``samples``
   pose sets, triangulating, weighting by reprojection likelihood and refitting to the
   elites); a missing view is left out of the posterior and weighs 0 in the triangulation;
3. the joints triangulated (confidence-weighted DLT) under every final posterior sample and
   averaged with the samples' weights — differentiable in the 2D joints and confidences, so
   the 3D loss trains the backbone and the confidence head end-to-end (the posterior itself,
   a search, carries no gradient);
4. **metric scale** from a stated prior: the 2D evidence fixes the reconstruction only up to
   scale (gauge ‖t_1‖ = 1), so the pose is rescaled so that its bone lengths best match
   (least squares) the prior's mean bone lengths: the training set's mean bone lengths,
   set by ``fit`` from the training set's 3D ground truth whatever the dataset
   (:func:`training_bone_prior`: a generated split's ``store.joints_3d``, the real loaders'
   ``joints_3d`` — Human3.6M's label table, Panoptic's confident joints — or, for any other
   map-style dataset, every sample's ``joints_3d``), and recorded in the configuration
   (``bone_prior_mm``, ``bone_prior_source``), so the saved ``config.json`` and every result
   file say which prior scaled the predictions. A configured ``bone_prior_mm`` is kept.
   Before any fit (an untrained method) the prior is the mean over the synthetic world's
   training subjects. A subject whose bones differ from the mean is reconstructed at the
   wrong scale by that ratio (N-MPJPE removes it).

Output: ``joints_3d`` in the **reference camera's frame** (the first present view), mm
(``frame = "reference_camera"``). Training supervises the root-relative joints in that
frame (the ground truth moved there with the true extrinsics of the same view — supervision
only) with the algebraic method's smooth MSE.

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

from poseboard.datasets.torch_dataset import collate_multiview, present_first_order, take_views
from poseboard.device import autocast, to_device
from poseboard.errors import InputError, check_shape
from poseboard.geometry import soft_argmax_2d
from poseboard.methods.algebraic import mse_smooth_loss
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.nets.multiview import (
    ConfidenceHead,
    batch_tensor,
    crop_scale,
    host_tensor,
    read_batch,
    run_backbone,
    undistort_pixels,
)
from poseboard.methods.nets.pose_posterior import (
    PosteriorConfig,
    PosteriorResult,
    monte_carlo_posterior,
    triangulate_under_posterior,
)
from poseboard.methods.train.loop import TrainConfig, eval_batches, parameter_groups, seeded, train_loop
from poseboard.methods.train.pretrain import gaussian_heatmaps, heatmap_loss, joint_weights
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
    from poseboard.datasets.synthetic.body import SUBJECTS, TRAIN_SUBJECTS

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
        None, description="mean bone lengths (H36M17.bones order, mm) fixing the scale; None: measured by fit on "
                          "the training set's ground truth (fit then records it here)")
    bone_prior_source: str | None = Field(
        None, description="where bone_prior_mm came from, recorded by fit: the training set it was measured on, or "
                          "'configured'; None with bone_prior_mm None: the synthetic world's training subjects")
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
        """(B, J, 3) joints in the reference camera's frame (the first present view), mm, plus
        the posterior, the 2D joints and ``order``.

        ``groups``: lists of batch indices sharing one posterior (``pose_sharing =
        "sequence"``); None: one posterior per frame. ``generator``: a CPU generator, the
        source of every draw of the posterior (default: seeded with ``posterior.seed``).

        The posterior sees the views present-first (``order`` (B, V): the batch's view
        indices in that order, None when every view is present and nothing is reordered),
        so its view 0 is the reference; ``joints_2d``, ``weights`` and ``heatmaps`` keep
        the batch's view order.
        """
        pts, w, K, joints_crop, heatmaps = self.detect(batch)
        valid = read_batch(batch, need_extrinsics=False).view_valid
        order = reference_first_order(valid)
        present = None
        if order is not None:  # a missing view: the first present one becomes the reference
            pts, w_ref, K = (_take_views(x, order) for x in (pts, w, K))
            count = valid.sum(dim=1)
            present = [int(n) for n in count.tolist()]
            # a zero box has no original intrinsics (its K is singular): the reference's stand in, so
            # the triangulation, which weighs the missing view 0, still sees an invertible camera
            slot = torch.arange(K.shape[1], device=K.device)[None] < count[:, None].to(K.device)  # (B, V)
            K = torch.where(slot[..., None, None], K, K[:, :1].expand_as(K))
            if min(present) < 2:
                raise InputError(f"probabilistic triangulation needs at least 2 present views per frame; a frame of "
                                 f"the batch has {min(present)} (view_valid)")
            if groups is not None:  # frames share a posterior only if their views line up alike
                groups = _split_by_order(groups, order)
        else:
            w_ref = w
        cfg = self.config.posterior
        if generator is None:
            generator = torch.Generator().manual_seed(cfg.seed)
        if groups is None and present is None:
            post = monte_carlo_posterior(pts.detach(), w_ref.detach(), K, cfg, generator)
        else:
            post = _grouped_posterior(pts.detach(), w_ref.detach(), K, cfg, generator, groups, present)
        X = triangulate_under_posterior(pts, w_ref, K, post)  # (B, J, 3) baseline units
        X = torch.where(torch.isfinite(X), X, torch.zeros_like(X))
        scale = bone_scale(X, self.bone_prior)
        joints = X * scale[:, None, None]
        return {"joints_3d": joints, "joints_2d": joints_crop, "weights": w, "posterior": post, "scale": scale,
                "heatmaps": heatmaps, "order": order}


def reference_first_order(view_valid: Tensor) -> Tensor | None:
    """The views of each sample with the present ones first, in their order, then the missing
    ones: (B, V) int64 view indices, so that ``order[:, 0]`` is the reference camera (the
    first present view, as the protocols' ground truth takes it). None when every view is
    present (nothing to reorder; one host read of ``view_valid``).

    Args:
        view_valid: (B, V) bool, False for a missing view (a zero box).

    Example:
        >>> reference_first_order(torch.tensor([[False, True, True, True]]))
        tensor([[1, 2, 3, 0]])
    """
    check_shape(view_valid, ["B", "V"], "reference_first_order: view_valid")
    if bool(view_valid.all()):
        return None
    return present_first_order(view_valid)


def reference_view(view_valid: Tensor) -> Tensor:
    """(B,) int64 index of each sample's reference camera: its first present view (view 0 when
    none is present, which no method can predict anyway). ``view_valid``: (B, V) bool."""
    check_shape(view_valid, ["B", "V"], "reference_view: view_valid")
    return torch.where(view_valid.any(dim=1), view_valid.to(torch.int32).argmax(dim=1), 0)


def _take_views(x: Tensor, order: Tensor) -> Tensor:
    """``x`` (B, V, ...) with its views in ``order`` (B, V)."""
    return take_views(x, order)


def _split_by_order(groups: list[list[int]], order: Tensor) -> list[list[int]]:
    """Each group split into the parts whose frames have the same view order (a sequence whose camera
    is missing in some frames only: each part gets its own posterior)."""
    rows = [tuple(r) for r in order.tolist()]
    out: list[list[int]] = []
    for g in groups:
        parts: dict[tuple[int, ...], list[int]] = {}
        for i in g:
            parts.setdefault(rows[i], []).append(i)
        out.extend(parts.values())
    return out


def _restore_views(x: Tensor, order: Tensor | None) -> Tensor:
    """Inverse of :func:`_take_views` on (B, V, ...): back to the batch's view order."""
    if order is None:
        return x
    return _take_views(x, torch.argsort(order, dim=1))


def _grouped_posterior(pts: Tensor, w: Tensor, K: Tensor, cfg: PosteriorConfig, generator: torch.Generator,
                       groups: list[list[int]] | None, present: list[int] | None) -> PosteriorResult:
    """The posterior of a batch whose frames share posteriors (``groups``) or miss views.

    ``pts`` (B, V, J, 2), ``w`` (B, V, J), ``K`` (B, V, 3, 3) have each frame's present views
    first (:func:`reference_first_order`); ``present`` (B ints, None: all V) counts them. A
    frame's posterior is estimated on its present views alone (a missing view has no 2D
    evidence: with zero confidence it would still enter the essential matrix, the PnP and the
    refinement) and padded to V views (identity rotation, zero translation, NaN spreads: a
    view the triangulation weighs 0).

    * ``groups`` (``pose_sharing = "sequence"``): one posterior per group (static cameras):
      the group's joints are pooled as one "frame" of F·J points, in the pixels of the
      group's first frame's intrinsics (the original-image K of a static camera is the same
      in every frame), and every frame reuses the group's samples. The frames of a group
      have the same views present (:func:`_split_by_order`).
    * otherwise one posterior per frame, the frames with the same number of present views
      estimated together.
    """
    b, v = pts.shape[:2]
    counts = present if present is not None else [v] * b
    parts: list[tuple[PosteriorResult, list[int], list[int]]] = []  # result, batch rows, its rows
    if groups is not None:
        for g in groups:
            k = counts[g[0]]
            idx = host_tensor(g, torch.int64, pts.device)
            p = pts[idx, :k].permute(1, 0, 2, 3).flatten(1, 2)[None]  # (1, k, F·J, 2)
            c = w[idx, :k].permute(1, 0, 2).flatten(1, 2)[None]
            res = monte_carlo_posterior(p, c, K[idx[:1], :k], cfg, generator)
            parts.append((_pad_views(res, v), list(g), [0] * len(g)))
    else:
        by_count: dict[int, list[int]] = {}
        for i, k in enumerate(counts):
            by_count.setdefault(k, []).append(i)
        for k, rows in by_count.items():
            idx = host_tensor(rows, torch.int64, pts.device)
            res = monte_carlo_posterior(pts[idx, :k], w[idx, :k], K[idx, :k], cfg, generator)
            parts.append((_pad_views(res, v), rows, list(range(len(rows)))))
    pick: list[tuple[int, int]] = [(0, 0)] * b  # batch row → (part, its row)
    for n, (_, rows, own) in enumerate(parts):
        for i, r in zip(rows, own, strict=True):
            pick[i] = (n, r)
    fields = {}
    for name in ("rotations", "translations", "sample_rotations", "sample_translations", "log_weights",
                 "rotation_spread", "translation_spread", "mean_error_px"):
        fields[name] = torch.cat([getattr(parts[n][0], name)[r : r + 1] for n, r in pick])
    return PosteriorResult(**fields)


def _shared_posterior(pts: Tensor, w: Tensor, K: Tensor, cfg: PosteriorConfig, generator: torch.Generator,
                      groups: list[list[int]]) -> PosteriorResult:
    """One posterior per group of frames, every view present (:func:`_grouped_posterior`)."""
    return _grouped_posterior(pts, w, K, cfg, generator, groups, None)


def _pad_views(res: PosteriorResult, views: int) -> PosteriorResult:
    """A posterior over k < ``views`` views padded to ``views``: identity rotations, zero
    translations and NaN spreads for the missing ones (a view the triangulation weighs 0)."""
    k = res.rotations.shape[1]
    if k == views:
        return res
    eye = torch.eye(3, dtype=res.rotations.dtype, device=res.rotations.device)

    def pad(x: Tensor, dim: int, fill: Tensor | float) -> Tensor:
        shape = list(x.shape)
        shape[dim] = views - k
        extra = (fill.expand(*shape) if isinstance(fill, Tensor)
                 else torch.full(shape, fill, dtype=x.dtype, device=x.device))
        return torch.cat([x, extra], dim=dim)

    return PosteriorResult(
        rotations=pad(res.rotations, 1, eye), translations=pad(res.translations, 1, 0.0),
        sample_rotations=pad(res.sample_rotations, 2, eye), sample_translations=pad(res.sample_translations, 2, 0.0),
        log_weights=res.log_weights, mean_error_px=res.mean_error_px,
        rotation_spread=pad(res.rotation_spread, 1, float("nan")),
        translation_spread=pad(res.translation_spread, 1, float("nan")),
    )


def reference_frame_joints(batch: dict[str, Any]) -> Tensor:
    """Ground truth (B, J, 3) mm in the reference camera's frame — the first present view
    (:func:`reference_view`), the camera the prediction is anchored on — for training
    supervision only, on the batch's device."""
    R = batch_tensor(batch, "R", torch.float64)
    t = batch_tensor(batch, "t", torch.float64)
    if batch.get("view_valid") is not None and not bool(batch_tensor(batch, "view_valid", torch.bool).all()):
        ref = reference_view(batch_tensor(batch, "view_valid", torch.bool))
        b = torch.arange(R.shape[0], device=R.device)
        R, t = R[b, ref], t[b, ref]
    else:
        R, t = R[:, 0], t[:, 0]
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
    # one posterior per frame or per sequence is drawn at inference; training never groups frames
    inference_fields = frozenset({"pose_sharing"})
    card = MethodCard(
        title="Probabilistic triangulation (uncalibrated)",
        paper="Jiang et al., ICCV 2023",
        url="https://arxiv.org/abs/2309.04756",
        code_url="https://github.com/bymaths/probabilistic_triangulation",
        bibtex=JIANG_BIBTEX,
        description="No extrinsics: a distribution over each camera's pose relative to the first present view "
                    "(angular central Gaussian rotations, Student-t translations), initialised from the essential "
                    "matrix and PnP on the 2D joints and updated by Monte-Carlo sampling with a reprojection "
                    "likelihood; joints triangulated under the posterior samples (differentiable), scaled to mm by "
                    "the training set's mean bone lengths, in the first present camera's frame. The paper's end-to-end "
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
            self.net.bone_prior.copy_(torch.as_tensor(prior, device="cpu"))
            source = f"fit: mean over the training set's ground truth ({describe_dataset(train)})"
            c = self.config = c.model_copy(update={"bone_prior_mm": tuple(float(x) for x in prior),
                                                   "bone_prior_source": source})
        elif c.bone_prior_source is None:
            c = self.config = c.model_copy(update={"bone_prior_source": "configured"})
        self.net.config = c
        groups = [(list(self.net.backbone.parameters()), 1.0)]
        if self.net.confidences is not None:
            groups.append((list(self.net.confidences.parameters()), c.confidence_lr_scale))
        optimizer = torch.optim.Adam(parameter_groups(groups), lr=c.train.lr, weight_decay=c.train.weight_decay)
        if tracker is not None:
            tracker.log_params({"probabilistic/bone_prior_mean_mm": float(self.net.bone_prior.mean()),
                                "probabilistic/bone_prior_source": c.bone_prior_source,
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
        order = out["order"]
        return Prediction(
            joints_3d=out["joints_3d"].float(), frame="reference_camera",
            confidence=out["weights"].amax(dim=1).float(),
            extras={"joints_2d": out["joints_2d"],
                    # (B, V, ...) in the batch's view order: view v's pose relative to the reference
                    "relative_rotations": _restore_views(post.rotations, order).float(),
                    "relative_translations": _restore_views(post.translations, order).float(),
                    "reference_view": (order[:, 0] if order is not None
                                       else torch.zeros(len(post.rotations), dtype=torch.int64,
                                                        device=post.rotations.device)),
                    "scale_mm": out["scale"].float(), "reprojection_px": post.mean_error_px[:, -1].float()},
        )

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.net.eval()


def _strip_extrinsics(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch without anything that carries extrinsics (so no code path can read them)."""
    return {k: v for k, v in batch.items() if k not in ("R", "t", "proj_matrices", "cameras", "joints_3d")}


def ground_truth_joints(dataset: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The 3D ground truth of every sample of a multi-view dataset: (N, J, 3) float64 world mm
    and an optional (N, J) bool mask of the joints that are ground truth (None: all).

    Read, in this order, from ``dataset.joints_3d`` (the real loaders:
    :class:`~poseboard.datasets.real.human36m.Human36MMultiView`,
    :class:`~poseboard.datasets.real.panoptic.PanopticMultiView`, with ``joints_valid``),
    ``dataset.store.joints_3d`` (a generated split,
    :class:`~poseboard.datasets.torch_dataset.MultiViewDataset`), a
    ``torch.utils.data.Subset``'s dataset at its indices, or else every sample's
    ``joints_3d`` (``dataset[i]``: any map-style dataset; loads each sample).
    """
    for holder in (dataset, getattr(dataset, "store", None)):
        joints = getattr(holder, "joints_3d", None)
        if joints is not None:
            valid = getattr(holder, "joints_valid", None)
            return np.asarray(joints, dtype=np.float64), None if valid is None else np.asarray(valid, dtype=bool)
    if isinstance(dataset, torch.utils.data.Subset):
        joints, valid = ground_truth_joints(dataset.dataset)
        idx = np.asarray(dataset.indices, dtype=np.int64)
        return joints[idx], None if valid is None else valid[idx]
    try:
        n = len(dataset)
    except TypeError:
        raise InputError(f"{type(dataset).__name__}: not a map-style dataset; its ground truth cannot be read "
                         "for the bone-length prior (set bone_prior_mm)") from None
    if n == 0:
        raise InputError(f"{type(dataset).__name__}: empty training set; no ground truth for the bone-length prior")
    samples = [getattr(dataset[i], "joints_3d", None) for i in range(n)]
    if any(j is None for j in samples):
        raise InputError(f"{type(dataset).__name__}: its samples carry no joints_3d; the bone-length prior needs the "
                         "training ground truth (or set bone_prior_mm)")
    return np.stack([np.asarray(j, dtype=np.float64) for j in samples]), None


def training_bone_prior(train: Any) -> np.ndarray:
    """(16,) float64 mm: mean bone lengths (``H36M17.bones`` order) over a multi-view training
    set's 3D ground truth (:func:`ground_truth_joints`: synthetic or real). A bone counts in
    the frames where both its joints are ground truth (``joints_valid``); a bone with none
    is an :class:`~poseboard.errors.InputError`.

    Example:
        >>> class Toy:  # any dataset exposing its joints: joint j at x = 10·j mm
        ...     joints_3d = np.zeros((2, 17, 3)) + np.arange(17)[:, None] * [10.0, 0, 0]
        >>> training_bone_prior(Toy())[:4]  # bones (1, 0), (2, 1), (6, 2), (6, 3)
        array([10., 10., 40., 30.])
    """
    joints, valid = ground_truth_joints(train)
    if joints.ndim != 3 or joints.shape[1:] != (H36M17.num_joints, 3):
        raise InputError(f"training ground truth has shape {joints.shape}; expected (N, {H36M17.num_joints}, 3)")
    lengths = H36M17.bone_lengths(joints)  # (N, 16) mm
    if valid is None:
        return lengths.mean(axis=0)
    parent, child = np.array(H36M17.bones).T
    ok = valid[:, parent] & valid[:, child]  # (N, 16)
    counts = ok.sum(axis=0)
    if not counts.all():
        missing = [H36M17.joint_names[c] for c in child[counts == 0]]
        raise InputError(f"the training ground truth never has both ends of the bone(s) to {missing}")
    return np.where(ok, lengths, 0.0).sum(axis=0) / counts


def describe_dataset(dataset: Any) -> str:
    """A short account of a training set for provenance: its kind, split or folder, and size."""
    inner = dataset.dataset if isinstance(dataset, torch.utils.data.Subset) else dataset
    store = getattr(inner, "store", None)
    where = getattr(store, "path", None) or getattr(inner, "split", None)
    if isinstance(where, Path):  # <dataset>/<split> only: no machine's folder in a result file
        where = "/".join(where.parts[-2:])
    name = type(inner).__name__ + (f" {where}" if where is not None else "")
    return f"{name}, {len(dataset)} frames"


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
