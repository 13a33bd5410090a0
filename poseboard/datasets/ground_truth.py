"""Ground truth of a generated (synthetic) dataset split, as the scorer wants it.

``load_synthetic_ground_truth(path, protocol)`` is the loader registered for the
``synth-*`` datasets in :mod:`poseboard.protocols.ground_truth`: pose protocols get the
world joints of every sample plus the reference (first protocol) camera of each, root
protocols get one row per annotated person with its root in camera millimetres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from poseboard.datasets.storage import MultiViewStore, SingleViewStore, open_dataset
from poseboard.errors import InputError
from poseboard.protocols.predictions import PoseGroundTruth, RootGroundTruth
from poseboard.protocols.protocol import ProtocolDef

META_COLUMNS = ["sample_id", "subject", "action", "sequence", "frame"]


def load_synthetic_ground_truth(path: Path, protocol: ProtocolDef) -> PoseGroundTruth | RootGroundTruth:
    """Read a generated split's ground truth for ``protocol``."""
    store = open_dataset(path)
    if store.manifest.name != protocol.dataset:
        raise InputError(
            f"{path}: holds dataset {store.manifest.name!r}, but protocol {protocol.id} scores {protocol.dataset!r}"
        )
    if isinstance(store, MultiViewStore):
        return _pose_ground_truth(store, protocol)
    return _root_ground_truth(store)


def _pose_ground_truth(store: MultiViewStore, protocol: ProtocolDef) -> PoseGroundTruth:
    reference = protocol.cameras[0] if protocol.cameras else 0
    if reference >= store.num_views:
        raise InputError(
            f"{store.path}: protocol {protocol.id} uses camera {reference}; the split has {store.num_views}"
        )
    cams = [store.full_cameras(i)[reference] for i in range(len(store))]
    return PoseGroundTruth(
        meta=store.table[META_COLUMNS].reset_index(drop=True).astype({"frame": "int64"}),
        joints_3d=np.asarray(store.joints_3d, dtype=np.float64),
        reference_R=np.stack([c.R for c in cams]) if cams else np.zeros((0, 3, 3)),
        reference_t=np.stack([c.t for c in cams]) if cams else np.zeros((0, 3)),
        source="synthetic",
        data_hash=store.manifest.content_hash,
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
        images=images[META_COLUMNS].copy(),
    )
