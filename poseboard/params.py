"""``params.yaml``: the pipeline's parameters, validated on load.

Every record is strict (``extra="forbid"``): a misspelt key or a wrong type stops with one
message naming the key, e.g. ``params.yaml: profiles.smoke.data.presett: unknown key (did
you mean 'preset'?)``. The layout (one group per stage, so ``dvc.yaml`` lists exactly the
params each stage reads, and changing one method's block re-runs only that method):

.. code-block:: yaml

    profile: smoke                  # which block of `profiles` is active
    seed: 0
    profiles:                       # what `generate` renders per profile (dataset sizes, crop size)
      smoke: {description: ..., data: {preset: smoke, crop_size: 64}}
      paper: {..., device: cuda, precision: bf16,   # where pretrain/train/predict compute (default
              train_precision: bf16}                # auto, fp32; --device/--precision come first;
                                                    # train@ takes train_precision before precision)
    real_data: {...}                # poseboard.datasets.real.config.RealDataConfig
    backbone:                       # pretrain_backbone: per profile, merged over PretrainConfig.preset
      smoke: {train: {steps: 150}}
    methods:                        # train@<name>: per profile, merged over config_model.preset
      algebraic: {smoke: {train: {steps: 60}}, default: {}, paper: {}}
    evaluations:                    # predict@<method>-<protocol>
      ransac-synth-h36m-relative: {method: ransac, protocol: synth-h36m-relative, version: 1,
                                   dataset: synth-h36m}   # the stage depends on data/synth-h36m only
    scores:                         # score@<method>-<protocol>: another protocol's predictions, re-scored
      ransac-synth-h36m-absolute: {method: ransac, protocol: synth-h36m-absolute, version: 1,
                                   dataset: synth-h36m, predictions: synth-h36m-relative@1}
    report: {...}
    tracking: {...}

``dvc.yaml`` expands ``train`` over ``methods``, ``predict`` over ``evaluations`` and
``score`` over ``scores`` with ``foreach``. A method block is handed as is to the method's
``config_model`` (its own pydantic model, also ``extra="forbid"``): :func:`check_params`
validates it there when the method can be imported.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from poseboard.datasets.real.config import RealDataConfig
from poseboard.datasets.synthetic.vocabulary import EXTRA_ACTIONS, PRESETS, ExtraActions, Preset
from poseboard.device import PRECISION_SPELLINGS, PrecisionSpelling
from poseboard.errors import InputError, PoseboardError

PARAMS_FILE = "params.yaml"
#: The real-people generalization splits (issue 79; REAL_SPLIT_ROLES of the synthetic config): the
#: motion library's held-out contents and styles, on the built-in rig and on the held-out rigs.
REAL_DATASETS = ("synth-real-content", "synth-real-style", "synth-real-content-rig", "synth-real-style-rig")
DATASETS = ("synth-h36m", "synth-panoptic", "synth-mupots", "synth-novel-rig", "synth-novel-motion", "synth-novel-body",
            "synth-novel-all", "synth-extrapolated-rig", *REAL_DATASETS)
GeneratedDataset = Literal["synth-h36m", "synth-panoptic", "synth-mupots", "synth-novel-rig", "synth-novel-motion",
                           "synth-novel-body", "synth-novel-all", "synth-extrapolated-rig", "synth-real-content",
                           "synth-real-style", "synth-real-content-rig", "synth-real-style-rig"]


class ParamsError(PoseboardError, ValueError):
    """``params.yaml`` is missing, unreadable or does not validate (the message names the key)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MotionLibraryProfile(_Strict):
    """What one profile's motion library holds."""

    clips_per_role: int | None = Field(
        default=None, ge=1, description="this many clips of each held-out role, evenly spaced (the smoke profile's "
        "handful); None: every clip")


