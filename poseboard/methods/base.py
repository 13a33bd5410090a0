"""The ``Method`` interface every pose estimator implements, and the metadata it carries.

A method turns views (and whatever cameras its capabilities say it needs) into 3D joints
or a 3D root. It owns its training pipeline (``fit``), does pure inference (``predict``)
and saves itself without pickle (``save``/``load``: weights through ``torch.save`` of a
state dict, read back with ``weights_only=True``; configuration as JSON). Its
:class:`~poseboard.capabilities.Capabilities` (re-exported here, the interface's
vocabulary) live one layer down, where the protocols read them too.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from poseboard.capabilities import Capabilities, OutputFrame
from poseboard.errors import ResultFileError
from poseboard.io import atomic_open, atomic_write_text

__all__ = ["Capabilities", "Method", "MethodCard", "NullTracker", "OutputFrame", "Tracker"]


class MethodCard(BaseModel):
    """Citation and description shown on the leaderboard's method card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    paper: str | None = Field(description="e.g. 'Iskakov et al., ICCV 2019'; None for a non-paper method")
    url: str | None
    code_url: str | None
    bibtex: str | None
    description: str


class Tracker(Protocol):
    """What ``fit`` may log to (MLflow in the pipeline, nothing in tests)."""

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: str | Path) -> None: ...


class NullTracker:
    """A tracker that records nothing (tests, and runs without MLflow)."""

    def log_params(self, params: dict[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        return None

    def log_artifact(self, path: str | Path) -> None:
        return None


class Method(ABC):
    """Abstract base of every method. Subclasses set the class attributes and implement
    ``fit``, ``predict`` and the state hooks; construction validates the configuration.

    Attributes:
        name: registry name (lower-case, e.g. ``"algebraic"``).
        card: citation and description.
        capabilities: what the method needs and produces.
        config_model: pydantic model of its hyper-parameters (``extra="forbid"``).
        inference_fields: config fields that only ``predict`` reads (below).
    """

    name: ClassVar[str]
    card: ClassVar[MethodCard]
    capabilities: ClassVar[Capabilities]
    config_model: ClassVar[type[BaseModel]]

    #: Config fields that change ``predict`` only, never ``fit``: a variant that differs from a
    #: trained checkpoint in these alone (``init`` in params.yaml names it) takes that
    #: checkpoint's weights instead of training the same network again
    #: (:mod:`poseboard.harness.reuse`).
    inference_fields: ClassVar[frozenset[str]] = frozenset()
    WEIGHTS_FILE: ClassVar[str] = "weights.pt"
    CONFIG_FILE: ClassVar[str] = "config.json"

    def __init__(self, config: BaseModel | dict[str, Any] | None = None) -> None:
        if isinstance(config, BaseModel):
            config = config.model_dump()
        self.config = self.config_model.model_validate(config or {})

    @property
    def device(self) -> Any:
        """The ``torch.device`` the method's networks live on (the CPU until :meth:`to`).
        ``fit`` trains there and ``predict`` expects its batch's tensors there (the harness
        moves them, :func:`poseboard.device.to_device`)."""
        import torch

        return getattr(self, "_device", None) or torch.device("cpu")

    def networks(self) -> dict[str, Any]:
        """The method's ``torch.nn.Module`` attributes by name (what :meth:`to` moves).
        A method that keeps networks elsewhere (in a list, say) overrides this."""
        from torch import nn

        return {k: v for k, v in vars(self).items() if isinstance(v, nn.Module)}

    @property
    def precision(self) -> str:
        """``fp32`` (default) or ``bf16``: what ``fit`` and ``predict`` compute in
        (:func:`poseboard.device.autocast`). A run option, not a hyper-parameter: it is
        recorded with the device in the result's speed block, not in the method's config."""
        return getattr(self, "_precision", "fp32")

    def to(self, device: Any, precision: str | None = None) -> Method:
        """Move every network to ``device`` (a ``torch.device`` or its spelling) and, if
        given, set the ``precision``; returns ``self``. Tensors a method keeps outside its
        networks are its own to move (override and call ``super().to``)."""
        import torch

        from poseboard.device import PRECISIONS

        device = torch.device(device)
        for net in self.networks().values():
            net.to(device)
        self._device = device
        if precision is not None:
            if precision not in PRECISIONS:
                raise ValueError(f"precision {precision!r} is not one of {PRECISIONS}")
            self._precision = precision
        return self

    @abstractmethod
    def fit(self, train: Any, val: Any, tracker: Tracker | None = None, workdir: Path | None = None) -> None:
        """Train on ``train`` (validating on ``val``), resuming from ``workdir``'s last
        checkpoint if there is one. A method with nothing to learn returns at once."""

    @abstractmethod
    def predict(self, batch: Any) -> Any:
        """Pure inference on a collated batch; returns a :class:`poseboard.samples.Prediction`."""

    def view_features(self, batch: Any) -> dict[str, Any] | None:
        """Per-view results of a collated batch that depend on each view's own image alone (not
        on the other views, the extrinsics or the view order), for the harness to compute once
        when it predicts the same frames several times: the camera subsets of a sweep (each
        camera's crop is in several subsets) and the levels of a calibration sweep. A dict of
        tensors, or named tuples of tensors, each with the batch's (B, V) leading axes; the
        harness cuts them to each pass's views and hands them to :meth:`predict` in the batch
        under ``"view_features"``, and ``predict`` must give what it gives without them
        (tested per method). ``None`` (the default): nothing to share, every pass recomputes."""
        return None

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Tensors (and plain numbers) that, with the config, restore the method."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""

    def save(self, directory: str | Path) -> None:
        """Write ``config.json`` and ``weights.pt`` into ``directory`` (atomically, no pickle)."""
        import torch

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"method": self.name, "config": self.config.model_dump(mode="json")}
        atomic_write_text(directory / self.CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True))
        with atomic_open(directory / self.WEIGHTS_FILE, "wb") as handle:
            torch.save(self.state_dict(), handle)

    @classmethod
    def load(cls, directory: str | Path, device: Any = None) -> Method:
        """Rebuild a saved method on ``device`` (default: the CPU); the weights are read
        with ``weights_only=True`` onto the CPU first, so a checkpoint saved on any device
        loads on any other. A missing, garbage, truncated or wrong-method file is a
        :class:`ResultFileError` naming the file and what was expected."""
        directory = Path(directory)
        config_path = directory / cls.CONFIG_FILE
        try:
            saved = json.loads(config_path.read_text())
        except FileNotFoundError:
            raise ResultFileError(f"{config_path}: no saved configuration (was the method saved here?)") from None
        except json.JSONDecodeError as exc:
            raise ResultFileError(f"{config_path}: not valid JSON ({exc})") from None
        if saved.get("method") != cls.name:
            raise ResultFileError(f"{config_path}: holds method {saved.get('method')!r}, not {cls.name!r}")
        method = cls(saved.get("config", {}))
        weights_path = directory / cls.WEIGHTS_FILE
        if not weights_path.exists():
            raise ResultFileError(f"{weights_path}: weights file missing")
        from poseboard.io import load_tensors

        state = load_tensors(weights_path, f"{cls.name} weights")
        try:
            method.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            if isinstance(exc, KeyError):
                reason = f"it has no {reason} (it holds {', '.join(sorted(map(str, state))[:8]) or 'nothing'})"
            raise ResultFileError(f"{weights_path}: does not fit a {cls.name} built from {config_path} "
                                  f"(a checkpoint of another method or architecture?): {reason}") from None
        return method.to(device) if device is not None else method
