"""The sample and prediction types every dataset yields and every method returns.

Arrays are NumPy in samples (datasets are framework-free) and torch or NumPy in
predictions. Units: millimetres for 3D, pixels of the sample's crop for 2D.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from poseboard.camera import Camera
from poseboard.errors import InputError, check_shape

OutputFrame = Literal["world", "reference_camera", "camera"]


@dataclass(frozen=True)
class SampleMeta:
    """Where a sample comes from; ``sample_id`` is unique within a dataset split."""

    sample_id: str
    subject: str
    action: str
    sequence: str
    frame: int
    scene: str = ""


@dataclass
class MultiViewSample:
    """One instant seen by V cameras.

    Attributes:
        images: (V, 3, H, W) uint8 RGB crops (H, W the network input size).
        cameras: V cameras already adjusted to the crops (``Camera.crop_and_resize``).
        boxes: (V, 4) crop boxes (left, top, right, bottom) in original-image pixels.
        joints_3d: (J, 3) ground truth, world mm.
        joints_2d: (V, J, 2) ground-truth projections, crop pixels.
        visibility: (V, J) bool, False where a joint is occluded or outside the view.
        view_valid: (V,) bool, False for a missing view (zero box in the source data).
    """

    images: np.ndarray
    cameras: list[Camera]
    boxes: np.ndarray
    joints_3d: np.ndarray
    joints_2d: np.ndarray
    visibility: np.ndarray
    meta: SampleMeta
    view_valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        where = f"sample {self.meta.sample_id}"
        dims = check_shape(self.images, ["V", 3, "H", "W"], f"{where}: images")
        v = dims["V"]
        check_shape(self.boxes, [v, 4], f"{where}: boxes")
        dims_j = check_shape(self.joints_3d, ["J", 3], f"{where}: joints_3d")
        check_shape(self.joints_2d, [v, dims_j["J"], 2], f"{where}: joints_2d")
        check_shape(self.visibility, [v, dims_j["J"]], f"{where}: visibility")
        if len(self.cameras) != v:
            raise InputError(f"{where}: {len(self.cameras)} cameras for {v} views")
        if self.view_valid is None:
            self.view_valid = np.ones(v, dtype=bool)

    @property
    def num_views(self) -> int:
        return int(self.images.shape[0])

    @property
    def projection_matrices(self) -> np.ndarray:
        """(V, 3, 4) projection matrices of the crop cameras."""
        return np.stack([c.projection_matrix for c in self.cameras])

    def select_views(self, indices: list[int]) -> MultiViewSample:
        """The same instant seen by a subset of the cameras (in the given order)."""
        idx = np.asarray(indices, dtype=int)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.num_views:
            raise InputError(
                f"sample {self.meta.sample_id}: view indices {indices} out of range 0..{self.num_views - 1}"
            )
        assert self.view_valid is not None
        return MultiViewSample(
            images=self.images[idx], cameras=[self.cameras[i] for i in idx], boxes=self.boxes[idx],
            joints_3d=self.joints_3d, joints_2d=self.joints_2d[idx], visibility=self.visibility[idx],
            meta=self.meta, view_valid=self.view_valid[idx],
        )


@dataclass
class Person:
    """One person in a single-view scene (camera frame, mm)."""

    box: np.ndarray  # (4,) left, top, right, bottom in image pixels
    root_cam: np.ndarray  # (3,) pelvis in camera mm
    joints_cam: np.ndarray  # (J, 3) camera mm
    joints_2d: np.ndarray  # (J, 2) image pixels
    visibility: np.ndarray  # (J,) bool
    valid: bool = True  # False: annotation exists but must not be scored (MuPoTS is_valid = 0)


@dataclass
class SingleViewScene:
    """One image with several people (RootNet's setting)."""

    image: np.ndarray  # (3, H, W) uint8
    camera: Camera
    people: list[Person]
    meta: SampleMeta


@dataclass
class Prediction:
    """What a method returns for a batch of B samples, in the batch's order.

    Attributes:
        joints_3d: (B, J, 3) mm in ``frame``: world, the reference (first) camera, or the camera.
        confidence: optional (B, J) per-joint confidence.
        root: optional (B, 3) root position, camera mm (root-localisation methods).
        score: optional (B,) detection score used to rank predictions for AP.
        frame: the coordinate frame of ``joints_3d``.
    """

    joints_3d: Any
    frame: OutputFrame = "world"
    confidence: Any | None = None
    root: Any | None = None
    score: Any | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        dims = check_shape(self.joints_3d, ["B", "J", 3], "prediction joints_3d")
        if self.confidence is not None:
            check_shape(self.confidence, [dims["B"], dims["J"]], "prediction confidence")
        if self.root is not None:
            check_shape(self.root, [dims["B"], 3], "prediction root")
        if self.score is not None:
            check_shape(self.score, [dims["B"]], "prediction score")
