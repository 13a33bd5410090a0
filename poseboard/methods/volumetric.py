"""``volumetric``: volumetric learnable triangulation (Iskakov et al., ICCV 2019).

1. **Features.** The backbone's deconvolution output (B, V, C, h, w) is reduced to
   ``volume_channels`` by a 1×1 convolution (``process_features``).
2. **Cuboid.** A grid of ``volume_size³`` voxel centres spanning ``cuboid_mm`` (x, y, z
   side lengths, world mm) around a pelvis estimate, rotated about the world's vertical
   (z) axis through its centre by θ ~ U(0, 2π) in training (θ = 0 at test time).
3. **Unprojection.** Every voxel centre is projected into every view *with* the lens
   distortion (the crops are distorted images), mapped to heatmap cells (cell i = crop
   pixel stride·i) and the features sampled bilinearly (``grid_sample``, corners
   aligned, so cell i is sampled exactly at i — the reference's ``u·95/96`` mismatch is
   not reproduced). A voxel behind a camera or outside its crop samples 0 (zero padding).
4. **Aggregation** over the valid views, per voxel and channel: ``softmax`` (the paper's:
   Σ_v softmax_v(f) · f), ``sum``, or ``conf`` (per-view, per-channel weights from a
   confidence head on the bottleneck, normalised over views). As in the reference, a view
   in which a voxel falls outside the crop *takes part* with its zero feature: leaving it
   out of the softmax would give every voxel seen by one camera only that camera's full
   response, and the rays leaving the other crops would rival the true intersection
   (measured: soft-argmax of softmax-aggregated heatmaps 57 mm with the zeros, 304 mm
   without). Only invalid views (``view_valid`` False) are left out.
   ``volume_norm: standardise`` (not in the paper; off by default) then shifts and scales
   each sample's aggregated volume to zero mean and unit variance: with features of the size
   ours have (std ≈ 0.4), the softmax over views is close to a mean, whose contrast shrinks
   as views are added, so a V2V trained on 4 views meets ever weaker inputs on 8 or 16
   (``scripts/diagnose_volumetric_views.py`` until commit a3dea29: the dome sweep is flat from 2 to 16 views as
   trained, and falls 177 → 125 mm when the volume's statistics are matched).
5. **V2V** 3D encoder–decoder → one volume per joint; **3D soft-argmax**
   (``softmax(volume_multiplier · V)``, multiplier 1 as the paper) over the voxels' world
   coordinates gives the joints in world mm.
6. **Loss:** L1 on the coordinates in cm (÷ 3·J) + ``ce_weight`` (0.01) × the voxel
   cross-entropy −log(p + 1e-6) at the voxel nearest the ground truth.

**Where the cuboid is centred** (the choice this module makes and documents). At test time
always the *algebraic* method's pelvis, as the paper: a trained algebraic model is
embedded (frozen) in the volumetric method and saved with it, so a saved volumetric
method is self-contained (its inference time includes the algebraic pass). With two or
more views that is the algebraic triangulation of the pelvis; with a **single view** there
is nothing to triangulate, so the pelvis is the algebraic network's 2D pelvis in that view
back-projected to a depth from the crop's scale: ``depth = fx_crop · crop_extent_mm / S``,
``crop_extent_mm`` being the median, over the training views, of the physical width a
crop spans at the pelvis (fitted in ``fit``; a RootNet-like size prior). In training
(``train_centre``): ``gt_jitter`` (default) places it at the ground-truth pelvis plus
Gaussian noise of ``centre_jitter_mm`` per axis — for single-view steps at the test-time
estimate computed from the ground-truth 2D pelvis (``centre_jitter_px`` noise) — so the
network learns the error it will meet; ``algebraic`` runs the embedded algebraic model on
every training batch (the paper's choice, slower). With ``gt_jitter`` the algebraic model
is only needed at the end of ``fit``.

**Any number of views.** Training draws, per step, a number of views from
``train_view_counts`` and that many random views of each sample, so one model serves one
camera as well as many; steps with one view use the root-relative L1 (the reference's
single-view rule, train.py L200-213) and no cross-entropy term (the depth of a single
view's voxel is ambiguous).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from poseboard.datasets.torch_dataset import VIEW_FEATURES_KEY, collate_multiview
from poseboard.device import autocast
from poseboard.errors import InputError
from poseboard.geometry import soft_argmax_2d, soft_argmax_3d
from poseboard.methods.algebraic import AlgebraicConfig, AlgebraicMethod, AlgebraicNet, evaluate_mpjpe
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, BackboneOutput, init_from_pretrained
from poseboard.methods.nets.multiview import (
    ConfidenceHead,
    ViewBatch,
    batch_tensor,
    host_tensor,
    read_batch,
    run_backbone,
    undistort_pixels,
)
from poseboard.methods.nets.v2v import V2VConfig, V2VNet
from poseboard.methods.ransac import ISKAKOV_BIBTEX
from poseboard.methods.train.loop import TrainConfig, parameter_groups, seeded, train_loop
from poseboard.samples import Prediction

Aggregation = Literal["softmax", "sum", "conf"]
VolumeNorm = Literal["none", "standardise"]
ROOT = 6


class VolumetricConfig(BaseModel):
    """Hyper-parameters of the volumetric method (``params.yaml``: ``methods.volumetric``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    backbone_checkpoint: str | None = Field(None, description="folder of the pre-trained backbone (used by fit)")
    algebraic: AlgebraicConfig = Field(default_factory=AlgebraicConfig,
                                       description="architecture of the embedded algebraic pelvis model")
    algebraic_checkpoint: str | None = Field(None, description="folder of a saved algebraic method (used by fit)")
    volume_channels: int = Field(32, ge=1, description="feature channels unprojected (paper: 32)")
    init_features_from_heatmaps: bool = Field(
        False, description="initialise the first min(C, J) channels of process_features with the pre-trained "
                           "heatmap layer (not in the paper; converges far faster on a CPU budget)")
    volume_size: int = Field(64, ge=2, description="voxels per side (paper: 64)")
    cuboid_mm: tuple[float, float, float] = Field((2500.0, 2500.0, 2500.0), description="cuboid sides x, y, z (mm)")
    aggregation: Aggregation = "softmax"
    volume_norm: VolumeNorm = Field(
        "none", exclude_if=lambda v: v == "none",  # the paper's form keeps its records (results, checkpoints)
        description="standardise: each sample's aggregated volume to zero mean, unit variance before "
                            "the V2V (not in the paper; keeps its input's scale independent of the view count)")
    volume_multiplier: float = Field(1.0, gt=0, description="3D soft-argmax inverse temperature (paper: 1)")
    v2v: V2VConfig = Field(default_factory=lambda: V2VConfig.preset("paper"))
    ce_weight: float = Field(0.01, ge=0, description="weight of the voxel cross-entropy term")
    loss_scale: float = Field(0.1, gt=0, description="mm → L1 units (0.1: centimetres)")
    rotate: bool = Field(True, description="random rotation of the cuboid about world z in training")
    train_centre: Literal["gt_jitter", "algebraic"] = "gt_jitter"
    centre_jitter_mm: float = Field(30.0, ge=0, description="gt_jitter: std of the pelvis noise per axis")
    centre_jitter_px: float = Field(2.0, ge=0, description="gt_jitter, one view: std of the 2D pelvis noise, crop px")
    train_view_counts: tuple[int, ...] = Field((4,), min_length=1,
                                               description="views per training step, drawn uniformly from this list")
    backbone_lr_scale: float = Field(0.1, gt=0, description="backbone lr / lr (paper: 1e-4 vs 1e-3)")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-3, batch_size=5))

    @classmethod
    def preset(cls, profile: str) -> VolumetricConfig:
        if profile == "smoke":
            return cls(backbone=BackboneConfig.preset("smoke"), algebraic=AlgebraicConfig.preset("smoke"),
                       volume_channels=8, volume_size=16, cuboid_mm=(2000.0, 2000.0, 2400.0),
                       v2v=V2VConfig.preset("smoke"), train_view_counts=(1, 2, 3, 4, 4, 4),
                       train=TrainConfig(steps=60, batch_size=4, lr=3e-3, checkpoint_every=20, log_every=5,
                                         val_samples=16))
        if profile == "default":
            return cls(backbone=BackboneConfig.preset("default"), algebraic=AlgebraicConfig.preset("default"),
                       volume_channels=16, volume_size=32, cuboid_mm=(2000.0, 2000.0, 2400.0),
                       v2v=V2VConfig.preset("default"), train_view_counts=(1, 2, 3, 4, 4, 4),
                       train=TrainConfig(steps=3000, batch_size=4, lr=1e-3, schedule="cosine", warmup_steps=100,
                                         checkpoint_every=100, log_every=20, val_every=500, val_samples=64))
        if profile == "gpu":  # 64³ volumes and the paper's V2V (issue 20: 60-108 samples/s on an H100)
            return cls(backbone=BackboneConfig.preset("resnet50"), algebraic=AlgebraicConfig.preset("gpu"),
                       volume_channels=32, volume_size=64, cuboid_mm=(2000.0, 2000.0, 2400.0),
                       v2v=V2VConfig.preset("paper"), train_view_counts=(1, 2, 3, 4, 4, 4),
                       train=TrainConfig(steps=3000, batch_size=8, lr=1e-3, schedule="cosine", warmup_steps=100,
                                         checkpoint_every=500, log_every=50, val_every=1000, val_samples=256,
                                         num_workers=8))
        if profile == "paper":
            return cls(backbone=BackboneConfig.preset("paper"), algebraic=AlgebraicConfig.preset("paper"),
                       train=TrainConfig(steps=40 * 3000, batch_size=5, lr=1e-3, checkpoint_every=3000,
                                         log_every=50, val_every=3000, val_samples=2181))
        raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")


