"""RootNet's training data beyond the generated splits: the real multi-view datasets as
single-person images, and the reference's training augmentation.

**Real data** (:class:`RealViewPersonDataset`). RootNet's Human3.6M model trains on every
camera's image of the train subjects alone (mks0601/3DMPPE_ROOTNET_RELEASE
``data/Human36M/Human36M.py``, protocol 2: S1 S5 S6 S7 S8). Here each present view of a
:class:`~poseboard.datasets.real.human36m.Human36MMultiView` (or
:class:`~poseboard.datasets.real.panoptic.PanopticMultiView`) frame is one item: the view's crop
(the loader's 384² crop around the dataset's box) with its crop camera, the person's box (the
extent of the 2D joints widened by 10% per side, as :func:`~poseboard.methods.rootnet.view_person_box`
does for the generated rig), the pelvis in that camera's frame (``R X + t``, mm) and in the
crop's pixels. k = √(A_real·f_x·f_y / A_box) does not change when an image is cropped and
resized (f and the box scale together), so the crop camera gives the full image's k.
Only the one camera of an item is read from disk. MuPoTS-3D is a test set and is refused
(RootNet's MuPoTS model trains on MuCo-3DHP + COCO, which poseboard does not read).

**Augmentation** (:class:`RootNetAugment`, the reference's ``data/dataset.py``): per person a
rotation θ = clip(N(0, 1), −2, 2) · 30° with probability 0.6 (else 0), a horizontal flip with
probability 0.5 and a colour scale U(0.8, 1.2) per channel, clipped to [0, 255] before
normalisation. The reference's RootNet has no scale augmentation (its PoseNet has); here
``scale_factor`` > 0 adds one, s = 1 + clip(N(0, 1), −1, 1) · factor, the window's side × s.

The crop is an affine window about the processed box's centre m (the reference's
``gen_trans_from_patch_cv``, whose patch centre is S/2): crop pixel q = (column, row) shows
image pixel ``p = m + A · ((q − S/2) ∘ (w, h) / S)`` with ``A = s · F · R(θ)``,
``F = diag(−1, 1)`` when flipped (the reference flips the whole image, x → W − 1 − x, and
mirrors the box centre, which is the same map), ``R(θ) = [[cos, −sin], [sin, cos]]`` (image
axes, y down). With A = I this is exactly :func:`~poseboard.methods.rootnet.crop_boxes`. The
2D root target follows through the inverse map (:func:`image_to_crop_grid`): a flip mirrors
its x about the crop's centre (grid x → G − x), a rotation rotates it about the centre by −θ.
The depth target Z does not move; k is computed from the window actually cropped (the box's
area × s², unchanged by a flip or a rotation, as the reference's ``area``). A root that the
augmented crop leaves out gets no loss, as the reference's ``root_vis``.

Every draw comes from the training step's generator (``step_generator(seed, step)``), so a
resumed run augments as the uninterrupted run did.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from poseboard.datasets.torch_dataset import IMAGENET_MEAN, IMAGENET_STD
from poseboard.errors import check_shape


# ---------------------------------------------------------------------------- augmentation
class RootNetAugment(BaseModel):
    """Training augmentation of RootNet (``params.yaml``: ``methods.rootnet.<profile>.augment``).

    ``enabled``: ``true`` / ``false``; ``null`` (the default): on when the training set is a
    real dataset, off for a generated split (whose scenes are rendered with random appearance
    already, and whose committed results were trained without it). The other fields are the
    reference's values.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(None, description="null: on for real data, off for generated splits")
    rotation_deg: float = Field(30.0, ge=0, le=90, description="θ = clip(N(0,1), -2, 2) × this (reference: 30)")
    rotation_prob: float = Field(0.6, ge=0, le=1, description="probability of a rotation (reference: 0.6)")
    flip_prob: float = Field(0.5, ge=0, le=1, description="probability of a horizontal flip (reference: 0.5)")
    color_factor: float = Field(0.2, ge=0, lt=1, description="per-channel scale U(1 - f, 1 + f) (reference: 0.2)")
    scale_factor: float = Field(0.0, ge=0, lt=1, description="window side × 1 + clip(N(0,1), -1, 1) × f "
                                                             "(reference RootNet: none, 0)")

    def active(self, real: bool) -> bool:
        """Whether to augment a training set that is real (``real``) or generated."""
        return bool(real) if self.enabled is None else self.enabled


