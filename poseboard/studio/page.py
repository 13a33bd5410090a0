"""The studio's page (self-contained HTML in the leaderboard's style), its Markdown twin and a
JSON summary, from :class:`~poseboard.studio.analysis.StudioBoard` records and the run's facts.

The page is a list of :class:`Section` (a title, sentences, tables of plain strings) rendered
twice, once as Markdown and once through ``templates/studio.html.j2`` with the leaderboard's own
CSS (``poseboard/report/templates/style.css``): the two say the same numbers. Jinja autoescapes
every string (method and camera names come from the user's files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from poseboard.comparison.rank_agreement import HeadlineChange
from poseboard.io import atomic_write_text
from poseboard.studio.analysis import PairLine, StudioBoard

_DASH = "—"


@dataclass
class Table:
    """A table of strings: a header and rows of the same length."""

    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """One part of the page: ``title``, then ``sentences`` (Markdown-light: backticks for code,
    ``**`` for bold, stripped in HTML), then ``tables`` with their captions."""

    title: str
    anchor: str
    sentences: list[str] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _ci(ci: tuple[float, float] | None) -> str:
    return _DASH if ci is None else f"[{ci[0]:.1f}, {ci[1]:.1f}]"


def _num(v: float | None, digits: int = 1) -> str:
    return _DASH if v is None else f"{v:.{digits}f}"


def _change(c: HeadlineChange | None) -> str:
    if c is None:
        return _DASH
    pct = "" if c.percent is None else f" ({c.percent:+.1f} %)"
    return f"{c.difference:+.1f} [{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}]{pct}, {c.test}"


def _p(p: float | None) -> str:
    return _DASH if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _pair(p: PairLine) -> list[str]:
    c = p.comparison
    return [f"{p.a} − {p.b}", f"{c.difference:+.1f}", f"[{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}]", _p(p.p_holm),
            "decided" if p.decided else "not decided"]


def board_sections(b: StudioBoard) -> list[Section]:
    """The sections of one studio protocol: ranking with the board change, pairs, agreement,
    per joint, per camera count."""
    kind = "calibrated" if b.protocol.startswith("studio-relative") else "uncalibrated"
    out = []
    ranking = Table(["#", "method", "MPJPE (mm)", "95% CI", f"board `{b.board_protocol}` (mm)",
                     "Δ from board, mm [95% CI] (%), test", "ms / frame", "frames"],
                    [[str(line.rank), line.method, _num(line.value), _ci(line.ci95), _num(line.board_value),
                      _change(line.change), _num(line.ms_per_frame), str(line.frames)] for line in b.lines])
    sentences = [b.recommendation]
    if b.agreement is not None:
        a = b.agreement
        tau = (f"Kendall's τ with the board's ranking: {a.tau:.2f} over {a.num_methods} methods" if a.tau is not None
               else f"Kendall's τ with the board's ranking: undefined ({a.reason})")
        if b.board_decided is None or b.board_decided[0] == 0:
            why = ("no paired comparison on the board" if b.board_decided is None
                   else f"the board decides none of its {b.board_decided[1]} pairs")
            sentences.append(f"{tau}; {why}, so there is no decided order to reverse.")
        else:
            n = b.board_decided[0]
            undecided = b.count("leans the other way") + b.count("agrees, undecided")
            sentences.append(f"{tau}. Of the {n} pairs the board decides (of {b.board_decided[1]}), "
                             f"{b.count('reversed')} reversed here, {b.count('confirmed')} confirmed, "
                             f"{undecided} undecided ({b.count('leans the other way')} leaning the other way)"
                             + (f", {b.count('not run')} not testable" if b.count("not run") else "") + ".")
    else:
        sentences.append(f"No board result under `{b.board_protocol}` was found: no change from the board and no τ.")
    out.append(Section(f"{b.title} — ranking", f"{b.protocol}-ranking", sentences,
                       [("Methods ranked on your rig", ranking)]))

    pairs = Table(["pair (above − below)", "Δ (mm)", "95% CI", "p (Holm)", "verdict"], [_pair(p) for p in b.pairs])
    flips = Table(["board's decided pair (better, worse)", "on the board, Δ [95% CI] (p Holm)",
                   "here, Δ [95% CI] (p Holm)", "verdict"],
                  [[f"{f.better}, {f.worse}",
                    f"{f.pair.comparison.difference:+.1f} [{f.pair.comparison.ci95[0]:+.1f}, "
                    f"{f.pair.comparison.ci95[1]:+.1f}] ({_p(f.pair.p_holm)})",
                    _DASH if f.novel is None else f"{f.novel.difference:+.1f} [{f.novel.ci95[0]:+.1f}, "
                                                  f"{f.novel.ci95[1]:+.1f}] ({_p(f.p_holm_novel)})",
                    f.verdict] for f in b.flips])
    how = ", with the board's seed noise" if b.seed_noise else ""
    tables = [(f"Every pair, paired over the rig's sequences{how}, Holm over the pairs", pairs)] if b.pairs else []
    if b.flips:
        tables.append(("The board's decided pairs on your rig", flips))
    out.append(Section(f"{b.title} — paired comparisons", f"{b.protocol}-pairs",
                       [] if b.pairs else ["No pair could be compared (fewer than two methods)."], tables))
    if b.joints:
        methods = [line.method for line in b.lines]
        joints = Table(["joint", *methods],
                       [[j, *(_num(line.per_joint.get(j)) for line in b.lines)] for j in b.joints])
        out.append(Section(f"{b.title} — per joint", f"{b.protocol}-joints",
                           [f"Mean error per joint (mm, pelvis-relative), {kind} methods."],
                           [("Per-joint MPJPE", joints)]))
    if b.sizes:
        best = b.lines[0].method if b.lines else _DASH
        rows = []
        for s in b.sizes:
            ranking_txt = ", ".join(f"{m} {v:.1f}" for m, v, _ in s.ranked)
            open_ = [p.b for p in s.pairs if not p.decided]
            verdict = (_DASH if not s.pairs else "decided against all" if not open_
                       else "not decided against " + ", ".join(open_))
            rows.append([str(s.size), ranking_txt, (s.ranked[0][0] if s.ranked else _DASH), verdict,
                         _change(s.vs_all)])
        sizes = Table(["cameras", "methods ranked (MPJPE mm)", "best", "best vs the others (paired, Holm)",
                       f"{best}: Δ from all your cameras, mm [95% CI] (%), test"], rows)
        sentences = [f"Camera sweep `{b.sweep_protocol}`: each size averaged over seeded random subsets of your "
                     "cameras (the same subsets for every method)."]
        if b.enough_views:
            sentences.append(b.enough_views)
        out.append(Section(f"{b.title} — how many views are enough", f"{b.protocol}-views", sentences,
                           [("Per camera count", sizes)]))
    return out


def notes(seed_noise: bool = False) -> list[str]:
    return ["Intervals: 95 % percentile intervals of a bootstrap that resamples whole sequences (10000 draws); "
            "frames of one sequence are never treated as independent.",
            "Pairs: the difference of two methods' headlines, paired (the same sequences drawn for both), "
            "p-values Holm-corrected over the table's family at α = 0.05.",
            "Δ from board = your rig − the board's in-distribution test, per method: **paired** when your split "
            "holds the board's sequences (the default test design drawn with the board's seed and profile: the same "
            "people, motion and frames, only the cameras differ), **two-sample** otherwise (your own motion).",
            "τ: Kendall's τ-b between the board's order and this rig's, over the methods both hold. Decided pairs: "
            "every pair of the methods scored here that the board decides (paired, Holm over those methods' pairs "
            "on the board), tested again here (Holm over the decided pairs): reversed = decided the other way here.",
            ("Seed noise: each pair's test adds the training-seed variance of its difference measured on the "
             "board (its `seed_spread.json`, on the board's in-distribution protocol; no replicate was scored on "
             "your rig, where it may be larger), with Student's t at the Welch–Satterthwaite degrees of freedom "
             "(a variance from n seeds has n − 1): a difference another training seed could produce is not "
             "decided." if seed_noise else
             "With one training seed per method and no measured seed spread beside the board's results, the "
             "intervals cover test-set sampling only, not training noise (docs/statistics.md, the seed spread).")]


def render_markdown(title: str, intro: list[str], sections: list[Section], foot: list[str]) -> str:
    lines = [f"# {title}", ""]
    lines += [*(f"{s}\n" for s in intro)]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        lines += [*(f"{s}\n" for s in sec.sentences)]
        for caption, table in sec.tables:
            lines += [f"{caption}:", "", "| " + " | ".join(table.header) + " |",
                      "|" + "|".join("---" for _ in table.header) + "|"]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table.rows]
            lines.append("")
    lines += ["## Notes", "", *(f"- {n}" for n in foot), ""]
    return "\n".join(lines).rstrip() + "\n"


def _plain(text: str) -> str:
    return text.replace("`", "").replace("**", "")


def render_html(title: str, intro: list[str], sections: list[Section], foot: list[str]) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.PackageLoader("poseboard.studio", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["plain"] = _plain
    css = resources.files("poseboard.report").joinpath("templates", "style.css").read_text()
    return env.get_template("studio.html.j2").render(title=title, intro=intro, sections=sections, notes=foot,
                                                     css=Markup(css))


def _change_json(c: HeadlineChange | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"difference_mm": c.difference, "ci95_mm": list(c.ci95), "percent": c.percent,
            "ci95_percent": list(c.ci95_percent) if c.ci95_percent else None, "test": c.test}


def _board_json(b: StudioBoard) -> dict[str, Any]:
    return {
        "protocol": b.protocol, "board_protocol": b.board_protocol, "recommendation": _plain(b.recommendation),
        "methods": [{"rank": m.rank, "method": m.method, "mpjpe_mm": m.value,
                     "ci95_mm": list(m.ci95) if m.ci95 else None, "board_mpjpe_mm": m.board_value,
                     "change_from_board": _change_json(m.change), "ms_per_frame": m.ms_per_frame,
                     "frames": m.frames, "per_joint_mm": m.per_joint} for m in b.lines],
        "pairs": [{"a": p.a, "b": p.b, "difference_mm": p.comparison.difference,
                   "ci95_mm": list(p.comparison.ci95), "p_value": p.comparison.p_value, "p_holm": p.p_holm,
                   "decided": p.decided, "test": p.comparison.test} for p in b.pairs],
        "seed_noise": b.seed_noise,
        "kendall_tau": None if b.agreement is None else b.agreement.tau,
        "board_decided_pairs": None if b.board_decided is None else list(b.board_decided),
        "board_pairs_here": [{"better": f.better, "worse": f.worse, "verdict": f.verdict} for f in b.flips],
        "sweep_protocol": b.sweep_protocol,
        "per_camera_count": [{"cameras": s.size, "ranked": [{"method": m, "mpjpe_mm": v,
                                                             "ci95_mm": list(c) if c else None}
                                                            for m, v, c in s.ranked],
                              "best_vs_others": [{"a": p.a, "b": p.b, "difference_mm": p.comparison.difference,
                                                  "ci95_mm": list(p.comparison.ci95), "p_holm": p.p_holm}
                                                 for p in s.pairs],
                              "recommended_vs_all_cameras": _change_json(s.vs_all)} for s in b.sizes],
        "enough_views": b.enough_views,
    }


def summary_json(boards: list[StudioBoard], facts: dict[str, Any],
                 in_view: dict[str, StudioBoard | None] | None = None) -> dict[str, Any]:
    """The JSON summary: the run's facts and, per studio protocol, every number of the page;
    ``in_view`` (studio protocol id → its board on the in-view frames) under each board's
    ``"in_view"`` (None: not ranked apart, every frame or none in view)."""
    out: dict[str, Any] = {"format": "poseboard-studio", "version": 1, **facts, "boards": []}
    for b in boards:
        found = (in_view or {}).get(b.protocol)
        out["boards"].append(_board_json(b) | {"in_view": None if found is None else _board_json(found)})
    return out


def in_view_sections(b: StudioBoard) -> list[Section]:
    """The ranking and paired comparisons of a board scored on the in-view frames only, each
    headed by what these frames are."""
    out = board_sections(b)[:2]
    what = ("Only the frames in which every joint projects inside every camera's image: a joint outside an image "
            "leaves each method a guess, and this ranking leaves the guesses out. Δ from board compares these "
            "frames with all of the board's.")
    out[0].sentences.insert(0, what)
    return out


def write_page(out: Path, title: str, intro: list[str], boards: list[StudioBoard], extra: list[Section],
               facts: dict[str, Any], in_view: dict[str, StudioBoard | None] | None = None) -> dict[str, Path]:
    """Write ``studio.html``, ``studio.md`` and ``studio.json`` into ``out`` (atomically); ``in_view``
    (studio protocol id → its board on the in-view frames) follows each board's comparisons."""
    sections = [*extra]
    for b in boards:
        found = (in_view or {}).get(b.protocol)
        own = board_sections(b)
        sections += [*own[:2], *(in_view_sections(found) if found is not None else []), *own[2:]]
    foot = notes(any(b.seed_noise for b in boards))
    paths = {"html": out / "studio.html", "markdown": out / "studio.md", "json": out / "studio.json"}
    atomic_write_text(paths["markdown"], render_markdown(title, intro, sections, foot))
    atomic_write_text(paths["html"], render_html(title, intro, sections, foot))
    atomic_write_text(paths["json"], json.dumps(summary_json(boards, facts, in_view), indent=2, sort_keys=True)
                      + "\n")
    return paths
