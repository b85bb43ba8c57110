"""The docs hold together: every relative link and image in README.md and docs/*.md resolves
(a file or folder of the repository, and a heading of it when the link names an anchor), and
README's table of architectures lists exactly what `archbench-server --list` prints, each row
naming the architecture's own file; and docs/reference_figures.py, which prints the figures the
pages quote, still runs on the committed reference run. A failure names the broken link, or the
architecture missing from the table or extra in it."""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ARCHBENCH_BUILD", REPO / "build"))
SERVER = BUILD / "bin" / "archbench-server"

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HTML_TARGET = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def documents() -> list[Path]:
    return [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def without_code(text: str) -> str:
    """The text with fenced blocks and code spans blanked out: a link written as an example in
    code is not a link."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)


def link_targets(text: str) -> list[str]:
    prose = without_code(text)
    return (INLINE_LINK.findall(prose) + REFERENCE.findall(prose) + HTML_TARGET.findall(prose))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without markup, lower case, punctuation dropped,
    spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(document: Path, root: Path = REPO) -> list[str]:
    """Each relative link or image of `document` that does not resolve, with the reason."""
    broken = []
    for target in link_targets(document.read_text(encoding="utf-8")):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        where = f"{document.relative_to(root)}: link {target!r}"
        if path_part and not resolved.exists():
            broken.append(f"{where}: no such file or folder {resolved}")
        elif path_part and root.resolve() not in resolved.parents and resolved != root.resolve():
            broken.append(f"{where}: points outside the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{where}: {resolved.relative_to(root.resolve())} has no heading "
                          f"with anchor #{anchor}")
    return broken


def architectures_table(readme: Path) -> list[tuple[str, str]]:
    """(name, file) of each row of the first table under README's heading "Architectures"."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    try:
        start = next(i for i, line in enumerate(lines)
                     if re.match(r"^#{2,3}\s+Architectures\s*$", line))
    except StopIteration:
        raise AssertionError("README.md has no heading '## Architectures'") from None
    rows = []
    in_table = False
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if re.fullmatch(r"[-: ]+", "".join(cells)) or cells[0].lower() == "name":
            continue  # the separator and the header
        name = re.sub(r"[`*\[\]]", "", cells[0]).strip()
        link = re.search(r"\]\(([^)]+)\)", cells[1]) if len(cells) > 1 else None
        file = link.group(1) if link else re.sub(r"[`*]", "", cells[1] if len(cells) > 1 else "")
        rows.append((name, file.strip()))
    return rows


def listed_architectures() -> list[str]:
    if not SERVER.exists():
        raise AssertionError(f"no {SERVER}: build it first (make), or set ARCHBENCH_BUILD")
    out = subprocess.run([str(SERVER), "--list"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise AssertionError(f"{SERVER} --list exited {out.returncode}: {out.stderr.strip()}")
    return [line.split("\t", 1)[0] for line in out.stdout.splitlines() if line.strip()]


class LinksResolve(unittest.TestCase):
    def test_every_relative_link_and_image_resolves(self):
        broken = [problem for document in documents() for problem in broken_links(document)]
        if broken:
            self.fail("broken links:\n  " + "\n  ".join(broken))

    def test_every_docs_page_is_linked_from_readme(self):
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        targets = {(REPO / t.partition("#")[0]).resolve() for t in link_targets(readme)}
        unlinked = [str(page.relative_to(REPO)) for page in sorted((REPO / "docs").glob("*.md"))
                    if page.resolve() not in targets]
        if unlinked:
            self.fail(f"docs pages README.md does not link to: {unlinked}")

    def test_the_checker_reports_a_missing_file_a_missing_anchor_and_a_missing_image(self):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "docs").mkdir()
            (root / "docs" / "page.md").write_text("# A page\n\n## Real heading\n")
            document = root / "README.md"
            document.write_text(
                "[fine](docs/page.md#real-heading) [gone](docs/nothing.md)\n"
                "[no anchor](docs/page.md#not-there) ![no image](plots/none.png)\n"
                "`[in code](not/a/link.md)` [web](https://example.org/x)\n"
                "```\n[fenced](not/a/link.md)\n```\n")
            broken = broken_links(document, root)
        self.assertEqual(len(broken), 3, broken)
        self.assertTrue(any("docs/nothing.md" in problem for problem in broken), broken)
        self.assertTrue(any("#not-there" in problem for problem in broken), broken)
        self.assertTrue(any("plots/none.png" in problem for problem in broken), broken)


class ReferenceFigures(unittest.TestCase):
    def test_the_script_that_prints_the_docs_figures_runs_on_the_reference_run(self):
        run = REPO / "results" / "reference"
        out = subprocess.run([sys.executable, str(REPO / "docs" / "reference_figures.py"), str(run)],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(run / "points.csv", encoding="utf-8") as points:
            architectures = {row["arch"] for row in csv.DictReader(points)}
        printed = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
        self.assertLessEqual(architectures, printed,
                             f"architectures of points.csv the script printed no row for: "
                             f"{sorted(architectures - printed)}")


class ArchitecturesTable(unittest.TestCase):
    def test_readme_lists_exactly_the_architectures_of_archbench_server_list(self):
        listed = listed_architectures()
        rows = [name for name, _ in architectures_table(REPO / "README.md")]
        missing = [name for name in listed if name not in rows]
        extra = [name for name in rows if name not in listed]
        twice = sorted({name for name in rows if rows.count(name) > 1})
        if missing or extra or twice:
            self.fail(f"README's architectures table against archbench-server --list: "
                      f"missing {missing}, not listed by the server {extra}, twice {twice}")

    def test_each_row_names_the_architectures_own_file(self):
        problems = []
        for name, file in architectures_table(REPO / "README.md"):
            expected = {f"servers/{name}.cpp", f"servers/external/{name}.toml"}
            if file not in expected:
                problems.append(f"{name}: the file column says {file!r}, "
                                f"not one of {sorted(expected)}")
            elif not (REPO / file).is_file():
                problems.append(f"{name}: {file} does not exist")
        if problems:
            self.fail("\n".join(problems))

    def test_every_listed_architecture_has_its_file_in_servers(self):
        missing = [name for name in listed_architectures()
                   if not (REPO / "servers" / f"{name}.cpp").is_file()
                   and not (REPO / "servers" / "external" / f"{name}.toml").is_file()]
        if missing:
            self.fail(f"listed architectures without servers/NAME.cpp or "
                      f"servers/external/NAME.toml: {missing}")


if __name__ == "__main__":
    unittest.main()