# ---------------------------------------------------------------------------- geometry
def rotation_z(theta: Tensor) -> Tensor:
    """(B,) angles → (B, 3, 3) rotations about the world z axis."""
    c, s = torch.cos(theta), torch.sin(theta)
    z, o = torch.zeros_like(theta), torch.ones_like(theta)
    return torch.stack([c, -s, z, s, c, z, z, z, o], dim=-1).unflatten(-1, (3, 3))


def voxel_offsets(size: int, cuboid_mm: tuple[float, float, float], dtype: torch.dtype = torch.float64,
                  device: torch.device | str = "cpu") -> Tensor:
    """(size, size, size, 3) voxel centres relative to the cuboid's centre (mm) on ``device``;
    index (i, j, k) = (x, y, z), end voxels on the faces (the reference's
    base − side/2 + i·side/(n−1))."""
    axes = [torch.linspace(-s / 2, s / 2, size, dtype=dtype, device=device) for s in cuboid_mm]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def cuboid_coords(centre: Tensor, rotation: Tensor, size: int, cuboid_mm: tuple[float, float, float]) -> Tensor:
    """(B, 3) centres, (B, 3, 3) rotations → (B, size, size, size, 3) world mm voxel centres."""
    off = voxel_offsets(size, cuboid_mm, centre.dtype, centre.device)
    return torch.einsum("bij,xyzj->bxyzi", rotation, off) + centre[:, None, None, None, :]


