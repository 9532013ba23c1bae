"""The parity table: each configuration's own check against the NumPy reference."""

from __future__ import annotations

from typing import Any

from benchmarks.document import Block, Heading, Paragraph, Table
from benchmarks.records import implementation
from benchmarks.report.tables import Column, table

Record = dict[str, Any]

RULE = (
    "The first 10 optimizer steps of each seed-0 cell, repeated in its backend and in "
    "NumPy from the same start on the same batches. Errors are in units of the "
    "tolerance (float64: 1e-9 relative, float32: 1e-4 relative): at most 1 passes. "
    "A float32 check that fails is repeated in float64, and in float32 at equal weights "
    "(before each step, the gradients at the reference's weights: nothing is "
    "amplified). Only when both pass is the float32 difference rounding amplified by "
    "training (Adam scales tiny gradients up, ReLU units switch); a float64 pass alone "
    "is no proof, since float32 can put a value exactly on a kink that float64 never "
    "reaches (a saturated sigmoid on the cross-entropy's clip bound)."
)


def _rerun_verdict(parity: dict[str, Any]) -> str:
    if "error" in parity:
        return f"error: {parity['error']}"
    worst = max(value for key, value in parity.items() if key.endswith("_over_tolerance"))
    return f"{'yes' if parity['within_tolerance'] else 'NO'} ({worst:.2g})"


def _error(name: str):
    def value(record: Record) -> str:
        parity = record["parity"]
        return "–" if "error" in parity else f"{parity[name]:.2g}"

    return value


def _verdict(record: Record) -> str:
    parity = record["parity"]
    if "error" in parity:
        return f"error: {parity['error']}"
    verdict = "yes" if parity["within_tolerance"] else "NO"
    for key, what in (("float64", "float64"), ("float32_gradients", "equal weights")):
        if parity.get(key) is not None:
            verdict += f"; {what}: {_rerun_verdict(parity[key])}"
    return verdict


def _checked(record: Record) -> str:
    """The variant; a cell that trains many models checks one of them: named after it."""
    candidate = record["parity"].get("candidate")
    return record["variant"] + (f" ({candidate})" if "candidate" in record["parity"] else "")


COLUMNS: tuple[Column[Record], ...] = (
    Column("variant", _checked),
    Column("backend:mode", lambda r: implementation(r["backend"], r["mode"])),
    Column("dtype", lambda r: r["dtype"]),
    Column("loss error", _error("loss_error_over_tolerance")),
    Column("parameter error", _error("params_error_over_tolerance")),
    Column("within tolerance", _verdict),
)


def parity_blocks(records: list[Record], note: str = "") -> list[Block]:
    """The parity checks of ``records`` (seed-0 cells), rows sorted; ``note``: what the
    workload adds to the rule (a sentence, or "")."""
    checked = [r for r in records if r.get("parity") and not r["parity"].get("reference")]
    if not checked:
        return []
    rows = table(COLUMNS, checked)
    return [
        Heading(3, "Parity with the NumPy reference"),
        Paragraph(RULE + (f" {note}" if note else "")),
        Table(rows.header, tuple(sorted(rows.rows))),
    ]
