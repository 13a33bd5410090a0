"""The epipolar transformer under its paper's occlusion regime (issue 69 item 2): when a joint
is self-occluded in a view but seen by that view's neighbour, does the transformer's fusion
(sample the neighbour's features along the epipolar line, attend, add) recover it where
triangulation alone does not, and does the attention peak on the true correspondence?

He et al. (CVPR 2020) attribute their gain to exactly that case; on the board the transformer
and its baseline are level (0.985×). This study keeps the board's operators and geometry and
replaces the learned features by ideal ones, so that what is left is the mechanism:

* the board's 18 in-distribution test sequences and four-camera rigs, each view's 128-pixel crop
  and 32 × 32 feature map (:func:`~poseboard.studies.volumetric_conditions.crop_views`);
* features with one channel per joint: a Gaussian of one cell where the detector sees the joint
  (the board's median 2D error, 2.3 crop px), of height ``FEATURE_SCALE``. A joint occluded in a
  view (drawn per frame, view and joint with the regime's probability) keeps only the regime's
  share of its peak and, for a limb joint, gets a distractor of ``DISTRACTOR_HEIGHT`` where its
  left/right partner is seen: the board's measured failure of occluded joints, left/right
  confusions (a centre joint is only dimmed);
* ``baseline``: each view's own channel decoded as the epipolar method decodes
  (:func:`~poseboard.methods.epipolar.local_soft_argmax` with its ``peak_radius``, views chosen
  by :func:`~poseboard.methods.epipolar.select_views` at its ``conf_threshold`` relative to the
  feature height), then the DLT;
* ``epipolar``: the same after each view's features are fused with its nearest view's
  (:func:`~poseboard.methods.nets.epipolar_attention.nearest_views`,
  :func:`~poseboard.methods.nets.epipolar_attention.fundamental_ref_to_src`,
  :meth:`EpipolarAttention.attend <poseboard.methods.nets.epipolar_attention.EpipolarAttention.attend>`
  with 64 samples and the reference's 1/√64 scale) as ``f_ref + out``: the reference's
  z-residual fusion before training (its BN starts at zero). The board's default gates the
  fusion at zero instead (``z_residual: false``), so its untrained form is ``f_ref`` alone: the
  study uses the attention output directly, as a trained gate would pass it.

The attention's selectivity depends on the features' scale (dot products times 1/√64 before a
softmax over 64 samples); ``FEATURE_SCALE`` sets a matching pair's scaled similarity to
``FEATURE_SCALE² / 8`` = 8, a peak e⁸ ≈ 3000 times a miss: the selectivity a trained network's
features give the attention is not measured here.

Measured per sequence: root-relative MPJPE (mm) on all joints and on the joints occluded in a
view whose nearest view sees them (the paper's case), and for each joint's true cell in each view
the distance (crop px) from the attention's strongest sample to the joint's true projection in
the neighbour. The difference epipolar − baseline is paired (same features) with a 95 %
bootstrap interval over the 18 sequences, per seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from poseboard.studies.paper_conditions import Scene, scenes
from poseboard.studies.volumetric_conditions import (
    CROP_PX,
    MEDIAN_2D_ERROR_PX,
    camera_tensors,
    crop_views,
    gaussian_maps,
    noise_sigma,
)

#: (probability that a joint is self-occluded in a view, the share of its peak an occluded joint
#: keeps): none; the board's share (a view hides a joint with 0.25, so 26 % of joints are hidden in
#: at least two of four views; the board: 23–30 % in at least half, docs/findings/paper-claims.md);
#: heavy; each with an occluded joint keeping 0.3 or 0.5 of its peak (how much of it the occluded
#: view still shows, which the query of the attention is made from), and 0.86, what the board's
#: trained networks keep (``poseboard epipolar-attention``, :mod:`poseboard.studies.epipolar_trained`)
REGIMES: dict[str, tuple[float, float]] = {
    "none": (0.0, 1.0), "board, 0.3 kept": (0.25, 0.3), "board, 0.5 kept": (0.25, 0.5),
    "heavy, 0.3 kept": (0.5, 0.3), "heavy, 0.5 kept": (0.5, 0.5), "board, 0.86 kept (trained)": (0.25, 0.86)}
#: the distractor an occluded limb joint gets at its left/right partner's place, as a share of a visible peak
DISTRACTOR_HEIGHT = 0.6
#: the features' peak height: a matching pair's dot product times 1/√64 is FEATURE_SCALE² / 8 = 8
FEATURE_SCALE = 8.0
TEST_FRAMES = 4
ARMS: tuple[str, ...] = ("baseline", "epipolar")


def features(scene: Scene, occlusion: float, kept: float, seed: int, frames: int | None = TEST_FRAMES
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Ideal per-joint features of ``scene``'s first ``frames`` frames, a joint occluded in a view
    with probability ``occlusion`` keeping ``kept`` of its peak:
    (F, V, J, 32, 32) float32 maps, the crops' projections (F, V, 3, 4) float64, the ground truth
    (F, J, 3) world mm, the (F, V, J) bool occlusion mask and the joints' true projections
    (F, V, J, 2) crop px; ``seed`` draws the 2D errors and the occlusions."""
    from poseboard.skeleton import H36M17

    rng = np.random.default_rng([seed, 70])
    cameras, true_uv = crop_views(scene, frames)  # (F, V, J, 2)
    sigma_px = noise_sigma(MEDIAN_2D_ERROR_PX)
    seen = true_uv + rng.normal(0.0, sigma_px, true_uv.shape)
    occluded = rng.random(true_uv.shape[:-1]) < occlusion
    swap = np.array(H36M17.left_right_swap)
    has_partner = swap != np.arange(len(swap))  # (J,): a centre joint is only dimmed
    maps = (gaussian_maps(seen, np.where(occluded, kept, 1.0))
            + gaussian_maps(seen[..., swap, :], np.where(occluded & has_partner, DISTRACTOR_HEIGHT, 0.0)))
    proj = camera_tensors(cameras)[0]
    return (torch.as_tensor(FEATURE_SCALE * maps, dtype=torch.float32), proj,
            torch.as_tensor(scene.joints[:frames], dtype=torch.float64), occluded, true_uv)