def unproject(features: Tensor, coords: Tensor, vb: ViewBatch) -> tuple[Tensor, Tensor]:
    """Sample each view's feature map at the projections of the voxel centres.

    Args:
        features: (B, V, C, h, w) feature maps; cell i is crop pixel ``S/w · i``.
        coords: (B, N, 3) world mm.
        vb: the batch's cameras (K, R, t, dist of the crops).

    Returns:
        (B, V, C, N) sampled features (zero where masked) and the (B, V, N) bool mask of
        voxels in front of the camera, inside the crop, in a valid view.
    """
    if vb.R is None or vb.t is None:
        raise InputError("the volumetric method needs camera extrinsics (R, t)")
    b, v, _, h, w = features.shape
    with torch.no_grad():
        uv, in_front = project_voxels(coords, vb)
        cells = uv * (w / vb.size)
        gx = 2 * cells[..., 0] / (w - 1) - 1
        gy = 2 * cells[..., 1] / (h - 1) - 1
        grid = torch.stack([gx, gy], dim=-1)
        mask = in_front & (grid.abs() <= 1).all(-1) & vb.view_valid[:, :, None]
        grid = torch.where(mask[..., None], grid, torch.full_like(grid, -2.0)).to(features.dtype)
    sampled = F.grid_sample(features.flatten(0, 1), grid.flatten(0, 1)[:, None], mode="bilinear",
                            padding_mode="zeros", align_corners=True)  # (B·V, C, 1, N)
    # masked voxels sample at -2 (outside the map): zero padding already makes them 0
    return sampled.squeeze(2).unflatten(0, (b, v)), mask