class DataProfile(_Strict):
    """What ``generate`` renders: a synthetic preset plus overrides."""

    preset: Preset = Field(
        description=f"the synthetic world (SynthConfig.preset): {', '.join(PRESETS)}"
    )
    crop_size: int | None = Field(default=None, ge=16, description="network-input crop side (px); None: preset's")
    datasets: list[GeneratedDataset] = Field(
        default_factory=lambda: list(DATASETS), min_length=1
    )
    train_samples: int | None = Field(
        default=None, ge=0, description="training frames (MuPoTS-like: images) per dataset, replacing the "
        "preset's (generate --train-samples); 0 skips the split; None: the preset's")
    test_samples: int | None = Field(
        default=None, ge=1, description="test frames (MuPoTS-like: images) per dataset, replacing the preset's "
        "(generate --test-samples); None: the preset's")
    extra_actions: list[ExtraActions] = Field(
        default_factory=list, description=f"families of training actions added to synth-h36m's training world "
        f"({', '.join(EXTRA_ACTIONS)}; generate --actions, TrainingWorld.extra_actions); the test splits do not "
        "change")
    real_motion: float = Field(
        default=0.0, ge=0.0, le=1.0, description="the share of every default training world's sequences driven by "
        "the motion library's training clips (the motion_library stage's data/motion/bandai.npz), retargeted onto "
        "the worlds' bodies, spread evenly: synth-h36m's training world (the backbone pre-trains on it too), "
        "synth-panoptic's and synth-mupots's training splits (the scenes' people); 0: procedural motion only "
        "(issue 79)")
    real_test: float = Field(
        default=0.0, ge=0.0, le=1.0, description="the share of synth-h36m's test sequences (and so of its held-out "
        "rig splits, which film the same sequences) performing held-out takes of real clips (the library's "
        "test-take role) beside the procedural test motion; 0: procedural only (issue 79)")


class MotionLibraryParams(_Strict):
    """The ``motion_library`` stage: the Bandai Namco archive it reads and, per profile, how much
    of it (docs/motion_library.md)."""

    archive: str = Field(description="the archive's path, relative to the repository root (the variable "
                                     "POSEBOARD_MOTION_ARCHIVE, when set, comes first)")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the archive's SHA-256: another file is refused")
    profiles: dict[str, MotionLibraryProfile] = Field(
        default_factory=dict, description="profile → what the library holds (a profile absent here: every clip)")


class Profile(_Strict):
    """One profile: what ``generate`` renders, the training seeds, and where the computing
    stages run. Training lengths and resolutions are the per-profile blocks of ``backbone``
    and ``methods`` (merged over each config model's ``preset(profile)``)."""

    description: str
    data: DataProfile
    seeds: list[int] = Field(
        default_factory=lambda: [0], min_length=1,
        description="training seeds: the first is the pipeline's own run (the top-level `seed`); each other one "
        "is a replicate (`python -m poseboard.pipeline replicate`): the backbone and every method trained again "
        "with it, on the same data, scored on the same test frames, results under results/seed-<k>/",
    )

    device: str = Field(
        default="auto",
        description="where pretrain, train and predict compute under this profile: auto (CUDA when available), "
        "cpu, cuda or cuda:N; their --device option and the POSEBOARD_DEVICE variable come first",
    )
    precision: PrecisionSpelling = Field(
        default="fp32",
        description="what they compute in: fp32, bf16 (matrix products and convolutions in bfloat16 under "
        "autocast), or auto (bf16 where the device computes it in hardware, else fp32); their --precision "
        "option comes first; pretrain_backbone takes the backbone block's `precision` and train@<method> the "
        "profile's `train_precision` before this",
    )
    train_precision: PrecisionSpelling | None = Field(
        default=None,
        description="what train@<method> computes in (fp32, bf16 or auto), when it differs from `precision`: "
        "the methods' training can run under a bf16 autocast while prediction and the speed suite stay in "
        "`precision`; None: `precision`. train's --precision option comes first. DVC lists the key with every "
        "train@ stage, so a profile the pipeline runs must name it (null: `precision`)",
    )

    @field_validator("device")
    @classmethod
    def _device_spelling(cls, spec: str) -> str:
        # the spelling only: whether this machine has the device is checked when a stage runs
        # there, so a GPU profile validates on a laptop
        from poseboard.device import check_device_spelling

        try:
            return check_device_spelling(spec, option="device")
        except InputError as exc:
            raise ValueError(str(exc).removeprefix("device: ")) from None

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct non-negative integers, got {seeds}")
        return seeds