@dataclass
class CropAugmentation:
    """One draw of :class:`RootNetAugment` for N people.

    Attributes:
        affine: (N, 2, 2) float64, ``A = s · F · R(θ)``: an offset from the box centre in the
            crop (image pixels at the box's scale) → the offset in the image.
        scale: (N,) float64, s (the window's side / the processed box's side).
        colour: (N, 3) float32, the RGB scale of each crop.
        rotation_deg: (N,) float64 θ; flip: (N,) bool (for the record and the tests).
    """

    affine: Tensor
    scale: Tensor
    colour: Tensor
    rotation_deg: Tensor
    flip: Tensor

    def to(self, device: torch.device | str) -> CropAugmentation:
        return CropAugmentation(*(getattr(self, f).to(device) for f in
                                  ("affine", "scale", "colour", "rotation_deg", "flip")))


def augmentation_matrix(rotation_deg: Tensor, flip: Tensor, scale: Tensor) -> Tensor:
    """``A = s · F · R(θ)``, (..., 2, 2) float64 from θ (...) degrees, flip (...) bool and
    s (...): ``F = diag(−1, 1)`` where flipped, ``R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]``
    in image axes (x right, y down), as the reference's ``rotate_2d``.

    Example:
        >>> A = augmentation_matrix(torch.tensor([90.0]), torch.tensor([True]), torch.tensor([1.0]))
        >>> [[round(a) for a in row] for row in A[0].tolist()]  # flip after a quarter turn: x ↔ y
        [[0, 1], [1, 0]]
    """
    t = torch.deg2rad(rotation_deg.to(torch.float64))
    c, s_ = torch.cos(t), torch.sin(t)
    mirror = torch.where(flip.to(torch.bool), -1.0, 1.0).to(torch.float64)
    scale = scale.to(torch.float64)
    rows = [torch.stack([mirror * c, -mirror * s_], -1), torch.stack([s_, c], -1)]
    return torch.stack(rows, -2) * scale[..., None, None]


def draw_augmentation(n: int, config: RootNetAugment, generator: torch.Generator) -> CropAugmentation:
    """The augmentation of ``n`` people from a CPU ``generator``: always the same draws per
    person whatever the config (uniform rotation gate, normal θ, uniform flip gate, three
    uniform colours, normal scale), so changing one probability moves no other draw."""
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64)  # rotation gate, flip gate, 3 colours
    z = torch.randn(n, 2, generator=generator, dtype=torch.float64)  # θ, scale
    theta = torch.where(u[:, 0] < config.rotation_prob, z[:, 0].clamp(-2.0, 2.0) * config.rotation_deg,
                        torch.zeros(n, dtype=torch.float64))
    flip = u[:, 1] < config.flip_prob
    colour = (1.0 - config.color_factor + 2.0 * config.color_factor * u[:, 2:5]).to(torch.float32)
    scale = 1.0 + z[:, 1].clamp(-1.0, 1.0) * config.scale_factor
    return CropAugmentation(affine=augmentation_matrix(theta, flip, scale), scale=scale, colour=colour,
                            rotation_deg=theta, flip=flip)


