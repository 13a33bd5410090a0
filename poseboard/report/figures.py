"""The report's figures (matplotlib Agg + seaborn), written as PNG and SVG.

Deterministic: the same boards give byte-identical files (no dates in the metadata, a fixed
SVG hash salt), so regenerating the report does not churn git.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseboard.report.model import Board, calibration_curves, dataset_label, metric_label


@dataclass
class Figure:
    name: str  # file stem under report/figures/
    title: str
    caption: str
    png: Path
    svg: Path


@dataclass
class MissingFigure:
    name: str
    title: str
    needs: str


def _setup():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    plt.rcParams.update({"svg.hashsalt": "poseboard", "figure.dpi": 100, "savefig.dpi": 120,
                         "font.family": "DejaVu Sans"})
    return plt, sns


def _save(fig, out: Path, name: str) -> tuple[Path, Path]:
    from poseboard.io import atomic_open

    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    with atomic_open(png, "wb") as f:
        fig.savefig(f, format="png", bbox_inches="tight", metadata={"Software": None})
    with atomic_open(svg, "wb") as f:
        fig.savefig(f, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    png.chmod(0o644)
    svg.chmod(0o644)
    return png, svg


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def camera_sweep(board: Board, out: Path) -> Figure | None:
    curves = board.sweep()
    if not curves:
        return None
    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    palette = sns.color_palette("colorblind", len(curves))
    for color, (method, curve) in zip(palette, sorted(curves.items()), strict=False):
        sizes = list(curve)
        values = [curve[n][0] for n in sizes]
        ax.plot(sizes, values, marker="o", color=color, label=method)
        lo = [curve[n][1][0] if curve[n][1] else curve[n][0] for n in sizes]
        hi = [curve[n][1][1] if curve[n][1] else curve[n][0] for n in sizes]
        ax.fill_between(sizes, lo, hi, color=color, alpha=0.15, linewidth=0)
    for anchor in board.protocol.paper:
        ax.scatter([4], [anchor.value], marker="x", color="black", zorder=5)
        ax.annotate(f"paper {anchor.method} ({anchor.dataset})", (4, anchor.value), fontsize=6,
                    xytext=(4, 2), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_xticks(board.sweep_sizes, [str(s) for s in board.sweep_sizes])
    ax.set_xlabel("number of cameras")
    ax.set_ylabel(f"{metric_label(board.protocol.headline, board.protocol)} ({board.unit})")
    ax.set_title(f"{board.id}: {dataset_label(board.protocol.dataset)}", fontsize=9)
    ax.legend(fontsize=7)
    name = f"mpjpe_vs_cameras_{_slug(board.protocol.name)}"
    png, svg = _save(fig, out, name)
    plt.close(fig)
    return Figure(name, "MPJPE versus number of cameras",
                  f"{board.id}: mean over random camera subsets of each size, 95% bootstrap band; "
                  "crosses: the papers' 4-camera numbers (on their dataset).", png, svg)


def per_action(board: Board, out: Path) -> Figure | None:
    actions, table = board.per_action()
    if not actions or not table:
        return None
    import pandas as pd

    plt, sns = _setup()
    rows = [{"method": m, "action": a, "value": v} for m, per in table.items() for a, v in per.items()]
    df = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.55 * len(actions) * max(1, len(table)) ** 0.5), 3.8))
    sns.barplot(data=df, x="action", y="value", hue="method", ax=ax, palette="colorblind",
                order=actions, hue_order=sorted(table), errorbar=None)
    ax.set_xlabel("")
    ax.set_ylabel(f"{metric_label(board.protocol.headline, board.protocol)} ({board.unit})")
    ax.set_title(f"{board.id}: per action", fontsize=9)
    ax.tick_params(axis="x", rotation=35, labelsize=7)
    ax.legend(fontsize=7)
    name = f"per_action_{_slug(board.protocol.name)}"
    png, svg = _save(fig, out, name)
    plt.close(fig)
    return Figure(name, f"Per-action {metric_label(board.protocol.headline)}",
                  f"{board.id}: frame-weighted mean of each action (trials merged as the protocol says).", png, svg)


def per_joint(board: Board, out: Path) -> Figure | None:
    """Mean error of every joint per method (bars) with its 90th percentile (ticks)."""
    rows = [{"method": r.method, "joint": j, "mean": st["mean"], "p90": st["p90"]}
            for r in board.rows for j, st in r.result.metrics.main.per_joint.items()]
    if not rows:
        return None
    import pandas as pd

    plt, sns = _setup()
    df = pd.DataFrame(rows)
    joints = list(dict.fromkeys(df["joint"]))
    methods = sorted(df["method"].unique())
    fig, ax = plt.subplots(figsize=(max(6.4, 0.45 * len(joints) * max(1, len(methods)) ** 0.5), 3.8))
    sns.barplot(data=df, x="joint", y="mean", hue="method", ax=ax, palette="colorblind",
                order=joints, hue_order=methods, errorbar=None)
    width = 0.8 / len(methods)
    for k, m in enumerate(methods):
        part = df[df["method"] == m].set_index("joint").reindex(joints)
        xs = np.arange(len(joints)) - 0.4 + width * (k + 0.5)
        ax.scatter(xs, part["p90"], marker="_", color="black", s=40, zorder=5, linewidths=1)
    ax.set_xlabel("")
    ax.set_ylabel(f"joint error ({board.unit}); tick: 90th percentile")
    ax.set_title(f"{board.id}: error per joint ({board.protocol.alignment} alignment)", fontsize=9)
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7)
    name = f"per_joint_{_slug(board.protocol.name)}"
    png, svg = _save(fig, out, name)
    plt.close(fig)
    return Figure(name, "Error distribution per joint",
                  f"{board.id}: mean error of each joint (bars) and its 90th percentile over frames (ticks).",
                  png, svg)


def depth_vs_distance(board: Board, out: Path) -> Figure | None:
    """Root depth error versus the person's distance, per method (root protocols)."""
    curves: dict[str, list[tuple[float, float, float]]] = {}
    for r in board.rows:
        extra = r.result.metrics.main.extra
        points = []
        for key, value in extra.items():
            if key.startswith("depth_error_mm@"):
                lo, hi = (float(x) for x in key.split("@")[1].removesuffix("m").split("-"))
                people = extra.get(key.replace("depth_error_mm@", "depth_people@"), 0.0)
                points.append(((lo + min(hi, lo + 2.0)) / 2.0, value, people))
        if points:
            curves[r.method] = sorted(points)
    if not curves:
        return None
    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for color, (method, pts) in zip(sns.color_palette("colorblind", len(curves)), sorted(curves.items()),
                                    strict=False):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=color, label=method)
        for x, y, n in pts:
            ax.annotate(f"{n:.0f}", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("ground-truth distance of the root from the camera (m, bin centre)")
    ax.set_ylabel("mean |depth error| (mm)")
    ax.set_title(f"{board.id}: depth error versus distance (numbers: people per bin)", fontsize=9)
    ax.legend(fontsize=7)
    name = f"depth_vs_distance_{_slug(board.protocol.name)}"
    png, svg = _save(fig, out, name)
    plt.close(fig)
    return Figure(name, "Root depth error versus distance",
                  f"{board.id}: mean absolute error of the root's camera z per ground-truth distance bin "
                  "(people with a ground-truth box).", png, svg)


def pareto_front(points: list[tuple[float, float, str]], higher_is_better: bool) -> list[tuple[float, float, str]]:
    """The (speed ms, accuracy, method) points no other point beats on both axes, by speed."""
    def better_or_equal(a, b):
        acc_ok = a[1] >= b[1] if higher_is_better else a[1] <= b[1]
        return a[0] <= b[0] and acc_ok and (a[0] < b[0] or a[1] != b[1])

    front = [p for p in points if not any(better_or_equal(q, p) for q in points if q is not p)]
    return sorted(front)


def accuracy_vs_speed(board: Board, out: Path) -> Figure | None:
    points = [(r.ms_per_sample, r.value, r.method) for r in board.rows if r.ms_per_sample]
    if len(points) < 2:  # a front needs two methods
        return None
    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    front = pareto_front(points, board.higher_is_better)
    ax.scatter([p[0] for p in points], [p[1] for p in points], color=sns.color_palette("colorblind")[0], zorder=3)
    for x, y, m in points:
        ax.annotate(m, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.plot([p[0] for p in front], [p[1] for p in front], linestyle="--", color="grey", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("inference time per multi-view frame (ms, log scale)")
    ax.set_ylabel(f"{board.headline_label} ({board.unit})")
    devices = sorted({r.device for r in board.rows if r.device})
    ax.set_title(f"{board.id}: accuracy versus speed" + (f" ({', '.join(devices)})" if devices else ""), fontsize=9)
    ax.legend(fontsize=7)
    name = f"accuracy_vs_speed_{_slug(board.protocol.name)}"
    png, svg = _save(fig, out, name)
    plt.close(fig)
    return Figure(name, "Accuracy versus inference speed",
                  f"{board.id}: the dashed line joins the methods no other method beats on both axes.", png, svg)


MISSING: tuple[MissingFigure, ...] = ()


def calibration_robustness(boards: list[Board], out: Path) -> Figure | None:
    """MPJPE versus the calibration error of the calibration-sweep protocol, one line per method."""
    from poseboard.report.tables import latest_boards

    levels, curves = calibration_curves(latest_boards(boards))
    if not curves:
        return None
    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    palette = sns.color_palette("colorblind", len(curves))
    for color, (method, points) in zip(palette, curves.items(), strict=False):
        x = [p[0] for p in points]
        ax.plot(x, [p[2] for p in points], marker="o", color=color, label=method)
        lo = [p[3][0] if p[3] else p[2] for p in points]
        hi = [p[3][1] if p[3] else p[2] for p in points]
        ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
    ax.set_xticks([rot for rot, _ in levels], [f"{rot:g}°\n{trans:g} mm" for rot, trans in levels])
    ax.set_xlabel("calibration error of every camera (rotation, centre)")
    ax.set_ylabel("MPJPE relative to the pelvis (mm)")
    ax.set_title("Robustness to calibration error (synthetic 4-camera rig)", fontsize=9)
    ax.legend(fontsize=7)
    name = "mpjpe_vs_calibration_error"
    png, svg = _save(fig, out, name)
    plt.close(fig)
    return Figure(name, "MPJPE versus calibration error",
                  "Extrinsics handed to the methods perturbed at test time (one fixed error per camera); "
                  "95% bootstrap band. Methods that take no extrinsics should stay flat.", png, svg)


def build_figures(boards: list[Board], out: Path) -> tuple[list[Figure], list[MissingFigure]]:
    """Write every figure the boards support; return them and what could not be drawn."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.png"), *out.glob("*.svg")]:
        old.unlink()  # figures of protocols without results any more must not linger
    figures: list[Figure] = []
    for board in boards:
        if board.sweep_sizes:
            fig = camera_sweep(board, out)
            if fig:
                figures.append(fig)
    for board in boards:
        # per action: the pose protocols, and the root ones whose headline is the MRPE
        # (synth-h36m-root: Human3.6M's MRPE tables are per action)
        root_mrpe = board.protocol.task == "root_localisation" and board.protocol.headline == "mrpe"
        if (board.protocol.task == "multiview_pose" and board.plain) or root_mrpe:
            fig = per_action(board, out)
            if fig:
                figures.append(fig)
    missing = list(MISSING)
    joint_figs = [f for b in boards if b.protocol.task == "multiview_pose" and b.plain
                  for f in [per_joint(b, out)] if f]
    figures += joint_figs
    if not joint_figs:
        missing.append(MissingFigure("per_joint_errors", "Error distribution per joint",
                                     "pose results with per-joint statistics (written by the scorer)."))
    depth_figs = [f for b in boards if b.protocol.task == "root_localisation" for f in [depth_vs_distance(b, out)] if f]
    figures += depth_figs
    if not depth_figs:
        missing.append(MissingFigure("rootnet_depth_error_vs_distance", "RootNet depth error versus distance",
                                     "results of a root protocol scored with ground-truth boxes (MRPE)."))
    robustness = calibration_robustness(boards, out)
    if robustness:
        figures.append(robustness)
    else:
        missing.append(MissingFigure("calibration_robustness", "MPJPE versus calibration error",
                                     "results under a calibration-sweep protocol (synth-h36m-calibration)."))
    speed_figs = [f for b in boards if b.protocol.task == "multiview_pose" and b.protocol.calibration_sweep is None
                  for f in [accuracy_vs_speed(b, out)] if f]
    figures += speed_figs
    if not speed_figs:
        missing.append(MissingFigure("accuracy_vs_speed", "Accuracy versus inference speed",
                                     "inference speed (`speed.ms_per_sample`) in the result files."))
    if not any(b.sweep_sizes for b in boards):
        missing.append(MissingFigure("mpjpe_vs_cameras", "MPJPE versus number of cameras",
                                     "results of a camera-sweep protocol (synth-panoptic-sweep)."))
    return figures, missing
