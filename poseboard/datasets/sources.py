"""Where a dataset split is read from: a generated (synthetic) folder or a real dataset.

``poseboard train`` and ``poseboard predict`` ask for a dataset by name and split; this module
answers with a :class:`DataSource` that knows which torch dataset to iterate and where its
ground truth comes from:

* ``synth-*`` (anything that is not a real dataset): the split folder
  ``<data_dir>/<name>/<split>`` written by ``poseboard generate``, served by
  :class:`~poseboard.datasets.torch_dataset.MultiViewDataset` or
  :class:`~poseboard.datasets.torch_dataset.SingleViewSceneDataset` (as its manifest says);
  its ground truth is read from the same folder.
* ``human36m``, ``panoptic``, ``mupots``: the dataset's root folder, from the ``real_data``
  block of ``params.yaml`` (:class:`~poseboard.datasets.real.config.RealDataConfig`) or, when that
  allows it (``use_env``), the ``POSEBOARD_*_ROOT`` environment variable; served by
  :class:`~poseboard.datasets.real.human36m.Human36MMultiView`,
  :class:`~poseboard.datasets.real.panoptic.PanopticMultiView` or
  :class:`~poseboard.datasets.real.mupots.MuPoTSScenes` with the protocol's split, cameras, frame
  stride and skip list; its ground truth comes from the same loader module.

A real dataset with no path set is an :class:`~poseboard.errors.InputError` naming the
``params.yaml`` key and the environment variable to set; a path that is wrong raises the
loaders' layout errors (the missing file and the expected layout). Both happen before
anything is predicted or written.

Example:
    >>> src = locate("synth-h36m", "test", data_dir="data")
    >>> src.source, src.path.as_posix()
    ('synthetic', 'data/synth-h36m/test')
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from poseboard.datasets.real.config import DATASET_NAMES, ENV_VARS, STAND_INS, RealDataConfig, resolve_root
from poseboard.errors import InputError, examples

#: What a ``real_data`` argument may be: a config, a ``params.yaml`` to read its ``real_data``
#: block from, the block itself as a mapping, or None (environment variables only).
RealDataLike = RealDataConfig | str | Path | Mapping[str, Any] | None


def is_real(name: str) -> bool:
    """Whether ``name`` is one of the real datasets (``human36m``, ``panoptic``, ``mupots``)."""
    return name in DATASET_NAMES


def stage_dataset(name: str) -> str:
    """The generated dataset (a folder under ``data/``) a pipeline stage reading dataset
    ``name`` depends on: ``name`` itself, or for a real dataset its synthetic stand-in (whose
    protocols it replaces; the real files are outside DVC's view)."""
    return STAND_INS.get(name, name)


def check_declared_dataset(protocol: Any, declared: str | None) -> None:
    """Refuse a pipeline stage whose declared dataset (``params.yaml``: the evaluation's
    ``dataset``, the folder DVC watches) is not the one ``protocol`` reads: that stage would not
    re-run when its data change. ``declared`` None: nothing declared, nothing to check."""
    if declared is None:
        return
    expected = stage_dataset(protocol.dataset)
    if declared != expected:
        raise InputError(
            f"protocol {protocol.id} reads dataset {protocol.dataset!r}, but the stage declares "
            f"{declared!r} (params.yaml: the evaluation's `dataset`); set it to {expected!r} so the "
            f"stage depends on data/{expected}"
        )


def real_data_config(value: RealDataLike = None) -> RealDataConfig:
    """The :class:`RealDataConfig` a ``real_data`` argument stands for.

    ``None``: no file, only the environment variables (``RealDataConfig()``); a path: the
    ``real_data`` block of that ``params.yaml`` (absent block: the defaults); a mapping: the
    block itself. A missing file or an invalid block is an :class:`InputError` naming the key.
    """
    from pydantic import ValidationError

    if value is None:
        return RealDataConfig()
    if isinstance(value, RealDataConfig):
        return value
    where = "real_data"
    if isinstance(value, str | Path):
        import yaml

        path = Path(value)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise InputError(f"{path}: params file not found") from None
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"{path}: cannot read it as YAML ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
        value, where = data.get("real_data") or {}, f"{path}: real_data"
    try:
        return RealDataConfig.model_validate(dict(value) if isinstance(value, Mapping) else value)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{where}{'.' + loc if loc else ''}: {err['msg']}") from None


def real_root(name: str, real_data: RealDataLike = None) -> Path:
    """The root folder of real dataset ``name``: the ``real_data.<name>`` path, else (with
    ``use_env``) its environment variable.

    Raises:
        InputError: no path is set; the message names the ``params.yaml`` key and the variable.
        DatasetLayoutError: the folder does not exist (with the expected layout).
    """
    config = real_data_config(real_data)
    root = config.path(name)
    if root is None:
        env = (f"or the environment variable {ENV_VARS[name]}" if config.use_env else
               f"(the environment variable {ENV_VARS[name]} is ignored: real_data.use_env is false)")
        raise InputError(
            f"dataset {name!r} is a real dataset and no path is set for it: set `real_data.{name}` in "
            f"params.yaml (`--params FILE`; default ./params.yaml) {env} to its folder "
            f"(see docs/real_datasets.md), or use the synthetic stand-in {STAND_INS[name]!r}"
        )
    return resolve_root(name, root)


@dataclass
class DataSource:
    """One dataset split: where it lives, the torch dataset to iterate, its ground truth.

    Attributes:
        name, split: the dataset (``synth-h36m``, ``human36m``, ...) and its split.
        source: ``"synthetic"`` (a generated folder) or ``"real"``.
        path: the split folder (synthetic) or the dataset's root folder (real); the ground
            truth is read from it.
        protocol: the protocol the samples are selected for (real data: cameras, frame
            stride, skip list); None: every sample of the split, all cameras.
        config: the real-data options (``trust_pickle``, ``h36m_image_root``).
    """

    name: str
    split: str
    source: Literal["synthetic", "real"]
    path: Path
    protocol: Any = None
    config: RealDataConfig = field(default_factory=RealDataConfig)
    _dataset: Any = field(default=None, init=False, repr=False)

    # -- the samples
    @property
    def dataset(self) -> Any:
        """The torch dataset (map-style: ``len`` and ``[i]``), opened on first use."""
        if self._dataset is None:
            self._dataset = self._open_real() if self.source == "real" else _open_generated(self.path)
        return self._dataset

    def _open_real(self) -> Any:
        root, protocol, cfg = self.path, self.protocol, self.config
        if self.name == "human36m":
            from poseboard.datasets.real.human36m import Human36MMultiView

            options = {"trust_pickle": cfg.trust_pickle, "image_root": cfg.h36m_image_root}
            if protocol is not None:
                return Human36MMultiView.from_protocol(protocol, root, **options)
            return Human36MMultiView(root, self.split, **options)
        if self.name == "panoptic":
            from poseboard.datasets.real.panoptic import PanopticMultiView

            if protocol is not None:
                return PanopticMultiView.from_protocol(protocol, root)
            return PanopticMultiView(root, self.split)
        from poseboard.datasets.real.mupots import MuPoTSScenes

        return MuPoTSScenes(root, sequences=_mupots_sequences(self.split))

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def table(self) -> pd.DataFrame:
        """One row per dataset item, in dataset order: ``sample_id``, ``subject``, ``action``,
        ``sequence``, ``frame`` (what ``select_frames`` and id matching read)."""
        data = self.dataset
        if self.source == "synthetic":
            return data.store.table.reset_index(drop=True)
        return data.meta

    @property
    def num_cameras(self) -> int:
        """Cameras a multi-view split offers (protocol camera indices run over ``0..n-1``);
        for Panoptic the fewest HD cameras of any of its sequences."""
        if self.source == "synthetic":
            from poseboard.datasets.torch_dataset import MultiViewDataset

            return MultiViewDataset(self.path).store.num_views
        data = self.dataset
        if self.name == "human36m":
            return len(data.labels.camera_names)
        if self.name == "panoptic":
            return min(len(seq.camera_names) for seq in data.frames.sequences)
        return 1

    def with_cameras(self, cameras: Sequence[int]) -> Any:
        """The same samples seen by the cameras ``cameras`` (indices, protocol order)."""
        cams = [int(c) for c in cameras]
        if self.source == "synthetic":
            from poseboard.datasets.torch_dataset import MultiViewDataset

            return MultiViewDataset(self.path, cameras=cams)
        n = self.num_cameras
        bad = [c for c in cams if not 0 <= c < n]
        if not cams or bad:
            raise InputError(f"{self.path}: camera indices {list(cameras)} invalid; {self.name} has cameras 0..{n - 1}")
        view = copy.copy(self.dataset)  # shares the loaded labels / frames; only the cameras differ
        if self.name == "human36m":
            view.camera_indices = cams
        elif self.name == "panoptic":
            view.cameras = cams
        else:
            raise InputError(f"{self.name} is a single-view dataset; it has no camera subsets")
        return view

    def rows(self, ground_truth: Any, selected: np.ndarray) -> np.ndarray:
        """Dataset index of each selected ground-truth row (``selected``: positions in
        ``ground_truth.meta``).

        A generated split holds exactly its ground truth's rows, so the positions are used as
        they are; a real dataset may have dropped frames itself (stride, skip list), so its
        items are matched by sample id, and a scored frame it lacks is an error.
        """
        if self.source == "synthetic":
            return selected
        ids = ground_truth.meta["sample_id"].to_numpy()[selected].astype(str)
        index = pd.Index(self.table["sample_id"].astype(str))
        if not index.is_unique:
            raise InputError(f"{self.path}: duplicate sample ids in {self.name} {self.split}")
        positions = index.get_indexer(ids)
        missing = ids[positions < 0]
        if len(missing):
            raise InputError(f"{self.path}: {len(missing)} frame(s) the protocol scores are not among the "
                             f"{self.name} samples, e.g. {examples(missing)}")
        return positions.astype(np.int64)

    # -- the ground truth
    def ground_truth(self, protocol: Any) -> Any:
        """The ground truth ``protocol`` scores against (``PoseGroundTruth`` / ``RootGroundTruth``)."""
        if self.source == "synthetic":
            from poseboard.protocols.ground_truth import load_ground_truth

            return load_ground_truth(protocol, self.path)
        from poseboard.protocols.predictions import PoseGroundTruth, RootGroundTruth

        if protocol.dataset != self.name:
            raise InputError(f"protocol {protocol.id} scores {protocol.dataset!r}, not {self.name!r}")
        if self.name == "human36m":
            from poseboard.datasets.real import human36m

            gt = human36m.load_ground_truth(self.path, protocol, trust_pickle=self.config.trust_pickle)
        elif self.name == "panoptic":
            from poseboard.datasets.real import panoptic

            gt = panoptic.load_ground_truth(self.path, protocol)
        else:
            from poseboard.datasets.real import mupots

            gt = mupots.load_ground_truth(self.path, protocol)
        expected = RootGroundTruth if protocol.task == "root_localisation" else PoseGroundTruth
        if not isinstance(gt, expected) or gt.source != "real":
            raise TypeError(f"{self.name} ground truth: expected a real {expected.__name__}, got "
                            f"{type(gt).__name__} (source {getattr(gt, 'source', None)!r})")
        return gt


def _mupots_sequences(split: str) -> list[str] | None:
    """MuPoTS-3D is a test set: ``test``/``all`` is every sequence, else ``"TS1+TS2"`` names them."""
    if split in ("test", "all"):
        return None
    wanted = [s for s in split.replace(",", "+").split("+") if s]
    if not wanted or not all(s.startswith("TS") and s[2:].isdigit() for s in wanted):
        raise InputError(f"MuPoTS-3D has no split {split!r}: it is a test set; use 'test' or sequences like "
                         "'TS1+TS2'")
    return wanted


def _open_generated(path: Path) -> Any:
    """A generated split folder as the dataset its manifest says: single-view scenes
    (multi-person images, RootNet's input) or multi-view frames."""
    from poseboard.datasets.storage import open_dataset
    from poseboard.datasets.torch_dataset import MultiViewDataset, SingleViewSceneDataset

    kind = open_dataset(Path(path)).manifest.kind
    return SingleViewSceneDataset(path) if kind == "singleview" else MultiViewDataset(path)


def open_generated(path: str | Path) -> Any:
    """The torch dataset of a generated split folder (``poseboard generate``'s output)."""
    return _open_generated(Path(path))


def locate(name: str, split: str, real_data: RealDataLike = None, *, data_dir: str | Path = "data",
           protocol: Any = None, path: str | Path | None = None) -> DataSource:
    """The :class:`DataSource` of dataset ``name``'s ``split``.

    Args:
        name: ``synth-h36m``, ``synth-panoptic``, ``synth-mupots`` (or another generated
            dataset), or a real one: ``human36m``, ``panoptic``, ``mupots``.
        split: ``train``, ``test``, ... (real datasets: as their loaders read it).
        real_data: a :class:`RealDataConfig`, a ``params.yaml`` path, the block as a mapping,
            or None (environment variables only). Read only for a real dataset.
        data_dir: holds the generated ``<name>/<split>/`` folders.
        protocol: select the samples a protocol scores (real data: its cameras, stride and
            skip list; a generated split always holds every sample).
        path: overrides the folder: the split folder (synthetic) or the root (real).

    Raises:
        InputError: a real dataset with no path set (names ``real_data.<name>`` and the variable).
        DatasetLayoutError: a real dataset's folder does not exist.
    """
    if not is_real(name):
        folder = Path(path) if path is not None else Path(data_dir) / name / split
        return DataSource(name=name, split=split, source="synthetic", path=folder, protocol=protocol)
    config = real_data_config(real_data)
    root = resolve_root(name, path) if path is not None else real_root(name, config)
    return DataSource(name=name, split=split, source="real", path=root, protocol=protocol, config=config)


def locate_protocol(protocol: Any, real_data: RealDataLike = None, *, data_dir: str | Path = "data",
                    path: str | Path | None = None) -> DataSource:
    """The :class:`DataSource` a protocol is evaluated on (its dataset and split)."""
    return locate(protocol.dataset, protocol.split, real_data, data_dir=data_dir, protocol=protocol, path=path)


__all__ = ["DataSource", "RealDataLike", "is_real", "locate", "locate_protocol", "open_generated", "real_data_config",
           "real_root"]
