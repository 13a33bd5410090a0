"""torch ``Dataset`` views of generated datasets, and the collate functions that batch them.

Images stay uint8 and memory-mapped until a sample is read; the collate functions turn a
list of samples into float tensors normalised with the ImageNet mean/std of *RGB* images
(learnable triangulation feeds BGR images with RGB constants; poseboard does not).

Example:
    >>> from torch.utils.data import DataLoader  # doctest: +SKIP
    >>> ds = MultiViewDataset("data/synth-h36m/test", cameras=[0, 1])  # doctest: +SKIP
    >>> batch = next(iter(DataLoader(ds, batch_size=8, collate_fn=collate_multiview)))  # doctest: +SKIP
    >>> batch["images"].shape, batch["proj_matrices"].shape  # doctest: +SKIP
    (torch.Size([8, 2, 3, 128, 128]), torch.Size([8, 2, 3, 4]))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from poseboard.errors import InputError
from poseboard.samples import MultiViewSample, SingleViewScene

#: ImageNet statistics of RGB images in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) uint8 RGB → float32 ``(x / 255 - mean) / std``."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim < 3 or x.shape[-3] != 3:
        raise InputError(f"images: expected (..., 3, H, W), got {tuple(x.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).reshape(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).reshape(3, 1, 1)
    return (x.to(torch.float32) / 255.0 - mean) / std


class MultiViewDataset(Dataset):
    """Multi-view samples of a generated split (``data/<name>/<split>``), any subset of cameras.

    Args:
        path: the split folder.
        cameras: indices into the split's cameras (``camera_names``), in the order wanted;
            None: all.
        verify: check every file's sha256 against the manifest when opening.
    """

    def __init__(self, path: str | Path, cameras: Sequence[int] | None = None, verify: bool = False):
        from poseboard.datasets.storage import MultiViewStore

        self.store = MultiViewStore(path, verify=verify)
        if cameras is not None:
            cams = [int(c) for c in cameras]
            bad = [c for c in cams if not 0 <= c < self.store.num_views]
            if not cams or bad:
                raise InputError(
                    f"{path}: camera indices {list(cameras)} invalid; the split has cameras "
                    f"0..{self.store.num_views - 1} ({', '.join(self.store.camera_names)})"
                )
            self.cameras: list[int] | None = cams
        else:
            self.cameras = None

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> MultiViewSample:
        return self.store.sample(int(index), views=self.cameras)

    @property
    def camera_names(self) -> list[str]:
        names = self.store.camera_names
        return names if self.cameras is None else [names[c] for c in self.cameras]


def collate_multiview(samples: Sequence[MultiViewSample], normalize: bool = True) -> dict[str, Any]:
    """Batch multi-view samples (same number of views).

    Returns a dict of:
        images: (B, V, 3, H, W) float32 normalised (uint8 if ``normalize`` is False);
        proj_matrices: (B, V, 3, 4) float32, world mm → crop pixels (no distortion);
        K: (B, V, 3, 3), R: (B, V, 3, 3), t: (B, V, 3) float64 crop cameras; dist: (B, V, 5);
        boxes: (B, V, 4) float64 crop boxes, original pixels;
        joints_3d: (B, J, 3) float32 world mm; joints_2d: (B, V, J, 2) float32 crop pixels;
        visibility: (B, V, J) bool; view_valid: (B, V) bool;
        cameras: the ``Camera`` objects, (B lists of V); meta: B ``SampleMeta``.
    """
    if not samples:
        raise InputError("collate_multiview: empty batch")
    views = {s.num_views for s in samples}
    if len(views) != 1:
        raise InputError(f"collate_multiview: samples have different numbers of views {sorted(views)}")
    images = np.stack([s.images for s in samples])
    out: dict[str, Any] = {
        "images": normalize_images(images) if normalize else torch.from_numpy(images),
        "proj_matrices": torch.from_numpy(np.stack([s.projection_matrices for s in samples]).astype(np.float32)),
        "K": torch.from_numpy(np.stack([[c.K for c in s.cameras] for s in samples])),
        "R": torch.from_numpy(np.stack([[c.R for c in s.cameras] for s in samples])),
        "t": torch.from_numpy(np.stack([[c.t for c in s.cameras] for s in samples])),
        "dist": torch.from_numpy(np.stack([[c.dist for c in s.cameras] for s in samples])),
        "boxes": torch.from_numpy(np.stack([s.boxes for s in samples]).astype(np.float64)),
        "joints_3d": torch.from_numpy(np.stack([s.joints_3d for s in samples]).astype(np.float32)),
        "joints_2d": torch.from_numpy(np.stack([s.joints_2d for s in samples]).astype(np.float32)),
        "visibility": torch.from_numpy(np.stack([s.visibility for s in samples]).astype(bool)),
        "view_valid": torch.from_numpy(np.stack([np.asarray(s.view_valid) for s in samples]).astype(bool)),
        "cameras": [list(s.cameras) for s in samples],
        "meta": [s.meta for s in samples],
    }
    return out


#: Keys of a collated multi-view batch with a view axis (dim 1).
VIEW_KEYS = ("images", "proj_matrices", "K", "R", "t", "dist", "boxes", "joints_2d", "visibility", "view_valid")


def present_first_order(view_valid: torch.Tensor) -> torch.Tensor:
    """(B, V) int64 view indices of each sample, its present views first in their order, then
    the absent ones (``view_valid``: (B, V) bool). ``order[:, 0]`` is the first present view.

    Example:
        >>> present_first_order(torch.tensor([[False, True, True, True]]))
        tensor([[1, 2, 3, 0]])
    """
    return torch.argsort((~view_valid).to(torch.int32), dim=1, stable=True)


def take_views(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``x`` (B, V, ...) with its views taken in ``order`` (B, k) int64: (B, k, ...)."""
    idx = order.reshape(*order.shape, *([1] * (x.dim() - 2))).expand(*order.shape, *x.shape[2:])
    return torch.gather(x, 1, idx.to(x.device))


