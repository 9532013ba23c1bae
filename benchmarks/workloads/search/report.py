"""The search's part of the report: what a candidate costs per framework (its speed
section), the best design each agent found, and whether the frameworks found the same."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.document import Block, Bullets, Heading, Paragraph
from benchmarks.records import implementation
from benchmarks.report.answer import Pace, SourceFigure, too_short
from benchmarks.report.by_host import per_host_class
from benchmarks.report.context import ReportContext
from benchmarks.report.format import fmt, seconds
from benchmarks.report.groups import Group, median_of, ok_groups, timing
from benchmarks.report.tables import Column, identity, table
from benchmarks.workloads.search.cell import PHASES

Record = dict[str, Any]


def candidate_costs(record: Record) -> dict[str, Any]:
    """A search cell's mean candidate: each phase's mean seconds (``timing``), the
    median steady epoch and steady evaluation, the mean total, and the mean overhead,
    build + (first epoch - steady epoch) + first evaluation, each candidate's first epoch
    against its own steady one."""
    t = record.get("timing", {})
    costs = {key: t.get(f"mean_{key}") for key in (*PHASES, "candidate_s")}
    if costs["first_eval_s"] is None:  # older records: one evaluation, its first call
        costs["first_eval_s"] = t.get("mean_eval_s")
    costs["steady_s"] = t.get("median_steady_epoch_s")
    costs["steady_eval_s"] = t.get("median_steady_eval_s")
    costs["search_s"] = t.get("search_total_s")
    overheads = [
        c["build_s"]
        + (c["first_epoch_s"] - c["steady_epoch_median_s"])
        + c.get("first_eval_s", c.get("eval_s"))
        for c in record.get("candidates", [])
        if c.get("steady_epoch_median_s") is not None  # one epoch: no steady epoch to compare
    ]
    costs["overhead_s"] = float(np.mean(overheads)) if overheads else None
    # the first build also pays the framework's one-time warm-up (seconds in torch)
    first = min(record.get("candidates", []), key=lambda c: c.get("order", 0), default={})
    costs["first_build_s"] = first.get("build_s")
    return costs


def _median_cost(records: list[Record], name: str) -> float | None:
    return median_of(records, lambda r: candidate_costs(r).get(name))


@dataclass(frozen=True)
class CostRow:
    """A row of the cost table: a group of ok search cells and its variant's fastest
    per-candidate total."""

    group: Group
    fastest: float | None

    variant = property(lambda self: self.group.variant)
    implementation = property(lambda self: self.group.implementation)
    dtype = property(lambda self: self.group.dtype)
    threads = property(lambda self: self.group.threads)

    def cost(self, name: str) -> float | None:
        return _median_cost(self.group.records, name)

    def share(self) -> str:
        overhead, total = self.cost("overhead_s"), self.cost("candidate_s")
        return f"{overhead / total:.0%}" if overhead is not None and total else "–"

    def versus_fastest(self) -> str:
        total = self.cost("candidate_s")
        return f"{total / self.fastest:.3g}" if total and self.fastest else "–"


def _episodes_done(row: CostRow) -> str:
    """Episodes per agent done of those planned, marked where the time budget ran out."""
    records = row.group.records
    done = median_of(records, lambda r: r.get("metrics", {}).get("episodes_per_agent_done"))
    planned = median_of(records, lambda r: r.get("config", {}).get("episodes_per_agent"))
    if done is None or planned is None:
        return "–"
    stopped = any(not r.get("metrics", {}).get("complete", True) for r in records)
    # A resumed cell's search wall time adds its processes' seconds (cell.py)
    resumed = sorted({r["resumed_from_episode"] for r in records if r.get("resumed_from_episode")})
    notes = ["budget spent"] if stopped else []
    notes += [f"resumed after episode {', '.join(map(str, resumed))}"] if resumed else []
    return f"{done:.0f} of {planned:.0f}" + (f" ({'; '.join(notes)})" if notes else "")


def _cost(header: str, name: str) -> Column[CostRow]:
    return Column(header, lambda row: seconds(row.cost(name)))


COST_COLUMNS: tuple[Column[CostRow], ...] = (
    *identity(),
    Column("episodes per agent", _episodes_done),
    Column("candidates", lambda row: fmt(median_of(row.group.records, timing("candidates")))),
    _cost("build", "build_s"),
    _cost("first build", "first_build_s"),
    _cost("prepare", "prepare_s"),
    _cost("first epoch", "first_epoch_s"),
    _cost("steady epoch", "steady_s"),
    _cost("later epochs", "later_epochs_s"),
    _cost("first evaluation", "first_eval_s"),
    _cost("steady evaluation", "steady_eval_s"),
    _cost("per candidate", "candidate_s"),
    _cost("overhead", "overhead_s"),
    Column("overhead share", CostRow.share),
    _cost("search wall time", "search_s"),
    Column("× fastest", CostRow.versus_fastest),
)

COST_ABOUT = (
    "Episodes per agent: of the preset's schedule; a search stops starting episodes "
    "when its time budget is spent (the compile modes, which compile every design "
    "anew, may), and then compares fewer designs. "
    "Every design a cell trains (a design proposed again is not trained again) is built, "
    "trained for the preset's epochs and evaluated once; the columns are means over the "
    "candidates a cell trained, medians over seeds. Build: `build_model`; first build: "
    "the first candidate's, which also pays the framework's one-time warm-up (the build "
    "mean includes it, so a search of few candidates looks dearer); prepare: moving the "
    "batches to the framework; first epoch: tracing and compiling included; steady epoch:"
    " the median over candidates of each one's median later epoch; later epochs: all "
    "epochs after the first, summed; first evaluation: predicting the validation set the "
    "first time (compiling the predict path included); steady evaluation: the median "
    "over candidates of the same prediction repeated (a second pass for this column, "
    "in no other). Overhead: what a candidate costs beyond training at "
    "steady speed, build + (first epoch - steady epoch) + first evaluation, each "
    "candidate's "
    "first epoch against its own steady epoch; its share is of the candidate's total. "
    "Search wall time: the whole search loop, agents included (a search resumed from its "
    "save adds the seconds of every process; each candidate was timed once, by the "
    "process that trained it). × fastest: the per-"
    "candidate total over the fastest row of the variant; agents that took other paths "
    "trained other designs, so rows of different dtypes (or backends, in float32) may "
    "average over different designs."
)


def _cost_table(records: list[Record]) -> list[Block]:
    """The cost table of ``records`` (one host class: rows are ranked), or nothing."""
    rows = ok_groups(records)
    fastest: dict[str, float] = {}
    for group in rows:
        total = _median_cost(group.records, "candidate_s")
        if total and total < fastest.get(group.variant, np.inf):
            fastest[group.variant] = total
    rows_out = [CostRow(group, fastest.get(group.variant)) for group in rows]
    return [table(COST_COLUMNS, rows_out)] if rows else []


def cost_sections(context: ReportContext) -> list[Block]:
    """Per backend and mode: what one candidate of the search costs, phase by phase (a
    table per host class, where the run has several: ``report.by_host``)."""
    tables = per_host_class(context.records, _cost_table)
    if not tables:
        return []
    return [
        Heading(3, "What a candidate costs: build, first call, training"),
        *tables,
        Paragraph(COST_ABOUT),
    ]


@dataclass(frozen=True)
class BestRow:
    """One agent of one cell: the best design it found."""

    record: Record
    agent: str
    best: dict[str, Any]


def _best(header: str, text) -> Column[BestRow]:
    return Column(header, lambda row: text(row.best))


BEST_COLUMNS: tuple[Column[BestRow], ...] = (
    Column("variant", lambda row: row.record["variant"]),
    Column("backend:mode", lambda row: implementation(row.record["backend"], row.record["mode"])),
    Column("dtype", lambda row: row.record["dtype"]),
    Column("seed", lambda row: str(row.record["seed"])),
    Column("agent", lambda row: row.agent),
    _best("best accuracy", lambda best: fmt(best["best_accuracy"])),
    _best("best design", lambda best: best["best_key"]),
    _best("parameters", lambda best: f"{best['best_n_params']:,}"),
    _best("found at episode", lambda best: f"{best['best_episode']} of {best['episodes']}"),
    _best("last-quarter mean accuracy", lambda best: fmt(best["last_quarter_mean_accuracy"])),
    _best("last-quarter mean parameters", lambda best: f"{best['last_quarter_mean_params']:,.0f}"),
    _best("distinct designs", lambda best: fmt(best["distinct_designs"])),
)


def best_sections(context: ReportContext) -> list[Block]:
    """Per cell and agent: the best design found, when, and what the agent proposed at
    the end; then whether the rows of a variant found the same designs."""
    rows = [
        BestRow(record, agent, best)
        for group in ok_groups(context.records)
        for record in sorted(group.records, key=lambda r: r["seed"])
        for agent, best in record.get("best", {}).items()
    ]
    if not rows:
        return []
    return [
        Heading(3, "Best design per agent"),
        table(BEST_COLUMNS, rows),
        Paragraph(
            "Accuracy on the validation split after the preset's epochs. Last quarter: the "
            "mean over each agent's last quarter of episodes, where the Q-learning agents "
            "explore least. Designs read layer by layer: C16k3 = 16 3x3 convolutions, P2s2 "
            "= 2x2 max pooling with stride 2, D64 = 64 dense units; the softmax layer is "
            "implied."
        ),
        Bullets(tuple(_agreement(context.records))),
    ]


def _agreement(records: list[Record]) -> list[str]:
    """Per variant, dtype and seed run by more than one backend:mode: whether every
    agent proposed the same designs, and if not, where the first one parted."""
    cells: dict[tuple[str, str, int], list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] == "ok" and record.get("search_episodes"):
            cells[(record["variant"], record["dtype"], record["seed"])].append(record)
    lines = []
    for (variant, dtype, seed), group in sorted(cells.items()):
        if len(group) < 2:
            continue
        names = ", ".join(implementation(r["backend"], r["mode"]) for r in group)
        where = f"{variant}, {dtype}, seed {seed} ({names})"
        # zip stops at the shortest: a search its time budget stopped is compared over
        # the episodes it ran
        episodes = list(zip(*(r["search_episodes"] for r in group), strict=False))
        parted = next((rows for rows in episodes if len({row["key"] for row in rows}) > 1), None)
        lengths = {len(r["search_episodes"]) for r in group}
        if parted is None and len(lengths) > 1:
            shortest = min(group, key=lambda r: len(r["search_episodes"]))
            lines.append(
                f"{where}: the same design in each of the first "
                f"{shortest['search_episodes'][-1]['episode']} episodes of every agent, all that "
                f"{implementation(shortest['backend'], shortest['mode'])} ran before its time "
                "budget ran out."
            )
            continue
        if parted is None:
            spread = max(
                max(row["accuracy"] for row in rows) - min(row["accuracy"] for row in rows)
                for rows in episodes
            )
            lines.append(
                f"{where}: the same design in every episode of every agent, so the same best "
                "designs; "
                + (
                    f"accuracies differ by at most {spread:.2g}."
                    if spread
                    else "identical accuracies."
                )
            )
            continue
        best = [r.get("best", {}) for r in group]
        differ = [
            agent
            for agent in best[0]
            if len({str(b.get(agent, {}).get("best_key")) for b in best}) > 1
        ]
        lines.append(
            where
            + (
                f": the designs part at {parted[0]['agent']} episode {parted[0]['episode']}"
                if parted
                else ": different numbers of episodes"
            )
            + (
                f"; the best designs differ for {', '.join(differ)}."
                if differ
                else "; the best designs still agree."
            )
        )
    return lines or ["No variant, dtype and seed ran on more than one backend:mode."]


def parity_note(context: ReportContext) -> str:
    """What the parity section says of the search: which model a cell checked."""
    if not any("candidate" in (r.get("parity") or {}) for r in context.records):
        return ""
    return (
        "A search cell checks the first design with a convolution that it trained (in "
        "brackets after the variant)."
    )


def candidate_pace(record: Record) -> Pace:
    """What the report's opening ranks a search cell by: each candidate's epochs after
    its first (a candidate stands where a process stands: the center is the median over
    candidates of each one's median epoch, the steady epoch of the cost table), and the
    mean over candidates of the first epoch beyond the candidate's steady one. Agents
    that took other paths trained other designs: see the cost table's note."""
    candidates = record.get("candidates", [])
    steady = [[row["seconds"] for row in c.get("epoch_losses", [])[1:]] for c in candidates]
    firsts = [
        c["first_epoch_s"] - c["steady_epoch_median_s"]
        for c in candidates
        if c.get("steady_epoch_median_s") is not None
    ]
    first = float(np.mean(firsts)) if firsts else None
    return Pace([s for s in steady if s], first, "candidate epoch")


def _penalty_effect(record: Record) -> str:
    """Last-quarter accuracy and parameters of Q-learning without, then with, the size
    penalty, in one cell."""
    plain, penalised = (record["best"].get(agent) for agent in ("qlearning", "qlearning-penalty"))
    if not plain or not penalised:
        return "–"
    size, smaller = plain["last_quarter_mean_params"], penalised["last_quarter_mean_params"]
    ratio = f" ({size / smaller:.2g}× smaller)" if smaller else ""
    return (
        f"accuracy {plain['last_quarter_mean_accuracy']:.3f} → "
        f"{penalised['last_quarter_mean_accuracy']:.3f}, parameters {size:,.0f} → "
        f"{smaller:,.0f}{ratio} ({implementation(record['backend'], record['mode'])}, "
        f"seed {record['seed']}, last quarter of episodes)"
    )


def source_figures(context: ReportContext, full_episodes: int) -> list[SourceFigure]:
    """Per variant, one cell (NumPy's where it ran, as the charts): what the size penalty
    did to accuracy and size, beside the source's finding; ``full_episodes``: episodes
    per agent of the full preset, against which a shorter search is too short."""
    figures = []
    for variant in sorted({r["variant"] for r in context.records}):
        records = [r for r in context.records if r["variant"] == variant and r.get("best")]
        if not records:
            continue
        record = min(records, key=lambda r: (r["backend"] != "numpy", r["seed"], r["backend"]))
        done = record.get("metrics", {}).get("episodes_per_agent_done", 0)
        caveat = too_short(record["preset"], done, full_episodes, "episodes an agent", "full")
        figures.append(
            SourceFigure(
                f"{variant}: Q-learning without → with the size penalty",
                _penalty_effect(record),
                "the penalty cut mean model size by two orders of magnitude at similar "
                "accuracy (shared/reference.md 5)",
                caveat,
            )
        )
    return figures
