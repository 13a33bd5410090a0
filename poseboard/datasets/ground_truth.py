"""Ground truth of a generated (synthetic) dataset split, as the scorer wants it.

``load_synthetic_ground_truth(path, protocol)`` is the loader registered for the
``synth-*`` datasets in :mod:`poseboard.protocols.ground_truth`: pose protocols get the
world joints of every sample plus the reference (first protocol) camera of each, root
protocols get one row per annotated person with its root in camera millimetres.

A root protocol on a multi-view split (``synth-h36m-root``: the Human3.6M-like single-view
test, "every view treated alone") scores every valid view of the protocol's cameras as one
single-person image: its id is :func:`view_sample_id` (the frame's id and the camera index),
its one person (``person_index`` 0) has the pelvis in that camera's frame (``R X + t``, mm).
:func:`root_views` lists those views, so the predictions (RootNet's ``ViewScenes``) and the
ground truth iterate the same ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from poseboard.datasets.identity import split_identity
from poseboard.datasets.storage import MultiViewStore, SingleViewStore, open_dataset
from poseboard.errors import InputError
from poseboard.protocols.failures import occluded_joints
from poseboard.protocols.predictions import PoseGroundTruth, RootGroundTruth
from poseboard.protocols.protocol import ProtocolDef
from poseboard.skeleton import H36M17

META_COLUMNS = ["sample_id", "subject", "action", "sequence", "frame"]


def load_synthetic_ground_truth(path: Path, protocol: ProtocolDef) -> PoseGroundTruth | RootGroundTruth:
    """Read a generated split's ground truth for ``protocol``."""
    store = open_dataset(path)
    if store.manifest.name != protocol.dataset:
        raise InputError(
            f"{path}: holds dataset {store.manifest.name!r}, but protocol {protocol.id} scores {protocol.dataset!r}"
        )
    if isinstance(store, MultiViewStore):
        if protocol.task == "root_localisation":
            return _view_root_ground_truth(store, protocol)
        return _pose_ground_truth(store, protocol)
    return _root_ground_truth(store)


def _identity(store: MultiViewStore | SingleViewStore) -> dict[str, str]:
    """The split's task and image hashes (:mod:`poseboard.datasets.identity`), which the
    result file carries beside the content hash."""
    identity = split_identity(store.path)
    return {"task_hash": identity.task_hash, "images_hash": identity.images_hash}


def view_sample_id(sample_id: str, view: int) -> str:
    """The image id of view ``view`` of multi-view frame ``sample_id`` when every view is
    scored alone: ``"<sample_id>/view<v>"``, unique per (frame, camera index)."""
    return f"{sample_id}/view{int(view)}"


def root_views(store: MultiViewStore, cameras: tuple[int, ...] | list[int] | None) -> list[tuple[int, int]]:
    """(sample index, camera index) of every valid view of ``store`` among ``cameras`` (None:
    all), frame by frame, cameras in the given order: the images of a root protocol on a
    multi-view split."""
    views = list(range(store.num_views)) if cameras is None else [int(c) for c in cameras]
    bad = [v for v in views if not 0 <= v < store.num_views]
    if bad:
        raise InputError(f"{store.path}: cameras {bad} not in the split's 0..{store.num_views - 1}")
    valid = np.asarray(store.view_valid, dtype=bool)
    return [(i, v) for i in range(len(store)) for v in views if valid[i, v]]


def _view_root_ground_truth(store: MultiViewStore, protocol: ProtocolDef) -> RootGroundTruth:
    """One image per valid view (:func:`root_views`), one person each: the pelvis in the
    view's camera frame, from the full-frame camera (a crop changes K only)."""
    table = store.table.reset_index(drop=True)
    ids, subjects, actions, sequences = (table[c].astype(str).to_numpy()
                                         for c in ("sample_id", "subject", "action", "sequence"))
    frames = table["frame"].to_numpy(dtype=np.int64)
    joints = np.asarray(store.joints_3d, dtype=np.float64)
    rows, roots = [], []
    for i, v in root_views(store, protocol.cameras):
        cam = store.full_cameras(i)[v]
        roots.append(cam.R @ joints[i, H36M17.root] + cam.t)
        rows.append({"sample_id": view_sample_id(ids[i], v), "person_index": 0, "subject": subjects[i],
                     "action": actions[i], "sequence": sequences[i], "frame": int(frames[i]), "valid": True})
    people = pd.DataFrame(rows, columns=[*META_COLUMNS[:1], "person_index", *META_COLUMNS[1:], "valid"])
    people = people.astype({"person_index": "int64", "frame": "int64", "valid": bool})
    return RootGroundTruth(
        people=people,
        roots=np.array(roots, dtype=np.float64).reshape(-1, 3),
        source="synthetic",
        data_hash=store.manifest.content_hash,
        **_identity(store),
        images=people[META_COLUMNS].copy(),
    )


def _pose_ground_truth(store: MultiViewStore, protocol: ProtocolDef) -> PoseGroundTruth:
    reference = protocol.cameras[0] if protocol.cameras else 0
    if reference >= store.num_views:
        raise InputError(
            f"{store.path}: protocol {protocol.id} uses camera {reference}; the split has {store.num_views}"
        )
    cams = [store.full_cameras(i)[reference] for i in range(len(store))]
    views = [int(c) for c in protocol.cameras] if protocol.cameras else list(range(store.num_views))
    if max(views) >= store.num_views:
        raise InputError(f"{store.path}: protocol {protocol.id} uses cameras {views}; the split has {store.num_views}")
    occluded = occluded_joints(np.asarray(store.visibility, dtype=bool)[:, views],
                               np.asarray(store.view_valid, dtype=bool)[:, views])
    return PoseGroundTruth(
        meta=store.table[META_COLUMNS].reset_index(drop=True).astype({"frame": "int64"}),
        joints_3d=np.asarray(store.joints_3d, dtype=np.float64),
        reference_R=np.stack([c.R for c in cams]) if cams else np.zeros((0, 3, 3)),
        reference_t=np.stack([c.t for c in cams]) if cams else np.zeros((0, 3)),
        source="synthetic",
        data_hash=store.manifest.content_hash,
        occluded=occluded,
        **_identity(store),
    )


def _root_ground_truth(store: SingleViewStore) -> RootGroundTruth:
    images = store.table.reset_index(drop=True)
    rows = []
    for i, image in enumerate(images.itertuples(index=False)):
        start, count = int(store._start[i]), int(store._count[i])
        for k in range(count):
            rows.append({"sample_id": image.sample_id, "person_index": k, "subject": image.subject,
                         "action": image.action, "sequence": image.sequence, "frame": int(image.frame),
                         "valid": bool(store.people_valid[start + k]), "_row": start + k})
    people = pd.DataFrame(rows, columns=[*META_COLUMNS[:1], "person_index", *META_COLUMNS[1:], "valid", "_row"])
    roots = np.asarray(store.people_root_cam, dtype=np.float64)[people["_row"].to_numpy(dtype=int)]
    return RootGroundTruth(
        people=people.drop(columns="_row"),
        roots=roots,
        source="synthetic",
        data_hash=store.manifest.content_hash,
        **_identity(store),
        images=images[META_COLUMNS].copy(),
    )
