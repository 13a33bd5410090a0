"""One person at a time: the per-person datasets root-localisation methods train and are
scored on, built from the generated splits and the real loaders.

* :class:`PersonDataset`: the valid people of single-view multi-person scenes (MuPoTS-like);
* :class:`ViewPersonDataset` / :class:`RealViewPersonDataset`: every valid view of a
  multi-view frame alone (the Human3.6M single-view setting of RootNet), generated or real;
* :class:`ViewScenes` / :class:`RealViewScenes`: the same views as single-view scenes, what a
  root protocol scores (one person, its box, its root in that camera's frame).

Items: ``image`` (3, S, S) uint8, ``K`` (3, 3), ``box`` (4,) (left, top, right, bottom) px,
``root_cam`` (3,) camera mm, ``root_2d`` (2,) px.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from poseboard.datasets.torch_dataset import normalize_images
from poseboard.errors import InputError
from poseboard.samples import Person, SampleMeta, SingleViewScene
from poseboard.skeleton import H36M17


class PersonDataset(torch.utils.data.Dataset):
    """The valid people of a single-view scene dataset, one item per person: the whole
    image (uint8), K, the person's box, root in camera mm and root in image pixels."""

    def __init__(self, scenes: Any) -> None:
        self.scenes = scenes
        store = scenes.store
        self.items: list[tuple[int, int]] = []
        for i in range(len(store)):
            start, count = int(store._start[i]), int(store._count[i])
            for k in range(count):
                box = store.people_boxes[start + k]
                if store.people_valid[start + k] and box[2] - box[0] > 1 and box[3] - box[1] > 1:
                    self.items.append((i, k))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> dict[str, Any]:
        i, k = self.items[n]
        scene = self.scenes[i]
        person = scene.people[k]
        return {"image": scene.image, "K": scene.camera.K, "box": person.box, "root_cam": person.root_cam,
                "root_2d": person.joints_2d[H36M17.root], "image_size": scene.camera.image_size}


def view_person_box(joints_2d: np.ndarray, size: int) -> np.ndarray:
    """The person box of one view of a multi-view frame (no person boxes are stored there):
    the extent of the 2D joints (J, 2) crop px, widened by 10% per side, clipped to the
    ``size``² crop → (4,) (left, top, right, bottom)."""
    lo, hi = joints_2d.min(0), joints_2d.max(0)
    pad = 0.1 * (hi - lo)
    return np.concatenate([np.clip(lo - pad, 0, size), np.clip(hi + pad, 0, size)])


class ViewPersonDataset(torch.utils.data.Dataset):
    """Every valid view of a multi-view dataset as a single-person image (the Human3.6M-like
    single-view setting, "every view treated alone"): the view's crop and crop intrinsics,
    the person's tight box (:func:`view_person_box`), the root in that camera's frame
    (``R X + t``, mm) and in the crop's pixels."""

    def __init__(self, multiview: Any) -> None:
        self.data = multiview
        store = multiview.store
        valid = np.asarray(store.view_valid)
        self.items = [(i, v) for i in range(len(store)) for v in range(store.num_views) if valid[i, v]]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> dict[str, Any]:
        i, v = self.items[n]
        sample = self.data.store.sample(i, views=[v])
        cam = sample.cameras[0]
        size = sample.images.shape[-1]
        j2d = sample.joints_2d[0]
        box = view_person_box(j2d, size)
        root = cam.R @ sample.joints_3d[H36M17.root] + cam.t
        return {"image": sample.images[0], "K": cam.K, "box": box, "root_cam": root, "root_2d": j2d[H36M17.root],
                "image_size": (size, size), "sample_id": sample.meta.sample_id, "view": v,
                "action": sample.meta.action, "subject": sample.meta.subject}


