"""Why does volumetric stop improving beyond two cameras in the dome sweep?

    python scripts/diagnose_volumetric_views.py checkpoints/volumetric data --frames 64

For each camera subset of the sweep (``synth-panoptic-sweep``, the sizes given), on every
k-th test frame of the dome, root-relative MPJPE (mm) of:

* ``as_is``: the method as it predicts (cuboid on the algebraic pelvis);
* ``gt_centre``: the cuboid on the true pelvis (is the centre the problem?);
* ``matched``: the softmax-aggregated volume shifted and scaled, per batch, to the mean and
  standard deviation it has on the rig the method was trained on (``synth-h36m``, 4 views)
  before the V2V network (is the shift of the V2V's input with the view count the problem?);

with the aggregated volume's mean and standard deviation and the algebraic pelvis's error.
A diagnostic, not a method: ``matched`` uses statistics the method does not have at test time.
Prints one JSON line per subset (the numbers quoted in issue 4's note).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poseboard.datasets.sources import locate_protocol
from poseboard.datasets.torch_dataset import collate_multiview
from poseboard.harness.multiview_pose import camera_subsets, method_inputs
from poseboard.methods.nets.multiview import read_batch
from poseboard.methods.volumetric import ROOT, VolumetricMethod
from poseboard.protocols.registry import get_protocol


@torch.no_grad()
def aggregated_volume(method: VolumetricMethod, vb: Any, centre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, N) aggregated features and the voxel centres, cuboid unrotated."""
    rotation = torch.eye(3, dtype=torch.float64).expand(centre.shape[0], 3, 3)
    return method.net.eval().aggregated_volume(vb, centre, rotation)


@torch.no_grad()
def joints_from_volume(method: VolumetricMethod, volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) world mm: the method's V2V and 3D soft-argmax on an aggregated volume."""
    return method.net.volume_to_joints(volume, coords)["joints_3d"].to(torch.float64)


def relative_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(B,) root-relative MPJPE (mm)."""
    return ((pred - pred[:, ROOT : ROOT + 1]) - (gt - gt[:, ROOT : ROOT + 1])).norm(dim=-1).mean(-1)


def batches(protocol_id: str, data_dir: Path, frames: int, subset: tuple[int, ...] | None):
    """Collated batches of 8 of every k-th test frame (``frames`` in all) of a protocol."""
    protocol = get_protocol(protocol_id)
    data = locate_protocol(protocol, None, data_dir=data_dir)
    gt = data.ground_truth(protocol)
    n = len(gt.meta)
    rows = data.rows(gt, np.arange(0, n, max(1, n // frames))[:frames])
    dataset = data.with_cameras(subset) if subset is not None else data.with_cameras(tuple(protocol.cameras))
    for start in range(0, len(rows), 8):
        yield protocol, collate_multiview([dataset[int(i)] for i in rows[start : start + 8]])


def training_rig_statistics(method: VolumetricMethod, data_dir: Path, frames: int) -> tuple[float, float]:
    """Mean and standard deviation of the aggregated volume on the training rig (4 views)."""
    values = []
    for protocol, batch in batches("synth-h36m-relative@2", data_dir, frames, None):
        vb = read_batch(method_inputs(batch, method, protocol))
        gt = torch.as_tensor(batch["joints_3d"], dtype=torch.float64)
        volume, _ = aggregated_volume(method, vb, gt[:, ROOT])
        values.append(volume.flatten())
    v = torch.cat(values)
    return float(v.mean()), float(v.std())


def diagnose(method: VolumetricMethod, data_dir: Path, frames: int, sizes: list[int]) -> list[dict[str, Any]]:
    ref_mean, ref_std = training_rig_statistics(method, data_dir, frames)
    sweep = get_protocol("synth-panoptic-sweep@2")
    num_cameras = locate_protocol(sweep, None, data_dir=data_dir).num_cameras
    rows = []
    for subset in camera_subsets(sweep, num_cameras, sizes):
        err: dict[str, list[torch.Tensor]] = {"as_is": [], "gt_centre": [], "matched": [], "centre_error": []}
        stats = []
        for protocol, batch in batches(sweep.id, data_dir, frames, subset):
            inputs = method_inputs(batch, method, protocol)
            vb = read_batch(inputs)
            gt = torch.as_tensor(batch["joints_3d"], dtype=torch.float64)
            centre = method.estimate_pelvis(inputs, vb)
            volume, coords = aggregated_volume(method, vb, centre)
            stats.append((float(volume.mean()), float(volume.std())))
            matched = (volume - volume.mean()) * (ref_std / volume.std()) + ref_mean
            err["as_is"].append(relative_error(joints_from_volume(method, volume, coords), gt))
            err["matched"].append(relative_error(joints_from_volume(method, matched, coords), gt))
            gt_volume, gt_coords = aggregated_volume(method, vb, gt[:, ROOT])
            err["gt_centre"].append(relative_error(joints_from_volume(method, gt_volume, gt_coords), gt))
            err["centre_error"].append((centre - gt[:, ROOT]).norm(dim=-1))
        mean, std = np.mean(stats, axis=0)
        rows.append({"views": len(subset), "cameras": list(subset),
                     **{k: round(float(torch.cat(v).mean()), 1) for k, v in err.items()},
                     "volume_mean": round(float(mean), 3), "volume_std": round(float(std), 3),
                     "training_rig_mean": round(ref_mean, 3), "training_rig_std": round(ref_std, 3)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a trained volumetric method's folder")
    parser.add_argument("data", type=Path, help="the generated data folder (synth-h36m, synth-panoptic)")
    parser.add_argument("--frames", type=int, default=64, help="test frames per subset (every k-th)")
    parser.add_argument("--sizes", default="2,4,8,16", help="subset sizes of the sweep")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    method = VolumetricMethod.load(args.checkpoint)
    assert isinstance(method, VolumetricMethod)
    for row in diagnose(method, args.data, args.frames, [int(s) for s in args.sizes.split(",")]):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
