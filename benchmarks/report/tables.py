"""A table as a list of columns, each header beside the code that fills it.

    RESULTS = (*IDENTITY, Column("final loss", lambda g: fmt(g.first["metrics"]["final_loss"])))
    table(RESULTS, ok_groups(records))

A column's value is a function of a row (a ``Group`` of records, a record, or any row
object its table is made of) and returns the cell's text: for a number, the
``document.Number`` that ``report.format`` makes of it (its text with its unit, and its
value), by which report.html sorts the column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from benchmarks.document import Table
from benchmarks.records import implementation
from benchmarks.report.groups import named_threads

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    header: str
    value: Callable[[Row], str]


def table(columns: Sequence[Column[Row]], rows: Iterable[Row]) -> Table:
    """A table of one line per row, one cell per column."""
    return Table(
        tuple(column.header for column in columns),
        tuple(tuple(column.value(row) for column in columns) for row in rows),
    )


def at_threads(name: str, threads: int | None) -> str:
    """``name`` with the thread count, where a run has several (``threads`` not None)."""
    if threads is None:
        return name
    return f"{name} at {threads} thread{'' if threads == 1 else 's'}"


def identity(implementation_header: str = "backend:mode") -> tuple[Column[Any], ...]:
    """The columns that name a row of groups (anything with a ``variant``, an
    ``implementation`` and a ``dtype``, as ``Group``): variant, ``backend:mode`` (with
    the row's thread count, ``threads``, where the run has several), dtype."""
    return (
        Column("variant", lambda group: group.variant),
        Column(
            implementation_header,
            lambda group: at_threads(group.implementation, getattr(group, "threads", None)),
        ),
        Column("dtype", lambda group: group.dtype),
    )


def record_identity(*names: str) -> tuple[Column[dict[str, Any]], ...]:
    """Columns naming a record's cell: each of ``names`` ("workload", "variant", "backend"
    (as ``backend:mode``, with the thread count where the run has several), "dtype",
    "seed"), its header the name itself."""
    values: dict[str, Callable[[dict[str, Any]], str]] = {
        "workload": lambda r: r["workload"],
        "variant": lambda r: r["variant"],
        "backend": lambda r: at_threads(implementation(r["backend"], r["mode"]), named_threads(r)),
        "dtype": lambda r: r["dtype"],
        "seed": lambda r: str(r["seed"]),
    }
    return tuple(Column(name, values[name]) for name in names)