class ViewScenes(torch.utils.data.Dataset):
    """The views a root protocol scores on a multi-view split, each as a single-view scene
    (what :func:`~poseboard.datasets.torch_dataset.collate_scenes` and ``predict`` take):
    the view's crop, its crop camera, one :class:`~poseboard.samples.Person` with the box of
    :class:`ViewPersonDataset` (:func:`view_person_box`) and the root in that camera's
    frame, and the id :func:`~poseboard.datasets.ground_truth.view_sample_id`. The views are
    :func:`~poseboard.datasets.ground_truth.root_views` of ``cameras``, as the ground truth's.

    ``table``: one row per item (``sample_id``, ``subject``, ``action``, ``sequence``,
    ``frame``), what ``select_frames`` reads.
    """

    def __init__(self, multiview: Any, cameras: tuple[int, ...] | list[int] | None = None) -> None:
        import pandas as pd

        from poseboard.datasets.ground_truth import root_views, view_sample_id
        from poseboard.datasets.storage import MultiViewStore

        store = getattr(multiview, "store", None)
        if not isinstance(store, MultiViewStore):
            raise InputError("rootnet: scoring every view alone needs a generated multi-view split "
                             f"(got {type(multiview).__name__})")
        self.store = store
        self.items = root_views(store, cameras)
        table = store.table.reset_index(drop=True)
        rows = table.iloc[[i for i, _ in self.items]].reset_index(drop=True)
        ids = [view_sample_id(str(sid), v) for sid, (_, v) in zip(rows["sample_id"], self.items, strict=True)]
        self.table = pd.DataFrame({"sample_id": ids, "subject": rows["subject"].astype(str),
                                   "action": rows["action"].astype(str), "sequence": rows["sequence"].astype(str),
                                   "frame": rows["frame"].astype("int64")})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> SingleViewScene:
        i, v = self.items[n]
        sample = self.store.sample(i, views=[v])
        cam = sample.cameras[0]
        j2d = sample.joints_2d[0]
        joints_cam = sample.joints_3d @ cam.R.T + cam.t
        root = cam.R @ sample.joints_3d[H36M17.root] + cam.t  # as ViewPersonDataset and the ground truth
        person = Person(box=view_person_box(j2d, sample.images.shape[-1]), root_cam=root,
                        joints_cam=joints_cam, joints_2d=j2d, visibility=sample.visibility[0], valid=True)
        m = sample.meta
        meta = SampleMeta(sample_id=str(self.table.at[n, "sample_id"]), subject=m.subject, action=m.action,
                          sequence=m.sequence, frame=m.frame, scene=m.scene)
        return SingleViewScene(image=sample.images[0], camera=cam, people=[person], meta=meta)


def person_dataset(data: Any) -> torch.utils.data.Dataset:
    """The per-person training set of a generated single-view scene split
    (:class:`PersonDataset`), of a generated multi-view split (:class:`ViewPersonDataset`, every
    view alone), or of a real dataset (:func:`~poseboard.methods.rootnet_data.real_person_dataset`:
    Human3.6M and Panoptic every camera alone; MuPoTS-3D, a test set, is refused)."""
    from poseboard.datasets.storage import MultiViewStore

    store = getattr(data, "store", None)
    if store is None:  # not a generated split: the real loaders keep no store
        return real_person_dataset(data)
    return ViewPersonDataset(data) if isinstance(store, MultiViewStore) else PersonDataset(data)


def view_person_dataset(multiview: Any) -> torch.utils.data.Dataset:
    """Every valid view of a multi-view dataset alone: :class:`ViewPersonDataset` for a
    generated split, :class:`~poseboard.methods.rootnet_data.RealViewPersonDataset` for a real one."""
    if getattr(multiview, "store", None) is None:
        return real_person_dataset(multiview)
    return ViewPersonDataset(multiview)


def is_multiview(data: Any) -> bool:
    """Whether ``data`` is a generated multi-view split or a real multi-view dataset."""
    from poseboard.datasets.storage import MultiViewStore

    return isinstance(getattr(data, "store", None), MultiViewStore) or is_real_multiview(data)


def collate_people(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "images": normalize_images(np.stack([it["image"] for it in items])),
        "K": torch.from_numpy(np.stack([it["K"] for it in items])),
        "boxes": torch.from_numpy(np.stack([np.asarray(it["box"], dtype=np.float64) for it in items])),
        "root_cam": torch.from_numpy(np.stack([it["root_cam"] for it in items])),
        "root_2d": torch.from_numpy(np.stack([it["root_2d"] for it in items])),
        "image_size": items[0]["image_size"],
    }


