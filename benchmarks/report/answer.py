"""The report's answer first: per workload and variant, the fastest backend and mode
against the next, what tracing and compiling cost, whether every backend agrees with
the NumPy reference, and the source experiment's figures beside this run's.

A workload says how its cells are ranked (``Workload.report_pace``: by default its
steady epochs, ``epoch_pace``) and which of the source's figures it can set beside its
own (``Workload.report_source``: none by default); ``build`` gathers both into a
``WorkloadAnswer`` per workload, so nothing here names one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from benchmarks.document import Block, Bullets, Heading, Paragraph, Table
from benchmarks.hosts import by_host_class
from benchmarks.records import process_steady_seconds
from benchmarks.report.context import ReportContext
from benchmarks.report.environment import shared_host
from benchmarks.report.format import seconds
from benchmarks.report.groups import Group, groups
from benchmarks.report.parity import parity_verdict
from benchmarks.report.tables import at_threads
from benchmarks.stats import bootstrap_ratio, center, center_interval

Record = dict[str, Any]
Processes = list[list[float]]
# Modes that run the framework's ops one by one: no tracing or compiling to pay for.
EAGER = "eager"


@dataclass(frozen=True)
class Pace:
    """What a cell is ranked by: seconds of one steady unit of its work, per process
    (the unit of a timing sample, see ``benchmarks.stats``), and what its first unit
    cost beyond a steady one (tracing, compiling, warming up)."""

    steady: Processes  # (process, seconds of each steady unit); [] when none was timed
    first_call_s: float | None  # first unit minus a steady one, seconds; None: unknown
    unit: str = "epoch"  # what one unit is ("epoch", "TD step", ...)


def epoch_pace(record: Record, unit: str = "epoch") -> Pace:
    """The default ``Pace`` of a record: its steady epochs (every process), and its
    first epoch minus its steady median epoch."""
    timing = record.get("timing", {})
    first, steady = timing.get("first_epoch_s"), timing.get("steady_median_s")
    first_call = first - steady if first is not None and steady is not None else None
    return Pace(process_steady_seconds(record), first_call, unit)


@dataclass(frozen=True)
class SourceFigure:
    """One figure of the source experiment (``shared/reference.md``) beside this run's."""

    quantity: str  # what is compared ("success rate over seeds")
    ours: str  # this run's figure, saying whose it is
    source: str  # the source's figure, citing where it comes from
    caveat: str = ""  # why this run cannot be compared with it (a preset too short); ""


def value_range(values: list[float | None], digits: int = 4, count: bool = True) -> str:
    """This run's values of one figure over its cells: one value where they agree to
    ``digits`` significant digits, else "low–high", and (``count``) how many cells; "–"
    for none."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "–"
    low, high = f"{min(values):.{digits}g}", f"{max(values):.{digits}g}"
    cells = f" ({len(values)} cells)" if count and len(values) > 1 else ""
    return (low if low == high else f"{low}–{high}") + cells


def too_short(
    preset: str,
    ours: float,
    source: float,
    unit: str,
    whose: str = "source",
    show: Callable[[float], str] = "{:,.0f}".format,
) -> str:
    """The caveat of a figure whose run is shorter than the source's (``whose``): how
    much this preset ran against it, in ``unit`` (numbers written by ``show``); "" when
    it is not shorter."""
    if ours >= source:
        return ""
    return f"no: {preset} preset, {show(ours)} {unit} against the {whose}'s {show(source)}"


@dataclass(frozen=True)
class WorkloadAnswer:
    """One workload's part of the answer, as ``build`` gathers it."""

    context: ReportContext
    pace: Callable[[Record], Pace]  # the workload's ``report_pace``
    figures: list[SourceFigure]  # the workload's ``report_source``


@dataclass(frozen=True)
class Ranked:
    """A row's ok cells pooled: every process's steady units, and the median first call."""

    group: Group
    sample: Processes
    first_call_s: float | None
    unit: str

    @property
    def name(self) -> str:
        return f"{self.group.implementation} ({self.group.dtype})"

    def steady(self) -> str:
        """The center with its bootstrap 95% interval (processes, then units in each)."""
        low, high = center_interval(self.sample)
        shared = any(shared_host(r) for r in self.group.records)
        return (
            f"{seconds(center(self.sample))} [{seconds(low)}, {seconds(high)}] per {self.unit}"
            + (" (shared host: not comparable)" if shared else "")
        )