def _offsets(box_xywh: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Crop pixel offsets from the box centre, image pixels at the box's scale: (N, 1, S) in x
    and (N, S, 1) in y, ``(q − S/2) · w / S``."""
    steps = torch.arange(size, dtype=torch.float64, device=box_xywh.device) / size - 0.5
    box = box_xywh.to(torch.float64)
    return steps[None, None, :] * box[:, 2, None, None], steps[None, :, None] * box[:, 3, None, None]


def crop_boxes_affine(images: Tensor, image_index: Tensor, box_xywh: Tensor, affine: Tensor, size: int) -> Tensor:
    """Crops (N, 3, size, size) of ``images`` (B, 3, H, W) through affine windows: crop pixel
    (row i, column j) samples image pixel ``m + A · ((j, i) − S/2) ∘ (w, h) / S``, m the
    centre of the processed box (N, 4) (x, y, w, h) image px, A (N, 2, 2) (:func:`augmentation_matrix`);
    bilinear, zeros outside. A = I gives :func:`~poseboard.methods.rootnet.crop_boxes` exactly
    (up to rounding).

    Example:
        >>> img = torch.arange(16.0).reshape(1, 1, 4, 4).expand(1, 3, 4, 4)
        >>> box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
        >>> crop_boxes_affine(img, torch.tensor([0]), box, torch.eye(2)[None].double(), 4)[0, 0, 0].round().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    check_shape(images, ["B", 3, "H", "W"], "crop_boxes_affine: images")
    n = check_shape(box_xywh, ["N", 4], "crop_boxes_affine: box_xywh")["N"]
    check_shape(affine, [n, 2, 2], "crop_boxes_affine: affine")
    h_img, w_img = images.shape[-2:]
    box = box_xywh.to(torch.float64)  # sampling positions in float64, as crop_boxes
    A = affine.to(torch.float64)
    ox, oy = _offsets(box, size)
    cx = (box[:, 0] + box[:, 2] / 2)[:, None, None]
    cy = (box[:, 1] + box[:, 3] / 2)[:, None, None]
    u = cx + A[:, 0, 0, None, None] * ox + A[:, 0, 1, None, None] * oy  # (N, S, S)
    v = cy + A[:, 1, 0, None, None] * ox + A[:, 1, 1, None, None] * oy
    grid = torch.stack([2 * u / (w_img - 1) - 1, 2 * v / (h_img - 1) - 1], dim=-1)
    return F.grid_sample(images[image_index], grid.to(images.dtype), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def image_to_crop_grid(uv: Tensor, box_xywh: Tensor, affine: Tensor, grid_size: int) -> Tensor:
    """Image pixels (N, 2) → output-grid units (N, 2) of the augmented crop (the inverse of
    :func:`crop_grid_to_image`): ``g = (A⁻¹ (p − m) ∘ (1/w, 1/h) + ½) · G``. A = I gives
    :func:`~poseboard.methods.rootnet.image_to_grid`."""
    box = box_xywh.to(torch.float64)
    centre = box[:, :2] + box[:, 2:] / 2
    d = torch.linalg.solve(affine.to(torch.float64), (uv.to(torch.float64) - centre)[..., None])[..., 0]
    return (d / box[:, 2:] + 0.5) * grid_size


def crop_grid_to_image(xy: Tensor, box_xywh: Tensor, affine: Tensor, grid_size: int) -> Tensor:
    """Output-grid units (N, 2) of the augmented crop → image pixels (N, 2):
    ``p = m + A · (g/G − ½) ∘ (w, h)``."""
    box = box_xywh.to(torch.float64)
    centre = box[:, :2] + box[:, 2:] / 2
    d = (xy.to(torch.float64) / grid_size - 0.5) * box[:, 2:]
    return centre + (affine.to(torch.float64) @ d[..., None])[..., 0]


def jitter_colour(crops: Tensor, colour: Tensor) -> Tensor:
    """Normalised crops (N, 3, S, S) with each RGB channel scaled by ``colour`` (N, 3) and
    clipped to [0, 1] before normalisation (the reference: × scale, clip to [0, 255])."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=crops.dtype, device=crops.device).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=crops.dtype, device=crops.device).reshape(1, 3, 1, 1)
    pixels = (crops * std + mean) * colour.to(crops.dtype)[:, :, None, None]
    return (pixels.clamp(0.0, 1.0) - mean) / std


def window_box(box_xywh: Tensor, scale: Tensor) -> Tensor:
    """The image window (N, 4) (x, y, w, h) an augmented crop covers before rotation: the
    processed box scaled by s about its centre (its area is what k uses)."""
    box = box_xywh.to(torch.float64)
    s = scale.to(torch.float64)[:, None]
    centre = box[:, :2] + box[:, 2:] / 2
    return torch.cat([centre - box[:, 2:] * s / 2, box[:, 2:] * s], dim=-1)


def root_inside(xy: Tensor, grid_size: int) -> Tensor:
    """(N,) float: 1 where the grid position (N, 2) lies in the crop, ``0 ≤ x, y < G`` (the
    reference's ``root_vis`` after augmentation)."""
    return ((xy >= 0) & (xy < grid_size)).all(-1).to(xy.dtype)


def pixel_to_camera(uv: Tensor, depth: Tensor, K: Tensor) -> Tensor:
    """Camera mm (N, 3) of image pixels (N, 2) at depth Z (N,) mm through K (N, 3, 3):
    ``X = (u − c_x)/f_x · Z`` (the reference's ``pixel2cam``)."""
    x = (uv[..., 0] - K[..., 0, 2]) / K[..., 0, 0] * depth
    y = (uv[..., 1] - K[..., 1, 2]) / K[..., 1, 1] * depth
    return torch.stack([x, y, depth], dim=-1)


__all__ = [
    "CropAugmentation", "RootNetAugment", "augmentation_matrix",
    "crop_boxes_affine", "crop_grid_to_image", "draw_augmentation", "image_to_crop_grid",
    "jitter_colour", "pixel_to_camera", "root_inside", "window_box",
]
