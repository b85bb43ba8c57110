#!/usr/bin/env python3
"""Checks that RUN/report.html (or a compare.html) renders in headless Chromium with every
image loaded, and optionally takes a screenshot of it.

    plots/check_report.py RUN-or-HTML [--screenshot PNG] [--chromium PATH]

Exit 0: every <img> loaded; 1: some did not (they are named); 2: bad usage or no Chromium.
The page is checked through a copy with a tiny script added: on load it counts the images whose
naturalWidth > 0 and writes the result into the title, which Chromium's --dump-dom prints.
With --hide-family ID (or auto: the chooser's first family) it also unticks that family in the
report's chooser and checks that fewer table rows and family charts are shown, and that a
click on a summary table's heading sorts it.
"""
from __future__ import annotations

import argparse
import html.parser
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--allow-file-access-from-files", "--virtual-time-budget=10000"]
TIMEOUT_S = 90

PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  var title = "archbench-check " + (images.length - broken.length) + "/" + images.length +
    " broken:" + broken.map(function (img) { return img.getAttribute("src"); }).join(",");
  var hide = HIDE_FAMILY;
  if (hide) {
    // The chooser: untick one family, count the table rows and family charts still shown;
    // then sort the first summary table by its first connection count column.
    function shown(selector) {
      return Array.prototype.filter.call(document.querySelectorAll(selector),
        function (el) { return el.getClientRects().length > 0; }).length;
    }
    var rows = "table.sortable tr[data-arch]", figures = ".multiples figure[data-family]";
    var before = [shown(rows), shown(figures)];
    var box = document.querySelector(hide === "auto" ? "#chooser input[data-family]" :
                                      '#chooser input[data-family="' + hide + '"]');
    if (box) { box.click(); }
    var after = [shown(rows), shown(figures)];
    var table = document.querySelector("table.sortable");
    var sorted = "none";
    if (table && table.rows[0].cells.length > 2) {
      table.rows[0].cells[2].click();
      var values = Array.prototype.slice.call(table.rows, 1).map(function (row) {
        return parseFloat(row.cells[2].textContent.replace(/,/g, "")); })
        .filter(function (v) { return !isNaN(v); });
      sorted = values.every(function (v, i) { return i === 0 || values[i - 1] >= v; }) ?
        "descending" : "unsorted";
    }
    title += " chooser:" + (box ? "found" : "missing") + " rows:" + before[0] + "to" + after[0] +
      " figures:" + before[1] + "to" + after[1] + " sort:" + sorted;
  }
  document.title = title;
});
</script>"""


class ImageSources(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))


def image_sources(page: Path) -> list[str]:
    parser = ImageSources()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.sources


def find_chromium(explicit: str | None) -> str | None:
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


def check(page: Path, chromium: str, screenshot: Path | None = None,
          hide_family: str = "") -> tuple[bool, str]:
    """(every image loaded, a one-line description). With hide_family (a family's id, e.g.
    one-event-loop), the chooser must also hide some table rows and family charts when that
    family is unticked, and the first summary table must sort by a click on a heading."""
    sources = image_sources(page)
    missing = [s for s in sources if not (page.parent / s).is_file()]
    with tempfile.TemporaryDirectory(prefix="archbench-check-") as tmp:
        tmp_path = Path(tmp)
        text = page.read_text(encoding="utf-8")
        # A <base> makes the copy's relative links point at the report's folder.
        base = f'<base href="{page.parent.resolve().as_uri()}/">'
        script = PROBE.replace("HIDE_FAMILY", json.dumps(hide_family))
        probe = text.replace("<head>", "<head>" + base, 1).replace("</body>", script + "</body>",
                                                                    1)
        copy = tmp_path / "check.html"
        copy.write_text(probe, encoding="utf-8")
        try:
            out = _chromium(chromium, tmp_path / "profile", "--dump-dom", copy.as_uri())
        except subprocess.TimeoutExpired:
            return False, f"chromium did not finish within {TIMEOUT_S} s"
        match = re.search(r"<title>archbench-check (\d+)/(\d+) broken:([^< ]*)([^<]*)</title>",
                          out.stdout)
        if not match:
            return False, (f"chromium rendered no result (exit {out.returncode}): "
                           f"{out.stderr.strip().splitlines()[-1:] or ''}")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            try:
                _chromium(chromium, tmp_path / "profile", f"--screenshot={screenshot.resolve()}",
                          "--window-size=1400,4000", page.resolve().as_uri())
            except subprocess.TimeoutExpired:
                return False, "chromium took too long for the screenshot"
    loaded, total = int(match.group(1)), int(match.group(2))
    broken = [s for s in match.group(3).split(",") if s]
    ok = loaded == total == len(sources) and total > 0 and not missing
    if ok and hide_family:
        chooser = re.search(r"chooser:(\w+) rows:(\d+)to(\d+) figures:(\d+)to(\d+) sort:(\w+)",
                            match.group(4))
        if not chooser:
            return False, f"{page}: the chooser check rendered no result"
        found, rows_before, rows_after, figures_before, figures_after, order = (
            chooser.group(1), *map(int, chooser.groups()[1:5]), chooser.group(6))
        text = (f"hiding family {hide_family}: table rows {rows_before} -> {rows_after}, "
                f"family charts {figures_before} -> {figures_after}; sorted by a heading: "
                f"{order}")
        if found != "found":
            return False, f"{page}: the chooser has no family {hide_family}"
        if not (rows_after < rows_before and figures_after < figures_before
                and order == "descending"):
            return False, f"{page}: {text}"
        return True, f"{page}: renders with all {total} images; {text}"
    if ok:
        return True, f"{page}: renders with all {total} images"
    problems = broken or missing
    return False, (f"{page}: {loaded} of {len(sources)} images loaded"
                   + (f"; broken: {', '.join(problems)}" if problems else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plots/check_report.py",
                                     description="Render a report in headless Chromium and check "
                                                 "that every image loads.")
    parser.add_argument("page", type=Path, help="a run folder (its report.html) or an .html file")
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot (PNG)")
    parser.add_argument("--chromium", help="the browser (default: chromium on PATH)")
    parser.add_argument("--hide-family", default="", metavar="ID",
                        help="also untick this family in the chooser (e.g. one-event-loop, or "
                             "auto: the first) and "
                             "check that table rows and family charts go, and that a table "
                             "sorts")

    def usage_error(message: str) -> None:
        print(f"plots/check_report.py: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = usage_error
    args = parser.parse_args(argv)
    page = args.page / "report.html" if args.page.is_dir() else args.page
    if not page.is_file():
        usage_error(f"no {page} (draw it first: make plots RUN=...)")
    chromium = find_chromium(args.chromium)
    if not chromium:
        usage_error("no chromium found (apt-get install chromium)")
    ok, message = check(page, chromium, args.screenshot, args.hide_family)
    print(message if ok else f"FAILED: {message}", file=sys.stdout if ok else sys.stderr)
    if args.screenshot and ok:
        print(f"screenshot: {args.screenshot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
