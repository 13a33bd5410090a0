"""Batch plumbing shared by the multi-view methods: reading a collated batch, running the
backbone on every view, lens undistortion of 2D detections, crop ↔ original pixels, and
the confidence head.

The synthetic world (and any distorted real data) renders images *with* lens distortion,
while ``proj_matrices`` are pinhole ``K [R | t]``. Detections are therefore undistorted
(:func:`undistort_pixels`) before a DLT, and the volumetric method projects voxels with
the distortion (``project_points_with_distortion``); with ``dist = 0`` both are exact
no-ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from poseboard.datasets.torch_dataset import VIEW_FEATURES_KEY
from poseboard.device import host_tensor
from poseboard.errors import InputError, check_shape
from poseboard.methods.nets.backbone import Backbone, BackboneOutput


@dataclass
class ViewBatch:
    """The tensors a multi-view method reads from a collated batch (B samples, V views), all
    on the device of ``images``.

    Attributes:
        images: (B, V, 3, S, S) normalised crops.
        proj: (B, V, 3, 4) float64 pinhole projection, world mm → crop pixels (None when the
            protocol withholds extrinsics).
        K: (B, V, 3, 3) float64 crop intrinsics.
        R: (B, V, 3, 3) float64 or None; t: (B, V, 3) float64 or None.
        dist: (B, V, 5) float64 OpenCV distortion (zeros if the batch has none).
        boxes: (B, V, 4) float64 crop boxes (left, top, right, bottom) in original pixels.
        view_valid: (B, V) bool.
    """

    images: Tensor
    proj: Tensor | None
    K: Tensor
    R: Tensor | None
    t: Tensor | None
    dist: Tensor
    boxes: Tensor
    view_valid: Tensor

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def num_views(self) -> int:
        return int(self.images.shape[1])


def batch_device(batch: dict[str, Any]) -> torch.device:
    """The device of a collated batch: where its ``images`` are (the CPU for NumPy images).
    The harness and the training loop move every tensor of a batch there
    (:func:`poseboard.device.to_device`); what a method reads from a batch follows it."""
    images = batch.get("images")
    return images.device if isinstance(images, Tensor) else torch.device("cpu")


def batch_tensor(batch: dict[str, Any], key: str, dtype: torch.dtype | None = None) -> Tensor:
    """``batch[key]`` as a tensor on :func:`batch_device` (a tensor already there is returned
    as it is; a NumPy array or list is converted there), cast to ``dtype`` if given."""
    x = torch.as_tensor(batch[key], device=batch_device(batch))
    return x if dtype is None else x.to(dtype)


def read_batch(batch: dict[str, Any], need_extrinsics: bool = True) -> ViewBatch:
    """Validate and convert a :func:`~poseboard.datasets.torch_dataset.collate_multiview`
    batch; every tensor of the result is on the device of ``images`` (:func:`batch_device`)."""
    if "images" not in batch:
        raise InputError("batch has no 'images' (expected a collate_multiview batch)")
    device = batch_device(batch)
    images = batch_tensor(batch, "images")
    dims = check_shape(images, ["B", "V", 3, "S", "S"], "batch images")
    b, v = dims["B"], dims["V"]
    if not images.dtype.is_floating_point:
        raise InputError("batch images must be normalised floats (collate_multiview(normalize=True))")
    K = batch_tensor(batch, "K", torch.float64)
    check_shape(K, [b, v, 3, 3], "batch K")
    proj = R = t = None
    if "proj_matrices" in batch and batch["proj_matrices"] is not None:
        proj = batch_tensor(batch, "proj_matrices", torch.float64)
        check_shape(proj, [b, v, 3, 4], "batch proj_matrices")
    if batch.get("R") is not None and batch.get("t") is not None:
        R = batch_tensor(batch, "R", torch.float64)
        t = batch_tensor(batch, "t", torch.float64)
        check_shape(R, [b, v, 3, 3], "batch R")
        check_shape(t, [b, v, 3], "batch t")
        if proj is None:
            proj = K @ torch.cat([R, t[..., None]], dim=-1)
    if need_extrinsics and proj is None:
        raise InputError("this method needs camera extrinsics (proj_matrices or R, t), which the batch lacks")
    if batch.get("dist") is None:
        dist = torch.zeros(b, v, 5, dtype=torch.float64, device=device)
    else:
        dist = batch_tensor(batch, "dist", torch.float64)
    check_shape(dist, [b, v, 5], "batch dist")
    if batch.get("boxes") is None:
        s = float(dims["S"])
        boxes = host_tensor([0.0, 0.0, s, s], torch.float64, device).expand(b, v, 4)
    else:
        boxes = batch_tensor(batch, "boxes", torch.float64)
    check_shape(boxes, [b, v, 4], "batch boxes")
    if batch.get("view_valid") is None:
        valid = torch.ones(b, v, dtype=torch.bool, device=device)
    else:
        valid = batch_tensor(batch, "view_valid", torch.bool)
    return ViewBatch(images=images, proj=proj, K=K, R=R, t=t, dist=dist, boxes=boxes, view_valid=valid)


def run_backbone(backbone: Backbone, images: Tensor) -> BackboneOutput:
    """The backbone on every view: (B, V, 3, S, S) → outputs with leading (B, V)."""
    b, v = images.shape[:2]
    out = backbone(images.flatten(0, 1))
    return BackboneOutput(*(x.unflatten(0, (b, v)) for x in out))


def shared_backbone(backbone: Backbone, images: Tensor, batch: dict[str, Any], key: str) -> BackboneOutput:
    """:func:`run_backbone` on the batch's views, or its outputs already computed for these
    views (``batch["view_features"][key]``, from ``Method.view_features``: the harness runs the
    backbone once per frame and camera when it predicts the same frames under several camera
    subsets or calibration levels)."""
    shared = batch.get(VIEW_FEATURES_KEY)
    if shared is not None and key in shared:
        out = shared[key]
        check_shape(out.heatmaps, [images.shape[0], images.shape[1], "J", "h", "w"], f"view_features {key}")
        return out
    return run_backbone(backbone, images)


# ---------------------------------------------------------------------------- pixels
def undistort_pixels(points: Tensor, K: Tensor, dist: Tensor, iterations: int = 8) -> Tensor:
    """Remove OpenCV lens distortion from pixel coordinates, differentiably.

    ``[x_d, y_d, 1] = K⁻¹ [u, v, 1]``, the fixed-point iteration of ``cv2.undistortPoints``
    (``iterations`` steps, ~1e-4 px for Human3.6M-like lenses), then ``K [x, y, 1]``.

    Args:
        points: (..., 2) distorted pixels.
        K: (..., 3, 3) intrinsics of the pixels' camera (a crop's ``K``); dist: (..., 5).
            Batch dims broadcast against the points'.

    Returns:
        (..., 2) pinhole pixels of the same camera, in the points' dtype; the values of
        ``points``, bit for bit, when every coefficient of ``dist`` is zero (a ``torch.where``
        on the device rather than a branch, so nothing is read back to the host).
    """
    dtype = points.dtype
    p = points.to(torch.float64)
    K = K.to(torch.float64)
    dist = dist.to(torch.float64)
    fx, fy, cx, cy, skew = K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2], K[..., 0, 1]
    yd = (p[..., 1] - cy) / fy
    xd = (p[..., 0] - cx - skew * yd) / fx
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    x, y = xd, yd
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    u = fx * x + skew * y + cx
    v = fy * y + cy
    return torch.where((dist != 0).any(), torch.stack([u, v], dim=-1).to(dtype), points)


def crop_scale(boxes: Tensor, size: int) -> Tensor:
    """(..., 4) crop boxes (original px) → (..., 2) crop pixels per original pixel (x, y)."""
    return torch.stack([size / (boxes[..., 2] - boxes[..., 0]), size / (boxes[..., 3] - boxes[..., 1])], dim=-1)


def crop_to_original(points: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Crop pixels (..., 2) → original-image pixels, with the boxes (..., 4) broadcast."""
    return points / crop_scale(boxes, size) + boxes[..., :2]