@dataclass(frozen=True)
class Row:
    """One line of the answer: a variant (at a thread count, on a host class) and its
    backends, fastest first among those that finished ok."""

    workload: str
    variant: str
    backends: list[Group]  # every backend, mode and dtype that ran it, any status
    ranked: list[Ranked]  # those with a steady time, fastest first

    @cached_property
    def ratio(self) -> tuple[float, float, float] | None:
        """The next fastest's steady time over the fastest's, with its 95% interval."""
        if len(self.ranked) < 2:
            return None
        return bootstrap_ratio(self.ranked[1].sample, self.ranked[0].sample)


def _ranked(group: Group, pace: Callable[[Record], Pace]) -> Ranked | None:
    paces = [pace(r) for r in group.records if r["status"] == "ok"]
    sample = [process for p in paces for process in p.steady if process]
    if not sample:
        return None
    firsts = [p.first_call_s for p in paces if p.first_call_s is not None]
    first = float(np.median(firsts)) if firsts else None
    return Ranked(group, sample, first, paces[0].unit)


def answer_rows(answer: WorkloadAnswer) -> list[Row]:
    """The rows of one workload: a row per variant and thread count, per host class
    where the records span several (a ratio means something within one class only)."""
    parts = by_host_class(answer.context.records)
    rows = []
    for kind, part in parts:
        on = f", on {kind.label}" if len(parts) > 1 and kind is not None else ""
        by_variant: dict[tuple[str, int], list[Group]] = defaultdict(list)
        for group in groups(part):
            by_variant[(group.variant, group.threads or 0)].append(group)
        for (variant, threads), backends in sorted(by_variant.items()):
            ranked = [r for g in backends if (r := _ranked(g, answer.pace)) is not None]
            ranked.sort(key=lambda r: center(r.sample))
            name = at_threads(variant, threads or None) + on
            rows.append(Row(answer.context.workload, name, backends, ranked))
    return rows


def _parity(group: Group) -> tuple[str, str]:
    """(verdict, detail) of a backend: reference, yes, within rounding (detail: its
    largest error over its envelope), NO or error (detail: the parity table's words),
    or, where no cell finished ok, its statuses."""
    checked = [r for r in group.records if r.get("parity")]
    if any(r["parity"].get("reference") for r in checked):
        return "reference", ""
    if checked:
        text = parity_verdict(checked[0])
        if text.startswith("within rounding"):
            return "within rounding", str(_rounding_share(checked[0]))
        word = text.split(" ")[0].rstrip(":,;")  # yes, NO, error
        return word, text[len(word) :].lstrip(":,; ")
    if not any(r["status"] == "ok" for r in group.records):
        return "did not finish ok", ", ".join(sorted({r["status"] for r in group.records}))
    return "not checked", ""


def _rounding_share(record: Record) -> float:
    """The largest error of a float32 check over its measured rounding envelope, over
    the quantities with an envelope above 0 (NumPy float32 and float64 can agree exactly,
    a loss of 0 say: such a quantity passed by the tolerance floor, and the parity table
    shows it); 0.0 when none has one."""
    rounding = record["parity"]["rounding"]
    shares = [
        q["error"] / q["envelope"]
        for q in rounding.values()
        if isinstance(q, dict) and q["envelope"] > 0
    ]
    return max((share for share in shares if np.isfinite(share)), default=0.0)


def parity_text(row: Row) -> str:
    """Every backend's parity verdict, backends grouped by verdict; a failure says why,
    a pass within rounding how close to its envelope the worst one came."""
    names: dict[str, list[str]] = defaultdict(list)
    shares: list[float] = []
    several_dtypes = len({group.dtype for group in row.backends}) > 1
    for group in row.backends:
        word, detail = _parity(group)
        name = group.implementation + (f" ({group.dtype})" if several_dtypes else "")
        if word == "within rounding":
            shares.append(float(detail))
            detail = ""
        names[word].append(f"{name}: {detail}" if detail else name)
    if shares:
        worst = f"within rounding (errors up to {max(shares):.2g}× the measured float32 envelope)"
        names[worst] = names.pop("within rounding")
    first = ("NO", "error", "did not finish ok")
    order = [*first, *(w for w in names if w not in (*first, "reference")), "reference"]
    return "; ".join(f"{word}: {', '.join(names[word])}" for word in order if names.get(word))


