"""The epipolar transformer's operators (He, Yan, Fragkiadaki, Yu, CVPR 2020): the epipolar
sampler and the attention-with-z-residual fusion.

For every cell p of the reference view's feature map, the sampler finds the epipolar line of
p in the source view, clips it to the source feature map and samples ``num_samples`` equally
spaced points on it; the attention takes the dot product of the reference feature at p with
the source features at those points, a softmax over the samples (scaled), and the weighted
sum of the source features; the "z-residual" fuses it as ``f_ref + out + BN(W_z · out)``
with the BN's weight and bias initialised to zero, so the fused feature starts as
``f_ref + out``.

Coordinates: the backbone's convention (``BackboneOutput``): feature/heatmap cell i is input
pixel ``stride · i`` (no half-pixel offset; the soft-argmax and the heatmap targets use the
same). The reference's ``pix2coord`` (x·4 + 1.5) is the centre-of-block convention of its own
backbone; the rule that matters is that sampler, targets and decoding agree, as they do here.
Features are read as ``F.grid_sample(..., align_corners=True)`` reads them after mapping cell
x to ``2x / (W − 1) − 1`` (:func:`pixels_to_grid`; stated explicitly, since the reference
relied on a default that PyTorch 1.3 changed, reference notes §B.2): sample point x blends
cells ⌊x⌋ and ⌊x⌋ + 1. Lines are clipped to the rectangle of cell
centres ``[0, stride·(W−1)] × [0, stride·(H−1)]`` in input pixels, so every sample is inside
the map and bilinear interpolation never reads padding. A line that misses the map (fewer
than two border intersections) gives a zero attention output for that cell (the reference
pushes its samples off the image so that ``grid_sample`` returns zeros, with the same effect).

Lens distortion is ignored by the sampler: the lines are those of the pinhole ``P`` (the
reference undistorts its images first; the synthetic crops keep their distortion, which
bends lines by at most ~0.4 heatmap cells at the crop's edge).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from poseboard.errors import check_shape
from poseboard.geometry import camera_centers, epipolar_lines, fundamental_from_projections

__all__ = [
    "EpipolarAttention",
    "cell_pixels",
    "epipolar_sample_points",
    "epipolar_segments",
    "fundamental_ref_to_src",
    "nearest_views",
    "pixels_to_grid",
]


def cell_pixels(height: int, width: int, stride: float, dtype: torch.dtype = torch.float32,
                device: torch.device | str | None = None) -> Tensor:
    """(H·W, 2) input-pixel coordinates (x, y) of the cells of an H×W map, row-major:
    cell (i, j) is pixel (stride·j, stride·i)."""
    ys = torch.arange(height, dtype=dtype, device=device) * stride
    xs = torch.arange(width, dtype=dtype, device=device) * stride
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=-1)


def pixels_to_grid(points: Tensor, height: int, width: int, stride: float) -> Tensor:
    """Input pixels (..., 2) → ``grid_sample`` coordinates in [−1, 1] for ``align_corners=True``
    on an H×W map whose cell i is pixel stride·i."""
    x = points[..., 0] / stride
    y = points[..., 1] / stride
    return torch.stack([2 * x / max(width - 1, 1) - 1, 2 * y / max(height - 1, 1) - 1], dim=-1)


def epipolar_segments(
    fundamental: Tensor, height: int, width: int, stride: float, eps: float = 1e-4,
) -> tuple[Tensor, Tensor, Tensor]:
    """The epipolar line of every reference cell, clipped to the source map.

    Args:
        fundamental: (B, 3, 3) F with ``x_srcᵀ F x_ref = 0`` (pixels of the two crops), as
            :func:`poseboard.geometry.fundamental_from_projections` (P_ref, P_src) returns.
        height, width: the feature maps' size (reference and source alike), cells.
        stride: input pixels per cell.
        eps: tolerance (pixels) when testing a border intersection against the rectangle.

    Returns:
        start, end (B, H·W, 2) source-view input pixels, the two clipped ends of each line
        (inside ``[0, stride·(W−1)] × [0, stride·(H−1)]``, ordered along the line), and valid
        (B, H·W) bool: False where the line misses the map (start = end = 0 there).
    """
    check_shape(fundamental, ["B", 3, 3], "epipolar_segments: fundamental")
    b = fundamental.shape[0]
    dtype = fundamental.dtype if fundamental.dtype.is_floating_point else torch.float32
    ref = cell_pixels(height, width, stride, dtype, fundamental.device)  # (HW, 2)
    lines = epipolar_lines(fundamental.to(dtype), ref.expand(b, -1, -1))  # (B, HW, 3), a²+b²=1
    a, bb, c = lines.unbind(-1)
    xmax, ymax = stride * (width - 1), stride * (height - 1)
    # intersections with x = 0, x = xmax (solve for y) and y = 0, y = ymax (solve for x)
    safe_b = torch.where(bb.abs() > 1e-12, bb, torch.full_like(bb, 1e-12))
    safe_a = torch.where(a.abs() > 1e-12, a, torch.full_like(a, 1e-12))
    cand = torch.stack([
        torch.stack([torch.zeros_like(a), -c / safe_b], -1),
        torch.stack([torch.full_like(a, xmax), -(c + a * xmax) / safe_b], -1),
        torch.stack([-c / safe_a, torch.zeros_like(a)], -1),
        torch.stack([-(c + bb * ymax) / safe_a, torch.full_like(a, ymax)], -1),
    ], dim=-2)  # (B, HW, 4, 2)
    ok = torch.stack([bb.abs() > 1e-12, bb.abs() > 1e-12, a.abs() > 1e-12, a.abs() > 1e-12], dim=-1)
    inside = ((cand[..., 0] >= -eps) & (cand[..., 0] <= xmax + eps)
              & (cand[..., 1] >= -eps) & (cand[..., 1] <= ymax + eps) & ok)
    cand = torch.stack([cand[..., 0].clamp(0, xmax), cand[..., 1].clamp(0, ymax)], dim=-1)
    direction = torch.stack([-bb, a], dim=-1)  # along the line
    along = (cand * direction[..., None, :]).sum(-1)  # (B, HW, 4)
    big = torch.finfo(dtype).max
    lo_idx = torch.where(inside, along, big).argmin(-1)
    hi_idx = torch.where(inside, along, -big).argmax(-1)
    start = cand.gather(-2, lo_idx[..., None, None].expand(*lo_idx.shape, 1, 2))[..., 0, :]
    end = cand.gather(-2, hi_idx[..., None, None].expand(*hi_idx.shape, 1, 2))[..., 0, :]
    valid = (inside.sum(-1) >= 2) & ((end - start).norm(dim=-1) > eps)
    zero = torch.zeros_like(start)
    return torch.where(valid[..., None], start, zero), torch.where(valid[..., None], end, zero), valid


def epipolar_sample_points(
    fundamental: Tensor, height: int, width: int, stride: float, num_samples: int,
    eps: float = 1e-4,
) -> tuple[Tensor, Tensor]:
    """Sample points on the epipolar line of every reference cell, clipped to the source map.

    Args:
        fundamental, height, width, stride, eps: as :func:`epipolar_segments`.
        num_samples: points per line (the paper: 64).

    Returns:
        points (B, H·W, S, 2) source-view input pixels, equally spaced from one clipped end
        of the line to the other (all inside ``[0, stride·(W−1)] × [0, stride·(H−1)]``), and
        valid (B, H·W) bool: False where the line misses the map (points are then zeros).
    """
    start, end, valid = epipolar_segments(fundamental, height, width, stride, eps)
    return _along(start, end, num_samples), valid


def _along(start: Tensor, end: Tensor, num_samples: int) -> Tensor:
    """``num_samples`` equally spaced points (..., S, 2) from start (..., 2) to end (..., 2)."""
    steps = torch.linspace(0.0, 1.0, num_samples, dtype=start.dtype, device=start.device)
    return start[..., None, :] + steps[:, None] * (end - start)[..., None, :]


def nearest_views(proj: Tensor, view_valid: Tensor | None = None) -> Tensor:
    """For each view, the index of the other present view whose camera centre is nearest.

    Args:
        proj: (..., V, 3, 4) projection matrices (world mm), V ≥ 2.
        view_valid: (..., V) bool, False for an absent view (a zero box: a rig with fewer
            cameras than the split's slots), which is never a neighbour; None: all present.

    Returns:
        (..., V) int64 (the reference's ``TOPK = 1`` neighbour; ties go to the lower index).
        A view with no other present view gets its own index.
    """
    check_shape(proj, ["*", "V", 3, 4], "nearest_views: proj")
    centres = camera_centers(proj.to(torch.float64))  # (..., V, 3)
    d = torch.cdist(centres, centres)
    eye = torch.eye(d.shape[-1], dtype=torch.bool, device=d.device)
    excluded = eye if view_valid is None else eye | ~view_valid.to(d.device)[..., None, :]
    d = torch.where(excluded, math.inf, d)
    lonely = torch.isinf(d).all(-1)
    own = torch.arange(d.shape[-1], device=d.device).expand(d.shape[:-1])
    return torch.where(lonely, own, d.argmin(-1))


class EpipolarAttention(nn.Module):
    """Epipolar attention with the "z-residual" fusion (``ATTENTION: avg``, ``SIMILARITY:
    dot``, ``PARAMETERIZED: ('z',)``, ``ZRESIDUAL: True`` of the H36M configurations).

    Args:
        channels: feature channels C.
        num_samples: points per epipolar line (the paper: 64).
        softmax_scale: similarity multiplier before the softmax; None: 1/√num_samples, the
            reference's value (computed from the sample count, not from C — its config
            comment cites Vaswani's d_k; kept as the reference does).
        z_residual: fused = f_ref + out + BN(W_z·out) (True) or f_ref + BN(W_z·out).
    """

    def __init__(self, channels: int, num_samples: int = 64, softmax_scale: float | None = None,
                 z_residual: bool = True) -> None:
        super().__init__()
        self.num_samples = int(num_samples)
        self.softmax_scale = float(softmax_scale) if softmax_scale is not None else 1.0 / math.sqrt(num_samples)
        self.z_residual = z_residual
        self.conv_z = nn.Conv2d(channels, channels, 1, bias=True)
        self.bn_z = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn_z.weight)  # zeroinitBN: the fusion starts as f_ref + out
        nn.init.zeros_(self.bn_z.bias)

    def attend(self, f_ref: Tensor, f_src: Tensor, fundamental: Tensor, stride: float) -> tuple[Tensor, Tensor]:
        """The attention output (B, C, H, W) (zero where a line misses the map) and the
        attention weights (B, H·W, S).

        Computed without materialising the (B, C, H·W, S) samples: bilinear sampling is linear
        in the source features, so the similarity of cell p with sample s is the bilinear
        sample, at s, of p's dot products with every source cell, the row of the (B, H·W, H·W)
        matrix of every reference cell with every source cell (one matrix product) read as an
        H×W image (``grid_sample``); the output is the source features times the attention
        spread back onto the cells it sampled (a second), the adjoint of that sampling
        (:class:`_SpreadBack`: ``grid_sample``'s input gradient, a deterministic kernel on the
        CPU). The same numbers as ``grid_sample`` then dot products (to float rounding;
        tested against that form, gradients included) and lighter in memory whenever
        H·W < C·S. Only the lines' ends are computed in float64; the S points on each are laid
        in the features' dtype, float32 at least (in grid units, where float32 places a point to
        ~1e-7 of the map).
        """
        check_shape(f_ref, ["B", "C", "H", "W"], "EpipolarAttention: f_ref")
        check_shape(f_src, ["B", "C", "H", "W"], "EpipolarAttention: f_src")
        b, _c, h, w = f_ref.shape
        if f_src.shape != f_ref.shape:
            raise ValueError(f"EpipolarAttention: f_ref {tuple(f_ref.shape)} and f_src {tuple(f_src.shape)} differ")
        start, end, valid = epipolar_segments(fundamental.to(torch.float64), h, w, stride)
        query, source = f_ref.flatten(2), f_src.flatten(2)  # (B, C, HW)
        affinity = torch.bmm(query.transpose(1, 2), source)  # (B, HW_ref, HW_src)
        # The grid in the dtype the sampling runs in: the affinities' (fp32 or fp64), or fp32 under
        # a bf16 autocast, which runs grid_sample in fp32 (a bf16 grid would place the points to
        # ~1/256 of the map, and the spread-back kernel takes one dtype for values and grid).
        grid_dtype = torch.promote_types(affinity.dtype, torch.float32)
        start, end = (pixels_to_grid(px, h, w, stride).to(grid_dtype) for px in (start, end))
        grid = _along(start, end, self.num_samples)  # (B, HW, S, 2), grid units
        rows = b * h * w  # one H×W image of dot products per reference cell

        grid = grid.reshape(rows, 1, self.num_samples, 2)
        sampled = F.grid_sample(affinity.reshape(rows, 1, h, w), grid, mode="bilinear", padding_mode="zeros",
                                align_corners=True)
        sim = sampled.reshape(b, h * w, self.num_samples) * self.softmax_scale  # (B, HW, S)
        attn = torch.softmax(sim, dim=-1) * valid[..., None].to(sim.dtype)
        on_cells = _SpreadBack.apply(attn.reshape(rows, 1, 1, self.num_samples).to(sampled.dtype), grid, (h, w))
        on_cells = on_cells.reshape(b, h * w, h * w)  # (B, HW_ref, HW_src)
        out = torch.bmm(source, on_cells.transpose(1, 2).to(source.dtype)).unflatten(-1, (h, w))
        return out, attn

    def forward(self, f_ref: Tensor, f_src: Tensor, fundamental: Tensor, stride: float) -> Tensor:
        """Fuse reference features (B, C, H, W) with a source view's (B, C, H, W).

        Args:
            fundamental: (B, 3, 3) F(P_ref, P_src) in input (crop) pixels.
            stride: input pixels per cell.
        """
        out, _ = self.attend(f_ref, f_src, fundamental, stride)
        z = self.bn_z(self.conv_z(out))
        return f_ref + out + z if self.z_residual else f_ref + z


class _SpreadBack(torch.autograd.Function):
    """The adjoint of bilinear sampling: values (N, 1, 1, S) at the grid's S points (N, 1, S, 2)
    spread back onto the (N, 1, H, W) cells they would have been read from.

    Forward is ``grid_sample``'s own input-gradient kernel (``aten.grid_sampler_2d_backward``;
    bilinear, zero padding, ``align_corners=True``), the numbers ``torch.func.vjp`` of
    ``grid_sample`` gave; its gradient is the sampling itself (the adjoint of an adjoint), so
    the attention trains without differentiating a backward kernel. That second derivative
    exists in neither torch 2.11 (``grid_sampler_2d_backward``) nor cuDNN (CUDA's
    ``grid_sample`` dispatches there): a CUDA training step failed with "derivative for
    aten::cudnn_grid_sampler_backward is not implemented" (H200, torch 2.11, 2026-11-26). On
    torch 2.13's CPU the values and gradients are the vjp's, bit for bit. The grid (epipolar
    lines from the cameras, which are data) gets no gradient.
    """

    @staticmethod
    def forward(ctx: Any, values: Tensor, grid: Tensor, size: tuple[int, int]) -> Tensor:
        ctx.save_for_backward(grid)
        cells = values.new_empty((values.shape[0], values.shape[1], *size))  # read for its shape only
        spread, _ = torch.ops.aten.grid_sampler_2d_backward(values, cells, grid, 0, 0, True, [True, False])
        return spread

    @staticmethod
    def backward(ctx: Any, grad_cells: Tensor) -> tuple[Tensor, None, None]:
        (grid,) = ctx.saved_tensors
        return F.grid_sample(grad_cells, grid, mode="bilinear", padding_mode="zeros", align_corners=True), None, None


def fundamental_ref_to_src(proj_ref: Tensor, proj_src: Tensor) -> Tensor:
    """F (…, 3, 3) with ``x_srcᵀ F x_ref = 0`` from the two (…, 3, 4) crop projections."""
    return fundamental_from_projections(proj_ref, proj_src)