class MethodBlock(BaseModel):
    """``methods.<name>``: what ``train@<name>`` starts from and trains on, plus one block of
    hyper-parameter overrides per profile (merged over the method's ``config_model.preset``)."""

    model_config = ConfigDict(extra="allow")

    method: str = Field(
        description="the registered method this block trains; the block's key is the name its checkpoint and "
        "results are filed under (the same, or a variant such as epipolar-baseline)"
    )
    init: str = Field(
        description="'backbone' (the pre-trained 2D backbone), 'none' (the method's own initialisation: no "
        "pre-training runs for it) or the method whose checkpoint it starts from"
    )
    dataset: Literal["synth-h36m", "synth-panoptic", "synth-mupots"] = Field(description="training dataset")
    code: str | None = Field(
        default=None,
        description="the file (or folder) of the method's own code, relative to the repository: dvc.yaml's "
        "train@<name> depends on it besides the shared code it lists file by file, so that adding or editing "
        "one method re-runs that method's stages only (dvc.yaml needs it in params.yaml; `poseboard new-method` "
        "writes it)",
    )

    @field_validator("code")
    @classmethod
    def _code_in_repository(cls, code: str | None) -> str | None:
        if code is not None:
            parts = Path(code).parts
            if not parts or Path(code).is_absolute() or ".." in parts:
                raise ValueError(f"{code!r}: give a path inside the repository, relative to it, "
                                 "e.g. poseboard/methods/my_method.py")
        return code

    @model_validator(mode="after")
    def _profiles_are_mappings(self) -> MethodBlock:
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, dict):
                raise ValueError(f"{key}: a profile block must be a mapping of overrides, got {value!r}")
        return self

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        return dict(self.model_extra or {})


class Evaluation(_Strict):
    """One ``predict@<method>-<protocol>`` stage: score ``method`` under ``protocol@version``."""

    method: str
    protocol: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="protocol name, without @version")
    version: int = Field(ge=1)
    dataset: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="the generated dataset (data/<dataset>) the stage depends on: the protocol's dataset, "
                    "for a real-data protocol its synthetic stand-in; the stage refuses any other",
    )

    @property
    def protocol_id(self) -> str:
        return f"{self.protocol}@{self.version}"

    def result_file(self, results_dir: str | Path = "results") -> Path:
        return Path(results_dir) / self.method / f"{self.protocol_id}.json"


class Score(Evaluation):
    """One ``score@<method>-<protocol>`` stage: score ``method`` under ``protocol@version``
    from the predictions its evaluation under ``predictions`` wrote (a protocol with the same
    inputs; ``poseboard.protocols.rescore``), instead of running the method again."""

    predictions: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*@[0-9]+$",
                             description="name@version of the evaluation whose predictions are scored")


class ReportParams(_Strict):
    title: str = "poseboard leaderboard"
    significance: float = Field(default=0.05, gt=0, lt=1, description="two-sided level for 'not significant' marks")


class TrackingParams(_Strict):
    experiment_prefix: str = Field(default="poseboard", description="MLflow experiments are '<prefix>/<family>'")


