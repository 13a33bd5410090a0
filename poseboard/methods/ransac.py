"""``ransac``: learnable triangulation's baseline (Iskakov et al., ICCV 2019, "our
implementation" of RANSAC triangulation).

Per view, the pre-trained 2D backbone's heatmaps give each joint by **hard argmax** (a grid
of ``stride`` crop pixels, as the reference's 4-px grid); detections are undistorted and
each joint is triangulated by RANSAC over view pairs
(:func:`poseboard.geometry.triangulate_ransac`: hypotheses from pairs, inliers under the
threshold, DLT on the largest inlier set, optional robust refinement).

**Threshold rule** (``threshold_rule``):

* ``"reference_crop_half"`` (the default; the ``paper`` profile): the reference's. In
  ``RANSACTriangulationNet.triangulate_ransac`` (``mvn/models/triangulation.py``) the
  detections are in the pixels of each view's crop (the 384 × 384 network input, hard argmax
  upscaled from the heatmap) and the projection matrices are the crops' (the cameras updated
  by ``update_after_crop`` / ``update_after_resize``); a view is an inlier when
  ``calc_reprojection_error_matrix`` (``mvn/utils/multiview.py``), which is **half** the
  Euclidean reprojection distance, ``1/2 · ‖x − project(X)‖``, is **below**
  ``reprojection_error_epsilon = 15``. Here the views are triangulated in crop pixels with
  the crops' projections likewise, and a view is an inlier when half its distance is below
  ``threshold_px`` (15), i.e. its full distance below 30 crop pixels. The Huber refinement
  is in the same pixels: the reference's ``least_squares(loss="huber")`` (``f_scale`` 1) on
  half distances is ``huber_px = 2`` on full ones. The units are the crop's pixels whatever
  its size: 15 is the reference's value for its 384-px crops.
* ``"original_full"``: poseboard's first rule, kept for the committed synthetic results
  (the ``smoke``, ``default`` and ``gpu`` presets pin it): views triangulated in
  **original-image** pixels (crop projections and detections mapped back through the crop
  boxes), a view an inlier when its **full** distance is below ``threshold_px`` (30), so one
  threshold means the same number of image pixels in every view whatever its crop scale.
  The reference's 30 full crop pixels are ``30 · box / 384`` original pixels, so on
  Human3.6M's boxes (about 460-690 px) this rule is about 1.2-1.8× stricter (issue 22);
  ``huber_px`` is in original pixels too.

Nothing is trained: ``fit`` only takes the pre-trained backbone (``backbone_checkpoint``).
Views marked invalid get detections far outside the image, so they are never inliers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from poseboard.device import autocast
from poseboard.errors import InputError
from poseboard.geometry import hard_argmax_2d, triangulate_ransac
from poseboard.methods.base import Capabilities, Method, MethodCard, Tracker
from poseboard.methods.nets.backbone import Backbone, BackboneConfig, init_from_pretrained
from poseboard.methods.nets.multiview import (
    crop_to_original,
    original_projection,
    read_batch,
    run_backbone,
    shared_backbone,
    undistort_pixels,
)
from poseboard.samples import Prediction

ISKAKOV_BIBTEX = """@inproceedings{iskakov2019learnable,
  title={Learnable Triangulation of Human Pose},
  author={Iskakov, Karim and Burkov, Egor and Lempitsky, Victor and Malkov, Yury},
  booktitle={International Conference on Computer Vision (ICCV)},
  year={2019}
}"""


ThresholdRule = Literal["reference_crop_half", "original_full"]
THRESHOLD_RULES: tuple[str, ...] = ("reference_crop_half", "original_full")


class RansacConfig(BaseModel):
    """Hyper-parameters of the RANSAC baseline (``params.yaml``: ``methods.ransac``)."""

    model_config = ConfigDict(extra="forbid")

    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    backbone_checkpoint: str | None = Field(None, description="folder of the pre-trained backbone (used by fit)")
    threshold_rule: ThresholdRule = Field(
        "reference_crop_half",
        description="reference_crop_half: half the reprojection distance in each view's crop pixels (the "
                    "reference's); original_full: the full distance in original-image pixels (module docstring)")
    threshold_px: float = Field(
        15.0, gt=0, description="inlier threshold in threshold_rule's units: HALF distance, CROP px "
                                "(reference_crop_half; the reference's 15) or FULL distance, ORIGINAL px "
                                "(original_full)")
    huber_px: float = Field(
        2.0, gt=0, description="Huber threshold of the refinement on the FULL distance, in the rule's pixels "
                               "(crop or original); 2 = the reference's f_scale 1 on half distances")
    n_iters: int = Field(10, ge=1, description="random pair hypotheses per joint (when not all pairs)")
    pairs: Literal["auto", "all", "random"] = "auto"
    pair_inliers: Literal["threshold", "always"] = "threshold"
    refine: bool = True
    refine_iters: int = Field(5, ge=0)
    undistort: bool = Field(True, description="undistort detections before triangulating")
    seed: int = Field(0, ge=0, description="seed of the random pair draws")

    @classmethod
    def preset(cls, profile: str) -> RansacConfig:
        if profile not in ("smoke", "default", "gpu", "paper"):
            raise InputError(f"unknown profile {profile!r}; choose smoke, default, gpu or paper")
        backbone = BackboneConfig.preset("resnet50" if profile == "gpu" else profile)
        if profile == "paper":
            return cls(backbone=backbone)  # the reference's rule (the default)
        # committed protocol results (results/ransac/, synthetic world) were scored under this rule: keep their numbers
        return cls(backbone=backbone, threshold_rule="original_full", threshold_px=30.0)


class RansacMethod(Method):
    """Hard-argmax detections + per-joint RANSAC triangulation (no learning)."""

    name = "ransac"
    card = MethodCard(
        title="RANSAC triangulation (learnable triangulation's baseline)",
        paper="Iskakov et al., ICCV 2019",
        url="https://arxiv.org/abs/1905.05754",
        code_url="https://github.com/karfly/learnable-triangulation-pytorch",
        bibtex=ISKAKOV_BIBTEX,
        description="Hard argmax of the pre-trained 2D backbone's heatmaps in every view, per-joint RANSAC over "
                    "view pairs (by default the reference's inlier rule: half the reprojection distance under 15 "
                    "crop pixels), DLT on the inliers and a robust (Huber) refinement. Nothing is trained beyond "
                    "the shared backbone.",
    )
    capabilities = Capabilities(
        needs_intrinsics=True, needs_extrinsics=True, multi_view=True, min_views=2, max_views=None,
        multi_person=False, output_frame="world", outputs=("joints_3d",), trainable=False,
    )
    config_model = RansacConfig
    config: RansacConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.backbone = Backbone(self.config.backbone).eval()
        self.progress = True

    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Nothing to learn: take the pre-trained backbone's weights."""
        info = init_from_pretrained(self.backbone, self.config.backbone_checkpoint)
        self.backbone.eval()
        if tracker is not None and info:
            tracker.log_params({"ransac/backbone_steps": info.get("steps")})

    @torch.no_grad()
    def crop_detections(self, batch: dict[str, Any]) -> torch.Tensor:
        """The pre-trained backbone's hard-argmax detections (B, V, J, 2), float64, in each
        view's crop pixels as the image shows them (before any undistortion): what the
        harness compares with the ground-truth 2D (the ``joints_2d`` extra of :meth:`predict`)."""
        vb = read_batch(batch, need_extrinsics=False)
        self.backbone.eval()
        heatmaps = shared_backbone(self.backbone, vb.images, batch, "backbone").heatmaps
        stride = vb.size / heatmaps.shape[-1]
        return hard_argmax_2d(heatmaps).to(torch.float64) * stride  # (B, V, J, 2) crop px

    @torch.no_grad()
    def detect(self, batch: dict[str, Any], crop_points: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard-argmax detections (B, V, J, 2) (undistorted if configured) and projection
        matrices (B, V, 3, 4), world mm → pixels, both in the pixels ``threshold_rule``
        triangulates in: each view's crop (``reference_crop_half``) or original image
        (``original_full``); ``crop_points``: :meth:`crop_detections` already computed."""
        vb = read_batch(batch)
        pts = self.crop_detections(batch) if crop_points is None else crop_points
        if self.config.undistort:
            pts = undistort_pixels(pts, vb.K[:, :, None], vb.dist[:, :, None])
        if vb.proj is None:
            raise InputError("ransac needs the views' extrinsics (the batch has no projection matrices)")
        proj = vb.proj
        if self.config.threshold_rule == "original_full":
            pts = crop_to_original(pts, vb.boxes[:, :, None], vb.size)
            proj = original_projection(vb.proj, vb.boxes, vb.size)
        pts = torch.where(vb.view_valid[:, :, None, None], pts, torch.full_like(pts, -1e6))
        return pts, proj

    def full_threshold_px(self) -> float:
        """The inlier threshold on the FULL reprojection distance, in the rule's pixels (what
        :func:`~poseboard.geometry.triangulate_ransac` compares with ``<``): twice
        ``threshold_px`` for ``reference_crop_half`` (exact: a power-of-two scaling, so
        ``d / 2 < 15`` and ``d < 30`` decide every view alike), ``threshold_px`` itself for
        ``original_full``."""
        c = self.config
        if c.threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f"threshold_rule must be one of {list(THRESHOLD_RULES)}, got {c.threshold_rule!r}")
        return 2.0 * c.threshold_px if c.threshold_rule == "reference_crop_half" else c.threshold_px

    def triangulate(self, points: torch.Tensor, proj: torch.Tensor,
                    view_valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-joint RANSAC of detections (B, V, J, 2) with the projections (B, V, 3, 4),
        both in the pixels of ``threshold_rule`` (:meth:`detect`: crop pixels for
        ``reference_crop_half``, original-image pixels for ``original_full``) → joints
        (B, J, 3) world mm and inliers (B, J, V) bool. A sample with missing views
        (``view_valid`` (B, V) False, e.g. a zero box) is triangulated from its other views
        alone; with fewer than 2 its joints are NaN.

        Host round trips (on a GPU): one per call to read whether every view is valid (the
        control flow depends on it), and, only for a batch with missing views, one per
        sample to list its valid views."""
        if points.shape[1] < 2:
            raise InputError(f"ransac needs at least 2 views, got {points.shape[1]}")
        if view_valid is not None and not bool(view_valid.all()):
            joints = torch.full((points.shape[0], points.shape[2], 3), float("nan"), dtype=torch.float64,
                                device=points.device)
            inliers = torch.zeros(points.shape[0], points.shape[2], points.shape[1], dtype=torch.bool,
                                  device=points.device)
            for b in range(points.shape[0]):
                views = torch.nonzero(view_valid[b]).flatten()
                if len(views) >= 2:
                    jb, ib = self.triangulate(points[b : b + 1, views], proj[b : b + 1, views])
                    joints[b] = jb[0].to(joints.dtype)
                    inliers[b][:, views] = ib[0]
            return joints, inliers
        c = self.config
        result = triangulate_ransac(
            proj[:, None], points.transpose(1, 2), threshold_px=self.full_threshold_px(), n_iters=c.n_iters,
            refine=c.refine,
            seed=c.seed, pairs=c.pairs, refine_iters=c.refine_iters, huber_px=c.huber_px,
            pair_inliers=c.pair_inliers,
        )
        return result.points, result.inliers

    @torch.no_grad()
    def view_features(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The 2D detector's outputs per view (``"backbone"``), computed once for every pass."""
        self.backbone.eval()
        with autocast(self.device, self.precision):
            return {"backbone": run_backbone(self.backbone, read_batch(batch, need_extrinsics=False).images)}

    def predict(self, batch: dict[str, Any]) -> Prediction:
        """Joints (B, J, 3) world mm, confidence (B, J) (the share of inlier views) and the
        backbone's crop-pixel detections (extra ``joints_2d`` (B, V, J, 2), before
        undistortion), on the batch's device."""
        with autocast(self.device, self.precision):
            crop_points = self.crop_detections(batch)
            detections = self.detect(batch, crop_points)
        joints, inliers = self.triangulate(*detections, read_batch(batch).view_valid)
        inlier_share = inliers.to(torch.float32).mean(-1)  # (B, J)
        return Prediction(joints_3d=joints.to(torch.float32), frame="world", confidence=inlier_share,
                          extras={"joints_2d": crop_points.float()})

    def state_dict(self) -> dict[str, Any]:
        return {"backbone": self.backbone.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.backbone.load_state_dict(state["backbone"])
        self.backbone.eval()