def fuse(maps: torch.Tensor, proj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each view's features fused with its nearest view's (``f_ref + out``), the neighbour of
    each view (F, V) and the attention (F, V, H·W, S) with its sample points (F, V, H·W, S, 2)
    in the neighbour's crop pixels."""
    from poseboard.methods.nets.epipolar_attention import (
        EpipolarAttention,
        epipolar_sample_points,
        fundamental_ref_to_src,
        nearest_views,
    )

    F, V, C, H, W = maps.shape
    stride = CROP_PX / W
    neighbour = nearest_views(proj)  # (F, V)
    src = maps.gather(1, neighbour[:, :, None, None, None].expand_as(maps))
    proj_src = proj.gather(1, neighbour[:, :, None, None].expand_as(proj))
    fundamental = fundamental_ref_to_src(proj.flatten(0, 1), proj_src.flatten(0, 1))  # (F·V, 3, 3)
    attention = EpipolarAttention(C, num_samples=64).eval()
    with torch.no_grad():
        out, attn = attention.attend(maps.flatten(0, 1), src.flatten(0, 1), fundamental, stride)
        points, _ = epipolar_sample_points(fundamental, H, W, stride, attention.num_samples)
    return ((maps.flatten(0, 1) + out).unflatten(0, (F, V)), neighbour, attn.unflatten(0, (F, V)),
            points.unflatten(0, (F, V)))


def triangulate(maps: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """(F, V, J, H, W) maps → (F, J, 3) world mm, decoded and triangulated as the epipolar method
    does (its default ``peak_radius`` and ``conf_threshold``, the latter relative to the
    features' height)."""
    from poseboard.geometry import triangulate_dlt
    from poseboard.methods.epipolar import EpipolarConfig, local_soft_argmax, select_views

    config = EpipolarConfig.preset("default")
    cells, scores = local_soft_argmax(maps.double(), config.peak_radius)  # (F, V, J, 2), (F, V, J)
    points = cells * (CROP_PX / maps.shape[-1])
    weights = select_views(scores.transpose(1, 2) / FEATURE_SCALE, config.conf_threshold)  # (F, J, V)
    return triangulate_dlt(proj[:, None], points.transpose(1, 2), weights)


def run_scene(scene: Scene, occlusion: float, kept: float, seed: int, frames: int | None = TEST_FRAMES
              ) -> dict[str, float]:
    """One sequence: each arm's error on all joints and on the paper's case, and the attention's
    peak distance (median, crop px) and share within one cell, on visible and occluded joints."""
    from poseboard.protocols.metrics import per_joint_errors

    maps, proj, truth, occluded, true_uv = features(scene, occlusion, kept, seed, frames)
    fused, neighbour, attn, points = fuse(maps, proj)
    F, V, J = occluded.shape
    occluded_t = torch.as_tensor(occluded)
    seen_by_neighbour = ~occluded_t.gather(1, neighbour[:, :, None].expand(F, V, J))
    case = (occluded_t & seen_by_neighbour).any(1).numpy()  # (F, J): occluded somewhere, seen next door
    out: dict[str, float] = {"paper_case_share": float(case.mean())}
    for arm, m in (("baseline", maps), ("epipolar", fused)):
        error = per_joint_errors(triangulate(m, proj).numpy(), truth.numpy(), "root")  # (F, J) mm, pelvis aligned
        out[f"{arm}_mpjpe"] = float(error.mean())
        out[f"{arm}_paper_case"] = float(error[case].mean()) if case.any() else float("nan")
    # the attention at each joint's true reference cell: its strongest sample against the truth next door
    from poseboard.studies.epipolar_trained import attention_peaks

    H, W = maps.shape[-2:]
    stride = CROP_PX / W
    target = np.take_along_axis(true_uv, neighbour.numpy()[:, :, None, None], axis=1)  # (F, V, J, 2)
    distance, _ = attention_peaks(attn.flatten(0, 1), points.flatten(0, 1),
                                  torch.ones(F * V, H * W, dtype=torch.bool), true_uv.reshape(F * V, J, 2),
                                  target.reshape(F * V, J, 2), stride, (H, W))
    distance = distance.reshape(F, V, J)
    for name, mask in (("visible", ~occluded), ("occluded", occluded)):
        d = distance[mask]
        out[f"attention_median_px_{name}"] = float(np.median(d)) if d.size else float("nan")
        out[f"attention_within_cell_{name}"] = float((d <= stride).mean()) if d.size else float("nan")
    return out


def run_study(regimes: tuple[str, ...] = tuple(REGIMES), seeds: tuple[int, ...] = (0, 1, 2),
              frames: int = TEST_FRAMES, progress: bool = False) -> pd.DataFrame:
    """One row per (regime, seed, sequence) with every measure of :func:`run_scene`."""
    rows = []
    test = scenes(0)
    for regime in regimes:
        for seed in seeds:
            for i, scene in enumerate(test):
                rows.append({"regime": regime, "seed": seed, "sequence": f"{scene.subject}/{scene.action}",
                             **run_scene(scene, *REGIMES[regime], seed * 1000 + i, frames)})
            if progress:
                print(f"{regime}, seed {seed}: done", flush=True)
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """Per regime and seed: each arm's mean error (all joints, the paper's case), the paired
    differences epipolar − baseline with 95 % bootstrap intervals over sequences, and the
    attention's peak statistics (means over sequences)."""
    from scipy.stats import bootstrap

    out = []
    for (regime, seed), part in table.groupby(["regime", "seed"], sort=False):
        row: dict[str, object] = {"regime": regime, "seed": seed, "sequences": len(part)}
        for what in ("mpjpe", "paper_case"):
            a, b = part[f"epipolar_{what}"].to_numpy(), part[f"baseline_{what}"].to_numpy()
            keep = ~(np.isnan(a) | np.isnan(b))
            row[f"baseline_{what}"], row[f"epipolar_{what}"] = (float(b[keep].mean()) if keep.any() else np.nan,
                                                                float(a[keep].mean()) if keep.any() else np.nan)
            diff = a[keep] - b[keep]
            row[f"difference_{what}"] = float(diff.mean()) if keep.any() else np.nan
            if keep.sum() >= 2 and np.ptp(diff) > 0:
                ci = bootstrap((diff,), np.mean, vectorized=True, n_resamples=resamples, method="percentile",
                               random_state=np.random.default_rng([int(seed), 98])).confidence_interval
                row[f"low_{what}"], row[f"high_{what}"] = float(ci.low), float(ci.high)
            else:
                row[f"low_{what}"] = row[f"high_{what}"] = row[f"difference_{what}"]
        for name in ("paper_case_share", "attention_median_px_visible", "attention_within_cell_visible",
                     "attention_median_px_occluded", "attention_within_cell_occluded"):
            row[name] = float(part[name].mean())
        out.append(row)
    return pd.DataFrame(out)


def format_summary(summary: pd.DataFrame) -> str:
    """A markdown table, one row per regime and seed."""
    lines = ["| regime | seed | paper's case | baseline: all / case (mm) | epipolar − baseline, all | "
             "epipolar − baseline, the paper's case | attention peak within a cell: visible / occluded |",
             "|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        case = (f"{r.difference_paper_case:+.1f} [{r.low_paper_case:+.1f}, {r.high_paper_case:+.1f}]"
                if not np.isnan(r.difference_paper_case) else "—")
        occluded = f"{r.attention_within_cell_occluded:.0%}" if not np.isnan(r.attention_within_cell_occluded) else "—"
        lines.append(f"| {r.regime} | {r.seed} | {r.paper_case_share:.0%} of joints | "
                     f"{r.baseline_mpjpe:.1f} / "
                     + ("—" if np.isnan(r.baseline_paper_case) else f"{r.baseline_paper_case:.1f}") + " | "
                     f"{r.difference_mpjpe:+.1f} [{r.low_mpjpe:+.1f}, {r.high_mpjpe:+.1f}] | {case} | "
                     f"{r.attention_within_cell_visible:.0%} / {occluded} |")
    return "\n".join(lines)