def project_voxels(coords: Tensor, vb: ViewBatch) -> tuple[Tensor, Tensor]:
    """Voxel centres (B, N, 3) world mm → (B, V, N, 2) distorted crop pixels and (B, V, N)
    in-front mask: the model of :func:`poseboard.geometry.project_points_with_distortion`
    (OpenCV distortion), written out in float32 for the ~10⁵–10⁶ points of a volume (at a few
    metres float32 is exact to ~10⁻³ px, also under a ``bf16`` autocast, which it leaves; not
    differentiated: the grid is fixed)."""
    assert vb.R is not None and vb.t is not None
    R, t, K, dist = vb.R.float(), vb.t.float(), vb.K.float(), vb.dist.float()
    with torch.autocast(coords.device.type, enabled=False):
        cam = torch.einsum("bvij,bnj->bvni", R, coords.float()) + t[:, :, None]
    z = cam[..., 2]
    in_front = z > 1.0  # mm
    z = torch.where(in_front, z, torch.ones_like(z))
    x, y = cam[..., 0] / z, cam[..., 1] / z
    k1, k2, p1, p2, k3 = (d[..., None] for d in dist.unbind(-1))
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    fx, fy, cx, cy, skew = (K[..., i, j, None] for i, j in ((0, 0), (1, 1), (0, 2), (1, 2), (0, 1)))
    uv = torch.stack([fx * xd + skew * yd + cx, fy * yd + cy], dim=-1)
    return uv, in_front


def _softmax_over_views(volumes: Tensor, m: Tensor, keep_weights: bool = False
                        ) -> tuple[Tensor, Tensor | None, Tensor]:
    """Σ_v softmax_v(f) · f over the views where the float mask ``m`` (broadcast to
    ``volumes`` (B, V, C, N)) is 1: exp(f − max_v f) · m, normalised (0 where no view counts).

    Returns the (B, C, N) aggregate, the unnormalised weights e (B, V, C, N) when
    ``keep_weights`` (else None: their buffer is reused) and the clamped normaliser
    Σ_v e (B, C, N). Every step runs in place in one buffer: written as separate tensors,
    each step allocates and writes a whole (B, V, C, N) tensor (~1 GB at 64³ voxels)."""
    e = volumes - volumes.amax(1, keepdim=True)
    e.exp_().mul_(m)
    den = e.sum(1).clamp_min_(1e-12)
    weighted = e.mul(volumes) if keep_weights else e.mul_(volumes)
    return weighted.sum(1).div_(den), (e if keep_weights else None), den


