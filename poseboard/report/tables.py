"""The papers' tables as Markdown: ``report/tables/<name>.md``, one per table the benchmark covers.

Each table names the protocols that reproduce it (the synthetic stand-in and, with the real
data, the real protocol), the methods the paper reports, and the published numbers (from the
protocol definitions' ``paper`` anchors, or from this file where the anchor is not a
protocol's headline). A row has a "paper" column (number, dataset, source) and one
"poseboard" column per protocol with results; where the data differ (synthetic vs the
paper's dataset, a different metric definition) a note says so. Methods without results are
listed as "not run" — no row is ever invented — and a table whose protocol has no results yet
says what would fill it.

Below the main table, "Published numbers" lists every published number of the table's rows
(other settings, the code README's own figures) and of uncalibrated or otherwise related
peers poseboard does not run, each with its source and whether it is the paper's or a code
README's. "Claims" tests each ordering the paper claims on the table's boards
(:class:`Claim`), with the boards' own comparisons (:func:`~poseboard.report.model.compare_rows`:
paired, with the measured seed noise, Holm-corrected over the table's claims); the tables'
index (``README.md``) gives each table's status from those verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from poseboard.comparison.paired import holm
from poseboard.report.causes import cause_text
from poseboard.report.model import (
    Board,
    RowComparison,
    calibration_curves,
    compare_rows,
    dataset_label,
    interval_comparison,
    metric_label,
)

Origin = Literal["paper", "code README"]


@dataclass(frozen=True)
class Published:
    """A published number: the row's headline when not carried by a protocol's anchors, or
    one more number of the row (another setting, a code README's figure) or of a peer."""

    value: float | None
    dataset: str
    source: str
    setting: str = ""  # what was run, where it differs from the row (backbone, data, joints, metric)
    origin: Origin = "paper"  # the paper's own number, or one a code repository's README reports
    decimals: int = 1  # as the source prints it (Iskakov et al.'s transfer: 36 mm; a README: 26.10)


@dataclass(frozen=True)
class TableRow:
    method: str
    label: str
    published: Published | None = None  # None: take the protocol's paper anchor
    also: tuple[Published, ...] = ()  # further published numbers of this row


@dataclass(frozen=True)
class Peer:
    """A published method poseboard does not run, printed with its numbers beside the rows."""

    label: str
    numbers: tuple[Published, ...]


@dataclass(frozen=True)
class Claim:
    """An ordering a paper claims, tested on each of the table's boards with results.

    ``kind``: ``better`` (``better`` has the lower error than ``worse``), ``comparable``
    (``better`` is not significantly worse than ``worse``: the uncalibrated method against a
    calibrated one, across the two protocols on the same frames), ``falls`` (``better``'s error
    at the most cameras of the sweep is below its error at the fewest) or ``dominant``
    (metric ``better`` exceeds each of ``worse``'s comma-separated metrics for ``method``)."""

    text: str
    paper: str  # the paper's numbers behind it
    better: str
    worse: str = ""
    kind: Literal["better", "comparable", "falls", "dominant"] = "better"
    method: str = ""  # kind == "dominant": the row whose metrics are compared
    protocols: tuple[str, ...] = ()  # the protocols to test it on (default: the table's)


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
    peers: tuple[Peer, ...] = ()
    claims: tuple[Claim, ...] = ()
    no_claim: str = ""  # why the table tests no ordering (printed as its status)


_ISKAKOV = "Iskakov et al. 2019, paper"
_LT_README = "learnable-triangulation README"
_HE_README = "epipolar-transformers README"
_NOT_ON_JOINTS = "not published for these joints"
_NOT_FOUND = "not found (the reference notes hold no published number)"

TABLES: tuple[PaperTable, ...] = (
    PaperTable(
        name="iskakov2019_relative_mpjpe",
        title="Multi-view Human3.6M, MPJPE relative to the pelvis (4 cameras)",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-h36m-relative", "human36m-relative"),
        rows=(TableRow("ransac", "RANSAC baseline"),
              TableRow("algebraic", "Algebraic (learnable weights)", also=(
                  Published(22.4, "Human3.6M", f"{_LT_README}, results table", origin="code README"),
                  Published(22.5, "Human3.6M", f"{_LT_README}, model zoo", "the released weights",
                            origin="code README"))),
              TableRow("volumetric", "Volumetric (softmax aggregation)", also=(
                  Published(20.5, "Human3.6M", f"{_LT_README}, results table", origin="code README"),
                  Published(20.4, "Human3.6M", f"{_LT_README}, model zoo", "the released weights",
                            origin="code README")))),
        claims=(Claim("algebraic has a lower error than RANSAC", "22.6 < 27.4 mm", "algebraic", "ransac"),
                Claim("volumetric has a lower error than algebraic", "20.8 < 22.6 mm", "volumetric", "algebraic")),
    ),
    PaperTable(
        name="iskakov2019_absolute_mpjpe",
        title="Multi-view Human3.6M, absolute MPJPE (scenes with invalid ground truth excluded)",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-h36m-absolute", "human36m-absolute"),
        rows=(TableRow("ransac", "RANSAC baseline"), TableRow("algebraic", "Algebraic"),
              TableRow("volumetric", "Volumetric (softmax)")),
        claims=(Claim("algebraic has a lower error than RANSAC", "19.2 < 22.8 mm", "algebraic", "ransac"),
                Claim("volumetric has a lower error than algebraic", "17.7 < 19.2 mm", "volumetric", "algebraic")),
    ),
    PaperTable(
        name="iskakov2019_single_view",
        title="Single view (one camera), MPJPE relative to the pelvis",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019",
        protocols=("synth-h36m-single-view", "human36m-single-view"),
        rows=(TableRow("volumetric", "Volumetric, one camera"),),
        no_claim="the paper reports a level (49.9 mm, on a par with single-view methods), not an ordering",
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
        claims=(Claim("algebraic has a lower error than RANSAC", "21.3 < 39.5 mm", "algebraic", "ransac"),
                Claim("volumetric has a lower error than algebraic", "13.7 < 21.3 mm", "volumetric", "algebraic")),
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
        claims=tuple(Claim(f"{m}'s error falls as cameras are added", "the paper's plot", m, kind="falls")
                     for m in ("ransac", "algebraic", "volumetric")),
    ),
    PaperTable(
        name="he2020_epipolar_transformer",
        title="Triangulation alone versus + epipolar transformer (Human3.6M, MPJPE)",
        paper="He et al., Epipolar Transformers, CVPR 2020",
        protocols=("synth-h36m-absolute", "human36m-absolute"),
        rows=(
            TableRow("epipolar-baseline", "triangulate only (same backbone and schedule, no transformer)",
                     Published(45.3, "Human3.6M", f"{_HE_README} (R-50 256², benchmark config)",
                               "ResNet-50 at 256², ImageNet initialisation", "code README")),
            TableRow("epipolar", "+ epipolar transformer",
                     Published(33.1, "Human3.6M", f"{_HE_README} (R-50 256², +ET)",
                               "ResNet-50 at 256², ImageNet initialisation", "code README"),
                     also=(Published(30.4, "Human3.6M", f"{_HE_README} (R-50 256², +ET, augmentation)",
                                     "ResNet-50 at 256², with scale and rotation augmentation", "code README"),
                           Published(19.0, "Human3.6M", f"{_HE_README} (R-152 384², +ET, extra data)",
                                     "ResNet-152 at 384², initialised from a COCO + MPII + Human3.6M model, "
                                     "RANSAC triangulation (keypoint_h36m_resnet152_384_pretrained_8gpu.yaml)",
                                     "code README"),
                           Published(26.9, "Human3.6M", "He et al. 2020, paper (abstract)"))),
        ),
        notes=("He et al.'s MPJPE is absolute (world frame) with each joint clipped at 150 mm, every 64th frame; "
               "the +ET number uses ground truth re-triangulated from 2D, the baseline mocap ground truth. "
               "poseboard scores both on the same frames and ground truth, without clipping.",
               "The paper profile trains both rows as the 45.3 / 33.1 configurations (ResNet-50 at 256², the "
               "reference schedules in epochs of the Human3.6M training set: params.yaml); 30.4, 19.0 and 26.9 "
               "are other experiments.",),
        claims=(Claim("the epipolar transformer lowers the error of triangulation alone", "33.1 < 45.3 mm",
                      "epipolar", "epipolar-baseline"),),
    ),
    PaperTable(
        name="jiang2023_uncalibrated",
        title="Uncalibrated versus calibrated triangulation (reference-camera frame, MPJPE relative to the pelvis)",
        paper=("Jiang et al., Probabilistic Triangulation for Uncalibrated Multi-View 3D Human Pose Estimation, "
               "ICCV 2023"),
        protocols=("synth-h36m-uncalibrated", "synth-h36m-relative", "human36m-uncalibrated", "human36m-relative"),
        rows=(
            TableRow("probabilistic", "Probabilistic triangulation (no extrinsics)",
                     Published(None, "Human3.6M", "Jiang et al. 2023, paper: Human3.6M table, not transcribed here"),
                     also=(Published(None, "CMU Panoptic",
                                     "Jiang et al. 2023, paper: CMU Panoptic table, not transcribed here"),
                           Published(26.10, "Human3.6M", "probabilistic_triangulation README (`infer3d.py`, x3d/l2)",
                                     "the V2 code (MobileOne backbone), not the paper's method; its metric does not "
                                     "re-centre the prediction on its own pelvis, and its test-time crops are "
                                     "randomly augmented (scale, shift, colour)", "code README", 2))),
            TableRow("algebraic", "Algebraic (true extrinsics)",
                     Published(22.6, "Human3.6M", f"{_ISKAKOV} (calibrated)")),
            TableRow("volumetric", "Volumetric (true extrinsics)",
                     Published(20.8, "Human3.6M", f"{_ISKAKOV} (calibrated)")),
            TableRow("ransac", "RANSAC (true extrinsics)",
                     Published(27.4, "Human3.6M", f"Iskakov et al. 2019, {_LT_README} (calibrated)",
                               origin="code README")),
        ),
        peers=(Peer("Bartol et al., Generalizable Human Pose Triangulation, CVPR 2022 (uncalibrated)", (
            Published(29.1, "Human3.6M", "Bartol et al. 2022, paper"),
            Published(25.6, "CMU Panoptic", "Bartol et al. 2022, paper"),
            Published(31.0, "Human3.6M", "Bartol et al. 2022, paper", "trained on CMU Panoptic"))),),
        notes=("The uncalibrated protocol withholds the extrinsics, so the calibrated methods are scored under "
               "the calibrated relative protocol on the same test frames; MPJPE relative to the pelvis does not "
               "depend on the frame (world or reference camera) it is computed in, so the columns compare. The "
               "calibrated methods see the true extrinsics: an upper bound for the uncalibrated one.",),
        claims=(Claim("uncalibrated probabilistic triangulation is comparable to calibrated algebraic "
                      "triangulation", "its Human3.6M and CMU Panoptic tables, not transcribed here",
                      "probabilistic", "algebraic",
                      kind="comparable"),),
    ),
    PaperTable(
        name="moon2019_rootnet",
        title="Root localisation: AP_root@25 cm and MRPE (x, y, z)",
        paper="Moon et al., Camera Distance-aware Top-down Approach for 3D Multi-person Pose Estimation, ICCV 2019",
        protocols=("synth-h36m-root", "human36m-root", "synth-mupots-root", "mupots-root"),
        kind="root",
        rows=(TableRow("rootnet-h36m", "RootNet trained on the Human3.6M-like views"),
              TableRow("rootnet", "RootNet trained on the MuPoTS-like scenes"),
              TableRow("rootnet-k-only", "k value alone (γ = 1, the box-area prior; nothing learned)")),
        notes=("Published: AP_root@25 31.0 on MuPoTS-3D (DetectNet boxes; RootNet trained on MuCo-3DHP + COCO); "
               "MRPE 120.0 mm (x 23.3, y 23.0, z 108.1) on Human3.6M protocol 2 (trained on Human3.6M + MPII), "
               "with the box setting unstated (3DMPPE_ROOTNET_RELEASE README; a reproduction got 97.15, issue "
               "#31). Each metric is read from the protocol of its paper's dataset: MRPE from `synth-h36m-root` "
               "(every view of the 4-camera rig alone, ground-truth boxes), AP_root from the MuPoTS-like "
               "protocols. `rootnet` under `synth-h36m-root` is a transfer (no fine-tuning on the rig's views): "
               "the paper has no such number.",),
        claims=(Claim("depth dominates the root error (MRPE z above x and y)", "z 108.1 vs x 23.3, y 23.0 mm",
                      "mrpe_z", "mrpe_x,mrpe_y", kind="dominant", method="rootnet-h36m",
                      protocols=("synth-h36m-root",)),),
    ),
    PaperTable(
        name="iskakov2019_transfer_panoptic_to_h36m",
        title="Transfer: trained on the dome rig, tested on the 4-camera rig without fine-tuning",
        paper="Iskakov et al., Learnable Triangulation of Human Pose, ICCV 2019 (CMU Panoptic → Human3.6M)",
        protocols=("synth-h36m-relative", "human36m-relative"),
        rows=(TableRow("algebraic", "Algebraic, trained on the 4-camera rig itself (no transfer)",
                       Published(None, "Human3.6M", _NOT_ON_JOINTS,
                                 "22.6 over all 17 joints (iskakov2019_relative_mpjpe)")),
              TableRow("algebraic-dome", "Algebraic, trained on the dome, no fine-tuning",
                       Published(36, "Human3.6M", f"{_ISKAKOV} (transfer)",
                                 "trained on CMU Panoptic; elbows, wrists and knees only", decimals=0)),
              TableRow("volumetric-dome", "Volumetric, trained on the dome, no fine-tuning",
                       Published(34, "Human3.6M", f"{_ISKAKOV} (transfer)",
                                 "trained on CMU Panoptic; elbows, wrists and knees only", decimals=0))),
        notes=("The paper scores the transfer on the six joints whose definitions agree between the two datasets "
               "(wrists, elbows, knees; root index 0); the synthetic world has one skeleton, so all 17 joints are "
               "scored. algebraic-dome starts from the shared 2D backbone, which was pre-trained on the 4-camera "
               "rig's crops: what transfers here is the method's own training (confidences, fine-tuned "
               "backbone), from 8 dome cameras to 4 unseen ones.",),
        no_claim="the paper reports levels (36 and 34 mm after transfer) and no number on these joints "
                 "without transfer, so no ordering",
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
        no_claim="not a paper's table",
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


_H36M_ROOT = ("synth-h36m-root", "human36m-root")
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


def _fmt_published(pub: Published) -> str:
    """A published number with the decimals its source prints."""
    return "—" if pub.value is None else f"{pub.value:.{pub.decimals}f}"


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


def _seed_means_note(boards: list[Board]) -> str:
    """The end of a table's "Values:" sentence: which cells are means over training seeds."""
    averaged = sorted({(r.method, len(r.replicates)) for b in boards for r in b.rows if r.averaged})
    if not averaged:
        return "."
    return ("; " + ", ".join(f"`{m}`" for m, _ in averaged) + " are means over "
            + "/".join(sorted({str(k) for _, k in averaged})) + " training seeds (`results/seed-<k>/`), their "
            "intervals with the seeds' variance of the mean added (Student's t).")


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
        text += (f"; a row averaged over training seeds (up to {board.seeds}) adds the seed variance of its mean "
                 "(the per-seed differences' variance over their number where both rows have the same seeds), "
                 "with Student's t at the Welch–Satterthwaite degrees of freedom (seeds − 1 for the seeds' part)."
                 if board.seeds > 1 else " (one training seed per method: training noise is not in these intervals).")
    if board.detectable is not None:
        text += (f" Smallest difference this table detects at 80% power and α = {board.level:g}: "
                 f"{board.detectable:.1f} {unit} (median over its neighbour pairs).")
    spread = [r for r in board.rows if r.seed_sd is not None]
    if spread:
        text += " Training-seed SD: " + ", ".join(f"`{r.method}` {r.seed_sd:.1f}" for r in spread) + f" {unit}."
    floor = [r for r in board.rows if r.seed_floor_sd is not None]
    if floor:
        where = (f" on an earlier board (`{board.seed_floor_from}`; this board's replicates have not run)"
                 if board.seed_floor_from else "")
        text += (f" Noise floor, the training-seed SD measured once{where} (`results/seed_spread.json`, "
                 "docs/statistics.md): " + ", ".join(f"`{r.method}` {r.seed_floor_sd:.1f}" for r in floor)
                 + f" {unit}; the verdicts add "
                 "the seed spread of each pair's difference (the methods' per-seed differences where both have "
                 "two seeds, else both SDs) to the paired variance, with Student's t at the Welch–Satterthwaite "
                 "degrees of freedom (a variance from n seeds has n − 1), so a difference another seed could "
                 "produce is not a finding.")
    left_out = [f"`{r.method}` {why}" for r in board.rows for why in r.replicates_left_out]
    if left_out:
        text += (" Seed replicates left out (not scored on the same task as the row's own run, so not seeds of it): "
                 + "; ".join(left_out) + ".")
    lines += [text, ""]
    return lines


@dataclass(frozen=True)
class ClaimVerdict:
    """One claim tested on one dataset's boards (synthetic or real)."""

    claim: Claim
    where: str  # the protocol id(s) it was tested under ("" when no board has the rows)
    verdict: str  # holds | reversed | does not hold | not shown | not run
    evidence: str  # the difference, its interval and test, in words
    cause: str = ""  # where it does not hold: its measured cause (poseboard.report.causes)

    @property
    def head(self) -> str:
        """The claim in a few words (``volumetric < algebraic``): its key in the causes file."""
        c = self.claim
        return {"better": f"{c.better} < {c.worse}", "comparable": f"{c.better} ≈ {c.worse}",
                "falls": f"{c.better} falls with cameras",
                "dominant": f"{c.better} > {c.worse.replace(',', ', ')}"}[c.kind]

    @property
    def short(self) -> str:
        """``claim: verdict`` in a few words, and the measured cause where it fails, for the
        tables' index."""
        return (f"{self.head}: {self.verdict}" + (f" ({self.where})" if self.where else "")
                + (f"; {self.cause}" if self.cause else ""))


@dataclass
class RenderedTable:
    name: str
    title: str
    markdown: str
    filled: bool  # at least one poseboard number
    missing_methods: list[str] = field(default_factory=list)
    claims: list[ClaimVerdict] = field(default_factory=list)
    no_claim: str = ""  # why the table tests no claim

    @property
    def status(self) -> str:
        """The tables' index status: per claim whether it holds on these results, not only that
        results exist."""
        if not self.filled:
            return "not yet (no results)"
        if self.claims:
            text = "; ".join(v.short for v in self.claims)
        else:
            text = "results; " + (self.no_claim or "no claim to test")
        if self.missing_methods:
            text += " (not run: " + ", ".join(self.missing_methods) + ")"
        return text


def _anchor_of(method: str, present: list[Board]) -> Published | None:
    anchor = next((a for b in present for a in b.protocol.paper if a.method == method), None)
    if anchor is None:
        return None
    return Published(anchor.value, anchor.dataset, anchor.source,
                     origin="code README" if "README" in anchor.source else "paper")


def published_lines(spec: PaperTable, present: list[Board]) -> list[str]:
    """Every published number of the table's rows and peers, with its source and origin."""
    rows: list[list[str]] = []
    for tr in spec.rows:
        label = f"{tr.label} (`{tr.method}`)"
        head = tr.published if tr.published is not None else _anchor_of(tr.method, present)
        for pub in ([head] if head is not None else []) + list(tr.also):
            value = "not transcribed" if pub.value is None and "not transcribed" in pub.source else "—"
            rows.append([label, value if pub.value is None else _fmt_published(pub), pub.dataset,
                         pub.setting or "—", pub.source, pub.origin])
    for peer in spec.peers:
        for pub in peer.numbers:
            rows.append([f"{peer.label} (not run here)", _fmt_published(pub), pub.dataset, pub.setting or "—",
                         pub.source, pub.origin])
    if not rows:
        return []
    return ["## Published numbers", "",
            "Every published number of these rows we know of, with its source; \"paper\" marks the paper's own "
            "numbers, \"code README\" those a code repository's README reports (docs/findings/paper-claims.md).", "",
            *_table(["row", "value", "dataset", "setting", "source", "from"], rows), ""]


def _claim_comparison(claim: Claim, spec: PaperTable, group: list[Board]) -> tuple[str, RowComparison | None, str]:
    """(where, comparison, unit) of one ``better`` / ``comparable`` / ``falls`` claim on one
    dataset's boards; comparison None with where "" when the rows are missing."""
    if claim.kind == "falls":
        for board in group:
            points = list(board.sweep().get(claim.better, {}).values())  # by number of cameras
            if len(points) >= 2:
                (v0, c0), (v1, c1) = points[0], points[-1]
                return board.id, interval_comparison(v1, c1, v0, c0), board.unit
        return "", None, ""
    better = next(((b, r) for b in group for r in b.rows if r.method == claim.better), None)
    worse = next(((b, r) for b in group for r in b.rows if r.method == claim.worse), None)
    if better is None or worse is None:
        return "", None, ""
    (ba, ra), (bb, rb) = better, worse
    if ba is bb:
        point = str(spec.sweep_size) if spec.sweep_size is not None and ra.result.metrics.sweep else None
        return ba.id, compare_rows(ra, rb, point=point), ba.unit
    return f"{ba.id} vs {bb.id}", interval_comparison(ra.value, ra.ci95, rb.value, rb.ci95), ba.unit


def evaluate_claims(spec: PaperTable, present: list[Board]) -> list[ClaimVerdict]:
    """Each of the table's claims on each dataset's boards (the synthetic stand-in, the real
    data), with the boards' own tests, Holm-corrected over the table's claims."""
    groups: dict[str, list[Board]] = {}
    for b in present:
        groups.setdefault(b.protocol.dataset, []).append(b)
    tested: list[tuple[Claim, str, RowComparison | None, str, float]] = []
    out_of_order: list[ClaimVerdict] = []
    for claim in spec.claims:
        for group in groups.values():
            boards = [b for b in group if b.protocol.name in (claim.protocols or spec.protocols)]
            if not boards:
                continue
            if claim.kind == "dominant":
                out_of_order.append(_dominant(claim, boards))
                continue
            where, comparison, unit = _claim_comparison(claim, spec, boards)
            tested.append((claim, where, comparison, unit, boards[0].level))
    p_values = [c.p_value for _, _, c, _, _ in tested if c is not None]
    adjusted = iter(holm(p_values)) if p_values else iter(())
    verdicts: list[ClaimVerdict] = []
    for claim, where, c, unit, level in tested:
        if c is None:
            why = "no result for both rows" if not where else "no interval to test with"
            verdicts.append(ClaimVerdict(claim, where, "not run" if not where else "not tested", why))
            continue
        p = next(adjusted)
        lower = c.difference < 0
        if claim.kind == "comparable":
            verdict = ("holds: no significant difference" if p >= level
                       else "holds: lower" if lower else "does not hold: significantly higher")
        else:
            verdict = "not shown: no significant difference" if p >= level else "holds" if lower else "reversed"
        what = (f"{claim.better} at the most cameras − at the fewest" if claim.kind == "falls"
                else f"{claim.better} − {claim.worse}")
        test = {"intervals": "unpaired, from the two 95% intervals"}.get(c.test, c.test)
        evidence = (f"{what} = {c.difference:+.1f} [{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}] {unit}, "
                    f"p (Holm over the table's claims) {_p(p)}, {test}")
        verdicts.append(ClaimVerdict(claim, where, verdict, evidence))
    return verdicts + out_of_order


def _dominant(claim: Claim, boards: list[Board]) -> ClaimVerdict:
    """Metric ``claim.better`` above each of ``claim.worse``'s for ``claim.method``, by value
    (the root scorer gives no interval for the x, y and z components)."""
    for board in boards:
        row = next((r for r in board.rows if r.method == claim.method), None)
        if row is None or claim.better not in row.metrics:
            continue
        top = row.metrics[claim.better]
        others = {m: row.metrics[m] for m in claim.worse.split(",") if m in row.metrics}
        if not others:
            continue
        above = all(top > v for v in others.values())
        parts = ", ".join(f"{metric_label(m)} {v:.1f}" for m, v in others.items())
        evidence = (f"`{claim.method}`: {metric_label(claim.better)} {top:.1f} against {parts} {board.unit} "
                    "(by value: the scorer gives no interval for the components)")
        return ClaimVerdict(claim, board.id, "holds" if above else "does not hold", evidence)
    return ClaimVerdict(claim, "", "not run", f"no result of `{claim.method}`")


def claim_lines(spec: PaperTable, verdicts: list[ClaimVerdict]) -> list[str]:
    if not spec.claims:
        return (["## Claims", "", f"None tested: {spec.no_claim}.", ""] if spec.no_claim else [])
    lines = ["## Claims", "", "Each ordering the paper claims, tested on these results (lower error is better; "
             "p-values Holm-corrected over the table's claims):", ""]
    for v in verdicts:
        where = " under " + " vs ".join(f"`{w}`" for w in v.where.split(" vs ")) if v.where else ""
        cause = f" {v.cause[0].upper()}{v.cause[1:]}." if v.cause else ""
        lines.append(f"- {v.claim.text} (paper: {v.claim.paper}): **{v.verdict}**{where}. {v.evidence}.{cause}")
    return lines + [""]


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
        lines += ["", *published_lines(spec, present)] + [f"Note: {n}" for n in spec.notes]
        return RenderedTable(spec.name, spec.title, "\n".join(lines).rstrip() + "\n", False,
                             [r.method for r in spec.rows], no_claim=spec.no_claim)
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
                         _fmt_published(pub), pub.dataset, pub.source, *cells])
            filled |= any_value
        lines += _table(header, rows)
        lines.append("")
        metric = spec.metric or present[0].protocol.headline
        lines.append(f"Values: {metric_label(metric, present[0].protocol)} in {present[0].unit}, "
                     "poseboard numbers with their 95% sequence-bootstrap interval" + _seed_means_note(present))
    lines.append("")
    lines += published_lines(spec, present)
    claims = [replace(v, cause=cause_text(v.head, v.verdict)) for v in evaluate_claims(spec, present)] if filled else []
    lines += claim_lines(spec, claims)
    for board in present:
        lines += verdict_lines(board)
    synthetic = [b.id for b in present if b.protocol.dataset.startswith("synth-")]
    if synthetic:
        lines.append("Note: the data differ — the paper's numbers come from the real dataset, poseboard's "
                     f"`{'`, `'.join(synthetic)}` from its synthetic stand-in; compare rankings and gaps, not values.")
    if missing:
        lines.append(f"Not run yet (no result file): {', '.join(f'`{m}`' for m in dict.fromkeys(missing))}.")
    lines += [f"Note: {n}" for n in spec.notes]
    return RenderedTable(spec.name, spec.title, "\n".join(lines).rstrip() + "\n", filled,
                         list(dict.fromkeys(missing)), claims, spec.no_claim)


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
                if row.averaged:  # a seed mean: its own interval, for the headline only
                    ci = row.ci95 if rm.metric == row.result.metrics.headline else None
                else:
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
