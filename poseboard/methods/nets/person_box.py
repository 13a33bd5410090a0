"""A person box and a depth prior: the geometry RootNet (Moon et al., ICCV 2019) is built on,
shared by every method that localises a root from a box (``rootnet``, ``rootnet-k-only``).

Boxes are (left, top, right, bottom) image pixels in, (x, y, w, h) after
:func:`process_box`; K (..., 3, 3) pinhole intrinsics; depths and roots camera mm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from poseboard.device import to_device
from poseboard.samples import Prediction

__all__ = ["MOON_BIBTEX", "back_project", "image_to_grid", "k_value", "process_box", "root_prediction"]

MOON_BIBTEX = """@inproceedings{moon2019camera,
  title={Camera Distance-aware Top-down Approach for 3D Multi-person Pose Estimation from a Single RGB Image},
  author={Moon, Gyeongsik and Chang, Ju Yong and Lee, Kyoung Mu},
  booktitle={International Conference on Computer Vision (ICCV)},
  year={2019}
}"""


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


def root_prediction(batch: dict[str, Any], roots: Tensor, boxes: Tensor, index: Tensor, scores: Tensor,
                    person: Tensor, source: str) -> Prediction:
    """The :class:`~poseboard.samples.Prediction` of a box-based root method: ``roots`` (N, 3)
    camera mm on the batch's device (also as ``joints_3d`` (N, 1, 3)), float32 as returned;
    ``scores`` (N,) moved there; extras on the host: ``image_index``, ``sample_ids`` (from the
    batch's ``meta``), ``person_index``, ``boxes`` (N, 4) and ``box_source``."""
    meta = batch.get("meta") or []
    ids = np.array([meta[i].sample_id if meta else str(i) for i in index.tolist()], dtype=str)
    return Prediction(joints_3d=roots[:, None].float(), frame="camera", root=roots.float(),
                      score=to_device(scores.float(), roots.device),
                      extras={"image_index": index, "sample_ids": ids, "person_index": person, "boxes": boxes,
                              "box_source": source})
