"""report/index.html in headless Chromium: the tables render and sort, nothing is fetched
from another machine, and a screenshot is saved.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped when it is missing.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pytest

from poseboard.report.browser import chromium_path, run
from poseboard.report.build import build_report

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="chromium is not installed (apt-get install -y chromium)")

PROBE = r"""
(function () {
  var out = {errors: []};
  try {
    var tables = document.querySelectorAll("table.leaderboard");
    out.tables = tables.length;
    out.rows = Array.prototype.map.call(tables, function (t) { return t.tBodies[0].rows.length; });
    var t = tables[0];
    var heads = t.tHead.rows[0].cells;
    function col(prefix) {
      for (var i = 0; i < heads.length; i++) if (heads[i].textContent.trim().indexOf(prefix) === 0) return i;
      return -1;
    }
    function order() {
      return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.getAttribute("data-method"); });
    }
    out.initial = order();
    var m = heads[col("method")];
    m.click(); out.method_asc = order();
    m.click(); out.method_desc = order();
    var h = heads[col("MPJPE")];
    h.click(); out.headline_asc = order();
    h.click(); out.headline_desc = order();
    out.visible = t.getBoundingClientRect().height > 0 && t.getBoundingClientRect().width > 0;
    out.images = Array.prototype.map.call(document.images,
                                          function (im) { return im.complete && im.naturalWidth > 0; });
    out.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  } catch (e) { out.errors.push(String(e)); }
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
"""


def _probe(dom: str) -> dict:
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, "the probe did not run"
    return json.loads(html_lib.unescape(m.group(1)))


def test_leaderboard_renders_sorts_and_stays_offline(results_dir, tmp_path):
    build_report(results_dir, tmp_path / "report", params_file=None)
    shot = tmp_path / "leaderboard.png"
    res = run(tmp_path / "report" / "index.html", inject=PROBE, screenshot=shot)
    probe = _probe(res.dom)
    assert probe["errors"] == []
    assert probe["tables"] == 3 and probe["rows"] == [3, 3, 3]
    assert probe["visible"]
    assert probe["initial"] == ["noise-8mm", "noise-20mm", "noise-20.5mm"]
    assert probe["method_asc"] == sorted(probe["initial"])
    assert probe["method_desc"] == sorted(probe["initial"], reverse=True)
    assert probe["headline_asc"] == ["noise-8mm", "noise-20mm", "noise-20.5mm"]
    assert probe["headline_desc"] == ["noise-20.5mm", "noise-20mm", "noise-8mm"]
    assert probe["images"] and all(probe["images"])  # inline figures decoded
    leaving = [u for u in probe["resources"] + res.resources if not u.startswith(("file:", "data:"))]
    assert leaving == [], f"the page requested {leaving}"
    assert shot.exists() and shot.stat().st_size > 20_000


COMMITTED = Path(__file__).resolve().parents[2] / "report" / "index.html"


@pytest.mark.skipif(not COMMITTED.exists(), reason="no committed report/index.html (run `make repro`)")
def test_committed_leaderboard_renders_offline(tmp_path):
    """The leaderboard committed with the repository (the default profile's) renders every
    table and figure from the file alone; the same probe as above, on the real page."""
    shot = tmp_path / "committed.png"
    res = run(COMMITTED, inject=PROBE, screenshot=shot)
    probe = _probe(res.dom)
    assert probe["errors"] == []
    assert probe["tables"] >= 5 and all(n >= 1 for n in probe["rows"])
    assert probe["visible"]
    assert probe["method_asc"] == sorted(probe["initial"])
    assert probe["images"] and all(probe["images"])
    leaving = [u for u in probe["resources"] + res.resources if not u.startswith(("file:", "data:"))]
    assert leaving == [], f"the page requested {leaving}"
    assert shot.exists() and shot.stat().st_size > 20_000


WIDTH_PROBE = r"""
(function () {
  // Every column header must be on screen, or inside a horizontally scrollable box that is
  // itself on screen and whose scroll range reaches the header: nothing cut off, and the
  // page itself never wider than the window.
  var out = {errors: [], clipped: [], inner: window.innerWidth,
             page: document.documentElement.scrollWidth, headers: 0};
  try {
    function scroller(el) {
      for (var e = el; e && e !== document.body; e = e.parentElement) {
        var o = getComputedStyle(e).overflowX;
        if (o === "auto" || o === "scroll") return e;
      }
      return null;
    }
    Array.prototype.forEach.call(document.querySelectorAll("main th"), function (th) {
      var r = th.getBoundingClientRect();
      if (r.width === 0) return;
      out.headers += 1;
      if (r.left >= -0.5 && r.right <= window.innerWidth + 0.5) return;
      var c = scroller(th);
      if (c) {
        var cr = c.getBoundingClientRect();
        var boxOnScreen = cr.left >= -0.5 && cr.right <= window.innerWidth + 0.5;
        var reachable = r.right - cr.left + c.scrollLeft <= c.scrollWidth + 0.5;
        if (boxOnScreen && reachable && c.scrollWidth > c.clientWidth) return;
      }
      out.clipped.push(th.textContent.trim() + " (right edge " + Math.round(r.right) + " px)");
    });
  } catch (e) { out.errors.push(String(e)); }
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
"""


def _width_pages(results_dir, tmp_path, published_gpu) -> list[Path]:
    params, published = published_gpu
    build_report(results_dir, tmp_path / "report", params, published=published)
    return [tmp_path / "report" / "index.html", tmp_path / "report" / "profiles" / "gpu" / "index.html"] + (
        [COMMITTED] if COMMITTED.exists() else [])


@pytest.mark.parametrize("width", [1400, 800])
def test_every_column_header_is_reachable_at_window_width(results_dir, tmp_path, width, published_gpu):
    """Issue 21: at 1,400 and 800 px no table is cut off: each header is visible or inside a
    scroll box that reaches it, and the page does not overflow the window sideways (the
    active profile's page and a published profile's, with the switch between them)."""
    for page in _width_pages(results_dir, tmp_path, published_gpu):
        probe = _probe(run(page, inject=WIDTH_PROBE, size=(width, 1200)).dom)
        assert probe["errors"] == []
        assert probe["inner"] == width and probe["headers"] > 0
        assert probe["clipped"] == [], f"{page.name} at {width} px cuts off {probe['clipped'][:8]}"
        assert probe["page"] <= width, f"{page.name} is {probe['page']} px wide in a {width} px window"


def test_width_probe_catches_a_clipped_table(results_dir, tmp_path):
    """The probe above can fail: the same page without the tables' scroll boxes clips headers
    at 800 px."""
    build_report(results_dir, tmp_path / "report", params_file=None)
    page = tmp_path / "report" / "index.html"
    text = page.read_text()
    assert "overflow-x: auto" in text
    broken = tmp_path / "report" / "clipped.html"
    broken.write_text(text.replace("</style>", "table { display: table !important; overflow: visible !important; }"
                                               " main { min-width: 1600px; }</style>", 1))
    probe = _probe(run(broken, inject=WIDTH_PROBE, size=(800, 1200)).dom)
    assert probe["clipped"] or probe["page"] > 800


OVERVIEW_PROBE = r"""
(function () {
  var out = {errors: [], inner: window.innerWidth, page: document.documentElement.scrollWidth};
  try {
    var main = document.querySelector("main");
    var first = main.querySelector("section");
    out.first_section = first ? first.id : null;
    var ov = document.querySelector("#overview table");
    out.rows = Array.prototype.map.call(ov.tBodies[0].rows, function (r) {
      return r.getAttribute("data-overview-method"); });
    out.links_ok = Array.prototype.every.call(ov.querySelectorAll("a[href^='#']"), function (a) {
      return document.getElementById(a.getAttribute("href").slice(1)) !== null; });
    var hl = ov.querySelector("tr.highlight");
    out.highlight = hl ? hl.getAttribute("data-overview-method") : null;
    var plain = ov.querySelector("tr:not(.highlight) td");
    out.stands_out = hl !== null && getComputedStyle(hl.cells[0]).backgroundColor !==
                     getComputedStyle(plain).backgroundColor;
    var r = ov.getBoundingClientRect();
    out.table_on_screen = r.left >= -0.5 && r.right <= window.innerWidth + 0.5 && r.height > 0;
    out.scrolls = ov.scrollWidth > ov.clientWidth;
    var last = ov.tHead.rows[0].cells[ov.tHead.rows[0].cells.length - 1].getBoundingClientRect();
    out.last_header_reachable = last.right - r.left + ov.scrollLeft <= ov.scrollWidth + 0.5;
    out.top = r.top;
  } catch (e) { out.errors.push(String(e)); }
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
"""


@pytest.mark.parametrize("width", [1280, 800])
def test_overview_opens_the_page(results_dir, tmp_path, width):
    """Issue 39: the page opens on the overview (the first section of main, near the top), one
    row per method, each cell linking to a section that exists, the highlighted method standing
    out; at 1,280 and 800 px the table is on screen and every column reachable (scrolling
    inside the table, never the page)."""
    build_report(results_dir, tmp_path / "report", params_file=None, highlight="noise-20mm")
    shot = tmp_path / f"overview-{width}.png"
    probe = _probe(run(tmp_path / "report" / "index.html", inject=OVERVIEW_PROBE, size=(width, 1000),
                       screenshot=shot).dom)
    assert probe["errors"] == []
    assert probe["first_section"] == "overview"
    assert sorted(probe["rows"]) == ["noise-20.5mm", "noise-20mm", "noise-8mm"]
    assert probe["links_ok"] and probe["highlight"] == "noise-20mm" and probe["stands_out"]
    assert probe["table_on_screen"] and probe["last_header_reachable"]
    assert probe["page"] <= width and probe["top"] < 1000  # seen without scrolling the page
    assert shot.exists() and shot.stat().st_size > 10_000