def original_projection(proj: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Crop projection matrices (..., 3, 4) → the original image's (undoing the crop and
    resize; exact for the corner-aligned ``Camera.crop_and_resize``)."""
    s = crop_scale(boxes, size)
    A = torch.zeros(*boxes.shape[:-1], 3, 3, dtype=proj.dtype, device=proj.device)
    A[..., 0, 0], A[..., 1, 1], A[..., 2, 2] = 1 / s[..., 0], 1 / s[..., 1], 1.0
    A[..., 0, 2], A[..., 1, 2] = boxes[..., 0], boxes[..., 1]
    return A @ proj


# ---------------------------------------------------------------------------- confidence head
class ConfidenceHead(nn.Module):
    """Learnable triangulation's ``GlobalAveragePoolingHead``: two [3×3 conv, BN, 2×2 max-pool,
    ReLU], global average pooling, a three-layer MLP and a sigmoid; one value in (0, 1)
    per output channel (per joint for the algebraic method, per feature channel for the
    volumetric ``conf`` aggregation).

    Args:
        cin: bottleneck channels; cout: outputs; widths: (conv1, conv2, hidden) channels.
    """

    def __init__(self, cin: int, cout: int, widths: tuple[int, int, int] = (512, 256, 512)) -> None:
        super().__init__()
        c1, c2, h = widths
        self.features = nn.Sequential(
            nn.Conv2d(cin, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.MaxPool2d(2, ceil_mode=True), nn.ReLU(True),
            nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.MaxPool2d(2, ceil_mode=True), nn.ReLU(True),
        )
        self.head = nn.Sequential(
            nn.Linear(c2, h), nn.ReLU(inplace=True), nn.Linear(h, c2), nn.ReLU(inplace=True), nn.Linear(c2, cout),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, cin, h, w) → (N, cout) in (0, 1)."""
        return torch.sigmoid(self.head(self.features(x).mean(dim=(-1, -2))))
