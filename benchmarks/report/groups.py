"""Records grouped into table rows: one row per variant, backend, mode and dtype."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.records import implementation, process_steady_seconds

Record = dict[str, Any]


@dataclass(frozen=True)
class Group:
    """The records of one table row: a variant on one backend, mode and dtype (and
    thread count, in a run of several), its seeds (and their statuses, as the caller
    kept them) pooled, in the run's order."""

    variant: str
    backend: str
    mode: str
    dtype: str
    records: list[Record]
    threads: int | None = None  # None: the run has one thread count (rows do not name it)

    @property
    def implementation(self) -> str:
        return implementation(self.backend, self.mode)

    @property
    def first(self) -> Record:
        """The row's first record (its lowest seed, as the run sorts its cells)."""
        return self.records[0]


def named_threads(record: Record) -> int | None:
    """The record's thread count where its run has several (its name carries it), else
    None."""
    return record.get("threads") if record.get("threads_in_name") else None


def groups(records: list[Record], statuses: Collection[str] | None = None) -> list[Group]:
    """The rows of ``records`` (of ``statuses`` only, when given), sorted by variant,
    backend, mode, dtype and thread count; a row with no record left is left out."""
    grouped: dict[tuple[str, str, str, str, int], list[Record]] = defaultdict(list)
    for record in records:
        if statuses is None or record["status"] in statuses:
            key = (record["variant"], record["backend"], record["mode"], record["dtype"])
            grouped[(*key, named_threads(record) or 0)].append(record)
    return [Group(*key, rows, threads or None) for (*key, threads), rows in sorted(grouped.items())]


def ok_groups(records: list[Record]) -> list[Group]:
    """The rows of the records that finished ok."""
    return groups(records, ("ok",))


def median_of(records: list[Record], getter: Callable[[Record], Any]) -> float | None:
    """The median of ``getter`` over ``records``, numbers only (None: no number)."""
    values = [getter(r) for r in records]
    values = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(np.median(values)) if values else None


def timing(name: str) -> Callable[[Record], Any]:
    """A getter of the record's ``timing[name]``."""
    return lambda record: record.get("timing", {}).get(name)


def steady_processes(records: list[Record]) -> list[list[float]]:
    """Steady epoch seconds of every process of every seed (see stats.py on why the
    process is the unit)."""
    return [process for r in records for process in process_steady_seconds(r)]
