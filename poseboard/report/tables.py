"""The papers' tables as Markdown: ``report/tables/<name>.md``, one per table the benchmark covers.

Each table names the protocols that reproduce it (the synthetic stand-in and, with the real
data, the real protocol), the methods the paper reports, and the published numbers (from the
protocol definitions' ``paper`` anchors, or from this file where the anchor is not a
protocol's headline). A row has a "paper" column (number, dataset, source) and one
"poseboard" column per protocol with results; where the data differ (synthetic vs the
paper's dataset, a different metric definition) a note says so. Methods without results are
listed as "not run" — no row is ever invented — and a table whose protocol has no results yet
says what would fill it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from poseboard.report.model import Board, calibration_curves, dataset_label, metric_label


@dataclass(frozen=True)
class Published:
    """A published number not carried by a protocol's anchors."""

    value: float | None
    dataset: str
    source: str


@dataclass(frozen=True)
class TableRow:
    method: str
    label: str
    published: Published | None = None  # None: take the protocol's paper anchor


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    paper: str
    protocols: tuple[str, ...]  # protocol names, synthetic first
    rows: tuple[TableRow, ...]
    metric: str | None = None  # None: the protocol's headline
    sweep_size: int | None = None  # read the camera-sweep block of this size
    kind: str = "rows"  # rows | sweep | root | robustness | missing
    notes: tuple[str, ...] = ()
    needs: str = ""  # for kind == "missing": what would produce the results


_NOT_FOUND = "not found (the reference notes hold no published number)"

