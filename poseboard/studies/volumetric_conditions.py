"""Volumetric triangulation's read-out under its paper's voxel size (issue 69 item 2): given the
*same* per-view 2D evidence, does the volumetric path (unprojection, softmax aggregation over
views, 3D soft-argmax) come out at or below algebraic triangulation (2D soft-argmax,
DLT), and how much of that does the board's voxel size (2000 × 2000 × 2400 mm over 32 voxels:
64.5 × 64.5 × 77.4 mm) give up against the paper's (2500 mm over 64: 39.7 mm)?

The board's volumetric row trails algebraic by 10 mm, decided; its V2V and schedule are sized
for a CPU. This study removes everything learned, so that what is left is the mechanism and
its grid. Each view of each frame gets a 128-pixel crop around the person's projected joints
(its camera from :meth:`~poseboard.camera.Camera.crop_and_resize`, lens distortion set to zero
for both arms) and a 32 × 32 heatmap per joint (the board's stride 4): a Gaussian of
``HEATMAP_SIGMA_CELLS`` around where a detector put the joint, drawn as

* ``noise``: the true projection plus Gaussian noise whose median radial error is the board's
  backbone's, ``MEDIAN_2D_ERROR_PX`` crop pixels in distribution
  (docs/findings/paper-claims.md: 2.3 px);
* ``noise+swaps``: the same, and with probability ``GROSS_SHARE`` per (view, joint) the peak
  lands on the left/right partner's projection (a centre joint: anywhere in the crop) — the
  board's measured dominant failure (6.9 % of visible joints beyond 12.8 px; left/right swaps
  carry nearly all gross joints).

Arms, all reading the same heatmaps of the same frames (paired sequence by sequence):

* ``algebraic``: each heatmap's 2D soft-argmax (:func:`poseboard.geometry.soft_argmax_2d`),
  then the DLT with equal weights (:func:`poseboard.geometry.triangulate_dlt`); no learned
  confidences (the evidence gives a swapped peak the same height as a true one);
* ``volumetric-<n>``: the volumetric method's own operators
  (:func:`poseboard.methods.volumetric.cuboid_coords`, :func:`~poseboard.methods.volumetric.unproject`,
  :func:`~poseboard.methods.volumetric.aggregate` with ``softmax``) on the heatmaps, the cuboid
  centred on the algebraic arm's pelvis (as the method centres it at test time), then the 3D
  soft-argmax (:func:`poseboard.geometry.soft_argmax_3d`) of the aggregated volume; ``n`` voxels
  per side over the board's cuboid, and ``paper-64`` over the paper's 2500-mm cube.

Nothing is trained, but both soft-argmaxes need an inverse temperature (the V2V's learned
output scale stands in for it in the method): each arm's is chosen from ``MULTIPLIERS`` on the
*training* subjects' sequences (S1, S5, S6, S7, S8, the same actions) and then applied to the
test subjects'. Error: root-relative MPJPE (mm, pelvis aligned), averaged per sequence; each
volumetric arm is compared with algebraic by the paired difference of means over the 18
sequences with a 95 % bootstrap interval, per seed (the 2D draws). ``poseboard paper-conditions
--claim volumetric`` prints the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from poseboard.studies.paper_conditions import Scene, root_relative_mpjpe, scenes

#: the board's crop (px) and heatmap side (cells: stride 4)
CROP_PX = 128
HEATMAP_CELLS = 32
#: the target Gaussian's sigma in heatmap cells (the backbone's heatmap targets)
HEATMAP_SIGMA_CELLS = 1.0
#: the board's backbone in distribution: median 2D error on visible joints (128-px crops)
MEDIAN_2D_ERROR_PX = 2.3
#: the board's backbone in distribution: share of visible joints beyond 12.8 px
GROSS_SHARE = 0.069
#: the crop box: the projected joints' bounding square, widened by this factor
CROP_MARGIN = 1.25
#: (name, voxels per side, cuboid sides mm): the board's grid, two finer ones, the paper's
GRIDS: tuple[tuple[str, int, tuple[float, float, float]], ...] = (
    ("volumetric-32", 32, (2000.0, 2000.0, 2400.0)),
    ("volumetric-48", 48, (2000.0, 2000.0, 2400.0)),
    ("volumetric-64", 64, (2000.0, 2000.0, 2400.0)),
    ("volumetric-paper-64", 64, (2500.0, 2500.0, 2500.0)),
)
#: the inverse temperatures each arm's soft-argmax is chosen from (on the training subjects)
MULTIPLIERS: tuple[float, ...] = (10.0, 20.0, 50.0, 100.0, 200.0)
REGIMES: tuple[str, ...] = ("noise", "noise+swaps")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
#: frames per training sequence used to choose the multipliers, and per test sequence scored
#: (of FRAMES_PER_SEQUENCE, 0.5 s apart: the first 1.5 s; the 64³ volumes cost ~1 s a frame on one core)
TRAIN_FRAMES = 2
TEST_FRAMES = 4


@dataclass(frozen=True)
class Evidence:
    """One scene's per-view inputs: ``heatmaps`` (F, V, J, 32, 32), the crops' ``proj`` (F, V,
    3, 4) float64 world mm → crop px, their ``K``, ``R``, ``t`` (F, V, ...) float64, and the
    ground truth ``joints`` (F, J, 3) world mm."""

    heatmaps: torch.Tensor
    proj: torch.Tensor
    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    joints: torch.Tensor


def noise_sigma(median_px: float) -> float:
    """The per-coordinate Gaussian sigma (px) whose radial 2D error has median ``median_px``
    (a Rayleigh distribution's median is σ √(2 ln 2))."""
    return median_px / float(np.sqrt(2 * np.log(2)))


def crop_views(scene: Scene, frames: int | None = None) -> tuple[list[list], np.ndarray]:
    """Each view's crop camera for ``scene``'s first ``frames`` frames (all if None): a
    ``CROP_PX`` square around the person's projected joints widened ``CROP_MARGIN``×, lens
    distortion set to zero; and the joints' true projections (F, V, J, 2) in crop pixels."""
    cameras, points = [], []
    for pose in scene.joints[:frames]:
        f_cams, f_points = [], []
        for camera in scene.cameras:
            pinhole = type(camera)(K=camera.K, R=camera.R, t=camera.t, dist=np.zeros(5),
                                   image_size=camera.image_size, name=camera.name)
            uv = pinhole.project(pose)
            centre = (uv.min(0) + uv.max(0)) / 2
            half = CROP_MARGIN * (uv.max(0) - uv.min(0)).max() / 2
            box = (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)
            crop = pinhole.crop_and_resize(box, (CROP_PX, CROP_PX))
            f_cams.append(crop)
            f_points.append(crop.project(pose))
        cameras.append(f_cams)
        points.append(np.stack(f_points))
    return cameras, np.stack(points)


def gaussian_maps(points: np.ndarray, amplitude: np.ndarray | float = 1.0) -> np.ndarray:
    """(..., 2) crop pixels → (..., 32, 32) [y, x] maps: a Gaussian of ``HEATMAP_SIGMA_CELLS``
    around each point (cell i is crop pixel 4i), scaled by ``amplitude`` (broadcast to (...))."""
    cell = CROP_PX / HEATMAP_CELLS
    grid = np.arange(HEATMAP_CELLS, dtype=np.float64) * cell
    d = (points[..., None, None, :] - np.stack(np.meshgrid(grid, grid, indexing="xy"), -1)) / cell
    return np.asarray(amplitude)[..., None, None] * np.exp(-0.5 * (d ** 2).sum(-1) / HEATMAP_SIGMA_CELLS ** 2)


def camera_tensors(cameras: list[list]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The crops' projections (F, V, 3, 4), K (F, V, 3, 3), R (F, V, 3, 3), t (F, V, 3), float64."""
    def stack(attr: str) -> torch.Tensor:
        return torch.as_tensor(np.array([[getattr(c, attr) for c in frame] for frame in cameras]), dtype=torch.float64)

    return stack("projection_matrix"), stack("K"), stack("R"), stack("t")


def evidence(scene: Scene, regime: str, seed: int, frames: int | None = None,
             median_px: float = MEDIAN_2D_ERROR_PX) -> Evidence:
    """The heatmaps a detector of the board's measured accuracy (``median_px``: its median 2D
    error) would give for ``scene``'s first ``frames`` frames (all if None), drawn with
    ``seed`` (see the module docstring)."""
    from poseboard.skeleton import H36M17

    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; regimes: {list(REGIMES)}")
    rng = np.random.default_rng([seed, 69])
    cameras, true_uv = crop_views(scene, frames)  # (F, V, J, 2)
    swap = np.array(H36M17.left_right_swap)
    sigma_px = noise_sigma(median_px)
    cell = CROP_PX / HEATMAP_CELLS
    detected = np.empty_like(true_uv)
    for f, v in np.ndindex(*true_uv.shape[:2]):  # drawn view by view, frame by frame (the study's recorded draws)
        uv = true_uv[f, v]
        detected[f, v] = uv + rng.normal(0.0, sigma_px, uv.shape)
        if regime == "noise+swaps":
            gross = rng.random(len(uv)) < GROSS_SHARE
            anywhere = rng.uniform(0, CROP_PX - cell, uv.shape)
            partner = np.where((swap != np.arange(len(swap)))[:, None], uv[swap], anywhere)
            detected[f, v] = np.where(gross[:, None], partner + rng.normal(0.0, sigma_px, uv.shape), detected[f, v])
    proj, K, R, t = camera_tensors(cameras)
    return Evidence(torch.as_tensor(gaussian_maps(detected), dtype=torch.float32), proj, K, R, t,
                    torch.as_tensor(scene.joints[:frames], dtype=torch.float64))


def algebraic(ev: Evidence, multiplier: float) -> torch.Tensor:
    """(F, J, 3) world mm: 2D soft-argmax of every heatmap (crop px), then the equal-weight DLT."""
    from poseboard.geometry import soft_argmax_2d, triangulate_dlt

    uv = soft_argmax_2d(ev.heatmaps.double(), multiplier) * (CROP_PX / HEATMAP_CELLS)  # (F, V, J, 2)
    return triangulate_dlt(ev.proj[:, None], uv.permute(0, 2, 1, 3))  # proj (F, 1, V, 3, 4), points (F, J, V, 2)


def aggregated(ev: Evidence, centre: torch.Tensor, size: int, cuboid_mm: tuple[float, float, float]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The softmax-over-views volume (F, J, n, n, n) of the heatmaps in the cuboid of ``size``
    voxels per side centred on ``centre`` (F, 3) mm (no rotation), and its voxel centres
    (F, n, n, n, 3) mm: the volumetric method's steps 2–4 with the heatmaps as its features."""
    from poseboard.methods.nets.multiview import ViewBatch
    from poseboard.methods.volumetric import aggregate, cuboid_coords, unproject

    F, V = ev.heatmaps.shape[:2]
    coords = cuboid_coords(centre, torch.eye(3, dtype=torch.float64).expand(F, 3, 3), size, cuboid_mm)
    vb = ViewBatch(images=torch.zeros(F, V, 1, 1, CROP_PX), proj=ev.proj, K=ev.K, R=ev.R, t=ev.t,
                   dist=torch.zeros(F, V, 5, dtype=torch.float64), boxes=torch.zeros(F, V, 4, dtype=torch.float64),
                   view_valid=torch.ones(F, V, dtype=torch.bool))
    sampled, _ = unproject(ev.heatmaps, coords.flatten(1, 3), vb)  # (F, V, J, N)
    volume = aggregate(sampled, vb.view_valid, "softmax")  # (F, J, N)
    return volume.unflatten(-1, (size, size, size)), coords


def volumetric(volume: torch.Tensor, coords: torch.Tensor, multiplier: float) -> torch.Tensor:
    """(F, J, 3) world mm: the 3D soft-argmax of an aggregated volume at ``multiplier``."""
    from poseboard.geometry import soft_argmax_3d

    return soft_argmax_3d(volume.double(), coords[:, None], multiplier)


def arm_errors(ev: Evidence, grids: tuple = GRIDS, multipliers: tuple[float, ...] = MULTIPLIERS
               ) -> dict[tuple[str, float], float]:
    """Mean root-relative MPJPE (mm) of every arm at every multiplier on one scene's evidence:
    {(arm, multiplier): mm}. The volumetric cuboids are centred on the algebraic arm's pelvis at
    the reference's 2D multiplier (100), as the method centres them on its algebraic model's."""
    from poseboard.skeleton import H36M17

    out: dict[tuple[str, float], float] = {}
    for m in multipliers:
        out[("algebraic", m)] = float(root_relative_mpjpe(algebraic(ev, m), ev.joints).mean())
    centre = algebraic(ev, 100.0)[:, H36M17.root]
    for name, size, cuboid in grids:
        volume, coords = aggregated(ev, centre, size, cuboid)
        for m in multipliers:
            out[(name, m)] = float(root_relative_mpjpe(volumetric(volume, coords, m), ev.joints).mean())
    return out


def training_scenes(seed: int = 0) -> list[Scene]:
    """The training subjects' sequences (the board's ``synth-h36m`` train split's subjects, one
    sequence per action) on which the multipliers are chosen."""
    return scenes(seed, subjects=TRAIN_SUBJECTS, split="train")


def choose_multipliers(regime: str, seed: int, grids: tuple = GRIDS,
                       multipliers: tuple[float, ...] = MULTIPLIERS) -> dict[str, float]:
    """Each arm's multiplier with the lowest mean error on the training subjects' sequences
    (their first ``TRAIN_FRAMES`` frames) under ``regime`` and ``seed``."""
    sums: dict[tuple[str, float], list[float]] = {}
    for i, scene in enumerate(training_scenes(0)):
        for key, value in arm_errors(evidence(scene, regime, seed * 1000 + 500 + i, TRAIN_FRAMES), grids,
                                     multipliers).items():
            sums.setdefault(key, []).append(value)
    arms = ["algebraic"] + [g[0] for g in grids]
    return {arm: min(multipliers, key=lambda m: float(np.mean(sums[(arm, m)]))) for arm in arms}


def run_study(regimes: tuple[str, ...] = REGIMES, seeds: tuple[int, ...] = (0, 1, 2), grids: tuple = GRIDS,
              frames: int = TEST_FRAMES, progress: bool = False) -> pd.DataFrame:
    """One row per (regime, seed, sequence, arm): its ``mpjpe`` (mm) on the first ``frames``
    frames of the board's 18 in-distribution test sequences, at the ``multiplier`` chosen per
    regime on the training subjects (their draws of seed 0: a fixed choice, as a trained
    network's output scale is fixed at test)."""
    rows = []
    test = scenes(0)
    for regime in regimes:
        chosen = choose_multipliers(regime, 0, grids)
        for seed in seeds:
            for i, scene in enumerate(test):
                ev = evidence(scene, regime, seed * 1000 + i, frames)
                errors = arm_errors(ev, grids, tuple(sorted(set(chosen.values()))))
                for arm, m in chosen.items():
                    rows.append({"regime": regime, "seed": seed, "sequence": f"{scene.subject}/{scene.action}",
                                 "arm": arm, "multiplier": m, "mpjpe": errors[(arm, m)]})
            if progress:
                print(f"{regime}, seed {seed}: done ({chosen})", flush=True)
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """Per regime, seed and arm: the mean MPJPE over sequences and, for a volumetric arm, its
    paired difference from ``algebraic`` (mm) with a 95 % bootstrap interval over sequences."""
    from scipy.stats import bootstrap

    out = []
    for (regime, seed), part in table.groupby(["regime", "seed"], sort=False):
        wide = part.pivot(index="sequence", columns="arm", values="mpjpe")
        chosen = part.groupby("arm")["multiplier"].first()
        base = wide["algebraic"].to_numpy()
        for arm in [a for a in ["algebraic", *(g[0] for g in GRIDS)] if a in wide.columns]:
            values = wide[arm].to_numpy()
            diff = values - base
            if arm == "algebraic":
                low = high = 0.0
            else:
                ci = bootstrap((diff,), np.mean, vectorized=True, n_resamples=resamples, method="percentile",
                               random_state=np.random.default_rng([int(seed), 99])).confidence_interval
                low, high = float(ci.low), float(ci.high)
            out.append({"regime": regime, "seed": seed, "arm": arm, "multiplier": float(chosen[arm]),
                        "mpjpe": float(values.mean()), "difference": float(diff.mean()), "low": low, "high": high,
                        "sequences": len(values)})
    return pd.DataFrame(out)


def format_summary(summary: pd.DataFrame) -> str:
    """A markdown table: per regime and arm, each seed's MPJPE and its difference from algebraic."""
    lines = ["| regime | arm | voxel (mm) | " + " | ".join(f"seed {int(s)}" for s in sorted(summary.seed.unique()))
             + " |", "|---|---|---|" + "---|" * summary.seed.nunique()]
    voxel = {name: "×".join(f"{side / (n - 1):.1f}" for side in sorted(set(cuboid), key=cuboid.index))
             for name, n, cuboid in GRIDS}
    for (regime, arm), part in summary.groupby(["regime", "arm"], sort=False):
        cells = []
        for r in part.sort_values("seed").itertuples():
            cell = f"{r.mpjpe:.1f} mm (m {r.multiplier:g})"
            if arm != "algebraic":
                cell += f", {r.difference:+.1f} [{r.low:+.1f}, {r.high:+.1f}]"
            cells.append(cell)
        lines.append(f"| {regime} | {arm} | {voxel.get(arm, '—')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
