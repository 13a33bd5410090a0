"""Person boxes for root localisation: the ground truth's, or a simulated detector's.

The synthetic world has no trained person detector, so the ``*-detected*`` root protocols
hand methods the boxes of a deterministic simulated one (:class:`DetectionNoise`,
:func:`simulate_detections`): per ground-truth person a miss with a probability that grows
with occlusion, else the box with its centre and sides jittered and a score from its IoU
with the true box; plus Poisson-many false boxes per image. Every draw is seeded by
(``seed``, crc32(sample id)), so detections do not depend on batching or on the method.
Any root-localisation method reads its boxes through :func:`person_boxes`.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

__all__ = ["DetectionNoise", "person_boxes", "simulate_detections"]


class DetectionNoise(BaseModel):
    """The simulated detector's noise model (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0)
    miss_rate: float = Field(0.03, ge=0, le=1)
    miss_occluded: float = Field(0.3, ge=0, le=1, description="extra miss probability × occluded fraction")
    center_std: float = Field(0.06, ge=0, description="centre jitter, fraction of box size")
    scale_std: float = Field(0.1, ge=0, description="log-normal side scale jitter")
    score_std: float = Field(0.05, ge=0)
    false_positives: float = Field(0.3, ge=0, description="Poisson mean of false boxes per image")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def simulate_detections(people: list[Any], image_size: tuple[int, int], sample_id: str,
                        noise: DetectionNoise) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic noisy "detections" of one image's people.

    Returns boxes (D, 4) (left, top, right, bottom) image px, scores (D,), person_index (D,)
    (the source person, −1 for a false positive), in the order drawn.
    """
    rng = np.random.default_rng([noise.seed, zlib.crc32(str(sample_id).encode())])
    w_img, h_img = image_size
    boxes, scores, index = [], [], []
    heights = []
    for p, person in enumerate(people):
        box = np.asarray(person.box, dtype=np.float64)
        w, h = box[2] - box[0], box[3] - box[1]
        u = rng.random(6)  # always six draws per person, so one person's fate never shifts another's
        z = rng.standard_normal(5)
        if w <= 1 or h <= 1:
            continue
        heights.append(h)
        vis = float(np.mean(np.asarray(person.visibility, dtype=bool)))
        if u[0] < noise.miss_rate + noise.miss_occluded * (1 - vis):
            continue
        cx = (box[0] + box[2]) / 2 + z[0] * noise.center_std * w
        cy = (box[1] + box[3]) / 2 + z[1] * noise.center_std * h
        nw, nh = w * math.exp(z[2] * noise.scale_std), h * math.exp(z[3] * noise.scale_std)
        det = np.array([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2])
        det = np.clip(det, 0, [w_img, h_img, w_img, h_img])
        if det[2] - det[0] < 1 or det[3] - det[1] < 1:
            continue
        score = 0.25 + 0.7 * _iou(det, box) * (0.5 + 0.5 * vis) + z[4] * noise.score_std
        boxes.append(det)
        scores.append(float(np.clip(score, 0.01, 0.99)))
        index.append(p)
    n_fp = int(rng.poisson(noise.false_positives))
    lo, hi = (min(heights), max(heights)) if heights else (0.1 * h_img, 0.5 * h_img)
    for _ in range(n_fp):
        h = rng.uniform(lo, hi)
        w = h * rng.uniform(0.3, 0.6)
        cx, cy = rng.uniform(0, w_img), rng.uniform(0, h_img)
        det = np.clip(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), 0, [w_img, h_img, w_img, h_img])
        if det[2] - det[0] < 1 or det[3] - det[1] < 1:
            continue
        boxes.append(det)
        scores.append(float(rng.uniform(0.02, 0.5)))
        index.append(-1)
    return (np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64),
            np.array(index, dtype=np.int64))


def person_boxes(batch: dict[str, Any], source: str, noise: DetectionNoise) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Boxes (N, 4) (left, top, right, bottom) image px, their image index (N,), score (N,)
    and person index (N,) (−1: a false detection) for a
    :func:`~poseboard.datasets.torch_dataset.collate_scenes` batch: ``source`` ``"gt"`` the
    valid ground-truth boxes (score 1), ``"detected"`` :func:`simulate_detections` with
    ``noise``, on the host (CPU tensors): they come from the batch's
    ``people`` records (or the simulated detector), never from the device."""
    h, w = batch["images"].shape[-2:]
    boxes, index, scores, person = [], [], [], []
    for i, people in enumerate(batch["people"]):
        if source == "gt":
            for p, person_i in enumerate(people):
                b = np.asarray(person_i.box, dtype=np.float64)
                if b[2] - b[0] > 1 and b[3] - b[1] > 1:
                    boxes.append(b)
                    index.append(i)
                    scores.append(1.0)
                    person.append(p)
        else:
            sample_id = batch["meta"][i].sample_id if batch.get("meta") else str(i)
            db, ds, dp = simulate_detections(people, (w, h), sample_id, noise)
            boxes.extend(db)
            index.extend([i] * len(db))
            scores.extend(ds.tolist())
            person.extend(dp.tolist())
    return (torch.as_tensor(np.array(boxes, dtype=np.float64).reshape(-1, 4), device="cpu"),
            torch.as_tensor(index, dtype=torch.int64, device="cpu"),
            torch.as_tensor(scores, dtype=torch.float64, device="cpu"),
            torch.as_tensor(person, dtype=torch.int64, device="cpu"))