class Params(_Strict):
    profile: str = Field(description="the active block of `profiles`")
    seed: int = Field(ge=0)
    profiles: dict[str, Profile] = Field(min_length=1)
    real_data: RealDataConfig = Field(default_factory=RealDataConfig)
    backbone: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="profile → overrides of PretrainConfig.preset(profile) (pretrain_backbone)"
    )
    methods: dict[str, MethodBlock] = Field(default_factory=dict)
    evaluations: dict[str, Evaluation] = Field(default_factory=dict)
    scores: dict[str, Score] = Field(default_factory=dict)
    report: ReportParams = Field(default_factory=ReportParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)
    motion_library: MotionLibraryParams | None = Field(
        None, description="the real-motion library stage (issue 79); None: no library (every real_motion share 0)")

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.profile not in self.profiles:
            raise ValueError(
                f"profile {self.profile!r} is not defined under `profiles` (defined: {sorted(self.profiles)})"
                + _hint(self.profile, self.profiles)
            )
        for name, prof in self.profiles.items():
            if prof.seeds[0] != self.seed:
                raise ValueError(f"profiles.{name}.seeds: the first seed is the pipeline's own run and must be the "
                                 f"top-level `seed` ({self.seed}), got {prof.seeds}")
        blocks = {"backbone": self.backbone} if self.backbone else {}
        if self.motion_library is not None:
            blocks["motion_library.profiles"] = self.motion_library.profiles
        for name, prof in self.profiles.items():
            for key in ("real_motion", "real_test"):
                if getattr(prof.data, key) > 0 and self.motion_library is None:
                    raise ValueError(f"profiles.{name}.data.{key}: {getattr(prof.data, key)} draws from the motion "
                                     "library, but there is no `motion_library` block (the archive and its SHA-256)")
            real = [d for d in prof.data.datasets if d in REAL_DATASETS]
            if real and self.motion_library is None:
                raise ValueError(f"profiles.{name}.data.datasets: {', '.join(real)} (listed, or the default list) "
                                 "render real people from the motion library, but there is no `motion_library` "
                                 "block (the archive and its SHA-256); add it, or list the datasets without them")
        from poseboard.names import NAME_PATTERN, NAME_RULE

        # these keys become paths (checkpoints/<name>, results/<name>/) and HTML ids
        for section, keys in (("profiles", self.profiles), ("methods", self.methods)):
            for name in keys:
                if not NAME_PATTERN.fullmatch(name):
                    raise ValueError(f"{section}.{name!r}: not a valid name; use {NAME_RULE}")
        for reserved in ("backbone", "none"):
            if reserved in self.methods:
                raise ValueError(f"methods.{reserved}: {reserved!r} is a value of `init`, not a method name")
        for name in self.methods:
            blocks[f"methods.{name}"] = self.methods[name].profiles
            init = self.methods[name].init
            if init not in ("backbone", "none") and init not in self.methods:
                raise ValueError(f"methods.{name}.init: {init!r} is neither 'backbone', 'none' nor a method under "
                                 "`methods`" + _hint(init, [*self.methods, "backbone", "none"]))
        for name in self.methods:  # no cycles in `init`
            seen, cur = [name], self.methods[name].init
            while cur not in ("backbone", "none"):
                if cur in seen:
                    raise ValueError(f"methods.{name}.init: a cycle {' → '.join([*seen, cur])}")
                seen.append(cur)
                cur = self.methods[cur].init
        for where, block in blocks.items():
            for prof in block:
                if prof not in self.profiles:
                    raise ValueError(f"{where}.{prof}: not a profile (profiles: {sorted(self.profiles)})"
                                     + _hint(prof, self.profiles))
            if self.profile not in block:
                raise ValueError(f"{where}: has no block for the active profile {self.profile!r} "
                                 f"(write `{self.profile}: {{}}` to take the preset as is)")
        for section, stage, entries in (("evaluations", "predict", self.evaluations), ("scores", "score", self.scores)):
            for key, ev in entries.items():
                if ev.method not in self.methods:
                    raise ValueError(
                        f"{section}.{key}.method: {ev.method!r} has no block under `methods`"
                        + _hint(ev.method, self.methods)
                    )
                if key != f"{ev.method}-{ev.protocol}":
                    raise ValueError(
                        f"{section}.{key}: the key must be '<method>-<protocol>' = {ev.method}-{ev.protocol!s} "
                        f"(it names the stage {stage}@<key>)"
                    )
        predicted = {(ev.method, ev.protocol_id) for ev in self.evaluations.values()}
        for key, sc in self.scores.items():
            if key in self.evaluations:
                raise ValueError(f"scores.{key}: also under `evaluations`; a result comes from one stage")
            if (sc.method, sc.predictions) not in predicted:
                raise ValueError(
                    f"scores.{key}.predictions: no evaluation of {sc.method!r} under {sc.predictions!r} "
                    "writes those predictions (add it under `evaluations`)"
                )
        return self

    @property
    def active(self) -> Profile:
        return self.profiles[self.profile]

    def protocols_of(self, method: str) -> list[str]:
        """The protocols ``method`` gets a result under (its predict and score stages)."""
        return [ev.protocol_id for ev in self.all_evaluations() if ev.method == method]

    def all_evaluations(self) -> list[Evaluation]:
        """Every (method, protocol) with a result: the ``evaluations`` then the ``scores``."""
        return [*self.evaluations.values(), *self.scores.values()]

    def method_block(self, name: str, profile: str | None = None) -> dict[str, Any]:
        return self.methods[name].profiles.get(profile or self.profile, {})

    def section_hash(self, *keys: str) -> str:
        """Short SHA-256 of the named top-level sections (canonical JSON), e.g. for MLflow tags."""
        data = self.model_dump(mode="json")
        picked = {k: data[k] for k in keys} if keys else data
        return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]