def verdict_line(row: Row) -> str:
    """The row read in one line: who is fastest, by how much, and who disagrees."""
    where = f"{row.workload} {row.variant}"
    if not row.ranked:
        speed = "no cell finished ok with a steady time: nothing to rank"
    elif len(row.ranked) == 1:
        speed = f"only {row.ranked[0].name} has a steady time: nothing to compare it with"
    else:
        fastest, second = row.ranked[0], row.ranked[1]
        value, low, high = row.ratio or (0.0, 0.0, 0.0)
        speed = (
            f"{fastest.name} is the fastest, {value:.3g}× [{low:.3g}, {high:.3g}] ahead of "
            f"{second.name}"
            if low > 1
            else f"{fastest.name} and {second.name} are not told apart "
            f"({value:.3g}× [{low:.3g}, {high:.3g}])"
        )
    words = [_parity(g)[0] for g in row.backends]
    # A check that crashed ("error") says nothing of agreement: it is named apart.
    failed, errors = words.count("NO"), words.count("error")
    rounding = words.count("within rounding")
    agree = (
        f"{failed} of {len(words)} disagree with the reference"
        if failed
        else "every checked backend agrees with the reference"
        + (f" ({rounding} within float32 rounding)" if rounding else "")
    ) + (f"; the parity check of {errors} crashed" if errors else "")
    unfinished = words.count("did not finish ok")
    return f"{where}: {speed}; {agree}" + (
        f"; {unfinished} did not finish ok." if unfinished else "."
    )


def _speed_cells(row: Row) -> tuple[str, str, str, str]:
    """Fastest, next, their ratio and the first calls, as table cells."""
    if not row.ranked:
        return "no steady time", "–", "–", "–"
    fastest = row.ranked[0]
    first = f"{fastest.name}: {fastest.steady()}"
    compiling = ", ".join(
        f"{r.group.implementation} {seconds(r.first_call_s)}"
        for r in row.ranked
        if r.group.mode != EAGER and r.first_call_s is not None
    )
    compiling = compiling or "none (eager modes only)"
    if len(row.ranked) == 1:
        return first, "only one backend: nothing to compare", "–", compiling
    second = row.ranked[1]
    value, low, high = row.ratio or (0.0, 0.0, 0.0)
    ratio = f"{value:.3g} [{low:.3g}, {high:.3g}]"
    return first, f"{second.name}: {second.steady()}", ratio, compiling


SPEED_HEADER = (
    "workload",
    "variant",
    "fastest: steady time [95% CI]",
    "next fastest",
    "next ÷ fastest [95% CI]",
    "first call − steady (tracing, compiling)",
    "parity with the NumPy reference",
)
FIGURES_HEADER = ("workload", "figure", "this run", "the source", "comparable?")

ABOUT = (
    "How to read it: per workload and variant, the backend:mode with the shortest steady "
    "time (the median over processes of each one's median epoch, or the workload's "
    "unit), its bootstrap 95% interval (with one process a row, epoch noise only), the "
    "next fastest and their ratio (not told apart when its interval holds 1); the first "
    "call's seconds beyond a steady one for the modes that trace or compile; every "
    "backend's parity verdict, as in the workload's parity table (float32 checks beyond "
    "1e-4 judged against float32 rounding measured from NumPy). The second table sets "
    "the source experiment's figures (shared/reference.md) beside this run's, and says "
    "when this run is too short to compare. The workload sections below have every row."
)


def answer_blocks(answers: list[WorkloadAnswer]) -> list[Block]:
    """The answer section: a verdict line per row, the speed and parity table, the
    source's figures beside this run's, and how to read them; nothing when no workload
    ran."""
    rows = [row for answer in answers for row in answer_rows(answer)]
    if not rows:
        return []
    speed = tuple((row.workload, row.variant, *_speed_cells(row), parity_text(row)) for row in rows)
    figures = tuple(
        (answer.context.workload, f.quantity, f.ours, f.source, f.caveat or "yes")
        for answer in answers
        for f in answer.figures
    )
    blocks: list[Block] = [
        Heading(2, "The answer: which backend is fastest, by how much, and do they agree?"),
        Bullets(tuple(verdict_line(row) for row in rows)),
        Table(SPEED_HEADER, speed),
    ]
    if figures:
        blocks.append(Table(FIGURES_HEADER, figures))
    blocks.append(Paragraph(ABOUT))
    return blocks
