"""``poseboard report``: result files → ``report/index.html``, ``report/board.md``, ``report/tables/*.md``,
``report/figures/``.

The leaderboard is rebuilt only from ``results/**/<protocol>@<version>.json``. The page is
self-contained (inline CSS, JS and figures as data URIs; no CDN, fonts or scripts from
elsewhere, and a Content-Security-Policy that forbids loading any), so it renders offline and
in a headless browser. Every string from a result file or a method card goes through Jinja's
autoescape.
"""

from __future__ import annotations

import base64
import json
import platform
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from poseboard.comparison.seed_spread import SEED_SPREAD_FILE, SeedSpread, read_seed_spread
from poseboard.io import atomic_write_text
from poseboard.protocols.results import Result, read_results
from poseboard.report.board import BOARD_FILE, render_board
from poseboard.report.figures import Figure, MissingFigure, build_figures
from poseboard.report.generalization import (
    GENERALIZATION_FILE,
    Generalization,
    build_generalization,
    render_generalization,
)
from poseboard.report.model import (
    Board,
    apply_speed,
    badges,
    build_boards,
    dataset_label,
    metric_label,
    provenance,
    read_speed_benchmarks,
)
from poseboard.report.profiles import ProfilePage, device_label, pages
from poseboard.report.tables import RenderedTable, render_tables


@dataclass
class MethodCardView:
    name: str
    title: str
    paper: str | None
    url: str | None
    code_url: str | None
    bibtex: str | None
    description: str
    badges: list[str]
    trained_on: str
    checkpoint: str | None
    config: str
    protocols: list[str] = field(default_factory=list)


@dataclass
class ReportSummary:
    out: Path
    boards: list[Board]
    tables: list[RenderedTable]
    figures: list[Figure]
    missing_figures: list[MissingFigure]
    num_results: int
    #: the generalization table (``tables/generalization.md``), None only for summaries built elsewhere
    generalization: Generalization | None = None
    #: every page's summary, the active profile's first (just this one when nothing is published)
    pages: list[ReportSummary] = field(default_factory=list)


def _card(name: str, results: list[Result], params: Any = None) -> MethodCardView:
    """The method card: citation from the registry when the method is registered (metadata,
    not numbers), everything else from its result files."""
    first = results[0]
    registered = first.method.registered or name
    meta: Any = None
    try:
        from poseboard.methods.registry import REGISTRY

        if registered in REGISTRY.names():
            meta = REGISTRY.get(registered).card
    except Exception:  # a broken plug-in must not take the leaderboard down
        meta = None
    config = first.method.config
    trained_on = config.get("trained_on") if isinstance(config, dict) else None
    block = params.methods.get(name) if params is not None else None
    if not trained_on and block is not None and first.method.capabilities is not None:
        start = "the pre-trained 2D backbone" if block.init == "backbone" else f"the `{block.init}` checkpoint"
        trained_on = (f"{dataset_label(block.dataset)}, train split (profile {params.profile}), starting from "
                      f"{start}")
        if not first.method.capabilities.trainable:  # RANSAC reads the backbone; a k-value prior reads nothing
            uses = isinstance(config, dict) and any(k.endswith("_checkpoint") and v for k, v in config.items())
            trained_on = f"nothing of its own; uses {start}" if uses else "nothing (no learned parameters)"
    if not trained_on:
        if first.method.capabilities is None:
            trained_on = "unknown (predictions scored by `poseboard evaluate`)"
        elif not first.method.capabilities.trainable:
            trained_on = "nothing (no learned parameters)"
        else:
            sets = sorted({dataset_label(r.dataset.name) + " (train split)" for r in results})
            trained_on = ", ".join(sets) + " (assumed: not recorded in the result files)"
    if first.submission is not None:  # a submitted result describes itself
        card = first.submission.card
        return MethodCardView(
            name=name, title=card.title, paper=card.paper, url=None, code_url=card.code_url, bibtex=None,
            description=(card.description or "Submitted with `poseboard submit`.")
            + (f" Authors: {card.authors}." if card.authors else "")
            + f" Predictions {first.submission.predictions_file} (SHA-256 {first.submission.predictions_sha256[:12]}…),"
            f" submitted {first.submission.submitted_at}.",
            badges=badges(first), trained_on=card.trained_on, checkpoint=None,
            config=json.dumps(config, indent=2, sort_keys=True, default=str),
            protocols=sorted(r.protocol.id for r in results),
        )
    return MethodCardView(
        name=name,
        title=(getattr(meta, "title", None) or name) + (f" — variant {name}" if registered != name else ""),
        paper=getattr(meta, "paper", None),
        url=getattr(meta, "url", None),
        code_url=getattr(meta, "code_url", None),
        bibtex=getattr(meta, "bibtex", None),
        description=getattr(meta, "description", None) or (
            "External predictions scored by `poseboard evaluate`." if first.method.capabilities is None
            else "No method card registered."),
        badges=badges(first),
        trained_on=str(trained_on),
        checkpoint=first.method.checkpoint,
        config=json.dumps(config, indent=2, sort_keys=True, default=str),
        protocols=sorted(r.protocol.id for r in results),
    )


