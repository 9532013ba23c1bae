"""Records grouped into table rows: one row per variant, backend, mode and dtype."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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


GROUP_KEYS = ("variant", "backend", "mode", "dtype", "threads")  # what names a row


def groups(records: list[Record], statuses: Collection[str] | None = None) -> list[Group]:
    """The rows of ``records`` (of ``statuses`` only, when given), sorted by variant,
    backend, mode, dtype and thread count (a pandas groupby over those keys); a row with
    no record left is left out. Each row's records keep the run's order."""
    kept = [r for r in records if statuses is None or r["status"] in statuses]
    if not kept:
        return []
    keys = pd.DataFrame(
        [(*(r[key] for key in GROUP_KEYS[:-1]), named_threads(r) or 0) for r in kept],
        columns=list(GROUP_KEYS),
    )
    return [
        Group(*map(str, key), [kept[i] for i in positions], int(threads) or None)
        for (*key, threads), positions in _sorted_positions(keys).items()
    ]


def _sorted_positions(keys: pd.DataFrame) -> dict[tuple[Any, ...], list[int]]:
    """Each distinct row of ``keys`` (in sorted order) -> the positions holding it, in
    order. Python sorts the keys, as the report always has (tuples, field by field)."""
    grouped = keys.groupby(list(keys.columns), sort=False)
    return {key: list(positions) for key, positions in sorted(grouped.indices.items())}


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


def _number_or_nan(value: Any) -> float:
    """A number as a float; anything else (nothing, text, a bool) NaN, which the medians
    leave out."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return float("nan")


def timing_medians(rows: list[Group], names: Sequence[str]) -> pd.DataFrame:
    """The median over each row's records of each ``timing`` field in ``names`` (a
    groupby over the rows): a frame of one line per row of ``rows`` (index: its position
    there), one float64 column per name, in the fields' units (seconds for ``*_s``); NaN
    where a row's records have no number for it. Numbers only, as ``median_of``."""
    lines = [
        (position, *(_number_or_nan(record.get("timing", {}).get(name)) for name in names))
        for position, group in enumerate(rows)
        for record in group.records
    ]
    frame = pd.DataFrame(lines, columns=["row", *names])
    return frame.groupby("row").median().reindex(range(len(rows))).astype("float64")
