"""A report as a list of blocks, rendered to Markdown and to self-contained HTML.

The HTML embeds everything it shows and loads nothing from the network, so it opens
from disk in any browser. A chart (``Chart``) is its PNG in the Markdown and an
interactive Plotly chart in the HTML: plotly.js is embedded once, inline, in a file that
has a chart at all. The HTML's head declares how many charts it draws, for a test in a
browser: ``<meta name="report-charts" content="N">``, each chart being
``<div class="report-chart" id="chart-K"></div>`` (K = 0..N-1) drawn by
``Plotly.newPlot("chart-K", ...)``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


class Number(str):
    """A table cell's text that carries the number it shows, ``value`` (in its column's
    raw unit: seconds for "1.23 ms"; None: no number, as "–" or "never"), so that
    report.html sorts the column by value, not by text. Anywhere else it is its text: a
    ``str`` subclass, so that tables built from plain strings, and code that joins or
    sorts rows, work unchanged."""

    value: float | None

    def __new__(cls, text: str, value: float | None) -> Number:
        cell = super().__new__(cls, text)
        cell.value = value
        return cell

    def __getnewargs__(self) -> tuple[str, float | None]:  # copy and pickle keep the value
        return (str(self), self.value)


@dataclass(frozen=True)
class Table:
    """Rows of cells under a header; a cell is its text, or a ``Number``, whose value
    report.html sorts by. Every table in report.html sorts by any column when its header
    is clicked (``SORT_SCRIPT``)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    path: str  # the PNG, relative to the run folder (report.md)
    alt: str
    plotly: str  # the Plotly figure as JSON, {"data", "layout"}, with no "</" (report.html)
    config: str = "{}"  # Plotly.newPlot's config, as JSON


Block = Heading | Paragraph | Bullets | Table | Chart

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.report-chart { width: 100%; margin: 0.5em 0 1.5em; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Bullets):
            lines += [*(f"- {item}" for item in block.items), ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += [
                "| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in block.rows
            ]
            lines.append("")
        elif isinstance(block, Chart):
            lines += [f"![{block.alt}]({block.path})", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Escape, then render `code` spans (the only inline markup the report uses)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _chart_html(block: Chart, number: int) -> str:
    """The chart's div, and the inline script that draws it (plotly.js must come first)."""
    name = f"chart-{number}"
    return (
        f'<div class="report-chart" id="{name}"></div>\n'
        f"<script>(function () {{ var figure = {block.plotly};\n"
        f'Plotly.newPlot("{name}", figure.data, figure.layout, {block.config}); }})();</script>'
    )


def _plotly_js() -> str:
    """plotly.js, from the pinned plotly package (about 4.8 MB)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def to_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    charts = 0
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            body.append(_table_html(block))
        elif isinstance(block, Chart):
            body.append(_chart_html(block, charts))
            charts += 1
    # Inline, once, and only where a chart needs it: the file opens offline.
    script = f"<script>{_plotly_js()}</script>\n" if charts else ""
    if any(isinstance(block, Table) for block in blocks):
        body.append(f"<script>{SORT_SCRIPT}</script>")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="report-charts" content="{charts}">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>\n{script}</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _cell_html(cell: str) -> str:
    """A ``<td>``; a ``Number``'s carries its value as ``data-value`` (empty where it has
    no finite value: such a cell sorts last)."""
    if not isinstance(cell, Number):
        return f"<td>{_inline(cell)}</td>"
    value = cell.value
    raw = repr(float(value)) if value is not None and math.isfinite(value) else ""
    return f'<td data-value="{raw}">{_inline(cell)}</td>'


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in table.header)
    rows = "".join("<tr>" + "".join(map(_cell_html, row)) + "</tr>" for row in table.rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


# Click a header to sort its table by that column, again to reverse. A cell with a
# finite data-value sorts by it (numbers, not their text: "2 s" after "900 ms"); a plain
# cell that starts with a number ("1.45×", "0.00095", "1.4e+02", "25,546 (3 cells)") by
# that number, then its text (a collation's "numeric" option reads "1.45" after "1.5":
# it compares runs of digits, not decimals); other cells by their text, digits as
# numbers; an empty cell, "–", or an empty data-value sorts last in either direction.
# Rows keep their order among equals (sort is stable).
SORT_SCRIPT = r"""
(function () {
  var LEADING = /^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?/;
  function key(cell) {
    var raw = cell ? cell.getAttribute("data-value") : null;
    var text = cell ? cell.textContent.trim() : "";
    if (raw !== null && raw !== "" && isFinite(raw)) return [0, parseFloat(raw), ""];
    if (raw !== null || text === "" || text === "\u2013" || text === "-") return [2, 0, ""];
    var lead = LEADING.exec(text)[0].replace(/,/g, "");
    if (/\d/.test(lead) && isFinite(parseFloat(lead))) return [0, parseFloat(lead), text];
    return [1, 0, text];
  }
  function sort(table, th, column) {
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (other) {
      other.removeAttribute("aria-sort");
      other.lastChild.textContent = "";
    });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    th.lastChild.textContent = up ? " \u25b2" : " \u25bc";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      if (x[0] !== y[0] || x[0] === 2) return x[0] - y[0];
      var order = x[1] - y[1] || x[2].localeCompare(y[2], undefined, {numeric: true});
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.appendChild(document.createElement("span"));  // the direction's arrow
      th.style.cursor = "pointer";
      th.title = "click to sort by this column";
      th.addEventListener("click", function () { sort(table, th, column); });
    });
  });
})();
"""