TABLES: tuple[PaperTable, ...] = (
    PaperTable(
        name="iskakov2019_relative_mpjpe",
        title="Multi-view Human3.6M, MPJPE relative to the pelvis (4 cameras)",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-h36m-relative", "human36m-relative"),
        rows=(TableRow("ransac", "RANSAC baseline"), TableRow("algebraic", "Algebraic (learnable weights)"),
              TableRow("volumetric", "Volumetric (softmax aggregation)")),
        notes=("Released models give 22.4 (algebraic) and 20.5 (volumetric) per the repository README.",),
    ),
    PaperTable(
        name="iskakov2019_absolute_mpjpe",
        title="Multi-view Human3.6M, absolute MPJPE (scenes with invalid ground truth excluded)",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-h36m-absolute", "human36m-absolute"),
        rows=(TableRow("ransac", "RANSAC baseline"), TableRow("algebraic", "Algebraic"),
              TableRow("volumetric", "Volumetric (softmax)")),
    ),
    PaperTable(
        name="iskakov2019_single_view",
        title="Single view (one camera), MPJPE relative to the pelvis",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-h36m-single-view", "human36m-single-view"),
        rows=(TableRow("volumetric", "Volumetric, one camera"),),
    ),
    PaperTable(
        name="iskakov2019_panoptic_4cam",
        title="CMU Panoptic-style rig, 4 cameras, MPJPE relative to the pelvis",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-panoptic-sweep", "panoptic-relative"),
        sweep_size=4,
        rows=(TableRow("ransac", "RANSAC baseline"), TableRow("algebraic", "Algebraic"),
              TableRow("volumetric", "Volumetric (softmax)")),
        notes=("The synthetic column is the 4-camera point of the dome's camera sweep "
               "(random 4-camera subsets, not the paper's fixed cameras).",),
    ),
    PaperTable(
        name="iskakov2019_mpjpe_vs_cameras",
        title="MPJPE versus number of cameras",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-panoptic-sweep", "panoptic-sweep"),
        kind="sweep",
        rows=(TableRow("ransac", "RANSAC baseline"), TableRow("algebraic", "Algebraic"),
              TableRow("volumetric", "Volumetric (softmax)")),
        notes=("The paper plots this curve; the only published points in the reference notes are the "
               "4-camera Panoptic numbers (RANSAC 39.5, algebraic 21.3, volumetric 13.7).",),
    ),
    PaperTable(
        name="he2020_epipolar_transformer",
        title="Triangulation alone versus + epipolar transformer (Human3.6M, MPJPE)",
        paper="He et al., Epipolar Transformers, CVPR 2020",
        protocols=("synth-h36m-absolute", "human36m-absolute"),
        rows=(
            TableRow("epipolar-baseline", "triangulate only (same backbone and schedule, no transformer)",
                     Published(45.3, "Human3.6M", "epipolar-transformers README (R-50 256², benchmark config)")),
            TableRow("epipolar", "+ epipolar transformer",
                     Published(33.1, "Human3.6M", "epipolar-transformers README (R-50 256², +ET)")),
        ),
        notes=("He et al.'s MPJPE is absolute (world frame) with each joint clipped at 150 mm, every 64th frame; "
               "the +ET number uses ground truth re-triangulated from 2D, the baseline mocap ground truth. "
               "poseboard scores both on the same frames and ground truth, without clipping.",),
    ),
    PaperTable(
        name="jiang2023_uncalibrated",
        title="Uncalibrated versus calibrated triangulation (reference-camera frame, MPJPE relative to the pelvis)",
        paper=("Jiang et al., Probabilistic Triangulation for Uncalibrated Multi-View 3D Human Pose Estimation, "
               "ICCV 2023"),
        protocols=("synth-h36m-uncalibrated", "synth-h36m-relative", "human36m-uncalibrated", "human36m-relative"),
        rows=(
            TableRow("probabilistic", "Probabilistic triangulation (no extrinsics)",
                     Published(None, "Human3.6M", _NOT_FOUND)),
            TableRow("algebraic", "Algebraic (true extrinsics)", Published(None, "Human3.6M", _NOT_FOUND)),
            TableRow("volumetric", "Volumetric (true extrinsics)", Published(None, "Human3.6M", _NOT_FOUND)),
            TableRow("ransac", "RANSAC (true extrinsics)", Published(None, "Human3.6M", _NOT_FOUND)),
        ),
        notes=("The uncalibrated protocol withholds the extrinsics, so the calibrated methods are scored under "
               "the calibrated relative protocol on the same test frames; MPJPE relative to the pelvis does not "
               "depend on the frame (world or reference camera) it is computed in, so the columns compare. The "
               "calibrated methods see the true extrinsics: an upper bound for the uncalibrated one.",),
    ),
    PaperTable(
        name="moon2019_rootnet",
        title="Root localisation: AP_root@25 cm and MRPE (x, y, z)",
        paper="Moon et al., Camera Distance-aware Top-down Approach for 3D Multi-person Pose Estimation, ICCV 2019",
        protocols=("synth-h36m-root", "synth-mupots-root", "mupots-root"),
        kind="root",
        rows=(TableRow("rootnet-h36m", "RootNet trained on the Human3.6M-like views"),
              TableRow("rootnet", "RootNet trained on the MuPoTS-like scenes")),
        notes=("Published: AP_root@25 31.0 on MuPoTS-3D (DetectNet boxes; RootNet trained on MuCo-3DHP + COCO); "
               "MRPE 120.0 mm (x 23.3, y 23.0, z 108.1) on Human3.6M protocol 2 (trained on Human3.6M + MPII), "
               "with the box setting unstated (3DMPPE_ROOTNET_RELEASE README; a reproduction got 97.15, issue "
               "#31). Each metric is read from the protocol of its paper's dataset: MRPE from `synth-h36m-root` "
               "(every view of the 4-camera rig alone, ground-truth boxes), AP_root from the MuPoTS-like "
               "protocols. `rootnet` under `synth-h36m-root` is a transfer (no fine-tuning on the rig's views): "
               "the paper has no such number.",),
    ),
    PaperTable(
        name="iskakov2019_transfer_panoptic_to_h36m",
        title="Transfer: trained on the dome rig, tested on the 4-camera rig without fine-tuning",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019 (CMU Panoptic → Human3.6M)",
        protocols=("synth-h36m-relative", "human36m-relative"),
        rows=(TableRow("algebraic", "Algebraic, trained on the 4-camera rig itself (no transfer)",
                       Published(None, "Human3.6M", _NOT_FOUND)),
              TableRow("algebraic-dome", "Algebraic, trained on the dome, no fine-tuning",
                       Published(None, "Human3.6M", _NOT_FOUND))),
        notes=("The paper scores the transfer on the six joints whose definitions agree between the two datasets "
               "(wrists, elbows, knees; root index 0); the synthetic world has one skeleton, so all 17 joints are "
               "scored. algebraic-dome starts from the shared 2D backbone, which was pre-trained on the 4-camera "
               "rig's crops: what transfers here is the method's own training (confidences, fine-tuned "
               "backbone), from 8 dome cameras to 4 unseen ones.",),
    ),
    PaperTable(
        name="poseboard_calibration_robustness",
        title="Robustness (not in the papers): MPJPE relative to the pelvis versus calibration error",
        paper="poseboard (no paper reports it)",
        protocols=("synth-h36m-calibration",),
        kind="robustness",
        rows=(),
        notes=("Each camera's extrinsics are off by the stated rotation (about a random axis) and centre "
               "displacement, one fixed error per camera whose size grows with the level "
               "(poseboard.protocols.perturb); the ground truth is exact. Every level is evaluated on the same "
               "frames (every 4th of the test set), the exact one included.",),
    ),
)