def format_p(p: float | None) -> str:
    """A p-value as the tables print it: ``< 0.001`` below that, three decimals above."""
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _anchor(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]+", "-", str(text)).strip("-").lower()


def _environment():
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("poseboard.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["anchor"] = _anchor
    env.filters["pvalue"] = format_p
    env.filters["dataset_label"] = dataset_label
    env.filters["metric_label"] = metric_label
    return env, Markup


def _read_template_file(name: str) -> str:
    return resources.files("poseboard.report").joinpath("templates", name).read_text()


def render_html(
    boards: list[Board],
    results: list[Result],
    tables: list[RenderedTable],
    figures: list[Figure],
    missing_figures: list[MissingFigure],
    *,
    title: str = "poseboard leaderboard",
    profile: str = "unknown",
    profile_description: str = "",
    data_sources: list[str] | None = None,
    significance: float = 0.05,
    params_hash: str = "unknown",
    expected: dict[str, list[str]] | None = None,
    built_at: str | None = None,
    params: Any = None,
    seed_spread: SeedSpread | None = None,
    profile_device: str = "",
    board_devices: dict[str, str] | None = None,
    switch: list[dict[str, Any]] | None = None,
    results_folder: str = "results",
    generalization: Generalization | None = None,
    highlight: str | None = None,
    motion_terms: str | None = None,
) -> str:
    from poseboard.report.overview import build_overview, section_order

    env, Markup = _environment()
    by_method: dict[str, list[Result]] = {}
    for r in results:
        by_method.setdefault(r.method.name, []).append(r)
    figs = [
        {"name": f.name, "title": f.title, "caption": f.caption, "data": base64.b64encode(f.png.read_bytes()).decode()}
        for f in figures
    ]
    return env.get_template("index.html.j2").render(
        title=title,
        profile=profile,
        profile_description=profile_description,
        data_sources=data_sources or [],
        boards=section_order(boards),  # the detailed sections in the overview's group order
        significance=significance,
        seed_spread=seed_spread,
        profile_device=profile_device,
        board_devices=board_devices or {},
        switch=switch or [],
        results_folder=results_folder,
        generalization=generalization,
        overview=build_overview(boards, highlight),
        highlight=highlight,
        expected=expected or {},
        figures=figs,
        missing_figures=missing_figures,
        tables=tables,
        cards=[_card(m, rs, params) for m, rs in sorted(by_method.items())],
        provenance=provenance(results),
        motion_terms=motion_terms,
        params_hash=params_hash,
        built_at=built_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        build_machine=f"{platform.node() or 'unknown host'} ({platform.machine()}, {platform.system()})",
        num_results=len(results),
        css=Markup(_read_template_file("style.css")),
        js=Markup(_read_template_file("sort.js")),
    )


def motion_terms(params: Any, profile: str) -> str | None:
    """The licence the board's motion capture gives its results, when the profile's worlds draw
    on the motion library (``data.real_motion`` or ``data.real_test`` above 0): the Bandai Namco
    Research Motion datasets' attribution and non-commercial terms; None for procedural motion."""
    if params is None or params.motion_library is None or profile not in params.profiles:
        return None
    data = params.profiles[profile].data
    if not (data.real_motion > 0 or data.real_test > 0):
        return None
    from poseboard.datasets.mocap.licence import ATTRIBUTION

    return f"The board's motion comes from the {ATTRIBUTION}."


def _tables_index(tables: list[RenderedTable], motion: str | None = None) -> str:
    lines = ["# Paper tables", "", "Regenerated by `dvc repro` (stage `report`) from `results/` only.", "",
             "Status: per claim of the paper (an ordering; `<` lower error), whether it holds on these results "
             "(holds, reversed, not shown: no significant difference), tested as each table's \"Claims\" section "
             "says, under the protocol named; results on the synthetic stand-ins test the ordering, not the "
             "paper's values.", "",
             "| file | table | status |", "|---|---|---|"]
    for t in tables:
        lines.append(f"| [{t.name}.md]({t.name}.md) | {t.title} | {t.status} |")
    if motion:
        lines += ["", f"Motion capture: {motion}"]
    return "\n".join(lines) + "\n"


def _profiles_index(all_pages: list[ProfilePage], labels: dict[str, str]) -> str:
    lines = ["# Leaderboards of other profiles", "",
             "One page per profile published under `published/` (`poseboard publish CHECKOUT`), rebuilt by the "
             "`report` stage; `report/index.html` is the active profile's.", "",
             "| page | profile | predictions on |", "|---|---|---|"]
    for p in all_pages:
        href = "../index.html" if not p.folder else f"{p.profile}/index.html"
        lines.append(f"| [{href}]({href}) | {p.profile}{' (active)' if not p.folder else ''} | {labels[p.profile]} |")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    atomic_write_text(path, text)
    path.chmod(0o644)  # committed and served: world-readable like any checked-out file


def _board_devices(boards: list[Board], fallback: str) -> dict[str, str]:
    """Board id → what its rows' predictions ran on (every replicate's run sidecar)."""
    return {b.id: device_label([rep for row in b.rows for rep in (row.replicates or [row.result])], fallback)
            for b in boards}


def page_boards(results: list[Result], results_dir: Path, profile: str,
                level: float) -> tuple[list[Board], SeedSpread | None]:
    """One profile's boards from its ``results`` (read from ``results_dir``), with the seed spread
    measured on that profile's training as the noise floor of its single-run rows."""
    spread = read_seed_spread(results_dir / SEED_SPREAD_FILE)
    if spread is not None and spread.profile != profile:
        spread = None  # measured on another profile's training: not this board's noise floor
    return build_boards(results, level=level, seed_spread=spread), spread


def _build_page(page: ProfilePage, results: list[Result], all_pages: list[ProfilePage], labels: dict[str, str],
                out: Path, *, params: Any, title: str, level: float, sources: list[str], phash: str,
                expected: dict[str, list[str]], highlight: str | None = None) -> ReportSummary:
    """One profile's leaderboard (``results``, read from ``page.results_dir``):
    ``out/<page.folder>/index.html`` with its tables and figures."""
    page_out = out / page.folder if page.folder else out
    boards, spread = page_boards(results, page.results_dir, page.profile, level)
    devices = _board_devices(boards, page.device)
    apply_speed(boards, read_speed_benchmarks(page.speed_file))
    _write(page_out / BOARD_FILE, render_board(boards, page.profile))
    tables = render_tables(boards)
    tables_dir = page_out / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    for old in tables_dir.glob("*.md"):
        old.unlink()
    for t in tables:
        _write(tables_dir / f"{t.name}.md", t.markdown)
    motion = motion_terms(params, page.profile)
    _write(tables_dir / "README.md", _tables_index(tables, motion))
    generalization = build_generalization(boards, level=level)
    _write(tables_dir / GENERALIZATION_FILE, render_generalization(generalization))
    figures, missing = build_figures(boards, page_out / "figures")
    switch = [{"profile": p.profile, "href": p.href_from(page), "current": p is page, "device": labels[p.profile],
               "description": p.description} for p in all_pages] if len(all_pages) > 1 else []
    html = render_html(boards, results, tables, figures, missing, title=title, profile=page.profile,
                       seed_spread=spread, profile_description=page.description, data_sources=sources,
                       significance=level, params_hash=phash, expected=expected, params=params,
                       profile_device=labels[page.profile], board_devices=devices,
                       switch=switch, results_folder=page.results_dir.as_posix(), generalization=generalization,
                       highlight=highlight, motion_terms=motion)
    _write(page_out / "index.html", html)
    return ReportSummary(out=page_out, boards=boards, tables=tables, figures=figures, missing_figures=missing,
                         num_results=len(results), generalization=generalization)


def build_report(
    results_dir: str | Path = "results",
    out: str | Path = "report",
    params_file: str | Path | None = "params.yaml",
    speed_file: str | Path | None = None,
    published: str | Path | None = None,
    highlight: str | None = None,
) -> ReportSummary:
    """Write the whole report from ``results_dir``; ``params_file`` (optional) adds the profile,
    the data sources, the significance level and which expected results are missing;
    ``speed_file`` (the ``speed`` stage's benchmark JSON) the speed column; ``published``
    (``published/``, see :mod:`poseboard.report.profiles`) one more page per other profile's
    published run, under ``out/profiles/<profile>/``, with a switch between the pages;
    ``highlight`` a method the overview marks as new (``poseboard method``).
    Returns the active profile's page; ``ReportSummary.pages`` lists every page's."""
    out = Path(out)
    title, profile, profile_desc, sources, level, phash = "poseboard leaderboard", "unknown", "", [], 0.05, "unknown"
    device = "auto"
    expected: dict[str, list[str]] = {}
    params = None
    if params_file is not None and Path(params_file).exists():
        from poseboard.params import load_params

        params = load_params(params_file)
        title, level, profile = params.report.title, params.report.significance, params.profile
        profile_desc, device = params.active.description, params.active.device
        sources = params.real_data.describe()
        phash = params.section_hash()
    all_pages = pages(Path(results_dir), Path(speed_file) if speed_file is not None else None, profile,
                      profile_desc, device, Path(published) if published is not None else None)
    results = {p.profile: read_results(p.results_dir) if p.results_dir.exists() else [] for p in all_pages}
    if params is not None:  # what params.yaml asks of the active profile that has no result file
        have = {(r.method.name, r.protocol.id) for r in results[profile]}
        for ev in params.all_evaluations():
            if (ev.method, ev.protocol_id) not in have:
                expected.setdefault(ev.protocol_id, []).append(ev.method)
    labels = {p.profile: device_label(results[p.profile], p.device) for p in all_pages}
    summaries = []
    for page in all_pages:
        summaries.append(_build_page(page, results[page.profile], all_pages, labels, out, params=params, title=title,
                                     level=level, sources=sources if not page.folder else [], phash=phash,
                                     expected=expected if not page.folder else {},
                                     highlight=highlight if not page.folder else None))
    keep = {p.profile for p in all_pages if p.folder}
    profiles_dir = out / "profiles"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    for stale in profiles_dir.iterdir():  # a profile no longer published loses its page
        if stale.name not in keep and stale.name != "README.md":
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    _write(profiles_dir / "README.md", _profiles_index(all_pages, labels))
    summary = summaries[0]
    summary.pages = summaries
    return summary
