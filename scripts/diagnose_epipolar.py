"""Does a trained epipolar transformer attend to the right place, and does its fusion help?

    python scripts/diagnose_epipolar.py checkpoints/epipolar checkpoints/epipolar-baseline data/synth-h36m/test

1. Attention: at the reference cell of every ground-truth joint, the attention-weighted
   source location versus the joint's true source position (crop px), against uniform
   attention over the line and the best of the line's samples; entropy and top weight;
   how much the fusion changes the reference feature (‖fused − f_ref‖ / ‖f_ref‖; BN_z's γ
   alone understates it in the ungated ``z_residual`` form, where ``out`` enters at weight 1).
2. Fusion: each view's detected 2D joints with and without the transformer against the
   rendered (distorted) 2D joints, before undistortion, split by the joint's visibility.
Prints one JSON object (the numbers quoted in issue 5's note).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from poseboard.datasets.torch_dataset import MultiViewDataset, collate_multiview
from poseboard.geometry import project_points
from poseboard.methods.epipolar import EpipolarMethod
from poseboard.methods.nets.epipolar_attention import epipolar_sample_points, fundamental_ref_to_src, nearest_views
from poseboard.methods.nets.multiview import read_batch, run_backbone


@torch.no_grad()
def attention_stats(method: EpipolarMethod, data: MultiViewDataset, frames: list[int]) -> dict[str, float]:
    net = method.net.eval()
    assert net.attention is not None, "this checkpoint has no transformer"
    res: dict[str, list[float]] = {"attention_px": [], "uniform_px": [], "best_sample_px": [],
                                   "entropy_vs_uniform": [], "top_weight": [], "fusion_change_vs_reference": []}
    for start in range(0, len(frames), 8):
        batch = collate_multiview([data[i] for i in frames[start : start + 8]])
        vb = read_batch(batch)
        feats = run_backbone(net.backbone, vb.images).features
        b, v = vb.images.shape[:2]
        h, w = feats.shape[-2:]
        stride = vb.size / w
        joints = torch.as_tensor(batch["joints_3d"]).double()
        src_of = nearest_views(vb.proj)
        bi = torch.arange(b)
        for r in range(v):
            src = src_of[:, r]
            p_ref, p_src = vb.proj[:, r], vb.proj[bi, src]
            fund = fundamental_ref_to_src(p_ref, p_src)
            _, attn = net.attention.attend(feats[:, r], feats[bi, src], fund, stride)
            fused = net.attention(feats[:, r], feats[bi, src], fund, stride)
            res["fusion_change_vs_reference"].append(
                float((fused - feats[:, r]).norm() / feats[:, r].norm().clamp_min(1e-12)))
            pts, valid = epipolar_sample_points(fund, h, w, stride, net.attention.num_samples)
            uv_ref, uv_src = project_points(p_ref[:, None], joints), project_points(p_src[:, None], joints)
            cell = (uv_ref / stride).round().long()
            inside = (cell[..., 0] >= 0) & (cell[..., 0] < w) & (cell[..., 1] >= 0) & (cell[..., 1] < h)
            n = cell[..., 1].clamp(0, h - 1) * w + cell[..., 0].clamp(0, w - 1)
            a = attn.gather(1, n[..., None].expand(-1, -1, attn.shape[-1])).double()
            p = pts.gather(1, n[..., None, None].expand(-1, -1, *pts.shape[-2:])).double()
            keep = valid.gather(1, n) & inside
            a = a / a.sum(-1, keepdim=True).clamp_min(1e-12)
            expected = (a[..., None] * p).sum(-2)
            entropy = -(a * a.clamp_min(1e-12).log()).sum(-1) / math.log(a.shape[-1])
            for key, val in (("attention_px", (expected - uv_src).norm(dim=-1)),
                             ("uniform_px", (p.mean(-2) - uv_src).norm(dim=-1)),
                             ("best_sample_px", (p - uv_src[..., None, :]).norm(dim=-1).min(-1).values),
                             ("entropy_vs_uniform", entropy), ("top_weight", a.max(-1).values)):
                res[key] += val[keep].tolist()
    out = {k: round(float(torch.tensor(x).median()), 3) for k, x in res.items()}
    out["joint_views"] = len(res["attention_px"])
    out["abs_bn_z_gamma"] = round(float(net.attention.bn_z.weight.detach().abs().mean()), 4)
    return out


@torch.no_grad()
def detection_errors(method: EpipolarMethod, data: MultiViewDataset, frames: list[int]) -> dict[str, float]:
    # the rendered joints_2d are distorted: compare them with the detections before undistortion
    method.config = method.config.model_copy(update={"undistort": False})
    errs, vis = [], []
    for start in range(0, len(frames), 16):
        batch = collate_multiview([data[i] for i in frames[start : start + 16]])
        pts, _scores, _vb = method.detect(batch)
        gt = torch.as_tensor(batch["joints_2d"]).double()
        errs.append((pts - gt).norm(dim=-1).flatten())
        vis.append(torch.as_tensor(batch["visibility"]).flatten())
    e, v = torch.cat(errs), torch.cat(vis)
    return {"px_all": round(float(e.mean()), 2), "px_visible": round(float(e[v].mean()), 2),
            "px_occluded": round(float(e[~v].mean()), 2), "occluded_fraction": round(float((~v).float().mean()), 3),
            "gross_over_10px": round(float((e > 10).float().mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("with_transformer", type=Path)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("split", type=Path, help="a multi-view test split, e.g. data/synth-h36m/test")
    parser.add_argument("--every", type=int, default=8, help="use every N-th frame")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = MultiViewDataset(args.split)
    frames = list(range(0, len(data), args.every))
    et, base = EpipolarMethod.load(args.with_transformer), EpipolarMethod.load(args.baseline)
    print(json.dumps({"frames": len(frames), "attention": attention_stats(et, data, frames),
                      "detections": {"with_transformer": detection_errors(et, data, frames),
                                     "baseline": detection_errors(base, data, frames)}}, indent=2))


if __name__ == "__main__":
    main()
