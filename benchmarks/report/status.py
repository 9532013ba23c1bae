"""The cells that did not finish ok, and those that do not apply."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from benchmarks.document import Block, Bullets, Heading, Paragraph
from benchmarks.report.tables import Column, record_identity, table

Record = dict[str, Any]

NOT_OK_COLUMNS: tuple[Column[Record], ...] = (
    *record_identity("workload", "variant", "backend", "dtype", "seed"),
    Column("status", lambda r: r["status"]),
    Column("reason", lambda r: r.get("reason", "")),
)


def status_blocks(records: list[Record]) -> list[Block]:
    """Every cell not ok (skipped, diverged, failed, timed out) with its reason, then the
    reasons cells were not applicable, counted."""
    not_applicable = [r for r in records if r.get("reason", "").startswith("not applicable")]
    not_ok = [r for r in records if r["status"] != "ok" and r not in not_applicable]
    blocks: list[Block] = [Heading(2, "Cells not ok")]
    if not not_ok:
        blocks.append(Paragraph("None: every cell that applies finished with status ok."))
    else:
        blocks.append(table(NOT_OK_COLUMNS, not_ok))
    if not_applicable:
        reasons: dict[str, int] = defaultdict(int)
        for r in not_applicable:
            reasons[f"{r['workload']}: {r['reason']}"] += 1
        blocks += [
            Heading(3, "Not applicable (not run)"),
            Bullets(
                tuple(f"{reason} ({count} cells)" for reason, count in sorted(reasons.items()))
            ),
        ]
    return blocks
