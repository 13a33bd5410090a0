"""A protocol is data: which dataset split, which cameras, which frames, which metrics.

Protocols are versioned (``name@version``); results of different versions are never
mixed. Every evaluation choice that research code tends to hide in a loop (root
alignment, frame- vs action-weighted averaging, merged trials, skipped scenes) is a
named field here. A definition's numbers are finite: ``nan`` or ``inf`` in a YAML file is refused
(``allow_inf_nan=False``), as a published number or a threshold they mean a damaged file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from poseboard.capabilities import Capabilities, OutputFrame
from poseboard.errors import CapabilityError

MetricName = Literal["mpjpe", "pa_mpjpe", "n_mpjpe", "pck3d", "auc_pck", "mrpe", "ap_root"]
Alignment = Literal["none", "root", "scale", "procrustes"]
Task = Literal["multiview_pose", "root_localisation"]

#: The alignment each pose metric implies (mpjpe's is the protocol's ``alignment``).
METRIC_ALIGNMENT: dict[str, Alignment] = {"pa_mpjpe": "procrustes", "n_mpjpe": "scale"}


class PaperAnchor(BaseModel):
    """A published number to print beside the reproduced one."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    method: str
    value: float
    source: str = Field(description="paper/README and table, e.g. 'Iskakov et al. 2019, Table 1'")
    dataset: str = Field(description="the dataset the number was measured on, e.g. 'Human3.6M'")


class CameraSweep(BaseModel):
    """Evaluate with subsets of ``sizes`` cameras: ``subsets_per_size`` random subsets each."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    sizes: tuple[int, ...] = Field(min_length=1)
    subsets_per_size: int = Field(default=3, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _sorted_positive(self) -> CameraSweep:
        if any(s < 1 for s in self.sizes) or list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError("sizes must be positive, increasing and unique")
        return self


class CalibrationNoise(BaseModel):
    """Extrinsics perturbed at test time (the calibration-robustness protocols): every
    camera is rotated about its centre by ``rotation_deg`` about a random axis and its centre
    moved by ``translation_mm`` in a random direction, one draw per camera from
    ``seed`` (a fixed calibration error, the same for every frame and every method)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    rotation_deg: float = Field(ge=0, description="rotation error of every camera, degrees")
    translation_mm: float = Field(ge=0, description="error of every camera centre, mm")
    seed: int = 0


class CalibrationLevel(BaseModel):
    """One calibration error of a :class:`CalibrationSweep` (0 / 0: the exact extrinsics)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    rotation_deg: float = Field(ge=0, description="rotation error of every camera, degrees")
    translation_mm: float = Field(ge=0, description="error of every camera centre, mm")

    @property
    def label(self) -> str:
        """The key of this level's metrics in a result (``Metrics.calibration``): ``1deg-25mm``."""
        return f"{self.rotation_deg:g}deg-{self.translation_mm:g}mm"

    def noise(self, seed: int) -> CalibrationNoise:
        return CalibrationNoise(rotation_deg=self.rotation_deg, translation_mm=self.translation_mm, seed=seed)