#: Key of a batch's per-view results computed once for several passes over the same frames
#: (:meth:`poseboard.methods.base.Method.view_features`): a dict of tensors, or named tuples of
#: tensors, each with the batch's view axis at dim 1.
VIEW_FEATURES_KEY = "view_features"


def take_view_features(features: dict[str, Any], order: torch.Tensor) -> dict[str, Any]:
    """:func:`take_views` on every tensor of a view-features dict (values: tensors, or named
    tuples of tensors such as a ``BackboneOutput``)."""
    out: dict[str, Any] = {}
    for key, value in features.items():
        if isinstance(value, torch.Tensor):
            out[key] = take_views(value, order)
        else:
            out[key] = type(value)(*(take_views(x, order) for x in value))
    return out


def _take_batch_views(batch: dict[str, Any], order: torch.Tensor) -> dict[str, Any]:
    out = dict(batch)
    for key in (k for k in VIEW_KEYS if k in batch):
        out[key] = take_views(batch[key], order)
    if batch.get(VIEW_FEATURES_KEY) is not None:
        out[VIEW_FEATURES_KEY] = take_view_features(batch[VIEW_FEATURES_KEY], order)
    if "cameras" in batch:
        out["cameras"] = [[cams[i] for i in row] for cams, row in zip(batch["cameras"], order.tolist(), strict=True)]
    return out


def select_views(batch: dict[str, Any], positions: Sequence[int]) -> dict[str, Any]:
    """The collated batch seen by the cameras at ``positions`` of its view axis, in that order:
    what collating the same samples loaded with only those cameras gives (tested), view
    features included. One camera subset of a sweep, cut from the batch of all its cameras."""
    b = batch["view_valid"].shape[0]
    order = torch.as_tensor(list(positions), dtype=torch.int64).expand(b, len(positions))
    return _take_batch_views(batch, order)


def present_views_first(batch: dict[str, Any]) -> dict[str, Any]:
    """A collated multi-view batch (:func:`collate_multiview`) with each sample's present views
    first, in their order, and the view axis cut to the most any sample of the batch has.

    Splits of rigs with different camera counts (``synth-novel-rig``: 2 to 10 cameras in 10
    slots) pad the absent cameras with zero boxes and ``view_valid`` False; every method
    weighs such a view zero, but computes it: the backbone ran on 10 slots for 6.8 cameras.
    Cut away, the predictions are the same (each method's absent-view handling is what makes
    them so; tested per method) at the cost of the views present. The first present view,
    the reference camera of the uncalibrated protocols, stays first. A batch whose views are
    all present is returned as it is.
    """
    valid = batch["view_valid"]
    if bool(valid.all()):
        return batch
    keep = max(int(valid.sum(dim=1).max()), 1)
    return _take_batch_views(batch, present_first_order(valid)[:, :keep])  # (B, k) views


class SingleViewSceneDataset(Dataset):
    """Single-view multi-person scenes of a generated split (``data/synth-mupots/<split>``)."""

    def __init__(self, path: str | Path, verify: bool = False):
        from poseboard.datasets.storage import SingleViewStore

        self.store = SingleViewStore(path, verify=verify)

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> SingleViewScene:
        return self.store.scene(int(index))


def collate_scenes(scenes: Sequence[SingleViewScene], normalize: bool = True) -> dict[str, Any]:
    """Batch single-view scenes: ``images`` (B, 3, H, W), ``K`` (B, 3, 3) and per image the
    lists ``people`` (``Person`` records), ``cameras`` and ``meta``."""
    if not scenes:
        raise InputError("collate_scenes: empty batch")
    images = np.stack([s.image for s in scenes])
    return {
        "images": normalize_images(images) if normalize else torch.from_numpy(images),
        "K": torch.from_numpy(np.stack([s.camera.K for s in scenes])),
        "people": [list(s.people) for s in scenes],
        "cameras": [s.camera for s in scenes],
        "meta": [s.meta for s in scenes],
    }
