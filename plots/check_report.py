#!/usr/bin/env python3
"""Checks that RUN/report.html (or a compare.html) renders in headless Chromium with every
image loaded, and optionally takes a screenshot of it.

    plots/check_report.py RUN-or-HTML [--screenshot PNG] [--chromium PATH]

Exit 0: every <img> loaded; 1: some did not (they are named); 2: bad usage or no Chromium.
The page is checked through a copy with a tiny script added (the report itself has none): on
load it counts the images whose naturalWidth > 0 and writes the result into the title, which
Chromium's --dump-dom prints.
"""
from __future__ import annotations

import argparse
import html.parser
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
  document.title = "archbench-check " + (images.length - broken.length) + "/" + images.length +
    " broken:" + broken.map(function (img) { return img.getAttribute("src"); }).join(",");
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


def check(page: Path, chromium: str, screenshot: Path | None = None) -> tuple[bool, str]:
    """(every image loaded, a one-line description)."""
    sources = image_sources(page)
    missing = [s for s in sources if not (page.parent / s).is_file()]
    with tempfile.TemporaryDirectory(prefix="archbench-check-") as tmp:
        tmp_path = Path(tmp)
        text = page.read_text(encoding="utf-8")
        # A <base> makes the copy's relative links point at the report's folder.
        base = f'<base href="{page.parent.resolve().as_uri()}/">'
        probe = text.replace("<head>", "<head>" + base, 1).replace("</body>", PROBE + "</body>",
                                                                    1)
        copy = tmp_path / "check.html"
        copy.write_text(probe, encoding="utf-8")
        try:
            out = _chromium(chromium, tmp_path / "profile", "--dump-dom", copy.as_uri())
        except subprocess.TimeoutExpired:
            return False, f"chromium did not finish within {TIMEOUT_S} s"
        match = re.search(r"<title>archbench-check (\d+)/(\d+) broken:([^<]*)</title>", out.stdout)
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
    ok, message = check(page, chromium, args.screenshot)
    print(message if ok else f"FAILED: {message}", file=sys.stdout if ok else sys.stderr)
    if args.screenshot and ok:
        print(f"screenshot: {args.screenshot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
