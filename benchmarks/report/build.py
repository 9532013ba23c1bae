"""The whole report, in order: report.md, report.html (charts embedded), summary.csv and
each workload's exports, rebuilt from the records alone."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.document import Block, Heading, to_html, to_markdown
from benchmarks.failures import describe_exception
from benchmarks.records import BadFile, Cell, RunContents, ceiling_gflops, load_run
from benchmarks.report.answer import WorkloadAnswer, answer_blocks
from benchmarks.report.by_host import hosts_blocks
from benchmarks.report.charts import loss_sections
from benchmarks.report.context import ReportContext
from benchmarks.report.environment import environment_blocks, problem_blocks
from benchmarks.report.memory import growth_blocks
from benchmarks.report.parity import parity_blocks
from benchmarks.report.scaling import scaling_blocks
from benchmarks.report.speed import speed_blocks
from benchmarks.report.speed_chart import speed_chart_blocks
from benchmarks.report.status import status_blocks
from benchmarks.report.summary import summary_row, write_summary_csv
from benchmarks.workloads import get_workload
from shared.files import write_atomic

Record = dict[str, Any]


def _ran(records: list[Record], workload: str) -> list[Record]:
    """The workload's records of cells that applied (not "not applicable")."""
    return [
        r
        for r in records
        if r["workload"] == workload and not r.get("reason", "").startswith("not applicable")
    ]


def workload_blocks(context: ReportContext) -> list[Block]:
    """A workload's section: its speed table (the generic one unless the workload has its
    own) and speed overview chart, the thread scaling (a run of several counts), its own
    sections, parity, the loss curves, then its own charts."""
    workload = get_workload(context.workload)
    speed = workload.report_speed(context)
    if speed is None:
        speed = speed_blocks(context, workload.framework_free_backend)
    return [
        Heading(2, context.workload),
        *speed,
        *speed_chart_blocks(context, workload.epoch_name),
        *scaling_blocks(context),
        *workload.report_sections(context),
        *parity_blocks(context.records, workload.parity_note(context)),
        *loss_sections(context),
        *workload.report_charts(context),
    ]


def workload_answer(context: ReportContext) -> WorkloadAnswer:
    """What the answer section is given of a workload: how its cells are ranked and the
    source's figures beside this run's (``Workload.report_pace``, ``report_source``)."""
    workload = get_workload(context.workload)
    return WorkloadAnswer(context, workload.report_pace, workload.report_source(context))


def report_blocks(run_dir: Path, contents: RunContents) -> list[Block]:
    """The opening, the answer (fastest, agreement, the source's figures), then each
    workload's sections and the run-wide ones."""
    records = contents.records
    blocks = environment_blocks(run_dir, records, contents.info) + hosts_blocks(records)
    ceiling = ceiling_gflops(run_dir)
    contexts = [
        ReportContext(workload, run_dir, _ran(records, workload), ceiling)
        for workload in sorted({r["workload"] for r in records})
    ]
    blocks += answer_blocks([workload_answer(context) for context in contexts])
    for context in contexts:
        blocks += workload_blocks(context)
    return (
        blocks + growth_blocks(records) + status_blocks(records) + problem_blocks(contents.problems)
    )


# What a reader of a record of another schema raises (a field of the wrong type or shape
# deeper than records.read_record checks, a workload this code does not know); never
# OSError, which is a write error.
READER_ERRORS = (TypeError, KeyError, ValueError, AttributeError, IndexError, ZeroDivisionError)


def write_report(run_dir: Path, contents: RunContents | None = None) -> Path:
    """Write summary.csv, the workloads' exports (``Workload.write_exports``), report.md,
    report.html and plots/ for the records in ``run_dir`` (``contents``: as ``load_run``
    read them). Every file is written atomically, so reports of one run may be written at
    once. A record the report cannot read (another schema) is left out, named on stderr
    and in the report, like a damaged file."""
    contents = contents or load_run(run_dir)
    try:
        return _write_report_files(run_dir, contents)
    except READER_ERRORS:
        readable = _readable_by_report(run_dir, contents)
        if readable is contents:
            raise  # no record alone breaks it: a fault of the report itself
        for problem in readable.problems[len(contents.problems) :]:
            print(f"warning: left out: {problem}", file=sys.stderr)
        return _write_report_files(run_dir, readable)


def _readable_by_report(run_dir: Path, contents: RunContents) -> RunContents:
    """``contents`` less each record the report cannot read on its own, each named in
    ``problems``; ``contents`` itself when every record can be read."""
    kept, problems = [], list(contents.problems)
    with tempfile.TemporaryDirectory() as scratch:  # the probes' plots land there
        for record in contents.records:
            try:
                summary_row(record)
                report_blocks(Path(scratch), RunContents([record], contents.info, []))
            except READER_ERRORS as error:
                why = f"another schema: the report cannot read it ({describe_exception(error)})"
                problems.append(BadFile(run_dir / Cell.of(record).file_name, why))
            else:
                kept.append(record)
    return (
        contents
        if len(kept) == len(contents.records)
        else RunContents(kept, contents.info, problems)
    )


def _write_report_files(run_dir: Path, contents: RunContents) -> Path:
    records = contents.records
    write_summary_csv(run_dir, records)
    for workload in sorted({r["workload"] for r in records}):
        get_workload(workload).write_exports(
            run_dir, [r for r in records if r["workload"] == workload]
        )
    if records:
        blocks = report_blocks(run_dir, contents)
    else:
        blocks = [Heading(1, "Empty run"), *problem_blocks(contents.problems)]
    write_atomic(run_dir / "report.md", to_markdown(blocks))
    write_atomic(run_dir / "report.html", to_html(blocks, f"Benchmark {run_dir.name}"))
    return run_dir / "report.md"