class CalibrationSweep(BaseModel):
    """Evaluate the same frames once per calibration error in ``levels`` (increasing): the
    robustness curve in one run. Each camera's error has the same direction at every level
    (drawn from ``seed`` and the camera's position), only its size grows."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    levels: tuple[CalibrationLevel, ...] = Field(min_length=1)
    seed: int = 0

    @model_validator(mode="after")
    def _increasing(self) -> CalibrationSweep:
        keys = [(lv.rotation_deg, lv.translation_mm) for lv in self.levels]
        if keys != sorted(set(keys)):
            raise ValueError("levels must be increasing and unique")
        return self


class ProtocolDef(BaseModel):
    """One versioned evaluation protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: int = Field(ge=1)
    title: str
    description: str
    task: Task
    dataset: str
    split: str = "test"
    cameras: tuple[int, ...] | None = Field(description="camera indices handed to the method; None = all")
    camera_sweep: CameraSweep | None = None
    frame_stride: int = Field(default=1, ge=1)
    skip_sequences: tuple[str, ...] = Field(
        default=(), description="sequences with invalid ground truth, matched by exact name"
    )
    provides_extrinsics: bool = True
    calibration_noise: CalibrationNoise | None = Field(
        default=None, description="perturb the extrinsics handed to methods (one calibration error)"
    )
    calibration_sweep: CalibrationSweep | None = Field(
        default=None, exclude_if=lambda v: v is None,  # results of other protocols keep their bytes
        description="evaluate once per calibration error (the robustness curve)",
    )
    evaluation_frame: OutputFrame = "world"
    accepted_output_frames: tuple[OutputFrame, ...] = ("world",)
    metrics: tuple[MetricName, ...] = Field(min_length=1)
    alignment: Alignment = Field(description="alignment of 'mpjpe'")
    headline: MetricName
    weighting: Literal["frame", "action"] = Field(
        default="frame", description="headline average: frame-weighted (the papers') or action-weighted"
    )
    merge_trials: bool = Field(default=True, description="'Walking-2' counts as 'Walking' per action")
    root_index: int = 6
    pck_threshold_mm: float = 150.0
    ap_threshold_mm: float = 250.0
    bootstrap_resamples: int = Field(default=1000, ge=0)
    bootstrap_seed: int = 0
    paper: tuple[PaperAnchor, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ProtocolDef:
        if self.headline not in self.metrics:
            raise ValueError(f"headline {self.headline!r} is not among metrics {self.metrics}")
        pose_metrics = {"mpjpe", "pa_mpjpe", "n_mpjpe", "pck3d", "auc_pck"}
        if self.task == "root_localisation" and pose_metrics & set(self.metrics):
            raise ValueError("a root_localisation protocol scores roots: use mrpe / ap_root")
        if self.task == "multiview_pose" and {"mrpe", "ap_root"} & set(self.metrics):
            raise ValueError("mrpe / ap_root belong to root_localisation protocols")
        if self.evaluation_frame not in self.accepted_output_frames:
            raise ValueError("evaluation_frame must be one of accepted_output_frames")
        perturbed = self.calibration_noise is not None or self.calibration_sweep is not None
        if perturbed and not self.provides_extrinsics:
            raise ValueError("calibration_noise / calibration_sweep perturb extrinsics: "
                             "they need provides_extrinsics: true")
        if self.calibration_sweep is not None and (self.calibration_noise is not None or self.camera_sweep is not None):
            raise ValueError("calibration_sweep excludes calibration_noise and camera_sweep (one sweep per protocol)")
        return self

    @property
    def id(self) -> str:
        """``name@version``: the key results are filed under."""
        return f"{self.name}@{self.version}"

    @property
    def person_boxes(self) -> Literal["gt", "detected"]:
        """The person boxes a root protocol hands to methods: simulated detections with
        scores for the ``*-detected*`` protocols, the ground-truth boxes otherwise."""
        return "detected" if "-detected" in self.name else "gt"

    def view_counts(self) -> tuple[int, ...]:
        """The numbers of views a method receives under this protocol."""
        if self.camera_sweep is not None:
            return self.camera_sweep.sizes
        if self.task == "root_localisation":
            return (1,)
        return (len(self.cameras),) if self.cameras is not None else ()

    def check_method(self, method_name: str, caps: Capabilities) -> tuple[int, ...]:
        """Refuse, with a message saying why, a method whose capabilities do not fit.

        Returns the view counts the method will be run with (a camera sweep keeps the sizes
        the method supports, e.g. 2+ for a method that needs two views).
        """
        why: list[str] = []
        wanted = "root" if self.task == "root_localisation" else "joints_3d"
        if wanted not in caps.outputs:
            why.append(f"the protocol scores {wanted!r} but the method outputs {list(caps.outputs)}")
        if caps.needs_extrinsics and not self.provides_extrinsics:
            why.append("the method needs camera extrinsics, which this protocol withholds (uncalibrated)")
        if caps.output_frame not in self.accepted_output_frames:
            why.append(
                f"the method predicts in the {caps.output_frame!r} frame; this protocol accepts "
                f"{list(self.accepted_output_frames)}"
            )
        if self.task == "root_localisation" and not caps.multi_person:
            why.append("the protocol has several people per image; the method is single-person")
        counts = self.view_counts()
        supported = tuple(
            n for n in counts if n >= caps.min_views and (caps.max_views is None or n <= caps.max_views)
        )
        if counts and not supported:
            limit = f"{caps.min_views}..{caps.max_views if caps.max_views is not None else 'any'}"
            why.append(f"the protocol gives {list(counts)} view(s); the method takes {limit}")
        if why:
            raise CapabilityError(
                f"method {method_name!r} cannot run under protocol {self.id}: " + "; ".join(why)
            )
        return supported