class _SoftmaxOverViews(torch.autograd.Function):
    """:func:`_softmax_over_views` with its gradient written out. With s_v = e_v / Σ_u e_u and
    a = Σ_v s_v f_v, ∂a/∂f_v = s_v (1 + f_v − a) (the max shift cancels), so the backward
    is four in-place passes over one (B, V, C, N) buffer instead of the dozen allocations
    autograd makes of the same formula; it saves the input and e, not every intermediate.
    The mask takes no gradient."""

    @staticmethod
    def forward(ctx: Any, volumes: Tensor, m: Tensor) -> Tensor:
        out, e, den = _softmax_over_views(volumes, m, keep_weights=True)
        ctx.save_for_backward(volumes, e, den, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        volumes, e, den, out = ctx.saved_tensors
        g = (grad / den).unsqueeze(1)  # (B, 1, C, N)
        return (volumes - out.unsqueeze(1)).add_(1).mul_(e).mul_(g), None


def aggregate(volumes: Tensor, valid: Tensor, how: Aggregation, weights: Tensor | None = None) -> Tensor:
    """(B, V, C, N) per-view volumes → (B, C, N), over the views where ``valid`` (B, V) or
    (B, V, N) is True."""
    m = (valid[:, :, None, None] if valid.ndim == 2 else valid[:, :, None]).to(volumes.dtype)
    if how == "sum":
        return (volumes * m).sum(1)
    if how == "softmax":
        if torch.is_grad_enabled() and volumes.requires_grad:
            return _SoftmaxOverViews.apply(volumes, m)
        return _softmax_over_views(volumes, m)[0]
    if how == "conf":
        if weights is None:
            raise InputError("conf aggregation needs per-view weights")
        w = weights[..., None] * m  # (B, V, C, N)
        return (w * volumes).sum(1) / w.sum(1).clamp_min(1e-6)
    raise ValueError(f"aggregation must be one of ['softmax', 'sum', 'conf'], got {how!r}")


def standardise_volume(volume: Tensor, eps: float = 1e-5) -> Tensor:
    """(B, C, N) → the same, each sample shifted and scaled to zero mean and unit variance over
    its channels and voxels (no learned parameters)."""
    mean = volume.mean(dim=(1, 2), keepdim=True)
    var = volume.var(dim=(1, 2), keepdim=True, unbiased=False)
    return (volume - mean) / torch.sqrt(var + eps)


def backproject(points: Tensor, depth: Tensor, K: Tensor, R: Tensor, t: Tensor, dist: Tensor) -> Tensor:
    """Distorted crop pixels (B, 2) at camera depth (B,) mm → world mm (B, 3)."""
    und = undistort_pixels(points[:, None], K[:, None], dist[:, None])[:, 0]
    # solve_ex: K is invertible, and the error check of solve would wait for the device
    ray = torch.linalg.solve_ex(K, torch.cat([und, torch.ones_like(und[:, :1])], dim=-1)[..., None])[0][..., 0]
    cam = ray / ray[:, 2:3] * depth[:, None]
    return torch.einsum("bji,bj->bi", R, cam - t)


# ---------------------------------------------------------------------------- the network
class VolumetricNet(nn.Module):
    def __init__(self, config: VolumetricConfig) -> None:
        super().__init__()
        self.config = c = config
        self.backbone = Backbone(c.backbone)
        self.backbone.final.requires_grad_(False)  # heatmaps are not used (the reference freezes them)
        self.process_features = nn.Conv2d(c.backbone.feature_channels, c.volume_channels, 1)
        self.confidences = (ConfidenceHead(c.backbone.bottleneck_channels, c.volume_channels, (64, 64, 64))
                            if c.aggregation == "conf" else None)
        self.v2v = V2VNet(c.volume_channels, c.backbone.num_joints, c.v2v)

    def forward(self, vb: ViewBatch, centre: Tensor, rotation: Tensor,
                backbone_out: BackboneOutput | None = None) -> dict[str, Tensor]:
        volume, coords = self.aggregated_volume(vb, centre, rotation, backbone_out)
        return self.volume_to_joints(volume, coords)

    def aggregated_volume(self, vb: ViewBatch, centre: Tensor, rotation: Tensor,
                          backbone_out: BackboneOutput | None = None) -> tuple[Tensor, Tensor]:
        """Steps 1–4: the (B, C, N) aggregated (and, with ``volume_norm``, standardised)
        volume and the (B, n, n, n, 3) float64 voxel centres it was sampled at;
        ``backbone_out``: the backbone's outputs for ``vb``'s views if already computed."""
        c = self.config
        out = backbone_out if backbone_out is not None else run_backbone(self.backbone, vb.images)
        b, v = out.features.shape[:2]
        feats = self.process_features(out.features.flatten(0, 1)).unflatten(0, (b, v))
        coords = cuboid_coords(centre, rotation, c.volume_size, c.cuboid_mm)  # (B, n, n, n, 3) float64
        sampled, _ = unproject(feats, coords.flatten(1, 3), vb)
        weights = None
        if self.confidences is not None:
            weights = self.confidences(out.bottleneck.flatten(0, 1)).unflatten(0, (b, v))
        volume = aggregate(sampled, vb.view_valid, c.aggregation, weights)
        if c.volume_norm == "standardise":
            volume = standardise_volume(volume)
        return volume, coords

    def volume_to_joints(self, volume: Tensor, coords: Tensor) -> dict[str, Tensor]:
        """Step 5: V2V and 3D soft-argmax of an aggregated volume → joints (B, J, 3) world mm."""
        c, n = self.config, self.config.volume_size
        volumes = self.v2v(volume.unflatten(-1, (n, n, n)))  # (B, J, n, n, n)
        # the voxel coordinates (mm) stay at least float32 when the volumes are bf16
        grid = coords[:, None].to(torch.promote_types(volumes.dtype, torch.float32))
        joints = soft_argmax_3d(volumes, grid, c.volume_multiplier)
        return {"joints_3d": joints, "volumes": volumes, "coords": coords}


def voxel_cross_entropy(volumes: Tensor, coords: Tensor, centre: Tensor, rotation: Tensor, gt: Tensor,
                        cuboid_mm: tuple[float, float, float], multiplier: float) -> Tensor:
    """Mean over batch and joints of −log(p + 1e-6) at the voxel nearest each ground-truth
    joint, p = softmax(multiplier · volume) (the reference's ``VolumetricCELoss``)."""
    n = volumes.shape[-1]
    local = torch.einsum("bji,bkj->bki", rotation, gt.to(rotation.dtype) - centre[:, None])  # Rᵀ (X − c)
    side = host_tensor(cuboid_mm, local.dtype, local.device)
    idx = torch.round((local + side / 2) / side * (n - 1)).long().clamp(0, n - 1)  # (B, J, 3)
    flat = (idx[..., 0] * n + idx[..., 1]) * n + idx[..., 2]
    logp = torch.softmax(multiplier * volumes.flatten(2), dim=-1).gather(-1, flat[..., None])[..., 0]
    return -(logp + 1e-6).log().mean()


class VolumetricMethod(Method):
    """Unprojected backbone features, softmax aggregation, V2V and 3D soft-argmax."""

    name = "volumetric"
    card = MethodCard(
        title="Volumetric learnable triangulation",
        paper="Iskakov et al., ICCV 2019",
        url="https://arxiv.org/abs/1905.05754",
        code_url="https://github.com/karfly/learnable-triangulation-pytorch",
        bibtex=ISKAKOV_BIBTEX,
        description="Backbone features reduced to a few channels and unprojected into a cuboid around the "
                    "algebraic method's pelvis, softmax-aggregated over views, refined by a V2V 3D "
                    "encoder-decoder and read out by a 3D soft-argmax in world millimetres; L1 + voxel "
                    "cross-entropy, random rotations about the vertical axis. Runs with one view or many.",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=True, multi_view=True, min_views=1, max_views=None,
        multi_person=False, output_frame="world", outputs=("joints_3d",), trainable=True,
    )
    config_model = VolumetricConfig
    config: VolumetricConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = VolumetricNet(self.config).eval()
        self.pelvis_net = AlgebraicNet(self.config.algebraic).eval().requires_grad_(False)
        # a fitted scalar kept on the host (read there by estimate_pelvis, whatever the device)
        self.crop_extent_mm = torch.tensor(float("nan"), dtype=torch.float64, device="cpu")
        self.progress = True

    # ------------------------------------------------------------------ pelvis
    def attach_algebraic(self, directory: str | Path) -> None:
        """Embed the saved algebraic method in ``directory`` as the pelvis model (on
        :attr:`device`). It is read onto the CPU (whatever the ambient default device) and
        moved."""
        with torch.device("cpu"):
            alg = AlgebraicMethod.load(directory)
        assert isinstance(alg, AlgebraicMethod)
        self.config = self.config.model_copy(update={"algebraic": alg.config})
        self.pelvis_net = alg.net.to(self.device).eval().requires_grad_(False)

    @torch.no_grad()
    def estimate_pelvis(self, batch: dict[str, Any], vb: ViewBatch) -> Tensor:
        """(B, 3) world mm: the algebraic pelvis (≥ 2 valid views) or, with one view, the
        algebraic network's 2D pelvis back-projected at the crop-scale depth.

        With several views, whether every sample has two valid ones is read back to the host
        (one round trip per batch: the two paths run different networks)."""
        if not math.isfinite(float(self.crop_extent_mm)):  # a host tensor: no round trip
            raise InputError("volumetric: crop_extent_mm is not fitted (train the method first)")
        self.pelvis_net.eval()
        if vb.num_views >= 2 and bool((vb.view_valid.sum(1) >= 2).all()):
            return self.pelvis_net(batch, shared_key="pelvis")["joints_3d"][:, ROOT].to(torch.float64)
        first = vb.view_valid.to(torch.int64).argmax(1)  # the first valid view of each sample
        rows = torch.arange(vb.images.shape[0], device=first.device)
        shared = batch.get(VIEW_FEATURES_KEY) or {}
        if "pelvis" in shared:
            heatmaps = shared["pelvis"].heatmaps[rows, first]
        else:
            heatmaps = run_backbone(self.pelvis_net.backbone, vb.images[rows, first][:, None]).heatmaps[:, 0]
        stride = vb.size / heatmaps.shape[-1]
        pelvis_2d = soft_argmax_2d(heatmaps[:, ROOT], self.config.algebraic.heatmap_multiplier) * stride
        return self._single_view_centre(pelvis_2d.to(torch.float64), vb, first)

    def _single_view_centre(self, pelvis_2d: Tensor, vb: ViewBatch, view: Tensor) -> Tensor:
        assert vb.R is not None and vb.t is not None
        rows = torch.arange(pelvis_2d.shape[0], device=view.device)
        K, R, t, dist = vb.K[rows, view], vb.R[rows, view], vb.t[rows, view], vb.dist[rows, view]
        depth = K[:, 0, 0] * float(self.crop_extent_mm) / vb.size  # the host scalar as a constant
        return backproject(pelvis_2d, depth, K, R, t, dist)

    # ------------------------------------------------------------------ training
    @staticmethod
    def fit_crop_extent(dataset: Any, limit: int = 300) -> float:
        """Median physical width (mm) a crop spans at the pelvis, over training views."""
        ratios = []
        step = max(1, len(dataset) // limit)
        for i in range(0, len(dataset), step):
            s = dataset[i]
            for cam, valid in zip(s.cameras, np.asarray(s.view_valid), strict=True):
                if valid:
                    depth = (cam.R @ s.joints_3d[ROOT] + cam.t)[2]
                    ratios.append(depth * s.images.shape[-1] / cam.K[0, 0])
        if not ratios:
            raise InputError("volumetric: no valid training view to fit the crop-scale depth prior")
        return float(np.median(ratios))

    def _train_centre(self, batch: dict[str, Any], vb: ViewBatch, gen: torch.Generator) -> Tensor:
        """(B, 3) world mm cuboid centres of a training step (noise drawn from the step's CPU
        generator, then moved to the batch's device)."""
        c = self.config
        b = vb.images.shape[0]
        device = vb.images.device
        if c.train_centre == "algebraic":
            return self.estimate_pelvis(batch, vb)
        gt = batch_tensor(batch, "joints_3d", torch.float64)[:, ROOT]
        if vb.num_views == 1:
            p2d = batch_tensor(batch, "joints_2d", torch.float64)[:, 0, ROOT]
            noise = host_tensor(torch.randn(b, 2, generator=gen, dtype=torch.float64, device="cpu"), None, device)
            p2d = p2d + c.centre_jitter_px * noise
            return self._single_view_centre(p2d, vb, torch.zeros(b, dtype=torch.long, device=device))
        noise = host_tensor(torch.randn(b, 3, generator=gen, dtype=torch.float64, device="cpu"), None, device)
        return gt + c.centre_jitter_mm * noise

    @staticmethod
    def _subset(batch: dict[str, Any], views: list[int]) -> dict[str, Any]:
        """The batch restricted to ``views`` (a host list), in that order."""
        out = dict(batch)
        index = host_tensor(views, torch.int64, batch["images"].device)
        for key in ("images", "proj_matrices", "K", "R", "t", "dist", "boxes", "joints_2d", "visibility",
                    "view_valid"):
            if key in out and out[key] is not None:
                out[key] = out[key][:, index]
        out["cameras"] = [[cams[v] for v in views] for cams in batch["cameras"]] if "cameras" in batch else None
        return out

    def loss(self, out: dict[str, Tensor], gt: Tensor, centre: Tensor, rotation: Tensor,
             num_views: int) -> dict[str, Tensor]:
        c = self.config
        pred = out["joints_3d"]
        gt = gt.to(pred.dtype)
        if num_views == 1:
            pred_l, gt_l = pred - pred[:, ROOT : ROOT + 1], gt - gt[:, ROOT : ROOT + 1]
        else:
            pred_l, gt_l = pred, gt
        l1 = (pred_l - gt_l).abs().mean() * c.loss_scale
        total = l1
        ce = torch.zeros((), dtype=pred.dtype, device=pred.device)
        if num_views > 1 and c.ce_weight > 0:
            ce = voxel_cross_entropy(out["volumes"], out["coords"], centre, rotation, gt, c.cuboid_mm,
                                     c.volume_multiplier)
            total = total + c.ce_weight * ce
        return {"loss": total, "l1": l1.detach(), "ce": ce.detach()}

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Train on ``train`` from the pre-trained backbone (resuming from
        ``workdir/checkpoint.pt``), then embed the algebraic model of ``algebraic_checkpoint``.
        The network is built on the CPU (the same initial weights whatever the device) and
        trained on :attr:`device` in :attr:`precision`."""
        c = self.config
        if c.train_centre == "algebraic" or c.algebraic_checkpoint is not None:
            if c.algebraic_checkpoint is None:
                raise InputError("volumetric: train_centre 'algebraic' needs algebraic_checkpoint")
            if c.train_centre == "algebraic":
                self.attach_algebraic(c.algebraic_checkpoint)
        with seeded(c.train.seed), torch.device("cpu"):
            self.net = VolumetricNet(c)
        init_from_pretrained(self.net.backbone, c.backbone_checkpoint)
        if c.init_features_from_heatmaps:
            k = min(c.volume_channels, c.backbone.num_joints)
            with torch.no_grad():
                self.net.process_features.weight[:k] = self.net.backbone.final.weight[:k]
                self.net.process_features.bias[:k] = self.net.backbone.final.bias[:k]
        self.crop_extent_mm = torch.tensor(self.fit_crop_extent(train), dtype=torch.float64, device="cpu")
        net = self.net
        heads = [p for name, p in net.named_parameters() if not name.startswith("backbone.")]
        optimizer = torch.optim.Adam(
            parameter_groups([(list(net.backbone.parameters()), c.backbone_lr_scale), (heads, 1.0)]),
            lr=c.train.lr, weight_decay=c.train.weight_decay,
        )
        counts = [k for k in c.train_view_counts]

        def step_fn(batch: dict[str, Any], step: int, gen: torch.Generator) -> dict[str, Tensor]:
            # the view count and subset are drawn and read on the host (CPU generator)
            n_avail = int(batch["images"].shape[1])
            k = min(counts[int(torch.randint(len(counts), (1,), generator=gen, device="cpu"))], n_avail)
            views = torch.randperm(n_avail, generator=gen, device="cpu")[:k].tolist()
            batch = self._subset(batch, views) if k < n_avail else batch
            vb = read_batch(batch)
            b = vb.images.shape[0]
            device = vb.images.device
            centre = self._train_centre(batch, vb, gen)
            if c.rotate:
                draw = torch.rand(b, generator=gen, dtype=torch.float64, device="cpu")
                theta = host_tensor(draw, None, device) * 2 * math.pi
            else:
                theta = torch.zeros(b, dtype=torch.float64, device=device)
            rotation = rotation_z(theta)
            out = net(vb, centre, rotation)
            gt = batch_tensor(batch, "joints_3d")
            losses = self.loss(out, gt, centre, rotation, k)
            gt64 = gt.to(torch.float64)
            pred64 = out["joints_3d"].detach().to(torch.float64)
            losses["mpjpe_rel"] = ((pred64 - pred64[:, ROOT:ROOT + 1]) - (gt64 - gt64[:, ROOT:ROOT + 1])
                                   ).norm(dim=-1).mean()
            losses["views"] = torch.full((), float(k), device=device)
            return losses

        modules = {"net": net}
        val_fn = None
        if val is not None and c.algebraic_checkpoint is not None and c.train_centre == "algebraic":
            val_fn = lambda: evaluate_mpjpe(self, val, c.train.val_samples)  # noqa: E731
        self.last_summary = train_loop(
            name="volumetric", config=c.train, modules=modules, optimizer=optimizer, step_fn=step_fn,
            dataset=train, collate=collate_multiview, workdir=workdir, tracker=tracker, val_fn=val_fn,
            progress=self.progress, device=self.device, precision=self.precision,
        )
        if c.algebraic_checkpoint is not None and c.train_centre != "algebraic":
            self.attach_algebraic(c.algebraic_checkpoint)
            if val is not None and c.train.val_samples:
                metrics = evaluate_mpjpe(self, val, c.train.val_samples)
                self.last_summary.val = metrics
                if tracker is not None:
                    tracker.log_metrics({f"volumetric/val_{k}": v for k, v in metrics.items()},
                                        step=self.last_summary.end_step)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def view_features(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Both backbones' outputs per view, computed once for every pass: the pelvis model's
        (``"pelvis"``) and the volume's (``"backbone"``)."""
        self.net.eval()
        self.pelvis_net.eval()
        images = read_batch(batch, need_extrinsics=False).images
        with autocast(self.device, self.precision):
            return {"pelvis": run_backbone(self.pelvis_net.backbone, images),
                    "backbone": run_backbone(self.net.backbone, images)}

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> Prediction:
        """Joints (B, J, 3) world mm and extras ``centre`` (B, 3) (the cuboid's), on the
        batch's device."""
        self.net.eval()
        vb = read_batch(batch)
        with autocast(self.device, self.precision):
            centre = self.estimate_pelvis(batch, vb)
            rotation = torch.eye(3, dtype=torch.float64, device=centre.device).expand(centre.shape[0], 3, 3)
            out = self.net(vb, centre, rotation, (batch.get(VIEW_FEATURES_KEY) or {}).get("backbone"))
        return Prediction(joints_3d=out["joints_3d"].float(), frame="world", extras={"centre": centre})

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "pelvis_net": self.pelvis_net.state_dict(),
                "crop_extent_mm": self.crop_extent_mm.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.pelvis_net.load_state_dict(state["pelvis_net"])
        self.crop_extent_mm = torch.as_tensor(state["crop_extent_mm"], dtype=torch.float64, device="cpu")
        self.net.eval()
        self.pelvis_net.eval()
