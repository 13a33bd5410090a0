"""``rootnet-k-only``: RootNet's k value alone as the root depth (Moon, Chang, Lee, ICCV 2019).

The baseline RootNet's paper discusses beside its learned correction: the depth of a person's
root is the box-area prior with γ = 1,

    Z = k = √(α_x · α_y · A_real / A_img),

α_x, α_y the focal lengths (px), A_real = 2000 mm × 2000 mm (the reference's ``bbox_real``) and
A_img the area (px²) of the box processed as RootNet processes it
(:func:`~poseboard.methods.rootnet.process_box`: clipped, made square, enlarged ×1.25). With no
network there is no 2D root either: the processed box's centre stands in for it and is
back-projected at depth Z through K, ``X = (u − c_x) / f_x · Z``, ``Y = (v − c_y) / f_y · Z``
(RootNet does the same with its predicted 2D root).

Boxes are RootNet's: ``"gt"`` (the ground-truth person boxes, score 1) or ``"detected"`` (the
simulated detector :func:`~poseboard.datasets.detections.simulate_detections` with the same
:class:`~poseboard.datasets.detections.DetectionNoise`, so both methods see the same boxes and
scores under a ``*-detected`` protocol). A batch key ``"box_source"`` (set by the harness from
the protocol) overrides ``config.boxes``.

Nothing is learned: ``fit`` returns at once (logging what the method uses), and the saved
state is the fixed γ = 1 alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from poseboard.datasets.detections import DetectionNoise, person_boxes
from poseboard.device import to_device
from poseboard.errors import InputError, check_shape
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.person_box import MOON_BIBTEX, back_project, k_value, process_box, root_prediction
from poseboard.samples import Prediction

BoxSource = Literal["gt", "detected"]
BOX_SOURCES: tuple[str, ...] = ("gt", "detected")
PROFILES: tuple[str, ...] = ("smoke", "default", "gpu", "paper")


def box_centre_root(box_xywh: Tensor, K: Tensor, area_mm2: float = 2000.0 * 2000.0) -> Tensor:
    """The root (..., 3), camera mm, of the k-value prior: depth Z = k (γ = 1) and the processed
    box's centre back-projected at that depth.

    Args:
        box_xywh: (..., 4) processed boxes (x, y, w, h), image px (:func:`process_box`).
        K: (..., 3, 3) intrinsics of each box's image, px.
        area_mm2: A_real, mm² (the reference's 2000 × 2000).

    Example:
        >>> K = torch.tensor([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]], dtype=torch.float64)
        >>> box_centre_root(torch.tensor([300.0, 300, 400, 400], dtype=torch.float64), K)
        tensor([   0.,    0., 5000.], dtype=torch.float64)
    """
    check_shape(box_xywh, ["*", 4], "rootnet-k-only: box_xywh")
    check_shape(K, ["*", 3, 3], "rootnet-k-only: K")
    depth = k_value(K, box_xywh, area_mm2)
    # the centre is grid point (0.5, 0.5) of a one-cell grid: u = 0.5 · w + x0 (back_project's map)
    centre = torch.full((*box_xywh.shape[:-1], 2), 0.5, dtype=box_xywh.dtype, device=box_xywh.device)
    return back_project(centre, depth, box_xywh, K, grid_size=1)


class RootNetKOnlyConfig(BaseModel):
    """Settings of the k-value baseline (``params.yaml``: ``methods.rootnet-k-only``); the
    geometry is RootNet's (:class:`~poseboard.methods.rootnet.RootNetConfig`'s defaults)."""

    model_config = ConfigDict(extra="forbid")

    area_mm2: float = Field(2000.0 * 2000.0, gt=0, description="A_real of k, mm² (reference: 2000 × 2000)")
    box_enlarge: float = Field(1.25, ge=1.0, description="processed box enlargement (reference: 1.25)")
    boxes: BoxSource = Field("gt", description="boxes predict uses (a batch's box_source overrides it)")
    detection: DetectionNoise = Field(default_factory=DetectionNoise,
                                      description="the simulated detector (RootNet's, same seed: the same boxes)")

    @classmethod
    def preset(cls, profile: str) -> RootNetKOnlyConfig:
        """The same settings for every profile (nothing is trained, nothing is sized)."""
        if profile not in PROFILES:
            raise InputError(f"unknown profile {profile!r}; choose {', '.join(PROFILES)}")
        return cls()


class RootNetKOnlyMethod(Method):
    """A person box → its root in camera mm, Z = k (γ = 1), X, Y from the box centre."""

    name = "rootnet-k-only"
    card = MethodCard(
        title="RootNet's k value alone (γ = 1, box-area prior)",
        paper="Moon et al., ICCV 2019",
        url="https://arxiv.org/abs/1907.11346",
        code_url="https://github.com/mks0601/3DMPPE_ROOTNET_RELEASE",
        bibtex=MOON_BIBTEX,
        description="The k-value baseline RootNet's ablation discusses: the root depth is "
                    "k = √(A_real·fx·fy / A_box) (A_real = 2 m × 2 m, RootNet's processed box) with no learned "
                    "correction (γ = 1); X, Y back-project the box centre at that depth. Nothing is learned; "
                    "boxes are ground truth or RootNet's simulated detector (config `boxes`).",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=False, multi_view=False, min_views=1, max_views=1,
        multi_person=True, output_frame="camera", outputs=("root",), trainable=False,
    )
    config_model = RootNetKOnlyConfig
    config: RootNetKOnlyConfig

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Nothing to learn: log what the prediction uses (γ = 1, A_real, the box processing)."""
        if tracker is not None:
            c = self.config
            tracker.log_params({"rootnet-k-only/gamma": 1.0, "rootnet-k-only/area_mm2": c.area_mm2,
                                "rootnet-k-only/box_enlarge": c.box_enlarge})

    def boxes_of(self, batch: dict[str, Any], source: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The batch's person boxes (:func:`~poseboard.datasets.detections.person_boxes`: boxes
        (N, 4) image px, image index (N,), score (N,), person index (N,), on the host), the
        simulated detector with this method's ``config.detection`` (RootNet's by default)."""
        return person_boxes(batch, source, self.config.detection)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> Prediction:
        """One row per box of every image of a ``collate_scenes`` batch (``images`` (B, 3, H, W),
        ``K`` (B, 3, 3), ``people``, ``meta``; ``box_source`` optional).

        Returns a :class:`Prediction` with ``root`` (N, 3) camera mm (also as ``joints_3d``
        (N, 1, 3)) and ``score`` (N,) (1 for ground-truth boxes, the detector's score
        otherwise) on the device of the batch's images, and extras on the host:
        ``image_index`` (N,), ``sample_ids`` (N,) str, ``person_index`` (N,), ``boxes`` (N, 4),
        ``box_source``. Computed in float64 (k is a square root of a ratio of large numbers),
        returned in float32 as RootNet's.
        """
        source = batch.get("box_source", self.config.boxes)
        if source not in BOX_SOURCES:
            raise InputError(f"rootnet-k-only: box source must be one of {list(BOX_SOURCES)}, got {source!r}")
        images = batch["images"]
        images = images if isinstance(images, Tensor) else torch.as_tensor(images, device="cpu")
        dims = check_shape(images, ["B", 3, "H", "W"], "rootnet-k-only: images")
        device = images.device
        K = torch.as_tensor(batch["K"], device=device).to(torch.float64)
        check_shape(K, [dims["B"], 3, 3], "rootnet-k-only: K")
        boxes, index, scores, person = self.boxes_of(batch, source)  # host
        roots = torch.zeros(0, 3, dtype=torch.float64, device=device)
        if len(boxes):
            size = (dims["W"], dims["H"])  # (width, height), as process_box reads it
            processed = process_box(to_device(boxes, device), size, 1.0, self.config.box_enlarge)
            roots = box_centre_root(processed, K[to_device(index, device)], self.config.area_mm2)
        return root_prediction(batch, roots, boxes, index, scores, person, source)

    def state_dict(self) -> dict[str, Any]:
        """The fixed correction γ = 1 (what there is to save of a method without weights)."""
        return {"gamma": torch.ones(1, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Accept only this method's state: ``{"gamma": 1}``."""
        if "gamma" not in state:
            raise KeyError("gamma")
        if set(state) != {"gamma"}:
            raise ValueError(f"rootnet-k-only: 'gamma' alone expected, got keys {sorted(map(str, state))[:8]}")
        if not torch.equal(torch.as_tensor(state["gamma"], dtype=torch.float64), torch.ones(1, dtype=torch.float64)):
            raise ValueError(f"rootnet-k-only: γ is fixed at 1, the checkpoint holds {state['gamma']}")