@dataclass(frozen=True)
class RootMetric:
    """One row group of the root table: a metric, its published value, and where it is read."""

    metric: str
    published: float
    dataset: str  # the paper's dataset for it
    protocols: tuple[str, ...]  # the protocols that reproduce it (synthetic first)
    method: str  # the table row (method variant) the published value belongs to


_H36M_ROOT = ("synth-h36m-root",)
_MUPOTS_ROOT = ("synth-mupots-root", "mupots-root")

#: Moon et al.'s numbers: AP_root on MuPoTS-3D, MRPE (x, y, z) on Human3.6M (README).
ROOT_METRICS: tuple[RootMetric, ...] = (
    RootMetric("mrpe", 120.0, "Human3.6M", _H36M_ROOT, "rootnet-h36m"),
    RootMetric("mrpe_x", 23.3, "Human3.6M", _H36M_ROOT, "rootnet-h36m"),
    RootMetric("mrpe_y", 23.0, "Human3.6M", _H36M_ROOT, "rootnet-h36m"),
    RootMetric("mrpe_z", 108.1, "Human3.6M", _H36M_ROOT, "rootnet-h36m"),
    RootMetric("ap_root", 31.0, "MuPoTS-3D", _MUPOTS_ROOT, "rootnet"),
)


def _fmt(value: float | None, ci: tuple[float, float] | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}"
    if ci is not None:
        text += f" [{ci[0]:.1f}, {ci[1]:.1f}]"
    return text


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def verdict_lines(board: Board) -> list[str]:
    """The board's ranking with each method's paired comparison with the next one down (the
    leaderboard's "vs next" column) and what the table can resolve, as Markdown lines."""
    if len(board.rows) < 2:
        return []
    unit = board.unit
    rows = []
    for row in board.rows:
        if row is board.rows[-1]:
            verdict, delta, p = "", "", ""
        elif row.vs_next is not None:
            c = row.vs_next
            verdict = "< sig." if row.differs_from_next else "≈ n.s."
            delta = f"{c.difference:+.1f} [{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}]"
            if row.vs_next_ci_with_seeds is not None:
                lo, hi = row.vs_next_ci_with_seeds
                delta += f"; with seed noise [{lo:+.1f}, {hi:+.1f}]"
            p = _p(row.vs_next_p_holm)
        else:
            verdict = {True: "< sig. (unpaired)", False: "≈ n.s. (unpaired)", None: "—"}[row.differs_from_next]
            delta, p = "paired test unavailable", "—"
        rows.append([str(row.rank), f"`{row.method}`", _fmt(row.value, row.ci95), delta, p, verdict])
    decided, pairs = board.decided
    lines = [f"Ranking under `{board.id}` ({metric_label(board.protocol.headline, board.protocol)}, {unit}) and "
             "each method against the next one down, paired (the same test sequences resampled for both; "
             "p-values Holm-corrected over the table's neighbour pairs):", ""]
    lines += _table(["#", "method", f"value ({unit})", f"vs next: Δ [95% CI] ({unit})", "p (Holm)", "verdict"], rows)
    lines.append("")
    text = f"Neighbours decided: {decided} of {pairs}."
    if board.all_pairs is not None:
        text += f" All pairs decided: {board.all_pairs[0]} of {board.all_pairs[1]} (Holm over all pairs)."
    if board.num_sequences:
        text += f" The paired tests resample {board.num_sequences} independent sequences"
        text += (f" and up to {board.seeds} training seeds per method." if board.seeds > 1
                 else " (one training seed per method: training noise is not in these intervals).")
    if board.detectable is not None:
        text += (f" Smallest difference this table detects at 80% power and α = {board.level:g}: "
                 f"{board.detectable:.1f} {unit} (median over its neighbour pairs).")
    spread = [r for r in board.rows if r.seed_sd is not None]
    if spread:
        text += " Training-seed SD: " + ", ".join(f"`{r.method}` {r.seed_sd:.1f}" for r in spread) + f" {unit}."
    floor = [r for r in board.rows if r.seed_floor_sd is not None]
    if floor:
        text += (" Noise floor, the training-seed SD measured once (`results/seed_spread.json`, docs/findings.md): "
                 + ", ".join(f"`{r.method}` {r.seed_floor_sd:.1f}" for r in floor) + f" {unit}; the verdicts add "
                 "the seed spread of each pair's difference (the methods' per-seed differences where both have "
                 "two seeds, else both SDs) to the paired variance, so a difference another seed could produce is "
                 "not a finding.")
    lines += [text, ""]
    return lines


