"""Headless Chromium for the report: screenshots, the rendered DOM, and the requests it made.

Used by the browser test and by ``python -m poseboard.report.browser report/index.html
docs/leaderboard.png`` (the README's screenshot). Chromium runs with a fresh profile, its
background services off, no DNS and a dead proxy, so nothing can leave the machine; a probe
appended to a copy of the page records every resource the page loaded
(``performance.getEntriesByType("resource")``), so a test can assert it asked for none
elsewhere.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--mute-audio",
    "--hide-scrollbars",
    # keep everything on this machine: no DNS, and a proxy that does not exist for anything else
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
)


def chromium_path() -> str | None:
    """Debian's ``chromium`` (or ``chromium-browser`` / ``google-chrome``) if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


RESOURCE_PROBE = """
document.body.setAttribute("data-resources", JSON.stringify(
  performance.getEntriesByType("resource").map(function (e) { return e.name; })));
"""


@dataclass
class BrowserRun:
    dom: str
    #: every resource the page loaded (file:/data: only, for a self-contained page)
    resources: list[str]
    stderr: str


def run(page: str | Path, *, screenshot: Path | None = None, size: tuple[int, int] = (1280, 2200),
        timeout_s: float = 90.0, virtual_time_ms: int = 3000, inject: str | None = None) -> BrowserRun:
    """Open ``page`` headless; dump its DOM after scripts ran, optionally save a screenshot.

    ``inject``: JavaScript appended (in a copy of the page, beside the original, removed
    afterwards) after the page's own scripts, e.g. to click headers and record the result in
    the DOM.
    """
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install -y chromium)")
    page = Path(page).resolve()
    html = page.read_text()
    cut = html.rfind("</body>")
    script = (inject or "") + RESOURCE_PROBE
    copy = page.with_name(f".{page.stem}.probe-{os.getpid()}.html")
    copy.write_text(html[:cut] + f"<script>\n{script}\n</script>\n" + html[cut:])
    try:
        with tempfile.TemporaryDirectory(prefix="poseboard-chromium-") as tmp:
            base = [exe, *FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={size[0]},{size[1]}",
                    f"--virtual-time-budget={virtual_time_ms}"]
            url = copy.as_uri()
            proc = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout_s)
            if proc.returncode != 0:
                raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                shot = subprocess.run([*base, f"--screenshot={screenshot.resolve()}", url],
                                      capture_output=True, text=True, timeout=timeout_s)
                if shot.returncode != 0 or not screenshot.exists():
                    raise RuntimeError(f"chromium screenshot failed ({shot.returncode}): {shot.stderr[-2000:]}")
    finally:
        copy.unlink(missing_ok=True)
    m = re.search(r'data-resources="([^"]*)"', proc.stdout)
    if m is None:
        raise RuntimeError("the page's scripts did not run (no resource probe in the DOM)")
    return BrowserRun(dom=proc.stdout, resources=json.loads(html_lib.unescape(m.group(1))), stderr=proc.stderr)


def external(urls: list[str]) -> list[str]:
    """The URLs that would leave the machine (anything not file:, data:, about:, chrome:)."""
    local = ("file:", "data:", "about:", "chrome:", "chrome-error:", "blob:")
    out = []
    for u in urls:
        if u.startswith(local):
            continue
        if u.startswith(("http://127.0.0.1", "http://localhost", "https://127.0.0.1", "https://localhost")):
            continue
        out.append(u)
    return out


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - thin CLI
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m poseboard.report.browser REPORT.html SCREENSHOT.png", file=sys.stderr)
        return 2
    result = run(args[0], screenshot=Path(args[1]))
    leaks = external(result.resources)
    print(f"screenshot → {args[1]}; external requests: {leaks or 'none'}")
    return 1 if leaks else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
