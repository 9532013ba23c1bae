"""The parity table: each configuration's own check against the NumPy reference."""

from __future__ import annotations

from typing import Any

from benchmarks.document import Block, Heading, Paragraph, Table
from benchmarks.records import implementation
from benchmarks.report.tables import Column, table
from shared.tolerances import ROUNDING_MULTIPLE

Record = dict[str, Any]

RULE = (
    "The first 10 optimizer steps of each seed-0 cell, repeated in its backend and in "
    "NumPy from the same start on the same batches. Errors are in units of the "
    "tolerance (float64: 1e-9 relative, float32: 1e-4 relative): at most 1 passes. "
    "A float32 check beyond it is judged against float32 rounding, measured on the same "
    "start and batches from the reference itself: NumPy in float32 against NumPy in "
    "float64, and against NumPy in float32 on the batch rows reversed (another summation "
    "order); the larger deviation, per quantity, is the envelope. It is within rounding "
    "when the loss, the weights (in tolerance units) and the gradients at the "
    "reference's weights before each step (norm-wise relative error per tensor, where "
    "Adam's per-weight scaling cannot hide a wrong gradient) each lie within "
    f"{ROUNDING_MULTIPLE} times their envelope (never tighter than the tolerance). Adam "
    "moves a weight whose gradient is nearly zero by about its learning rate whatever "
    "the gradient's sign, so float32 rounding alone can put weights far beyond 1e-4. "
    "A check beyond rounding too is repeated in float64 (does float64 agree?); its "
    "equal-weights gradients are shown in tolerance units."
)

_QUANTITIES = (("params", "parameters"), ("loss", "loss"), ("grads", "gradients"))


def _rerun_verdict(parity: dict[str, Any]) -> str:
    if "error" in parity:
        return f"error: {parity['error']}"
    worst = max(value for key, value in parity.items() if key.endswith("_over_tolerance"))
    return f"{'yes' if parity['within_tolerance'] else 'NO'} ({worst:.2g})"


def _tensor(quantity: dict[str, Any]) -> str:
    return f" of {quantity['tensor']}" if quantity.get("tensor") else ""


def _rounding(parity: dict[str, Any]) -> str:
    """The rounding verdict: each quantity's envelope and error, or those beyond it."""
    rounding = parity["rounding"]
    judged = [(what, rounding[name]) for name, what in _QUANTITIES if name in rounding]
    if rounding["within_rounding"]:
        shown = "; ".join(
            f"{what}: envelope {q['envelope']:.2g}, error {q['error']:.2g}" for what, q in judged
        )
        return f"within rounding ({shown})"
    beyond = [
        f"{what}{_tensor(q)}: error {q['error']:.2g} > bound {q['bound']:.2g}, "
        f"envelope {q['envelope']:.2g}"
        for what, q in judged
        if not q["within"]
    ]
    errors = [
        f"{what}: {parity[key]['error']}"
        for key, what in (("envelope", "envelope"), ("float32_gradients", "equal weights"))
        if "error" in parity.get(key, {})
    ]
    return "NO, beyond rounding (" + "; ".join(beyond + errors) + ")"


def _error(name: str):
    def value(record: Record) -> str:
        parity = record["parity"]
        return "–" if "error" in parity else f"{parity[name]:.2g}"

    return value


def parity_verdict(record: Record) -> str:
    """yes (within the tolerance), within rounding (with the envelope), or NO with the
    re-checks' verdicts."""
    parity = record["parity"]
    if "error" in parity:
        return f"error: {parity['error']}"
    if parity["within_tolerance"]:
        return "yes"
    verdict = _rounding(parity) if "rounding" in parity else "NO"
    if parity.get("rounding", {}).get("within_rounding"):
        return verdict
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
    Column("verdict", parity_verdict),
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