@dataclass
class RenderedTable:
    name: str
    title: str
    markdown: str
    filled: bool  # at least one poseboard number
    missing_methods: list[str] = field(default_factory=list)


def render_table(spec: PaperTable, boards: dict[str, Board]) -> RenderedTable:
    """Markdown of one paper table from the boards keyed by protocol *name* (latest version)."""
    lines = [f"# {spec.title}", "", f"Paper: {spec.paper}.", ""]
    present = [boards[p] for p in spec.protocols if p in boards]
    filled = False
    missing: list[str] = []
    if spec.kind == "missing" or not present:
        why = spec.needs or (
            "no results yet for protocol(s) " + ", ".join(f"`{p}`" for p in spec.protocols)
            + ": add evaluations for them to params.yaml and run `dvc repro`."
        )
        lines += [f"**Not reproduced yet.** Needs {why}", ""]
        if spec.rows:
            lines += ["Methods the paper reports: " + ", ".join(f"{r.label} (`{r.method}`)" for r in spec.rows) + "."]
        lines += [""] + [f"Note: {n}" for n in spec.notes]
        return RenderedTable(spec.name, spec.title, "\n".join(lines).rstrip() + "\n", False,
                             [r.method for r in spec.rows])
    for board in present:
        p = board.protocol
        lines.append(f"- `{p.id}`: {p.title} — data: {dataset_label(p.dataset)}.")
    lines.append("")
    if spec.kind == "sweep":
        for board in present:
            curves = board.sweep()
            sizes = board.sweep_sizes
            header = ["method", *[f"{n} cam" for n in sizes]]
            rows = []
            methods = [r.method for r in spec.rows] + sorted(set(curves) - {r.method for r in spec.rows})
            for m in methods:
                if m not in curves:
                    missing.append(m)
                    continue
                rows.append([f"`{m}`", *[_fmt(curves[m][n][0]) if n in curves[m] else "—" for n in sizes]])
            lines += [f"## `{board.id}` ({metric_label(board.protocol.headline, board.protocol)}, {board.unit})", ""]
            lines += _table(header, rows) if rows else ["No method has results under this protocol yet."]
            lines.append("")
            filled |= bool(rows)
    elif spec.kind == "robustness":
        levels, curves = calibration_curves(boards)
        header = ["method", *[("exact" if rot == 0 and trans == 0 else f"{rot:g}° / {trans:g} mm")
                              for rot, trans in levels]]
        rows = []
        for m, points in curves.items():
            by_level = {(rot, trans): (v, ci) for rot, trans, v, ci in points}
            rows.append([f"`{m}`", *[_fmt(*by_level[lv]) if lv in by_level else "—" for lv in levels]])
        lines += _table(header, rows) if rows else ["No method has results under these protocols yet."]
        lines += ["", f"Values: {metric_label(present[0].protocol.headline, present[0].protocol)} in "
                  f"{present[0].unit}, with their 95% sequence-bootstrap interval."]
        filled = bool(rows)
    elif spec.kind == "root":
        rows, unreproduced = _root_rows(spec, {b.protocol.name: b for b in present}, missing)
        if rows:
            lines += _table(["method", "metric", "paper", "paper's dataset", "poseboard", "protocol"], rows)
            lines += ["", "Values in mm (MRPE) and % (AP_root), poseboard numbers with their 95% "
                      "sequence-bootstrap interval where the scorer gives one."]
        for group, protocols in unreproduced:
            lines.append(f"{group}: not reproduced yet — no results under "
                         + ", ".join(f"`{p}`" for p in protocols) + ".")
        filled = bool(rows)
    else:
        header = ["method", "paper", "paper's dataset", "source"] + [
            f"poseboard `{b.id}`" + (f" ({spec.sweep_size} cameras)" if spec.sweep_size else "") for b in present
        ]
        rows = []
        listed = {r.method for r in spec.rows}
        extra = sorted({r.method for b in present for r in b.rows} - listed)
        for tr in [*spec.rows, *(TableRow(m, m, Published(None, "—", "not in the paper")) for m in extra)]:
            cells, any_value = [], False
            for b in present:
                row = next((r for r in b.rows if r.method == tr.method), None)
                value, ci = None, None
                if row is not None:
                    if spec.sweep_size is not None and row.result.metrics.sweep:
                        point = b.sweep().get(tr.method, {}).get(spec.sweep_size)
                        value, ci = (point if point else (None, None))
                    elif spec.sweep_size is None or not row.result.metrics.sweep:
                        value, ci = row.value, row.ci95
                any_value |= value is not None
                cells.append(_fmt(value, ci) if row is not None else "not run")
            if tr.published is not None:
                pub = tr.published
            else:
                anchor = next((a for b in present for a in b.protocol.paper if a.method == tr.method), None)
                pub = (Published(anchor.value, anchor.dataset, anchor.source) if anchor
                       else Published(None, "—", _NOT_FOUND))
            if not any_value:
                missing.append(tr.method)
            rows.append([f"{tr.label} (`{tr.method}`)" if tr.label != tr.method else f"`{tr.method}`",
                         _fmt(pub.value), pub.dataset, pub.source, *cells])
            filled |= any_value
        lines += _table(header, rows)
        lines.append("")
        metric = spec.metric or present[0].protocol.headline
        lines.append(f"Values: {metric_label(metric, present[0].protocol)} in {present[0].unit}, "
                     "poseboard numbers with their 95% sequence-bootstrap interval.")
    lines.append("")
    for board in present:
        lines += verdict_lines(board)
    synthetic = [b.id for b in present if b.protocol.dataset.startswith("synth-")]
    if synthetic:
        lines.append("Note: the data differ — the paper's numbers come from the real dataset, poseboard's "
                     f"`{'`, `'.join(synthetic)}` from its synthetic stand-in; compare rankings and gaps, not values.")
    if missing:
        lines.append(f"Not run yet (no result file): {', '.join(f'`{m}`' for m in dict.fromkeys(missing))}.")
    lines += [f"Note: {n}" for n in spec.notes]
    return RenderedTable(spec.name, spec.title, "\n".join(lines).rstrip() + "\n", filled, list(dict.fromkeys(missing)))


