"""``compare``'s page: NEW/compare.html, the cells that moved with each run's side (a
steady time with its 95% interval, a metric, a status) and the rest summarised per
workload. Self-contained (``benchmarks.document.to_html``): it opens from disk.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from benchmarks.compare import Comparison
from benchmarks.document import Block, Bullets, Heading, Paragraph, Table, to_html
from benchmarks.options import WriteFailed
from shared.files import write_atomic

HTML_NAME = "compare.html"


def compare_blocks(comparison: Comparison, base: Path, new: Path) -> list[Block]:
    """The page as blocks: a summary line, the moved cells' table, the rest, notes."""
    moved = sorted({change.cell for change in comparison.changes})
    blocks: list[Block] = [
        Heading(1, "What moved between two runs"),
        Paragraph(f"BASE `{base}` -> NEW `{new}`"),
        Paragraph(
            f"{comparison.compared} cells in both runs: {len(comparison.unchanged)} "
            f"unchanged, {len(comparison.not_comparable)} not comparable (another host "
            f"class); {comparison.only_base} only in BASE, {comparison.only_new} only in "
            f"NEW; {len(moved)} cell(s) with a change, below. "
            f"A steady time moved when the 95% interval of the ratio NEW / BASE lies "
            f"wholly outside ±{comparison.threshold:.0%}; a final metric, when it differs "
            f"at all (the runs are seeded)."
        ),
        Heading(2, "Cells that moved"),
    ]
    if comparison.changes:
        rows = tuple(
            (c.cell, c.what, c.before or "–", c.after or "–", c.detail) for c in comparison.changes
        )
        blocks.append(Table(("cell", "what", "BASE", "NEW", "change"), rows))
    else:
        blocks.append(Paragraph("No cell moved beyond its spread."))
    blocks += _the_rest(comparison)
    if comparison.notes:
        blocks += [Heading(2, "Notes"), Bullets(tuple(comparison.notes))]
    return blocks


def _the_rest(comparison: Comparison) -> list[Block]:
    """The unchanged cells, one line per workload, and the cells not compared."""
    blocks: list[Block] = [Heading(2, "The rest")]
    by_workload: dict[str, list[str]] = defaultdict(list)
    for cell in comparison.unchanged:
        by_workload[cell.workload].append(f"{cell.backend}:{cell.mode}")
    if by_workload:
        lines = tuple(
            f"{workload}: {len(found)} cell(s) unchanged ({', '.join(sorted(set(found)))})"
            for workload, found in sorted(by_workload.items())
        )
        blocks.append(Bullets(lines))
    else:
        blocks.append(Paragraph("No cell in both runs was unchanged."))
    if comparison.not_comparable:
        rows = tuple((c.cell, c.before, c.after) for c in comparison.not_comparable)
        blocks += [
            Paragraph("Not compared: these cells ran on another kind of machine in each run."),
            Table(("cell", "BASE host class", "NEW host class"), rows),
        ]
    return blocks


def write_compare_html(comparison: Comparison, base: Path, new: Path) -> Path:
    """Write NEW/compare.html atomically; returns its path. Raises WriteFailed."""
    title = f"compare: {base.name} -> {new.name}"
    page = to_html(compare_blocks(comparison, base, new), title)
    try:
        return write_atomic(new / HTML_NAME, page)
    except OSError as error:
        raise WriteFailed(
            f"{new / HTML_NAME} was not written: {error} (the comparison above stands)"
        ) from None
