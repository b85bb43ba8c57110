"""The chooser of report.html and compare.html: check boxes that show or hide families and
architectures in the family charts and the tables, and table headings that sort their rows.

Everything it toggles is drawn beforehand (one chart per family and chart kind, files
plots/<workload>-<kind>-<family>.png); a few lines of plain JavaScript, inline, hide and show
them. Nothing is fetched. Without script the chooser stays hidden and the report reads top to
bottom with every family shown: the markup is the report, the script only filters it.

The markup it relies on: an element with data-arch="NAME" is one architecture's (a table row),
one with data-family="SLUG" one family's (a family chart); a table of class "sortable" sorts by
the column whose heading is clicked (by the cell's first number, else its text).
"""
from __future__ import annotations

import html

import families
from run_data import arch_family

CSS = """
#chooser { border: 1px solid #ddd; background: #fafafa; padding: 0.5em 1em; margin: 1em 0; }
#chooser fieldset { display: inline-block; vertical-align: top; border: 1px solid #e4e4e4;
                    margin: 0.2em; padding: 0.2em 0.6em; }
#chooser legend { font-weight: bold; font-size: 0.9em; }
#chooser label { display: block; font-size: 0.85em; white-space: nowrap; }
#chooser .buttons button { margin-right: 0.5em; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr));
             gap: 0.5em 1em; }
.multiples.wide { grid-template-columns: 1fr; }
.multiples figure { margin: 0; }
.multiples figcaption { font-size: 0.85em; color: #555; }
table.sortable th { cursor: pointer; } table.sortable th[aria-sort]::after { content: " ▾"; }
table.sortable th[aria-sort="ascending"]::after { content: " ▴"; }
"""

SCRIPT = """<script>
(function () {
  var chooser = document.getElementById("chooser");
  if (!chooser) { return; }
  chooser.hidden = false;
  var archBoxes = Array.prototype.slice.call(chooser.querySelectorAll("input[data-arch]"));
  var familyBoxes = Array.prototype.slice.call(chooser.querySelectorAll("input[data-family]"));
  function outside(selector) {
    return Array.prototype.filter.call(document.querySelectorAll(selector),
      function (el) { return !chooser.contains(el); });
  }
  function update() {
    var arch = {}, family = {};
    archBoxes.forEach(function (box) {
      arch[box.dataset.arch] = box.checked;
      family[box.dataset.member] = family[box.dataset.member] || box.checked;
    });
    familyBoxes.forEach(function (box) {
      var members = archBoxes.filter(function (b) { return b.dataset.member === box.dataset.family; });
      var on = members.filter(function (b) { return b.checked; }).length;
      box.checked = on > 0;
      box.indeterminate = on > 0 && on < members.length;
    });
    outside("[data-arch]").forEach(function (el) { el.hidden = arch[el.dataset.arch] === false; });
    outside("[data-family]").forEach(function (el) { el.hidden = family[el.dataset.family] === false; });
  }
  archBoxes.forEach(function (box) { box.addEventListener("change", update); });
  familyBoxes.forEach(function (box) {
    box.addEventListener("change", function () {
      archBoxes.forEach(function (b) { if (b.dataset.member === box.dataset.family) { b.checked = box.checked; } });
      update();
    });
  });
  chooser.querySelectorAll("button[data-all]").forEach(function (button) {
    button.addEventListener("click", function () {
      archBoxes.forEach(function (b) { b.checked = button.dataset.all === "show"; });
      update();
    });
  });
  function key(cell) {
    var text = cell ? cell.textContent.trim() : "";
    var number = parseFloat(text.replace(/,/g, ""));
    return isNaN(number) ? text.toLowerCase() : number;
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var headings = table.rows[0].cells;
    Array.prototype.forEach.call(headings, function (heading, column) {
      heading.title = "sort by this column";
      heading.addEventListener("click", function () {
        var down = heading.getAttribute("aria-sort") !== "descending";
        Array.prototype.forEach.call(headings, function (h) { h.removeAttribute("aria-sort"); });
        heading.setAttribute("aria-sort", down ? "descending" : "ascending");
        var rows = Array.prototype.slice.call(table.rows, 1);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }  // numbers first
          var order = x < y ? -1 : x > y ? 1 : 0;
          return down ? -order : order;
        });
        rows.forEach(function (row) { row.parentNode.appendChild(row); });
      });
    });
  });
  update();
})();
</script>"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def row_attributes(arch: str) -> str:
    """The attributes that let the chooser hide an architecture's table row."""
    return f' data-arch="{esc(arch)}" data-member="{esc(families.slug(arch_family(arch)))}"'


def family_cell(arch: str) -> str:
    return f'<td class="name small">{esc(arch_family(arch))}</td>'


def chooser_html(grouped: dict[str, list[str]], colour) -> str:
    """The check boxes: one per family, one per architecture under its family. Hidden until the
    script shows it (a reader without script sees every family)."""
    parts = ['<div id="chooser" hidden><p><b>Show:</b> untick a family or an architecture to '
             "hide its rows in the tables and its family's charts (a family's charts go when "
             "none of its members is shown); click a table heading to sort by it. The overview "
             "charts always draw each family's best.</p>"]
    for family, members in grouped.items():
        name = families.slug(family)
        parts.append(f'<fieldset><legend><label><input type="checkbox" checked '
                     f'data-family="{esc(name)}"> {esc(family)}</label></legend>')
        for arch in members:
            parts.append(f'<label><input type="checkbox" checked data-arch="{esc(arch)}" '
                         f'data-member="{esc(name)}"> <span class="swatch" style="background:'
                         f'{colour(arch)}"></span>{esc(arch)}</label>')
        parts.append("</fieldset>")
    parts.append('<p class="buttons"><button type="button" data-all="show">show all</button>'
                 '<button type="button" data-all="hide">hide all</button></p></div>')
    return "".join(parts)


def multiples_html(entries: list[tuple[str, list[str], str, str]], wide: bool) -> str:
    """One family's small chart per entry (family, its members, image source, alt text), in a
    grid; `wide` charts (several panels) take a row each."""
    parts = [f'<div class="multiples{" wide" if wide else ""}">']
    for family, members, source, alt in entries:
        parts.append(f'<figure data-family="{esc(families.slug(family))}">'
                     f'<img src="{esc(source)}" alt="{esc(alt)}">'
                     f'<figcaption>{esc(family)}: {esc(", ".join(members))}</figcaption>'
                     f"</figure>")
    parts.append("</div>")
    return "".join(parts)