def _root_rows(spec: PaperTable, boards: dict[str, Board],
               missing: list[str]) -> tuple[list[list[str]], list[tuple[str, tuple[str, ...]]]]:
    """Rows of the root table: per method, each metric of :data:`ROOT_METRICS` from each
    present protocol that reproduces it (MRPE from the Human3.6M-like one, AP_root from the
    MuPoTS-like ones), the published value beside the variant the paper's number belongs to.
    Also the metric groups no present protocol covers (label, protocols), and the methods
    without a result go to ``missing``."""
    listed = {r.method for r in spec.rows}
    extra = sorted({r.method for b in boards.values() for r in b.rows} - listed)
    rows: list[list[str]] = []
    for tr in [*spec.rows, *(TableRow(m, m) for m in extra)]:
        before = len(rows)
        label = f"`{tr.method}`" if tr.label == tr.method else f"{tr.label} (`{tr.method}`)"
        for rm in ROOT_METRICS:
            for name in rm.protocols:
                board = boards.get(name)
                row = None if board is None else next((r for r in board.rows if r.method == tr.method), None)
                value = None if row is None else row.metrics.get(rm.metric)
                if row is None or value is None:
                    continue
                ci = row.result.metrics.main.ci95.get(rm.metric)
                paper = ((_fmt(rm.published), rm.dataset) if tr.method == rm.method
                         else ("—", "not in the paper"))
                rows.append([label, metric_label(rm.metric), *paper,
                             _fmt(value, tuple(ci) if ci is not None else None), f"`{board.id}`"])
        if len(rows) == before:
            missing.append(tr.method)
    groups = {"MRPE (x, y, z)": _H36M_ROOT, "AP_root@25": _MUPOTS_ROOT}
    unreproduced = [(label, protocols) for label, protocols in groups.items()
                    if not any(p in boards for p in protocols)]
    return rows, unreproduced


def latest_boards(boards: list[Board]) -> dict[str, Board]:
    """Protocol name → the board of its highest version with results."""
    out: dict[str, Board] = {}
    for b in boards:
        cur = out.get(b.protocol.name)
        if cur is None or b.protocol.version > cur.protocol.version:
            out[b.protocol.name] = b
    return out


def render_tables(boards: list[Board]) -> list[RenderedTable]:
    latest = latest_boards(boards)
    return [render_table(spec, latest) for spec in TABLES]