def _real_name(data: Any) -> str | None:
    """``human36m``, ``panoptic``, ``mupots`` for the real loaders' datasets, else None; the
    loader modules are imported only when ``data`` comes from one."""
    module = type(data).__module__
    for name in ("human36m", "panoptic", "mupots"):
        if module == f"poseboard.datasets.real.{name}":
            return name
    return None


def is_real_multiview(data: Any) -> bool:
    """Whether ``data`` is a real multi-view dataset (Human3.6M or CMU Panoptic)."""
    return _real_name(data) in ("human36m", "panoptic")


MUPOTS_TRAINING = (
    "rootnet: MuPoTS-3D ('mupots') is a test set (20 sequences, no training split), so RootNet cannot "
    "train on it. The reference's MuPoTS model trains on MuCo-3DHP + COCO, which poseboard does not read. "
    "Train on 'human36m' (real data, every camera alone) or 'synth-mupots' (generated scenes), then score "
    "with `poseboard predict rootnet --protocol mupots-root`; see docs/real_datasets.md, RootNet."
)


def real_person_dataset(data: Any) -> RealViewPersonDataset:
    """The per-person training set of a real dataset, or an :class:`InputError` naming the
    dataset and what to do instead."""
    name = _real_name(data)
    if name == "mupots":
        raise InputError(MUPOTS_TRAINING)
    if name is None:
        raise InputError(
            f"rootnet: cannot train on a {type(data).__name__}: RootNet needs a generated split "
            "(data/<name>/<split>, single-view scenes or multi-view frames) or a real multi-view dataset "
            "('human36m', 'panoptic') whose every camera is one single-person image"
        )
    return RealViewPersonDataset(data)


class RealViewPersonDataset(torch.utils.data.Dataset):
    """Every present view of a real multi-view dataset as one single-person image (the
    Human3.6M single-view setting of RootNet), items as :class:`~poseboard.methods.rootnet.ViewPersonDataset`'s:
    ``image`` (3, S, S) uint8 crop, ``K`` (3, 3) crop intrinsics, ``box`` (4,) (left, top,
    right, bottom) crop px, ``root_cam`` (3,) camera mm, ``root_2d`` (2,) crop px,
    ``image_size`` (S, S), ``sample_id``, ``view``, ``action``, ``subject``.

    ``items``: (M, 2) int64 rows (dataset index, camera index): for Human3.6M the label
    table's cameras whose box is not zero (S11 Directions-2 has no video from 54138969), for
    Panoptic every HD camera of the protocol's selection. Reading item ``n`` loads only its
    camera's image.

    Raises:
        InputError: the dataset was opened without images, or has no present view; the
            message names the dataset and the fix.
    """

    def __init__(self, data: Any) -> None:
        name = _real_name(data)
        if name not in ("human36m", "panoptic"):
            raise InputError(f"rootnet: {type(data).__name__} is not a real multi-view dataset")
        self.name = name
        self.data = data
        split = getattr(data, "split", "?")
        if not getattr(data, "load_images", True):
            raise InputError(f"rootnet: the {name} {split!r} split was opened with load_images=False (zero "
                             "images); RootNet learns from the pixels: open it with load_images=True")
        if name == "human36m":
            rows = data.meta["row"].to_numpy(dtype=np.int64)
            cams = np.asarray(data.camera_indices, dtype=np.int64)
            present = data.labels.bbox_tlbr[rows][:, cams].any(-1) if len(rows) else np.zeros((0, len(cams)), bool)
            index, which = np.nonzero(present)
            self.items = np.stack([index, cams[which]], axis=1).astype(np.int64)
        else:
            pairs = []
            sequences = data.frames.sequences
            for i, seq_index in enumerate(data.meta["seq_index"].to_numpy()):
                n_cams = len(data.camera_names(sequences[int(seq_index)]))
                pairs += [(i, v) for v in range(n_cams)]
            self.items = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if len(self.items) == 0:
            raise InputError(f"rootnet: the {name} {split!r} split has no frame with a present view (0 of "
                             f"{len(data)} frames) to train on; check the folder with "
                             f"`poseboard datasets check {name}` and the split's subjects/sequences")

    def __len__(self) -> int:
        return len(self.items)

    def _view(self, i: int, v: int) -> Any:
        """Frame ``i`` seen by camera ``v`` alone (a shallow copy of the dataset reads one image)."""
        view = copy.copy(self.data)
        if self.name == "human36m":
            view.camera_indices = [v]
        else:
            seq = self.data.frames.sequences[int(self.data.meta["seq_index"].iloc[i])]
            view.cameras = [self.data.camera_names(seq)[v]]
        return view[i]

    def __getitem__(self, n: int) -> dict[str, Any]:

        i, v = (int(x) for x in self.items[n])
        sample = self._view(i, v)
        cam = sample.cameras[0]
        size = sample.images.shape[-1]
        j2d = sample.joints_2d[0]
        finite = np.isfinite(j2d).all(-1)
        box = view_person_box(j2d[finite] if finite.sum() >= 2 else np.nan_to_num(j2d), size)
        root = cam.R @ sample.joints_3d[H36M17.root] + cam.t
        return {"image": sample.images[0], "K": cam.K, "box": box, "root_cam": root, "root_2d": j2d[H36M17.root],
                "image_size": (size, sample.images.shape[-2]), "sample_id": sample.meta.sample_id, "view": v,
                "action": sample.meta.action, "subject": sample.meta.subject}