def _hint(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _format_error(exc: ValidationError, where: str, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            fields = _known_fields_path(model, loc)
            lines.append(f"{where}: {key}: unknown key" + (_hint(loc[-1], fields) if fields else ""))
        elif err["type"] == "missing":
            lines.append(f"{where}: {key}: required key is missing")
        elif err["type"] == "value_error":
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{where}: {msg}" if not loc else f"{where}: {key}: {msg}")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
            lines.append(f"{where}: {key}: {err['msg']}{shown}")
    return "\n".join(lines)


def _known_fields_path(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Walk ``loc`` through nested models and ``dict[str, Model]`` fields."""
    current: Any = model
    parts = list(loc[:-1])
    i = 0
    while i < len(parts):
        fields = getattr(current, "model_fields", None)
        if fields is None or parts[i] not in fields:
            return []
        ann = fields[parts[i]].annotation
        origin = getattr(ann, "__origin__", None)
        args = getattr(ann, "__args__", ())
        if origin is dict and args and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            current = args[1]
            i += 2  # the field, then the free key
            continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            current = ann
            i += 1
            continue
        return []
    return list(getattr(current, "model_fields", {}))


def parse_params(data: Any, where: str = PARAMS_FILE) -> Params:
    """Validate already-parsed YAML data; :class:`ParamsError` names every offending key."""
    if not isinstance(data, dict):
        raise ParamsError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(_format_error(exc, where, Params)) from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate ``params.yaml``."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root, or pass --params)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read it as text ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})") from None
    return parse_params(data, str(path))


def is_params_file(path: str | Path) -> bool:
    """Whether ``path`` reads as a params file (a mapping with a ``profiles`` mapping) rather
    than a file of hyper-parameter overrides; unreadable files are not."""
    data = _read_yaml(path)
    return isinstance(data, dict) and isinstance(data.get("profiles"), dict)


def _read_yaml(path: str | Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


@dataclass(frozen=True)
class RunOptions:
    """A profile's ``device``, ``precision`` and ``train_precision`` (:func:`profile_run_options`)."""

    device: str
    precision: str
    device_key: str
    """Where the device spelling is written (``params.yaml: profiles.default.device``), for errors."""
    train_precision: str | None = None
    """What the methods' training computes in, where it differs from ``precision`` (None: the same)."""


def profile_run_options(path: str | Path, profile: str | None = None) -> RunOptions | None:
    """``profiles.<profile>.device``, ``.precision`` and ``.train_precision`` of the params file
    ``path`` (``profile`` None: the file's active one; unset keys: ``auto``, ``fp32``, None),
    checked as :class:`Profile` checks them. None when ``path`` is not a params file or has no
    such profile.

    Only these keys are read: a command that takes its device from params.yaml does not
    stop on an unrelated key (``poseboard params check`` and the pipeline's stages do).

    Raises:
        ParamsError: a misspelt device or precision, naming the key.
    """
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        return None
    profile = profile if profile is not None else data.get("profile")
    block = data["profiles"].get(profile) if isinstance(profile, str) else None
    if not isinstance(block, dict):
        return None
    key = f"{path}: profiles.{profile}"
    device, precision = block.get("device", "auto"), block.get("precision", "fp32")
    train_precision = block.get("train_precision")
    try:
        device = Profile._device_spelling(device)
    except ValueError as exc:
        raise ParamsError(f"{key}.device: {exc}") from None
    for name, value in (("precision", precision), ("train_precision", train_precision)):
        if value is not None and value not in PRECISION_SPELLINGS:
            raise ParamsError(f"{key}.{name}: {value!r} is not one of {', '.join(PRECISION_SPELLINGS)}")
    return RunOptions(device=device, precision=precision, device_key=f"{key}.device",
                      train_precision=train_precision)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def check_params(params: Params, deep: bool = False, where: str = PARAMS_FILE) -> list[str]:
    """Cross-checks against the registries; returns the problems (empty: all good).

    Always: every evaluated protocol exists at that version, every method is registered.
    ``deep``: also import each method, validate its block with its ``config_model`` and check
    its capabilities against each protocol it is evaluated under.
    """
    from poseboard.datasets.sources import check_declared_dataset
    from poseboard.methods.registry import REGISTRY
    from poseboard.protocols.registry import all_protocols

    problems: list[str] = []
    protocols = all_protocols()
    stages = [("evaluations", k, e) for k, e in params.evaluations.items()]
    stages += [("scores", k, e) for k, e in params.scores.items()]
    for section, key, ev in stages:
        if ev.protocol_id not in protocols:
            known = sorted(protocols)
            problems.append(f"{where}: {section}.{key}: protocol {ev.protocol_id!r} does not exist"
                            + _hint(ev.protocol_id, known))
            continue
        try:
            check_declared_dataset(protocols[ev.protocol_id], ev.dataset)
        except InputError as exc:
            problems.append(f"{where}: {section}.{key}.dataset: {exc}")
        if isinstance(ev, Score) and ev.predictions in protocols:
            from poseboard.protocols.rescore import input_differences

            diffs = input_differences(protocols[ev.predictions], protocols[ev.protocol_id])
            if diffs:
                problems.append(f"{where}: {section}.{key}: {ev.protocol_id} cannot be scored from the predictions "
                                f"of {ev.predictions}: their inputs differ ({'; '.join(diffs)})")
    names = REGISTRY.names()
    for name, block in params.methods.items():
        if block.code is None:
            problems.append(f"{where}: methods.{name}.code: missing; dvc.yaml's train@{name} depends on the method's "
                            "own module through it (e.g. code: poseboard/methods/my_method.py)")
        if block.method not in names:
            problems.append(
                f"{where}: methods.{name}.method: {block.method!r} is not a registered method"
                + _hint(block.method, names) + f" (registered: {', '.join(names) or 'none'})"
            )
    if deep:
        for name, block in params.methods.items():
            if block.method not in names:
                continue
            try:
                cls = REGISTRY.get(block.method)
                override = block.profiles.get(params.profile, {})
                preset = getattr(cls.config_model, "preset", None)
                base = preset(params.profile).model_dump() if callable(preset) else {}
                cls.config_model.model_validate(_deep_merge(base, override))
            except ValidationError as exc:
                problems.append(_format_error(exc, f"{where}: methods.{name}.{params.profile}", cls.config_model))
                continue
            except PoseboardError as exc:
                problems.append(f"{where}: methods.{name}: {exc}")
                continue
            for section, key, ev in stages:
                if ev.method == name and ev.protocol_id in protocols:
                    try:
                        protocols[ev.protocol_id].check_method(name, cls.capabilities)
                    except PoseboardError as exc:
                        problems.append(f"{where}: {section}.{key}: {exc}")
    return problems

