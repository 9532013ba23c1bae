"""The "Memory growth" section: the cells whose RSS kept growing (benchmarks.memory)."""

from __future__ import annotations

from typing import Any

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.memory import GROWTH_FLAG_FRACTION, GROWTH_FLAG_MB, record_growth
from benchmarks.report.tables import Column, record_identity, table

Record = dict[str, Any]
Flagged = tuple[Record, dict[str, Any]]  # a record and its record_growth

RULE = (
    "Each cell records its resident set size (RSS) after every epoch, or, in a workload "
    "without epochs, after every episode (net of the replay memory's filled part) or "
    "candidate model. A cell is "
    "flagged when the least-squares line through the samples of the second half of its "
    f"run rises by more than {GROWTH_FLAG_MB:.0f} MB and by more than "
    f"{GROWTH_FLAG_FRACTION:.0%} of the RSS at that half's start: memory that keeps "
    "growing, which a longer run of the same cell would run out of. Also in summary.csv "
    "(rss_growth_mb: MiB over the second half; rss_growth_mb_per_1k: MiB per 1,000 of "
    "rss_unit, the epochs, agent steps or candidates the samples are taken at; "
    "rss_growing: flagged)."
)


def _mb(value: float) -> str:
    return f"{value:,.0f} MB" if abs(value) >= 100 else f"{value:.3g} MB"


COLUMNS: tuple[Column[Flagged], ...] = (
    *(
        Column(c.header, lambda flagged, c=c: c.value(flagged[0]))
        for c in record_identity("workload", "variant", "backend", "dtype", "seed")
    ),
    Column("second half", lambda flagged: _mb(flagged[1]["rss_growth_mb"])),
    Column(
        "slope",
        lambda flagged: (
            f"{_mb(flagged[1]['rss_growth_mb_per_1k'])} per 1,000 {flagged[1]['rss_unit']}"
        ),
    ),
)


def growth_blocks(records: list[Record]) -> list[Block]:
    """The report's "Memory growth" section: the rule, and the cells it flags."""
    judged = [(record, growth) for record in records if (growth := record_growth(record))]
    flagged = [(record, growth) for record, growth in judged if growth["rss_growing"]]
    blocks: list[Block] = [Heading(2, "Memory growth"), Paragraph(RULE)]
    if not flagged:
        cells = f"{len(judged)} cell{'' if len(judged) == 1 else 's'}"
        blocks.append(Paragraph(f"None flagged ({cells} with enough RSS samples)."))
        return blocks
    return [*blocks, table(COLUMNS, flagged)]