class RealViewScenes(torch.utils.data.Dataset):
    """The views a root protocol scores on a real multi-view dataset (``human36m-root``), each
    as a single-view scene (what :func:`~poseboard.datasets.torch_dataset.collate_scenes` and
    ``predict`` take), as :class:`~poseboard.methods.rootnet.ViewScenes` does for a generated
    split: the view's crop with its crop camera, one :class:`~poseboard.samples.Person` with the
    box, root and joints of :class:`RealViewPersonDataset` (the same items, so what RootNet is
    scored on is what it trains on), and the id ``<frame id>/view<camera index>``
    (:func:`~poseboard.datasets.ground_truth.view_sample_id`), as the Human3.6M root ground
    truth (:func:`~poseboard.datasets.real.human36m.view_root_ground_truth`) lists them.

    ``table``: one row per item (``sample_id``, ``subject``, ``action``, ``sequence``,
    ``frame``), what ``select_frames`` reads.
    """

    def __init__(self, data: Any) -> None:
        import pandas as pd

        from poseboard.datasets.ground_truth import view_sample_id

        self.people = RealViewPersonDataset(data)
        rows = data.meta.iloc[self.people.items[:, 0]].reset_index(drop=True)
        ids = [view_sample_id(str(sid), int(v)) for sid, v in zip(rows["sample_id"], self.people.items[:, 1],
                                                                 strict=True)]
        self.table = pd.DataFrame({"sample_id": ids, "subject": rows["subject"].astype(str),
                                   "action": rows["action"].astype(str), "sequence": rows["sequence"].astype(str),
                                   "frame": rows["frame"].astype("int64")})

    def __len__(self) -> int:
        return len(self.people)

    def __getitem__(self, n: int) -> Any:

        i, v = (int(x) for x in self.people.items[n])
        sample = self.people._view(i, v)
        cam = sample.cameras[0]
        j2d = sample.joints_2d[0]
        finite = np.isfinite(j2d).all(-1)
        box = view_person_box(j2d[finite] if finite.sum() >= 2 else np.nan_to_num(j2d), sample.images.shape[-1])
        root = cam.R @ sample.joints_3d[H36M17.root] + cam.t  # as RealViewPersonDataset and the ground truth
        person = Person(box=box, root_cam=root, joints_cam=sample.joints_3d @ cam.R.T + cam.t, joints_2d=j2d,
                        visibility=sample.visibility[0], valid=True)
        m = sample.meta
        meta = SampleMeta(sample_id=str(self.table.at[n, "sample_id"]), subject=m.subject, action=m.action,
                          sequence=m.sequence, frame=m.frame, scene=m.scene)
        return SingleViewScene(image=sample.images[0], camera=cam, people=[person], meta=meta)
